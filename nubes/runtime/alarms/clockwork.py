"""Alarm evaluation on the one clock.

Every ``STEP`` seconds of clock time (and when the clock is advanced) the CloudWatch provider
calls :meth:`Clockwork.catch_up` with the last boundary it evaluated. For each minute boundary
passed, the metrics hub's recorded values are flushed and its collectors sampled; then every
metric alarm is evaluated at each boundary it would have been evaluated at (each minute, or each
period for high-resolution periods under a minute), in time order, so a jump of the clock gives
the transitions the elapsed time would have given.

A jump can be long (days), so evaluation skips boundaries whose evaluation range holds the same
(empty) data as the previous one's: the result would be the same, and evaluating again changes
nothing. Gauges are sampled once per jump and repeated over the last boundaries that any alarm's
range can see, since nothing they count changes while the clock jumps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from nubes.core.metrics import Datapoint, Metrics
from nubes.runtime.alarms import query
from nubes.runtime.alarms.evaluate import BAND_OPERATORS, Decision, Point, decide
from nubes.runtime.alarms.mathexpr import MathError
from nubes.runtime.alarms.query import MetricRef, Reader

STEP = 10
"""The shortest alarm period; boundaries are multiples of it."""
MAX_LOOKBACK = 86400


class AlarmView(Protocol):
    account: str
    region: str
    name: str
    kind: str
    config: dict[str, Any]
    state: str


@dataclass
class Transition:
    boundary: float
    alarm: AlarmView
    decision: Decision


def step_of(config: Mapping[str, Any]) -> int:
    period = alarm_period(config)
    return period if period < 60 else 60


def alarm_period(config: Mapping[str, Any]) -> int:
    if config.get("Period"):
        return int(config["Period"])
    for q in config.get("Metrics") or ():
        if q.get("ReturnData", True) is not False or q["Id"] == config.get("ThresholdMetricId"):
            period = q.get("MetricStat", {}).get("Period") or q.get("Period")
            if period:
                return int(period)
    periods = [
        int(q["MetricStat"]["Period"]) for q in config.get("Metrics") or () if "MetricStat" in q
    ]
    return min(periods, default=60)


def lookback(config: Mapping[str, Any]) -> int:
    return alarm_period(config) * int(config.get("EvaluationPeriods") or 1)


class Clockwork:
    def __init__(self, reader: Reader, hub: Metrics, store: Callable[[list[Datapoint]], None]):
        self.reader = reader
        self.hub = hub
        self.store = store

    def catch_up(
        self, last: float, now: float, alarms: Sequence[AlarmView]
    ) -> tuple[float, list[Transition]]:
        """Evaluate every boundary in (last, now]; returns the last boundary reached and the
        state transitions in time order."""
        target = math.floor(now / STEP) * STEP
        if target <= last:
            return last, []
        self._metrics(last, target, alarms)
        transitions: list[Transition] = []
        for alarm in alarms:
            if alarm.kind == "MetricAlarm":
                transitions.extend(self._evaluate(alarm, last, target))
        transitions.sort(key=lambda t: t.boundary)
        return target, transitions

    def _metrics(self, last: float, target: float, alarms: Sequence[AlarmView]) -> None:
        first_minute = (math.floor(last / 60) + 1) * 60
        last_minute = math.floor(target / 60) * 60
        if last_minute < first_minute:
            return
        points = self.hub.flush(last_minute + 1)
        sampled = self.hub.collect(last_minute)
        minutes = int((last_minute - first_minute) // 60) + 1
        window = max((lookback(a.config) for a in alarms), default=60)
        repeat = max(1, min(minutes, math.ceil(min(window, MAX_LOOKBACK) / 60) + 1))
        watched = _watched(alarms)
        for point in sampled:
            seen = watched is None or (point.namespace, point.name) in watched
            if point.timestamp == last_minute - 60 and seen and repeat > 1:
                points.extend(
                    replace(point, timestamp=last_minute - 60 * (k + 1)) for k in range(repeat)
                )
            else:
                points.append(point)
        if points:
            self.store(points)

    def _evaluate(self, alarm: AlarmView, last: float, target: float) -> list[Transition]:
        config = alarm.config
        if config.get("EvaluationState") == "EVALUATION_ERROR":
            return []
        period = alarm_period(config)
        step = step_of(config)
        n = int(config.get("EvaluationPeriods") or 1)
        span = n * period
        first = (math.floor(last / step) + 1) * step
        final = math.floor(target / step) * step
        if final < first:
            return []
        origin = math.floor((first - span - period) / period) * period
        try:
            series = self.series(alarm, origin, final)
        except (MathError, KeyError, ValueError):
            return []
        candidates = {first, final}
        for t in series:
            b = math.ceil((t + period) / step) * step
            while b <= t + span + period:
                if first <= b <= final:
                    candidates.add(b)
                b += step
        state = alarm.state
        out: list[Transition] = []
        for b in sorted(candidates):
            end = math.floor(b / period) * period
            window = [
                series.get(end - span + k * period) or Point(end - span + k * period, None)
                for k in range(n)
            ]
            decision = decide(config, window, state, b)
            if decision is not None and decision.state != state:
                out.append(Transition(b, alarm, decision))
                state = decision.state
        return out

    def series(self, alarm: AlarmView, start: float, end: float) -> dict[float, Point]:
        """The alarm's datapoints per period start in [start, end)."""
        config = alarm.config
        if config.get("MetricName"):
            period = int(config["Period"])
            ref = MetricRef.from_api(config)
            buckets = self.reader.buckets(
                alarm.account, alarm.region, ref, start, end, period, config.get("Unit")
            )
            stat = config.get("ExtendedStatistic") or config.get("Statistic") or "Average"
            out: dict[float, Point] = {}
            for t, agg in buckets.items():
                value = agg.statistic(stat)
                if value is not None:
                    out[t] = Point(t, value, agg.count)
            return out
        queries = config.get("Metrics") or []
        outcomes = query.run_queries(
            self.reader, alarm.account, alarm.region, queries, start, end, end
        )
        threshold_id = config.get("ThresholdMetricId")
        main = next((o for o in outcomes if o.return_data and o.id != threshold_id), None)
        if main is None:
            return {}
        band: dict[float, Any] = {}
        if threshold_id:
            bounds = [o for o in outcomes if o.id == threshold_id]
            if config["ComparisonOperator"] in BAND_OPERATORS and len(bounds) >= 2:
                low, high = dict(bounds[0].points), dict(bounds[1].points)
                band = {t: (low[t], high[t]) for t in low if t in high}
            elif bounds:
                single = dict(bounds[0].points)
                band = {
                    t: (v, v) if config["ComparisonOperator"] in BAND_OPERATORS else v
                    for t, v in single.items()
                }
        return {
            t: Point(t, v, 0.0, band.get(t))
            for t, v in main.points
            if not threshold_id or t in band
        }


def _watched(alarms: Sequence[AlarmView]) -> set[tuple[str, str]] | None:
    """(namespace, metric name) of what alarms read; None when a SEARCH may read anything.
    Only those gauges are repeated over the minutes of a jump; others are stored once."""
    found: set[tuple[str, str]] = set()
    for alarm in alarms:
        config = alarm.config
        if config.get("MetricName"):
            found.add((config.get("Namespace", ""), config["MetricName"]))
        for q in config.get("Metrics") or ():
            if "MetricStat" in q:
                metric = q["MetricStat"]["Metric"]
                found.add((metric.get("Namespace", ""), metric.get("MetricName", "")))
            elif "SEARCH" in q.get("Expression", "").upper():
                return None
    return found
