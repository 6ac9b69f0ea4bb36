"""DynamoDB's CloudFormation resource types: AWS::DynamoDB::Table (indexes, streams, TTL) and
AWS::DynamoDB::GlobalTable (the same table with replicas in the regions it names)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
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


def _throughput(value: Json | None) -> Json | None:
    if not value:
        return None
    return {
        "ReadCapacityUnits": integer(value["ReadCapacityUnits"]),
        "WriteCapacityUnits": integer(value["WriteCapacityUnits"]),
    }


def _index(index: Json, provisioned: bool) -> Json:
    out: Json = {
        "IndexName": index["IndexName"],
        "KeySchema": index["KeySchema"],
        "Projection": index.get("Projection") or {"ProjectionType": "ALL"},
    }
    throughput = _throughput(index.get("ProvisionedThroughput"))
    if throughput and provisioned:
        out["ProvisionedThroughput"] = throughput
    return out


class Table(ResourceType):
    type_name = "AWS::DynamoDB::Table"
    attributes = ("Arn", "StreamArn")
    replace_on = frozenset({"TableName", "KeySchema", "LocalSecondaryIndexes"})
    required = ("KeySchema",)
    identifier = ("TableName",)

    def adopt(
        self, ctx: ResourceContext, identifier: Mapping[str, str], props: Props
    ) -> Provisioned:
        name = identifier["TableName"]
        return self._provisioned(
            name, ctx.call("dynamodb", "DescribeTable", {"TableName": name})["Table"]
        )

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("TableName") or ctx.physical_name(255)
        billing = props.get("BillingMode", "PROVISIONED")
        provisioned = billing == "PROVISIONED"
        params: Json = {
            "TableName": name,
            "AttributeDefinitions": props.get("AttributeDefinitions") or [],
            "KeySchema": props["KeySchema"],
            "BillingMode": billing,
            "Tags": ctx.tags(props.get("Tags")),
        }
        throughput = _throughput(props.get("ProvisionedThroughput"))
        if provisioned:
            params["ProvisionedThroughput"] = throughput or {
                "ReadCapacityUnits": 5,
                "WriteCapacityUnits": 5,
            }
        if props.get("GlobalSecondaryIndexes"):
            params["GlobalSecondaryIndexes"] = [
                _index(i, provisioned) for i in props["GlobalSecondaryIndexes"]
            ]
        if props.get("LocalSecondaryIndexes"):
            params["LocalSecondaryIndexes"] = [
                _index(i, False) for i in props["LocalSecondaryIndexes"]
            ]
        stream = props.get("StreamSpecification")
        if stream:
            params["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        sse = props.get("SSESpecification")
        if sse:
            params["SSESpecification"] = {
                "Enabled": boolean(sse.get("SSEEnabled", False)),
                **({"SSEType": sse["SSEType"]} if "SSEType" in sse else {}),
                **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if "KMSMasterKeyId" in sse else {}),
            }
        if "TableClass" in props:
            params["TableClass"] = props["TableClass"]
        if "DeletionProtectionEnabled" in props:
            params["DeletionProtectionEnabled"] = boolean(props["DeletionProtectionEnabled"])
        out = ctx.call("dynamodb", "CreateTable", params)["TableDescription"]
        self._extras(ctx, name, props, {})
        return self._provisioned(name, out)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        billing = props.get("BillingMode", "PROVISIONED")
        params: Json = {"TableName": name}
        if billing != old_props.get("BillingMode", "PROVISIONED"):
            params["BillingMode"] = billing
        throughput = _throughput(props.get("ProvisionedThroughput"))
        if (
            billing == "PROVISIONED"
            and throughput
            and throughput != _throughput(old_props.get("ProvisionedThroughput"))
        ):
            params["ProvisionedThroughput"] = throughput
        if props.get("AttributeDefinitions") != old_props.get("AttributeDefinitions"):
            params["AttributeDefinitions"] = props.get("AttributeDefinitions") or []
        stream, old_stream = props.get("StreamSpecification"), old_props.get("StreamSpecification")
        if stream != old_stream:
            if old_stream:
                ctx.call(
                    "dynamodb",
                    "UpdateTable",
                    {"TableName": name, "StreamSpecification": {"StreamEnabled": False}},
                )
            if stream:
                params["StreamSpecification"] = {
                    "StreamEnabled": True,
                    "StreamViewType": stream["StreamViewType"],
                }
        if "DeletionProtectionEnabled" in props or "DeletionProtectionEnabled" in old_props:
            params["DeletionProtectionEnabled"] = boolean(
                props.get("DeletionProtectionEnabled", False)
            )
        if len(params) > 1:
            ctx.call("dynamodb", "UpdateTable", params)
        old_indexes = {i["IndexName"]: i for i in old_props.get("GlobalSecondaryIndexes") or []}
        new_indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes") or []}
        provisioned = billing == "PROVISIONED"
        for index in old_indexes:
            if index not in new_indexes or new_indexes[index] != old_indexes[index]:
                ctx.call(
                    "dynamodb",
                    "UpdateTable",
                    {
                        "TableName": name,
                        "GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": index}}],
                    },
                )
        for index, spec in new_indexes.items():
            if index not in old_indexes or old_indexes[index] != spec:
                ctx.call(
                    "dynamodb",
                    "UpdateTable",
                    {
                        "TableName": name,
                        "AttributeDefinitions": props.get("AttributeDefinitions") or [],
                        "GlobalSecondaryIndexUpdates": [{"Create": _index(spec, provisioned)}],
                    },
                )
        self._extras(ctx, name, props, old_props)
        out = ctx.call("dynamodb", "DescribeTable", {"TableName": name})["Table"]
        return self._provisioned(name, out)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("ResourceNotFoundException",),
            "dynamodb",
            "DeleteTable",
            {"TableName": current.physical_id},
        )

    @staticmethod
    def _extras(ctx: ResourceContext, name: str, props: Props, old: Props) -> None:
        ttl = props.get("TimeToLiveSpecification")
        if ttl != old.get("TimeToLiveSpecification"):
            spec = ttl or {**(old.get("TimeToLiveSpecification") or {}), "Enabled": False}
            ctx.call(
                "dynamodb",
                "UpdateTimeToLive",
                {
                    "TableName": name,
                    "TimeToLiveSpecification": {
                        "AttributeName": spec["AttributeName"],
                        "Enabled": boolean(spec.get("Enabled", False)),
                    },
                },
            )
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr != old.get("PointInTimeRecoverySpecification"):
            enabled = boolean((pitr or {}).get("PointInTimeRecoveryEnabled", False))
            ctx.call(
                "dynamodb",
                "UpdateContinuousBackups",
                {
                    "TableName": name,
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": enabled},
                },
            )
        if old and ctx.tags(props.get("Tags")) != ctx.previous_tags(old.get("Tags")):
            arn = ctx.arn("dynamodb", f"table/{name}")
            kept = {n["Key"] for n in ctx.tags(props.get("Tags"))}
            gone = [t["Key"] for t in ctx.previous_tags(old.get("Tags")) if t["Key"] not in kept]
            if gone:
                ctx.call("dynamodb", "UntagResource", {"ResourceArn": arn, "TagKeys": gone})
            ctx.call(
                "dynamodb", "TagResource", {"ResourceArn": arn, "Tags": ctx.tags(props.get("Tags"))}
            )

    @staticmethod
    def _provisioned(name: str, description: Json) -> Provisioned:
        attributes = {"Arn": description["TableArn"]}
        if description.get("LatestStreamArn"):
            attributes["StreamArn"] = description["LatestStreamArn"]
        return Provisioned(name, attributes=attributes)


def _units(settings: Json | None, name: str) -> int:
    """Capacity units of a GlobalTable's read or write settings: fixed, or the minimum its
    auto scaling keeps."""
    settings = settings or {}
    if name in settings:
        return integer(settings[name])
    scaling = settings.get(name.replace("Units", "AutoScalingSettings")) or {}
    return integer(scaling.get("MinCapacity", 5))


class GlobalTable(ResourceType):
    """A table in the stack's region, which must be one of ``Replicas``, and a replica in each
    other region listed (UpdateTable ReplicaUpdates); settings each replica has of its own
    (tags, deletion protection, table class, point-in-time recovery, Kinesis streaming) are
    made in its region."""

    type_name = "AWS::DynamoDB::GlobalTable"
    attributes = ("Arn", "StreamArn", "TableId")
    replace_on = frozenset({"TableName", "KeySchema", "LocalSecondaryIndexes"})
    required = ("KeySchema", "AttributeDefinitions", "Replicas")
    identifier = ("TableName",)

    def adopt(
        self, ctx: ResourceContext, identifier: Mapping[str, str], props: Props
    ) -> Provisioned:
        return self._provisioned(ctx, identifier["TableName"])

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        regions = self._regions(ctx, props)
        table = dict(_as_table(props, ctx.region))
        table.setdefault("TableName", ctx.physical_name(255))
        name = Table().create(ctx, table).physical_id
        for region in regions:
            if region != ctx.region:
                self._add_replica(ctx, name, region, props)
        self._kinesis(ctx, name, props, {})
        return self._provisioned(ctx, name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        regions = self._regions(ctx, props)
        old_regions = self._regions(ctx, old_props)
        for region in old_regions:
            if region not in regions:
                ctx.call(
                    "dynamodb",
                    "UpdateTable",
                    {"TableName": name, "ReplicaUpdates": [{"Delete": {"RegionName": region}}]},
                )
        Table().update(
            ctx,
            current,
            {**_as_table(props, ctx.region), "TableName": name},
            {**_as_table(old_props, ctx.region), "TableName": name},
        )
        for region in regions:
            if region == ctx.region:
                continue
            if region not in old_regions:
                self._add_replica(ctx, name, region, props)
            else:
                _replica_extras(replace(ctx, region=region), name, props, old_props)
        self._kinesis(ctx, name, props, old_props)
        return self._provisioned(ctx, name)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        name = current.physical_id
        found = ctx.call_ignoring(
            ("ResourceNotFoundException",), "dynamodb", "DescribeTable", {"TableName": name}
        )
        if found is None:
            return
        for replica in found["Table"].get("Replicas", []):
            if replica["RegionName"] != ctx.region:
                ctx.call(
                    "dynamodb",
                    "UpdateTable",
                    {
                        "TableName": name,
                        "ReplicaUpdates": [{"Delete": {"RegionName": replica["RegionName"]}}],
                    },
                )
        Table().delete(ctx, current, props)

    @staticmethod
    def _regions(ctx: ResourceContext, props: Props) -> list[str]:
        regions = [r["Region"] for r in props.get("Replicas") or []]
        if ctx.region not in regions:
            raise ResourceFailed(
                f"Replicas must include the stack's region {ctx.region}: the global table is "
                "created there"
            )
        return regions

    @staticmethod
    def _add_replica(ctx: ResourceContext, name: str, region: str, props: Props) -> None:
        ctx.call(
            "dynamodb",
            "UpdateTable",
            {"TableName": name, "ReplicaUpdates": [{"Create": {"RegionName": region}}]},
        )
        _replica_extras(replace(ctx, region=region), name, props, {})

    @staticmethod
    def _kinesis(ctx: ResourceContext, name: str, props: Props, old_props: Props) -> None:
        """Each replica's KinesisStreamSpecification: its destination in its region."""
        for replica in props.get("Replicas") or []:
            region = replica["Region"]
            spec = replica.get("KinesisStreamSpecification")
            old = (_replica(old_props, region) or {}).get("KinesisStreamSpecification")
            if spec == old:
                continue
            there = replace(ctx, region=region)
            if old:
                there.call_ignoring(
                    ("ValidationException",),
                    "dynamodb",
                    "DisableKinesisStreamingDestination",
                    {"TableName": name, "StreamArn": old["StreamArn"]},
                )
            if spec:
                params: Json = {"TableName": name, "StreamArn": spec["StreamArn"]}
                if spec.get("ApproximateCreationDateTimePrecision"):
                    params["EnableKinesisStreamingConfiguration"] = {
                        "ApproximateCreationDateTimePrecision": spec[
                            "ApproximateCreationDateTimePrecision"
                        ]
                    }
                there.call("dynamodb", "EnableKinesisStreamingDestination", params)

    @staticmethod
    def _provisioned(ctx: ResourceContext, name: str) -> Provisioned:
        description = ctx.call("dynamodb", "DescribeTable", {"TableName": name})["Table"]
        out = Table._provisioned(name, description)
        out.attributes["TableId"] = description["TableId"]
        return out


