"""The protocol layer's bounds and the gateway's last resort, in-process."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import botocore.session
import cbor2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from nubes.app import Environment
from nubes.config import Settings
from nubes.core import safejson
from nubes.protocol import get_protocol
from nubes.protocol.base import HttpRequest, ServiceError
from tests.robustness.wire import CREDENTIALS

SESSION = botocore.session.get_session()


def _model(service: str, operation: str):  # type: ignore[no-untyped-def]
    return SESSION.get_service_model(service).operation_model(operation)


def _spooled(size: int) -> HttpRequest:
    """A request whose body was spooled to disk, ``size`` bytes long (sparse: nothing written)."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - the request owns it; closed with it
    spool.truncate(size)
    return HttpRequest("POST", "/", body_file=spool)


@pytest.mark.parametrize(
    ("protocol", "service", "operation", "limit", "code", "status"),
    [
        ("json", "dynamodb", "ListTables", 64 << 20, "RequestEntityTooLarge", 413),
        ("smithy-rpc-v2-cbor", "cloudwatch", "ListMetrics", 64 << 20, "RequestEntityTooLarge", 413),
        ("query", "iam", "ListUsers", 16 << 20, "RequestEntityTooLarge", 413),
        ("rest-json", "lambda", "CreateFunction", 100 << 20, "RequestEntityTooLarge", 413),
        ("rest-xml", "s3", "DeleteObjects", 16 << 20, "MaxMessageLengthExceeded", 400),
    ],
)
def test_bodies_parsed_in_memory_are_bounded(
    protocol: str, service: str, operation: str, limit: int, code: str, status: int
) -> None:
    op = _model(service, operation)
    uri = {"Bucket": "b"} if service == "s3" else {"FunctionName": "f"}
    with pytest.raises(ServiceError) as caught:
        get_protocol(protocol).parse(op, _spooled(limit + 1), uri)
    assert (caught.value.code, caught.value.status) == (code, status)
    # At the limit, the body is read (and then maybe found malformed, being all zero bytes).
    try:
        get_protocol(protocol).parse(op, _spooled(limit), uri)
    except ServiceError as exc:
        assert exc.code != code


def test_depth_limits_are_one_number() -> None:
    depth = safejson.MAX_DEPTH
    assert safejson.loads("[" * depth + "]" * depth) is not None
    with pytest.raises(ValueError):
        safejson.loads("[" * (depth + 1) + "]" * (depth + 1))
    op = _model("cloudwatch", "ListMetrics")
    at_limit = b"\xa1\x69Namespace" + b"\x81" * (depth - 1) + b"\x01"
    beyond = b"\xa1\x69Namespace" + b"\x81" * depth + b"\x01"
    messages = []
    for body in (at_limit, beyond):
        with pytest.raises(ServiceError) as caught:  # a list where a string belongs, at best
            get_protocol("smithy-rpc-v2-cbor").parse(op, HttpRequest("POST", "/", body=body), {})
        assert caught.value.code == "SerializationException"
        messages.append(caught.value.message)
    assert "depth" not in messages[0]
    assert "depth" in messages[1]


def test_json_refuses_nan_literals_and_keeps_surrogate_pairs() -> None:
    with pytest.raises(ValueError):
        safejson.loads('{"a": NaN}')
    text = '{"a":"\\ud83d\\ude00"}'
    assert safejson.may_hold_surrogates(text.encode())
    assert safejson.lone_surrogate(safejson.loads(text)) is None
    assert safejson.lone_surrogate(safejson.loads('{"a":["\\ud800"]}')) == "\ud800"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Environment]:
    environment = Environment(Settings(ephemeral=True, data_dir=tmp_path))
    yield environment
    environment.state.close()


def _signed(
    service: str, method: str, path: str, body: bytes, headers: dict[str, str]
) -> HttpRequest:
    request = AWSRequest(method=method, url=f"http://127.0.0.1{path}", data=body, headers=headers)
    SigV4Auth(CREDENTIALS, service, "us-east-1").add_auth(request)
    found = {k.lower(): str(v) for k, v in request.headers.items()}
    return HttpRequest(method, path.split("?")[0], path.partition("?")[2], found, body)


def test_a_failure_outside_any_operation_is_answered_in_the_services_protocol(
    env: Environment,
) -> None:
    async def broken(req: HttpRequest) -> None:
        raise RuntimeError("an interceptor's bug")

    env.gateway.interceptors.insert(0, broken)
    s3 = asyncio.run(env.gateway.handle(_signed("s3", "GET", "/bucket/key", b"", {})))
    assert s3.status == 500
    assert isinstance(s3.body, bytes)
    assert ElementTree.fromstring(s3.body).findtext("Code") == "InternalError"

    headers = {"X-Amz-Target": "DynamoDB_20120810.ListTables"}
    headers["Content-Type"] = "application/x-amz-json-1.0"
    ddb = asyncio.run(env.gateway.handle(_signed("dynamodb", "POST", "/", b"{}", headers)))
    assert ddb.status == 500
    assert isinstance(ddb.body, bytes)
    assert json.loads(ddb.body)["__type"] == "InternalFailure"

    form = b"Action=ListUsers&Version=2010-05-08"
    query = {"Content-Type": "application/x-www-form-urlencoded"}
    iam = asyncio.run(env.gateway.handle(_signed("iam", "POST", "/", form, query)))
    assert iam.status == 500
    assert isinstance(iam.body, bytes)
    root = ElementTree.fromstring(iam.body)
    assert root.findtext("{*}Error/{*}Code") == "InternalFailure"

    cbor = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
    path = "/service/GraniteServiceVersion20100801/operation/ListMetrics"
    metrics = asyncio.run(env.gateway.handle(_signed("monitoring", "POST", path, b"\xa0", cbor)))
    assert metrics.status == 500
    assert isinstance(metrics.body, bytes)
    assert cbor2.loads(metrics.body)["__type"] == "InternalFailure"


def test_a_failing_internal_endpoint_is_no_plain_text_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nubes.app

    async def broken(env: Environment, req: HttpRequest) -> None:
        raise RuntimeError("an internal endpoint's bug")

    monkeypatch.setattr(nubes.app, "internal_endpoint", broken)
    app = nubes.app.App(Settings(ephemeral=True, data_dir=tmp_path))
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/_nubes/health", "headers": []}
    try:
        asyncio.run(app(scope, receive, send))
    finally:
        assert app.env is not None
        app.env.state.close()
    assert sent[0]["status"] == 500
    body = b"".join(m.get("body", b"") for m in sent[1:])  # type: ignore[misc]
    # Answered as the gateway answers what it cannot route otherwise (an unsigned GET is S3's).
    assert ElementTree.fromstring(body).findtext("Code") == "InternalError"
