"""Memcached clusters: one memcached process per node, nodes added and removed by
ModifyCacheCluster; no snapshots, and a reboot empties a node, as on AWS."""

from __future__ import annotations

import shutil
import socket
from typing import Any

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.skipif(
    shutil.which("memcached") is None,
    reason="memcached is not installed (apt-get install memcached)",
)


def memcached(port: int, line: str) -> str:
    """One text-protocol command and its reply (up to END, STORED or the first line)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(line.encode())
        data = b""
        while not data.endswith((b"END\r\n", b"STORED\r\n", b"ERROR\r\n")):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode()


def nodes(ec: Any, cluster_id: str) -> dict[str, int]:
    cluster = ec.describe_cache_clusters(CacheClusterId=cluster_id, ShowCacheNodeInfo=True)
    return {
        n["CacheNodeId"]: n["Endpoint"]["Port"] for n in cluster["CacheClusters"][0]["CacheNodes"]
    }


def test_memcached_cluster(ec: Any) -> None:
    created = ec.create_cache_cluster(
        CacheClusterId="mc", Engine="memcached", CacheNodeType="cache.t3.micro", NumCacheNodes=2
    )["CacheCluster"]
    assert created["EngineVersion"] == "1.6.22"
    assert created["CacheParameterGroup"]["CacheParameterGroupName"] == "default.memcached1.6"
    cluster = ec.describe_cache_clusters(CacheClusterId="mc", ShowCacheNodeInfo=True)[
        "CacheClusters"
    ][0]
    ports = nodes(ec, "mc")
    assert sorted(ports) == ["0001", "0002"] and len(set(ports.values())) == 2
    assert cluster["ConfigurationEndpoint"]["Port"] == ports["0001"]
    for port in ports.values():
        assert memcached(port, "set k 0 0 1\r\nv\r\n") == "STORED\r\n"
        assert memcached(port, "get k\r\n") == "VALUE k 0 1\r\nv\r\nEND\r\n"

    ec.modify_cache_cluster(CacheClusterId="mc", NumCacheNodes=3, ApplyImmediately=True)
    ports = nodes(ec, "mc")
    assert sorted(ports) == ["0001", "0002", "0003"]
    assert memcached(ports["0003"], "get k\r\n") == "END\r\n"
    with pytest.raises(ClientError) as err:
        ec.modify_cache_cluster(CacheClusterId="mc", NumCacheNodes=2, ApplyImmediately=True)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    gone = ports["0002"]
    ec.modify_cache_cluster(
        CacheClusterId="mc", NumCacheNodes=2, CacheNodeIdsToRemove=["0002"], ApplyImmediately=True
    )
    assert sorted(nodes(ec, "mc")) == ["0001", "0003"]
    with pytest.raises(OSError):
        memcached(gone, "version\r\n")

    ec.reboot_cache_cluster(CacheClusterId="mc", CacheNodeIdsToReboot=["0001"])
    assert memcached(nodes(ec, "mc")["0001"], "get k\r\n") == "END\r\n"

    with pytest.raises(ClientError) as err:
        ec.create_snapshot(CacheClusterId="mc", SnapshotName="no")
    assert err.value.response["Error"]["Code"] == "SnapshotFeatureNotSupportedFault"
    with pytest.raises(ClientError) as err:
        ec.create_cache_cluster(
            CacheClusterId="mcauth", Engine="memcached", AuthToken="0123456789abcdefghij"
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterCombination"
