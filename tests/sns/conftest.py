"""SNS tests: a topic with an SQS queue subscribed, and a small HTTP endpoint that records
what SNS posts to it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests


@pytest.fixture
def sns(client: Callable[..., Any]) -> Any:
    return client("sns")


@pytest.fixture
def sqs(client: Callable[..., Any]) -> Any:
    return client("sqs")


@pytest.fixture
def advance(endpoint: str) -> Callable[[float], None]:
    def move(seconds: float) -> None:
        answer = requests.post(f"{endpoint}/_nubes/clock", json={"advance": seconds}, timeout=10)
        answer.raise_for_status()

    return move


def queue_arn(sqs: Any, url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    return list(got)


@pytest.fixture
def subscribed(
    sns: Any, sqs: Any, unique: Callable[[str], str]
) -> Callable[..., tuple[str, str, str]]:
    """``subscribed(**subscription attributes)`` -> (topic arn, queue url, subscription arn)."""

    def make(fifo: bool = False, **attributes: str) -> tuple[str, str, str]:
        suffix = ".fifo" if fifo else ""
        topic_attrs = {"FifoTopic": "true"} if fifo else {}
        queue_attrs = {"FifoQueue": "true"} if fifo else {}
        topic = sns.create_topic(Name=unique("topic") + suffix, Attributes=topic_attrs)["TopicArn"]
        url = sqs.create_queue(QueueName=unique("queue") + suffix, Attributes=queue_attrs)[
            "QueueUrl"
        ]
        sub = sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn(sqs, url),
            Attributes=attributes,
        )["SubscriptionArn"]
        return topic, url, sub

    return make


@dataclass
class Recorder:
    url: str
    posts: list[tuple[dict[str, str], str]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    """Statuses to answer with, in order; 200 once they run out."""
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 60) -> list[tuple[dict[str, str], str]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.posts) >= count, timeout)
        return list(self.posts)

    def last_json(self) -> dict[str, Any]:
        return dict(json.loads(self.posts[-1][1]))


@pytest.fixture
def http_endpoint() -> Iterator[Recorder]:
    recorder: Recorder | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert recorder is not None
            body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            with recorder.arrived:
                recorder.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = recorder.statuses.pop(0) if recorder.statuses else 200
                recorder.arrived.notify_all()
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder = Recorder(f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield recorder
    server.shutdown()
