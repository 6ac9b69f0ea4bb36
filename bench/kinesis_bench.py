"""Kinesis: server CPU per PutRecord, per PutRecords of 500 records and per GetRecords returning
1,500 records (100-byte records; writes to an on-demand stream, reads from a one-shard
provisioned stream holding 1,500 records).

Starts nubes (ephemeral, its own port), sends boto3 calls (JSON 1.1, as boto3 does for Kinesis) and
reads the server process's CPU time from /proc before and after: the client's cost does not
count. To see where the time goes, attach ``py-spy record -f raw --pid <server pid>``.

    python bench/kinesis_bench.py [--calls 1000] [--batches 100] [--reads 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from serverproc import cpu_seconds, wait_ready

PORT = 4614
ENDPOINT = f"http://127.0.0.1:{PORT}"
RECORD = b"x" * 100
READ_BATCH = 1500
ITERATOR_USES = 100
"""GetRecords calls per shard iterator (iterators live five minutes; the bench reuses one)."""


def measure(pid: int, calls: int, fn: Callable[[int], Any], warm: int = 20) -> float:
    """Server CPU ms per call of ``fn`` (after a warm-up)."""
    for i in range(warm):
        fn(i)
    before = cpu_seconds(pid)
    for i in range(calls):
        fn(i)
    return (cpu_seconds(pid) - before) / calls * 1000


def client(service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--reads", type=int, default=200)
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
        kinesis = client("kinesis")
        kinesis.create_stream(StreamName="bench", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        while (
            kinesis.describe_stream_summary(StreamName="bench")["StreamDescriptionSummary"][
                "StreamStatus"
            ]
            != "ACTIVE"
        ):
            time.sleep(0.2)
        sts = client("sts")
        bare = [
            measure(proc.pid, args.calls, lambda _: sts.get_caller_identity())
            for _ in range(args.rounds)
        ]

        def put(i: int) -> None:
            kinesis.put_record(StreamName="bench", Data=RECORD, PartitionKey=f"k{i}")

        batch = [{"Data": RECORD, "PartitionKey": f"k{k}"} for k in range(500)]

        def put_batch(_: int) -> None:
            out = kinesis.put_records(StreamName="bench", Records=batch)
            assert out["FailedRecordCount"] == 0

        put_ms = [measure(proc.pid, args.calls, put) for _ in range(args.rounds)]
        batch_ms = [measure(proc.pid, args.batches, put_batch, warm=5) for _ in range(args.rounds)]

        # One shard holding READ_BATCH records (the first one's range starts at hash key 0).
        kinesis.create_stream(StreamName="read", ShardCount=1)
        while (
            kinesis.describe_stream_summary(StreamName="read")["StreamDescriptionSummary"][
                "StreamStatus"
            ]
            != "ACTIVE"
        ):
            time.sleep(0.2)
        for _ in range(READ_BATCH // 500):
            kinesis.put_records(StreamName="read", Records=batch)
            time.sleep(1.0)  # a provisioned shard takes 1,000 records a second
        shard = kinesis.list_shards(StreamName="read")["Shards"][0]["ShardId"]
        iterator = ""

        def read(i: int) -> None:
            nonlocal iterator
            if i % ITERATOR_USES == 0:
                iterator = kinesis.get_shard_iterator(
                    StreamName="read", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            got = kinesis.get_records(ShardIterator=iterator, Limit=READ_BATCH)["Records"]
            assert len(got) == READ_BATCH

        read_ms = [measure(proc.pid, args.reads, read, warm=5) for _ in range(args.rounds)]
    finally:
        proc.terminate()
        proc.wait()
    print(f"server CPU ms per call, median of {args.rounds} rounds ({time.strftime('%Y-%m-%d')})")
    print(f"STS GetCallerIdentity (bare request path)   {statistics.median(bare):.3f}")
    print(f"PutRecord, 100 bytes                         {statistics.median(put_ms):.3f}")
    print(f"PutRecords, 500 x 100 bytes                  {statistics.median(batch_ms):.3f}")
    print(f"GetRecords, 1,500 x 100 bytes                {statistics.median(read_ms):.3f}")


if __name__ == "__main__":
    main()
