"""Kinesis state: streams, their shards (open and closed, with parent links), the records of
each shard and the enhanced fan-out consumers, in the store.

Sequence numbers come from one counter per stream, so they increase within every shard and a
child shard's numbers are above its parents'. On the wire a number is 56 digits, like AWS's:
``49`` + the stream's creation second (15 digits) + the shard's index (7) + the counter (32),
which lets a number name its shard and its place in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nubes.store import Row, Store

MIGRATIONS = (
    """
    CREATE TABLE kinesis_streams (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        arn TEXT NOT NULL UNIQUE,
        created REAL NOT NULL,
        status TEXT NOT NULL,
        settles_at REAL NOT NULL,
        mode TEXT NOT NULL,
        retention_hours INTEGER NOT NULL,
        encryption TEXT NOT NULL DEFAULT 'NONE',
        key_id TEXT,
        metrics TEXT NOT NULL DEFAULT '[]',
        max_record_kib INTEGER NOT NULL DEFAULT 1024,
        next_shard INTEGER NOT NULL DEFAULT 0,
        next_seq INTEGER NOT NULL DEFAULT 1,
        UNIQUE (account, region, name)
    );
    CREATE TABLE kinesis_shards (
        stream_id INTEGER NOT NULL REFERENCES kinesis_streams(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        parent INTEGER,
        adjacent INTEGER,
        start_hash TEXT NOT NULL,
        end_hash TEXT NOT NULL,
        start_seq INTEGER NOT NULL,
        end_seq INTEGER,
        opened REAL NOT NULL,
        closed REAL,
        PRIMARY KEY (stream_id, idx)
    ) WITHOUT ROWID;
    CREATE TABLE kinesis_records (
        stream_id INTEGER NOT NULL REFERENCES kinesis_streams(id) ON DELETE CASCADE,
        shard INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        arrival REAL NOT NULL,
        partition_key TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (stream_id, shard, seq)
    ) WITHOUT ROWID;
    CREATE INDEX kinesis_records_arrival ON kinesis_records (arrival);
    CREATE TABLE kinesis_consumers (
        arn TEXT PRIMARY KEY,
        stream_id INTEGER NOT NULL REFERENCES kinesis_streams(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        status TEXT NOT NULL,
        settles_at REAL NOT NULL,
        UNIQUE (stream_id, name)
    );
    CREATE TABLE kinesis_policies (
        arn TEXT PRIMARY KEY,
        policy TEXT NOT NULL
    );
    """,
    """
    ALTER TABLE kinesis_streams ADD COLUMN scalings TEXT NOT NULL DEFAULT '[]';
    """,
    """
    ALTER TABLE kinesis_streams ADD COLUMN warm_target INTEGER;
    ALTER TABLE kinesis_streams ADD COLUMN warm_current INTEGER;
    CREATE TABLE kinesis_commitments (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        started_at REAL NOT NULL,
        earliest_end REAL NOT NULL,
        ended_at REAL,
        PRIMARY KEY (account, region)
    );
    """,
)

HASH_SPACE = 2**128
SEQ_PREFIX = "49"


def sequence_number(created: float, shard: int, counter: int) -> str:
    return f"{sequence_prefix(created, shard)}{counter:032d}"


def sequence_prefix(created: float, shard: int) -> str:
    """What every sequence number of a shard starts with (the counter follows)."""
    return f"{SEQ_PREFIX}{int(created) % 10**15:015d}{shard:07d}"


def parse_sequence(text: str) -> tuple[int, int] | None:
    """(shard index, counter) of a sequence number this stream handed out, else None."""
    if len(text) != 56 or not text.isdigit() or not text.startswith(SEQ_PREFIX):
        return None
    return int(text[17:24]), int(text[24:])


def shard_id(idx: int) -> str:
    return f"shardId-{idx:012d}"


def shard_index(text: str) -> int | None:
    """The index of ``shardId-000000000003`` (AWS also accepts the bare number's form)."""
    digits = text.removeprefix("shardId-")
    return int(digits) if digits.isdigit() and len(digits) <= 12 else None


def even_ranges(count: int) -> list[tuple[int, int]]:
    """The hash key space cut into ``count`` equal ranges, as CreateStream lays shards out."""
    return [((HASH_SPACE * i) // count, (HASH_SPACE * (i + 1)) // count - 1) for i in range(count)]


@dataclass
class Stream:
    id: int
    account: str
    region: str
    name: str
    arn: str
    created: float
    status: str
    settles_at: float
    mode: str
    retention_hours: int
    encryption: str
    key_id: str | None
    metrics: list[str]
    max_record_kib: int
    next_shard: int
    next_seq: int
    scalings: list[float]
    """When UpdateShardCount changed the stream (AWS allows ten in any 24 hours)."""
    warm_target: int | None = None
    """The warm throughput (MiB/s) last asked for, on an on-demand stream."""
    warm_current: int | None = None
    """The warm throughput the stream had while it scales towards ``warm_target``."""

    @classmethod
    def from_row(cls, row: Row) -> Stream:
        values: dict[str, Any] = dict(row)
        values["metrics"] = json.loads(values["metrics"])
        values["scalings"] = json.loads(values["scalings"])
        return cls(**values)

    def status_at(self, now: float) -> str:
        """CREATING and UPDATING settle into ACTIVE by the clock; DELETING ends in removal."""
        if self.status in ("CREATING", "UPDATING") and now >= self.settles_at:
            return "ACTIVE"
        return self.status

    def gone_at(self, now: float) -> bool:
        return self.status == "DELETING" and now >= self.settles_at


@dataclass
class Shard:
    stream_id: int
    idx: int
    parent: int | None
    adjacent: int | None
    start_hash: int
    end_hash: int
    start_seq: int
    end_seq: int | None
    opened: float
    closed: float | None

    @classmethod
    def from_row(cls, row: Row) -> Shard:
        values: dict[str, Any] = dict(row)
        values["start_hash"] = int(values["start_hash"])
        values["end_hash"] = int(values["end_hash"])
        return cls(**values)

    @property
    def id(self) -> str:
        return shard_id(self.idx)

    def holds(self, hash_key: int) -> bool:
        return self.start_hash <= hash_key <= self.end_hash

    def describe(self, created: float) -> dict[str, Any]:
        seq_range: dict[str, str] = {
            "StartingSequenceNumber": sequence_number(created, self.idx, self.start_seq)
        }
        if self.end_seq is not None:
            seq_range["EndingSequenceNumber"] = sequence_number(created, self.idx, self.end_seq)
        out: dict[str, Any] = {
            "ShardId": self.id,
            "HashKeyRange": {
                "StartingHashKey": str(self.start_hash),
                "EndingHashKey": str(self.end_hash),
            },
            "SequenceNumberRange": seq_range,
        }
        if self.parent is not None:
            out["ParentShardId"] = shard_id(self.parent)
        if self.adjacent is not None:
            out["AdjacentParentShardId"] = shard_id(self.adjacent)
        return out


@dataclass
class StoredRecord:
    shard: int
    seq: int
    arrival: float
    partition_key: str
    data: bytes


@dataclass
class Commitment:
    """An account's minimum throughput billing commitment in a region (On-demand Advantage).
    It lasts at least 24 hours: a disable asked for earlier takes effect at ``earliest_end``,
    and enabling again before then cancels it."""

    started_at: float
    earliest_end: float
    ended_at: float | None

    def status_at(self, now: float) -> str:
        if self.ended_at is None:
            return "ENABLED"
        if now < self.ended_at:
            return "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
        return "DISABLED"

    def view(self, now: float) -> dict[str, Any]:
        status = self.status_at(now)
        out: dict[str, Any] = {"Status": status, "StartedAt": self.started_at}
        if status == "DISABLED":
            out["EndedAt"] = self.ended_at
        else:
            out["EarliestAllowedEndAt"] = self.earliest_end
        return out


@dataclass
class Consumer:
    arn: str
    stream_id: int
    name: str
    created: float
    status: str
    settles_at: float

    def status_at(self, now: float) -> str:
        if self.status == "CREATING" and now >= self.settles_at:
            return "ACTIVE"
        return self.status

    def gone_at(self, now: float) -> bool:
        return self.status == "DELETING" and now >= self.settles_at


class Streams:
    """Rows of the Kinesis tables; callers run inside the request's transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- streams ------------------------------------------------------------------------------

    def get(self, account: str, region: str, name: str) -> Stream | None:
        row = self.store.query_one(
            "SELECT * FROM kinesis_streams WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        )
        return Stream.from_row(row) if row else None

    def by_id(self, stream_id: int) -> Stream | None:
        row = self.store.query_one("SELECT * FROM kinesis_streams WHERE id = ?", (stream_id,))
        return Stream.from_row(row) if row else None

    def listing(self, account: str, region: str) -> list[Stream]:
        rows = self.store.query(
            "SELECT * FROM kinesis_streams WHERE account = ? AND region = ? ORDER BY name",
            (account, region),
        )
        return [Stream.from_row(r) for r in rows]

    def all(self) -> list[Stream]:
        return [Stream.from_row(r) for r in self.store.query("SELECT * FROM kinesis_streams")]

    def create(
        self,
        account: str,
        region: str,
        name: str,
        arn: str,
        now: float,
        settles_at: float,
        mode: str,
        retention_hours: int,
        max_record_kib: int,
    ) -> Stream:
        self.store.insert(
            "INSERT INTO kinesis_streams (account, region, name, arn, created, status, "
            "settles_at, mode, retention_hours, max_record_kib) "
            "VALUES (?, ?, ?, ?, ?, 'CREATING', ?, ?, ?, ?)",
            (account, region, name, arn, now, settles_at, mode, retention_hours, max_record_kib),
        )
        found = self.get(account, region, name)
        assert found is not None
        return found

    def update(self, stream: Stream, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(stream, key, value)
        for name in ("metrics", "scalings"):
            if name in changes:
                changes[name] = json.dumps(changes[name])
        assignments = ", ".join(f"{k} = ?" for k in changes)
        self.store.execute(
            f"UPDATE kinesis_streams SET {assignments} WHERE id = ?",
            (*changes.values(), stream.id),
        )

    def take_sequences(self, stream: Stream, count: int) -> int:
        """The first of ``count`` consecutive counters, taken in one write."""
        counter = stream.next_seq
        if count:
            self.update(stream, next_seq=counter + count)
        return counter

    def delete(self, stream: Stream) -> None:
        self.store.execute("DELETE FROM kinesis_streams WHERE id = ?", (stream.id,))

    # -- shards -------------------------------------------------------------------------------

    def shards(self, stream: Stream) -> list[Shard]:
        rows = self.store.query(
            "SELECT * FROM kinesis_shards WHERE stream_id = ? ORDER BY idx", (stream.id,)
        )
        return [Shard.from_row(r) for r in rows]

    def open_shards(self, stream: Stream) -> list[Shard]:
        rows = self.store.query(
            "SELECT * FROM kinesis_shards WHERE stream_id = ? AND closed IS NULL ORDER BY idx",
            (stream.id,),
        )
        return [Shard.from_row(r) for r in rows]

    def open_shard_count(self, account: str, region: str) -> int:
        return int(
            self.store.scalar(
                "SELECT COUNT(*) FROM kinesis_shards s JOIN kinesis_streams t "
                "ON s.stream_id = t.id WHERE t.account = ? AND t.region = ? "
                "AND s.closed IS NULL",
                (account, region),
            )
        )

    def add_shard(
        self,
        stream: Stream,
        start_hash: int,
        end_hash: int,
        now: float,
        parent: int | None = None,
        adjacent: int | None = None,
    ) -> Shard:
        idx = stream.next_shard
        shard = Shard(
            stream.id, idx, parent, adjacent, start_hash, end_hash, stream.next_seq, None, now, None
        )
        self.update(stream, next_shard=idx + 1)
        self.store.execute(
            "INSERT INTO kinesis_shards (stream_id, idx, parent, adjacent, start_hash, end_hash, "
            "start_seq, opened) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                stream.id,
                idx,
                parent,
                adjacent,
                str(start_hash),
                str(end_hash),
                shard.start_seq,
                now,
            ),
        )
        return shard

    def close_shard(self, stream: Stream, shard: Shard, now: float) -> None:
        # The ending number covers every record the shard got: the counter's last value.
        shard.end_seq = max(shard.start_seq, stream.next_seq - 1)
        shard.closed = now
        self.store.execute(
            "UPDATE kinesis_shards SET end_seq = ?, closed = ? WHERE stream_id = ? AND idx = ?",
            (shard.end_seq, now, stream.id, shard.idx),
        )

    def forget_shards(self, stream: Stream, closed_before: float) -> None:
        """Closed shards leave the stream once their records are past retention."""
        self.store.execute(
            "DELETE FROM kinesis_shards WHERE stream_id = ? AND closed IS NOT NULL AND closed < ?",
            (stream.id, closed_before),
        )

    # -- records ------------------------------------------------------------------------------

    def append(
        self, stream: Stream, now: float, records: list[tuple[int, int, str, bytes]]
    ) -> None:
        """Records as (shard, counter, partition key, data), all arrived at ``now``."""
        self.store.executemany(
            "INSERT INTO kinesis_records (stream_id, shard, seq, arrival, partition_key, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(stream.id, shard, seq, now, key, data) for shard, seq, key, data in records],
        )

    def records(
        self, stream: Stream, shard: int, after: int, since: float, limit: int
    ) -> list[StoredRecord]:
        rows = self.store.query(
            "SELECT shard, seq, arrival, partition_key, data FROM kinesis_records "
            "WHERE stream_id = ? AND shard = ? AND seq > ? AND arrival >= ? ORDER BY seq LIMIT ?",
            (stream.id, shard, after, since, limit),
        )
        return [StoredRecord(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]

    def first_at_or_after(self, stream: Stream, shard: int, when: float) -> int | None:
        """The counter of the shard's first record that arrived at or after ``when``."""
        value = self.store.scalar(
            "SELECT MIN(seq) FROM kinesis_records WHERE stream_id = ? AND shard = ? "
            "AND arrival >= ?",
            (stream.id, shard, when),
        )
        return None if value is None else int(value)

    def expire(self, before: float, stream: Stream | None = None) -> None:
        if stream is None:
            self.store.execute(
                "DELETE FROM kinesis_records WHERE arrival < ? - 3600 * (SELECT retention_hours "
                "FROM kinesis_streams s WHERE s.id = kinesis_records.stream_id)",
                (before,),
            )
        else:
            self.store.execute(
                "DELETE FROM kinesis_records WHERE stream_id = ? AND arrival < ?",
                (stream.id, before - 3600 * stream.retention_hours),
            )

    # -- account settings ---------------------------------------------------------------------

    def commitment(self, account: str, region: str) -> Commitment | None:
        row = self.store.query_one(
            "SELECT started_at, earliest_end, ended_at FROM kinesis_commitments "
            "WHERE account = ? AND region = ?",
            (account, region),
        )
        return Commitment(*row) if row else None

    def set_commitment(self, account: str, region: str, commitment: Commitment) -> None:
        self.store.execute(
            "INSERT INTO kinesis_commitments (account, region, started_at, earliest_end, ended_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(account, region) DO UPDATE SET "
            "started_at = excluded.started_at, earliest_end = excluded.earliest_end, "
            "ended_at = excluded.ended_at",
            (account, region, commitment.started_at, commitment.earliest_end, commitment.ended_at),
        )

    def clear_warm_throughput(self, account: str, region: str) -> None:
        """A new commitment starts from the streams' default capacity."""
        self.store.execute(
            "UPDATE kinesis_streams SET warm_target = NULL, warm_current = NULL "
            "WHERE account = ? AND region = ?",
            (account, region),
        )

    # -- consumers ----------------------------------------------------------------------------

    def consumers(self, stream: Stream) -> list[Consumer]:
        rows = self.store.query(
            "SELECT * FROM kinesis_consumers WHERE stream_id = ? ORDER BY created, name",
            (stream.id,),
        )
        return [Consumer(**dict(r)) for r in rows]

    def consumer(self, arn: str) -> Consumer | None:
        row = self.store.query_one("SELECT * FROM kinesis_consumers WHERE arn = ?", (arn,))
        return Consumer(**dict(row)) if row else None

    def consumer_named(self, stream: Stream, name: str) -> Consumer | None:
        row = self.store.query_one(
            "SELECT * FROM kinesis_consumers WHERE stream_id = ? AND name = ?", (stream.id, name)
        )
        return Consumer(**dict(row)) if row else None

    def add_consumer(self, consumer: Consumer) -> None:
        self.store.execute(
            "INSERT INTO kinesis_consumers (arn, stream_id, name, created, status, settles_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                consumer.arn,
                consumer.stream_id,
                consumer.name,
                consumer.created,
                consumer.status,
                consumer.settles_at,
            ),
        )

    def set_consumer_status(self, consumer: Consumer, status: str, settles_at: float) -> None:
        self.store.execute(
            "UPDATE kinesis_consumers SET status = ?, settles_at = ? WHERE arn = ?",
            (status, settles_at, consumer.arn),
        )

    def drop_consumer(self, consumer: Consumer) -> None:
        self.store.execute("DELETE FROM kinesis_consumers WHERE arn = ?", (consumer.arn,))

    # -- resource policies --------------------------------------------------------------------

    def policy(self, arn: str) -> str | None:
        value = self.store.scalar("SELECT policy FROM kinesis_policies WHERE arn = ?", (arn,))
        return None if value is None else str(value)

    def set_policy(self, arn: str, policy: str | None) -> None:
        if policy is None:
            self.store.execute("DELETE FROM kinesis_policies WHERE arn = ?", (arn,))
        else:
            self.store.execute(
                "INSERT INTO kinesis_policies (arn, policy) VALUES (?, ?) "
                "ON CONFLICT(arn) DO UPDATE SET policy = excluded.policy",
                (arn, policy),
            )

    def drop_policies(self, prefix: str) -> None:
        self.store.execute(
            "DELETE FROM kinesis_policies WHERE arn = ? OR arn LIKE ? ESCAPE '\\'",
            (prefix, _like(prefix) + "/%"),
        )


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
