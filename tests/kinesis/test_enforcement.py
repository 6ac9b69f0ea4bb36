"""Under IAM enforcement Kinesis calls are authorized against the stream (or consumer) they act
on, a GetRecords against the stream of its iterator, and a stream's resource policy lets another
account in."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import NubesProcess

OWNER, OTHER = "111111111111", "222222222222"


@pytest.fixture(scope="module")
def server() -> Iterator[NubesProcess]:
    process = NubesProcess(env={"NUBES_ENFORCE_IAM": "1"}).start()
    yield process
    process.stop()


def _as(server: NubesProcess, key: str, secret: str = "test") -> Any:
    return server.client("kinesis", aws_access_key_id=key, aws_secret_access_key=secret)


def _active(kinesis: Any, name: str) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=1)
    for _ in range(100):
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return str(summary["StreamARN"])
        time.sleep(0.1)
    raise AssertionError("not active")


def _denied(call: Any, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"


def test_identity_policies_name_streams(server: NubesProcess) -> None:
    owner = _as(server, OWNER)
    allowed, other = _active(owner, "allowed"), _active(owner, "other")
    iam = server.client("iam", aws_access_key_id=OWNER, aws_secret_access_key="test")
    iam.create_user(UserName="producer")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["kinesis:PutRecord", "kinesis:GetShardIterator", "kinesis:GetRecords"],
                "Resource": allowed,
            },
            {"Effect": "Allow", "Action": "kinesis:ListStreams", "Resource": "*"},
        ],
    }
    iam.put_user_policy(UserName="producer", PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="producer")["AccessKey"]
    user = _as(server, key["AccessKeyId"], key["SecretAccessKey"])
    user.put_record(StreamName="allowed", Data=b"x", PartitionKey="k")
    iterator = user.get_shard_iterator(
        StreamARN=allowed, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert [r["Data"] for r in user.get_records(ShardIterator=iterator)["Records"]] == [b"x"]
    assert "allowed" in user.list_streams()["StreamNames"]
    _denied(user.put_record, StreamName="other", Data=b"x", PartitionKey="k")
    _denied(user.describe_stream_summary, StreamARN=allowed)
    foreign = owner.get_shard_iterator(
        StreamARN=other, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    _denied(user.get_records, ShardIterator=foreign)


def test_resource_policy_lets_another_account_write(server: NubesProcess) -> None:
    owner, outsider = _as(server, OWNER), _as(server, OTHER)
    arn = _active(owner, "shared")
    _denied(outsider.put_record, StreamARN=arn, Data=b"x", PartitionKey="k")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                "Action": "kinesis:PutRecord",
                "Resource": arn,
            }
        ],
    }
    owner.put_resource_policy(ResourceARN=arn, Policy=json.dumps(policy))
    outsider.put_record(StreamARN=arn, Data=b"x", PartitionKey="k")
    _denied(outsider.describe_stream_summary, StreamARN=arn)
