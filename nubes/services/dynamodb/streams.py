"""DynamoDB Streams state: a stream per enabling of a table's StreamSpecification, one shard per
stream, records appended in the same store transaction as the item change they describe.

Both the ``dynamodb`` provider (writing records) and the ``dynamodbstreams`` provider (reading
them) use this module: the two services are one feature and share these tables.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nubes.core import clock, ids
from nubes.services.dynamodb import values as av
from nubes.store import Row, Store

RETENTION = 24 * 3600.0
SEQUENCE_BASE = 10**20
# GetRecords spells the members as the model does (Lambda events lower-case the first letter).
TTL_IDENTITY = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}


@dataclass
class Stream:
    id: int
    arn: str
    account: str
    region: str
    table_name: str
    label: str
    view_type: str
    key_schema: list[dict[str, str]]
    shard_id: str
    created: float
    disabled: float | None

    @classmethod
    def from_row(cls, row: Row) -> Stream:
        return cls(
            row["id"],
            row["arn"],
            row["account"],
            row["region"],
            row["table_name"],
            row["label"],
            row["view_type"],
            json.loads(row["key_schema"]),
            row["shard_id"],
            row["created"],
            row["disabled"],
        )


def sequence_number(seq: int) -> str:
    return str(SEQUENCE_BASE + seq)


def sequence_of(text: str) -> int:
    return int(text) - SEQUENCE_BASE


class Streams:
    def __init__(self, store: Store) -> None:
        self.store = store

    def enable(
        self, account: str, region: str, table: str, table_arn: str, view: str, schema: Any
    ) -> Stream:
        now = clock.now()
        label = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        arn = f"{table_arn}/stream/{label}"
        shard = f"shardId-{int(now * 1000):020d}-{secrets.token_hex(4)}"
        sid = self.store.insert(
            "INSERT INTO ddb_streams (arn, account, region, table_name, label, view_type, "
            "key_schema, shard_id, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (arn, account, region, table, label, view, json.dumps(schema), shard, now),
        )
        found = self.get(sid)
        assert found is not None
        return found

    def disable(self, arn: str) -> None:
        self.store.execute(
            "UPDATE ddb_streams SET disabled = ? WHERE arn = ? AND disabled IS NULL",
            (clock.now(), arn),
        )

    def get(self, sid: int) -> Stream | None:
        row = self.store.query_one("SELECT * FROM ddb_streams WHERE id = ?", (sid,))
        return None if row is None else Stream.from_row(row)

    def by_arn(self, arn: str) -> Stream | None:
        row = self.store.query_one("SELECT * FROM ddb_streams WHERE arn = ?", (arn,))
        return None if row is None else Stream.from_row(row)

    def listing(
        self, account: str, region: str, table: str | None, after: str | None, limit: int
    ) -> list[Stream]:
        sql = "SELECT * FROM ddb_streams WHERE account = ? AND region = ? AND arn > ?"
        params: list[Any] = [account, region, after or ""]
        if table:
            sql += " AND table_name = ?"
            params.append(table)
        rows = self.store.query(sql + " ORDER BY arn LIMIT ?", (*params, limit))
        return [Stream.from_row(r) for r in rows]

    def append(
        self,
        stream_arn: str,
        view: str,
        event: str,
        keys: dict[str, Any],
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        region: str,
        identity: dict[str, str] | None = None,
    ) -> None:
        """Record one item change, shaped by the stream's view type."""
        sid = self.store.scalar(
            "SELECT id FROM ddb_streams WHERE arn = ? AND disabled IS NULL", (stream_arn,)
        )
        if sid is None:
            return
        now = clock.now()
        body: dict[str, Any] = {"ApproximateCreationDateTime": int(now), "Keys": keys}
        if new is not None and view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            body["NewImage"] = new
        if old is not None and view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            body["OldImage"] = old
        images = (keys, body.get("NewImage"), body.get("OldImage"))
        body["SizeBytes"] = sum(av.item_size(part) for part in images if part)
        body["StreamViewType"] = view
        record: dict[str, Any] = {
            "eventID": ids.short_id(32),
            "eventName": event,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": region,
            "dynamodb": body,
        }
        if identity is not None:
            record["userIdentity"] = identity
        self.store.insert(
            "INSERT INTO ddb_stream_records (stream_id, created, record) VALUES (?, ?, ?)",
            (sid, now, av.dumps(record)),
        )

    def latest(self, stream: Stream) -> int:
        return int(
            self.store.scalar(
                "SELECT coalesce(max(seq), 0) FROM ddb_stream_records WHERE stream_id = ?",
                (stream.id,),
            )
        )

    def bounds(self, stream: Stream) -> tuple[int | None, int | None]:
        row = self.store.query_one(
            "SELECT min(seq), max(seq) FROM ddb_stream_records WHERE stream_id = ? "
            "AND created >= ?",
            (stream.id, clock.now() - RETENTION),
        )
        assert row is not None
        return row[0], row[1]

    def records(self, stream: Stream, after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = self.store.query(
            "SELECT seq, record FROM ddb_stream_records WHERE stream_id = ? AND seq > ? "
            "AND created >= ? ORDER BY seq LIMIT ?",
            (stream.id, after, clock.now() - RETENTION, limit),
        )
        out = []
        for row in rows:
            # The record is plain JSON around the images: only they hold attribute values
            # (a MODIFY event's name must not be walked as a map).
            record = json.loads(row[1])
            _decode_images(record)
            record["dynamodb"]["SequenceNumber"] = sequence_number(row[0])
            out.append((row[0], record))
        return out

    def trim(self) -> None:
        """Forget records past the 24 hour retention, and streams disabled that long ago."""
        cutoff = clock.now() - RETENTION
        self.store.execute("DELETE FROM ddb_stream_records WHERE created < ?", (cutoff,))
        self.store.execute(
            "DELETE FROM ddb_streams WHERE disabled IS NOT NULL AND disabled < ?", (cutoff,)
        )


def _decode_images(record: dict[str, Any]) -> None:
    body = record["dynamodb"]
    for part in ("Keys", "NewImage", "OldImage"):
        if part in body:
            body[part] = av.loads(av.dumps(body[part]))
