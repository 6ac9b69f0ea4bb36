"""ElastiCache's CloudFormation resource types: AWS::ElastiCache::CacheCluster,
ReplicationGroup, SubnetGroup and ParameterGroup, through ElastiCache's own operations."""

from __future__ import annotations

from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceType,
    boolean,
    given,
    integer,
)

Json = dict[str, Any]
_NUMBERS = ("NumCacheNodes", "Port", "SnapshotRetentionLimit")
_STRINGS = (
    "Engine",
    "CacheNodeType",
    "EngineVersion",
    "CacheParameterGroupName",
    "CacheSubnetGroupName",
    "PreferredAvailabilityZone",
    "PreferredMaintenanceWindow",
    "SnapshotName",
    "SnapshotWindow",
)


class CacheCluster(ResourceType):
    type_name = "AWS::ElastiCache::CacheCluster"
    attributes = (
        "RedisEndpoint.Address",
        "RedisEndpoint.Port",
        "ConfigurationEndpoint.Address",
        "ConfigurationEndpoint.Port",
    )
    replace_on = frozenset(
        {
            "ClusterName",
            "Engine",
            "Port",
            "CacheSubnetGroupName",
            "SnapshotName",
            "SnapshotArns",
            "PreferredAvailabilityZone",
            "TransitEncryptionEnabled",
        }
    )
    required = ("CacheNodeType", "Engine", "NumCacheNodes")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = (props.get("ClusterName") or ctx.physical_name(40, lower=True)).lower()
        req: Json = {
            "CacheClusterId": name,
            **given(props, _STRINGS),
            **given(props, _NUMBERS, integer),
            **given(props, ("AutoMinorVersionUpgrade", "TransitEncryptionEnabled"), boolean),
            "Tags": ctx.tags(props.get("Tags")),
        }
        if props.get("VpcSecurityGroupIds"):
            req["SecurityGroupIds"] = props["VpcSecurityGroupIds"]
        ctx.call("elasticache", "CreateCacheCluster", req)
        return self._provisioned(ctx, name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        req: Json = {"CacheClusterId": current.physical_id, "ApplyImmediately": True}
        for key in (
            "CacheNodeType",
            "EngineVersion",
            "CacheParameterGroupName",
            "PreferredMaintenanceWindow",
            "SnapshotWindow",
        ):
            if props.get(key) != old_props.get(key) and props.get(key):
                req[key] = props[key]
        if props.get("SnapshotRetentionLimit") != old_props.get("SnapshotRetentionLimit"):
            req["SnapshotRetentionLimit"] = integer(props.get("SnapshotRetentionLimit", 0))
        if props.get("VpcSecurityGroupIds") != old_props.get("VpcSecurityGroupIds"):
            req["SecurityGroupIds"] = props.get("VpcSecurityGroupIds") or []
        if len(req) > 2:
            ctx.call("elasticache", "ModifyCacheCluster", req)
        return self._provisioned(ctx, current.physical_id)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("CacheClusterNotFound",),
            "elasticache",
            "DeleteCacheCluster",
            {"CacheClusterId": current.physical_id},
        )

    def _provisioned(self, ctx: ResourceContext, name: str) -> Provisioned:
        cluster = ctx.call(
            "elasticache",
            "DescribeCacheClusters",
            {"CacheClusterId": name, "ShowCacheNodeInfo": True},
        )["CacheClusters"][0]
        endpoint = cluster["CacheNodes"][0]["Endpoint"]
        address, port = endpoint["Address"], str(endpoint["Port"])
        attributes = {"RedisEndpoint.Address": address, "RedisEndpoint.Port": port}
        if cluster["Engine"] == "memcached":
            attributes = {
                "ConfigurationEndpoint.Address": address,
                "ConfigurationEndpoint.Port": port,
            }
        return Provisioned(name, attributes=attributes)


