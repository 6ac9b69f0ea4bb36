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
