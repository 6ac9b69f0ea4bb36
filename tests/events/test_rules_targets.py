"""Event buses, rules, targets and PutEvents against a live server."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.events.conftest import Queue


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def put(
    events: Any, source: str, detail: dict[str, Any], bus: str = "default", **extra: Any
) -> str:
    out = events.put_events(
        Entries=[
            {
                "Source": source,
                "DetailType": "test",
                "Detail": json.dumps(detail),
                "EventBusName": bus,
                **extra,
            }
        ]
    )
    assert out["FailedEntryCount"] == 0, out
    return str(out["Entries"][0]["EventId"])


def test_rule_delivers_matching_events_to_sqs_in_aws_shape(
    events: Any, make_queue: Callable[..., Queue], rule_to: Callable[..., str], unique: Any
) -> None:
    queue = make_queue()
    source = unique("my.app")
    rule_to(queue.arn, pattern={"source": [source], "detail": {"n": [{"numeric": [">", 1]}]}})
    event_id = put(events, source, {"n": 2}, Resources=["arn:aws:s3:::b"])
    put(events, source, {"n": 1})
    put(events, unique("other"), {"n": 5})
    got = queue.events()
    assert len(got) == 1
    event = got[0]
    assert list(event) == [
        "version", "id", "detail-type", "source", "account", "time", "region", "resources",
        "detail",
    ]  # fmt: skip
    assert event["id"] == event_id
    assert event["source"] == source
    assert event["account"] == "000000000000"
    assert event["region"] == "us-east-1"
    assert event["resources"] == ["arn:aws:s3:::b"]
    assert event["detail"] == {"n": 2}


def test_rule_crud_listing_and_states(
    events: Any, make_queue: Callable[..., Queue], rule_to: Callable[..., str], unique: Any
) -> None:
    queue = make_queue()
    source = unique("crud")
    name = rule_to(queue.arn, pattern={"source": [source]})
    described = events.describe_rule(Name=name)
    assert described["Arn"] == f"arn:aws:events:us-east-1:000000000000:rule/{name}"
    assert described["State"] == "ENABLED"
    assert described["EventBusName"] == "default"
    assert json.loads(described["EventPattern"]) == {"source": [source]}
    assert [r["Name"] for r in events.list_rules(NamePrefix=name)["Rules"]] == [name]
    assert events.list_rule_names_by_target(TargetArn=queue.arn)["RuleNames"] == [name]
    targets = events.list_targets_by_rule(Rule=name)["Targets"]
    assert targets == [{"Id": "t1", "Arn": queue.arn}]

    events.disable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "DISABLED"
    put(events, source, {})
    assert queue.events() == []
    events.enable_rule(Name=name)
    put(events, source, {})
    assert len(queue.events()) == 1

    with pytest.raises(ClientError) as exc:
        events.delete_rule(Name=name)
    assert code_of(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        events.describe_rule(Name=unique("nope"))
    assert code_of(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name=unique("empty"))
    assert code_of(exc) == "ValidationException"


def test_rule_listing_pages(events: Any, rules: list[tuple[str, str]], unique: Any) -> None:
    prefix = unique("page")
    for i in range(5):
        events.put_rule(Name=f"{prefix}-{i}", EventPattern='{"source": ["x"]}')
        rules.append((f"{prefix}-{i}", "default"))
    seen: list[str] = []
    token = None
    while True:
        page = events.list_rules(
            NamePrefix=prefix, Limit=2, **({"NextToken": token} if token else {})
        )
        assert len(page["Rules"]) <= 2
        seen += [r["Name"] for r in page["Rules"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [f"{prefix}-{i}" for i in range(5)]


def test_put_events_entry_errors_and_limits(events: Any, unique: Any) -> None:
    out = events.put_events(
        Entries=[
            {"Source": "a", "DetailType": "b", "Detail": "{}"},
            {"DetailType": "b", "Detail": "{}"},
            {"Source": "a", "Detail": "{}"},
            {"Source": "a", "DetailType": "b"},
            {"Source": "a", "DetailType": "b", "Detail": "[1, 2]"},
            {"Source": "aws.ec2", "DetailType": "b", "Detail": "{}"},
            {"Source": "a", "DetailType": "b", "Detail": "{}", "EventBusName": unique("nobus")},
        ]
    )
    assert out["FailedEntryCount"] == 5
    entries = out["Entries"]
    assert "EventId" in entries[0]
    assert entries[1] == {
        "ErrorCode": "InvalidArgument",
        "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument.",
    }
    assert entries[2]["ErrorMessage"].startswith("Parameter DetailType is not valid.")
    assert entries[3]["ErrorMessage"].startswith("Parameter Detail is not valid.")
    assert entries[4]["ErrorMessage"] == "Detail is malformed."
    assert entries[5]["ErrorCode"] == "NotAuthorizedForSourceException"
    # AWS takes an event for a bus that does not exist without a word, and drops it
    assert "EventId" in entries[6] and "ErrorCode" not in entries[6]

    with pytest.raises(ClientError) as exc:
        events.put_events(Entries=[{"Source": "a", "DetailType": "b", "Detail": "{}"}] * 11)
    assert code_of(exc) == "ValidationException"
    big = json.dumps({"x": "y" * 200_000})
    with pytest.raises(ClientError) as exc:
        events.put_events(Entries=[{"Source": "a", "DetailType": "b", "Detail": big}] * 2)
    assert code_of(exc) == "ValidationException"
    assert "over the limit" in exc.value.response["Error"]["Message"]


def test_target_limits_and_validation(
    events: Any, rules: list[tuple[str, str]], make_queue: Callable[..., Queue], unique: Any
) -> None:
    name = unique("limits")
    events.put_rule(Name=name, EventPattern='{"source": ["x"]}')
    rules.append((name, "default"))
    queue = make_queue()
    targets = [{"Id": f"t{i}", "Arn": queue.arn} for i in range(6)]
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule=name, Targets=targets)
    assert code_of(exc) == "LimitExceededException"
    fifo = make_queue(fifo=True)
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule=name, Targets=[{"Id": "f", "Arn": fifo.arn}])
    assert code_of(exc) == "ValidationException"
    assert "SqsParameters" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        events.put_targets(
            Rule=name, Targets=[{"Id": "x", "Arn": queue.arn, "Input": "{}", "InputPath": "$"}]
        )
    assert code_of(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule=unique("missing"), Targets=[{"Id": "x", "Arn": queue.arn}])
    assert code_of(exc) == "ResourceNotFoundException"


def test_fifo_queue_target_with_message_group(
    events: Any, make_queue: Callable[..., Queue], rule_to: Callable[..., str], unique: Any
) -> None:
    fifo = make_queue(fifo=True)
    source = unique("fifo")
    rule_to(fifo.arn, pattern={"source": [source]}, SqsParameters={"MessageGroupId": "g1"})
    ids = [put(events, source, {"i": i}) for i in range(3)]
    messages = fifo.drain(attributes=True)
    assert [json.loads(m["Body"])["id"] for m in messages] == ids
    assert {m["Attributes"]["MessageGroupId"] for m in messages} == {"g1"}


def test_input_and_input_path(
    events: Any, make_queue: Callable[..., Queue], rule_to: Callable[..., str], unique: Any
) -> None:
    queue = make_queue()
    source = unique("input")
    rule_to(queue.arn, pattern={"source": [source]}, Input='{"constant": true}')
    path_queue = make_queue()
    rule_to(path_queue.arn, pattern={"source": [source]}, InputPath="$.detail.inner")
    put(events, source, {"inner": {"a": [1, 2]}})
    assert queue.drain() == ['{"constant": true}']
    assert [json.loads(b) for b in path_queue.drain()] == [{"a": [1, 2]}]


def test_input_transformer_to_sqs(
    events: Any, make_queue: Callable[..., Queue], rule_to: Callable[..., str], unique: Any
) -> None:
    """The "JSON with strings and variables" example of AWS's input transformation page."""
    queue = make_queue()
    source = unique("transform")
    name = rule_to(
        queue.arn,
        pattern={"source": [source]},
        InputTransformer={
            "InputPathsMap": {"instance": "$.detail.instance-id", "state": "$.detail.state"},
            "InputTemplate": '{"instance" : <instance>, "state": "<state>", '
            '"instanceStatus": "instance \\"<instance>\\" is in <state>", '
            '"rule": <aws.events.rule-name>}',
        },
    )
    put(events, source, {"instance-id": "i-0123456789", "state": "RUNNING"})
    (body,) = queue.drain()
    assert json.loads(body) == {
        "instance": "i-0123456789",
        "state": "RUNNING",
        "instanceStatus": 'instance "i-0123456789" is in RUNNING',
        "rule": name,
    }


