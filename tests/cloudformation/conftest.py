"""Helpers for the CloudFormation tests: wait for a stack's operation to end, read its outputs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

SETTLED_POLL = 0.1
SETTLED_LIMIT = 60.0


def settle(cfn: Any, stack: str) -> dict[str, Any]:
    """The stack once its operation in progress has ended."""
    deadline = time.monotonic() + SETTLED_LIMIT
    while True:
        found: dict[str, Any] = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        status = found["StackStatus"]
        if not status.endswith("_IN_PROGRESS") or status == "REVIEW_IN_PROGRESS":
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"stack {stack} still {status}")
        time.sleep(SETTLED_POLL)


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def reasons(cfn: Any, stack: str) -> list[tuple[str, str, str]]:
    """(logical id, status, reason) of each event, oldest first."""
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
        for e in reversed(events)
    ]


@pytest.fixture
def cfn(client: Callable[..., Any]) -> Any:
    return client("cloudformation")


@pytest.fixture
def deploy(cfn: Any, unique: Callable[..., str]) -> Callable[..., dict[str, Any]]:
    """``deploy(template, **create_stack_args)``: create a stack and wait for it to settle."""

    def run(template: str, **kwargs: Any) -> dict[str, Any]:
        name = kwargs.pop("StackName", None) or unique("stack")
        cfn.create_stack(StackName=name, TemplateBody=template, **kwargs)
        return settle(cfn, name)

    return run
