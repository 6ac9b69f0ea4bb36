"""Asynchronous invocation (InvocationType=Event): a queue in the store, so events survive a
restart, worked off in the background with AWS's retry rules, maximum event age, on-success /
on-failure destinations (SQS, SNS, Lambda, EventBridge) and the function's dead-letter queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock, ids
from nubes.core.arns import parse_arn
from nubes.protocol.base import ServiceError
from nubes.services.lambda_ import metrics as lambda_metrics
from nubes.services.lambda_.models import LATEST, Scope

if TYPE_CHECKING:
    from nubes.services.lambda_.invoker import Result
    from nubes.services.lambda_.provider import LambdaProvider

log = logging.getLogger("nubes.lambda.async")

DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE = 21_600
RETRY_DELAYS = (60.0, 120.0)
"""AWS waits about a minute before the first retry and two before the second."""
THROTTLE_DELAY = 1.0
BATCH = 20


class AsyncInvocations:
    def __init__(self, provider: LambdaProvider) -> None:
        self.provider = provider
        self.model = provider.model
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._running: dict[int, asyncio.Task[None]] = {}

    def enqueue(self, scope: Scope, name: str, qualifier: str, payload: bytes) -> str:
        """Queue an event invocation (inside the caller's transaction); returns its request id."""
        request_id = ids.request_id()
        self.model.enqueue(
            scope, name, qualifier, request_id, payload.decode() or "{}", clock.now()
        )
        self.poke()
        return request_id

    def poke(self) -> None:
        if self._wake is not None:
            # Wake the loop after the enqueuing transaction has committed.
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon(self._wake.set)

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name="nubes-lambda-async")
        self.provider.env.scheduler.on_advance(self.poke)

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None

    async def _loop(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                with self.provider.store.transaction():
                    due = self.model.due_invocations(clock.now(), BATCH)
                    next_due = self.model.next_due()
            except Exception:
                log.exception("reading the async invocation queue failed")
                due, next_due = [], None
            for row in due:
                if row["id"] not in self._running and len(self._running) < BATCH:
                    task = asyncio.create_task(self._process(dict(row)))
                    self._running[row["id"]] = task
                    task.add_done_callback(self._forget(row["id"]))
            wait = 3600.0 if next_due is None else max(next_due - clock.now(), 0.05)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=min(wait, 5.0))

    def _forget(self, item_id: int) -> Callable[[asyncio.Task[None]], None]:
        def forget(_task: asyncio.Task[None]) -> None:
            self._running.pop(item_id, None)

        return forget

    async def _process(self, item: dict[str, Any]) -> None:
        try:
            await self._attempt(item)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("async invocation %s failed", item["request_id"])
            with self.provider.store.transaction():
                self.model.dequeue(item["id"])

    async def _attempt(self, item: dict[str, Any]) -> None:
        scope = Scope(item["account"], item["region"])
        provider = self.provider
        try:
            with provider.store.transaction():
                target = provider.target(scope, item["name"], item["qualifier"])
                settings = (
                    self.model.setting(scope, item["name"], "invoke", item["qualifier"]) or {}
                )
        except ServiceError:
            with provider.store.transaction():
                self.model.dequeue(item["id"])  # the function is gone
            return
        retries = settings.get("MaximumRetryAttempts", DEFAULT_RETRIES)
        max_age = settings.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE)
        attempts = item["attempts"] + 1
        payload = item["payload"].encode()
        if clock.now() - item["enqueued"] > max_age:
            self._finish(item, target.config, settings, None, "EventAgeExceeded", attempts - 1)
            return
        age_ms = max(clock.now() - item["enqueued"], 0.0) * 1000
        lambda_metrics.record(provider.env, target, "AsyncEventAge", round(age_ms), "Milliseconds")
        try:
            result = await provider.run(target, payload, item["request_id"])
        except ServiceError as err:
            if err.code == "TooManyRequestsException":
                with provider.store.transaction():
                    self.model.reschedule(
                        item["id"], item["attempts"], clock.now() + THROTTLE_DELAY
                    )
                return
            result = None
        if result is not None and result.function_error is None:
            self._finish(item, target.config, settings, result, "Success", attempts)
            return
        if attempts <= retries:
            delay = RETRY_DELAYS[min(attempts - 1, len(RETRY_DELAYS) - 1)]
            with provider.store.transaction():
                self.model.reschedule(item["id"], attempts, clock.now() + delay)
            self.poke()
            return
        self._finish(item, target.config, settings, result, "RetriesExhausted", attempts)

    def _finish(
        self,
        item: dict[str, Any],
        config: dict[str, Any],
        settings: dict[str, Any],
        result: Result | None,
        condition: str,
        attempts: int,
    ) -> None:
        destinations = settings.get("DestinationConfig") or {}
        success = condition == "Success"
        destination = (destinations.get("OnSuccess" if success else "OnFailure") or {}).get(
            "Destination"
        )
        with self.provider.store.transaction():
            self.model.dequeue(item["id"])
        record = _record(item, config, result, condition, attempts)
        if destination:
            self._send(item, destination, json.dumps(record), {})
        dead_letter = (config.get("DeadLetterConfig") or {}).get("TargetArn")
        if not success and dead_letter:
            error = _error_of(result)
            attributes = {
                "RequestID": item["request_id"],
                "ErrorCode": "200",
                "ErrorMessage": error.get("errorMessage", condition)[:1024],
            }
            self._send(item, dead_letter, item["payload"], attributes)

    def _send(
        self, item: dict[str, Any], destination: str, body: str, attributes: dict[str, str]
    ) -> None:
        """Deliver to an SQS queue, SNS topic, Lambda function or EventBridge bus by ARN."""
        try:
            target = parse_arn(destination)
        except ValueError:
            log.warning("not an ARN as async destination: %s", destination)
            return
        invoke = self.provider.env.providers.invoke
        try:
            if target.service == "sqs":
                url = invoke(
                    "sqs",
                    "GetQueueUrl",
                    {"QueueName": target.resource, "QueueOwnerAWSAccountId": target.account},
                    target.account,
                    target.region,
                )["QueueUrl"]
                message: dict[str, Any] = {"QueueUrl": url, "MessageBody": body}
                if attributes:
                    message["MessageAttributes"] = _attributes(attributes)
                invoke("sqs", "SendMessage", message, target.account, target.region)
            elif target.service == "sns":
                publish: dict[str, Any] = {"TopicArn": destination, "Message": body}
                if attributes:
                    publish["MessageAttributes"] = _attributes(attributes)
                invoke("sns", "Publish", publish, target.account, target.region)
            elif target.service == "lambda":
                _, name, *qualifier = target.resource.split(":")
                scope = Scope(target.account, target.region)
                with self.provider.store.transaction():
                    self.enqueue(scope, name, qualifier[0] if qualifier else LATEST, body.encode())
            elif target.service == "events":
                invoke(
                    "events",
                    "PutEvents",
                    {
                        "Entries": [
                            {
                                "Source": "lambda",
                                "DetailType": "Lambda Function Invocation Result",
                                "Detail": body,
                                "EventBusName": destination,
                            }
                        ]
                    },
                    target.account,
                    target.region,
                )
        except ServiceError as err:
            log.warning(
                "async invocation %s: delivery to %s failed: %s",
                item["request_id"],
                destination,
                err,
            )


