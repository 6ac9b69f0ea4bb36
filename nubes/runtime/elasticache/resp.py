"""A minimal RESP2 client: enough for nubes to drive its own cache nodes (and for tests)."""

from __future__ import annotations

import socket
from typing import Any


class RespError(Exception):
    """The server answered with an error reply (``-ERR ...``)."""


def _encode(args: tuple[str | bytes | int, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class Connection:
    def __init__(
        self,
        host: str,
        port: int,
        password: str | None = None,
        timeout: float = 5,
        username: str | None = None,
    ):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        if password:
            self.call("AUTH", *([username] if username else []), password)

    def call(self, *args: str | bytes | int) -> Any:
        self.sock.sendall(_encode(args))
        return self._read()

    def _read(self) -> Any:
        line = self.file.readline()
        if not line:
            raise ConnectionError("connection closed by the server")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self.file.read(size + 2)
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._read() for _ in range(count)]
        raise ConnectionError(f"unexpected reply {line!r}")

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def command(
    port: int,
    *args: str | bytes | int,
    password: str | None = None,
    timeout: float = 5,
    username: str | None = None,
) -> Any:
    """Send one command to the node on 127.0.0.1:``port`` (signed in as ``username`` when
    given, else the default user) and answer its reply."""
    with Connection("127.0.0.1", port, password, timeout, username) as conn:
        return conn.call(*args)
