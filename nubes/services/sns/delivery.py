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
from nubes.services.sns.signing import CERT_PATH, Signer

log = logging.getLogger("nubes.sns")

# AWS's default HTTP/S delivery policy: three retries, twenty seconds apart.
DEFAULT_HTTP_POLICY = {
    "minDelayTarget": 20,
    "maxDelayTarget": 20,
    "numRetries": 3,
    "numMaxDelayRetries": 0,
    "numNoDelayRetries": 0,
    "numMinDelayRetries": 0,
    "backoffFunction": "linear",
}


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
    url: str
    body: str
    headers: dict[str, str]
    policy: dict[str, Any]
    on_failure: Callable[[], None] | None = None
    on_success: Callable[[], None] | None = None


def retry_delays(policy: Mapping[str, Any]) -> list[float]:
    """Seconds to wait before each retry: immediate ones, then min-delay ones, then the
    backoff phase between minDelayTarget and maxDelayTarget, then max-delay ones."""
    retries = int(policy.get("numRetries", 3))
    no_delay = int(policy.get("numNoDelayRetries", 0))
    min_delay = float(policy.get("minDelayTarget", 20))
    max_delay = float(policy.get("maxDelayTarget", 20))
    at_min = int(policy.get("numMinDelayRetries", 0))
    at_max = int(policy.get("numMaxDelayRetries", 0))
    backoff = max(retries - no_delay - at_min - at_max, 0)
    delays = [0.0] * no_delay + [min_delay] * at_min
    for i in range(backoff):
        step = (i + 1) / backoff
        delays.append(min_delay + (max_delay - min_delay) * step)
    delays += [max_delay] * at_max
    return delays[:retries]


class HttpDeliverer:
    """Posts notifications from background tasks; waits between retries run on the clock, so
    advancing it hurries them along."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._tick = asyncio.Event()

    def clock_moved(self) -> None:
        self._tick.set()
        self._tick = asyncio.Event()

    def submit(self, delivery: HttpDelivery) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver(self, delivery: HttpDelivery) -> None:
        for delay in [0.0, *retry_delays(delivery.policy)]:
            await self._sleep(delay)
            status = await asyncio.to_thread(_post, delivery.url, delivery.body, delivery.headers)
            if status is not None and 200 <= status < 300:
                if delivery.on_success is not None:
                    delivery.on_success()
                return
            # Only server errors, throttling and unreachable endpoints are worth retrying; an
            # endpoint that refuses the message (other 4xx) fails it at once.
            if status is not None and status < 500 and status != 429:
                break
        log.info("delivery to %s failed after retries", delivery.url)
        if delivery.on_failure is not None:
            delivery.on_failure()

    async def _sleep(self, seconds: float) -> None:
        deadline = clock.now() + seconds
        while clock.now() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._tick.wait(), timeout=deadline - clock.now())


def _post(url: str, body: str, headers: dict[str, str]) -> int | None:
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (OSError, ValueError):
        return None
