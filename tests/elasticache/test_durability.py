"""Cache nodes outlive nothing they should: they stop with nubes, come back with their data when
it starts again, and a nubes killed with SIGKILL has its leftover servers stopped and replaced."""

from __future__ import annotations

from collections.abc import Callable

import requests

from nubes.runtime.elasticache.resp import command
from nubes.testing.server import NubesProcess
from tests.elasticache.conftest import eventually, gone, node_port, server_pid


def test_nodes_survive_kill_and_restart(nubes_factory: Callable[..., NubesProcess]) -> None:
    server = nubes_factory(persistent=True)
    ec = server.client("elasticache")
    ec.create_cache_cluster(CacheClusterId="durable", Engine="redis", NumCacheNodes=1)
    ec.create_replication_group(
        ReplicationGroupId="pair", ReplicationGroupDescription="d", NumCacheClusters=2
    )
    serverless = ec.create_serverless_cache(ServerlessCacheName="lasting", Engine="valkey")
    command(serverless["ServerlessCache"]["Endpoint"]["Port"], "SET", "kept", "too")
    port = node_port(ec, "durable")
    command(port, "SET", "session", "abc")
    old_pid = server_pid(port)

    server.kill()
    # The server nubes left behind still runs: the next nubes finds it by its data directory.
    assert not gone(old_pid)

    again = nubes_factory(persistent=True)
    try:
        ec = again.client("elasticache")
        cluster = ec.describe_cache_clusters(CacheClusterId="durable", ShowCacheNodeInfo=True)[
            "CacheClusters"
        ][0]
        assert cluster["CacheClusterStatus"] == "available"
        port = cluster["CacheNodes"][0]["Endpoint"]["Port"]
        assert command(port, "GET", "session") == b"abc"
        pid = server_pid(port)
        assert pid != old_pid and gone(old_pid)
        command(port, "SET", "later", "1")
        cache = ec.describe_serverless_caches()["ServerlessCaches"][0]
        assert cache["Status"] == "available"
        assert command(cache["Endpoint"]["Port"], "GET", "kept") == b"too"
        # The replica follows its primary again (wherever the primary listens now).
        primary, replica = node_port(ec, "pair-001"), node_port(ec, "pair-002")
        command(primary, "SET", "replicated", "after restart")
        assert eventually(replica, "GET", "replicated", expect=b"after restart") == (
            b"after restart"
        )
    finally:
        again.stop()
    # A stopped nubes leaves no server running; the data waits for the next start.
    assert gone(pid)

    third = nubes_factory(persistent=True)
    try:
        port = node_port(third.client("elasticache"), "durable")
        assert command(port, "GET", "later") == b"1"
    finally:
        third.stop()


def test_memory_mode_reset_and_stop_end_the_nodes(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    server = nubes_factory(persistent=False)
    ec = server.client("elasticache")
    ec.create_cache_cluster(CacheClusterId="scratch", Engine="redis")
    pid = server_pid(node_port(ec, "scratch"))
    requests.post(f"{server.endpoint}/_nubes/reset", timeout=30).raise_for_status()
    assert gone(pid)
    assert ec.describe_cache_clusters()["CacheClusters"] == []
    ec.create_cache_cluster(CacheClusterId="scratch", Engine="redis")
    pid = server_pid(node_port(ec, "scratch"))
    server.stop()
    assert gone(pid)
