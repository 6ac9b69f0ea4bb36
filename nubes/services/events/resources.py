"""EventBridge's CloudFormation resource types: AWS::Events::Rule (with its targets),
AWS::Events::EventBus and AWS::Events::Archive."""

from __future__ import annotations

from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceType,
    as_json,
    given,
    integer,
)

Json = dict[str, Any]
DEFAULT_BUS = "default"
_TARGET_NUMBERS = {"RetryPolicy": ("MaximumRetryAttempts", "MaximumEventAgeInSeconds")}


def _target(target: Json) -> Json:
    """A template's target as PutTargets takes it (numbers often quoted)."""
    out = dict(target)
    for key, fields in _TARGET_NUMBERS.items():
        if key in out:
            out[key] = {k: integer(v) if k in fields else v for k, v in out[key].items()}
    if "EcsParameters" in out and "TaskCount" in out["EcsParameters"]:
        out["EcsParameters"] = {
            **out["EcsParameters"],
            "TaskCount": integer(out["EcsParameters"]["TaskCount"]),
        }
    return out


class Rule(ResourceType):
    type_name = "AWS::Events::Rule"
    attributes = ("Arn",)
    replace_on = frozenset({"Name", "EventBusName"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("Name") or ctx.physical_name(64)
        bus = self._bus(props)
        out = ctx.call("events", "PutRule", {**self._rule(name, props), "Tags": ctx.tags()})
        self._put_targets(ctx, name, bus, props.get("Targets") or [])
        # Ref is the rule's name on the default bus, "<bus>|<rule>" on any other (as AWS).
        ref = name if bus == DEFAULT_BUS else f"{bus}|{name}"
        return Provisioned(ref, attributes={"Arn": out["RuleArn"]})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id.split("|")[-1]
        bus = self._bus(props)
        ctx.call("events", "PutRule", self._rule(name, props))
        new_ids = {t["Id"] for t in props.get("Targets") or []}
        gone = [t["Id"] for t in old_props.get("Targets") or [] if t["Id"] not in new_ids]
        if gone:
            ctx.call("events", "RemoveTargets", {"Rule": name, "EventBusName": bus, "Ids": gone})
        self._put_targets(ctx, name, bus, props.get("Targets") or [])
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        name = current.physical_id.split("|")[-1]
        bus = self._bus(props)
        listed = ctx.call_ignoring(
            ("ResourceNotFoundException",),
            "events",
            "ListTargetsByRule",
            {"Rule": name, "EventBusName": bus},
        )
        if listed is None:
            return
        ids = [t["Id"] for t in listed.get("Targets", [])]
        if ids:
            ctx.call("events", "RemoveTargets", {"Rule": name, "EventBusName": bus, "Ids": ids})
        ctx.call_ignoring(
            ("ResourceNotFoundException",),
            "events",
            "DeleteRule",
            {"Name": name, "EventBusName": bus},
        )

    @staticmethod
    def _bus(props: Props) -> str:
        bus = str(props.get("EventBusName") or DEFAULT_BUS)
        return bus.rsplit("/", 1)[-1] if bus.startswith("arn:") else bus

    def _rule(self, name: str, props: Props) -> Json:
        req: Json = {"Name": name, "EventBusName": self._bus(props)}
        req.update(given(props, ("ScheduleExpression", "Description", "RoleArn", "State")))
        if "EventPattern" in props:
            req["EventPattern"] = as_json(props["EventPattern"])
        return req

    @staticmethod
    def _put_targets(ctx: ResourceContext, name: str, bus: str, targets: list[Json]) -> None:
        if targets:
            ctx.call(
                "events",
                "PutTargets",
                {"Rule": name, "EventBusName": bus, "Targets": [_target(t) for t in targets]},
            )


class EventBus(ResourceType):
    type_name = "AWS::Events::EventBus"
    attributes = ("Arn", "Name", "Policy")
    replace_on = frozenset({"Name", "EventSourceName"})
    required = ("Name",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        req: Json = {"Name": props["Name"], "Tags": ctx.tags(props.get("Tags"))}
        req.update(
            given(props, ("EventSourceName", "Description", "KmsKeyIdentifier", "DeadLetterConfig"))
        )
        out = ctx.call("events", "CreateEventBus", req)
        if "Policy" in props:
            ctx.call(
                "events",
                "PutPermission",
                {"EventBusName": props["Name"], "Policy": as_json(props["Policy"])},
            )
        policy = as_json(props["Policy"]) if "Policy" in props else ""
        return Provisioned(
            props["Name"],
            attributes={"Arn": out["EventBusArn"], "Name": props["Name"], "Policy": policy},
        )

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        if "Policy" in props and props["Policy"] != old_props.get("Policy"):
            ctx.call(
                "events",
                "PutPermission",
                {"EventBusName": current.physical_id, "Policy": as_json(props["Policy"])},
            )
            current.attributes["Policy"] = as_json(props["Policy"])
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("ResourceNotFoundException",),
            "events",
            "DeleteEventBus",
            {"Name": current.physical_id},
        )


class Archive(ResourceType):
    type_name = "AWS::Events::Archive"
    attributes = ("Arn",)
    replace_on = frozenset({"ArchiveName", "SourceArn"})
    required = ("SourceArn",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("ArchiveName") or ctx.physical_name(48)
        req: Json = {"ArchiveName": name, "EventSourceArn": props["SourceArn"]}
        req.update(self._settings(props))
        out = ctx.call("events", "CreateArchive", req)
        return Provisioned(name, attributes={"Arn": out["ArchiveArn"]})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        ctx.call(
            "events", "UpdateArchive", {"ArchiveName": current.physical_id, **self._settings(props)}
        )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("ResourceNotFoundException",),
            "events",
            "DeleteArchive",
            {"ArchiveName": current.physical_id},
        )

    @staticmethod
    def _settings(props: Props) -> Json:
        req: Json = {}
        if "Description" in props:
            req["Description"] = props["Description"]
        if "EventPattern" in props:
            req["EventPattern"] = as_json(props["EventPattern"])
        if "RetentionDays" in props:
            req["RetentionDays"] = integer(props["RetentionDays"])
        return req


TYPES: dict[str, type[ResourceType]] = {cls.type_name: cls for cls in (Rule, EventBus, Archive)}
