"""Server CPU per request on the bare request path, for one operation per protocol family.

Starts nubes (ephemeral) and moto_server, sends the same boto3 calls to each, and reads each
server's CPU time from /proc before and after: the client's own cost does not count.

    python bench/request_path.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from serverproc import cpu_seconds, wait_ready


def measure(pid: int, calls: int, fn: Callable[[], Any]) -> float:
    for _ in range(50):
        fn()
    before = cpu_seconds(pid)
    for _ in range(calls):
        fn()
    return (cpu_seconds(pid) - before) / calls * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    servers = {
        "nubes": (
            [
                sys.executable,
                "-m",
                "nubes.cli",
                "start",
                "--port",
                "4611",
                "--ephemeral",
                "--log-level",
                "warning",
            ],
            "http://127.0.0.1:4611",
            "/_nubes/health",
        ),
        "moto": (
            ["moto_server", "-H", "127.0.0.1", "-p", "5011"],
            "http://127.0.0.1:5011",
            "/moto-api/",
        ),
    }
    results: dict[str, dict[str, float]] = {}
    for name, (cmd, endpoint, health) in servers.items():
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(endpoint + health)
            kw = dict(
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
                config=Config(retries={"max_attempts": 1}),
            )
            sts = boto3.client("sts", **kw)
            results[name] = {
                "sts get_caller_identity": measure(proc.pid, args.calls, sts.get_caller_identity)
            }
        finally:
            proc.terminate()
            proc.wait()
    print(f"server CPU ms per call ({args.calls} calls, {time.strftime('%Y-%m-%d')})")
    ops = sorted({op for r in results.values() for op in r})
    print(f"{'operation':32s} " + " ".join(f"{n:>8s}" for n in results))
    for op in ops:
        print(f"{op:32s} " + " ".join(f"{results[n].get(op, float('nan')):8.3f}" for n in results))


if __name__ == "__main__":
    main()
