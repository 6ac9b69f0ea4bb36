"""What DynamoDB publishes to CloudWatch (namespace ``AWS/DynamoDB``): the read and write
capacity units each request consumed, per TableName (and per GlobalSecondaryIndexName for
global indexes); SuccessfulRequestLatency per TableName and Operation for the item operations;
ConditionalCheckFailedRequests per TableName; UserErrors (other requests refused as the caller's
fault, for the account and region); ReplicationLatency of global tables (see ``replicas``).
Counted in memory, handed over per minute. nubes never throttles, so ThrottledRequests never
appears."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore import xform_name

from nubes.protocol.base import ServiceError

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.core.context import RequestContext
    from nubes.services.dynamodb.models import Table

NAMESPACE = "AWS/DynamoDB"
TIMED = (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
)
Handler = Callable[["RequestContext", dict[str, Any]], dict[str, Any]]


def _tables(req: dict[str, Any]) -> list[str]:
    """The tables a request names (batches and transactions name several)."""
    if "TableName" in req:
        return [req["TableName"]]
    if "RequestItems" in req:
        return list(req["RequestItems"])
    names = []
    for action in req.get("TransactItems") or ():
        for spec in action.values():
            if isinstance(spec, dict) and spec.get("TableName") not in names:
                names.append(spec.get("TableName"))
    return [n for n in names if n]


def timed(env: Environment, operation: str, method: Handler) -> Handler:
    """``method`` with its latency and user errors recorded."""

    @functools.wraps(method)
    def run(ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            out = method(ctx, req)
        except ServiceError as err:
            if err.code == "ConditionalCheckFailedException":
                # Counted on their own, per table, not as user errors.
                for table in _tables(req):
                    env.metrics.record(
                        ctx.account_id,
                        ctx.region,
                        NAMESPACE,
                        "ConditionalCheckFailedRequests",
                        1.0,
                        "Count",
                        {"TableName": table},
                    )
            elif err.sender_fault:
                env.metrics.record(ctx.account_id, ctx.region, NAMESPACE, "UserErrors", 1.0)
            raise
        ms = (time.perf_counter() - started) * 1000
        for table in _tables(req):
            env.metrics.record(
                ctx.account_id,
                ctx.region,
                NAMESPACE,
                "SuccessfulRequestLatency",
                round(ms, 2),
                "Milliseconds",
                {"TableName": table, "Operation": operation},
            )
        return out

    return run


def instrument(provider: Any, env: Environment) -> None:
    """Time the item operations of ``provider`` (bound wrappers shadow the methods)."""
    for operation in TIMED:
        name = xform_name(operation)
        setattr(provider, name, timed(env, operation, getattr(provider, name)))


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
