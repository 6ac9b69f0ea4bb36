"""DynamoDB fixtures: clients and throw-away tables with unique names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests


@pytest.fixture
def ddb(client: Callable[..., Any]) -> Any:
    return client("dynamodb")


@pytest.fixture
def streams(client: Callable[..., Any]) -> Any:
    return client("dynamodbstreams")


@pytest.fixture
def resource(endpoint: str) -> Any:
    return boto3.resource(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def advance(endpoint: str) -> Callable[[float], None]:
    """Move the server's clock (the test runs on the server whose clock may move)."""

    def move(seconds: float) -> None:
        answer = requests.post(f"{endpoint}/_nubes/clock", json={"advance": seconds}, timeout=10)
        answer.raise_for_status()

    return move


@pytest.fixture
def make_table(ddb: Any, unique: Callable[[str], str]) -> Callable[..., str]:
    """``make_table(range_type="N", **extra)``: a pay-per-request table keyed pk (S) [+ sk]."""

    def make(range_type: str | None = None, hash_type: str = "S", **extra: Any) -> str:
        name = unique("tbl")
        schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
        definitions = [{"AttributeName": "pk", "AttributeType": hash_type}]
        if range_type:
            schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
            definitions.append({"AttributeName": "sk", "AttributeType": range_type})
        definitions += extra.pop("ExtraDefinitions", [])
        ddb.create_table(
            TableName=name,
            KeySchema=schema,
            AttributeDefinitions=definitions,
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
        return name

    return make


def error_of(call: Callable[[], Any]) -> tuple[str, str]:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response["Error"]
    return err["Code"], err["Message"]
