"""What DynamoDB publishes to CloudWatch (namespace ``AWS/DynamoDB``): the read and write
capacity units each request consumed, per TableName (and per GlobalSecondaryIndexName for
global indexes), counted in memory and handed over per minute."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.services.dynamodb.models import Table

NAMESPACE = "AWS/DynamoDB"


def consumed_units(env: Environment) -> Callable[[Table, float, float, str | None], None]:
    def publish(table: Table, read: float, write: float, index: str | None) -> None:
        dims = {"TableName": table.name}
        if index is not None:
            if not table.indexes[index].is_global:
                return
            dims["GlobalSecondaryIndexName"] = index
        metrics = env.metrics
        if read:
            metrics.record(
                table.account,
                table.region,
                NAMESPACE,
                "ConsumedReadCapacityUnits",
                read,
                "Count",
                dims,
            )
        if write:
            metrics.record(
                table.account,
                table.region,
                NAMESPACE,
                "ConsumedWriteCapacityUnits",
                write,
                "Count",
                dims,
            )

    return publish
