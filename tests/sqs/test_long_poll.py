"""Long polling: a waiting receive returns as soon as a message arrives (woken by the send, not
by polling), and waiters re-check when the clock moves."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def _receive_in_thread(sqs: Any, url: str, **kwargs: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(
        target=lambda: out.append(sqs.receive_message(QueueUrl=url, **kwargs)), daemon=True
    )
    thread.start()
    return thread, out


def test_waiting_receive_gets_a_later_send(
    sqs: Any, queue: str, client: Callable[..., Any]
) -> None:
    thread, out = _receive_in_thread(sqs, queue, WaitTimeSeconds=20)
    time.sleep(0.3)
    assert thread.is_alive()
    client("sqs").send_message(QueueUrl=queue, MessageBody="wake up")
    thread.join(15)
    assert not thread.is_alive()
    assert [m["Body"] for m in out[0]["Messages"]] == ["wake up"]


def test_queue_wait_time_applies_by_default(
    sqs: Any, unique: Callable[[str], str], client: Callable[..., Any]
) -> None:
    url = sqs.create_queue(
        QueueName=unique("lp"), Attributes={"ReceiveMessageWaitTimeSeconds": "20"}
    )["QueueUrl"]
    thread, out = _receive_in_thread(sqs, url)
    time.sleep(0.3)
    assert thread.is_alive()
    client("sqs").send_message(QueueUrl=url, MessageBody="default wait")
    thread.join(15)
    assert [m["Body"] for m in out[0]["Messages"]] == ["default wait"]


def test_clock_advance_wakes_waiters_for_delayed_messages(
    sqs: Any, queue: str, advance: Callable[[float], None]
) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody="later", DelaySeconds=600)
    thread, out = _receive_in_thread(sqs, queue, WaitTimeSeconds=20)
    time.sleep(0.3)
    assert thread.is_alive()
    advance(601)
    thread.join(15)
    assert [m["Body"] for m in out[0]["Messages"]] == ["later"]


def test_many_concurrent_waiters(sqs: Any, queue: str, client: Callable[..., Any]) -> None:
    waiters = [_receive_in_thread(sqs, queue, WaitTimeSeconds=20) for _ in range(8)]
    time.sleep(0.3)
    client("sqs").send_message_batch(
        QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(8)]
    )
    bodies = []
    for thread, out in waiters:
        thread.join(15)
        bodies += [m["Body"] for m in out[0].get("Messages", [])]
    leftover = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    assert sorted(bodies + [m["Body"] for m in leftover]) == sorted(f"m{i}" for i in range(8))
    assert len(bodies) == len(set(bodies))
