"""RDS's CloudFormation resource types: AWS::RDS::DBInstance (created once its PostgreSQL
server is available, as CloudFormation waits for it), AWS::RDS::DBSubnetGroup and
AWS::RDS::DBParameterGroup, through RDS's own operations."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceFailed,
    ResourceType,
    boolean,
    integer,
)

Json = dict[str, Any]
SETTLE_TIMEOUT = 300.0
SETTLE_POLL = 0.25
_INSTANCE_STRINGS = (
    "Engine",
    "DBInstanceClass",
    "MasterUsername",
    "MasterUserPassword",
    "DBName",
    "DBSubnetGroupName",
    "DBParameterGroupName",
    "AvailabilityZone",
    "PreferredBackupWindow",
    "PreferredMaintenanceWindow",
    "StorageType",
)
_INSTANCE_BOOLEANS = (
    "MultiAZ",
    "DeletionProtection",
    "PubliclyAccessible",
    "StorageEncrypted",
    "CopyTagsToSnapshot",
)


async def _settled(ctx: ResourceContext, ident: str, gone: bool = False) -> Json | None:
    """The instance once available (or, with ``gone``, once deleted)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        found = ctx.call_ignoring(
            ("DBInstanceNotFoundFault",),
            "rds",
            "DescribeDBInstances",
            {"DBInstanceIdentifier": ident},
        )
        if found is None:
            if gone:
                return None
            raise ResourceFailed(f"DB instance {ident} disappeared")
        instance: Json = found["DBInstances"][0]
        if not gone and instance["DBInstanceStatus"] == "available":
            return instance
        if instance["DBInstanceStatus"] == "failed":
            raise ResourceFailed(f"DB instance {ident} failed to start")
        if time.monotonic() > deadline:
            raise ResourceFailed(f"DB instance {ident} did not settle")
        await asyncio.sleep(SETTLE_POLL)


def _provisioned(ident: str, instance: Json) -> Provisioned:
    endpoint = instance["Endpoint"]
    return Provisioned(
        ident,
        attributes={
            "Endpoint.Address": endpoint["Address"],
            "Endpoint.Port": str(endpoint["Port"]),
            "DBInstanceArn": instance["DBInstanceArn"],
            "DbiResourceId": instance["DbiResourceId"],
        },
    )


class DBInstance(ResourceType):
    type_name = "AWS::RDS::DBInstance"
    attributes = ("Endpoint.Address", "Endpoint.Port", "DBInstanceArn", "DbiResourceId")
    replace_on = frozenset(
        {"DBInstanceIdentifier", "Engine", "MasterUsername", "DBName", "DBSubnetGroupName"}
    )
    identifier = ("DBInstanceIdentifier",)

    async def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        ident = props.get("DBInstanceIdentifier") or ctx.physical_name(63, lower=True)
        params: Json = {"DBInstanceIdentifier": ident, "Tags": ctx.tags(props.get("Tags"))}
        for key in _INSTANCE_STRINGS:
            if props.get(key) not in (None, ""):
                params[key] = str(props[key])
        for key in _INSTANCE_BOOLEANS:
            if key in props:
                params[key] = boolean(props[key])
        for key in ("AllocatedStorage", "BackupRetentionPeriod"):
            if key in props:
                params[key] = integer(props[key])
        if "Port" in props:
            params["Port"] = integer(props["Port"])
        if props.get("VPCSecurityGroups"):
            params["VpcSecurityGroupIds"] = list(props["VPCSecurityGroups"])
        ctx.call("rds", "CreateDBInstance", params)
        instance = await _settled(ctx, ident)
        assert instance is not None
        return _provisioned(ident, instance)

    async def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        ident = current.physical_id
        params: Json = {"DBInstanceIdentifier": ident, "ApplyImmediately": True}
        for key in ("MasterUserPassword", "DBInstanceClass", "DBParameterGroupName"):
            if props.get(key) and props.get(key) != old_props.get(key):
                params[key] = str(props[key])
        for key in ("AllocatedStorage", "BackupRetentionPeriod"):
            if key in props and props.get(key) != old_props.get(key):
                params[key] = integer(props[key])
        for key in ("DeletionProtection", "MultiAZ", "CopyTagsToSnapshot"):
            if key in props and props.get(key) != old_props.get(key):
                params[key] = boolean(props[key])
        if len(params) > 2:
            ctx.call("rds", "ModifyDBInstance", params)
        instance = await _settled(ctx, ident)
        assert instance is not None
        return _provisioned(ident, instance)

    async def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        # A stack's DeletionPolicy Snapshot is the engine's business; a plain delete skips it.
        done = ctx.call_ignoring(
            ("DBInstanceNotFoundFault", "InvalidDBInstanceStateFault"),
            "rds",
            "DeleteDBInstance",
            {"DBInstanceIdentifier": current.physical_id, "SkipFinalSnapshot": True},
        )
        if done is not None:
            await _settled(ctx, current.physical_id, gone=True)


