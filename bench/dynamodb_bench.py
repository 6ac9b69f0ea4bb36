"""DynamoDB query cost against table size: a 100-item Query page on a 1,000-item table and on a
200,000-item table should cost the nubes server the same CPU (a Query reads only its partition's
key range through the primary key).

    python bench/dynamodb_bench.py [--items 200000] [--queries 400]

Starts its own ``nubes start --ephemeral`` and reads the server's CPU time from /proc with
cloudbench's helpers (/work/shared/bench/cloudbench.py).
"""

from __future__ import annotations

import argparse
import random
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, "/work/shared/bench")
import cloudbench

HOT = 1000  # items in the queried partition, in both tables


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nubes.cli", "start", "--port", str(port), "--ephemeral"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "Ready.":
            return proc
    raise RuntimeError("nubes did not start")


def client(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=8),
    )


def create(ddb: Any, name: str) -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def load(ddb: Any, name: str, total: int) -> None:
    """HOT items in partition "hot", the rest spread over other partitions."""
    items = [{"pk": {"S": "hot"}, "sk": {"N": str(i)}} for i in range(HOT)]
    items += [
        {"pk": {"S": f"p{i % 5000}"}, "sk": {"N": str(i)}, "pad": {"S": "x" * 50}}
        for i in range(total - HOT)
    ]
    batches = [items[i : i + 25] for i in range(0, len(items), 25)]

    def write(batch: list[dict[str, Any]]) -> None:
        ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": i}} for i in batch]})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, batches))


def measure(ddb: Any, name: str, pid: int, queries: int) -> float:
    """Server CPU milliseconds per 100-item Query page (random start in the hot partition)."""
    rng = random.Random(7)
    before = cloudbench.tree_cpu_seconds(pid) or 0.0
    for _ in range(queries):
        low = rng.randrange(0, HOT - 100)
        page = ddb.query(
            TableName=name,
            KeyConditionExpression="pk = :p AND sk >= :s",
            ExpressionAttributeValues={":p": {"S": "hot"}, ":s": {"N": str(low)}},
            Limit=100,
        )
        assert page["Count"] == 100
    after = cloudbench.tree_cpu_seconds(pid) or 0.0
    return (after - before) * 1000 / queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=400)
    args = parser.parse_args()
    port = free_port()
    proc = start_server(port)
    try:
        ddb = client(f"http://127.0.0.1:{port}")
        create(ddb, "small")
        create(ddb, "large")
        load(ddb, "small", HOT)
        started = time.monotonic()
        load(ddb, "large", args.items)
        print(f"loaded {args.items} items in {time.monotonic() - started:.1f} s")
        measure(ddb, "small", proc.pid, 50)  # warm-up
        rows = []
        for _ in range(3):
            for name in ("small", "large"):
                rows.append((name, measure(ddb, name, proc.pid, args.queries)))
        for name, total in (("small", HOT), ("large", args.items)):
            figures = sorted(ms for n, ms in rows if n == name)
            print(
                f"{name:6s} table ({total:>7,} items): server CPU per 100-item query page "
                f"median {figures[1]:.3f} ms (rounds {', '.join(f'{f:.3f}' for f in figures)})"
            )
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
