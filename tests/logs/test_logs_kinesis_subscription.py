"""Subscription filters with a Kinesis stream destination, as the user guide's "Subscription
filters with Kinesis Data Streams" describes them: a role ARN is required, CloudWatch Logs puts
a CONTROL_MESSAGE on the stream when the filter is made (and refuses a stream it cannot write
to), then one gzip'd DATA_MESSAGE record per batch of matching events."""

from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"
ROLE = "arn:aws:iam::{account}:role/CWLtoKinesisRole"


@pytest.fixture
def account() -> str:
    return f"{random.randrange(10**11, 10**12)}"


@pytest.fixture
def logs(client: Callable[..., Any], account: str) -> Any:
    return client("logs", aws_access_key_id=account)


@pytest.fixture
def kinesis(client: Callable[..., Any], account: str) -> Any:
    return client("kinesis", aws_access_key_id=account)


def active_stream(kinesis: Any, name: str) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=1)
    deadline = time.monotonic() + 60
    while True:
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE" or time.monotonic() > deadline:
            return str(summary["StreamARN"])
        time.sleep(0.2)


def records(kinesis: Any, stream_arn: str) -> list[dict[str, Any]]:
    shard = kinesis.list_shards(StreamARN=stream_arn)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamARN=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    found = kinesis.get_records(StreamARN=stream_arn, ShardIterator=iterator)["Records"]
    return [json.loads(gzip.decompress(r["Data"])) for r in found]


def test_kinesis_destination_gets_control_then_data_messages(
    logs: Any, kinesis: Any, account: str, unique: Callable[[str], str]
) -> None:
    stream_arn = active_stream(kinesis, unique("logs-sink"))
    group = "/app/" + unique("g")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="web-1")
    logs.put_subscription_filter(
        logGroupName=group,
        filterName="errors",
        filterPattern="ERROR",
        destinationArn=stream_arn,
        roleArn=ROLE.format(account=account),
    )
    found = logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"][0]
    assert found["destinationArn"] == stream_arn
    assert found["roleArn"] == ROLE.format(account=account)
    assert found["distribution"] == "ByLogStream"
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="web-1",
        logEvents=[
            {"timestamp": now, "message": "ERROR one"},
            {"timestamp": now + 1, "message": "INFO skipped"},
            {"timestamp": now + 2, "message": "ERROR two"},
        ],
    )
    control, data = records(kinesis, stream_arn)
    assert control["messageType"] == "CONTROL_MESSAGE"
    assert control["owner"] == "CloudwatchLogs"
    assert control["logEvents"][0]["message"] == (
        "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."
    )
    assert data["messageType"] == "DATA_MESSAGE"
    assert data["owner"] == account
    assert data["logGroup"] == group
    assert data["logStream"] == "web-1"
    assert data["subscriptionFilters"] == ["errors"]
    assert [(e["timestamp"], e["message"]) for e in data["logEvents"]] == [
        (now, "ERROR one"),
        (now + 2, "ERROR two"),
    ]
    assert all(len(e["id"]) == 56 and e["id"].isdigit() for e in data["logEvents"])


def test_kinesis_destination_needs_a_role_and_a_writable_stream(
    logs: Any, account: str, unique: Callable[[str], str]
) -> None:
    group = unique("g")
    logs.create_log_group(logGroupName=group)
    missing = f"arn:aws:kinesis:{REGION}:{account}:stream/{unique('missing')}"
    with pytest.raises(ClientError) as exc:
        logs.put_subscription_filter(
            logGroupName=group, filterName="f", filterPattern="", destinationArn=missing
        )
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.put_subscription_filter(
            logGroupName=group,
            filterName="f",
            filterPattern="",
            destinationArn=missing,
            roleArn=ROLE.format(account=account),
        )
    err = exc.value.response["Error"]
    assert err["Code"] == "InvalidParameterException"
    assert err["Message"] == (
        "Could not deliver test message to specified Kinesis stream. Check if the given kinesis "
        "stream is in ACTIVE state."
    )
    # A Firehose stream that does not exist is refused.
    with pytest.raises(ClientError) as exc:
        logs.put_subscription_filter(
            logGroupName=group,
            filterName="f",
            filterPattern="",
            destinationArn=f"arn:aws:firehose:{REGION}:{account}:deliverystream/s",
            roleArn=ROLE.format(account=account),
        )
    assert exc.value.response["Error"]["Message"].startswith(
        "Could not deliver test message to specified Firehose stream."
    )
    # Only Lambda, Kinesis, Firehose and Logs destinations can receive subscriptions.
    with pytest.raises(ClientError) as exc:
        logs.put_subscription_filter(
            logGroupName=group,
            filterName="f",
            filterPattern="",
            destinationArn=f"arn:aws:sqs:{REGION}:{account}:queue",
        )
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    assert logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"] == []


def test_cross_account_destination_forwards_to_its_stream(
    client: Callable[..., Any], logs: Any, kinesis: Any, account: str, unique: Callable[[str], str]
) -> None:
    stream_arn = active_stream(kinesis, unique("central"))
    destination = logs.put_destination(
        destinationName=unique("dest"),
        targetArn=stream_arn,
        roleArn=ROLE.format(account=account),
    )["destination"]
    sender = client("logs", aws_access_key_id=f"{random.randrange(10**11, 10**12)}")
    group = unique("g")
    sender.create_log_group(logGroupName=group)
    sender.create_log_stream(logGroupName=group, logStreamName="s")
    sender.put_subscription_filter(
        logGroupName=group, filterName="all", filterPattern="", destinationArn=destination["arn"]
    )
    sender.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "hello"}],
    )
    (data,) = records(kinesis, stream_arn)
    assert data["logGroup"] == group
    assert data["logEvents"][0]["message"] == "hello"
    with pytest.raises(ClientError) as exc:
        sender.put_subscription_filter(
            logGroupName=group,
            filterName="gone",
            filterPattern="",
            destinationArn=f"arn:aws:logs:{REGION}:{account}:destination:{unique('missing')}",
        )
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
