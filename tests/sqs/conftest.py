"""SQS clients for both wire protocols: boto3's JSON, and the query protocol older SDKs speak
(a botocore client whose model carries SQS's query wire names and result wrappers)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
import requests
from botocore.config import Config

from nubes.services.sqs.query_names import query_model


def _query_client(endpoint: str, root: Path, region: str = "us-east-1") -> Any:
    model = query_model(botocore.session.get_session().get_service_model("sqs"))
    folder = root / "sqs" / "2012-11-05"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service-2.json").write_text(json.dumps(model._service_description))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(root))
    return boto3.Session(botocore_session=session).client(
        "sqs",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


_query_clients: dict[str, Any] = {}


@pytest.fixture
def query_sqs(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    if endpoint not in _query_clients:
        client = _query_client(endpoint, tmp_path_factory.mktemp("sqs-query-model"))
        assert client.meta.service_model.protocol == "query"
        _query_clients[endpoint] = client
    return _query_clients[endpoint]


@pytest.fixture(params=["json", "query"])
def sqs(request: pytest.FixtureRequest, client: Callable[..., Any]) -> Any:
    """The SQS client, once per wire protocol."""
    if request.param == "json":
        return client("sqs")
    return request.getfixturevalue("query_sqs")


@pytest.fixture
def advance(endpoint: str) -> Callable[[float], None]:
    """Moves the server's clock forward instead of sleeping."""

    def move(seconds: float) -> None:
        requests.post(
            f"{endpoint}/_nubes/clock", json={"advance": seconds}, timeout=10
        ).raise_for_status()

    return move


@pytest.fixture
def queue(sqs: Any, unique: Callable[[str], str]) -> str:
    return str(sqs.create_queue(QueueName=unique("q"))["QueueUrl"])


@pytest.fixture
def fifo(sqs: Any, unique: Callable[[str], str]) -> str:
    name = unique("f") + ".fifo"
    return str(sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"])


def error_code(exc: Any) -> str:
    return str(exc.value.response["Error"]["Code"])
