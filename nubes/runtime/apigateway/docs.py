"""Definitions kept as one JSON document each (a whole API with its resources, stages and
deployments; an API key; a usage plan): API Gateway's objects are small and always read
together when a request is answered."""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

from nubes.store import Store

_ID_CHARS = string.ascii_lowercase + string.digits


def new_id(length: int = 10) -> str:
    """API Gateway's identifiers: lower-case letters and digits (10 for APIs and keys, 6 or 7
    for what lives inside an API)."""
    return "".join(secrets.choice(_ID_CHARS) for _ in range(length))


def migration(table: str) -> str:
    return f"""
    CREATE TABLE {table} (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, kind, id)
    );
    CREATE INDEX {table}_by_id ON {table} (kind, id);
    """


class Docs:
    def __init__(self, store: Store, table: str) -> None:
        self.store = store
        self.table = table

    def get(self, account: str, region: str, kind: str, id_: str) -> dict[str, Any] | None:
        row = self.store.query_one(
            f"SELECT doc FROM {self.table} WHERE account = ? AND region = ? AND kind = ? "
            "AND id = ?",
            (account, region, kind, id_),
        )
        return None if row is None else json.loads(row["doc"])

    def find(self, kind: str, id_: str) -> tuple[str, str, dict[str, Any]] | None:
        """(account, region, doc) of the object with this id in any account: what the data
        plane, which knows only the id in the host name, looks up."""
        row = self.store.query_one(
            f"SELECT account, region, doc FROM {self.table} WHERE kind = ? AND id = ?",
            (kind, id_),
        )
        return None if row is None else (row["account"], row["region"], json.loads(row["doc"]))

    def put(self, account: str, region: str, kind: str, id_: str, doc: dict[str, Any]) -> None:
        self.store.execute(
            f"INSERT OR REPLACE INTO {self.table} (account, region, kind, id, doc) "
            "VALUES (?, ?, ?, ?, ?)",
            (account, region, kind, id_, json.dumps(doc)),
        )

    def delete(self, account: str, region: str, kind: str, id_: str) -> None:
        self.store.execute(
            f"DELETE FROM {self.table} WHERE account = ? AND region = ? AND kind = ? AND id = ?",
            (account, region, kind, id_),
        )

    def all(self, account: str, region: str, kind: str) -> list[dict[str, Any]]:
        rows = self.store.query(
            f"SELECT doc FROM {self.table} WHERE account = ? AND region = ? AND kind = ? "
            "ORDER BY rowid",
            (account, region, kind),
        )
        return [json.loads(r["doc"]) for r in rows]
