"""AWS service events on the default bus: S3 object events for buckets with EventBridge
notifications on, CloudWatch alarm state changes; and the events hub itself."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nubes.core.events import Event, Events
from nubes.services import PROVIDERS
from tests.events.conftest import Queue


def test_s3_object_created_and_deleted_reach_a_rule(
    client: Callable[..., Any],
    make_queue: Callable[..., Queue],
    rule_to: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    s3 = client("s3")
    bucket = unique("ebbucket")
    s3.create_bucket(Bucket=bucket)
    queue = make_queue()
    rule_to(queue.arn, pattern={"source": ["aws.s3"], "detail": {"bucket": {"name": [bucket]}}})
    s3.put_object(Bucket=bucket, Key="before.txt", Body=b"x")
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["EventBridgeConfiguration"] == {}
    etag = s3.put_object(Bucket=bucket, Key="dir/a b.txt", Body=b"hello")["ETag"]
    s3.copy_object(
        Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "dir/a b.txt"}
    )
    s3.delete_object(Bucket=bucket, Key="dir/a b.txt")
    received = queue.events()
    assert [
        (e["detail-type"], e["detail"]["object"]["key"], e["detail"]["reason"]) for e in received
    ] == [
        ("Object Created", "dir/a b.txt", "PutObject"),
        ("Object Created", "copy.txt", "CopyObject"),
        ("Object Deleted", "dir/a b.txt", "DeleteObject"),
    ]
    created = received[0]
    assert created["source"] == "aws.s3"
    assert created["resources"] == [f"arn:aws:s3:::{bucket}"]
    assert created["account"] == "000000000000"
    detail = created["detail"]
    assert detail["version"] == "0"
    assert detail["bucket"] == {"name": bucket}
    assert detail["object"]["size"] == 5
    assert detail["object"]["etag"] == etag.strip('"')
    assert "sequencer" in detail["object"]
    assert detail["requester"] == "000000000000"
    assert set(detail) >= {"request-id", "source-ip-address"}
    assert received[2]["detail"]["deletion-type"] == "Permanently Deleted"
    # with notifications off again nothing more arrives
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    s3.put_object(Bucket=bucket, Key="after.txt", Body=b"x")
    assert queue.events() == []


def test_s3_delete_marker_on_a_versioned_bucket(
    client: Callable[..., Any],
    make_queue: Callable[..., Queue],
    rule_to: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    s3 = client("s3")
    bucket = unique("ebversioned")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    queue = make_queue()
    rule_to(
        queue.arn,
        pattern={
            "source": ["aws.s3"],
            "detail-type": ["Object Deleted"],
            "resources": [f"arn:aws:s3:::{bucket}"],
        },
    )
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version)
    deleted = queue.events()
    assert [
        (e["detail"]["deletion-type"], e["detail"]["object"]["version-id"]) for e in deleted
    ] == [
        ("Delete Marker Created", marker),
        ("Permanently Deleted", version),
    ]


cloudwatch_missing = pytest.mark.skipif(
    "cloudwatch" not in PROVIDERS, reason="CloudWatch is not registered in this tree yet"
)


@cloudwatch_missing
def test_alarm_state_change_delivers_to_sqs(
    client: Callable[..., Any],
    make_queue: Callable[..., Queue],
    rule_to: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    cloudwatch = client("cloudwatch")
    name = unique("alarm")
    queue = make_queue()
    rule_to(
        queue.arn,
        pattern={
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": [name], "state": {"value": ["ALARM"]}},
        },
    )
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="Test/EventBridge",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing")
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="back")
    (event,) = queue.events()
    assert event["source"] == "aws.cloudwatch"
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["resources"] == [f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{name}"]
    assert event["detail"]["alarmName"] == name
    assert event["detail"]["state"]["value"] == "ALARM"
    assert event["detail"]["state"]["reason"] == "testing"


@cloudwatch_missing
@pytest.mark.clock
def test_real_alarm_on_a_metric_delivers_to_sqs(
    client: Callable[..., Any],
    make_queue: Callable[..., Queue],
    rule_to: Callable[..., str],
    advance: Callable[[float], None],
    unique: Callable[[str], str],
) -> None:
    cloudwatch = client("cloudwatch")
    name = unique("metricalarm")
    namespace = unique("Test/EB")
    queue = make_queue()
    rule_to(
        queue.arn,
        pattern={"source": ["aws.cloudwatch"], "resources": [{"suffix": f":alarm:{name}"}]},
        InputTransformer={
            "InputPathsMap": {"alarm": "$.detail.alarmName", "state": "$.detail.state.value"},
            "InputTemplate": '"<alarm> is now <state>"',
        },
    )
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=namespace,
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    cloudwatch.put_metric_data(
        Namespace=namespace, MetricData=[{"MetricName": "Errors", "Value": 10, "Unit": "Count"}]
    )
    advance(120)
    states = [json.loads(body) for body in queue.drain()]
    assert f"{name} is now ALARM" in states


# -- the hub ------------------------------------------------------------------------------------


class _Sink:
    def __init__(self) -> None:
        self.got: list[Event] = []

    def deliver_service_event(self, event: Event) -> None:
        self.got.append(event)


def _event(n: int) -> Event:
    return Event("000000000000", "us-east-1", "aws.test", "Test", {"n": n}, time=time.time())


def test_hub_loads_its_sink_on_the_first_event() -> None:
    sink = _Sink()
    hub: Events

    def load() -> _Sink:
        hub.attach(sink)
        return sink

    hub = Events(load)
    hub.emit(_event(1))
    hub.emit(_event(2))
    assert [e.detail["n"] for e in sink.got] == [1, 2]


def test_hub_drops_events_nothing_could_take() -> None:
    """Before EventBridge is used no rule exists: such events go nowhere, and are not kept
    for rules made later."""
    sink = _Sink()
    used = False
    hub: Events

    def load() -> _Sink | None:
        if not used:
            return None
        hub.attach(sink)
        return sink

    hub = Events(load)
    hub.emit(_event(1))
    used = True
    hub.emit(_event(2))
    assert [e.detail["n"] for e in sink.got] == [2]


def test_hub_buffers_while_no_sink_loads() -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("no provider")

    hub = Events(broken)
    hub.emit(_event(1))
    hub.emit(_event(2))
    sink = _Sink()
    hub.attach(sink)
    assert [e.detail["n"] for e in sink.got] == [1, 2]
    assert calls == [1, 1]


@cloudwatch_missing
def test_rule_metrics_reach_cloudwatch(
    client: Callable[..., Any],
    make_queue: Callable[..., Queue],
    rule_to: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    events = client("events")
    cloudwatch = client("cloudwatch")
    source = unique("metered")
    name = rule_to(make_queue().arn, pattern={"source": [source]})
    dead = rule_to(
        "arn:aws:sqs:us-east-1:000000000000:" + unique("nowhere"), pattern={"source": [source]}
    )
    for _ in range(3):
        events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}"}])

    def total(metric: str, rule: str) -> float:
        now = datetime.now(UTC)
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Events",
            MetricName=metric,
            Dimensions=[{"Name": "RuleName", "Value": rule}],
            StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=10),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(p["Sum"] for p in points)

    assert total("TriggeredRules", name) == 3
    assert total("Invocations", name) == 3
    assert total("FailedInvocations", name) == 0
    assert total("FailedInvocations", dead) == 3
