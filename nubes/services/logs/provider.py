"""Amazon CloudWatch Logs: log groups, streams, events, filter patterns, subscription and
metric filters (recorded)."""

from __future__ import annotations

import itertools
import logging
import uuid
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import parse_arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.core.tags import tag_problems
from nubes.protocol.base import ServiceError
from nubes.services.base import ServiceProvider
from nubes.services.logs import insights, subscriptions
from nubes.services.logs import metrics as logs_metrics
from nubes.services.logs.deliveries import Deliveries
from nubes.services.logs.errors import errors
from nubes.services.logs.exports import EXPORT_TICK, ExportTasks
from nubes.services.logs.filter_pattern import FilterPattern, PatternError, compile_pattern
from nubes.services.logs.models import (
    EVENT_OVERHEAD,
    MIGRATIONS,
    DocumentsModel,
    Event,
    LogsModel,
    QueriesModel,
    Scope,
)
from nubes.services.logs.saved import SavedDocuments

RETENTION_DAYS = frozenset(
    (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653)
)  # fmt: skip
MAX_SUBSCRIPTION_FILTERS = 2
DAY_MS = 86_400_000
TOO_NEW_MS = 2 * 3_600_000
"""Events more than 2 hours in the future are rejected."""
TOO_OLD_MS = 14 * DAY_MS
MAX_BATCH_SPAN_MS = DAY_MS
MAX_BATCH_BYTES = 1_048_576
DEFAULT_EVENTS_LIMIT = 10_000
RETENTION_SWEEP_SECONDS = 3600.0

if TYPE_CHECKING:
    from nubes.app import Environment

log = logging.getLogger("nubes.logs")


def now_ms() -> int:
    return int(clock.now() * 1000)


def scope_of(ctx: RequestContext) -> Scope:
    return Scope(ctx.account_id, ctx.region)


