"""Elastic Load Balancing v2's CloudFormation resource types: AWS::ElasticLoadBalancingV2::
LoadBalancer, TargetGroup, Listener and ListenerRule, through ELBv2's own operations."""

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
_HEALTH_NUMBERS = (
    "HealthCheckIntervalSeconds",
    "HealthCheckTimeoutSeconds",
    "HealthyThresholdCount",
    "UnhealthyThresholdCount",
)
_HEALTH_TEXT = ("HealthCheckProtocol", "HealthCheckPort", "HealthCheckPath", "Matcher")
_GONE = (
    "LoadBalancerNotFoundException",
    "TargetGroupNotFoundException",
    "ListenerNotFoundException",
    "RuleNotFoundException",
)


def _attributes(pairs: list[Json] | None) -> list[Json]:
    """Key/Value attributes as the API takes them: every value a string ("true", not True)."""
    out = []
    for pair in pairs or []:
        value = pair["Value"]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out.append({"Key": pair["Key"], "Value": text})
    return out


def _action(action: Json) -> Json:
    """A listener or rule action as the API takes it: templates quote Order and weights."""
    out = dict(action)
    if "Order" in out:
        out["Order"] = integer(out["Order"])
    forward = out.get("ForwardConfig")
    if forward:
        forward = dict(forward)
        if "TargetGroups" in forward:
            forward["TargetGroups"] = [
                {**g, **({"Weight": integer(g["Weight"])} if "Weight" in g else {})}
                for g in forward["TargetGroups"]
            ]
        stickiness = forward.get("TargetGroupStickinessConfig")
        if stickiness:
            forward["TargetGroupStickinessConfig"] = {
                **{"Enabled": boolean(stickiness.get("Enabled", False))},
                **(
                    {"DurationSeconds": integer(stickiness["DurationSeconds"])}
                    if "DurationSeconds" in stickiness
                    else {}
                ),
            }
        out["ForwardConfig"] = forward
    return out


def _tags_changed(ctx: ResourceContext, arn: str, props: Props, old_props: Props) -> None:
    tags = ctx.tags(props.get("Tags"))
    old = ctx.previous_tags(old_props.get("Tags"))
    if tags == old:
        return
    keys = {t["Key"] for t in tags}
    dropped = [t["Key"] for t in old if t["Key"] not in keys]
    if dropped:
        ctx.call("elbv2", "RemoveTags", {"ResourceArns": [arn], "TagKeys": dropped})
    ctx.call("elbv2", "AddTags", {"ResourceArns": [arn], "Tags": tags})


