"""What IAM enforcement costs: server CPU per request with ``NUBES_ENFORCE_IAM`` off and on
(as the account root and as an IAM user with a policy), for one small call per protocol family.

Reads each server's CPU time from /proc before and after, so the client's own cost does not
count; the servers run one after the other, alternately, and the median of the rounds is kept.

    python bench/enforcement.py [--calls 2000] [--rounds 3]
    python bench/enforcement.py --in-process   # the enforcement check alone, in microseconds
"""

from __future__ import annotations

import argparse
import asyncio
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


async def in_process(calls: int, rounds: int) -> None:
    """The enforcement check alone (authentication and authorization of a parsed request), timed
    in one process: free of the noise other processes add to a server's CPU time."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from nubes.app import Environment
    from nubes.config import Settings
    from nubes.core import accounts
    from nubes.core.context import RequestContext
    from nubes.gateway.auth import read_credentials
    from nubes.protocol import get_protocol
    from nubes.protocol.base import HttpRequest

    env = Environment(Settings(enforce_iam=True, ephemeral=True))
    await env.start()
    enforcer: Any = getattr(env.providers.get("iam"), "enforcer", None)

    def invoke(service: str, operation: str, params: dict[str, Any]) -> Any:
        return env.providers.invoke(service, operation, params, "000000000000", "us-east-1")

    invoke("iam", "CreateUser", {"UserName": "bench"})
    invoke(
        "iam",
        "PutUserPolicy",
        {"UserName": "bench", "PolicyName": "all", "PolicyDocument": EVERYTHING},
    )
    made = invoke("iam", "CreateAccessKey", {"UserName": "bench"})["AccessKey"]
    form = "application/x-www-form-urlencoded; charset=utf-8"
    cases = {
        "sts GetCallerIdentity": (
            "sts", form, None, b"Action=GetCallerIdentity&Version=2011-06-15"
        ),
        "iam ListUsers": ("iam", form, None, b"Action=ListUsers&Version=2010-05-08"),
        "logs DescribeLogGroups": (
            "logs", "application/x-amz-json-1.1", "Logs_20140328.DescribeLogGroups", b"{}"
        ),
    }  # fmt: skip
    keys = {"root": ("test", "test"), "IAM user": (made["AccessKeyId"], made["SecretAccessKey"])}
    print(f"enforcement check, microseconds per request, median of {rounds} x {calls}")
    for who, (key, secret) in keys.items():
        for name, (service, content_type, target, body) in cases.items():
            headers = {"Content-Type": content_type, **({"X-Amz-Target": target} if target else {})}
            signed = AWSRequest("POST", "http://localhost:4566/", data=body, headers=headers)
            SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(signed)
            sent = {k.lower(): str(v) for k, v in signed.headers.items()}
            sent["host"] = "localhost:4566"
            req = HttpRequest(method="POST", path="/", query_string="", headers=sent, body=body)
            creds = read_credentials(req)
            found = env.gateway.router.identify(req, creds)
            assert creds is not None and found is not None and found.operation is not None
            op = found.service.operation(found.operation, found.protocol)
            assert op is not None
            params = get_protocol(found.protocol).parse(op, req, found.uri_params)
            principal = accounts.resolve(creds.access_key_id, "000000000000")
            samples = []
            for _ in range(rounds):
                start = time.process_time()
                for _ in range(calls):
                    ctx = RequestContext(
                        account_id=principal.account_id,
                        region="us-east-1",
                        request_id="bench",
                        service=found.service.name,
                        operation=op.name,
                        principal=principal,
                        request=req,
                        protocol=found.protocol,
                    )
                    enforcer(ctx, op, params)
                samples.append((time.process_time() - start) / calls * 1e6)
            print(f"{who:9s} {name:24s} {statistics.median(samples):6.1f} µs")
    await env.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()
    if args.in_process:
        asyncio.run(in_process(args.calls, args.rounds))
        return
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