def _replica(props: Props, region: str) -> Json | None:
    return next((r for r in props.get("Replicas") or [] if r["Region"] == region), None)


def _replica_extras(ctx: ResourceContext, name: str, props: Props, old_props: Props) -> None:
    """A replica's own settings in its region (``ctx``): tags, point-in-time recovery,
    deletion protection and table class (TTL is the global table's, kept alike by DynamoDB)."""
    replica = _replica(props, ctx.region) or {}
    old = _replica(old_props, ctx.region)
    kept = ("Tags", "PointInTimeRecoverySpecification")
    own: Props = {k: replica[k] for k in kept if k in replica}
    was: Props = {}
    if old is not None:
        # An existing replica: its tags are compared with what it had, even none.
        was = {"Tags": [], **{k: old[k] for k in kept if k in old}}
    if old is None and replica.get("Tags"):
        arn = ctx.arn("dynamodb", f"table/{name}")
        ctx.call("dynamodb", "TagResource", {"ResourceArn": arn, "Tags": ctx.tags(replica["Tags"])})
    Table._extras(ctx, name, own, was)
    params: Json = {"TableName": name}
    for key in ("DeletionProtectionEnabled", "TableClass"):
        if key in replica and replica[key] != (old or {}).get(key):
            params[key] = (
                boolean(replica[key]) if key == "DeletionProtectionEnabled" else replica[key]
            )
    if len(params) > 1:
        ctx.call("dynamodb", "UpdateTable", params)


