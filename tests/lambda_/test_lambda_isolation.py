"""A function sees its own code, layers and /tmp, and nothing of nubes: not the data directory
(nubes.db holds every secret key), not other functions' code, not the server's process or
environment."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nubes.runtime.lambda_ import sandbox
from tests.lambda_.conftest import ROLE, zipped
from tests.server import NubesProcess

PROBE = """
import json, os

def handler(event, context):
    found = {}
    for path in event["paths"]:
        try:
            with open(path, "rb") as f:
                found[path] = len(f.read())
        except OSError as exc:
            found[path] = type(exc).__name__
    with open("/tmp/mine", "w") as f:
        f.write("x")
    return {
        "found": found,
        "processes": sorted(p for p in os.listdir("/proc") if p.isdigit()),
        "environment": sorted(os.environ),
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "own_code": open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "app.py")).read(7),
    }
"""

pytestmark = pytest.mark.skipif(
    not sandbox.available(), reason="no unprivileged user namespaces here"
)


def _function(lam: Any, name: str, files: dict[str, str]) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": zipped(files)},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)


def test_a_function_sees_nothing_of_nubes(nubes_factory: Callable[..., NubesProcess]) -> None:
    server = nubes_factory(env={"NUBES_TEST_SECRET": "server-only"})
    assert server.data_dir is not None and server.proc is not None
    lam: Any = server.client("lambda")
    _function(lam, "other", {"app.py": "def handler(e, c):\n    return 'other'\n"})
    assert json.loads(lam.invoke(FunctionName="other")["Payload"].read()) == "other"
    _function(lam, "probe", {"app.py": PROBE})
    data = Path(server.data_dir)
    other_code = [str(p) for p in (data / "lambda" / "code").glob("*/app.py")]
    assert other_code, "the other function's code was unpacked"
    paths = [
        str(data / "nubes.db"),
        str(data / "nubes.db-wal"),
        f"/proc/{server.proc.pid}/environ",
        f"/proc/{server.proc.pid}/cmdline",
        *other_code,
    ]
    reply = lam.invoke(FunctionName="probe", Payload=json.dumps({"paths": paths}).encode())
    assert "FunctionError" not in reply
    seen = json.loads(reply["Payload"].read())
    assert seen["found"] == dict.fromkeys(paths, "FileNotFoundError")
    # Only its own process tree: the server is not there to look at.
    assert seen["processes"] == ["1"]
    assert "NUBES_TEST_SECRET" not in seen["environment"]
    assert seen["task_root"] == "/var/task" and seen["own_code"] == "\nimport"


def test_without_namespaces_functions_still_run_and_a_warning_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.available.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="nubes.lambda.sandbox"):
            assert not sandbox.available()
        assert "without isolation" in caplog.text
    finally:
        sandbox.available.cache_clear()
