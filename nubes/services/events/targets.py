"""Delivery to the targets of EventBridge rules and EventBridge Scheduler schedules, in one
place: SQS (FIFO with a message group), SNS, Lambda (asynchronous invoke), CloudWatch Logs log
groups, event buses (forwarding, or Scheduler's PutEvents template), and Scheduler's universal
``aws-sdk`` targets. Every call goes through the target service's provider, inside the caller's
transaction.

A failed call is retried with exponential back-off (and jitter) while the target's RetryPolicy
allows, from a durable table; errors that retrying cannot fix (the target does not exist, bad
parameters) go to the dead-letter queue at once, as AWS does. Exhausted or unfixable deliveries
land in the target's DeadLetterConfig queue with AWS's message attributes, or are dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import parse_arn
from nubes.core.metrics import Datapoint
from nubes.protocol.base import ServiceError
from nubes.services.events.api_destinations import HttpCall, perform
from nubes.services.events.errors import DeliveryFailed
from nubes.services.events.transform import render_context
from nubes.store import Store

if TYPE_CHECKING:
    from nubes.app import Environment

log = logging.getLogger("nubes.events")

MIGRATIONS = (
    """
    CREATE TABLE target_retries (
        id INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,
        next_at REAL NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX target_retries_due ON target_retries (owner, next_at);
    """,
)

DEFAULT_MAX_ATTEMPTS = 185
DEFAULT_MAX_AGE = 86_400
MAX_BACKOFF = 300.0
LEASE = 60.0
"""How long an HTTP call in flight holds its delivery before a retry may take it over."""
_RETRIABLE = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "KMSThrottlingException",
}


METRICS = {
    "events": (
        "AWS/Events",
        {
            "delivered": ("Invocations",),
            "failed": ("Invocations", "FailedInvocations"),
            "dead-lettered": ("Invocations", "FailedInvocations", "InvocationsSentToDLQ"),
            "dead-letter-failed": (
                "Invocations",
                "FailedInvocations",
                "InvocationsFailedToBeSentToDLQ",
            ),
        },
    ),
    "scheduler": (
        "AWS/Scheduler",
        {
            "delivered": ("InvocationAttemptCount",),
            "failed": ("InvocationAttemptCount", "TargetErrorCount", "InvocationDroppedCount"),
            "dead-lettered": (
                "InvocationAttemptCount",
                "TargetErrorCount",
                "InvocationsSentToDeadLetterCount",
            ),
            "dead-letter-failed": (
                "InvocationAttemptCount",
                "TargetErrorCount",
                "InvocationsFailedToBeSentToDeadLetterCount",
            ),
        },
    ),
}
"""Namespace and the metrics each final outcome of a delivery counts, per owner."""


def has_pending(store: Store, owner: str) -> bool:
    """Whether ``owner`` has deliveries waiting for a retry (work to resume after a restart)."""
    if not store.scalar(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'target_retries'"
    ):
        return False
    return bool(store.scalar("SELECT 1 FROM target_retries WHERE owner = ? LIMIT 1", (owner,)))


@dataclass
class Delivery:
    """One payload for one target, with what a retry or a dead letter needs."""

    account: str
    region: str
    target: dict[str, Any]
    payload: str
    dlq_body: str
    dlq_attributes: dict[str, str]
    """Attributes naming the source (RULE_ARN or SCHEDULE_ARN ...); errors are added."""
    event: dict[str, Any] | None = None
    """The event itself, when a bus target forwards it unchanged."""
    dedup_id: str = ""
    dimensions: dict[str, str] = field(default_factory=dict)
    """The CloudWatch dimensions its outcome is counted under (RuleName ...)."""
    first_at: float = field(default_factory=clock.now)
    attempts: int = 0
    context: dict[str, str] | None = None
    """Scheduler's context attributes: the payload is rendered from the target's Input with
    them at each attempt (``<aws.scheduler.attempt-number>`` counts the attempts)."""


class Targets:
    """Delivery for one owner ("events" or "scheduler"); the owner's provider calls
    :meth:`retry_due` from its periodic tick."""

    def __init__(
        self,
        env: Environment,
        owner: str,
        forward: Callable[[Delivery, str], None] | None = None,
        http: Callable[[str, str, Mapping[str, Any]], HttpCall] | None = None,
    ) -> None:
        self.env = env
        self.owner = owner
        self.forward = forward
        """How an event reaches another bus (the EventBridge provider's routing)."""
        self.http = http
        """What calling an API destination sends (the EventBridge provider's connections)."""
        self._calls: set[asyncio.Task[None]] = set()
        self._slots: dict[str, float] = {}
        """Per API destination, the (monotonic) time its next call may leave."""
        env.state.store.migrate("targets", MIGRATIONS)

    # -- delivering -----------------------------------------------------------------------

    def deliver(self, delivery: Delivery) -> bool:
        """Send now; on failure schedule a retry or dead-letter it. True when delivered."""
        delivery.attempts += 1
        if delivery.context is not None:
            context = {**delivery.context, "aws.scheduler.attempt-number": str(delivery.attempts)}
            delivery.payload = delivery.dlq_body = render_context(
                delivery.target.get("Input") or "{}", context
            )
        try:
            call = self.send(delivery)
        except DeliveryFailed as failed:
            self._failed(delivery, failed)
            return False
        if call is not None:
            self._later(delivery, call)
            return True
        self._count(delivery, "delivered")
        return True

    def _later(self, delivery: Delivery, call: HttpCall) -> None:
        """An HTTP call leaves once the caller's transaction has committed, on a thread, and
        no sooner than the destination's rate allows. Until it is answered a lease row stands
        for it (committed with the event): a kill before the answer leaves a retry behind."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._failed(delivery, DeliveryFailed("SDK_CLIENT_ERROR", "No event loop", True))
            return
        now = time.monotonic()
        slot = max(now, self._slots.get(call.destination_arn, now))
        self._slots[call.destination_arn] = slot + 1.0 / max(call.rate, 1.0)
        wait = slot - now
        lease = self.env.state.store.insert(
            "INSERT INTO target_retries (owner, next_at, doc) VALUES (?, ?, ?)",
            (self.owner, clock.now() + wait + LEASE, json.dumps(asdict(delivery))),
        )
        task = loop.create_task(self._call(delivery, call, wait, lease))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _call(self, delivery: Delivery, call: HttpCall, wait: float, lease: int) -> None:
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            await asyncio.to_thread(perform, call)
        except DeliveryFailed as failed:
            with self.env.state.store.transaction():
                self._release(lease)
                self._failed(delivery, failed)
            return
        with self.env.state.store.transaction():
            self._release(lease)
        self._count(delivery, "delivered")

    def _release(self, lease: int) -> None:
        self.env.state.store.execute("DELETE FROM target_retries WHERE id = ?", (lease,))

    async def stop(self) -> None:
        for task in list(self._calls):
            task.cancel()

    def _count(self, delivery: Delivery, outcome: str) -> None:
        namespace, names = METRICS[self.owner]
        self.env.metrics.publish_many(
            Datapoint(
                delivery.account,
                delivery.region,
                namespace,
                name,
                1.0,
                "Count",
                dict(delivery.dimensions),
            )
            for name in names[outcome]
        )

    def retry_due(self, now: float) -> None:
        store = self.env.state.store
        rows = store.query(
            "SELECT id, doc FROM target_retries WHERE owner = ? AND next_at <= ? "
            "ORDER BY next_at LIMIT 500",
            (self.owner, now),
        )
        for row in rows:
            store.execute("DELETE FROM target_retries WHERE id = ?", (row["id"],))
            self.deliver(Delivery(**json.loads(row["doc"])))

    def _failed(self, delivery: Delivery, failed: DeliveryFailed) -> None:
        policy = delivery.target.get("RetryPolicy") or {}
        max_attempts = policy.get("MaximumRetryAttempts", DEFAULT_MAX_ATTEMPTS)
        max_age = policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE)
        retries = delivery.attempts - 1
        age = clock.now() - delivery.first_at
        exhausted = ""
        if not failed.retriable:
            pass  # retrying cannot help: straight to the dead-letter queue, without a condition
        elif retries >= max_attempts:
            exhausted = "MaximumRetryAttempts"
        else:
            delay = min(2.0**retries, MAX_BACKOFF) * random.uniform(0.5, 1.0)
            if age + delay > max_age:
                exhausted = "MaximumEventAgeInSeconds"
            else:
                self.env.state.store.insert(
                    "INSERT INTO target_retries (owner, next_at, doc) VALUES (?, ?, ?)",
                    (self.owner, clock.now() + delay, json.dumps(asdict(delivery))),
                )
                return
        self._dead_letter(delivery, failed, exhausted, retries)

    def _dead_letter(
        self, delivery: Delivery, failed: DeliveryFailed, exhausted: str, retries: int
    ) -> None:
        dlq = (delivery.target.get("DeadLetterConfig") or {}).get("Arn")
        if not dlq:
            self._count(delivery, "failed")
            log.info(
                "%s: delivery to %s dropped: %s",
                self.owner,
                delivery.target.get("Arn"),
                failed.message,
            )
            return
        attributes = {
            **delivery.dlq_attributes,
            "ERROR_CODE": failed.code,
            "ERROR_MESSAGE": failed.message,
            "RETRY_ATTEMPTS": str(retries),
            "TARGET_ARN": str(delivery.target.get("Arn", "")),
        }
        if exhausted:
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        try:
            self._sqs(
                dlq,
                delivery.dlq_body,
                {},
                "",
                {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items() if v},
            )
        except DeliveryFailed as lost:
            self._count(delivery, "dead-letter-failed")
            log.warning("%s: dead-letter queue %s refused: %s", self.owner, dlq, lost.message)
            return
        self._count(delivery, "dead-lettered")

    # -- one call to a target ----------------------------------------------------------------

    def send(self, delivery: Delivery) -> HttpCall | None:
        """Call the target; an HTTP call to make after the transaction is returned instead."""
        target = delivery.target
        arn = str(target.get("Arn", ""))
        try:
            parsed = parse_arn(arn)
        except ValueError:
            raise DeliveryFailed("InvalidArn", f"Invalid target ARN {arn}", False) from None
        service = parsed.service
        try:
            if service == "sqs":
                self._sqs(
                    arn, delivery.payload, target.get("SqsParameters") or {}, delivery.dedup_id
                )
            elif service == "sns":
                self._invoke(
                    "sns",
                    "Publish",
                    _sns_params(arn, delivery.payload, target, delivery.dedup_id),
                    parsed.account,
                    parsed.region,
                )
            elif service == "lambda":
                self._invoke(
                    "lambda",
                    "Invoke",
                    {
                        "FunctionName": arn,
                        "InvocationType": "Event",
                        "Payload": delivery.payload.encode(),
                    },
                    parsed.account,
                    parsed.region,
                )
            elif service == "firehose":
                self._invoke(
                    "firehose",
                    "PutRecord",
                    {
                        "DeliveryStreamName": parsed.resource.split("/", 1)[-1],
                        "Record": {"Data": delivery.payload.encode()},
                    },
                    parsed.account,
                    parsed.region,
                )
            elif service == "logs":
                self._logs(parsed.account, parsed.region, parsed.resource, delivery)
            elif service == "events" and parsed.resource.startswith("event-bus/"):
                self._bus(arn, delivery)
            elif service == "events" and parsed.resource.startswith("api-destination/"):
                if self.http is None:
                    raise DeliveryFailed(
                        "UnsupportedTarget", "API destinations need EventBridge", False
                    )
                return self.http(arn, delivery.payload, target.get("HttpParameters") or {})
            elif service == "scheduler" and parsed.resource.startswith("aws-sdk:"):
                self._universal(parsed.resource, delivery)
            elif service == "states" and parsed.resource.startswith("stateMachine:"):
                # A state machine target starts an execution with the event as its input.
                self._invoke(
                    "stepfunctions",
                    "StartExecution",
                    {"stateMachineArn": arn, "input": delivery.payload or "{}"},
                    parsed.account,
                    parsed.region,
                )
            else:
                raise DeliveryFailed(
                    "UnsupportedTarget", f"Targets of service {service} are not supported.", False
                )
        except ServiceError as exc:
            retriable = exc.code in _RETRIABLE or (exc.status >= 500 and exc.status != 501)
            raise DeliveryFailed(exc.code, exc.message, retriable) from None
        return None

    def _invoke(
        self, service: str, operation: str, params: dict[str, Any], account: str, region: str
    ) -> Any:
        return self.env.providers.invoke(service, operation, params, account, region)

    def _sqs(
        self,
        arn: str,
        body: str,
        sqs_params: Mapping[str, Any],
        dedup_id: str,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        parsed = parse_arn(arn)
        url = self._invoke(
            "sqs",
            "GetQueueUrl",
            {"QueueName": parsed.resource, "QueueOwnerAWSAccountId": parsed.account},
            parsed.account,
            parsed.region,
        )["QueueUrl"]
        params: dict[str, Any] = {"QueueUrl": url, "MessageBody": body}
        if parsed.resource.endswith(".fifo"):
            params["MessageGroupId"] = sqs_params.get("MessageGroupId") or ""
            if dedup_id:
                params["MessageDeduplicationId"] = dedup_id
        if attributes:
            params["MessageAttributes"] = dict(attributes)
        self._invoke("sqs", "SendMessage", params, parsed.account, parsed.region)

    def _logs(self, account: str, region: str, resource: str, delivery: Delivery) -> None:
        group = resource.removeprefix("log-group:").removesuffix(":*")
        stream = (delivery.event or {}).get("id") or delivery.dedup_id or "events"
        try:
            self._invoke(
                "logs",
                "CreateLogStream",
                {"logGroupName": group, "logStreamName": stream},
                account,
                region,
            )
        except ServiceError as exc:
            if exc.code != "ResourceAlreadyExistsException":
                raise
        timestamp, message = _log_record(delivery.payload)
        self._invoke(
            "logs",
            "PutLogEvents",
            {
                "logGroupName": group,
                "logStreamName": stream,
                "logEvents": [{"timestamp": timestamp, "message": message}],
            },
            account,
            region,
        )

    def _bus(self, arn: str, delivery: Delivery) -> None:
        params = delivery.target.get("EventBridgeParameters")
        if params is not None or delivery.event is None:
            # Scheduler's templated PutEvents target: the Input is the event's detail.
            parsed = parse_arn(arn)
            entry = {
                "EventBusName": arn,
                "Source": (params or {}).get("Source", ""),
                "DetailType": (params or {}).get("DetailType", ""),
                "Detail": delivery.payload,
            }
            out = self._invoke(
                "events", "PutEvents", {"Entries": [entry]}, delivery.account, parsed.region
            )
            if out.get("FailedEntryCount"):
                failed = out["Entries"][0]
                raise DeliveryFailed(failed["ErrorCode"], failed["ErrorMessage"], False)
            return
        if self.forward is None:
            raise DeliveryFailed("UnsupportedTarget", "Event bus targets need EventBridge", False)
        self.forward(delivery, arn)

    def _universal(self, resource: str, delivery: Delivery) -> None:
        """``arn:aws:scheduler:::aws-sdk:<service>:<apiAction>``: the Input is the request."""
        _, service, action = [*resource.split(":"), "", ""][:3]
        operation = action[:1].upper() + action[1:]
        try:
            params = json.loads(delivery.payload or "{}")
        except ValueError:
            raise DeliveryFailed("ValidationException", "Input is not valid JSON", False) from None
        if not isinstance(params, dict):
            raise DeliveryFailed("ValidationException", "Input must be a JSON object", False)
        self._invoke(service, operation, params, delivery.account, delivery.region)


def _log_record(payload: str) -> tuple[int, str]:
    """A log group target's record: an input of the form ``{"timestamp": ..., "message": ...}``
    (what input transformers for log groups produce) gives the record's time and text; any
    other input is the message, stamped now."""
    now = int(clock.now() * 1000)
    try:
        doc = json.loads(payload)
    except ValueError:
        return now, payload
    if not isinstance(doc, dict) or set(doc) != {"timestamp", "message"}:
        return now, payload
    message = doc["message"]
    text = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))
    stamp = doc["timestamp"]
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        return int(stamp), text
    try:
        parsed = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return now, text
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000), text


def _sns_params(arn: str, message: str, target: Mapping[str, Any], dedup_id: str) -> dict[str, Any]:
    params: dict[str, Any] = {"TopicArn": arn, "Message": message}
    if arn.endswith(".fifo"):
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        params["MessageGroupId"] = group or "default"
        params["MessageDeduplicationId"] = dedup_id or hashlib.sha256(message.encode()).hexdigest()
    return params
