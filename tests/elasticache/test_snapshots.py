"""Snapshots: an RDB copy of a node's data, restored into a new cluster."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from nubes.runtime.elasticache.resp import command
from tests.elasticache.conftest import node_port


def test_snapshot_and_restore(ec: Any) -> None:
    ec.create_cache_cluster(CacheClusterId="source", Engine="redis")
    command(node_port(ec, "source"), "SET", "saved", "value")
    snap = ec.create_snapshot(CacheClusterId="source", SnapshotName="nightly")["Snapshot"]
    assert snap["SnapshotStatus"] == "creating"
    assert snap["SnapshotSource"] == "manual"
    found = ec.describe_snapshots(SnapshotName="nightly")["Snapshots"][0]
    assert found["SnapshotStatus"] == "available"
    assert found["NodeSnapshots"][0]["CacheNodeId"] == "0001"
    with pytest.raises(ClientError) as err:
        ec.create_snapshot(CacheClusterId="source", SnapshotName="nightly")
    assert err.value.response["Error"]["Code"] == "SnapshotAlreadyExistsFault"

    command(node_port(ec, "source"), "SET", "saved", "changed later")
    ec.create_cache_cluster(CacheClusterId="restored", SnapshotName="nightly")
    assert command(node_port(ec, "restored"), "GET", "saved") == b"value"

    ec.copy_snapshot(SourceSnapshotName="nightly", TargetSnapshotName="nightly-copy")
    ec.delete_cache_cluster(CacheClusterId="source", FinalSnapshotIdentifier="final")
    names = [s["SnapshotName"] for s in ec.describe_snapshots()["Snapshots"]]
    assert names == ["final", "nightly", "nightly-copy"]
    ec.create_replication_group(
        ReplicationGroupId="fromsnap",
        ReplicationGroupDescription="d",
        NumCacheClusters=1,
        SnapshotName="final",
    )
    assert command(node_port(ec, "fromsnap-001"), "GET", "saved") == b"changed later"
    for name in names:
        assert ec.delete_snapshot(SnapshotName=name)["Snapshot"]["SnapshotStatus"] == "deleting"
    with pytest.raises(ClientError) as err:
        ec.describe_snapshots(SnapshotName="final")
    assert err.value.response["Error"]["Code"] == "SnapshotNotFoundFault"
    with pytest.raises(ClientError) as err:
        ec.create_cache_cluster(CacheClusterId="none", SnapshotName="final")
    assert err.value.response["Error"]["Code"] == "SnapshotNotFoundFault"