def test_invalid_input_template_is_refused(
    events: Any, rules: list[tuple[str, str]], make_queue: Callable[..., Queue], unique: Any
) -> None:
    name = unique("badtemplate")
    events.put_rule(Name=name, EventPattern='{"source": ["x"]}')
    rules.append((name, "default"))
    with pytest.raises(ClientError) as exc:
        events.put_targets(
            Rule=name,
            Targets=[
                {
                    "Id": "t",
                    "Arn": make_queue().arn,
                    "InputTransformer": {
                        "InputPathsMap": {"a": "$.detail.a"},
                        "InputTemplate": '{"a": <a>,}',
                    },
                }
            ],
        )
    assert code_of(exc) == "ValidationException"
    assert "Invalid InputTemplate" in exc.value.response["Error"]["Message"]


def test_sns_and_logs_targets(
    events: Any, client: Any, make_queue: Callable[..., Queue], rule_to: Callable[..., str],
    unique: Any,
) -> None:  # fmt: skip
    sns = client("sns")
    logs = client("logs")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    queue = make_queue()
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue.arn,
                  Attributes={"RawMessageDelivery": "true"})  # fmt: skip
    group = "/aws/events/" + unique("g")
    logs.create_log_group(logGroupName=group)
    group_arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:*"
    source = unique("fanout")
    rule_to(topic, pattern={"source": [source]})
    rule_to(group_arn, pattern={"source": [source]})
    event_id = put(events, source, {"x": 1})
    assert [json.loads(b)["id"] for b in queue.drain()] == [event_id]
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [event_id]
    (logged,) = logs.get_log_events(logGroupName=group, logStreamName=event_id)["events"]
    assert json.loads(logged["message"])["detail"] == {"x": 1}


