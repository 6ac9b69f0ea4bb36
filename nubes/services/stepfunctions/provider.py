"""AWS Step Functions: state machines (STANDARD and EXPRESS, versions and aliases), executions
run by the States Language interpreter as tasks of this provider, their history, activities and
task tokens.

Durability: a STANDARD execution commits its history event by event and, at each transition of
its top level, the state it is about to run, that state's input and the variables. A restarted
server resumes each RUNNING execution from that state (a Parallel or Map state running when the
server stopped runs again from its start, and a task in flight is called again, as a retried
task would be, with a new task token: the old token is answered TaskTimedOut).
EXPRESS executions are not durable (AWS runs them at most once): a restart fails them with
``States.Runtime``."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import random
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import arn, parse_arn
from nubes.core.context import RequestContext
from nubes.core.events import Event
from nubes.core.metrics import Datapoint
from nubes.core.pagination import InvalidToken, paginate
from nubes.core.tags import tag_problems
from nubes.protocol.base import ServiceError
from nubes.runtime.stepfunctions import validate
from nubes.runtime.stepfunctions.interpreter import Interpreter, TaskCall, dumps, iso, outcome
from nubes.runtime.stepfunctions.paths import StatesError
from nubes.services.base import ServiceProvider
from nubes.services.stepfunctions import integrations as sdk
from nubes.services.stepfunctions.errors import errors
from nubes.store import Row

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]

MIGRATIONS = (
    """
    CREATE TABLE sfn_machines (
        arn TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        created REAL NOT NULL,
        revision TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE TABLE sfn_versions (
        arn TEXT PRIMARY KEY,
        machine TEXT NOT NULL,
        version INTEGER NOT NULL,
        created REAL NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE TABLE sfn_aliases (
        arn TEXT PRIMARY KEY,
        machine TEXT NOT NULL,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE TABLE sfn_executions (
        arn TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        machine TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        started REAL NOT NULL,
        stopped REAL,
        input TEXT NOT NULL,
        output TEXT,
        error TEXT,
        cause TEXT,
        definition TEXT NOT NULL,
        role TEXT NOT NULL,
        version_arn TEXT,
        alias_arn TEXT,
        position TEXT,
        last_event INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sfn_executions_machine ON sfn_executions (machine, started);
    CREATE TABLE sfn_events (
        execution TEXT NOT NULL,
        id INTEGER NOT NULL,
        at REAL NOT NULL,
        type TEXT NOT NULL,
        previous INTEGER NOT NULL,
        details TEXT,
        PRIMARY KEY (execution, id)
    ) WITHOUT ROWID;
    CREATE TABLE sfn_activities (
        arn TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE sfn_tokens (
        token TEXT PRIMARY KEY,
        execution TEXT NOT NULL,
        activity TEXT,
        input TEXT NOT NULL,
        status TEXT NOT NULL,
        created REAL NOT NULL,
        heartbeat REAL,
        worker TEXT,
        output TEXT,
        error TEXT,
        cause TEXT
    );
    CREATE INDEX sfn_tokens_activity ON sfn_tokens (activity, status, created);
    """,
    """
    ALTER TABLE sfn_executions ADD COLUMN redrive_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sfn_executions ADD COLUMN redrive_date REAL;
    CREATE INDEX sfn_executions_closed ON sfn_executions (stopped);
    """,
    """
    CREATE TABLE sfn_map_runs (
        arn TEXT PRIMARY KEY,
        execution TEXT NOT NULL,
        machine TEXT NOT NULL,
        status TEXT NOT NULL,
        started REAL NOT NULL,
        stopped REAL,
        doc TEXT NOT NULL
    );
    CREATE INDEX sfn_map_runs_execution ON sfn_map_runs (execution, started);
    """,
)

_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")
_TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
MAX_INPUT = 256 * 1024
ACTIVITY_POLL = 60.0
RETENTION = 90 * 86400
"""Closed executions are kept (and their names taken) for 90 days."""
REDRIVE_PERIOD = 14 * 86400
MAX_REDRIVES = 1000
_COUNTS = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "timedOut",
    "aborted",
    "total",
    "resultsWritten",
)
TASK_DEFAULT_TIMEOUT = 99_999_999


class Signal:
    """Wakes every waiter (a Wait state, a task token, an activity poll) when something they
    may wait for changed: the clock moved, a token was answered, a task was queued."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=max(timeout, 0.001))


def _valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


def _not_redrivable(row: Row) -> str | None:
    """Why the execution cannot be redriven (None when it can)."""
    if row["type"] != "STANDARD":
        return "Execution redrive is not supported for EXPRESS state machines"
    if row["status"] not in ("FAILED", "TIMED_OUT", "ABORTED"):
        return f"Execution is {row['status']} and cannot be redriven"
    if row["stopped"] is not None and clock.now() > row["stopped"] + REDRIVE_PERIOD:
        return "Execution can no longer be redriven: it closed more than 14 days ago"
    if row["redrive_count"] >= MAX_REDRIVES:
        return "Execution has been redriven the maximum number of times"
    if not row["position"]:
        return "Execution failed before it entered a state"
    return None


class StepFunctionsProvider(ServiceProvider):
    service = "stepfunctions"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.signal: Signal | None = None

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        return cls.has_rows(env, "SELECT 1 FROM sfn_executions WHERE status = 'RUNNING' LIMIT 1")

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.signal = Signal()
        self.env.scheduler.on_advance(self._poke)
        self.env.scheduler.every("stepfunctions-retention", 3600, self._sweep)
        with self.store.transaction():
            rows = self.store.query("SELECT arn, type FROM sfn_executions WHERE status = 'RUNNING'")
            for row in rows:
                if row["type"] == "EXPRESS":
                    self._finish(
                        row["arn"],
                        "FAILED",
                        error="States.Runtime",
                        cause="The execution was lost when the server restarted.",
                    )
            # The task states in flight run again and hand out new tokens: the old ones are
            # answered TaskTimedOut, as a task's that ended.
            self.store.execute(
                "UPDATE sfn_tokens SET status = 'failed', error = 'States.Runtime' "
                "WHERE status IN ('queued', 'taken', 'waiting')"
            )
        for row in rows:
            if row["type"] == "STANDARD":
                self._launch(row["arn"])

    async def stop(self) -> None:
        runs = list(self._runs.values())
        for task in runs:
            task.cancel()
        for task in runs:
            with contextlib.suppress(BaseException):
                await task
        self._runs.clear()

    def reset(self) -> None:
        for task in self._runs.values():
            task.cancel()
        self._runs.clear()

    def _poke(self) -> None:
        loop = self._loop
        if loop is None or self.signal is None:
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self.signal.fire()
        else:
            loop.call_soon_threadsafe(self.signal.fire)

    # -- state machines ---------------------------------------------------------------------

    @staticmethod
    def _check_definition(definition: str) -> Json:
        doc, found = validate.parse(definition)
        if found or doc is None:
            raise errors.InvalidDefinition(validate.invalid_definition_message(found))
        return doc

    def _machine_row(self, ctx: RequestContext, machine_arn: str) -> Row:
        self._check_arn(machine_arn, "stateMachine")
        base = machine_arn
        parts = machine_arn.split(":")
        if len(parts) > 7:
            base = ":".join(parts[:7])
        row = self.store.query_one("SELECT * FROM sfn_machines WHERE arn = ?", (base,))
        if row is None:
            raise errors.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{machine_arn}'")
        return row

    @staticmethod
    def _check_arn(value: str, kind: str) -> None:
        try:
            parsed = parse_arn(value)
        except ValueError:
            raise errors.InvalidArn(
                f"Invalid Arn: 'Resource type not valid in this context: '{value}''"
            ) from None
        if parsed.service != "states" or not parsed.resource.startswith(f"{kind}:"):
            raise errors.InvalidArn(
                f"Invalid Arn: 'Resource type not valid in this context: '{kind}''"
            )

    def create_state_machine(self, ctx: RequestContext, req: Json) -> Json:
        name = req["name"]
        if not _valid_name(name):
            raise errors.InvalidName(f"Invalid Name: '{name}'")
        kind = req.get("type") or "STANDARD"
        self._check_definition(req["definition"])
        self._check_role(req["roleArn"])
        machine_arn = arn("states", ctx.region, ctx.account_id, f"stateMachine:{name}")
        existing = self.store.query_one("SELECT * FROM sfn_machines WHERE arn = ?", (machine_arn,))
        doc = {
            "definition": req["definition"],
            "roleArn": req["roleArn"],
            "loggingConfiguration": req.get("loggingConfiguration")
            or {"level": "OFF", "includeExecutionData": False},
            "tracingConfiguration": req.get("tracingConfiguration") or {"enabled": False},
            "description": req.get("versionDescription"),
        }
        if existing is not None:
            old = json.loads(existing["doc"])
            same = (
                old["definition"] == doc["definition"]
                and old["roleArn"] == doc["roleArn"]
                and existing["type"] == kind
            )
            if not same:
                raise errors.StateMachineAlreadyExists(
                    f"State Machine Already Exists: '{machine_arn}'"
                )
            return {"stateMachineArn": machine_arn, "creationDate": existing["created"]}
        now = clock.now()
        self._set_tags(machine_arn, req.get("tags") or [])
        self.store.execute(
            "INSERT INTO sfn_machines (arn, account, region, name, type, created, revision, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                machine_arn,
                ctx.account_id,
                ctx.region,
                name,
                kind,
                now,
                str(uuid.uuid4()),
                json.dumps(doc),
            ),
        )
        out: Json = {"stateMachineArn": machine_arn, "creationDate": now}
        if req.get("publish"):
            out["stateMachineVersionArn"] = self._publish(
                machine_arn, req.get("versionDescription")
            )
        return out

    @staticmethod
    def _check_role(role: str) -> None:
        try:
            parsed = parse_arn(role)
        except ValueError:
            raise errors.InvalidArn(f"Invalid Arn: 'Role ARN is not valid: {role}'") from None
        if parsed.service != "iam":
            raise errors.InvalidArn(f"Invalid Arn: 'Role ARN is not valid: {role}'")

    def _describe_machine(self, row: Row, doc: Json, arn_out: str | None = None) -> Json:
        out: Json = {
            "stateMachineArn": arn_out or row["arn"],
            "name": row["name"],
            "status": "ACTIVE",
            "definition": doc["definition"],
            "roleArn": doc["roleArn"],
            "type": row["type"],
            "creationDate": row["created"],
            "loggingConfiguration": doc["loggingConfiguration"],
            "tracingConfiguration": doc["tracingConfiguration"],
            "revisionId": doc.get("revisionId") or row["revision"],
        }
        if doc.get("description"):
            out["description"] = doc["description"]
        return out

    def describe_state_machine(self, ctx: RequestContext, req: Json) -> Json:
        target = req["stateMachineArn"]
        row = self._machine_row(ctx, target)
        if target != row["arn"]:
            version = self._version_or_alias(target)
            return self._describe_machine(row, version, target)
        return self._describe_machine(row, json.loads(row["doc"]))

    def _version_or_alias(self, target: str) -> Json:
        version = self.store.query_one("SELECT * FROM sfn_versions WHERE arn = ?", (target,))
        if version is not None:
            return {**json.loads(version["doc"]), "created": version["created"]}
        alias = self.store.query_one("SELECT * FROM sfn_aliases WHERE arn = ?", (target,))
        if alias is None:
            raise errors.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{target}'")
        routes = json.loads(alias["doc"])["routingConfiguration"]
        weights = [r["weight"] for r in routes]
        chosen = random.choices([r["stateMachineVersionArn"] for r in routes], weights=weights)[0]
        return {**self._version_or_alias(chosen), "version_arn": chosen}

    def update_state_machine(self, ctx: RequestContext, req: Json) -> Json:
        row = self._machine_row(ctx, req["stateMachineArn"])
        keys = ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
        if not any(k in req for k in keys):
            raise errors.MissingRequiredParameter(
                "Either the definition, the role ARN, the LoggingConfiguration, or the "
                "TracingConfiguration must be specified"
            )
        doc = json.loads(row["doc"])
        if "definition" in req:
            self._check_definition(req["definition"])
        if "roleArn" in req:
            self._check_role(req["roleArn"])
        for key in keys:
            if key in req:
                doc[key] = req[key]
        now = clock.now()
        revision = str(uuid.uuid4())
        self.store.execute(
            "UPDATE sfn_machines SET doc = ?, revision = ? WHERE arn = ?",
            (json.dumps(doc), revision, row["arn"]),
        )
        out: Json = {"updateDate": now, "revisionId": revision}
        if req.get("publish"):
            out["stateMachineVersionArn"] = self._publish(row["arn"], req.get("versionDescription"))
        return out

    def delete_state_machine(self, ctx: RequestContext, req: Json) -> Json:
        target = req["stateMachineArn"]
        self._check_arn(target, "stateMachine")
        if len(target.split(":")) > 7:
            raise errors.ValidationException(
                "Version and alias ARNs are not accepted: use DeleteStateMachineVersion or "
                "DeleteStateMachineAlias"
            )
        self.store.execute("DELETE FROM sfn_machines WHERE arn = ?", (target,))
        self.store.execute("DELETE FROM sfn_versions WHERE machine = ?", (target,))
        self.store.execute("DELETE FROM sfn_aliases WHERE machine = ?", (target,))
        self.env.tags.drop(target)
        return {}

    def list_state_machines(self, ctx: RequestContext, req: Json) -> Json:
        rows = self.store.query(
            "SELECT * FROM sfn_machines WHERE account = ? AND region = ? ORDER BY name",
            (ctx.account_id, ctx.region),
        )
        page, token = self._page(rows, req, lambda r: r["name"])
        out: Json = {
            "stateMachines": [
                {
                    "stateMachineArn": r["arn"],
                    "name": r["name"],
                    "type": r["type"],
                    "creationDate": r["created"],
                }
                for r in page
            ]
        }
        if token:
            out["nextToken"] = token
        return out

    def validate_state_machine_definition(self, ctx: RequestContext, req: Json) -> Json:
        _, found = validate.parse(req["definition"])
        limit = req.get("maxResults") or 100
        return {
            "result": "FAIL" if found else "OK",
            "diagnostics": [d.as_dict() for d in found[:limit]],
            "truncated": len(found) > limit,
        }

    @staticmethod
    def _page(rows: list[Row], req: Json, key: Any) -> tuple[list[Row], str | None]:
        limit = req.get("maxResults") or 100
        try:
            return paginate(rows, min(limit, 1000), req.get("nextToken"), key)
        except (InvalidToken, TypeError):
            raise errors.InvalidToken(f"Invalid Token: '{req.get('nextToken')}'") from None

    # -- versions and aliases ---------------------------------------------------------------

    def _publish(self, machine_arn: str, description: str | None) -> str:
        row = self.store.query_one("SELECT * FROM sfn_machines WHERE arn = ?", (machine_arn,))
        assert row is not None
        doc = json.loads(row["doc"])
        latest = self.store.query_one(
            "SELECT * FROM sfn_versions WHERE machine = ? ORDER BY version DESC LIMIT 1",
            (machine_arn,),
        )
        if latest is not None and json.loads(latest["doc"]).get("revisionId") == row["revision"]:
            return str(latest["arn"])
        number = (latest["version"] if latest is not None else 0) + 1
        version_arn = f"{machine_arn}:{number}"
        doc = {**doc, "revisionId": row["revision"], "description": description}
        self.store.execute(
            "INSERT INTO sfn_versions (arn, machine, version, created, doc) VALUES (?, ?, ?, ?, ?)",
            (version_arn, machine_arn, number, clock.now(), json.dumps(doc)),
        )
        return version_arn

    def publish_state_machine_version(self, ctx: RequestContext, req: Json) -> Json:
        row = self._machine_row(ctx, req["stateMachineArn"])
        if req.get("revisionId") and req["revisionId"] != row["revision"]:
            raise errors.ConflictException(
                f"Failed to publish the State Machine version for revision {req['revisionId']}. "
                f"The current State Machine revision is {row['revision']}."
            )
        version_arn = self._publish(row["arn"], req.get("description"))
        created = self.store.scalar(
            "SELECT created FROM sfn_versions WHERE arn = ?", (version_arn,)
        )
        return {"stateMachineVersionArn": version_arn, "creationDate": created}

    def list_state_machine_versions(self, ctx: RequestContext, req: Json) -> Json:
        row = self._machine_row(ctx, req["stateMachineArn"])
        rows = self.store.query(
            "SELECT * FROM sfn_versions WHERE machine = ? ORDER BY version DESC", (row["arn"],)
        )
        page, token = self._page(rows, req, lambda r: -r["version"])
        out: Json = {
            "stateMachineVersions": [
                {"stateMachineVersionArn": r["arn"], "creationDate": r["created"]} for r in page
            ]
        }
        if token:
            out["nextToken"] = token
        return out

    def delete_state_machine_version(self, ctx: RequestContext, req: Json) -> Json:
        target = req["stateMachineVersionArn"]
        self._check_arn(target, "stateMachine")
        for alias in self.store.query("SELECT * FROM sfn_aliases"):
            routes = json.loads(alias["doc"])["routingConfiguration"]
            if any(r["stateMachineVersionArn"] == target for r in routes):
                raise errors.ConflictException(
                    f"Version to be deleted must not be referenced by an alias. Current list of "
                    f"aliases referencing this version: [{alias['arn']}]"
                )
        self.store.execute("DELETE FROM sfn_versions WHERE arn = ?", (target,))
        return {}

    def _routes(self, ctx: RequestContext, routes: list[Json]) -> str:
        if not 1 <= len(routes) <= 2 or sum(r["weight"] for r in routes) != 100:
            raise errors.ValidationException(
                "The routing configuration must have one or two versions whose weights add up "
                "to 100"
            )
        machines = set()
        for route in routes:
            version = self.store.query_one(
                "SELECT * FROM sfn_versions WHERE arn = ?", (route["stateMachineVersionArn"],)
            )
            if version is None:
                raise errors.ResourceNotFound(
                    f"Resource not found: '{route['stateMachineVersionArn']}'"
                )
            machines.add(version["machine"])
        if len(machines) != 1:
            raise errors.ValidationException(
                "The versions of an alias must belong to one state machine"
            )
        return machines.pop()

    def create_state_machine_alias(self, ctx: RequestContext, req: Json) -> Json:
        name = req["name"]
        if not _valid_name(name) or name.isdigit():
            raise errors.InvalidName(f"Invalid Name: '{name}'")
        machine = self._routes(ctx, req["routingConfiguration"])
        alias_arn = f"{machine}:{name}"
        doc = {
            "description": req.get("description"),
            "routingConfiguration": req["routingConfiguration"],
        }
        existing = self.store.query_one("SELECT * FROM sfn_aliases WHERE arn = ?", (alias_arn,))
        if existing is not None:
            if json.loads(existing["doc"]) != doc:
                raise errors.ConflictException(
                    f"Alias {alias_arn} already exists with a different configuration"
                )
            return {"stateMachineAliasArn": alias_arn, "creationDate": existing["created"]}
        now = clock.now()
        self.store.execute(
            "INSERT INTO sfn_aliases (arn, machine, name, created, updated, doc) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (alias_arn, machine, name, now, now, json.dumps(doc)),
        )
        return {"stateMachineAliasArn": alias_arn, "creationDate": now}

    def _alias(self, alias_arn: str) -> Row:
        self._check_arn(alias_arn, "stateMachine")
        row = self.store.query_one("SELECT * FROM sfn_aliases WHERE arn = ?", (alias_arn,))
        if row is None:
            raise errors.ResourceNotFound(f"Resource not found: '{alias_arn}'")
        return row

    def describe_state_machine_alias(self, ctx: RequestContext, req: Json) -> Json:
        row = self._alias(req["stateMachineAliasArn"])
        doc = json.loads(row["doc"])
        out: Json = {
            "stateMachineAliasArn": row["arn"],
            "name": row["name"],
            "routingConfiguration": doc["routingConfiguration"],
            "creationDate": row["created"],
            "updateDate": row["updated"],
        }
        if doc.get("description"):
            out["description"] = doc["description"]
        return out

    def update_state_machine_alias(self, ctx: RequestContext, req: Json) -> Json:
        row = self._alias(req["stateMachineAliasArn"])
        doc = json.loads(row["doc"])
        if "routingConfiguration" in req:
            if self._routes(ctx, req["routingConfiguration"]) != row["machine"]:
                raise errors.ValidationException(
                    "The versions must belong to the alias's state machine"
                )
            doc["routingConfiguration"] = req["routingConfiguration"]
        if "description" in req:
            doc["description"] = req["description"]
        now = clock.now()
        self.store.execute(
            "UPDATE sfn_aliases SET doc = ?, updated = ? WHERE arn = ?",
            (json.dumps(doc), now, row["arn"]),
        )
        return {"updateDate": now}

    def delete_state_machine_alias(self, ctx: RequestContext, req: Json) -> Json:
        row = self._alias(req["stateMachineAliasArn"])
        self.store.execute("DELETE FROM sfn_aliases WHERE arn = ?", (row["arn"],))
        return {}

    def list_state_machine_aliases(self, ctx: RequestContext, req: Json) -> Json:
        row = self._machine_row(ctx, req["stateMachineArn"])
        rows = self.store.query(
            "SELECT * FROM sfn_aliases WHERE machine = ? ORDER BY name", (row["arn"],)
        )
        page, token = self._page(rows, req, lambda r: r["name"])
        out: Json = {
            "stateMachineAliases": [
                {"stateMachineAliasArn": r["arn"], "creationDate": r["created"]} for r in page
            ]
        }
        if token:
            out["nextToken"] = token
        return out

    # -- tags -----------------------------------------------------------------------------

    def _set_tags(self, resource_arn: str, tags: list[Json]) -> None:
        new = {t.get("key", ""): t.get("value", "") for t in tags}
        problems = tag_problems(self.env.tags.get(resource_arn), new)
        if problems:
            raise errors.ValidationException(problems[0])
        if len({**self.env.tags.get(resource_arn), **new}) > 50:
            raise errors.TooManyTags("Too many tags", resourceName=resource_arn)
        self.env.tags.set(resource_arn, new)

    def _tagged(self, resource_arn: str) -> str:
        found = self.store.scalar(
            "SELECT 1 FROM sfn_machines WHERE arn = ? "
            "UNION SELECT 1 FROM sfn_activities WHERE arn = ?",
            (resource_arn, resource_arn),
        )
        if not found:
            raise errors.ResourceNotFound(
                f"Resource not found: '{resource_arn}'", resourceName=resource_arn
            )
        return resource_arn

    def tag_resource(self, ctx: RequestContext, req: Json) -> Json:
        self._set_tags(self._tagged(req["resourceArn"]), req["tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, req: Json) -> Json:
        self.env.tags.remove(self._tagged(req["resourceArn"]), req["tagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, req: Json) -> Json:
        tags = self.env.tags.get(self._tagged(req["resourceArn"]))
        return {"tags": [{"key": k, "value": v} for k, v in tags.items()]}

    # -- activities -----------------------------------------------------------------------

    def create_activity(self, ctx: RequestContext, req: Json) -> Json:
        name = req["name"]
        if not _valid_name(name):
            raise errors.InvalidName(f"Invalid Name: '{name}'")
        activity_arn = arn("states", ctx.region, ctx.account_id, f"activity:{name}")
        existing = self.store.query_one(
            "SELECT * FROM sfn_activities WHERE arn = ?", (activity_arn,)
        )
        if existing is not None:
            return {"activityArn": activity_arn, "creationDate": existing["created"]}
        now = clock.now()
        self._set_tags(activity_arn, req.get("tags") or [])
        self.store.execute(
            "INSERT INTO sfn_activities (arn, account, region, name, created) "
            "VALUES (?, ?, ?, ?, ?)",
            (activity_arn, ctx.account_id, ctx.region, name, now),
        )
        return {"activityArn": activity_arn, "creationDate": now}

    def _activity(self, activity_arn: str) -> Row:
        self._check_arn(activity_arn, "activity")
        row = self.store.query_one("SELECT * FROM sfn_activities WHERE arn = ?", (activity_arn,))
        if row is None:
            raise errors.ActivityDoesNotExist(f"Activity Does Not Exist: '{activity_arn}'")
        return row

    def describe_activity(self, ctx: RequestContext, req: Json) -> Json:
        row = self._activity(req["activityArn"])
        return {"activityArn": row["arn"], "name": row["name"], "creationDate": row["created"]}

    def delete_activity(self, ctx: RequestContext, req: Json) -> Json:
        self._check_arn(req["activityArn"], "activity")
        self.store.execute("DELETE FROM sfn_activities WHERE arn = ?", (req["activityArn"],))
        self.env.tags.drop(req["activityArn"])
        return {}

    def list_activities(self, ctx: RequestContext, req: Json) -> Json:
        rows = self.store.query(
            "SELECT * FROM sfn_activities WHERE account = ? AND region = ? ORDER BY name",
            (ctx.account_id, ctx.region),
        )
        page, token = self._page(rows, req, lambda r: r["name"])
        out: Json = {
            "activities": [
                {"activityArn": r["arn"], "name": r["name"], "creationDate": r["created"]}
                for r in page
            ]
        }
        if token:
            out["nextToken"] = token
        return out

    async def get_activity_task(self, ctx: RequestContext, req: Json) -> Json:
        deadline = clock.now() + ACTIVITY_POLL
        while True:
            with self.store.transaction():
                activity = self._activity(req["activityArn"])
                row = self.store.query_one(
                    "SELECT * FROM sfn_tokens WHERE activity = ? AND status = 'queued' "
                    "ORDER BY created LIMIT 1",
                    (activity["arn"],),
                )
                if row is not None:
                    self.store.execute(
                        "UPDATE sfn_tokens SET status = 'taken', worker = ?, heartbeat = ? "
                        "WHERE token = ?",
                        (req.get("workerName") or "", clock.now(), row["token"]),
                    )
                    self._poke()
                    return {"taskToken": row["token"], "input": row["input"]}
            if clock.now() >= deadline or self.signal is None:
                return {}
            await self.signal.wait(deadline - clock.now())

    # -- task tokens ----------------------------------------------------------------------

    def _token(self, token: str) -> Row:
        if not token or len(token) > 2048:
            raise errors.InvalidToken("Invalid Token: 'Invalid token'")
        row = self.store.query_one("SELECT * FROM sfn_tokens WHERE token = ?", (token,))
        if row is None:
            raise errors.TaskDoesNotExist("Task Timed Out: 'Provided task does not exist anymore'")
        if row["status"] in ("succeeded", "failed"):
            raise errors.TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'")
        return row

    def send_task_success(self, ctx: RequestContext, req: Json) -> Json:
        row = self._token(req["taskToken"])
        try:
            json.loads(req["output"])
        except ValueError:
            raise errors.InvalidOutput("Invalid Output: 'The output is not valid JSON'") from None
        self.store.execute(
            "UPDATE sfn_tokens SET status = 'succeeded', output = ? WHERE token = ?",
            (req["output"], row["token"]),
        )
        self._poke()
        return {}

    def send_task_failure(self, ctx: RequestContext, req: Json) -> Json:
        row = self._token(req["taskToken"])
        self.store.execute(
            "UPDATE sfn_tokens SET status = 'failed', error = ?, cause = ? WHERE token = ?",
            (req.get("error") or "", req.get("cause") or "", row["token"]),
        )
        self._poke()
        return {}

    def send_task_heartbeat(self, ctx: RequestContext, req: Json) -> Json:
        row = self._token(req["taskToken"])
        self.store.execute(
            "UPDATE sfn_tokens SET heartbeat = ? WHERE token = ?", (clock.now(), row["token"])
        )
        self._poke()
        return {}

    # -- executions -----------------------------------------------------------------------

    def _execution_row(self, execution_arn: str) -> Row:
        try:
            parsed = parse_arn(execution_arn)
        except ValueError:
            raise errors.InvalidArn(
                f"Invalid Arn: 'Resource type not valid in this context: '{execution_arn}''"
            ) from None
        if parsed.service != "states" or not parsed.resource.startswith(("execution:", "express:")):
            raise errors.InvalidArn(
                "Invalid Arn: 'Resource type not valid in this context: 'execution''"
            )
        row = self.store.query_one("SELECT * FROM sfn_executions WHERE arn = ?", (execution_arn,))
        if row is None:
            raise errors.ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'")
        return row

    def _new_execution(self, ctx: RequestContext, req: Json, sync: bool) -> tuple[str, float, bool]:
        target = req["stateMachineArn"]
        row = self._machine_row(ctx, target)
        doc = json.loads(row["doc"])
        version_arn = alias_arn = None
        if target != row["arn"]:
            found = self._version_or_alias(target)
            version_arn = found.get("version_arn") or target
            alias_arn = target if found.get("version_arn") else None
            doc = found
        if sync and row["type"] != "EXPRESS":
            raise errors.StateMachineTypeNotSupported(
                "This operation is not supported by this type of state machine"
            )
        name = req.get("name") or str(uuid.uuid4())
        if not _valid_name(name):
            raise errors.InvalidName(f"Invalid Name: '{name}'")
        raw: str = req["input"] if req.get("input") is not None else "{}"
        if len(raw.encode()) > MAX_INPUT:
            raise errors.InvalidExecutionInput(
                "Invalid Execution Input: 'The input exceeds the maximum size of 262144 bytes'"
            )
        try:
            json.loads(raw)
        except ValueError:
            raise errors.InvalidExecutionInput(
                f"Invalid State Machine Execution Input: '{raw[:100]}'"
            ) from None
        if row["type"] == "EXPRESS":
            execution_arn = arn(
                "states", ctx.region, ctx.account_id, f"express:{row['name']}:{name}:{uuid.uuid4()}"
            )
        else:
            execution_arn = arn(
                "states", ctx.region, ctx.account_id, f"execution:{row['name']}:{name}"
            )
        existing = self.store.query_one(
            "SELECT * FROM sfn_executions WHERE arn = ?", (execution_arn,)
        )
        if existing is not None:
            # Names are unique for 90 days; the same request again answers the same execution.
            if existing["status"] == "RUNNING" and existing["input"] == raw:
                return execution_arn, existing["started"], False
            raise errors.ExecutionAlreadyExists(f"Execution Already Exists: '{execution_arn}'")
        now = clock.now()
        self.store.execute(
            "INSERT INTO sfn_executions (arn, account, region, machine, name, type, status, "
            "started, "
            "input, definition, role, version_arn, alias_arn) "
            "VALUES (?, ?, ?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?, ?, ?)",
            (
                execution_arn,
                ctx.account_id,
                ctx.region,
                row["arn"],
                name,
                row["type"],
                now,
                raw,
                doc["definition"],
                doc["roleArn"],
                version_arn,
                alias_arn,
            ),
        )
        details: Json = {
            "input": raw,
            "inputDetails": {"truncated": False},
            "roleArn": doc["roleArn"],
        }
        if version_arn:
            details["stateMachineVersionArn"] = version_arn
        if alias_arn:
            details["stateMachineAliasArn"] = alias_arn
        self._event(execution_arn, "ExecutionStarted", "executionStartedEventDetails", details, 0)
        self._status_event(execution_arn)
        self._metric(ctx.account_id, ctx.region, row["arn"], "ExecutionsStarted")
        return execution_arn, now, True

    def start_execution(self, ctx: RequestContext, req: Json) -> Json:
        execution_arn, started, new = self._new_execution(ctx, req, sync=False)
        if new:
            self._launch_after_commit(execution_arn)
        return {"executionArn": execution_arn, "startDate": started}

    async def start_sync_execution(self, ctx: RequestContext, req: Json) -> Json:
        with self.store.transaction():
            execution_arn, _, _ = self._new_execution(ctx, req, sync=True)
        await self._run(execution_arn)
        with self.store.transaction():
            row = self._execution_row(execution_arn)
        out = self._execution_out(row)
        out.pop("stateMachineVersionArn", None)
        out.pop("stateMachineAliasArn", None)
        for key in ("redriveCount", "redriveDate", "redriveStatus", "redriveStatusReason"):
            out.pop(key, None)
        out["billingDetails"] = {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100}
        return out

    def _launch_after_commit(self, execution_arn: str) -> None:
        loop = self._loop
        if loop is None:
            return
        # After the current request's transaction committed: the task reads what it wrote.
        loop.call_soon_threadsafe(self._launch, execution_arn)

    def _launch(self, execution_arn: str) -> None:
        if execution_arn in self._runs:
            return
        task = asyncio.ensure_future(self._run(execution_arn))
        self._runs[execution_arn] = task
        task.add_done_callback(lambda _: self._runs.pop(execution_arn, None))

    def _execution_out(self, row: Row) -> Json:
        out: Json = {
            "executionArn": row["arn"],
            "stateMachineArn": row["machine"],
            "name": row["name"],
            "status": row["status"],
            "startDate": row["started"],
            "input": row["input"],
            "inputDetails": {"included": True},
            "redriveCount": row["redrive_count"],
        }
        if row["stopped"] is not None:
            out["stopDate"] = row["stopped"]
        if row["output"] is not None:
            out["output"] = row["output"]
            out["outputDetails"] = {"included": True}
        if row["error"] is not None:
            out["error"] = row["error"]
        if row["cause"] is not None:
            out["cause"] = row["cause"]
        if row["version_arn"]:
            out["stateMachineVersionArn"] = row["version_arn"]
        if row["alias_arn"]:
            out["stateMachineAliasArn"] = row["alias_arn"]
        if row["redrive_date"] is not None:
            out["redriveDate"] = row["redrive_date"]
        reason = _not_redrivable(row)
        out["redriveStatus"] = "NOT_REDRIVABLE" if reason else "REDRIVABLE"
        if reason:
            out["redriveStatusReason"] = reason
        return out

    def redrive_execution(self, ctx: RequestContext, req: Json) -> Json:
        row = self._execution_row(req["executionArn"])
        reason = _not_redrivable(row)
        if reason:
            raise errors.ExecutionNotRedrivable(reason)
        if not self.store.scalar("SELECT 1 FROM sfn_machines WHERE arn = ?", (row["machine"],)):
            raise errors.ExecutionNotRedrivable("The state machine of the execution was deleted")
        now = clock.now()
        count = int(row["redrive_count"]) + 1
        self.store.execute(
            "UPDATE sfn_executions SET status = 'RUNNING', stopped = NULL, error = NULL, "
            "cause = NULL, output = NULL, redrive_count = ?, redrive_date = ? WHERE arn = ?",
            (count, now, row["arn"]),
        )
        self._event(
            row["arn"],
            "ExecutionRedriven",
            "executionRedrivenEventDetails",
            {"redriveCount": count},
            int(row["last_event"]),
        )
        self._status_event(row["arn"])
        self._metric(row["account"], row["region"], row["machine"], "ExecutionsRedriven")
        self._launch_after_commit(row["arn"])
        return {"redriveDate": now}

    # -- TestState ------------------------------------------------------------------------

    async def test_state(self, ctx: RequestContext, req: Json) -> Json:
        try:
            doc = json.loads(req["definition"])
        except ValueError as exc:
            raise errors.InvalidDefinition(
                validate.invalid_definition_message(
                    [validate.Diagnostic("INVALID_JSON_DESCRIPTION", str(exc))]
                )
            ) from None
        name, state = self._tested_state(doc, req.get("stateName"))
        resource = str(state.get("Resource", ""))
        if state.get("Type") in ("Parallel", "Map") or (
            ":activity:" in resource or resource.endswith((".sync", ".sync:2", ".waitForTaskToken"))
        ):
            raise errors.ValidationException(
                "TestState does not support Map or Parallel states, activities, or the .sync "
                "and .waitForTaskToken integration patterns"
            )
        if state.get("Type") == "Task" and not req.get("roleArn"):
            raise errors.ValidationException("A roleArn is required to test a Task state")
        raw = req.get("input") or "{}"
        try:
            data = json.loads(raw)
        except ValueError:
            raise errors.InvalidExecutionInput(
                f"Invalid State Machine Execution Input: '{raw[:100]}'"
            ) from None
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self.signal = Signal()
        fake = {
            "arn": arn("states", ctx.region, ctx.account_id, f"execution:TestState:{uuid.uuid4()}"),
            "account": ctx.account_id,
            "region": ctx.region,
            "type": "EXPRESS",
            "machine": arn("states", ctx.region, ctx.account_id, "stateMachine:TestState"),
            "role": req.get("roleArn") or "",
            "name": "TestState",
        }
        context = {
            "Execution": {"Id": fake["arn"], "Input": data, "Name": "TestState"},
            "StateMachine": {"Id": fake["machine"], "Name": "TestState"},
        }
        out: Json = {}
        if req.get("inspectionLevel") in ("DEBUG", "TRACE"):
            out["inspectionData"] = {"input": raw}
        try:
            language = doc.get("QueryLanguage", "JSONPath") if "States" in doc else "JSONPath"
            tester = Interpreter(_Host(self, fake), context, language)
            following, output = await tester.step(name, state, data)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            # Input the state cannot take (a field of the wrong type): its runtime error.
            return {**out, "status": "FAILED", "error": "States.Runtime", "cause": str(exc)}
        except StatesError as failed:
            status, following, output = outcome(state, data, failed)
            out.update(status=status, error=failed.error, cause=failed.cause)
            if following is not None:
                out.update(nextState=following, output=dumps(output))
            return out
        out.update(status="SUCCEEDED", output=dumps(output))
        if following is not None:
            out["nextState"] = following
        return out

    @staticmethod
    def _tested_state(doc: Any, wanted: str | None) -> tuple[str, Json]:
        """The state TestState runs: the definition itself, or ``stateName`` of a whole state
        machine; checked as CreateStateMachine checks it."""
        if isinstance(doc, dict) and "States" in doc:
            _, found = validate.parse(json.dumps(doc))
            if found:
                raise errors.InvalidDefinition(validate.invalid_definition_message(found))
            name = wanted or doc["StartAt"]
            if name not in doc["States"]:
                raise errors.ValidationException(f"State {name} does not exist in the definition")
            return name, doc["States"][name]
        if not isinstance(doc, dict):
            raise errors.InvalidDefinition(
                validate.invalid_definition_message(
                    [
                        validate.Diagnostic(
                            "SCHEMA_VALIDATION_FAILED", "A state must be an object", "/"
                        )
                    ]
                )
            )
        name = wanted or "TestState"
        targets = [doc.get("Next"), doc.get("Default")]
        targets += [c.get("Next") for c in doc.get("Choices") or [] if isinstance(c, dict)]
        targets += [c.get("Next") for c in doc.get("Catch") or [] if isinstance(c, dict)]
        # The states it may go to stand in as terminal states, so only the state is checked.
        states: Json = {name: doc}
        machine = {"StartAt": name, "States": states}
        for target in targets:
            if isinstance(target, str) and target and target != name:
                states[target] = {"Type": "Succeed"}
        _, found = validate.parse(json.dumps(machine))
        found = [
            d
            for d in found
            if d.code != "MISSING_TRANSITION_TARGET" or "reachable" not in d.message
        ]
        if found:
            raise errors.InvalidDefinition(validate.invalid_definition_message(found))
        return name, doc

    # -- map runs -------------------------------------------------------------------------

    def _map_run(self, map_run_arn: str) -> Row:
        self._check_arn(map_run_arn, "mapRun")
        row = self.store.query_one("SELECT * FROM sfn_map_runs WHERE arn = ?", (map_run_arn,))
        if row is None:
            raise errors.ResourceNotFound(f"Resource not found: '{map_run_arn}'")
        return row

    def describe_map_run(self, ctx: RequestContext, req: Json) -> Json:
        row = self._map_run(req["mapRunArn"])
        doc = json.loads(row["doc"])
        counts = {k: doc["counts"].get(k, 0) for k in _COUNTS}
        out: Json = {
            "mapRunArn": row["arn"],
            "executionArn": row["execution"],
            "status": row["status"],
            "startDate": row["started"],
            "maxConcurrency": doc["maxConcurrency"],
            "toleratedFailurePercentage": doc["toleratedFailurePercentage"],
            "toleratedFailureCount": doc["toleratedFailureCount"],
            "itemCounts": counts,
            "executionCounts": counts,
            "redriveCount": 0,
        }
        if row["stopped"] is not None:
            out["stopDate"] = row["stopped"]
        return out

    def list_map_runs(self, ctx: RequestContext, req: Json) -> Json:
        execution = self._execution_row(req["executionArn"])
        rows = self.store.query(
            "SELECT * FROM sfn_map_runs WHERE execution = ? ORDER BY started, arn",
            (execution["arn"],),
        )
        page, token = self._page(rows, req, lambda r: [r["started"], r["arn"]])
        runs = []
        for r in page:
            item: Json = {
                "executionArn": r["execution"],
                "mapRunArn": r["arn"],
                "stateMachineArn": r["machine"],
                "startDate": r["started"],
            }
            if r["stopped"] is not None:
                item["stopDate"] = r["stopped"]
            runs.append(item)
        out: Json = {"mapRuns": runs}
        if token:
            out["nextToken"] = token
        return out

    def update_map_run(self, ctx: RequestContext, req: Json) -> Json:
        row = self._map_run(req["mapRunArn"])
        keys = ("maxConcurrency", "toleratedFailurePercentage", "toleratedFailureCount")
        if not any(k in req for k in keys):
            raise errors.ValidationException(
                "At least one of maxConcurrency, toleratedFailurePercentage or "
                "toleratedFailureCount must be given"
            )
        doc = json.loads(row["doc"])
        doc.update({k: req[k] for k in keys if k in req})
        self.store.execute(
            "UPDATE sfn_map_runs SET doc = ? WHERE arn = ?", (json.dumps(doc), row["arn"])
        )
        return {}

    def _sweep(self) -> None:
        """Forget executions closed more than 90 days ago: their names may be used again."""
        old = clock.now() - RETENTION
        for row in self.store.query(
            "SELECT arn FROM sfn_executions WHERE stopped IS NOT NULL AND stopped < ?", (old,)
        ):
            for table, column in (
                ("sfn_events", "execution"),
                ("sfn_map_runs", "execution"),
                ("sfn_tokens", "execution"),
                ("sfn_executions", "arn"),
            ):
                self.store.execute(f"DELETE FROM {table} WHERE {column} = ?", (row["arn"],))

    def describe_execution(self, ctx: RequestContext, req: Json) -> Json:
        row = self._execution_row(req["executionArn"])
        if row["type"] == "EXPRESS":
            raise errors.ExecutionDoesNotExist(f"Execution Does Not Exist: '{row['arn']}'")
        return self._execution_out(row)

    def describe_state_machine_for_execution(self, ctx: RequestContext, req: Json) -> Json:
        row = self._execution_row(req["executionArn"])
        machine = self.store.query_one(
            "SELECT * FROM sfn_machines WHERE arn = ?", (row["machine"],)
        )
        doc = json.loads(machine["doc"]) if machine is not None else {}
        out: Json = {
            "stateMachineArn": row["machine"],
            "name": row["machine"].split(":")[6],
            "definition": row["definition"],
            "roleArn": row["role"],
            "updateDate": row["started"],
            "loggingConfiguration": doc.get("loggingConfiguration") or {"level": "OFF"},
            "tracingConfiguration": doc.get("tracingConfiguration") or {"enabled": False},
        }
        if row["version_arn"]:
            out["stateMachineVersionArn"] = row["version_arn"]
        if row["alias_arn"]:
            out["stateMachineAliasArn"] = row["alias_arn"]
        return out

    def list_executions(self, ctx: RequestContext, req: Json) -> Json:
        target = req.get("stateMachineArn")
        if req.get("mapRunArn"):
            # A Distributed Map's child workflows run inside its execution, not as executions.
            self._map_run(req["mapRunArn"])
            return {"executions": []}
        if not target:
            raise errors.ValidationException("Must provide a StateMachine ARN or MapRun ARN")
        machine = self._machine_row(ctx, target)
        if machine["type"] == "EXPRESS":
            raise errors.StateMachineTypeNotSupported(
                "This operation is not supported by this type of state machine"
            )
        sql = "SELECT * FROM sfn_executions WHERE machine = ?"
        params: list[Any] = [machine["arn"]]
        if target != machine["arn"]:
            sql += " AND (version_arn = ? OR alias_arn = ?)"
            params += [target, target]
        if req.get("statusFilter"):
            sql += " AND status = ?"
            params.append(req["statusFilter"])
        rows = self.store.query(sql + " ORDER BY started DESC, arn", params)
        page, token = self._page(rows, req, lambda r: [-r["started"], r["arn"]])
        items = []
        for r in page:
            item: Json = {
                "executionArn": r["arn"],
                "stateMachineArn": r["machine"],
                "name": r["name"],
                "status": r["status"],
                "startDate": r["started"],
            }
            if r["stopped"] is not None:
                item["stopDate"] = r["stopped"]
            if r["version_arn"]:
                item["stateMachineVersionArn"] = r["version_arn"]
            if r["alias_arn"]:
                item["stateMachineAliasArn"] = r["alias_arn"]
            items.append(item)
        out: Json = {"executions": items}
        if token:
            out["nextToken"] = token
        return out

    def stop_execution(self, ctx: RequestContext, req: Json) -> Json:
        row = self._execution_row(req["executionArn"])
        if row["status"] != "RUNNING":
            raise errors.ValidationException(
                f"Execution Does Not Exist: '{row['arn']}'"
                if row["type"] == "EXPRESS"
                else f"The execution {row['arn']} is not running"
            )
        now = clock.now()
        self._finish(row["arn"], "ABORTED", error=req.get("error"), cause=req.get("cause"))
        task = self._runs.pop(row["arn"], None)
        if task is not None:
            task.cancel()
        return {"stopDate": now}

    def get_execution_history(self, ctx: RequestContext, req: Json) -> Json:
        row = self._execution_row(req["executionArn"])
        rows = self.store.query(
            "SELECT * FROM sfn_events WHERE execution = ? ORDER BY id", (row["arn"],)
        )
        reverse = bool(req.get("reverseOrder"))
        if reverse:
            rows = list(reversed(rows))
        page, token = self._page(
            rows, req, (lambda r: -r["id"]) if reverse else (lambda r: r["id"])
        )
        include = req.get("includeExecutionData", True)
        events = []
        for r in page:
            event: Json = {
                "timestamp": r["at"],
                "type": r["type"],
                "id": r["id"],
                "previousEventId": r["previous"],
            }
            if r["details"]:
                key, details = json.loads(r["details"])
                if not include:
                    details = {k: v for k, v in details.items() if k not in ("input", "output")}
                event[key] = details
            events.append(event)
        out: Json = {"events": events}
        if token:
            out["nextToken"] = token
        return out

    # -- running ------------------------------------------------------------------------

    def _event(
        self, execution_arn: str, kind: str, key: str | None, details: Json, previous: int
    ) -> int:
        with self.store.transaction():
            last = self.store.scalar(
                "SELECT last_event FROM sfn_executions WHERE arn = ?", (execution_arn,)
            )
            if last is None:
                return previous
            event_id = int(last) + 1
            self.store.execute(
                "INSERT INTO sfn_events (execution, id, at, type, previous, details) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    execution_arn,
                    event_id,
                    clock.now(),
                    kind,
                    previous,
                    json.dumps([key, details]) if key else None,
                ),
            )
            self.store.execute(
                "UPDATE sfn_executions SET last_event = ? WHERE arn = ?", (event_id, execution_arn)
            )
        return event_id

    def _finish(
        self,
        execution_arn: str,
        status: str,
        output: str | None = None,
        error: str | None = None,
        cause: str | None = None,
    ) -> bool:
        with self.store.transaction():
            row = self.store.query_one(
                "SELECT * FROM sfn_executions WHERE arn = ?", (execution_arn,)
            )
            if row is None or row["status"] != "RUNNING":
                return False
            self.store.execute(
                "UPDATE sfn_executions SET status = ?, stopped = ?, output = ?, error = ?, "
                "cause = ? WHERE arn = ?",
                (status, clock.now(), output, error, cause, execution_arn),
            )
            kind = {
                "SUCCEEDED": ("ExecutionSucceeded", "executionSucceededEventDetails"),
                "FAILED": ("ExecutionFailed", "executionFailedEventDetails"),
                "ABORTED": ("ExecutionAborted", "executionAbortedEventDetails"),
                "TIMED_OUT": ("ExecutionTimedOut", "executionTimedOutEventDetails"),
            }[status]
            details: Json = {}
            if output is not None:
                details = {"output": output, "outputDetails": {"truncated": False}}
            else:
                details = {k: v for k, v in (("error", error), ("cause", cause)) if v is not None}
            self._event(execution_arn, kind[0], kind[1], details, int(row["last_event"]))
            self.store.execute(
                "UPDATE sfn_tokens SET status = 'failed', error = 'States.Aborted' "
                "WHERE execution = ? AND status IN ('queued', 'taken', 'waiting')",
                (execution_arn,),
            )
            self._status_event(execution_arn)
            metric = {
                "SUCCEEDED": "ExecutionsSucceeded",
                "FAILED": "ExecutionsFailed",
                "ABORTED": "ExecutionsAborted",
                "TIMED_OUT": "ExecutionsTimedOut",
            }[status]
            self._metric(row["account"], row["region"], row["machine"], metric)
            if status == "SUCCEEDED":
                took = (clock.now() - (row["redrive_date"] or row["started"])) * 1000
                self._metric(
                    row["account"],
                    row["region"],
                    row["machine"],
                    "ExecutionTime",
                    took,
                    "Milliseconds",
                )
        self._poke()
        return True

    def _status_event(self, execution_arn: str) -> None:
        row = self.store.query_one("SELECT * FROM sfn_executions WHERE arn = ?", (execution_arn,))
        if row is None:
            return
        detail: Json = {
            "executionArn": row["arn"],
            "stateMachineArn": row["machine"],
            "name": row["name"],
            "status": row["status"],
            "startDate": int(row["started"] * 1000),
            "stopDate": int(row["stopped"] * 1000) if row["stopped"] is not None else None,
            "input": row["input"],
            "output": row["output"],
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if row["output"] is not None else None,
            "error": row["error"],
            "cause": row["cause"],
        }
        self.env.events.emit(
            Event(
                account_id=row["account"],
                region=row["region"],
                source="aws.states",
                detail_type="Step Functions Execution Status Change",
                detail=detail,
                resources=[row["arn"]],
            )
        )

    def _metric(
        self,
        account: str,
        region: str,
        machine: str,
        name: str,
        value: float = 1.0,
        unit: str = "Count",
    ) -> None:
        self.env.metrics.publish(
            Datapoint(
                account_id=account,
                region=region,
                namespace="AWS/States",
                name=name,
                value=value,
                unit=unit,
                dimensions={"StateMachineArn": machine},
            )
        )

    async def _run(self, execution_arn: str) -> None:
        with self.store.transaction():
            row = self.store.query_one(
                "SELECT * FROM sfn_executions WHERE arn = ?", (execution_arn,)
            )
        if row is None or row["status"] != "RUNNING":
            return
        definition = json.loads(row["definition"])
        position = json.loads(row["position"]) if row["position"] else None
        start, data = (
            (position["state"], position["input"])
            if position
            else (definition["StartAt"], json.loads(row["input"]))
        )
        host = _Host(self, row)
        machine_name = row["machine"].split(":")[6]
        context = {
            "Execution": {
                "Id": row["arn"],
                "Input": json.loads(row["input"]),
                "Name": row["name"],
                "RoleArn": row["role"],
                "StartTime": iso(row["started"]),
                "RedriveCount": row["redrive_count"],
            },
            "StateMachine": {"Id": row["version_arn"] or row["machine"], "Name": machine_name},
        }
        interpreter = Interpreter(host, context, definition.get("QueryLanguage") or "JSONPath")
        variables = (position or {}).get("variables") or {}
        work = interpreter.run(
            definition, start, data, int(row["last_event"]), top=True, variables=variables
        )
        timeout = definition.get("TimeoutSeconds")
        try:
            if isinstance(timeout, int) and timeout > 0:
                output = await host.within(work, row["started"] + timeout, "States.Timeout")
            else:
                output = await work
        except StatesError as failed:
            over = isinstance(timeout, int) and clock.now() >= row["started"] + timeout
            if failed.error == "States.Timeout" and over:
                self._finish(execution_arn, "TIMED_OUT")
            else:
                self._finish(execution_arn, "FAILED", error=failed.error, cause=failed.cause)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an interpreter bug must not leave the execution running
            self._finish(execution_arn, "FAILED", error="States.Runtime", cause=str(exc))
            return
        self._finish(execution_arn, "SUCCEEDED", output=dumps(output))


def _integration_name(resource: str) -> str | None:
    """``s3:getObject`` for ``arn:<partition>:states:::s3:getObject``: integrations are named
    in the state machine's partition (``arn:aws-cn:states:::...`` in the China regions)."""
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "states" or parts[3] or parts[4]:
        return None
    return parts[5]


class _MapRun:
    """A Distributed Map run's record, its counts kept as its child workflows end."""

    def __init__(self, store: Any, run_arn: str) -> None:
        self.store = store
        self.arn = run_arn
        self.failed = 0

    def count(self, outcome: str) -> None:
        self.failed += outcome == "failed"
        came_from = "pending" if outcome == "running" else "running"
        with self.store.transaction():
            doc = json.loads(
                self.store.scalar("SELECT doc FROM sfn_map_runs WHERE arn = ?", (self.arn,))
            )
            counts = doc["counts"]
            counts[came_from] = counts.get(came_from, 0) - 1
            counts[outcome] = counts.get(outcome, 0) + 1
            self.store.execute(
                "UPDATE sfn_map_runs SET doc = ? WHERE arn = ?", (json.dumps(doc), self.arn)
            )

    def finish(self, status: str, error: str | None = None, cause: str | None = None) -> None:
        with self.store.transaction():
            self.store.execute(
                "UPDATE sfn_map_runs SET status = ?, stopped = ? WHERE arn = ?",
                (status, clock.now(), self.arn),
            )


class _Host:
    """What one execution's interpreter asks of the provider."""

    def __init__(self, provider: StepFunctionsProvider, row: Row | Mapping[str, Any]) -> None:
        self.provider = provider
        self.env = provider.env
        self.store = provider.store
        self.arn = str(row["arn"])
        self.account = str(row["account"])
        self.region = str(row["region"])
        self.durable = row["type"] == "STANDARD"
        self.machine = str(row["machine"])
        self.role_arn = str(row["role"])
        self.session = str(row["name"])
        self._role: sdk.Role | None = None
        self._role_until = 0.0

    def _as_role(self) -> sdk.Role | None:
        """The execution role's session, renewed before its credentials expire."""
        if self._role is None or clock.now() >= self._role_until:
            self._role = sdk.assume(
                self.env, self.role_arn, self.session, self.account, self.region
            )
            self._role_until = clock.now() + 3000
        return self._role

    async def _call(
        self, service: str, operation: str, params: Json, account: str = "", region: str = ""
    ) -> Any:
        account, region = account or self.account, region or self.region
        return await sdk.call(
            self.env, service, operation, params, account, region, self._as_role()
        )

    def event(self, kind: str, key: str | None, details: dict[str, Any], previous: int) -> int:
        return self.provider._event(self.arn, kind, key, details, previous)

    def checkpoint(self, state: str, data: Any, variables: dict[str, Any]) -> None:
        if not self.durable:
            return
        position = {"state": state, "input": data, "variables": variables}
        with self.store.transaction():
            self.store.execute(
                "UPDATE sfn_executions SET position = ? WHERE arn = ? AND status = 'RUNNING'",
                (json.dumps(position), self.arn),
            )

    async def sleep_until(self, when: float) -> None:
        signal = self.provider.signal
        while clock.now() < when:
            if signal is None:
                await asyncio.sleep(min(when - clock.now(), 1.0))
            else:
                await signal.wait(when - clock.now())

    async def within(self, work: Any, deadline: float, error: str) -> Any:
        """``work`` unless the clock passes ``deadline`` first (then ``error``)."""
        task = asyncio.ensure_future(work)
        timer = asyncio.ensure_future(self.sleep_until(deadline))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            timer.cancel()
            raise
        timer.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise StatesError(error, "")

    # -- tasks --------------------------------------------------------------------------

    def map_run(self, name: str, state: Json, total: int) -> _MapRun:
        machine_name = self.machine.split(":")[6]
        label = state.get("Label") or name
        run_arn = arn(
            "states",
            self.region,
            self.account,
            f"mapRun:{machine_name}/{label}:{uuid.uuid4()}",
        )
        doc = {
            "maxConcurrency": int(state.get("MaxConcurrency") or 0),
            "toleratedFailurePercentage": float(state.get("ToleratedFailurePercentage") or 0),
            "toleratedFailureCount": int(state.get("ToleratedFailureCount") or 0),
            "counts": {"pending": total, "total": total},
        }
        with self.store.transaction():
            self.store.execute(
                "INSERT INTO sfn_map_runs (arn, execution, machine, status, started, doc) "
                "VALUES (?, ?, ?, 'RUNNING', ?, ?)",
                (run_arn, self.arn, self.machine, clock.now(), json.dumps(doc)),
            )
        return _MapRun(self.store, run_arn)

    async def read_items(self, resource: str, params: Json, config: Json) -> list[Any]:
        """A Distributed Map's ItemReader: an S3 object's JSON array, JSON lines or CSV rows,
        or the objects a listing names."""
        try:
            name = _integration_name(resource)
            if name == "s3:listObjectsV2":
                return await self._listed(params)
            if name != "s3:getObject":
                raise StatesError("States.Runtime", f"The ItemReader {resource} is not supported")
            out = await self._call("s3", "GetObject", sdk.to_model(params, None))
        except ServiceError as exc:
            raise StatesError(sdk.error_name("S3", exc.code), exc.message) from None
        text = sdk.read_body(out.get("Body")).decode("utf-8", "replace")
        kind = config.get("InputType", "JSON")
        try:
            if kind == "JSON":
                items = json.loads(text)
                if not isinstance(items, list):
                    raise ValueError("not an array")
                return items
            if kind == "JSONL":
                return [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            raise StatesError(
                "States.ItemReaderFailed", f"The object is not valid {kind}"
            ) from None
        if kind != "CSV":
            raise StatesError("States.ItemReaderFailed", f"InputType {kind} is not supported")
        rows = list(csv.reader(io.StringIO(text)))
        if config.get("CSVHeaderLocation") == "GIVEN":
            headers = list(config.get("CSVHeaders") or [])
        else:
            headers, rows = (rows[0], rows[1:]) if rows else ([], [])
        return [dict(zip(headers, row, strict=False)) for row in rows]

    async def _listed(self, params: Json) -> list[Any]:
        items: list[Any] = []
        req = dict(params)
        while True:
            out = await self._call("s3", "ListObjectsV2", req)
            for obj in out.get("Contents") or []:
                items.append(
                    {
                        "Etag": obj.get("ETag"),
                        "Key": obj.get("Key"),
                        "LastModified": sdk.from_model(obj.get("LastModified"), None),
                        "Size": obj.get("Size"),
                        "StorageClass": obj.get("StorageClass"),
                    }
                )
            if not out.get("IsTruncated"):
                return items
            req["ContinuationToken"] = out["NextContinuationToken"]

    async def run_task(self, call: TaskCall) -> Any:
        resource = call.resource
        parts = resource.split(":")
        if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
            return await self._bare_lambda(call)
        if len(parts) >= 7 and parts[2] == "states" and parts[5] == "activity":
            return await self._activity(call)
        return await self._integration(call)

    async def _timed(self, call: TaskCall, work: Any, default: float | None = None) -> Any:
        timeout = call.timeout or default
        if not timeout:
            return await work
        return await self.within(work, clock.now() + float(timeout), "States.Timeout")

    async def _bare_lambda(self, call: TaskCall) -> Any:
        call.emit(
            "LambdaFunctionScheduled",
            "lambdaFunctionScheduledEventDetails",
            {
                "resource": call.resource,
                "input": dumps(call.parameters),
                **self._timeout_detail(call),
            },
        )
        call.emit("LambdaFunctionStarted", None, {})
        try:
            out = await self._timed(call, self._invoke_lambda(call.resource, call.parameters, None))
        except StatesError as failed:
            kind = (
                "LambdaFunctionTimedOut"
                if failed.error == "States.Timeout"
                else "LambdaFunctionFailed"
            )
            key = (
                "lambdaFunctionTimedOutEventDetails"
                if failed.error == "States.Timeout"
                else "lambdaFunctionFailedEventDetails"
            )
            call.emit(kind, key, {"error": failed.error, "cause": failed.cause})
            raise
        payload = out["Payload"]
        call.emit(
            "LambdaFunctionSucceeded",
            "lambdaFunctionSucceededEventDetails",
            {"output": dumps(payload)},
        )
        return payload

    @staticmethod
    def _timeout_detail(call: TaskCall) -> Json:
        out: Json = {}
        if call.timeout:
            out["timeoutInSeconds"] = int(call.timeout)
        return out

    async def _invoke_lambda(self, function: str, payload: Any, params: Json | None) -> Json:
        req: Json = {"FunctionName": function, "Payload": dumps(payload).encode()}
        for key in ("InvocationType", "Qualifier", "ClientContext", "LogType"):
            if params and key in params:
                req[key] = params[key]
        account, region = self.account, self.region
        parts = function.split(":")
        if len(parts) >= 7 and parts[0] == "arn":
            region, account = parts[3] or region, parts[4] or account
        try:
            out = await self._call("lambda", "Invoke", req, account, region)
        except ServiceError as exc:
            raise StatesError(sdk.error_name("Lambda", exc.code), exc.message) from None
        raw = bytes(out.get("Payload") or b"")
        try:
            value = json.loads(raw) if raw else None
        except ValueError:
            value = raw.decode(errors="replace")
        if out.get("FunctionError"):
            error = value.get("errorType") if isinstance(value, dict) else None
            raise StatesError(str(error or "Lambda.Unknown"), raw.decode(errors="replace"))
        return {
            "ExecutedVersion": out.get("ExecutedVersion", "$LATEST"),
            "Payload": value,
            "SdkHttpMetadata": {"HttpStatusCode": out.get("StatusCode", 200)},
            "SdkResponseMetadata": {"RequestId": str(uuid.uuid4())},
            "StatusCode": out.get("StatusCode", 200),
        }

    async def _activity(self, call: TaskCall) -> Any:
        activity = call.resource
        with self.store.transaction():
            if not self.store.scalar("SELECT 1 FROM sfn_activities WHERE arn = ?", (activity,)):
                call.emit(
                    "ActivityScheduleFailed",
                    "activityScheduleFailedEventDetails",
                    {"error": "States.Runtime", "cause": f"Activity does not exist: {activity}"},
                )
                raise StatesError("States.Runtime", f"Activity does not exist: {activity}")
        details: Json = {
            "resource": activity,
            "input": dumps(call.parameters),
            **self._timeout_detail(call),
        }
        if call.heartbeat:
            details["heartbeatInSeconds"] = int(call.heartbeat)
        call.emit("ActivityScheduled", "activityScheduledEventDetails", details)
        assert call.token is not None
        self._register(call.token, dumps(call.parameters), activity, "queued")
        self.provider._poke()
        try:
            output = await self._timed(
                call, self._await_token(call, started_event="ActivityStarted"), TASK_DEFAULT_TIMEOUT
            )
        except StatesError as failed:
            timed_out = failed.error in ("States.Timeout", "States.HeartbeatTimeout")
            call.emit(
                "ActivityTimedOut" if timed_out else "ActivityFailed",
                "activityTimedOutEventDetails" if timed_out else "activityFailedEventDetails",
                {"error": failed.error, "cause": failed.cause},
            )
            self._drop_token(call.token)
            raise
        call.emit("ActivitySucceeded", "activitySucceededEventDetails", {"output": output})
        return json.loads(output)

    def _register(self, token: str, data: str, activity: str | None, status: str) -> None:
        with self.store.transaction():
            self.store.execute(
                "INSERT INTO sfn_tokens (token, execution, activity, input, status, created, "
                "heartbeat) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (token, self.arn, activity, data, status, clock.now(), clock.now()),
            )

    def _drop_token(self, token: str) -> None:
        with self.store.transaction():
            self.store.execute(
                "UPDATE sfn_tokens SET status = 'failed' WHERE token = ? "
                "AND status NOT IN ('succeeded', 'failed')",
                (token,),
            )

    async def _await_token(self, call: TaskCall, started_event: str | None = None) -> str:
        """The output a worker sent for the call's token (raises the failure it sent, or
        ``States.HeartbeatTimeout`` when heartbeats stop)."""
        assert call.token is not None
        started = False
        while True:
            with self.store.transaction():
                row = self.store.query_one(
                    "SELECT * FROM sfn_tokens WHERE token = ?", (call.token,)
                )
            if row is None:
                raise StatesError("States.Runtime", "The task token was lost")
            if started_event and not started and row["status"] != "queued":
                started = True
                call.emit(
                    started_event,
                    "activityStartedEventDetails",
                    {"workerName": row["worker"] or ""},
                )
            if row["status"] == "succeeded":
                return str(row["output"])
            if row["status"] == "failed":
                raise StatesError(row["error"] or "", row["cause"] or "")
            wait = 60.0
            if call.heartbeat and row["status"] != "queued":
                beat_deadline = float(row["heartbeat"]) + float(call.heartbeat)
                if clock.now() >= beat_deadline:
                    self._drop_token(call.token)
                    raise StatesError("States.HeartbeatTimeout", "")
                wait = min(wait, beat_deadline - clock.now())
            signal = self.provider.signal
            if signal is None:
                await asyncio.sleep(min(wait, 1.0))
            else:
                await signal.wait(wait)

    async def _integration(self, call: TaskCall) -> Any:
        resource = call.resource
        name = _integration_name(resource)
        if name is None or ":" not in name:
            raise StatesError("States.Runtime", f"The resource {resource} is not supported")
        service, action = name.split(":", 1)
        pattern = "request"
        for suffix, name in (
            (".waitForTaskToken", "waitForTaskToken"),
            (".sync:2", "sync2"),
            (".sync", "sync"),
        ):
            if action.endswith(suffix):
                action, pattern = action[: -len(suffix)], name
                break
        resource_type = service if service != "aws-sdk" else f"aws-sdk:{action.split(':')[0]}"
        short = action if service != "aws-sdk" else action.split(":", 1)[-1]
        short += {
            "request": "",
            "waitForTaskToken": ".waitForTaskToken",
            "sync": ".sync",
            "sync2": ".sync:2",
        }[pattern]
        details: Json = {
            "resourceType": resource_type,
            "resource": short,
            "region": self.region,
            "parameters": dumps(call.parameters),
            **self._timeout_detail(call),
        }
        if call.heartbeat:
            details["heartbeatInSeconds"] = int(call.heartbeat)
        call.emit("TaskScheduled", "taskScheduledEventDetails", details)
        names = {"resourceType": resource_type, "resource": short}
        call.emit("TaskStarted", "taskStartedEventDetails", names)
        try:
            if pattern == "waitForTaskToken":
                assert call.token is not None
                self._register(call.token, dumps(call.parameters), None, "waiting")
                result = await self._timed(
                    call, self._token_task(call, service, action), TASK_DEFAULT_TIMEOUT
                )
            else:
                result = await self._timed(
                    call, self._request(service, action, pattern, call.parameters)
                )
        except StatesError as failed:
            if call.token is not None:
                self._drop_token(call.token)
            timed_out = failed.error in ("States.Timeout", "States.HeartbeatTimeout")
            call.emit(
                "TaskTimedOut" if timed_out else "TaskFailed",
                "taskTimedOutEventDetails" if timed_out else "taskFailedEventDetails",
                {**names, "error": failed.error, "cause": failed.cause},
            )
            raise
        call.emit("TaskSucceeded", "taskSucceededEventDetails", {**names, "output": dumps(result)})
        return result

    async def _token_task(self, call: TaskCall, service: str, action: str) -> Any:
        submitted = await self._request(service, action, "request", call.parameters)
        names = {"resourceType": service, "resource": f"{action}.waitForTaskToken"}
        call.emit(
            "TaskSubmitted", "taskSubmittedEventDetails", {**names, "output": dumps(submitted)}
        )
        return json.loads(await self._await_token(call))

    async def _request(self, service: str, action: str, pattern: str, params: Any) -> Any:
        if not isinstance(params, dict):
            raise StatesError("States.Runtime", "The task's parameters must be a JSON object")
        if service == "aws-sdk":
            sdk_service, _, sdk_action = action.partition(":")
            return await self._sdk(sdk_service, sdk_action, params)
        if service == "lambda" and action == "invoke":
            if "FunctionName" not in params:
                raise StatesError("States.Runtime", "The field 'FunctionName' is required")
            return await self._invoke_lambda(params["FunctionName"], params.get("Payload"), params)
        if service == "states" and action == "startExecution":
            return await self._nested(params, pattern)
        operations = {
            ("sqs", "sendMessage"): "SendMessage",
            ("sns", "publish"): "Publish",
            ("dynamodb", "getItem"): "GetItem",
            ("dynamodb", "putItem"): "PutItem",
            ("dynamodb", "updateItem"): "UpdateItem",
            ("dynamodb", "deleteItem"): "DeleteItem",
            ("events", "putEvents"): "PutEvents",
        }
        operation = operations.get((service, action))
        if operation is None:
            raise StatesError(
                "States.Runtime",
                f"The resource arn:{parse_arn(self.arn).partition}:states:::{service}:{action} "
                "is not supported",
            )
        params = dict(params)
        if service == "sqs" and "MessageBody" in params:
            params["MessageBody"] = sdk.as_text(params["MessageBody"])
        if service == "sns" and "Message" in params:
            params["Message"] = sdk.as_text(params["Message"])
        if service == "events":
            params["Entries"] = [
                {**e, "Detail": sdk.as_text(e["Detail"])} if "Detail" in e else e
                for e in params.get("Entries") or []
            ]
        try:
            out = await self._call(service, operation, params)
        except ServiceError as exc:
            raise StatesError(
                sdk.error_name(sdk.optimized_prefix(service), exc.code), exc.message
            ) from None
        if service == "events" and out.get("FailedEntryCount"):
            raise StatesError("EventBridge.FailedEntry", dumps(sdk.from_model(out, None)))
        return sdk.from_model(out, None)

    async def _sdk(self, service: str, action: str, params: Json) -> Any:
        service = sdk.SDK_SERVICES.get(service, service)
        operation, shape_in, shape_out = sdk.operation_for(self.env, service, action)
        try:
            out = await self._call(service, operation, sdk.to_model(params, shape_in))
        except ServiceError as exc:
            raise StatesError(
                sdk.error_name(sdk.sdk_prefix(service), exc.code), exc.message
            ) from None
        return sdk.from_model(out, shape_out)

    async def _nested(self, params: Json, pattern: str) -> Any:
        req = {k[:1].lower() + k[1:]: v for k, v in params.items()}
        if "input" in req and not isinstance(req["input"], str):
            req["input"] = dumps(req["input"])
        try:
            started = await self._call("stepfunctions", "StartExecution", req)
        except ServiceError as exc:
            raise StatesError(sdk.error_name("StepFunctions", exc.code), exc.message) from None
        if pattern == "request":
            return {"ExecutionArn": started["executionArn"], "StartDate": iso(started["startDate"])}
        child = started["executionArn"]
        while True:
            with self.store.transaction():
                row = self.store.query_one("SELECT * FROM sfn_executions WHERE arn = ?", (child,))
            if row is None or row["status"] != "RUNNING":
                break
            signal = self.provider.signal
            if signal is None:
                await asyncio.sleep(0.5)
            else:
                await signal.wait(60.0)
        assert row is not None
        out = {k[:1].upper() + k[1:]: v for k, v in self.provider._execution_out(row).items()}
        for key in ("StartDate", "StopDate"):
            if key in out:
                out[key] = iso(out[key])
        if pattern == "sync2" and out.get("Output") is not None:
            out["Output"] = json.loads(out["Output"])
        if row["status"] != "SUCCEEDED":
            raise StatesError("States.TaskFailed", dumps(out))
        return out
