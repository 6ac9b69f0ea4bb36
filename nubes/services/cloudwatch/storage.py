"""CloudWatch records: alarms (metric and composite) with their state, alarm history, dashboards,
and the last clock boundary evaluated (so evaluation resumes from there after a restart). Metric
data lives in :mod:`nubes.runtime.alarms.metricstore`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nubes.core.arns import arn
from nubes.runtime.alarms import metricstore
from nubes.store import Row, Store

HISTORY_AGE = 30 * 86400
"""AWS keeps alarm history for 30 days."""

MIGRATIONS = (
    metricstore.SCHEMA
    + """
CREATE TABLE cw_alarms (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    reason_data TEXT,
    state_updated REAL NOT NULL,
    state_transitioned REAL NOT NULL,
    config_updated REAL NOT NULL,
    suppressed_by TEXT,
    suppressed_reason TEXT,
    left_alarm REAL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE cw_history (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts REAL NOT NULL,
    type TEXT NOT NULL,
    summary TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX cw_history_by_alarm ON cw_history (account, region, name, ts);
CREATE INDEX cw_history_by_time ON cw_history (ts);
CREATE TABLE cw_dashboards (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE cw_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    boundary REAL NOT NULL
);
""",
    metricstore.WITHOUT_AGE_INDEX,
    """
CREATE TABLE cw_waiting_actions (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    due REAL NOT NULL,
    change TEXT NOT NULL,
    PRIMARY KEY (account, region, name)
);
""",
)

METRIC = "MetricAlarm"
COMPOSITE = "CompositeAlarm"


def alarm_arn(account: str, region: str, name: str) -> str:
    return arn("cloudwatch", region, account, f"alarm:{name}")


def dashboard_arn(account: str, name: str, partition: str) -> str:
    """Dashboards are global to the account (no region in the ARN) but not to the partition."""
    return f"arn:{partition}:cloudwatch::{account}:dashboard/{name}"


@dataclass
class Alarm:
    account: str
    region: str
    name: str
    kind: str
    config: dict[str, Any]
    """The alarm's settings as PutMetricAlarm / PutCompositeAlarm took them."""
    state: str
    reason: str
    reason_data: str | None
    state_updated: float
    state_transitioned: float
    config_updated: float
    suppressed_by: str | None = None
    suppressed_reason: str | None = None
    left_alarm: float | None = None
    """When the alarm last left ALARM (an actions suppressor's extension period runs from it)."""

    @property
    def arn(self) -> str:
        return alarm_arn(self.account, self.region, self.name)

    @classmethod
    def from_row(cls, row: Row) -> Alarm:
        return cls(
            row["account"],
            row["region"],
            row["name"],
            row["kind"],
            json.loads(row["config"]),
            row["state"],
            row["reason"],
            row["reason_data"],
            row["state_updated"],
            row["state_transitioned"],
            row["config_updated"],
            row["suppressed_by"],
            row["suppressed_reason"],
            row["left_alarm"],
        )


class Alarms:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, account: str, region: str, name: str) -> Alarm | None:
        row = self.store.query_one(
            "SELECT * FROM cw_alarms WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        )
        return None if row is None else Alarm.from_row(row)

    def in_region(self, account: str, region: str) -> list[Alarm]:
        rows = self.store.query(
            "SELECT * FROM cw_alarms WHERE account = ? AND region = ? ORDER BY name",
            (account, region),
        )
        return [Alarm.from_row(r) for r in rows]

    def all(self, kind: str | None = None) -> list[Alarm]:
        if kind is None:
            rows = self.store.query("SELECT * FROM cw_alarms ORDER BY account, region, name")
        else:
            rows = self.store.query(
                "SELECT * FROM cw_alarms WHERE kind = ? ORDER BY account, region, name", (kind,)
            )
        return [Alarm.from_row(r) for r in rows]

    def save(self, alarm: Alarm) -> None:
        self.store.execute(
            "INSERT INTO cw_alarms (account, region, name, kind, config, state, reason, "
            "reason_data, state_updated, state_transitioned, config_updated, suppressed_by, "
            "suppressed_reason, left_alarm) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account, region, name) DO UPDATE SET kind = excluded.kind, "
            "config = excluded.config, state = excluded.state, reason = excluded.reason, "
            "reason_data = excluded.reason_data, state_updated = excluded.state_updated, "
            "state_transitioned = excluded.state_transitioned, "
            "config_updated = excluded.config_updated, suppressed_by = excluded.suppressed_by, "
            "suppressed_reason = excluded.suppressed_reason, left_alarm = excluded.left_alarm",
            (
                alarm.account,
                alarm.region,
                alarm.name,
                alarm.kind,
                json.dumps(alarm.config, separators=(",", ":")),
                alarm.state,
                alarm.reason,
                alarm.reason_data,
                alarm.state_updated,
                alarm.state_transitioned,
                alarm.config_updated,
                alarm.suppressed_by,
                alarm.suppressed_reason,
                alarm.left_alarm,
            ),
        )

    def delete(self, account: str, region: str, names: Iterable[str]) -> None:
        self.store.executemany(
            "DELETE FROM cw_alarms WHERE account = ? AND region = ? AND name = ?",
            [(account, region, n) for n in names],
        )

    # -- history ----------------------------------------------------------------------------------

    def add_history(
        self, alarm: Alarm, ts: float, kind: str, summary: str, data: dict[str, Any]
    ) -> None:
        self.store.insert(
            "INSERT INTO cw_history (account, region, name, kind, ts, type, summary, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                alarm.account,
                alarm.region,
                alarm.name,
                alarm.kind,
                ts,
                kind,
                summary,
                json.dumps(data, separators=(",", ":")),
            ),
        )

    def history(
        self,
        account: str,
        region: str,
        name: str | None,
        start: float | None,
        end: float | None,
        newest_first: bool,
    ) -> list[Row]:
        sql = "SELECT * FROM cw_history WHERE account = ? AND region = ?"
        args: list[Any] = [account, region]
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        if start is not None:
            sql += " AND ts >= ?"
            args.append(start)
        if end is not None:
            sql += " AND ts <= ?"
            args.append(end)
        order = "DESC" if newest_first else "ASC"
        return self.store.query(f"{sql} ORDER BY ts {order}, id {order}", args)

    def expire_history(self, now: float) -> None:
        self.store.execute("DELETE FROM cw_history WHERE ts < ?", (now - HISTORY_AGE,))

    # -- composite alarms' actions waiting on their suppressor -----------------------------------

    def defer(self, alarm: Alarm, state: str, due: float, change: dict[str, Any]) -> None:
        self.store.execute(
            "INSERT INTO cw_waiting_actions (account, region, name, state, due, change) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, name) DO UPDATE SET "
            "state = excluded.state, due = excluded.due, change = excluded.change",
            (alarm.account, alarm.region, alarm.name, state, due, json.dumps(change)),
        )

    def waiting(self) -> list[Row]:
        return self.store.query("SELECT * FROM cw_waiting_actions ORDER BY due")

    def undefer(self, account: str, region: str, name: str) -> None:
        self.store.execute(
            "DELETE FROM cw_waiting_actions WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        )

    # -- the evaluation clock ---------------------------------------------------------------------

    def last_boundary(self) -> float | None:
        value = self.store.scalar("SELECT boundary FROM cw_clock WHERE id = 1")
        return None if value is None else float(value)

    def set_last_boundary(self, boundary: float) -> None:
        self.store.execute(
            "INSERT INTO cw_clock (id, boundary) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET boundary = excluded.boundary",
            (boundary,),
        )


class Dashboards:
    def __init__(self, store: Store) -> None:
        self.store = store

    def put(self, account: str, name: str, body: str, now: float) -> None:
        self.store.execute(
            "INSERT INTO cw_dashboards (account, name, body, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account, name) DO UPDATE SET body = excluded.body, "
            "updated = excluded.updated",
            (account, name, body, now),
        )

    def get(self, account: str, name: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM cw_dashboards WHERE account = ? AND name = ?", (account, name)
        )

    def named(self, account: str, prefix: str = "") -> list[Row]:
        rows = self.store.query(
            "SELECT * FROM cw_dashboards WHERE account = ? ORDER BY name", (account,)
        )
        return [r for r in rows if r["name"].startswith(prefix)]

    def delete(self, account: str, names: Iterable[str]) -> None:
        self.store.executemany(
            "DELETE FROM cw_dashboards WHERE account = ? AND name = ?",
            [(account, n) for n in names],
        )
