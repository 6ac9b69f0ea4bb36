"""Auto Scaling's records in the store: launch configurations, groups, their instances, scaling
policies, scheduled actions and scaling activities, each a JSON document shaped like the API's
output (internal fields start with ``_``)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from nubes.core import clock
from nubes.core.arns import arn
from nubes.store import Store

Json = dict[str, Any]

MIGRATIONS = (
    """
    CREATE TABLE asg_launch_configs (
        account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE TABLE asg_groups (
        account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE TABLE asg_instances (
        account TEXT NOT NULL, region TEXT NOT NULL, grp TEXT NOT NULL, id TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, id)
    ) WITHOUT ROWID;
    CREATE INDEX asg_instances_group ON asg_instances (account, region, grp);
    CREATE TABLE asg_policies (
        account TEXT NOT NULL, region TEXT NOT NULL, grp TEXT NOT NULL, name TEXT NOT NULL,
        arn TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (account, region, grp, name)
    ) WITHOUT ROWID;
    CREATE TABLE asg_scheduled (
        account TEXT NOT NULL, region TEXT NOT NULL, grp TEXT NOT NULL, name TEXT NOT NULL,
        due REAL, doc TEXT NOT NULL,
        PRIMARY KEY (account, region, grp, name)
    ) WITHOUT ROWID;
    CREATE TABLE asg_activities (
        account TEXT NOT NULL, region TEXT NOT NULL, grp TEXT NOT NULL, id TEXT NOT NULL,
        start REAL NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (account, region, id)
    ) WITHOUT ROWID;
    CREATE INDEX asg_activities_group ON asg_activities (account, region, grp, start);
    """,
)


def stamp(epoch: float) -> str:
    """``2026-12-07T17:40:00Z``, as activity causes write times."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def group_arn(account: str, region: str, name: str) -> str:
    return arn(
        "autoscaling",
        region,
        account,
        f"autoScalingGroup:{uuid.uuid4()}:autoScalingGroupName/{name}",
    )


class Records:
    """One table's JSON documents, keyed by account, region and the table's own keys."""

    def __init__(self, store: Store, table: str, keys: tuple[str, ...]) -> None:
        self.store = store
        self.table = table
        self.keys = keys

    def _where(self, n: int) -> str:
        cols = ("account", "region", *self.keys[:n])
        return " AND ".join(f"{c} = ?" for c in cols)

    def get(self, account: str, region: str, *key: str) -> Json | None:
        row = self.store.query_one(
            f"SELECT doc FROM {self.table} WHERE {self._where(len(key))}",
            (account, region, *key),
        )
        return None if row is None else dict(json.loads(row["doc"]))

    def all(self, account: str, region: str, *key: str) -> list[Json]:
        order = ", ".join(self.keys)
        rows = self.store.query(
            f"SELECT doc FROM {self.table} WHERE {self._where(len(key))} ORDER BY {order}",
            (account, region, *key),
        )
        return [dict(json.loads(r["doc"])) for r in rows]

    def put(self, account: str, region: str, key: tuple[str, ...], doc: Json, **extra: Any) -> None:
        cols = ["account", "region", *self.keys, *extra, "doc"]
        values = [account, region, *key, *extra.values(), json.dumps(doc)]
        self.store.execute(
            f"INSERT OR REPLACE INTO {self.table} ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' * len(cols))})",
            values,
        )

    def delete(self, account: str, region: str, *key: str) -> None:
        self.store.execute(
            f"DELETE FROM {self.table} WHERE {self._where(len(key))}", (account, region, *key)
        )


class Activities:
    """Scaling activities, newest first, as DescribeScalingActivities lists them."""

    KEEP = 1000
    """Activities kept per group (AWS keeps six weeks of them)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
        self,
        account: str,
        region: str,
        group: Json,
        description: str,
        cause: str,
        status: str = "Successful",
        details: Json | None = None,
        message: str = "",
    ) -> str:
        now = clock.now()
        activity_id = str(uuid.uuid4())
        doc: Json = {
            "ActivityId": activity_id,
            "AutoScalingGroupName": group["AutoScalingGroupName"],
            "AutoScalingGroupARN": group["AutoScalingGroupARN"],
            "Description": description,
            "Cause": cause,
            "StartTime": now,
            "StatusCode": status,
            "Progress": 100 if status in ("Successful", "Failed", "Cancelled") else 30,
            "Details": json.dumps(details or {}),
        }
        if status in ("Successful", "Failed", "Cancelled"):
            doc["EndTime"] = now
        if message:
            doc["StatusMessage"] = message
        self.store.execute(
            "INSERT INTO asg_activities (account, region, grp, id, start, doc) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (account, region, group["AutoScalingGroupName"], activity_id, now, json.dumps(doc)),
        )
        return activity_id

    def finish(
        self,
        account: str,
        region: str,
        activity_id: str,
        status: str = "Successful",
        message: str = "",
    ) -> None:
        row = self.store.query_one(
            "SELECT doc FROM asg_activities WHERE account = ? AND region = ? AND id = ?",
            (account, region, activity_id),
        )
        if row is None:
            return
        doc = json.loads(row["doc"])
        doc.update(StatusCode=status, Progress=100, EndTime=clock.now())
        if message:
            doc["StatusMessage"] = message
        self.store.execute(
            "UPDATE asg_activities SET doc = ? WHERE account = ? AND region = ? AND id = ?",
            (json.dumps(doc), account, region, activity_id),
        )

    def list(self, account: str, region: str, group: str | None) -> list[Json]:
        if group is None:
            rows = self.store.query(
                "SELECT doc FROM asg_activities WHERE account = ? AND region = ? "
                "ORDER BY start DESC, id",
                (account, region),
            )
        else:
            rows = self.store.query(
                "SELECT doc FROM asg_activities WHERE account = ? AND region = ? AND grp = ? "
                "ORDER BY start DESC, id LIMIT ?",
                (account, region, group, self.KEEP),
            )
        return [json.loads(r["doc"]) for r in rows]

    def drop(self, account: str, region: str, group: str) -> None:
        self.store.execute(
            "DELETE FROM asg_activities WHERE account = ? AND region = ? AND grp = ?",
            (account, region, group),
        )
