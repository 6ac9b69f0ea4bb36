"""What an alarm does when its state changes: the notification JSON AWS sends to SNS, the event
it gives a Lambda function, the EventBridge ``CloudWatch Alarm State Change`` detail, and running
each configured action through the target service's provider (Auto Scaling policies, EC2
stop/terminate/reboot/recover), recording what happened in the alarm's history."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from nubes.core.arns import parse_arn
from nubes.runtime.alarms.evaluate import aws_time

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.services.cloudwatch.storage import Alarm

log = logging.getLogger("nubes.cloudwatch")


@cache
def region_name(region: str) -> str:
    """``US East (N. Virginia)``: the long name alarm notifications carry."""
    import botocore.session

    for partition in botocore.session.get_session().get_data("endpoints")["partitions"]:
        found = partition["regions"].get(region)
        if found:
            return str(found.get("description", region))
    return region


@dataclass
class Change:
    """One state transition of an alarm, as actions and events describe it."""

    alarm: Alarm
    old_state: str
    old_reason: str
    old_reason_data: str | None
    old_time: float
    when: float


def change_record(change: Change) -> dict[str, Any]:
    """What a deferred action needs to know of its transition, as JSON."""
    return {
        "old_state": change.old_state,
        "old_reason": change.old_reason,
        "old_reason_data": change.old_reason_data,
        "old_time": change.old_time,
        "when": change.when,
    }


def change_from(alarm: Alarm, record: dict[str, Any]) -> Change:
    return Change(
        alarm,
        record["old_state"],
        record["old_reason"],
        record["old_reason_data"],
        record["old_time"],
        record["when"],
    )


def _metrics_config(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``metrics`` list of event and Lambda payloads (camelCase, dimensions as a map)."""
    if config.get("MetricName"):
        return [
            {
                "id": "m1",
                "metricStat": {
                    "metric": {
                        "namespace": config.get("Namespace"),
                        "name": config["MetricName"],
                        "dimensions": {
                            d["Name"]: d["Value"] for d in config.get("Dimensions") or ()
                        },
                    },
                    "period": config.get("Period"),
                    "stat": config.get("ExtendedStatistic") or config.get("Statistic"),
                    **({"unit": config["Unit"]} if config.get("Unit") else {}),
                },
                "returnData": True,
            }
        ]
    out = []
    for q in config.get("Metrics") or ():
        item: dict[str, Any] = {"id": q["Id"], "returnData": q.get("ReturnData", True)}
        if "MetricStat" in q:
            s = q["MetricStat"]
            item["metricStat"] = {
                "metric": {
                    "namespace": s["Metric"].get("Namespace"),
                    "name": s["Metric"].get("MetricName"),
                    "dimensions": {
                        d["Name"]: d["Value"] for d in s["Metric"].get("Dimensions") or ()
                    },
                },
                "period": s["Period"],
                "stat": s["Stat"],
            }
        else:
            item["expression"] = q["Expression"]
        if q.get("Label"):
            item["label"] = q["Label"]
        out.append(item)
    return out


def _state(value: str, reason: str, reason_data: str | None, ts: float) -> dict[str, Any]:
    state: dict[str, Any] = {"value": value, "reason": reason}
    if reason_data:
        state["reasonData"] = reason_data
    state["timestamp"] = aws_time(ts)
    return state


def event_detail(change: Change) -> dict[str, Any]:
    """The detail of ``CloudWatch Alarm State Change`` (also the ``alarmData`` Lambda gets)."""
    alarm = change.alarm
    config = alarm.config
    configuration: dict[str, Any] = {}
    if config.get("AlarmDescription"):
        configuration["description"] = config["AlarmDescription"]
    if alarm.kind == "CompositeAlarm":
        configuration["alarmRule"] = config["AlarmRule"]
        if config.get("ActionsSuppressor"):
            configuration["actionsSuppressor"] = config["ActionsSuppressor"]
            configuration["actionsSuppressorWaitPeriod"] = config.get("ActionsSuppressorWaitPeriod")
            configuration["actionsSuppressorExtensionPeriod"] = config.get(
                "ActionsSuppressorExtensionPeriod"
            )
    else:
        configuration["metrics"] = _metrics_config(config)
    return {
        "alarmName": alarm.name,
        "state": _state(alarm.state, alarm.reason, alarm.reason_data, alarm.state_updated),
        "previousState": _state(
            change.old_state, change.old_reason, change.old_reason_data, change.old_time
        ),
        "configuration": configuration,
    }


