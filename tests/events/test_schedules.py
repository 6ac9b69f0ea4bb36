"""Scheduled rules and EventBridge Scheduler schedules fired on the advanced clock."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from botocore.exceptions import ClientError

from nubes.services.events import schedules
from tests.events.conftest import Queue

pytestmark = pytest.mark.clock

ROLE = "arn:aws:iam::000000000000:role/scheduler"


def server_now(endpoint: str) -> float:
    reply = requests.post(f"{endpoint}/_nubes/clock", json={"advance": 0}, timeout=10)
    return float(reply.json()["now"])


# -- schedule expressions (pure) ----------------------------------------------------------------


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 10 * * ? *)", "2026-12-07T16:00:00", "2026-12-08T10:00:00+00:00"),
        ("cron(15 12 * * ? *)", "2026-12-07T12:14:00", "2026-12-07T12:15:00+00:00"),
        ("cron(0 18 ? * MON-FRI *)", "2026-12-05T19:00:00", "2026-12-07T18:00:00+00:00"),
        ("cron(0 8 1 * ? *)", "2026-12-07T00:00:00", "2027-01-01T08:00:00+00:00"),
        ("cron(0/15 * * * ? *)", "2026-12-07T16:07:00", "2026-12-07T16:15:00+00:00"),
        ("cron(0/10 * ? * MON-FRI *)", "2026-12-05T00:00:00", "2026-12-07T00:00:00+00:00"),
        ("cron(0/5 8-17 ? * MON-FRI *)", "2026-12-07T17:56:00", "2026-12-08T08:00:00+00:00"),
        ("cron(0 9 ? * 2#1 *)", "2026-12-08T00:00:00", "2027-01-04T09:00:00+00:00"),
        ("cron(0 9 L * ? *)", "2027-02-01T00:00:00", "2027-02-28T09:00:00+00:00"),
        ("cron(0 9 ? * 6L *)", "2026-12-01T00:00:00", "2026-12-25T09:00:00+00:00"),
        ("cron(0 9 15W * ? *)", "2026-11-01T00:00:00", "2026-11-16T09:00:00+00:00"),
        ("cron(0 0 1 1 ? 2025)", "2026-01-01T00:00:00", None),
    ],
)
def test_cron_next_fire_times(expression: str, after: str, expected: str | None) -> None:
    schedule = schedules.parse(expression)
    assert isinstance(schedule, schedules.Cron)
    assert iso(schedule.next_after(at(after))) == expected


def test_cron_in_a_time_zone_follows_daylight_saving() -> None:
    schedule = schedules.parse("cron(0 9 * * ? *)", "America/New_York")
    assert isinstance(schedule, schedules.Cron)
    winter = schedule.next_after(at("2026-12-07T00:00:00"))
    summer = schedule.next_after(at("2026-07-07T00:00:00"))
    assert iso(winter) == "2026-12-07T14:00:00+00:00"
    assert iso(summer) == "2026-07-07T13:00:00+00:00"
    # 02:30 does not happen on the spring-forward day (2027-03-14): skipped, as AWS does
    gap = schedules.parse("cron(30 2 * * ? *)", "America/New_York")
    assert isinstance(gap, schedules.Cron)
    assert iso(gap.next_after(at("2027-03-14T00:00:00"))) == "2027-03-15T06:30:00+00:00"
    # 01:30 happens twice on the fall-back day (2027-11-07): it runs once, the first time
    twice = schedules.parse("cron(30 1 * * ? *)", "America/New_York")
    assert isinstance(twice, schedules.Cron)
    first = twice.next_after(at("2027-11-07T00:00:00"))
    assert iso(first) == "2027-11-07T05:30:00+00:00"
    assert iso(twice.next_after(first or 0)) == "2027-11-08T06:30:00+00:00"


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(2 minute)",
        "rate(0 minutes)",
        "rate(5 weeks)",
        "cron(0 12 * * * *)",
        "cron(0 12 ? * ? *)",
        "cron(0 12 * *)",
        "cron(61 12 * * ? *)",
        "cron(0 25 * * ? *)",
        "cron(0 12 32 * ? *)",
        "cron(0 12 ? * 8 *)",
        "at(2026-12-07T00:00:00)",
        "every 5 minutes",
    ],
)
def test_refused_expressions(expression: str) -> None:
    with pytest.raises(schedules.ScheduleError):
        schedules.parse(expression)


# -- scheduled rules ------------------------------------------------------------------------


def test_rate_rule_fires_once_per_advanced_minute(
    events: Any,
    make_queue: Callable[..., Queue],
    rule_to: Callable[..., str],
    advance: Callable[[float], None],
) -> None:
    queue = make_queue()
    name = rule_to(queue.arn, schedule="rate(1 minute)")
    advance(60)
    first = queue.events()
    assert len(first) == 1
    assert first[0]["detail-type"] == "Scheduled Event"
    assert first[0]["source"] == "aws.events"
    assert first[0]["detail"] == {}
    assert first[0]["resources"] == [f"arn:aws:events:us-east-1:000000000000:rule/{name}"]
    advance(5 * 60)
    fired = queue.events()
    assert len(fired) == 5
    # one event per minute boundary, each stamped with its own time
    times = [datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ") for e in fired]
    assert sorted(times) == times
    assert {b - a for a, b in itertools.pairwise(times)} == {timedelta(minutes=1)}
    events.disable_rule(Name=name)
    advance(3 * 60)
    assert queue.events() == []
    events.enable_rule(Name=name)
    advance(2 * 60)
    assert len(queue.events()) == 2


def test_cron_rule_fires_at_its_times(
    events: Any,
    make_queue: Callable[..., Queue],
    rule_to: Callable[..., str],
    advance: Callable[[float], None],
    endpoint: str,
) -> None:
    queue = make_queue()
    rule_to(queue.arn, schedule="cron(0/10 * * * ? *)", Input='{"cron": true}')
    now = server_now(endpoint)
    # up to the next 10-minute boundary plus two more: three firings
    to_boundary = 600 - now % 600
    advance(to_boundary + 1200 + 1)
    assert queue.drain() == ['{"cron": true}'] * 3
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name="bad-schedule", ScheduleExpression="cron(0 12 * * * *)")
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert exc.value.response["Error"]["Message"] == "Parameter ScheduleExpression is not valid."


# -- EventBridge Scheduler ----------------------------------------------------------------------


@pytest.fixture
def scheduler(client: Callable[..., Any]) -> Iterator[Any]:
    made = client("scheduler")
    yield made
    for item in made.list_schedules()["Schedules"]:
        made.delete_schedule(Name=item["Name"], GroupName=item["GroupName"])


def schedule_args(target_arn: str, expression: str, **extra: Any) -> dict[str, Any]:
    target = {"Arn": target_arn, "RoleArn": ROLE, "Input": extra.pop("Input", '{"hello": 1}')}
    target.update(extra.pop("Target", {}))
    return {
        "ScheduleExpression": expression,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": target,
        **extra,
    }


def test_one_time_schedule_fires_once_and_deletes_itself(
    scheduler: Any,
    make_queue: Callable[..., Queue],
    advance: Callable[[float], None],
    endpoint: str,
    unique: Callable[[str], str],
) -> None:
    queue = make_queue()
    when = datetime.fromtimestamp(server_now(endpoint) + 3600, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    name = unique("once")
    arn = scheduler.create_schedule(
        Name=name,
        ActionAfterCompletion="DELETE",
        **schedule_args(
            queue.arn,
            f"at({when})",
            Input='{"arn": "<aws.scheduler.schedule-arn>", "at": "<aws.scheduler.scheduled-time>"}',
        ),
    )["ScheduleArn"]
    assert arn == f"arn:aws:scheduler:us-east-1:000000000000:schedule/default/{name}"
    got = scheduler.get_schedule(Name=name)
    assert got["ScheduleExpression"] == f"at({when})"
    assert got["State"] == "ENABLED"
    assert got["Target"]["Arn"] == queue.arn
    assert got["Target"]["RetryPolicy"] == {
        "MaximumEventAgeInSeconds": 86400,
        "MaximumRetryAttempts": 185,
    }
    advance(1800)
    assert queue.drain() == []
    advance(1800)
    assert [json.loads(b) for b in queue.drain()] == [{"arn": arn, "at": when + "Z"}]
    advance(3600)
    assert queue.drain() == []
    with pytest.raises(ClientError) as exc:
        scheduler.get_schedule(Name=name)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_rate_schedule_and_disabling(
    scheduler: Any,
    make_queue: Callable[..., Queue],
    advance: Callable[[float], None],
    unique: Callable[[str], str],
) -> None:
    queue = make_queue()
    name = unique("rate")
    args = schedule_args(queue.arn, "rate(5 minutes)")
    scheduler.create_schedule(Name=name, **args)
    advance(15 * 60)
    assert len(queue.drain()) == 3
    scheduler.update_schedule(Name=name, State="DISABLED", **args)
    advance(15 * 60)
    assert queue.drain() == []
    listed = scheduler.list_schedules(NamePrefix=name)["Schedules"]
    assert [(s["Name"], s["State"], s["Target"]["Arn"]) for s in listed] == [
        (name, "DISABLED", queue.arn)
    ]


def test_cron_schedule_in_a_time_zone(
    scheduler: Any,
    make_queue: Callable[..., Queue],
    advance: Callable[[float], None],
    endpoint: str,
    unique: Callable[[str], str],
) -> None:
    """A daily 09:30 in Tokyo (UTC+9, no daylight saving) fires at 00:30 UTC."""
    queue = make_queue()
    scheduler.create_schedule(
        Name=unique("tokyo"),
        ScheduleExpressionTimezone="Asia/Tokyo",
        **schedule_args(queue.arn, "cron(30 9 * * ? *)", Input='"<aws.scheduler.scheduled-time>"'),
    )
    now = datetime.fromtimestamp(server_now(endpoint), ZoneInfo("Asia/Tokyo"))
    next_fire = now.replace(hour=9, minute=30, second=0, microsecond=0)
    if next_fire <= now:
        next_fire += timedelta(days=1)
    advance(next_fire.timestamp() - now.timestamp() + 1)
    fired = [json.loads(b) for b in queue.drain()]
    expected = next_fire.astimezone(UTC)
    assert fired == [expected.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert expected.minute == 30 and expected.hour == 0
    advance(86400)
    assert len(queue.drain()) == 1


def test_schedule_with_start_and_end_dates(
    scheduler: Any,
    make_queue: Callable[..., Queue],
    advance: Callable[[float], None],
    endpoint: str,
    unique: Callable[[str], str],
) -> None:
    queue = make_queue()
    now = server_now(endpoint)
    scheduler.create_schedule(
        Name=unique("window"),
        StartDate=datetime.fromtimestamp(now + 600, UTC),
        EndDate=datetime.fromtimestamp(now + 600 + 3 * 60 + 30, UTC),
        **schedule_args(queue.arn, "rate(1 minute)"),
    )
    advance(600)
    assert queue.drain() == []
    advance(3600)
    assert len(queue.drain()) == 3


def test_flexible_window_fires_within_the_window(
    scheduler: Any,
    make_queue: Callable[..., Queue],
    advance: Callable[[float], None],
    unique: Callable[[str], str],
) -> None:
    queue = make_queue()
    args = schedule_args(queue.arn, "rate(1 hour)")
    args["FlexibleTimeWindow"] = {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
    scheduler.create_schedule(Name=unique("flex"), **args)
    advance(3600 + 15 * 60)
    assert len(queue.drain()) == 1


def test_groups_fifo_and_eventbridge_targets(
    scheduler: Any,
    events: Any,
    make_queue: Callable[..., Queue],
    rule_to: Callable[..., str],
    advance: Callable[[float], None],
    unique: Callable[[str], str],
) -> None:
    group = unique("grp")
    group_arn = scheduler.create_schedule_group(Name=group, Tags=[{"Key": "team", "Value": "a"}])[
        "ScheduleGroupArn"
    ]
    assert scheduler.get_schedule_group(Name=group)["State"] == "ACTIVE"
    assert scheduler.list_tags_for_resource(ResourceArn=group_arn)["Tags"] == [
        {"Key": "team", "Value": "a"}
    ]
    with pytest.raises(ClientError) as exc:
        scheduler.create_schedule_group(Name=group)
    assert exc.value.response["Error"]["Code"] == "ConflictException"
    fifo = make_queue(fifo=True)
    scheduler.create_schedule(
        Name="fifo",
        GroupName=group,
        **schedule_args(
            fifo.arn, "rate(1 minute)", Target={"SqsParameters": {"MessageGroupId": "g"}}
        ),
    )
    # the EventBridge PutEvents template: Input becomes the detail of an event on the bus
    bus_queue = make_queue()
    source = unique("from.scheduler")
    rule_to(bus_queue.arn, pattern={"source": [source]})
    scheduler.create_schedule(
        Name="putevents",
        GroupName=group,
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:events:us-east-1:000000000000:event-bus/default",
            "RoleArn": ROLE,
            "Input": '{"from": "scheduler"}',
            "EventBridgeParameters": {"DetailType": "Tick", "Source": source},
        },
    )
    advance(60)
    assert len(fifo.drain()) == 1
    (event,) = bus_queue.events()
    assert event["detail-type"] == "Tick"
    assert event["detail"] == {"from": "scheduler"}
    scheduler.delete_schedule_group(Name=group)
    with pytest.raises(ClientError) as exc:
        scheduler.get_schedule(Name="fifo", GroupName=group)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_universal_target_calls_the_service(
    scheduler: Any,
    make_queue: Callable[..., Queue],
    advance: Callable[[float], None],
    unique: Callable[[str], str],
) -> None:
    queue = make_queue()
    scheduler.create_schedule(
        Name=unique("sdk"),
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:scheduler:::aws-sdk:sqs:sendMessage",
            "RoleArn": ROLE,
            "Input": json.dumps({"QueueUrl": queue.url, "MessageBody": "via sdk"}),
        },
    )
    advance(60)
    assert queue.drain() == ["via sdk"]


def test_dead_letter_queue_for_a_missing_target(
    scheduler: Any,
    make_queue: Callable[..., Queue],
    advance: Callable[[float], None],
    unique: Callable[[str], str],
) -> None:
    dlq = make_queue()
    name = unique("dead")
    missing = "arn:aws:sqs:us-east-1:000000000000:" + unique("gone")
    scheduler.create_schedule(
        Name=name,
        **schedule_args(missing, "rate(1 minute)", Target={"DeadLetterConfig": {"Arn": dlq.arn}}),
    )
    advance(60)
    (message,) = dlq.drain(attributes=True)
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["SCHEDULE_ARN"].endswith(f":schedule/default/{name}")
    assert attributes["TARGET_ARN"] == missing
    assert attributes["ERROR_CODE"] == "QueueDoesNotExist"
    assert message["Body"] == '{"hello": 1}'


def test_schedule_validation(
    scheduler: Any, make_queue: Callable[..., Queue], unique: Callable[[str], str]
) -> None:
    queue = make_queue()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ScheduleExpression": "rate(1 minutes)"}, "Invalid Schedule Expression"),
        ({"ScheduleExpression": "cron(0 9 * * ? *)", "ScheduleExpressionTimezone": "Mars/Base"},
         "time zone"),
        ({"FlexibleTimeWindow": {"Mode": "FLEXIBLE"}}, "MaximumWindowInMinutes"),
    ]  # fmt: skip
    for override, message in cases:
        args = {**schedule_args(queue.arn, "rate(1 hour)"), **override}
        with pytest.raises(ClientError) as exc:
            scheduler.create_schedule(Name=unique("bad"), **args)
        assert exc.value.response["Error"]["Code"] == "ValidationException"
        assert message in exc.value.response["Error"]["Message"]
    name = unique("dup")
    made = scheduler.create_schedule(
        Name=name, ClientToken="token-1", **schedule_args(queue.arn, "rate(1 hour)")
    )
    # a retry of the same request (same client token) gets the same answer
    again = scheduler.create_schedule(
        Name=name, ClientToken="token-1", **schedule_args(queue.arn, "rate(1 hour)")
    )
    assert again["ScheduleArn"] == made["ScheduleArn"]
    assert "ClientToken" not in scheduler.get_schedule(Name=name)
    with pytest.raises(ClientError) as exc:
        scheduler.create_schedule(Name=name, **schedule_args(queue.arn, "rate(1 hour)"))
    assert exc.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as exc:
        scheduler.create_schedule(
            Name=unique("nogroup"),
            GroupName=unique("nogroup"),
            **schedule_args(queue.arn, "rate(1 hour)"),
        )
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_one_time_schedules_ignore_start_and_end_dates(
    scheduler: Any,
    make_queue: Callable[..., Queue],
    advance: Callable[[float], None],
    endpoint: str,
    unique: Callable[[str], str],
) -> None:
    queue = make_queue()
    now = server_now(endpoint)
    when = datetime.fromtimestamp(now + 3600, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    scheduler.create_schedule(
        Name=unique("once-dated"),
        StartDate=datetime.fromtimestamp(now + 7200, UTC),
        EndDate=datetime.fromtimestamp(now + 7300, UTC),
        **schedule_args(queue.arn, f"at({when})"),
    )
    advance(3601)
    assert queue.drain() == ['{"hello": 1}']


def test_sns_target_template(
    scheduler: Any,
    client: Callable[..., Any],
    make_queue: Callable[..., Queue],
    advance: Callable[[float], None],
    unique: Callable[[str], str],
) -> None:
    sns = client("sns")
    topic = sns.create_topic(Name=unique("sched-topic"))["TopicArn"]
    queue = make_queue()
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue.arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    scheduler.create_schedule(
        Name=unique("to-sns"),
        **schedule_args(topic, "rate(2 minutes)", Input='"<aws.scheduler.execution-id>"'),
    )
    advance(4 * 60)
    ids = [json.loads(body) for body in queue.drain()]
    assert len(ids) == 2 and len(set(ids)) == 2
