"""Event source mappings: Lambda polling SQS queues, DynamoDB streams and Kinesis streams for
a function.

One poller task per enabled mapping, reading through the other services' operations
(``env.providers.invoke``); FilterCriteria drop what does not match. SQS: batches up to
BatchSize (collected for at most MaximumBatchingWindowInSeconds), up to
ScalingConfig.MaximumConcurrency in flight, messages deleted when the function succeeds, only
the failed ones kept with ``ReportBatchItemFailures``; kept messages come back after their
visibility timeout and reach the queue's dead-letter queue through its redrive policy.
Streams (DynamoDB and Kinesis, the same model): records of each shard from the starting
position, a child shard only once its parents are read to their end, one batch per shard at a
time (collected for at most MaximumBatchingWindowInSeconds), split by partition key over
ParallelizationFactor concurrent invocations, retried (from the reported checkpoint, bisecting
on error when asked) up to MaximumRetryAttempts, then sent to the on-failure destination and
skipped; records older than MaximumRecordAgeInSeconds go there unprocessed. The position is
kept in the mapping so a restart resumes where it was.

A mapping's State moves as AWS reports it: Creating, Enabling, Disabling, Updating last
:data:`STATE_SECONDS` on the one clock before Enabled or Disabled; a deleted mapping stays
Deleting as long, then is gone. Only an Enabled (or Updating, once enabled) mapping polls.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import uuid as uuids
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock, ids, safejson
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
STATE_SECONDS = 1.0
"""How long a mapping stays Creating, Enabling, Disabling, Updating or Deleting (AWS: seconds)."""
INTERNAL = ("_position", "_finished", "_settles", "_enabled")
STREAM_KINDS = ("dynamodb", "kinesis")
STREAM_READ_MAX = {"dynamodb": 1000, "kinesis": 10_000}
"""The most records one GetRecords returns (a batch larger than that is read in parts)."""


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


def settled(doc: dict[str, Any], now: float) -> dict[str, Any]:
    """The mapping as it is at ``now``: a transition whose time has passed has ended (a
    Deleting one ends in removal, which the caller does)."""
    state = doc.get("State")
    if state in ("Creating", "Enabling", "Disabling", "Updating") and now >= doc.get("_settles", 0):
        return {**doc, "State": "Enabled" if enabled(doc) else "Disabled"}
    return doc


def enabled(doc: dict[str, Any]) -> bool:
    """Whether the mapping is (or is becoming) enabled."""
    return bool(doc.get("_enabled", doc.get("State") != "Disabled"))


def gone(doc: dict[str, Any], now: float) -> bool:
    return doc.get("State") == "Deleting" and now >= doc.get("_settles", 0)


def polling(doc: dict[str, Any]) -> bool:
    """Whether a (settled) mapping reads its source: enabled, or updating while enabled."""
    return doc["State"] == "Enabled" or (doc["State"] == "Updating" and enabled(doc))


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
        if kind == "kinesis":
            self._check_kinesis_source(source)
        function_arn = scope.function_arn(name, qualifier)
        for row in self.model.event_sources(scope, function_arn):
            existing = json.loads(row["doc"])
            if existing["EventSourceArn"] == source and existing["State"] != "Deleting":
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
        now = clock.now()
        doc["State"] = "Creating"
        doc["_enabled"] = bool(req.get("Enabled", True))
        doc["_settles"] = now + STATE_SECONDS
        doc["LastModified"] = now
        if kind in STREAM_KINDS:
            doc["_position"] = self._starting_positions(kind, _stream_arn(source), doc)
        self.model.put_event_source(scope, uuid, function_arn, doc)
        if req.get("Tags"):
            self.env.tags.set(doc["EventSourceMappingArn"], req["Tags"])
        self.wake_pollers()
        return public(doc)

    def _check_kinesis_source(self, source: str) -> None:
        """The stream (or the consumer) must exist, as Lambda checks."""
        arn = parse_arn(source)
        stream_arn = _stream_arn(source)
        if stream_arn != source:
            operation, request = "DescribeStreamConsumer", {"ConsumerARN": source}
        else:
            operation, request = "DescribeStreamSummary", {"StreamARN": source}
        try:
            self.env.providers.invoke("kinesis", operation, request, arn.account, arn.region)
        except ServiceError:
            raise errors.InvalidParameterValueException(
                f"Stream not found: {source}", Type="User"
            ) from None

    def get_event_source_mapping(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return public(self._mapping(ctx, req["UUID"]))

    def _mapping(self, ctx: RequestContext, uuid: str) -> dict[str, Any]:
        row = self.model.event_source(uuid)
        if row is None or row["account"] != ctx.account_id or row["region"] != ctx.region:
            raise _mapping_not_found(uuid)
        now = clock.now()
        doc = dict(json.loads(row["doc"]))
        if gone(doc, now):
            self.model.delete_event_source(uuid)
            self.env.tags.drop(doc["EventSourceMappingArn"])
            raise _mapping_not_found(uuid)
        return settled(doc, now)

    def update_event_source_mapping(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        doc = self._mapping(ctx, req["UUID"])
        if doc["State"] == "Deleting":
            raise errors.ResourceInUseException(
                "Cannot update the event source mapping because it is in use.", Type="User"
            )
        scope = Scope(ctx.account_id, ctx.region)
        if req.get("FunctionName"):
            _, name, qualifier = self.locate(ctx, req["FunctionName"])
            self.version_of(scope, name, qualifier)
            doc["FunctionArn"] = scope.function_arn(name, qualifier)
        _apply_settings(doc, req, source_kind(doc["EventSourceArn"]), creating=False)
        _check_filters(doc)
        now = clock.now()
        was = enabled(doc)
        now_enabled = bool(req["Enabled"]) if "Enabled" in req else was
        if now_enabled != was:
            doc["State"] = "Enabling" if now_enabled else "Disabling"
        elif doc["State"] != "Creating":
            doc["State"] = "Updating"
        doc["_enabled"] = now_enabled
        doc["_settles"] = now + STATE_SECONDS
        doc["StateTransitionReason"] = "USER_INITIATED"
        doc["LastModified"] = now
        self.model.put_event_source(scope, doc["UUID"], doc["FunctionArn"], doc)
        self.wake_pollers()
        return public(doc)

    def delete_event_source_mapping(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        doc = self._mapping(ctx, req["UUID"])
        if doc["State"] == "Deleting":
            raise errors.ResourceInUseException(
                "Cannot delete the event source mapping because it is in use.", Type="User"
            )
        now = clock.now()
        doc["State"] = "Deleting"
        doc["_settles"] = now + STATE_SECONDS
        doc["StateTransitionReason"] = "USER_INITIATED"
        doc["LastModified"] = now
        self.model.put_event_source(
            Scope(ctx.account_id, ctx.region), doc["UUID"], doc["FunctionArn"], doc
        )
        self.wake_pollers()
        return public(doc)

    def list_event_source_mappings(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope = Scope(ctx.account_id, ctx.region)
        function_arn = None
        if req.get("FunctionName"):
            found_scope, name, qualifier = self.locate(ctx, req["FunctionName"])
            function_arn = found_scope.function_arn(name, qualifier)
        now = clock.now()
        docs = []
        for row in self.model.event_sources(scope, function_arn):
            doc = json.loads(row["doc"])
            if gone(doc, now):
                self.model.delete_event_source(row["uuid"])
                self.env.tags.drop(doc["EventSourceMappingArn"])
            else:
                docs.append(settled(doc, now))
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
            now = clock.now()
            try:
                with self.store.transaction():
                    rows = self.model.event_sources()
                    for row in rows:
                        if gone(json.loads(row["doc"]), now):
                            self.model.delete_event_source(row["uuid"])
                            self.env.tags.drop(json.loads(row["doc"])["EventSourceMappingArn"])
            except Exception:
                log.exception("reading event source mappings failed")
                rows = []
            wanted: dict[str, str] = {}
            for row in rows:
                doc = settled(json.loads(row["doc"]), now)
                if polling(doc) and source_kind(doc["EventSourceArn"]) in ("sqs", *STREAM_KINDS):
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
                doc = settled(json.loads(row["doc"]), clock.now())
                if not polling(doc):
                    return
                scope = Scope(row["account"], row["region"])
                if source_kind(doc["EventSourceArn"]) == "sqs":
                    slots = slots or asyncio.Semaphore(_sqs_concurrency(doc))
                    busy = await self._poll_sqs(scope, doc, slots)
                else:
                    busy = await self._poll_stream(scope, doc)
            except asyncio.CancelledError:
                raise
            except ServiceError as err:
                # The source is gone or refuses: a state the user sees, not a fault of nubes.
                log.debug("event source mapping %s: %s", uuid, err)
                busy = False
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

    # -- streams (DynamoDB and Kinesis) -------------------------------------------------------

    async def _poll_stream(self, scope: Scope, doc: dict[str, Any]) -> bool:
        """One round over the source's shards: read and deliver one batch from each shard whose
        parents are read to their end; True when there were records."""
        kind = source_kind(doc["EventSourceArn"])
        source = _stream_arn(doc["EventSourceArn"])
        region, account = parse_arn(source).region, parse_arn(source).account
        shards = self._stream_shards(kind, source, account, region)
        finished = set(doc.get("_finished") or [])
        known = {s["ShardId"] for s in shards}
        if doc.get("_position") is None:  # a mapping made before nubes fixed it at creation
            self._save_position(
                scope, doc, self._starting_positions(kind, source, doc), sorted(finished & known)
            )
        position = doc["_position"]
        busy = False
        for shard in shards:
            shard_id = shard["ShardId"]
            parents = {shard.get("ParentShardId"), shard.get("AdjacentParentShardId")}
            if shard_id in finished or any(p in known and p not in finished for p in parents if p):
                continue  # done, or its records must wait for its parents' to be delivered
            records, ended = await self._read_shard(kind, source, account, region, doc, shard_id)
            if records:
                busy = True
                await self._handle_stream_batch(scope, doc, kind, records, shard_id)
                position[shard_id] = _sequence_of(kind, records[-1])
            if ended:
                finished.add(shard_id)
            if records or ended:
                self._save_position(scope, doc, position, sorted(finished & known))
        return busy

    def _stream_shards(
        self, kind: str, source: str, account: str, region: str
    ) -> list[dict[str, Any]]:
        invoke = self.env.providers.invoke
        if kind == "kinesis":
            shards: list[dict[str, Any]] = []
            request: dict[str, Any] = {"StreamARN": source}
            while True:
                page = invoke("kinesis", "ListShards", request, account, region)
                shards += page.get("Shards", [])
                if not page.get("NextToken"):
                    return shards
                request = {"NextToken": page["NextToken"]}
        found: list[dict[str, Any]] = invoke(
            "dynamodbstreams", "DescribeStream", {"StreamArn": source}, account, region
        )["StreamDescription"]["Shards"]
        return found

    async def _read_shard(
        self,
        kind: str,
        source: str,
        account: str,
        region: str,
        doc: dict[str, Any],
        shard_id: str,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to BatchSize records of a shard, collected for at most
        MaximumBatchingWindowInSeconds, and whether the shard has ended (closed, all read)."""
        service = "kinesis" if kind == "kinesis" else "dynamodbstreams"
        key = (doc["UUID"], shard_id)
        batch_size = doc.get("BatchSize", 100)
        window_ends = clock.now() + doc.get("MaximumBatchingWindowInSeconds", 0)
        records: list[dict[str, Any]] = []
        while True:
            iterator = self._iterators.get(key)
            if iterator is None:
                iterator = self._new_iterator(kind, source, account, region, doc, shard_id)
            try:
                got = self.env.providers.invoke(
                    service,
                    "GetRecords",
                    {
                        "ShardIterator": iterator,
                        "Limit": min(batch_size - len(records), STREAM_READ_MAX[kind]),
                    },
                    account,
                    region,
                )
            except ServiceError:
                self._iterators.pop(key, None)  # expired: start again from the position
                return records, False
            records += got.get("Records", [])
            if not got.get("NextShardIterator"):
                self._iterators.pop(key, None)
                return records, True
            self._iterators[key] = got["NextShardIterator"]
            if len(records) >= batch_size or clock.now() >= window_ends:
                return records, False
            if not got.get("Records"):
                await asyncio.sleep(min(POLL_INTERVAL, max(window_ends - clock.now(), 0.01)))

    def _new_iterator(
        self,
        kind: str,
        source: str,
        account: str,
        region: str,
        doc: dict[str, Any],
        shard_id: str,
    ) -> str:
        positions = doc.get("_position")
        position = (positions or {}).get(shard_id)
        arn_member = "StreamARN" if kind == "kinesis" else "StreamArn"
        request: dict[str, Any] = {arn_member: source, "ShardId": shard_id}
        if position:
            request["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            request["StartingSequenceNumber" if kind == "kinesis" else "SequenceNumber"] = position
        elif positions is not None and doc.get("StartingPosition", "LATEST") == "LATEST":
            # Nothing read yet of a shard that was empty when the mapping started, or that was
            # born since (a child of a split or a rotation): all of it is new.
            request["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            request["ShardIteratorType"] = doc.get("StartingPosition", "LATEST")
            if request["ShardIteratorType"] == "AT_TIMESTAMP":
                request["Timestamp"] = doc.get("StartingPositionTimestamp")
        service = "kinesis" if kind == "kinesis" else "dynamodbstreams"
        return str(
            self.env.providers.invoke(service, "GetShardIterator", request, account, region)[
                "ShardIterator"
            ]
        )

    def _starting_positions(self, kind: str, source: str, doc: dict[str, Any]) -> dict[str, str]:
        """Where a LATEST mapping starts in each shard, fixed when it is made: a restart before
        its first poll cannot then move the start past records written meanwhile."""
        if doc.get("StartingPosition", "LATEST") != "LATEST":
            return {}
        arn = parse_arn(source)
        return {
            shard["ShardId"]: self._latest_of(
                kind, source, arn.account, arn.region, shard["ShardId"]
            )
            for shard in self._stream_shards(kind, source, arn.account, arn.region)
        }

    def _latest_of(self, kind: str, source: str, account: str, region: str, shard_id: str) -> str:
        """The sequence number of the shard's last record now ("" when it has none)."""
        service = "kinesis" if kind == "kinesis" else "dynamodbstreams"
        arn_member = "StreamARN" if kind == "kinesis" else "StreamArn"
        request = {arn_member: source, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"}
        iterator = self.env.providers.invoke(service, "GetShardIterator", request, account, region)
        last, next_iterator = "", iterator.get("ShardIterator")
        while next_iterator:
            got = self.env.providers.invoke(
                service,
                "GetRecords",
                {"ShardIterator": next_iterator, "Limit": STREAM_READ_MAX[kind]},
                account,
                region,
            )
            if not got.get("Records"):
                break
            last = _sequence_of(kind, got["Records"][-1])
            next_iterator = got.get("NextShardIterator")
        return last

    async def _handle_stream_batch(
        self,
        scope: Scope,
        doc: dict[str, Any],
        kind: str,
        records: list[dict[str, Any]],
        shard_id: str,
    ) -> None:
        """Records past MaximumRecordAgeInSeconds go to the on-failure destination; the rest,
        filtered, to the function, split by partition key over ParallelizationFactor."""
        source = doc["EventSourceArn"]
        region = parse_arn(source).region
        target = self._function_target(scope, doc)
        role = (target.config.get("Role") if target else None) or ""
        events = [_stream_event(kind, r, source, region, role, shard_id) for r in records]
        max_age = doc.get("MaximumRecordAgeInSeconds", -1)
        if max_age is not None and max_age >= 0:
            oldest = clock.now() - max_age
            stale = [e for e in events if _arrival(kind, e) < oldest]
            if stale:
                self._stream_failure(doc, kind, stale, 0, shard_id, "RecordAgeExceeded")
                events = [e for e in events if _arrival(kind, e) >= oldest]
        patterns = event_filter.parse_filters(doc.get("FilterCriteria"))
        events = [e for e in events if event_filter.passes(patterns, _filter_view(kind, e))]
        if not events:
            return
        lanes: dict[int, list[dict[str, Any]]] = {}
        factor = max(int(doc.get("ParallelizationFactor") or 1), 1)
        for event in events:
            lane = _lane(kind, event, factor)
            lanes.setdefault(lane, []).append(event)
        await asyncio.gather(
            *(
                self._deliver_stream_batch(scope, doc, kind, part, shard_id)
                for part in lanes.values()
            )
        )

    def _save_position(
        self, scope: Scope, doc: dict[str, Any], position: dict[str, str], finished: list[str]
    ) -> None:
        doc["_position"] = position
        doc["_finished"] = finished
        with self.store.transaction():
            current = self.model.event_source(doc["UUID"])
            if current is not None:
                stored = json.loads(current["doc"])
                stored["_position"] = position
                stored["_finished"] = finished
                stored["LastProcessingResult"] = doc.get("LastProcessingResult", "OK")
                self.model.put_event_source(scope, doc["UUID"], stored["FunctionArn"], stored)

    async def _deliver_stream_batch(
        self,
        scope: Scope,
        doc: dict[str, Any],
        kind: str,
        events: list[dict[str, Any]],
        shard_id: str,
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
                    failed_at = _stream_checkpoint(kind, result, batch, report_failures)
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
                    self._stream_failure(
                        doc, kind, batch, attempts, shard_id, "RetryAttemptsExhausted"
                    )
                    break
                await asyncio.sleep(POLL_INTERVAL)

    def _stream_failure(
        self,
        doc: dict[str, Any],
        kind: str,
        batch: list[dict[str, Any]],
        attempts: int,
        shard_id: str,
        condition: str,
    ) -> None:
        destination = ((doc.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        if not destination:
            return
        if kind == "kinesis":
            first, last = batch[0]["kinesis"], batch[-1]["kinesis"]
            info_key = "KinesisBatchInfo"
            info: dict[str, Any] = {
                "shardId": shard_id,
                "startSequenceNumber": first["sequenceNumber"],
                "endSequenceNumber": last["sequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first["approximateArrivalTimestamp"]),
                "approximateArrivalOfLastRecord": _iso(last["approximateArrivalTimestamp"]),
            }
        else:
            first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
            info_key = "DDBStreamBatchInfo"
            info = {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": first.get("ApproximateCreationDateTime"),
                "approximateArrivalOfLastRecord": last.get("ApproximateCreationDateTime"),
            }
        info.update({"batchSize": len(batch), "streamArn": _stream_arn(doc["EventSourceArn"])})
        record = {
            "requestContext": {
                "requestId": ids.request_id(),
                "functionArn": doc["FunctionArn"],
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": LATEST,
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.fromtimestamp(clock.now(), UTC).isoformat(),
            info_key: info,
        }
        if condition == "RecordAgeExceeded":
            del record["responseContext"]
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
    if isinstance(doc.get("StartingPositionTimestamp"), datetime):
        doc["StartingPositionTimestamp"] = doc["StartingPositionTimestamp"].timestamp()
    if kind in STREAM_KINDS:
        _check_stream_settings(doc, kind)
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


def _check_stream_settings(doc: dict[str, Any], kind: str) -> None:
    position = doc.get("StartingPosition")
    if position == "AT_TIMESTAMP" and kind != "kinesis":
        raise errors.InvalidParameterValueException(
            f"Unsupported starting position for arn type: {kind}"
        )
    if position == "AT_TIMESTAMP" and doc.get("StartingPositionTimestamp") is None:
        raise errors.InvalidParameterValueException(
            "StartingPositionTimestamp must be provided when StartingPosition is AT_TIMESTAMP."
        )
    age = doc.get("MaximumRecordAgeInSeconds", -1)
    if age != -1 and not 60 <= age <= 604_800:
        raise errors.InvalidParameterValueException(
            "MaximumRecordAgeInSeconds must be -1 (infinite) or between 60 and 604800 seconds."
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
    kind: str, result: Result, batch: list[dict[str, Any]], report_failures: bool
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
    numbers = [_event_sequence(kind, r) for r in batch]
    found = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in numbers:
            return 0  # an unusable report fails the whole batch
        found.append(numbers.index(identifier))
    return min(found)


def _stream_arn(source: str) -> str:
    """The stream a mapping reads: its source, or the stream of a Kinesis consumer."""
    return source.split("/consumer/", 1)[0]


def _sequence_of(kind: str, record: dict[str, Any]) -> str:
    """The sequence number of a record as GetRecords returns it."""
    if kind == "kinesis":
        return str(record["SequenceNumber"])
    return str(record["dynamodb"]["SequenceNumber"])


def _event_sequence(kind: str, event: dict[str, Any]) -> str:
    if kind == "kinesis":
        return str(event["kinesis"]["sequenceNumber"])
    return str(event["dynamodb"]["SequenceNumber"])


def _arrival(kind: str, event: dict[str, Any]) -> float:
    if kind == "kinesis":
        return float(event["kinesis"]["approximateArrivalTimestamp"])
    return float(event["dynamodb"].get("ApproximateCreationDateTime") or clock.now())


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def _lane(kind: str, event: dict[str, Any], factor: int) -> int:
    """Which of ParallelizationFactor concurrent batches an event joins: records with one
    partition key (item key) always share a lane, which keeps their order."""
    if factor == 1:
        return 0
    if kind == "kinesis":
        key = event["kinesis"]["partitionKey"]
    else:
        key = json.dumps(event["dynamodb"].get("Keys"), sort_keys=True)
    return int.from_bytes(hashlib.md5(key.encode()).digest()[:4], "big") % factor


def _filter_view(kind: str, event: dict[str, Any]) -> dict[str, Any]:
    """What a Kinesis record's filter patterns see: the record's fields, its data decoded
    (parsed when it is JSON)."""
    if kind != "kinesis":
        return event
    fields = event["kinesis"]
    try:
        data: Any = safejson.loads(base64.b64decode(fields["data"]))
    except (ValueError, TypeError):
        data = fields["data"]
    return {**event, **fields, "data": data}


def _stream_event(
    kind: str, record: dict[str, Any], source_arn: str, region: str, role: str, shard_id: str
) -> dict[str, Any]:
    if kind == "kinesis":
        return _kinesis_record(record, source_arn, region, role, shard_id)
    return _stream_record(record, source_arn, region)


def _kinesis_record(
    record: dict[str, Any], source_arn: str, region: str, role: str, shard_id: str
) -> dict[str, Any]:
    arrival = record["ApproximateArrivalTimestamp"]
    if isinstance(arrival, datetime):
        arrival = arrival.timestamp()
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": round(float(arrival), 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role,
        "awsRegion": region,
        "eventSourceARN": source_arn,
    }


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
