"""Other services feeding Firehose: CloudWatch Logs subscription filters."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.firehose.conftest import ROLE

pytestmark = pytest.mark.clock


def _documents(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """The JSON documents of every object: each record is a gzip member, and concatenated
    members decompress as one stream."""
    documents = []
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        raw = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        text = gzip.decompress(raw).decode()
        decoder = json.JSONDecoder()
        at = 0
        while at < len(text):
            doc, at = decoder.raw_decode(text, at)
            documents.append(doc)
    return documents


def test_logs_subscription_filter_to_firehose(
    firehose: Any,
    s3: Any,
    bucket: str,
    hose: Callable[..., str],
    client: Callable[..., Any],
    unique: Callable[[str], str],
    advance: Callable[[float], None],
    endpoint: str,
) -> None:
    name = hose(BufferingHints={"IntervalInSeconds": 0})
    arn = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
        "DeliveryStreamARN"
    ]
    logs = client("logs")
    group = unique("/app/group")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    logs.put_subscription_filter(
        logGroupName=group,
        filterName="all",
        filterPattern="",
        destinationArn=arn,
        roleArn=ROLE,
    )
    now = requests.get(f"{endpoint}/_nubes/clock", timeout=10).json()["now"]
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[{"timestamp": int(now * 1000), "message": "hello firehose"}],
    )
    advance(1)
    documents: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while not any(d["messageType"] == "DATA_MESSAGE" for d in documents):
        assert time.monotonic() < deadline, documents
        documents = _documents(s3, bucket)
    types = [d["messageType"] for d in documents]
    assert "CONTROL_MESSAGE" in types
    [data] = [d for d in documents if d["messageType"] == "DATA_MESSAGE"]
    assert data["logGroup"] == group
    assert [e["message"] for e in data["logEvents"]] == ["hello firehose"]


def test_logs_messages_extracted_by_processors(
    firehose: Any,
    s3: Any,
    bucket: str,
    hose: Callable[..., str],
    client: Callable[..., Any],
    unique: Callable[[str], str],
    advance: Callable[[float], None],
    endpoint: str,
) -> None:
    name = hose(
        BufferingHints={"IntervalInSeconds": 0},
        ProcessingConfiguration={
            "Enabled": True,
            "Processors": [
                {"Type": "Decompression"},
                {
                    "Type": "CloudWatchLogProcessing",
                    "Parameters": [
                        {"ParameterName": "DataMessageExtraction", "ParameterValue": "true"}
                    ],
                },
                {"Type": "AppendDelimiterToRecord"},
            ],
        },
    )
    arn = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
        "DeliveryStreamARN"
    ]
    logs = client("logs")
    group = unique("/app/group")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    logs.put_subscription_filter(
        logGroupName=group,
        filterName="all",
        filterPattern="",
        destinationArn=arn,
        roleArn=ROLE,
    )
    now = requests.get(f"{endpoint}/_nubes/clock", timeout=10).json()["now"]
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[{"timestamp": int(now * 1000), "message": "hello firehose"}],
    )
    advance(1)
    deadline = time.monotonic() + 20
    while True:
        found = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        bodies = [s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in found]
        if any(bodies) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert b"".join(bodies) == b"hello firehose\n"


def test_eventbridge_rule_targets_firehose(
    firehose: Any,
    s3: Any,
    bucket: str,
    hose: Callable[..., str],
    client: Callable[..., Any],
    unique: Callable[[str], str],
    advance: Callable[[float], None],
) -> None:
    name = hose(BufferingHints={"IntervalInSeconds": 0})
    arn = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
        "DeliveryStreamARN"
    ]
    events = client("events")
    rule = unique("to-firehose")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [rule]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "hose", "Arn": arn, "RoleArn": ROLE}])
    events.put_events(Entries=[{"Source": rule, "DetailType": "t", "Detail": '{"n": 1}'}])
    deadline = time.monotonic() + 20
    while True:
        advance(1)
        found = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    [obj] = found
    event = json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    assert event["source"] == rule
    assert event["detail"] == {"n": 1}


def test_logs_delivery_destination_takes_a_delivery_stream(
    firehose: Any,
    hose: Callable[..., str],
    client: Callable[..., Any],
    unique: Callable[[str], str],
) -> None:
    name = hose()
    arn = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
        "DeliveryStreamARN"
    ]
    logs = client("logs")
    made = logs.put_delivery_destination(
        name=unique("to-hose"),
        deliveryDestinationConfiguration={"destinationResourceArn": arn},
    )["deliveryDestination"]
    assert made["deliveryDestinationType"] == "FH"
    assert made["deliveryDestinationConfiguration"]["destinationResourceArn"] == arn


def test_sns_subscription_delivers_to_firehose(
    firehose: Any,
    s3: Any,
    bucket: str,
    hose: Callable[..., str],
    client: Callable[..., Any],
    unique: Callable[[str], str],
    advance: Callable[[float], None],
) -> None:
    name = hose(BufferingHints={"IntervalInSeconds": 0})
    arn = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
        "DeliveryStreamARN"
    ]
    sns = client("sns")
    topic = sns.create_topic(Name=unique("to-hose"))["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="firehose",
        Endpoint=arn,
        Attributes={"SubscriptionRoleArn": ROLE, "RawMessageDelivery": "true"},
    )
    sns.publish(TopicArn=topic, Message="to the hose")
    advance(1)
    deadline = time.monotonic() + 20
    while True:
        found = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    [obj] = found
    assert s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read() == b"to the hose"
