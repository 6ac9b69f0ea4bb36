"""The console lists streams and shows a shard's records without consuming them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests


def test_console_lists_streams_and_shows_records(
    endpoint: str, kinesis: Any, stream: Callable[..., dict[str, Any]]
) -> None:
    name = stream(shards=2)["StreamName"]
    put = kinesis.put_record(StreamName=name, Data=b'{"hello": "kinesis"}', PartitionKey="pk-1")
    kinesis.put_record(StreamName=name, Data=b"\xff\xfe", PartitionKey="pk-1", ExplicitHashKey="0")
    listing = requests.get(f"{endpoint}/_nubes/console/kinesis", timeout=10)
    assert listing.status_code == 200
    assert name in listing.text and "ACTIVE" in listing.text
    detail = requests.get(
        f"{endpoint}/_nubes/console/kinesis/{name}",
        params={"shard": put["ShardId"]},
        timeout=10,
    )
    assert detail.status_code == 200
    assert put["SequenceNumber"] in detail.text
    assert "{&quot;hello&quot;: &quot;kinesis&quot;}" in detail.text
    assert "shardId-000000000001" in detail.text
    other = requests.get(
        f"{endpoint}/_nubes/console/kinesis/{name}",
        params={"shard": "shardId-000000000000"},
        timeout=10,
    )
    assert "base64: //4=" in other.text
