"""The store: versioned migrations, all-or-nothing transactions, writes that survive kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nubes.store import State, Store

V1 = "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
V2 = "ALTER TABLE things ADD COLUMN colour TEXT; CREATE INDEX things_name ON things (name);"


def test_migrations_apply_once_and_in_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    store.migrate("demo", [V1])
    store.execute("INSERT INTO things (name) VALUES ('a')")
    store.close()
    # A newer nubes opens the older data directory: only the missing migration runs.
    store = Store(tmp_path / "db")
    store.migrate("demo", [V1, V2])
    assert store.scalar("SELECT version FROM schema_versions WHERE component = 'demo'") == 2
    assert store.query_one("SELECT name, colour FROM things")["name"] == "a"  # type: ignore[index]
    store.close()
    # An older nubes refuses a newer data directory instead of corrupting it.
    store = Store(tmp_path / "db")
    with pytest.raises(RuntimeError, match="newer"):
        store.migrate("demo", [V1])


def test_failed_transaction_changes_nothing() -> None:
    store = Store(None)
    store.migrate("demo", [V1])
    with pytest.raises(ValueError), store.transaction():
        store.execute("INSERT INTO things (name) VALUES ('kept?')")
        with store.transaction():  # nested: joins the outer transaction
            store.execute("INSERT INTO things (name) VALUES ('inner')")
        raise ValueError("operation failed")
    assert store.scalar("SELECT count(*) FROM things") == 0


def test_schema_made_inside_a_failed_transaction_is_kept() -> None:
    """A provider made on first use inside a request that then fails keeps its tables."""
    store = Store(None)
    with pytest.raises(ValueError), store.transaction():
        store.migrate("demo", [V1, V2])
        store.execute("INSERT INTO things (name) VALUES ('rolled back')")
        raise ValueError("operation failed")
    assert store.scalar("SELECT version FROM schema_versions WHERE component = 'demo'") == 2
    assert store.scalar("SELECT count(*) FROM things") == 0


def test_clear_keeps_schema(tmp_path: Path) -> None:
    state = State(tmp_path)
    state.store.migrate("demo", [V1])
    state.store.execute("INSERT INTO things (name) VALUES ('a')")
    blob = state.blobs.write_bytes(b"hello")
    state.reset()
    assert state.store.scalar("SELECT count(*) FROM things") == 0
    assert not state.blobs.path(blob.blob_id).exists()
    state.close()


def test_blobs_are_written_atomically(tmp_path: Path) -> None:
    state = State(tmp_path)
    info = state.blobs.write([b"abc", b"def"])
    assert info.size == 6 and state.blobs.read(info.blob_id) == b"abcdef"
    assert b"".join(state.blobs.iter(info.blob_id, 2, 5)) == b"cde"
    assert list(state.blobs.tmp.iterdir()) == []
    state.close()


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from nubes.store import Store
    store = Store(Path(sys.argv[1]))
    store.migrate("demo", [{v1!r}])
    i = 0
    while True:
        i += 1
        with store.transaction():
            store.execute("INSERT INTO things (id, name) VALUES (?, ?)", (i, "x" * 100))
        print(i, flush=True)  # acknowledged only after the commit
    """
)


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(v1=V1), str(db)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    acknowledged = 0
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        acknowledged = int(line)
        if acknowledged >= 500 or time.monotonic() > deadline:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = Store(db)
    assert acknowledged >= 1
    assert store.scalar("SELECT max(id) FROM things") >= acknowledged
    assert store.scalar("SELECT count(*) FROM things") == store.scalar("SELECT max(id) FROM things")
