"""Fixtures: a real nubes server on a free port, and boto3 clients pointed at it.

One ephemeral server per test process (pytest-xdist workers each get their own), plus one for
the tests that move the server clock; tests use unique resource names instead of resetting.
``nubes_factory`` starts further servers (with a data directory, other settings) that the test
owns.
"""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server import NubesProcess, make_client


class _Servers:
    """The shared servers of one test process, started when first needed."""

    def __init__(self) -> None:
        self.started: dict[str, NubesProcess] = {}
        self.clients: dict[tuple[Any, ...], Any] = {}

    def get(self, name: str) -> NubesProcess:
        if name not in self.started:
            self.started[name] = NubesProcess().start()
        return self.started[name]


@pytest.fixture(scope="session")
def servers() -> Iterator[_Servers]:
    found = _Servers()
    yield found
    for server in found.started.values():
        server.stop()


@pytest.fixture(scope="session")
def nubes(servers: _Servers) -> NubesProcess:
    return servers.get("shared")


def _moves_clock(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("clock") is not None or "advance" in request.fixturenames


@pytest.fixture
def endpoint(request: pytest.FixtureRequest, servers: _Servers) -> str:
    """The shared server, or for tests that move its clock (marked ``clock`` or using an
    ``advance`` fixture) a second one: a clock ahead of the client's real one would make
    presigned URLs, conditional requests and timestamps of other tests go wrong."""
    return servers.get("clock" if _moves_clock(request) else "shared").endpoint


@pytest.fixture
def client(endpoint: str, servers: _Servers) -> Callable[..., Any]:
    """``client("s3")``: a boto3 client for this test's server (test/test credentials)."""

    def make(service: str, region: str = "us-east-1", **kwargs: Any) -> Any:
        key = (endpoint, service, region, tuple(sorted(kwargs.items())))
        if key not in servers.clients:
            servers.clients[key] = make_client(endpoint, service, region, **kwargs)
        return servers.clients[key]

    return make


@pytest.fixture
def nubes_factory(tmp_path: Path) -> Iterator[Callable[..., NubesProcess]]:
    started: list[NubesProcess] = []

    def start(persistent: bool = True, env: dict[str, str] | None = None) -> NubesProcess:
        server = NubesProcess(tmp_path / "data" if persistent else None, env=env)
        started.append(server.start())
        return server

    yield start
    for server in started:
        if server.proc is not None and server.proc.poll() is None:
            server.kill()


@pytest.fixture
def account_client(client: Callable[..., Any]) -> Callable[..., Any]:
    """``client``, in an account of this test's own (a 12-digit access key is the account):
    for tests that make what an account has a quota of (five VPCs per region), so tests
    sharing a server do not use up each other's."""
    account = "9" + "".join(secrets.choice(string.digits) for _ in range(11))

    def make(service: str, region: str = "us-east-1", **kwargs: Any) -> Any:
        return client(service, region, aws_access_key_id=account, **kwargs)

    return make


@pytest.fixture
def unique() -> Callable[[str], str]:
    """``unique("queue")`` -> ``queue-1a2b3c4d``: names that never collide between tests."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Counts of AWS protocol vectors per file: passed, skipped by botocore's ignore list,
    client-only (strict xfail, see CLIENT_ONLY in tests/protocol/test_vectors.py), failed."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "xfailed"):
        for report in terminalreporter.stats.get(outcome, []):
            key = dict(getattr(report, "user_properties", ())).get("protocol_vector")
            if key is None or (report.when != "call" and outcome not in ("skipped", "xfailed")):
                continue
            tally = counts.setdefault(key, {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0})
            tally[outcome] += 1
    if not counts:
        _report_missing_vectors(terminalreporter)
        return
    terminalreporter.section("AWS protocol test vectors")
    terminalreporter.write_line(
        f"{'file':48s} {'passed':>6s} {'ignored':>8s} {'client-only':>12s} {'failed':>6s}"
    )
    total = {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0}
    for key in sorted(counts):
        c = counts[key]
        for k in total:
            total[k] += c[k]
        terminalreporter.write_line(
            f"{key:48s} {c['passed']:6d} {c['skipped']:8d} {c['xfailed']:12d} {c['failed']:6d}"
        )
    terminalreporter.write_line(
        f"{'total':48s} {total['passed']:6d} {total['skipped']:8d} {total['xfailed']:12d} "
        f"{total['failed']:6d}"
    )


def _report_missing_vectors(terminalreporter: Any) -> None:
    """A run without the vectors is a partial run: say so at the end, where it is read."""
    from tests.protocol.vectors import MISSING

    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""
        if MISSING in str(reason):
            terminalreporter.section("AWS protocol test vectors: NOT RUN", red=True, bold=True)
            terminalreporter.write_line(MISSING, red=True)
            return
