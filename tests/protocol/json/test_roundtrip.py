"""boto3 against the JSON-family protocols with real service models and no server.

boto3 builds each request; our parser reads it; a stand-in provider checks the parsed input and
answers; our serializer writes the response and boto3 reads it back. Response bodies are handed to
boto3 chunk by chunk, as the server would send them.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError

from nubes.gateway.rest_routes import match_request_uri
from nubes.protocol import get_protocol
from nubes.protocol.base import HttpRequest, ResponseContext, ServiceError

Provider = Callable[[str, dict[str, Any]], Any]
WHEN = datetime.datetime(2024, 2, 3, 4, 5, 6, 789000, tzinfo=datetime.UTC)
WHOLE_SECOND = WHEN.replace(microsecond=0)
"""botocore drops the fraction of epoch timestamps it sends."""


class _Chunks:
    """urllib3's side of a response as botocore uses it: ``stream()`` and ``read()``."""

    def __init__(self, body: bytes | Iterable[bytes]) -> None:
        self._chunks = iter([body]) if isinstance(body, bytes) else iter(body)
        self._rest = b""

    def stream(self, amt: int = 1024, decode_content: bool = True) -> Iterator[bytes]:
        yield from self._chunks

    def read(self, amt: int | None = None) -> bytes:
        self._rest += b"".join(self._chunks)
        if amt is None:
            out, self._rest = self._rest, b""
        else:
            out, self._rest = self._rest[:amt], self._rest[amt:]
        return out


