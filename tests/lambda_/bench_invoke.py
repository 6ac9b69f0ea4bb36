"""Lambda invoke benchmark (not a test): ``python -m tests.lambda_.bench_invoke [port]``.

Starts an ephemeral nubes, then measures with boto3: a control-plane call for reference
(GetFunctionConfiguration), warm Invoke round trips of a trivial Python function (p50/p99, and
the nubes process's own CPU per call, workers excluded), cold starts (each configuration update
retires the warm worker: round trip of the next Invoke and the Init Duration its REPORT gives;
the function's execution role exists in IAM, so each cold start assumes it), and the same for
Node.js when ``node`` is installed.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROLE = "arn:aws:iam::000000000000:role/bench"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
WARM_CALLS = 500
COLD_STARTS = 10


def zipped(name: str, source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


def timed(call: Callable[[], Any], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return sorted(samples)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report_field(log_result: str, name: str) -> float:
    report = base64.b64decode(log_result).decode().strip().splitlines()[-1]
    return float(report.split(f"{name}: ")[1].split(" ")[0])


def cold_starts(lam: Any, name: str) -> tuple[float, float]:
    rounds, inits = [], []
    for i in range(COLD_STARTS):
        lam.update_function_configuration(FunctionName=name, Description=f"round {i}")
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        started = time.perf_counter()
        out = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
        rounds.append((time.perf_counter() - started) * 1000)
        inits.append(report_field(out["LogResult"], "Init Duration"))
    return statistics.median(rounds), statistics.median(inits)


def main(port: int) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "nubes.cli", "start", "--port", str(port), "--ephemeral"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NUBES_LOG_LEVEL": "warning"},
    )
    assert server.stdout is not None
    for line in server.stdout:
        if line.strip() == "Ready.":
            break
    lam, iam = (
        boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )
        for service in ("lambda", "iam")
    )
    try:
        # A role IAM knows: each cold start assumes it, as Lambda does.
        iam.create_role(RoleName="bench", AssumeRolePolicyDocument=TRUST)
        lam.create_function(
            FunctionName="bench",
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zipped("app.py", "def handler(event, context):\n    return event\n")},
        )
        lam.get_waiter("function_active_v2").wait(FunctionName="bench")
        payload = json.dumps({"k": "v"})
        for _ in range(20):
            lam.invoke(FunctionName="bench", Payload=payload)
        before = cpu_seconds(server.pid)
        control = timed(lambda: lam.get_function_configuration(FunctionName="bench"), WARM_CALLS)
        control_cpu = (cpu_seconds(server.pid) - before) / WARM_CALLS * 1000
        before = cpu_seconds(server.pid)
        warm = timed(
            lambda: lam.invoke(FunctionName="bench", Payload=payload)["Payload"].read(),
            WARM_CALLS,
        )
        warm_cpu = (cpu_seconds(server.pid) - before) / WARM_CALLS * 1000
        p50 = statistics.median(warm)
        p99 = warm[int(len(warm) * 0.99)]
        print(
            f"GetFunctionConfiguration p50 {statistics.median(control):.2f} ms, "
            f"server CPU {control_cpu:.2f} ms/call"
        )
        print(
            f"warm Invoke (python3.12) p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
            f"server CPU {warm_cpu:.2f} ms/call"
        )
        cold, init = cold_starts(lam, "bench")
        print(f"cold Invoke (python3.12) p50 {cold:.1f} ms, Init Duration p50 {init:.1f} ms")
        if shutil.which("node"):
            lam.create_function(
                FunctionName="nbench",
                Runtime="nodejs20.x",
                Role=ROLE,
                Handler="index.handler",
                Code={"ZipFile": zipped("index.js", "exports.handler = async (e) => e;\n")},
            )
            lam.get_waiter("function_active_v2").wait(FunctionName="nbench")
            warm = timed(
                lambda: lam.invoke(FunctionName="nbench", Payload=payload)["Payload"].read(),
                WARM_CALLS // 2,
            )
            cold, init = cold_starts(lam, "nbench")
            print(
                f"node 20: warm p50 {statistics.median(warm):.2f} ms, cold p50 {cold:.1f} ms, "
                f"Init Duration p50 {init:.1f} ms"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4597)
