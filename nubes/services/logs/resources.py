"""CloudWatch Logs' CloudFormation resource types: AWS::Logs::LogGroup, LogStream,
MetricFilter and SubscriptionFilter."""

from __future__ import annotations

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


TYPES: dict[str, type[ResourceType]] = {
    t.type_name: t for t in (LogGroup, LogStream, MetricFilter, SubscriptionFilter)
}