class LoadBalancer(ResourceType):
    type_name = "AWS::ElasticLoadBalancingV2::LoadBalancer"
    attributes = (
        "CanonicalHostedZoneID",
        "DNSName",
        "LoadBalancerArn",
        "LoadBalancerFullName",
        "LoadBalancerName",
        "SecurityGroups",
    )
    # AWS changes IpAddressType in place (SetIpAddressType); nubes' ELBv2 has no such
    # operation, so a new address type takes a new load balancer.
    replace_on = frozenset({"Name", "Scheme", "Type", "IpAddressType"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("Name") or ctx.physical_name(32)
        req: Json = {"Name": name, "Tags": ctx.tags(props.get("Tags"))}
        req.update(given(props, ("Subnets", "SubnetMappings", "SecurityGroups", "Scheme", "Type")))
        if "IpAddressType" in props:
            req["IpAddressType"] = props["IpAddressType"]
        out = ctx.call("elbv2", "CreateLoadBalancer", req)["LoadBalancers"][0]
        arn = out["LoadBalancerArn"]
        if props.get("LoadBalancerAttributes"):
            self._set_attributes(ctx, arn, props)
        return self._provisioned(arn, out)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        arn = current.physical_id
        if props.get("Subnets") != old_props.get("Subnets") or props.get(
            "SubnetMappings"
        ) != old_props.get("SubnetMappings"):
            key = "SubnetMappings" if "SubnetMappings" in props else "Subnets"
            ctx.call("elbv2", "SetSubnets", {"LoadBalancerArn": arn, key: props.get(key) or []})
        if props.get("SecurityGroups") != old_props.get("SecurityGroups"):
            groups = props.get("SecurityGroups") or []
            ctx.call(
                "elbv2", "SetSecurityGroups", {"LoadBalancerArn": arn, "SecurityGroups": groups}
            )
        if props.get("LoadBalancerAttributes") != old_props.get("LoadBalancerAttributes"):
            self._set_attributes(ctx, arn, props)
        _tags_changed(ctx, arn, props, old_props)
        out = ctx.call("elbv2", "DescribeLoadBalancers", {"LoadBalancerArns": [arn]})
        return self._provisioned(arn, out["LoadBalancers"][0])

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            _GONE, "elbv2", "DeleteLoadBalancer", {"LoadBalancerArn": current.physical_id}
        )

    @staticmethod
    def _set_attributes(ctx: ResourceContext, arn: str, props: Props) -> None:
        attributes = _attributes(props.get("LoadBalancerAttributes"))
        if attributes:
            ctx.call(
                "elbv2",
                "ModifyLoadBalancerAttributes",
                {"LoadBalancerArn": arn, "Attributes": attributes},
            )

    @staticmethod
    def _provisioned(arn: str, lb: Json) -> Provisioned:
        return Provisioned(
            arn,
            attributes={
                "CanonicalHostedZoneID": lb.get("CanonicalHostedZoneId", ""),
                "DNSName": lb.get("DNSName", ""),
                "LoadBalancerArn": arn,
                "LoadBalancerFullName": arn.split(":loadbalancer/", 1)[1],
                "LoadBalancerName": lb["LoadBalancerName"],
                "SecurityGroups": list(lb.get("SecurityGroups") or []),
            },
        )


class TargetGroup(ResourceType):
    type_name = "AWS::ElasticLoadBalancingV2::TargetGroup"
    attributes = (
        "LoadBalancerArns",
        "TargetGroupArn",
        "TargetGroupFullName",
        "TargetGroupName",
    )
    replace_on = frozenset(
        {"Name", "Port", "Protocol", "ProtocolVersion", "TargetType", "VpcId", "IpAddressType"}
    )

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("Name") or ctx.physical_name(32)
        req: Json = {"Name": name, "Tags": ctx.tags(props.get("Tags"))}
        req.update(
            given(props, ("Protocol", "ProtocolVersion", "VpcId", "TargetType", "IpAddressType"))
        )
        if "Port" in props:
            req["Port"] = integer(props["Port"])
        req.update(self._health(props))
        out = ctx.call("elbv2", "CreateTargetGroup", req)["TargetGroups"][0]
        arn = out["TargetGroupArn"]
        self._set_attributes(ctx, arn, props)
        self._register(ctx, arn, props.get("Targets") or [])
        return self._provisioned(arn, out)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        arn = current.physical_id
        health = self._health(props)
        if health != self._health(old_props):
            ctx.call("elbv2", "ModifyTargetGroup", {"TargetGroupArn": arn, **health})
        if props.get("TargetGroupAttributes") != old_props.get("TargetGroupAttributes"):
            self._set_attributes(ctx, arn, props)
        new_targets = [self._target(t) for t in props.get("Targets") or []]
        old_targets = [self._target(t) for t in old_props.get("Targets") or []]
        gone = [t for t in old_targets if t not in new_targets]
        if gone:
            ctx.call("elbv2", "DeregisterTargets", {"TargetGroupArn": arn, "Targets": gone})
        self._register(ctx, arn, [t for t in props.get("Targets") or []])
        _tags_changed(ctx, arn, props, old_props)
        out = ctx.call("elbv2", "DescribeTargetGroups", {"TargetGroupArns": [arn]})
        return self._provisioned(arn, out["TargetGroups"][0])

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            _GONE, "elbv2", "DeleteTargetGroup", {"TargetGroupArn": current.physical_id}
        )

    @staticmethod
    def _health(props: Props) -> Json:
        req: Json = {key: props[key] for key in _HEALTH_TEXT if key in props}
        req.update(given(props, _HEALTH_NUMBERS, integer))
        if "HealthCheckEnabled" in props:
            req["HealthCheckEnabled"] = boolean(props["HealthCheckEnabled"])
        return req

    @staticmethod
    def _target(target: Json) -> Json:
        out = dict(target)
        if "Port" in out:
            out["Port"] = integer(out["Port"])
        return out

    def _register(self, ctx: ResourceContext, arn: str, targets: list[Json]) -> None:
        if targets:
            ctx.call(
                "elbv2",
                "RegisterTargets",
                {"TargetGroupArn": arn, "Targets": [self._target(t) for t in targets]},
            )

    @staticmethod
    def _set_attributes(ctx: ResourceContext, arn: str, props: Props) -> None:
        attributes = _attributes(props.get("TargetGroupAttributes"))
        if attributes:
            ctx.call(
                "elbv2",
                "ModifyTargetGroupAttributes",
                {"TargetGroupArn": arn, "Attributes": attributes},
            )

    @staticmethod
    def _provisioned(arn: str, group: Json) -> Provisioned:
        return Provisioned(
            arn,
            attributes={
                "LoadBalancerArns": list(group.get("LoadBalancerArns") or []),
                "TargetGroupArn": arn,
                "TargetGroupFullName": arn.split(":", 5)[5],
                "TargetGroupName": group["TargetGroupName"],
            },
        )


