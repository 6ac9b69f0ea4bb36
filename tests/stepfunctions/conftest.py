"""Step Functions test helpers: state machines made from a definition, executions waited for."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

ROLE = "arn:aws:iam::000000000000:role/sfn-role"


@pytest.fixture
def sfn(client: Callable[..., Any]) -> Any:
    return client("stepfunctions")


@pytest.fixture
def machine(sfn: Any, unique: Callable[[str], str]) -> Callable[..., str]:
    """``machine(definition, type="STANDARD")`` -> the new state machine's ARN."""

    def make(definition: dict[str, Any], kind: str = "STANDARD") -> str:
        out = sfn.create_state_machine(
            name=unique("sm"), definition=json.dumps(definition), roleArn=ROLE, type=kind
        )
        return str(out["stateMachineArn"])

    return make


def wait_done(sfn: Any, execution_arn: str, seconds: float = 60) -> dict[str, Any]:
    """The execution once it is no longer RUNNING."""
    deadline = time.monotonic() + seconds
    while True:
        out: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if out["status"] != "RUNNING" or time.monotonic() > deadline:
            return out
        time.sleep(0.05)


def wait_for(check: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture
def run(sfn: Any, machine: Callable[..., str]) -> Callable[..., dict[str, Any]]:
    """``run(definition, input)`` -> the finished execution (DescribeExecution)."""

    def go(definition: dict[str, Any], data: Any = None) -> dict[str, Any]:
        arn = machine(definition)
        started = sfn.start_execution(stateMachineArn=arn, input=json.dumps(data or {}))
        return wait_done(sfn, started["executionArn"])

    return go


@pytest.fixture
def advance(endpoint: str) -> Callable[[float], None]:
    def move(seconds: float) -> None:
        requests.post(
            f"{endpoint}/_nubes/clock", json={"advance": seconds}, timeout=60
        ).raise_for_status()

    return move
