"""Every acknowledged SendMessage survives a SIGKILL of the server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.exceptions import BotoCoreError, ClientError

from tests.server import NubesProcess


def _drain(sqs: Any, url: str) -> set[str]:
    got: set[str] = set()
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return got
        got |= {m["MessageId"] for m in batch}
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )


def _produce(server: NubesProcess, url: str, acked: set[str], lock: threading.Lock) -> None:
    sqs = server.client("sqs")
    n = 0
    while True:
        n += 1
        try:
            if n % 2:
                ids = [sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")["MessageId"]]
            else:
                result = sqs.send_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "MessageBody": f"b{n}-{i}"} for i in range(10)],
                )
                ids = [e["MessageId"] for e in result["Successful"]]
        except (BotoCoreError, ClientError):
            return
        with lock:
            acked.update(ids)


def _consume(server: NubesProcess, url: str, seen: set[str], lock: threading.Lock) -> None:
    sqs = server.client("sqs")
    while True:
        try:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            with lock:
                seen.update(m["MessageId"] for m in batch)
            if batch:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(batch)
                    ],
                )
        except (BotoCoreError, ClientError):
            return


def _kill_mid_stream(
    nubes_factory: Callable[..., NubesProcess], producers: int, consumers: int, seconds: float
) -> None:
    server = nubes_factory(persistent=True)
    url = server.client("sqs").create_queue(QueueName="durable")["QueueUrl"]
    acked: set[str] = set()
    received: set[str] = set()
    lock = threading.Lock()
    threads = [
        threading.Thread(target=_produce, args=(server, url, acked, lock)) for _ in range(producers)
    ] + [
        threading.Thread(target=_consume, args=(server, url, received, lock))
        for _ in range(consumers)
    ]
    for t in threads:
        t.start()
    time.sleep(seconds)
    server.kill()
    for t in threads:
        t.join(30)
    assert len(acked) > 10
    restarted = NubesProcess(server.data_dir, port=server.port).start()
    try:
        # A receive the kill cut off may have hidden messages: let their visibility lapse.
        requests.post(f"{restarted.endpoint}/_nubes/clock", json={"advance": 31}, timeout=10)
        remaining = _drain(restarted.client("sqs"), url)
    finally:
        restarted.stop()
    # Every acknowledged send is still in the queue or was handed to a consumer.
    assert acked <= remaining | received


def test_sigkill_loses_no_acknowledged_message(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    _kill_mid_stream(nubes_factory, producers=1, consumers=0, seconds=1.0)


@pytest.mark.soak
def test_soak_four_producers_four_consumers_with_a_sigkill(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    _kill_mid_stream(nubes_factory, producers=4, consumers=4, seconds=20.0)
