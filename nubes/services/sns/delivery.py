"""What a subscriber receives: the JSON envelope AWS writes (signed), raw deliveries, and the
background delivery of HTTP/HTTPS notifications with retries per delivery policy."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nubes.core import clock
from nubes.services.sns.delivery_policy import Throttle
from nubes.services.sns.signing import CERT_PATH, Signer

log = logging.getLogger("nubes.sns")


def timestamp(at: float) -> str:
    return (
        datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(at * 1000) % 1000:03d}Z"
    )


def envelope_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    out = {}
    for name, attr in attributes.items():
        if attr.get("BinaryValue") is not None:
            value = base64.b64encode(attr["BinaryValue"]).decode()
        else:
            value = str(attr.get("StringValue", ""))
        out[name] = {"Type": attr["DataType"], "Value": value}
    return out


def render(doc: Mapping[str, Any]) -> str:
    """AWS writes its SNS JSON documents indented, with ``" : "`` between key and value."""
    return json.dumps(doc, indent=2, separators=(",", " : "), ensure_ascii=False)


@dataclass
class Notification:
    """One published message, as every subscriber of the topic sees it."""

    message_id: str
    topic_arn: str
    message: str
    subject: str | None
    attributes: Mapping[str, Mapping[str, Any]]
    structure: dict[str, str] | None
    at: float
    base_url: str
    signature_version: str = "1"
    group_id: str | None = None
    dedup_id: str | None = None
    sequence: str | None = None
    signatures: dict[str, str] = field(default_factory=dict)
    """Signatures by signed text: subscribers that get the same message share one."""

    def text_for(self, protocol: str) -> str:
        if self.structure is None:
            return self.message
        return self.structure.get(protocol, self.structure["default"])

    def envelope(self, signer: Signer, protocol: str, subscription_arn: str) -> str:
        doc: dict[str, Any] = {"Type": "Notification", "MessageId": self.message_id}
        if self.sequence is not None:
            doc["SequenceNumber"] = self.sequence
        doc["TopicArn"] = self.topic_arn
        if self.subject is not None:
            doc["Subject"] = self.subject
        doc["Message"] = self.text_for(protocol)
        doc["Timestamp"] = timestamp(self.at)
        # Messages of FIFO topics go out unsigned: AWS leaves out the signature fields.
        if self.sequence is None:
            doc["SignatureVersion"] = self.signature_version
            text = doc["Message"]
            if text not in self.signatures:
                self.signatures[text] = signer.sign(doc, self.signature_version)
            doc["Signature"] = self.signatures[text]
            doc["SigningCertURL"] = self.base_url + CERT_PATH
        doc["UnsubscribeURL"] = (
            f"{self.base_url}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"
        )
        if self.attributes:
            doc["MessageAttributes"] = envelope_attributes(self.attributes)
        return render(doc)


CONFIRMATION_TEXT = {
    "SubscriptionConfirmation": (
        "You have chosen to subscribe to the topic {arn}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message."
    ),
    "UnsubscribeConfirmation": (
        "You have chosen to deactivate subscription {arn}.\n"
        "To cancel this operation and restore the subscription, visit the SubscribeURL "
        "included in this message."
    ),
}


def confirmation(
    signer: Signer,
    kind: str,
    topic_arn: str,
    token: str,
    base_url: str,
    message_id: str,
    about: str | None = None,
) -> str:
    doc: dict[str, Any] = {
        "Type": kind,
        "MessageId": message_id,
        "Token": token,
        "TopicArn": topic_arn,
        "Message": CONFIRMATION_TEXT[kind].format(arn=about or topic_arn),
        "SubscribeURL": (
            f"{base_url}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}"
        ),
        "Timestamp": timestamp(clock.now()),
        "SignatureVersion": "1",
    }
    doc["Signature"] = signer.sign(doc, "1")
    doc["SigningCertURL"] = base_url + CERT_PATH
    return render(doc)


@dataclass
class HttpDelivery:
    """One POST to an HTTP/S endpoint, kept in the store until it is settled so that pending
    retries survive a restart."""

    url: str
    body: str
    headers: dict[str, str]
    policy: dict[str, Any]
    subscription_arn: str
    topic_arn: str
    notification: bool
    """Notifications are counted and dead-lettered; confirmation requests are not."""
    throttle: int | None = None
    """The throttle policy's maxReceivesPerSecond for the subscription, if any."""
    id: int = 0
    attempt: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "url": self.url,
                "body": self.body,
                "headers": self.headers,
                "policy": self.policy,
                "subscription_arn": self.subscription_arn,
                "topic_arn": self.topic_arn,
                "notification": self.notification,
                "throttle": self.throttle,
            }
        )

    @classmethod
    def from_json(cls, text: str, id: int, attempt: int) -> HttpDelivery:
        doc = json.loads(text)
        return cls(**doc, id=id, attempt=attempt)


def retryable(status: int | None) -> bool:
    """Only server errors, throttling and unreachable endpoints are worth retrying; an
    endpoint that refuses the message (other 4xx) fails it at once."""
    return status is None or status >= 500 or status == 429


class HttpDeliverer:
    """Posts the stored deliveries that are due from one background task; ``settle`` records
    each answer (done, or due again later). Waits run on the clock, so advancing it hurries
    retries along."""

    def __init__(
        self,
        due: Callable[[float], list[HttpDelivery]],
        next_due: Callable[[set[int]], float | None],
        settle: Callable[[HttpDelivery, int | None, float], None],
        postpone: Callable[[list[int], float], None],
    ) -> None:
        self._due = due
        self._next_due = next_due
        self._settle = settle
        self._postpone = postpone
        self._throttle = Throttle()
        self._wake = asyncio.Event()
        self._busy: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._runner = asyncio.get_running_loop().create_task(self._run())

    def clock_moved(self) -> None:
        self._wake.set()

    def poke(self) -> None:
        # Called inside the request's transaction: look once the handler has returned and
        # the delivery is committed.
        asyncio.get_running_loop().call_soon(self._wake.set)

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._runner] if self._runner else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                due = self._start_due()
            except Exception:
                # A store error must not end deliveries for good: look again a little later.
                log.exception("looking for due HTTP/S deliveries")
                due = clock.now() + 1.0
            timeout = None if due is None else max(due - clock.now(), 0.05)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    def _start_due(self) -> float | None:
        """Starts an attempt for each due delivery not already under way; answers when the
        next one is due. Deliveries over their subscription's receive rate are put off to
        the next second of the clock, so they neither hold up others nor keep this busy."""
        now = clock.now()
        held = []
        for delivery in self._due(now):
            if delivery.id in self._busy:
                continue
            if not self._throttle.admit(delivery.subscription_arn, delivery.throttle, now):
                held.append(delivery.id)
                continue
            self._busy.add(delivery.id)
            task = asyncio.get_running_loop().create_task(self._attempt(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if held:
            self._postpone(held, float(int(now) + 1))
        return self._next_due(self._busy)

    async def _attempt(self, delivery: HttpDelivery) -> None:
        # The next retry counts from the attempt's start: the clock may move while the POST is
        # answered, and a retry must not slide by however far it moved meanwhile.
        started = clock.now()
        try:
            status = await asyncio.to_thread(_post, delivery.url, delivery.body, delivery.headers)
            self._settle(delivery, status, started)
        except Exception:
            log.exception("settling delivery to %s", delivery.url)
        finally:
            self._busy.discard(delivery.id)
            self._wake.set()


def _post(url: str, body: str, headers: dict[str, str]) -> int | None:
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (OSError, ValueError):
        return None
