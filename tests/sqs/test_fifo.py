"""FIFO queues: order per group, groups blocked while a message is in flight, deduplication,
sequence numbers, receive attempt ids, and four concurrent consumers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import make_client
from tests.sqs.conftest import error_code


def test_order_and_group_blocking(sqs: Any, fifo: str) -> None:
    for i in range(3):
        for group in ("a", "b"):
            sqs.send_message(
                QueueUrl=fifo,
                MessageBody=f"{group}{i}",
                MessageGroupId=group,
                MessageDeduplicationId=f"{group}{i}",
            )
    # As many messages of one group as possible, in order, then the next group.
    first = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first] == ["a0", "a1", "a2", "b0", "b1", "b2"]
    # Everything is in flight: nothing more until something is deleted or becomes visible.
    assert "Messages" not in sqs.receive_message(QueueUrl=fifo)


def test_in_flight_group_yields_nothing_more(sqs: Any, fifo: str) -> None:
    for i in range(2):
        sqs.send_message(
            QueueUrl=fifo, MessageBody=f"g{i}", MessageGroupId="g", MessageDeduplicationId=str(i)
        )
    sqs.send_message(
        QueueUrl=fifo, MessageBody="h0", MessageGroupId="h", MessageDeduplicationId="h"
    )
    got = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=1)["Messages"]
    assert got[0]["Body"] == "g0"
    other = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in other] == ["h0"]
    sqs.delete_message(QueueUrl=fifo, ReceiptHandle=got[0]["ReceiptHandle"])
    assert sqs.receive_message(QueueUrl=fifo)["Messages"][0]["Body"] == "g1"


def test_deduplication(
    sqs: Any, unique: Callable[[str], str], advance: Callable[[float], None]
) -> None:
    url = sqs.create_queue(
        QueueName=unique("dd") + ".fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    one = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    two = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    assert one["MessageId"] == two["MessageId"]
    assert one["SequenceNumber"] == two["SequenceNumber"]
    assert len(one["SequenceNumber"]) == 20
    explicit = sqs.send_message(
        QueueUrl=url, MessageBody="same", MessageGroupId="g", MessageDeduplicationId="other"
    )
    assert explicit["MessageId"] != one["MessageId"]
    assert int(explicit["SequenceNumber"]) > int(one["SequenceNumber"])
    advance(301)
    three = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    assert three["MessageId"] != one["MessageId"]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "3"


def test_deduplication_scope_message_group(sqs: Any, unique: Callable[[str], str]) -> None:
    url = sqs.create_queue(
        QueueName=unique("scope") + ".fifo",
        Attributes={"FifoQueue": "true", "DeduplicationScope": "messageGroup"},
    )["QueueUrl"]
    a = sqs.send_message(
        QueueUrl=url, MessageBody="x", MessageGroupId="a", MessageDeduplicationId="d"
    )
    b = sqs.send_message(
        QueueUrl=url, MessageBody="x", MessageGroupId="b", MessageDeduplicationId="d"
    )
    assert a["MessageId"] != b["MessageId"]


def test_fifo_send_errors(sqs: Any, fifo: str, queue: str) -> None:
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=fifo, MessageBody="x", MessageDeduplicationId="d")
    assert error_code(exc) == "MissingParameter"
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=fifo, MessageBody="x", MessageGroupId="g")
    assert "ContentBasedDeduplication" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        sqs.send_message(
            QueueUrl=fifo,
            MessageBody="x",
            MessageGroupId="g",
            MessageDeduplicationId="d",
            DelaySeconds=5,
        )
    with pytest.raises(ClientError):
        sqs.send_message(QueueUrl=queue, MessageBody="x", MessageDeduplicationId="d")


def test_system_attributes_of_fifo_messages(sqs: Any, fifo: str) -> None:
    sent = sqs.send_message(
        QueueUrl=fifo, MessageBody="x", MessageGroupId="grp", MessageDeduplicationId="dd"
    )
    msg = sqs.receive_message(QueueUrl=fifo, AttributeNames=["All"])["Messages"][0]
    assert msg["Attributes"]["MessageGroupId"] == "grp"
    assert msg["Attributes"]["MessageDeduplicationId"] == "dd"
    assert msg["Attributes"]["SequenceNumber"] == sent["SequenceNumber"]


def test_receive_request_attempt_id_returns_the_same_messages(sqs: Any, fifo: str) -> None:
    for i in range(3):
        sqs.send_message(
            QueueUrl=fifo, MessageBody=str(i), MessageGroupId="g", MessageDeduplicationId=str(i)
        )
    first = sqs.receive_message(
        QueueUrl=fifo, MaxNumberOfMessages=2, ReceiveRequestAttemptId="attempt-1"
    )["Messages"]
    retry = sqs.receive_message(
        QueueUrl=fifo, MaxNumberOfMessages=2, ReceiveRequestAttemptId="attempt-1"
    )["Messages"]
    assert [(m["MessageId"], m["ReceiptHandle"]) for m in first] == [
        (m["MessageId"], m["ReceiptHandle"]) for m in retry
    ]


def test_four_concurrent_consumers(endpoint: str, unique: Callable[[str], str]) -> None:
    """No interleaving within a group and no duplicates inside the visibility timeout."""
    producer = make_client(endpoint, "sqs")
    url = producer.create_queue(
        QueueName=unique("conc") + ".fifo",
        Attributes={"FifoQueue": "true", "VisibilityTimeout": "300"},
    )["QueueUrl"]
    groups, per_group = 6, 20
    for i in range(per_group):
        producer.send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": f"{g}-{i}",
                    "MessageBody": f"{g}:{i}",
                    "MessageGroupId": f"g{g}",
                    "MessageDeduplicationId": f"{g}-{i}",
                }
                for g in range(groups)
            ],
        )
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()
    errors: list[str] = []

    def consume() -> None:
        sqs = make_client(endpoint, "sqs")
        empty = 0
        while empty < 3:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            batch = got.get("Messages", [])
            if not batch:
                empty += 1
                continue
            empty = 0
            with lock:
                for m in batch:
                    group, index = m["Body"].split(":")
                    last = max((i for g, i in seen if g == group), default=-1)
                    if int(index) != last + 1:
                        errors.append(f"{group}: {index} after {last}")
                    seen.append((group, int(index)))
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)
                ],
            )

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(seen) == groups * per_group
    assert len(set(seen)) == len(seen)
