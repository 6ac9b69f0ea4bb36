"""Workers and code trees across the server's life: shutdown leaves nothing behind, queued
asynchronous invocations survive a crash, S3 as the code source, runtime substitution."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.lambda_.conftest import ROLE, zipped

SLOW_INIT = "import time\n\ndef handler(event, context):\n    print('ran', event)\n    return 1\n"


def parent_of(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def worker_pids() -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            # Sandboxed workers see nubes' runtime directory as /var/runtime.
            if b"nubes/runtime/lambda_/bootstrap" in cmdline or b"/var/runtime/boot" in cmdline:
                pids.add(int(entry.name))
    return pids


def launched_by(pid: int, server: int) -> int | None:
    """The process the server started for worker ``pid``: the worker itself, or the
    ``unshare`` that runs it in a sandbox (its working directory is the host's task root)."""
    parent = parent_of(pid)
    if parent == server:
        return pid
    return parent if parent_of(parent) == server else None


def test_shutdown_stops_workers_and_removes_code_trees(
    nubes_factory: Callable[..., Any],
) -> None:
    before = worker_pids()
    server = nubes_factory(persistent=False)
    lam = server.client("lambda")
    lam.create_function(
        FunctionName="f",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": SLOW_INIT})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="f")
    assert lam.invoke(FunctionName="f")["Payload"].read() == b"1"
    assert server.proc is not None
    # Servers of other test processes start workers too: only this server's children count.
    server_pid = server.proc.pid
    started = {pid for pid in worker_pids() - before if launched_by(pid, server_pid)}
    assert started, "a warm worker runs after the invocation"
    # The worker runs in its task root, <root>/code/<blob>, under nubes' Lambda directory.
    task_root = Path(os.readlink(f"/proc/{launched_by(min(started), server_pid)}/cwd"))
    root = task_root.parents[1]
    assert (task_root / "app.py").is_file()
    stopping = time.monotonic()
    code = server.stop()
    took = time.monotonic() - stopping
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and started & worker_pids():
        time.sleep(0.05)
    assert not started & worker_pids()
    assert not root.exists(), f"exit {code} after {took:.1f}s: {''.join(server.output)}"


def test_queued_event_invocations_survive_a_crash(nubes_factory: Callable[..., Any]) -> None:
    server = nubes_factory(persistent=True)
    lam = server.client("lambda")
    lam.create_function(
        FunctionName="later",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": SLOW_INIT})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="later")
    # Throttled invocations stay queued.
    lam.put_function_concurrency(FunctionName="later", ReservedConcurrentExecutions=0)
    assert (
        lam.invoke(FunctionName="later", InvocationType="Event", Payload=json.dumps({"n": 1}))[
            "StatusCode"
        ]
        == 202
    )
    server.kill()
    server = nubes_factory(persistent=True)
    lam = server.client("lambda")
    logs = server.client("logs")
    lam.delete_function_concurrency(FunctionName="later")
    deadline = time.monotonic() + 60
    messages: list[str] = []
    while time.monotonic() < deadline and "ran {'n': 1}" not in messages:
        time.sleep(0.2)
        groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/later")["logGroups"]
        if groups:
            events = logs.filter_log_events(logGroupName="/aws/lambda/later")["events"]
            messages = [e["message"] for e in events]
    assert "ran {'n': 1}" in messages


def test_code_from_s3(lam: Any, client: Callable[..., Any], unique: Callable[[str], str]) -> None:
    s3 = client("s3")
    bucket = unique("code")
    try:
        s3.create_bucket(Bucket=bucket)
        s3.put_object(
            Bucket=bucket,
            Key="fn.zip",
            Body=zipped({"app.py": "def handler(e, c):\n    return 'from s3'\n"}),
        )
    except Exception as exc:  # S3 is built in parallel
        pytest.xfail(f"S3 not available: {exc}")
    name = unique("fn")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"S3Bucket": bucket, "S3Key": "fn.zip"},
    )
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        assert lam.invoke(FunctionName=name)["Payload"].read() == b'"from s3"'
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            lam.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="missing.zip")
    finally:
        lam.delete_function(FunctionName=name)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_runtime_substitution_is_reported(
    lam: Any, logs: Any, make_function: Callable[..., str]
) -> None:
    node_major = os.popen("node --version").read().strip().lstrip("v").split(".")[0]
    runtime = "nodejs22.x" if node_major != "22" else "nodejs18.x"
    name = make_function(
        {"index.js": "exports.handler = async () => 'ok';\n"},
        handler="index.handler",
        runtime=runtime,
    )
    config = lam.get_function_configuration(FunctionName=name)
    assert config["State"] == "Active"
    assert f"node {node_major}" in config["StateReason"]
    assert runtime in config["StateReason"]
    assert lam.invoke(FunctionName=name)["Payload"].read() == b'"ok"'
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern="nubes")
    assert any(runtime in e["message"] for e in events["events"])


def test_reset_forgets_functions_and_stops_workers(nubes_factory: Callable[..., Any]) -> None:
    import requests

    server = nubes_factory(persistent=False)
    lam = server.client("lambda")
    code = {"ZipFile": zipped({"app.py": "def handler(e, c):\n    return 'v1'\n"})}
    lam.create_function(
        FunctionName="f", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code=code
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="f")
    assert lam.invoke(FunctionName="f")["Payload"].read() == b'"v1"'
    assert server.proc is not None
    workers = {p for p in worker_pids() if launched_by(p, server.proc.pid)}
    assert workers
    requests.post(f"{server.endpoint}/_nubes/reset", timeout=10)
    assert lam.list_functions()["Functions"] == []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and workers & worker_pids():
        time.sleep(0.05)
    assert not workers & worker_pids()
    code = {"ZipFile": zipped({"app.py": "def handler(e, c):\n    return 'v2'\n"})}
    lam.create_function(
        FunctionName="f", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code=code
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="f")
    assert lam.invoke(FunctionName="f")["Payload"].read() == b'"v2"'
