"""Snapshots: an RDB copy of a node's data, restored into a new cluster."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
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


def test_seed_from_an_rdb_file_in_s3(
    ec: Any, client: Callable[..., Any], account: str, tmp_path: Path
) -> None:
    ec.create_cache_cluster(CacheClusterId="exporter", Engine="redis")
    command(node_port(ec, "exporter"), "SET", "seeded", "from s3")
    # The node's RDB file, as a user would have one from another Redis, goes to S3.
    port = node_port(ec, "exporter")
    command(port, "SAVE")
    rdb = Path(command(port, "CONFIG", "GET", "dir")[1].decode()) / "dump.rdb"
    s3 = client("s3", aws_access_key_id=account)
    s3.create_bucket(Bucket=f"rdb-{account}")
    s3.put_object(Bucket=f"rdb-{account}", Key="seed.rdb", Body=rdb.read_bytes())
    s3.put_object(Bucket=f"rdb-{account}", Key="not.rdb", Body=b"hello")
    ec.create_cache_cluster(
        CacheClusterId="seeded",
        Engine="redis",
        SnapshotArns=[f"arn:aws:s3:::rdb-{account}/seed.rdb"],
    )
    assert command(node_port(ec, "seeded"), "GET", "seeded") == b"from s3"
    with pytest.raises(ClientError) as err:
        ec.create_cache_cluster(
            CacheClusterId="notseeded",
            Engine="redis",
            SnapshotArns=[f"arn:aws:s3:::rdb-{account}/not.rdb"],
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_seed_from_s3_in_the_china_partition(client: Callable[..., Any], account: str) -> None:
    """In cn-* regions the S3 object ARN is ``arn:aws-cn:s3:::bucket/key``."""
    region = "cn-north-1"
    ec = client("elasticache", region=region, aws_access_key_id=account)
    s3 = client("s3", region=region, aws_access_key_id=account)
    bucket = f"rdb-cn-{account}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    try:
        ec.create_cache_cluster(CacheClusterId="exporter", Engine="redis")
        port = node_port(ec, "exporter")
        command(port, "SET", "seeded", "in china")
        command(port, "SAVE")
        rdb = Path(command(port, "CONFIG", "GET", "dir")[1].decode()) / "dump.rdb"
        s3.put_object(Bucket=bucket, Key="seed.rdb", Body=rdb.read_bytes())
        made = ec.create_cache_cluster(
            CacheClusterId="seeded",
            Engine="redis",
            SnapshotArns=[f"arn:aws-cn:s3:::{bucket}/seed.rdb"],
        )["CacheCluster"]
        assert made["ARN"].startswith(f"arn:aws-cn:elasticache:{region}:")
        assert command(node_port(ec, "seeded"), "GET", "seeded") == b"in china"
        with pytest.raises(ClientError) as err:
            ec.create_cache_cluster(
                CacheClusterId="badarn", Engine="redis", SnapshotArns=[f"{bucket}/seed.rdb"]
            )
        assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
        assert "arn:aws-cn:s3:::bucket/key" in err.value.response["Error"]["Message"]
    finally:
        for cluster in ec.describe_cache_clusters()["CacheClusters"]:
            ec.delete_cache_cluster(CacheClusterId=cluster["CacheClusterId"])
