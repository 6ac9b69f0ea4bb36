"""Kinesis spoken in ``application/x-amz-cbor-1.1``, as the AWS SDK for Java sends it by
default: CBOR maps both ways, blobs as byte strings, timestamps as tag 1 in epoch milliseconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import cbor2
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CBOR = "application/x-amz-cbor-1.1"


def _call(endpoint: str, operation: str, body: dict[str, Any] | bytes) -> requests.Response:
    raw = body if isinstance(body, bytes) else cbor2.dumps(body)
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=raw,
        headers={"Content-Type": CBOR, "X-Amz-Target": f"Kinesis_20131202.{operation}"},
    )
    SigV4Auth(Credentials("test", "test"), "kinesis", "us-east-1").add_auth(request)
    return requests.post(endpoint + "/", data=raw, headers=dict(request.headers), timeout=10)


def test_cbor_requests_get_cbor_answers(
    endpoint: str, kinesis: Any, stream: Callable[..., dict[str, Any]]
) -> None:
    name = stream()["StreamName"]
    before = round(time.time() * 1000) - 60_000
    put = _call(
        endpoint, "PutRecord", {"StreamName": name, "Data": b"\x00bin", "PartitionKey": "k"}
    )
    assert put.status_code == 200 and put.headers["Content-Type"] == CBOR
    assert cbor2.loads(put.content)["ShardId"] == "shardId-000000000000"
    iterator = _call(
        endpoint,
        "GetShardIterator",
        {
            "StreamName": name,
            "ShardId": "shardId-000000000000",
            "ShardIteratorType": "AT_TIMESTAMP",
            "Timestamp": cbor2.CBORTag(1, before),
        },
    )
    assert iterator.status_code == 200, iterator.content
    got = _call(
        endpoint, "GetRecords", {"ShardIterator": cbor2.loads(iterator.content)["ShardIterator"]}
    )
    raw = cbor2.loads(got.content, semantic_decoders={1: lambda value, _immutable: value})
    record = raw["Records"][0]
    assert record["Data"] == b"\x00bin"
    millis = record["ApproximateArrivalTimestamp"]
    assert isinstance(millis, int) and millis > before
    # The same stream read as JSON sees the same record.
    iterator_json = kinesis.get_shard_iterator(
        StreamName=name,
        ShardId="shardId-000000000000",
        ShardIteratorType="AT_TIMESTAMP",
        Timestamp=datetime.fromtimestamp(before / 1000, UTC),
    )["ShardIterator"]
    assert kinesis.get_records(ShardIterator=iterator_json)["Records"][0]["Data"] == b"\x00bin"


def test_cbor_errors_are_cbor(endpoint: str, unique: Callable[[str], str]) -> None:
    answer = _call(endpoint, "DescribeStreamSummary", {"StreamName": unique("missing")})
    assert answer.status_code == 400 and answer.headers["Content-Type"] == CBOR
    body = cbor2.loads(answer.content)
    assert body["__type"] == "ResourceNotFoundException"
    malformed = _call(endpoint, "ListStreams", b"\xff\xff")
    assert malformed.status_code == 400
    assert cbor2.loads(malformed.content)["__type"] == "SerializationException"
