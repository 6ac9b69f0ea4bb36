"""Fixtures for CloudWatch tests: clients, the server's clock (data timestamps must follow it,
since the clock server may run ahead of real time), and advancing it."""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.loaders import Loader

from tests.sns.conftest import http_endpoint  # noqa: F401 (SNS's HTTP receiver fixture)


def server_now(endpoint: str) -> float:
    with urllib.request.urlopen(endpoint + "/_nubes/clock", timeout=10) as answer:
        return float(json.loads(answer.read())["now"])


def server_time(endpoint: str) -> datetime:
    return datetime.fromtimestamp(server_now(endpoint), UTC)


@pytest.fixture
def cw(client: Callable[..., Any]) -> Any:
    return client("cloudwatch")


@pytest.fixture
def advance(endpoint: str) -> Callable[[float], float]:
    """``advance(seconds)`` moves the server clock; returns the new time."""

    def move(seconds: float) -> float:
        request = urllib.request.Request(
            endpoint + "/_nubes/clock",
            data=json.dumps({"advance": seconds}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return float(json.loads(answer.read())["now"])

    return move


@pytest.fixture
def to_next_minute(endpoint: str, advance: Callable[[float], float]) -> Callable[[], float]:
    """Advance to just after the next minute boundary (crossing exactly one); returns now."""

    def move() -> float:
        now = server_now(endpoint)
        return advance(60 - now % 60 + 1)

    return move


class _ProtocolLoader(Loader):
    def __init__(self, protocol: str) -> None:
        super().__init__()
        self.protocol = protocol

    def load_service_model(self, service_name: str, type_name: str, api_version: Any = None) -> Any:
        data = super().load_service_model(service_name, type_name, api_version)
        if service_name == "cloudwatch" and type_name == "service-2":
            data = copy.deepcopy(data)
            data["metadata"]["protocol"] = self.protocol
            data["metadata"]["protocols"] = [self.protocol]
        return data


def client_speaking(endpoint: str, protocol: str) -> Any:
    """A CloudWatch client that speaks ``protocol`` (json or query) instead of CBOR."""
    session = botocore.session.Session()
    session.register_component("data_loader", _ProtocolLoader(protocol))
    return boto3.Session(botocore_session=session).client(
        "cloudwatch",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}),
    )


def error_code(exc: Any) -> str:
    return str(exc.value.response["Error"]["Code"])
