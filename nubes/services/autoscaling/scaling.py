"""The scaling policy engine Auto Scaling and Application Auto Scaling share: what capacity a
simple, step or target tracking policy asks for, given the current capacity and the alarm's
breach, and the CloudWatch alarms a target tracking policy manages."""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Sequence
from typing import Any

ADJUSTMENT_TYPES = ("ChangeInCapacity", "ExactCapacity", "PercentChangeInCapacity")
SCALE_IN_MARGIN = 0.9
"""AlarmLow's threshold: scale in only once the metric is 10% under the target."""
HIGH_POINTS = 3
LOW_POINTS = 15


class PolicyError(ValueError):
    """A policy's definition or an execution's input AWS rejects (message as AWS words it)."""


def adjusted(
    current: int,
    adjustment_type: str,
    adjustment: float,
    min_magnitude: int | None = None,
) -> int:
    """The capacity an adjustment asks for (before the group's min/max apply)."""
    if adjustment_type == "ExactCapacity":
        return int(adjustment)
    if adjustment_type == "ChangeInCapacity":
        return current + int(adjustment)
    change = current * adjustment / 100.0
    # AWS rounds a percentage toward zero when it is above 1 in size, away from zero below.
    step = int(change) if abs(change) >= 1 else (1 if change > 0 else -1 if change < 0 else 0)
    if min_magnitude and abs(step) < min_magnitude:
        step = min_magnitude if step > 0 else -min_magnitude
    return current + step


def step_for(
    steps: Sequence[dict[str, Any]], metric_value: float, breach_threshold: float
) -> dict[str, Any]:
    """The step adjustment whose interval (relative to the breach threshold) holds the value."""
    diff = metric_value - breach_threshold
    for step in steps:
        low = step.get("MetricIntervalLowerBound")
        high = step.get("MetricIntervalUpperBound")
        above = low is None or diff >= float(low)
        below = high is None or diff < float(high)
        if diff < 0:
            # Below the threshold the lower bound is exclusive and the upper inclusive.
            above = low is None or diff > float(low)
            below = high is None or diff <= float(high)
        if above and below:
            return step
    raise PolicyError(
        f"The metric value {metric_value} does not fall in any step of the policy "
        f"(breach threshold {breach_threshold})."
    )


def check_steps(steps: Sequence[dict[str, Any]]) -> None:
    """AWS's rules for step intervals: no overlap, no gap, at most one unbounded each way."""
    if not steps:
        raise PolicyError("StepAdjustments must be specified for a step scaling policy.")
    lows = [s.get("MetricIntervalLowerBound") for s in steps]
    highs = [s.get("MetricIntervalUpperBound") for s in steps]
    if lows.count(None) > 1:
        raise PolicyError("There must be at most one step adjustment with a null lower bound.")
    if highs.count(None) > 1:
        raise PolicyError("There must be at most one step adjustment with a null upper bound.")
    ordered = sorted(
        steps,
        key=lambda s: (
            -math.inf
            if s.get("MetricIntervalLowerBound") is None
            else float(s["MetricIntervalLowerBound"])
        ),
    )
    for step in ordered:
        low, high = step.get("MetricIntervalLowerBound"), step.get("MetricIntervalUpperBound")
        if low is not None and high is not None and float(low) >= float(high):
            raise PolicyError(
                "The upper bound of a step adjustment must be greater than its lower bound."
            )
    for a, b in itertools.pairwise(ordered):
        if a.get("MetricIntervalUpperBound") is None or float(
            a["MetricIntervalUpperBound"]
        ) != float(b["MetricIntervalLowerBound"]):
            raise PolicyError("Step adjustments must not overlap and must not have gaps.")


def target_capacity(current: int, value: float, target: float) -> int:
    """The capacity that brings the average back to the target, in proportion."""
    if current <= 0:
        return 1 if value > target else 0
    return math.ceil(round(current * value / target, 6))


def tracking_alarms(
    name_prefix: str,
    metric: dict[str, Any],
    target: float,
    action_arn: str,
    scale_in: bool,
    description: str,
) -> list[dict[str, Any]]:
    """PutMetricAlarm requests for a target tracking policy's AlarmHigh (and AlarmLow unless
    scale-in is disabled); ``metric`` holds either MetricName/Namespace/Dimensions/Statistic
    or Metrics (metric math)."""
    made = []
    for kind, threshold, points, operator in (
        ("AlarmHigh", target, HIGH_POINTS, "GreaterThanThreshold"),
        ("AlarmLow", target * SCALE_IN_MARGIN, LOW_POINTS, "LessThanThreshold"),
    ):
        if kind == "AlarmLow" and not scale_in:
            continue
        alarm: dict[str, Any] = {
            "AlarmName": f"{name_prefix}-{kind}-{uuid.uuid4()}",
            "AlarmDescription": f"DO NOT EDIT OR DELETE. {description}",
            "ActionsEnabled": True,
            "AlarmActions": [action_arn],
            "EvaluationPeriods": points,
            "DatapointsToAlarm": points,
            "Threshold": threshold,
            "ComparisonOperator": operator,
        }
        if metric.get("Metrics"):
            alarm["Metrics"] = metric["Metrics"]
        else:
            alarm.update(
                {
                    "MetricName": metric["MetricName"],
                    "Namespace": metric["Namespace"],
                    "Dimensions": metric.get("Dimensions") or [],
                    "Statistic": metric.get("Statistic") or "Average",
                    "Period": int(metric.get("Period") or 60),
                }
            )
            if metric.get("Unit"):
                alarm["Unit"] = metric["Unit"]
        made.append(alarm)
    return made
