"""Kinesis records: placement by hash key, sequence numbers, iterators of every type, paging
GetRecords, limits and per-record failures, iterator expiry and retention."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

HALF = 2**127


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _iterator(kinesis: Any, name: str, shard: str, kind: str = "TRIM_HORIZON", **kw: Any) -> str:
    return str(
        kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType=kind, **kw)[
            "ShardIterator"
        ]
    )


def _key_in_upper_half() -> str:
    for i in range(1000):
        if int(hashlib.md5(str(i).encode()).hexdigest(), 16) >= HALF:
            return str(i)
    raise AssertionError("no key")


def test_partition_keys_go_to_the_shard_holding_their_md5(
    kinesis: Any, stream: Callable[..., dict[str, Any]]
) -> None:
    name = stream(shards=2)["StreamName"]
    upper = _key_in_upper_half()
    put = kinesis.put_record(StreamName=name, Data=b"a", PartitionKey=upper)
    assert put["ShardId"] == "shardId-000000000001"
    low = kinesis.put_record(StreamName=name, Data=b"b", PartitionKey=upper, ExplicitHashKey="5")
    assert low["ShardId"] == "shardId-000000000000"
    with pytest.raises(ClientError) as err:
        kinesis.put_record(
            StreamName=name, Data=b"c", PartitionKey="k", ExplicitHashKey=str(2**128)
        )
    assert _code(err) == "InvalidArgumentException"


def test_sequence_numbers_increase_and_records_read_back_in_order(
    kinesis: Any, stream: Callable[..., dict[str, Any]]
) -> None:
    name = stream()["StreamName"]
    numbers = [
        kinesis.put_record(StreamName=name, Data=f"r{i}".encode(), PartitionKey="k")[
            "SequenceNumber"
        ]
        for i in range(5)
    ]
    assert all(len(n) == 56 for n in numbers)
    assert [int(n) for n in numbers] == sorted(int(n) for n in numbers)
    got = kinesis.get_records(ShardIterator=_iterator(kinesis, name, "shardId-000000000000"))
    assert [r["Data"] for r in got["Records"]] == [f"r{i}".encode() for i in range(5)]
    assert [r["SequenceNumber"] for r in got["Records"]] == numbers
    assert got["Records"][0]["PartitionKey"] == "k"
    assert isinstance(got["Records"][0]["ApproximateArrivalTimestamp"], datetime)
    assert got["MillisBehindLatest"] == 0
    empty = kinesis.get_records(ShardIterator=got["NextShardIterator"])
    assert empty["Records"] == [] and empty["NextShardIterator"]


def test_iterator_types(kinesis: Any, stream: Callable[..., dict[str, Any]]) -> None:
    name = stream()["StreamName"]
    shard = "shardId-000000000000"
    numbers = [
        kinesis.put_record(StreamName=name, Data=str(i).encode(), PartitionKey="k")[
            "SequenceNumber"
        ]
        for i in range(4)
    ]
    at = _iterator(kinesis, name, shard, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=numbers[1])
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=at)["Records"]] == [
        b"1",
        b"2",
        b"3",
    ]
    after = _iterator(
        kinesis, name, shard, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=numbers[1]
    )
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=after)["Records"]] == [b"2", b"3"]
    latest = _iterator(kinesis, name, shard, "LATEST")
    assert kinesis.get_records(ShardIterator=latest)["Records"] == []
    kinesis.put_record(StreamName=name, Data=b"new", PartitionKey="k")
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=latest)["Records"]] == [b"new"]
    past = _iterator(
        kinesis, name, shard, "AT_TIMESTAMP", Timestamp=datetime(2000, 1, 1, tzinfo=UTC)
    )
    assert len(kinesis.get_records(ShardIterator=past)["Records"]) == 5
    future = _iterator(
        kinesis, name, shard, "AT_TIMESTAMP", Timestamp=datetime(2999, 1, 1, tzinfo=UTC)
    )
    assert kinesis.get_records(ShardIterator=future)["Records"] == []
    with pytest.raises(ClientError) as err:
        _iterator(kinesis, name, shard, "AT_SEQUENCE_NUMBER")
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        _iterator(kinesis, name, shard, "AT_TIMESTAMP")
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        _iterator(kinesis, name, "shardId-000000000009")
    assert _code(err) == "ResourceNotFoundException"


def test_sequence_number_of_another_shard_is_refused(
    kinesis: Any, stream: Callable[..., dict[str, Any]]
) -> None:
    name = stream(shards=2)["StreamName"]
    put = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k", ExplicitHashKey="0")
    with pytest.raises(ClientError) as err:
        _iterator(
            kinesis,
            name,
            "shardId-000000000001",
            "AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=put["SequenceNumber"],
        )
    assert _code(err) == "InvalidArgumentException"


def test_get_records_limit_pages_and_reports_millis_behind(
    kinesis: Any, stream: Callable[..., dict[str, Any]], advance: Callable[[float], None]
) -> None:
    name = stream()["StreamName"]
    kinesis.put_records(
        StreamName=name, Records=[{"Data": b"%d" % i, "PartitionKey": "k"} for i in range(7)]
    )
    advance(3)
    iterator = _iterator(kinesis, name, "shardId-000000000000")
    first = kinesis.get_records(ShardIterator=iterator, Limit=3)
    assert len(first["Records"]) == 3
    assert first["MillisBehindLatest"] >= 3000
    second = kinesis.get_records(ShardIterator=first["NextShardIterator"], Limit=10)
    assert [r["Data"] for r in second["Records"]] == [b"3", b"4", b"5", b"6"]
    assert second["MillisBehindLatest"] == 0
    with pytest.raises(ClientError) as err:
        kinesis.get_records(ShardIterator=iterator, Limit=10001)
    assert _code(err) == "ValidationException"


def test_put_records_limits_and_per_record_throughput_failures(
    kinesis: Any, stream: Callable[..., dict[str, Any]]
) -> None:
    name = stream()["StreamName"]
    with pytest.raises(ClientError) as err:
        kinesis.put_records(StreamName=name, Records=[{"Data": b"x", "PartitionKey": "k"}] * 501)
    assert _code(err) == "ValidationException"
    with pytest.raises(ClientError) as err:
        kinesis.put_record(StreamName=name, Data=b"x" * (1024 * 1024), PartitionKey="k")
    assert _code(err) == "ValidationException"
    half = b"x" * (600 * 1024)
    out = kinesis.put_records(
        StreamName=name,
        Records=[{"Data": half, "PartitionKey": "k"}, {"Data": half, "PartitionKey": "k"}],
    )
    # A provisioned shard takes 1 MiB a second: the second record of this call is refused.
    assert out["FailedRecordCount"] == 1
    assert out["Records"][0]["SequenceNumber"]
    assert out["Records"][1]["ErrorCode"] == "ProvisionedThroughputExceededException"
    assert "Rate exceeded for shard shardId-000000000000" in out["Records"][1]["ErrorMessage"]


def test_on_demand_streams_are_not_throttled_and_refuse_over_five_mib(
    kinesis: Any, stream: Callable[..., dict[str, Any]]
) -> None:
    name = stream(shards=None, StreamModeDetails={"StreamMode": "ON_DEMAND"})["StreamName"]
    big = b"x" * (900 * 1024)
    out = kinesis.put_records(
        StreamName=name, Records=[{"Data": big, "PartitionKey": "k"} for _ in range(3)]
    )
    assert out["FailedRecordCount"] == 0
    with pytest.raises(ClientError) as err:
        kinesis.put_records(
            StreamName=name, Records=[{"Data": big, "PartitionKey": str(i)} for i in range(6)]
        )
    assert _code(err) == "InvalidArgumentException"


def test_iterators_expire_after_five_minutes(
    kinesis: Any, stream: Callable[..., dict[str, Any]], advance: Callable[[float], None]
) -> None:
    name = stream()["StreamName"]
    iterator = _iterator(kinesis, name, "shardId-000000000000")
    advance(301)
    with pytest.raises(ClientError) as err:
        kinesis.get_records(ShardIterator=iterator)
    assert _code(err) == "ExpiredIteratorException"
    with pytest.raises(ClientError) as err:
        kinesis.get_records(ShardIterator="garbage")
    assert _code(err) == "InvalidArgumentException"


def test_records_expire_after_the_retention_period(
    kinesis: Any, stream: Callable[..., dict[str, Any]], advance: Callable[[float], None]
) -> None:
    name = stream()["StreamName"]
    kinesis.put_record(StreamName=name, Data=b"old", PartitionKey="k")
    advance(23 * 3600)
    kinesis.put_record(StreamName=name, Data=b"new", PartitionKey="k")
    advance(3600 + 5)
    got = kinesis.get_records(ShardIterator=_iterator(kinesis, name, "shardId-000000000000"))
    assert [r["Data"] for r in got["Records"]] == [b"new"]


def test_deleted_stream_iterators_fail(
    kinesis: Any, stream: Callable[..., dict[str, Any]], settle: Callable[[], None]
) -> None:
    name = stream()["StreamName"]
    iterator = _iterator(kinesis, name, "shardId-000000000000")
    kinesis.delete_stream(StreamName=name)
    settle()
    with pytest.raises(ClientError) as err:
        kinesis.get_records(ShardIterator=iterator)
    assert _code(err) == "ResourceNotFoundException"
