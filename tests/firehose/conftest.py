"""Firehose fixtures: clients on the server whose clock the tests move (streams settle from
CREATING into ACTIVE, buffers flush by that clock), a bucket, and an ACTIVE stream maker."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

ROLE = "arn:aws:iam::000000000000:role/firehose"


@pytest.fixture
def advance(endpoint: str) -> Callable[[float], None]:
    def move(seconds: float) -> None:
        requests.post(
            f"{endpoint}/_nubes/clock", json={"advance": seconds}, timeout=60
        ).raise_for_status()

    return move


@pytest.fixture
def firehose(client: Callable[..., Any]) -> Any:
    return client("firehose")


@pytest.fixture
def s3(client: Callable[..., Any]) -> Any:
    return client("s3")


@pytest.fixture
def bucket(s3: Any, unique: Callable[[str], str]) -> str:
    name = unique("fh-bucket").lower()
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def hose(
    firehose: Any, bucket: str, unique: Callable[[str], str], advance: Callable[[float], None]
) -> Callable[..., str]:
    """``hose(**extended_s3_settings)``: the name of an ACTIVE DirectPut stream to ``bucket``."""

    def make(**settings: Any) -> str:
        name = unique("hose")
        firehose.create_delivery_stream(
            DeliveryStreamName=name,
            ExtendedS3DestinationConfiguration={
                "RoleARN": ROLE,
                "BucketARN": f"arn:aws:s3:::{bucket}",
                **settings,
            },
        )
        advance(2)
        return name

    return make


def wait_for_objects(
    s3: Any, bucket: str, count: int = 1, prefix: str = ""
) -> list[dict[str, Any]]:
    """The bucket's objects once there are ``count`` (delivery runs in the background)."""
    deadline = time.monotonic() + 20
    while True:
        found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        if len(found) >= count or time.monotonic() > deadline:
            return sorted(found, key=lambda o: o["Key"])
        time.sleep(0.1)
