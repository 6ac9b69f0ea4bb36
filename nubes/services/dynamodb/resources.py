"""DynamoDB's CloudFormation resource type: AWS::DynamoDB::Table (indexes, streams, TTL)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
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


TYPES: dict[str, type[ResourceType]] = {Table.type_name: Table}
