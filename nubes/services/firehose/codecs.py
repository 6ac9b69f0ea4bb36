"""The compression formats Firehose writes objects in. Snappy (framing format) and Hadoop's
Snappy blocks are written with literal elements only: valid streams every Snappy reader
decodes, made with the standard library alone (no compression gained, nothing lost)."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile

EXTENSIONS = {
    "UNCOMPRESSED": "",
    "GZIP": ".gz",
    "ZIP": ".zip",
    "Snappy": ".snappy",
    "HADOOP_SNAPPY": ".snappy",
}
_FRAME_CHUNK = 65536
_STREAM_ID = b"\xff\x06\x00\x00sNaPpY"


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def snappy_block(data: bytes) -> bytes:
    """One raw Snappy block: the length, then the data as literals of at most 64 KiB."""
    out = bytearray(_varint(len(data)))
    for start in range(0, len(data), _FRAME_CHUNK):
        piece = data[start : start + _FRAME_CHUNK]
        if len(piece) <= 60:
            out.append((len(piece) - 1) << 2)
        else:
            out.append(61 << 2)
            out += struct.pack("<H", len(piece) - 1)
        out += piece
    return bytes(out)


def snappy_framed(data: bytes) -> bytes:
    out = bytearray(_STREAM_ID)
    for start in range(0, len(data), _FRAME_CHUNK):
        piece = data[start : start + _FRAME_CHUNK]
        out.append(0x01)
        out += struct.pack("<I", len(piece) + 4)[:3]
        out += struct.pack("<I", _masked(crc32c(piece)))
        out += piece
    return bytes(out)


def hadoop_snappy(data: bytes) -> bytes:
    out = bytearray()
    for start in range(0, max(len(data), 1), _FRAME_CHUNK):
        piece = data[start : start + _FRAME_CHUNK]
        block = snappy_block(piece)
        out += struct.pack(">II", len(piece), len(block)) + block
    return bytes(out)


def compress(data: bytes, fmt: str, entry_name: str) -> bytes:
    if fmt == "GZIP":
        return gzip.compress(data, mtime=0)
    if fmt == "ZIP":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(entry_name, data)
        return buffer.getvalue()
    if fmt == "Snappy":
        return snappy_framed(data)
    if fmt == "HADOOP_SNAPPY":
        return hadoop_snappy(data)
    return data
