"""Cache clusters: a real redis-server per node, reached at the endpoint nubes reports."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nubes.runtime.elasticache.resp import RespError, command
from tests.elasticache.conftest import gone, node_port, server_pid


def test_create_describe_and_use_a_cluster(ec: Any) -> None:
    created = ec.create_cache_cluster(
        CacheClusterId="Sessions",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheNodes=1,
        Tags=[{"Key": "app", "Value": "web"}],
    )["CacheCluster"]
    assert created["CacheClusterId"] == "sessions"
    assert created["CacheClusterStatus"] == "creating"
    assert created["EngineVersion"] == "7.1"
    assert created["CacheParameterGroup"]["CacheParameterGroupName"] == "default.redis7"

    ec.get_waiter("cache_cluster_available").wait(CacheClusterId="sessions")
    found = ec.describe_cache_clusters(CacheClusterId="sessions", ShowCacheNodeInfo=True)
    cluster = found["CacheClusters"][0]
    assert cluster["CacheClusterStatus"] == "available"
    node = cluster["CacheNodes"][0]
    assert node["CacheNodeId"] == "0001"
    assert node["Endpoint"]["Address"] == "127.0.0.1"
    port = node["Endpoint"]["Port"]
    assert command(port, "SET", "user:1", "alice") == "OK"
    assert command(port, "GET", "user:1") == b"alice"
    # ElastiCache's default group evicts volatile keys first (redis' own default is noeviction).
    assert command(port, "CONFIG", "GET", "maxmemory-policy") == [
        b"maxmemory-policy",
        b"volatile-lru",
    ]
    assert ec.list_tags_for_resource(ResourceName=cluster["ARN"])["TagList"] == [
        {"Key": "app", "Value": "web"}
    ]
    # Without ShowCacheNodeInfo the nodes are left out, as AWS does.
    assert "CacheNodes" not in ec.describe_cache_clusters()["CacheClusters"][0]


def test_reboot_keeps_data_and_delete_stops_the_server(ec: Any) -> None:
    ec.create_cache_cluster(CacheClusterId="reboot", Engine="redis", NumCacheNodes=1)
    port = node_port(ec, "reboot")
    command(port, "SET", "kept", "yes")
    rebooted = ec.reboot_cache_cluster(CacheClusterId="reboot", CacheNodeIdsToReboot=["0001"])
    assert rebooted["CacheCluster"]["CacheClusterStatus"] == "rebooting cache cluster nodes"
    port = node_port(ec, "reboot")
    assert command(port, "GET", "kept") == b"yes"
    assert (
        ec.describe_cache_clusters(CacheClusterId="reboot")["CacheClusters"][0][
            "CacheClusterStatus"
        ]
        == "available"
    )

    pid = server_pid(port)
    deleted = ec.delete_cache_cluster(CacheClusterId="reboot")["CacheCluster"]
    assert deleted["CacheClusterStatus"] == "deleting"
    assert gone(pid)
    with pytest.raises(ClientError) as err:
        ec.describe_cache_clusters(CacheClusterId="reboot")
    assert err.value.response["Error"]["Code"] == "CacheClusterNotFound"
    assert err.value.response["Error"]["Message"] == "CacheCluster not found: reboot"


def test_errors(ec: Any) -> None:
    ec.create_cache_cluster(CacheClusterId="twice", Engine="redis", NumCacheNodes=1)
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        (
            dict(CacheClusterId="twice", Engine="redis", NumCacheNodes=1),
            "CacheClusterAlreadyExists",
            "Cache cluster twice already exists.",
        ),
        (
            dict(CacheClusterId="two", Engine="redis", NumCacheNodes=2),
            "InvalidParameterValue",
            None,
        ),
        (dict(CacheClusterId="1bad", Engine="redis"), "InvalidParameterValue", None),
        (dict(CacheClusterId="bad--id", Engine="redis"), "InvalidParameterValue", None),
        (dict(CacheClusterId="eng", Engine="oracle"), "InvalidParameterValue", None),
        (
            dict(CacheClusterId="typ", Engine="redis", CacheNodeType="cache.x9.huge"),
            "InvalidParameterValue",
            "Invalid Cache Node Type: cache.x9.huge",
        ),
        (
            dict(CacheClusterId="ver", Engine="redis", EngineVersion="2.0"),
            "InvalidParameterCombination",
            None,
        ),
        (
            dict(CacheClusterId="pg", Engine="redis", CacheParameterGroupName="nope"),
            "CacheParameterGroupNotFound",
            None,
        ),
        (
            dict(CacheClusterId="sn", Engine="redis", CacheSubnetGroupName="nope"),
            "CacheSubnetGroupNotFoundFault",
            None,
        ),
        (
            dict(CacheClusterId="tls", Engine="redis", TransitEncryptionEnabled=True),
            "InvalidParameterCombination",
            None,
        ),
    ]
    for params, code, message in cases:
        with pytest.raises(ClientError) as err:
            ec.create_cache_cluster(**params)
        assert err.value.response["Error"]["Code"] == code, params
        if message:
            assert err.value.response["Error"]["Message"] == message
    ids = [c["CacheClusterId"] for c in ec.describe_cache_clusters()["CacheClusters"]]
    assert ids == ["twice"]
    for call in (
        lambda: ec.delete_cache_cluster(CacheClusterId="missing"),
        lambda: ec.reboot_cache_cluster(CacheClusterId="missing", CacheNodeIdsToReboot=["0001"]),
        lambda: ec.modify_cache_cluster(CacheClusterId="missing", SnapshotRetentionLimit=1),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "CacheClusterNotFound"
    with pytest.raises(ClientError) as err:
        ec.reboot_cache_cluster(CacheClusterId="twice", CacheNodeIdsToReboot=["0002"])
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_pagination(ec: Any) -> None:
    for i in range(3):
        ec.create_cache_cluster(CacheClusterId=f"page-{i}", Engine="redis")
    with pytest.raises(ClientError) as err:
        ec.describe_cache_clusters(MaxRecords=5)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    pages = ec.get_paginator("describe_cache_clusters").paginate(PaginationConfig={"PageSize": 20})
    ids = [c["CacheClusterId"] for page in pages for c in page["CacheClusters"]]
    assert ids == ["page-0", "page-1", "page-2"]


def test_parameter_group_changes_reach_the_server(ec: Any) -> None:
    ec.create_cache_parameter_group(
        CacheParameterGroupName="tuned", CacheParameterGroupFamily="redis7", Description="t"
    )
    ec.create_cache_cluster(CacheClusterId="tuned", Engine="redis", CacheParameterGroupName="tuned")
    port = node_port(ec, "tuned")
    ec.modify_cache_parameter_group(
        CacheParameterGroupName="tuned",
        ParameterNameValues=[
            {"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lru"},
            {"ParameterName": "notify-keyspace-events", "ParameterValue": "Ex"},
        ],
    )
    assert command(port, "CONFIG", "GET", "maxmemory-policy")[1] == b"allkeys-lru"
    assert set(command(port, "CONFIG", "GET", "notify-keyspace-events")[1]) == set(b"xE")
    params = {
        p["ParameterName"]: p
        for p in ec.describe_cache_parameters(CacheParameterGroupName="tuned", Source="user")[
            "Parameters"
        ]
    }
    assert params["maxmemory-policy"]["ParameterValue"] == "allkeys-lru"
    with pytest.raises(ClientError) as err:
        ec.modify_cache_parameter_group(
            CacheParameterGroupName="tuned",
            ParameterNameValues=[{"ParameterName": "maxmemory-policy", "ParameterValue": "x"}],
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec.delete_cache_parameter_group(CacheParameterGroupName="tuned")
    assert err.value.response["Error"]["Code"] == "InvalidCacheParameterGroupState"
    with pytest.raises(ClientError) as err:
        ec.modify_cache_parameter_group(
            CacheParameterGroupName="default.redis7",
            ParameterNameValues=[{"ParameterName": "timeout", "ParameterValue": "30"}],
        )
    assert err.value.response["Error"]["Code"] == "InvalidCacheParameterGroupState"
    # A restart keeps the group's values (they are in the node's config).
    ec.reboot_cache_cluster(CacheClusterId="tuned", CacheNodeIdsToReboot=["0001"])
    assert command(node_port(ec, "tuned"), "CONFIG", "GET", "maxmemory-policy")[1] == (
        b"allkeys-lru"
    )


def test_auth_token_and_modify(ec: Any) -> None:
    token = "s3cret-token-0123456789"
    ec.create_cache_cluster(CacheClusterId="auth", Engine="redis", AuthToken=token)
    cluster = ec.describe_cache_clusters(CacheClusterId="auth")["CacheClusters"][0]
    assert cluster["AuthTokenEnabled"] is True
    port = node_port(ec, "auth")
    with pytest.raises(RespError, match="NOAUTH"):
        command(port, "GET", "x")
    assert command(port, "PING", password=token) == "PONG"
    with pytest.raises(ClientError) as err:
        ec.create_cache_cluster(CacheClusterId="short", Engine="redis", AuthToken="short")
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"

    modified = ec.modify_cache_cluster(
        CacheClusterId="auth",
        AuthToken="another-token-0123456789",
        AuthTokenUpdateStrategy="SET",
        SnapshotRetentionLimit=3,
        ApplyImmediately=True,
    )["CacheCluster"]
    assert modified["CacheClusterStatus"] == "modifying"
    assert modified["SnapshotRetentionLimit"] == 3
    # A bigger node type is a higher memory limit on the running server.
    ec.modify_cache_cluster(CacheClusterId="auth", CacheNodeType="cache.m5.large")
    port = node_port(ec, "auth")
    memory = command(port, "CONFIG", "GET", "maxmemory", password="another-token-0123456789")
    assert memory == [b"maxmemory", str(int(6.38 * 1024**3)).encode()]
    port = node_port(ec, "auth")
    assert command(port, "PING", password="another-token-0123456789") == "PONG"
    assert (
        ec.describe_cache_clusters(CacheClusterId="auth")["CacheClusters"][0]["CacheClusterStatus"]
        == "available"
    )


def test_port_taken_gets_a_free_one(ec: Any) -> None:
    ec.create_cache_cluster(CacheClusterId="first", Engine="redis", Port=16379)
    ec.create_cache_cluster(CacheClusterId="second", Engine="redis", Port=16379)
    first, second = node_port(ec, "first"), node_port(ec, "second")
    assert first != second
    command(first, "SET", "where", "first")
    assert command(second, "GET", "where") is None


def test_engine_versions_and_default_groups(ec: Any) -> None:
    versions = ec.describe_cache_engine_versions(Engine="redis", DefaultOnly=True)
    assert [v["EngineVersion"] for v in versions["CacheEngineVersions"]] == ["7.1"]
    families = {
        g["CacheParameterGroupName"]
        for g in ec.describe_cache_parameter_groups()["CacheParameterGroups"]
    }
    assert "default.redis7" in families
    defaults = ec.describe_engine_default_parameters(CacheParameterGroupFamily="redis7")
    names = {p["ParameterName"] for p in defaults["EngineDefaults"]["Parameters"]}
    assert "maxmemory-policy" in names


def test_a_crashed_node_is_started_again(ec: Any) -> None:
    ec.create_cache_cluster(CacheClusterId="phoenix", Engine="redis")
    port = node_port(ec, "phoenix")
    command(port, "SET", "before", "crash")
    command(port, "SAVE")
    info = command(port, "INFO", "server")
    pid = int(info.split(b"process_id:")[1].split(b"\r")[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    revived = None
    while time.monotonic() < deadline:
        try:
            revived = int(
                command(node_port(ec, "phoenix"), "INFO", "server")
                .split(b"process_id:")[1]
                .split(b"\r")[0]
            )
        except OSError:
            revived = None
        if revived not in (None, pid):
            break
        time.sleep(0.05)
    assert revived not in (None, pid)
    assert command(node_port(ec, "phoenix"), "GET", "before") == b"crash"


def test_subnet_groups_and_tags(ec: Any, client: Any, account: str) -> None:
    ec2 = client("ec2", aws_access_key_id=account)
    subnets = ec2.describe_subnets()["Subnets"]
    ids = [s["SubnetId"] for s in subnets][:2]
    group = ec.create_cache_subnet_group(
        CacheSubnetGroupName="App-Subnets", CacheSubnetGroupDescription="app", SubnetIds=ids
    )["CacheSubnetGroup"]
    assert group["CacheSubnetGroupName"] == "app-subnets"
    assert group["VpcId"] == subnets[0]["VpcId"]
    assert sorted(s["SubnetIdentifier"] for s in group["Subnets"]) == sorted(ids)
    with pytest.raises(ClientError) as err:
        ec.create_cache_subnet_group(
            CacheSubnetGroupName="app-subnets", CacheSubnetGroupDescription="x", SubnetIds=ids
        )
    assert err.value.response["Error"]["Code"] == "CacheSubnetGroupAlreadyExists"
    with pytest.raises(ClientError) as err:
        ec.create_cache_subnet_group(
            CacheSubnetGroupName="bad", CacheSubnetGroupDescription="x", SubnetIds=["subnet-0"]
        )
    assert err.value.response["Error"]["Code"] == "InvalidSubnet"

    ec.create_cache_cluster(
        CacheClusterId="in-vpc", Engine="redis", CacheSubnetGroupName="app-subnets"
    )
    with pytest.raises(ClientError) as err:
        ec.delete_cache_subnet_group(CacheSubnetGroupName="app-subnets")
    assert err.value.response["Error"]["Code"] == "CacheSubnetGroupInUse"

    arn = ec.describe_cache_clusters(CacheClusterId="in-vpc")["CacheClusters"][0]["ARN"]
    ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "a", "Value": "1"}])
    ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "b", "Value": "2"}])
    listed = ec.remove_tags_from_resource(ResourceName=arn, TagKeys=["a"])["TagList"]
    assert listed == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as err:
        ec.remove_tags_from_resource(ResourceName=arn, TagKeys=["zzz"])
    assert err.value.response["Error"]["Code"] == "TagNotFound"
    with pytest.raises(ClientError) as err:
        ec.list_tags_for_resource(ResourceName=arn.replace("in-vpc", "nope"))
    assert err.value.response["Error"]["Code"] == "CacheClusterNotFound"
    with pytest.raises(ClientError) as err:
        ec.list_tags_for_resource(ResourceName="arn:aws:s3:::bucket")
    assert err.value.response["Error"]["Code"] == "InvalidARN"

    ec.delete_cache_cluster(CacheClusterId="in-vpc")
    ec.delete_cache_subnet_group(CacheSubnetGroupName="app-subnets")
    assert ec.describe_cache_subnet_groups()["CacheSubnetGroups"] == []


def test_a_tag_without_a_key_is_refused_before_anything_starts(ec: Any) -> None:
    for call, params in (
        (ec.create_snapshot, {"SnapshotName": "s", "CacheClusterId": "missing"}),
        (ec.create_cache_cluster, {"CacheClusterId": "untagged", "Engine": "redis"}),
    ):
        with pytest.raises(ClientError) as err:
            call(**params, Tags=[{"Value": "v"}])
        assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert ec.describe_cache_clusters()["CacheClusters"] == []
