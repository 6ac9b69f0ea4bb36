"""AWS/ElastiCache metrics, read from the running servers each minute."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from nubes.runtime.elasticache.resp import command
from tests.elasticache.conftest import node_port


@pytest.mark.clock
def test_node_metrics(ec: Any, client: Callable[..., Any], account: str, endpoint: str) -> None:
    ec.create_cache_cluster(CacheClusterId="measured", Engine="redis")
    port = node_port(ec, "measured")
    for i in range(3):
        command(port, "SET", f"k{i}", "v")
    cloudwatch = client("cloudwatch", aws_access_key_id=account)
    cloudwatch.list_metrics(Namespace="AWS/ElastiCache")  # CloudWatch samples once it runs
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 61}, timeout=10)
    command(port, "GET", "k0")
    command(port, "GET", "missing")
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 61}, timeout=10)
    now = datetime.now(UTC)

    def maximum(name: str) -> float | None:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/ElastiCache",
            MetricName=name,
            Dimensions=[
                {"Name": "CacheClusterId", "Value": "measured"},
                {"Name": "CacheNodeId", "Value": "0001"},
            ],
            StartTime=now - timedelta(days=1),
            EndTime=now + timedelta(days=30),
            Period=86_400,
            Statistics=["Maximum"],
        )["Datapoints"]
        return points[0]["Maximum"] if points else None

    assert maximum("CurrItems") == 3
    assert (maximum("BytesUsedForCache") or 0) > 0
    assert maximum("CacheHits") == 1
    assert maximum("CacheMisses") == 1
