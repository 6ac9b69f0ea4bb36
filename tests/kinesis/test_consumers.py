"""Enhanced fan-out consumers: registration statuses, lookups, listing and SubscribeToShard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_consumer_lifecycle(
    kinesis: Any, stream: Callable[..., dict[str, Any]], settle: Callable[[], None]
) -> None:
    arn = stream()["StreamARN"]
    made = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"]
    assert made["ConsumerStatus"] == "CREATING"
    assert made["ConsumerARN"].startswith(f"{arn}/consumer/app:")
    with pytest.raises(ClientError) as err:
        kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="app")
    assert _code(err) == "ResourceInUseException"
    settle()
    by_name = kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="app")
    by_arn = kinesis.describe_stream_consumer(ConsumerARN=made["ConsumerARN"])
    assert by_name == {**by_name, "ConsumerDescription": by_arn["ConsumerDescription"]}
    assert by_arn["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE"
    assert by_arn["ConsumerDescription"]["StreamARN"] == arn
    kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="other")
    first = kinesis.list_stream_consumers(StreamARN=arn, MaxResults=1)
    assert len(first["Consumers"]) == 1
    second = kinesis.list_stream_consumers(StreamARN=arn, NextToken=first["NextToken"])
    names = {c["ConsumerName"] for c in first["Consumers"] + second["Consumers"]}
    assert names == {"app", "other"}
    summary = kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
    assert summary["ConsumerCount"] == 2
    kinesis.deregister_stream_consumer(StreamARN=arn, ConsumerName="app")
    gone = kinesis.describe_stream_consumer(ConsumerARN=made["ConsumerARN"])
    assert gone["ConsumerDescription"]["ConsumerStatus"] == "DELETING"
    settle()
    with pytest.raises(ClientError) as err:
        kinesis.describe_stream_consumer(ConsumerARN=made["ConsumerARN"])
    assert _code(err) == "ResourceNotFoundException"
    kinesis.tag_resource(ResourceARN=second["Consumers"][0]["ConsumerARN"], Tags={"a": "b"})
    assert kinesis.list_tags_for_resource(ResourceARN=second["Consumers"][0]["ConsumerARN"])[
        "Tags"
    ] == [{"Key": "a", "Value": "b"}]


def test_subscribe_to_shard_pushes_records_until_the_subscription_ends(
    kinesis: Any,
    stream: Callable[..., dict[str, Any]],
    settle: Callable[[], None],
    advance: Callable[[float], None],
) -> None:
    summary = stream()
    name, arn = summary["StreamName"], summary["StreamARN"]
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="efo")["Consumer"]
    with pytest.raises(ClientError) as err:
        kinesis.subscribe_to_shard(
            ConsumerARN=consumer["ConsumerARN"],
            ShardId="shardId-000000000000",
            StartingPosition={"Type": "TRIM_HORIZON"},
        )
    assert _code(err) == "ResourceInUseException"
    settle()
    numbers = [
        kinesis.put_record(StreamName=name, Data=b"%d" % i, PartitionKey="k")["SequenceNumber"]
        for i in range(3)
    ]
    out = kinesis.subscribe_to_shard(
        ConsumerARN=consumer["ConsumerARN"],
        ShardId="shardId-000000000000",
        StartingPosition={"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": numbers[0]},
    )
    events = iter(out["EventStream"])
    first = next(events)["SubscribeToShardEvent"]
    assert [r["Data"] for r in first["Records"]] == [b"1", b"2"]
    assert first["ContinuationSequenceNumber"] == numbers[-1]
    assert first["MillisBehindLatest"] == 0
    # The subscription stays open: a record put now is pushed to it.
    late = kinesis.put_record(StreamName=name, Data=b"late", PartitionKey="k")
    pushed: list[bytes] = []
    while not pushed:
        pushed = [r["Data"] for r in next(events)["SubscribeToShardEvent"]["Records"]]
    assert pushed == [b"late"]
    # Five minutes on, the subscription ends and the client subscribes again.
    advance(301)
    rest = [e["SubscribeToShardEvent"] for e in events]
    assert all(not e["Records"] for e in rest)
    again = kinesis.subscribe_to_shard(
        ConsumerARN=consumer["ConsumerARN"],
        ShardId="shardId-000000000000",
        StartingPosition={"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": late["SequenceNumber"]},
    )
    resumed = next(iter(again["EventStream"]))["SubscribeToShardEvent"]
    assert [r["Data"] for r in resumed["Records"]] == [b"late"]
    again["EventStream"].close()


def test_subscription_to_a_closed_shard_ends_with_its_children(
    kinesis: Any, stream: Callable[..., dict[str, Any]], settle: Callable[[], None]
) -> None:
    summary = stream()
    name, arn = summary["StreamName"], summary["StreamARN"]
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="efo")["Consumer"]
    kinesis.put_record(StreamName=name, Data=b"before", PartitionKey="k")
    kinesis.split_shard(
        StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127)
    )
    settle()
    out = kinesis.subscribe_to_shard(
        ConsumerARN=consumer["ConsumerARN"],
        ShardId="shardId-000000000000",
        StartingPosition={"Type": "TRIM_HORIZON"},
    )
    events = [e["SubscribeToShardEvent"] for e in out["EventStream"]]
    assert [r["Data"] for e in events for r in e["Records"]] == [b"before"]
    assert {c["ShardId"] for c in events[-1]["ChildShards"]} == {
        "shardId-000000000001",
        "shardId-000000000002",
    }