def test_log_group_target_with_a_timestamp_and_message_template(
    events: Any, client: Any, rule_to: Callable[..., str], unique: Any
) -> None:
    logs = client("logs")
    group = "/aws/events/" + unique("tm")
    logs.create_log_group(logGroupName=group)
    source = unique("logged")
    rule_to(
        f"arn:aws:logs:us-east-1:000000000000:log-group:{group}",
        pattern={"source": [source]},
        InputTransformer={
            "InputPathsMap": {"timestamp": "$.time", "instance": "$.detail.instance-id"},
            "InputTemplate": '{"timestamp": <timestamp>, "message": "instance <instance> ran"}',
        },
    )
    # a minute ago, in whole seconds as event times are written (older than 14 days is refused)
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    events.put_events(
        Entries=[
            {"Source": source, "DetailType": "t", "Detail": '{"instance-id": "i-1"}', "Time": when}
        ]
    )
    (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
    (record,) = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])[
        "events"
    ]
    assert record["message"] == "instance i-1 ran"
    assert record["timestamp"] == int(when.timestamp() * 1000)


def test_custom_bus_and_bus_to_bus_forwarding(
    events: Any, make_queue: Callable[..., Queue], rule_to: Callable[..., str], unique: Any
) -> None:
    bus = unique("bus")
    arn = events.create_event_bus(Name=bus, Description="mine")["EventBusArn"]
    assert arn == f"arn:aws:events:us-east-1:000000000000:event-bus/{bus}"
    try:
        with pytest.raises(ClientError) as exc:
            events.create_event_bus(Name=bus)
        assert code_of(exc) == "ResourceAlreadyExistsException"
        described = events.describe_event_bus(Name=bus)
        assert described["Description"] == "mine"
        names = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
        assert "default" in names and bus in names
        queue = make_queue()
        source = unique("fwd")
        rule_to(queue.arn, pattern={"source": [source]}, bus=bus)
        # A rule on the default bus forwards to the custom bus, whose rule delivers.
        rule_to(arn, pattern={"source": [source]})
        event_id = put(events, source, {"via": "default"})
        assert [e["id"] for e in queue.events()] == [event_id]
        put(events, source, {"via": "custom"}, bus=bus)
        assert [e["detail"]["via"] for e in queue.events()] == ["custom"]
        with pytest.raises(ClientError) as exc:
            events.put_rule(Name=unique("s"), EventBusName=bus, ScheduleExpression="rate(1 hour)")
        assert code_of(exc) == "ValidationException"
        with pytest.raises(ClientError) as exc:
            events.delete_event_bus(Name=bus)
        assert exc.value.response["Error"]["Message"] == (
            "EventBus can't be deleted since it has rules."
        )
    finally:
        for rule in events.list_rules(EventBusName=bus)["Rules"]:
            ids = [
                t["Id"]
                for t in events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]
            ]
            events.remove_targets(Rule=rule["Name"], EventBusName=bus, Ids=ids)
            events.delete_rule(Name=rule["Name"], EventBusName=bus)
        events.delete_event_bus(Name=bus)
    with pytest.raises(ClientError) as exc:
        events.describe_event_bus(Name=bus)
    assert code_of(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        events.delete_event_bus(Name="default")
    assert code_of(exc) == "ValidationException"


def test_cross_account_put_events_needs_the_bus_policy(
    events: Any, client: Any, make_queue: Callable[..., Queue], rule_to: Callable[..., str],
    unique: Any,
) -> None:  # fmt: skip
    bus = unique("shared")
    arn = events.create_event_bus(Name=bus)["EventBusArn"]
    other = client("events", aws_access_key_id="111111111111")
    statement = unique("allow")
    try:
        queue = make_queue()
        source = unique("xacct")
        rule_to(queue.arn, pattern={"source": [source]}, bus=bus)
        entry = {"Source": source, "DetailType": "t", "Detail": "{}", "EventBusName": arn}
        refused = other.put_events(Entries=[entry])
        assert refused["FailedEntryCount"] == 1
        assert refused["Entries"][0]["ErrorCode"] == "AccessDeniedException"
        events.put_permission(
            EventBusName=bus, Action="events:PutEvents", Principal="111111111111",
            StatementId=statement,
        )  # fmt: skip
        policy = json.loads(events.describe_event_bus(Name=bus)["Policy"])
        assert policy["Statement"] == [
            {
                "Sid": statement,
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                "Action": "events:PutEvents",
                "Resource": arn,
            }
        ]
        assert other.put_events(Entries=[entry])["FailedEntryCount"] == 0
        (event,) = queue.events()
        assert event["account"] == "111111111111"
        # the other account's own rule forwards from its default bus to the shared bus
        forward = unique("fwd")
        other.put_rule(Name=forward, EventPattern=json.dumps({"source": [source]}))
        other.put_targets(Rule=forward, Targets=[{"Id": "bus", "Arn": arn}])
        entry_on_own_bus = {k: v for k, v in entry.items() if k != "EventBusName"}
        assert other.put_events(Entries=[entry_on_own_bus])["FailedEntryCount"] == 0
        (forwarded,) = queue.events()
        assert forwarded["account"] == "111111111111"
        other.remove_targets(Rule=forward, Ids=["bus"])
        other.delete_rule(Name=forward)
        events.remove_permission(EventBusName=bus, StatementId=statement)
        assert "Policy" not in events.describe_event_bus(Name=bus)
        assert other.put_events(Entries=[entry])["FailedEntryCount"] == 1
        with pytest.raises(ClientError) as exc:
            events.remove_permission(EventBusName=bus, StatementId=statement)
        assert code_of(exc) == "ResourceNotFoundException"
    finally:
        for rule in events.list_rules(EventBusName=bus)["Rules"]:
            events.remove_targets(Rule=rule["Name"], EventBusName=bus, Ids=["t1"])
            events.delete_rule(Name=rule["Name"], EventBusName=bus)
        events.delete_event_bus(Name=bus)


def test_missing_target_goes_to_the_dead_letter_queue(
    events: Any, make_queue: Callable[..., Queue], rule_to: Callable[..., str], unique: Any
) -> None:
    dlq = make_queue()
    source = unique("dlq")
    gone = "arn:aws:sqs:us-east-1:000000000000:" + unique("gone")
    name = rule_to(
        gone,
        pattern={"source": [source]},
        DeadLetterConfig={"Arn": dlq.arn},
        RetryPolicy={"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600},
    )
    event_id = put(events, source, {"k": "v"})
    (message,) = dlq.drain(attributes=True)
    assert json.loads(message["Body"])["id"] == event_id
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == f"arn:aws:events:us-east-1:000000000000:rule/{name}"
    assert attributes["TARGET_ARN"] == gone
    assert attributes["ERROR_CODE"] == "QueueDoesNotExist"
    assert attributes["RETRY_ATTEMPTS"] == "0"
    assert "ERROR_MESSAGE" in attributes


def test_tags_on_rules_and_buses(events: Any, rules: list[tuple[str, str]], unique: Any) -> None:
    name = unique("tagged")
    arn = events.put_rule(
        Name=name, EventPattern='{"source": ["x"]}', Tags=[{"Key": "team", "Value": "a"}]
    )["RuleArn"]
    rules.append((name, "default"))
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}])
    tags = events.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "a")]
    events.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "env", "Value": "dev"}
    ]
    with pytest.raises(ClientError) as exc:
        events.list_tags_for_resource(ResourceARN=arn + "-missing")
    assert code_of(exc) == "ResourceNotFoundException"


