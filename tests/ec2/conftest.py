"""EC2 tests: each test gets an account of its own on the shared server (a 12-digit access
key is the account), so its default VPC, limits and listings are its own."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def account() -> str:
    return "9" + "".join(secrets.choice("0123456789") for _ in range(11))


@pytest.fixture
def ec2(client: Callable[..., Any], account: str) -> Any:
    return client("ec2", aws_access_key_id=account)


@pytest.fixture
def image(ec2: Any) -> str:
    """The Amazon Linux 2023 x86_64 AMI of the region."""
    found = ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023.*-x86_64"]}]
    )["Images"]
    return str(found[0]["ImageId"])


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def instance(ec2: Any, instance_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0][
        "Instances"
    ][0]
    return found


def wait_state(ec2: Any, instance_id: str, state: str, timeout: float = 60) -> dict[str, Any]:
    """Poll until the instance is in ``state`` (the runtime boots and halts real processes)."""
    deadline = time.monotonic() + timeout
    while True:
        found = instance(ec2, instance_id)
        if found["State"]["Name"] == state or time.monotonic() > deadline:
            assert found["State"]["Name"] == state
            return found
        time.sleep(0.1)
