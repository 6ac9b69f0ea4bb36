"""Reading metrics back: statistics per period for one metric, SEARCH over stored metrics, and
the evaluation of a list of GetMetricData queries (metric stats and math expressions)."""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nubes.runtime.alarms import mathexpr
from nubes.runtime.alarms.mathexpr import MathError, Series
from nubes.runtime.alarms.metricstore import Dims, Metric, MetricStore, canonical_dims
from nubes.runtime.alarms.stats import Aggregate, Sample, aggregate

MAX_SEARCH_RESULTS = 500


def align_start(start: float, period: int, now: float) -> float:
    """Where the first period starts, rounded down as AWS rounds StartTime for its age."""
    age = now - start
    granularity = period if period < 60 else 60
    if age > 63 * 86400:
        granularity = 3600
    elif age > 15 * 86400:
        granularity = 300
    return math.floor(start / granularity) * granularity


def grid(start: float, end: float, period: int) -> list[float]:
    out = []
    t = start
    while t < end:
        out.append(t)
        t += period
    return out


@dataclass(frozen=True)
class MetricRef:
    namespace: str
    name: str
    dims: Dims

    @classmethod
    def from_api(cls, metric: Mapping[str, Any]) -> MetricRef:
        dims = canonical_dims(
            (d["Name"], d["Value"]) for d in metric.get("Dimensions") or () if "Name" in d
        )
        return cls(metric.get("Namespace", ""), metric.get("MetricName", ""), dims)


class Reader:
    def __init__(self, metrics: MetricStore) -> None:
        self.metrics = metrics

    def buckets(
        self,
        account: str,
        region: str,
        ref: MetricRef,
        origin: float,
        end: float,
        period: int,
        unit: str | None = None,
    ) -> dict[float, Aggregate]:
        """The data of ``ref`` in [origin, end) aggregated per period starting at ``origin``."""
        metric_id = self.metrics.lookup(account, region, ref.namespace, ref.name, ref.dims)
        if metric_id is None:
            return {}
        return self.buckets_of(metric_id, origin, end, period, unit)

    def buckets_of(
        self, metric_id: int, origin: float, end: float, period: int, unit: str | None = None
    ) -> dict[float, Aggregate]:
        grouped: dict[float, list[Sample]] = {}
        for ts, sample in self.metrics.samples(metric_id, origin, end, unit):
            bucket = origin + math.floor((ts - origin) / period) * period
            grouped.setdefault(bucket, []).append(sample)
        out: dict[float, Aggregate] = {}
        for bucket, samples in grouped.items():
            found = aggregate(samples)
            if found is not None:
                out[bucket] = found
        return out

    def search(self, account: str, region: str, expression: str) -> list[Metric]:
        matcher = SearchExpression.parse(expression)
        found = [m for m in self.metrics.metrics(account, region) if matcher.matches(m)]
        return found[:MAX_SEARCH_RESULTS]


class SearchExpression:
    """``{Namespace,DimName,...} term Key=value "phrase" NOT term OR ...``."""

    _SCHEMA = re.compile(r"^\s*\{([^}]*)\}")

    def __init__(
        self, schema: list[str] | None, groups: list[list[tuple[bool, str | None, str, bool]]]
    ):
        self.schema = schema
        self.groups = groups
        """OR of ANDs of (negated, key, value, exact)."""

    @classmethod
    def parse(cls, text: str) -> SearchExpression:
        schema = None
        m = cls._SCHEMA.match(text)
        if m:
            schema = [p.strip().strip('"') for p in m.group(1).split(",")]
            text = text[m.end() :]
        try:
            words = shlex.split(text.replace("(", " ").replace(")", " "), posix=False)
        except ValueError as exc:
            raise MathError(f"Invalid SEARCH expression: {exc}") from None
        groups: list[list[tuple[bool, str | None, str, bool]]] = [[]]
        negate = False
        for word in words:
            if word == "OR":
                groups.append([])
                continue
            if word == "AND":
                continue
            if word == "NOT":
                negate = True
                continue
            key: str | None = None
            value = word
            if "=" in word and not word.startswith(('"', "'")):
                key, _, value = word.partition("=")
            exact = len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'"
            if exact:
                value = value[1:-1]
            groups[-1].append((negate, key, value, exact))
            negate = False
        return cls(schema, [g for g in groups if g] or [[]])

    def matches(self, metric: Metric) -> bool:
        if self.schema is not None:
            if not self.schema or metric.namespace != self.schema[0]:
                return False
            if sorted(self.schema[1:]) != sorted(k for k, _ in metric.dims):
                return False
        return any(all(self._term(metric, t) for t in group) for group in self.groups)

    @staticmethod
    def _term(metric: Metric, term: tuple[bool, str | None, str, bool]) -> bool:
        negate, key, value, exact = term

        def hit(candidate: str) -> bool:
            if exact:
                return candidate == value
            tokens = re.split(r"[^A-Za-z0-9]+", candidate.lower())
            wanted = [t for t in re.split(r"[^A-Za-z0-9]+", value.lower()) if t]
            return all(any(w in tok for tok in tokens) for w in wanted) if wanted else True

        if key is None:
            candidates = [metric.namespace, metric.name, *[p for d in metric.dims for p in d]]
        elif key == "MetricName":
            candidates = [metric.name]
        elif key == "Namespace":
            candidates = [metric.namespace]
        else:
            candidates = [v for k, v in metric.dims if k == key]
        found = any(hit(c) for c in candidates)
        return found != negate


