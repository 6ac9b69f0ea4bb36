"""ARNs carry the partition of the request's region (issue 16): ``aws-cn`` for ``cn-*``,
``aws-us-gov`` for ``us-gov-*`` (AWS General Reference, "Amazon Resource Names")."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from nubes.core.arns import arn, partition_of

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-west-1", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("", "aws"),
    ],
)
def test_partition_of_region(region: str, partition: str) -> None:
    assert partition_of(region) == partition
    assert arn("logs", region, "1", "x").startswith(f"arn:{partition}:logs:")


@pytest.mark.parametrize(
    ("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]
)
def test_regional_and_session_arns_use_the_partition(
    client: Callable[..., Any], unique: Callable[[str], str], region: str, partition: str
) -> None:
    logs = client("logs", region=region)
    group = unique("g")
    logs.create_log_group(logGroupName=group)
    found = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert found["arn"].startswith(f"arn:{partition}:logs:{region}:")
    role = client("iam").create_role(RoleName=unique("r"), AssumeRolePolicyDocument=TRUST)["Role"]
    out = client("sts", region=region).assume_role(
        RoleArn=role["Arn"], RoleSessionName="cn-session"
    )
    assert out["AssumedRoleUser"]["Arn"].startswith(f"arn:{partition}:sts::")
