"""DynamoDB at the HTTP level: what a raw client (curl, a load balancer, an SDK with request
compression) sees, per the DynamoDB low-level API documentation."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
import zlib
from typing import Any

import pytest

AUTH = (
    "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0"
)


def call(
    endpoint: str, target: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(
        endpoint + "/",
        data=body,
        method="POST",
        headers={
            "X-Amz-Target": f"DynamoDB_20120810.{target}",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": AUTH,
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()


def test_unknown_operation_is_400(endpoint: str) -> None:
    status, _, body = call(endpoint, "NoSuchThing", b"{}")
    assert status == 400
    assert json.loads(body)["__type"].endswith("UnknownOperationException")


def test_responses_carry_crc32_and_server(endpoint: str) -> None:
    status, headers, body = call(endpoint, "ListTables", b"{}")
    assert status == 200
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["x-amz-crc32"] == str(zlib.crc32(body))
    assert lowered["server"] == "Server"


def test_errors_carry_crc32_too(endpoint: str) -> None:
    status, headers, body = call(endpoint, "DescribeTable", b'{"TableName": "nope-nope"}')
    assert status == 400
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["x-amz-crc32"] == str(zlib.crc32(body))


def test_oversized_request_is_413(endpoint: str) -> None:
    item = {"pk": {"S": "a"}, "blob": {"S": "x" * (16 * 1024 * 1024 + 10)}}
    body = json.dumps({"TableName": "whatever", "Item": item}).encode()
    status, _, _ = call(endpoint, "PutItem", body)
    assert status == 413


@pytest.mark.parametrize("kind", ["gzip", "deflate", "raw-deflate"])
def test_compressed_request_bodies(endpoint: str, make_table: Any, ddb: Any, kind: str) -> None:
    table = make_table()
    item = {"pk": {"S": "k"}, "v": {"S": "hello " * 200}}
    raw = json.dumps({"TableName": table, "Item": item}).encode()
    body = {"gzip": gzip.compress, "deflate": zlib.compress, "raw-deflate": _raw_deflate}[kind](raw)
    encoding = "gzip" if kind == "gzip" else "deflate"
    status, _, answer = call(endpoint, "PutItem", body, {"Content-Encoding": encoding})
    assert status == 200, answer
    got = ddb.get_item(TableName=table, Key={"pk": {"S": "k"}})["Item"]
    assert got["v"]["S"] == "hello " * 200


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def test_corrupt_gzip_is_refused(endpoint: str) -> None:
    status, _, body = call(endpoint, "ListTables", b"not gzip", {"Content-Encoding": "gzip"})
    assert status == 400
    assert "SerializationException" in json.loads(body)["__type"]


def test_unsigned_get_root_on_dynamodb_host_is_health(endpoint: str) -> None:
    req = urllib.request.Request(
        endpoint + "/", headers={"Host": "dynamodb.us-east-1.amazonaws.com"}
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    assert text.startswith("healthy: dynamodb.us-east-1.amazonaws.com")
    assert "ListAllMyBucketsResult" not in text


def test_cors_preflight(endpoint: str) -> None:
    req = urllib.request.Request(
        endpoint + "/",
        method="OPTIONS",
        headers={
            "Origin": "http://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target,authorization",
        },
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200
        headers = {k.lower(): v for k, v in resp.headers.items()}
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-methods"] == "POST"
    assert "x-amz-target" in headers["access-control-allow-headers"]
    assert "x-amzn-RequestId" in headers["access-control-expose-headers"]


def test_gzip_response_when_accepted(endpoint: str) -> None:
    status, headers, body = call(endpoint, "ListTables", b"{}", {"Accept-Encoding": "gzip"})
    assert status == 200
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["content-encoding"] == "gzip"
    assert lowered["x-amz-crc32"] == str(zlib.crc32(body))
    assert "TableNames" in json.loads(gzip.decompress(body))


def test_boto3_with_crc32_checks(ddb: Any, make_table: Any) -> None:
    """botocore verifies x-amz-crc32 on every DynamoDB answer: a large one must pass too."""
    table = make_table()
    for i in range(30):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"k{i}"}, "v": {"S": "z" * 2000}})
    assert ddb.scan(TableName=table)["Count"] == 30
