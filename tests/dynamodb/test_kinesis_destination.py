"""Kinesis Data Streams for DynamoDB (Developer Guide, "Using Kinesis Data Streams to capture
changes to DynamoDB"; API reference, Enable/Disable/Describe/UpdateKinesisStreamingDestination):
each item change lands on the Kinesis data stream as DynamoDB's JSON change record."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.dynamodb.conftest import error_of

pytestmark = pytest.mark.clock


@pytest.fixture
def kinesis(client: Callable[..., Any]) -> Any:
    return client("kinesis")


def _stream(kinesis: Any, unique: Callable[[str], str], advance: Callable[[float], None]) -> str:
    name = unique("changes")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    advance(60)  # the stream becomes ACTIVE
    return str(
        kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    )


def _records(kinesis: Any, stream_arn: str) -> list[dict[str, Any]]:
    shard = kinesis.list_shards(StreamARN=stream_arn)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamARN=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return [json.loads(r["Data"]) for r in kinesis.get_records(ShardIterator=iterator)["Records"]]


def test_changes_reach_the_stream(
    ddb: Any,
    kinesis: Any,
    make_table: Callable[..., str],
    unique: Callable[[str], str],
    advance: Callable[[float], None],
) -> None:
    name = make_table()
    stream_arn = _stream(kinesis, unique, advance)
    enabled = ddb.enable_kinesis_streaming_destination(TableName=name, StreamArn=stream_arn)
    assert enabled["DestinationStatus"] == "ENABLING"
    assert enabled["EnableKinesisStreamingConfiguration"] == {
        "ApproximateCreationDateTimePrecision": "MILLISECOND"
    }
    advance(30)
    described = ddb.describe_kinesis_streaming_destination(TableName=name)
    assert described["KinesisDataStreamDestinations"] == [
        {
            "StreamArn": stream_arn,
            "DestinationStatus": "ACTIVE",
            "ApproximateCreationDateTimePrecision": "MILLISECOND",
        }
    ]
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "n": {"N": "1"}, "b": {"B": b"\x01"}})
    ddb.update_item(
        TableName=name,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "2"}},
    )
    ddb.delete_item(TableName=name, Key={"pk": {"S": "a"}})
    records = _records(kinesis, stream_arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = records
    for record in records:
        assert record["tableName"] == name
        assert record["recordFormat"] == "application/json"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "us-east-1"
        assert record["userIdentity"] is None
        assert record["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
        assert record["dynamodb"]["SizeBytes"] > 0
        assert record["dynamodb"]["ApproximateCreationDateTimePrecision"] == "MILLISECOND"
        # Milliseconds since the epoch.
        assert record["dynamodb"]["ApproximateCreationDateTime"] > 10**12
    assert insert["dynamodb"]["NewImage"] == {
        "pk": {"S": "a"},
        "n": {"N": "1"},
        "b": {"B": "AQ=="},
    }
    assert "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["n"] == {"N": "1"}
    assert modify["dynamodb"]["NewImage"]["n"] == {"N": "2"}
    assert "NewImage" not in remove["dynamodb"]
    assert remove["dynamodb"]["OldImage"]["n"] == {"N": "2"}


def test_precision_update_and_disable(
    ddb: Any,
    kinesis: Any,
    make_table: Callable[..., str],
    unique: Callable[[str], str],
    advance: Callable[[float], None],
) -> None:
    name = make_table()
    stream_arn = _stream(kinesis, unique, advance)
    ddb.enable_kinesis_streaming_destination(TableName=name, StreamArn=stream_arn)
    code, _ = error_of(
        lambda: ddb.enable_kinesis_streaming_destination(TableName=name, StreamArn=stream_arn)
    )
    assert code == "ResourceInUseException"
    advance(30)
    updated = ddb.update_kinesis_streaming_destination(
        TableName=name,
        StreamArn=stream_arn,
        UpdateKinesisStreamingConfiguration={"ApproximateCreationDateTimePrecision": "MICROSECOND"},
    )
    assert updated["DestinationStatus"] == "UPDATING"
    advance(30)
    destination = ddb.describe_kinesis_streaming_destination(TableName=name)[
        "KinesisDataStreamDestinations"
    ][0]
    assert destination["DestinationStatus"] == "ACTIVE"
    assert destination["ApproximateCreationDateTimePrecision"] == "MICROSECOND"
    ddb.put_item(TableName=name, Item={"pk": {"S": "micro"}})
    (record,) = _records(kinesis, stream_arn)
    # Microseconds since the epoch.
    assert record["dynamodb"]["ApproximateCreationDateTime"] > 10**15
    disabled = ddb.disable_kinesis_streaming_destination(TableName=name, StreamArn=stream_arn)
    assert disabled["DestinationStatus"] == "DISABLING"
    advance(30)
    destination = ddb.describe_kinesis_streaming_destination(TableName=name)[
        "KinesisDataStreamDestinations"
    ][0]
    assert destination["DestinationStatus"] == "DISABLED"
    ddb.put_item(TableName=name, Item={"pk": {"S": "after"}})
    assert len(_records(kinesis, stream_arn)) == 1
    code, _ = error_of(
        lambda: ddb.disable_kinesis_streaming_destination(TableName=name, StreamArn=stream_arn)
    )
    assert code == "ValidationException"


def test_unknown_stream_and_table(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    missing = "arn:aws:kinesis:us-east-1:000000000000:stream/no-such-stream"
    code, _ = error_of(
        lambda: ddb.enable_kinesis_streaming_destination(TableName=name, StreamArn=missing)
    )
    assert code == "ResourceNotFoundException"
    code, _ = error_of(
        lambda: ddb.describe_kinesis_streaming_destination(TableName=name + "-missing")
    )
    assert code == "ResourceNotFoundException"
    assert (
        ddb.describe_kinesis_streaming_destination(TableName=name)["KinesisDataStreamDestinations"]
        == []
    )
