"""pytest fixtures for testing code against nubes (installed with nubes, loaded by pytest).

- ``nubes_endpoint``: the URL of a nubes for the whole session. With ``AWS_ENDPOINT_URL`` set
  it is that running server; otherwise a nubes is started on a free port, in memory (or with
  ``--nubes-data-dir DIR``), and stopped when the session ends.
- ``nubes_client("s3")`` / ``nubes_resource("dynamodb")``: boto3 clients and resources bound to
  it, with dummy credentials and the default region (``--nubes-region``).
- ``nubes_reset``: clears all state before the test that asks for it.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nubes")
    group.addoption(
        "--nubes-data-dir",
        default=None,
        help="keep the started nubes' state in this directory (default: in memory)",
    )
    group.addoption(
        "--nubes-region", default="us-east-1", help="region of the clients nubes_client makes"
    )


@pytest.fixture(scope="session")
def nubes_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    running = os.environ.get("AWS_ENDPOINT_URL")
    if running:
        yield running.rstrip("/")
        return
    from nubes.testing.server import NubesProcess

    data_dir = request.config.getoption("--nubes-data-dir")
    server = NubesProcess(Path(data_dir) if data_dir else None).start()
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nubes_client(nubes_endpoint: str, request: pytest.FixtureRequest) -> Callable[..., Any]:
    import boto3

    region = request.config.getoption("--nubes-region")
    made: dict[tuple[str, str], Any] = {}

    def client(service: str, region_name: str | None = None) -> Any:
        key = (service, region_name or region)
        if key not in made:
            made[key] = boto3.client(
                service,
                endpoint_url=nubes_endpoint,
                region_name=key[1],
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )
        return made[key]

    return client


@pytest.fixture(scope="session")
def nubes_resource(nubes_endpoint: str, request: pytest.FixtureRequest) -> Callable[..., Any]:
    import boto3

    region = request.config.getoption("--nubes-region")

    def resource(service: str, region_name: str | None = None) -> Any:
        return boto3.resource(
            service,
            endpoint_url=nubes_endpoint,
            region_name=region_name or region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    return resource


@pytest.fixture
def nubes_reset(nubes_endpoint: str) -> None:
    req = urllib.request.Request(f"{nubes_endpoint}/_nubes/reset", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=30) as resp:
        json.load(resp)