class ReplicationGroup(ResourceType):
    type_name = "AWS::ElastiCache::ReplicationGroup"
    attributes = (
        "PrimaryEndPoint.Address",
        "PrimaryEndPoint.Port",
        "ReaderEndPoint.Address",
        "ReaderEndPoint.Port",
        "ReadEndPoint.Addresses",
        "ReadEndPoint.Addresses.List",
        "ReadEndPoint.Ports",
        "ReadEndPoint.Ports.List",
        "ConfigurationEndPoint.Address",
        "ConfigurationEndPoint.Port",
    )
    replace_on = frozenset(
        {
            "ReplicationGroupId",
            "Engine",
            "Port",
            "CacheSubnetGroupName",
            "NumNodeGroups",
            "SnapshotName",
            "SnapshotArns",
            "PrimaryClusterId",
            "AtRestEncryptionEnabled",
            "KmsKeyId",
        }
    )
    required = ("ReplicationGroupDescription",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = (props.get("ReplicationGroupId") or ctx.physical_name(40, lower=True)).lower()
        req: Json = {
            "ReplicationGroupId": name,
            "ReplicationGroupDescription": props["ReplicationGroupDescription"],
            **given(props, (*_STRINGS, "AuthToken", "PrimaryClusterId")),
            **given(
                props,
                (
                    "NumCacheClusters",
                    "NumNodeGroups",
                    "ReplicasPerNodeGroup",
                    "Port",
                    "SnapshotRetentionLimit",
                ),
                integer,
            ),
            **given(
                props,
                (
                    "AutomaticFailoverEnabled",
                    "MultiAZEnabled",
                    "AutoMinorVersionUpgrade",
                    "TransitEncryptionEnabled",
                ),
                boolean,
            ),
            "Tags": ctx.tags(props.get("Tags")),
        }
        if props.get("SecurityGroupIds"):
            req["SecurityGroupIds"] = props["SecurityGroupIds"]
        ctx.call("elasticache", "CreateReplicationGroup", req)
        return self._provisioned(ctx, name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        req: Json = {"ReplicationGroupId": current.physical_id, "ApplyImmediately": True}
        if props["ReplicationGroupDescription"] != old_props.get("ReplicationGroupDescription"):
            req["ReplicationGroupDescription"] = props["ReplicationGroupDescription"]
        for key in ("AutomaticFailoverEnabled", "MultiAZEnabled"):
            if props.get(key) != old_props.get(key):
                req[key] = boolean(props.get(key, False))
        for key in ("CacheNodeType", "CacheParameterGroupName", "EngineVersion", "AuthToken"):
            if props.get(key) != old_props.get(key) and props.get(key):
                req[key] = props[key]
        if props.get("SnapshotRetentionLimit") != old_props.get("SnapshotRetentionLimit"):
            req["SnapshotRetentionLimit"] = integer(props.get("SnapshotRetentionLimit", 0))
        if props.get("SecurityGroupIds") != old_props.get("SecurityGroupIds"):
            req["SecurityGroupIds"] = props.get("SecurityGroupIds") or []
        if len(req) > 2:
            ctx.call("elasticache", "ModifyReplicationGroup", req)
        return self._provisioned(ctx, current.physical_id)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("ReplicationGroupNotFoundFault",),
            "elasticache",
            "DeleteReplicationGroup",
            {"ReplicationGroupId": current.physical_id},
        )

    def _provisioned(self, ctx: ResourceContext, name: str) -> Provisioned:
        group = ctx.call("elasticache", "DescribeReplicationGroups", {"ReplicationGroupId": name})
        node_group = group["ReplicationGroups"][0]["NodeGroups"][0]
        primary, reader = node_group["PrimaryEndpoint"], node_group["ReaderEndpoint"]
        reads = [m["ReadEndpoint"] for m in node_group["NodeGroupMembers"]]
        addresses = [r["Address"] for r in reads]
        ports = [str(r["Port"]) for r in reads]
        return Provisioned(
            name,
            attributes={
                "PrimaryEndPoint.Address": primary["Address"],
                "PrimaryEndPoint.Port": str(primary["Port"]),
                "ReaderEndPoint.Address": reader["Address"],
                "ReaderEndPoint.Port": str(reader["Port"]),
                "ReadEndPoint.Addresses": ",".join(addresses),
                "ReadEndPoint.Addresses.List": addresses,
                "ReadEndPoint.Ports": ",".join(ports),
                "ReadEndPoint.Ports.List": ports,
            },
        )


class SubnetGroup(ResourceType):
    type_name = "AWS::ElastiCache::SubnetGroup"
    replace_on = frozenset({"CacheSubnetGroupName"})
    required = ("Description", "SubnetIds")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = (props.get("CacheSubnetGroupName") or ctx.physical_name(255, lower=True)).lower()
        ctx.call(
            "elasticache",
            "CreateCacheSubnetGroup",
            {
                "CacheSubnetGroupName": name,
                "CacheSubnetGroupDescription": props["Description"],
                "SubnetIds": props["SubnetIds"],
                "Tags": ctx.tags(props.get("Tags")),
            },
        )
        return Provisioned(name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        ctx.call(
            "elasticache",
            "ModifyCacheSubnetGroup",
            {
                "CacheSubnetGroupName": current.physical_id,
                "CacheSubnetGroupDescription": props["Description"],
                "SubnetIds": props["SubnetIds"],
            },
        )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("CacheSubnetGroupNotFoundFault",),
            "elasticache",
            "DeleteCacheSubnetGroup",
            {"CacheSubnetGroupName": current.physical_id},
        )


class ParameterGroup(ResourceType):
    type_name = "AWS::ElastiCache::ParameterGroup"
    replace_on = frozenset({"CacheParameterGroupFamily", "Description"})
    required = ("CacheParameterGroupFamily", "Description")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = ctx.physical_name(255, lower=True)
        ctx.call(
            "elasticache",
            "CreateCacheParameterGroup",
            {
                "CacheParameterGroupName": name,
                "CacheParameterGroupFamily": props["CacheParameterGroupFamily"],
                "Description": props["Description"],
                "Tags": ctx.tags(props.get("Tags")),
            },
        )
        self._set(ctx, name, props.get("Properties") or {})
        return Provisioned(name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        new, old = props.get("Properties") or {}, old_props.get("Properties") or {}
        gone = [k for k in old if k not in new]
        if gone:
            ctx.call(
                "elasticache",
                "ResetCacheParameterGroup",
                {
                    "CacheParameterGroupName": current.physical_id,
                    "ParameterNameValues": [{"ParameterName": k} for k in gone],
                },
            )
        self._set(ctx, current.physical_id, {k: v for k, v in new.items() if old.get(k) != v})
        return current

    @staticmethod
    def _set(ctx: ResourceContext, name: str, values: Json) -> None:
        if values:
            ctx.call(
                "elasticache",
                "ModifyCacheParameterGroup",
                {
                    "CacheParameterGroupName": name,
                    "ParameterNameValues": [
                        {"ParameterName": k, "ParameterValue": str(v)} for k, v in values.items()
                    ],
                },
            )

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("CacheParameterGroupNotFound",),
            "elasticache",
            "DeleteCacheParameterGroup",
            {"CacheParameterGroupName": current.physical_id},
        )


TYPES: dict[str, type[ResourceType]] = {
    t.type_name: t for t in (CacheCluster, ReplicationGroup, SubnetGroup, ParameterGroup)
}
