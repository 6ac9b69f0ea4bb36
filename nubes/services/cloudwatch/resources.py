"""CloudWatch's CloudFormation resource types: AWS::CloudWatch::Alarm,
AWS::CloudWatch::CompositeAlarm and AWS::CloudWatch::Dashboard, through PutMetricAlarm,
PutCompositeAlarm and PutDashboard (each an upsert, so an in-place update is the same call)."""

from __future__ import annotations

from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceType,
    as_json,
    boolean,
    given,
    integer,
    number,
)

Json = dict[str, Any]
_PLAIN = (
    "AlarmDescription",
    "ComparisonOperator",
    "Dimensions",
    "ExtendedStatistic",
    "EvaluateLowSampleCountPercentile",
    "MetricName",
    "Namespace",
    "Statistic",
    "ThresholdMetricId",
    "TreatMissingData",
    "Unit",
)
_ACTIONS = ("AlarmActions", "OKActions", "InsufficientDataActions")
_COMPOSITE_PLAIN = ("AlarmRule", "AlarmDescription", "ActionsSuppressor")
_COMPOSITE_NUMBERS = ("ActionsSuppressorWaitPeriod", "ActionsSuppressorExtensionPeriod")


def _query(query: Json) -> Json:
    """A metric data query as PutMetricAlarm takes it (templates quote numbers and booleans)."""
    out = dict(query)
    if "ReturnData" in out:
        out["ReturnData"] = boolean(out["ReturnData"])
    if "Period" in out:
        out["Period"] = integer(out["Period"])
    if "MetricStat" in out:
        stat = dict(out["MetricStat"])
        stat["Period"] = integer(stat["Period"])
        out["MetricStat"] = stat
    return out


def _alarm_request(name: str, props: Props, ctx: ResourceContext) -> Json:
    req: Json = {"AlarmName": name, "Tags": ctx.tags(props.get("Tags"))}
    req.update(given(props, _PLAIN))
    req.update(given(props, _ACTIONS, list))
    if "ActionsEnabled" in props:
        req["ActionsEnabled"] = boolean(props["ActionsEnabled"])
    req.update(given(props, ("EvaluationPeriods", "DatapointsToAlarm", "Period"), integer))
    if "Threshold" in props:
        req["Threshold"] = number(props["Threshold"])
    if "Metrics" in props:
        req["Metrics"] = [_query(q) for q in props["Metrics"]]
    return req


class Alarm(ResourceType):
    type_name = "AWS::CloudWatch::Alarm"
    attributes = ("Arn",)
    replace_on = frozenset({"AlarmName"})
    required = ("ComparisonOperator", "EvaluationPeriods")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("AlarmName") or ctx.physical_name(255)
        ctx.call("cloudwatch", "PutMetricAlarm", _alarm_request(name, props, ctx))
        return Provisioned(name, attributes={"Arn": ctx.arn("cloudwatch", f"alarm:{name}")})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        ctx.call("cloudwatch", "PutMetricAlarm", _alarm_request(current.physical_id, props, ctx))
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call("cloudwatch", "DeleteAlarms", {"AlarmNames": [current.physical_id]})


def _composite_request(name: str, props: Props, ctx: ResourceContext) -> Json:
    req: Json = {"AlarmName": name, "Tags": ctx.tags(props.get("Tags"))}
    req.update(given(props, _COMPOSITE_PLAIN))
    req.update(given(props, _ACTIONS, list))
    req.update(given(props, _COMPOSITE_NUMBERS, integer))
    if "ActionsEnabled" in props:
        req["ActionsEnabled"] = boolean(props["ActionsEnabled"])
    return req


class CompositeAlarm(ResourceType):
    type_name = "AWS::CloudWatch::CompositeAlarm"
    attributes = ("Arn",)
    replace_on = frozenset({"AlarmName"})
    required = ("AlarmRule",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("AlarmName") or ctx.physical_name(255)
        ctx.call("cloudwatch", "PutCompositeAlarm", _composite_request(name, props, ctx))
        return Provisioned(name, attributes={"Arn": ctx.arn("cloudwatch", f"alarm:{name}")})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        request = _composite_request(current.physical_id, props, ctx)
        ctx.call("cloudwatch", "PutCompositeAlarm", request)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call("cloudwatch", "DeleteAlarms", {"AlarmNames": [current.physical_id]})


class Dashboard(ResourceType):
    type_name = "AWS::CloudWatch::Dashboard"
    replace_on = frozenset({"DashboardName"})
    required = ("DashboardBody",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("DashboardName") or ctx.physical_name(255)
        self._put(ctx, name, props)
        return Provisioned(name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._put(ctx, current.physical_id, props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("ResourceNotFound",),
            "cloudwatch",
            "DeleteDashboards",
            {"DashboardNames": [current.physical_id]},
        )

    def _put(self, ctx: ResourceContext, name: str, props: Props) -> None:
        body = as_json(props["DashboardBody"])
        ctx.call("cloudwatch", "PutDashboard", {"DashboardName": name, "DashboardBody": body})


TYPES: dict[str, type[ResourceType]] = {
    cls.type_name: cls for cls in (Alarm, CompositeAlarm, Dashboard)
}
