"""DynamoDB state in the store: tables (their description as JSON), items keyed for ordered
access, secondary-index rows kept in step with each write, stream records, transaction tokens.

An item row is ``(table id, hash key, range key)``: the keys are stored in a sortable form (see
:func:`values.sort_key`), so a Query reads one partition's range in order through the primary
key, whatever the table's size. ``hh`` (a hash of the partition key) orders a Scan and splits it
into parallel segments. Index rows are ``(table id, index, index keys, table keys)`` holding the
projected item.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nubes.core import clock
from nubes.services.dynamodb import values as av
from nubes.services.dynamodb.errors import RequestValidationException, ValidationException, errors
from nubes.store import Store

Item = dict[str, Any]
PAGE_BYTES = 1024 * 1024

MIGRATIONS = (
    """
    CREATE TABLE ddb_tables (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        spec TEXT NOT NULL,
        UNIQUE (account, region, name)
    );
    CREATE TABLE ddb_items (
        tid INTEGER NOT NULL,
        hk NOT NULL,
        rk NOT NULL,
        hh INTEGER NOT NULL,
        size INTEGER NOT NULL,
        ttl REAL,
        doc TEXT NOT NULL,
        PRIMARY KEY (tid, hk, rk)
    ) WITHOUT ROWID;
    CREATE INDEX ddb_items_scan ON ddb_items (tid, hh, hk, rk);
    CREATE INDEX ddb_items_ttl ON ddb_items (tid, ttl) WHERE ttl IS NOT NULL;
    CREATE TABLE ddb_index_items (
        tid INTEGER NOT NULL,
        idx TEXT NOT NULL,
        hk NOT NULL,
        rk NOT NULL,
        thk NOT NULL,
        trk NOT NULL,
        hh INTEGER NOT NULL,
        size INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (tid, idx, hk, rk, thk, trk)
    ) WITHOUT ROWID;
    CREATE INDEX ddb_index_items_of ON ddb_index_items (tid, thk, trk);
    CREATE TABLE ddb_streams (
        id INTEGER PRIMARY KEY,
        arn TEXT NOT NULL UNIQUE,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        table_name TEXT NOT NULL,
        label TEXT NOT NULL,
        view_type TEXT NOT NULL,
        key_schema TEXT NOT NULL,
        shard_id TEXT NOT NULL,
        created REAL NOT NULL,
        disabled REAL
    );
    CREATE INDEX ddb_streams_table ON ddb_streams (account, region, table_name);
    CREATE TABLE ddb_stream_records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        stream_id INTEGER NOT NULL,
        created REAL NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX ddb_stream_records_of ON ddb_stream_records (stream_id, seq);
    CREATE INDEX ddb_stream_records_age ON ddb_stream_records (created);
    CREATE TABLE ddb_tx_tokens (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        token TEXT NOT NULL,
        digest TEXT NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (account, region, token)
    ) WITHOUT ROWID;
    """,
    # Item counts and sizes kept per table ('') and index as items are written.
    """
    CREATE TABLE ddb_stats (
        tid INTEGER NOT NULL,
        idx TEXT NOT NULL,
        items INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        PRIMARY KEY (tid, idx)
    ) WITHOUT ROWID;
    INSERT INTO ddb_stats (tid, idx, items, bytes)
        SELECT tid, '', count(*), sum(size) FROM ddb_items GROUP BY tid;
    INSERT INTO ddb_stats (tid, idx, items, bytes)
        SELECT tid, idx, count(*), sum(size) FROM ddb_index_items GROUP BY tid, idx;
    """,
)


# --- tables ----------------------------------------------------------------------------------


@dataclass
class Index:
    """A secondary index. A global one may key on up to four partition and four sort key
    attributes (multi-attribute keys); a side with several is stored as one composite value
    (see :func:`composite`) that orders as the attributes do, left to right."""

    name: str
    hash_keys: list[tuple[str, str]]
    range_keys: list[tuple[str, str]]
    projection: dict[str, Any]
    is_global: bool
    spec: dict[str, Any]

    @property
    def hash_key(self) -> tuple[str, str]:
        return self.hash_keys[0]

    @property
    def range_key(self) -> tuple[str, str] | None:
        return self.range_keys[0] if self.range_keys else None

    @property
    def multi(self) -> bool:
        return len(self.hash_keys) > 1 or len(self.range_keys) > 1

    def project(self, item: Item, table: Table) -> Item:
        kind = self.projection.get("ProjectionType", "ALL")
        if kind == "ALL":
            return item
        keep = set(table.key_names) | set(self.key_names)
        if kind == "INCLUDE":
            keep.update(self.projection.get("NonKeyAttributes", []))
        return {k: v for k, v in item.items() if k in keep}

    @property
    def key_names(self) -> list[str]:
        return [name for name, _ in self.key_types()]

    def key_types(self) -> list[tuple[str, str]]:
        return self.hash_keys + self.range_keys

    def hash_storage(self, values: list[Item]) -> Any:
        return _side(values)

    def storage_key(self, item: Item) -> tuple[Any, Any]:
        """The item's (partition, sort) key in the index as stored."""
        return (
            _side([item[n] for n, _ in self.hash_keys]),
            _side([item[n] for n, _ in self.range_keys]),
        )


