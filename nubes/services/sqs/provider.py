"""Amazon Simple Queue Service: standard and FIFO queues, long polling, dead-letter queues and
redrive (message move tasks). Spoken in JSON and, for older clients, the query protocol."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from nubes.core import clock
from nubes.core.arns import parse_arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.core.tags import tag_problems
from nubes.protocol.base import ServiceError
from nubes.services.base import ServiceProvider
from nubes.services.sqs import attributes as qattrs
from nubes.services.sqs import messages as msgs
from nubes.services.sqs import metrics as sqs_metrics
from nubes.services.sqs.errors import errors, invalid_value
from nubes.services.sqs.models import MIGRATIONS, Dedup, Messages, MoveTasks, Queue, Queues
from nubes.services.sqs.query_names import query_model
from nubes.store import Row

if TYPE_CHECKING:
    from nubes.app import Environment

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
FIFO_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,75}\.fifo$")
BATCH_ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
TOKEN = re.compile(r"^[!-~]{1,128}$")
REGION_HOST = re.compile(r"^(?:sqs\.)?([a-z]{2}(?:-[a-z]+)+-\d)\.")
MAX_BATCH = 10
MAX_VISIBILITY = 43_200
DEDUP_WINDOW = 300.0
RECREATE_WAIT = 60.0
PURGE_WAIT = 60.0
ATTEMPT_WINDOW = 300.0
MOVE_TICK = 1.0

Json = dict[str, Any]


class SqsProvider(ServiceProvider):
    service = "sqs"
    migrations = MIGRATIONS

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.queues = Queues(self.store)
        self.messages = Messages(self.store)
        self.dedup = Dedup(self.store)
        self.tasks = MoveTasks(self.store)
        info = env.catalog.services[self.service]
        if info.query_model is None:
            info.query_model = query_model(info.model)
        self._arrivals: dict[int, asyncio.Event] = {}
        # FIFO receive attempts: (queue id, attempt id) -> (row ids, receipts, when).
        self._attempts: dict[tuple[int, str], tuple[list[int], float]] = {}

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        # Message move tasks keep moving after a restart, requests or not.
        return cls.has_rows(env, "SELECT 1 FROM sqs_move_tasks WHERE status = 'RUNNING' LIMIT 1")

    async def start(self) -> None:
        from nubes.services.sqs.peek import inspection_endpoint, queue_url_in_path

        self.env.scheduler.every("sqs-retention", 60.0, self._sweep)
        self.env.scheduler.every("sqs-move-tasks", MOVE_TICK, self._run_move_tasks)
        self.env.scheduler.on_advance(self._wake_all)
        self.env.metrics.collector(sqs_metrics.gauges(self.env))
        self.env.gateway.interceptors.append(inspection_endpoint(self))
        self.env.gateway.interceptors.append(queue_url_in_path)

    def reset(self) -> None:
        self.queues.forget()
        self._attempts.clear()
        self._wake_all()

    # -- waking long polls --------------------------------------------------------------------

    def _wake(self, queue_id: int) -> None:
        event = self._arrivals.pop(queue_id, None)
        if event is not None:
            event.set()

    def _wake_all(self) -> None:
        events, self._arrivals = self._arrivals, {}
        for event in events.values():
            event.set()

    async def _wait(self, queue_id: int, deadline: float) -> None:
        """Sleep until something arrives, the next hidden message shows, or the deadline."""
        event = self._arrivals.setdefault(queue_id, asyncio.Event())
        with self.store.transaction():
            upcoming = self.messages.next_change(queue_id, clock.now())
        wake_at = deadline if upcoming is None else min(deadline, upcoming)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=max(wake_at - clock.now(), 0.001))

    # -- queue lookup ---------------------------------------------------------------------------

    def _queue(self, ctx: RequestContext, url: str) -> Queue:
        account, region, name = self._locate(ctx, url)
        queue = self.queues.get(account, region, name)
        if queue is None:
            raise errors.QueueDoesNotExist("The specified queue does not exist.")
        return queue

    @staticmethod
    def _locate(ctx: RequestContext, url: str) -> tuple[str, str, str]:
        """(account, region, name) of a queue URL in any of the forms clients use, or an ARN."""
        if url.startswith("arn:"):
            try:
                found = parse_arn(url)
            except ValueError:
                raise errors.QueueDoesNotExist("The specified queue does not exist.") from None
            return found.account, found.region, found.resource
        parts = urlsplit(url if "://" in url else "http://localhost/" + url.lstrip("/"))
        segments = [s for s in parts.path.split("/") if s]
        if not segments:
            raise errors.QueueDoesNotExist("The specified queue does not exist.")
        region = ctx.region
        host_region = REGION_HOST.match(parts.hostname or "")
        if host_region:
            region = host_region.group(1)
        if len(segments) >= 2 and segments[-2].isdigit():
            return segments[-2], region, segments[-1]
        return ctx.account_id, region, segments[-1]

    def _url(self, ctx: RequestContext, queue: Queue) -> str:
        return f"{ctx.base_url}/{queue.account}/{queue.name}"

    def _queue_by_arn(self, queue_arn: str) -> Queue | None:
        try:
            found = parse_arn(queue_arn)
        except ValueError:
            return None
        return self.queues.get(found.account, found.region, found.resource)

    # -- queues ---------------------------------------------------------------------------------

    def create_queue(self, ctx: RequestContext, req: Json) -> Json:
        name = req["QueueName"]
        given = req.get("Attributes") or {}
        fifo = qattrs.is_fifo(given)
        if fifo and not FIFO_QUEUE_NAME.match(name):
            raise invalid_value(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                "underscores, must end with .fifo suffix and be 1 to 80 in length."
            )
        if not fifo and not QUEUE_NAME.match(name):
            raise invalid_value(
                "Can only include alphanumeric characters, hyphens, or underscores. "
                "1 to 80 in length"
            )
        attrs = qattrs.validate(given, fifo, creating=True)
        now = clock.now()
        existing = self.queues.get(ctx.account_id, ctx.region, name)
        if existing is not None:
            self._check_same(existing, attrs)
            return {"QueueUrl": self._url(ctx, existing)}
        deleted = self.queues.deleted_at(ctx.account_id, ctx.region, name)
        if deleted is not None and now - deleted < RECREATE_WAIT:
            raise errors.QueueDeletedRecently(
                "You must wait 60 seconds after deleting a queue before you can create another "
                "with the same name."
            )
        defaults = {**qattrs.DEFAULTS, **(qattrs.FIFO_DEFAULTS if fifo else {})}
        defaults.pop("FifoQueue", None)
        stored = {**defaults, **attrs}
        qattrs.settle_encryption(stored, attrs)
        queue_arn = f"arn:{ctx.partition}:sqs:{ctx.region}:{ctx.account_id}:{name}"
        self._check_redrive(queue_arn, fifo, stored)
        tags = req.get("tags") or {}
        problems = tag_problems({}, tags)
        if problems:
            raise invalid_value(problems[0])
        # Last: the queue record is cached as soon as it exists.
        queue = self.queues.create(ctx.account_id, ctx.region, name, fifo, stored, now)
        if tags:
            self.env.tags.set(queue.arn, tags)
        return {"QueueUrl": self._url(ctx, queue)}

    @staticmethod
    def _check_same(queue: Queue, attrs: dict[str, str]) -> None:
        changed = [n for n, v in attrs.items() if qattrs.differs(n, queue.attributes.get(n), v)]
        if changed:
            raise errors.QueueNameExists(
                "A queue already exists with the same name and a different value for attribute "
                + ", ".join(sorted(changed))
            )

    def get_queue_url(self, ctx: RequestContext, req: Json) -> Json:
        account = req.get("QueueOwnerAWSAccountId") or ctx.account_id
        queue = self.queues.get(account, ctx.region, req["QueueName"])
        if queue is None:
            raise errors.QueueDoesNotExist("The specified queue does not exist.")
        return {"QueueUrl": self._url(ctx, queue)}

    def list_queues(self, ctx: RequestContext, req: Json) -> Json:
        prefix = req.get("QueueNamePrefix") or ""
        limit = req.get("MaxResults")
        if limit is not None and not 1 <= limit <= 1000:
            raise invalid_value(
                f"Value {limit} for parameter MaxResults is invalid. Reason: MaxResults must be "
                "an integer between 1 and 1000."
            )
        after = ""
        token = req.get("NextToken")
        if token:
            try:
                after = str(decode_token(token))
            except InvalidToken:
                raise invalid_value("Invalid NextToken value.") from None
        page = limit or 1000
        names = self.queues.names(ctx.account_id, ctx.region, prefix, after, page + 1)
        out: Json = {}
        if names:
            out["QueueUrls"] = [f"{ctx.base_url}/{ctx.account_id}/{n}" for n in names[:page]]
        if limit is not None and len(names) > page:
            out["NextToken"] = encode_token(names[page - 1])
        return out

    def delete_queue(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        self.queues.delete(queue, clock.now())
        self.env.tags.drop(queue.arn)
        self._wake(queue.id)
        return {}

    def get_queue_attributes(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        wanted = qattrs.requested(req.get("AttributeNames"), queue.fifo)
        if wanted == []:
            return {}
        every = self._all_attributes(queue)
        if wanted is None:
            return {"Attributes": every}
        chosen = {n: every[n] for n in wanted if n in every}
        return {"Attributes": chosen} if chosen else {}

    def _all_attributes(self, queue: Queue) -> dict[str, str]:
        visible, in_flight, delayed = self.messages.counts(queue.id, clock.now())
        out = {
            "QueueArn": queue.arn,
            "ApproximateNumberOfMessages": str(visible),
            "ApproximateNumberOfMessagesNotVisible": str(in_flight),
            "ApproximateNumberOfMessagesDelayed": str(delayed),
            "CreatedTimestamp": str(int(queue.created)),
            "LastModifiedTimestamp": str(int(queue.modified)),
            **{k: v for k, v in queue.attributes.items() if v != ""},
        }
        if queue.fifo:
            out["FifoQueue"] = "true"
        return out

    def set_queue_attributes(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        attrs = qattrs.validate(req.get("Attributes") or {}, queue.fifo, creating=False)
        merged = {**queue.attributes, **attrs}
        for name, value in attrs.items():
            if value == "" and name in qattrs.JSON_VALUED | {"KmsMasterKeyId"}:
                merged.pop(name, None)
        qattrs.settle_encryption(merged, attrs)
        self._check_redrive(queue.arn, queue.fifo, merged)
        self.queues.update(queue, merged, clock.now())
        self._wake(queue.id)
        return {}

    def _check_redrive(self, queue_arn: str, fifo: bool, attrs: dict[str, str]) -> None:
        raw = attrs.get("RedrivePolicy")
        if not raw:
            return
        target_arn = str(json.loads(raw)["deadLetterTargetArn"])
        target = self._queue_by_arn(target_arn)
        if target is None:
            raise qattrs.invalid("RedrivePolicy", "Dead-letter target does not exist.", raw)
        if target.fifo != fifo:
            raise qattrs.invalid(
                "RedrivePolicy",
                "Dead-letter queue of a FIFO queue must also be a FIFO queue and vice versa.",
                raw,
            )
        allow = target.attributes.get("RedriveAllowPolicy")
        if allow and not _allows(json.loads(allow), queue_arn):
            raise qattrs.invalid(
                "RedrivePolicy",
                f"Queue {target_arn} does not allow this queue to use it as a dead-letter queue.",
                raw,
            )

    def purge_queue(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        now = clock.now()
        if now - queue.purged < PURGE_WAIT:
            raise errors.PurgeQueueInProgress(
                f"Only one PurgeQueue operation on {queue.name} is allowed every 60 seconds."
            )
        self.messages.purge(queue.id)
        self.queues.mark_purged(queue, now)
        return {}

    def list_dead_letter_source_queues(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        sources = []
        for other in self.queues.all_in(queue.account, queue.region):
            policy = other.redrive()
            if policy is not None and policy[0] == queue.arn:
                sources.append(other.name)
        limit = req.get("MaxResults")
        token = req.get("NextToken")
        if token:
            try:
                after = str(decode_token(token))
            except InvalidToken:
                raise invalid_value("Invalid NextToken value.") from None
            sources = [s for s in sources if s > after]
        page = sources[: limit or 1000]
        out: Json = {"queueUrls": [f"{ctx.base_url}/{queue.account}/{n}" for n in page]}
        if limit is not None and len(sources) > limit:
            out["NextToken"] = encode_token(page[-1])
        return out

    # -- tags and permissions ----------------------------------------------------------------

    def _check_tags(self, queue: Queue, tags: dict[str, str]) -> None:
        problems = tag_problems(self.env.tags.get(queue.arn), tags)
        if problems:
            raise invalid_value(problems[0])

    def tag_queue(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        tags = req.get("Tags") or {}
        if not tags:
            raise errors.MissingParameter("The request must contain the parameter Tags.")
        self._check_tags(queue, tags)
        self.env.tags.set(queue.arn, tags)
        return {}

    def untag_queue(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        keys = req.get("TagKeys") or []
        if not keys:
            raise errors.MissingParameter("The request must contain the parameter TagKeys.")
        self.env.tags.remove(queue.arn, keys)
        return {}

    def list_queue_tags(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        tags = self.env.tags.get(queue.arn)
        return {"Tags": tags} if tags else {}

    def add_permission(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        label = req["Label"]
        accounts, actions = req.get("AWSAccountIds") or [], req.get("Actions") or []
        if not accounts or not actions:
            missing = "AWSAccountIds" if not accounts else "Actions"
            raise errors.MissingParameter(f"The request must contain the parameter {missing}.")
        policy = json.loads(queue.attributes.get("Policy") or "null") or {
            "Version": "2012-10-17",
            "Id": f"{queue.arn}/SQSDefaultPolicy",
            "Statement": [],
        }
        if any(s.get("Sid") == label for s in policy["Statement"]):
            raise invalid_value(
                f"Value {label} for parameter Label is invalid. Reason: Already exists."
            )
        principals = [f"arn:{ctx.partition}:iam::{a}:root" for a in accounts]
        policy["Statement"].append(
            {
                "Sid": label,
                "Effect": "Allow",
                "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
                "Action": [f"SQS:{a}" for a in actions],
                "Resource": queue.arn,
            }
        )
        self.queues.update(queue, {**queue.attributes, "Policy": json.dumps(policy)}, clock.now())
        return {}

    def remove_permission(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        label = req["Label"]
        policy = json.loads(queue.attributes.get("Policy") or "null")
        statements = policy["Statement"] if policy else []
        kept = [s for s in statements if s.get("Sid") != label]
        if len(kept) == len(statements):
            raise invalid_value(
                f"Value {label} for parameter Label is invalid. Reason: can't find label on "
                "existing policy."
            )
        attrs = dict(queue.attributes)
        if kept:
            policy["Statement"] = kept
            attrs["Policy"] = json.dumps(policy)
        else:
            attrs.pop("Policy", None)
        self.queues.update(queue, attrs, clock.now())
        return {}

    # -- sending --------------------------------------------------------------------------------

    _KMS_ERRORS = {
        "NotFoundException": "KmsNotFound",
        "DisabledException": "KmsDisabled",
        "KMSInvalidStateException": "KmsInvalidState",
        "InvalidKeyUsageException": "KmsInvalidKeyUsage",
        "AccessDeniedException": "KmsAccessDenied",
    }

    def _check_kms(self, queue: Queue) -> None:
        """An SSE-KMS queue asks KMS for a data key as it takes messages: a key that is
        missing, disabled or pending deletion refuses the send with KMS's reason."""
        key = queue.attributes.get("KmsMasterKeyId")
        if not key:
            return
        if not key.startswith(("arn:", "alias/")) and "/" in key:
            key = f"alias/{key}"
        try:
            self.env.providers.invoke(
                "kms",
                "GenerateDataKeyWithoutPlaintext",
                {
                    "KeyId": key,
                    "KeySpec": "AES_256",
                    "EncryptionContext": {"aws:sqs:arn": queue.arn},
                },
                queue.account,
                queue.region,
            )
        except ServiceError as exc:
            raise errors(self._KMS_ERRORS.get(exc.code, "KmsInvalidState"), str(exc)) from None

    def send_message(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        self._check_kms(queue)
        result = self._send(ctx, queue, req, clock.now())
        self._wake(queue.id)
        return result

    def send_message_batch(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        entries = req.get("Entries") or []
        _check_batch(entries, "SendMessageBatchRequestEntry")
        total = sum(_entry_size(e) for e in entries)
        if total > qattrs.MAX_MESSAGE_SIZE:
            raise errors.BatchRequestTooLong(
                f"Batch requests cannot be longer than {qattrs.MAX_MESSAGE_SIZE} bytes. You have "
                f"sent {total} bytes."
            )
        self._check_kms(queue)
        now = clock.now()
        done, failed = _each(entries, lambda e: self._send(ctx, queue, e, now))
        self._wake(queue.id)
        return {"Successful": done, "Failed": failed}

    def _send(self, ctx: RequestContext, queue: Queue, entry: Json, now: float) -> Json:
        body = entry["MessageBody"]
        msgs.check_body(body)
        user_attrs = entry.get("MessageAttributes") or {}
        size = len(body.encode()) + msgs.check_attributes(user_attrs)
        if size > queue.max_size:
            raise invalid_value(
                "One or more parameters are invalid. Reason: Message must be shorter than "
                f"{queue.max_size} bytes."
            )
        trace = _trace_header(entry.get("MessageSystemAttributes") or {})
        delay = self._delay(queue, entry.get("DelaySeconds"))
        group, dedup_id = self._fifo_ids(queue, entry, body)
        result: Json = {"MD5OfMessageBody": msgs.md5_hex(body.encode())}
        md5_attrs = msgs.md5_of_attributes(user_attrs) if user_attrs else None
        md5_system = None
        if trace is not None:
            md5_system = msgs.md5_of_attributes(
                {"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}
            )
            result["MD5OfMessageSystemAttributes"] = md5_system
        if md5_attrs:
            result["MD5OfMessageAttributes"] = md5_attrs
        sequence = None
        scope = ""
        if queue.fifo:
            assert dedup_id is not None
            scope = (group or "") if queue.dedup_per_group else ""
            seen = self.dedup.find(queue.id, scope, dedup_id, now)
            if seen is not None:
                return {**result, "MessageId": seen[0], "SequenceNumber": seen[1]}
            sequence = self.queues.next_sequence(queue)
        message_id = str(uuid.uuid4())
        if queue.fifo:
            assert dedup_id is not None and sequence is not None
            self.dedup.record(queue.id, scope, dedup_id, message_id, sequence, now + DEDUP_WINDOW)
        self.messages.add(
            [
                (
                    queue.id,
                    message_id,
                    body,
                    result["MD5OfMessageBody"],
                    json.dumps(msgs.to_storable(user_attrs)) if user_attrs else None,
                    md5_attrs,
                    trace,
                    md5_system,
                    now,
                    now + delay,
                    now + queue.retention,
                    0,
                    None,
                    group,
                    dedup_id,
                    sequence,
                    ctx.principal.user_id,
                    None,
                )
            ]
        )
        result["MessageId"] = message_id
        if sequence is not None:
            result["SequenceNumber"] = sequence
        sqs_metrics.count(self.env, queue, "NumberOfMessagesSent")
        sqs_metrics.count(self.env, queue, "SentMessageSize", float(size), "Bytes")
        return result

    @staticmethod
    def _delay(queue: Queue, given: int | None) -> int:
        if given is None or (queue.fifo and given == 0):
            # A FIFO queue takes no per-message delay, but an explicit 0 asks for none.
            return queue.delay
        if queue.fifo:
            raise invalid_value(
                f"Value {given} for parameter DelaySeconds is invalid. Reason: The request "
                "include parameter that is not valid for this queue type."
            )
        if not 0 <= given <= 900:
            raise invalid_value(
                f"Value {given} for parameter DelaySeconds is invalid. Reason: DelaySeconds "
                "must be >= 0 and <= 900."
            )
        return given

    @staticmethod
    def _fifo_ids(queue: Queue, entry: Json, body: str) -> tuple[str | None, str | None]:
        group = entry.get("MessageGroupId")
        dedup_id = entry.get("MessageDeduplicationId")
        _check_token(entry, "MessageGroupId")
        _check_token(entry, "MessageDeduplicationId")
        if not queue.fifo:
            if dedup_id is not None:
                raise invalid_value(
                    f"Value {dedup_id} for parameter MessageDeduplicationId is invalid. Reason: "
                    "The request include parameter that is not valid for this queue type."
                )
            return group, None
        if not group:
            raise errors.MissingParameter("The request must contain the parameter MessageGroupId.")
        if dedup_id is None:
            if not queue.content_dedup:
                raise invalid_value(
                    "The queue should either have ContentBasedDeduplication enabled or "
                    "MessageDeduplicationId provided explicitly"
                )
            dedup_id = hashlib.sha256(body.encode()).hexdigest()
        return group, dedup_id

    # -- receiving ------------------------------------------------------------------------------

    async def receive_message(self, ctx: RequestContext, req: Json) -> Json:
        with self.store.transaction():
            queue = self._queue(ctx, req["QueueUrl"])
            limit = _ranged(req, "MaxNumberOfMessages", 1, 10, 1, "Must be between 1 and 10")
            wait = _ranged(req, "WaitTimeSeconds", 0, 20, queue.wait_time, "Must be >= 0 and <= 20")
            _ranged(req, "VisibilityTimeout", 0, 43_200, 0, "Must be between 0 and 43200")
            _check_token(req, "ReceiveRequestAttemptId")
            found = self._receive(queue, req, limit)
        deadline = clock.now() + wait
        while not found and clock.now() < deadline:
            await self._wait(queue.id, deadline)
            with self.store.transaction():
                current = self.queues.get(queue.account, queue.region, queue.name)
                if current is None or current.id != queue.id:
                    break
                found = self._receive(current, req, limit)
        if not found:
            sqs_metrics.count(self.env, queue, "NumberOfEmptyReceives")
        return {"Messages": found} if found else {}

    def _receive(self, queue: Queue, req: Json, limit: int) -> list[Json]:
        now = clock.now()
        attempt = req.get("ReceiveRequestAttemptId") if queue.fifo else None
        if attempt:
            again = self._retry_attempt(queue, attempt, now, req)
            if again is not None:
                return again
        visibility = req.get("VisibilityTimeout")
        hide_until = now + (queue.visibility_timeout if visibility is None else visibility)
        redrive = queue.redrive()
        out: list[Json] = []
        taken: list[int] = []
        rows = self.messages.candidates(queue, now, limit)
        refilled = False
        while rows:
            row = rows.pop(0)
            over = redrive is not None and row["receive_count"] >= redrive[1]
            if over and self._dead_letter(queue, row, redrive[0], now):  # type: ignore[index]
                if not rows and not refilled:
                    # Dead-lettered messages leave room for others in this receive (once).
                    refilled = True
                    rows = [
                        r
                        for r in self.messages.candidates(queue, now, limit)
                        if r["id"] not in taken
                    ][: limit - len(out)]
                continue
            receipt = secrets.token_urlsafe(24)
            self.messages.mark_received(row["id"], hide_until, receipt, now)
            taken.append(row["id"])
            out.append(
                self._message(
                    queue,
                    row,
                    req,
                    receipt,
                    receive_count=row["receive_count"] + 1,
                    first_receive=row["first_receive"] or now,
                )
            )
        if attempt and taken:
            self._attempts[(queue.id, attempt)] = (taken, now)
        if out:
            sqs_metrics.count(self.env, queue, "NumberOfMessagesReceived", float(len(out)))
        return out

    def _retry_attempt(
        self, queue: Queue, attempt: str, now: float, req: Json
    ) -> list[Json] | None:
        """A retried FIFO receive with the same attempt id gets the same messages back, as long
        as they are still hidden and nothing else touched them."""
        remembered = self._attempts.get((queue.id, attempt))
        if remembered is None or now - remembered[1] > ATTEMPT_WINDOW:
            return None
        out = []
        for row_id in remembered[0]:
            row = self.messages.get(row_id, queue.id)
            if row is None or row["visible_at"] <= now:
                return None
            out.append(
                self._message(
                    queue,
                    row,
                    req,
                    row["receipt"],
                    receive_count=row["receive_count"],
                    first_receive=row["first_receive"],
                )
            )
        return out

    def _dead_letter(self, queue: Queue, row: Row, target_arn: str, now: float) -> bool:
        target = self._queue_by_arn(target_arn)
        if target is None:
            return False
        self.messages.move(row, target, queue.arn, now)
        self._wake(target.id)
        return True

    def _message(
        self,
        queue: Queue,
        row: Row,
        req: Json,
        receipt: str,
        receive_count: int,
        first_receive: float | None,
    ) -> Json:
        handle = _encode_handle(queue, row["id"], receipt)
        out: Json = {
            "MessageId": row["message_id"],
            "ReceiptHandle": handle,
            "MD5OfBody": row["md5_body"],
            "Body": row["body"],
        }
        names = [
            *(req.get("AttributeNames") or ()),
            *(req.get("MessageSystemAttributeNames") or ()),
        ]
        if names:
            system = _system_attributes(row, receive_count, first_receive)
            wanted = system if "All" in names else {k: v for k, v in system.items() if k in names}
            if wanted:
                out["Attributes"] = wanted
        if row["attributes"]:
            stored = json.loads(row["attributes"])
            chosen = msgs.select(req.get("MessageAttributeNames"), stored)
            if chosen:
                out["MessageAttributes"] = msgs.from_storable(chosen)
                out["MD5OfMessageAttributes"] = row["md5_attributes"]
        return out

    # -- deleting and visibility ------------------------------------------------------------

    def delete_message(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        self._delete(queue, req["ReceiptHandle"])
        return {}

    def delete_message_batch(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        entries = req.get("Entries") or []
        _check_batch(entries, "DeleteMessageBatchRequestEntry")
        done, failed = _each(entries, lambda e: self._delete(queue, e["ReceiptHandle"]))
        return {"Successful": done, "Failed": failed}

    def _delete(self, queue: Queue, handle: str) -> Json:
        row_id, receipt = _decode_handle(queue, handle)
        row = self.messages.get(row_id, queue.id)
        if row is not None:
            _check_fifo_handle(queue, row, receipt, handle)
            self.messages.delete(row_id)
            sqs_metrics.count(self.env, queue, "NumberOfMessagesDeleted")
            if queue.fifo:
                self._wake(queue.id)
        return {}

    def change_message_visibility(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        self._change_visibility(queue, req["ReceiptHandle"], req["VisibilityTimeout"])
        return {}

    def change_message_visibility_batch(self, ctx: RequestContext, req: Json) -> Json:
        queue = self._queue(ctx, req["QueueUrl"])
        entries = req.get("Entries") or []
        _check_batch(entries, "ChangeMessageVisibilityBatchRequestEntry")
        done, failed = _each(
            entries,
            lambda e: self._change_visibility(
                queue, e["ReceiptHandle"], e.get("VisibilityTimeout", 0)
            ),
        )
        return {"Successful": done, "Failed": failed}

    def _change_visibility(self, queue: Queue, handle: str, timeout: int) -> Json:
        if not 0 <= timeout <= MAX_VISIBILITY:
            raise invalid_value(
                f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be "
                "between 0 and 43200, if provided."
            )
        row_id, receipt = _decode_handle(queue, handle)
        row = self.messages.get(row_id, queue.id)
        now = clock.now()
        if row is not None:
            _check_fifo_handle(queue, row, receipt, handle)
        if row is None or row["receipt"] != receipt:
            raise invalid_value(
                f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does "
                "not exist or is not available for visibility timeout change."
            )
        if row["visible_at"] <= now:
            # SQS accepts a change through a handle whose visibility already ran out, and leaves
            # the message visible.
            return {}
        if row["received"] is not None and now - row["received"] + timeout > MAX_VISIBILITY:
            raise invalid_value(
                f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                f"VisibilityTimeout for the message is beyond the limit [{MAX_VISIBILITY} "
                "seconds]"
            )
        self.messages.set_visible_at(row_id, now + timeout)
        self._wake(queue.id)
        return {}

    # -- message move tasks (redrive from a dead-letter queue) --------------------------------

    def start_message_move_task(self, ctx: RequestContext, req: Json) -> Json:
        source_arn = req["SourceArn"]
        source = self._queue_by_arn(source_arn)
        if source is None:
            raise errors.ResourceNotFoundException(
                "The resource that you specified for the SourceArn parameter doesn't exist."
            )
        if not any(
            (q.redrive() or ("",))[0] == source_arn
            for q in self.queues.all_in(source.account, source.region)
        ):
            raise invalid_value("Source queue must be configured as a Dead Letter Queue.")
        destination_arn = req.get("DestinationArn")
        if destination_arn and self._queue_by_arn(destination_arn) is None:
            raise errors.ResourceNotFoundException(
                "The resource that you specified for the DestinationArn parameter doesn't exist."
            )
        rate = req.get("MaxNumberOfMessagesPerSecond")
        if rate is not None and not 1 <= rate <= 500:
            raise invalid_value(
                f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: "
                "Must be between 1 and 500."
            )
        if self.tasks.running_for(source_arn) is not None:
            raise invalid_value(
                "There is already a task running. Only one active task is allowed for a source "
                "queue arn at a given time."
            )
        handle = base64.b64encode(
            json.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source_arn}).encode()
        ).decode()
        self.tasks.create(
            {
                "handle": handle,
                "account": source.account,
                "region": source.region,
                "source_arn": source_arn,
                "destination_arn": destination_arn,
                "rate": rate,
                "to_move": self.messages.count(source.id),
                "started": clock.now(),
            }
        )
        return {"TaskHandle": handle}

    def list_message_move_tasks(self, ctx: RequestContext, req: Json) -> Json:
        source_arn = req["SourceArn"]
        if self._queue_by_arn(source_arn) is None:
            raise errors.ResourceNotFoundException(
                "The resource that you specified for the SourceArn parameter doesn't exist."
            )
        limit = req.get("MaxResults") or 1
        if not 1 <= limit <= 10:
            raise invalid_value(
                f"Value {limit} for parameter MaxResults is invalid. Reason: Must be between 1 "
                "and 10."
            )
        return {"Results": [_task_view(t) for t in self.tasks.for_source(source_arn, limit)]}

    def cancel_message_move_task(self, ctx: RequestContext, req: Json) -> Json:
        task = self.tasks.get(req["TaskHandle"])
        if task is None or task["status"] != "RUNNING":
            raise errors.ResourceNotFoundException("Task does not exist.")
        self.tasks.finish(task["handle"], "CANCELLED")
        return {"ApproximateNumberOfMessagesMoved": task["moved"]}

    def _run_move_tasks(self) -> None:
        now = clock.now()
        for task in self.tasks.running():
            self._advance_task(task, now)

    def _advance_task(self, task: Row, now: float) -> None:
        source = self._queue_by_arn(task["source_arn"])
        if source is None:
            self.tasks.finish(task["handle"], "FAILED", "AWS.SimpleQueueService.NonExistentQueue")
            return
        rate = task["rate"]
        budget = 10_000 if rate is None else int(rate * max(now - task["last_tick"], MOVE_TICK))
        moved = 0
        for row in self.messages.oldest(source.id, budget):
            target_arn = task["destination_arn"] or row["source_arn"]
            target = self._queue_by_arn(target_arn) if target_arn else None
            if target is None:
                self.tasks.progress(task["handle"], moved, now)
                self.tasks.finish(
                    task["handle"], "FAILED", "AWS.SimpleQueueService.NonExistentQueue"
                )
                return
            self.messages.move(row, target, None, now)
            self._wake(target.id)
            moved += 1
        self.tasks.progress(task["handle"], moved, now)
        if self.messages.count(source.id) == 0:
            self.tasks.finish(task["handle"], "COMPLETED")

    # -- housekeeping ---------------------------------------------------------------------------

    def _sweep(self) -> None:
        now = clock.now()
        self.messages.expire(now)
        self.dedup.expire(now)
        self._attempts = {k: v for k, v in self._attempts.items() if now - v[1] <= ATTEMPT_WINDOW}


# -- helpers --------------------------------------------------------------------------------------


def _allows(policy: dict[str, Any], source_arn: str) -> bool:
    permission = policy.get("redrivePermission")
    if permission == "denyAll":
        return False
    if permission == "byQueue":
        return source_arn in (policy.get("sourceQueueArns") or [])
    return True


def _ranged(req: Json, name: str, low: int, high: int, default: int, reason: str) -> int:
    value = req.get(name)
    if value is None:
        return default
    if not low <= value <= high:
        raise invalid_value(
            f"Value {value} for parameter {name} is invalid. Reason: {reason}, if provided."
        )
    return int(value)


def _check_token(req: Json, name: str) -> None:
    """Group ids, deduplication ids and receive attempt ids: 1 to 128 alphanumeric or
    punctuation characters."""
    value = req.get(name)
    if value is not None and not TOKEN.match(value):
        raise invalid_value(
            f"Value {value} for parameter {name} is invalid. Reason: {name} can only include "
            "alphanumeric and punctuation characters. 1 to 128 in length."
        )


def _trace_header(system: Json) -> str | None:
    for name, attr in system.items():
        if name != "AWSTraceHeader":
            raise invalid_value(f"Message system attribute name '{name}' is invalid.")
        if attr.get("DataType") != "String" or not attr.get("StringValue"):
            raise invalid_value(
                "Message system attribute 'AWSTraceHeader' must contain a non-empty value of "
                "type 'String'."
            )
        return str(attr["StringValue"])
    return None


def _entry_size(entry: Json) -> int:
    size = len(entry.get("MessageBody", "").encode())
    for name, attr in (entry.get("MessageAttributes") or {}).items():
        size += len(name.encode()) + len(attr.get("DataType", "").encode())
        value = attr.get("StringValue") or attr.get("BinaryValue") or ""
        size += len(value.encode() if isinstance(value, str) else value)
    return size


def _check_batch(entries: list[Json], entry_name: str) -> None:
    if not entries:
        raise errors.EmptyBatchRequest(f"There should be at least one {entry_name} in the request.")
    if len(entries) > MAX_BATCH:
        raise errors.TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are {MAX_BATCH}. You have sent {len(entries)}."
        )
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry["Id"]
        if not BATCH_ENTRY_ID.match(entry_id):
            raise errors.InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long."
            )
        if entry_id in seen:
            raise errors.BatchEntryIdsNotDistinct(f"Id {entry_id} repeated.")
        seen.add(entry_id)


def _each(entries: list[Json], fn: Callable[[Json], Json]) -> tuple[list[Json], list[Json]]:
    """Runs one batch entry at a time; an entry's error becomes its failure, not the call's."""
    done: list[Json] = []
    failed: list[Json] = []
    for entry in entries:
        try:
            result = fn(entry)
        except ServiceError as err:
            failed.append(
                {
                    "Id": entry["Id"],
                    "SenderFault": err.sender_fault,
                    "Code": err.wire_code,
                    "Message": err.message,
                }
            )
            continue
        done.append({"Id": entry["Id"], **result})
    return done, failed


def _encode_handle(queue: Queue, row_id: int, receipt: str) -> str:
    raw = f"{row_id} {receipt} {queue.arn}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_handle(queue: Queue, handle: str) -> tuple[int, str]:
    try:
        row_id, receipt, queue_arn = base64.urlsafe_b64decode(handle.encode()).decode().split(" ")
        number = int(row_id)
    except (ValueError, binascii.Error, UnicodeError):
        raise errors.ReceiptHandleIsInvalid(
            f'The input receipt handle "{handle}" is not a valid receipt handle.'
        ) from None
    if queue_arn != queue.arn:
        raise errors.ReceiptHandleIsInvalid(
            f'The receipt handle "{handle}" is not valid for this queue.'
        )
    return number, receipt


def _check_fifo_handle(queue: Queue, row: Row, receipt: str, handle: str) -> None:
    """A FIFO receipt handle is good only while its receive's visibility lasts: once the
    message is visible again (or received anew) SQS refuses the handle as expired, so that
    a slow consumer cannot act on a message another consumer may now hold."""
    if queue.fifo and (row["receipt"] != receipt or row["visible_at"] <= clock.now()):
        raise invalid_value(
            f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt "
            "handle has expired."
        )


def _system_attributes(row: Row, receive_count: int, first_receive: float | None) -> dict[str, str]:
    out = {
        "SenderId": row["sender_id"],
        "SentTimestamp": str(int(row["sent"] * 1000)),
        "ApproximateReceiveCount": str(receive_count),
        "ApproximateFirstReceiveTimestamp": str(int((first_receive or row["sent"]) * 1000)),
    }
    optional = {
        "AWSTraceHeader": row["trace_header"],
        "MessageGroupId": row["group_id"],
        "MessageDeduplicationId": row["dedup_id"],
        "SequenceNumber": row["sequence"],
        "DeadLetterQueueSourceArn": row["source_arn"],
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def _task_view(task: Row) -> Json:
    out: Json = {
        "Status": task["status"],
        "SourceArn": task["source_arn"],
        "ApproximateNumberOfMessagesMoved": task["moved"],
        "ApproximateNumberOfMessagesToMove": task["to_move"],
        "StartedTimestamp": int(task["started"] * 1000),
    }
    if task["status"] == "RUNNING":
        out["TaskHandle"] = task["handle"]
    if task["destination_arn"]:
        out["DestinationArn"] = task["destination_arn"]
    if task["rate"] is not None:
        out["MaxNumberOfMessagesPerSecond"] = task["rate"]
    if task["failure"]:
        out["FailureReason"] = task["failure"]
    return out