def _model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def client(service: str, provider: Provider, bodies: list[Any] | None = None) -> Any:
    """A boto3 client whose requests go through our protocol layer to ``provider``; the raw
    response bodies land in ``bodies`` when given."""
    c = boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:4566",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    model = _model(service)
    # Services offering several protocols are answered in the one the client chose.
    proto = get_protocol(c.meta.service_model.resolved_protocol)

    def send(request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse:
        op = model.operation_model(kwargs["event_name"].rpartition(".")[2])
        url = urlsplit(request.url)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        headers = {
            k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
        }
        req = HttpRequest(request.method, url.path, url.query, headers, body or b"")
        uri_params: dict[str, str] = {}
        if proto.name.startswith("rest"):
            uri_params = match_request_uri(op.http["requestUri"], url.path) or {}
        ctx = ResponseContext(request_id="req-1", service=model, operation=op)
        try:
            resp = proto.serialize(provider(op.name, proto.parse(op, req, uri_params)) or {}, ctx)
        except ServiceError as err:
            resp = proto.serialize_error(err, ctx)
        if bodies is not None:
            bodies.append(resp.body)
        return AWSResponse(request.url, resp.status, resp.headers, _Chunks(resp.body))  # type: ignore[arg-type]

    c.meta.events.register("before-send", send)
    return c


def error(service: str, code: str, message: str, **fields: Any) -> ServiceError:
    return ServiceError.from_shape(_model(service).shape_for(code), message, **fields)


# --- awsJson 1.0: DynamoDB ---------------------------------------------------------------------


def test_dynamodb_binary_numbers_and_nested_maps() -> None:
    item = {
        "pk": {"S": "user#1"},
        "n": {"N": "12.50"},
        "bin": {"B": b"\x00\xffraw"},
        "tags": {"SS": ["a", "b"]},
        "doc": {"M": {"deep": {"L": [{"BOOL": True}, {"NULL": True}]}}},
    }

    def provider(op: str, params: dict[str, Any]) -> dict[str, Any]:
        if op == "PutItem":
            assert params == {"TableName": "t", "Item": item}
            return {}
        assert op == "GetItem"
        assert params == {"TableName": "t", "Key": {"pk": {"S": "user#1"}}}
        return {"Item": item}

    ddb = client("dynamodb", provider)
    ddb.put_item(TableName="t", Item=item)
    assert ddb.get_item(TableName="t", Key={"pk": {"S": "user#1"}})["Item"] == item


def test_dynamodb_timestamps_go_out_as_epoch_numbers() -> None:
    bodies: list[Any] = []

    def provider(op: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"Table": {"TableName": params["TableName"], "CreationDateTime": WHEN}}

    out = client("dynamodb", provider, bodies).describe_table(TableName="t")
    assert out["Table"]["CreationDateTime"] == WHEN
    assert json.loads(bodies[0])["Table"]["CreationDateTime"] == WHEN.timestamp()


def test_dynamodb_modeled_error_carries_its_fields() -> None:
    def provider(op: str, params: dict[str, Any]) -> dict[str, Any]:
        raise error(
            "dynamodb",
            "ConditionalCheckFailedException",
            "The conditional request failed",
            Item={"pk": {"S": "k"}},
        )

    ddb = client("dynamodb", provider)
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException) as exc:
        ddb.put_item(
            TableName="t",
            Item={"pk": {"S": "k"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert exc.value.response["Error"]["Message"] == "The conditional request failed"
    assert exc.value.response["Item"] == {"pk": {"S": "k"}}
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# --- query-compatible: SQS (awsJson 1.0), CloudWatch (CBOR and awsJson) ---------------------


def test_sqs_error_keeps_the_query_code_for_old_clients() -> None:
    def provider(op: str, params: dict[str, Any]) -> dict[str, Any]:
        assert params == {"QueueUrl": "http://q/1", "MessageBody": "hi", "DelaySeconds": 3}
        raise ServiceError(
            "QueueDoesNotExist",
            "The specified queue does not exist.",
            query_code="AWS.SimpleQueueService.NonExistentQueue",
        )

    sqs = client("sqs", provider)
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl="http://q/1", MessageBody="hi", DelaySeconds=3)
    err = exc.value.response["Error"]
    assert err["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert err["QueryErrorCode"] == "QueueDoesNotExist"
    assert err["Type"] == "Sender"


@pytest.fixture(params=["smithy-rpc-v2-cbor", "json"])
def cloudwatch_protocol(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """CloudWatch speaks CBOR, awsJson and query; make boto3 prefer the one under test."""
    import botocore.model

    order = botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS
    chosen: str = request.param
    monkeypatch.setattr(
        botocore.model,
        "PRIORITY_ORDERED_SUPPORTED_PROTOCOLS",
        (chosen, *(p for p in order if p != chosen)),
    )
    return chosen


def test_cloudwatch_timestamps_and_doubles(cloudwatch_protocol: str) -> None:
    def provider(op: str, params: dict[str, Any]) -> dict[str, Any]:
        if op == "PutMetricData":
            datum = params["MetricData"][0]
            assert datum["Timestamp"] == WHOLE_SECOND
            assert datum["Values"] == [1.5, float("inf")]
            return {}
        assert op == "GetMetricData"
        assert params["StartTime"] == WHOLE_SECOND
        return {
            "MetricDataResults": [
                {"Id": "m1", "Timestamps": [WHEN], "Values": [2.25], "StatusCode": "Complete"}
            ]
        }

    cw = client("cloudwatch", provider)
    assert cw.meta.service_model.resolved_protocol == cloudwatch_protocol
    cw.put_metric_data(
        Namespace="ns",
        MetricData=[{"MetricName": "m", "Timestamp": WHEN, "Values": [1.5, float("inf")]}],
    )
    out = cw.get_metric_data(
        MetricDataQueries=[{"Id": "m1", "Expression": "SELECT 1"}],
        StartTime=WHEN,
        EndTime=WHEN,
    )
    assert out["MetricDataResults"][0]["Timestamps"] == [WHEN]
    assert out["MetricDataResults"][0]["Values"] == [2.25]


def test_cloudwatch_error_is_query_compatible(cloudwatch_protocol: str) -> None:
    def provider(op: str, params: dict[str, Any]) -> dict[str, Any]:
        raise error("cloudwatch", "DashboardNotFoundError", "no such dashboard")

    cw = client("cloudwatch", provider)
    # Query-compatible clients name the exception after the query code.
    with pytest.raises(cw.exceptions.ResourceNotFound) as exc:
        cw.get_dashboard(DashboardName="d")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFound"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# --- rest-json: Lambda -------------------------------------------------------------------------


def test_lambda_invoke_headers_status_and_streamed_payload() -> None:
    bodies: list[Any] = []

    def provider(op: str, params: dict[str, Any]) -> dict[str, Any]:
        assert params == {
            "FunctionName": "my fn",
            "InvocationType": "RequestResponse",
            "LogType": "Tail",
            "Payload": b'{"x": 1}',
        }
        return {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "LogResult": base64.b64encode(b"log").decode(),
            "Payload": iter([b'{"err', b'or": 1}']),
        }

    out = client("lambda", provider, bodies).invoke(
        FunctionName="my fn", InvocationType="RequestResponse", LogType="Tail", Payload=b'{"x": 1}'
    )
    assert not isinstance(bodies[0], bytes), "a streamed payload must not be buffered"
    assert out["StatusCode"] == 200
    assert out["FunctionError"] == "Unhandled"
    assert out["Payload"].read() == b'{"error": 1}'


def test_lambda_file_payload_is_sent_in_chunks() -> None:
    big = b"x" * 200_000
    bodies: list[Any] = []
    out = client("lambda", lambda op, params: {"Payload": io.BytesIO(big)}, bodies).invoke(
        FunctionName="f"
    )
    assert out["Payload"].read() == big
    assert not isinstance(bodies[0], bytes)


def test_lambda_event_stream_output() -> None:
    def provider(op: str, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "EventStream": iter(
                [
                    {"PayloadChunk": {"Payload": b"part one "}},
                    {"PayloadChunk": {"Payload": b"part two"}},
                    {"InvokeComplete": {"ErrorCode": "", "LogResult": "bG9n"}},
                ]
            ),
        }

    out = client("lambda", provider).invoke_with_response_stream(FunctionName="f")
    assert out["ExecutedVersion"] == "$LATEST"
    events = list(out["EventStream"])
    assert b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e) == (
        b"part one part two"
    )
    assert events[-1] == {"InvokeComplete": {"ErrorCode": "", "LogResult": "bG9n"}}


def test_lambda_error_type_header_and_fields() -> None:
    def provider(op: str, params: dict[str, Any]) -> dict[str, Any]:
        raise error("lambda", "ResourceNotFoundException", "Function not found", Type="User")

    lam = client("lambda", provider)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.get_function(FunctionName="nope")
    assert exc.value.response["Error"]["Message"] == "Function not found"
    assert exc.value.response["Type"] == "User"
    assert exc.value.response["Message"] == "Function not found"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_lambda_query_strings_and_json_body() -> None:
    def provider(op: str, params: dict[str, Any]) -> dict[str, Any]:
        if op == "ListFunctions":
            assert params == {"MaxItems": 5, "Marker": "a b&c"}
            return {"Functions": [{"FunctionName": "f", "Timeout": 3}], "NextMarker": "n"}
        assert op == "TagResource"
        assert params == {"Resource": "arn:aws:lambda:us-east-1:1:function:f", "Tags": {"k": ""}}
        return {}

    lam = client("lambda", provider)
    out = lam.list_functions(MaxItems=5, Marker="a b&c")
    assert out["Functions"] == [{"FunctionName": "f", "Timeout": 3}]
    lam.tag_resource(Resource="arn:aws:lambda:us-east-1:1:function:f", Tags={"k": ""})