def _side(values: list[Item]) -> Any:
    if not values:
        return ""
    if len(values) == 1:
        return av.sort_key(values[0])
    return composite(values)


def composite(values: list[Item]) -> bytes:
    """Several key values as one blob whose byte order is their order, left to right: each
    value's sortable form with NUL escaped (as NUL 0xFF), ended by NUL 0x01, so a value that is
    a prefix of another sorts first and every prefix of the list is a prefix of the blob."""
    out = bytearray()
    for value in values:
        out += _component(value) + b"\x00\x01"
    return bytes(out)


def _component(value: Item) -> bytes:
    key = av.sort_key(value)
    raw = key if isinstance(key, bytes) else str(key).encode()
    return raw.replace(b"\x00", b"\x00\xff")


@dataclass
class Table:
    id: int
    account: str
    region: str
    name: str
    spec: dict[str, Any]
    """The table's description as DescribeTable answers it (dynamic figures filled in later),
    plus private settings under ``_``-prefixed keys (TTL, PITR)."""
    indexes: dict[str, Index] = field(default_factory=dict)

    def __post_init__(self) -> None:
        types = {d["AttributeName"]: d["AttributeType"] for d in self.spec["AttributeDefinitions"]}
        schema = self.spec["KeySchema"]
        hash_key = _key(schema, "HASH", types)
        assert hash_key is not None
        self.hash_key: tuple[str, str] = hash_key
        self.range_key = _key(schema, "RANGE", types)
        self.indexes = {}
        for kind in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
            for spec in self.spec.get(kind, []):
                self.indexes[spec["IndexName"]] = Index(
                    spec["IndexName"],
                    _keys(spec["KeySchema"], "HASH", types),
                    _keys(spec["KeySchema"], "RANGE", types),
                    spec["Projection"],
                    kind.startswith("Global"),
                    spec,
                )

    @property
    def arn(self) -> str:
        return str(self.spec["TableArn"])

    @property
    def key_names(self) -> list[str]:
        return [self.hash_key[0]] + ([self.range_key[0]] if self.range_key else [])

    @property
    def stream_view(self) -> str | None:
        stream = self.spec.get("StreamSpecification") or {}
        return stream.get("StreamViewType") if stream.get("StreamEnabled") else None

    @property
    def ttl_attribute(self) -> str | None:
        ttl = self.spec.get("_ttl") or {}
        return ttl.get("AttributeName") if ttl.get("Enabled") else None

    def key_of(self, item: Item) -> Item:
        return {name: item[name] for name in self.key_names if name in item}

    def storage_key(self, key: Item) -> tuple[Any, Any]:
        hk = av.sort_key(key[self.hash_key[0]])
        rk = av.sort_key(key[self.range_key[0]]) if self.range_key else ""
        return hk, rk

    def check_key(self, key: Item) -> Item:
        """A Key parameter: exactly the key attributes, of the schema's types (the values
        themselves are checked first, as DynamoDB does)."""
        checked = av.check_item(key)
        if len(key) != len(self.key_names) or any(n not in key for n in self.key_names):
            raise ValidationException("The provided key element does not match the schema")
        for name, kind in self.key_types():
            if av.value_type(key[name]) != kind:
                raise ValidationException("The provided key element does not match the schema")
        self._check_key_values(checked)
        return checked

    def check_item_keys(self, item: Item, updated: bool = False) -> None:
        """An item written whole (PutItem) or as an update left it: key attributes present, of
        the schema's types; index keys (when present) of theirs and not empty."""
        for name, kind in self.key_types():
            if name not in item:
                raise av.invalid(f"Missing the key {name} in the item")
            actual = av.value_type(item[name])
            if actual != kind:
                raise av.invalid(f"Type mismatch for key {name} expected: {kind} actual: {actual}")
        self._check_key_values(item)
        # DynamoDB names the first index, by name, that an attribute keys.
        for index in sorted(self.indexes.values(), key=lambda i: i.name):
            for name, kind in index.key_types():
                if name in item and av.value_type(item[name]) != kind:
                    raise av.invalid(
                        f"Type mismatch for Index Key {name} Expected: {kind} Actual: "
                        f"{av.value_type(item[name])} IndexName: {index.name}"
                    )
                if name in item and av.value_size(item[name]) > _key_limit(index, name):
                    raise av.invalid(_key_size_message(index, name))
                if name in item and _empty_scalar(item[name]):
                    what = (
                        "The update expression attempted to update a secondary index key to a "
                        "value that is not supported."
                        if updated
                        else "A value specified for a secondary index key is not supported."
                    )
                    raise ValidationException(
                        f"One or more parameter values are not valid. {what} The AttributeValue "
                        f"for a key attribute cannot contain an empty {_type_noun(item[name])} "
                        f"value. IndexName: {index.name}, IndexKey: {name}"
                    )

    def key_types(self) -> list[tuple[str, str]]:
        return [self.hash_key] + ([self.range_key] if self.range_key else [])

    @property
    def hash_keys(self) -> list[tuple[str, str]]:
        return [self.hash_key]

    def hash_storage(self, values: list[Item]) -> Any:
        return av.sort_key(values[0])

    def _check_key_values(self, item: Item) -> None:
        for name, _ in self.key_types():
            if _empty_scalar(item[name]):
                raise ValidationException(
                    "One or more parameter values are not valid. The AttributeValue for a key "
                    f"attribute cannot contain an empty {_type_noun(item[name])} value. "
                    f"Key: {name}"
                )
        for name, _ in self.key_types():
            if av.value_size(item[name]) > _key_limit(self, name):
                raise av.invalid(_key_size_message(self, name))


