"""IAM's records in the store: users, groups, roles, managed policies and their versions,
inline policies, links between them, access keys, per-user credentials, account settings,
and the temporary credentials STS issues.

Entity names are unique per account regardless of case, as in IAM. Every write calls
``on_change`` so the enforcement caches built from these records are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from nubes.store import Row, Store

MIGRATIONS = (
    """
    CREATE TABLE iam_entities (
        account TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL COLLATE NOCASE,
        id TEXT NOT NULL,
        path TEXT NOT NULL,
        arn TEXT NOT NULL,
        created REAL NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (account, kind, name)
    ) WITHOUT ROWID;
    CREATE INDEX iam_entities_arn ON iam_entities (arn);
    CREATE TABLE iam_links (
        account TEXT NOT NULL,
        rel TEXT NOT NULL,
        source TEXT NOT NULL COLLATE NOCASE,
        target TEXT NOT NULL COLLATE NOCASE,
        PRIMARY KEY (account, rel, source, target)
    ) WITHOUT ROWID;
    CREATE INDEX iam_links_target ON iam_links (account, rel, target);
    CREATE TABLE iam_inline (
        account TEXT NOT NULL,
        owner_kind TEXT NOT NULL,
        owner TEXT NOT NULL COLLATE NOCASE,
        name TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (account, owner_kind, owner, name)
    ) WITHOUT ROWID;
    CREATE TABLE iam_policy_versions (
        policy_arn TEXT NOT NULL,
        version_id TEXT NOT NULL,
        document TEXT NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (policy_arn, version_id)
    ) WITHOUT ROWID;
    CREATE TABLE iam_access_keys (
        access_key_id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        user_name TEXT NOT NULL COLLATE NOCASE,
        secret TEXT NOT NULL,
        status TEXT NOT NULL,
        created REAL NOT NULL,
        last_used REAL,
        last_service TEXT,
        last_region TEXT
    );
    CREATE INDEX iam_access_keys_user ON iam_access_keys (account, user_name);
    CREATE TABLE iam_user_items (
        account TEXT NOT NULL,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        user_name TEXT NOT NULL COLLATE NOCASE,
        data TEXT NOT NULL,
        PRIMARY KEY (account, kind, id)
    ) WITHOUT ROWID;
    CREATE INDEX iam_user_items_user ON iam_user_items (account, kind, user_name);
    CREATE TABLE iam_account (
        account TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (account, key)
    ) WITHOUT ROWID;
    CREATE TABLE sts_sessions (
        access_key_id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        secret TEXT NOT NULL,
        token TEXT NOT NULL,
        expires REAL NOT NULL,
        data TEXT NOT NULL
    );
    """,
)


@dataclass
class Entity:
    account: str
    kind: str
    name: str
    id: str
    path: str
    arn: str
    created: float
    data: dict[str, Any]

    @classmethod
    def from_row(cls, row: Row) -> Entity:
        return cls(
            row["account"],
            row["kind"],
            row["name"],
            row["id"],
            row["path"],
            row["arn"],
            row["created"],
            json.loads(row["data"]),
        )


_ENTITY_COLS = "account, kind, name, id, path, arn, created, data"


class IamStore:
    def __init__(self, store: Store, on_change: Callable[[], None]) -> None:
        self.store = store
        self.on_change = on_change

    def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        self.on_change()
        return self.store.execute(sql, tuple(params))

    # -- entities -----------------------------------------------------------------------------

    def get(self, account: str, kind: str, name: str) -> Entity | None:
        row = self.store.query_one(
            f"SELECT {_ENTITY_COLS} FROM iam_entities WHERE account = ? AND kind = ? AND name = ?",
            (account, kind, name),
        )
        return Entity.from_row(row) if row else None

    def by_arn(self, arn: str) -> Entity | None:
        row = self.store.query_one(f"SELECT {_ENTITY_COLS} FROM iam_entities WHERE arn = ?", (arn,))
        return Entity.from_row(row) if row else None

    def put(self, entity: Entity) -> None:
        self._write(
            "INSERT INTO iam_entities (account, kind, name, id, path, arn, created, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(account, kind, name) DO UPDATE SET "
            "id = excluded.id, path = excluded.path, arn = excluded.arn, data = excluded.data",
            (
                entity.account,
                entity.kind,
                entity.name,
                entity.id,
                entity.path,
                entity.arn,
                entity.created,
                json.dumps(entity.data),
            ),
        )

    def rename(self, entity: Entity, new_name: str, new_path: str, new_arn: str) -> None:
        self._write(
            "UPDATE iam_entities SET name = ?, path = ?, arn = ? "
            "WHERE account = ? AND kind = ? AND name = ?",
            (new_name, new_path, new_arn, entity.account, entity.kind, entity.name),
        )

    def delete(self, account: str, kind: str, name: str) -> None:
        self._write(
            "DELETE FROM iam_entities WHERE account = ? AND kind = ? AND name = ?",
            (account, kind, name),
        )

    def page(
        self,
        account: str,
        kind: str,
        after: str | None,
        limit: int,
        path_prefix: str = "/",
        names: list[str] | None = None,
    ) -> list[Entity]:
        """Up to ``limit`` entities of a kind in name order after ``after``."""
        sql = f"SELECT {_ENTITY_COLS} FROM iam_entities WHERE account = ? AND kind = ?"
        params: list[Any] = [account, kind]
        if after is not None:
            sql += " AND name > ?"
            params.append(after)
        if path_prefix != "/":
            sql += " AND substr(path, 1, ?) = ?"
            params += [len(path_prefix), path_prefix]
        if names is not None:
            sql += f" AND name IN ({','.join('?' * len(names))})"
            params += names
        sql += " ORDER BY name LIMIT ?"
        params.append(limit)
        return [Entity.from_row(r) for r in self.store.query(sql, params)]

    def all(self, account: str, kind: str) -> list[Entity]:
        return self.page(account, kind, None, 1_000_000)

    def count(self, account: str, kind: str) -> int:
        return int(
            self.store.scalar(
                "SELECT count(*) FROM iam_entities WHERE account = ? AND kind = ?", (account, kind)
            )
        )

    # -- links: group members, attached policies, roles in instance profiles ------------------

    def link(self, account: str, rel: str, source: str, target: str) -> None:
        self._write(
            "INSERT OR IGNORE INTO iam_links (account, rel, source, target) VALUES (?, ?, ?, ?)",
            (account, rel, source, target),
        )

    def unlink(self, account: str, rel: str, source: str, target: str) -> int:
        return self._write(
            "DELETE FROM iam_links WHERE account = ? AND rel = ? AND source = ? AND target = ?",
            (account, rel, source, target),
        )

    def targets(self, account: str, rel: str, source: str) -> list[str]:
        rows = self.store.query(
            "SELECT target FROM iam_links WHERE account = ? AND rel = ? AND source = ? "
            "ORDER BY target",
            (account, rel, source),
        )
        return [r[0] for r in rows]

    def sources(self, account: str, rel: str, target: str) -> list[str]:
        rows = self.store.query(
            "SELECT source FROM iam_links WHERE account = ? AND rel = ? AND target = ? "
            "ORDER BY source",
            (account, rel, target),
        )
        return [r[0] for r in rows]

    def sources_any_account(self, rel: str, target: str) -> list[tuple[str, str]]:
        rows = self.store.query(
            "SELECT account, source FROM iam_links WHERE rel = ? AND target = ?", (rel, target)
        )
        return [(r[0], r[1]) for r in rows]

    def drop_links(self, account: str, rel: str, source: str) -> None:
        self._write(
            "DELETE FROM iam_links WHERE account = ? AND rel = ? AND source = ?",
            (account, rel, source),
        )

    # -- inline policies ------------------------------------------------------------------------

    def inline(self, account: str, owner_kind: str, owner: str) -> dict[str, str]:
        rows = self.store.query(
            "SELECT name, document FROM iam_inline WHERE account = ? AND owner_kind = ? "
            "AND owner = ? ORDER BY name",
            (account, owner_kind, owner),
        )
        return {r[0]: r[1] for r in rows}

    def put_inline(self, account: str, owner_kind: str, owner: str, name: str, doc: str) -> None:
        self._write(
            "INSERT INTO iam_inline (account, owner_kind, owner, name, document) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(account, owner_kind, owner, name) "
            "DO UPDATE SET document = excluded.document",
            (account, owner_kind, owner, name, doc),
        )

    def delete_inline(self, account: str, owner_kind: str, owner: str, name: str | None) -> int:
        sql = "DELETE FROM iam_inline WHERE account = ? AND owner_kind = ? AND owner = ?"
        params: list[Any] = [account, owner_kind, owner]
        if name is not None:
            sql += " AND name = ?"
            params.append(name)
        return self._write(sql, params)

    # -- managed policy versions ----------------------------------------------------------------

    def versions(self, policy_arn: str) -> list[Row]:
        return self.store.query(
            "SELECT version_id, document, created FROM iam_policy_versions WHERE policy_arn = ? "
            "ORDER BY created, version_id",
            (policy_arn,),
        )

    def version(self, policy_arn: str, version_id: str) -> Row | None:
        return self.store.query_one(
            "SELECT version_id, document, created FROM iam_policy_versions "
            "WHERE policy_arn = ? AND version_id = ?",
            (policy_arn, version_id),
        )

    def put_version(self, policy_arn: str, version_id: str, doc: str, created: float) -> None:
        self._write(
            "INSERT INTO iam_policy_versions (policy_arn, version_id, document, created) "
            "VALUES (?, ?, ?, ?)",
            (policy_arn, version_id, doc, created),
        )

    def delete_versions(self, policy_arn: str, version_id: str | None = None) -> None:
        sql = "DELETE FROM iam_policy_versions WHERE policy_arn = ?"
        params: list[Any] = [policy_arn]
        if version_id is not None:
            sql += " AND version_id = ?"
            params.append(version_id)
        self._write(sql, params)

    # -- access keys --------------------------------------------------------------------------

    def access_keys(self, account: str, user: str) -> list[Row]:
        return self.store.query(
            "SELECT * FROM iam_access_keys WHERE account = ? AND user_name = ? ORDER BY created",
            (account, user),
        )

    def access_key(self, key_id: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM iam_access_keys WHERE access_key_id = ?", (key_id,)
        )

    def put_access_key(
        self, key_id: str, account: str, user: str, secret: str, created: float
    ) -> None:
        self._write(
            "INSERT INTO iam_access_keys (access_key_id, account, user_name, secret, status, "
            "created) VALUES (?, ?, ?, ?, 'Active', ?)",
            (key_id, account, user, secret, created),
        )

    def set_access_key_status(self, key_id: str, status: str) -> None:
        self._write(
            "UPDATE iam_access_keys SET status = ? WHERE access_key_id = ?", (status, key_id)
        )

    def delete_access_key(self, key_id: str) -> None:
        self._write("DELETE FROM iam_access_keys WHERE access_key_id = ?", (key_id,))

    def rename_user_rows(self, account: str, old: str, new: str) -> None:
        for sql in (
            "UPDATE iam_access_keys SET user_name = ? WHERE account = ? AND user_name = ?",
            "UPDATE iam_user_items SET user_name = ? WHERE account = ? AND user_name = ?",
            "UPDATE iam_inline SET owner = ? WHERE account = ? AND owner_kind = 'user' "
            "AND owner = ?",
            "UPDATE iam_links SET target = ? WHERE account = ? AND rel = 'member' AND target = ?",
            "UPDATE iam_links SET source = ? WHERE account = ? AND rel = 'attached:user' "
            "AND source = ?",
        ):
            self._write(sql, (new, account, old))
        self._write(
            "UPDATE iam_links SET source = ? WHERE account = ? AND rel = 'boundary' AND source = ?",
            (f"user:{new}", account, f"user:{old}"),
        )
        self._write(
            "UPDATE iam_user_items SET id = ? WHERE account = ? AND kind = 'login' AND id = ?",
            (new.lower(), account, old.lower()),
        )

    def note_key_use(self, key_id: str, when: float, service: str, region: str) -> None:
        self.store.execute(
            "UPDATE iam_access_keys SET last_used = ?, last_service = ?, last_region = ? "
            "WHERE access_key_id = ?",
            (when, service, region, key_id),
        )

    # -- per-user items: login profile, SSH keys, signing certificates, MFA devices ----------

    def items(self, account: str, kind: str, user: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT data FROM iam_user_items WHERE account = ? AND kind = ?"
        params: list[Any] = [account, kind]
        if user is not None:
            sql += " AND user_name = ?"
            params.append(user)
        return [json.loads(r[0]) for r in self.store.query(sql + " ORDER BY id", params)]

    def item(self, account: str, kind: str, item_id: str) -> dict[str, Any] | None:
        row = self.store.query_one(
            "SELECT data FROM iam_user_items WHERE account = ? AND kind = ? AND id = ?",
            (account, kind, item_id),
        )
        return json.loads(row[0]) if row else None

    def put_item(
        self, account: str, kind: str, item_id: str, user: str, data: dict[str, Any]
    ) -> None:
        self._write(
            "INSERT INTO iam_user_items (account, kind, id, user_name, data) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(account, kind, id) DO UPDATE SET "
            "user_name = excluded.user_name, data = excluded.data",
            (account, kind, item_id, user, json.dumps(data)),
        )

    def delete_item(self, account: str, kind: str, item_id: str) -> int:
        return self._write(
            "DELETE FROM iam_user_items WHERE account = ? AND kind = ? AND id = ?",
            (account, kind, item_id),
        )

    # -- account settings ---------------------------------------------------------------------

    def setting(self, account: str, key: str) -> Any:
        value = self.store.scalar(
            "SELECT value FROM iam_account WHERE account = ? AND key = ?", (account, key)
        )
        return None if value is None else json.loads(value)

    def set_setting(self, account: str, key: str, value: Any) -> None:
        if value is None:
            self._write("DELETE FROM iam_account WHERE account = ? AND key = ?", (account, key))
            return
        self._write(
            "INSERT INTO iam_account (account, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT(account, key) DO UPDATE SET value = excluded.value",
            (account, key, json.dumps(value)),
        )

    # -- STS temporary credentials --------------------------------------------------------------

    def put_session(
        self,
        key_id: str,
        account: str,
        secret: str,
        token: str,
        expires: float,
        data: dict[str, Any],
    ) -> None:
        self.store.execute(
            "INSERT INTO sts_sessions (access_key_id, account, secret, token, expires, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key_id, account, secret, token, expires, json.dumps(data)),
        )

    def session(self, key_id: str) -> Row | None:
        return self.store.query_one("SELECT * FROM sts_sessions WHERE access_key_id = ?", (key_id,))

    def drop_expired_sessions(self, before: float) -> None:
        self.store.execute("DELETE FROM sts_sessions WHERE expires < ?", (before,))
