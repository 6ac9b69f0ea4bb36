#!/usr/bin/env bash
# nubes, MiniStack and moto_server side by side with ../shared/bench/cloudbench.py; all three are
# launched by the harness so their CPU per operation is measured.
#   bench/run.sh [workloads] [rounds]     e.g. bench/run.sh s3_put_get_small,sqs_send_receive 3
# Commands can be pointed elsewhere: NUBES (default `nubes`), MINISTACK (`ministack`, from
# `pip install ministack`, best in a venv of its own), MOTO (`moto_server`).
set -euo pipefail
cd "$(dirname "$0")/.."
workloads=${1:-all}
rounds=${2:-3}
python ../shared/bench/cloudbench.py \
  --endpoint nubes=http://127.0.0.1:4690 \
  --server-cmd nubes="${NUBES:-nubes} start --port 4690 --ephemeral --log-level warning" \
  --endpoint ministack=http://127.0.0.1:4691 \
  --server-cmd ministack="env GATEWAY_PORT=4691 ${MINISTACK:-ministack}" \
  --endpoint moto=http://127.0.0.1:5092 \
  --server-cmd moto="${MOTO:-moto_server} -H 127.0.0.1 -p 5092" \
  --workloads "$workloads" --rounds "$rounds" --json "bench/out-$(date +%Y%m%d-%H%M%S).json"
