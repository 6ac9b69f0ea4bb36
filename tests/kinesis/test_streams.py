"""Kinesis streams: creation and its statuses, modes, listing and paging, retention, tags,
encryption, monitoring, limits, resource policies and deletion."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

HALF = 2**127


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_create_reports_creating_then_active_with_even_shards(
    kinesis: Any, unique: Callable[[str], str], settle: Callable[[], None]
) -> None:
    name = unique("s")
    kinesis.create_stream(StreamName=name, ShardCount=2)
    first = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert first["StreamStatus"] == "CREATING"
    with pytest.raises(ClientError) as err:
        kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    assert _code(err) == "ResourceNotFoundException"
    settle()
    desc = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert desc["StreamStatus"] == "ACTIVE"
    assert desc["StreamARN"] == f"arn:aws:kinesis:us-east-1:000000000000:stream/{name}"
    assert desc["RetentionPeriodHours"] == 24
    assert desc["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert desc["EncryptionType"] == "NONE"
    assert desc["HasMoreShards"] is False
    ranges = [
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in desc["Shards"]
    ]
    assert ranges == [(0, HALF - 1), (HALF, 2**128 - 1)]
    assert [s["ShardId"] for s in desc["Shards"]] == [
        "shardId-000000000000",
        "shardId-000000000001",
    ]
    seq = desc["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"]
    assert len(seq) == 56 and seq.isdigit()


def test_on_demand_has_four_shards_and_is_the_default_without_a_count(
    kinesis: Any, unique: Callable[[str], str], settle: Callable[[], None]
) -> None:
    explicit, implicit = unique("od"), unique("od")
    kinesis.create_stream(StreamName=explicit, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kinesis.create_stream(StreamName=implicit)
    settle()
    for name in (explicit, implicit):
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
        assert summary["OpenShardCount"] == 4
    with pytest.raises(ClientError) as err:
        kinesis.create_stream(
            StreamName=unique("od"), ShardCount=2, StreamModeDetails={"StreamMode": "ON_DEMAND"}
        )
    assert _code(err) == "InvalidArgumentException"


def test_duplicate_names_bad_names_and_missing_streams(
    kinesis: Any, stream: Callable[..., dict[str, Any]], unique: Callable[[str], str]
) -> None:
    name = stream()["StreamName"]
    with pytest.raises(ClientError) as err:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    assert _code(err) == "ResourceInUseException"
    with pytest.raises(ClientError) as err:
        kinesis.create_stream(StreamName="bad name!", ShardCount=1)
    assert _code(err) == "ValidationException"
    missing = unique("missing")
    with pytest.raises(ClientError) as err:
        kinesis.describe_stream(StreamName=missing)
    assert _code(err) == "ResourceNotFoundException"
    assert err.value.response["Error"]["Message"] == (
        f"Stream {missing} under account 000000000000 not found."
    )


def test_stream_arn_and_name_address_the_same_stream(
    kinesis: Any, stream: Callable[..., dict[str, Any]]
) -> None:
    summary = stream()
    by_arn = kinesis.describe_stream_summary(StreamARN=summary["StreamARN"])
    assert by_arn["StreamDescriptionSummary"]["StreamName"] == summary["StreamName"]
    with pytest.raises(ClientError) as err:
        kinesis.describe_stream_summary(
            StreamARN=summary["StreamARN"], StreamName=summary["StreamName"] + "x"
        )
    assert _code(err) == "InvalidArgumentException"


def test_list_streams_pages_with_next_token_and_summaries(
    client: Callable[..., Any], unique: Callable[[str], str], settle: Callable[[], None]
) -> None:
    kinesis = client("kinesis", region="ap-south-1")
    names = sorted(unique("l") for _ in range(3))
    for name in names:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    settle()
    seen: list[str] = []
    page = kinesis.list_streams(Limit=2)
    while True:
        seen += page["StreamNames"]
        assert [s["StreamName"] for s in page["StreamSummaries"]] == page["StreamNames"]
        if not page["HasMoreStreams"]:
            assert "NextToken" not in page
            break
        page = kinesis.list_streams(NextToken=page["NextToken"], Limit=2)
    assert [n for n in seen if n in names] == names
    after = kinesis.list_streams(ExclusiveStartStreamName=names[0])["StreamNames"]
    assert names[0] not in after and names[1] in after
    paginated = kinesis.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 1})
    assert set(names) <= {n for p in paginated for n in p["StreamNames"]}
    for name in names:
        kinesis.delete_stream(StreamName=name)


def test_delete_goes_through_deleting_and_consumers_need_enforcement(
    kinesis: Any, stream: Callable[..., dict[str, Any]], settle: Callable[[], None]
) -> None:
    summary = stream()
    name = summary["StreamName"]
    kinesis.register_stream_consumer(StreamARN=summary["StreamARN"], ConsumerName="app")
    with pytest.raises(ClientError) as err:
        kinesis.delete_stream(StreamName=name)
    assert _code(err) == "ResourceInUseException"
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    status = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert status["StreamStatus"] == "DELETING"
    with pytest.raises(ClientError) as err:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    assert _code(err) == "ResourceInUseException"
    settle()
    with pytest.raises(ClientError) as err:
        kinesis.describe_stream(StreamName=name)
    assert _code(err) == "ResourceNotFoundException"
    assert name not in kinesis.list_streams(Limit=10000)["StreamNames"]
    kinesis.create_stream(StreamName=name, ShardCount=1)
    settle()
    fresh = kinesis.list_stream_consumers(StreamARN=summary["StreamARN"])
    assert fresh["Consumers"] == []


def test_retention_limits_and_directions(
    kinesis: Any, stream: Callable[..., dict[str, Any]]
) -> None:
    name = stream()["StreamName"]
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["RetentionPeriodHours"] == 48
    for call, hours in (
        (kinesis.increase_stream_retention_period, 24),
        (kinesis.decrease_stream_retention_period, 72),
        (kinesis.decrease_stream_retention_period, 12),
        (kinesis.increase_stream_retention_period, 9000),
    ):
        with pytest.raises(ClientError) as err:
            call(StreamName=name, RetentionPeriodHours=hours)
        assert _code(err) == "InvalidArgumentException"
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)


def test_update_stream_mode_goes_through_updating(
    kinesis: Any, stream: Callable[..., dict[str, Any]], settle: Callable[[], None]
) -> None:
    summary = stream(shards=3)
    arn = summary["StreamARN"]
    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    now = kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
    assert now["StreamStatus"] == "UPDATING"
    with pytest.raises(ClientError) as err:
        kinesis.update_shard_count(StreamARN=arn, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    assert _code(err) == "ResourceInUseException"
    settle()
    now = kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
    assert now["StreamStatus"] == "ACTIVE"
    assert now["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    with pytest.raises(ClientError) as err:
        kinesis.update_shard_count(StreamARN=arn, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    assert _code(err) == "ValidationException"


def test_tags_on_streams_and_through_resource_arns(
    kinesis: Any, stream: Callable[..., dict[str, Any]], unique: Callable[[str], str]
) -> None:
    summary = stream()
    name, arn = summary["StreamName"], summary["StreamARN"]
    kinesis.add_tags_to_stream(StreamName=name, Tags={"a": "1", "b": "2", "c": "3"})
    page = kinesis.list_tags_for_stream(StreamName=name, Limit=2)
    assert page["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert page["HasMoreTags"] is True
    rest = kinesis.list_tags_for_stream(StreamName=name, ExclusiveStartTagKey="b")
    assert rest["Tags"] == [{"Key": "c", "Value": "3"}] and rest["HasMoreTags"] is False
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["a"])
    kinesis.tag_resource(ResourceARN=arn, Tags={"d": "4"})
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["b"])
    tags = kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert tags == [{"Key": "c", "Value": "3"}, {"Key": "d", "Value": "4"}]
    with pytest.raises(ClientError) as err:
        kinesis.add_tags_to_stream(StreamName=name, Tags={f"k{i}": "v" for i in range(49)})
    assert _code(err) == "LimitExceededException"
    tagged = unique("t")
    kinesis.create_stream(StreamName=tagged, ShardCount=1, Tags={"team": "x"})
    assert kinesis.list_tags_for_stream(StreamName=tagged)["Tags"] == [
        {"Key": "team", "Value": "x"}
    ]


def test_encryption_with_a_kms_key(
    kinesis: Any,
    client: Callable[..., Any],
    stream: Callable[..., dict[str, Any]],
    settle: Callable[[], None],
) -> None:
    name = stream()["StreamName"]
    with pytest.raises(ClientError) as err:
        kinesis.start_stream_encryption(
            StreamName=name, EncryptionType="KMS", KeyId="alias/does-not-exist"
        )
    assert _code(err) == "KMSNotFoundException"
    key = client("kms").create_key()["KeyMetadata"]["KeyId"]
    kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=key)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "UPDATING"
    assert summary["EncryptionType"] == "KMS" and summary["KeyId"] == key
    settle()
    put = kinesis.put_record(StreamName=name, Data=b"secret", PartitionKey="p")
    assert put["EncryptionType"] == "KMS"
    kinesis.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=key)
    settle()
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["EncryptionType"] == "NONE" and "KeyId" not in summary
    kinesis.start_stream_encryption(
        StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis"
    )


def test_enhanced_monitoring(kinesis: Any, stream: Callable[..., dict[str, Any]]) -> None:
    name = stream()["StreamName"]
    out = kinesis.enable_enhanced_monitoring(
        StreamName=name, ShardLevelMetrics=["IncomingBytes", "OutgoingBytes"]
    )
    assert out["CurrentShardLevelMetrics"] == []
    assert out["DesiredShardLevelMetrics"] == ["IncomingBytes", "OutgoingBytes"]
    out = kinesis.disable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["IncomingBytes"])
    assert out["DesiredShardLevelMetrics"] == ["OutgoingBytes"]
    everything = kinesis.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["ALL"])
    assert len(everything["DesiredShardLevelMetrics"]) == 7
    desc = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert len(desc["EnhancedMonitoring"][0]["ShardLevelMetrics"]) == 7


def test_describe_limits_counts_open_shards(
    client: Callable[..., Any], unique: Callable[[str], str], settle: Callable[[], None]
) -> None:
    kinesis = client("kinesis", region="eu-north-1")
    before = kinesis.describe_limits()
    assert before["ShardLimit"] == 200 and before["OnDemandStreamCountLimit"] == 50
    name = unique("lim")
    kinesis.create_stream(StreamName=name, ShardCount=3)
    assert kinesis.describe_limits()["OpenShardCount"] == before["OpenShardCount"] + 3
    with pytest.raises(ClientError) as err:
        kinesis.create_stream(StreamName=unique("lim"), ShardCount=199)
    assert _code(err) == "LimitExceededException"
    settle()
    kinesis.delete_stream(StreamName=name)


def test_resource_policies(kinesis: Any, stream: Callable[..., dict[str, Any]]) -> None:
    arn = stream()["StreamARN"]
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                    "Action": "kinesis:GetRecords",
                    "Resource": arn,
                }
            ],
        }
    )
    kinesis.put_resource_policy(ResourceARN=arn, Policy=policy)
    assert json.loads(kinesis.get_resource_policy(ResourceARN=arn)["Policy"]) == json.loads(policy)
    kinesis.delete_resource_policy(ResourceARN=arn)
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    with pytest.raises(ClientError) as err:
        kinesis.put_resource_policy(ResourceARN=arn, Policy="not json")
    assert _code(err) == "InvalidArgumentException"
