"""EC2 records: every resource is one row holding its Describe* document (the shape the API
returns, tags aside) and a private part the API never shows. Tags live in their own table so
one query fetches the tags of a whole page."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nubes.store import Store

MIGRATIONS = (
    """
    CREATE TABLE ec2_resources (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        doc TEXT NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (account, region, kind, id)
    ) WITHOUT ROWID;
    CREATE INDEX ec2_resources_by_id ON ec2_resources (id);
    CREATE TABLE ec2_tags (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (account, region, resource_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE ec2_private_ips (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        subnet_id TEXT NOT NULL,
        ip TEXT NOT NULL,
        owner TEXT NOT NULL,
        PRIMARY KEY (account, region, subnet_id, ip)
    ) WITHOUT ROWID;
    CREATE TABLE ec2_public_ips (
        ip TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        owner TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE ec2_scopes (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        PRIMARY KEY (account, region)
    ) WITHOUT ROWID;
    """,
)


_PARSED: dict[str, Any] = {}
_PARSED_MAX = 10_000
"""Enough for a few 1,000-instance pages (documents and private parts); cleared when full."""


def _parsed(text: str) -> Any:
    """The parsed JSON of a stored text, remembered by the text itself (so a changed record
    is parsed afresh and a rolled-back one is never seen): callers must not modify it."""
    found = _PARSED.get(text)
    if found is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        found = _PARSED[text] = json.loads(text)
    return found


@dataclass(frozen=True, slots=True)
class Scope:
    account: str
    region: str


@dataclass(slots=True)
class Record:
    kind: str
    id: str
    doc: dict[str, Any]
    meta: dict[str, Any]


class Resources:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- records ------------------------------------------------------------------------

    def get(self, scope: Scope, kind: str, rid: str) -> Record | None:
        row = self.store.query_one(
            "SELECT doc, meta FROM ec2_resources WHERE account = ? AND region = ? AND kind = ? "
            "AND id = ?",
            (scope.account, scope.region, kind, rid),
        )
        if row is None:
            return None
        return Record(kind, rid, json.loads(row["doc"]), json.loads(row["meta"]))

    def all(self, scope: Scope, kind: str, shared: bool = False) -> list[Record]:
        """Every record of a kind. ``shared``: for callers that only read (Describe*), the
        documents may be the same objects other such calls got, parsed once per stored
        text: listing 1,000 instances then costs no JSON parsing."""
        rows = self.store.query(
            "SELECT id, doc, meta FROM ec2_resources WHERE account = ? AND region = ? "
            "AND kind = ? ORDER BY id",
            (scope.account, scope.region, kind),
        )
        if not shared:
            return [
                Record(kind, r["id"], json.loads(r["doc"]), json.loads(r["meta"])) for r in rows
            ]
        return [Record(kind, r["id"], _parsed(r["doc"]), _parsed(r["meta"])) for r in rows]

    def count(self, scope: Scope, kind: str) -> int:
        return int(
            self.store.scalar(
                "SELECT COUNT(*) FROM ec2_resources WHERE account = ? AND region = ? AND kind = ?",
                (scope.account, scope.region, kind),
            )
        )

    def put(self, scope: Scope, record: Record) -> None:
        self.store.execute(
            "INSERT INTO ec2_resources (account, region, kind, id, doc, meta) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(account, region, kind, id) "
            "DO UPDATE SET doc = excluded.doc, meta = excluded.meta",
            (
                scope.account,
                scope.region,
                record.kind,
                record.id,
                json.dumps(record.doc, separators=(",", ":")),
                json.dumps(record.meta, separators=(",", ":")),
            ),
        )

    def delete(self, scope: Scope, kind: str, rid: str) -> None:
        self.store.execute(
            "DELETE FROM ec2_resources WHERE account = ? AND region = ? AND kind = ? AND id = ?",
            (scope.account, scope.region, kind, rid),
        )
        self.store.execute(
            "DELETE FROM ec2_tags WHERE account = ? AND region = ? AND resource_id = ?",
            (scope.account, scope.region, rid),
        )

    def locate(self, kind: str, rid: str) -> Scope | None:
        """The account and region of a resource known only by its id (the instance runtime
        names instances by id alone)."""
        row = self.store.query_one(
            "SELECT account, region FROM ec2_resources WHERE id = ? AND kind = ?", (rid, kind)
        )
        return Scope(row["account"], row["region"]) if row else None

    def in_states(self, kind: str, states: tuple[str, ...]) -> list[tuple[Scope, Record]]:
        """Records of every scope whose State.Name is one of ``states`` (server start)."""
        marks = ",".join("?" * len(states))
        rows = self.store.query(
            "SELECT account, region, id, doc, meta FROM ec2_resources WHERE kind = ? "
            f"AND json_extract(doc, '$.State.Name') IN ({marks})",
            (kind, *states),
        )
        return [
            (
                Scope(r["account"], r["region"]),
                Record(kind, r["id"], json.loads(r["doc"]), json.loads(r["meta"])),
            )
            for r in rows
        ]

    # -- scopes (the default VPC is made once per account and region) -------------------

    def claim_scope(self, scope: Scope) -> bool:
        """True the first time a scope is seen."""
        return bool(
            self.store.execute(
                "INSERT OR IGNORE INTO ec2_scopes (account, region) VALUES (?, ?)",
                (scope.account, scope.region),
            )
        )

    def known_scopes(self) -> list[Scope]:
        return [
            Scope(r["account"], r["region"])
            for r in self.store.query("SELECT account, region FROM ec2_scopes")
        ]

    # -- tags ---------------------------------------------------------------------------

    def tags_of(self, scope: Scope, ids: Iterable[str]) -> dict[str, list[dict[str, str]]]:
        wanted = list(ids)
        found: dict[str, list[dict[str, str]]] = {}
        if not wanted:
            return found
        if len(wanted) > 50:
            rows = self.store.query(
                "SELECT resource_id, key, value FROM ec2_tags WHERE account = ? AND region = ? "
                "ORDER BY resource_id, key",
                (scope.account, scope.region),
            )
        else:
            marks = ",".join("?" * len(wanted))
            rows = self.store.query(
                "SELECT resource_id, key, value FROM ec2_tags WHERE account = ? AND region = ? "
                f"AND resource_id IN ({marks}) ORDER BY resource_id, key",
                (scope.account, scope.region, *wanted),
            )
        for r in rows:
            found.setdefault(r["resource_id"], []).append({"Key": r["key"], "Value": r["value"]})
        return found

    def all_tags(self, scope: Scope) -> list[tuple[str, str, str, str]]:
        rows = self.store.query(
            "SELECT resource_id, resource_type, key, value FROM ec2_tags "
            "WHERE account = ? AND region = ? ORDER BY resource_id, key",
            (scope.account, scope.region),
        )
        return [(r["resource_id"], r["resource_type"], r["key"], r["value"]) for r in rows]

    def set_tags(self, scope: Scope, rid: str, resource_type: str, tags: Mapping[str, str]) -> None:
        self.store.executemany(
            "INSERT INTO ec2_tags (account, region, resource_id, resource_type, key, value) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(account, region, resource_id, key) "
            "DO UPDATE SET value = excluded.value",
            [(scope.account, scope.region, rid, resource_type, k, v) for k, v in tags.items()],
        )

    def remove_tags(self, scope: Scope, rid: str, tags: Mapping[str, str | None]) -> None:
        for key, value in tags.items():
            if value is None:
                self.store.execute(
                    "DELETE FROM ec2_tags WHERE account = ? AND region = ? AND resource_id = ? "
                    "AND key = ?",
                    (scope.account, scope.region, rid, key),
                )
            else:
                self.store.execute(
                    "DELETE FROM ec2_tags WHERE account = ? AND region = ? AND resource_id = ? "
                    "AND key = ? AND value = ?",
                    (scope.account, scope.region, rid, key, value),
                )

    # -- addresses ----------------------------------------------------------------------

    def used_private_ips(self, scope: Scope, subnet_id: str) -> set[str]:
        rows = self.store.query(
            "SELECT ip FROM ec2_private_ips WHERE account = ? AND region = ? AND subnet_id = ?",
            (scope.account, scope.region, subnet_id),
        )
        return {r["ip"] for r in rows}

    def private_ip_counts(self, scope: Scope) -> dict[str, int]:
        rows = self.store.query(
            "SELECT subnet_id, COUNT(*) AS n FROM ec2_private_ips WHERE account = ? "
            "AND region = ? GROUP BY subnet_id",
            (scope.account, scope.region),
        )
        return {r["subnet_id"]: int(r["n"]) for r in rows}

    def hold_private_ip(self, scope: Scope, subnet_id: str, ip: str, owner: str) -> bool:
        return bool(
            self.store.execute(
                "INSERT OR IGNORE INTO ec2_private_ips (account, region, subnet_id, ip, owner) "
                "VALUES (?, ?, ?, ?, ?)",
                (scope.account, scope.region, subnet_id, ip, owner),
            )
        )

    def release_private_ips(self, scope: Scope, owner: str) -> None:
        self.store.execute(
            "DELETE FROM ec2_private_ips WHERE account = ? AND region = ? AND owner = ?",
            (scope.account, scope.region, owner),
        )

    def public_ips_in_use(self) -> set[str]:
        return {r["ip"] for r in self.store.query("SELECT ip FROM ec2_public_ips")}

    def hold_public_ip(self, scope: Scope, ip: str, owner: str) -> bool:
        return bool(
            self.store.execute(
                "INSERT OR IGNORE INTO ec2_public_ips (ip, account, region, owner) "
                "VALUES (?, ?, ?, ?)",
                (ip, scope.account, scope.region, owner),
            )
        )

    def release_public_ip(self, ip: str) -> None:
        self.store.execute("DELETE FROM ec2_public_ips WHERE ip = ?", (ip,))
