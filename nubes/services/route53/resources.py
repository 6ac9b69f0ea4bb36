"""Route 53's CloudFormation resource types: AWS::Route53::HostedZone, RecordSet, RecordSetGroup
and HealthCheck, through Route 53's own operations."""

from __future__ import annotations

import uuid
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
)

Json = dict[str, Any]
_PLAIN = ("Type", "SetIdentifier", "Region", "Failover", "GeoLocation", "HealthCheckId")
_CHECK_NUMBERS = ("Port", "RequestInterval", "FailureThreshold", "HealthThreshold")
_CHECK_FLAGS = ("MeasureLatency", "Inverted", "Disabled", "EnableSNI")
_CHECK_FIXED = ("Type", "RequestInterval", "MeasureLatency", "RoutingControlArn")
_GONE = ("NoSuchHostedZone", "NoSuchHealthCheck")


def _bare(zone_id: str) -> str:
    return zone_id.rsplit("/", 1)[-1]


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else f"{name}."


def _zone_id(ctx: ResourceContext, props: Props) -> str:
    """The zone a record names, by HostedZoneId or HostedZoneName (exactly one, as AWS wants)."""
    if props.get("HostedZoneId"):
        return _bare(str(props["HostedZoneId"]))
    name = props.get("HostedZoneName")
    if not name:
        raise ResourceFailed("Exactly one of [HostedZoneId, HostedZoneName] must be specified")
    wanted = _fqdn(str(name)).lower()
    found = ctx.call("route53", "ListHostedZonesByName", {"DNSName": wanted})
    zones = [z for z in found["HostedZones"] if z["Name"].lower() == wanted]
    if len(zones) != 1:
        raise ResourceFailed(
            f"No hosted zone found with name {name}"
            if not zones
            else f"Multiple hosted zones found with name {name}; specify HostedZoneId"
        )
    return _bare(zones[0]["Id"])


def _record(props: Props) -> Json:
    """A template's record as a ResourceRecordSet (values listed as strings, TTL quoted)."""
    out: Json = {"Name": _fqdn(str(props["Name"]))}
    out.update(given(props, _PLAIN))
    if "TTL" in props:
        out["TTL"] = integer(props["TTL"])
    if "Weight" in props:
        out["Weight"] = integer(props["Weight"])
    if "MultiValueAnswer" in props:
        out["MultiValueAnswer"] = boolean(props["MultiValueAnswer"])
    if "ResourceRecords" in props:
        out["ResourceRecords"] = [{"Value": str(v)} for v in props["ResourceRecords"]]
    if "AliasTarget" in props:
        alias = dict(props["AliasTarget"])
        alias["EvaluateTargetHealth"] = boolean(alias.get("EvaluateTargetHealth", False))
        out["AliasTarget"] = alias
    return out


def _key(record: Json) -> tuple[str, str, str]:
    return (record["Name"].lower(), record["Type"], str(record.get("SetIdentifier", "")))


def _change(ctx: ResourceContext, zone: str, changes: list[Json], comment: str = "") -> None:
    batch: Json = {"Changes": changes}
    if comment:
        batch["Comment"] = comment
    ctx.call("route53", "ChangeResourceRecordSets", {"HostedZoneId": zone, "ChangeBatch": batch})


def _replace(
    ctx: ResourceContext, zone: str, new: list[Json], old: list[Json], comment: str = ""
) -> None:
    """One change batch taking the zone from the ``old`` records to the ``new`` ones: records
    whose name, type or set identifier went away are deleted, the others upserted."""
    kept = {_key(r) for r in new}
    changes = [{"Action": "DELETE", "ResourceRecordSet": r} for r in old if _key(r) not in kept]
    changes += [{"Action": "UPSERT", "ResourceRecordSet": r} for r in new]
    _change(ctx, zone, changes, comment)


def _delete_records(ctx: ResourceContext, zone: str, records: list[Json]) -> None:
    changes = [{"Action": "DELETE", "ResourceRecordSet": r} for r in records]
    # A zone or record already gone (InvalidChangeBatch: not found) is a delete already done.
    ctx.call_ignoring(
        (*_GONE, "InvalidChangeBatch"),
        "route53",
        "ChangeResourceRecordSets",
        {"HostedZoneId": zone, "ChangeBatch": {"Changes": changes}},
    )


def _tag(ctx: ResourceContext, kind: str, resource: str, tags: list[Json], old: list[Json]) -> None:
    """Route 53's tags of a hosted zone or health check, from ``old`` to ``tags``."""
    if tags == old:
        return
    keys = {t["Key"] for t in tags}
    req: Json = {"ResourceType": kind, "ResourceId": resource}
    if tags:
        req["AddTags"] = [{"Key": t["Key"], "Value": t["Value"]} for t in tags]
    dropped = [t["Key"] for t in old if t["Key"] not in keys]
    if dropped:
        req["RemoveTagKeys"] = dropped
    ctx.call("route53", "ChangeTagsForResource", req)