def _key_limit(schema: Table | Index, name: str) -> int:
    """A key attribute's largest size: 2048 bytes for a partition key, 1024 for a sort key
    (tables and their indexes alike, each attribute of a multi-attribute key alike)."""
    return av.MAX_HASH_KEY if _is_hash(schema, name) else av.MAX_RANGE_KEY


def _is_hash(schema: Table | Index, name: str) -> bool:
    return any(name == n for n, _ in schema.hash_keys)


def _key_size_message(schema: Table | Index, name: str) -> str:
    if _is_hash(schema, name):
        return "Size of hashkey has exceeded the maximum size limit of2048 bytes"
    return "Aggregated size of all range keys has exceeded the size limit of 1024 bytes"


def index_key_fits(index: Index, item: Item) -> bool:
    """Whether an item written before its index existed can be in it: key attributes of the
    declared types, not empty, within the key size limits. DynamoDB leaves the others out of
    the index when it backfills (index key violations), it does not refuse the UpdateTable."""
    return all(
        av.value_type(item[name]) == kind
        and not _empty_scalar(item[name])
        and av.value_size(item[name]) <= _key_limit(index, name)
        for name, kind in index.key_types()
    )


def _empty_scalar(value: Item) -> bool:
    kind = av.value_type(value)
    return kind in ("S", "B") and len(value[kind]) == 0


def _type_noun(value: Item) -> str:
    return "string" if "S" in value else "binary"


def _keys(schema: list[dict[str, str]], kind: str, types: dict[str, str]) -> list[tuple[str, str]]:
    return [(e["AttributeName"], types[e["AttributeName"]]) for e in schema if e["KeyType"] == kind]


def _key(schema: list[dict[str, str]], kind: str, types: dict[str, str]) -> tuple[str, str] | None:
    for element in schema:
        if element["KeyType"] == kind:
            return element["AttributeName"], types[element["AttributeName"]]
    return None


_TABLE_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")


