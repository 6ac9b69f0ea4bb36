"""Firehose state: delivery streams (their destination and source kept as the JSON of their
description), the records buffered for delivery, and how far a Kinesis source has been read.

A record is a row from the moment PutRecord answers until the object holding it is written to
S3 in the same transaction that deletes it, so a ``kill -9`` loses no acknowledged record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nubes.store import Row, Store

MIGRATIONS = (
    """
    CREATE TABLE firehose_streams (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        arn TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        settles_at REAL NOT NULL,
        created REAL NOT NULL,
        updated REAL,
        version INTEGER NOT NULL DEFAULT 1,
        source TEXT,
        destination TEXT NOT NULL,
        encryption TEXT,
        UNIQUE (account, region, name)
    );
    CREATE TABLE firehose_records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        stream_id INTEGER NOT NULL,
        arrival REAL NOT NULL,
        record_id TEXT NOT NULL,
        data BLOB NOT NULL,
        metadata TEXT
    );
    CREATE INDEX firehose_records_stream ON firehose_records (stream_id, seq);
    CREATE TABLE firehose_positions (
        stream_id INTEGER NOT NULL,
        shard TEXT NOT NULL,
        sequence TEXT NOT NULL,
        PRIMARY KEY (stream_id, shard)
    ) WITHOUT ROWID;
    """,
)


@dataclass
class DeliveryStream:
    id: int
    account: str
    region: str
    name: str
    arn: str
    type: str
    status: str
    settles_at: float
    created: float
    updated: float | None
    version: int
    source: dict[str, Any] | None
    destination: dict[str, Any]
    encryption: dict[str, Any] | None

    @classmethod
    def of(cls, row: Row) -> DeliveryStream:
        return cls(
            id=row["id"],
            account=row["account"],
            region=row["region"],
            name=row["name"],
            arn=row["arn"],
            type=row["type"],
            status=row["status"],
            settles_at=row["settles_at"],
            created=row["created"],
            updated=row["updated"],
            version=row["version"],
            source=json.loads(row["source"]) if row["source"] else None,
            destination=json.loads(row["destination"]),
            encryption=json.loads(row["encryption"]) if row["encryption"] else None,
        )


@dataclass
class Buffered:
    seq: int
    arrival: float
    record_id: str
    data: bytes
    metadata: dict[str, Any] | None


class Streams:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, account: str, region: str, name: str) -> DeliveryStream | None:
        row = self.store.query_one(
            "SELECT * FROM firehose_streams WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        )
        return DeliveryStream.of(row) if row is not None else None

    def by_id(self, stream_id: int) -> DeliveryStream | None:
        row = self.store.query_one("SELECT * FROM firehose_streams WHERE id = ?", (stream_id,))
        return DeliveryStream.of(row) if row is not None else None

    def names(self, account: str, region: str, kind: str | None, after: str | None) -> list[str]:
        sql = "SELECT name FROM firehose_streams WHERE account = ? AND region = ?"
        params: list[Any] = [account, region]
        if kind:
            sql += " AND type = ?"
            params.append(kind)
        if after:
            sql += " AND name > ?"
            params.append(after)
        return [r["name"] for r in self.store.query(sql + " ORDER BY name", params)]

    def all(self) -> list[DeliveryStream]:
        return [DeliveryStream.of(r) for r in self.store.query("SELECT * FROM firehose_streams")]

    def create(self, stream: DeliveryStream) -> int:
        return self.store.insert(
            "INSERT INTO firehose_streams (account, region, name, arn, type, status, settles_at,"
            " created, version, source, destination, encryption)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                stream.account,
                stream.region,
                stream.name,
                stream.arn,
                stream.type,
                stream.status,
                stream.settles_at,
                stream.created,
                stream.version,
                json.dumps(stream.source) if stream.source else None,
                json.dumps(stream.destination),
                json.dumps(stream.encryption) if stream.encryption else None,
            ),
        )

    def save(self, stream: DeliveryStream) -> None:
        self.store.execute(
            "UPDATE firehose_streams SET status = ?, settles_at = ?, updated = ?, version = ?,"
            " destination = ?, encryption = ? WHERE id = ?",
            (
                stream.status,
                stream.settles_at,
                stream.updated,
                stream.version,
                json.dumps(stream.destination),
                json.dumps(stream.encryption) if stream.encryption else None,
                stream.id,
            ),
        )

    def delete(self, stream: DeliveryStream) -> None:
        for table in ("firehose_records", "firehose_positions"):
            self.store.execute(f"DELETE FROM {table} WHERE stream_id = ?", (stream.id,))
        self.store.execute("DELETE FROM firehose_streams WHERE id = ?", (stream.id,))

    # -- the buffer ---------------------------------------------------------------------------

    def append(
        self, stream: DeliveryStream, arrival: float, records: list[tuple[str, bytes]]
    ) -> None:
        self.store.executemany(
            "INSERT INTO firehose_records (stream_id, arrival, record_id, data)"
            " VALUES (?, ?, ?, ?)",
            [(stream.id, arrival, rid, data) for rid, data in records],
        )

    def append_with_metadata(
        self, stream: DeliveryStream, records: list[tuple[float, str, bytes, dict[str, Any]]]
    ) -> None:
        self.store.executemany(
            "INSERT INTO firehose_records (stream_id, arrival, record_id, data, metadata)"
            " VALUES (?, ?, ?, ?, ?)",
            [(stream.id, at, rid, data, json.dumps(meta)) for at, rid, data, meta in records],
        )

    def buffer_state(self) -> list[Row]:
        """Per stream with buffered records: its id, the oldest arrival and the bytes held."""
        return self.store.query(
            "SELECT stream_id, MIN(arrival) AS oldest, SUM(LENGTH(data)) AS size"
            " FROM firehose_records GROUP BY stream_id"
        )

    def take(self, stream_id: int, max_bytes: int) -> list[Buffered]:
        """The oldest records up to ``max_bytes`` (at least one)."""
        rows = self.store.query(
            "SELECT seq, arrival, record_id, data, metadata FROM ("
            " SELECT *, SUM(LENGTH(data)) OVER (ORDER BY seq) - LENGTH(data) AS before"
            " FROM firehose_records WHERE stream_id = ?)"
            " WHERE before = 0 OR before + LENGTH(data) <= ? ORDER BY seq",
            (stream_id, max_bytes),
        )
        return [
            Buffered(
                r["seq"],
                r["arrival"],
                r["record_id"],
                bytes(r["data"]),
                json.loads(r["metadata"]) if r["metadata"] else None,
            )
            for r in rows
        ]

    def remove(self, stream_id: int, seqs: list[int]) -> None:
        self.store.executemany(
            "DELETE FROM firehose_records WHERE stream_id = ? AND seq = ?",
            [(stream_id, s) for s in seqs],
        )

    # -- Kinesis source positions -------------------------------------------------------------

    def positions(self, stream_id: int) -> dict[str, str]:
        rows = self.store.query(
            "SELECT shard, sequence FROM firehose_positions WHERE stream_id = ?", (stream_id,)
        )
        return {r["shard"]: r["sequence"] for r in rows}

    def set_position(self, stream_id: int, shard: str, sequence: str) -> None:
        self.store.execute(
            "INSERT INTO firehose_positions (stream_id, shard, sequence) VALUES (?, ?, ?)"
            " ON CONFLICT(stream_id, shard) DO UPDATE SET sequence = excluded.sequence",
            (stream_id, shard, sequence),
        )
