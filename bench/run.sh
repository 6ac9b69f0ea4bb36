#!/usr/bin/env bash
# nubes and moto_server side by side with ../shared/bench/cloudbench.py; both servers are
# launched by the harness so their CPU per operation is measured.
#   bench/run.sh [workloads] [rounds]     e.g. bench/run.sh s3_put_get_small,sqs_send_receive 3
set -euo pipefail
cd "$(dirname "$0")/.."
workloads=${1:-all}
rounds=${2:-3}
python ../shared/bench/cloudbench.py \
  --endpoint nubes=http://127.0.0.1:4599 \
  --server-cmd nubes="nubes start --port 4599 --ephemeral --log-level warning" \
  --endpoint moto=http://127.0.0.1:5002 \
  --server-cmd moto="moto_server -H 127.0.0.1 -p 5002" \
  --workloads "$workloads" --rounds "$rounds" --json "bench/out-$(date +%Y%m%d-%H%M%S).json"
