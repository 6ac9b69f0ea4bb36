"""EventBridge state: event buses, rules, targets, archives (with their events) and replays.

Everything is scoped by (account, region). The default bus has a row once anything needs one
(a policy, a rule): it always exists as far as clients can tell.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nubes.core.arns import arn
from nubes.store import Row, Store

MIGRATIONS = (
    """
    CREATE TABLE events_buses (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        modified REAL NOT NULL,
        policy TEXT,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE TABLE events_rules (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        bus TEXT NOT NULL,
        name TEXT NOT NULL,
        pattern TEXT,
        schedule TEXT,
        state TEXT NOT NULL,
        anchor REAL NOT NULL,
        next_fire REAL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, bus, name)
    ) WITHOUT ROWID;
    CREATE INDEX events_rules_due ON events_rules (next_fire);
    CREATE TABLE events_targets (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        bus TEXT NOT NULL,
        rule TEXT NOT NULL,
        id TEXT NOT NULL,
        arn TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, bus, rule, id)
    ) WITHOUT ROWID;
    CREATE INDEX events_targets_by_arn ON events_targets (account, region, arn);
    CREATE TABLE events_archives (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        source_arn TEXT NOT NULL,
        pattern TEXT,
        state TEXT NOT NULL,
        retention INTEGER NOT NULL,
        created REAL NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE TABLE events_archived (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        archive TEXT NOT NULL,
        at REAL NOT NULL,
        received REAL NOT NULL,
        event TEXT NOT NULL
    );
    CREATE INDEX events_archived_by_time ON events_archived (account, region, archive, at);
    CREATE TABLE events_replays (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        started REAL NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE events_connections (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE TABLE events_api_destinations (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    """,
)

ENABLED_STATES = ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")


@dataclass(frozen=True)
class Scope:
    account: str
    region: str

    def bus_arn(self, bus: str) -> str:
        return arn("events", self.region, self.account, f"event-bus/{bus}")

    def rule_arn(self, bus: str, rule: str) -> str:
        path = rule if bus == "default" else f"{bus}/{rule}"
        return arn("events", self.region, self.account, f"rule/{path}")

    def archive_arn(self, name: str) -> str:
        return arn("events", self.region, self.account, f"archive/{name}")

    def replay_arn(self, name: str) -> str:
        return arn("events", self.region, self.account, f"replay/{name}")


@dataclass
class Bus:
    scope: Scope
    name: str
    created: float
    modified: float
    policy: str | None
    doc: dict[str, Any]

    @property
    def arn(self) -> str:
        return self.scope.bus_arn(self.name)


@dataclass
class Rule:
    scope: Scope
    bus: str
    name: str
    pattern: str | None
    schedule: str | None
    state: str
    anchor: float
    next_fire: float | None
    doc: dict[str, Any]

    @property
    def arn(self) -> str:
        return self.scope.rule_arn(self.bus, self.name)

    @property
    def enabled(self) -> bool:
        return self.state in ENABLED_STATES


def _rule(row: Row) -> Rule:
    return Rule(
        Scope(row["account"], row["region"]),
        row["bus"],
        row["name"],
        row["pattern"],
        row["schedule"],
        row["state"],
        row["anchor"],
        row["next_fire"],
        json.loads(row["doc"]),
    )


class Model:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- buses ----------------------------------------------------------------------------

    def bus(self, scope: Scope, name: str) -> Bus | None:
        row = self.store.query_one(
            "SELECT * FROM events_buses WHERE account = ? AND region = ? AND name = ?",
            (scope.account, scope.region, name),
        )
        if row is None:
            return None
        return Bus(
            scope,
            name,
            row["created"],
            row["modified"],
            row["policy"],
            json.loads(row["doc"]),
        )

    def put_bus(self, bus: Bus) -> None:
        self.store.execute(
            "INSERT INTO events_buses (account, region, name, created, modified, policy, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, name) DO UPDATE SET "
            "modified = excluded.modified, policy = excluded.policy, doc = excluded.doc",
            (
                bus.scope.account,
                bus.scope.region,
                bus.name,
                bus.created,
                bus.modified,
                bus.policy,
                json.dumps(bus.doc),
            ),
        )

    def buses(self, scope: Scope) -> list[str]:
        rows = self.store.query(
            "SELECT name FROM events_buses WHERE account = ? AND region = ? ORDER BY name",
            (scope.account, scope.region),
        )
        return [r["name"] for r in rows]

    def delete_bus(self, scope: Scope, name: str) -> None:
        self.store.execute(
            "DELETE FROM events_buses WHERE account = ? AND region = ? AND name = ?",
            (scope.account, scope.region, name),
        )

    # -- rules ----------------------------------------------------------------------------

    def rule(self, scope: Scope, bus: str, name: str) -> Rule | None:
        row = self.store.query_one(
            "SELECT * FROM events_rules WHERE account = ? AND region = ? AND bus = ? AND name = ?",
            (scope.account, scope.region, bus, name),
        )
        return None if row is None else _rule(row)

    def put_rule(self, rule: Rule) -> None:
        self.store.execute(
            "INSERT INTO events_rules (account, region, bus, name, pattern, schedule, state, "
            "anchor, next_fire, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account, region, bus, name) DO UPDATE SET pattern = excluded.pattern, "
            "schedule = excluded.schedule, state = excluded.state, anchor = excluded.anchor, "
            "next_fire = excluded.next_fire, doc = excluded.doc",
            (
                rule.scope.account,
                rule.scope.region,
                rule.bus,
                rule.name,
                rule.pattern,
                rule.schedule,
                rule.state,
                rule.anchor,
                rule.next_fire,
                json.dumps(rule.doc),
            ),
        )

    def rules(self, scope: Scope, bus: str, prefix: str = "") -> list[Rule]:
        rows = self.store.query(
            "SELECT * FROM events_rules WHERE account = ? AND region = ? AND bus = ? "
            "AND substr(name, 1, ?) = ? ORDER BY name",
            (scope.account, scope.region, bus, len(prefix), prefix),
        )
        return [_rule(r) for r in rows]

    def pattern_rules(self, scope: Scope, bus: str) -> list[Rule]:
        rows = self.store.query(
            "SELECT * FROM events_rules WHERE account = ? AND region = ? AND bus = ? "
            "AND pattern IS NOT NULL AND state IN (?, ?)",
            (scope.account, scope.region, bus, *ENABLED_STATES),
        )
        return [_rule(r) for r in rows]

    def due_rules(self, now: float) -> list[Rule]:
        rows = self.store.query(
            "SELECT * FROM events_rules WHERE next_fire IS NOT NULL AND next_fire <= ?", (now,)
        )
        return [_rule(r) for r in rows]

    def set_next_fire(self, rule: Rule, next_fire: float | None) -> None:
        self.store.execute(
            "UPDATE events_rules SET next_fire = ? WHERE account = ? AND region = ? AND bus = ? "
            "AND name = ?",
            (next_fire, rule.scope.account, rule.scope.region, rule.bus, rule.name),
        )

    def delete_rule(self, rule: Rule) -> None:
        self.store.execute(
            "DELETE FROM events_rules WHERE account = ? AND region = ? AND bus = ? AND name = ?",
            (rule.scope.account, rule.scope.region, rule.bus, rule.name),
        )

    # -- targets --------------------------------------------------------------------------

    def targets(self, rule: Rule) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT doc FROM events_targets WHERE account = ? AND region = ? AND bus = ? "
            "AND rule = ? ORDER BY id",
            (rule.scope.account, rule.scope.region, rule.bus, rule.name),
        )
        return [json.loads(r["doc"]) for r in rows]

    def put_target(self, rule: Rule, target: dict[str, Any]) -> None:
        self.store.execute(
            "INSERT INTO events_targets (account, region, bus, rule, id, arn, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, bus, rule, id) "
            "DO UPDATE SET arn = excluded.arn, doc = excluded.doc",
            (
                rule.scope.account,
                rule.scope.region,
                rule.bus,
                rule.name,
                target["Id"],
                target["Arn"],
                json.dumps(target),
            ),
        )

    def remove_target(self, rule: Rule, target_id: str) -> bool:
        return bool(
            self.store.execute(
                "DELETE FROM events_targets WHERE account = ? AND region = ? AND bus = ? "
                "AND rule = ? AND id = ?",
                (rule.scope.account, rule.scope.region, rule.bus, rule.name, target_id),
            )
        )

    def rules_by_target(self, scope: Scope, bus: str, target_arn: str) -> list[str]:
        rows = self.store.query(
            "SELECT DISTINCT rule FROM events_targets WHERE account = ? AND region = ? "
            "AND arn = ? AND bus = ? ORDER BY rule",
            (scope.account, scope.region, target_arn, bus),
        )
        return [r["rule"] for r in rows]

    # -- archives -------------------------------------------------------------------------

    def archive(self, scope: Scope, name: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM events_archives WHERE account = ? AND region = ? AND name = ?",
            (scope.account, scope.region, name),
        )

    def archives(self, scope: Scope) -> list[Row]:
        return self.store.query(
            "SELECT * FROM events_archives WHERE account = ? AND region = ? ORDER BY name",
            (scope.account, scope.region),
        )

    def archives_of(self, source_arn: str) -> list[Row]:
        return self.store.query(
            "SELECT * FROM events_archives WHERE source_arn = ? AND state = 'ENABLED'",
            (source_arn,),
        )

    def archive_stats(self, scope: Scope, name: str) -> tuple[int, int]:
        row = self.store.query_one(
            "SELECT count(*), coalesce(sum(length(event)), 0) FROM events_archived "
            "WHERE account = ? AND region = ? AND archive = ?",
            (scope.account, scope.region, name),
        )
        return (row[0], row[1]) if row else (0, 0)

    def archived(self, scope: Scope, name: str, start: float, end: float) -> list[Row]:
        return self.store.query(
            "SELECT at, event FROM events_archived WHERE account = ? AND region = ? "
            "AND archive = ? AND at >= ? AND at < ? ORDER BY at, id",
            (scope.account, scope.region, name, start, end),
        )

    # -- replays --------------------------------------------------------------------------

    def replay(self, scope: Scope, name: str) -> dict[str, Any] | None:
        doc = self.store.scalar(
            "SELECT doc FROM events_replays WHERE account = ? AND region = ? AND name = ?",
            (scope.account, scope.region, name),
        )
        return None if doc is None else dict(json.loads(doc))

    def put_replay(self, scope: Scope, name: str, started: float, doc: dict[str, Any]) -> None:
        self.store.execute(
            "INSERT INTO events_replays (account, region, name, started, doc) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, region, name) DO UPDATE SET "
            "doc = excluded.doc",
            (scope.account, scope.region, name, started, json.dumps(doc)),
        )

    def replays(self, scope: Scope) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT doc FROM events_replays WHERE account = ? AND region = ? ORDER BY name",
            (scope.account, scope.region),
        )
        return [json.loads(r["doc"]) for r in rows]
