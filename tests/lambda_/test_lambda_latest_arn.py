"""$LATEST in function ARNs where AWS names it (issue 16; GetFunctionConfiguration and
ListVersionsByFunction in the Lambda API reference)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SOURCE = {"app.py": "def handler(event, context):\n    return event\n"}


def test_latest_in_arn_only_when_qualified(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function(SOURCE)
    plain = lam.get_function_configuration(FunctionName=name)
    assert plain["FunctionArn"].endswith(f":function:{name}") and plain["Version"] == "$LATEST"
    qualified = lam.get_function_configuration(FunctionName=name, Qualifier="$LATEST")
    assert qualified["FunctionArn"] == plain["FunctionArn"] + ":$LATEST"
    got = lam.get_function(FunctionName=f"{name}:$LATEST")["Configuration"]
    assert got["FunctionArn"] == plain["FunctionArn"] + ":$LATEST"
    assert (
        lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == plain["FunctionArn"]
    )
    version = lam.publish_version(FunctionName=name)["Version"]
    listed = {
        v["Version"]: v["FunctionArn"]
        for v in lam.list_versions_by_function(FunctionName=name)["Versions"]
    }
    assert listed == {
        "$LATEST": plain["FunctionArn"] + ":$LATEST",
        version: f"{plain['FunctionArn']}:{version}",
    }
