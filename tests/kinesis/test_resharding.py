"""Resharding: split, merge and uniform scaling close shards and open children; a closed
shard reads to its end and then names its children; ListShards filters and pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

HALF = 2**127
S0, S1, S2, S3 = (f"shardId-{i:012d}" for i in range(4))


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _read_all(kinesis: Any, name: str, shard: str) -> dict[str, Any]:
    iterator = kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[bytes] = []
    while True:
        got = kinesis.get_records(ShardIterator=iterator)
        records += [r["Data"] for r in got["Records"]]
        if "NextShardIterator" not in got or not got["Records"]:
            return {"records": records, **got}
        iterator = got["NextShardIterator"]


def test_split_closes_the_parent_and_its_reader_ends_at_the_children(
    kinesis: Any, stream: Callable[..., dict[str, Any]], settle: Callable[[], None]
) -> None:
    name = stream()["StreamName"]
    kinesis.put_record(StreamName=name, Data=b"before", PartitionKey="k")
    kinesis.split_shard(StreamName=name, ShardToSplit=S0, NewStartingHashKey=str(HALF))
    assert kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"] == (
        "UPDATING"
    )
    with pytest.raises(ClientError) as err:
        kinesis.split_shard(StreamName=name, ShardToSplit=S1, NewStartingHashKey="1")
    assert _code(err) == "ResourceInUseException"
    settle()
    shards = {s["ShardId"]: s for s in kinesis.list_shards(StreamName=name)["Shards"]}
    assert set(shards) == {S0, S1, S2}
    assert "EndingSequenceNumber" in shards[S0]["SequenceNumberRange"]
    assert shards[S1]["ParentShardId"] == S0 and shards[S2]["ParentShardId"] == S0
    assert shards[S1]["HashKeyRange"]["EndingHashKey"] == str(HALF - 1)
    assert shards[S2]["HashKeyRange"]["StartingHashKey"] == str(HALF)
    after = kinesis.put_record(StreamName=name, Data=b"after", PartitionKey="k")
    assert after["ShardId"] in (S1, S2)
    assert int(after["SequenceNumber"]) > int(
        shards[S0]["SequenceNumberRange"]["EndingSequenceNumber"]
    )
    end = _read_all(kinesis, name, S0)
    assert end["records"] == [b"before"]
    assert "NextShardIterator" not in end
    assert {c["ShardId"] for c in end["ChildShards"]} == {S1, S2}
    assert all(c["ParentShards"] == [S0] for c in end["ChildShards"])
    open_only = kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})
    assert {s["ShardId"] for s in open_only["Shards"]} == {S1, S2}
    horizon = kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_TRIM_HORIZON"})
    assert {s["ShardId"] for s in horizon["Shards"]} == {S0}
    after_id = kinesis.list_shards(
        StreamName=name, ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": S1}
    )
    assert [s["ShardId"] for s in after_id["Shards"]] == [S2]


def test_bad_split_keys_and_closed_shards_are_refused(
    kinesis: Any, stream: Callable[..., dict[str, Any]], settle: Callable[[], None]
) -> None:
    name = stream()["StreamName"]
    with pytest.raises(ClientError) as err:
        kinesis.split_shard(StreamName=name, ShardToSplit=S0, NewStartingHashKey="0")
    assert _code(err) == "InvalidArgumentException"
    kinesis.split_shard(StreamName=name, ShardToSplit=S0, NewStartingHashKey=str(HALF))
    settle()
    with pytest.raises(ClientError) as err:
        kinesis.split_shard(StreamName=name, ShardToSplit=S0, NewStartingHashKey=str(HALF))
    assert _code(err) == "ResourceInUseException"


def test_merge_needs_adjacent_shards_and_names_both_parents(
    kinesis: Any, stream: Callable[..., dict[str, Any]], settle: Callable[[], None]
) -> None:
    name = stream(shards=3)["StreamName"]
    with pytest.raises(ClientError) as err:
        kinesis.merge_shards(StreamName=name, ShardToMerge=S0, AdjacentShardToMerge=S2)
    assert _code(err) == "InvalidArgumentException"
    kinesis.merge_shards(StreamName=name, ShardToMerge=S1, AdjacentShardToMerge=S0)
    settle()
    shards = {s["ShardId"]: s for s in kinesis.list_shards(StreamName=name)["Shards"]}
    child = shards[S3]
    assert child["ParentShardId"] == S1 and child["AdjacentParentShardId"] == S0
    assert child["HashKeyRange"]["StartingHashKey"] == "0"
    assert child["HashKeyRange"]["EndingHashKey"] == shards[S1]["HashKeyRange"]["EndingHashKey"]
    end = _read_all(kinesis, name, S0)
    assert end["ChildShards"] == [
        {
            "ShardId": S3,
            "ParentShards": [S1, S0],
            "HashKeyRange": child["HashKeyRange"],
        }
    ]


def test_update_shard_count_scales_uniformly_within_limits(
    kinesis: Any, stream: Callable[..., dict[str, Any]], settle: Callable[[], None]
) -> None:
    name = stream(shards=2)["StreamName"]
    with pytest.raises(ClientError) as err:
        kinesis.update_shard_count(
            StreamName=name, TargetShardCount=5, ScalingType="UNIFORM_SCALING"
        )
    assert _code(err) == "LimitExceededException"
    out = kinesis.update_shard_count(
        StreamName=name, TargetShardCount=3, ScalingType="UNIFORM_SCALING"
    )
    assert out["CurrentShardCount"] == 2 and out["TargetShardCount"] == 3
    settle()
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3
    open_shards = kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]
    starts = [int(s["HashKeyRange"]["StartingHashKey"]) for s in open_shards]
    assert starts == [0, 2**128 // 3, 2 * 2**128 // 3]
    assert all(s.get("ParentShardId") in (S0, S1) for s in open_shards)


def test_list_shards_pages_with_next_token_only(
    kinesis: Any, stream: Callable[..., dict[str, Any]], advance: Callable[[float], None]
) -> None:
    name = stream(shards=5)["StreamName"]
    first = kinesis.list_shards(StreamName=name, MaxResults=2)
    assert [s["ShardId"] for s in first["Shards"]] == [S0, S1]
    with pytest.raises(ClientError) as err:
        kinesis.list_shards(StreamName=name, NextToken=first["NextToken"])
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        kinesis.list_shards(NextToken=first["NextToken"], ShardFilter={"Type": "AT_LATEST"})
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        kinesis.list_shards(StreamName=name, StreamCreationTimestamp=datetime(2001, 1, 1))
    assert _code(err) == "ResourceNotFoundException"
    second = kinesis.list_shards(NextToken=first["NextToken"], MaxResults=2)
    assert [s["ShardId"] for s in second["Shards"]] == [S2, S3]
    third = kinesis.list_shards(NextToken=second["NextToken"], MaxResults=2)
    assert [s["ShardId"] for s in third["Shards"]] == ["shardId-000000000004"]
    assert "NextToken" not in third
    start = kinesis.list_shards(StreamName=name, ExclusiveStartShardId=S3)
    assert [s["ShardId"] for s in start["Shards"]] == ["shardId-000000000004"]
    desc = kinesis.describe_stream(StreamName=name, Limit=2)["StreamDescription"]
    assert desc["HasMoreShards"] is True and len(desc["Shards"]) == 2
    advance(301)
    with pytest.raises(ClientError) as err:
        kinesis.list_shards(NextToken=first["NextToken"])
    assert _code(err) == "ExpiredNextTokenException"


def test_closed_shards_leave_after_the_retention_period(
    kinesis: Any, stream: Callable[..., dict[str, Any]], advance: Callable[[float], None]
) -> None:
    name = stream()["StreamName"]
    kinesis.split_shard(StreamName=name, ShardToSplit=S0, NewStartingHashKey=str(HALF))
    advance(25 * 3600)
    shards = [s["ShardId"] for s in kinesis.list_shards(StreamName=name)["Shards"]]
    assert shards == [S1, S2]


def test_uniform_scaling_names_the_shard_holding_each_childs_start_as_its_parent(
    kinesis: Any, stream: Callable[..., dict[str, Any]], settle: Callable[[], None]
) -> None:
    name = stream(shards=2)["StreamName"]
    kinesis.split_shard(StreamName=name, ShardToSplit=S1, NewStartingHashKey=str(3 * 2**126))
    settle()
    # Shard 4 (the merge of 0 and 2) holds the low three quarters, shard 3 the top quarter.
    kinesis.merge_shards(
        StreamName=name, ShardToMerge=S0, AdjacentShardToMerge="shardId-000000000002"
    )
    settle()
    kinesis.update_shard_count(StreamName=name, TargetShardCount=3, ScalingType="UNIFORM_SCALING")
    settle()
    shards = {s["ShardId"]: s for s in kinesis.list_shards(StreamName=name)["Shards"]}
    low, high = shards["shardId-000000000005"], shards["shardId-000000000007"]
    assert low["ParentShardId"] == "shardId-000000000004" and "AdjacentParentShardId" not in low
    # The top third starts in shard 4's range and reaches into shard 3's.
    assert high["ParentShardId"] == "shardId-000000000004"
    assert high["AdjacentParentShardId"] == S3


def test_update_shard_count_at_most_ten_times_a_day(
    kinesis: Any,
    stream: Callable[..., dict[str, Any]],
    settle: Callable[[], None],
    advance: Callable[[float], None],
) -> None:
    name = stream()["StreamName"]
    for i in range(10):
        kinesis.update_shard_count(
            StreamName=name, TargetShardCount=2 - i % 2, ScalingType="UNIFORM_SCALING"
        )
        settle()
    with pytest.raises(ClientError) as err:
        kinesis.update_shard_count(
            StreamName=name, TargetShardCount=2, ScalingType="UNIFORM_SCALING"
        )
    assert _code(err) == "LimitExceededException"
    advance(24 * 3600)
    kinesis.update_shard_count(StreamName=name, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
