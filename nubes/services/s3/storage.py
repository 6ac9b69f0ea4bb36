"""Object bodies: reading them off the request (plain or aws-chunked), storing them (inline in
the row when small, a blob file otherwise, a list of part blobs for multipart objects) and
reading ranges of them back a chunk at a time."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from nubes.gateway import sigv4
from nubes.gateway.sigv4 import ChunkSigner
from nubes.services.s3.checksums import Hasher
from nubes.services.s3.errors import errors
from nubes.store.blobs import BlobStore

BLOB_AREA = "s3"
"""S3's own directory in the shared blob area: what is in it and no row of S3's names is an
orphan. (Its name is no blob id's first two hex digits.)"""

CHUNK = 1024 * 1024
INLINE_LIMIT = 64 * 1024
"""Bodies up to this size live in the object's row: one SQLite write instead of a file."""


@dataclass
class StoredBody:
    size: int
    md5: str
    data: bytes | None = None
    blob_id: str | None = None
    digests: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Location:
    """Where an object's bytes are: inline, one blob, or part blobs ``[[blob_id, size], ...]``."""

    data: bytes | None
    blob_id: str | None
    parts: list[list[Any]] | None

    @classmethod
    def of(cls, row: Any) -> Location:
        parts = row["parts"]
        return cls(row["data"], row["blob_id"], json.loads(parts) if parts else None)

    def blob_ids(self) -> list[str]:
        if self.parts:
            return [p[0] for p in self.parts]
        return [self.blob_id] if self.blob_id else []


def aws_chunked(
    stream: BinaryIO, trailers: dict[str, str], signer: ChunkSigner | None = None
) -> Iterator[bytes]:
    """The payload of an ``aws-chunked`` body (``<hex size>[;chunk-signature=..]\\r\\n<data>\\r\\n``
    ... ``0\\r\\n`` then trailing headers); the trailers are filled in once it is consumed.
    With a ``signer`` (a signed streaming upload), every chunk's signature is checked."""
    while True:
        line = stream.readline(4096)
        if not line.endswith(b"\n"):
            raise errors.IncompleteBody("The request body terminated unexpectedly")
        size_text, _, extension = line.strip().partition(b";")
        try:
            size = int(size_text, 16)
        except ValueError:
            raise errors.InvalidArgument("Invalid chunk size in aws-chunked body") from None
        digest = hashlib.sha256() if signer is not None else None
        remaining = size
        while remaining:
            chunk = stream.read(min(remaining, CHUNK))
            if not chunk:
                raise errors.IncompleteBody("The request body terminated unexpectedly")
            remaining -= len(chunk)
            if digest is not None:
                digest.update(chunk)
            yield chunk
        if signer is not None and digest is not None:
            given = extension.partition(b"chunk-signature=")[2].decode("latin-1").strip()
            if not sigv4.matches(signer.next(digest.hexdigest()), given):
                raise errors.SignatureDoesNotMatch(
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your key and signing method."
                )
        if size == 0:
            break
        stream.readline(16)
    while True:
        line = stream.readline(8192)
        if not line.strip():
            return
        name, _, value = line.decode("utf-8", "replace").partition(":")
        trailers[name.strip().lower()] = value.strip()


def read_plain(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def store_body(
    blobs: BlobStore,
    chunks: Iterable[bytes],
    algorithms: Iterable[str],
    factories: Any,
    inline: bool = True,
) -> StoredBody:
    """Write ``chunks`` (inline when small and ``inline``) computing MD5 and the named
    checksums on the way."""
    hashers: dict[str, Hasher] = {name: factories[name]() for name in algorithms}
    it = iter(chunks)
    held: list[bytes] = []
    size = 0
    for chunk in it:
        held.append(chunk)
        size += len(chunk)
        if size > INLINE_LIMIT or not inline:
            break
    else:
        if inline:
            data = b"".join(held)
            for h in hashers.values():
                h.update(data)
            return StoredBody(
                size=size,
                md5=hashlib.md5(data).hexdigest(),
                data=data,
                digests={k: h.digest() for k, h in hashers.items()},
            )

    def rest() -> Iterator[bytes]:
        yield from held
        yield from it

    info = blobs.write(rest(), hashers.values())  # type: ignore[arg-type]
    return StoredBody(
        size=info.size,
        md5=info.md5,
        blob_id=info.blob_id,
        digests={k: h.digest() for k, h in hashers.items()},
    )


def read_range(blobs: BlobStore, where: Location, start: int, end: int) -> Iterator[bytes] | bytes:
    """The bytes ``[start, end)`` of an object: bytes when inline, else an iterator that holds
    the object's files until it is done, so an overwrite or delete meanwhile cannot cut the
    download short (see :meth:`BlobStore.reader`)."""
    if where.data is not None:
        return where.data[start:end]
    parts: list[list[Any]] = (
        (where.parts or []) if where.blob_id is None else [[where.blob_id, end]]
    )
    offset = 0
    spans: list[tuple[str, int, int]] = []
    for blob_id, size in parts:
        lo, hi = max(start, offset), min(end, offset + size)
        if lo < hi:
            spans.append((blob_id, lo - offset, hi - offset))
        offset += size
    if not spans:
        return b""
    return blobs.reader(spans)


def body_source(stream: Any) -> BinaryIO:
    """A readable binary stream for a parsed ``Body`` (file object, bytes or absent)."""
    if stream is None:
        return io.BytesIO(b"")
    if isinstance(stream, bytes | bytearray):
        return io.BytesIO(bytes(stream))
    return stream


@dataclass
class BodyLedger:
    """The blobs one operation wrote (removed again if it fails) and let go (removed once it
    committed). Kept in a context variable: each request runs in its own task, and a body
    received on a worker thread still reaches its request's ledger."""

    written: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


_ledger: ContextVar[BodyLedger] = ContextVar("s3_body_ledger")


def ledger() -> BodyLedger:
    return _ledger.get()


@contextmanager
def body_ledger(blobs: BlobStore, settle: bool = True) -> Iterator[BodyLedger]:
    """Open a ledger; on failure delete what was written; on success (when ``settle``)
    delete what was let go. The caller commits its transaction inside."""
    current = BodyLedger()
    token = _ledger.set(current)
    try:
        yield current
    except BaseException:
        for blob_id in current.written:
            blobs.delete(blob_id)
        raise
    finally:
        _ledger.reset(token)
    if settle:
        for blob_id in current.dropped:
            blobs.delete(blob_id)


def owns_bodies(fn: Callable[[Any, Any, dict[str, Any]], Any]) -> Any:
    """Run a synchronous operation in its own transaction inside a body ledger."""

    @functools.wraps(fn)
    async def run(self: Any, ctx: Any, req: dict[str, Any]) -> Any:
        with body_ledger(self.blobs), self.store.transaction():
            return fn(self, ctx, req)

    return run


def own_blobs(shared: BlobStore) -> BlobStore:
    return BlobStore(shared.root / BLOB_AREA, fsync=shared.fsync)


def stored_ids(blobs: BlobStore) -> set[str]:
    """The ids of the blobs in ``blobs`` (files ``<root>/<id[:2]>/<id>``)."""
    found: set[str] = set()
    for folder in blobs.root.iterdir():
        if folder.is_dir() and folder != blobs.tmp:
            found.update(f.name for f in folder.iterdir())
    return found


def settle_blobs(blobs: BlobStore, shared: BlobStore, referenced: set[str]) -> tuple[int, int]:
    """At start-up, before any request: delete the blobs of S3's area no row names (written
    by a request that died before its commit, or let go by one that died before deleting
    them), and move into the area the blobs rows name that are still in the shared area
    (where S3 kept them before it had one). Returns (deleted, moved)."""
    present = stored_ids(blobs)
    deleted = 0
    for blob_id in present - referenced:
        blobs.delete(blob_id)
        deleted += 1
    moved = 0
    for blob_id in referenced - present:
        target = blobs.path(blob_id)
        target.parent.mkdir(exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(shared.path(blob_id), target)
            moved += 1
    return deleted, moved
