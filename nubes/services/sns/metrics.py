"""What SNS publishes to CloudWatch (namespace ``AWS/SNS``, dimension ``TopicName``): messages
published with their size, notifications delivered and failed; counted in memory, handed over
per minute."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nubes.app import Environment

NAMESPACE = "AWS/SNS"


def count(
    env: Environment, topic_arn: str, name: str, value: float = 1.0, unit: str = "Count"
) -> None:
    _, _, _, region, account, topic = topic_arn.split(":", 5)
    env.metrics.record(account, region, NAMESPACE, name, value, unit, {"TopicName": topic})
