"""Classic Load Balancing's CloudFormation resource type: AWS::ElasticLoadBalancing::LoadBalancer
(listeners, health check, instances, attributes, security groups, tags), through ELB's own
operations."""

from __future__ import annotations

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
_HEALTH_NUMBERS = ("Interval", "Timeout", "HealthyThreshold", "UnhealthyThreshold")


def _listener(listener: Json) -> Json:
    out: Json = {
        "Protocol": listener["Protocol"],
        "LoadBalancerPort": integer(listener["LoadBalancerPort"]),
        "InstancePort": integer(listener["InstancePort"]),
    }
    if listener.get("InstanceProtocol"):
        out["InstanceProtocol"] = listener["InstanceProtocol"]
    if listener.get("SSLCertificateId"):
        out["SSLCertificateId"] = listener["SSLCertificateId"]
    return out


def _attributes(props: Props) -> Json:
    out: Json = {}
    if "CrossZone" in props:
        out["CrossZoneLoadBalancing"] = {"Enabled": boolean(props["CrossZone"])}
    draining = props.get("ConnectionDrainingPolicy")
    if draining:
        out["ConnectionDraining"] = {
            "Enabled": boolean(draining["Enabled"]),
            **({"Timeout": integer(draining["Timeout"])} if "Timeout" in draining else {}),
        }
    settings = props.get("ConnectionSettings")
    if settings:
        out["ConnectionSettings"] = {"IdleTimeout": integer(settings["IdleTimeout"])}
    logging = props.get("AccessLoggingPolicy")
    if logging:
        log: Json = {"Enabled": boolean(logging["Enabled"])}
        for key in ("S3BucketName", "S3BucketPrefix"):
            if key in logging:
                log[key] = logging[key]
        if "EmitInterval" in logging:
            log["EmitInterval"] = integer(logging["EmitInterval"])
        out["AccessLog"] = log
    return out


class LoadBalancer(ResourceType):
    type_name = "AWS::ElasticLoadBalancing::LoadBalancer"
    attributes = (
        "CanonicalHostedZoneName",
        "CanonicalHostedZoneNameID",
        "DNSName",
        "SourceSecurityGroup.GroupName",
        "SourceSecurityGroup.OwnerAlias",
    )
    # AWS moves a classic load balancer between subnets and zones in place; nubes' ELB has no
    # operations for that, so such a change makes a new load balancer.
    replace_on = frozenset({"LoadBalancerName", "Scheme", "Subnets", "AvailabilityZones"})
    required = ("Listeners",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("LoadBalancerName") or ctx.physical_name(32)
        req: Json = {
            "LoadBalancerName": name,
            "Listeners": [_listener(x) for x in props["Listeners"]],
            "Tags": ctx.tags(props.get("Tags")),
        }
        for key in ("AvailabilityZones", "Subnets", "SecurityGroups", "Scheme"):
            if props.get(key):
                req[key] = props[key]
        ctx.call("elb", "CreateLoadBalancer", req)
        if props.get("HealthCheck"):
            self._health(ctx, name, props)
        if _attributes(props):
            self._set_attributes(ctx, name, props)
        if props.get("Instances"):
            self._instances(ctx, name, "RegisterInstancesWithLoadBalancer", props["Instances"])
        return self._provisioned(ctx, name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        new = [_listener(x) for x in props["Listeners"]]
        old = [_listener(x) for x in old_props["Listeners"]]
        gone = [x["LoadBalancerPort"] for x in old if x not in new]
        if gone:
            ctx.call(
                "elb",
                "DeleteLoadBalancerListeners",
                {"LoadBalancerName": name, "LoadBalancerPorts": gone},
            )
        added = [x for x in new if x not in old]
        if added:
            ctx.call(
                "elb", "CreateLoadBalancerListeners", {"LoadBalancerName": name, "Listeners": added}
            )
        if props.get("HealthCheck") and props.get("HealthCheck") != old_props.get("HealthCheck"):
            self._health(ctx, name, props)
        if _attributes(props) != _attributes(old_props):
            self._set_attributes(ctx, name, props)
        if props.get("SecurityGroups") != old_props.get("SecurityGroups"):
            ctx.call(
                "elb",
                "ApplySecurityGroupsToLoadBalancer",
                {"LoadBalancerName": name, "SecurityGroups": props.get("SecurityGroups") or []},
            )
        now, before = props.get("Instances") or [], old_props.get("Instances") or []
        leaving = [i for i in before if i not in now]
        if leaving:
            self._instances(ctx, name, "DeregisterInstancesFromLoadBalancer", leaving)
        joining = [i for i in now if i not in before]
        if joining:
            self._instances(ctx, name, "RegisterInstancesWithLoadBalancer", joining)
        tags = ctx.tag_map(props.get("Tags"))
        old_tags = ctx.previous_tag_map(old_props.get("Tags"))
        if tags != old_tags:
            dropped = [{"Key": k} for k in old_tags if k not in tags]
            if dropped:
                ctx.call("elb", "RemoveTags", {"LoadBalancerNames": [name], "Tags": dropped})
            ctx.call(
                "elb",
                "AddTags",
                {"LoadBalancerNames": [name], "Tags": ctx.tags(props.get("Tags"))},
            )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        # DeleteLoadBalancer of a name that is gone succeeds, as on AWS.
        ctx.call("elb", "DeleteLoadBalancer", {"LoadBalancerName": current.physical_id})

    @staticmethod
    def _health(ctx: ResourceContext, name: str, props: Props) -> None:
        check = props["HealthCheck"]
        health: Json = {"Target": check["Target"]}
        for key in _HEALTH_NUMBERS:
            health[key] = integer(check[key])
        ctx.call("elb", "ConfigureHealthCheck", {"LoadBalancerName": name, "HealthCheck": health})

    @staticmethod
    def _set_attributes(ctx: ResourceContext, name: str, props: Props) -> None:
        ctx.call(
            "elb",
            "ModifyLoadBalancerAttributes",
            {"LoadBalancerName": name, "LoadBalancerAttributes": _attributes(props)},
        )

    @staticmethod
    def _instances(ctx: ResourceContext, name: str, operation: str, ids: list[str]) -> None:
        ctx.call(
            "elb",
            operation,
            {"LoadBalancerName": name, "Instances": [{"InstanceId": i} for i in ids]},
        )

    @staticmethod
    def _provisioned(ctx: ResourceContext, name: str) -> Provisioned:
        found = ctx.call("elb", "DescribeLoadBalancers", {"LoadBalancerNames": [name]})
        lb = found["LoadBalancerDescriptions"][0]
        source = lb.get("SourceSecurityGroup") or {}
        return Provisioned(
            name,
            attributes={
                "CanonicalHostedZoneName": lb.get("CanonicalHostedZoneName", ""),
                "CanonicalHostedZoneNameID": lb.get("CanonicalHostedZoneNameID", ""),
                "DNSName": lb.get("DNSName", ""),
                "SourceSecurityGroup.GroupName": source.get("GroupName", ""),
                "SourceSecurityGroup.OwnerAlias": source.get("OwnerAlias", ""),
            },
        )


TYPES: dict[str, type[ResourceType]] = {LoadBalancer.type_name: LoadBalancer}
