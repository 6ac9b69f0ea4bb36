"""EventBridge Scheduler's CloudFormation resource types: AWS::Scheduler::Schedule and
AWS::Scheduler::ScheduleGroup, through the scheduler's own operations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceFailed,
    ResourceType,
    given,
    integer,
)

Json = dict[str, Any]
_GONE = ("ResourceNotFoundException",)
_PLAIN = ("Description", "KmsKeyArn", "ScheduleExpressionTimezone", "State")
_RETRY_NUMBERS = ("MaximumEventAgeInSeconds", "MaximumRetryAttempts")


def _date(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ResourceFailed(f"Value '{value}' is not a valid timestamp") from None


def _iso(value: Any) -> str:
    """A provider's timestamp (epoch seconds or datetime) as GetAtt answers it."""
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(float(value), UTC)
    return moment.isoformat()


def _target(target: Json) -> Json:
    out = dict(target)
    if "RetryPolicy" in out:
        out["RetryPolicy"] = {
            k: integer(v) if k in _RETRY_NUMBERS else v for k, v in out["RetryPolicy"].items()
        }
    return out


def _request(name: str, props: Props) -> Json:
    window = dict(props["FlexibleTimeWindow"])
    if "MaximumWindowInMinutes" in window:
        window["MaximumWindowInMinutes"] = integer(window["MaximumWindowInMinutes"])
    req: Json = {
        "Name": name,
        "ScheduleExpression": props["ScheduleExpression"],
        "FlexibleTimeWindow": window,
        "Target": _target(props["Target"]),
    }
    if props.get("GroupName"):
        req["GroupName"] = props["GroupName"]
    req.update(given(props, _PLAIN))
    req.update(given(props, ("StartDate", "EndDate"), _date))
    return req


class Schedule(ResourceType):
    type_name = "AWS::Scheduler::Schedule"
    attributes = ("Arn",)
    replace_on = frozenset({"Name", "GroupName"})
    required = ("FlexibleTimeWindow", "ScheduleExpression", "Target")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("Name") or ctx.physical_name(64)
        out = ctx.call("scheduler", "CreateSchedule", _request(name, props))
        return Provisioned(name, attributes={"Arn": out["ScheduleArn"]})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        # UpdateSchedule replaces every setting: the full request, as CloudFormation sends it.
        ctx.call("scheduler", "UpdateSchedule", _request(current.physical_id, props))
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        req: Json = {"Name": current.physical_id}
        if props.get("GroupName"):
            req["GroupName"] = props["GroupName"]
        ctx.call_ignoring(_GONE, "scheduler", "DeleteSchedule", req)


class ScheduleGroup(ResourceType):
    type_name = "AWS::Scheduler::ScheduleGroup"
    attributes = ("Arn", "CreationDate", "LastModificationDate", "State")
    replace_on = frozenset({"Name"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("Name") or ctx.physical_name(64)
        tags = ctx.tags(props.get("Tags"))
        ctx.call("scheduler", "CreateScheduleGroup", {"Name": name, "Tags": tags})
        return Provisioned(name, attributes=self._attributes(ctx, name))

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        tags = ctx.tag_map(props.get("Tags"))
        old = ctx.previous_tag_map(old_props.get("Tags"))
        if tags != old:
            arn = current.attributes["Arn"]
            dropped = [k for k in old if k not in tags]
            if dropped:
                ctx.call("scheduler", "UntagResource", {"ResourceArn": arn, "TagKeys": dropped})
            ctx.call(
                "scheduler",
                "TagResource",
                {"ResourceArn": arn, "Tags": ctx.tags(props.get("Tags"))},
            )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(_GONE, "scheduler", "DeleteScheduleGroup", {"Name": current.physical_id})

    @staticmethod
    def _attributes(ctx: ResourceContext, name: str) -> Json:
        group = ctx.call("scheduler", "GetScheduleGroup", {"Name": name})
        return {
            "Arn": group["Arn"],
            "CreationDate": _iso(group["CreationDate"]),
            "LastModificationDate": _iso(group["LastModificationDate"]),
            "State": group.get("State", "ACTIVE"),
        }


TYPES: dict[str, type[ResourceType]] = {cls.type_name: cls for cls in (Schedule, ScheduleGroup)}
