"""ElastiCache tests: each test gets an account of its own on the shared server, and talks to
the cache nodes it creates over RESP (nubes' own small client, as a user's client would)."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nubes.runtime.elasticache.resp import RespError, command


@pytest.fixture(autouse=True)
def _needs_redis_server() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip(
            "redis-server is not installed (apt-get install redis-server): ElastiCache nodes "
            "are real redis-server processes"
        )


@pytest.fixture
def account() -> str:
    return "8" + "".join(secrets.choice("0123456789") for _ in range(11))


@pytest.fixture
def ec(client: Callable[..., Any], account: str) -> Iterator[Any]:
    """An ElastiCache client of the test's own account; every cluster, replication group and
    serverless cache the test leaves is deleted afterwards (their servers end with the test)."""
    api = client("elasticache", aws_access_key_id=account)
    yield api
    for group in api.describe_replication_groups()["ReplicationGroups"]:
        api.delete_replication_group(ReplicationGroupId=group["ReplicationGroupId"])
    for cluster in api.describe_cache_clusters()["CacheClusters"]:
        api.delete_cache_cluster(CacheClusterId=cluster["CacheClusterId"])
    for cache in api.describe_serverless_caches()["ServerlessCaches"]:
        api.delete_serverless_cache(ServerlessCacheName=cache["ServerlessCacheName"])


def node_port(api: Any, cluster_id: str) -> int:
    found = api.describe_cache_clusters(CacheClusterId=cluster_id, ShowCacheNodeInfo=True)
    return int(found["CacheClusters"][0]["CacheNodes"][0]["Endpoint"]["Port"])


def server_pid(port: int, password: str | None = None, username: str | None = None) -> int:
    """The pid of the redis-server on ``port``."""
    info = command(port, "INFO", "server", password=password, username=username)
    return int(info.split(b"process_id:")[1].split(b"\r")[0])


def gone(pid: int) -> bool:
    """Whether the process has ended (nubes waits for the servers it stops). Asked by pid, not
    by port: another test's server may listen on a freed port at once."""
    return not os.path.exists(f"/proc/{pid}")


def eventually(
    port: int, *args: str, expect: Any, password: str | None = None, username: str | None = None
) -> Any:
    """The reply of a command once it is ``expect`` (replication is asynchronous); the last
    reply after a generous deadline otherwise."""
    deadline = time.monotonic() + 20
    reply: Any = None
    while time.monotonic() < deadline:
        try:
            reply = command(port, *args, password=password, username=username)
        except (OSError, RespError) as exc:
            reply = exc
        if reply == expect:
            break
        time.sleep(0.05)
    return reply