class HostedZone(ResourceType):
    type_name = "AWS::Route53::HostedZone"
    attributes = ("Id", "NameServers")
    replace_on = frozenset({"Name"})
    required = ("Name",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        req: Json = {"Name": props["Name"], "CallerReference": str(uuid.uuid4())}
        if props.get("HostedZoneConfig"):
            req["HostedZoneConfig"] = {"Comment": props["HostedZoneConfig"].get("Comment", "")}
        vpcs = props.get("VPCs") or []
        if vpcs:
            req["VPC"] = self._vpc(vpcs[0])
            req.setdefault("HostedZoneConfig", {})["PrivateZone"] = True
        out = ctx.call("route53", "CreateHostedZone", req)
        zone = _bare(out["HostedZone"]["Id"])
        for vpc in vpcs[1:]:
            ctx.call(
                "route53",
                "AssociateVPCWithHostedZone",
                {"HostedZoneId": zone, "VPC": self._vpc(vpc)},
            )
        _tag(ctx, "hostedzone", zone, props.get("HostedZoneTags") or [], [])
        servers = list((out.get("DelegationSet") or {}).get("NameServers") or [])
        return Provisioned(zone, attributes={"Id": zone, "NameServers": servers})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        zone = current.physical_id
        comment = (props.get("HostedZoneConfig") or {}).get("Comment", "")
        if comment != (old_props.get("HostedZoneConfig") or {}).get("Comment", ""):
            ctx.call("route53", "UpdateHostedZoneComment", {"Id": zone, "Comment": comment})
        new_vpcs = [self._vpc(v) for v in props.get("VPCs") or []]
        old_vpcs = [self._vpc(v) for v in old_props.get("VPCs") or []]
        for vpc in new_vpcs:
            if vpc not in old_vpcs:
                ctx.call(
                    "route53", "AssociateVPCWithHostedZone", {"HostedZoneId": zone, "VPC": vpc}
                )
        for vpc in old_vpcs:
            if vpc not in new_vpcs:
                ctx.call(
                    "route53", "DisassociateVPCFromHostedZone", {"HostedZoneId": zone, "VPC": vpc}
                )
        _tag(
            ctx,
            "hostedzone",
            zone,
            props.get("HostedZoneTags") or [],
            old_props.get("HostedZoneTags") or [],
        )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(_GONE, "route53", "DeleteHostedZone", {"Id": current.physical_id})

    @staticmethod
    def _vpc(vpc: Json) -> Json:
        return {"VPCId": vpc["VPCId"], "VPCRegion": vpc["VPCRegion"]}


class RecordSet(ResourceType):
    type_name = "AWS::Route53::RecordSet"
    replace_on = frozenset({"Name", "HostedZoneId", "HostedZoneName", "SetIdentifier"})
    required = ("Name", "Type")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        record = _record(props)
        change = [{"Action": "CREATE", "ResourceRecordSet": record}]
        _change(ctx, _zone_id(ctx, props), change, str(props.get("Comment", "")))
        # Ref is the record's name, as the template gives it.
        return Provisioned(str(props["Name"]))

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        _replace(
            ctx,
            _zone_id(ctx, props),
            [_record(props)],
            [_record(old_props)],
            str(props.get("Comment", "")),
        )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        _delete_records(ctx, _zone_id(ctx, props), [_record(props)])


class RecordSetGroup(ResourceType):
    type_name = "AWS::Route53::RecordSetGroup"
    replace_on = frozenset({"HostedZoneId", "HostedZoneName"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        records = [_record(r) for r in props.get("RecordSets") or []]
        changes = [{"Action": "CREATE", "ResourceRecordSet": r} for r in records]
        if changes:
            _change(ctx, _zone_id(ctx, props), changes, str(props.get("Comment", "")))
        return Provisioned(ctx.physical_name(255))

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        new = [_record(r) for r in props.get("RecordSets") or []]
        old = [_record(r) for r in old_props.get("RecordSets") or []]
        _replace(ctx, _zone_id(ctx, props), new, old, str(props.get("Comment", "")))
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        records = [_record(r) for r in props.get("RecordSets") or []]
        if records:
            _delete_records(ctx, _zone_id(ctx, props), records)


def _check_config(config: Json) -> Json:
    out = dict(config)
    for key in _CHECK_NUMBERS:
        if key in out:
            out[key] = integer(out[key])
    for key in _CHECK_FLAGS:
        if key in out:
            out[key] = boolean(out[key])
    return out


class HealthCheck(ResourceType):
    type_name = "AWS::Route53::HealthCheck"
    attributes = ("HealthCheckId",)
    required = ("HealthCheckConfig",)

    def needs_replacement(self, props: Props, old_props: Props) -> list[str]:
        # The check's type, interval and latency measuring are fixed once made.
        new = props.get("HealthCheckConfig") or {}
        old = old_props.get("HealthCheckConfig") or {}
        return ["HealthCheckConfig"] if any(new.get(k) != old.get(k) for k in _CHECK_FIXED) else []

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        out = ctx.call(
            "route53",
            "CreateHealthCheck",
            {
                "CallerReference": str(uuid.uuid4()),
                "HealthCheckConfig": _check_config(props["HealthCheckConfig"]),
            },
        )
        check = out["HealthCheck"]["Id"]
        _tag(ctx, "healthcheck", check, props.get("HealthCheckTags") or [], [])
        return Provisioned(check, attributes={"HealthCheckId": check})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        config = _check_config(props["HealthCheckConfig"])
        if config != _check_config(old_props["HealthCheckConfig"]):
            changes = {k: v for k, v in config.items() if k not in _CHECK_FIXED}
            changes.pop("Type", None)
            ctx.call(
                "route53", "UpdateHealthCheck", {"HealthCheckId": current.physical_id, **changes}
            )
        _tag(
            ctx,
            "healthcheck",
            current.physical_id,
            props.get("HealthCheckTags") or [],
            old_props.get("HealthCheckTags") or [],
        )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            _GONE, "route53", "DeleteHealthCheck", {"HealthCheckId": current.physical_id}
        )


TYPES: dict[str, type[ResourceType]] = {
    cls.type_name: cls for cls in (HostedZone, RecordSet, RecordSetGroup, HealthCheck)
}
