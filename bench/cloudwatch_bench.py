"""CloudWatch: server CPU per PutMetricData call (20 values), and per GetMetricData query over one
metric with 10 and with 10,000 metrics in the store (the cost must not grow with the store).

Starts nubes (ephemeral, its own port), sends boto3 calls (CBOR, as current botocore does) and
reads the server process's CPU time from /proc before and after: the client's cost does not
count.

    python bench/cloudwatch_bench.py [--calls 2000] [--queries 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from serverproc import cpu_seconds, wait_ready

PORT = 4613
ENDPOINT = f"http://127.0.0.1:{PORT}"


def measure(pid: int, calls: int, fn: Callable[[int], Any]) -> float:
    """Server CPU ms per call of ``fn`` (after a warm-up)."""
    for i in range(50):
        fn(i)
    before = cpu_seconds(pid)
    for i in range(calls):
        fn(i)
    return (cpu_seconds(pid) - before) / calls * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cmd = [
        sys.executable,
        "-m",
        "nubes.cli",
        "start",
        "--port",
        str(PORT),
        "--ephemeral",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(ENDPOINT + "/_nubes/health")
        cw = boto3.client(
            "cloudwatch",
            endpoint_url=ENDPOINT,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )
        now = datetime.now(UTC).replace(second=0, microsecond=0)

        def put(i: int) -> None:
            cw.put_metric_data(
                Namespace="Bench",
                MetricData=[
                    {
                        "MetricName": "Latency",
                        "Dimensions": [{"Name": "Host", "Value": f"h{k}"}],
                        "Value": float(i + k),
                        "Unit": "Milliseconds",
                    }
                    for k in range(20)
                ],
            )

        put_ms = [measure(proc.pid, args.calls, put) for _ in range(args.rounds)]
        sts = boto3.client(
            "sts",
            endpoint_url=ENDPOINT,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        # The bare request path on the same machine at the same time, for scale.
        bare = [
            measure(proc.pid, args.calls, lambda _: sts.get_caller_identity())
            for _ in range(args.rounds)
        ]

        start = now - timedelta(hours=1)
        target = {"Namespace": "Query", "MetricName": "Target"}
        cw.put_metric_data(
            Namespace="Query",
            MetricData=[
                {"MetricName": "Target", "Timestamp": start + timedelta(minutes=m), "Value": m}
                for m in range(60)
            ],
        )

        def query(_: int) -> None:
            cw.get_metric_data(
                MetricDataQueries=[
                    {"Id": "m", "MetricStat": {"Metric": target, "Period": 60, "Stat": "Average"}}
                ],
                StartTime=start,
                EndTime=now,
            )

        def fill(total: int) -> None:
            """Metrics in the store besides the bench's own ones, one hour of data each."""
            present = 21
            while present < total:
                batch = min(1000, total - present)
                cw.put_metric_data(
                    Namespace="Filler",
                    MetricData=[
                        {
                            "MetricName": "M",
                            "Dimensions": [{"Name": "N", "Value": str(present + k)}],
                            "Timestamp": start + timedelta(minutes=(present + k) % 60),
                            "Value": 1.0,
                        }
                        for k in range(batch)
                    ],
                )
                present += batch

        small = [measure(proc.pid, args.queries, query) for _ in range(args.rounds)]
        fill(10_000)
        large = [measure(proc.pid, args.queries, query) for _ in range(args.rounds)]
    finally:
        proc.terminate()
        proc.wait()
    print(f"server CPU ms per call, median of {args.rounds} rounds ({time.strftime('%Y-%m-%d')})")
    print(f"STS GetCallerIdentity (bare request path)       {statistics.median(bare):.3f}")
    print(f"PutMetricData, 20 values                        {statistics.median(put_ms):.3f}")
    print(f"GetMetricData, 1 metric, 60 points, 10 metrics  {statistics.median(small):.3f}")
    print(f"GetMetricData, same, 10,000 metrics in store    {statistics.median(large):.3f}")


if __name__ == "__main__":
    main()
