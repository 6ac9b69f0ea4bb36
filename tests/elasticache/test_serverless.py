"""Serverless caches: one server per cache, its memory limited by the data storage limit."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from nubes.runtime.elasticache.resp import command
from tests.elasticache.conftest import gone, server_pid


def test_serverless_cache(ec: Any) -> None:
    created = ec.create_serverless_cache(
        ServerlessCacheName="Sessions",
        Engine="redis",
        Description="web sessions",
        CacheUsageLimits={"DataStorage": {"Maximum": 2, "Unit": "GB"}},
        Tags=[{"Key": "app", "Value": "web"}],
    )["ServerlessCache"]
    assert created["ServerlessCacheName"] == "sessions"
    assert created["Status"] == "creating"
    assert created["MajorEngineVersion"] == "7"
    cache = ec.describe_serverless_caches(ServerlessCacheName="sessions")["ServerlessCaches"][0]
    assert cache["Status"] == "available"
    port = cache["Endpoint"]["Port"]
    assert cache["ReaderEndpoint"]["Port"] == port
    assert command(port, "SET", "s", "1") == "OK"
    assert command(port, "CONFIG", "GET", "maxmemory")[1] == str(2 * 1024**3).encode()
    assert ec.list_tags_for_resource(ResourceName=cache["ARN"])["TagList"] == [
        {"Key": "app", "Value": "web"}
    ]

    modified = ec.modify_serverless_cache(
        ServerlessCacheName="sessions",
        CacheUsageLimits={"DataStorage": {"Maximum": 3, "Unit": "GB"}},
    )["ServerlessCache"]
    assert modified["Status"] == "modifying"
    assert command(port, "CONFIG", "GET", "maxmemory")[1] == str(3 * 1024**3).encode()

    with pytest.raises(ClientError) as err:
        ec.create_serverless_cache(ServerlessCacheName="sessions", Engine="redis")
    assert err.value.response["Error"]["Code"] == "ServerlessCacheAlreadyExistsFault"
    with pytest.raises(ClientError) as err:
        ec.describe_serverless_caches(ServerlessCacheName="missing")
    assert err.value.response["Error"]["Code"] == "ServerlessCacheNotFoundFault"

    pid = server_pid(port)
    deleted = ec.delete_serverless_cache(ServerlessCacheName="sessions")["ServerlessCache"]
    assert deleted["Status"] == "deleting"
    assert gone(pid)
    assert ec.describe_serverless_caches()["ServerlessCaches"] == []