def _as_table(props: Props, region: str) -> Props:
    """A GlobalTable's properties as the AWS::DynamoDB::Table in ``region`` would have them."""
    local = _replica(props, region) or {}
    out: Props = {
        k: props[k]
        for k in (
            "TableName",
            "AttributeDefinitions",
            "KeySchema",
            "BillingMode",
            "LocalSecondaryIndexes",
            "StreamSpecification",
            "TimeToLiveSpecification",
        )
        if k in props
    }
    out.update(
        {
            k: local[k]
            for k in (
                "Tags",
                "DeletionProtectionEnabled",
                "TableClass",
                "PointInTimeRecoverySpecification",
            )
            if k in local
        }
    )
    provisioned = props.get("BillingMode", "PROVISIONED") == "PROVISIONED"
    if provisioned:
        out["ProvisionedThroughput"] = {
            "ReadCapacityUnits": _units(
                local.get("ReadProvisionedThroughputSettings"), "ReadCapacityUnits"
            ),
            "WriteCapacityUnits": _units(
                props.get("WriteProvisionedThroughputSettings"), "WriteCapacityUnits"
            ),
        }
    reads = {i["IndexName"]: i for i in local.get("GlobalSecondaryIndexes") or []}
    indexes = []
    for index in props.get("GlobalSecondaryIndexes") or []:
        table_index = {k: index[k] for k in ("IndexName", "KeySchema", "Projection") if k in index}
        if provisioned:
            read = reads.get(index["IndexName"], {}).get("ReadProvisionedThroughputSettings")
            table_index["ProvisionedThroughput"] = {
                "ReadCapacityUnits": _units(read, "ReadCapacityUnits"),
                "WriteCapacityUnits": _units(
                    index.get("WriteProvisionedThroughputSettings"), "WriteCapacityUnits"
                ),
            }
        indexes.append(table_index)
    if indexes:
        out["GlobalSecondaryIndexes"] = indexes
    sse = props.get("SSESpecification")
    if sse:
        key = (local.get("SSESpecification") or {}).get("KMSMasterKeyId")
        out["SSESpecification"] = {**sse, **({"KMSMasterKeyId": key} if key else {})}
    return out


TYPES: dict[str, type[ResourceType]] = {Table.type_name: Table, GlobalTable.type_name: GlobalTable}
