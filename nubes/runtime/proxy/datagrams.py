"""UDP listeners of network load balancers: each client (address, port) is a flow that stays
with the target chosen for its first datagram, through a socket of its own so the target's
replies are relayed back to that client; a flow idle for NLB's UDP idle timeout ends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

IDLE_TIMEOUT = 120.0
"""Seconds a UDP flow lives without traffic (NLB's documented UDP idle timeout)."""

Choose = Callable[[str], tuple[str, int] | None]
"""Client address -> the (address, port) of the target a new flow goes to, or None."""


class _Flow(asyncio.DatagramProtocol):
    def __init__(self, listener: Listener, client: tuple[str, int]) -> None:
        self.listener = listener
        self.client = client
        self.pending: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport does not derive from asyncio.DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)
        for data in self.pending:
            self.transport.sendto(data)
        self.pending.clear()
        self.touch()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.listener.transport is not None:
            self.listener.transport.sendto(data, self.client)
        self.touch()

    def send(self, data: bytes) -> None:
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.sendto(data)
            self.touch()

    def touch(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(IDLE_TIMEOUT, self.close)

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.transport is not None:
            self.transport.close()
        self.listener.flows.pop(self.client, None)


class Listener(asyncio.DatagramProtocol):
    """One bound UDP listener port."""

    def __init__(self, choose: Choose) -> None:
        self.choose = choose
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple[str, int], _Flow] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport does not derive from asyncio.DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        flow = self.flows.get(addr)
        if flow is None:
            target = self.choose(addr[0])
            if target is None:
                return  # no target: the datagram is dropped, as NLB does
            flow = self.flows[addr] = _Flow(self, addr)
            asyncio.get_running_loop().create_task(self._open(flow, target))
        flow.send(data)

    async def _open(self, flow: _Flow, target: tuple[str, int]) -> None:
        try:
            await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: flow, remote_addr=target
            )
        except OSError:
            self.flows.pop(flow.client, None)

    def close(self) -> None:
        for flow in list(self.flows.values()):
            flow.close()
        if self.transport is not None:
            self.transport.close()
