"""The checksums S3 verifies and stores: CRC32, CRC32C, CRC64NVME, SHA1, SHA256 (and the newer
SHA512, MD5), each with ``update(bytes)`` and ``digest()`` like hashlib's objects.

CRC32 comes from zlib; CRC32C and CRC64NVME from awscrt (the AWS common runtime botocore uses
too, several GB/s) when it is installed, else from the table-driven slice-by-8 code here
(reflected, initial value and final xor all ones), which manages about 15 MB/s.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import importlib.util
import struct
import zlib
from collections.abc import Callable
from typing import Any, Protocol

FAST_CRCS = importlib.util.find_spec("awscrt") is not None
"""Whether CRC32C and CRC64NVME cost next to nothing (S3 then always keeps a CRC64NVME)."""


@functools.cache
def _crt() -> Any:
    """awscrt's checksums, imported on first use: loading the CRT's native library is the
    largest part of making the S3 provider, and many runs never compute a CRC."""
    from awscrt import checksums

    return checksums


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


def _tables(poly: int) -> tuple[tuple[int, ...], ...]:
    """Slice-by-8 tables: ``[k][b]`` is the CRC of byte ``b`` followed by ``k`` zero bytes."""
    first = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        first.append(crc)
    tables = [tuple(first)]
    for _ in range(7):
        prev = tables[-1]
        tables.append(tuple((prev[i] >> 8) ^ first[prev[i] & 0xFF] for i in range(256)))
    return tuple(tables)


_CRC32C_TABLES = _tables(0x82F63B78)
_CRC64NVME_TABLES = _tables(0x9A6C9329AC4BC9B5)
_WORDS = struct.Struct("<Q")


class Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


class _ReflectedCrc:
    tables: tuple[tuple[int, ...], ...]
    mask: int
    width: int

    def __init__(self) -> None:
        self.value = self.mask

    def update(self, data: bytes) -> None:
        # Eight bytes per step: about twice the speed of a byte-at-a-time loop in Python.
        t0, t1, t2, t3, t4, t5, t6, t7 = self.tables
        crc = self.value
        whole = len(data) - len(data) % 8
        for (word,) in _WORDS.iter_unpack(memoryview(data)[:whole]):
            x = word ^ crc
            crc = (
                t7[x & 255]
                ^ t6[(x >> 8) & 255]
                ^ t5[(x >> 16) & 255]
                ^ t4[(x >> 24) & 255]
                ^ t3[(x >> 32) & 255]
                ^ t2[(x >> 40) & 255]
                ^ t1[(x >> 48) & 255]
                ^ t0[x >> 56]
            )
        for byte in data[whole:]:
            crc = t0[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        self.value = crc

    def digest(self) -> bytes:
        return (self.value ^ self.mask).to_bytes(self.width, "big")


class Crc32c(_ReflectedCrc):
    tables = _CRC32C_TABLES
    mask = 0xFFFFFFFF
    width = 4


class Crc64Nvme(_ReflectedCrc):
    tables = _CRC64NVME_TABLES
    mask = 0xFFFFFFFFFFFFFFFF
    width = 8


class _CrtCrc:
    """A CRC from awscrt: its functions take the running value (before the final xor)."""

    function: str
    width: int

    def __init__(self) -> None:
        self.value = 0
        self._function: Callable[[bytes, int], int] = getattr(_crt(), self.function)

    def update(self, data: bytes) -> None:
        self.value = self._function(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(self.width, "big")


if FAST_CRCS:

    class _CrtCrc32c(_CrtCrc):
        function = "crc32c"
        width = 4

    class _CrtCrc64Nvme(_CrtCrc):
        function = "crc64nvme"
        width = 8

    CRC32C: Callable[[], Hasher] = _CrtCrc32c
    CRC64NVME: Callable[[], Hasher] = _CrtCrc64Nvme
else:  # pragma: no cover
    CRC32C, CRC64NVME = Crc32c, Crc64Nvme


ALGORITHMS: dict[str, Callable[[], Hasher]] = {
    "CRC32": Crc32,
    "CRC32C": CRC32C,
    "CRC64NVME": CRC64NVME,
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
    "MD5": hashlib.md5,
}
"""Algorithm name (as in ``ChecksumAlgorithm``) -> hasher factory."""

DIGEST_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32, "SHA512": 64}

DEFAULT = "CRC64NVME"
"""What S3 computes for a body uploaded without a checksum (only when ``FAST_CRCS``)."""

FULL_OBJECT_ONLY = {"CRC64NVME"}
"""Algorithms whose multipart checksum is always of the whole object, never composite."""


def encode(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def decode(value: str, algorithm: str) -> bytes | None:
    """The raw digest of a base64 header value, or None when it is not one of that size or
    not written as base64 writes it (S3 refuses ``y/Q5Jh==``, whose unused bits are not zero,
    as it refuses a value of the wrong size)."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    size = DIGEST_SIZES.get(algorithm)
    if encode(raw) != value:
        return None
    return raw if size is None or len(raw) == size else None


def compute(algorithm: str, data: bytes) -> str:
    hasher = ALGORITHMS[algorithm]()
    hasher.update(data)
    return encode(hasher.digest())


_POLYS = {
    "CRC32": (0xEDB88320, 32),
    "CRC32C": (0x82F63B78, 32),
    "CRC64NVME": (0x9A6C9329AC4BC9B5, 64),
}


def _times(matrix: list[int], vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _square(matrix: list[int]) -> list[int]:
    return [_times(matrix, row) for row in matrix]


def _combine(crc1: int, crc2: int, length2: int, poly: int, width: int) -> int:
    """The CRC of A+B from crc(A), crc(B) and len(B), by applying len(B) zero bytes to crc(A)
    as powers of the one-zero-bit operator over GF(2) (as zlib's crc32_combine does)."""
    if length2 == 0:
        return crc1
    odd = [poly] + [1 << n for n in range(width - 1)]
    even = _square(odd)
    odd = _square(even)
    while True:
        even = _square(odd)
        if length2 & 1:
            crc1 = _times(even, crc1)
        length2 >>= 1
        if not length2:
            break
        odd = _square(even)
        if length2 & 1:
            crc1 = _times(odd, crc1)
        length2 >>= 1
        if not length2:
            break
    return crc1 ^ crc2


def _combiner(algorithm: str) -> Callable[[int, int, int], int]:
    if FAST_CRCS:
        crt = _crt()
        return {
            "CRC32": crt.combine_crc32,
            "CRC32C": crt.combine_crc32c,
            "CRC64NVME": crt.combine_crc64nvme,
        }[algorithm]
    poly, width = _POLYS[algorithm]
    return lambda crc1, crc2, length2: _combine(crc1, crc2, length2, poly, width)


def combine(algorithm: str, parts: list[tuple[str, int]]) -> str:
    """The whole-object CRC of concatenated parts from each part's CRC (base64) and size."""
    join = _combiner(algorithm)
    total = 0
    for index, (value, size) in enumerate(parts):
        crc = int.from_bytes(base64.b64decode(value), "big")
        total = crc if index == 0 else join(total, crc, size)
    return encode(total.to_bytes(_POLYS[algorithm][1] // 8, "big"))


def composite(algorithm: str, part_values: list[str]) -> str:
    """A multipart upload's composite checksum: the checksum of the parts' raw checksums,
    followed by ``-<number of parts>``."""
    hasher = ALGORITHMS[algorithm]()
    for value in part_values:
        hasher.update(base64.b64decode(value))
    return f"{encode(hasher.digest())}-{len(part_values)}"
