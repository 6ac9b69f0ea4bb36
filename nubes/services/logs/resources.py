"""CloudWatch Logs' CloudFormation resource types: AWS::Logs::LogGroup, LogStream,
MetricFilter, SubscriptionFilter, and the vended-log DeliverySource, DeliveryDestination and
Delivery."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceFailed,
    ResourceType,
    integer,
)

Json = dict[str, Any]
GONE = ("ResourceNotFoundException",)


class LogGroup(ResourceType):
    type_name = "AWS::Logs::LogGroup"
    attributes = ("Arn",)
    replace_on = frozenset({"LogGroupName", "LogGroupClass"})
    identifier = ("LogGroupName",)

    def adopt(
        self, ctx: ResourceContext, identifier: Mapping[str, str], props: Props
    ) -> Provisioned:
        name = identifier["LogGroupName"]
        found = ctx.call("logs", "DescribeLogGroups", {"logGroupNamePrefix": name})["logGroups"]
        if not any(g["logGroupName"] == name for g in found):
            raise ResourceFailed(f"Log group {name} does not exist")
        return Provisioned(name, attributes={"Arn": ctx.arn("logs", f"log-group:{name}:*")})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("LogGroupName") or ctx.physical_name(512)
        params: Json = {"logGroupName": name, "tags": ctx.tag_map(props.get("Tags"))}
        if "KmsKeyId" in props:
            params["kmsKeyId"] = props["KmsKeyId"]
        if "LogGroupClass" in props:
            params["logGroupClass"] = props["LogGroupClass"]
        ctx.call("logs", "CreateLogGroup", params)
        if "RetentionInDays" in props:
            self._retention(ctx, name, props["RetentionInDays"])
        return Provisioned(name, attributes={"Arn": ctx.arn("logs", f"log-group:{name}:*")})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        if props.get("RetentionInDays") != old_props.get("RetentionInDays"):
            if "RetentionInDays" in props:
                self._retention(ctx, name, props["RetentionInDays"])
            else:
                ctx.call("logs", "DeleteRetentionPolicy", {"logGroupName": name})
        if props.get("KmsKeyId") != old_props.get("KmsKeyId"):
            if "KmsKeyId" in props:
                ctx.call(
                    "logs", "AssociateKmsKey", {"logGroupName": name, "kmsKeyId": props["KmsKeyId"]}
                )
            else:
                ctx.call("logs", "DisassociateKmsKey", {"logGroupName": name})
        new = ctx.tag_map(props.get("Tags"))
        before = ctx.previous_tag_map(old_props.get("Tags"))
        if new != before:
            arn = ctx.arn("logs", f"log-group:{name}")
            gone = [k for k in before if k not in new]
            if gone:
                ctx.call("logs", "UntagResource", {"resourceArn": arn, "tagKeys": gone})
            ctx.call("logs", "TagResource", {"resourceArn": arn, "tags": new})
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(GONE, "logs", "DeleteLogGroup", {"logGroupName": current.physical_id})

    @staticmethod
    def _retention(ctx: ResourceContext, name: str, days: Any) -> None:
        ctx.call(
            "logs",
            "PutRetentionPolicy",
            {"logGroupName": name, "retentionInDays": integer(days)},
        )


class LogStream(ResourceType):
    type_name = "AWS::Logs::LogStream"
    required = ("LogGroupName",)
    replace_on = frozenset({"LogGroupName", "LogStreamName"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("LogStreamName") or ctx.physical_name(512)
        ctx.call(
            "logs",
            "CreateLogStream",
            {"logGroupName": props["LogGroupName"], "logStreamName": name},
        )
        return Provisioned(name)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            GONE,
            "logs",
            "DeleteLogStream",
            {"logGroupName": props["LogGroupName"], "logStreamName": current.physical_id},
        )


class MetricFilter(ResourceType):
    type_name = "AWS::Logs::MetricFilter"
    required = ("FilterPattern", "LogGroupName", "MetricTransformations")
    replace_on = frozenset({"FilterName", "LogGroupName"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("FilterName") or ctx.physical_name(512)
        self._put(ctx, name, props)
        return Provisioned(name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._put(ctx, current.physical_id, props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            GONE,
            "logs",
            "DeleteMetricFilter",
            {"logGroupName": props["LogGroupName"], "filterName": current.physical_id},
        )

    @staticmethod
    def _put(ctx: ResourceContext, name: str, props: Props) -> None:
        transformations = []
        for t in props["MetricTransformations"]:
            out: Json = {
                "metricName": t["MetricName"],
                "metricNamespace": t["MetricNamespace"],
                "metricValue": str(t["MetricValue"]),
            }
            if "DefaultValue" in t:
                out["defaultValue"] = float(t["DefaultValue"])
            if "Unit" in t:
                out["unit"] = t["Unit"]
            if t.get("Dimensions"):
                out["dimensions"] = {d["Key"]: d["Value"] for d in t["Dimensions"]}
            transformations.append(out)
        ctx.call(
            "logs",
            "PutMetricFilter",
            {
                "logGroupName": props["LogGroupName"],
                "filterName": name,
                "filterPattern": props["FilterPattern"],
                "metricTransformations": transformations,
            },
        )


class SubscriptionFilter(ResourceType):
    type_name = "AWS::Logs::SubscriptionFilter"
    required = ("DestinationArn", "FilterPattern", "LogGroupName")
    replace_on = frozenset({"FilterName", "LogGroupName"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("FilterName") or ctx.physical_name(512)
        self._put(ctx, name, props)
        return Provisioned(name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._put(ctx, current.physical_id, props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            GONE,
            "logs",
            "DeleteSubscriptionFilter",
            {"logGroupName": props["LogGroupName"], "filterName": current.physical_id},
        )

    @staticmethod
    def _put(ctx: ResourceContext, name: str, props: Props) -> None:
        params: Json = {
            "logGroupName": props["LogGroupName"],
            "filterName": name,
            "filterPattern": props["FilterPattern"],
            "destinationArn": props["DestinationArn"],
        }
        if "RoleArn" in props:
            params["roleArn"] = props["RoleArn"]
        if "Distribution" in props:
            params["distribution"] = props["Distribution"]
        ctx.call("logs", "PutSubscriptionFilter", params)


class DeliverySource(ResourceType):
    type_name = "AWS::Logs::DeliverySource"
    attributes = ("Arn", "ResourceArns", "Service")
    required = ("Name",)
    replace_on = frozenset({"Name"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        return self._put(ctx, props)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        return self._put(ctx, props)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(GONE, "logs", "DeleteDeliverySource", {"name": current.physical_id})

    @staticmethod
    def _put(ctx: ResourceContext, props: Props) -> Provisioned:
        params: Json = {
            "name": props["Name"],
            "resourceArn": props.get("ResourceArn"),
            "logType": props.get("LogType"),
        }
        tags = ctx.tag_map(props.get("Tags"))
        if tags:
            params["tags"] = tags
        source = ctx.call("logs", "PutDeliverySource", params)["deliverySource"]
        return Provisioned(
            source["name"],
            attributes={
                "Arn": source["arn"],
                "ResourceArns": source["resourceArns"],
                "Service": source["service"],
            },
        )


class DeliveryDestination(ResourceType):
    type_name = "AWS::Logs::DeliveryDestination"
    attributes = ("Arn", "DeliveryDestinationType")
    required = ("Name",)
    replace_on = frozenset({"Name", "DestinationResourceArn", "OutputFormat"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        return self._put(ctx, props)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        if old_props.get("DeliveryDestinationPolicy") and not props.get(
            "DeliveryDestinationPolicy"
        ):
            ctx.call(
                "logs",
                "DeleteDeliveryDestinationPolicy",
                {"deliveryDestinationName": current.physical_id},
            )
        return self._put(ctx, props)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(GONE, "logs", "DeleteDeliveryDestination", {"name": current.physical_id})

    @staticmethod
    def _put(ctx: ResourceContext, props: Props) -> Provisioned:
        params: Json = {"name": props["Name"]}
        if "DestinationResourceArn" in props:
            params["deliveryDestinationConfiguration"] = {
                "destinationResourceArn": props["DestinationResourceArn"]
            }
        for prop, param in (
            ("OutputFormat", "outputFormat"),
            ("DeliveryDestinationType", "deliveryDestinationType"),
        ):
            if prop in props:
                params[param] = props[prop]
        tags = ctx.tag_map(props.get("Tags"))
        if tags:
            params["tags"] = tags
        destination = ctx.call("logs", "PutDeliveryDestination", params)["deliveryDestination"]
        policy = props.get("DeliveryDestinationPolicy")
        if policy:
            document = policy.get("DeliveryDestinationPolicy")
            ctx.call(
                "logs",
                "PutDeliveryDestinationPolicy",
                {
                    "deliveryDestinationName": destination["name"],
                    "deliveryDestinationPolicy": (
                        document if isinstance(document, str) else json.dumps(document)
                    ),
                },
            )
        return Provisioned(
            destination["name"],
            attributes={
                "Arn": destination["arn"],
                "DeliveryDestinationType": destination["deliveryDestinationType"],
            },
        )


class Delivery(ResourceType):
    type_name = "AWS::Logs::Delivery"
    attributes = ("Arn", "DeliveryDestinationType", "DeliveryId")
    required = ("DeliverySourceName", "DeliveryDestinationArn")
    replace_on = frozenset({"DeliverySourceName", "DeliveryDestinationArn"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params: Json = {
            "deliverySourceName": props["DeliverySourceName"],
            "deliveryDestinationArn": props["DeliveryDestinationArn"],
            **self._configuration(props),
        }
        tags = ctx.tag_map(props.get("Tags"))
        if tags:
            params["tags"] = tags
        delivery = ctx.call("logs", "CreateDelivery", params)["delivery"]
        return Provisioned(
            delivery["id"],
            attributes={
                "Arn": delivery["arn"],
                "DeliveryDestinationType": delivery["deliveryDestinationType"],
                "DeliveryId": delivery["id"],
            },
        )

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        changes = self._configuration(props)
        if changes:
            ctx.call("logs", "UpdateDeliveryConfiguration", {"id": current.physical_id, **changes})
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(GONE, "logs", "DeleteDelivery", {"id": current.physical_id})

    @staticmethod
    def _configuration(props: Props) -> Json:
        out: Json = {}
        if "RecordFields" in props:
            out["recordFields"] = list(props["RecordFields"])
        if "FieldDelimiter" in props:
            out["fieldDelimiter"] = props["FieldDelimiter"]
        s3: Json = {}
        if "S3SuffixPath" in props:
            s3["suffixPath"] = props["S3SuffixPath"]
        if "S3EnableHiveCompatiblePath" in props:
            s3["enableHiveCompatiblePath"] = props["S3EnableHiveCompatiblePath"] in (True, "true")
        if s3:
            out["s3DeliveryConfiguration"] = s3
        return out


TYPES: dict[str, type[ResourceType]] = {
    t.type_name: t
    for t in (
        LogGroup,
        LogStream,
        MetricFilter,
        SubscriptionFilter,
        DeliverySource,
        DeliveryDestination,
        Delivery,
    )
}
