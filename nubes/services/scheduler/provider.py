"""Amazon EventBridge Scheduler: schedule groups and schedules (one-time ``at(...)``, ``rate``,
``cron`` in a time zone), flexible time windows, start and end dates, ActionAfterCompletion,
fired on the one clock through the targets code EventBridge rules use (templated targets for
SQS, SNS, Lambda and EventBridge PutEvents; universal ``aws-sdk`` targets for any operation an
implemented service answers)."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import arn, arn_service, parse_arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, paginate
from nubes.core.tags import from_list, to_list
from nubes.protocol.timestamps import to_datetime
from nubes.services.base import ServiceProvider
from nubes.services.events import schedules
from nubes.services.events.targets import Delivery, Targets, has_pending
from nubes.services.scheduler.errors import errors
from nubes.store import Row

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]

MIGRATIONS = (
    """
    CREATE TABLE scheduler_groups (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        modified REAL NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE TABLE scheduler_schedules (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        grp TEXT NOT NULL,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        modified REAL NOT NULL,
        anchor REAL NOT NULL,
        due REAL,
        fire_at REAL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, grp, name)
    ) WITHOUT ROWID;
    CREATE INDEX scheduler_schedules_due ON scheduler_schedules (fire_at);
    """,
)

DEFAULT_GROUP = "default"
DEFAULT_RETRY = {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}
TICK = 1.0
_FIELDS = (
    "ActionAfterCompletion",
    "Description",
    "EndDate",
    "FlexibleTimeWindow",
    "KmsKeyArn",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "StartDate",
    "State",
    "Target",
)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SchedulerProvider(ServiceProvider):
    service = "scheduler"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.targets = Targets(env, "scheduler")

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        return has_pending(env.state.store, "scheduler") or cls.has_rows(
            env, "SELECT 1 FROM scheduler_schedules WHERE fire_at IS NOT NULL LIMIT 1"
        )

    async def start(self) -> None:
        self.env.scheduler.every("scheduler-tick", TICK, self._tick)
        self.env.scheduler.on_advance(self._on_advance)

    # -- groups ---------------------------------------------------------------------------

    @staticmethod
    def _group_arn(ctx: RequestContext, name: str) -> str:
        return arn("scheduler", ctx.region, ctx.account_id, f"schedule-group/{name}")

    def _group(self, ctx: RequestContext, name: str | None) -> Row:
        name = name or DEFAULT_GROUP
        key = (ctx.account_id, ctx.region, name)
        row = self.store.query_one(
            "SELECT * FROM scheduler_groups WHERE account = ? AND region = ? AND name = ?", key
        )
        if row is None and name == DEFAULT_GROUP:
            now = clock.now()
            self.store.execute(
                "INSERT INTO scheduler_groups (account, region, name, created, modified) "
                "VALUES (?, ?, ?, ?, ?)",
                (*key, now, now),
            )
            return self._group(ctx, name)
        if row is None:
            raise errors.ResourceNotFoundException(f"Schedule group {name} does not exist.")
        return row

    def create_schedule_group(self, ctx: RequestContext, req: Json) -> Json:
        name = req["Name"]
        exists = self.store.scalar(
            "SELECT 1 FROM scheduler_groups WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, name),
        )
        if exists or name == DEFAULT_GROUP:
            raise errors.ConflictException(f"Schedule group {name} already exists.")
        group_arn = self._group_arn(ctx, name)
        self._set_tags(group_arn, req.get("Tags") or [])
        now = clock.now()
        self.store.execute(
            "INSERT INTO scheduler_groups (account, region, name, created, modified) "
            "VALUES (?, ?, ?, ?, ?)",
            (ctx.account_id, ctx.region, name, now, now),
        )
        return {"ScheduleGroupArn": group_arn}

    def _group_out(self, ctx: RequestContext, row: Row) -> Json:
        return {
            "Arn": self._group_arn(ctx, row["name"]),
            "CreationDate": row["created"],
            "LastModificationDate": row["modified"],
            "Name": row["name"],
            "State": "ACTIVE",
        }

    def get_schedule_group(self, ctx: RequestContext, req: Json) -> Json:
        return self._group_out(ctx, self._group(ctx, req["Name"]))

    def list_schedule_groups(self, ctx: RequestContext, req: Json) -> Json:
        self._group(ctx, DEFAULT_GROUP)
        rows = self.store.query(
            "SELECT * FROM scheduler_groups WHERE account = ? AND region = ? "
            "AND substr(name, 1, ?) = ? ORDER BY name",
            (
                ctx.account_id,
                ctx.region,
                len(req.get("NamePrefix") or ""),
                req.get("NamePrefix") or "",
            ),
        )
        page, token = self._page(list(rows), req, key=lambda r: r["name"])
        out: Json = {"ScheduleGroups": [self._group_out(ctx, r) for r in page]}
        if token:
            out["NextToken"] = token
        return out

    def delete_schedule_group(self, ctx: RequestContext, req: Json) -> Json:
        name = req["Name"]
        if name == DEFAULT_GROUP:
            raise errors.ValidationException("Cannot delete the default schedule group.")
        self._group(ctx, name)
        key = (ctx.account_id, ctx.region, name)
        self.store.execute(
            "DELETE FROM scheduler_schedules WHERE account = ? AND region = ? AND grp = ?", key
        )
        self.store.execute(
            "DELETE FROM scheduler_groups WHERE account = ? AND region = ? AND name = ?", key
        )
        self.env.tags.drop(self._group_arn(ctx, name))
        return {}

    @staticmethod
    def _page(rows: list[Row], req: Json, key: Any) -> tuple[list[Row], str | None]:
        try:
            return paginate(rows, req.get("MaxResults") or 100, req.get("NextToken"), key)
        except (InvalidToken, TypeError):
            raise errors.ValidationException("Invalid NextToken.") from None

    # -- tags (schedule groups only) ------------------------------------------------------

    def _tagged(self, ctx: RequestContext, resource_arn: str) -> str:
        found = parse_arn(resource_arn)
        name = found.resource.removeprefix("schedule-group/")
        if found.account != ctx.account_id or found.region != ctx.region:
            raise errors.ResourceNotFoundException(f"Schedule group {name} does not exist.")
        self._group(ctx, name)
        return resource_arn

    def _set_tags(self, resource_arn: str, tags: list[Json]) -> None:
        self.env.tags.add(resource_arn, from_list(tags), errors.ValidationException)

    def tag_resource(self, ctx: RequestContext, req: Json) -> Json:
        self._set_tags(self._tagged(ctx, req["ResourceArn"]), req["Tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, req: Json) -> Json:
        self.env.tags.remove(self._tagged(ctx, req["ResourceArn"]), req["TagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, req: Json) -> Json:
        return {"Tags": to_list(self.env.tags.get(self._tagged(ctx, req["ResourceArn"])))}

    # -- schedules ------------------------------------------------------------------------

    @staticmethod
    def _schedule_arn(account: str, region: str, group: str, name: str) -> str:
        return arn("scheduler", region, account, f"schedule/{group}/{name}")

    def _schedule(self, ctx: RequestContext, req: Json) -> Row:
        group = req.get("GroupName") or DEFAULT_GROUP
        row = self.store.query_one(
            "SELECT * FROM scheduler_schedules WHERE account = ? AND region = ? AND grp = ? "
            "AND name = ?",
            (ctx.account_id, ctx.region, group, req["Name"]),
        )
        if row is None:
            raise errors.ResourceNotFoundException(f"Schedule {req['Name']} does not exist.")
        return row

    def _validated(self, req: Json) -> Json:
        doc = {k: req[k] for k in _FIELDS if req.get(k) is not None}
        doc.setdefault("State", "ENABLED")
        doc.setdefault("ActionAfterCompletion", "NONE")
        expression = doc["ScheduleExpression"]
        zone = doc.get("ScheduleExpressionTimezone")
        if zone:
            try:
                schedules.zone(zone)
            except schedules.ScheduleError:
                raise errors.ValidationException(f"Invalid time zone: {zone}.") from None
        try:
            schedules.parse(expression, zone, allow_at=True)
        except schedules.ScheduleError:
            raise errors.ValidationException(f"Invalid Schedule Expression {expression}.") from None
        window = doc["FlexibleTimeWindow"]
        if window.get("Mode") == "FLEXIBLE" and not window.get("MaximumWindowInMinutes"):
            raise errors.ValidationException(
                "MaximumWindowInMinutes must be specified when the flexible time window mode is "
                "FLEXIBLE."
            )
        if window.get("Mode") == "OFF" and window.get("MaximumWindowInMinutes"):
            raise errors.ValidationException(
                "MaximumWindowInMinutes must not be specified when the flexible time window "
                "mode is OFF."
            )
        for key in ("StartDate", "EndDate"):
            if key in doc:
                doc[key] = to_datetime(doc[key]).timestamp()
        if "StartDate" in doc and "EndDate" in doc and doc["StartDate"] >= doc["EndDate"]:
            raise errors.ValidationException("The StartDate must come before the EndDate.")
        if "EndDate" in doc and doc["EndDate"] <= clock.now():
            raise errors.ValidationException("The EndDate must be in the future.")
        target = doc["Target"]
        # AWS answers the defaults it applies, as GetSchedule shows them.
        target["RetryPolicy"] = {**DEFAULT_RETRY, **(target.get("RetryPolicy") or {})}
        try:
            parse_arn(target["Arn"])
        except ValueError:
            raise errors.ValidationException(f"Invalid target ARN {target['Arn']}.") from None
        fifo = arn_service(target["Arn"]) == "sqs" and target["Arn"].endswith(".fifo")
        if fifo and not (target.get("SqsParameters") or {}).get("MessageGroupId"):
            raise errors.ValidationException(
                "Target is a FIFO queue: SqsParameters.MessageGroupId is required."
            )
        return doc

    def _write(self, ctx: RequestContext, group: str, name: str, doc: Json, created: float) -> str:
        now = clock.now()
        start = doc.get("StartDate")
        if str(doc["ScheduleExpression"]).strip().startswith("at("):
            start = None
        # Rates count from the start date (else from now); nothing fires before the start.
        anchor = start if start is not None else now
        due = self._next_due(doc, now if start is None else max(now, start - 0.001), anchor)
        fire_at = self._fire_at(doc, due)
        self.store.execute(
            "INSERT INTO scheduler_schedules (account, region, grp, name, created, modified, "
            "anchor, due, fire_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account, region, grp, name) DO UPDATE SET modified = excluded.modified, "
            "anchor = excluded.anchor, due = excluded.due, fire_at = excluded.fire_at, "
            "doc = excluded.doc",
            (
                ctx.account_id,
                ctx.region,
                group,
                name,
                created,
                now,
                anchor,
                due,
                fire_at,
                json.dumps(doc),
            ),
        )
        return self._schedule_arn(ctx.account_id, ctx.region, group, name)

    def create_schedule(self, ctx: RequestContext, req: Json) -> Json:
        group = self._group(ctx, req.get("GroupName"))["name"]
        exists = self.store.scalar(
            "SELECT 1 FROM scheduler_schedules WHERE account = ? AND region = ? AND grp = ? "
            "AND name = ?",
            (ctx.account_id, ctx.region, group, req["Name"]),
        )
        doc = self._validated(req)
        if exists:
            # A retried request (same client token, same schedule) gets the first answer.
            stored = json.loads(self._schedule(ctx, {**req, "GroupName": group})["doc"])
            token = req.get("ClientToken")
            if not token or stored.pop("ClientToken", None) != token or stored != doc:
                raise errors.ConflictException(f"Schedule {req['Name']} already exists.")
            return {
                "ScheduleArn": self._schedule_arn(ctx.account_id, ctx.region, group, req["Name"])
            }
        if req.get("ClientToken"):
            doc["ClientToken"] = req["ClientToken"]
        return {"ScheduleArn": self._write(ctx, group, req["Name"], doc, clock.now())}

    def update_schedule(self, ctx: RequestContext, req: Json) -> Json:
        row = self._schedule(ctx, req)
        doc = self._validated(req)
        return {"ScheduleArn": self._write(ctx, row["grp"], row["name"], doc, row["created"])}

    def delete_schedule(self, ctx: RequestContext, req: Json) -> Json:
        row = self._schedule(ctx, req)
        self._delete(row)
        return {}

    def _delete(self, row: Row) -> None:
        self.store.execute(
            "DELETE FROM scheduler_schedules WHERE account = ? AND region = ? AND grp = ? "
            "AND name = ?",
            (row["account"], row["region"], row["grp"], row["name"]),
        )

    def get_schedule(self, ctx: RequestContext, req: Json) -> Json:
        row = self._schedule(ctx, req)
        doc = json.loads(row["doc"])
        doc.pop("ClientToken", None)
        return {
            **doc,
            "Arn": self._schedule_arn(row["account"], row["region"], row["grp"], row["name"]),
            "CreationDate": row["created"],
            "GroupName": row["grp"],
            "LastModificationDate": row["modified"],
            "Name": row["name"],
        }

    def list_schedules(self, ctx: RequestContext, req: Json) -> Json:
        prefix = req.get("NamePrefix") or ""
        rows = [
            r
            for r in self.store.query(
                "SELECT * FROM scheduler_schedules WHERE account = ? AND region = ? "
                "ORDER BY grp, name",
                (ctx.account_id, ctx.region),
            )
            if r["name"].startswith(prefix)
            and (not req.get("GroupName") or r["grp"] == req["GroupName"])
            and (not req.get("State") or json.loads(r["doc"])["State"] == req["State"])
        ]
        page, token = self._page(rows, req, key=lambda r: [r["grp"], r["name"]])
        out: Json = {
            "Schedules": [
                {
                    "Arn": self._schedule_arn(r["account"], r["region"], r["grp"], r["name"]),
                    "CreationDate": r["created"],
                    "GroupName": r["grp"],
                    "LastModificationDate": r["modified"],
                    "Name": r["name"],
                    "State": json.loads(r["doc"])["State"],
                    "Target": {"Arn": json.loads(r["doc"])["Target"]["Arn"]},
                }
                for r in page
            ]
        }
        if token:
            out["NextToken"] = token
        return out

    # -- firing on the one clock ----------------------------------------------------------

    @staticmethod
    def _next_due(doc: Json, after: float, anchor: float) -> float | None:
        if doc.get("State") != "ENABLED":
            return None
        schedule = schedules.parse(
            doc["ScheduleExpression"], doc.get("ScheduleExpressionTimezone"), allow_at=True
        )
        if isinstance(schedule, schedules.At):
            # One-time schedules ignore StartDate and EndDate.
            return schedule.next_after(after)
        if isinstance(schedule, schedules.Rate):
            due: float | None = schedule.next_after(after, anchor)
        else:
            due = schedule.next_after(after)
        if due is not None and doc.get("EndDate") is not None and due > doc["EndDate"]:
            return None
        return due

    @staticmethod
    def _fire_at(doc: Json, due: float | None) -> float | None:
        if due is None:
            return None
        window = doc.get("FlexibleTimeWindow") or {}
        if window.get("Mode") == "FLEXIBLE":
            return due + random.uniform(0, window["MaximumWindowInMinutes"] * 60)
        return due

    def _on_advance(self) -> None:
        with self.store.transaction():
            self._tick()

    def _tick(self) -> None:
        now = clock.now()
        rows = self.store.query(
            "SELECT * FROM scheduler_schedules WHERE fire_at IS NOT NULL AND fire_at <= ?", (now,)
        )
        for row in rows:
            self._run(row, now)
        self.targets.retry_due(now)

    def _run(self, row: Row, now: float) -> None:
        doc = json.loads(row["doc"])
        due: float | None = row["due"]
        fire_at: float | None = row["fire_at"]
        fired = 0
        while due is not None and fire_at is not None and fire_at <= now:
            if fired == schedules.MAX_CATCH_UP:
                # A jump longer than the catch-up allows: resume at the next boundary.
                due = self._next_due(doc, now, row["anchor"])
                fire_at = self._fire_at(doc, due)
                break
            self._invoke(row, doc, due)
            fired += 1
            due = self._next_due(doc, due, row["anchor"])
            fire_at = self._fire_at(doc, due)
        if due is None and doc.get("ActionAfterCompletion") == "DELETE":
            self._delete(row)
            return
        self.store.execute(
            "UPDATE scheduler_schedules SET due = ?, fire_at = ? WHERE account = ? AND "
            "region = ? AND grp = ? AND name = ?",
            (due, fire_at, row["account"], row["region"], row["grp"], row["name"]),
        )

    def _invoke(self, row: Row, doc: Json, due: float) -> None:
        target = doc["Target"]
        schedule_arn = self._schedule_arn(row["account"], row["region"], row["grp"], row["name"])
        execution = str(uuid.uuid4())
        self.targets.deliver(
            Delivery(
                account=row["account"],
                region=row["region"],
                target=target,
                payload="",
                dlq_body="",
                dlq_attributes={
                    "EXECUTION_ID": execution,
                    "SCHEDULE_ARN": schedule_arn,
                    "SCHEDULED_TIME": _iso(due),
                },
                context={
                    "aws.scheduler.schedule-arn": schedule_arn,
                    "aws.scheduler.scheduled-time": _iso(due),
                    "aws.scheduler.execution-id": execution,
                },
                dedup_id=execution,
            )
        )
