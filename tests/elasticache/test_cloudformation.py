"""AWS::ElastiCache::* in CloudFormation stacks: the stack's cache nodes are real servers whose
endpoints GetAtt answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nubes.runtime.elasticache.resp import command
from tests.cloudformation.conftest import outputs, settle
from tests.elasticache.conftest import gone, server_pid


def test_stack_with_groups_cluster_and_replication_group(
    client: Callable[..., Any], account: str, ec: Any, unique: Callable[[str], str]
) -> None:
    cfn = client("cloudformation", aws_access_key_id=account)
    ec2 = client("ec2", aws_access_key_id=account)
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]

    def template(policy: str, description: str) -> str:
        return json.dumps(
            {
                "Resources": {
                    "Subnets": {
                        "Type": "AWS::ElastiCache::SubnetGroup",
                        "Properties": {"Description": "cache subnets", "SubnetIds": subnets},
                    },
                    "Params": {
                        "Type": "AWS::ElastiCache::ParameterGroup",
                        "Properties": {
                            "CacheParameterGroupFamily": "redis7",
                            "Description": "tuned",
                            "Properties": {"maxmemory-policy": policy},
                        },
                    },
                    "Cache": {
                        "Type": "AWS::ElastiCache::CacheCluster",
                        "Properties": {
                            "Engine": "redis",
                            "CacheNodeType": "cache.t3.micro",
                            "NumCacheNodes": "1",
                            "CacheSubnetGroupName": {"Ref": "Subnets"},
                            "CacheParameterGroupName": {"Ref": "Params"},
                            "Tags": [{"Key": "app", "Value": "web"}],
                        },
                    },
                    "Group": {
                        "Type": "AWS::ElastiCache::ReplicationGroup",
                        "Properties": {
                            "ReplicationGroupDescription": description,
                            "NumCacheClusters": 2,
                            "AutomaticFailoverEnabled": "true",
                            "CacheNodeType": "cache.t3.micro",
                            "Engine": "redis",
                        },
                    },
                },
                "Outputs": {
                    "Cluster": {"Value": {"Ref": "Cache"}},
                    "Address": {"Value": {"Fn::GetAtt": ["Cache", "RedisEndpoint.Address"]}},
                    "Port": {"Value": {"Fn::GetAtt": ["Cache", "RedisEndpoint.Port"]}},
                    "Primary": {"Value": {"Fn::GetAtt": ["Group", "PrimaryEndPoint.Port"]}},
                    "Reader": {"Value": {"Fn::GetAtt": ["Group", "ReaderEndPoint.Port"]}},
                    "Reads": {"Value": {"Fn::GetAtt": ["Group", "ReadEndPoint.Ports"]}},
                },
            }
        )

    stack = unique("cache")
    stack_id = cfn.create_stack(StackName=stack, TemplateBody=template("allkeys-lru", "one"))[
        "StackId"
    ]
    found = settle(cfn, stack)
    assert found["StackStatus"] == "CREATE_COMPLETE", found.get("StackStatusReason")
    out = outputs(found)
    assert out["Address"] == "127.0.0.1"
    port = int(out["Port"])
    assert command(port, "SET", "k", "v") == "OK"
    assert command(port, "CONFIG", "GET", "maxmemory-policy")[1] == b"allkeys-lru"
    cluster = ec.describe_cache_clusters(CacheClusterId=out["Cluster"])["CacheClusters"][0]
    assert cluster["CacheSubnetGroupName"].startswith(stack)
    assert len(out["Reads"].split(",")) == 2 and out["Reader"] in out["Reads"].split(",")
    assert command(int(out["Primary"]), "PING") == "PONG"

    cfn.update_stack(StackName=stack, TemplateBody=template("volatile-ttl", "two"))
    assert settle(cfn, stack)["StackStatus"] == "UPDATE_COMPLETE"
    assert command(port, "CONFIG", "GET", "maxmemory-policy")[1] == b"volatile-ttl"
    group = ec.describe_replication_groups()["ReplicationGroups"][0]
    assert group["Description"] == "two"

    pids = [server_pid(port), server_pid(int(out["Primary"]))]
    cfn.delete_stack(StackName=stack)
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert ec.describe_cache_clusters()["CacheClusters"] == []
    assert all(gone(pid) for pid in pids)
