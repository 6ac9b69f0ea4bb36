"""PutMetricData, GetMetricStatistics, GetMetricData and ListMetrics, with AWS's limits and
messages (parameter paths are written the way CloudWatch writes them, ``MetricData.member.1``)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.core.metrics import Datapoint
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.protocol.timestamps import to_datetime
from nubes.runtime.alarms import mathexpr, query
from nubes.runtime.alarms.mathexpr import MathError
from nubes.runtime.alarms.metricstore import MetricStore, Row, canonical_dims
from nubes.runtime.alarms.query import MetricRef, Outcome, Reader
from nubes.runtime.alarms.stats import STANDARD, parse_extended
from nubes.services.cloudwatch.errors import combination, errors, invalid, missing

MAX_METRICS_PER_PUT = 1000
MAX_VALUES = 150
VALUE_LIMIT = 2.0**360
PAST = 14 * 86400
FUTURE = 2 * 3600
MAX_STAT_DATAPOINTS = 1440
MAX_QUERIES = 500
DEFAULT_MAX_DATAPOINTS = 100_800
LIST_PAGE = 500
RECENTLY_ACTIVE = 3 * 3600
QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
TIMEZONE = re.compile(r"^([+-])(\d{2})(\d{2})$")
DYNAMIC = re.compile(r"\$\{([A-Z_]+)(?:\('([^']*)'\))?\}")
HIGH_RES_PERIODS = (1, 5, 10, 20, 30)


def timestamp(value: Any) -> float:
    return to_datetime(value).timestamp()


def check_period(period: int, name: str = "Period") -> None:
    if period not in HIGH_RES_PERIODS and period % 60:
        raise invalid(f"The parameter {name} must be 1, 5, 10, 20, 30, 60, or a multiple of 60.")


def dims_of(items: Iterable[Mapping[str, str]] | None) -> tuple[tuple[str, str], ...]:
    return canonical_dims((d["Name"], d["Value"]) for d in items or ())


class MetricOps:
    metric_store: MetricStore
    reader: Reader

    # -- the sink of the metrics hub ------------------------------------------------------------

    def store_datapoints(self, points: Iterable[Datapoint]) -> None:
        now = clock.now()
        grouped: dict[tuple[str, str, str], list[Row]] = {}
        for p in points:
            if p.samples:
                values = list(p.samples)
                count = sum(c for _, c in values)
                row = Row(
                    p.name,
                    canonical_dims(p.dimensions.items()),
                    p.timestamp if p.timestamp is not None else now,
                    p.unit,
                    p.resolution,
                    count,
                    math.fsum(v * c for v, c in values),
                    min(v for v, _ in values),
                    max(v for v, _ in values),
                    values,
                )
            else:
                row = Row(
                    p.name,
                    canonical_dims(p.dimensions.items()),
                    p.timestamp if p.timestamp is not None else now,
                    p.unit,
                    p.resolution,
                    1.0,
                    p.value,
                    p.value,
                    p.value,
                )
            grouped.setdefault((p.account_id, p.region, p.namespace), []).append(row)
        for (account, region, namespace), rows in grouped.items():
            self.metric_store.put(account, region, namespace, rows, now)

    # -- PutMetricData ----------------------------------------------------------------------------

    def put_metric_data(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        namespace = params.get("Namespace")
        if not namespace:
            raise missing("The parameter Namespace is required.")
        if namespace.startswith("AWS/"):
            raise invalid("The value AWS/ for parameter Namespace is invalid.")
        data = list(params.get("MetricData") or ())
        for entity in params.get("EntityMetricData") or ():
            data.extend(entity.get("MetricData") or ())
        if not data:
            raise missing("The parameter MetricData is required.")
        if len(data) > MAX_METRICS_PER_PUT:
            raise invalid(
                "The collection MetricData must not have a size greater than "
                f"{MAX_METRICS_PER_PUT}."
            )
        now = clock.now()
        rows = [self._datum_row(i, d, now) for i, d in enumerate(data, start=1)]
        self.metric_store.put(ctx.account_id, ctx.region, namespace, rows, now)
        return {}

    @staticmethod
    def _datum_row(i: int, d: Mapping[str, Any], now: float) -> Row:
        value = d.get("Value")
        if (
            value is not None
            and len(d) <= 4
            and "Timestamp" not in d
            and "StatisticValues" not in d
            and "Values" not in d
            and "StorageResolution" not in d
            and math.isfinite(value)
            and abs(value) <= VALUE_LIMIT
        ):
            # The common datum (name, value, dimensions, unit) without the general checks.
            dims = dims_of(d.get("Dimensions"))
            if len({k for k, _ in dims}) == len(dims):
                v = float(value)
                return Row(d["MetricName"], dims, now, d.get("Unit") or "None", 60, 1.0, v, v, v)
        return MetricOps._general_row(i, d, now)

    @staticmethod
    def _general_row(i: int, d: Mapping[str, Any], now: float) -> Row:
        where = f"MetricData.member.{i}"
        has_value = d.get("Value") is not None
        has_values = bool(d.get("Values"))
        has_stats = d.get("StatisticValues") is not None
        if has_value and has_stats:
            raise combination(
                f"The parameters {where}.Value and {where}.StatisticValues are mutually "
                "exclusive and you have specified both."
            )
        if has_values and (has_value or has_stats):
            other = "Value" if has_value else "StatisticValues"
            raise combination(
                f"The parameters {where}.{other} and {where}.Values are mutually exclusive and "
                "you have specified both."
            )
        if not (has_value or has_values or has_stats):
            raise missing(
                f"At least one of the parameters {where}.Value, {where}.StatisticValues or "
                f"{where}.Values must be specified."
            )
        ts = timestamp(d["Timestamp"]) if d.get("Timestamp") is not None else now
        if ts < now - PAST:
            raise invalid(
                f"The parameter {where}.Timestamp must specify a time within the past two weeks."
            )
        if ts > now + FUTURE:
            raise invalid(
                f"The parameter {where}.Timestamp must specify a time no more than two hours in "
                "the future."
            )
        resolution = d.get("StorageResolution")
        if resolution is None:
            resolution = 60
        if resolution not in (1, 60):
            raise invalid(
                f"The value {resolution} for parameter {where}.StorageResolution is invalid."
            )

        def checked(value: float, name: str) -> float:
            if not math.isfinite(value) or abs(value) > VALUE_LIMIT:
                raise invalid(f"The value {value} for parameter {where}.{name} is invalid.")
            return float(value)

        dims = dims_of(d.get("Dimensions"))
        if len({k for k, _ in dims}) != len(dims):
            raise invalid(f"No metric may have duplicate dimension names ({where}.Dimensions).")
        unit = d.get("Unit") or "None"
        name = d["MetricName"]
        if has_value:
            v = checked(d["Value"], "Value")
            return Row(name, dims, ts, unit, resolution, 1.0, v, v, v)
        if has_stats:
            s = d["StatisticValues"]
            count = checked(s["SampleCount"], "StatisticValues.SampleCount")
            total = checked(s["Sum"], "StatisticValues.Sum")
            low = checked(s["Minimum"], "StatisticValues.Minimum")
            high = checked(s["Maximum"], "StatisticValues.Maximum")
            if count <= 0:
                raise invalid(
                    f"The parameter {where}.StatisticValues.SampleCount must be greater than 0."
                )
            if low > high:
                raise invalid(
                    f"The parameter {where}.StatisticValues.Maximum must be greater than "
                    f"{where}.StatisticValues.Minimum."
                )
            return Row(name, dims, ts, unit, resolution, count, total, low, high)
        values = [checked(v, f"Values.member.{k}") for k, v in enumerate(d["Values"], 1)]
        if len(values) > MAX_VALUES:
            raise invalid(
                f"The collection {where}.Values must not have a size greater than {MAX_VALUES}."
            )
        counts = d.get("Counts")
        if counts:
            if len(counts) != len(values):
                raise invalid(
                    f"The parameters {where}.Values and {where}.Counts must be of the same size."
                )
            counts = [checked(c, f"Counts.member.{k}") for k, c in enumerate(counts, 1)]
            if any(c < 0 for c in counts):
                raise invalid(f"The parameter {where}.Counts must not contain negative values.")
        else:
            counts = [1.0] * len(values)
        merged: dict[float, float] = {}
        for v, c in zip(values, counts, strict=True):
            if c:
                merged[v] = merged.get(v, 0.0) + c
        pairs = sorted(merged.items())
        total_count = sum(c for _, c in pairs)
        if not total_count:
            raise invalid(f"The parameter {where}.Counts must count at least one value.")
        return Row(
            name,
            dims,
            ts,
            unit,
            resolution,
            total_count,
            math.fsum(v * c for v, c in pairs),
            pairs[0][0],
            pairs[-1][0],
            pairs,
        )

    # -- GetMetricStatistics ----------------------------------------------------------------------

    def get_metric_statistics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stats = params.get("Statistics") or []
        extended = params.get("ExtendedStatistics") or []
        if not stats and not extended:
            raise missing("Must specify either the Statistics or ExtendedStatistics parameter.")
        if stats and extended:
            raise combination(
                "The parameters Statistics and ExtendedStatistics are mutually exclusive and you "
                "have specified both."
            )
        for name in stats:
            if name not in STANDARD:
                raise invalid(f"The value {name} for parameter Statistics is not supported.")
        for name in extended:
            if parse_extended(name) is None:
                raise invalid(
                    f"The value {name} for parameter ExtendedStatistics is not supported."
                )
        start, end = timestamp(params["StartTime"]), timestamp(params["EndTime"])
        if start >= end:
            raise invalid("The parameter StartTime must be less than the parameter EndTime.")
        period = int(params["Period"])
        check_period(period)
        now = clock.now()
        origin = query.align_start(start, period, now)
        requested = math.ceil((end - origin) / period)
        if requested > MAX_STAT_DATAPOINTS:
            raise combination(
                f"You have requested up to {requested:,} datapoints, which exceeds the limit of "
                f"{MAX_STAT_DATAPOINTS:,}. You may reduce the datapoints requested by increasing "
                "Period, or decreasing the time range."
            )
        ref = MetricRef(
            params["Namespace"], params["MetricName"], dims_of(params.get("Dimensions"))
        )
        unit = params.get("Unit")
        buckets = self.reader.buckets(ctx.account_id, ctx.region, ref, origin, end, period, unit)
        if unit is None and buckets:
            metric_id = self.metric_store.lookup(
                ctx.account_id, ctx.region, ref.namespace, ref.name, ref.dims
            )
            units = self.metric_store.units(metric_id, origin, end) if metric_id else []
            unit = units[0] if len(units) == 1 else "None"
        points = []
        for t, agg in sorted(buckets.items()):
            point: dict[str, Any] = {"Timestamp": datetime.fromtimestamp(t, UTC)}
            for name in stats:
                point[name] = agg.standard(name)
            if extended:
                point["ExtendedStatistics"] = {
                    name: v for name in extended if (v := agg.statistic(name)) is not None
                }
            point["Unit"] = unit or "None"
            points.append(point)
        return {"Label": ref.name, "Datapoints": points}

    # -- GetMetricData ----------------------------------------------------------------------------

    def get_metric_data(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queries = params.get("MetricDataQueries") or []
        validate_queries(queries, "MetricDataQueries")
        start, end = timestamp(params["StartTime"]), timestamp(params["EndTime"])
        if start >= end:
            raise invalid("The parameter StartTime must be less than the parameter EndTime.")
        limit = params.get("MaxDatapoints") or DEFAULT_MAX_DATAPOINTS
        if limit < 1:
            raise invalid("The parameter MaxDatapoints must be greater than 0.")
        offset = 0
        if params.get("NextToken"):
            try:
                offset = int(decode_token(params["NextToken"])["o"])
            except (InvalidToken, KeyError, TypeError, ValueError):
                raise errors.InvalidNextToken("The service couldn't process the token.") from None
        tz = (params.get("LabelOptions") or {}).get("Timezone")
        zone = label_zone(tz)
        try:
            outcomes = query.run_queries(
                self.reader, ctx.account_id, ctx.region, queries, start, end, clock.now()
            )
        except MathError as exc:
            raise errors.ValidationError(f"Error in expression: {exc}") from None
        descending = (params.get("ScanBy") or "TimestampDescending") == "TimestampDescending"
        results = []
        seen = 0
        more = False
        for outcome in outcomes:
            if not outcome.return_data:
                continue
            points = outcome.points[::-1] if descending else outcome.points
            skip = min(max(offset - seen, 0), len(points))
            room = max(offset + limit - seen - skip, 0)
            page = points[skip : skip + room]
            seen += len(points)
            partial = skip + len(page) < len(points)
            more = more or partial
            results.append(
                {
                    "Id": outcome.id,
                    "Label": render_label(outcome, zone),
                    "Timestamps": [t for t, _ in page],
                    "Values": [v for _, v in page],
                    "StatusCode": "PartialData" if partial else "Complete",
                }
            )
        out: dict[str, Any] = {"MetricDataResults": results, "Messages": []}
        if more:
            out["NextToken"] = encode_token({"o": offset + limit})
        return out

    # -- ListMetrics ------------------------------------------------------------------------------

    def list_metrics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        recently = params.get("RecentlyActive")
        if recently is not None and recently != "PT3H":
            raise invalid(f"The value {recently} for parameter RecentlyActive is invalid.")
        filters = params.get("Dimensions") or []
        # Metrics without new data for two weeks drop out of the listing, as on AWS.
        active_since = clock.now() - (RECENTLY_ACTIVE if recently else PAST)
        found = self.metric_store.metrics(
            ctx.account_id,
            ctx.region,
            params.get("Namespace"),
            params.get("MetricName"),
            active_since,
        )
        if filters:
            found = [
                m
                for m in found
                if all(
                    any(k == f["Name"] and ("Value" not in f or f["Value"] == v) for k, v in m.dims)
                    for f in filters
                )
            ]
        start = 0
        if params.get("NextToken"):
            try:
                start = int(decode_token(params["NextToken"])["o"])
            except (InvalidToken, KeyError, TypeError, ValueError):
                raise errors.InvalidNextToken("The service couldn't process the token.") from None
        page = found[start : start + LIST_PAGE]
        out: dict[str, Any] = {
            "Metrics": [
                {"Namespace": m.namespace, "MetricName": m.name, "Dimensions": m.dimensions()}
                for m in page
            ]
        }
        if start + LIST_PAGE < len(found):
            out["NextToken"] = encode_token({"o": start + LIST_PAGE})
        return out


def validate_queries(queries: list[dict[str, Any]], where: str, alarm: bool = False) -> None:
    """Ids, one of MetricStat/Expression each, statistics, periods and expression syntax."""
    if not queries:
        raise missing(f"The parameter {where} is required.")
    if len(queries) > MAX_QUERIES:
        raise invalid(f"The collection {where} must not have a size greater than {MAX_QUERIES}.")
    ids = [q.get("Id") for q in queries]
    if len(set(ids)) != len(ids):
        raise invalid(f"The values for parameter id in {where} are not unique.")
    for i, q in enumerate(queries, 1):
        path = f"{where}.member.{i}"
        qid = q.get("Id") or ""
        if not QUERY_ID.match(qid):
            raise invalid(
                f"The value {qid} for parameter {path}.Id is invalid. It must start with a "
                "lowercase letter and contain only letters, numbers and underscores."
            )
        has_stat, has_expr = "MetricStat" in q, "Expression" in q
        if has_stat == has_expr:
            raise invalid(
                f"Exactly one element of the {path}.MetricStat and the {path}.Expression fields "
                "must be set."
            )
        if has_stat:
            stat = q["MetricStat"]
            if stat.get("Stat") not in STANDARD and parse_extended(stat.get("Stat", "")) is None:
                raise invalid(
                    f"The value {stat.get('Stat')} for parameter {path}.MetricStat.Stat is invalid."
                )
            check_period(int(stat.get("Period", 0)), f"{path}.MetricStat.Period")
        else:
            try:
                mathexpr.parse(q["Expression"])
            except MathError as exc:
                raise errors.ValidationError(f"Error in expression {qid}: {exc}") from None
            if q.get("Period") is not None:
                check_period(int(q["Period"]), f"{path}.Period")
    if alarm:
        returned = [q for q in queries if q.get("ReturnData", True) is not False]
        if len(returned) != 1:
            raise invalid(
                "Exactly one element of the Metrics list must have ReturnData set to true."
            )


def label_zone(tz: str | None) -> timezone:
    if not tz:
        return UTC
    m = TIMEZONE.match(tz)
    if m is None or int(m.group(2)) > 23 or int(m.group(3)) > 59:
        raise invalid(f"The value {tz} for parameter LabelOptions.Timezone is invalid.")
    sign = -1 if m.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))


def render_label(outcome: Outcome, zone: timezone) -> str:
    """Expand dynamic labels (``${AVG}``, ``${PROP('Dim.Name')}``, ``${LAST_TIME}``...)."""
    label = outcome.label
    if "${" not in label:
        return label
    values = [v for _, v in outcome.points]
    times = [t for t, _ in outcome.points]

    def when(ts: float | None) -> str:
        if ts is None:
            return ""
        return datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%dT%H:%M:%S%z")

    def expand(m: re.Match[str]) -> str:
        name, arg = m.group(1), m.group(2)
        if name == "PROP" and arg is not None:
            return outcome.props.get(arg, "")
        if name == "LABEL":
            return outcome.label.split("${", 1)[0].strip() or outcome.id
        if not values:
            return ""
        simple: dict[str, Any] = {
            "AVG": lambda: math.fsum(values) / len(values),
            "MAX": lambda: max(values),
            "MIN": lambda: min(values),
            "SUM": lambda: math.fsum(values),
            "FIRST": lambda: values[0],
            "LAST": lambda: values[-1],
            "DATAPOINT_COUNT": lambda: len(values),
        }
        if name in simple:
            v = simple[name]()
            return f"{v:g}" if isinstance(v, float) else str(v)
        if name in ("FIRST_TIME", "LAST_TIME"):
            return when(times[0] if name == "FIRST_TIME" else times[-1])
        if name in ("MIN_TIME", "MAX_TIME"):
            pick = min if name == "MIN_TIME" else max
            return when(pick(outcome.points, key=lambda p: p[1])[0])
        return m.group(0)

    return DYNAMIC.sub(expand, label)