def lambda_event(change: Change) -> dict[str, Any]:
    alarm = change.alarm
    return {
        "source": "aws.cloudwatch",
        "alarmArn": alarm.arn,
        "accountId": alarm.account,
        "time": aws_time(change.when),
        "region": alarm.region,
        "alarmData": event_detail(change),
    }


def sns_message(change: Change) -> dict[str, Any]:
    """The JSON AWS publishes to an alarm's SNS topics."""
    alarm = change.alarm
    config = alarm.config
    message: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmDescription": config.get("AlarmDescription"),
        "AWSAccountId": alarm.account,
        "AlarmConfigurationUpdatedTimestamp": aws_time(alarm.config_updated),
        "NewStateValue": alarm.state,
        "NewStateReason": alarm.reason,
        "StateChangeTime": aws_time(change.when),
        "Region": region_name(alarm.region),
        "AlarmArn": alarm.arn,
        "OldStateValue": change.old_state,
        "OKActions": config.get("OKActions") or [],
        "AlarmActions": config.get("AlarmActions") or [],
        "InsufficientDataActions": config.get("InsufficientDataActions") or [],
    }
    if alarm.kind == "CompositeAlarm":
        message["AlarmRule"] = config["AlarmRule"]
        return message
    trigger: dict[str, Any]
    if config.get("MetricName"):
        trigger = {
            "MetricName": config["MetricName"],
            "Namespace": config.get("Namespace"),
            "StatisticType": "ExtendedStatistic"
            if config.get("ExtendedStatistic")
            else "Statistic",
            "Statistic": config["ExtendedStatistic"].upper()
            if config.get("ExtendedStatistic")
            else str(config.get("Statistic", "")).upper(),
            "Unit": config.get("Unit"),
            "Dimensions": [
                {"value": d["Value"], "name": d["Name"]} for d in config.get("Dimensions") or ()
            ],
            "Period": config.get("Period"),
            "EvaluationPeriods": config.get("EvaluationPeriods"),
        }
    else:
        trigger = {
            "Period": config.get("Period") or 0,
            "EvaluationPeriods": config.get("EvaluationPeriods"),
            "Metrics": [
                {
                    "Id": q["Id"],
                    "ReturnData": q.get("ReturnData", True),
                    **(
                        {
                            "MetricStat": {
                                "Metric": {
                                    "Dimensions": [
                                        {"value": d["Value"], "name": d["Name"]}
                                        for d in q["MetricStat"]["Metric"].get("Dimensions") or ()
                                    ],
                                    "MetricName": q["MetricStat"]["Metric"].get("MetricName"),
                                    "Namespace": q["MetricStat"]["Metric"].get("Namespace"),
                                },
                                "Period": q["MetricStat"]["Period"],
                                "Stat": q["MetricStat"]["Stat"],
                            }
                        }
                        if "MetricStat" in q
                        else {"Expression": q["Expression"]}
                    ),
                }
                for q in config.get("Metrics") or ()
            ],
        }
    if config.get("DatapointsToAlarm"):
        trigger["DatapointsToAlarm"] = config["DatapointsToAlarm"]
    trigger["ComparisonOperator"] = config["ComparisonOperator"]
    if config.get("ThresholdMetricId"):
        trigger["ThresholdMetricId"] = config["ThresholdMetricId"]
    else:
        trigger["Threshold"] = float(config.get("Threshold", 0.0))
    trigger["TreatMissingData"] = config.get("TreatMissingData") or "missing"
    trigger["EvaluateLowSampleCountPercentile"] = config.get("EvaluateLowSampleCountPercentile", "")
    message["Trigger"] = trigger
    return message


class ActionFailed(Exception):
    pass