def _attributes(attributes: dict[str, str]) -> dict[str, dict[str, str]]:
    return {
        k: {"DataType": "Number" if k == "ErrorCode" else "String", "StringValue": v}
        for k, v in attributes.items()
    }


def _error_of(result: Result | None) -> dict[str, Any]:
    if result is None or result.function_error is None:
        return {}
    try:
        document = json.loads(result.payload)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _record(
    item: dict[str, Any],
    config: dict[str, Any],
    result: Result | None,
    condition: str,
    attempts: int,
) -> dict[str, Any]:
    """The invocation record AWS sends to destinations."""
    stamp = datetime.fromtimestamp(clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    function_arn = config["FunctionArn"]
    if item["qualifier"] and not function_arn.endswith(f":{item['qualifier']}"):
        function_arn = f"{function_arn}:{item['qualifier']}"
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": stamp,
        "requestContext": {
            "requestId": item["request_id"],
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": json.loads(item["payload"] or "null"),
    }
    if result is not None:
        response: dict[str, Any] = {
            "statusCode": result.status,
            "executedVersion": result.executed_version,
        }
        if result.function_error:
            response["functionError"] = result.function_error
        record["responseContext"] = response
        try:
            record["responsePayload"] = json.loads(result.payload)
        except ValueError:
            record["responsePayload"] = result.payload.decode(errors="replace")
    return record