class LogsProvider(SavedDocuments, ExportTasks, Deliveries, ServiceProvider):
    service = "logs"
    migrations = MIGRATIONS

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.model = LogsModel(self.store)
        self.queries = QueriesModel(self.store)
        self.documents = DocumentsModel(self.store)

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        # Retention deletes old events and export tasks run without a request.
        return cls.has_rows(
            env, "SELECT 1 FROM logs_groups WHERE retention IS NOT NULL LIMIT 1"
        ) or cls.has_rows(
            env,
            "SELECT 1 FROM logs_documents WHERE kind = 'export-task' "
            "AND json_extract(doc, '$.status.code') IN ('PENDING', 'RUNNING') LIMIT 1",
        )

    async def start(self) -> None:
        self.env.scheduler.every(
            "logs-retention", RETENTION_SWEEP_SECONDS, lambda: self.model.expire(now_ms())
        )
        self.env.scheduler.every("logs-exports", EXPORT_TICK, self._export_tick)

    # -- what other services use (Lambda writes its functions' output here) ------------------

    def deliver(
        self, account: str, region: str, group: str, stream: str, messages: list[tuple[int, str]]
    ) -> None:
        """Append events to a stream, creating the group and stream when missing (as a Lambda
        function's log group appears on its first invocation)."""
        scope = Scope(account, region)
        now = now_ms()
        self.model.create_group(scope, group, now)
        self.model.create_stream(scope, group, stream, now)
        self.model.append(scope, group, stream, messages, now)
        self._forward(scope, group, stream, messages)

    def _forward(
        self, scope: Scope, group: str, stream: str, events: list[tuple[int, str]]
    ) -> None:
        """Turn new events into metrics through the group's metric filters, and send the
        matching ones to its subscription filters' Lambda functions and Kinesis streams (also
        through a cross-account destination) and Firehose delivery streams."""
        if not events:
            return
        metric_filters = self.model.filters(scope, group, "metric")
        if metric_filters:
            logs_metrics.publish(self.env, scope.account, scope.region, metric_filters, events)
        for subscription in self.model.filters(scope, group, "sub"):
            target = self._target(subscription["destinationArn"])
            if target is None:
                continue
            kind = subscriptions.destination_kind(target)
            if kind == "lambda":
                function = target.split(":function:", 1)[1].split(":")[0]
                if group == f"/aws/lambda/{function}":
                    continue  # a function fed its own output would never stop
            elif kind not in ("kinesis", "firehose"):
                continue
            pattern = _pattern(subscription.get("filterPattern"))
            matched = [(ts, m) for ts, m in events if pattern.matches(m)]
            if not matched:
                continue
            for data in subscriptions.data_messages(
                scope.account,
                group,
                stream,
                subscription["filterName"],
                matched,
                subscriptions.MESSAGE_LIMITS[kind],
            ):
                self._send(kind, target, subscription, stream, data)

    def _send(
        self, kind: str, target: str, subscription: dict[str, Any], stream: str, data: bytes
    ) -> None:
        params: dict[str, Any]
        if kind == "lambda":
            operation = "Invoke"
            params = {
                "FunctionName": target,
                "InvocationType": "Event",
                "Payload": subscriptions.lambda_payload(data),
            }
        elif kind == "firehose":
            operation = "PutRecordBatch"
            params = subscriptions.firehose_records(target, data)
        else:
            operation = "PutRecord"
            params = subscriptions.kinesis_record(
                target, data, stream, subscription.get("distribution") or "ByLogStream"
            )
        try:
            self._deliver_to(kind, operation, params, target)
        except ServiceError as err:
            log.warning("subscription %s: delivery failed: %s", subscription["filterName"], err)

    def _target(self, destination_arn: str) -> str | None:
        """Where a subscription's events go: its destination, or the target of the
        cross-account destination it names (None when that destination is gone)."""
        if subscriptions.destination_kind(destination_arn) != "logs":
            return destination_arn
        parsed = parse_arn(destination_arn)
        owner = Scope(parsed.account, parsed.region)
        found = self.documents.get(owner, "destination", parsed.resource.split(":", 1)[1])
        return None if found is None else str(found["targetArn"])

    def _deliver_to(self, kind: str, operation: str, params: dict[str, Any], target: str) -> Any:
        parsed = parse_arn(target)
        service = kind if kind in ("lambda", "firehose") else "kinesis"
        return self.env.providers.invoke(service, operation, params, parsed.account, parsed.region)

    # -- log groups -------------------------------------------------------------------------

    def create_log_group(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        name = req["logGroupName"]
        tags = req.get("tags") or {}
        problems = tag_problems({}, tags)
        if problems:
            raise errors.InvalidParameterException(problems[0])
        created = self.model.create_group(
            scope,
            name,
            now_ms(),
            kms_key=req.get("kmsKeyId"),
            group_class=req.get("logGroupClass") or "STANDARD",
            deletion_protection=bool(req.get("deletionProtectionEnabled")),
        )
        if not created:
            raise errors.ResourceAlreadyExistsException("The specified log group already exists")
        if tags:
            self.env.tags.set(scope.group_arn(name), tags)
        return {}

    def delete_log_group(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        if group["deletion_protection"]:
            raise errors.InvalidOperationException(
                "Log group has deletion protection enabled and cannot be deleted."
            )
        self.model.delete_group(scope, group["name"])
        self.env.tags.drop(scope.group_arn(group["name"]))
        return {}

    def describe_log_groups(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        prefix = req.get("logGroupNamePrefix") or ""
        pattern = req.get("logGroupNamePattern")
        if prefix and pattern:
            raise errors.InvalidParameterException(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
            )
        limit = req.get("limit") or 50
        after = self._token(req.get("nextToken"), "")
        wanted_class = req.get("logGroupClass")
        identifiers = {self._group_name(i) for i in req.get("logGroupIdentifiers") or ()}
        found: list[dict[str, Any]] = []
        more = False
        while not more:
            rows = self.model.groups_page(scope, prefix, after, 100)
            for row in rows:
                name = row["name"]
                after = name
                if not name.startswith(prefix):
                    rows = []
                    break
                if pattern and pattern.lower() not in name.lower():
                    continue
                if wanted_class and row["group_class"] != wanted_class:
                    continue
                if identifiers and name not in identifiers:
                    continue
                if len(found) == limit:
                    more = True
                    break
                found.append(self._describe_group(scope, row))
            if len(rows) < 100:
                break
        out: dict[str, Any] = {"logGroups": found}
        if more:
            out["nextToken"] = encode_token(found[-1]["logGroupName"])
        return out

    def _describe_group(self, scope: Scope, row: Any) -> dict[str, Any]:
        arn = scope.group_arn(row["name"])
        doc: dict[str, Any] = {
            "logGroupName": row["name"],
            "creationTime": row["created"],
            "metricFilterCount": len(self.model.filters(scope, row["name"], "metric")),
            "arn": f"{arn}:*",
            "logGroupArn": arn,
            "storedBytes": self.model.group_bytes(scope, row["name"]),
            "logGroupClass": row["group_class"],
            "deletionProtectionEnabled": bool(row["deletion_protection"]),
        }
        if row["retention"] is not None:
            doc["retentionInDays"] = row["retention"]
        if row["kms_key"]:
            doc["kmsKeyId"] = row["kms_key"]
        return doc

    def put_retention_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        days = req["retentionInDays"]
        if days not in RETENTION_DAYS:
            raise errors.InvalidParameterException(
                f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
                "satisfy constraint: Member must satisfy enum value set: "
                f"[{', '.join(str(d) for d in sorted(RETENTION_DAYS))}]"
            )
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        self.model.update_group(scope, group["name"], retention=days)
        return {}

    def delete_retention_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        self.model.update_group(scope, group["name"], retention=None)
        return {}

    def associate_kms_key(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req.get("logGroupName") or "")
        self.model.update_group(scope, group["name"], kms_key=req["kmsKeyId"])
        return {}

    def disassociate_kms_key(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req.get("logGroupName") or "")
        self.model.update_group(scope, group["name"], kms_key=None)
        return {}

    # -- tags -------------------------------------------------------------------------------

    def tag_resource(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        arn = self._tagged_arn(ctx, req["resourceArn"])
        problems = tag_problems(self.env.tags.get(arn), req["tags"])
        if problems:
            raise errors.TooManyTagsException(problems[0], resourceName=req["resourceArn"])
        self.env.tags.set(arn, req["tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self.env.tags.remove(self._tagged_arn(ctx, req["resourceArn"]), req["tagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return {"tags": self.env.tags.get(self._tagged_arn(ctx, req["resourceArn"]))}

    def tag_log_group(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        arn = scope.group_arn(group["name"])
        problems = tag_problems(self.env.tags.get(arn), req["tags"])
        if problems:
            raise errors.InvalidParameterException(problems[0])
        self.env.tags.set(arn, req["tags"])
        return {}

    def untag_log_group(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        self.env.tags.remove(scope.group_arn(group["name"]), req["tags"])
        return {}

    def list_tags_log_group(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        return {"tags": self.env.tags.get(scope.group_arn(group["name"]))}

    def _tagged_arn(self, ctx: RequestContext, resource_arn: str) -> str:
        arn = resource_arn.removesuffix(":*")
        marker = ":log-group:"
        if marker in arn and ":log-stream:" not in arn:
            self._group(scope_of(ctx), arn.split(marker, 1)[1])
        return arn

    # -- streams ----------------------------------------------------------------------------

    def create_log_stream(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        name = req["logStreamName"]
        if ":" in name or "*" in name:
            raise errors.InvalidParameterException("Log stream name must not contain ':' or '*'.")
        if not self.model.create_stream(scope, group["name"], name, now_ms()):
            raise errors.ResourceAlreadyExistsException("The specified log stream already exists")
        return {}

    def delete_log_stream(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        self._stream(scope, group["name"], req["logStreamName"])
        self.model.delete_stream(scope, group["name"], req["logStreamName"])
        return {}

    def describe_log_streams(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req.get("logGroupName") or req.get("logGroupIdentifier") or "")
        prefix = req.get("logStreamNamePrefix") or ""
        by_last = req.get("orderBy") == "LastEventTime"
        if by_last and prefix:
            raise errors.InvalidParameterException(
                "Cannot order by LastEventTime with a logStreamNamePrefix."
            )
        limit = req.get("limit") or 50
        start = int(self._token(req.get("nextToken"), 0))
        rows = [
            r
            for r in self.model.streams(
                scope, group["name"], prefix, by_last, bool(req.get("descending"))
            )
            if r["name"].startswith(prefix)
        ]
        page = rows[start : start + limit]
        out: dict[str, Any] = {
            "logStreams": [self._describe_stream(scope, group["name"], r) for r in page]
        }
        if start + limit < len(rows):
            out["nextToken"] = encode_token(start + limit)
        return out

    def _describe_stream(self, scope: Scope, group: str, row: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "logStreamName": row["name"],
            "creationTime": row["created"],
            "arn": scope.stream_arn(group, row["name"]),
            "storedBytes": row["stored_bytes"],
        }
        for key, column in (
            ("firstEventTimestamp", "first_event"),
            ("lastEventTimestamp", "last_event"),
            ("lastIngestionTime", "last_ingestion"),
        ):
            if row[column] is not None:
                doc[key] = row[column]
        if row["last_ingestion"] is not None:
            doc["uploadSequenceToken"] = _sequence_token(row["last_ingestion"])
        return doc

    # -- events -----------------------------------------------------------------------------

    def put_log_events(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        self._stream(scope, group["name"], req["logStreamName"])
        events = [(e["timestamp"], e["message"]) for e in req["logEvents"]]
        _check_batch(events)
        now = now_ms()
        accepted, rejected = _admissible(events, now, group["retention"])
        self.model.append(scope, group["name"], req["logStreamName"], accepted, now)
        self._forward(scope, group["name"], req["logStreamName"], accepted)
        out: dict[str, Any] = {"nextSequenceToken": _sequence_token(now)}
        if rejected:
            out["rejectedLogEventsInfo"] = rejected
        return out

    def get_log_events(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req.get("logGroupName") or req.get("logGroupIdentifier") or "")
        stream = req["logStreamName"]
        self._stream(scope, group["name"], stream)
        limit = req.get("limit") or DEFAULT_EVENTS_LIMIT
        token = req.get("nextToken")
        direction, position = _read_position(token) if token else ("", None)
        forward = direction == "f" or (not direction and bool(req.get("startFromHead")))
        query = {
            "scope": scope,
            "group": group["name"],
            "stream": stream,
            "start": req.get("startTime"),
            "end": req.get("endTime"),
            "limit": limit,
        }
        if forward:
            events = self.model.stream_events(
                **query, after=position, before=None, newest_first=False
            )
        else:
            events = self.model.stream_events(
                **query, after=None, before=position, newest_first=True
            )
            events.reverse()
        out_events = [
            {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingested}
            for e in events
        ]
        if events:
            forward_token = _position_token("f", events[-1].key)
            backward_token = _position_token("b", events[0].key)
        else:
            # At either end AWS hands back the token it was given, so a reader loops until
            # the token stops changing.
            edge = _position_token(direction or ("f" if forward else "b"), position)
            forward_token = edge if forward else _position_token("f", position)
            backward_token = edge if not forward else _position_token("b", position)
        return {
            "events": out_events,
            "nextForwardToken": forward_token,
            "nextBackwardToken": backward_token,
        }

    def filter_log_events(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req.get("logGroupName") or req.get("logGroupIdentifier") or "")
        names = req.get("logStreamNames")
        prefix = req.get("logStreamNamePrefix")
        if names and prefix:
            raise errors.InvalidParameterException(
                "logStreamNames and logStreamNamePrefix are mutually exclusive"
            )
        pattern = _pattern(req.get("filterPattern"))
        limit = req.get("limit") or DEFAULT_EVENTS_LIMIT
        after = None
        if req.get("nextToken"):
            position = self._token(req["nextToken"], None)
            after = (position[0], position[1]) if isinstance(position, list) else None
        wanted = set(names or ())
        found: list[Event] = []
        more = False
        for event in self.model.group_events(
            scope, group["name"], req.get("startTime"), req.get("endTime"), after
        ):
            if wanted and event.stream not in wanted:
                continue
            if prefix and not event.stream.startswith(prefix):
                continue
            if not pattern.matches(event.message):
                continue
            if len(found) == limit:
                more = True
                break
            found.append(event)
        out: dict[str, Any] = {
            "events": [
                {
                    "logStreamName": e.stream,
                    "timestamp": e.timestamp,
                    "message": e.message,
                    "ingestionTime": e.ingested,
                    "eventId": f"{e.timestamp:020d}{e.id:020d}",
                }
                for e in found
            ],
            "searchedLogStreams": [],
        }
        if more:
            out["nextToken"] = encode_token(list(found[-1].key))
        return out

    # -- subscription and metric filters ----------------------------------------------------

    def put_subscription_filter(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        _pattern(req.get("filterPattern"))
        existing = {f["filterName"] for f in self.model.filters(scope, group["name"], "sub")}
        if req["filterName"] not in existing and len(existing) >= MAX_SUBSCRIPTION_FILTERS:
            raise errors.LimitExceededException("Resource limit exceeded.")
        doc = {
            "filterName": req["filterName"],
            "logGroupName": group["name"],
            "filterPattern": req.get("filterPattern") or "",
            "destinationArn": req["destinationArn"],
            "distribution": req.get("distribution") or "ByLogStream",
            "creationTime": now_ms(),
        }
        if req.get("roleArn"):
            doc["roleArn"] = req["roleArn"]
        self._check_destination(req["destinationArn"], req.get("roleArn"))
        self.model.put_filter(scope, group["name"], "sub", req["filterName"], doc, now_ms())
        return {}

    def _check_destination(self, destination_arn: str, role_arn: str | None) -> None:
        """A stream destination takes a role for CloudWatch Logs to write with, and must take
        the CONTROL_MESSAGE AWS sends when the filter is made; a cross-account destination
        must exist."""
        kind = subscriptions.destination_kind(destination_arn)
        if kind == "logs":
            if self._target(destination_arn) is None:
                raise errors.ResourceNotFoundException("The specified destination does not exist.")
            return
        if kind == "other":
            raise errors.InvalidParameterException(
                f"Invalid destination ARN {destination_arn}: a subscription filter delivers to a "
                "Lambda function, a Kinesis or Firehose stream, or a CloudWatch Logs destination."
            )
        if kind == "lambda":
            return
        if not role_arn:
            raise errors.InvalidParameterException(
                "roleArn is required when the destination is a Kinesis or Firehose stream."
            )
        if kind == "firehose":
            control = subscriptions.firehose_records(
                destination_arn, subscriptions.control_message(now_ms())
            )
            try:
                self._deliver_to(kind, "PutRecordBatch", control, destination_arn)
            except ServiceError:
                raise errors.InvalidParameterException(
                    "Could not deliver test message to specified Firehose stream. Check if the "
                    "given Firehose stream is in ACTIVE state."
                ) from None
            return
        record = subscriptions.kinesis_record(
            destination_arn, subscriptions.control_message(now_ms()), "", "Random"
        )
        try:
            self._deliver_to(kind, "PutRecord", record, destination_arn)
        except ServiceError:
            raise errors.InvalidParameterException(subscriptions.UNDELIVERABLE) from None

    def describe_subscription_filters(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        prefix = req.get("filterNamePrefix") or ""
        found = [
            f
            for f in self.model.filters(scope, group["name"], "sub")
            if f["filterName"].startswith(prefix)
        ]
        return {"subscriptionFilters": found}

    def delete_subscription_filter(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        if not self.model.delete_filter(scope, group["name"], "sub", req["filterName"]):
            raise errors.ResourceNotFoundException(
                "The specified subscription filter does not exist."
            )
        return {}

    def put_metric_filter(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        _pattern(req.get("filterPattern"))
        doc = {
            "filterName": req["filterName"],
            "filterPattern": req.get("filterPattern") or "",
            "metricTransformations": req["metricTransformations"],
            "creationTime": now_ms(),
            "logGroupName": group["name"],
        }
        self.model.put_filter(scope, group["name"], "metric", req["filterName"], doc, now_ms())
        return {}

    def describe_metric_filters(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group_name = req.get("logGroupName")
        if group_name:
            self._group(scope, group_name)
        prefix = req.get("filterNamePrefix") or ""
        metric, namespace = req.get("metricName"), req.get("metricNamespace")
        found = []
        for doc in self.model.filters(scope, group_name, "metric"):
            if not doc["filterName"].startswith(prefix):
                continue
            transforms = doc["metricTransformations"]
            if metric and not any(t["metricName"] == metric for t in transforms):
                continue
            if namespace and not any(t["metricNamespace"] == namespace for t in transforms):
                continue
            found.append(doc)
        limit = req.get("limit") or 50
        start = int(self._token(req.get("nextToken"), 0))
        out: dict[str, Any] = {"metricFilters": found[start : start + limit]}
        if start + limit < len(found):
            out["nextToken"] = encode_token(start + limit)
        return out

    def delete_metric_filter(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        group = self._group(scope, req["logGroupName"])
        if not self.model.delete_filter(scope, group["name"], "metric", req["filterName"]):
            raise errors.ResourceNotFoundException("The specified metric filter does not exist.")
        return {}

    def test_metric_filter(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        pattern = _pattern(req["filterPattern"])
        matches = [
            {
                "eventNumber": number,
                "eventMessage": message,
                "extractedValues": pattern.extract(message),
            }
            for number, message in enumerate(req["logEventMessages"], start=1)
            if pattern.matches(message)
        ]
        return {"matches": matches}

    # -- Logs Insights ------------------------------------------------------------------------

    def start_query(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        names = [
            *([req["logGroupName"]] if req.get("logGroupName") else []),
            *(req.get("logGroupNames") or []),
            *(self._group_name(i) for i in req.get("logGroupIdentifiers") or []),
        ]
        if not names:
            raise errors.InvalidParameterException("Query must contain at least one log group.")
        if req["endTime"] < req["startTime"]:
            raise errors.InvalidParameterException("endTime must be greater than startTime")
        try:
            query = insights.parse_query(req["queryString"])
        except insights.QueryError as exc:
            raise errors.MalformedQueryException(
                f"Query is malformed: {exc}",
                queryCompileError={"message": str(exc)},
            ) from None
        if req.get("limit"):
            query.limit = req["limit"]
        groups = [self._group(scope, name)["name"] for name in names]
        records: list[dict[str, Any]] = []
        for group in groups:
            for event in self.model.group_events(
                scope, group, req["startTime"] * 1000, (req["endTime"] + 1) * 1000, None
            ):
                records.append(
                    insights.record(
                        event.timestamp,
                        event.message,
                        event.stream,
                        f"{scope.account}:{group}",
                        event.ingested,
                        encode_token([group, event.id]),
                    )
                )
        results = insights.run(query, records)
        query_id = str(uuid.uuid4())
        now = now_ms()
        self.queries.put(
            scope,
            query_id,
            now,
            {
                "queryId": query_id,
                "queryString": req["queryString"],
                "status": "Complete",
                "createTime": now,
                "logGroupName": groups[0],
                "queryDuration": 0,
                "results": results,
                "statistics": {
                    "recordsMatched": float(len(results)),
                    "recordsScanned": float(len(records)),
                    "bytesScanned": float(sum(len(r["@message"]) for r in records)),
                },
            },
        )
        return {"queryId": query_id}

    def _query(self, ctx: RequestContext, query_id: str) -> dict[str, Any]:
        doc = self.queries.get(scope_of(ctx), query_id)
        if doc is None:
            raise errors.ResourceNotFoundException(f"Query does not exist: {query_id}")
        return doc

    def get_query_results(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        doc = self._query(ctx, req["queryId"])
        return {
            "queryLanguage": "CWLI",
            "results": doc["results"],
            "statistics": doc["statistics"],
            "status": doc["status"],
        }

    def stop_query(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        doc = self._query(ctx, req["queryId"])
        # Queries finish when they start: there is never a running one to stop.
        return {"success": doc["status"] == "Running"}

    def describe_queries(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        found = []
        for doc in self.queries.listing(scope_of(ctx)):
            if req.get("logGroupName") and doc["logGroupName"] != req["logGroupName"]:
                continue
            if req.get("status") and doc["status"] != req["status"]:
                continue
            found.append(
                {
                    key: doc[key]
                    for key in (
                        "queryId",
                        "queryString",
                        "status",
                        "createTime",
                        "logGroupName",
                    )
                }
                | {"queryLanguage": "CWLI"}
            )
        return {"queries": found[: req.get("maxResults") or 1000]}

    # -- helpers ----------------------------------------------------------------------------

    def _group_name(self, identifier: str) -> str:
        if identifier.startswith("arn:"):
            return identifier.split(":log-group:", 1)[-1].removesuffix(":*")
        return identifier

    def _group(self, scope: Scope, identifier: str) -> Any:
        row = self.model.group(scope, self._group_name(identifier))
        if row is None:
            raise errors.ResourceNotFoundException("The specified log group does not exist.")
        return row

    def _stream(self, scope: Scope, group: str, name: str) -> Any:
        row = self.model.stream(scope, group, name)
        if row is None:
            raise errors.ResourceNotFoundException("The specified log stream does not exist.")
        return row

    def _token(self, token: str | None, default: Any) -> Any:
        if not token:
            return default
        try:
            return decode_token(token)
        except InvalidToken:
            raise errors.InvalidParameterException("The specified nextToken is invalid.") from None


def _pattern(text: str | None) -> FilterPattern:
    try:
        return compile_pattern(text)
    except PatternError as exc:
        raise errors.InvalidParameterException(f"Invalid filter pattern: {exc}") from None


def _check_batch(events: list[tuple[int, str]]) -> None:
    if any(b[0] < a[0] for a, b in itertools.pairwise(events)):
        raise errors.InvalidParameterException(
            "Log events in a single PutLogEvents request must be in chronological order."
        )
    if events[-1][0] - events[0][0] > MAX_BATCH_SPAN_MS:
        raise errors.InvalidParameterException(
            "The batch of log events in a single PutLogEvents request cannot span more than "
            "24 hours."
        )
    size = sum(len(message.encode()) + EVENT_OVERHEAD for _, message in events)
    if size > MAX_BATCH_BYTES:
        raise errors.InvalidParameterException(
            f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )


def _admissible(
    events: list[tuple[int, str]], now: int, retention: int | None
) -> tuple[list[tuple[int, str]], dict[str, int]]:
    """The events to keep, and ``rejectedLogEventsInfo`` for the rest (events are sorted, so
    the too-old ones are a prefix and the too-new ones a suffix)."""
    rejected: dict[str, int] = {}
    too_old = sum(1 for ts, _ in events if ts < now - TOO_OLD_MS)
    expired = 0
    if retention is not None:
        expired = sum(1 for ts, _ in events if ts < now - retention * DAY_MS)
    too_new_from = next((i for i, (ts, _) in enumerate(events) if ts > now + TOO_NEW_MS), None)
    if too_old:
        rejected["tooOldLogEventEndIndex"] = too_old
    if expired:
        rejected["expiredLogEventEndIndex"] = expired
    if too_new_from is not None:
        rejected["tooNewLogEventStartIndex"] = too_new_from
    first = max(too_old, expired)
    last = len(events) if too_new_from is None else too_new_from
    return events[first:last], rejected


def _sequence_token(ms: int) -> str:
    return f"{ms:056d}"


def _position_token(direction: str, position: tuple[int, int] | None) -> str:
    ts, event_id = position if position is not None else (0, 0)
    return f"{direction}/{ts:020d}{event_id:036d}"


def _read_position(token: str) -> tuple[str, tuple[int, int] | None]:
    direction, _, digits = token.partition("/")
    if direction not in ("f", "b") or len(digits) != 56 or not digits.isdigit():
        raise errors.InvalidParameterException("The specified nextToken is invalid.")
    position = (int(digits[:20]), int(digits[20:]))
    return direction, None if position == (0, 0) else position
