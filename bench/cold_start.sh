#!/usr/bin/env bash
# Cold start (launch -> first answered S3 ListBuckets) and RSS right after it, in one run:
# nubes from a clean checkout of HEAD with its bytecode compiled, the same checkout with no
# bytecode and PYTHONDONTWRITEBYTECODE=1 (every start compiles nubes' modules), nubes with a
# data directory, MiniStack and moto_server (installed by pip, so compiled either way).
#   bench/cold_start.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q . "$work/pyc"
git clone -q . "$work/nopyc"
PYTHONDONTWRITEBYTECODE= python -m compileall -q "$work/pyc/nubes"
py=$(python -c "import sys; print(sys.executable)")
nubes_pyc="env PYTHONPATH=$work/pyc $py -m nubes.cli start --log-level warning"
nubes_nopyc="env PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$work/nopyc $py -m nubes.cli start"
python ../shared/bench/cloudbench.py \
  --endpoint nubes=http://127.0.0.1:4690 \
  --server-cmd nubes="$nubes_pyc --port 4690 --ephemeral" \
  --endpoint nubes-no-bytecode=http://127.0.0.1:4692 \
  --server-cmd nubes-no-bytecode="$nubes_nopyc --log-level warning --port 4692 --ephemeral" \
  --endpoint nubes-data-dir=http://127.0.0.1:4693 \
  --server-cmd nubes-data-dir="$nubes_pyc --port 4693 --data-dir $work/data" \
  --endpoint ministack=http://127.0.0.1:4691 \
  --server-cmd ministack="env GATEWAY_PORT=4691 ${MINISTACK:-ministack}" \
  --endpoint moto=http://127.0.0.1:5092 \
  --server-cmd moto="${MOTO:-moto_server} -H 127.0.0.1 -p 5092" \
  --workloads cold_start --rounds "$rounds" --json "bench/out-cold-$(date +%Y%m%d-%H%M%S).json"
