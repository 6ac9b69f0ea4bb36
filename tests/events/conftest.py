"""EventBridge test helpers: clients, queues that collect what targets receive, and a clock
that moves instead of sleeping. Scheduled rules a test makes are deleted when it ends, so later
clock jumps on the shared clock server do not keep firing them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError


@pytest.fixture
def events(client: Callable[..., Any]) -> Any:
    return client("events")


@pytest.fixture
def sqs(client: Callable[..., Any]) -> Any:
    return client("sqs")


@pytest.fixture
def advance(endpoint: str) -> Callable[[float], None]:
    def move(seconds: float) -> None:
        requests.post(
            f"{endpoint}/_nubes/clock", json={"advance": seconds}, timeout=60
        ).raise_for_status()

    return move


class Queue:
    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url
        self.arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def drain(self, attributes: bool = False) -> list[Any]:
        """Every message waiting, deleted as read: bodies, or whole messages."""
        found: list[Any] = []
        while True:
            got = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                return found
            for message in got:
                found.append(message if attributes else message["Body"])
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.drain()]


@pytest.fixture
def make_queue(sqs: Any, unique: Callable[[str], str]) -> Callable[..., Queue]:
    def make(fifo: bool = False) -> Queue:
        name = unique("eb") + (".fifo" if fifo else "")
        attrs = {"FifoQueue": "true"} if fifo else {}
        return Queue(sqs, sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"])

    return make


@pytest.fixture
def rules(events: Any) -> Iterator[list[tuple[str, str]]]:
    """(rule, bus) pairs removed with their targets when the test ends."""
    made: list[tuple[str, str]] = []
    yield made
    for name, bus in made:
        try:
            targets = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
        except ClientError:
            continue  # the test removed it, or its bus, itself
        if targets:
            events.remove_targets(Rule=name, EventBusName=bus, Ids=[t["Id"] for t in targets])
        events.delete_rule(Name=name, EventBusName=bus)


@pytest.fixture
def rule_to(
    events: Any, rules: list[tuple[str, str]], unique: Callable[[str], str]
) -> Callable[..., str]:
    """``rule_to(target_arn, pattern=..., schedule=..., bus=..., **target)``: a rule with one
    target; returns the rule's name."""

    def make(
        arn: str,
        pattern: dict[str, Any] | None = None,
        schedule: str | None = None,
        bus: str = "default",
        **target: Any,
    ) -> str:
        name = unique("rule")
        params: dict[str, Any] = {"Name": name, "EventBusName": bus}
        if pattern is not None:
            params["EventPattern"] = json.dumps(pattern)
        if schedule is not None:
            params["ScheduleExpression"] = schedule
        events.put_rule(**params)
        rules.append((name, bus))
        out = events.put_targets(
            Rule=name, EventBusName=bus, Targets=[{"Id": "t1", "Arn": arn, **target}]
        )
        assert out["FailedEntryCount"] == 0, out
        return name

    return make