def _listener_settings(props: Props) -> Json:
    req: Json = {"DefaultActions": [_action(a) for a in props.get("DefaultActions") or []]}
    req.update(
        given(
            props, ("Protocol", "SslPolicy", "Certificates", "AlpnPolicy", "MutualAuthentication")
        )
    )
    if "Port" in props:
        req["Port"] = integer(props["Port"])
    return req


class Listener(ResourceType):
    type_name = "AWS::ElasticLoadBalancingV2::Listener"
    attributes = ("ListenerArn",)
    replace_on = frozenset({"LoadBalancerArn"})
    required = ("DefaultActions", "LoadBalancerArn")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        req = {"LoadBalancerArn": props["LoadBalancerArn"], **_listener_settings(props)}
        arn = ctx.call("elbv2", "CreateListener", req)["Listeners"][0]["ListenerArn"]
        return Provisioned(arn, attributes={"ListenerArn": arn})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        ctx.call(
            "elbv2",
            "ModifyListener",
            {"ListenerArn": current.physical_id, **_listener_settings(props)},
        )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(_GONE, "elbv2", "DeleteListener", {"ListenerArn": current.physical_id})


class ListenerRule(ResourceType):
    type_name = "AWS::ElasticLoadBalancingV2::ListenerRule"
    attributes = ("IsDefault", "RuleArn")
    replace_on = frozenset({"ListenerArn"})
    required = ("Actions", "Conditions", "Priority")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        req = {
            "ListenerArn": props["ListenerArn"],
            "Priority": integer(props["Priority"]),
            "Actions": [_action(a) for a in props["Actions"]],
            "Conditions": list(props["Conditions"]),
        }
        arn = ctx.call("elbv2", "CreateRule", req)["Rules"][0]["RuleArn"]
        return Provisioned(arn, attributes={"IsDefault": False, "RuleArn": arn})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        arn = current.physical_id
        if integer(props["Priority"]) != integer(old_props["Priority"]):
            ctx.call(
                "elbv2",
                "SetRulePriorities",
                {"RulePriorities": [{"RuleArn": arn, "Priority": integer(props["Priority"])}]},
            )
        ctx.call(
            "elbv2",
            "ModifyRule",
            {
                "RuleArn": arn,
                "Actions": [_action(a) for a in props["Actions"]],
                "Conditions": list(props["Conditions"]),
            },
        )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(_GONE, "elbv2", "DeleteRule", {"RuleArn": current.physical_id})


TYPES: dict[str, type[ResourceType]] = {
    cls.type_name: cls for cls in (LoadBalancer, TargetGroup, Listener, ListenerRule)
}