def table_name(name: str) -> str:
    """A TableName parameter checked: a table's name, or its ARN (accepted in its place)."""
    if name.startswith("arn:"):
        kind, _, rest = name.split(":", 5)[-1].partition("/")
        if kind == "table" and rest and "/" not in rest:
            name = rest
    if _TABLE_NAME.fullmatch(name):
        return name
    if not 3 <= len(name) <= 255:
        bound = "greater than or equal to 3" if len(name) < 3 else "less than or equal to 255"
        raise RequestValidationException(
            f"Value '{name}' at 'tableName' failed to satisfy constraint: Member must have "
            f"length {bound}"
        )
    raise ValidationException(
        f"1 validation error detected: Value '{name}' at 'tableName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    )


class Tables:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[str, str, str], Table] = {}

    def reset(self) -> None:
        self._cache.clear()

    def find(self, account: str, region: str, name: str) -> Table | None:
        key = (account, region, table_name(name))
        table = self._cache.get(key)
        if table is not None:
            return table
        row = self.store.query_one(
            "SELECT id, spec FROM ddb_tables WHERE account = ? AND region = ? AND name = ?", key
        )
        if row is None:
            return None
        table = Table(row["id"], account, region, key[2], json.loads(row["spec"]))
        self._cache[key] = table
        return table

    def get(self, account: str, region: str, name: str, describe: bool = False) -> Table:
        name = table_name(name)
        table = self.find(account, region, name)
        if table is None:
            message = f"Requested resource not found: Table: {name} not found"
            raise errors.ResourceNotFoundException(
                message if describe else "Requested resource not found"
            )
        return table

    def editable(self, account: str, region: str, name: str) -> Table:
        """The table read afresh and out of the cache, so changes a failing request made to
        its spec never outlive the request's rolled-back transaction."""
        name = table_name(name)
        self._cache.pop((account, region, name), None)
        table = self.get(account, region, name, describe=True)
        self._cache.pop((account, region, name), None)
        return table

    def create(self, account: str, region: str, name: str, spec: dict[str, Any]) -> Table:
        tid = self.store.insert(
            "INSERT INTO ddb_tables (account, region, name, spec) VALUES (?, ?, ?, ?)",
            (account, region, name, json.dumps(spec)),
        )
        return Table(tid, account, region, name, spec)

    def save(self, table: Table) -> Table:
        self._cache.pop((table.account, table.region, table.name), None)
        self.store.execute(
            "UPDATE ddb_tables SET spec = ? WHERE id = ?", (json.dumps(table.spec), table.id)
        )
        return Table(table.id, table.account, table.region, table.name, table.spec)

    def delete(self, table: Table) -> None:
        self._cache.pop((table.account, table.region, table.name), None)
        self.store.execute("DELETE FROM ddb_items WHERE tid = ?", (table.id,))
        self.store.execute("DELETE FROM ddb_index_items WHERE tid = ?", (table.id,))
        self.store.execute("DELETE FROM ddb_stats WHERE tid = ?", (table.id,))
        self.store.execute("DELETE FROM ddb_tables WHERE id = ?", (table.id,))

    def names(self, account: str, region: str, after: str | None, limit: int) -> list[str]:
        rows = self.store.query(
            "SELECT name FROM ddb_tables WHERE account = ? AND region = ? AND name > ? "
            "ORDER BY name LIMIT ?",
            (account, region, after or "", limit),
        )
        return [r["name"] for r in rows]

    def all(self) -> list[Table]:
        rows = self.store.query("SELECT id, account, region, name, spec FROM ddb_tables")
        return [
            Table(r["id"], r["account"], r["region"], r["name"], json.loads(r["spec"]))
            for r in rows
        ]

    def stats(self, table: Table) -> tuple[int, int, dict[str, tuple[int, int]]]:
        """Item count and bytes of the table and of each index."""
        rows = self.store.query(
            "SELECT idx, items, bytes FROM ddb_stats WHERE tid = ?", (table.id,)
        )
        per = {r[0]: (r[1], r[2]) for r in rows}
        count, size = per.pop("", (0, 0))
        return count, size, per


@dataclass
class Write:
    """One item change prepared (checked, not yet applied)."""

    table: Table
    key: Item
    old: Item | None
    new: Item | None
    paths: list[tuple[str | int, ...]] = field(default_factory=list)


# --- items -----------------------------------------------------------------------------------


@dataclass
class Page:
    items: list[Item]
    scanned: int
    bytes_read: int
    last_key: Item | None


def _hash32(hk: Any) -> int:
    return zlib.crc32(hk if isinstance(hk, bytes) else str(hk).encode())


