"""OS-only runtimes (provided.al2023): the function's own bootstrap talks to the Runtime API."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from collections.abc import Callable
from typing import Any

from tests.lambda_.conftest import ROLE

BOOTSTRAP = f"""#!{sys.executable}
import json, os, sys, urllib.request

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
print("custom runtime up", flush=True)
while True:
    with urllib.request.urlopen(api + "next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        deadline = int(response.headers["Lambda-Runtime-Deadline-Ms"])
        event = json.loads(response.read())
    print("handling", event, flush=True)
    if event.get("fail"):
        body = json.dumps({{"errorType": "CustomError", "errorMessage": "asked to fail"}})
        url = api + request_id + "/error"
    else:
        body = json.dumps({{"doubled": event["n"] * 2, "has_deadline": deadline > 0}})
        url = api + request_id + "/response"
    urllib.request.urlopen(urllib.request.Request(url, data=body.encode(), method="POST")).read()
"""


def executable_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def test_provided_runtime_bootstrap(lam: Any, logs: Any, unique: Callable[[str], str]) -> None:
    name = unique("custom")
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="unused",
        Code={"ZipFile": executable_zip({"bootstrap": BOOTSTRAP})},
    )
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        out = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 21}))
        assert json.loads(out["Payload"].read()) == {"doubled": 42, "has_deadline": True}
        out = lam.invoke(FunctionName=name, Payload=json.dumps({"fail": True}))
        assert out["FunctionError"] == "Unhandled"
        assert json.loads(out["Payload"].read()) == {
            "errorType": "CustomError",
            "errorMessage": "asked to fail",
        }
        messages = [
            e["message"]
            for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        ]
        assert "custom runtime up" in messages
        assert "handling {'n': 21}" in messages
        assert messages[-1].startswith("REPORT RequestId:")
    finally:
        lam.delete_function(FunctionName=name)


def test_provided_runtime_without_bootstrap(lam: Any, unique: Callable[[str], str]) -> None:
    name = unique("custom")
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2",
        Role=ROLE,
        Handler="unused",
        Code={"ZipFile": executable_zip({"main.go": "package main\n"})},
    )
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        out = lam.invoke(FunctionName=name)
        body = json.loads(out["Payload"].read())
        assert out["FunctionError"] == "Unhandled"
        assert body["errorType"] == "Runtime.InvalidEntrypoint"
    finally:
        lam.delete_function(FunctionName=name)
