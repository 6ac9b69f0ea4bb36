"""Cold start as CPU time, which a busy host changes far less than wall time: launch a server
command, call S3 ListBuckets until it answers, then read the server process's own CPU time
(utime + stime from /proc/<pid>/stat) and, after a second idle, its RSS. Linux only.

    python bench/cold_cpu.py --rounds 7 -- nubes start --port {port} --ephemeral
    python bench/cold_cpu.py --rounds 7 -- env GATEWAY_PORT={port} ministack

``{port}`` in the command is replaced by a free port; the command runs in a fresh directory.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def once(command: list[str], timeout: float) -> tuple[float, float, float]:
    port = _free_port()
    args = [part.replace("{port}", str(port)) for part in command]
    s3: Any = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=10),
    )
    with tempfile.TemporaryDirectory() as cwd:
        started = time.perf_counter()
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            while True:
                try:
                    s3.list_buckets()
                    break
                except Exception:
                    if proc.poll() is not None or time.perf_counter() - started > timeout:
                        raise RuntimeError(f"{args} did not answer") from None
                    time.sleep(0.005)
            wall = time.perf_counter() - started
            cpu = _cpu_seconds(proc.pid)
            time.sleep(1.0)
            return wall, cpu, _rss_mib(proc.pid)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    runs = [once(args.command, args.timeout) for _ in range(args.rounds)]
    walls, cpus, rss = zip(*runs, strict=True)
    print(
        f"{' '.join(args.command)}\n  median of {args.rounds}: "
        f"{statistics.median(walls):.3f} s to first ListBuckets (fastest {min(walls):.3f} s), "
        f"server CPU {statistics.median(cpus):.3f} s, RSS {statistics.median(rss):.1f} MiB"
    )


if __name__ == "__main__":
    main()