class DBSubnetGroup(ResourceType):
    type_name = "AWS::RDS::DBSubnetGroup"
    attributes = ()
    replace_on = frozenset({"DBSubnetGroupName"})
    required = ("DBSubnetGroupDescription", "SubnetIds")
    identifier = ("DBSubnetGroupName",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("DBSubnetGroupName") or ctx.physical_name(255, lower=True)
        ctx.call(
            "rds",
            "CreateDBSubnetGroup",
            {
                "DBSubnetGroupName": name,
                "DBSubnetGroupDescription": props["DBSubnetGroupDescription"],
                "SubnetIds": list(props["SubnetIds"]),
                "Tags": ctx.tags(props.get("Tags")),
            },
        )
        return Provisioned(name.lower())

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        ctx.call(
            "rds",
            "ModifyDBSubnetGroup",
            {
                "DBSubnetGroupName": current.physical_id,
                "DBSubnetGroupDescription": props["DBSubnetGroupDescription"],
                "SubnetIds": list(props["SubnetIds"]),
            },
        )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("DBSubnetGroupNotFoundFault",),
            "rds",
            "DeleteDBSubnetGroup",
            {"DBSubnetGroupName": current.physical_id},
        )


def _parameters(props: Props) -> list[Json]:
    return [
        {"ParameterName": str(k), "ParameterValue": str(v), "ApplyMethod": "pending-reboot"}
        for k, v in (props.get("Parameters") or {}).items()
    ]


class DBParameterGroup(ResourceType):
    type_name = "AWS::RDS::DBParameterGroup"
    attributes = ("DBParameterGroupName",)
    replace_on = frozenset({"DBParameterGroupName", "Family"})
    required = ("Family", "Description")
    identifier = ("DBParameterGroupName",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = (props.get("DBParameterGroupName") or ctx.physical_name(255, lower=True)).lower()
        ctx.call(
            "rds",
            "CreateDBParameterGroup",
            {
                "DBParameterGroupName": name,
                "DBParameterGroupFamily": props["Family"],
                "Description": props["Description"],
                "Tags": ctx.tags(props.get("Tags")),
            },
        )
        self._set(ctx, name, _parameters(props))
        return Provisioned(name, attributes={"DBParameterGroupName": name})

    @staticmethod
    def _set(ctx: ResourceContext, name: str, changes: list[Json]) -> None:
        for start in range(0, len(changes), 20):
            ctx.call(
                "rds",
                "ModifyDBParameterGroup",
                {"DBParameterGroupName": name, "Parameters": changes[start : start + 20]},
            )

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        new = props.get("Parameters") or {}
        dropped = [{"ParameterName": k} for k in old_props.get("Parameters") or {} if k not in new]
        if dropped:
            ctx.call(
                "rds",
                "ResetDBParameterGroup",
                {"DBParameterGroupName": name, "Parameters": dropped},
            )
        self._set(ctx, name, _parameters(props))
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("DBParameterGroupNotFoundFault",),
            "rds",
            "DeleteDBParameterGroup",
            {"DBParameterGroupName": current.physical_id},
        )


TYPES: dict[str, type[ResourceType]] = {
    t.type_name: t for t in (DBInstance, DBSubnetGroup, DBParameterGroup)
}
