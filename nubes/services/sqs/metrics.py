"""What SQS publishes to CloudWatch (namespace ``AWS/SQS``, dimension ``QueueName``): counts of
sent, received, deleted messages and empty receives, and sent message sizes, recorded in memory
on the hot paths and handed over per minute; queue depth gauges sampled each minute with one
grouped query over all queues."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from nubes.core.metrics import Datapoint

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.services.sqs.models import Queue

NAMESPACE = "AWS/SQS"


def count(
    env: Environment, queue: Queue, name: str, value: float = 1.0, unit: str = "Count"
) -> None:
    env.metrics.record(
        queue.account, queue.region, NAMESPACE, name, value, unit, {"QueueName": queue.name}
    )


def gauges(env: Environment) -> Callable[[float], Iterable[Datapoint]]:
    """The collector of queue depths and the age of each queue's oldest message."""

    def sample(boundary: float) -> Iterable[Datapoint]:
        rows = env.state.store.query(
            "SELECT q.account, q.region, q.name, "
            "SUM(m.visible_at <= :now), "
            "SUM(m.visible_at > :now AND m.receive_count > 0), "
            "SUM(m.visible_at > :now AND m.receive_count = 0), "
            "MIN(m.sent) "
            "FROM sqs_queues q LEFT JOIN sqs_messages m "
            "ON m.queue_id = q.id AND m.expires_at > :now "
            "GROUP BY q.id",
            {"now": boundary},
        )
        for account, region, name, visible, hidden, delayed, oldest in rows:
            dims = {"QueueName": name}
            for metric, value, unit in (
                ("ApproximateNumberOfMessagesVisible", visible or 0, "Count"),
                ("ApproximateNumberOfMessagesNotVisible", hidden or 0, "Count"),
                ("ApproximateNumberOfMessagesDelayed", delayed or 0, "Count"),
                (
                    "ApproximateAgeOfOldestMessage",
                    max(boundary - oldest, 0.0) if oldest is not None else 0.0,
                    "Seconds",
                ),
            ):
                yield Datapoint(account, region, NAMESPACE, metric, float(value), unit, dims)

    return sample
