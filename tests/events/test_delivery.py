"""Archives and replay, Lambda targets, retries with back-off, and scheduled rules surviving a
restart."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from nubes.core.metrics import Metrics
from nubes.protocol.base import ServiceError
from nubes.services.events.targets import Delivery, Targets
from nubes.store import Store
from tests.events.conftest import Queue
from tests.lambda_.conftest import ROLE, zipped


def wait_for(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_archive_and_replay(
    events: Any, make_queue: Callable[..., Queue], rule_to: Callable[..., str], unique: Any
) -> None:
    bus = unique("archived")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    archive = unique("arch")
    replay = unique("replay")
    try:
        source = unique("arch.src")
        made = events.create_archive(
            ArchiveName=archive,
            EventSourceArn=bus_arn,
            EventPattern=json.dumps({"source": [source]}),
            RetentionDays=1,
        )
        assert made["State"] == "ENABLED"
        with pytest.raises(ClientError) as exc:
            events.create_archive(ArchiveName=archive, EventSourceArn=bus_arn)
        assert exc.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
        start = datetime.now(UTC).replace(microsecond=0)
        time.sleep(1.1)  # event times have whole seconds: keep the window's start before them
        for i in range(3):
            events.put_events(
                Entries=[
                    {"Source": source, "DetailType": "t", "Detail": json.dumps({"i": i}),
                     "EventBusName": bus},
                    {"Source": "not-archived", "DetailType": "t", "Detail": "{}",
                     "EventBusName": bus},
                ]
            )  # fmt: skip
        described = events.describe_archive(ArchiveName=archive)
        assert described["EventCount"] == 3
        assert described["SizeBytes"] > 0
        assert [a["ArchiveName"] for a in events.list_archives(NamePrefix=archive)["Archives"]] == [
            archive
        ]
        # a rule added after the events were sent sees them only through a replay
        queue = make_queue()
        rule_to(queue.arn, pattern={"source": [source]}, bus=bus)
        time.sleep(1.1)
        end = datetime.now(UTC)
        out = events.start_replay(
            ReplayName=replay,
            EventSourceArn=made["ArchiveArn"],
            EventStartTime=start,
            EventEndTime=end,
            Destination={"Arn": bus_arn},
        )
        assert out["State"] == "STARTING"
        state = wait_for(lambda: events.describe_replay(ReplayName=replay)["State"] == "COMPLETED")
        assert state
        replayed = queue.events()
        assert [e["detail"]["i"] for e in replayed] == [0, 1, 2]
        assert {e["replay-name"] for e in replayed} == {replay}
        assert events.list_replays(NamePrefix=replay)["Replays"][0]["State"] == "COMPLETED"
        with pytest.raises(ClientError) as exc:
            events.cancel_replay(ReplayName=replay)
        assert exc.value.response["Error"]["Code"] == "IllegalStatusException"
        with pytest.raises(ClientError) as exc:
            events.start_replay(
                ReplayName=unique("bad"),
                EventSourceArn=made["ArchiveArn"],
                EventStartTime=end,
                EventEndTime=start,
                Destination={"Arn": bus_arn},
            )
        assert exc.value.response["Error"]["Code"] == "ValidationException"
    finally:
        events.delete_archive(ArchiveName=archive)
        for rule in events.list_rules(EventBusName=bus)["Rules"]:
            events.remove_targets(Rule=rule["Name"], EventBusName=bus, Ids=["t1"])
            events.delete_rule(Name=rule["Name"], EventBusName=bus)
        events.delete_event_bus(Name=bus)
    with pytest.raises(ClientError) as exc:
        events.describe_archive(ArchiveName=archive)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_lambda_target_is_invoked_asynchronously(
    events: Any, client: Callable[..., Any], rule_to: Callable[..., str], unique: Any
) -> None:
    lam = client("lambda")
    logs = client("logs")
    name = unique("ebfn")
    source = """
