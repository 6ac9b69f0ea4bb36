"""Large bodies (S3 objects, parts, Lambda code) as files under the data directory.

A blob is written to a temporary name in the same directory tree and renamed into place, so a
reader never sees half a file and a crash leaves at most an orphaned temporary file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from nubes.store.private import DIR_MODE, private_dir

CHUNK = 1024 * 1024


@dataclass
class BlobInfo:
    blob_id: str
    size: int
    md5: str


class BlobStore:
    def __init__(self, root: Path, fsync: bool = False) -> None:
        self.root = root
        self.fsync = fsync
        # Blobs a download is reading, and those deleted meanwhile: removed when the last
        # reader is done (a crash in between leaves them to the owner's start-up sweep).
        self._lock = threading.Lock()
        self._readers: dict[str, int] = {}
        self._doomed: set[str] = set()
        self.tmp = private_dir(private_dir(root) / "tmp")
        for stale in self.tmp.iterdir():
            # Temporary files from a process that died mid-write: never acknowledged.
            with contextlib.suppress(OSError):
                stale.unlink()

    def path(self, blob_id: str) -> Path:
        return self.root / blob_id[:2] / blob_id

    def temp_file(self) -> BinaryIO:
        """A named temporary file on the blob filesystem (the gateway spools bodies here)."""
        return cast(BinaryIO, tempfile.NamedTemporaryFile(dir=self.tmp, delete=True))

    def write(self, chunks: Iterable[bytes], hashers: Iterable[hashlib._Hash] = ()) -> BlobInfo:
        """Store the bytes of ``chunks``; ``hashers`` (besides MD5) are updated along the way."""
        extra = list(hashers)
        md5 = hashlib.md5()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    md5.update(chunk)
                    for h in extra:
                        h.update(chunk)
                    size += len(chunk)
                if self.fsync:
                    out.flush()
                    os.fsync(out.fileno())
            blob_id = uuid.uuid4().hex
            target = self.path(blob_id)
            target.parent.mkdir(mode=DIR_MODE, exist_ok=True)
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        return BlobInfo(blob_id=blob_id, size=size, md5=md5.hexdigest())

    def write_bytes(self, data: bytes) -> BlobInfo:
        return self.write([data])

    def open(self, blob_id: str) -> BinaryIO:
        return self.path(blob_id).open("rb")

    def read(self, blob_id: str) -> bytes:
        return self.path(blob_id).read_bytes()

    def iter(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes ``[start, end)`` of a blob, a chunk at a time."""
        with self.open(blob_id) as f:
            f.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                chunk = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def delete(self, blob_id: str) -> None:
        """Remove a blob, or once its last reader (:meth:`reader`) is done with it."""
        with self._lock:
            if blob_id in self._readers:
                self._doomed.add(blob_id)
                return
        with contextlib.suppress(FileNotFoundError):
            self.path(blob_id).unlink()

    def reader(self, spans: Sequence[tuple[str, int, int]]) -> BlobReader:
        """The bytes ``[lo, hi)`` of each ``(blob_id, lo, hi)`` in turn, as an iterator that
        holds every one of those blobs until it is exhausted or closed: a download serves the
        version it started on even when it is overwritten or deleted meanwhile. The first
        file is open on return."""
        return BlobReader(self, spans)

    def _hold(self, blob_ids: Iterable[str]) -> None:
        with self._lock:
            for blob_id in blob_ids:
                self._readers[blob_id] = self._readers.get(blob_id, 0) + 1

    def _release(self, blob_ids: Iterable[str]) -> None:
        gone = []
        with self._lock:
            for blob_id in blob_ids:
                left = self._readers[blob_id] - 1
                if left:
                    self._readers[blob_id] = left
                    continue
                del self._readers[blob_id]
                if blob_id in self._doomed:
                    self._doomed.discard(blob_id)
                    gone.append(blob_id)
        for blob_id in gone:
            self.delete(blob_id)

    def clear(self) -> None:
        for child in self.root.iterdir():
            if child != self.tmp and child.is_dir():
                shutil.rmtree(child, ignore_errors=True)


class BlobReader(Iterator[bytes]):
    """See :meth:`BlobStore.reader`. Closed when exhausted, on error, by ``close()``, or when
    dropped unread (a HEAD, a client gone before the body): every way holds are released."""

    def __init__(self, store: BlobStore, spans: Sequence[tuple[str, int, int]]) -> None:
        self._store = store
        self._ids = [blob_id for blob_id, _, _ in spans]
        self._spans = list(spans)
        self._file: BinaryIO | None = None
        self._remaining = 0
        store._hold(self._ids)
        self._held = True
        try:
            self._next_file()
        except BaseException:
            self.close()
            raise

    def _next_file(self) -> bool:
        if self._file is not None:
            self._file.close()
            self._file = None
        if not self._spans:
            return False
        blob_id, lo, hi = self._spans.pop(0)
        self._file = self._store.open(blob_id)
        self._file.seek(lo)
        self._remaining = hi - lo
        return True

    def __next__(self) -> bytes:
        try:
            while self._file is not None:
                if self._remaining > 0:
                    chunk = self._file.read(min(CHUNK, self._remaining))
                    if chunk:
                        self._remaining -= len(chunk)
                        return chunk
                self._next_file()
        except BaseException:
            self.close()
            raise
        self.close()
        raise StopIteration

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._spans = []
        if self._held:
            self._held = False
            self._store._release(self._ids)

    def __del__(self) -> None:
        self.close()


def read_chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk
