"""Helpers for the end-to-end scenarios: deployment zips and waiting on queues without sleeps."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def zipped(source: str, name: str = "app.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


def make_function(lam: Any, name: str, source: str, **kwargs: Any) -> str:
    """Create a Python function from one ``app.py`` and wait until it is active; its ARN."""
    kwargs.setdefault("Role", ROLE)
    arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="app.handler",
        Code={"ZipFile": zipped(source)},
        **kwargs,
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return str(arn)


def receive(sqs: Any, queue_url: str, count: int = 1, seconds: float = 30) -> list[Any]:
    """At least ``count`` messages from the queue (deleted once read), long polling."""
    found: list[Any] = []
    deadline = time.monotonic() + seconds
    while len(found) < count and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=queue_url, WaitTimeSeconds=2, MaxNumberOfMessages=10
        ).get("Messages", [])
        for message in messages:
            found.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert len(found) >= count, f"{len(found)} of {count} messages within {seconds} s"
    return found


def bodies(messages: list[Any]) -> list[Any]:
    return [json.loads(m["Body"]) for m in messages]


def wait_for(check: Any, seconds: float = 30) -> Any:
    """Poll ``check()`` until it returns something truthy (for effects of async pipelines)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {seconds} s")


def s3_records(sqs: Any, queue_url: str, count: int, seconds: float = 30) -> list[Any]:
    """The first ``count`` S3 event records on the queue, skipping the s3:TestEvent that S3
    sends when a notification configuration is saved (raw bodies or SNS envelopes)."""
    records: list[Any] = []
    deadline = time.monotonic() + seconds
    while len(records) < count and time.monotonic() < deadline:
        for body in bodies(receive(sqs, queue_url, 1, deadline - time.monotonic())):
            event = json.loads(body["Message"]) if body.get("Type") == "Notification" else body
            records.extend(event.get("Records", []))
    assert len(records) >= count, f"{len(records)} of {count} records within {seconds} s"
    return records
