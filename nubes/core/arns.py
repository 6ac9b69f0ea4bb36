"""ARNs: ``arn:<partition>:<service>:<region>:<account>:<resource>``."""

from __future__ import annotations

from dataclasses import dataclass

PARTITION = "aws"
_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-iso-", "aws-iso"))


def partition_of(region: str | None) -> str:
    """The partition a region belongs to (``aws-cn`` for ``cn-*``, ``aws-us-gov`` for
    ``us-gov-*``...); global resources (no region) are in the standard partition."""
    for prefix, partition in _PARTITIONS:
        if region and region.startswith(prefix):
            return partition
    return PARTITION


def arn_service(text: str) -> str | None:
    """The service of an ARN in any partition (``sqs`` for ``arn:aws-cn:sqs:...``)."""
    parts = text.split(":", 3)
    return parts[2] if len(parts) == 4 and parts[0] == "arn" else None


def in_partition(text: str, partition: str) -> str:
    """An ARN of the standard partition moved into ``partition`` (the account root ARN of a
    caller who signs for a ``cn-*`` region is ``arn:aws-cn:iam::...:root``)."""
    if partition == PARTITION or not text.startswith(f"arn:{PARTITION}:"):
        return text
    return f"arn:{partition}:" + text.removeprefix(f"arn:{PARTITION}:")


def root_arn(account: str, partition: str = PARTITION) -> str:
    return f"arn:{partition}:iam::{account}:root"


def arn(
    service: str, region: str, account: str, resource: str, partition: str | None = None
) -> str:
    """``partition`` is for global services (IAM, STS, S3) whose ARNs have no region but
    still belong to the caller's partition."""
    return f"arn:{partition or partition_of(region)}:{service}:{region}:{account}:{resource}"


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse_arn(text: str) -> Arn:
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {text}")
    return Arn(*parts[1:])