import json
def handler(event, context):
    print("EVENT " + json.dumps(event))
"""
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": zipped({"app.py": source})},
    )
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        function_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        event_source = unique("to.lambda")
        rule_to(function_arn, pattern={"source": [event_source]})
        out = events.put_events(
            Entries=[{"Source": event_source, "DetailType": "t", "Detail": '{"k": 1}'}]
        )
        event_id = out["Entries"][0]["EventId"]

        def logged() -> list[dict[str, Any]]:
            try:
                found = logs.filter_log_events(
                    logGroupName=f"/aws/lambda/{name}", filterPattern="EVENT"
                )["events"]
            except ClientError:
                return []
            return [json.loads(e["message"].split("EVENT ", 1)[1]) for e in found]

        received = wait_for(logged, timeout=120)
        assert [e["id"] for e in received] == [event_id]
        assert received[0]["detail"] == {"k": 1}
    finally:
        lam.delete_function(FunctionName=name)


# -- retries (the delivery code on its own) -----------------------------------------------------


class _Providers:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def invoke(
        self, service: str, operation: str, params: dict[str, Any], account: str, region: str
    ) -> Any:
        self.calls.append((service, operation, params))
        if operation == "GetQueueUrl":
            return {"QueueUrl": f"http://localhost/{account}/{params['QueueName']}"}
        if params.get("QueueUrl", "").endswith("/target") and self.failures:
            self.failures -= 1
            raise ServiceError("ThrottlingException", "slow down", 400)
        return {}


def _targets(failures: int) -> tuple[Targets, _Providers]:
    providers = _Providers(failures)
    env = SimpleNamespace(
        state=SimpleNamespace(store=Store(None)), providers=providers, metrics=Metrics()
    )
    return Targets(env, "events"), providers  # type: ignore[arg-type]


def _delivery(retry: dict[str, int]) -> Delivery:
    return Delivery(
        account="000000000000",
        region="us-east-1",
        target={
            "Id": "t",
            "Arn": "arn:aws:sqs:us-east-1:000000000000:target",
            "RetryPolicy": retry,
            "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
        },
        payload='{"p": 1}',
        dlq_body='{"event": 1}',
        dlq_attributes={"RULE_ARN": "arn:aws:events:us-east-1:000000000000:rule/r"},
    )


def _sends(providers: _Providers, queue: str) -> list[dict[str, Any]]:
    return [
        p
        for _, op, p in providers.calls
        if op == "SendMessage" and p["QueueUrl"].endswith("/" + queue)
    ]


def test_retriable_failures_are_retried_until_delivered() -> None:
    targets, providers = _targets(failures=2)
    assert targets.deliver(_delivery({"MaximumRetryAttempts": 5})) is False
    far = time.time() + 10_000
    targets.retry_due(far)
    targets.retry_due(far)
    assert len(_sends(providers, "target")) == 3
    assert _sends(providers, "dlq") == []
    targets.retry_due(far)
    assert len(_sends(providers, "target")) == 3


def test_exhausted_retries_go_to_the_dead_letter_queue() -> None:
    targets, providers = _targets(failures=100)
    targets.deliver(_delivery({"MaximumRetryAttempts": 2}))
    far = time.time() + 10_000
    for _ in range(5):
        targets.retry_due(far)
    assert len(_sends(providers, "target")) == 3
    (dead,) = _sends(providers, "dlq")
    assert dead["MessageBody"] == '{"event": 1}'
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "2"
    assert attributes["ERROR_CODE"] == "ThrottlingException"
    assert attributes["RULE_ARN"].endswith(":rule/r")


def test_scheduler_inputs_count_the_attempts() -> None:
    targets, providers = _targets(failures=2)
    delivery = _delivery({"MaximumRetryAttempts": 5})
    delivery.target["Input"] = '{"attempt": "<aws.scheduler.attempt-number>"}'
    delivery.context = {"aws.scheduler.execution-id": "e-1"}
    targets.deliver(delivery)
    far = time.time() + 10_000
    targets.retry_due(far)
    targets.retry_due(far)
    bodies = [json.loads(p["MessageBody"]) for p in _sends(providers, "target")]
    assert bodies == [{"attempt": "1"}, {"attempt": "2"}, {"attempt": "3"}]


def test_zero_retries_dead_letters_at_once() -> None:
    targets, providers = _targets(failures=100)
    targets.deliver(_delivery({"MaximumRetryAttempts": 0}))
    assert len(_sends(providers, "dlq")) == 1


# -- a restart ----------------------------------------------------------------------------------


def test_scheduled_rules_and_schedules_keep_firing_after_a_kill(
    nubes_factory: Callable[..., Any],
) -> None:
    server = nubes_factory()
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="ticks")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = server.client("events")
    events.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule="every-minute", Targets=[{"Id": "q", "Arn": arn}])
    server.client("scheduler").create_schedule(
        Name="every-minute",
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": ROLE, "Input": '"from the scheduler"'},
    )
    server.kill()
    server = nubes_factory()
    health = requests.get(f"{server.endpoint}/_nubes/health", timeout=10).json()
    assert health
    requests.post(f"{server.endpoint}/_nubes/clock", json={"advance": 180}, timeout=30)
    queue = Queue(server.client("sqs"), url.replace(url.split("/")[2], server.endpoint[7:]))
    bodies = queue.drain()
    from_rule = [json.loads(b) for b in bodies if b != '"from the scheduler"']
    assert len(from_rule) >= 3
    assert {e["detail-type"] for e in from_rule} == {"Scheduled Event"}
    assert len(bodies) - len(from_rule) >= 3


def test_an_aws_event_loads_eventbridge_after_a_restart(nubes_factory: Callable[..., Any]) -> None:
    """After a restart nothing starts EventBridge (no schedules): the first S3 event does."""
    server = nubes_factory()
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="objects")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = server.client("events")
    events.put_rule(Name="objects", EventPattern='{"source": ["aws.s3"]}')
    events.put_targets(Rule="objects", Targets=[{"Id": "q", "Arn": arn}])
    s3 = server.client("s3")
    s3.create_bucket(Bucket="watched")
    s3.put_bucket_notification_configuration(
        Bucket="watched", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    server.kill()
    server = nubes_factory()
    server.client("s3").put_object(Bucket="watched", Key="k", Body=b"v")
    queue = Queue(server.client("sqs"), url.replace(url.split("/")[2], server.endpoint[7:]))
    (event,) = queue.events()
    assert event["detail-type"] == "Object Created"
    assert event["detail"]["object"]["key"] == "k"


def test_a_long_clock_jump_replays_at_most_a_day_of_firings(
    nubes_factory: Callable[..., Any],
) -> None:
    """On a server of its own: a 30-day jump fires a rate(1 minute) rule and schedule a day of
    minutes each, then they go on from the boundary after the jump."""
    server = nubes_factory(persistent=False)
    sqs = server.client("sqs")
    urls = [sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("rule", "schedule")]
    arns = [
        sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for u in urls
    ]
    events = server.client("events")
    events.put_rule(Name="minutely", ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule="minutely", Targets=[{"Id": "q", "Arn": arns[0], "Input": "1"}])
    server.client("scheduler").create_schedule(
        Name="minutely",
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arns[1], "RoleArn": ROLE, "Input": "1"},
    )

    def counts() -> list[int]:
        return [
            int(
                sqs.get_queue_attributes(
                    QueueUrl=u, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            )
            for u in urls
        ]

    clock = f"{server.endpoint}/_nubes/clock"
    requests.post(clock, json={"advance": 30 * 86400}, timeout=120).raise_for_status()
    assert counts() == [24 * 60] * 2
    requests.post(clock, json={"advance": 60}, timeout=30).raise_for_status()
    assert counts() == [24 * 60 + 1] * 2
