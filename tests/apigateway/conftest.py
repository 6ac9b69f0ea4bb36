"""API Gateway test helpers: Lambda functions made from source in the test, and the invoke URL
of an API (the path form, which needs no wildcard DNS)."""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

ECHO = """
import json
def handler(event, context):
    return {
        "statusCode": 201,
        "headers": {"x-echo": "yes", "content-type": "application/json"},
        "multiValueHeaders": {"x-multi": ["a", "b"]},
        "body": json.dumps(event),
    }
"""


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture
def apigw(client: Callable[..., Any]) -> Any:
    return client("apigateway")


@pytest.fixture
def apigw2(client: Callable[..., Any]) -> Any:
    return client("apigatewayv2")


@pytest.fixture
def make_function(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> Iterator[Callable[..., str]]:
    """``make_function(source)`` -> the function's ARN (handler ``app.handler``)."""
    lam = client("lambda")
    made: list[str] = []

    def make(source: str) -> str:
        name = unique("fn")
        arn: str = lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Handler="app.handler",
            Role=ROLE,
            Code={"ZipFile": zipped({"app.py": source})},
        )["FunctionArn"]
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        made.append(name)
        return arn

    yield make
    for name in made:
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_function(FunctionName=name)


def lambda_uri(function_arn: str) -> str:
    return (
        f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    )


def api_url(endpoint: str, api_id: str, stage: str = "") -> str:
    base = f"{endpoint}/_aws/execute-api/{api_id}"
    return f"{base}/{stage}" if stage else base


def signed_headers(url: str, key: str, secret: str) -> dict[str, str]:
    """Headers of a GET of ``url`` signed with SigV4 for ``execute-api``."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(key, secret), "execute-api", "us-east-1").add_auth(request)
    return dict(request.headers.items())
