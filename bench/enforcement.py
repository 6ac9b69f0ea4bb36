"""What IAM enforcement costs: server CPU per request with ``NUBES_ENFORCE_IAM`` off and on
(as the account root and as an IAM user with a policy), for one small call per protocol family.

Reads each server's CPU time from /proc before and after, so the client's own cost does not
count; the servers run one after the other, alternately, and the median of the rounds is kept.

    python bench/enforcement.py [--calls 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).parent))
from request_path import measure, wait_ready

with socket.socket() as _probe:
    _probe.bind(("127.0.0.1", 0))
    PORT = _probe.getsockname()[1]
EVERYTHING = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def client(endpoint: str, service: str, key: str, secret: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def workloads(endpoint: str, key: str, secret: str) -> dict[str, Callable[[], Any]]:
    root = ("test", "test")
    s3 = client(endpoint, "s3", *root)
    s3.create_bucket(Bucket="bench-enforce")
    sqs = client(endpoint, "sqs", *root)
    url = sqs.create_queue(QueueName="bench-enforce")["QueueUrl"]
    ddb = client(endpoint, "dynamodb", *root)
    ddb.create_table(
        TableName="bench-enforce",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="bench-enforce", Item={"pk": {"S": "k"}})
    s3, sqs, ddb = (client(endpoint, s, key, secret) for s in ("s3", "sqs", "dynamodb"))
    sts = client(endpoint, "sts", key, secret)
    return {
        "sts GetCallerIdentity": sts.get_caller_identity,
        "sqs SendMessage": lambda: sqs.send_message(QueueUrl=url, MessageBody="x"),
        "s3 PutObject 1 KiB": lambda: s3.put_object(
            Bucket="bench-enforce", Key="k", Body=b"x" * 1024
        ),
        "dynamodb GetItem": lambda: ddb.get_item(TableName="bench-enforce", Key={"pk": {"S": "k"}}),
    }


def run(enforce: bool, user: bool, calls: int) -> dict[str, float]:
    env = {"NUBES_ENFORCE_IAM": "1" if enforce else "0"}
    cmd = [sys.executable, "-m", "nubes.cli", "start", "--port", str(PORT), "--ephemeral",
           "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{PORT}"
    try:
        wait_ready(endpoint + "/_nubes/health")
        key, secret = "test", "test"
        if user:
            iam = client(endpoint, "iam", "test", "test")
            iam.create_user(UserName="bench")
            iam.put_user_policy(UserName="bench", PolicyName="all", PolicyDocument=EVERYTHING)
            made = iam.create_access_key(UserName="bench")["AccessKey"]
            key, secret = made["AccessKeyId"], made["SecretAccessKey"]
        return {
            name: measure(proc.pid, calls, fn)
            for name, fn in workloads(endpoint, key, secret).items()
        }
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    setups = {"off": (False, False), "on, root": (True, False), "on, IAM user": (True, True)}
    samples: dict[str, dict[str, list[float]]] = {s: {} for s in setups}
    for _ in range(args.rounds):
        for setup, (enforce, user) in setups.items():
            for op, ms in run(enforce, user, args.calls).items():
                samples[setup].setdefault(op, []).append(ms)
    print(f"server CPU ms per call, median of {args.rounds} rounds of {args.calls} "
          f"({time.strftime('%Y-%m-%d')})")  # fmt: skip
    print(f"{'operation':24s} " + " ".join(f"{s:>13s}" for s in setups))
    for op in samples["off"]:
        row = [statistics.median(samples[s][op]) for s in setups]
        print(f"{op:24s} " + " ".join(f"{v:13.3f}" for v in row))


if __name__ == "__main__":
    main()
