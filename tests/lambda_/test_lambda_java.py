"""Java functions: classes compiled in the test, run by nubes' Java runtime client."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.lambda_.conftest import ROLE

pytestmark = pytest.mark.skipif(
    shutil.which("javac") is None or shutil.which("java") is None, reason="no JDK installed"
)

# The interface aws-lambda-java-core provides, for handlers to take a Context (functions
# bundle that library; here the test brings its own copy).
CONTEXT = """
package com.amazonaws.services.lambda.runtime;
public interface Context {
    String getAwsRequestId();
    String getFunctionName();
    int getRemainingTimeInMillis();
    int getMemoryLimitInMB();
}
"""

HANDLER = """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.LinkedHashMap;
import java.util.Map;

public class Handler {
    public static class Order {
        public String id;
        public int quantity;
    }

    public static class Receipt {
        private final String summary;
        public Receipt(String summary) { this.summary = summary; }
        public String getSummary() { return summary; }
        public boolean isValid() { return true; }
    }

    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        System.out.println("java got " + event);
        if (event.containsKey("fail")) {
            throw new IllegalStateException("asked to fail");
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("echo", event.get("message"));
        out.put("requestId", context.getAwsRequestId());
        out.put("function", context.getFunctionName());
        out.put("memory", context.getMemoryLimitInMB());
        out.put("timeLeft", context.getRemainingTimeInMillis() > 0);
        return out;
    }

    public Receipt order(Order order) {
        return new Receipt(order.id + " x" + order.quantity);
    }

    public void stream(InputStream in, OutputStream out) throws Exception {
        out.write(("\\"" + new String(in.readAllBytes()).length() + " bytes\\"").getBytes());
    }
}
"""


def java_zip(tmp_path: Path) -> bytes:
    sources = {
        "com/amazonaws/services/lambda/runtime/Context.java": CONTEXT,
        "example/Handler.java": HANDLER,
    }
    for name, text in sources.items():
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    classes = tmp_path / "classes"
    subprocess.run(
        ["javac", "-d", str(classes), *(str(tmp_path / "src" / n) for n in sources)], check=True
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in classes.rglob("*.class"):
            archive.write(path, path.relative_to(classes).as_posix())
    return buffer.getvalue()


def test_java_handlers(lam: Any, logs: Any, unique: Callable[[str], str], tmp_path: Path) -> None:
    code = java_zip(tmp_path)
    names = {}
    for handler in (
        "example.Handler::handleRequest",
        "example.Handler::order",
        "example.Handler::stream",
    ):
        name = unique("java")
        lam.create_function(
            FunctionName=name,
            Runtime="java17",
            Role=ROLE,
            Handler=handler,
            Code={"ZipFile": code},
            MemorySize=512,
            Timeout=30,
        )
        names[handler.split("::")[1]] = name
    try:
        for name in names.values():
            lam.get_waiter("function_active_v2").wait(FunctionName=name)
        out = lam.invoke(FunctionName=names["handleRequest"], Payload=b'{"message": "hi"}')
        body = json.loads(out["Payload"].read())
        assert body == {
            "echo": "hi",
            "requestId": out["ResponseMetadata"]["RequestId"],
            "function": names["handleRequest"],
            "memory": 512,
            "timeLeft": True,
        }
        out = lam.invoke(FunctionName=names["handleRequest"], Payload=b'{"fail": true}')
        assert out["FunctionError"] == "Unhandled"
        error = json.loads(out["Payload"].read())
        assert error["errorType"] == "java.lang.IllegalStateException"
        assert error["errorMessage"] == "asked to fail"
        assert any("example.Handler.handleRequest" in frame for frame in error["stackTrace"])
        out = lam.invoke(FunctionName=names["order"], Payload=b'{"id": "A7", "quantity": 3}')
        assert json.loads(out["Payload"].read()) == {"summary": "A7 x3", "valid": True}
        out = lam.invoke(FunctionName=names["stream"], Payload=b'{"k": 1}')
        assert json.loads(out["Payload"].read()) == "8 bytes"
        messages = [
            e["message"]
            for e in logs.filter_log_events(
                logGroupName=f"/aws/lambda/{names['handleRequest']}", filterPattern="java"
            )["events"]
        ]
        assert "java got {message=hi}" in messages
    finally:
        for name in names.values():
            lam.delete_function(FunctionName=name)


def test_java_class_not_found(lam: Any, unique: Callable[[str], str], tmp_path: Path) -> None:
    name = unique("java")
    lam.create_function(
        FunctionName=name,
        Runtime="java21",
        Role=ROLE,
        Handler="example.Missing::handleRequest",
        Code={"ZipFile": java_zip(tmp_path)},
        Timeout=30,
    )
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        out = lam.invoke(FunctionName=name, Payload=b"{}")
        assert out["FunctionError"] == "Unhandled"
        assert json.loads(out["Payload"].read())["errorType"] == "Runtime.ClassNotFound"
        from nubes.runtime.lambda_.runtimes import java_version

        found = java_version()
        assert found is not None
        config = lam.get_function_configuration(FunctionName=name)
        if found[1] != 21:
            assert f"runs on Java {found[1]}" in config["StateReason"]
    finally:
        lam.delete_function(FunctionName=name)
