"""Metric storage: one row per metric identity, one row per stored datum, indexed by metric and
time so a query reads only its metric's time range however many metrics there are.

Retention follows AWS's tiers: data below one minute is kept at its resolution for 3 hours,
one-minute data for 15 days, five-minute data for 63 days and hourly data for 455 days; older
rows are rolled up into the next tier (counts, sums, extremes and raw values merge) or dropped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nubes.runtime.alarms.stats import Sample, raw_values
from nubes.store import Store

SCHEMA = """
CREATE TABLE cw_metrics (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    dims TEXT NOT NULL,
    last_put REAL NOT NULL,
    UNIQUE (account, region, namespace, name, dims)
);
CREATE TABLE cw_data (
    metric_id INTEGER NOT NULL,
    ts REAL NOT NULL,
    unit TEXT NOT NULL,
    res INTEGER NOT NULL,
    n REAL NOT NULL,
    total REAL NOT NULL,
    lo REAL NOT NULL,
    hi REAL NOT NULL,
    vals TEXT
);
CREATE INDEX cw_data_by_metric ON cw_data (metric_id, ts);
CREATE INDEX cw_data_by_age ON cw_data (res, ts);
"""
WITHOUT_AGE_INDEX = """
DROP INDEX cw_data_by_age;
"""
"""Roll-ups go metric by metric through cw_data_by_metric; a second index only slowed writes."""

# (granularity of rows older than the age, age in seconds)
TIERS = ((60, 3 * 3600), (300, 15 * 86400), (3600, 63 * 86400))
MAX_AGE = 455 * 86400
RECENT_WRITE = 60.0
"""How stale the recorded time of a metric's last write may get before it is rewritten."""

Dims = tuple[tuple[str, str], ...]
MetricKey = tuple[str, str, str, str, Dims]


@dataclass(frozen=True, slots=True)
class Metric:
    id: int
    account: str
    region: str
    namespace: str
    name: str
    dims: Dims
    last_put: float

    def dimensions(self) -> list[dict[str, str]]:
        return [{"Name": k, "Value": v} for k, v in self.dims]


@dataclass(slots=True)
class Row:
    """A datum to store: aggregates, and the raw (value, count) pairs when there are any."""

    name: str
    dims: Dims
    ts: float
    unit: str
    resolution: int
    count: float
    total: float
    low: float
    high: float
    values: Sequence[tuple[float, float]] | None = None


def dims_key(dims: Dims) -> str:
    return json.dumps(dims, separators=(",", ":"))


def canonical_dims(dims: Iterable[tuple[str, str]]) -> Dims:
    return tuple(sorted(dims))


class MetricStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._ids: dict[MetricKey, tuple[int, float]] = {}

    def forget(self) -> None:
        self._ids.clear()

    # -- writing ------------------------------------------------------------------------------

    def put(
        self, account: str, region: str, namespace: str, rows: Iterable[Row], now: float
    ) -> None:
        batch = []
        for row in rows:
            metric_id = self._metric_id(account, region, namespace, row.name, row.dims, now)
            vals = None
            if row.values is not None and not (len(row.values) == 1 and row.values[0][1] == 1):
                vals = json.dumps(row.values, separators=(",", ":"))
            batch.append(
                (
                    metric_id,
                    row.ts,
                    row.unit,
                    row.resolution,
                    row.count,
                    row.total,
                    row.low,
                    row.high,
                    vals,
                )
            )
        if batch:
            self.store.executemany(
                "INSERT INTO cw_data (metric_id, ts, unit, res, n, total, lo, hi, vals) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch,
            )

    def _metric_id(
        self, account: str, region: str, namespace: str, name: str, dims: Dims, now: float
    ) -> int:
        key = (account, region, namespace, name, dims)
        known = self._ids.get(key)
        if known is not None and now - known[1] < RECENT_WRITE:
            return known[0]
        stored = (account, region, namespace, name, dims_key(dims))
        row = self.store.query_one(
            "SELECT id FROM cw_metrics WHERE account = ? AND region = ? AND namespace = ? "
            "AND name = ? AND dims = ?",
            stored,
        )
        if row is None:
            metric_id = self.store.insert(
                "INSERT INTO cw_metrics (account, region, namespace, name, dims, last_put) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (*stored, now),
            )
        else:
            metric_id = row[0]
            self.store.execute(
                "UPDATE cw_metrics SET last_put = max(last_put, ?) WHERE id = ?", (now, metric_id)
            )
        self._ids[key] = (metric_id, now)
        return int(metric_id)

    # -- reading ------------------------------------------------------------------------------

    def lookup(
        self, account: str, region: str, namespace: str, name: str, dims: Dims
    ) -> int | None:
        known = self._ids.get((account, region, namespace, name, dims))
        if known is not None:
            return known[0]
        found = self.store.scalar(
            "SELECT id FROM cw_metrics WHERE account = ? AND region = ? AND namespace = ? "
            "AND name = ? AND dims = ?",
            (account, region, namespace, name, dims_key(dims)),
        )
        return None if found is None else int(found)

    def samples(
        self, metric_id: int, start: float, end: float, unit: str | None = None
    ) -> list[tuple[float, Sample]]:
        """(timestamp, sample) of ``metric_id`` in [start, end), in time order."""
        sql = (
            "SELECT ts, n, total, lo, hi, vals, unit FROM cw_data "
            "WHERE metric_id = ? AND ts >= ? AND ts < ?"
        )
        args: list[object] = [metric_id, start, end]
        if unit is not None:
            sql += " AND unit = ?"
            args.append(unit)
        out = []
        for ts, n, total, lo, hi, vals, _ in self.store.query(sql + " ORDER BY ts", args):
            values = [tuple(p) for p in json.loads(vals)] if vals else None
            out.append((ts, Sample(n, total, lo, hi, values)))
        return out

    def units(self, metric_id: int, start: float, end: float) -> list[str]:
        rows = self.store.query(
            "SELECT DISTINCT unit FROM cw_data WHERE metric_id = ? AND ts >= ? AND ts < ?",
            (metric_id, start, end),
        )
        return [r[0] for r in rows]

    def metrics(
        self,
        account: str,
        region: str,
        namespace: str | None = None,
        name: str | None = None,
        active_since: float | None = None,
    ) -> list[Metric]:
        sql = (
            "SELECT id, namespace, name, dims, last_put FROM cw_metrics "
            "WHERE account = ? AND region = ?"
        )
        args: list[object] = [account, region]
        if namespace is not None:
            sql += " AND namespace = ?"
            args.append(namespace)
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        if active_since is not None:
            sql += " AND last_put >= ?"
            args.append(active_since)
        return [
            Metric(
                r[0],
                account,
                region,
                r[1],
                r[2],
                tuple((k, v) for k, v in json.loads(r[3])),
                r[4],
            )
            for r in self.store.query(sql + " ORDER BY namespace, name, dims", args)
        ]

    # -- retention ----------------------------------------------------------------------------

    def roll_up(self, now: float) -> None:
        """Move rows past their tier's age into the next tier; drop rows past the last one."""
        for metric_id in [r[0] for r in self.store.query("SELECT id FROM cw_metrics")]:
            self._roll_up(metric_id, now)

    def _roll_up(self, metric_id: int, now: float) -> None:
        self.store.execute(
            "DELETE FROM cw_data WHERE metric_id = ? AND ts < ?", (metric_id, now - MAX_AGE)
        )
        for granularity, age in TIERS:
            rows = self.store.query(
                "SELECT rowid, metric_id, ts, unit, n, total, lo, hi, vals FROM cw_data "
                "WHERE metric_id = ? AND ts < ? AND res < ?",
                (metric_id, now - age, granularity),
            )
            if not rows:
                continue
            merged: dict[tuple[int, float, str], list[Sample]] = {}
            for r in rows:
                bucket = math.floor(r["ts"] / granularity) * granularity
                values = [tuple(p) for p in json.loads(r["vals"])] if r["vals"] else None
                merged.setdefault((r["metric_id"], bucket, r["unit"]), []).append(
                    Sample(r["n"], r["total"], r["lo"], r["hi"], values)
                )
            self.store.executemany(
                "DELETE FROM cw_data WHERE rowid = ?", [(r["rowid"],) for r in rows]
            )
            self.store.executemany(
                "INSERT INTO cw_data (metric_id, ts, unit, res, n, total, lo, hi, vals) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (mid, ts, unit, granularity, *_merge(samples))
                    for (mid, ts, unit), samples in merged.items()
                ],
            )


def _merge(samples: list[Sample]) -> tuple[float, float, float, float, str | None]:
    raw = raw_values(samples)
    return (
        sum(s.count for s in samples),
        sum(s.total for s in samples),
        min(s.low for s in samples),
        max(s.high for s in samples),
        None if raw is None else json.dumps(sorted(raw.items()), separators=(",", ":")),
    )
