"""Replication groups: a primary and replicas, each a redis-server, replicas following the
primary with replicaof; failover promotes a replica."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from nubes.runtime.elasticache.resp import RespError, command
from tests.elasticache.conftest import eventually, gone, node_port, server_pid

TOKEN = "replication-token-0123"


def test_replicas_receive_writes_and_failover(ec: Any) -> None:
    group = ec.create_replication_group(
        ReplicationGroupId="web",
        ReplicationGroupDescription="sessions",
        Engine="redis",
        CacheNodeType="cache.t3.small",
        NumCacheClusters=3,
        AutomaticFailoverEnabled=True,
        AuthToken=TOKEN,
        Tags=[{"Key": "tier", "Value": "cache"}],
    )["ReplicationGroup"]
    assert group["Status"] == "creating"
    assert group["MemberClusters"] == ["web-001", "web-002", "web-003"]
    assert group["AutomaticFailover"] == "enabled"
    assert group["AuthTokenEnabled"] is True

    ec.get_waiter("replication_group_available").wait(ReplicationGroupId="web")
    group = ec.describe_replication_groups(ReplicationGroupId="web")["ReplicationGroups"][0]
    node_group = group["NodeGroups"][0]
    roles = {m["CacheClusterId"]: m["CurrentRole"] for m in node_group["NodeGroupMembers"]}
    assert roles == {"web-001": "primary", "web-002": "replica", "web-003": "replica"}
    primary = node_group["PrimaryEndpoint"]["Port"]
    reader = node_group["ReaderEndpoint"]["Port"]
    assert primary != reader

    assert command(primary, "SET", "cart:1", "3 items", password=TOKEN) == "OK"
    for member in node_group["NodeGroupMembers"]:
        port = member["ReadEndpoint"]["Port"]
        assert eventually(port, "GET", "cart:1", expect=b"3 items", password=TOKEN) == b"3 items"
    with pytest.raises(RespError, match="READONLY"):
        command(reader, "SET", "x", "y", password=TOKEN)
    members = ec.describe_cache_clusters()["CacheClusters"]
    assert {m["ReplicationGroupId"] for m in members} == {"web"}

    failed_over = ec.test_failover(ReplicationGroupId="web", NodeGroupId="0001")
    node_group = failed_over["ReplicationGroup"]["NodeGroups"][0]
    roles = {m["CacheClusterId"]: m["CurrentRole"] for m in node_group["NodeGroupMembers"]}
    assert roles["web-002"] == "primary" and roles["web-001"] == "replica"
    new_primary = node_group["PrimaryEndpoint"]["Port"]
    assert new_primary == node_port(ec, "web-002")
    assert command(new_primary, "SET", "after", "failover", password=TOKEN) == "OK"
    old = node_port(ec, "web-001")
    assert eventually(old, "GET", "after", expect=b"failover", password=TOKEN) == b"failover"

    with pytest.raises(ClientError) as err:
        ec.delete_cache_cluster(CacheClusterId="web-002")
    assert err.value.response["Error"]["Code"] == "InvalidCacheClusterState"

    pid = server_pid(new_primary, password=TOKEN)
    deleted = ec.delete_replication_group(ReplicationGroupId="web")["ReplicationGroup"]
    assert deleted["Status"] == "deleting"
    assert gone(pid)
    assert ec.describe_cache_clusters()["CacheClusters"] == []


def test_replication_group_errors_and_added_replica(ec: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec.create_replication_group(
            ReplicationGroupId="solo",
            ReplicationGroupDescription="d",
            NumCacheClusters=1,
            AutomaticFailoverEnabled=True,
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterCombination"
    ec.create_replication_group(
        ReplicationGroupId="grow", ReplicationGroupDescription="d", NumCacheClusters=1
    )
    with pytest.raises(ClientError) as err:
        ec.create_replication_group(
            ReplicationGroupId="grow", ReplicationGroupDescription="d", NumCacheClusters=1
        )
    assert err.value.response["Error"]["Code"] == "ReplicationGroupAlreadyExists"
    with pytest.raises(ClientError) as err:
        ec.describe_replication_groups(ReplicationGroupId="nope")
    assert err.value.response["Error"]["Code"] == "ReplicationGroupNotFoundFault"
    with pytest.raises(ClientError) as err:
        ec.test_failover(ReplicationGroupId="grow", NodeGroupId="0001")
    assert err.value.response["Error"]["Code"] == "InvalidReplicationGroupState"

    primary = node_port(ec, "grow-001")
    command(primary, "SET", "seed", "1")
    ec.create_cache_cluster(CacheClusterId="grow-extra", ReplicationGroupId="grow")
    extra = node_port(ec, "grow-extra")
    assert eventually(extra, "GET", "seed", expect=b"1") == b"1"
    group = ec.describe_replication_groups(ReplicationGroupId="grow")["ReplicationGroups"][0]
    assert group["MemberClusters"] == ["grow-001", "grow-extra"]
    assert group["NodeGroups"][0]["ReaderEndpoint"]["Port"] == extra
    modified = ec.modify_replication_group(
        ReplicationGroupId="grow",
        ReplicationGroupDescription="grown",
        PrimaryClusterId="grow-extra",
        ApplyImmediately=True,
    )["ReplicationGroup"]
    assert modified["Description"] == "grown"
    assert modified["NodeGroups"][0]["PrimaryEndpoint"]["Port"] == extra
    assert command(extra, "SET", "promoted", "yes") == "OK"


def test_replica_count_changes(ec: Any) -> None:
    ec.create_replication_group(
        ReplicationGroupId="count",
        ReplicationGroupDescription="d",
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
    )
    command(node_port(ec, "count-001"), "SET", "seed", "1")
    group = ec.increase_replica_count(
        ReplicationGroupId="count", NewReplicaCount=3, ApplyImmediately=True
    )["ReplicationGroup"]
    assert group["MemberClusters"] == ["count-001", "count-002", "count-003", "count-004"]
    assert eventually(node_port(ec, "count-004"), "GET", "seed", expect=b"1") == b"1"
    with pytest.raises(ClientError) as err:
        ec.increase_replica_count(
            ReplicationGroupId="count", NewReplicaCount=6, ApplyImmediately=True
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"

    removed = server_pid(node_port(ec, "count-003"))
    group = ec.decrease_replica_count(
        ReplicationGroupId="count", ReplicasToRemove=["count-003"], ApplyImmediately=True
    )["ReplicationGroup"]
    assert group["MemberClusters"] == ["count-001", "count-002", "count-004"]
    assert gone(removed)
    with pytest.raises(ClientError) as err:
        ec.decrease_replica_count(
            ReplicationGroupId="count", NewReplicaCount=0, ApplyImmediately=True
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterCombination"
    group = ec.decrease_replica_count(
        ReplicationGroupId="count", NewReplicaCount=1, ApplyImmediately=True
    )["ReplicationGroup"]
    assert group["MemberClusters"] == ["count-001", "count-002"]


def test_new_auth_token_reaches_every_member(ec: Any) -> None:
    ec.create_replication_group(
        ReplicationGroupId="rotate",
        ReplicationGroupDescription="d",
        NumCacheClusters=2,
        AuthToken=TOKEN,
    )
    new = "rotated-token-0123456789"
    group = ec.modify_replication_group(
        ReplicationGroupId="rotate",
        AuthToken=new,
        AuthTokenUpdateStrategy="SET",
        ApplyImmediately=True,
    )["ReplicationGroup"]
    assert group["Status"] == "modifying"
    primary, replica = node_port(ec, "rotate-001"), node_port(ec, "rotate-002")
    assert command(primary, "SET", "after", "rotation", password=new) == "OK"
    assert eventually(replica, "GET", "after", expect=b"rotation", password=new) == b"rotation"
    with pytest.raises(RespError, match="WRONGPASS"):
        command(primary, "PING", password=TOKEN)
    alone = ec.describe_cache_clusters(ShowCacheClustersNotInReplicationGroups=True)
    assert alone["CacheClusters"] == []
