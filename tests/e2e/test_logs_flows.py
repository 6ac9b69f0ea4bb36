"""CloudWatch Logs as applications and log shippers use it: batches of events, paging with
the forward token until it repeats, JSON filter patterns, and metric filters."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any


def test_ship_page_and_filter_logs(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    logs = client("logs")
    group, stream = unique("/app/api"), "web-1"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    start = int(time.time() * 1000) - 60_000
    levels = ["INFO", "ERROR", "INFO", "WARN"] * 50
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": start + i, "message": json.dumps({"level": lvl, "n": i})}
            for i, lvl in enumerate(levels)
        ],
    )
    # The documented reading loop: stop when the forward token comes back unchanged.
    seen, token, calls = [], None, 0
    while True:
        kwargs: dict[str, Any] = {
            "logGroupName": group,
            "logStreamName": stream,
            "startFromHead": True,
            "limit": 64,
        }
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        calls += 1
        seen.extend(json.loads(e["message"])["n"] for e in page["events"])
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
        assert calls < 20
    assert seen == list(range(200))

    errors = logs.filter_log_events(logGroupName=group, filterPattern='{ $.level = "ERROR" }')
    assert len(errors["events"]) == 50
    assert all('"ERROR"' in e["message"] for e in errors["events"])
    assert errors["events"][0]["logStreamName"] == stream
    words = logs.filter_log_events(logGroupName=group, filterPattern="WARN")
    assert len(words["events"]) == 50
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert streams[0]["logStreamName"] == stream
    assert streams[0]["firstEventTimestamp"] == start

    logs.put_metric_filter(
        logGroupName=group,
        filterName="errors",
        filterPattern='{ $.level = "ERROR" }',
        metricTransformations=[
            {"metricName": "Errors", "metricNamespace": "App", "metricValue": "1"}
        ],
    )
    filters = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [f["filterName"] for f in filters] == ["errors"]
    tested = logs.test_metric_filter(
        filterPattern='{ $.level = "ERROR" }',
        logEventMessages=['{"level": "ERROR"}', '{"level": "INFO"}'],
    )["matches"]
    assert [m["eventNumber"] for m in tested] == [1]
