"""Automatic daily snapshots in the snapshot window, kept SnapshotRetentionLimit days."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError


@pytest.mark.clock
def test_daily_snapshots_are_taken_and_expire(ec: Any, endpoint: str) -> None:
    ec.create_cache_cluster(
        CacheClusterId="daily",
        Engine="redis",
        SnapshotRetentionLimit=2,
        SnapshotWindow="03:00-04:00",
    )

    def automated() -> list[str]:
        found = ec.describe_snapshots(CacheClusterId="daily", SnapshotSource="automated")
        return [s["SnapshotName"] for s in found["Snapshots"]]

    assert automated() == []
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 86_400}, timeout=10)
    first = automated()
    assert len(first) == 1 and first[0].startswith("automatic.daily-")
    assert first[0].endswith("-03-00")
    for _ in range(3):
        requests.post(f"{endpoint}/_nubes/clock", json={"advance": 86_400}, timeout=10)
    names = automated()
    assert len(names) == 2 and first[0] not in names

    with pytest.raises(ClientError) as err:
        ec.modify_cache_cluster(CacheClusterId="daily", SnapshotWindow="03:00-03:30")
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"

    ec.create_snapshot(CacheClusterId="daily", SnapshotName="kept-by-hand")
    ec.delete_cache_cluster(CacheClusterId="daily")
    names = [s["SnapshotName"] for s in ec.describe_snapshots()["Snapshots"]]
    assert names == ["kept-by-hand"]
    ec.delete_snapshot(SnapshotName="kept-by-hand")