def run_action(env: Environment, arn: str, change: Change) -> dict[str, Any]:
    """Run one action; returns the history data of a success, raises ActionFailed otherwise."""
    alarm = change.alarm
    try:
        target = parse_arn(arn)
    except ValueError:
        raise ActionFailed(f"Invalid action ARN: {arn}") from None
    service = target.service
    try:
        if service == "sns":
            message = sns_message(change)
            subject = f'{alarm.state}: "{alarm.name}" in {region_name(alarm.region)}'
            env.providers.invoke(
                "sns",
                "Publish",
                {"TopicArn": arn, "Subject": subject[:100], "Message": _compact(message)},
                target.account or alarm.account,
                target.region or alarm.region,
            )
            return {"notificationResource": arn, "publishedMessage": _compact(message)}
        if service == "lambda":
            event = lambda_event(change)
            env.providers.invoke(
                "lambda",
                "Invoke",
                {
                    "FunctionName": arn,
                    "InvocationType": "Event",
                    "Payload": _compact(event).encode(),
                },
                target.account or alarm.account,
                target.region or alarm.region,
            )
            return {"functionArn": arn, "invokedPayload": event}
        if service == "autoscaling":
            return _scaling_policy(env, arn, target.account or alarm.account, target.region, change)
        if service == "automate" and target.account == "ec2":
            # arn:aws:automate:<region>:ec2:<stop|terminate|reboot|recover>
            return _ec2_action(env, target.resource, target.region or alarm.region, change)
    except ActionFailed:
        raise
    except Exception as exc:
        log.info("alarm %s: action %s failed: %s", alarm.name, arn, exc)
        raise ActionFailed(str(exc) or type(exc).__name__) from None
    raise ActionFailed(f"The action {arn} is not supported.")


def _last_value(alarm: Alarm) -> float | None:
    try:
        data = json.loads(alarm.reason_data or "{}")
    except ValueError:
        return None
    recent = data.get("recentDatapoints") or []
    return float(recent[-1]) if recent else None


def _scaling_policy(
    env: Environment, arn: str, account: str, region: str, change: Change
) -> dict[str, Any]:
    # arn:aws:autoscaling:<region>:<account>:scalingPolicy:<id>:autoScalingGroupName/<g>:
    #   policyName/<p>
    if ":resource/" in arn:
        # An Application Auto Scaling policy (it has no ExecutePolicy operation to call).
        scaler: Any = env.providers.get("application-autoscaling")
        threshold = change.alarm.config.get("Threshold")
        scaler.alarm_triggered(
            account,
            region,
            arn,
            change.alarm.name,
            _last_value(change.alarm),
            None if threshold is None else float(threshold),
        )
        return {"policyArn": arn}
    group = next(
        (p.split("/", 1)[1] for p in arn.split(":") if p.startswith("autoScalingGroupName/")),
        None,
    )
    if group is None:
        raise ActionFailed(f"Invalid Auto Scaling policy ARN: {arn}")
    params: dict[str, Any] = {
        "AutoScalingGroupName": group,
        "PolicyName": arn,
        "HonorCooldown": True,
    }
    value = _last_value(change.alarm)
    if value is not None:
        params["MetricValue"] = value
    threshold = change.alarm.config.get("Threshold")
    if threshold is not None:
        params["BreachThreshold"] = float(threshold)
    env.providers.invoke("autoscaling", "ExecutePolicy", params, account, region)
    return {"policyArn": arn}


def _ec2_action(env: Environment, verb: str, region: str, change: Change) -> dict[str, Any]:
    alarm = change.alarm
    dims = {d["Name"]: d["Value"] for d in alarm.config.get("Dimensions") or ()}
    instance = dims.get("InstanceId")
    if instance is None:
        raise ActionFailed("EC2 actions need an alarm on a metric with an InstanceId dimension.")
    if verb == "recover":
        provider: Any = env.providers.get("ec2")
        provider.recover_instance(alarm.account, region, instance)
        return {"instanceId": instance, "action": verb}
    operation = {
        "stop": "StopInstances",
        "terminate": "TerminateInstances",
        "reboot": "RebootInstances",
    }.get(verb)
    if operation is None:
        raise ActionFailed(f"Unknown EC2 action {verb}.")
    env.providers.invoke("ec2", operation, {"InstanceIds": [instance]}, alarm.account, region)
    return {"instanceId": instance, "action": verb}


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