def test_bus_policy_given_whole(
    events: Any,
    client: Any,
    make_queue: Callable[..., Queue],
    rule_to: Callable[..., str],
    unique: Any,
) -> None:
    bus = unique("open")
    arn = events.create_event_bus(Name=bus)["EventBusArn"]
    try:
        queue = make_queue()
        source = unique("anyone")
        rule_to(queue.arn, pattern={"source": [source]}, bus=bus)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "anyone",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "events:PutEvents",
                    "Resource": arn,
                }
            ],
        }
        events.put_permission(EventBusName=bus, Policy=json.dumps(policy))
        assert json.loads(events.describe_event_bus(Name=bus)["Policy"]) == policy
        stranger = client("events", aws_access_key_id="222222222222")
        entry = {"Source": source, "DetailType": "t", "Detail": "{}", "EventBusName": arn}
        assert stranger.put_events(Entries=[entry])["FailedEntryCount"] == 0
        assert [e["account"] for e in queue.events()] == ["222222222222"]
        events.remove_permission(EventBusName=bus, RemoveAllPermissions=True)
        assert stranger.put_events(Entries=[entry])["FailedEntryCount"] == 1
    finally:
        for rule in events.list_rules(EventBusName=bus)["Rules"]:
            events.remove_targets(Rule=rule["Name"], EventBusName=bus, Ids=["t1"])
            events.delete_rule(Name=rule["Name"], EventBusName=bus)
        events.delete_event_bus(Name=bus)
