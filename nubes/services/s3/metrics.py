"""S3's daily storage metrics (namespace ``AWS/S3``): BucketSizeBytes (StorageType
``StandardStorage``) and NumberOfObjects (StorageType ``AllStorageTypes``) per bucket, counting
every version, delete marker and object as AWS does, reported once per day of the clock and
stamped at the day's midnight."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from nubes.core.metrics import Datapoint

if TYPE_CHECKING:
    from nubes.app import Environment

NAMESPACE = "AWS/S3"
DAY = 86400


def storage(env: Environment) -> Callable[[float], Iterable[Datapoint]]:
    reported: list[float] = []

    def sample(boundary: float) -> Iterable[Datapoint]:
        day = math.floor(boundary / DAY) * DAY
        if reported and reported[-1] == day:
            return []
        reported[:] = [day]
        rows = env.state.store.query(
            "SELECT b.name, b.account_id, b.region, COUNT(o.id), COALESCE(SUM(o.size), 0) "
            "FROM s3_buckets b LEFT JOIN s3_objects o ON o.bucket = b.name GROUP BY b.name"
        )
        points = []
        for bucket, account, region, count, size in rows:
            points.append(
                Datapoint(
                    account,
                    region,
                    NAMESPACE,
                    "BucketSizeBytes",
                    float(size),
                    "Bytes",
                    {"BucketName": bucket, "StorageType": "StandardStorage"},
                    day,
                )
            )
            points.append(
                Datapoint(
                    account,
                    region,
                    NAMESPACE,
                    "NumberOfObjects",
                    float(count),
                    "Count",
                    {"BucketName": bucket, "StorageType": "AllStorageTypes"},
                    day,
                )
            )
        return points

    return sample
