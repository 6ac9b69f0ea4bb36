"""A fake EC2 provider (InstanceHost) and helpers to drive the instance runtime directly, with
real processes and real namespaces; every test ends what it started (``runtime.stop()``)."""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import socket
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from nubes.runtime.instances.runtime import InstanceRuntime
from nubes.runtime.instances.spec import InstanceSpec

_addresses = itertools.count(1)


class FakeHost:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.allowed: set[int] = {80}
        self.exits: list[tuple[str, str]] = []
        self.credentials: dict[str, Any] | None = None
        self.data = b""

    def describe(self, instance_id: str) -> dict[str, Any] | None:
        return self.records.get(instance_id)

    def user_data(self, instance_id: str) -> bytes:
        return self.data

    def role_credentials(self, instance_id: str) -> dict[str, Any] | None:
        return self.credentials

    def ingress_allowed(self, instance_id: str, protocol: str, port: int, source_ip: str) -> bool:
        return protocol == "tcp" and port in self.allowed

    def exited(self, instance_id: str, reason: str) -> None:
        self.exits.append((instance_id, reason))


def record(instance_id: str, private_ip: str, **extra: Any) -> dict[str, Any]:
    return {
        "InstanceId": instance_id,
        "ImageId": "ami-0abcdef1234567890",
        "InstanceType": "t3.micro",
        "PrivateIpAddress": private_ip,
        "PrivateDnsName": f"ip-{private_ip.replace('.', '-')}.ec2.internal",
        "Placement": {"AvailabilityZone": "us-east-1a"},
        "MetadataOptions": {"HttpTokens": "optional", "HttpEndpoint": "enabled"},
        "NetworkInterfaces": [{"MacAddress": "02:12:34:56:78:9a", "SubnetId": "subnet-1"}],
        "SecurityGroups": [{"GroupId": "sg-1", "GroupName": "default"}],
        "Monitoring": {"State": "disabled"},
        **extra,
    }


class Lab:
    """One runtime, a fake host, and instances made from user data."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.host = FakeHost()
        self.runtime = InstanceRuntime(self.host, api_port=_free_port())

    def spec(self, user_data: bytes, private_ip: str = "10.0.1.10", **kw: Any) -> InstanceSpec:
        n = next(_addresses)
        instance_id = f"i-{n:017x}"
        self.host.records[instance_id] = record(instance_id, private_ip)
        return InstanceSpec(
            instance_id=instance_id,
            account_id="000000000000",
            region="us-east-1",
            private_ip=private_ip,
            public_ip=kw.pop("public_ip", f"127.77.{n // 250}.{n % 250 + 1}"),
            user_data=user_data,
            volumes=kw.pop("volumes", {}),
            work_dir=str(self.tmp / instance_id),
            **kw,
        )


def run(tmp_path: Path, scenario: Callable[[Lab], Awaitable[None]]) -> None:
    async def main() -> None:
        lab = Lab(tmp_path)
        await lab.runtime.start()
        try:
            await scenario(lab)
        finally:
            await lab.runtime.stop()

    asyncio.run(main())


async def get(url: str, timeout: float = 10.0) -> bytes:
    """GET that waits for the server to come up (connection refused) until ``timeout``."""

    def fetch() -> bytes:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return bytes(resp.read())

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await asyncio.to_thread(fetch)
        except OSError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.05)


async def refused(host: str, port: int) -> bool:
    """True when a connection to host:port gets no byte of an answer."""

    def attempt() -> bool:
        try:
            with socket.create_connection((host, port), timeout=3) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                return s.recv(100) == b""
        except OSError:
            return True

    return await asyncio.to_thread(attempt)


def command_lines() -> list[list[bytes]]:
    """The argv of every process on the machine."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                found.append(f.read().split(b"\0"))
        except OSError:
            continue
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@functools.cache
def _namespaces_work() -> bool:
    return asyncio.run(InstanceRuntime._namespaces_work())


@pytest.fixture(autouse=True)
def _namespaces(request: pytest.FixtureRequest) -> None:
    """Tests of isolated instances need what the runtime needs for them (the host-mode test
    runs anywhere)."""
    if "host_mode" not in request.node.name and not _namespaces_work():
        pytest.skip("no unprivileged user/network namespaces with veth pairs here")
