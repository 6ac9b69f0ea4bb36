"""Event notifications: S3 event records sent to the SQS queues, SNS topics and Lambda functions
of a bucket's notification configuration, in-process and inside the request's transaction (an
event is delivered exactly when the change it describes commits)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from nubes.core import clock, ids
from nubes.core.arns import arn_service, partition_of
from nubes.core.events import Event
from nubes.protocol.base import ServiceError
from nubes.services.s3.errors import errors

if TYPE_CHECKING:
    from nubes.core.context import RequestContext
    from nubes.services.s3.base import S3Base
    from nubes.services.s3.models import Bucket

log = logging.getLogger("nubes.s3")

_DESTINATIONS = (
    ("QueueConfigurations", "QueueArn"),
    ("TopicConfigurations", "TopicArn"),
    ("LambdaFunctionConfigurations", "LambdaFunctionArn"),
)


_EVENTBRIDGE_REASONS = {
    "Put": "PutObject",
    "Post": "POST Object",
    "Copy": "CopyObject",
    "CompleteMultipartUpload": "CompleteMultipartUpload",
}
"""EventBridge's ``reason`` for each ``s3:ObjectCreated:*`` event name."""


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(region, account, resource name) of an SQS/SNS/Lambda ARN."""
    parts = arn.split(":")
    return parts[3], parts[4], parts[-1] if parts[2] != "lambda" else parts[6]


def matches(config: dict[str, Any], event: str, key: str) -> bool:
    wanted = config.get("Events") or []
    family = event.split(":")[0]
    if f"s3:{event}" not in wanted and f"s3:{family}:*" not in wanted:
        return False
    rules = ((config.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
    for rule in rules:
        name, value = rule.get("Name", "").lower(), rule.get("Value", "")
        if name == "prefix" and not key.startswith(value):
            return False
        if name == "suffix" and not key.endswith(value):
            return False
    return True


def customer_id(account_id: str) -> str:
    """The account's Amazon customer id, which S3 events name the root user and bucket owners
    by (an upper-case letter-and-digit string like ``A3NL1KOZZKEXAMPLE``, stable per account)."""
    digest = hashlib.sha256(f"nubes-customer-{account_id}".encode()).digest()
    return "A" + base64.b32encode(digest).decode()[:13]


def principal_id(kind: str, user_id: str, account_id: str) -> str:
    """``userIdentity.principalId`` of an S3 event: IAM identities by their unique id (``AWS:``
    and ``AIDA...`` for users, ``AROA...:session`` for roles), the root user by the account's
    customer id, anonymous callers as S3 writes them."""
    if kind == "anonymous" or not user_id:
        return "ANONYMOUS_PRINCIPAL"
    if kind == "root":
        return customer_id(account_id)
    return f"AWS:{user_id}"


class Notifier:
    def __init__(self, provider: S3Base) -> None:
        self.provider = provider
        self._tasks: set[asyncio.Task[Any]] = set()

    def validate(self, ctx: RequestContext, bucket: Bucket, config: dict[str, Any]) -> None:
        """S3 checks each destination exists when the configuration is put (and sends queues
        and topics a test event)."""
        for group, arn_field in _DESTINATIONS:
            for item in config.get(group) or []:
                arn = item.get(arn_field, "")
                try:
                    if group == "LambdaFunctionConfigurations":
                        region, account, _ = _arn_parts(arn)
                        self.provider.env.providers.invoke(
                            "lambda", "GetFunction", {"FunctionName": arn}, account, region
                        )
                    else:
                        self._send(ctx, arn, self._test_event(ctx, bucket))
                except (ServiceError, IndexError):
                    raise errors.InvalidArgument(
                        "Unable to validate the following destination configurations",
                        ArgumentName=arn,
                        ArgumentValue="The destination does not exist or is not reachable",
                    ) from None

    def _test_event(self, ctx: RequestContext, bucket: Bucket) -> str:
        return json.dumps(
            {
                "Service": "Amazon S3",
                "Event": "s3:TestEvent",
                "Time": _iso(clock.now()),
                "Bucket": bucket.name,
                "RequestId": ctx.request_id,
                "HostId": ids.s3_host_id(),
            }
        )

    def emit(
        self,
        ctx: RequestContext,
        bucket: Bucket,
        event: str,
        key: str,
        size: int | None = None,
        etag: str | None = None,
        version_id: str | None = None,
    ) -> None:
        config = self.provider.db.config(bucket.name, "notification")
        if not config:
            return
        if "EventBridgeConfiguration" in config:
            self._to_eventbridge(ctx, bucket, event, key, size, etag, version_id)
        for group, arn_field in _DESTINATIONS:
            for item in config.get(group) or []:
                if not matches(item, event, key):
                    continue
                record = self._record(ctx, bucket, event, key, size, etag, version_id)
                record["s3"]["configurationId"] = item.get("Id", "")
                try:
                    self._send(ctx, item[arn_field], json.dumps({"Records": [record]}))
                except Exception:  # a lost notification never fails the request
                    log.warning("S3 notification to %s failed", item[arn_field], exc_info=True)

    def _to_eventbridge(
        self,
        ctx: RequestContext,
        bucket: Bucket,
        event: str,
        key: str,
        size: int | None,
        etag: str | None,
        version_id: str | None,
    ) -> None:
        """The event EventBridge gets for a bucket with EventBridge notifications on (AWS's
        ``Object Created`` / ``Object Deleted`` shapes, on the bucket's default bus)."""
        family, _, kind = event.partition(":")
        if family not in ("ObjectCreated", "ObjectRemoved"):
            return
        obj: dict[str, Any] = {"key": key}
        if size is not None:
            obj["size"] = size
        if etag is not None:
            obj["etag"] = etag.strip('"')
        if version_id and version_id != "null":
            obj["version-id"] = version_id
        obj["sequencer"] = f"{int(clock.now() * 1e6):016X}"
        detail: dict[str, Any] = {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": obj,
            "request-id": ctx.request_id,
            "requester": ctx.account_id,
            "source-ip-address": ctx.request.client_ip or "127.0.0.1",
            "reason": _EVENTBRIDGE_REASONS.get(kind, "DeleteObject"),
        }
        if family == "ObjectRemoved":
            detail["deletion-type"] = (
                "Delete Marker Created" if kind == "DeleteMarkerCreated" else "Permanently Deleted"
            )
        self.provider.env.events.emit(
            Event(
                account_id=bucket.account_id,
                region=bucket.region,
                source="aws.s3",
                detail_type="Object Created" if family == "ObjectCreated" else "Object Deleted",
                detail=detail,
                resources=(f"arn:{partition_of(bucket.region)}:s3:::{bucket.name}",),
            )
        )

    def _record(
        self,
        ctx: RequestContext,
        bucket: Bucket,
        event: str,
        key: str,
        size: int | None,
        etag: str | None,
        version_id: str | None,
    ) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "key": quote_plus(key, safe="/"),
            "sequencer": f"{int(clock.now() * 1e6):016X}",
        }
        if size is not None:
            obj["size"] = size
        if etag is not None:
            obj["eTag"] = etag.strip('"')
        if version_id and version_id != "null":
            obj["versionId"] = version_id
        principal = principal_id(ctx.principal.kind, ctx.principal.user_id, ctx.account_id)
        return {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": bucket.region,
            "eventTime": _iso(clock.now()),
            "eventName": event,
            "userIdentity": {"principalId": principal},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {
                "x-amz-request-id": ctx.request_id,
                "x-amz-id-2": ids.s3_host_id(),
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "",
                "bucket": {
                    "name": bucket.name,
                    "ownerIdentity": {"principalId": customer_id(bucket.account_id)},
                    "arn": f"arn:{partition_of(bucket.region)}:s3:::{bucket.name}",
                },
                "object": obj,
            },
        }

    def _send(self, ctx: RequestContext, arn: str, message: str) -> None:
        region, account, name = _arn_parts(arn)
        invoke = self.provider.env.providers.invoke
        if arn_service(arn) == "sqs":
            url = invoke(
                "sqs",
                "GetQueueUrl",
                {"QueueName": name, "QueueOwnerAWSAccountId": account},
                account,
                region,
            )["QueueUrl"]
            invoke("sqs", "SendMessage", {"QueueUrl": url, "MessageBody": message}, account, region)
        elif arn_service(arn) == "sns":
            invoke(
                "sns",
                "Publish",
                {"TopicArn": arn, "Message": message, "Subject": "Amazon S3 Notification"},
                account,
                region,
            )
        elif arn_service(arn) == "lambda":
            self._invoke_lambda(ctx, arn, message, account, region)

    def _invoke_lambda(
        self, ctx: RequestContext, arn: str, message: str, account: str, region: str
    ) -> None:
        """Lambda's Invoke is a coroutine: it runs as a task of its own, after this request's
        transaction has committed, as an asynchronous (Event) invocation."""
        target = dataclasses.replace(
            ctx,
            service="lambda",
            operation="Invoke",
            account_id=account,
            region=region,
            protocol="internal",
            extras={},
        )
        params = {"FunctionName": arn, "InvocationType": "Event", "Payload": message.encode()}
        task = asyncio.get_running_loop().create_task(
            self.provider.env.providers.dispatch(target, "Invoke", params)
        )
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("S3 notification to Lambda failed: %s", task.exception())
