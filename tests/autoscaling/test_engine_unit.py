"""The pure parts: adjustments and steps, target tracking's proportion and alarms, termination
policies, scheduled actions' recurrences."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from nubes.services.autoscaling import scaling, termination
from nubes.services.autoscaling.schedule import next_run, to_aws_cron

STEPS = [
    {"MetricIntervalUpperBound": 0, "ScalingAdjustment": -1},
    {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 10, "ScalingAdjustment": 1},
    {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 3},
]


def test_adjustments() -> None:
    assert scaling.adjusted(4, "ChangeInCapacity", -2) == 2
    assert scaling.adjusted(4, "ExactCapacity", 7) == 7
    assert scaling.adjusted(10, "PercentChangeInCapacity", 25) == 12  # 2.5 rounds toward 0
    assert scaling.adjusted(2, "PercentChangeInCapacity", 10) == 3  # 0.2 rounds away from 0
    assert scaling.adjusted(10, "PercentChangeInCapacity", 10, min_magnitude=3) == 13


def test_steps_pick_the_interval_relative_to_the_threshold() -> None:
    scaling.check_steps(STEPS)
    assert scaling.step_for(STEPS, 55, 50)["ScalingAdjustment"] == 1
    assert scaling.step_for(STEPS, 60, 50)["ScalingAdjustment"] == 3
    assert scaling.step_for(STEPS, 50, 50)["ScalingAdjustment"] == 1
    assert scaling.step_for(STEPS, 40, 50)["ScalingAdjustment"] == -1
    with pytest.raises(scaling.PolicyError):
        scaling.check_steps([STEPS[1], {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 1}])
    with pytest.raises(scaling.PolicyError):
        scaling.check_steps([{"ScalingAdjustment": 1}, {"ScalingAdjustment": 2}])


def test_target_tracking_proportion_and_alarms() -> None:
    assert scaling.target_capacity(2, 90, 50) == 4
    assert scaling.target_capacity(4, 20, 50) == 2
    assert scaling.target_capacity(3, 50, 50) == 3
    metric = {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization", "Statistic": "Average"}
    high, low = scaling.tracking_alarms("TargetTracking-g", metric, 60, "arn:p", True, "d")
    assert high["AlarmName"].startswith("TargetTracking-g-AlarmHigh-")
    assert (high["Threshold"], high["EvaluationPeriods"], high["ComparisonOperator"]) == (
        60,
        3,
        "GreaterThanThreshold",
    )
    assert (low["Threshold"], low["DatapointsToAlarm"], low["ComparisonOperator"]) == (
        54,
        15,
        "LessThanThreshold",
    )
    assert len(scaling.tracking_alarms("T", metric, 60, "arn:p", False, "d")) == 1


def cand(
    i: str,
    zone: str,
    launched: float,
    config: str = "lt:2",
    version: int = 2,
    current: bool = True,
) -> termination.Candidate:
    return termination.Candidate(i, zone, launched, config, version, current)


def pick(pool: list[termination.Candidate], policy: str, zones: Counter[str] | None = None) -> str:
    found = termination.choose(pool, [policy], NOW, zones, random.Random(1))
    assert found is not None
    return found.instance_id


NOW = 10_000.0


def test_termination_balances_zones_first_then_the_policies() -> None:
    pool = [
        cand("i-1", "a", 100),
        cand("i-2", "a", 200),
        cand("i-3", "a", 300),
        cand("i-4", "b", 50),
        cand("i-5", "b", 400),
    ]
    assert pick(pool, "OldestInstance") == "i-1"
    assert pick(pool, "NewestInstance") == "i-3"
    # A protected instance still counts for the zone it stands in.
    assert pick(pool[:2] + pool[3:4], "OldestInstance", Counter({"a": 2, "b": 3})) == "i-4"
    stale = [cand("i-1", "a", 100), cand("i-2", "a", 100, "lt:1", 1, current=False)]
    assert pick(stale, "Default") == "i-2"
    assert pick(stale, "OldestLaunchTemplate") == "i-2"
    near = [cand("i-1", "a", NOW - 3500), cand("i-2", "a", NOW - 100)]
    assert pick(near, "ClosestToNextInstanceHour") == "i-1"
    assert termination.choose([], ["Default"], NOW) is None


def epoch(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def test_recurrences_are_unix_cron_in_their_time_zone() -> None:
    assert to_aws_cron("0 9 * * 1-5") == "0 9 ? * 2-6 *"
    assert to_aws_cron("30 2 1 * *") == "30 2 1 * ? *"
    now = epoch(2026, 12, 7, 12, 0)  # a Monday
    action = {"Recurrence": "0 9 * * 1-5", "TimeZone": "Europe/Paris"}
    assert next_run(action, now) == epoch(2026, 12, 8, 8, 0)
    assert next_run({"Recurrence": "0 9 * * *", "EndTime": now + 60}, now) is None
    assert next_run({"StartTime": now + 30}, now) == now + 30
    with pytest.raises(ValueError):
        next_run({"Recurrence": "every day"}, now)
