"""Auto Scaling's CloudFormation resource types: AWS::AutoScaling::LaunchConfiguration,
AutoScalingGroup, ScalingPolicy and ScheduledAction, through Auto Scaling's own operations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceFailed,
    ResourceType,
    boolean,
    given,
    integer,
    number,
)

Json = dict[str, Any]
_MISSING = ("ValidationError",)
_LC_PLAIN = (
    "ImageId",
    "InstanceType",
    "KeyName",
    "SecurityGroups",
    "UserData",
    "IamInstanceProfile",
    "KernelId",
    "RamdiskId",
    "SpotPrice",
    "PlacementTenancy",
    "MetadataOptions",
    "InstanceId",
    "ClassicLinkVPCId",
    "ClassicLinkVPCSecurityGroups",
)
_GROUP_PLAIN = (
    "LaunchConfigurationName",
    "AvailabilityZones",
    "HealthCheckType",
    "PlacementGroup",
    "TerminationPolicies",
    "ServiceLinkedRoleARN",
    "DesiredCapacityType",
    "Context",
)
_GROUP_NUMBERS = (
    "MinSize",
    "MaxSize",
    "DesiredCapacity",
    "HealthCheckGracePeriod",
    "MaxInstanceLifetime",
    "DefaultInstanceWarmup",
)
_GROUP_FLAGS = ("NewInstancesProtectedFromScaleIn", "CapacityRebalance")


def _ebs(ebs: Json) -> Json:
    out = dict(ebs)
    for key in ("VolumeSize", "Iops", "Throughput"):
        if key in out:
            out[key] = integer(out[key])
    for key in ("DeleteOnTermination", "Encrypted"):
        if key in out:
            out[key] = boolean(out[key])
    return out


class LaunchConfiguration(ResourceType):
    type_name = "AWS::AutoScaling::LaunchConfiguration"
    # A launch configuration cannot change: every property's update requires replacement.
    replace_on = frozenset(
        {
            *_LC_PLAIN,
            "LaunchConfigurationName",
            "BlockDeviceMappings",
            "InstanceMonitoring",
            "EbsOptimized",
            "AssociatePublicIpAddress",
        }
    )
    required = ("ImageId", "InstanceType")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("LaunchConfigurationName") or ctx.physical_name(255)
        req: Json = {"LaunchConfigurationName": name}
        req.update(given(props, _LC_PLAIN))
        req.update(given(props, ("EbsOptimized", "AssociatePublicIpAddress"), boolean))
        if "InstanceMonitoring" in props:
            req["InstanceMonitoring"] = {
                "Enabled": boolean(props["InstanceMonitoring"].get("Enabled", True))
            }
        if "BlockDeviceMappings" in props:
            req["BlockDeviceMappings"] = [
                {**m, **({"Ebs": _ebs(m["Ebs"])} if "Ebs" in m else {})}
                for m in props["BlockDeviceMappings"]
            ]
        ctx.call("autoscaling", "CreateLaunchConfiguration", req)
        return Provisioned(name)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            _MISSING,
            "autoscaling",
            "DeleteLaunchConfiguration",
            {"LaunchConfigurationName": current.physical_id},
        )


def _group_settings(props: Props) -> Json:
    req: Json = {key: props[key] for key in _GROUP_PLAIN if key in props}
    req.update(given(props, _GROUP_NUMBERS, integer))
    req.update(given(props, _GROUP_FLAGS, boolean))
    if "Cooldown" in props:
        req["DefaultCooldown"] = integer(props["Cooldown"])
    if "VPCZoneIdentifier" in props:
        zones = props["VPCZoneIdentifier"]
        req["VPCZoneIdentifier"] = zones if isinstance(zones, str) else ",".join(zones)
    if "LaunchTemplate" in props:
        template = dict(props["LaunchTemplate"])
        if "Version" in template:
            template["Version"] = str(template["Version"])
        req["LaunchTemplate"] = template
    if "MixedInstancesPolicy" in props:
        req["MixedInstancesPolicy"] = props["MixedInstancesPolicy"]
    return req


class AutoScalingGroup(ResourceType):
    type_name = "AWS::AutoScaling::AutoScalingGroup"
    replace_on = frozenset({"AutoScalingGroupName", "InstanceId"})
    required = ("MinSize", "MaxSize")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("AutoScalingGroupName") or ctx.physical_name(255)
        req: Json = {"AutoScalingGroupName": name, **_group_settings(props)}
        req.update(given(props, ("TargetGroupARNs", "LoadBalancerNames", "InstanceId")))
        req["Tags"] = self._tags(ctx, name, props)
        ctx.call("autoscaling", "CreateAutoScalingGroup", req)
        self._metrics(ctx, name, props.get("MetricsCollection") or [], [])
        for notification in props.get("NotificationConfigurations") or []:
            self._notify(ctx, name, notification)
        return Provisioned(name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        settings = _group_settings(props)
        if settings != _group_settings(old_props):
            ctx.call(
                "autoscaling", "UpdateAutoScalingGroup", {"AutoScalingGroupName": name, **settings}
            )
        self._balancers(ctx, name, props, old_props)
        tags = self._tags(ctx, name, props)
        keys = {t["Key"] for t in tags}
        old_tags = [
            t
            for t in ctx.previous_tags(old_props.get("Tags"))
            if t["Key"] not in keys and not t["Key"].startswith("aws:")
        ]
        if old_tags:
            dropped = [
                {"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": t["Key"]}
                for t in old_tags
            ]
            ctx.call("autoscaling", "DeleteTags", {"Tags": dropped})
        ctx.call("autoscaling", "CreateOrUpdateTags", {"Tags": tags})
        self._metrics(
            ctx,
            name,
            props.get("MetricsCollection") or [],
            old_props.get("MetricsCollection") or [],
        )
        if props.get("NotificationConfigurations") != old_props.get("NotificationConfigurations"):
            for notification in props.get("NotificationConfigurations") or []:
                self._notify(ctx, name, notification)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            _MISSING,
            "autoscaling",
            "DeleteAutoScalingGroup",
            {"AutoScalingGroupName": current.physical_id, "ForceDelete": True},
        )

    @staticmethod
    def _tags(ctx: ResourceContext, name: str, props: Props) -> list[Json]:
        # CloudFormation's own tags reach the group's instances too (PropagateAtLaunch).
        propagate = {
            str(t["Key"]): boolean(t.get("PropagateAtLaunch", False))
            for t in props.get("Tags") or []
        }
        return [
            {
                "ResourceId": name,
                "ResourceType": "auto-scaling-group",
                "Key": t["Key"],
                "Value": t["Value"],
                "PropagateAtLaunch": propagate.get(t["Key"], True),
            }
            for t in ctx.tags(props.get("Tags"))
        ]

    @staticmethod
    def _balancers(ctx: ResourceContext, name: str, props: Props, old_props: Props) -> None:
        for key, attach, detach in (
            ("TargetGroupARNs", "AttachLoadBalancerTargetGroups", "DetachLoadBalancerTargetGroups"),
            ("LoadBalancerNames", "AttachLoadBalancers", "DetachLoadBalancers"),
        ):
            new, old = props.get(key) or [], old_props.get(key) or []
            added = [x for x in new if x not in old]
            removed = [x for x in old if x not in new]
            if removed:
                ctx.call("autoscaling", detach, {"AutoScalingGroupName": name, key: removed})
            if added:
                ctx.call("autoscaling", attach, {"AutoScalingGroupName": name, key: added})

    @staticmethod
    def _metrics(ctx: ResourceContext, name: str, new: list[Json], old: list[Json]) -> None:
        if new == old:
            return
        if old:
            ctx.call("autoscaling", "DisableMetricsCollection", {"AutoScalingGroupName": name})
        for collection in new:
            req: Json = {"AutoScalingGroupName": name, "Granularity": collection["Granularity"]}
            if collection.get("Metrics"):
                req["Metrics"] = collection["Metrics"]
            ctx.call("autoscaling", "EnableMetricsCollection", req)

    @staticmethod
    def _notify(ctx: ResourceContext, name: str, notification: Json) -> None:
        ctx.call(
            "autoscaling",
            "PutNotificationConfiguration",
            {
                "AutoScalingGroupName": name,
                "TopicARN": notification["TopicARN"],
                "NotificationTypes": notification.get("NotificationTypes") or [],
            },
        )


def _step(step: Json) -> Json:
    out: Json = {"ScalingAdjustment": integer(step["ScalingAdjustment"])}
    for key in ("MetricIntervalLowerBound", "MetricIntervalUpperBound"):
        if key in step:
            out[key] = number(step[key])
    return out


class ScalingPolicy(ResourceType):
    type_name = "AWS::AutoScaling::ScalingPolicy"
    attributes = ("Arn", "PolicyName")
    # Policy names are per group: a policy moved to another group is a new policy.
    replace_on = frozenset({"AutoScalingGroupName", "PolicyName"})
    required = ("AutoScalingGroupName",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("PolicyName") or ctx.physical_name(255)
        arn = self._put(ctx, name, props)
        return Provisioned(arn, attributes={"Arn": arn, "PolicyName": name})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._put(ctx, current.attributes["PolicyName"], props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            _MISSING,
            "autoscaling",
            "DeletePolicy",
            {
                "AutoScalingGroupName": props["AutoScalingGroupName"],
                "PolicyName": current.attributes["PolicyName"],
            },
        )

    @staticmethod
    def _put(ctx: ResourceContext, name: str, props: Props) -> str:
        req: Json = {"AutoScalingGroupName": props["AutoScalingGroupName"], "PolicyName": name}
        req.update(given(props, ("PolicyType", "AdjustmentType", "MetricAggregationType")))
        req.update(
            given(
                props,
                ("ScalingAdjustment", "MinAdjustmentMagnitude", "EstimatedInstanceWarmup"),
                integer,
            )
        )
        if "Cooldown" in props:
            req["Cooldown"] = integer(props["Cooldown"])
        if "StepAdjustments" in props:
            req["StepAdjustments"] = [_step(s) for s in props["StepAdjustments"]]
        if "TargetTrackingConfiguration" in props:
            tracking = dict(props["TargetTrackingConfiguration"])
            tracking["TargetValue"] = number(tracking["TargetValue"])
            if "DisableScaleIn" in tracking:
                tracking["DisableScaleIn"] = boolean(tracking["DisableScaleIn"])
            req["TargetTrackingConfiguration"] = tracking
        if "PredictiveScalingConfiguration" in props:
            req["PredictiveScalingConfiguration"] = props["PredictiveScalingConfiguration"]
        return str(ctx.call("autoscaling", "PutScalingPolicy", req)["PolicyARN"])


def _time(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ResourceFailed(f"Value '{value}' is not a valid timestamp") from None


class ScheduledAction(ResourceType):
    type_name = "AWS::AutoScaling::ScheduledAction"
    attributes = ("ScheduledActionName",)
    replace_on = frozenset({"AutoScalingGroupName"})
    required = ("AutoScalingGroupName",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = ctx.physical_name(255)
        self._put(ctx, name, props)
        return Provisioned(name, attributes={"ScheduledActionName": name})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._put(ctx, current.physical_id, props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            _MISSING,
            "autoscaling",
            "DeleteScheduledAction",
            {
                "AutoScalingGroupName": props["AutoScalingGroupName"],
                "ScheduledActionName": current.physical_id,
            },
        )

    @staticmethod
    def _put(ctx: ResourceContext, name: str, props: Props) -> None:
        req: Json = {
            "AutoScalingGroupName": props["AutoScalingGroupName"],
            "ScheduledActionName": name,
        }
        req.update(given(props, ("MinSize", "MaxSize", "DesiredCapacity"), integer))
        req.update(given(props, ("StartTime", "EndTime"), _time))
        req.update(given(props, ("Recurrence", "TimeZone")))
        ctx.call("autoscaling", "PutScheduledUpdateGroupAction", req)


TYPES: dict[str, type[ResourceType]] = {
    cls.type_name: cls
    for cls in (LaunchConfiguration, AutoScalingGroup, ScalingPolicy, ScheduledAction)
}
