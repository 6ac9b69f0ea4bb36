"""Kinesis publishes AWS/Kinesis metrics per stream to CloudWatch."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any


def _server_time(endpoint: str) -> datetime:
    with urllib.request.urlopen(endpoint + "/_nubes/clock", timeout=10) as answer:
        return datetime.fromtimestamp(float(json.loads(answer.read())["now"]), UTC)


def test_incoming_and_read_records_reach_cloudwatch(
    kinesis: Any,
    client: Callable[..., Any],
    stream: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
    endpoint: str,
) -> None:
    name = stream()["StreamName"]
    kinesis.put_records(
        StreamName=name, Records=[{"Data": b"abcd", "PartitionKey": "k"} for _ in range(3)]
    )
    iterator = kinesis.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    kinesis.get_records(ShardIterator=iterator)
    advance(61)
    now = _server_time(endpoint)
    cw = client("cloudwatch")

    def total(metric: str) -> float:
        points = cw.get_metric_statistics(
            Namespace="AWS/Kinesis",
            MetricName=metric,
            Dimensions=[{"Name": "StreamName", "Value": name}],
            StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(p["Sum"] for p in points)

    assert total("IncomingRecords") == 3
    assert total("IncomingBytes") == 15
    assert total("GetRecords.Records") == 3