# -- GetMetricData ------------------------------------------------------------------------------


@dataclass
class Outcome:
    id: str
    label: str
    points: list[tuple[float, float]]
    """(timestamp, value) in ascending time."""
    return_data: bool
    props: dict[str, str]
    status: str = "Complete"
    messages: list[dict[str, str]] | None = None


def run_queries(
    reader: Reader,
    account: str,
    region: str,
    queries: Sequence[Mapping[str, Any]],
    start: float,
    end: float,
    now: float,
) -> list[Outcome]:
    """Evaluate GetMetricData ``queries`` (already validated) over [start, end)."""
    by_id = {q["Id"]: q for q in queries}
    periods = [int(q.get("MetricStat", {}).get("Period") or q.get("Period") or 0) for q in queries]
    default_period = next((p for p in periods if p), 60)
    values: dict[str, mathexpr.Value] = {}
    evaluating: set[str] = set()

    def stat_series(q: Mapping[str, Any]) -> Series:
        stat = q["MetricStat"]
        period = int(stat["Period"])
        ref = MetricRef.from_api(stat["Metric"])
        origin = align_start(start, period, now)
        buckets = reader.buckets(account, region, ref, origin, end, period, stat.get("Unit"))
        points: dict[float, float] = {}
        for t, agg in sorted(buckets.items()):
            v = agg.statistic(stat["Stat"])
            if v is not None:
                points[t] = v
        props = {
            "MetricName": ref.name,
            "Namespace": ref.namespace,
            "Stat": stat["Stat"],
            "Period": str(period),
            **{f"Dim.{k}": v for k, v in ref.dims},
        }
        return Series(q["Id"], q.get("Label") or ref.name, points, props)

    def search(expression: str, stat: str, period: int) -> list[Series]:
        origin = align_start(start, period, now)
        out = []
        for metric in reader.search(account, region, expression):
            buckets = reader.buckets_of(metric.id, origin, end, period)
            points = {
                t: v for t, agg in sorted(buckets.items()) if (v := agg.statistic(stat)) is not None
            }
            label = " ".join([*(v for _, v in metric.dims), metric.name]).strip()
            props = {
                "MetricName": metric.name,
                "Namespace": metric.namespace,
                "Stat": stat,
                "Period": str(period),
                **{f"Dim.{k}": v for k, v in metric.dims},
            }
            out.append(Series(f"{metric.namespace}/{metric.name}", label, points, props))
        return out

    def metrics_except(me: str) -> Callable[[str], list[Series]]:
        """METRICS('pattern') of expression ``me``: the metric queries whose id has it."""

        def found(pattern: str) -> list[Series]:
            out = []
            for other in queries:
                if other["Id"] != me and "MetricStat" in other and pattern in other["Id"]:
                    s = value_of(other["Id"])
                    if isinstance(s, Series):
                        out.append(s)
            return out

        return found

    def value_of(qid: str) -> mathexpr.Value:
        if qid in values:
            return values[qid]
        q = by_id.get(qid)
        if q is None:
            raise MathError(f"Unrecognized identifier '{qid}'")
        if qid in evaluating:
            raise MathError(f"Circular dependency involving '{qid}'")
        evaluating.add(qid)
        try:
            if "MetricStat" in q:
                result: mathexpr.Value = stat_series(q)
            else:
                node = mathexpr.parse(q["Expression"])
                period = int(q.get("Period") or default_period)
                origin = align_start(start, period, now)
                ctx = mathexpr.Context(
                    grid=grid(origin, end, period),
                    period=period,
                    lookup=value_of,
                    metrics=metrics_except(qid),
                    search=search,
                    expression_id=qid,
                )
                result = mathexpr.evaluate(node, ctx)
        finally:
            evaluating.discard(qid)
        values[qid] = result
        return result

    outcomes: list[Outcome] = []
    for q in queries:
        qid = q["Id"]
        value = value_of(qid)
        return_data = q.get("ReturnData", True) is not False
        label = q.get("Label")
        if isinstance(value, list):
            for s in value:
                outcomes.append(_outcome(qid, label, s, return_data, len(value) > 1))
        elif isinstance(value, Series):
            default = value.label if "MetricStat" in q else qid
            outcomes.append(
                Outcome(
                    qid, label or default, sorted(value.points.items()), return_data, value.props
                )
            )
        else:
            # A scalar result has one value, reported at every period of the range.
            period = int(q.get("Period") or default_period)
            times = grid(align_start(start, period, now), end, period)
            points = [] if math.isnan(value) else [(t, float(value)) for t in times]
            outcomes.append(Outcome(qid, label or qid, points, return_data, {}))
    return outcomes


def _outcome(qid: str, label: str | None, s: Series, return_data: bool, many: bool) -> Outcome:
    name = s.label
    if label:
        name = f"{label} {s.label}" if many and "${" not in label else label
    return Outcome(qid, name, sorted(s.points.items()), return_data, s.props)
