"""Beyond the vectors: malformed input, streaming request bodies, errors before routing."""

from __future__ import annotations

import io
import json
from typing import Any

import botocore.session
import cbor2
import pytest

from nubes.protocol import get_protocol
from nubes.protocol.base import HttpRequest, ResponseContext, ServiceError


def _op(service: str, name: str) -> Any:
    return botocore.session.get_session().get_service_model(service).operation_model(name)


def _parse(protocol: str, op: Any, req: HttpRequest, uri: dict[str, str] | None = None) -> Any:
    return get_protocol(protocol).parse(op, req, uri or {})


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"TableName": "t", "Limit": "ten"}',
        b'{"TableName": "t", "ExclusiveStartKey": {"k": {"B": "not base64!"}}}',
        b'{"TableName": "t", "ExclusiveStartKey": ["k"]}',
        b"\xff\xfe",
    ],
)
def test_json_malformed_body_is_a_serialization_error(body: bytes) -> None:
    req = HttpRequest("POST", "/", headers={"x-amz-target": "DynamoDB_20120810.Scan"}, body=body)
    with pytest.raises(ServiceError) as exc:
        _parse("json", _op("dynamodb", "Scan"), req)
    assert (exc.value.code, exc.value.status) == ("SerializationException", 400)


def test_json_empty_body_is_no_input() -> None:
    req = HttpRequest("POST", "/", body=b"")
    assert _parse("json", _op("dynamodb", "ListTables"), req) == {}


@pytest.mark.parametrize("body", [b"\xa1\x61", b"\x83\x01\x02\x03", b'{"json": 1}'])
def test_cbor_malformed_body_is_a_serialization_error(body: bytes) -> None:
    req = HttpRequest("POST", "/service/GraniteServiceVersion20100801/operation/ListMetrics")
    req.body = body
    with pytest.raises(ServiceError) as exc:
        _parse("smithy-rpc-v2-cbor", _op("cloudwatch", "ListMetrics"), req)
    assert exc.value.code == "SerializationException"


def test_cbor_reads_tagged_timestamps_and_byte_strings() -> None:
    import datetime

    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    body = cbor2.dumps(
        {"Namespace": "ns", "MetricData": [{"MetricName": "m", "Timestamp": when, "Value": 1.0}]},
        datetime_as_timestamp=True,
    )
    req = HttpRequest("POST", "/service/x/operation/PutMetricData", body=body)
    parsed = _parse("smithy-rpc-v2-cbor", _op("cloudwatch", "PutMetricData"), req)
    assert parsed["MetricData"][0]["Timestamp"] == when


@pytest.mark.parametrize("query", ["MaxItems=lots", "MaxItems=1.5"])
def test_rest_json_bad_query_value_is_a_serialization_error(query: str) -> None:
    req = HttpRequest("GET", "/2015-03-31/functions/", query_string=query)
    with pytest.raises(ServiceError) as exc:
        _parse("rest-json", _op("lambda", "ListFunctions"), req)
    assert exc.value.code == "SerializationException"


def test_rest_json_bad_uri_label_is_a_serialization_error() -> None:
    req = HttpRequest("GET", "/2018-10-31/layers/l/versions/latest")
    with pytest.raises(ServiceError) as exc:
        _parse(
            "rest-json",
            _op("lambda", "GetLayerVersion"),
            req,
            {"LayerName": "l", "VersionNumber": "latest"},
        )
    assert exc.value.code == "SerializationException"


def test_streaming_request_body_is_handed_over_unread() -> None:
    spooled = io.BytesIO(b"archive bytes" * 1000)
    req = HttpRequest(
        "POST",
        "/-/vaults/v/archives",
        headers={"x-amz-archive-description": "nightly", "x-amz-sha256-tree-hash": "abc"},
        body_file=spooled,
    )
    parsed = _parse(
        "rest-json", _op("glacier", "UploadArchive"), req, {"accountId": "-", "vaultName": "v"}
    )
    assert parsed["body"] is spooled
    assert spooled.tell() == 0
    assert parsed["archiveDescription"] == "nightly"
    assert parsed["vaultName"] == "v"


@pytest.mark.parametrize(
    ("service", "protocol"),
    [("dynamodb", "json"), ("lambda", "rest-json"), ("cloudwatch", "smithy-rpc-v2-cbor")],
)
def test_errors_before_routing_still_serialize(service: str, protocol: str) -> None:
    model = botocore.session.get_session().get_service_model(service)
    ctx = ResponseContext(request_id="r-1", service=model, operation=None)
    err = ServiceError("UnknownOperationException", "no such operation", status=404)
    resp = get_protocol(protocol).serialize_error(err, ctx)
    assert resp.status == 404
    assert isinstance(resp.body, bytes)
    body = cbor2.loads(resp.body) if protocol.startswith("smithy") else json.loads(resp.body)
    assert body == {"__type": "UnknownOperationException", "message": "no such operation"}
