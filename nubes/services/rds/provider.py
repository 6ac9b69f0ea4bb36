"""Amazon RDS: DB instances of engine ``postgres`` that are real PostgreSQL servers on a
loopback port (``nubes/runtime/rds``), with the master user and password the request named;
stop, start (and AWS's restart after seven days stopped, by the one clock), reboot, password
changes applied to the server, snapshots that are real copies of the cluster
(``pg_basebackup``) and restores from them, tags. Instances come back after a restart of nubes
(a killed nubes' postgres processes are found and stopped first)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import string
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import arn
from nubes.core.context import RequestContext
from nubes.core.events import Event
from nubes.core.metrics import Datapoint
from nubes.core.pagination import InvalidToken, paginate
from nubes.core.tags import from_list, to_list
from nubes.protocol.base import ServiceError
from nubes.runtime import rds as runtime
from nubes.services.base import ServiceProvider
from nubes.services.rds import parameters
from nubes.services.rds.errors import errors
from nubes.store import Row

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]
log = logging.getLogger(__name__)

MIGRATIONS = (
    """
    CREATE TABLE rds_instances (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        id TEXT NOT NULL,
        status TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, id)
    ) WITHOUT ROWID;
    CREATE TABLE rds_snapshots (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        id TEXT NOT NULL,
        instance TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, id)
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE rds_subnet_groups (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE TABLE rds_parameter_groups (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE rds_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        at REAL NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX rds_events_at ON rds_events (account, region, at);
    """,
)

DAY = 86_400.0
LOG_NAME = "error/postgresql.log"
LOG_LINES = 10_000
LOG_PORTION = 1_000_000
EVENT_DAYS = 14
AUTO_START = 7 * DAY
TICK = 60.0
DEFAULT_PORT = 5432
PORT_ATTEMPTS = 5
IDENTIFIER = re.compile(r"^[A-Za-z](?:-?[A-Za-z0-9])*$")
PG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
RESERVED_USERS = {"postgres", "rdsadmin", "rds_superuser", "rdsrepladmin", "public", "all"}
PASSWORD_FORBIDDEN = set('/@" ')
MANAGED_ALPHABET = string.ascii_letters + string.digits + "!#$%&()*+,-.:;<=>?[]^_{|}~"
"""What RDS draws a managed master password from: printable ASCII but / @ " and space."""
OTHER_ENGINES = {
    "mysql": "mysqld",
    "mariadb": "mariadbd",
    "aurora-mysql": "mysqld",
    "aurora-postgresql": "Aurora's storage layer",
    "oracle-ee": "oracle",
    "oracle-se2": "oracle",
    "sqlserver-ex": "sqlservr",
    "sqlserver-se": "sqlservr",
    "sqlserver-ee": "sqlservr",
    "sqlserver-web": "sqlservr",
    "db2-se": "db2",
    "db2-ae": "db2",
}
"""Engines AWS offers that need a server binary this machine lacks."""
INSTANCE_CLASSES = [
    f"db.{family}.{size}"
    for family, sizes in (
        ("t3", ("micro", "small", "medium", "large", "xlarge", "2xlarge")),
        ("t4g", ("micro", "small", "medium", "large", "xlarge", "2xlarge")),
        ("m5", ("large", "xlarge", "2xlarge", "4xlarge")),
        ("m6g", ("large", "xlarge", "2xlarge", "4xlarge")),
        ("m6i", ("large", "xlarge", "2xlarge", "4xlarge")),
        ("r5", ("large", "xlarge", "2xlarge", "4xlarge")),
        ("r6g", ("large", "xlarge", "2xlarge", "4xlarge")),
    )
    for size in sizes
]
"""The classes DescribeOrderableDBInstanceOptions offers (any ``db.*`` class is accepted: on
one machine they differ only in name)."""
INVALID_ID = (
    "The parameter {name} is not a valid identifier. Identifiers must begin with a letter; must "
    "contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain "
    "two consecutive hyphens."
)


def _seconds(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def _private(doc: Json) -> Json:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


class RdsProvider(ServiceProvider):
    service = "rds"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self._scratch: str | None = None
        if env.settings.ephemeral:
            self._scratch = tempfile.mkdtemp(prefix="nubes-rds-")
            self.root = Path(self._scratch)
        else:
            self.root = env.settings.data_dir / "rds"
        self.servers = runtime.Servers()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._cpu: dict[str, tuple[float, float]] = {}
        """CPU seconds of each server at the last sample, for CPUUtilization between samples."""

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        return cls.has_rows(env, "SELECT 1 FROM rds_instances LIMIT 1")

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.env.metrics.collector(self._metrics)
        self.env.scheduler.every("rds", TICK, self._tick)
        self.env.scheduler.on_advance(self._on_advance)
        with self.store.transaction():
            for row in self.store.query("SELECT * FROM rds_instances"):
                self._resume(row["account"], row["region"], row["id"], row["status"])
        for row in self.store.query("SELECT * FROM rds_snapshots"):
            snap = json.loads(row["doc"])
            if snap["Status"] != "creating" or snap.get("_FinalOf") is not None:
                continue
            if snap.get("SourceDBSnapshotIdentifier"):
                key = f"snapshot:{row['id']}"
                self._later(row["account"], row["region"], key, self._copy_files)
            else:
                self._later_snapshot(row["account"], row["region"], row["instance"], row["id"])

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.servers.stop_all()
        # A server whose start was cancelled half-way is known only by its postmaster.pid.
        for data in (self.root / "instances").glob("*/pgdata"):
            await asyncio.to_thread(runtime.stop_stale, data)
        self.servers.close()
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def reset(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self.servers.kill_all()
        for data in (self.root / "instances").glob("*/pgdata"):
            runtime.stop_stale(data)  # waits for each to finish shutting down
        for child in (self.root / "instances", self.root / "snapshots"):
            shutil.rmtree(child, ignore_errors=True)

    def _metrics(self, boundary: float) -> list[Datapoint]:
        """AWS/RDS gauges of the running servers, measured on their processes and files."""
        points: list[Datapoint] = []
        now = time.monotonic()
        for row in self.store.query("SELECT account, region, doc FROM rds_instances"):
            doc = json.loads(row["doc"])
            data = self._data(doc)
            pid = self.servers.pid(data)
            if pid is None:
                continue
            sessions, cpu = runtime.usage(pid)
            before = self._cpu.get(doc["DbiResourceId"])
            self._cpu[doc["DbiResourceId"]] = (now, cpu)
            values: dict[str, tuple[float, str]] = {
                "DatabaseConnections": (sessions, "Count"),
                "FreeStorageSpace": (
                    max(0, doc["AllocatedStorage"] * 2**30 - runtime.disk_bytes(data)),
                    "Bytes",
                ),
            }
            if before is not None and now > before[0]:
                share = 100.0 * (cpu - before[1]) / (now - before[0]) / (os.cpu_count() or 1)
                values["CPUUtilization"] = (min(100.0, max(0.0, share)), "Percent")
            for name, (value, unit) in values.items():
                points.append(
                    Datapoint(
                        row["account"],
                        row["region"],
                        "AWS/RDS",
                        name,
                        float(value),
                        unit,
                        {"DBInstanceIdentifier": doc["DBInstanceIdentifier"]},
                    )
                )
        return points

    def _on_advance(self) -> None:
        with self.store.transaction():
            self._tick()

    def _tick(self) -> None:
        """Stopped instances whose seven days are over start again, as AWS does; events
        older than AWS's 14 days are forgotten."""
        now = clock.now()
        self.store.execute("DELETE FROM rds_events WHERE at < ?", (now - EVENT_DAYS * DAY,))
        for row in self.store.query("SELECT * FROM rds_instances WHERE status = 'stopped'"):
            doc = json.loads(row["doc"])
            if doc.get("_AutoStartAt", now + 1) <= now:
                self._set_status(row["account"], row["region"], row["id"], "starting")
                self._event(
                    row["account"],
                    row["region"],
                    doc,
                    "notification",
                    "DB instance is being started due to it exceeding the maximum allowed time "
                    "being stopped.",
                    154,
                )
                self._later(row["account"], row["region"], row["id"], self._boot)

    # -- records -------------------------------------------------------------------------------

    def _row(self, account: str, region: str, ident: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM rds_instances WHERE account = ? AND region = ? AND id = ?",
            (account, region, ident.lower()),
        )

    def _get(self, ctx: RequestContext, ident: str) -> Json:
        row = self._row(ctx.account_id, ctx.region, ident)
        if row is None:
            raise errors.DBInstanceNotFoundFault(f"DBInstance {ident} not found.")
        return dict(json.loads(row["doc"]))

    def _save(self, account: str, region: str, doc: Json) -> None:
        self.store.execute(
            "INSERT INTO rds_instances (account, region, id, status, doc) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (account, region, id) DO UPDATE SET status = excluded.status, "
            "doc = excluded.doc",
            (
                account,
                region,
                doc["DBInstanceIdentifier"],
                doc["DBInstanceStatus"],
                json.dumps(doc),
            ),
        )

    def _set_status(self, account: str, region: str, ident: str, status: str, **more: Any) -> None:
        """The instance's status, and fields to set (or, given None, to drop)."""
        row = self._row(account, region, ident)
        if row is None:
            return
        doc = json.loads(row["doc"])
        doc["DBInstanceStatus"] = status
        for key, value in more.items():
            if value is None:
                doc.pop(key, None)
            else:
                doc[key] = value
        self._save(account, region, doc)

    def _data(self, doc: Json) -> Path:
        """The cluster's directory; its parent also holds the server's log."""
        return self.root / "instances" / doc["DbiResourceId"] / "pgdata"

    def _out(self, doc: Json) -> Json:
        return {**_private(doc), "TagList": to_list(self.env.tags.get(doc["DBInstanceArn"]))}

    # -- the servers, in the background ---------------------------------------------------------

    def _later(
        self,
        account: str,
        region: str,
        ident: str,
        work: Callable[[str, str, str], Awaitable[None]],
    ) -> None:
        """Run ``work`` for the instance once this request's transaction is committed, one
        piece of work per instance at a time."""
        loop = self._loop
        if loop is None:
            return  # the provider starts soon and resumes every instance from its status

        def spawn() -> None:
            lock = self._locks.setdefault(f"{account}/{region}/{ident}", asyncio.Lock())

            async def run() -> None:
                async with lock:
                    try:
                        await work(account, region, ident)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # the instance shows the failure, nubes goes on
                        log.exception("rds instance %s: %s", ident, work.__name__)
                        with self.store.transaction():
                            self._set_status(account, region, ident, "failed", _Error=str(exc))

            task = loop.create_task(run())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        loop.call_soon_threadsafe(spawn)

    def _doc(self, account: str, region: str, ident: str) -> Json | None:
        with self.store.transaction():
            row = self._row(account, region, ident)
        return None if row is None else dict(json.loads(row["doc"]))

    def _resume(self, account: str, region: str, ident: str, status: str) -> None:
        if status == "failed" and self._has_cluster(account, region, ident):
            # It had started once: its data is the user's, so it is started again, never re-made.
            self._later(account, region, ident, self._boot)
        elif status in ("creating", "failed") and not self._restoring(account, region, ident):
            self._later(account, region, ident, self._create)
        elif status == "creating":
            self._later(account, region, ident, self._restore)
        elif status == "deleting":
            self._later(account, region, ident, self._delete)
        elif status == "stopping":
            self._later(account, region, ident, self._halt)
        elif status != "stopped":
            # Its server went down with the last nubes (or is a stale one about to be stopped):
            # not available until it is started again.
            self._set_status(account, region, ident, "rebooting")
            self._later(account, region, ident, self._boot)
            if status == "resetting-master-credentials":
                self._later(account, region, ident, self._password)

    def _has_cluster(self, account: str, region: str, ident: str) -> bool:
        row = self._row(account, region, ident)
        if row is None:
            return False
        doc = json.loads(row["doc"])
        return "LatestRestorableTime" in doc and (self._data(doc) / "PG_VERSION").exists()

    def _restoring(self, account: str, region: str, ident: str) -> bool:
        row = self._row(account, region, ident)
        return row is not None and "_RestoreFrom" in json.loads(row["doc"])

    def _taken_ports(self, own: str | None = None) -> set[int]:
        """Ports of running servers and those every other instance holds (a stopped one gets
        its port back when it starts)."""
        taken = set(self.servers.ports.values())
        with self.store.transaction():
            rows = self.store.query("SELECT doc FROM rds_instances")
        for row in rows:
            doc = json.loads(row["doc"])
            if doc["DbiResourceId"] != own:
                taken.add(doc["Endpoint"]["Port"])
        return taken

    async def _run_server(self, account: str, region: str, ident: str, doc: Json) -> None:
        data = self._data(doc)
        port = doc["Endpoint"]["Port"]
        for attempt in range(PORT_ATTEMPTS):
            taken = self._taken_ports(own=doc["DbiResourceId"])
            if attempt:
                taken.add(port)  # someone else bound it between our check and the server's
            if port in taken or not runtime.port_free(port):
                port = runtime.free_port(doc["_PreferredPort"], taken)
            try:
                await self.servers.start(data, port)
                break
            except runtime.PortTaken:
                if attempt == PORT_ATTEMPTS - 1:
                    raise
        if port != doc["Endpoint"]["Port"]:
            with self.store.transaction():
                fresh = self._row(account, region, ident)
                if fresh is not None:
                    updated = json.loads(fresh["doc"])
                    updated["Endpoint"]["Port"] = port
                    updated["DbInstancePort"] = port
                    self._save(account, region, updated)

    async def _create(self, account: str, region: str, ident: str) -> None:
        doc = self._doc(account, region, ident)
        if doc is None:
            return
        data = self._data(doc)
        await self.servers.stop(data)
        await asyncio.to_thread(runtime.stop_stale, data)
        await self.servers.initdb(data, doc["MasterUsername"], doc["_Password"])
        self._write_parameters(doc)
        await self._run_server(account, region, ident, doc)
        if doc.get("DBName"):
            await self.servers.sql(
                data,
                doc["MasterUsername"],
                f"CREATE DATABASE {runtime.quote_ident(doc['DBName'])};",
            )
        await self._first_backup(account, region, ident, doc)

    async def _restore(self, account: str, region: str, ident: str) -> None:
        doc = self._doc(account, region, ident)
        if doc is None:
            return
        data = self._data(doc)
        await self.servers.stop(data)
        await asyncio.to_thread(runtime.stop_stale, data)
        shutil.rmtree(data, ignore_errors=True)
        source = self.root / "snapshots" / doc["_RestoreFrom"]
        await asyncio.to_thread(shutil.copytree, source, data)
        data.chmod(0o700)
        self._write_parameters(doc)
        await self._run_server(account, region, ident, doc)
        await self._first_backup(account, region, ident, doc)

    async def _first_backup(self, account: str, region: str, ident: str, doc: Json) -> None:
        """AWS backs a new instance up before it is available (when backups are kept): a
        checkpoint makes everything so far durable on disk."""
        if doc.get("BackupRetentionPeriod", 0) > 0:
            with self.store.transaction():
                self._set_status(account, region, ident, "backing-up")
            await self.servers.sql(self._data(doc), doc["MasterUsername"], "CHECKPOINT;")
        with self.store.transaction():
            self._set_status(
                account,
                region,
                ident,
                "available",
                LatestRestorableTime=clock.now(),
                _Password=None,  # the server keeps it (hashed): nubes forgets it once applied
            )
            if "_RestoreFrom" in doc:
                self._event(account, region, doc, "creation", "Restored from snapshot", 43)
            else:
                self._event(account, region, doc, "creation", "DB instance created", 5)

    async def _boot(self, account: str, region: str, ident: str) -> None:
        doc = self._doc(account, region, ident)
        if doc is None:
            return
        data = self._data(doc)
        await self.servers.stop(data)
        await asyncio.to_thread(runtime.stop_stale, data)
        self._write_parameters(doc)
        await self._run_server(account, region, ident, doc)
        with self.store.transaction():
            groups = [{**g, "ParameterApplyStatus": "in-sync"} for g in doc["DBParameterGroups"]]
            self._set_status(account, region, ident, "available", DBParameterGroups=groups)
            if doc["DBInstanceStatus"] == "starting":
                self._event(account, region, doc, "notification", "DB instance started", 88)
            else:
                self._event(account, region, doc, "availability", "DB instance restarted", 6)

    async def _halt(self, account: str, region: str, ident: str) -> None:
        doc = self._doc(account, region, ident)
        if doc is None:
            return
        await self.servers.stop(self._data(doc))
        with self.store.transaction():
            self._set_status(
                account, region, ident, "stopped", _AutoStartAt=clock.now() + AUTO_START
            )
            self._event(account, region, doc, "notification", "DB instance stopped", 87)

    async def _delete(self, account: str, region: str, ident: str) -> None:
        doc = self._doc(account, region, ident)
        if doc is None:
            return
        data = self._data(doc)
        final = doc.get("_FinalSnapshot")
        if final and self._snapshot_pending(account, region, final):
            if not self.servers.running(data):  # nubes restarted between the request and now
                await asyncio.to_thread(runtime.stop_stale, data)
                await self._run_server(account, region, ident, doc)
            await self._snapshot(account, region, final)
        await self.servers.stop(data)
        await asyncio.to_thread(runtime.stop_stale, data)
        await asyncio.to_thread(shutil.rmtree, data.parent, True)
        with self.store.transaction():
            self.store.execute(
                "DELETE FROM rds_instances WHERE account = ? AND region = ? AND id = ?",
                (account, region, ident),
            )
            tags = self.env.tags.get(doc["DBInstanceArn"])
            self.env.tags.remove(doc["DBInstanceArn"], list(tags))
            self._event(account, region, doc, "deletion", "DB instance deleted", 3)

    async def _password(self, account: str, region: str, ident: str) -> None:
        doc = self._doc(account, region, ident)
        if doc is None:
            return
        user = doc["MasterUsername"]
        if "_Password" in doc:
            statement = (
                f"ALTER ROLE {runtime.quote_ident(user)} "
                f"PASSWORD {runtime.quote_literal(doc['_Password'])};"
            )
            await self.servers.sql(self._data(doc), user, statement)
        with self.store.transaction():
            # The server keeps the password (hashed): nubes forgets it once applied.
            self._set_status(account, region, ident, "available", _Password=None)
            self._event(
                account, region, doc, "configuration change", "Reset master credentials", 16
            )

    async def _apply_parameters(self, account: str, region: str, ident: str) -> None:
        doc = self._doc(account, region, ident)
        if doc is None:
            return
        self._write_parameters(doc)
        if self.servers.running(self._data(doc)):
            await self.servers.reload(self._data(doc), doc["MasterUsername"])

    def _write_parameters(self, doc: Json) -> None:
        lines = [
            f"{name} = {runtime.quote_literal(str(value))}"
            for name, value in sorted(doc.get("_Parameters", {}).items())
        ]
        (self._data(doc) / runtime.CONF).write_text("".join(line + "\n" for line in lines))

    def _snapshot_pending(self, account: str, region: str, snapshot: str) -> bool:
        with self.store.transaction():
            row = self._snapshot_row(account, region, snapshot)
        return row is not None and json.loads(row["doc"])["Status"] == "creating"

    def _later_snapshot(self, account: str, region: str, instance: str, snapshot: str) -> None:
        async def take(account: str, region: str, _ident: str) -> None:
            await self._snapshot(account, region, snapshot)

        self._later(account, region, instance, take)

    async def _snapshot(self, account: str, region: str, snapshot: str) -> None:
        with self.store.transaction():
            row = self._snapshot_row(account, region, snapshot)
            if row is None:
                return
            snap = json.loads(row["doc"])
            inst = self._row(account, region, snap["DBInstanceIdentifier"])
        if inst is None:
            return
        doc = json.loads(inst["doc"])
        dest = self.root / "snapshots" / snap["_Dir"]
        await self.servers.backup(self._data(doc), doc["MasterUsername"], dest)
        with self.store.transaction():
            row = self._snapshot_row(account, region, snapshot)
            if row is not None:
                snap = json.loads(row["doc"])
                snap.update(Status="available", PercentProgress=100)
                self._save_snapshot(account, region, snap)
                self._event(
                    account,
                    region,
                    snap,
                    "creation",
                    "Manual snapshot created",
                    42,
                    kind="DB_SNAPSHOT",
                )
            inst = self._row(account, region, doc["DBInstanceIdentifier"])
            if inst is not None and inst["status"] == "backing-up":
                self._set_status(account, region, doc["DBInstanceIdentifier"], "available")

    # -- events ----------------------------------------------------------------------------------

    def _event(
        self,
        account: str,
        region: str,
        doc: Json,
        category: str,
        message: str,
        number: int,
        kind: str = "DB_INSTANCE",
    ) -> None:
        """An RDS event: kept for DescribeEvents and sent to EventBridge as AWS sends it."""
        now = clock.now()
        if kind == "DB_INSTANCE":
            ident, source_arn = doc["DBInstanceIdentifier"], doc["DBInstanceArn"]
            detail_type = "RDS DB Instance Event"
        else:
            ident, source_arn = doc["DBSnapshotIdentifier"], doc["DBSnapshotArn"]
            detail_type = "RDS DB Snapshot Event"
        record = {
            "SourceIdentifier": ident,
            "SourceType": kind.lower().replace("_", "-"),
            "Message": message,
            "EventCategories": [category],
            "Date": now,
            "SourceArn": source_arn,
        }
        self.store.execute(
            "INSERT INTO rds_events (account, region, at, doc) VALUES (?, ?, ?, ?)",
            (account, region, now, json.dumps(record)),
        )
        self.env.events.emit(
            Event(
                account,
                region,
                "aws.rds",
                detail_type,
                {
                    "EventCategories": [category],
                    "SourceType": kind,
                    "SourceArn": source_arn,
                    "Date": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "Message": message,
                    "SourceIdentifier": ident,
                    "EventID": f"RDS-EVENT-{number:04d}",
                },
                resources=(source_arn,),
                time=now,
            )
        )

    def describe_events(self, ctx: RequestContext, params: Json) -> Json:
        now = clock.now()
        end = _seconds(params.get("EndTime"), now)
        start = _seconds(params.get("StartTime"), end - 60 * params.get("Duration", 60))
        rows = self.store.query(
            "SELECT seq, doc FROM rds_events WHERE account = ? AND region = ? AND at >= ? "
            "AND at <= ? ORDER BY seq",
            (ctx.account_id, ctx.region, start, end),
        )
        found = []
        kind = params.get("SourceType")
        categories = set(params.get("EventCategories") or ())
        for row in rows:
            record = json.loads(row["doc"])
            if params.get("SourceIdentifier") and (
                record["SourceIdentifier"] != params["SourceIdentifier"].lower()
            ):
                continue
            if kind and record["SourceType"] != kind:
                continue
            if categories and not categories & set(record["EventCategories"]):
                continue
            found.append((row["seq"], record))
        try:
            page, marker = paginate(
                found, self._max_records(params), params.get("Marker"), lambda e: e[0]
            )
        except InvalidToken:
            raise errors.InvalidParameterValue("The parameter Marker is not valid.") from None
        out: Json = {"Events": [record for _, record in page]}
        if marker:
            out["Marker"] = marker
        return out

    # -- validation ------------------------------------------------------------------------------

    @staticmethod
    def _check_identifier(name: str, value: str) -> None:
        if not (1 <= len(value) <= 63) or not IDENTIFIER.match(value):
            raise errors.InvalidParameterValue(INVALID_ID.format(name=name))

    @staticmethod
    def _check_password(value: str | None) -> str:
        if not value:
            raise errors.InvalidParameterValue(
                "The parameter MasterUserPassword must be provided and must not be blank."
            )
        if len(value) < 8:
            raise errors.InvalidParameterValue(
                "The parameter MasterUserPassword is not a valid password because it is shorter "
                "than 8 characters."
            )
        if len(value) > 128:
            raise errors.InvalidParameterValue(
                "The parameter MasterUserPassword is not a valid password because it is longer "
                "than 128 characters."
            )
        if any(c in PASSWORD_FORBIDDEN or not (" " <= c <= "~") for c in value):
            raise errors.InvalidParameterValue(
                "The parameter MasterUserPassword is not a valid password. Only printable ASCII "
                "characters besides '/', '@', '\"', ' ' may be used."
            )
        return value

    @staticmethod
    def _check_engine(engine: str) -> None:
        if engine == "postgres":
            problem = runtime.cannot_run()
            if problem is not None:
                raise errors.InvalidParameterCombination(
                    f"nubes runs engine postgres as a real PostgreSQL server, and cannot here: "
                    f"{problem}."
                )
            return
        if engine in OTHER_ENGINES:
            server = OTHER_ENGINES[engine]
            missing = shutil.which(server) is None
            raise errors.InvalidParameterCombination(
                f"nubes runs each DB engine as a real server; engine {engine} needs {server}, "
                + ("which is not installed here." if missing else "which nubes does not run yet.")
                + " Use engine postgres."
            )
        raise errors.InvalidParameterValue(f"Invalid DB engine: {engine}")

    @staticmethod
    def _check_storage(value: int, storage_type: str) -> None:
        if not 20 <= value <= 65_536:
            raise errors.InvalidParameterCombination(
                f"Invalid storage size for engine name postgres and storage type {storage_type}: "
                f"{value}"
            )

    @staticmethod
    def _check_class(value: str) -> None:
        if not re.match(r"^db\.[a-z0-9-]+\.[a-z0-9]+$", value):
            raise errors.InvalidParameterCombination(
                f"RDS does not support creating a DB instance with the following combination: "
                f"DBInstanceClass={value}, Engine=postgres, EngineVersion="
                f"{runtime.version()}, LicenseModel=postgresql-license. For supported "
                "combinations of instance class and database engine version, see the "
                "documentation."
            )

    @staticmethod
    def _check_retention(value: int) -> None:
        if not 0 <= value <= 35:
            raise errors.InvalidParameterValue(
                "The parameter BackupRetentionPeriod must be between 0 and 35."
            )

    # -- instances -------------------------------------------------------------------------------

    def create_db_instance(self, ctx: RequestContext, params: Json) -> Json:
        ident = params["DBInstanceIdentifier"]
        self._check_identifier("DBInstanceIdentifier", ident)
        ident = ident.lower()
        engine = params["Engine"].lower()
        self._check_engine(engine)
        user = params.get("MasterUsername")
        if not user:
            raise errors.InvalidParameterValue(
                "The parameter MasterUsername must be provided and must not be blank."
            )
        if not PG_NAME.match(user):
            raise errors.InvalidParameterValue(
                "The parameter MasterUsername is not a valid identifier. Identifiers must begin "
                "with a letter; must contain only ASCII letters, digits, and underscores; and "
                "must not be longer than 63 characters."
            )
        if user.lower() in RESERVED_USERS:
            raise errors.InvalidParameterValue(
                f"MasterUsername {user} cannot be used as it is a reserved word used by the engine"
            )
        password = params.get("MasterUserPassword")
        managed = bool(params.get("ManageMasterUserPassword"))
        if managed:
            if password:
                raise errors.InvalidParameterCombination(
                    "Specify either MasterUserPassword or ManageMasterUserPassword, not both."
                )
            password = "".join(secrets.choice(MANAGED_ALPHABET) for _ in range(28))
        elif params.get("MasterUserSecretKmsKeyId"):
            raise errors.InvalidParameterCombination(
                "You can't specify MasterUserSecretKmsKeyId unless ManageMasterUserPassword is "
                "turned on."
            )
        password = self._check_password(password)
        db_name = params.get("DBName")
        if db_name is not None and not PG_NAME.match(db_name):
            raise errors.InvalidParameterValue(
                "DBName must begin with a letter and contain only alphanumeric characters."
            )
        if db_name is not None and db_name.lower() in ("postgres", "template0", "template1"):
            raise errors.InvalidParameterValue(
                f"DatabaseName {db_name} cannot be used as it is a reserved word used by the engine"
            )
        storage_type = params.get("StorageType", "gp2")
        storage = params.get("AllocatedStorage")
        if storage is None:
            raise errors.InvalidParameterValue(
                "The parameter AllocatedStorage must be provided and must not be null."
            )
        self._check_storage(storage, storage_type)
        self._check_class(params["DBInstanceClass"])
        retention = params.get("BackupRetentionPeriod", 1)
        self._check_retention(retention)
        port = params.get("Port", DEFAULT_PORT)
        if not 1150 <= port <= 65_535:
            raise errors.InvalidParameterValue(
                f"Invalid port {port}. Port must be between 1150 and 65535."
            )
        if self._row(ctx.account_id, ctx.region, ident) is not None:
            raise errors.DBInstanceAlreadyExistsFault("DB instance already exists")
        subnet_group = self._subnet_group_for(ctx, params.get("DBSubnetGroupName"))
        groups = self._security_groups(ctx, params.get("VpcSecurityGroupIds") or [], subnet_group)
        pgroup = self._get_parameter_group(
            ctx, params.get("DBParameterGroupName") or f"default.{parameters.family()}"
        )
        now = clock.now()
        zone = params.get("AvailabilityZone") or f"{ctx.region}a"
        doc: Json = {
            "DBInstanceIdentifier": ident,
            "DBInstanceClass": params["DBInstanceClass"],
            "Engine": engine,
            "DBInstanceStatus": "creating",
            "MasterUsername": user,
            "Endpoint": {
                "Address": "127.0.0.1",
                "Port": runtime.free_port(port, self._taken_ports()),
                "HostedZoneId": "Z2R2ITUGPM61AM",
            },
            "AllocatedStorage": storage,
            "InstanceCreateTime": now,
            "PreferredBackupWindow": params.get("PreferredBackupWindow", "03:00-03:30"),
            "BackupRetentionPeriod": retention,
            "DBSecurityGroups": [],
            "VpcSecurityGroups": [{"VpcSecurityGroupId": g, "Status": "active"} for g in groups],
            "DBParameterGroups": [
                {
                    "DBParameterGroupName": pgroup["DBParameterGroupName"],
                    "ParameterApplyStatus": "in-sync",
                }
            ],
            "_Parameters": pgroup.get("_Values", {}),
            "AvailabilityZone": zone,
            "PreferredMaintenanceWindow": params.get(
                "PreferredMaintenanceWindow", "sun:05:00-sun:05:30"
            ),
            "PendingModifiedValues": {},
            "MultiAZ": bool(params.get("MultiAZ", False)),
            "EngineVersion": runtime.version() or "15",
            "AutoMinorVersionUpgrade": params.get("AutoMinorVersionUpgrade", True),
            "ReadReplicaDBInstanceIdentifiers": [],
            "LicenseModel": "postgresql-license",
            "OptionGroupMemberships": [
                {"OptionGroupName": "default:postgres-15", "Status": "in-sync"}
            ],
            "PubliclyAccessible": bool(params.get("PubliclyAccessible", False)),
            "StorageType": storage_type,
            "DbInstancePort": 0,
            "StorageEncrypted": bool(params.get("StorageEncrypted", False)),
            "DbiResourceId": "db-"
            + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(26)),
            "CACertificateIdentifier": "rds-ca-rsa2048-g1",
            "CopyTagsToSnapshot": bool(params.get("CopyTagsToSnapshot", False)),
            "MonitoringInterval": 0,
            "DBInstanceArn": arn("rds", ctx.region, ctx.account_id, f"db:{ident}"),
            "IAMDatabaseAuthenticationEnabled": False,
            "PerformanceInsightsEnabled": False,
            "DeletionProtection": bool(params.get("DeletionProtection", False)),
            "CustomerOwnedIpEnabled": False,
            "NetworkType": "IPV4",
            "_Password": password,
            "_PreferredPort": port,
        }
        if db_name:
            doc["DBName"] = db_name
        if managed:
            doc["MasterUserSecret"] = self._master_secret(
                ctx, doc, user, password, params.get("MasterUserSecretKmsKeyId")
            )
        if subnet_group is not None:
            doc["DBSubnetGroup"] = subnet_group
        if doc["MultiAZ"]:
            doc["SecondaryAvailabilityZone"] = f"{ctx.region}b"
        self._save(ctx.account_id, ctx.region, doc)
        self.env.tags.set(doc["DBInstanceArn"], from_list(params.get("Tags") or []))
        self._later(ctx.account_id, ctx.region, ident, self._create)
        return {"DBInstance": self._out(doc)}

    def _master_secret(
        self, ctx: RequestContext, doc: Json, user: str, password: str, key: str | None
    ) -> Json:
        """The Secrets Manager secret RDS keeps the master credentials in, made through Secrets
        Manager itself. AWS names it ``rds!db-...``; nubes' Secrets Manager refuses ``!`` in a
        name (as AWS does for users), so the name here is ``rds-db-...``."""
        request: Json = {
            "Name": f"rds-{doc['DbiResourceId'].lower()}",
            "Description": "Secret associated with primary RDS DB instance: "
            + doc["DBInstanceArn"],
            "SecretString": json.dumps({"username": user, "password": password}),
        }
        if key:
            request["KmsKeyId"] = key
        made = self.env.providers.invoke(
            "secretsmanager", "CreateSecret", request, ctx.account_id, ctx.region
        )
        return {
            "SecretArn": made["ARN"],
            "SecretStatus": "active",
            "KmsKeyId": key or "alias/aws/secretsmanager",
        }

    def _subnet_group_for(self, ctx: RequestContext, name: str | None) -> Json | None:
        if not name:
            return None
        return _private(self._get_subnet_group(ctx, name))

    def _security_groups(
        self, ctx: RequestContext, ids: list[str], subnet_group: Json | None
    ) -> list[str]:
        if not ids:
            if subnet_group is None:
                return []
            # AWS gives an instance in a VPC that VPC's default security group.
            with contextlib.suppress(ServiceError):
                answer = self.env.providers.invoke(
                    "ec2",
                    "DescribeSecurityGroups",
                    {
                        "Filters": [
                            {"Name": "vpc-id", "Values": [subnet_group["VpcId"]]},
                            {"Name": "group-name", "Values": ["default"]},
                        ]
                    },
                    ctx.account_id,
                    ctx.region,
                )
                return [g["GroupId"] for g in answer.get("SecurityGroups", [])[:1]]
            return []
        found: list[Json] = []
        for group_id in ids:
            try:
                answer = self.env.providers.invoke(
                    "ec2",
                    "DescribeSecurityGroups",
                    {"GroupIds": [group_id]},
                    ctx.account_id,
                    ctx.region,
                )
            except ServiceError:
                answer = {}
            if not answer.get("SecurityGroups"):
                raise errors.InvalidParameterValue(
                    f"Invalid security group , groupId= {group_id}, groupName=."
                )
            found.append(answer["SecurityGroups"][0])
        vpc = subnet_group["VpcId"] if subnet_group else None
        for group in found:
            if vpc is not None and group.get("VpcId") != vpc:
                raise errors.InvalidParameterCombination(
                    f"The DB instance and EC2 security group are in different VPCs. The DB "
                    f"instance is in {vpc} and the EC2 security group is in {group.get('VpcId')}"
                )
        return [g["GroupId"] for g in found]

    def describe_db_instances(self, ctx: RequestContext, params: Json) -> Json:
        ident = params.get("DBInstanceIdentifier")
        if ident is not None:
            docs = [self._get(ctx, ident.rsplit(":", 1)[-1])]
        else:
            rows = self.store.query(
                "SELECT doc FROM rds_instances WHERE account = ? AND region = ? ORDER BY id",
                (ctx.account_id, ctx.region),
            )
            docs = [json.loads(r["doc"]) for r in rows]
        for flt in params.get("Filters") or []:
            docs = [d for d in docs if self._matches(d, flt["Name"], flt.get("Values") or [])]
        limit = self._max_records(params)
        try:
            page, marker = paginate(
                docs, limit, params.get("Marker"), lambda d: d["DBInstanceIdentifier"]
            )
        except InvalidToken:
            raise errors.InvalidParameterValue("The parameter Marker is not valid.") from None
        out: Json = {"DBInstances": [self._out(d) for d in page]}
        if marker:
            out["Marker"] = marker
        return out

    @staticmethod
    def _matches(doc: Json, name: str, values: list[str]) -> bool:
        fields = {
            "db-instance-id": (doc["DBInstanceIdentifier"], doc["DBInstanceArn"]),
            "dbi-resource-id": (doc["DbiResourceId"],),
            "engine": (doc["Engine"],),
            "db-cluster-id": (doc.get("DBClusterIdentifier", ""),),
            "domain": (),
        }
        if name not in fields:
            raise errors.InvalidParameterValue(f"Unrecognized filter name: {name}")
        return any(v in fields[name] or v.lower() in fields[name] for v in values)

    @staticmethod
    def _max_records(params: Json) -> int:
        limit = params.get("MaxRecords", 100)
        if not 20 <= limit <= 100:
            raise errors.InvalidParameterValue(
                f"Invalid value {limit} for MaxRecords. Must be between 20 and 100"
            )
        return int(limit)

    def _require(self, doc: Json, *statuses: str, message: str | None = None) -> None:
        if doc["DBInstanceStatus"] not in statuses:
            raise errors.InvalidDBInstanceStateFault(
                message or f"Instance {doc['DBInstanceIdentifier']} is not in available state."
            )

    def delete_db_instance(self, ctx: RequestContext, params: Json) -> Json:
        doc = self._get(ctx, params["DBInstanceIdentifier"])
        ident = doc["DBInstanceIdentifier"]
        skip = bool(params.get("SkipFinalSnapshot", False))
        final = params.get("FinalDBSnapshotIdentifier")
        if skip and final:
            raise errors.InvalidParameterCombination(
                "Cannot specify both SkipFinalSnapshot and FinalDBSnapshotIdentifier"
            )
        if not skip and not final:
            raise errors.InvalidParameterCombination(
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."
            )
        if doc.get("DeletionProtection"):
            raise errors.InvalidParameterCombination(
                "Cannot delete protected DB Instance, please disable deletion protection and try "
                "again."
            )
        if doc["DBInstanceStatus"] == "deleting":
            raise errors.InvalidDBInstanceStateFault(f"Instance {ident} is already being deleted.")
        if final:
            # A stopped instance's server is started for its final snapshot (see _delete).
            self._require(doc, "available", "stopped")
            self._new_snapshot(ctx, doc, final, final_of=ident)
            doc["_FinalSnapshot"] = final
        secret = doc.get("MasterUserSecret")
        if secret:
            with contextlib.suppress(ServiceError):  # a secret the user deleted first is gone
                self.env.providers.invoke(
                    "secretsmanager",
                    "DeleteSecret",
                    {"SecretId": secret["SecretArn"], "ForceDeleteWithoutRecovery": True},
                    ctx.account_id,
                    ctx.region,
                )
            doc["MasterUserSecret"] = {**secret, "SecretStatus": "deleting"}
        doc["DBInstanceStatus"] = "deleting"
        self._save(ctx.account_id, ctx.region, doc)
        self._later(ctx.account_id, ctx.region, ident, self._delete)
        return {"DBInstance": self._out(doc)}

    def modify_db_instance(self, ctx: RequestContext, params: Json) -> Json:
        doc = self._get(ctx, params["DBInstanceIdentifier"])
        self._require(doc, "available")
        immediately = bool(params.get("ApplyImmediately", False))
        pending: Json = dict(doc.get("PendingModifiedValues") or {})
        work = None
        if "MasterUserPassword" in params:
            if doc.get("MasterUserSecret"):
                raise errors.InvalidParameterCombination(
                    "You can't specify MasterUserPassword for an instance with "
                    "ManageMasterUserPassword turned on."
                )
            self._check_password(params["MasterUserPassword"])
            doc["_Password"] = params["MasterUserPassword"]
            # AWS applies a new master password at once, whatever ApplyImmediately says.
            pending["MasterUserPassword"] = "****"
            doc["DBInstanceStatus"] = "resetting-master-credentials"
            work = self._password
        if "BackupRetentionPeriod" in params:
            self._check_retention(params["BackupRetentionPeriod"])
            doc["BackupRetentionPeriod"] = params["BackupRetentionPeriod"]
        if "DeletionProtection" in params:
            doc["DeletionProtection"] = bool(params["DeletionProtection"])
        if params.get("DBParameterGroupName"):
            group = self._get_parameter_group(ctx, params["DBParameterGroupName"])
            doc["_Parameters"] = dict(group["_Values"])
            doc["DBParameterGroups"] = [
                {
                    "DBParameterGroupName": group["DBParameterGroupName"],
                    "ParameterApplyStatus": "pending-reboot",
                }
            ]
        if "CopyTagsToSnapshot" in params:
            doc["CopyTagsToSnapshot"] = bool(params["CopyTagsToSnapshot"])
        for key in ("PreferredBackupWindow", "PreferredMaintenanceWindow"):
            if key in params:
                doc[key] = params[key]
        deferred: Json = {}
        if "DBInstanceClass" in params:
            self._check_class(params["DBInstanceClass"])
            deferred["DBInstanceClass"] = params["DBInstanceClass"]
        if "AllocatedStorage" in params:
            self._check_storage(params["AllocatedStorage"], doc["StorageType"])
            deferred["AllocatedStorage"] = params["AllocatedStorage"]
        if "MultiAZ" in params:
            deferred["MultiAZ"] = bool(params["MultiAZ"])
        new_name = params.get("NewDBInstanceIdentifier")
        if new_name:
            self._check_identifier("NewDBInstanceIdentifier", new_name)
            if self._row(ctx.account_id, ctx.region, new_name) is not None:
                raise errors.DBInstanceAlreadyExistsFault("DB instance already exists")
            deferred["DBInstanceIdentifier"] = new_name.lower()
        out = dict(doc)
        if deferred and immediately:
            self._apply_pending(ctx, doc, deferred)
            out["PendingModifiedValues"] = {**pending, **deferred}
            pending.pop("MasterUserPassword", None)
            doc["PendingModifiedValues"] = pending
        else:
            out["PendingModifiedValues"] = {**pending, **deferred}
            pending.pop("MasterUserPassword", None)
            doc["PendingModifiedValues"] = {**pending, **deferred}
        self._save(ctx.account_id, ctx.region, doc)
        if work is not None:
            self._later(ctx.account_id, ctx.region, doc["DBInstanceIdentifier"], work)
        return {"DBInstance": self._out(out)}

    def _apply_pending(self, ctx: RequestContext, doc: Json, changes: Json) -> None:
        """Make modifications take effect (at once, or at the reboot they waited for)."""
        for key in ("DBInstanceClass", "AllocatedStorage", "MultiAZ"):
            if key in changes:
                doc[key] = changes[key]
        if doc["MultiAZ"]:
            doc["SecondaryAvailabilityZone"] = f"{ctx.region}b"
        else:
            doc.pop("SecondaryAvailabilityZone", None)
        new_name = changes.get("DBInstanceIdentifier")
        if new_name and new_name != doc["DBInstanceIdentifier"]:
            # The cluster's directory is named by the resource id, so only the records move.
            self.store.execute(
                "DELETE FROM rds_instances WHERE account = ? AND region = ? AND id = ?",
                (ctx.account_id, ctx.region, doc["DBInstanceIdentifier"]),
            )
            old_arn = doc["DBInstanceArn"]
            tags = self.env.tags.get(old_arn)
            self.env.tags.remove(old_arn, list(tags))
            doc["DBInstanceIdentifier"] = new_name
            doc["DBInstanceArn"] = arn("rds", ctx.region, ctx.account_id, f"db:{new_name}")
            self.env.tags.set(doc["DBInstanceArn"], tags)

    def reboot_db_instance(self, ctx: RequestContext, params: Json) -> Json:
        doc = self._get(ctx, params["DBInstanceIdentifier"])
        self._require(doc, "available")
        if params.get("ForceFailover") and not doc.get("MultiAZ"):
            raise errors.InvalidDBInstanceStateFault(
                "Cannot force a failover for a DB instance that is not configured as Multi-AZ."
            )
        self._apply_pending(ctx, doc, doc.get("PendingModifiedValues") or {})
        doc["PendingModifiedValues"] = {}
        doc["DBInstanceStatus"] = "rebooting"
        self._save(ctx.account_id, ctx.region, doc)
        self._later(ctx.account_id, ctx.region, doc["DBInstanceIdentifier"], self._boot)
        return {"DBInstance": self._out(doc)}

    def stop_db_instance(self, ctx: RequestContext, params: Json) -> Json:
        doc = self._get(ctx, params["DBInstanceIdentifier"])
        self._require(doc, "available")
        snapshot = params.get("DBSnapshotIdentifier")
        if snapshot:
            self._new_snapshot(ctx, doc, snapshot)
            self._later_snapshot(ctx.account_id, ctx.region, doc["DBInstanceIdentifier"], snapshot)
        doc["DBInstanceStatus"] = "stopping"
        self._save(ctx.account_id, ctx.region, doc)
        self._later(ctx.account_id, ctx.region, doc["DBInstanceIdentifier"], self._halt)
        return {"DBInstance": self._out(doc)}

    def start_db_instance(self, ctx: RequestContext, params: Json) -> Json:
        doc = self._get(ctx, params["DBInstanceIdentifier"])
        self._require(
            doc,
            "stopped",
            message=f"Instance {doc['DBInstanceIdentifier']} is not stopped, cannot be started.",
        )
        doc["DBInstanceStatus"] = "starting"
        doc.pop("_AutoStartAt", None)
        self._save(ctx.account_id, ctx.region, doc)
        self._later(ctx.account_id, ctx.region, doc["DBInstanceIdentifier"], self._boot)
        return {"DBInstance": self._out(doc)}

    # -- snapshots -------------------------------------------------------------------------------

    def _snapshot_row(self, account: str, region: str, ident: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM rds_snapshots WHERE account = ? AND region = ? AND id = ?",
            (account, region, ident.lower()),
        )

    def _get_snapshot(self, ctx: RequestContext, ident: str) -> Json:
        row = self._snapshot_row(ctx.account_id, ctx.region, ident.rsplit(":", 1)[-1])
        if row is None:
            raise errors.DBSnapshotNotFoundFault(f"DBSnapshot {ident} not found.")
        return dict(json.loads(row["doc"]))

    def _save_snapshot(self, account: str, region: str, snap: Json) -> None:
        self.store.execute(
            "INSERT INTO rds_snapshots (account, region, id, instance, doc) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (account, region, id) DO UPDATE SET doc = excluded.doc",
            (
                account,
                region,
                snap["DBSnapshotIdentifier"],
                snap["DBInstanceIdentifier"],
                json.dumps(snap),
            ),
        )

    def _snapshot_out(self, snap: Json) -> Json:
        return {**_private(snap), "TagList": to_list(self.env.tags.get(snap["DBSnapshotArn"]))}

    def _new_snapshot(
        self,
        ctx: RequestContext,
        doc: Json,
        ident: str,
        tags: dict[str, str] | None = None,
        final_of: str | None = None,
    ) -> Json:
        self._check_identifier("DBSnapshotIdentifier", ident)
        ident = ident.lower()
        if self._snapshot_row(ctx.account_id, ctx.region, ident) is not None:
            raise errors.DBSnapshotAlreadyExistsFault(
                f"Cannot create the snapshot because a snapshot with the identifier {ident} "
                "already exists."
            )
        now = clock.now()
        snap: Json = {
            "DBSnapshotIdentifier": ident,
            "DBInstanceIdentifier": doc["DBInstanceIdentifier"],
            "SnapshotCreateTime": now,
            "Engine": doc["Engine"],
            "AllocatedStorage": doc["AllocatedStorage"],
            "Status": "creating",
            "Port": doc["Endpoint"]["Port"],
            "AvailabilityZone": doc["AvailabilityZone"],
            "InstanceCreateTime": doc["InstanceCreateTime"],
            "MasterUsername": doc["MasterUsername"],
            "EngineVersion": doc["EngineVersion"],
            "LicenseModel": doc["LicenseModel"],
            "SnapshotType": "manual",
            "OptionGroupName": "default:postgres-15",
            "PercentProgress": 0,
            "StorageType": doc["StorageType"],
            "Encrypted": doc["StorageEncrypted"],
            "DBSnapshotArn": arn("rds", ctx.region, ctx.account_id, f"snapshot:{ident}"),
            "IAMDatabaseAuthenticationEnabled": False,
            "DbiResourceId": doc["DbiResourceId"],
            "OriginalSnapshotCreateTime": now,
            "SnapshotTarget": "region",
            "_Dir": f"{doc['DbiResourceId']}-{ident}",
            "_DBName": doc.get("DBName"),
            "_FinalOf": final_of,
        }
        self._save_snapshot(ctx.account_id, ctx.region, snap)
        inherited = self.env.tags.get(doc["DBInstanceArn"]) if doc.get("CopyTagsToSnapshot") else {}
        self.env.tags.set(snap["DBSnapshotArn"], {**inherited, **(tags or {})})
        return snap

    def create_db_snapshot(self, ctx: RequestContext, params: Json) -> Json:
        doc = self._get(ctx, params["DBInstanceIdentifier"])
        self._require(doc, "available")
        snap = self._new_snapshot(
            ctx, doc, params["DBSnapshotIdentifier"], from_list(params.get("Tags") or [])
        )
        doc["DBInstanceStatus"] = "backing-up"
        self._save(ctx.account_id, ctx.region, doc)
        self._later_snapshot(
            ctx.account_id, ctx.region, doc["DBInstanceIdentifier"], snap["DBSnapshotIdentifier"]
        )
        return {"DBSnapshot": self._snapshot_out(snap)}

    def copy_db_snapshot(self, ctx: RequestContext, params: Json) -> Json:
        source = self._get_snapshot(ctx, params["SourceDBSnapshotIdentifier"])
        if source["Status"] != "available":
            raise errors.InvalidDBSnapshotStateFault(
                "Snapshot must be in available state to be copied."
            )
        target = params["TargetDBSnapshotIdentifier"]
        self._check_identifier("TargetDBSnapshotIdentifier", target)
        target = target.lower()
        if self._snapshot_row(ctx.account_id, ctx.region, target) is not None:
            raise errors.DBSnapshotAlreadyExistsFault(
                f"Cannot create the snapshot because a snapshot with the identifier {target} "
                "already exists."
            )
        now = clock.now()
        copy: Json = {
            **source,
            "DBSnapshotIdentifier": target,
            "DBSnapshotArn": arn("rds", ctx.region, ctx.account_id, f"snapshot:{target}"),
            "SnapshotCreateTime": now,
            "Status": "creating",
            "PercentProgress": 0,
            "SourceDBSnapshotIdentifier": source["DBSnapshotArn"],
            "SourceRegion": ctx.region,
            "_Dir": f"{source['DbiResourceId']}-{target}",
            "_FinalOf": None,
        }
        self._save_snapshot(ctx.account_id, ctx.region, copy)
        inherited = self.env.tags.get(source["DBSnapshotArn"]) if params.get("CopyTags") else {}
        self.env.tags.set(
            copy["DBSnapshotArn"], {**inherited, **from_list(params.get("Tags") or [])}
        )
        self._later(ctx.account_id, ctx.region, f"snapshot:{target}", self._copy_files)
        return {"DBSnapshot": self._snapshot_out(copy)}

    async def _copy_files(self, account: str, region: str, key: str) -> None:
        """The copy's own files (a snapshot deleted later leaves its copies whole)."""
        with self.store.transaction():
            row = self._snapshot_row(account, region, key.split(":", 1)[1])
        if row is None:
            return
        copy = json.loads(row["doc"])
        source_name = copy["SourceDBSnapshotIdentifier"].rsplit(":", 1)[-1]
        with self.store.transaction():
            source_row = self._snapshot_row(account, region, source_name)
        if source_row is None:
            raise RuntimeError(f"snapshot {source_name} was deleted while being copied")
        source = json.loads(source_row["doc"])
        dest = self.root / "snapshots" / copy["_Dir"]
        shutil.rmtree(dest, ignore_errors=True)
        await asyncio.to_thread(shutil.copytree, self.root / "snapshots" / source["_Dir"], dest)
        with self.store.transaction():
            row = self._snapshot_row(account, region, copy["DBSnapshotIdentifier"])
            if row is not None:
                done = json.loads(row["doc"])
                done.update(Status="available", PercentProgress=100)
                self._save_snapshot(account, region, done)

    def describe_db_snapshots(self, ctx: RequestContext, params: Json) -> Json:
        if params.get("DBSnapshotIdentifier"):
            snaps = [self._get_snapshot(ctx, params["DBSnapshotIdentifier"])]
        else:
            rows = self.store.query(
                "SELECT doc FROM rds_snapshots WHERE account = ? AND region = ? ORDER BY id",
                (ctx.account_id, ctx.region),
            )
            snaps = [json.loads(r["doc"]) for r in rows]
        instance = params.get("DBInstanceIdentifier")
        if instance:
            snaps = [s for s in snaps if s["DBInstanceIdentifier"] == instance.lower()]
        kind = params.get("SnapshotType")
        if kind:
            snaps = [s for s in snaps if s["SnapshotType"] == kind]
        for flt in params.get("Filters") or []:
            key = {
                "db-snapshot-id": "DBSnapshotIdentifier",
                "db-instance-id": "DBInstanceIdentifier",
                "snapshot-type": "SnapshotType",
                "engine": "Engine",
                "dbi-resource-id": "DbiResourceId",
            }.get(flt["Name"])
            if key is None:
                raise errors.InvalidParameterValue(f"Unrecognized filter name: {flt['Name']}")
            snaps = [s for s in snaps if s[key] in (flt.get("Values") or [])]
        try:
            page, marker = paginate(
                snaps,
                self._max_records(params),
                params.get("Marker"),
                lambda s: s["DBSnapshotIdentifier"],
            )
        except InvalidToken:
            raise errors.InvalidParameterValue("The parameter Marker is not valid.") from None
        out: Json = {"DBSnapshots": [self._snapshot_out(s) for s in page]}
        if marker:
            out["Marker"] = marker
        return out

    def delete_db_snapshot(self, ctx: RequestContext, params: Json) -> Json:
        snap = self._get_snapshot(ctx, params["DBSnapshotIdentifier"])
        if snap["Status"] != "available":
            raise errors.InvalidDBSnapshotStateFault(
                f"Cannot delete the snapshot because it is in status {snap['Status']}."
            )
        self.store.execute(
            "DELETE FROM rds_snapshots WHERE account = ? AND region = ? AND id = ?",
            (ctx.account_id, ctx.region, snap["DBSnapshotIdentifier"]),
        )
        tags = self.env.tags.get(snap["DBSnapshotArn"])
        self.env.tags.remove(snap["DBSnapshotArn"], list(tags))
        shutil.rmtree(self.root / "snapshots" / snap["_Dir"], ignore_errors=True)
        snap["Status"] = "deleted"
        return {"DBSnapshot": _private(snap)}

    def restore_db_instance_from_db_snapshot(self, ctx: RequestContext, params: Json) -> Json:
        source = params.get("DBSnapshotIdentifier")
        if not source:
            raise errors.InvalidParameterValue(
                "The parameter DBSnapshotIdentifier must be provided and must not be blank."
            )
        snap = self._get_snapshot(ctx, source)
        if snap["Status"] != "available":
            raise errors.InvalidDBSnapshotStateFault("Snapshot must be in available state.")
        ident = params["DBInstanceIdentifier"]
        self._check_identifier("DBInstanceIdentifier", ident)
        ident = ident.lower()
        if self._row(ctx.account_id, ctx.region, ident) is not None:
            raise errors.DBInstanceAlreadyExistsFault("DB instance already exists")
        row = self._row(ctx.account_id, ctx.region, snap["DBInstanceIdentifier"])
        origin = json.loads(row["doc"]) if row is not None else {}
        request: Json = {
            "DBInstanceIdentifier": ident,
            "Engine": snap["Engine"],
            "MasterUsername": snap["MasterUsername"],
            # The cluster copy keeps its roles and their passwords; this one only passes checks.
            "MasterUserPassword": "".join(secrets.choice(MANAGED_ALPHABET) for _ in range(28)),
            "AllocatedStorage": snap["AllocatedStorage"],
            "DBInstanceClass": params.get("DBInstanceClass")
            or origin.get("DBInstanceClass", "db.t3.micro"),
            "Port": params.get("Port", snap["Port"]),
            "BackupRetentionPeriod": origin.get("BackupRetentionPeriod", 1),
        }
        for key in (
            "AvailabilityZone",
            "MultiAZ",
            "PubliclyAccessible",
            "DeletionProtection",
            "Tags",
            "VpcSecurityGroupIds",
            "DBSubnetGroupName",
            "CopyTagsToSnapshot",
        ):
            if key in params:
                request[key] = params[key]
        if snap.get("_DBName"):
            request["DBName"] = snap["_DBName"]
        loop, self._loop = self._loop, None  # the restore, not a create, runs in the background
        try:
            doc = self.create_db_instance(ctx, request)["DBInstance"]
        finally:
            self._loop = loop
        stored = json.loads(self._row(ctx.account_id, ctx.region, ident)["doc"])  # type: ignore[index]
        stored["_RestoreFrom"] = snap["_Dir"]
        self._save(ctx.account_id, ctx.region, stored)
        self._later(ctx.account_id, ctx.region, ident, self._restore)
        return {"DBInstance": doc}

    # -- the server's log ------------------------------------------------------------------------

    def _log(self, ctx: RequestContext, ident: str, name: str | None = None) -> Path:
        doc = self._get(ctx, ident)
        if doc["DBInstanceStatus"] in ("creating", "deleting"):
            raise errors.DBInstanceNotReadyFault(
                f"DB instance {doc['DBInstanceIdentifier']} is not ready for this operation."
            )
        if name is not None and name != LOG_NAME:
            raise errors.DBLogFileNotFoundFault(
                f"DBLog File: {name}, is not found on the DB instance"
            )
        return self._data(doc).parent / runtime.LOG

    def describe_db_log_files(self, ctx: RequestContext, params: Json) -> Json:
        path = self._log(ctx, params["DBInstanceIdentifier"])
        try:
            info = path.stat()
        except OSError:
            return {"DescribeDBLogFiles": []}
        contains = params.get("FilenameContains")
        if (
            (contains and contains not in LOG_NAME)
            or info.st_mtime * 1000 < params.get("FileLastWritten", 0)
            or info.st_size < params.get("FileSize", 0)
        ):
            return {"DescribeDBLogFiles": []}
        return {
            "DescribeDBLogFiles": [
                {
                    "LogFileName": LOG_NAME,
                    "LastWritten": int(info.st_mtime * 1000),
                    "Size": info.st_size,
                }
            ]
        }

    def download_db_log_file_portion(self, ctx: RequestContext, params: Json) -> Json:
        """AWS's reading rules: without a marker, the last lines (10,000 unless
        NumberOfLines says); from a marker (``0``: the start), the lines after it."""
        path = self._log(ctx, params["DBInstanceIdentifier"], params["LogFileName"])
        lines = params.get("NumberOfLines") or LOG_LINES
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        marker = params.get("Marker")
        if marker is None:
            start = len(data)
            for _ in range(lines):
                start = data.rfind(b"\n", 0, max(0, start - 1)) + 1
                if start == 0:
                    break
            end = len(data)
        else:
            try:
                start = min(max(0, int(marker)), len(data))
            except ValueError:
                raise errors.InvalidParameterValue(f"Invalid marker: {marker}") from None
            end = start
            for _ in range(lines):
                found = data.find(b"\n", end)
                end = len(data) if found < 0 else found + 1
                if end >= len(data) or end - start >= LOG_PORTION:
                    break
        return {
            "LogFileData": data[start:end].decode(errors="replace"),
            "Marker": str(end),
            "AdditionalDataPending": end < len(data),
        }

    # -- engines and tags ------------------------------------------------------------------------

    def describe_db_engine_versions(self, ctx: RequestContext, params: Json) -> Json:
        engine = params.get("Engine")
        installed = runtime.version()
        versions: list[Json] = []
        if installed and engine in (None, "postgres"):
            wanted = params.get("EngineVersion")
            if wanted in (None, installed, installed.split(".")[0]):
                versions.append(
                    {
                        "Engine": "postgres",
                        "EngineVersion": installed,
                        "DBParameterGroupFamily": f"postgres{installed.split('.')[0]}",
                        "DBEngineDescription": "PostgreSQL",
                        "DBEngineVersionDescription": f"PostgreSQL {installed}",
                        "ValidUpgradeTarget": [],
                        "SupportsLogExportsToCloudwatchLogs": True,
                        "SupportsReadReplica": False,
                        "Status": "available",
                    }
                )
        return {"DBEngineVersions": versions}

    def describe_orderable_db_instance_options(self, ctx: RequestContext, params: Json) -> Json:
        installed = runtime.version()
        options: list[Json] = []
        wanted_version = params.get("EngineVersion")
        if (
            params["Engine"] == "postgres"
            and installed
            and wanted_version in (None, installed, installed.split(".")[0])
        ):
            zones = [{"Name": f"{ctx.region}{z}"} for z in "abc"]
            for instance_class in INSTANCE_CLASSES:
                for storage, low in (("gp2", 20), ("gp3", 20), ("io1", 100)):
                    options.append(
                        {
                            "Engine": "postgres",
                            "EngineVersion": installed,
                            "DBInstanceClass": instance_class,
                            "LicenseModel": "postgresql-license",
                            "AvailabilityZones": zones,
                            "MultiAZCapable": True,
                            "ReadReplicaCapable": False,
                            "Vpc": True,
                            "SupportsStorageEncryption": True,
                            "StorageType": storage,
                            "SupportsIops": storage != "gp2",
                            "SupportsIAMDatabaseAuthentication": False,
                            "SupportsPerformanceInsights": False,
                            "MinStorageSize": low,
                            "MaxStorageSize": 65_536,
                            "SupportedEngineModes": ["provisioned"],
                            "SupportsStorageAutoscaling": True,
                            "SupportedNetworkTypes": ["IPV4"],
                        }
                    )
        if params.get("DBInstanceClass"):
            options = [o for o in options if o["DBInstanceClass"] == params["DBInstanceClass"]]
        limit = params.get("MaxRecords", 100)
        if not 20 <= limit <= 1000:
            raise errors.InvalidParameterValue(
                f"Invalid value {limit} for MaxRecords. Must be between 20 and 1000"
            )
        try:
            page, marker = paginate(
                options,
                limit,
                params.get("Marker"),
                lambda o: [INSTANCE_CLASSES.index(o["DBInstanceClass"]), o["StorageType"]],
            )
        except InvalidToken:
            raise errors.InvalidParameterValue("The parameter Marker is not valid.") from None
        out: Json = {"OrderableDBInstanceOptions": page}
        if marker:
            out["Marker"] = marker
        return out

    def _tagged(self, ctx: RequestContext, name: str) -> str:
        kind = name.split(":")[5] if name.count(":") >= 6 else ""
        ident = name.rsplit(":", 1)[-1]
        if kind == "db":
            return str(self._get(ctx, ident)["DBInstanceArn"])
        if kind == "snapshot":
            return str(self._get_snapshot(ctx, ident)["DBSnapshotArn"])
        if kind == "subgrp":
            return str(self._get_subnet_group(ctx, ident)["DBSubnetGroupArn"])
        if kind == "pg":
            return str(self._get_parameter_group(ctx, ident)["DBParameterGroupArn"])
        raise errors.InvalidParameterValue(f"Invalid resource name: {name}")

    def list_tags_for_resource(self, ctx: RequestContext, params: Json) -> Json:
        return {"TagList": to_list(self.env.tags.get(self._tagged(ctx, params["ResourceName"])))}

    def add_tags_to_resource(self, ctx: RequestContext, params: Json) -> Json:
        self.env.tags.set(self._tagged(ctx, params["ResourceName"]), from_list(params["Tags"]))
        return {}

    def remove_tags_from_resource(self, ctx: RequestContext, params: Json) -> Json:
        self.env.tags.remove(self._tagged(ctx, params["ResourceName"]), params["TagKeys"])
        return {}

    # -- DB subnet groups ------------------------------------------------------------------------

    def _get_subnet_group(self, ctx: RequestContext, name: str) -> Json:
        doc = self._group_doc(ctx, "rds_subnet_groups", name)
        if doc is None:
            raise errors.DBSubnetGroupNotFoundFault(f"DBSubnetGroup {name} not found.")
        return doc

    def _save_subnet_group(self, ctx: RequestContext, doc: Json) -> None:
        self._save_group_doc(ctx, "rds_subnet_groups", doc["DBSubnetGroupName"], doc)

    # Subnet and parameter groups are stored alike: a JSON document per lower-cased name.
    def _group_doc(self, ctx: RequestContext, table: str, name: str) -> Json | None:
        row = self.store.query_one(
            f"SELECT doc FROM {table} WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, name.lower()),
        )
        return None if row is None else dict(json.loads(row["doc"]))

    def _save_group_doc(self, ctx: RequestContext, table: str, name: str, doc: Json) -> None:
        self.store.execute(
            f"INSERT INTO {table} (account, region, name, doc) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account, region, name) DO UPDATE SET doc = excluded.doc",
            (ctx.account_id, ctx.region, name, json.dumps(doc)),
        )

    def _subnets(self, ctx: RequestContext, ids: list[str]) -> tuple[str, list[Json]]:
        """The VPC and the subnet entries of ``ids``, which must be real subnets of one VPC in
        at least two Availability Zones, as AWS requires."""
        found: list[Json] = []
        for subnet_id in ids:
            try:
                answer = self.env.providers.invoke(
                    "ec2", "DescribeSubnets", {"SubnetIds": [subnet_id]}, ctx.account_id, ctx.region
                )
            except ServiceError:
                answer = {}
            if not answer.get("Subnets"):
                raise errors.InvalidSubnet(f"Some input subnets in :[{subnet_id}] are invalid.")
            found.append(answer["Subnets"][0])
        vpcs = {s["VpcId"] for s in found}
        if len(vpcs) > 1:
            raise errors.InvalidSubnet("Subnets must all be in the same VPC.")
        zones = sorted({s["AvailabilityZone"] for s in found})
        if len(zones) < 2:
            raise errors.DBSubnetGroupDoesNotCoverEnoughAZs(
                "The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. "
                f"Current AZ coverage: {', '.join(zones)}. Add subnets to cover at least 2 AZs."
            )
        entries = [
            {
                "SubnetIdentifier": s["SubnetId"],
                "SubnetAvailabilityZone": {"Name": s["AvailabilityZone"]},
                "SubnetOutpost": {},
                "SubnetStatus": "Active",
            }
            for s in found
        ]
        return vpcs.pop(), entries

    @staticmethod
    def _check_subnet_group_name(name: str) -> None:
        if (
            not 1 <= len(name) <= 255
            or not re.match(r"^[A-Za-z0-9._ -]+$", name)
            or name.lower() == "default"
        ):
            raise errors.InvalidParameterValue(
                "The parameter DBSubnetGroupName is not a valid identifier. Identifiers must "
                "contain only ASCII letters, digits, periods, underscores, spaces and hyphens, "
                "and must not be default."
            )

    def create_db_subnet_group(self, ctx: RequestContext, params: Json) -> Json:
        name = params["DBSubnetGroupName"]
        self._check_subnet_group_name(name)
        name = name.lower()
        if self.store.query_one(
            "SELECT 1 FROM rds_subnet_groups WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, name),
        ):
            raise errors.DBSubnetGroupAlreadyExistsFault(
                f"The DB subnet group '{name}' already exists."
            )
        vpc, subnets = self._subnets(ctx, params["SubnetIds"])
        doc: Json = {
            "DBSubnetGroupName": name,
            "DBSubnetGroupDescription": params["DBSubnetGroupDescription"],
            "VpcId": vpc,
            "SubnetGroupStatus": "Complete",
            "Subnets": subnets,
            "DBSubnetGroupArn": arn("rds", ctx.region, ctx.account_id, f"subgrp:{name}"),
            "SupportedNetworkTypes": ["IPV4"],
        }
        self._save_subnet_group(ctx, doc)
        self.env.tags.set(doc["DBSubnetGroupArn"], from_list(params.get("Tags") or []))
        return {"DBSubnetGroup": doc}

    def describe_db_subnet_groups(self, ctx: RequestContext, params: Json) -> Json:
        if params.get("DBSubnetGroupName"):
            docs = [self._get_subnet_group(ctx, params["DBSubnetGroupName"])]
        else:
            rows = self.store.query(
                "SELECT doc FROM rds_subnet_groups WHERE account = ? AND region = ? ORDER BY name",
                (ctx.account_id, ctx.region),
            )
            docs = [json.loads(r["doc"]) for r in rows]
        try:
            page, marker = paginate(
                docs,
                self._max_records(params),
                params.get("Marker"),
                lambda d: d["DBSubnetGroupName"],
            )
        except InvalidToken:
            raise errors.InvalidParameterValue("The parameter Marker is not valid.") from None
        out: Json = {"DBSubnetGroups": page}
        if marker:
            out["Marker"] = marker
        return out

    def modify_db_subnet_group(self, ctx: RequestContext, params: Json) -> Json:
        doc = self._get_subnet_group(ctx, params["DBSubnetGroupName"])
        vpc, subnets = self._subnets(ctx, params["SubnetIds"])
        if vpc != doc["VpcId"] and self._users_of("DBSubnetGroup", ctx, doc["DBSubnetGroupName"]):
            raise errors.InvalidSubnet(
                "The new subnets are not in the same VPC as the DB instances."
            )
        doc.update(VpcId=vpc, Subnets=subnets)
        if "DBSubnetGroupDescription" in params:
            doc["DBSubnetGroupDescription"] = params["DBSubnetGroupDescription"]
        self._save_subnet_group(ctx, doc)
        return {"DBSubnetGroup": doc}

    def delete_db_subnet_group(self, ctx: RequestContext, params: Json) -> Json:
        doc = self._get_subnet_group(ctx, params["DBSubnetGroupName"])
        users = self._users_of("DBSubnetGroup", ctx, doc["DBSubnetGroupName"])
        if users:
            raise errors.InvalidDBSubnetGroupStateFault(
                f"Cannot delete the subnet group '{doc['DBSubnetGroupName']}' because at least "
                f"one database instance: {users[0]['DBInstanceIdentifier']} is still using it."
            )
        self.store.execute(
            "DELETE FROM rds_subnet_groups WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, doc["DBSubnetGroupName"]),
        )
        self.env.tags.remove(
            doc["DBSubnetGroupArn"], list(self.env.tags.get(doc["DBSubnetGroupArn"]))
        )
        return {}

    def _users_of(self, kind: str, ctx: RequestContext, name: str) -> list[Json]:
        """The instances whose subnet group or parameter group is ``name``."""
        rows = self.store.query(
            "SELECT doc FROM rds_instances WHERE account = ? AND region = ?",
            (ctx.account_id, ctx.region),
        )
        found = []
        for row in rows:
            doc = json.loads(row["doc"])
            if kind == "DBSubnetGroup":
                names = [doc.get("DBSubnetGroup", {}).get("DBSubnetGroupName")]
            else:
                names = [g["DBParameterGroupName"] for g in doc["DBParameterGroups"]]
            if name in names:
                found.append(doc)
        return found

    # -- DB parameter groups ---------------------------------------------------------------------

    def _get_parameter_group(self, ctx: RequestContext, name: str) -> Json:
        family = parameters.family()
        if name.lower() == f"default.{family}":
            return {
                "DBParameterGroupName": f"default.{family}",
                "DBParameterGroupFamily": family,
                "Description": f"Default parameter group for {family}",
                "DBParameterGroupArn": arn(
                    "rds", ctx.region, ctx.account_id, f"pg:default.{family}"
                ),
                "_Values": {},
            }
        doc = self._group_doc(ctx, "rds_parameter_groups", name)
        if doc is None:
            raise errors.DBParameterGroupNotFoundFault(f"DBParameterGroup not found: {name}")
        return doc

    def _save_parameter_group(self, ctx: RequestContext, doc: Json) -> None:
        self._save_group_doc(ctx, "rds_parameter_groups", doc["DBParameterGroupName"], doc)

    def create_db_parameter_group(self, ctx: RequestContext, params: Json) -> Json:
        name = params["DBParameterGroupName"]
        if not IDENTIFIER.match(name) or len(name) > 255:
            raise errors.InvalidParameterValue(INVALID_ID.format(name="DBParameterGroupName"))
        name = name.lower()
        family = params["DBParameterGroupFamily"]
        if family != parameters.family():
            raise errors.InvalidParameterValue(
                f"The parameter DBParameterGroupFamily is not valid: {family} (nubes runs "
                f"{parameters.family()})"
            )
        if name.startswith("default.") or self.store.query_one(
            "SELECT 1 FROM rds_parameter_groups WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, name),
        ):
            raise errors.DBParameterGroupAlreadyExistsFault(
                f"Parameter group {name} already exists"
            )
        doc: Json = {
            "DBParameterGroupName": name,
            "DBParameterGroupFamily": family,
            "Description": params["Description"],
            "DBParameterGroupArn": arn("rds", ctx.region, ctx.account_id, f"pg:{name}"),
            "_Values": {},
            "_Methods": {},
        }
        self._save_parameter_group(ctx, doc)
        self.env.tags.set(doc["DBParameterGroupArn"], from_list(params.get("Tags") or []))
        return {"DBParameterGroup": _private(doc)}

    def describe_db_parameter_groups(self, ctx: RequestContext, params: Json) -> Json:
        if params.get("DBParameterGroupName"):
            docs = [self._get_parameter_group(ctx, params["DBParameterGroupName"])]
        else:
            rows = self.store.query(
                "SELECT doc FROM rds_parameter_groups WHERE account = ? AND region = ? "
                "ORDER BY name",
                (ctx.account_id, ctx.region),
            )
            docs = [self._get_parameter_group(ctx, f"default.{parameters.family()}")]
            docs += [json.loads(r["doc"]) for r in rows]
        try:
            page, marker = paginate(
                docs,
                self._max_records(params),
                params.get("Marker"),
                lambda d: d["DBParameterGroupName"],
            )
        except InvalidToken:
            raise errors.InvalidParameterValue("The parameter Marker is not valid.") from None
        out: Json = {"DBParameterGroups": [_private(d) for d in page]}
        if marker:
            out["Marker"] = marker
        return out

    def describe_db_parameters(self, ctx: RequestContext, params: Json) -> Json:
        doc = self._get_parameter_group(ctx, params["DBParameterGroupName"])
        values, methods = doc.get("_Values", {}), doc.get("_Methods", {})
        source = params.get("Source")
        found = []
        for name, param in sorted(parameters.catalogue().items()):
            own = source if source in ("user", "engine-default", "system") else None
            kind = "user" if name in values else "engine-default"
            if own is not None and own != kind:
                continue
            found.append(
                param.describe(values.get(name, param.default or None), kind, methods.get(name))
            )
        try:
            page, marker = paginate(
                found, self._max_records(params), params.get("Marker"), lambda p: p["ParameterName"]
            )
        except InvalidToken:
            raise errors.InvalidParameterValue("The parameter Marker is not valid.") from None
        out: Json = {"Parameters": page}
        if marker:
            out["Marker"] = marker
        return out

    def _own_group(self, ctx: RequestContext, name: str) -> Json:
        doc = self._get_parameter_group(ctx, name)
        if doc["DBParameterGroupName"].startswith("default."):
            raise errors.InvalidParameterValue("Default parameter groups cannot be modified.")
        return doc

    def modify_db_parameter_group(self, ctx: RequestContext, params: Json) -> Json:
        doc = self._own_group(ctx, params["DBParameterGroupName"])
        changes = params["Parameters"]
        if not 1 <= len(changes) <= 20:
            raise errors.InvalidParameterValue(
                "A parameter group can be modified with 1 to 20 parameters at a time."
            )
        catalogue = parameters.catalogue()
        static_changed = False
        for change in changes:
            name = change.get("ParameterName", "")
            param = catalogue.get(name)
            if param is None:
                raise errors.InvalidParameterValue(f"Could not find parameter with name: {name}")
            if name in parameters.FIXED:
                raise errors.InvalidParameterValue(f"The parameter {name} cannot be modified.")
            value = change.get("ParameterValue")
            if value is None:
                raise errors.InvalidParameterValue(
                    f"The parameter ParameterValue must be provided for {name}."
                )
            problem = param.check(value)
            if problem:
                raise errors.InvalidParameterValue(
                    f"Invalid parameter value: {value} for: {name} {problem}"
                )
            method = change.get("ApplyMethod", "pending-reboot")
            if param.static and method == "immediate":
                raise errors.InvalidParameterCombination(
                    f"cannot use immediate apply method for static parameter {name}"
                )
            doc["_Values"][name] = value
            doc["_Methods"][name] = method
            static_changed = static_changed or param.static or method == "pending-reboot"
        self._save_parameter_group(ctx, doc)
        self._apply_group(ctx, doc, static_changed)
        return {"DBParameterGroupName": doc["DBParameterGroupName"]}

    def reset_db_parameter_group(self, ctx: RequestContext, params: Json) -> Json:
        doc = self._own_group(ctx, params["DBParameterGroupName"])
        if params.get("ResetAllParameters"):
            doc["_Values"], doc["_Methods"] = {}, {}
        else:
            names = [p.get("ParameterName", "") for p in params.get("Parameters") or []]
            if not names:
                raise errors.InvalidParameterCombination(
                    "Either ResetAllParameters or Parameters must be specified."
                )
            for name in names:
                doc["_Values"].pop(name, None)
                doc["_Methods"].pop(name, None)
        self._save_parameter_group(ctx, doc)
        self._apply_group(ctx, doc, True)
        return {"DBParameterGroupName": doc["DBParameterGroupName"]}

    def _apply_group(self, ctx: RequestContext, group: Json, needs_reboot: bool) -> None:
        """Instances of the group take its values: dynamic ones at once (a reload of the
        server), static ones at the next reboot."""
        for doc in self._users_of("DBParameterGroup", ctx, group["DBParameterGroupName"]):
            doc["_Parameters"] = dict(group["_Values"])
            if needs_reboot:
                for entry in doc["DBParameterGroups"]:
                    entry["ParameterApplyStatus"] = "pending-reboot"
            self._save(ctx.account_id, ctx.region, doc)
            self._later(
                ctx.account_id, ctx.region, doc["DBInstanceIdentifier"], self._apply_parameters
            )

    def delete_db_parameter_group(self, ctx: RequestContext, params: Json) -> Json:
        doc = self._own_group(ctx, params["DBParameterGroupName"])
        if self._users_of("DBParameterGroup", ctx, doc["DBParameterGroupName"]):
            raise errors.InvalidDBParameterGroupStateFault(
                "One or more database instances are still members of this parameter group "
                f"{doc['DBParameterGroupName']}, so the group cannot be deleted"
            )
        self.store.execute(
            "DELETE FROM rds_parameter_groups WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, doc["DBParameterGroupName"]),
        )
        arn_ = doc["DBParameterGroupArn"]
        self.env.tags.remove(arn_, list(self.env.tags.get(arn_)))
        return {}
