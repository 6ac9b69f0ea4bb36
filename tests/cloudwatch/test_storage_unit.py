"""Metric storage without a server: retention tiers roll data up (counts, sums, extremes and raw
values merge) and drop it past the last tier; a query reads its metric only."""

from __future__ import annotations

from nubes.runtime.alarms.metricstore import SCHEMA, MetricStore, Row
from nubes.runtime.alarms.query import MetricRef, Reader
from nubes.store import Store

DAY = 86400.0


def _store() -> MetricStore:
    store = Store(None)
    store.migrate("cw-test", (SCHEMA,))
    return MetricStore(store)


def test_retention_tiers_roll_up_and_expire() -> None:
    metrics = _store()
    now = 1_000 * DAY
    rows = [
        Row("m", (), now - 4 * 3600 + s, "Count", 1, 1.0, float(s), float(s), float(s))
        for s in (1, 2, 3)
    ]
    rows.append(Row("m", (), now - 20 * DAY + 30, "Count", 60, 2.0, 10.0, 4.0, 6.0))
    rows.append(Row("m", (), now - 20 * DAY + 90, "Count", 60, 1.0, 7.0, 7.0, 7.0))
    rows.append(Row("m", (), now - 500 * DAY, "Count", 60, 1.0, 1.0, 1.0, 1.0))
    with metrics.store.transaction():
        metrics.put("a", "r", "NS", rows, now)
        metrics.roll_up(now)
    (metric_id,) = [m.id for m in metrics.metrics("a", "r")]
    stored = metrics.store.query(
        "SELECT ts, res, n, total, lo, hi FROM cw_data WHERE metric_id = ? ORDER BY ts",
        (metric_id,),
    )
    as_tuples = [tuple(r) for r in stored]
    day_bucket = (now - 20 * DAY) // 300 * 300
    hour_bucket = (now - 4 * 3600) // 60 * 60
    assert as_tuples == [
        (day_bucket, 300, 3.0, 17.0, 4.0, 7.0),
        (hour_bucket, 60, 3.0, 6.0, 1.0, 3.0),
    ]
    # The rolled-up one-second values keep their raw values: percentiles still work.
    reader = Reader(metrics)
    buckets = reader.buckets("a", "r", MetricRef("NS", "m", ()), hour_bucket, hour_bucket + 60, 60)
    assert buckets[hour_bucket].statistic("p50") == 2.0


def test_query_reads_only_its_metric() -> None:
    metrics = _store()
    with metrics.store.transaction():
        metrics.put(
            "a",
            "r",
            "NS",
            [
                Row("m", (("D", str(i)),), 60.0 * k, "None", 60, 1.0, 1.0, 1.0, 1.0)
                for i in range(50)
                for k in range(5)
            ],
            1000.0,
        )
    plan = metrics.store.query(
        "EXPLAIN QUERY PLAN SELECT ts FROM cw_data WHERE metric_id = ? AND ts >= ? AND ts < ?",
        (1, 0, 300),
    )
    assert "cw_data_by_metric" in plan[0][3]
    reader = Reader(metrics)
    found = reader.buckets("a", "r", MetricRef("NS", "m", (("D", "7"),)), 0.0, 300.0, 60)
    assert sorted(found) == [0.0, 60.0, 120.0, 180.0, 240.0]
    assert all(b.count == 1.0 for b in found.values())
