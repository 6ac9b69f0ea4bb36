"""Deciding a metric alarm's state from the datapoints of its evaluation range.

Each evaluation looks at the alarm's last ``EvaluationPeriods`` periods (aligned to the epoch,
the last one ending at or before the evaluation time). A datapoint breaches when it compares to
the threshold as the alarm's operator says; ``DatapointsToAlarm`` breaching datapoints (M of N)
put the alarm in ALARM. Missing datapoints count as ``TreatMissingData`` says:
``breaching``/``notBreaching`` fill them in; ``missing`` and ``ignore`` evaluate the datapoints
that exist, and when fewer than M exist and all of them breach, ``missing`` goes to ALARM while
``ignore`` keeps the current state; with none at all ``missing`` goes to INSUFFICIENT_DATA and
``ignore`` keeps the state. Alarms on ``AWS/DynamoDB`` metrics always ignore missing data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nubes.runtime.alarms.stats import parse_extended

OPERATORS = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
    "LessThanLowerOrGreaterThanUpperThreshold": (
        "outside the band",
        lambda v, t: v < t[0] or v > t[1],
    ),
    "LessThanLowerThreshold": ("less than the lower thresholds", lambda v, t: v < t[0]),
    "GreaterThanUpperThreshold": ("greater than the upper thresholds", lambda v, t: v > t[1]),
}
BAND_OPERATORS = {
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
}


@dataclass(frozen=True, slots=True)
class Point:
    timestamp: float
    value: float | None
    """None when the period has no data."""
    sample_count: float = 0.0
    threshold: Any = None
    """The threshold at this period when it comes from a ThresholdMetricId (a band)."""


@dataclass
class Decision:
    state: str
    reason: str
    reason_data: dict[str, Any] = field(default_factory=dict)


def aws_time(ts: float) -> str:
    """``2026-12-07T16:40:00.000+0000``, as alarm JSON writes times."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def _short_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d/%m/%y %H:%M:%S")


def _num(v: float) -> str:
    return repr(float(v)) if math.isfinite(v) else str(v)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def decide(
    alarm: Mapping[str, Any], window: Sequence[Point], current: str, evaluated_at: float
) -> Decision | None:
    """The alarm's state after evaluating ``window`` (oldest first), or None to keep it."""
    n = len(window)
    m = int(alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"])
    op_name = alarm["ComparisonOperator"]
    phrase, compare = OPERATORS[op_name]
    threshold = alarm.get("Threshold")
    treat = alarm.get("TreatMissingData") or "missing"
    if alarm.get("Namespace") == "AWS/DynamoDB":
        treat = "ignore"
    stat = alarm.get("ExtendedStatistic")
    if stat and alarm.get("EvaluateLowSampleCountPercentile") == "ignore":
        ext = parse_extended(stat)
        if ext is not None and ext.kind == "p" and ext.high is not None and ext.high < 100:
            needed = 10 / (1 - ext.high / 100)
            if any(p.value is not None and p.sample_count < needed for p in window):
                return None
    existing = [p for p in window if p.value is not None]
    breaching = [
        p
        for p in existing
        if compare(p.value, p.threshold if p.threshold is not None else threshold)
    ]
    missing = n - len(existing)
    b = len(breaching)
    if treat == "breaching":
        b += missing
    data = _reason_data(alarm, window, evaluated_at, threshold)
    if treat in ("missing", "ignore"):
        if not existing:
            if treat == "ignore":
                return None
            return Decision(
                "INSUFFICIENT_DATA",
                f"Insufficient Data: {_plural(n, 'datapoint')} "
                f"{'was' if n == 1 else 'were'} unknown.",
                data,
            )
        if b < m and len(existing) < m and b == len(existing):
            if treat == "ignore":
                return None
            return _threshold_decision("ALARM", breaching, n, m, phrase, threshold, data, 0, "")
        if b >= m:
            return _threshold_decision("ALARM", breaching, n, m, phrase, threshold, data, 0, "")
        fine = [p for p in existing if p not in breaching]
        return _threshold_decision("OK", fine, n, m, phrase, threshold, data, 0, "")
    label = "Breaching" if treat == "breaching" else "NonBreaching"
    if b >= m:
        return _threshold_decision(
            "ALARM",
            breaching,
            n,
            m,
            phrase,
            threshold,
            data,
            missing if treat == "breaching" else 0,
            label,
        )
    fine = [p for p in existing if p not in breaching]
    return _threshold_decision(
        "OK", fine, n, m, phrase, threshold, data, missing if treat == "notBreaching" else 0, label
    )


def _threshold_decision(
    state: str,
    shown: Sequence[Point],
    n: int,
    m: int,
    phrase: str,
    threshold: Any,
    data: dict[str, Any],
    filled: int,
    label: str,
) -> Decision:
    if not shown and filled:
        reason = (
            f"Threshold Crossed: no datapoints were received for {_plural(filled, 'period')} and "
            f"{_plural(filled, 'missing datapoint')} {'was' if filled == 1 else 'were'} "
            f"treated as [{label}]."
        )
        return Decision(state, reason, data)
    recent = sorted(shown, key=lambda p: -p.timestamp)
    listed = ", ".join(f"{_num(p.value)} ({_short_time(p.timestamp)})" for p in recent)  # type: ignore[arg-type]
    count = len(shown)
    verb = "was" if count == 1 else "were"
    negation = "" if state == "ALARM" else "not "
    bound = threshold if threshold is not None else "the threshold band"
    transition = "OK -> ALARM" if state == "ALARM" else "ALARM -> OK"
    shown_bound = _num(bound) if isinstance(bound, float | int) else bound
    minimum = _plural(m if state == "ALARM" else 1, "datapoint")
    reason = (
        f"Threshold Crossed: {count} out of the last {n} datapoints [{listed}] {verb} "
        f"{negation}{phrase} the threshold ({shown_bound}) "
        f"(minimum {minimum} for {transition} transition)."
    )
    if filled:
        reason = reason[:-1] + (
            f" and {_plural(filled, 'missing datapoint')} {'was' if filled == 1 else 'were'} "
            f"treated as [{label}]."
        )
    return Decision(state, reason, data)


def _reason_data(
    alarm: Mapping[str, Any], window: Sequence[Point], evaluated_at: float, threshold: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {"version": "1.0", "queryDate": aws_time(evaluated_at)}
    if window:
        data["startDate"] = aws_time(window[0].timestamp)
    if alarm.get("Unit"):
        data["unit"] = alarm["Unit"]
    if alarm.get("ExtendedStatistic"):
        data["statistic"] = alarm["ExtendedStatistic"]
    elif alarm.get("Statistic"):
        data["statistic"] = alarm["Statistic"]
    if alarm.get("Period"):
        data["period"] = alarm["Period"]
    data["recentDatapoints"] = [p.value for p in window if p.value is not None]
    if threshold is not None:
        data["threshold"] = float(threshold)
    data["evaluatedDatapoints"] = [
        {
            "timestamp": aws_time(p.timestamp),
            **({"sampleCount": float(p.sample_count)} if p.sample_count else {}),
            **({"value": p.value} if p.value is not None else {}),
        }
        for p in sorted(window, key=lambda p: -p.timestamp)
    ]
    return data


def reason_data_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))
