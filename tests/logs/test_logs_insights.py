"""Logs Insights: the query subset, unit-tested, and StartQuery/GetQueryResults on a server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nubes.services.logs.insights import QueryError, parse_query, record, run

BASE = int(datetime(2026, 11, 23, 4, 55, tzinfo=UTC).timestamp() * 1000)
MESSAGES = [
    json.dumps({"level": "info", "path": "/a", "ms": 12, "user": {"id": "u1"}}),
    json.dumps({"level": "error", "path": "/b", "ms": 250, "user": {"id": "u2"}}),
    "START RequestId: r1 Version: $LATEST",
    "REPORT RequestId: r1\tDuration: 2.50 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB"
    "\tMax Memory Used: 40 MB",
    json.dumps({"level": "error", "path": "/a", "ms": 90, "user": {"id": "u1"}}),
    "plain text 42 items",
]


def records() -> list[dict[str, Any]]:
    return [
        record(BASE + i * 60_000, m, "s", "000000000000:/g", BASE + i * 60_000, f"p{i}")
        for i, m in enumerate(MESSAGES)
    ]


def values(query: str) -> list[dict[str, str]]:
    rows = run(parse_query(query), records())
    return [{c["field"]: c["value"] for c in row if c["field"] != "@ptr"} for row in rows]


def test_fields_filter_sort_limit() -> None:
    assert values('fields path, ms | filter level = "error" | sort ms desc') == [
        {"path": "/b", "ms": "250"},
        {"path": "/a", "ms": "90"},
    ]
    assert values("fields ms | filter ms > 50 and ms < 200") == [{"ms": "90"}]
    assert values('fields path | filter user.id = "u1" | limit 1') == [{"path": "/a"}]
    assert values("fields @message | filter @message like /items/") == [
        {"@message": "plain text 42 items"}
    ]
    assert values('fields path | filter path in ["/b"] or ms < 20') == [
        {"path": "/a"},
        {"path": "/b"},
    ]
    assert len(values("filter not ispresent(level)")) == 3
    default = values("filter @message like 'plain'")
    assert default == [{"@timestamp": "2026-11-23 05:00:00.000", "@message": MESSAGES[5]}]


def test_stats() -> None:
    assert values("filter ispresent(level) | stats count(*) as n by level | sort level") == [
        {"level": "error", "n": "2"},
        {"level": "info", "n": "1"},
    ]
    assert values("filter ispresent(ms) | stats avg(ms), max(ms), min(ms), sum(ms)") == [
        {"avg(ms)": "117.33333333333333", "max(ms)": "250", "min(ms)": "12", "sum(ms)": "352"}
    ]
    binned = values("filter ispresent(level) | stats count(*) by bin(5m)")
    assert binned == [{"bin(5m)": "2026-11-23 04:55:00.000", "count(*)": "3"}]
    lambda_report = values('filter @type = "REPORT" | stats avg(@duration), max(@maxMemoryUsed)')
    assert lambda_report == [{"avg(@duration)": "2.5", "max(@maxMemoryUsed)": "40000000"}]


def test_parse() -> None:
    query = 'parse @message "plain * * items" as kind, count | filter ispresent(kind)'
    assert values(query + " | fields kind, count") == [{"kind": "text", "count": "42"}]
    assert values(
        r"parse @message /(?<number>\d+) items/ | filter ispresent(number) "
        "| fields number"
    ) == [{"number": "42"}]


@pytest.mark.parametrize(
    "query",
    ["filter", "fields", "bogus x", "filter a = ", "stats nope(x)", "limit 0", "sort a b c"],
)
def test_malformed(query: str) -> None:
    with pytest.raises(QueryError):
        parse_query(query)


def test_start_query_and_results(client: Callable[..., Any], unique: Callable[[str], str]) -> None:
    logs = client("logs")
    group = "/" + unique("ins")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now + i, "message": json.dumps({"status": s})}
            for i, s in enumerate([200, 500, 200])
        ],
    )
    query_id = logs.start_query(
        logGroupName=group,
        startTime=now // 1000 - 60,
        endTime=now // 1000 + 60,
        queryString="stats count(*) as n by status | sort status",
    )["queryId"]
    out = logs.get_query_results(queryId=query_id)
    assert out["status"] == "Complete"
    rows = [{c["field"]: c["value"] for c in row} for row in out["results"]]
    assert rows == [{"status": "200", "n": "2"}, {"status": "500", "n": "1"}]
    assert out["statistics"]["recordsScanned"] == 3
    described = logs.describe_queries(logGroupName=group)["queries"]
    assert [q["queryId"] for q in described] == [query_id]
    with pytest.raises(ClientError) as exc:
        logs.start_query(logGroupName=group, startTime=0, endTime=10, queryString="fields | nope")
    assert exc.value.response["Error"]["Code"] == "MalformedQueryException"
