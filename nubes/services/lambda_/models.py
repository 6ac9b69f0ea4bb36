"""Lambda's records in the store.

A function is a row in ``lambda_functions`` (what is shared by all its versions: the version
counter, reserved concurrency, resource policy) and one row per version in ``lambda_versions``
holding the version's configuration as AWS returns it (a ``FunctionConfiguration`` document)
and the blob of its code; ``$LATEST`` is the one version that changes. Aliases, layers, event
source mappings, URLs and the queue of asynchronous invocations have their own tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nubes.core.arns import arn
from nubes.store import Row, Store

MIGRATIONS = (
    """
    CREATE TABLE lambda_functions (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        last_version INTEGER NOT NULL DEFAULT 0,
        reserved INTEGER,
        policy TEXT,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE TABLE lambda_versions (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        config TEXT NOT NULL,
        code_blob TEXT,
        PRIMARY KEY (account, region, name, version)
    ) WITHOUT ROWID;
    CREATE TABLE lambda_aliases (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name, alias)
    ) WITHOUT ROWID;
    CREATE TABLE lambda_settings (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        qualifier TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name, kind, qualifier)
    ) WITHOUT ROWID;
    CREATE TABLE lambda_layers (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc TEXT NOT NULL,
        code_blob TEXT NOT NULL,
        policy TEXT,
        PRIMARY KEY (account, region, name, version)
    ) WITHOUT ROWID;
    CREATE TABLE lambda_layer_names (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        last_version INTEGER NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE TABLE lambda_event_sources (
        uuid TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        function TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX lambda_event_sources_by_function
        ON lambda_event_sources (account, region, function);
    CREATE TABLE lambda_urls (
        url_id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        qualifier TEXT NOT NULL,
        doc TEXT NOT NULL,
        UNIQUE (account, region, name, qualifier)
    );
    CREATE TABLE lambda_async_queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        qualifier TEXT NOT NULL,
        request_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        enqueued REAL NOT NULL,
        due REAL NOT NULL
    );
    CREATE INDEX lambda_async_queue_due ON lambda_async_queue (due);
    """,
    """
    CREATE TABLE lambda_code_locations (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        until REAL NOT NULL
    );
    """,
)

LATEST = "$LATEST"


@dataclass(frozen=True)
class Scope:
    account: str
    region: str

    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        resource = f"function:{name}" + (f":{qualifier}" if qualifier else "")
        return arn("lambda", self.region, self.account, resource)

    def layer_arn(self, name: str, version: int | None = None) -> str:
        resource = f"layer:{name}" + (f":{version}" if version is not None else "")
        return arn("lambda", self.region, self.account, resource)


@dataclass
class Version:
    """One version of a function: its configuration document and code."""

    name: str
    version: str
    config: dict[str, Any]
    code_blob: str | None


def _version(row: Row) -> Version:
    return Version(row["name"], row["version"], json.loads(row["config"]), row["code_blob"])


class LambdaModel:
    def __init__(self, store: Store) -> None:
        self.store = store

    def note_code_location(self, until: float) -> None:
        """Until when a code location handed out may still be fetched: the provider serves
        them from server start while one may."""
        self.store.execute(
            "INSERT INTO lambda_code_locations (id, until) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET until = max(until, excluded.until)",
            (until,),
        )

    # -- functions --------------------------------------------------------------------------

    def function(self, scope: Scope, name: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM lambda_functions WHERE account = ? AND region = ? AND name = ?",
            (scope.account, scope.region, name),
        )

    def create_function(self, scope: Scope, name: str, now: float) -> bool:
        return bool(
            self.store.execute(
                "INSERT INTO lambda_functions (account, region, name, created) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (scope.account, scope.region, name, now),
            )
        )

    def update_function(self, scope: Scope, name: str, **columns: Any) -> None:
        sets = ", ".join(f"{column} = ?" for column in columns)
        self.store.execute(
            f"UPDATE lambda_functions SET {sets} WHERE account = ? AND region = ? AND name = ?",
            (*columns.values(), scope.account, scope.region, name),
        )

    def delete_function(self, scope: Scope, name: str) -> list[str]:
        """Forget a function and all it owns; returns the code blobs it used."""
        key = (scope.account, scope.region, name)
        blobs = [
            r["code_blob"]
            for r in self.store.query(
                "SELECT DISTINCT code_blob FROM lambda_versions WHERE account = ? AND region = ? "
                "AND name = ? AND code_blob IS NOT NULL",
                key,
            )
        ]
        for table in ("lambda_versions", "lambda_aliases", "lambda_settings", "lambda_urls"):
            self.store.execute(
                f"DELETE FROM {table} WHERE account = ? AND region = ? AND name = ?", key
            )
        self.store.execute(
            "DELETE FROM lambda_async_queue WHERE account = ? AND region = ? AND name = ?", key
        )
        self.store.execute(
            "DELETE FROM lambda_functions WHERE account = ? AND region = ? AND name = ?", key
        )
        return blobs

    def function_names(self, scope: Scope) -> list[str]:
        return [
            r["name"]
            for r in self.store.query(
                "SELECT name FROM lambda_functions WHERE account = ? AND region = ? ORDER BY name",
                (scope.account, scope.region),
            )
        ]

    def functions_page(self, scope: Scope, after: str, limit: int) -> list[Version]:
        rows = self.store.query(
            "SELECT * FROM lambda_versions WHERE account = ? AND region = ? AND version = ? "
            "AND name > ? ORDER BY name LIMIT ?",
            (scope.account, scope.region, LATEST, after, limit),
        )
        return [_version(r) for r in rows]

    def reserved_total(self, scope: Scope) -> int:
        return int(
            self.store.scalar(
                "SELECT COALESCE(SUM(reserved), 0) FROM lambda_functions "
                "WHERE account = ? AND region = ?",
                (scope.account, scope.region),
            )
        )

    # -- versions ---------------------------------------------------------------------------

    def version(self, scope: Scope, name: str, version: str) -> Version | None:
        row = self.store.query_one(
            "SELECT * FROM lambda_versions WHERE account = ? AND region = ? AND name = ? "
            "AND version = ?",
            (scope.account, scope.region, name, version),
        )
        return None if row is None else _version(row)

    def put_version(self, scope: Scope, version: Version) -> None:
        self.store.execute(
            "INSERT INTO lambda_versions (account, region, name, version, config, code_blob) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, name, version) "
            "DO UPDATE SET config = excluded.config, code_blob = excluded.code_blob",
            (
                scope.account,
                scope.region,
                version.name,
                version.version,
                json.dumps(version.config),
                version.code_blob,
            ),
        )

    def versions(self, scope: Scope, name: str) -> list[Version]:
        rows = self.store.query(
            "SELECT * FROM lambda_versions WHERE account = ? AND region = ? AND name = ? "
            "ORDER BY CASE version WHEN '$LATEST' THEN 0 ELSE 1 END, CAST(version AS INTEGER)",
            (scope.account, scope.region, name),
        )
        return [_version(r) for r in rows]

    def delete_version(self, scope: Scope, name: str, version: str) -> None:
        key = (scope.account, scope.region, name, version)
        self.store.execute(
            "DELETE FROM lambda_versions WHERE account = ? AND region = ? AND name = ? "
            "AND version = ?",
            key,
        )
        self.store.execute(
            "DELETE FROM lambda_settings WHERE account = ? AND region = ? AND name = ? "
            "AND qualifier = ?",
            key,
        )

    def blob_in_use(self, blob: str) -> bool:
        return (
            self.store.query_one(
                "SELECT 1 FROM lambda_versions WHERE code_blob = ? "
                "UNION ALL SELECT 1 FROM lambda_layers WHERE code_blob = ? LIMIT 1",
                (blob, blob),
            )
            is not None
        )

    def pending_versions(self) -> list[tuple[Scope, Version]]:
        rows = self.store.query(
            "SELECT * FROM lambda_versions WHERE json_extract(config, '$.State') = 'Pending' "
            "OR json_extract(config, '$.LastUpdateStatus') = 'InProgress'"
        )
        return [(Scope(r["account"], r["region"]), _version(r)) for r in rows]

    # -- aliases ----------------------------------------------------------------------------

    def alias(self, scope: Scope, name: str, alias: str) -> dict[str, Any] | None:
        row = self.store.query_one(
            "SELECT doc FROM lambda_aliases WHERE account = ? AND region = ? AND name = ? "
            "AND alias = ?",
            (scope.account, scope.region, name, alias),
        )
        return None if row is None else dict(json.loads(row["doc"]))

    def put_alias(self, scope: Scope, name: str, doc: dict[str, Any]) -> None:
        self.store.execute(
            "INSERT INTO lambda_aliases (account, region, name, alias, doc) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (account, region, name, alias) DO UPDATE SET doc = excluded.doc",
            (scope.account, scope.region, name, doc["Name"], json.dumps(doc)),
        )

    def delete_alias(self, scope: Scope, name: str, alias: str) -> None:
        self.store.execute(
            "DELETE FROM lambda_aliases WHERE account = ? AND region = ? AND name = ? "
            "AND alias = ?",
            (scope.account, scope.region, name, alias),
        )

    def aliases(self, scope: Scope, name: str) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT doc FROM lambda_aliases WHERE account = ? AND region = ? AND name = ? "
            "ORDER BY alias",
            (scope.account, scope.region, name),
        )
        return [json.loads(r["doc"]) for r in rows]

    # -- per-function settings (event invoke configs, provisioned concurrency) --------------

    def setting(self, scope: Scope, name: str, kind: str, qualifier: str) -> dict[str, Any] | None:
        row = self.store.query_one(
            "SELECT doc FROM lambda_settings WHERE account = ? AND region = ? AND name = ? "
            "AND kind = ? AND qualifier = ?",
            (scope.account, scope.region, name, kind, qualifier),
        )
        return None if row is None else dict(json.loads(row["doc"]))

    def put_setting(
        self, scope: Scope, name: str, kind: str, qualifier: str, doc: dict[str, Any]
    ) -> None:
        self.store.execute(
            "INSERT INTO lambda_settings (account, region, name, kind, qualifier, doc) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, name, kind, qualifier) "
            "DO UPDATE SET doc = excluded.doc",
            (scope.account, scope.region, name, kind, qualifier, json.dumps(doc)),
        )

    def delete_setting(self, scope: Scope, name: str, kind: str, qualifier: str) -> bool:
        return bool(
            self.store.execute(
                "DELETE FROM lambda_settings WHERE account = ? AND region = ? AND name = ? "
                "AND kind = ? AND qualifier = ?",
                (scope.account, scope.region, name, kind, qualifier),
            )
        )

    def settings(self, scope: Scope, name: str, kind: str) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT doc FROM lambda_settings WHERE account = ? AND region = ? AND name = ? "
            "AND kind = ? ORDER BY qualifier",
            (scope.account, scope.region, name, kind),
        )
        return [json.loads(r["doc"]) for r in rows]

    def every_setting(self, kind: str) -> list[tuple[Scope, str, str, dict[str, Any]]]:
        """(scope, function, qualifier, document) of one kind of setting, all accounts."""
        rows = self.store.query("SELECT * FROM lambda_settings WHERE kind = ?", (kind,))
        return [
            (Scope(r["account"], r["region"]), r["name"], r["qualifier"], json.loads(r["doc"]))
            for r in rows
        ]

    # -- layers -----------------------------------------------------------------------------

    def next_layer_version(self, scope: Scope, name: str) -> int:
        self.store.execute(
            "INSERT INTO lambda_layer_names (account, region, name, last_version) "
            "VALUES (?, ?, ?, 1) ON CONFLICT (account, region, name) "
            "DO UPDATE SET last_version = last_version + 1",
            (scope.account, scope.region, name),
        )
        return int(
            self.store.scalar(
                "SELECT last_version FROM lambda_layer_names WHERE account = ? AND region = ? "
                "AND name = ?",
                (scope.account, scope.region, name),
            )
        )

    def put_layer(
        self, scope: Scope, name: str, version: int, doc: dict[str, Any], blob: str
    ) -> None:
        self.store.execute(
            "INSERT INTO lambda_layers (account, region, name, version, doc, code_blob) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (scope.account, scope.region, name, version, json.dumps(doc), blob),
        )

    def layer(self, scope: Scope, name: str, version: int) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM lambda_layers WHERE account = ? AND region = ? AND name = ? "
            "AND version = ?",
            (scope.account, scope.region, name, version),
        )

    def layers(self, scope: Scope, name: str | None = None) -> list[Row]:
        if name is None:
            return self.store.query(
                "SELECT * FROM lambda_layers WHERE account = ? AND region = ? "
                "ORDER BY name, version DESC",
                (scope.account, scope.region),
            )
        return self.store.query(
            "SELECT * FROM lambda_layers WHERE account = ? AND region = ? AND name = ? "
            "ORDER BY version DESC",
            (scope.account, scope.region, name),
        )

    def set_layer_policy(self, scope: Scope, name: str, version: int, policy: str | None) -> None:
        self.store.execute(
            "UPDATE lambda_layers SET policy = ? WHERE account = ? AND region = ? AND name = ? "
            "AND version = ?",
            (policy, scope.account, scope.region, name, version),
        )

    def delete_layer(self, scope: Scope, name: str, version: int) -> str | None:
        row = self.layer(scope, name, version)
        if row is None:
            return None
        self.store.execute(
            "DELETE FROM lambda_layers WHERE account = ? AND region = ? AND name = ? "
            "AND version = ?",
            (scope.account, scope.region, name, version),
        )
        return str(row["code_blob"])

    # -- event source mappings ---------------------------------------------------------------

    def event_source(self, uuid: str) -> Row | None:
        return self.store.query_one("SELECT * FROM lambda_event_sources WHERE uuid = ?", (uuid,))

    def put_event_source(self, scope: Scope, uuid: str, function: str, doc: dict[str, Any]) -> None:
        self.store.execute(
            "INSERT INTO lambda_event_sources (uuid, account, region, function, doc) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (uuid) DO UPDATE SET doc = excluded.doc, "
            "function = excluded.function",
            (uuid, scope.account, scope.region, function, json.dumps(doc)),
        )

    def delete_event_source(self, uuid: str) -> None:
        self.store.execute("DELETE FROM lambda_event_sources WHERE uuid = ?", (uuid,))

    def event_sources(self, scope: Scope | None = None, function: str | None = None) -> list[Row]:
        if scope is None:
            return self.store.query("SELECT * FROM lambda_event_sources ORDER BY uuid")
        if function is None:
            return self.store.query(
                "SELECT * FROM lambda_event_sources WHERE account = ? AND region = ? ORDER BY uuid",
                (scope.account, scope.region),
            )
        return self.store.query(
            "SELECT * FROM lambda_event_sources WHERE account = ? AND region = ? "
            "AND function = ? ORDER BY uuid",
            (scope.account, scope.region, function),
        )

    # -- function URLs ----------------------------------------------------------------------

    def url_by_id(self, url_id: str) -> Row | None:
        return self.store.query_one("SELECT * FROM lambda_urls WHERE url_id = ?", (url_id,))

    def url(self, scope: Scope, name: str, qualifier: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM lambda_urls WHERE account = ? AND region = ? AND name = ? "
            "AND qualifier = ?",
            (scope.account, scope.region, name, qualifier),
        )

    def urls(self, scope: Scope, name: str) -> list[Row]:
        return self.store.query(
            "SELECT * FROM lambda_urls WHERE account = ? AND region = ? AND name = ? "
            "ORDER BY qualifier",
            (scope.account, scope.region, name),
        )

    def put_url(
        self, scope: Scope, name: str, qualifier: str, url_id: str, doc: dict[str, Any]
    ) -> None:
        self.store.execute(
            "INSERT INTO lambda_urls (url_id, account, region, name, qualifier, doc) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url_id) DO UPDATE SET doc = excluded.doc",
            (url_id, scope.account, scope.region, name, qualifier, json.dumps(doc)),
        )

    def delete_url(self, url_id: str) -> None:
        self.store.execute("DELETE FROM lambda_urls WHERE url_id = ?", (url_id,))

    # -- asynchronous invocations ------------------------------------------------------------

    def enqueue(
        self,
        scope: Scope,
        name: str,
        qualifier: str,
        request_id: str,
        payload: str,
        now: float,
        attempts: int = 0,
        enqueued: float | None = None,
    ) -> int:
        return self.store.insert(
            "INSERT INTO lambda_async_queue (account, region, name, qualifier, request_id, "
            "payload, attempts, enqueued, due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                scope.account,
                scope.region,
                name,
                qualifier,
                request_id,
                payload,
                attempts,
                now if enqueued is None else enqueued,
                now,
            ),
        )

    def due_invocations(self, now: float, limit: int) -> list[Row]:
        return self.store.query(
            "SELECT * FROM lambda_async_queue WHERE due <= ? ORDER BY due, id LIMIT ?",
            (now, limit),
        )

    def next_due(self) -> float | None:
        value = self.store.scalar("SELECT MIN(due) FROM lambda_async_queue")
        return None if value is None else float(value)

    def reschedule(self, item_id: int, attempts: int, due: float) -> None:
        self.store.execute(
            "UPDATE lambda_async_queue SET attempts = ?, due = ? WHERE id = ?",
            (attempts, due, item_id),
        )

    def dequeue(self, item_id: int) -> None:
        self.store.execute("DELETE FROM lambda_async_queue WHERE id = ?", (item_id,))
