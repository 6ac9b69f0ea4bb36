"""SQS state in the store: queues, their messages, FIFO deduplication records, message move
tasks. Callers run inside a store transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from nubes.core.arns import arn
from nubes.store import Row, Store

MIGRATIONS = (
    """
    CREATE TABLE sqs_queues (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        fifo INTEGER NOT NULL,
        attributes TEXT NOT NULL,
        created REAL NOT NULL,
        modified REAL NOT NULL,
        purged REAL NOT NULL DEFAULT 0,
        last_sequence INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account, region, name)
    );
    CREATE TABLE sqs_deleted_queues (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        deleted REAL NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE TABLE sqs_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        queue_id INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        body TEXT NOT NULL,
        md5_body TEXT NOT NULL,
        attributes TEXT,
        md5_attributes TEXT,
        trace_header TEXT,
        md5_system TEXT,
        sent REAL NOT NULL,
        visible_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0,
        first_receive REAL,
        receipt TEXT,
        group_id TEXT,
        dedup_id TEXT,
        sequence TEXT,
        sender_id TEXT NOT NULL,
        source_arn TEXT
    );
    CREATE INDEX sqs_messages_visible ON sqs_messages (queue_id, visible_at);
    CREATE INDEX sqs_messages_group ON sqs_messages (queue_id, group_id, id);
    CREATE TABLE sqs_dedup (
        queue_id INTEGER NOT NULL,
        scope TEXT NOT NULL,
        dedup_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        sequence TEXT,
        expires REAL NOT NULL,
        PRIMARY KEY (queue_id, scope, dedup_id)
    ) WITHOUT ROWID;
    CREATE TABLE sqs_move_tasks (
        handle TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        source_arn TEXT NOT NULL,
        destination_arn TEXT,
        rate INTEGER,
        status TEXT NOT NULL,
        moved INTEGER NOT NULL DEFAULT 0,
        to_move INTEGER NOT NULL,
        started REAL NOT NULL,
        last_tick REAL NOT NULL,
        failure TEXT
    ) WITHOUT ROWID;
    """,
    # Rows of one queue in arrival order, for FIFO receives.
    "CREATE INDEX sqs_messages_queue ON sqs_messages (queue_id);",
    # When the current receipt was handed out: visibility can be extended to 12 hours from it.
    "ALTER TABLE sqs_messages ADD COLUMN received REAL;",
)

MESSAGE_COLUMNS = (
    "queue_id, message_id, body, md5_body, attributes, md5_attributes, trace_header, md5_system, "
    "sent, visible_at, expires_at, receive_count, first_receive, group_id, dedup_id, sequence, "
    "sender_id, source_arn"
)


@dataclass
class Queue:
    id: int
    account: str
    region: str
    name: str
    fifo: bool
    attributes: dict[str, str]
    created: float
    modified: float
    purged: float
    arn: str = field(init=False)

    def __post_init__(self) -> None:
        self.arn = arn("sqs", self.region, self.account, self.name)

    def int_attr(self, name: str, default: int) -> int:
        value = self.attributes.get(name)
        return default if value is None else int(value)

    @property
    def visibility_timeout(self) -> int:
        return self.int_attr("VisibilityTimeout", 30)

    @property
    def delay(self) -> int:
        return self.int_attr("DelaySeconds", 0)

    @property
    def retention(self) -> int:
        return self.int_attr("MessageRetentionPeriod", 345600)

    @property
    def max_size(self) -> int:
        return self.int_attr("MaximumMessageSize", 1_048_576)

    @property
    def wait_time(self) -> int:
        return self.int_attr("ReceiveMessageWaitTimeSeconds", 0)

    @property
    def content_dedup(self) -> bool:
        return self.attributes.get("ContentBasedDeduplication") == "true"

    @property
    def dedup_per_group(self) -> bool:
        return self.attributes.get("DeduplicationScope") == "messageGroup"

    def redrive(self) -> tuple[str, int] | None:
        raw = self.attributes.get("RedrivePolicy")
        if not raw:
            return None
        doc = json.loads(raw)
        return str(doc["deadLetterTargetArn"]), int(doc["maxReceiveCount"])


def _queue(row: Row) -> Queue:
    return Queue(
        id=row["id"],
        account=row["account"],
        region=row["region"],
        name=row["name"],
        fifo=bool(row["fifo"]),
        attributes=json.loads(row["attributes"]),
        created=row["created"],
        modified=row["modified"],
        purged=row["purged"],
    )


class Queues:
    """Queue records, with an in-memory cache (the event loop is the only writer)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[str, str, str], Queue | None] = {}

    def forget(self) -> None:
        self._cache.clear()

    def get(self, account: str, region: str, name: str) -> Queue | None:
        key = (account, region, name)
        if key in self._cache:
            return self._cache[key]
        row = self.store.query_one(
            "SELECT * FROM sqs_queues WHERE account = ? AND region = ? AND name = ?", key
        )
        found = _queue(row) if row else None
        if found is not None:
            self._cache[key] = found
        return found

    def by_id(self, queue_id: int) -> Queue | None:
        row = self.store.query_one("SELECT * FROM sqs_queues WHERE id = ?", (queue_id,))
        return _queue(row) if row else None

    def create(
        self, account: str, region: str, name: str, fifo: bool, attrs: dict[str, str], now: float
    ) -> Queue:
        self.store.execute(
            "DELETE FROM sqs_deleted_queues WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        )
        self.store.insert(
            "INSERT INTO sqs_queues (account, region, name, fifo, attributes, created, modified) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (account, region, name, int(fifo), json.dumps(attrs), int(now), int(now)),
        )
        self._cache.pop((account, region, name), None)
        queue = self.get(account, region, name)
        assert queue is not None
        return queue

    def update(self, queue: Queue, attrs: dict[str, str], now: float) -> None:
        self.store.execute(
            "UPDATE sqs_queues SET attributes = ?, modified = ? WHERE id = ?",
            (json.dumps(attrs), int(now), queue.id),
        )
        self._cache.pop((queue.account, queue.region, queue.name), None)

    def mark_purged(self, queue: Queue, now: float) -> None:
        self.store.execute("UPDATE sqs_queues SET purged = ? WHERE id = ?", (now, queue.id))
        self._cache.pop((queue.account, queue.region, queue.name), None)

    def delete(self, queue: Queue, now: float) -> None:
        self.store.execute("DELETE FROM sqs_messages WHERE queue_id = ?", (queue.id,))
        self.store.execute("DELETE FROM sqs_dedup WHERE queue_id = ?", (queue.id,))
        self.store.execute("DELETE FROM sqs_queues WHERE id = ?", (queue.id,))
        self.store.execute(
            "INSERT INTO sqs_deleted_queues (account, region, name, deleted) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET deleted = excluded.deleted",
            (queue.account, queue.region, queue.name, now),
        )
        self._cache.pop((queue.account, queue.region, queue.name), None)

    def deleted_at(self, account: str, region: str, name: str) -> float | None:
        value = self.store.scalar(
            "SELECT deleted FROM sqs_deleted_queues WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        )
        return None if value is None else float(value)

    def names(self, account: str, region: str, prefix: str, after: str, limit: int) -> list[str]:
        rows = self.store.query(
            "SELECT name FROM sqs_queues WHERE account = ? AND region = ? AND name >= ? "
            "AND name > ? ORDER BY name LIMIT ?",
            (account, region, prefix, after, limit),
        )
        return [r["name"] for r in rows if r["name"].startswith(prefix)]

    def all_in(self, account: str, region: str) -> list[Queue]:
        rows = self.store.query(
            "SELECT * FROM sqs_queues WHERE account = ? AND region = ? ORDER BY name",
            (account, region),
        )
        return [_queue(r) for r in rows]

    def next_sequence(self, queue: Queue) -> str:
        value = self.store.scalar(
            "UPDATE sqs_queues SET last_sequence = last_sequence + 1 WHERE id = ? "
            "RETURNING last_sequence",
            (queue.id,),
        )
        # Twenty digits, increasing, like the numbers AWS hands out.
        return f"{18_000_000_000_000_000_000 + int(value):020d}"


class Messages:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        self.store.executemany(
            f"INSERT INTO sqs_messages ({MESSAGE_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def candidates(self, queue: Queue, now: float, limit: int) -> list[Row]:
        if not queue.fifo:
            return self.store.query(
                "SELECT * FROM sqs_messages WHERE queue_id = ? AND visible_at <= ? "
                "AND expires_at > ? ORDER BY visible_at, id LIMIT ?",
                (queue.id, now, now, limit),
            )
        # FIFO: a group with a message in flight gives nothing until that one is done. As many
        # messages of one group as possible go together, leaving the other groups to the other
        # consumers: the group of the oldest waiting message first, then the next.
        taken = [
            r[0]
            for r in self.store.query(
                "SELECT DISTINCT group_id FROM sqs_messages WHERE queue_id = ? "
                "AND visible_at > ? AND receive_count > 0",
                (queue.id, now),
            )
        ]
        out: list[Row] = []
        while len(out) < limit:
            group = self.store.scalar(
                "SELECT group_id FROM sqs_messages INDEXED BY sqs_messages_queue "
                "WHERE queue_id = ? AND visible_at <= ? AND expires_at > ? "
                "AND group_id NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT 1",
                (queue.id, now, now, json.dumps(taken)),
            )
            if group is None:
                break
            taken.append(group)
            out += self.store.query(
                "SELECT * FROM sqs_messages WHERE queue_id = ? AND group_id = ? "
                "AND visible_at <= ? AND expires_at > ? ORDER BY id LIMIT ?",
                (queue.id, group, now, now, limit - len(out)),
            )
        return out

    def mark_received(self, row_id: int, visible_at: float, receipt: str, now: float) -> None:
        self.store.execute(
            "UPDATE sqs_messages SET receive_count = receive_count + 1, visible_at = ?, "
            "receipt = ?, received = ?, first_receive = COALESCE(first_receive, ?) WHERE id = ?",
            (visible_at, receipt, now, now, row_id),
        )

    def get(self, row_id: int, queue_id: int) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM sqs_messages WHERE id = ? AND queue_id = ?", (row_id, queue_id)
        )

    def delete(self, row_id: int) -> None:
        self.store.execute("DELETE FROM sqs_messages WHERE id = ?", (row_id,))

    def set_visible_at(self, row_id: int, visible_at: float) -> None:
        self.store.execute(
            "UPDATE sqs_messages SET visible_at = ? WHERE id = ?", (visible_at, row_id)
        )

    def move(self, row: Row, target: Queue, source_arn: str | None, now: float) -> None:
        """Re-home a message (dead-letter or redrive): a fresh row, receive state reset for
        redrives; SQS keeps the original sent time and message id."""
        self.store.execute("DELETE FROM sqs_messages WHERE id = ?", (row["id"],))
        self.add(
            [
                (
                    target.id,
                    row["message_id"],
                    row["body"],
                    row["md5_body"],
                    row["attributes"],
                    row["md5_attributes"],
                    row["trace_header"],
                    row["md5_system"],
                    row["sent"],
                    now,
                    row["sent"] + target.retention,
                    row["receive_count"] if source_arn else 0,
                    row["first_receive"] if source_arn else None,
                    row["group_id"],
                    row["dedup_id"],
                    row["sequence"],
                    row["sender_id"],
                    source_arn,
                )
            ]
        )

    def counts(self, queue_id: int, now: float) -> tuple[int, int, int]:
        row = self.store.query_one(
            "SELECT "
            "SUM(visible_at <= ?), "
            "SUM(visible_at > ? AND receive_count > 0), "
            "SUM(visible_at > ? AND receive_count = 0) "
            "FROM sqs_messages WHERE queue_id = ? AND expires_at > ?",
            (now, now, now, queue_id, now),
        )
        assert row is not None
        return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)

    def purge(self, queue_id: int) -> None:
        """Messages go, and with them the deduplication window: a message sent again after a
        purge is accepted, as SQS accepts it."""
        self.store.execute("DELETE FROM sqs_messages WHERE queue_id = ?", (queue_id,))
        self.store.execute("DELETE FROM sqs_dedup WHERE queue_id = ?", (queue_id,))

    def next_change(self, queue_id: int, now: float) -> float | None:
        """When the next message of the queue becomes visible (for long polls to sleep on)."""
        value = self.store.scalar(
            "SELECT MIN(visible_at) FROM sqs_messages WHERE queue_id = ? AND visible_at > ?",
            (queue_id, now),
        )
        return None if value is None else float(value)

    def expire(self, now: float) -> None:
        self.store.execute("DELETE FROM sqs_messages WHERE expires_at <= ?", (now,))

    def peek(self, queue_id: int, now: float, delayed: bool, invisible: bool) -> list[Row]:
        rows = self.store.query(
            "SELECT * FROM sqs_messages WHERE queue_id = ? AND expires_at > ? ORDER BY id",
            (queue_id, now),
        )
        return [
            r
            for r in rows
            if r["visible_at"] <= now
            or (delayed and r["receive_count"] == 0)
            or (invisible and r["receive_count"] > 0)
        ]

    def oldest(self, queue_id: int, limit: int) -> list[Row]:
        return self.store.query(
            "SELECT * FROM sqs_messages WHERE queue_id = ? ORDER BY id LIMIT ?",
            (queue_id, limit),
        )

    def count(self, queue_id: int) -> int:
        return int(
            self.store.scalar("SELECT COUNT(*) FROM sqs_messages WHERE queue_id = ?", (queue_id,))
        )


class Dedup:
    def __init__(self, store: Store) -> None:
        self.store = store

    def find(self, queue_id: int, scope: str, dedup_id: str, now: float) -> Row | None:
        return self.store.query_one(
            "SELECT message_id, sequence FROM sqs_dedup WHERE queue_id = ? AND scope = ? "
            "AND dedup_id = ? AND expires > ?",
            (queue_id, scope, dedup_id, now),
        )

    def record(
        self, queue_id: int, scope: str, dedup_id: str, message_id: str, seq: str, until: float
    ) -> None:
        self.store.execute(
            "INSERT INTO sqs_dedup (queue_id, scope, dedup_id, message_id, sequence, expires) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET message_id = excluded.message_id, "
            "sequence = excluded.sequence, expires = excluded.expires",
            (queue_id, scope, dedup_id, message_id, seq, until),
        )

    def expire(self, now: float) -> None:
        self.store.execute("DELETE FROM sqs_dedup WHERE expires <= ?", (now,))


class MoveTasks:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, task: dict[str, Any]) -> None:
        self.store.execute(
            "INSERT INTO sqs_move_tasks (handle, account, region, source_arn, destination_arn, "
            "rate, status, to_move, started, last_tick) VALUES (:handle, :account, :region, "
            ":source_arn, :destination_arn, :rate, 'RUNNING', :to_move, :started, :started)",
            task,
        )

    def get(self, handle: str) -> Row | None:
        return self.store.query_one("SELECT * FROM sqs_move_tasks WHERE handle = ?", (handle,))

    def running(self) -> list[Row]:
        return self.store.query("SELECT * FROM sqs_move_tasks WHERE status = 'RUNNING'")

    def running_for(self, source_arn: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM sqs_move_tasks WHERE source_arn = ? AND status = 'RUNNING'",
            (source_arn,),
        )

    def for_source(self, source_arn: str, limit: int) -> list[Row]:
        return self.store.query(
            "SELECT * FROM sqs_move_tasks WHERE source_arn = ? ORDER BY started DESC LIMIT ?",
            (source_arn, limit),
        )

    def progress(self, handle: str, moved: int, tick: float) -> None:
        self.store.execute(
            "UPDATE sqs_move_tasks SET moved = moved + ?, last_tick = ? WHERE handle = ?",
            (moved, tick, handle),
        )

    def finish(self, handle: str, status: str, failure: str | None = None) -> None:
        self.store.execute(
            "UPDATE sqs_move_tasks SET status = ?, failure = ? WHERE handle = ?",
            (status, failure, handle),
        )
