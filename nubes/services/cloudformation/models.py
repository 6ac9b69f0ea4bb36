"""CloudFormation's records: stacks, their resources and events, change sets, exports, signals."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from nubes.core import clock
from nubes.core.resources import Provisioned
from nubes.store import Row, Store

MIGRATIONS = (
    """
    CREATE TABLE cfn_stacks (
        stack_id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        created REAL NOT NULL,
        updated REAL,
        deleted REAL,
        doc TEXT NOT NULL
    );
    CREATE INDEX cfn_stacks_by_name ON cfn_stacks (account, region, name);
    CREATE TABLE cfn_resources (
        stack_id TEXT NOT NULL,
        logical_id TEXT NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        updated REAL NOT NULL,
        provisioned TEXT,
        props TEXT,
        PRIMARY KEY (stack_id, logical_id)
    );
    CREATE TABLE cfn_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        stack_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        logical_id TEXT NOT NULL,
        physical_id TEXT,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        props TEXT,
        at REAL NOT NULL
    );
    CREATE INDEX cfn_events_by_stack ON cfn_events (stack_id, seq);
    CREATE TABLE cfn_change_sets (
        change_set_id TEXT PRIMARY KEY,
        stack_id TEXT NOT NULL,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        status TEXT NOT NULL,
        execution_status TEXT NOT NULL,
        reason TEXT,
        doc TEXT NOT NULL
    );
    CREATE TABLE cfn_exports (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        stack_id TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
    );
    CREATE TABLE cfn_imports (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        stack_id TEXT NOT NULL,
        PRIMARY KEY (account, region, name, stack_id)
    );
    CREATE TABLE cfn_signals (
        stack_id TEXT NOT NULL,
        logical_id TEXT NOT NULL,
        unique_id TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        data TEXT,
        at REAL NOT NULL,
        PRIMARY KEY (stack_id, logical_id, unique_id)
    );
    CREATE TABLE cfn_custom_responses (
        token TEXT PRIMARY KEY,
        stack_id TEXT NOT NULL,
        logical_id TEXT NOT NULL,
        response TEXT
    );
    """,
)

IN_PROGRESS_SUFFIX = "_IN_PROGRESS"


@dataclass
class Stack:
    stack_id: str
    account: str
    region: str
    name: str
    status: str
    reason: str | None
    created: float
    updated: float | None
    deleted: float | None
    doc: dict[str, Any] = field(default_factory=dict)
    """Template body, processed template, parameters, tags, capabilities, outputs, settings."""

    @classmethod
    def from_row(cls, row: Row) -> Stack:
        return cls(
            row["stack_id"],
            row["account"],
            row["region"],
            row["name"],
            row["status"],
            row["reason"],
            row["created"],
            row["updated"],
            row["deleted"],
            json.loads(row["doc"]),
        )

    @property
    def template(self) -> dict[str, Any]:
        template: dict[str, Any] = self.doc.get("template") or {}
        return template


@dataclass
class ResourceRow:
    logical_id: str
    type: str
    status: str
    reason: str | None
    updated: float
    provisioned: Provisioned | None
    props: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: Row) -> ResourceRow:
        return cls(
            row["logical_id"],
            row["type"],
            row["status"],
            row["reason"],
            row["updated"],
            Provisioned.from_json(row["provisioned"]) if row["provisioned"] else None,
            json.loads(row["props"]) if row["props"] is not None else None,
        )


class Stacks:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- stacks -----------------------------------------------------------------------------------

    def insert(self, stack: Stack) -> None:
        self.store.execute(
            "INSERT INTO cfn_stacks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                stack.stack_id,
                stack.account,
                stack.region,
                stack.name,
                stack.status,
                stack.reason,
                stack.created,
                stack.updated,
                stack.deleted,
                json.dumps(stack.doc),
            ),
        )

    def save(self, stack: Stack) -> None:
        self.store.execute(
            "UPDATE cfn_stacks SET status = ?, reason = ?, updated = ?, deleted = ?, doc = ? "
            "WHERE stack_id = ?",
            (
                stack.status,
                stack.reason,
                stack.updated,
                stack.deleted,
                json.dumps(stack.doc),
                stack.stack_id,
            ),
        )

    def get(self, stack_id: str) -> Stack | None:
        row = self.store.query_one("SELECT * FROM cfn_stacks WHERE stack_id = ?", (stack_id,))
        return None if row is None else Stack.from_row(row)

    def live_by_name(self, account: str, region: str, name: str) -> Stack | None:
        row = self.store.query_one(
            "SELECT * FROM cfn_stacks WHERE account = ? AND region = ? AND name = ? "
            "AND status != 'DELETE_COMPLETE' ORDER BY created DESC LIMIT 1",
            (account, region, name),
        )
        return None if row is None else Stack.from_row(row)

    def listed(self, account: str, region: str, live_only: bool = True) -> list[Stack]:
        live = "AND status != 'DELETE_COMPLETE'" if live_only else ""
        rows = self.store.query(
            f"SELECT * FROM cfn_stacks WHERE account = ? AND region = ? {live} "
            "ORDER BY created DESC",
            (account, region),
        )
        return [Stack.from_row(r) for r in rows]

    def in_progress(self) -> list[Stack]:
        rows = self.store.query("SELECT * FROM cfn_stacks WHERE status LIKE '%_IN_PROGRESS'")
        return [Stack.from_row(r) for r in rows]

    # -- resources --------------------------------------------------------------------------------

    def resources(self, stack_id: str) -> dict[str, ResourceRow]:
        rows = self.store.query(
            "SELECT * FROM cfn_resources WHERE stack_id = ? ORDER BY rowid", (stack_id,)
        )
        return {r["logical_id"]: ResourceRow.from_row(r) for r in rows}

    def put_resource(self, stack_id: str, row: ResourceRow) -> None:
        self.store.execute(
            "INSERT INTO cfn_resources VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(stack_id, logical_id) DO UPDATE SET type = excluded.type, "
            "status = excluded.status, reason = excluded.reason, updated = excluded.updated, "
            "provisioned = excluded.provisioned, props = excluded.props",
            (
                stack_id,
                row.logical_id,
                row.type,
                row.status,
                row.reason,
                row.updated,
                row.provisioned.to_json() if row.provisioned else None,
                None if row.props is None else json.dumps(row.props),
            ),
        )

    def drop_resource(self, stack_id: str, logical_id: str) -> None:
        self.store.execute(
            "DELETE FROM cfn_resources WHERE stack_id = ? AND logical_id = ?",
            (stack_id, logical_id),
        )

    def find_physical(self, account: str, region: str, physical_id: str) -> tuple[str, str] | None:
        """(stack id, logical id) of the live stack resource with this physical id."""
        for row in self.store.query(
            "SELECT r.stack_id, r.logical_id, r.provisioned FROM cfn_resources r "
            "JOIN cfn_stacks s ON s.stack_id = r.stack_id WHERE s.account = ? AND s.region = ? "
            "AND s.status != 'DELETE_COMPLETE' AND r.provisioned IS NOT NULL",
            (account, region),
        ):
            if Provisioned.from_json(row["provisioned"]).physical_id == physical_id:
                return row["stack_id"], row["logical_id"]
        return None

    # -- events -----------------------------------------------------------------------------------

    def event(
        self,
        stack: Stack,
        logical_id: str,
        type_name: str,
        status: str,
        reason: str | None = None,
        physical_id: str | None = None,
        props: Any = None,
    ) -> None:
        self.store.execute(
            "INSERT INTO cfn_events (stack_id, event_id, logical_id, physical_id, type, status, "
            "reason, props, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                stack.stack_id,
                str(uuid.uuid4()),
                logical_id,
                physical_id,
                type_name,
                status,
                reason,
                None if props is None else json.dumps(props),
                clock.now(),
            ),
        )

    def events(self, stack_id: str) -> list[Row]:
        return self.store.query(
            "SELECT * FROM cfn_events WHERE stack_id = ? ORDER BY seq DESC", (stack_id,)
        )

    # -- change sets ------------------------------------------------------------------------------

    def put_change_set(self, cs: dict[str, Any]) -> None:
        self.store.execute(
            "INSERT INTO cfn_change_sets VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(change_set_id) DO UPDATE SET status = excluded.status, "
            "execution_status = excluded.execution_status, reason = excluded.reason, "
            "doc = excluded.doc",
            (
                cs["ChangeSetId"],
                cs["StackId"],
                cs["ChangeSetName"],
                cs["created"],
                cs["Status"],
                cs["ExecutionStatus"],
                cs.get("StatusReason"),
                json.dumps(cs),
            ),
        )

    def change_sets(self, stack_id: str) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT doc FROM cfn_change_sets WHERE stack_id = ? ORDER BY created", (stack_id,)
        )
        return [json.loads(r["doc"]) for r in rows]

    def change_set(self, change_set_id: str) -> dict[str, Any] | None:
        row = self.store.query_one(
            "SELECT doc FROM cfn_change_sets WHERE change_set_id = ?", (change_set_id,)
        )
        return None if row is None else dict(json.loads(row["doc"]))

    def drop_change_set(self, change_set_id: str) -> None:
        self.store.execute("DELETE FROM cfn_change_sets WHERE change_set_id = ?", (change_set_id,))

    def drop_change_sets(self, stack_id: str) -> None:
        self.store.execute("DELETE FROM cfn_change_sets WHERE stack_id = ?", (stack_id,))

    # -- exports and imports ----------------------------------------------------------------------

    def export(self, account: str, region: str, name: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM cfn_exports WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        )

    def exports(self, account: str, region: str) -> list[Row]:
        return self.store.query(
            "SELECT * FROM cfn_exports WHERE account = ? AND region = ? ORDER BY name",
            (account, region),
        )

    def set_exports(self, stack: Stack, exports: dict[str, str]) -> None:
        self.store.execute("DELETE FROM cfn_exports WHERE stack_id = ?", (stack.stack_id,))
        self.store.executemany(
            "INSERT INTO cfn_exports VALUES (?, ?, ?, ?, ?)",
            [(stack.account, stack.region, k, v, stack.stack_id) for k, v in exports.items()],
        )

    def set_imports(self, stack: Stack, names: set[str]) -> None:
        self.store.execute("DELETE FROM cfn_imports WHERE stack_id = ?", (stack.stack_id,))
        self.store.executemany(
            "INSERT INTO cfn_imports VALUES (?, ?, ?, ?)",
            [(stack.account, stack.region, n, stack.stack_id) for n in sorted(names)],
        )

    def importers(self, account: str, region: str, name: str) -> list[str]:
        rows = self.store.query(
            "SELECT i.stack_id FROM cfn_imports i JOIN cfn_stacks s ON s.stack_id = i.stack_id "
            "WHERE i.account = ? AND i.region = ? AND i.name = ? ORDER BY s.name",
            (account, region, name),
        )
        return [r["stack_id"] for r in rows]

    # -- signals ----------------------------------------------------------------------------------

    def signal(
        self, stack_id: str, logical_id: str, unique_id: str, status: str, reason: str, data: str
    ) -> None:
        self.store.execute(
            "INSERT INTO cfn_signals VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(stack_id, logical_id, unique_id) DO UPDATE SET status = excluded.status, "
            "reason = excluded.reason, data = excluded.data, at = excluded.at",
            (stack_id, logical_id, unique_id, status, reason, data, clock.now()),
        )

    def signals(self, stack_id: str, logical_id: str) -> list[Row]:
        return self.store.query(
            "SELECT * FROM cfn_signals WHERE stack_id = ? AND logical_id = ? ORDER BY at",
            (stack_id, logical_id),
        )

    def clear_signals(self, stack_id: str, logical_id: str) -> None:
        self.store.execute(
            "DELETE FROM cfn_signals WHERE stack_id = ? AND logical_id = ?",
            (stack_id, logical_id),
        )