class Items:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, table: Table, key: Item) -> Item | None:
        hk, rk = table.storage_key(key)
        row = self.store.query_one(
            "SELECT doc FROM ddb_items WHERE tid = ? AND hk = ? AND rk = ?", (table.id, hk, rk)
        )
        return None if row is None else av.loads(row[0])

    def put(self, table: Table, item: Item, old: Item | None, size: int) -> None:
        hk, rk = table.storage_key(item)
        ttl = _ttl_of(item, table.ttl_attribute)
        self.store.execute(
            "INSERT OR REPLACE INTO ddb_items (tid, hk, rk, hh, size, ttl, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (table.id, hk, rk, _hash32(hk), size, ttl, av.dumps(item)),
        )
        old_size = av.item_size(old) if old is not None else 0
        self._count(table.id, "", 0 if old is not None else 1, size - old_size)
        if table.indexes:
            self._index(table, hk, rk, item, old)

    def delete(self, table: Table, key: Item, old: Item) -> None:
        hk, rk = table.storage_key(key)
        self.store.execute(
            "DELETE FROM ddb_items WHERE tid = ? AND hk = ? AND rk = ?", (table.id, hk, rk)
        )
        self._count(table.id, "", -1, -av.item_size(old))
        if table.indexes:
            self._index(table, hk, rk, None, old)

    def _count(self, tid: int, index: str, items: int, size: int) -> None:
        """Keep the item count and bytes of a table ('') or index current, in the write's own
        transaction, so DescribeTable reads them without counting."""
        if items or size:
            self.store.execute(
                "INSERT INTO ddb_stats (tid, idx, items, bytes) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(tid, idx) DO UPDATE SET items = items + excluded.items, "
                "bytes = bytes + excluded.bytes",
                (tid, index, items, size),
            )

    def _index(self, table: Table, hk: Any, rk: Any, item: Item | None, old: Item | None) -> None:
        if old is not None:
            self.store.execute(
                "DELETE FROM ddb_index_items WHERE tid = ? AND thk = ? AND trk = ?",
                (table.id, hk, rk),
            )
        for index in table.indexes.values():
            before = _indexed_size(table, index, old)
            after = self._index_row(table, index, hk, rk, item) if item is not None else None
            self._count(
                table.id,
                index.name,
                (after is not None) - (before is not None),
                (after or 0) - (before or 0),
            )

    def _index_row(self, table: Table, index: Index, hk: Any, rk: Any, item: Item) -> int | None:
        """Write the item's row in the index; its projected size (None: not in the index)."""
        if any(name not in item for name in index.key_names):
            return None  # sparse: items without any of the index's keys are not in it
        ihk, irk = index.storage_key(item)
        projected = index.project(item, table)
        size = av.item_size(projected)
        self.store.execute(
            "INSERT OR REPLACE INTO ddb_index_items "
            "(tid, idx, hk, rk, thk, trk, hh, size, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (table.id, index.name, ihk, irk, hk, rk, _hash32(ihk), size, av.dumps(projected)),
        )
        return size

    def backfill(self, table: Table, index: Index) -> None:
        """Build a new global index from the items already in the table."""
        count = total = 0
        for hk, rk, doc in self._all_rows(table):
            item = av.loads(doc)
            if any(name not in item for name in index.key_names):
                continue
            if not index_key_fits(index, item):
                continue
            size = self._index_row(table, index, hk, rk, item)
            if size is not None:
                count += 1
                total += size
        self._count(table.id, index.name, count, total)

    def every(self, table: Table) -> Iterator[Item]:
        for _, _, doc in self._all_rows(table):
            yield av.loads(doc)

    def drop_index(self, table: Table, name: str) -> None:
        self.store.execute(
            "DELETE FROM ddb_index_items WHERE tid = ? AND idx = ?", (table.id, name)
        )
        self.store.execute("DELETE FROM ddb_stats WHERE tid = ? AND idx = ?", (table.id, name))

    def _all_rows(self, table: Table) -> Iterator[tuple[Any, Any, str]]:
        """Every item of the table, read 500 at a time (hash keys are never empty, so
        ('', '') is below them all)."""
        after: tuple[Any, Any] = ("", "")
        while True:
            rows = self.store.query(
                "SELECT hk, rk, doc FROM ddb_items WHERE tid = ? AND (hk, rk) > (?, ?) "
                "ORDER BY hk, rk LIMIT 500",
                (table.id, *after),
            )
            for row in rows:
                yield row[0], row[1], row[2]
            if len(rows) < 500:
                return
            after = (rows[-1][0], rows[-1][1])

    def set_ttl_attribute(self, table: Table, attribute: str | None) -> None:
        """Recompute each item's expiry after TTL was enabled (or clear it when disabled)."""
        if attribute is None:
            self.store.execute("UPDATE ddb_items SET ttl = NULL WHERE tid = ?", (table.id,))
            return
        for hk, rk, doc in list(self._all_rows(table)):
            ttl = _ttl_of(av.loads(doc), attribute)
            self.store.execute(
                "UPDATE ddb_items SET ttl = ? WHERE tid = ? AND hk = ? AND rk = ?",
                (ttl, table.id, hk, rk),
            )

    def expired(self, table: Table, now: float, limit: int) -> list[Item]:
        rows = self.store.query(
            "SELECT doc FROM ddb_items WHERE tid = ? AND ttl IS NOT NULL AND ttl <= ? LIMIT ?",
            (table.id, now, limit),
        )
        return [av.loads(r[0]) for r in rows]

    # -- query and scan ---------------------------------------------------------------------

    def query(
        self,
        table: Table,
        index: Index | None,
        hash_value: Any,
        range_sql: tuple[str, list[Any]],
        forward: bool,
        start: Item | None,
        limit: int | None,
    ) -> Page:
        source, tail = _source(index)
        where = f"tid = ?{source[1]} AND hk = ?"
        params: list[Any] = [table.id, *source[2], hash_value]
        cond, cond_params = range_sql
        if cond:
            where += f" AND {cond}"
            params += cond_params
        order_cols = ["rk", *tail]
        direction = "ASC" if forward else "DESC"
        order = ", ".join(f"{c} {direction}" for c in order_cols)
        cursor = _position(table, index, start)[1:] if start else None
        return self._read(
            source[0], where, params, order, order_cols, forward, cursor, limit, table, index
        )

    def scan(
        self,
        table: Table,
        index: Index | None,
        segment: tuple[int, int] | None,
        start: Item | None,
        limit: int | None,
    ) -> Page:
        source, tail = _source(index)
        where = f"tid = ?{source[1]}"
        params: list[Any] = [table.id, *source[2]]
        if segment is not None:
            number, total = segment
            low = (number << 32) // total
            high = ((number + 1) << 32) // total
            where += " AND hh >= ? AND hh < ?"
            params += [low, high]
        order_cols = ["hh", "hk", "rk", *tail]
        order = ", ".join(order_cols)
        cursor = None
        if start:
            values = _position(table, index, start)
            cursor = [_hash32(values[0]), *values]
        return self._read(
            source[0], where, params, order, order_cols, True, cursor, limit, table, index
        )

    def _read(
        self,
        source: str,
        where: str,
        params: list[Any],
        order: str,
        order_cols: list[str],
        forward: bool,
        cursor: list[Any] | None,
        limit: int | None,
        table: Table,
        index: Index | None,
    ) -> Page:
        """Rows in order after ``cursor``, up to ``limit`` items or 1 MB, fetched in chunks."""
        items: list[Item] = []
        read = 0
        chunk = min(limit, 1000) if limit else 1000
        columns = ", ".join(order_cols)
        while True:
            sql_where, sql_params = where, list(params)
            if cursor is not None:
                marks = ", ".join("?" for _ in order_cols)
                sql_where += f" AND ({columns}) {'>' if forward else '<'} ({marks})"
                sql_params += cursor
            rows = self.store.query(
                f"SELECT size, doc, {columns} FROM {source} WHERE {sql_where} "
                f"ORDER BY {order} LIMIT ?",
                (*sql_params, chunk),
            )
            for row in rows:
                items.append(av.loads(row[1]))
                read += row[0]
                cursor = list(row[2:])
                # Like DynamoDB, a page that stopped at its limit names its last key even
                # when nothing follows it.
                if read >= PAGE_BYTES or (limit is not None and len(items) >= limit):
                    return Page(items, len(items), read, _last_key(table, index, items[-1]))
            if len(rows) < chunk:
                return Page(items, len(items), read, None)
            if limit is not None:
                chunk = min(limit - len(items), 1000)


def _source(index: Index | None) -> tuple[tuple[str, str, list[Any]], list[str]]:
    if index is None:
        return ("ddb_items", "", []), []
    return ("ddb_index_items", " AND idx = ?", [index.name]), ["thk", "trk"]


def _position(table: Table, index: Index | None, start: Item) -> list[Any]:
    """A start key as stored: (index hash, index range,) table hash, table range."""
    try:
        thk, trk = table.storage_key(start)
        if index is None:
            return [thk, trk]
        ihk, irk = index.storage_key(start)
    except (KeyError, StopIteration):
        raise ValidationException("The provided starting key is invalid") from None
    return [ihk, irk, thk, trk]


def _last_key(table: Table, index: Index | None, item: Item) -> Item:
    names = list(table.key_names)
    if index is not None:
        names += [n for n in index.key_names if n not in names]
    return {n: item[n] for n in names if n in item}


def _indexed_size(table: Table, index: Index, item: Item | None) -> int | None:
    if item is None or any(name not in item for name in index.key_names):
        return None
    return av.item_size(index.project(item, table))


def _ttl_of(item: Item, attribute: str | None) -> float | None:
    if attribute is None:
        return None
    value = item.get(attribute)
    if value is None or "N" not in value:
        return None
    return float(value["N"])


def range_condition(op: str | None, operands: tuple[Item, ...]) -> tuple[str, list[Any]]:
    """The SQL over ``rk`` for a sort key condition (prefixes become a half-open range)."""
    if op is None:
        return "", []
    keys = [av.sort_key(v) for v in operands]
    if op == "BETWEEN":
        return "rk >= ? AND rk <= ?", keys
    if op == "begins_with":
        prefix = keys[0]
        upper = _successor(prefix)
        if upper is None:
            return "rk >= ?", [prefix]
        return "rk >= ? AND rk < ?", [prefix, upper]
    sql_op = {"=": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[op]
    return f"rk {sql_op} ?", keys


def composite_range_condition(
    equal: list[Item], op: str | None, operands: tuple[Item, ...]
) -> tuple[str, list[Any]]:
    """The SQL over a composite ``rk``: the leading sort key attributes equal to ``equal``,
    the next one meeting ``op`` (see :func:`composite` for why byte ranges do it)."""
    prefix = composite(equal)
    if op is None:
        return _between(prefix, _successor(prefix))
    values = [composite([v]) for v in operands]
    if op == "=":
        return _between(prefix + values[0], _successor(prefix + values[0]))
    if op == "<":
        return _between(prefix, prefix + values[0])
    if op == "<=":
        return _between(prefix, _successor(prefix + values[0]))
    if op == ">":
        return _between(_successor(prefix + values[0]), _successor(prefix))
    if op == ">=":
        return _between(prefix + values[0], _successor(prefix))
    if op == "BETWEEN":
        return _between(prefix + values[0], _successor(prefix + values[1]))
    # begins_with: the value's bytes without the terminator that ends a whole value.
    start = prefix + _component(operands[0])
    return _between(start, _successor(start))


def _between(low: bytes, high: Any) -> tuple[str, list[Any]]:
    if not low and high is None:
        return "", []
    if high is None:
        return "rk >= ?", [low]
    return "rk >= ? AND rk < ?", [low, high]


def _successor(prefix: Any) -> Any:
    """The smallest key above every key starting with ``prefix`` (None when unbounded)."""
    if isinstance(prefix, bytes):
        trimmed = prefix.rstrip(b"\xff")
        if not trimmed:
            return None
        return trimmed[:-1] + bytes([trimmed[-1] + 1])
    if not prefix:
        return None
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return None
    nxt = last + 1
    if 0xD800 <= nxt <= 0xDFFF:
        nxt = 0xE000
    return prefix[:-1] + chr(nxt)


# --- transaction tokens ----------------------------------------------------------------------


class Tokens:
    """ClientRequestTokens of TransactWriteItems, remembered for 10 minutes."""

    TTL = 600.0

    def __init__(self, store: Store) -> None:
        self.store = store

    def seen(self, account: str, region: str, token: str) -> str | None:
        self.store.execute("DELETE FROM ddb_tx_tokens WHERE created < ?", (clock.now() - self.TTL,))
        return self.store.scalar(
            "SELECT digest FROM ddb_tx_tokens WHERE account = ? AND region = ? AND token = ?",
            (account, region, token),
        )

    def remember(self, account: str, region: str, token: str, digest: str) -> None:
        self.store.execute(
            "INSERT OR REPLACE INTO ddb_tx_tokens (account, region, token, digest, created) "
            "VALUES (?, ?, ?, ?, ?)",
            (account, region, token, digest, clock.now()),
        )
