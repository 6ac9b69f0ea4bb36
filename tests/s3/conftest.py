"""S3 fixtures: a client on the shared server and a fresh bucket per test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def s3(client: Callable[..., Any]) -> Any:
    return client("s3")


@pytest.fixture
def bucket(s3: Any, unique: Callable[[str], str]) -> str:
    name = unique("bkt")
    s3.create_bucket(Bucket=name)
    return name


def error_of(excinfo: Any) -> tuple[str, int]:
    """(code, status) of a botocore ClientError."""
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]
