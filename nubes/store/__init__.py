"""Durable state: the SQLite store (memory when ephemeral) and the blob area for large bodies."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from nubes.store.blobs import BlobStore
from nubes.store.private import private_dir, private_file
from nubes.store.sqlite import Row, Store

__all__ = ["BlobStore", "Row", "State", "Store"]


class State:
    """The store and the blob area of one nubes process."""

    def __init__(self, data_dir: Path | None, fsync: bool = False) -> None:
        self._scratch: str | None = None
        if data_dir is None:
            self._scratch = tempfile.mkdtemp(prefix="nubes-")
            blob_root = Path(self._scratch)
            db_path = None
        else:
            private_dir(data_dir)
            blob_root = data_dir / "blobs"
            db_path = data_dir / "nubes.db"
            private_file(db_path)
            for journal in (data_dir / "nubes.db-wal", data_dir / "nubes.db-shm"):
                if journal.exists():
                    private_file(journal)
        self.store = Store(db_path, fsync=fsync)
        self.blobs = BlobStore(blob_root, fsync=fsync)

    def reset(self) -> None:
        self.store.clear()
        self.blobs.clear()

    def close(self) -> None:
        self.store.close()
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
