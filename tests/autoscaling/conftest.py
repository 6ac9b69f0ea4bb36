"""Auto Scaling tests: each test works in an account of its own (a 12-digit access key is the
account), so its default VPC, groups and instances are its own; groups are deleted with their
instances afterwards."""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def account() -> str:
    return "8" + "".join(secrets.choice("0123456789") for _ in range(11))


@pytest.fixture
def aws(client: Callable[..., Any], account: str) -> Callable[[str], Any]:
    """``aws("ec2")``: a client of this test's account."""
    return lambda service: client(service, aws_access_key_id=account)


@pytest.fixture
def asg(aws: Callable[[str], Any]) -> Iterator[Any]:
    autoscaling = aws("autoscaling")
    yield autoscaling
    for group in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]:
        autoscaling.delete_auto_scaling_group(
            AutoScalingGroupName=group["AutoScalingGroupName"], ForceDelete=True
        )


@pytest.fixture
def image(aws: Callable[[str], Any]) -> str:
    return str(aws("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"])


@pytest.fixture
def advance(endpoint: str) -> Callable[[float], float]:
    """``advance(seconds)`` moves the server's clock; returns the new time."""

    def move(seconds: float) -> float:
        req = urllib.request.Request(
            endpoint + "/_nubes/clock",
            data=json.dumps({"advance": seconds}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=30) as answer:
            return float(json.loads(answer.read())["now"])

    return move


def wait_for(check: Callable[[], Any], timeout: float = 90.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy (instances boot in real time)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.1)


def members(asg: Any, name: str) -> list[dict[str, Any]]:
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return list(groups[0]["Instances"]) if groups else []


def in_service(asg: Any, name: str, count: int, timeout: float = 90.0) -> list[dict[str, Any]]:
    """Wait until the group has exactly ``count`` members, all InService."""

    def check() -> list[dict[str, Any]] | None:
        found = members(asg, name)
        ok = len(found) == count and all(m["LifecycleState"] == "InService" for m in found)
        return found if ok else None

    return list(wait_for(check, timeout, f"{count} instances in service in {name}"))


def desired(asg: Any, name: str) -> int:
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return int(group["DesiredCapacity"])
