"""Dead-letter queues: RedrivePolicy moves a message on the receive that exceeds
maxReceiveCount; RedriveAllowPolicy; ListDeadLetterSourceQueues; message move tasks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sqs.conftest import error_code


def _arn(sqs: Any, url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])


def _pair(sqs: Any, unique: Callable[[str], str], max_receives: int = 2) -> tuple[str, str]:
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    policy = {"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": max_receives}
    source = sqs.create_queue(
        QueueName=unique("src"),
        Attributes={"RedrivePolicy": json.dumps(policy), "VisibilityTimeout": "0"},
    )["QueueUrl"]
    return source, dlq


def test_message_moves_after_max_receives(sqs: Any, unique: Callable[[str], str]) -> None:
    source, dlq = _pair(sqs, unique)
    sent = sqs.send_message(QueueUrl=source, MessageBody="poison")
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=source)["Messages"][0]["MessageId"] == sent["MessageId"]
    assert "Messages" not in sqs.receive_message(QueueUrl=source)
    moved = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"][0]
    assert moved["MessageId"] == sent["MessageId"]
    assert moved["Body"] == "poison"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"] == _arn(sqs, source)


def test_list_dead_letter_source_queues(sqs: Any, unique: Callable[[str], str]) -> None:
    source, dlq = _pair(sqs, unique)
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]


def test_redrive_allow_policy(sqs: Any, unique: Callable[[str], str]) -> None:
    dlq = sqs.create_queue(
        QueueName=unique("deny"),
        Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})},
    )["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": 1})
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=unique("src"), Attributes={"RedrivePolicy": policy})
    assert error_code(exc) == "InvalidAttributeValue"
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(
            QueueUrl=dlq,
            Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "byQueue"})},
        )
    assert error_code(exc) == "InvalidAttributeValue"


def test_move_task_redrives_at_the_requested_rate(
    sqs: Any, unique: Callable[[str], str], advance: Callable[[float], None]
) -> None:
    source, dlq = _pair(sqs, unique, max_receives=1)
    sqs.send_message_batch(
        QueueUrl=source, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(6)]
    )
    for _ in range(2):
        sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)
    counts = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert counts["Attributes"]["ApproximateNumberOfMessages"] == "6"
    # One message per second of clock time: the partial count below holds unless the real
    # clock also runs ahead by five seconds between these calls (a loaded CI machine).
    handle = sqs.start_message_move_task(SourceArn=_arn(sqs, dlq), MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]
    with pytest.raises(ClientError):
        sqs.start_message_move_task(SourceArn=_arn(sqs, dlq))
    advance(1)
    tasks = sqs.list_message_move_tasks(SourceArn=_arn(sqs, dlq))["Results"]
    assert tasks[0]["Status"] == "RUNNING"
    assert tasks[0]["TaskHandle"] == handle
    assert tasks[0]["ApproximateNumberOfMessagesToMove"] == 6
    assert 0 < tasks[0]["ApproximateNumberOfMessagesMoved"] < 6
    for _ in range(6):
        advance(1)
    tasks = sqs.list_message_move_tasks(SourceArn=_arn(sqs, dlq))["Results"]
    assert tasks[0]["Status"] == "COMPLETED"
    assert tasks[0]["ApproximateNumberOfMessagesMoved"] == 6
    back = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in back) == [f"m{i}" for i in range(6)]


def test_cancel_move_task(sqs: Any, unique: Callable[[str], str]) -> None:
    source, dlq = _pair(sqs, unique, max_receives=1)
    sqs.send_message(QueueUrl=source, MessageBody="x")
    for _ in range(2):
        sqs.receive_message(QueueUrl=source)
    handle = sqs.start_message_move_task(SourceArn=_arn(sqs, dlq), MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]
    assert sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"] >= 0
    tasks = sqs.list_message_move_tasks(SourceArn=_arn(sqs, dlq))["Results"]
    assert tasks[0]["Status"] in ("CANCELLED", "COMPLETED")
    with pytest.raises(ClientError):
        sqs.start_message_move_task(SourceArn=_arn(sqs, source))
