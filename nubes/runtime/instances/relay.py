"""Byte relays between the host and an instance: servers on sockets bound in advance,
both-way splices that count the instance's traffic."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

Connected = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Count = Callable[[int], None]


class SocketServer:
    """An asyncio server over an already bound socket, started without awaiting."""

    def __init__(self, sock: socket.socket, connected: Connected) -> None:
        self._sock = sock
        self._task = asyncio.get_running_loop().create_task(self._run(connected))
        self._task.add_done_callback(lambda _: sock.close())

    async def _run(self, connected: Connected) -> None:
        if self._sock.family == socket.AF_UNIX:
            server = await asyncio.start_unix_server(connected, sock=self._sock)
        else:
            server = await asyncio.start_server(connected, sock=self._sock)
        try:
            await asyncio.Event().wait()
        finally:
            server.close()

    def close(self) -> None:
        self._task.cancel()


class Counted:
    """A reader that counts what it hands on."""

    def __init__(self, reader: asyncio.StreamReader, count: Count) -> None:
        self._reader = reader
        self._count = count

    async def readline(self) -> bytes:
        data = await self._reader.readline()
        self._count(len(data))
        return data

    async def readexactly(self, n: int) -> bytes:
        data = await self._reader.readexactly(n)
        self._count(len(data))
        return data

    async def read(self, n: int = -1) -> bytes:
        data = await self._reader.read(n)
        self._count(len(data))
        return data


async def pump(reader: Any, writer: asyncio.StreamWriter) -> None:
    """One direction; a half-close is passed on."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()


async def splice(
    inside: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    outside: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    count_in: Count,
    count_out: Count,
) -> None:
    """Relay both ways between a connection into an instance (``inside``) and its peer,
    counting what goes in and out of the instance."""
    try:
        await asyncio.gather(
            pump(Counted(outside[0], count_in), inside[1]),
            pump(Counted(inside[0], count_out), outside[1]),
        )
    finally:
        inside[1].close()
        outside[1].close()
