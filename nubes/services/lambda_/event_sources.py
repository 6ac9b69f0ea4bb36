"""Event source mappings: Lambda polling SQS queues and DynamoDB streams for a function.

One poller task per enabled mapping, reading through the other services' operations
(``env.providers.invoke``); FilterCriteria drop what does not match. SQS: batches up to
BatchSize (collected for at most MaximumBatchingWindowInSeconds), up to
ScalingConfig.MaximumConcurrency in flight, messages deleted when the function succeeds, only
the failed ones kept with ``ReportBatchItemFailures``; kept messages come back after their
visibility timeout and reach the queue's dead-letter queue through its redrive policy.
DynamoDB streams: records from the starting position, one batch at a time, retried (from the
reported checkpoint, bisecting on error when asked) up to MaximumRetryAttempts, then sent to
the on-failure destination and skipped; the position is kept in the mapping so a restart
resumes where it was.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import uuid as uuids
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock, ids
from nubes.core.arns import arn as make_arn
from nubes.core.arns import parse_arn
from nubes.core.context import RequestContext
from nubes.protocol.base import ServiceError
from nubes.services.lambda_ import event_filter
from nubes.services.lambda_.errors import errors
from nubes.services.lambda_.models import LATEST, Scope
from nubes.services.lambda_.parts import FunctionAccess

if TYPE_CHECKING:
    from nubes.services.lambda_.invoker import Result, Target

log = logging.getLogger("nubes.lambda.events")

POLL_INTERVAL = 0.25
"""Seconds between polls of an idle source."""
SYNC_INTERVAL = 0.5
"""Seconds between looks at which mappings exist and are enabled."""
SQS_RECEIVE_MAX = 10
INTERNAL = ("_position",)


def _mapping_not_found(uuid: str) -> ServiceError:
    return errors.ResourceNotFoundException(
        f"The resource you requested does not exist. (Service: Lambda, Status Code: 404, "
        f"Request ID: {uuid})",
        Type="User",
    )


def source_kind(source_arn: str) -> str:
    service = parse_arn(source_arn).service
    if service == "dynamodb" and "/stream/" in source_arn:
        return "dynamodb"
    return service


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in INTERNAL}


class EventSourceMappings(FunctionAccess):
    """Mixed into the Lambda provider."""

    # -- API ---------------------------------------------------------------------------------

    def create_event_source_mapping(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"])
        self.version_of(scope, name, qualifier)
        source = req.get("EventSourceArn")
        if not source:
            raise errors.InvalidParameterValueException(
                "Unrecognized event source, must be kinesis, dynamodb stream, sqs, mq, msk or "
                "self-managed kafka."
            )
        kind = source_kind(source)
        function_arn = scope.function_arn(name, qualifier)
        for row in self.model.event_sources(scope, function_arn):
            if json.loads(row["doc"])["EventSourceArn"] == source:
                raise errors.ResourceConflictException(
                    f'An event source mapping with {kind.upper()} arn (" {source} ") and '
                    f'function (" {name} ") already exists. Please update or delete the '
                    f"existing mapping with UUID {row['uuid']}",
                    Type="User",
                )
        uuid = str(uuids.uuid4())
        doc: dict[str, Any] = {
            "UUID": uuid,
            "EventSourceArn": source,
            "FunctionArn": function_arn,
            "EventSourceMappingArn": make_arn(
                "lambda", scope.region, scope.account, f"event-source-mapping:{uuid}"
            ),
            "StateTransitionReason": "USER_INITIATED",
        }
        _apply_settings(doc, req, kind, creating=True)
        _check_filters(doc)
        doc["State"] = "Enabled" if req.get("Enabled", True) else "Disabled"
        doc["LastModified"] = clock.now()
        self.model.put_event_source(scope, uuid, function_arn, doc)
        if req.get("Tags"):
            self.env.tags.set(doc["EventSourceMappingArn"], req["Tags"])
        self.wake_pollers()
        return {**public(doc), "State": "Creating"}

    def get_event_source_mapping(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return public(self._mapping(ctx, req["UUID"]))

    def _mapping(self, ctx: RequestContext, uuid: str) -> dict[str, Any]:
        row = self.model.event_source(uuid)
        if row is None or row["account"] != ctx.account_id or row["region"] != ctx.region:
            raise _mapping_not_found(uuid)
        return dict(json.loads(row["doc"]))

    def update_event_source_mapping(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        doc = self._mapping(ctx, req["UUID"])
        scope = Scope(ctx.account_id, ctx.region)
        if req.get("FunctionName"):
            _, name, qualifier = self.locate(ctx, req["FunctionName"])
            self.version_of(scope, name, qualifier)
            doc["FunctionArn"] = scope.function_arn(name, qualifier)
        _apply_settings(doc, req, source_kind(doc["EventSourceArn"]), creating=False)
        _check_filters(doc)
        if "Enabled" in req:
            doc["State"] = "Enabled" if req["Enabled"] else "Disabled"
        doc["LastModified"] = clock.now()
        self.model.put_event_source(scope, doc["UUID"], doc["FunctionArn"], doc)
        self.wake_pollers()
        return {**public(doc), "State": "Updating"}

    def delete_event_source_mapping(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        doc = self._mapping(ctx, req["UUID"])
        self.model.delete_event_source(doc["UUID"])
        self.env.tags.drop(doc["EventSourceMappingArn"])
        self.wake_pollers()
        return {**public(doc), "State": "Deleting"}

    def list_event_source_mappings(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope = Scope(ctx.account_id, ctx.region)
        function_arn = None
        if req.get("FunctionName"):
            found_scope, name, qualifier = self.locate(ctx, req["FunctionName"])
            function_arn = found_scope.function_arn(name, qualifier)
        docs = [json.loads(r["doc"]) for r in self.model.event_sources(scope, function_arn)]
        if req.get("EventSourceArn"):
            docs = [d for d in docs if d["EventSourceArn"] == req["EventSourceArn"]]
        start = 0
        if req.get("Marker"):
            with contextlib.suppress(ValueError):
                start = int(req["Marker"])
        limit = min(req.get("MaxItems") or 100, 10_000)
        out: dict[str, Any] = {
            "EventSourceMappings": [public(d) for d in docs[start : start + limit]]
        }
        if start + limit < len(docs):
            out["NextMarker"] = str(start + limit)
        return out

    # -- pollers -----------------------------------------------------------------------------

    def start_pollers(self) -> None:
        self._pollers: dict[str, tuple[str, asyncio.Task[None]]] = {}
        self._iterators: dict[tuple[str, str], str] = {}
        self._batches: set[asyncio.Task[None]] = set()
        self._poll_wake = asyncio.Event()
        self._poll_supervisor = asyncio.create_task(self._supervise(), name="nubes-lambda-esm")

    def wake_pollers(self) -> None:
        wake = getattr(self, "_poll_wake", None)
        if wake is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon(wake.set)

    async def stop_pollers(self) -> None:
        supervisor = getattr(self, "_poll_supervisor", None)
        tasks = [t for _, t in getattr(self, "_pollers", {}).values()]
        tasks.extend(getattr(self, "_batches", ()))
        if supervisor is not None:
            tasks.append(supervisor)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _supervise(self) -> None:
        while True:
            self._poll_wake.clear()
            try:
                with self.store.transaction():
                    rows = self.model.event_sources()
            except Exception:
                log.exception("reading event source mappings failed")
                rows = []
            wanted: dict[str, str] = {}
            for row in rows:
                doc = json.loads(row["doc"])
                if doc["State"] == "Enabled" and source_kind(doc["EventSourceArn"]) in (
                    "sqs",
                    "dynamodb",
                ):
                    wanted[row["uuid"]] = f"{doc['LastModified']}"
            for uuid, (version, task) in list(self._pollers.items()):
                if wanted.get(uuid) != version or task.done():
                    task.cancel()
                    del self._pollers[uuid]
            for uuid, version in wanted.items():
                if uuid not in self._pollers:
                    task = asyncio.create_task(self._poll(uuid), name=f"nubes-esm-{uuid}")
                    self._pollers[uuid] = (version, task)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poll_wake.wait(), timeout=SYNC_INTERVAL)

    async def _poll(self, uuid: str) -> None:
        slots: asyncio.Semaphore | None = None
        while True:
            try:
                with self.store.transaction():
                    row = self.model.event_source(uuid)
                if row is None:
                    return
                doc = json.loads(row["doc"])
                scope = Scope(row["account"], row["region"])
                if source_kind(doc["EventSourceArn"]) == "sqs":
                    slots = slots or asyncio.Semaphore(_sqs_concurrency(doc))
                    busy = await self._poll_sqs(scope, doc, slots)
                else:
                    busy = await self._poll_stream(scope, doc)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event source mapping %s failed", uuid)
                busy = False
            if not busy:
                await asyncio.sleep(POLL_INTERVAL)

    def _function_target(self, scope: Scope, doc: dict[str, Any]) -> Target | None:
        resource = parse_arn(doc["FunctionArn"]).resource.split(":")
        qualifier = resource[2] if len(resource) > 2 else None
        try:
            with self.store.transaction():
                return self.target(scope, resource[1], qualifier)
        except ServiceError:
            return None

    # -- SQS ---------------------------------------------------------------------------------

    async def _poll_sqs(self, scope: Scope, doc: dict[str, Any], slots: asyncio.Semaphore) -> bool:
        """Receive one batch and hand it to the function in the background (up to
        ScalingConfig.MaximumConcurrency batches at once); True when there was one."""
        source = parse_arn(doc["EventSourceArn"])
        url = self.env.providers.invoke(
            "sqs",
            "GetQueueUrl",
            {"QueueName": source.resource, "QueueOwnerAWSAccountId": source.account},
            source.account,
            source.region,
        )["QueueUrl"]
        target = self._function_target(scope, doc)
        if target is None:
            return False  # the function is gone: leave the queue alone
        await slots.acquire()
        try:
            messages = await self._receive_batch(url, source.account, source.region, doc)
        except BaseException:
            slots.release()
            raise
        if not messages:
            slots.release()
            return False
        task = asyncio.create_task(self._process_sqs_batch(target, doc, url, messages))
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)
        task.add_done_callback(lambda _task: slots.release())
        return True

    async def _receive_batch(
        self, url: str, account: str, region: str, doc: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Up to BatchSize messages, collected for at most MaximumBatchingWindowInSeconds."""
        batch_size = doc.get("BatchSize", 10)
        window_ends = clock.now() + doc.get("MaximumBatchingWindowInSeconds", 0)
        messages: list[dict[str, Any]] = []
        while len(messages) < batch_size:
            got = self.env.providers.invoke(
                "sqs",
                "ReceiveMessage",
                {
                    "QueueUrl": url,
                    "MaxNumberOfMessages": min(SQS_RECEIVE_MAX, batch_size - len(messages)),
                    "WaitTimeSeconds": 0,
                    "AttributeNames": ["All"],
                    "MessageSystemAttributeNames": ["All"],
                    "MessageAttributeNames": ["All"],
                },
                account,
                region,
            ).get("Messages", [])
            messages.extend(got)
            if len(messages) >= batch_size or clock.now() >= window_ends:
                break
            if not got:
                await asyncio.sleep(min(POLL_INTERVAL, max(window_ends - clock.now(), 0.01)))
        return messages

    async def _process_sqs_batch(
        self, target: Target, doc: dict[str, Any], url: str, messages: list[dict[str, Any]]
    ) -> None:
        source = parse_arn(doc["EventSourceArn"])
        patterns = event_filter.parse_filters(doc.get("FilterCriteria"))
        records, kept, dropped = [], [], []
        for message in messages:
            record = _sqs_record(message, doc["EventSourceArn"], source.region)
            if event_filter.passes(patterns, event_filter.sqs_view(record)):
                records.append(record)
                kept.append(message)
            else:
                dropped.append(message)  # Lambda deletes what its filters leave out
        self._delete_messages(url, source.account, source.region, dropped)
        if not records:
            return
        try:
            result = await self.run(
                target, json.dumps({"Records": records}).encode(), ids.request_id()
            )
        except ServiceError:
            return  # throttled: the messages come back after their visibility timeout
        done = _sqs_succeeded(result, kept, doc.get("FunctionResponseTypes") or [])
        self._delete_messages(url, source.account, source.region, done)

    def _delete_messages(
        self, url: str, account: str, region: str, messages: list[dict[str, Any]]
    ) -> None:
        for start in range(0, len(messages), SQS_RECEIVE_MAX):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages[start : start + SQS_RECEIVE_MAX])
            ]
            self.env.providers.invoke(
                "sqs", "DeleteMessageBatch", {"QueueUrl": url, "Entries": entries}, account, region
            )

    # -- DynamoDB streams ---------------------------------------------------------------------

    async def _poll_stream(self, scope: Scope, doc: dict[str, Any]) -> bool:
        source = doc["EventSourceArn"]
        region, account = parse_arn(source).region, parse_arn(source).account
        invoke = self.env.providers.invoke
        shards = invoke(
            "dynamodbstreams", "DescribeStream", {"StreamArn": source}, account, region
        )["StreamDescription"]["Shards"]
        position = doc.get("_position") or {}
        busy = False
        for shard in shards:
            shard_id = shard["ShardId"]
            key = (doc["UUID"], shard_id)
            iterator = self._iterators.get(key)
            if iterator is None:
                request: dict[str, Any] = {"StreamArn": source, "ShardId": shard_id}
                if position.get(shard_id):
                    request["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
                    request["SequenceNumber"] = position[shard_id]
                else:
                    request["ShardIteratorType"] = doc.get("StartingPosition", "LATEST")
                iterator = invoke("dynamodbstreams", "GetShardIterator", request, account, region)[
                    "ShardIterator"
                ]
            try:
                got = invoke(
                    "dynamodbstreams",
                    "GetRecords",
                    # A batch may exceed what one GetRecords returns (1000): read it in parts.
                    {"ShardIterator": iterator, "Limit": min(doc.get("BatchSize", 100), 1000)},
                    account,
                    region,
                )
            except ServiceError:
                self._iterators.pop(key, None)  # expired: start again from the position
                continue
            records = got.get("Records", [])
            if records:
                busy = True
                patterns = event_filter.parse_filters(doc.get("FilterCriteria"))
                events = [_stream_record(r, source, region) for r in records]
                events = [e for e in events if event_filter.passes(patterns, e)]
                if events:
                    await self._deliver_stream_batch(scope, doc, events, shard_id)
                position[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                self._save_position(scope, doc, position)
            if got.get("NextShardIterator"):
                self._iterators[key] = got["NextShardIterator"]
            else:
                self._iterators.pop(key, None)
        return busy

    def _save_position(self, scope: Scope, doc: dict[str, Any], position: dict[str, str]) -> None:
        doc["_position"] = position
        with self.store.transaction():
            current = self.model.event_source(doc["UUID"])
            if current is not None:
                stored = json.loads(current["doc"])
                stored["_position"] = position
                stored["LastProcessingResult"] = doc.get("LastProcessingResult", "OK")
                self.model.put_event_source(scope, doc["UUID"], stored["FunctionArn"], stored)

    async def _deliver_stream_batch(
        self, scope: Scope, doc: dict[str, Any], events: list[dict[str, Any]], shard_id: str
    ) -> None:
        """Invoke with the batch; on error retry (from the reported checkpoint with
        ReportBatchItemFailures), bisecting when configured, and give up on a part after
        MaximumRetryAttempts (-1: retry until it works, capped here at 10000)."""
        retries = doc.get("MaximumRetryAttempts", -1)
        limit = 10_000 if retries is None or retries < 0 else retries
        report_failures = "ReportBatchItemFailures" in (doc.get("FunctionResponseTypes") or [])
        pending = [events]
        while pending:
            batch = pending.pop(0)
            attempts = 0
            while batch:
                target = self._function_target(scope, doc)
                if target is None:
                    return
                try:
                    result = await self.run(
                        target, json.dumps({"Records": batch}).encode(), ids.request_id()
                    )
                    failed_at = _stream_checkpoint(result, batch, report_failures)
                except ServiceError:
                    failed_at = 0
                if failed_at is None:
                    doc["LastProcessingResult"] = "OK"
                    break
                doc["LastProcessingResult"] = "PROBLEM: Function call failed"
                batch = batch[failed_at:]
                if doc.get("BisectBatchOnFunctionError") and len(batch) > 1:
                    middle = len(batch) // 2
                    pending[:0] = [batch[:middle], batch[middle:]]
                    break
                attempts += 1
                if attempts > limit:
                    self._stream_failure(doc, batch, attempts, shard_id)
                    break
                await asyncio.sleep(POLL_INTERVAL)

    def _stream_failure(
        self, doc: dict[str, Any], batch: list[dict[str, Any]], attempts: int, shard_id: str
    ) -> None:
        destination = ((doc.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        if not destination:
            return
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        record = {
            "requestContext": {
                "requestId": ids.request_id(),
                "functionArn": doc["FunctionArn"],
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": LATEST,
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.fromtimestamp(clock.now(), UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": first.get("ApproximateCreationDateTime"),
                "approximateArrivalOfLastRecord": last.get("ApproximateCreationDateTime"),
                "batchSize": len(batch),
                "streamArn": doc["EventSourceArn"],
            },
        }
        target = parse_arn(destination)
        invoke = self.env.providers.invoke
        try:
            if target.service == "sqs":
                url = invoke(
                    "sqs",
                    "GetQueueUrl",
                    {"QueueName": target.resource, "QueueOwnerAWSAccountId": target.account},
                    target.account,
                    target.region,
                )["QueueUrl"]
                invoke(
                    "sqs",
                    "SendMessage",
                    {"QueueUrl": url, "MessageBody": json.dumps(record)},
                    target.account,
                    target.region,
                )
            elif target.service == "sns":
                invoke(
                    "sns",
                    "Publish",
                    {"TopicArn": destination, "Message": json.dumps(record)},
                    target.account,
                    target.region,
                )
        except ServiceError as err:
            log.warning("on-failure delivery to %s failed: %s", destination, err)


def _apply_settings(doc: dict[str, Any], req: dict[str, Any], kind: str, creating: bool) -> None:
    if kind == "sqs":
        defaults: dict[str, Any] = {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 0}
        if req.get("StartingPosition"):
            raise errors.InvalidParameterValueException(
                "Unsupported starting position for arn type: sqs"
            )
    else:
        defaults = {
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 0,
            "ParallelizationFactor": 1,
            "MaximumRecordAgeInSeconds": -1,
            "BisectBatchOnFunctionError": False,
            "MaximumRetryAttempts": -1,
            "TumblingWindowInSeconds": 0,
            "DestinationConfig": {"OnFailure": {}},
            "LastProcessingResult": "No records processed",
        }
        if creating and not req.get("StartingPosition"):
            raise errors.InvalidParameterValueException(
                "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
                "constraint: Member must not be null."
            )
    if creating:
        doc.update(defaults)
    for member in (
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "StartingPosition",
        "StartingPositionTimestamp",
        "FunctionResponseTypes",
        "FilterCriteria",
        "ScalingConfig",
        "ParallelizationFactor",
        "MaximumRecordAgeInSeconds",
        "BisectBatchOnFunctionError",
        "MaximumRetryAttempts",
        "DestinationConfig",
        "TumblingWindowInSeconds",
    ):
        if member in req:
            doc[member] = req[member]
    if kind == "sqs":
        size, window = doc["BatchSize"], doc.get("MaximumBatchingWindowInSeconds", 0)
        if size > 10 and not window:
            raise errors.InvalidParameterValueException(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
                "greater than 10"
            )
        if size > 10_000:
            raise errors.InvalidParameterValueException(
                "BatchSize must be less than or equal to 10000 for SQS event sources."
            )


DEFAULT_SQS_CONCURRENCY = 5
"""Batches of one SQS mapping in flight at once when ScalingConfig does not say."""


def _sqs_concurrency(doc: dict[str, Any]) -> int:
    return int(
        (doc.get("ScalingConfig") or {}).get("MaximumConcurrency") or DEFAULT_SQS_CONCURRENCY
    )


def _check_filters(doc: dict[str, Any]) -> None:
    try:
        event_filter.parse_filters(doc.get("FilterCriteria"))
    except event_filter.FilterError as exc:
        raise errors.InvalidParameterValueException(str(exc)) from None


def _sqs_record(message: dict[str, Any], source_arn: str, region: str) -> dict[str, Any]:
    attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        entry: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        attributes[name] = entry
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes") or {},
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _sqs_succeeded(
    result: Result, messages: list[dict[str, Any]], response_types: list[str]
) -> list[dict[str, Any]]:
    """The messages to delete after an invocation."""
    if result.function_error is not None:
        return []
    if "ReportBatchItemFailures" not in response_types:
        return messages
    try:
        response = json.loads(result.payload)
    except ValueError:
        return messages
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return messages
    known = {m["MessageId"] for m in messages}
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in known:
            return []  # an unusable report fails the whole batch, as on AWS
        failed.add(identifier)
    return [m for m in messages if m["MessageId"] not in failed]


def _stream_checkpoint(
    result: Result, batch: list[dict[str, Any]], report_failures: bool
) -> int | None:
    """Where processing of a stream batch has to resume: None when all of it succeeded, else
    the index of the first record to retry (the lowest reported failure's sequence number)."""
    if result.function_error is not None:
        return 0
    if not report_failures:
        return None
    try:
        response = json.loads(result.payload)
    except ValueError:
        return None
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return None
    numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
    found = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in numbers:
            return 0  # an unusable report fails the whole batch
        found.append(numbers.index(identifier))
    return min(found)


def _plain(value: Any) -> Any:
    """A stream record as JSON: binary attribute values base64, times as epoch seconds."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return int(value.timestamp())
    return value


def _stream_record(record: dict[str, Any], source_arn: str, region: str) -> dict[str, Any]:
    event = _plain(record)
    event.setdefault("eventSource", "aws:dynamodb")
    event.setdefault("eventVersion", "1.1")
    event["awsRegion"] = region
    event["eventSourceARN"] = source_arn
    return dict(event)
