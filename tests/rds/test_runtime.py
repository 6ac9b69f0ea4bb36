"""The server runtime on its own: a port someone else holds is told apart from other failures,
so the provider can pick another one."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from nubes.runtime import rds as runtime
from tests.rds.pg import needs_postgres

pytestmark = needs_postgres


def test_a_held_port_is_reported_as_taken(tmp_path: Path) -> None:
    async def scenario() -> None:
        servers = runtime.Servers()
        data = tmp_path / "db" / "pgdata"
        try:
            await servers.initdb(data, "master", "held-Passw0rd")
            with socket.socket() as holder:
                holder.bind(("127.0.0.1", 0))
                holder.listen()
                port = holder.getsockname()[1]
                with pytest.raises(runtime.PortTaken):
                    await servers.start(data, port)
            assert not servers.running(data)
            free = runtime.free_port(port, set())
            await servers.start(data, free)
            assert servers.running(data)
            assert await servers.sql(data, "master", "SELECT 41 + 1;") == "42\n"
        finally:
            await servers.stop_all()
            servers.close()

    asyncio.run(scenario())
