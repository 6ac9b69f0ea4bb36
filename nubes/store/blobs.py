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
import uuid
from collections.abc import Iterable, Iterator
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
        with contextlib.suppress(FileNotFoundError):
            self.path(blob_id).unlink()

    def clear(self) -> None:
        for child in self.root.iterdir():
            if child != self.tmp and child.is_dir():
                shutil.rmtree(child, ignore_errors=True)


def read_chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk
