"""S3's records in the store: buckets, their configurations, object versions, multipart uploads.

Keys are TEXT compared with SQLite's BINARY collation, which is UTF-8 byte order: the order S3
lists keys in. Listings read only their page through the ``(bucket, key)`` indexes and jump over
a whole common prefix with one range seek instead of walking the keys below it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nubes.core.arns import partition_of
from nubes.store import Row, Store

SCHEMA = """
CREATE TABLE s3_buckets (
    name TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    created REAL NOT NULL,
    versioning TEXT,
    object_lock INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX s3_buckets_account ON s3_buckets (account_id, name);

CREATE TABLE s3_bucket_configs (
    bucket TEXT NOT NULL REFERENCES s3_buckets (name) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (bucket, kind)
);

CREATE TABLE s3_objects (
    id INTEGER PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    version_id TEXT NOT NULL,
    latest INTEGER NOT NULL,
    delete_marker INTEGER NOT NULL DEFAULT 0,
    last_modified REAL NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    etag TEXT NOT NULL DEFAULT '',
    blob_id TEXT,
    parts TEXT,
    attrs TEXT NOT NULL DEFAULT '{}',
    data BLOB
);
CREATE UNIQUE INDEX s3_objects_latest ON s3_objects (bucket, key) WHERE latest = 1;
CREATE INDEX s3_objects_versions ON s3_objects (bucket, key, id DESC);

CREATE TABLE s3_uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    initiated REAL NOT NULL,
    attrs TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX s3_uploads_key ON s3_uploads (bucket, key, initiated);

CREATE TABLE s3_parts (
    upload_id TEXT NOT NULL REFERENCES s3_uploads (upload_id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL,
    blob_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified REAL NOT NULL,
    checksum TEXT,
    PRIMARY KEY (upload_id, part_number)
);
"""

COMPLETED_UPLOADS = """
CREATE TABLE s3_completed_uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    completed REAL NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX s3_completed_uploads_time ON s3_completed_uploads (completed);
"""
"""Answers of completed multipart uploads, so that a repeated completion (a client retrying
after a lost response) gets the same answer while it is kept."""

ABORTED_UPLOADS = """
ALTER TABLE s3_completed_uploads ADD COLUMN aborted INTEGER NOT NULL DEFAULT 0;
"""
"""Aborted uploads are kept beside the completed ones: S3 answers a repeated abort with 204 as
it answers the first, while completing an aborted upload stays ``NoSuchUpload``."""

LISTED_COLUMNS = (
    "id, bucket, key, version_id, latest, delete_marker, last_modified, size, etag, blob_id, "
    "parts, attrs"
)
"""What listings read: everything but an inline body (kept last in the row, so reading the
other columns never walks its overflow pages)."""
OBJECT_COLUMNS = LISTED_COLUMNS + ", data"


@dataclass
class Bucket:
    name: str
    account_id: str
    region: str
    created: float
    versioning: str | None
    object_lock: bool

    @classmethod
    def of(cls, row: Row) -> Bucket:
        return cls(
            row["name"],
            row["account_id"],
            row["region"],
            row["created"],
            row["versioning"],
            bool(row["object_lock"]),
        )

    @property
    def arn(self) -> str:
        """In the partition of the bucket's region (its tags are kept under this ARN too)."""
        return f"arn:{partition_of(self.region)}:s3:::{self.name}"


def successor(text: str) -> str | None:
    """The smallest string greater than every string starting with ``text`` (None: no bound)."""
    while text:
        code = ord(text[-1]) + 1
        if code == 0xD800:
            code = 0xE000
        if code <= 0x10FFFF:
            return text[:-1] + chr(code)
        text = text[:-1]
    return None


def dump(document: Any) -> str:
    """JSON for a configuration document; timestamps are kept as ``{"$ts": epoch}``."""

    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return {"$ts": value.timestamp()}
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        raise TypeError(type(value))

    return json.dumps(document, default=default, separators=(",", ":"))


def load(text: str) -> Any:
    def hook(obj: dict[str, Any]) -> Any:
        if len(obj) == 1 and "$ts" in obj:
            return datetime.fromtimestamp(obj["$ts"], UTC)
        return obj

    return json.loads(text, object_hook=hook)


def load_attrs(text: str) -> Any:
    """An object's (or upload's, or part's) own JSON: it holds no timestamps as documents, so
    the plain decoder does (listings decode one per key)."""
    return json.loads(text)


@dataclass
class Entry:
    """One item of a listing: an object version row, or a common prefix."""

    row: Row | None = None
    prefix: str | None = None


class S3Store:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- buckets ----------------------------------------------------------------------------

    def bucket(self, name: str) -> Bucket | None:
        row = self.store.query_one("SELECT * FROM s3_buckets WHERE name = ?", (name,))
        return Bucket.of(row) if row else None

    def create_bucket(self, bucket: Bucket) -> None:
        self.store.execute(
            "INSERT INTO s3_buckets (name, account_id, region, created, versioning, object_lock) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                bucket.name,
                bucket.account_id,
                bucket.region,
                bucket.created,
                bucket.versioning,
                int(bucket.object_lock),
            ),
        )

    def delete_bucket(self, name: str) -> None:
        self.store.execute("DELETE FROM s3_buckets WHERE name = ?", (name,))

    def set_versioning(self, name: str, status: str) -> None:
        self.store.execute("UPDATE s3_buckets SET versioning = ? WHERE name = ?", (status, name))

    def set_object_lock(self, name: str) -> None:
        self.store.execute("UPDATE s3_buckets SET object_lock = 1 WHERE name = ?", (name,))

    def buckets(
        self, account_id: str, prefix: str, after: str, region: str | None, limit: int
    ) -> list[Bucket]:
        sql = "SELECT * FROM s3_buckets WHERE account_id = ? AND name > ?"
        params: list[Any] = [account_id, after]
        if prefix:
            sql += " AND name >= ?"
            params.append(prefix)
            upper = successor(prefix)
            if upper:
                sql += " AND name < ?"
                params.append(upper)
        if region:
            sql += " AND region = ?"
            params.append(region)
        sql += " ORDER BY name LIMIT ?"
        params.append(limit)
        return [Bucket.of(r) for r in self.store.query(sql, params)]

    def is_empty(self, name: str) -> bool:
        """No object versions or delete markers (in-progress uploads do not count)."""
        found = self.store.scalar("SELECT 1 FROM s3_objects WHERE bucket = ? LIMIT 1", (name,))
        return found is None

    # -- bucket configurations (CORS, policy, tagging, ...) ---------------------------------

    def config(self, bucket: str, kind: str) -> Any | None:
        text = self.store.scalar(
            "SELECT document FROM s3_bucket_configs WHERE bucket = ? AND kind = ?", (bucket, kind)
        )
        return None if text is None else load(text)

    def put_config(self, bucket: str, kind: str, document: Any) -> None:
        self.store.execute(
            "INSERT INTO s3_bucket_configs (bucket, kind, document) VALUES (?, ?, ?) "
            "ON CONFLICT (bucket, kind) DO UPDATE SET document = excluded.document",
            (bucket, kind, dump(document)),
        )

    def delete_config(self, bucket: str, kind: str) -> None:
        self.store.execute(
            "DELETE FROM s3_bucket_configs WHERE bucket = ? AND kind = ?", (bucket, kind)
        )

    def named_configs(self, bucket: str, family: str) -> list[Any]:
        """The documents of one family of Id-keyed configurations (``analytics:<Id>``...)."""
        rows = self.store.query(
            "SELECT document FROM s3_bucket_configs WHERE bucket = ? AND kind >= ? AND kind < ? "
            "ORDER BY kind",
            (bucket, f"{family}:", f"{family};"),
        )
        return [load(r["document"]) for r in rows]

    def configs(self, kind: str) -> list[tuple[str, Any]]:
        rows = self.store.query(
            "SELECT bucket, document FROM s3_bucket_configs WHERE kind = ?", (kind,)
        )
        return [(r["bucket"], load(r["document"])) for r in rows]

    # -- objects ----------------------------------------------------------------------------

    def latest(self, bucket: str, key: str) -> Row | None:
        return self.store.query_one(
            f"SELECT {OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ? AND key = ? AND latest = 1",
            (bucket, key),
        )

    def version(self, bucket: str, key: str, version_id: str) -> Row | None:
        return self.store.query_one(
            f"SELECT {OBJECT_COLUMNS} FROM s3_objects "
            "WHERE bucket = ? AND key = ? AND version_id = ?",
            (bucket, key, version_id),
        )

    def add_version(self, values: dict[str, Any], replace_null: bool) -> list[Row]:
        """Make ``values`` the latest version of its key. With ``replace_null`` (versioning off
        or suspended) the key's ``null`` version goes away; the removed rows are returned so
        their bodies can be deleted once the transaction commits."""
        bucket, key = values["bucket"], values["key"]
        removed: list[Row] = []
        if replace_null:
            removed = self.store.query(
                f"SELECT {OBJECT_COLUMNS} FROM s3_objects "
                "WHERE bucket = ? AND key = ? AND version_id = 'null'",
                (bucket, key),
            )
            if removed:
                self.store.execute(
                    "DELETE FROM s3_objects WHERE bucket = ? AND key = ? AND version_id = 'null'",
                    (bucket, key),
                )
        self.store.execute(
            "UPDATE s3_objects SET latest = 0 WHERE bucket = ? AND key = ? AND latest = 1",
            (bucket, key),
        )
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.store.execute(
            f"INSERT INTO s3_objects ({columns}, latest) VALUES ({marks}, 1)", list(values.values())
        )
        return removed

    def remove_version(self, row: Row) -> None:
        """Delete one version; when it was the latest, the next newest takes its place."""
        self.store.execute("DELETE FROM s3_objects WHERE id = ?", (row["id"],))
        if row["latest"]:
            self.store.execute(
                "UPDATE s3_objects SET latest = 1 WHERE id = (SELECT id FROM s3_objects "
                "WHERE bucket = ? AND key = ? ORDER BY id DESC LIMIT 1)",
                (row["bucket"], row["key"]),
            )

    def under_prefix(self, bucket: str, prefix: str, latest: bool) -> list[Row]:
        """Current objects (or noncurrent versions and delete markers) below ``prefix``, each
        with ``superseded``: when the next newer version of its key was made."""
        upper = successor(prefix) if prefix else None
        sql = (
            f"SELECT {LISTED_COLUMNS}, (SELECT MIN(n.last_modified) FROM s3_objects n "
            "WHERE n.bucket = o.bucket AND n.key = o.key AND n.id > o.id) AS superseded "
            "FROM s3_objects o WHERE bucket = ? AND latest = ? AND key >= ?"
        )
        params: list[Any] = [bucket, int(latest), prefix]
        if upper is not None:
            sql += " AND key < ?"
            params.append(upper)
        return self.store.query(sql, params)

    def version_count(self, bucket: str, key: str) -> int:
        return int(
            self.store.scalar(
                "SELECT COUNT(*) FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key)
            )
        )

    def stale_uploads(self, bucket: str, prefix: str, before: float) -> list[Row]:
        upper = successor(prefix) if prefix else "\U0010ffff"
        return self.store.query(
            "SELECT * FROM s3_uploads WHERE bucket = ? AND key >= ? AND key < ? AND initiated < ?",
            (bucket, prefix, upper, before),
        )

    def update_attrs(self, row_id: int, attrs: dict[str, Any]) -> None:
        self.store.execute("UPDATE s3_objects SET attrs = ? WHERE id = ?", (dump(attrs), row_id))

    def listing(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        after: str,
        limit: int,
        versions: bool = False,
        after_id: int | None = None,
    ) -> tuple[list[Entry], bool]:
        """A page of keys (or of all versions, newest first per key) in UTF-8 order after
        ``after`` (and, for versions, after row ``after_id`` of that key), with common prefixes
        rolled up; the flag says whether more follow."""
        out: list[Entry] = []
        if limit == 0:
            # S3 answers max-keys=0 with an empty, untruncated page.
            return out, False
        for entry in self._walk(bucket, prefix, delimiter, after, versions, after_id, limit + 1):
            if entry.prefix is not None and after and entry.prefix <= after:
                continue  # a prefix the previous page ended inside, already returned
            if len(out) == limit:
                return out, True
            out.append(entry)
        return out, False

    def _walk(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        after: str,
        versions: bool,
        after_id: int | None,
        batch: int,
    ) -> Iterator[Entry]:
        upper = successor(prefix) if prefix else None
        where = "bucket = ?" + ("" if versions else " AND latest = 1 AND delete_marker = 0")
        # Current keys come from the partial index of latest versions, so noncurrent versions
        # never cost a listing anything.
        table = "s3_objects" if versions else "s3_objects INDEXED BY s3_objects_latest"
        order = "key, id DESC" if versions else "key"
        if versions and after and after_id is not None:
            # The rest of the versions of the key the previous page stopped in.
            rows = self.store.query(
                f"SELECT {LISTED_COLUMNS} FROM s3_objects WHERE bucket = ? AND key = ? AND id < ? "
                "ORDER BY id DESC",
                (bucket, after, after_id),
            )
            if after >= prefix and (upper is None or after < upper):
                for row in rows:
                    yield Entry(row=row)
        lower, inclusive = (after, False) if after and after >= prefix else (prefix, True)
        # With a delimiter a batch may end at the first common prefix: start small and grow
        # while no prefix cuts it short, so rows read stay close to entries returned.
        first = min(batch, 16) if delimiter else batch
        size = first
        while True:
            compare = ">=" if inclusive else ">"
            sql = f"SELECT {LISTED_COLUMNS} FROM {table} WHERE {where} AND key {compare} ?"
            params: list[Any] = [bucket, lower]
            if upper is not None:
                sql += " AND key < ?"
                params.append(upper)
            rows = self.store.query(f"{sql} ORDER BY {order} LIMIT ?", [*params, size])
            jumped = False
            for row in rows:
                key = row["key"]
                if delimiter:
                    cut = key.find(delimiter, len(prefix))
                    if cut >= 0:
                        common = key[: cut + len(delimiter)]
                        yield Entry(prefix=common)
                        following = successor(common)
                        if following is None:
                            return
                        lower, inclusive, jumped = following, True, True
                        break
                yield Entry(row=row)
            if jumped:
                size = first
                continue
            if len(rows) < size:
                return
            # Versions of one key may straddle batches: resume after the last row's key only
            # once all of that key's versions were seen.
            last = rows[-1]
            if versions:
                yield from (
                    Entry(row=r)
                    for r in self.store.query(
                        f"SELECT {LISTED_COLUMNS} FROM s3_objects "
                        "WHERE bucket = ? AND key = ? AND id < ? ORDER BY id DESC",
                        (bucket, last["key"], last["id"]),
                    )
                )
            lower, inclusive = last["key"], False
            size = min(size * 2, batch)

    def referenced_blobs(self) -> set[str]:
        """Every blob an object version or an uploaded part names."""
        rows = self.store.query(
            "SELECT blob_id FROM s3_objects WHERE blob_id IS NOT NULL "
            "UNION SELECT json_extract(p.value, '$[0]') FROM s3_objects o, json_each(o.parts) p "
            "WHERE o.parts IS NOT NULL "
            "UNION SELECT blob_id FROM s3_parts"
        )
        return {r[0] for r in rows}

    # -- multipart uploads ------------------------------------------------------------------

    def create_upload(
        self, upload_id: str, bucket: str, key: str, initiated: float, attrs: dict[str, Any]
    ) -> None:
        self.store.execute(
            "INSERT INTO s3_uploads (upload_id, bucket, key, initiated, attrs) "
            "VALUES (?, ?, ?, ?, ?)",
            (upload_id, bucket, key, initiated, dump(attrs)),
        )

    def upload(self, bucket: str, key: str, upload_id: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM s3_uploads WHERE upload_id = ? AND bucket = ? AND key = ?",
            (upload_id, bucket, key),
        )

    def record_completion(
        self,
        upload_id: str,
        bucket: str,
        key: str,
        now: float,
        keep: float,
        result: dict,
        aborted: bool = False,
    ) -> None:
        """Remember how an upload ended (its completion's answer, or that it was aborted)."""
        self.store.execute("DELETE FROM s3_completed_uploads WHERE completed < ?", (now - keep,))
        self.store.execute(
            "INSERT OR REPLACE INTO s3_completed_uploads (upload_id, bucket, key, completed, "
            "result, aborted) VALUES (?, ?, ?, ?, ?, ?)",
            (upload_id, bucket, key, now, dump(result), int(aborted)),
        )

    def completion(
        self, bucket: str, key: str, upload_id: str, since: float, aborted: bool = False
    ) -> Row | None:
        """How an upload ended since ``since``: completed, or with ``aborted`` either way."""
        return self.store.query_one(
            "SELECT * FROM s3_completed_uploads WHERE upload_id = ? AND bucket = ? AND key = ? "
            "AND completed >= ? AND aborted <= ?",
            (upload_id, bucket, key, since, int(aborted)),
        )

    def delete_upload(self, upload_id: str) -> list[Row]:
        parts = self.parts(upload_id)
        self.store.execute("DELETE FROM s3_uploads WHERE upload_id = ?", (upload_id,))
        return parts

    def uploads(
        self, bucket: str, prefix: str, after_key: str, after_id: str, limit: int
    ) -> list[Row]:
        upper = successor(prefix) if prefix else None
        sql = (
            "SELECT * FROM s3_uploads WHERE bucket = ? AND key >= ? "
            "AND (key > ? OR (key = ? AND upload_id > ?))"
        )
        params: list[Any] = [bucket, prefix, after_key, after_key, after_id]
        if upper is not None:
            sql += " AND key < ?"
            params.append(upper)
        sql += " ORDER BY key, upload_id LIMIT ?"
        return self.store.query(sql, [*params, limit])

    def put_part(self, upload_id: str, number: int, values: dict[str, Any]) -> Row | None:
        """Store a part; returns the part it replaced (its blob is to be deleted)."""
        old = self.part(upload_id, number)
        self.store.execute(
            "INSERT OR REPLACE INTO s3_parts "
            "(upload_id, part_number, blob_id, size, etag, last_modified, checksum) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                upload_id,
                number,
                values["blob_id"],
                values["size"],
                values["etag"],
                values["last_modified"],
                values.get("checksum"),
            ),
        )
        return old

    def part(self, upload_id: str, number: int) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM s3_parts WHERE upload_id = ? AND part_number = ?", (upload_id, number)
        )

    def parts(self, upload_id: str, after: int = 0, limit: int = 10001) -> list[Row]:
        return self.store.query(
            "SELECT * FROM s3_parts WHERE upload_id = ? AND part_number > ? "
            "ORDER BY part_number LIMIT ?",
            (upload_id, after, limit),
        )
