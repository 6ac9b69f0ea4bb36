"""The members of a role as each operation reports it (issue 16), after the API reference's
and the AWS CLI reference's examples for CreateRole, GetRole and ListRoles."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
BASE = {"Path", "RoleName", "RoleId", "Arn", "CreateDate", "AssumeRolePolicyDocument"}


def test_create_get_and_list_role_members(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    iam = client("iam")
    name = unique("role")
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]
    assert set(created) == BASE
    got = iam.get_role(RoleName=name)["Role"]
    assert set(got) == BASE | {"MaxSessionDuration", "RoleLastUsed"}
    assert got["RoleLastUsed"] == {} and got["MaxSessionDuration"] == 3600
    listed = [r for r in iam.list_roles()["Roles"] if r["RoleName"] == name]
    assert set(listed[0]) == BASE | {"MaxSessionDuration"}
    described = unique("role")
    created = iam.create_role(
        RoleName=described,
        AssumeRolePolicyDocument=TRUST,
        Description="d",
        Tags=[{"Key": "k", "Value": "v"}],
    )["Role"]
    assert set(created) == BASE | {"Description", "Tags"}
    got = iam.get_role(RoleName=described)["Role"]
    assert set(got) == BASE | {"MaxSessionDuration", "RoleLastUsed", "Description", "Tags"}
