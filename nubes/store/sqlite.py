"""Durable state in embedded SQLite.

One connection, in WAL mode with ``synchronous=NORMAL``: a committed transaction is in the WAL
file (handed to the OS) before the response leaves, so it survives ``kill -9``; with ``fsync``
on, ``synchronous=FULL`` also survives power loss. ``--ephemeral`` uses an in-memory database
with the very same code path.

Each component (a service, the gateway) owns its tables and declares them as an ordered list of
migrations; the applied version per component is kept in ``schema_versions``, so a newer nubes
opens an older data directory by applying only what is missing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Row = sqlite3.Row


class Store:
    def __init__(self, path: Path | None, fsync: bool = False) -> None:
        self.path = path
        target = str(path) if path is not None else ":memory:"
        self._conn = sqlite3.connect(
            target, isolation_level=None, check_same_thread=False, cached_statements=512
        )
        self._conn.row_factory = sqlite3.Row
        if path is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions "
            "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        self._lock = threading.RLock()
        self._depth = 0
        self._joined: list[tuple[str, Sequence[str]]] = []
        """Migrations applied inside a caller's transaction (a provider made on first use
        mid-request): if that transaction rolls back they are applied again, so the schema
        never vanishes under a provider that already exists."""

    # -- schema -----------------------------------------------------------------------------

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Apply the migrations of ``component`` it has not seen yet, each in a transaction."""
        with self._lock:
            row = self._conn.execute(
                "SELECT version FROM schema_versions WHERE component = ?", (component,)
            ).fetchone()
            current = row[0] if row else 0
            if current > len(migrations):
                raise RuntimeError(
                    f"{component}: data directory has schema version {current}, newer than "
                    f"this nubes ({len(migrations)})"
                )
            if self._depth and current < len(migrations):
                self._joined.append((component, migrations))
            for version, script in enumerate(migrations[current:], start=current + 1):
                with self.transaction():
                    for statement in _statements(script):
                        self._conn.execute(statement)
                    self._conn.execute(
                        "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                        "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                        (component, version),
                    )

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All writes inside commit together, or none do. Nested uses join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                joined, self._joined = self._joined, []
                for component, migrations in joined:
                    self.migrate(component, migrations)
                raise
            self._depth = 0
            self._joined.clear()
            self._conn.execute("COMMIT")

    # -- statements -------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Run a write; returns the number of rows it changed."""
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._lock:
            self._conn.executemany(sql, rows)

    def insert(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Run an INSERT; returns the new rowid."""
        with self._lock:
            return self._conn.execute(sql, params).lastrowid or 0

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = self.query_one(sql, params)
        return None if row is None else row[0]

    # -- whole-store operations --------------------------------------------------------------

    def clear(self) -> None:
        """Delete every row of every component's tables, keeping the schema."""
        with self.transaction():
            self._conn.execute("PRAGMA defer_foreign_keys=ON")
            tables = [
                r[0]
                for r in self._conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' AND name != 'schema_versions'"
                )
            ]
            for table in tables:
                self._conn.execute(f'DELETE FROM "{table}"')

    def close(self) -> None:
        with self._lock:
            if self.path is not None:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()


def _statements(script: str) -> list[str]:
    """Split a migration script into statements: at each ';' that ends a complete statement
    (``executescript`` would commit the surrounding transaction, so it is not an option)."""
    out: list[str] = []
    start = 0
    for i, ch in enumerate(script):
        if ch == ";" and sqlite3.complete_statement(script[start : i + 1]):
            out.append(script[start : i + 1].strip())
            start = i + 1
    if script[start:].strip():
        out.append(script[start:].strip())
    return out
