"""Log groups, streams and events in the store.

Events are rows ordered within a stream by (timestamp, id): ``id`` is the insertion order, so
events with equal timestamps keep the order they were put in. Read paths use the indexes on
(group, stream, timestamp, id) and (group, timestamp, id) and read one page at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from nubes.core.arns import arn
from nubes.store import Row, Store

MIGRATIONS = (
    """
    CREATE TABLE logs_groups (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        created INTEGER NOT NULL,
        retention INTEGER,
        kms_key TEXT,
        group_class TEXT NOT NULL DEFAULT 'STANDARD',
        deletion_protection INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE TABLE logs_streams (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        grp TEXT NOT NULL,
        name TEXT NOT NULL,
        created INTEGER NOT NULL,
        first_event INTEGER,
        last_event INTEGER,
        last_ingestion INTEGER,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account, region, grp, name)
    ) WITHOUT ROWID;
    CREATE TABLE logs_events (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        grp TEXT NOT NULL,
        stream TEXT NOT NULL,
        ts INTEGER NOT NULL,
        ingested INTEGER NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX logs_events_by_stream ON logs_events (account, region, grp, stream, ts, id);
    CREATE INDEX logs_events_by_group ON logs_events (account, region, grp, ts, id);
    CREATE TABLE logs_filters (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        grp TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        created INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, grp, kind, name)
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE logs_queries (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        created INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX logs_queries_by_scope ON logs_queries (account, region, created);
    """,
    """
    CREATE TABLE logs_documents (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, kind, name)
    ) WITHOUT ROWID;
    """,
)

EVENT_OVERHEAD = 26
"""Bytes AWS counts per event on top of its UTF-8 message (batch size limits)."""


@dataclass(frozen=True)
class Scope:
    account: str
    region: str

    def group_arn(self, group: str) -> str:
        return arn("logs", self.region, self.account, f"log-group:{group}")

    def stream_arn(self, group: str, stream: str) -> str:
        return arn("logs", self.region, self.account, f"log-group:{group}:log-stream:{stream}")


@dataclass(frozen=True)
class Event:
    id: int
    stream: str
    timestamp: int
    ingested: int
    message: str

    @property
    def key(self) -> tuple[int, int]:
        return (self.timestamp, self.id)


def _event(row: Row) -> Event:
    return Event(row["id"], row["stream"], row["ts"], row["ingested"], row["message"])


class LogsModel:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- groups -----------------------------------------------------------------------------

    def group(self, scope: Scope, name: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM logs_groups WHERE account = ? AND region = ? AND name = ?",
            (scope.account, scope.region, name),
        )

    def create_group(
        self,
        scope: Scope,
        name: str,
        now_ms: int,
        kms_key: str | None = None,
        group_class: str = "STANDARD",
        deletion_protection: bool = False,
    ) -> bool:
        """False when the group exists already."""
        return bool(
            self.store.execute(
                "INSERT INTO logs_groups (account, region, name, created, kms_key, group_class, "
                "deletion_protection) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    scope.account,
                    scope.region,
                    name,
                    now_ms,
                    kms_key,
                    group_class,
                    int(deletion_protection),
                ),
            )
        )

    def update_group(self, scope: Scope, name: str, **columns: Any) -> None:
        sets = ", ".join(f"{column} = ?" for column in columns)
        self.store.execute(
            f"UPDATE logs_groups SET {sets} WHERE account = ? AND region = ? AND name = ?",
            (*columns.values(), scope.account, scope.region, name),
        )

    def delete_group(self, scope: Scope, name: str) -> None:
        key = (scope.account, scope.region, name)
        for table in ("logs_events", "logs_streams", "logs_filters"):
            self.store.execute(
                f"DELETE FROM {table} WHERE account = ? AND region = ? AND grp = ?", key
            )
        self.store.execute(
            "DELETE FROM logs_groups WHERE account = ? AND region = ? AND name = ?", key
        )

    def groups_page(self, scope: Scope, prefix: str, after: str, limit: int) -> list[Row]:
        return self.store.query(
            "SELECT * FROM logs_groups WHERE account = ? AND region = ? AND name >= ? "
            "AND name > ? ORDER BY name LIMIT ?",
            (scope.account, scope.region, prefix, after, limit),
        )

    def group_bytes(self, scope: Scope, name: str) -> int:
        return int(
            self.store.scalar(
                "SELECT COALESCE(SUM(stored_bytes), 0) FROM logs_streams "
                "WHERE account = ? AND region = ? AND grp = ?",
                (scope.account, scope.region, name),
            )
        )

    # -- streams ----------------------------------------------------------------------------

    def stream(self, scope: Scope, group: str, name: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM logs_streams WHERE account = ? AND region = ? AND grp = ? AND name = ?",
            (scope.account, scope.region, group, name),
        )

    def create_stream(self, scope: Scope, group: str, name: str, now_ms: int) -> bool:
        return bool(
            self.store.execute(
                "INSERT INTO logs_streams (account, region, grp, name, created) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (scope.account, scope.region, group, name, now_ms),
            )
        )

    def delete_stream(self, scope: Scope, group: str, name: str) -> None:
        key = (scope.account, scope.region, group, name)
        self.store.execute(
            "DELETE FROM logs_events WHERE account = ? AND region = ? AND grp = ? AND stream = ?",
            key,
        )
        self.store.execute(
            "DELETE FROM logs_streams WHERE account = ? AND region = ? AND grp = ? AND name = ?",
            key,
        )

    def streams(
        self, scope: Scope, group: str, prefix: str, by_last_event: bool, descending: bool
    ) -> list[Row]:
        order = "COALESCE(last_event, 0)" if by_last_event else "name"
        direction = "DESC" if descending else "ASC"
        return self.store.query(
            "SELECT * FROM logs_streams WHERE account = ? AND region = ? AND grp = ? "
            f"AND name >= ? ORDER BY {order} {direction}, name {direction}",
            (scope.account, scope.region, group, prefix),
        )

    # -- events -----------------------------------------------------------------------------

    def append(
        self,
        scope: Scope,
        group: str,
        stream: str,
        events: Sequence[tuple[int, str]],
        now_ms: int,
    ) -> None:
        """Store ``(timestamp, message)`` events (already validated) in a stream."""
        if not events:
            return
        self.store.executemany(
            "INSERT INTO logs_events (account, region, grp, stream, ts, ingested, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(scope.account, scope.region, group, stream, ts, now_ms, msg) for ts, msg in events],
        )
        size = sum(len(msg.encode()) for _, msg in events)
        self.store.execute(
            "UPDATE logs_streams SET first_event = MIN(COALESCE(first_event, ?), ?), "
            "last_event = MAX(COALESCE(last_event, ?), ?), last_ingestion = ?, "
            "stored_bytes = stored_bytes + ? "
            "WHERE account = ? AND region = ? AND grp = ? AND name = ?",
            (
                events[0][0],
                min(ts for ts, _ in events),
                events[-1][0],
                max(ts for ts, _ in events),
                now_ms,
                size,
                scope.account,
                scope.region,
                group,
                stream,
            ),
        )

    def stream_events(
        self,
        scope: Scope,
        group: str,
        stream: str,
        start: int | None,
        end: int | None,
        after: tuple[int, int] | None,
        before: tuple[int, int] | None,
        limit: int,
        newest_first: bool,
    ) -> list[Event]:
        """Up to ``limit`` events of a stream in [start, end) strictly between the positions
        ``after`` and ``before``; the oldest ones, or the newest when ``newest_first``."""
        where = ["account = ?", "region = ?", "grp = ?", "stream = ?"]
        params: list[Any] = [scope.account, scope.region, group, stream]
        _bounds(where, params, start, end, after, before)
        order = "DESC" if newest_first else "ASC"
        rows = self.store.query(
            f"SELECT * FROM logs_events WHERE {' AND '.join(where)} "
            f"ORDER BY ts {order}, id {order} LIMIT ?",
            (*params, limit),
        )
        return [_event(r) for r in rows]

    def group_events(
        self,
        scope: Scope,
        group: str,
        start: int | None,
        end: int | None,
        after: tuple[int, int] | None,
        chunk: int = 500,
    ) -> Iterator[Event]:
        """Events of the whole group in (timestamp, id) order, read a chunk at a time."""
        while True:
            where = ["account = ?", "region = ?", "grp = ?"]
            params: list[Any] = [scope.account, scope.region, group]
            _bounds(where, params, start, end, after, None)
            rows = self.store.query(
                f"SELECT * FROM logs_events WHERE {' AND '.join(where)} ORDER BY ts, id LIMIT ?",
                (*params, chunk),
            )
            for row in rows:
                event = _event(row)
                yield event
                after = event.key
            if len(rows) < chunk:
                return

    def expire(self, now_ms: int) -> None:
        """Drop events older than their group's retention."""
        self.store.execute(
            "DELETE FROM logs_events WHERE id IN (SELECT e.id FROM logs_events e "
            "JOIN logs_groups g ON g.account = e.account AND g.region = e.region "
            "AND g.name = e.grp WHERE g.retention IS NOT NULL "
            "AND e.ts < ? - g.retention * 86400000)",
            (now_ms,),
        )

    # -- subscription and metric filters ---------------------------------------------------

    def filters(self, scope: Scope, group: str | None, kind: str) -> list[dict[str, Any]]:
        if group is None:
            rows = self.store.query(
                "SELECT doc FROM logs_filters WHERE account = ? AND region = ? AND kind = ? "
                "ORDER BY grp, name",
                (scope.account, scope.region, kind),
            )
        else:
            rows = self.store.query(
                "SELECT doc FROM logs_filters WHERE account = ? AND region = ? AND grp = ? "
                "AND kind = ? ORDER BY name",
                (scope.account, scope.region, group, kind),
            )
        return [json.loads(r["doc"]) for r in rows]

    def put_filter(
        self, scope: Scope, group: str, kind: str, name: str, doc: dict[str, Any], now_ms: int
    ) -> None:
        self.store.execute(
            "INSERT INTO logs_filters (account, region, grp, kind, name, created, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account, region, grp, kind, name) DO UPDATE SET doc = excluded.doc",
            (scope.account, scope.region, group, kind, name, now_ms, json.dumps(doc)),
        )

    def delete_filter(self, scope: Scope, group: str, kind: str, name: str) -> bool:
        return bool(
            self.store.execute(
                "DELETE FROM logs_filters WHERE account = ? AND region = ? AND grp = ? "
                "AND kind = ? AND name = ?",
                (scope.account, scope.region, group, kind, name),
            )
        )


class QueriesModel:
    """Logs Insights queries and their results (they run at once when started)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def put(self, scope: Scope, query_id: str, created: int, doc: dict[str, Any]) -> None:
        self.store.execute(
            "INSERT INTO logs_queries (id, account, region, created, doc) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
            (query_id, scope.account, scope.region, created, json.dumps(doc)),
        )

    def get(self, scope: Scope, query_id: str) -> dict[str, Any] | None:
        row = self.store.query_one(
            "SELECT doc FROM logs_queries WHERE id = ? AND account = ? AND region = ?",
            (query_id, scope.account, scope.region),
        )
        return None if row is None else dict(json.loads(row["doc"]))

    def listing(self, scope: Scope) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT doc FROM logs_queries WHERE account = ? AND region = ? ORDER BY created DESC",
            (scope.account, scope.region),
        )
        return [json.loads(r["doc"]) for r in rows]


class DocumentsModel:
    """Small named documents of an account: query definitions, resource policies,
    destinations."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def put(self, scope: Scope, kind: str, name: str, doc: dict[str, Any]) -> None:
        self.store.execute(
            "INSERT INTO logs_documents (account, region, kind, name, doc) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (account, region, kind, name) DO UPDATE SET doc = excluded.doc",
            (scope.account, scope.region, kind, name, json.dumps(doc)),
        )

    def get(self, scope: Scope, kind: str, name: str) -> dict[str, Any] | None:
        row = self.store.query_one(
            "SELECT doc FROM logs_documents WHERE account = ? AND region = ? AND kind = ? "
            "AND name = ?",
            (scope.account, scope.region, kind, name),
        )
        return None if row is None else dict(json.loads(row["doc"]))

    def delete(self, scope: Scope, kind: str, name: str) -> bool:
        return bool(
            self.store.execute(
                "DELETE FROM logs_documents WHERE account = ? AND region = ? AND kind = ? "
                "AND name = ?",
                (scope.account, scope.region, kind, name),
            )
        )

    def listing(self, scope: Scope, kind: str) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT doc FROM logs_documents WHERE account = ? AND region = ? AND kind = ? "
            "ORDER BY name",
            (scope.account, scope.region, kind),
        )
        return [json.loads(r["doc"]) for r in rows]

    def everywhere(self, kind: str, field: str, values: Sequence[str]) -> list[tuple[Scope, Any]]:
        """The documents of a kind in every account and region whose ``field`` (a JSON path
        such as ``$.status.code``) holds one of ``values``."""
        marks = ", ".join("?" for _ in values)
        rows = self.store.query(
            "SELECT account, region, doc FROM logs_documents WHERE kind = ? "
            f"AND json_extract(doc, ?) IN ({marks}) ORDER BY account, region, name",
            (kind, field, *values),
        )
        return [(Scope(r["account"], r["region"]), json.loads(r["doc"])) for r in rows]


def _bounds(
    where: list[str],
    params: list[Any],
    start: int | None,
    end: int | None,
    after: tuple[int, int] | None,
    before: tuple[int, int] | None,
) -> None:
    if start is not None:
        where.append("ts >= ?")
        params.append(start)
    if end is not None:
        where.append("ts < ?")
        params.append(end)
    if after is not None:
        where.append("(ts > ? OR (ts = ? AND id > ?))")
        params.extend((after[0], after[0], after[1]))
    if before is not None:
        where.append("(ts < ? OR (ts = ? AND id < ?))")
        params.extend((before[0], before[0], before[1]))
