"""The members of a role as each operation reports it (issue 16), after the API reference's
and the AWS CLI reference's examples for CreateRole, GetRole and ListRoles."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

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


def test_service_linked_role_names_suffixes_and_members(client: Callable[..., Any]) -> None:
    # The server is shared: a role left from an earlier run is the case AWS reports as taken.
    iam = client("iam")
    try:
        role = iam.create_service_linked_role(AWSServiceName="acm.amazonaws.com")["Role"]
    except iam.exceptions.InvalidInputException:
        role = iam.get_role(RoleName="AWSServiceRoleForCertificateManager")["Role"]
    assert role["RoleName"] == "AWSServiceRoleForCertificateManager"
    assert role["Path"] == "/aws-service-role/acm.amazonaws.com/"
    with pytest.raises(ClientError) as exc:
        iam.create_service_linked_role(AWSServiceName="acm.amazonaws.com")
    assert exc.value.response["Error"]["Code"] == "InvalidInput"
    assert exc.value.response["Error"]["Message"] == (
        "Service role name AWSServiceRoleForCertificateManager has been taken in this account, "
        "please try a different suffix."
    )
    with pytest.raises(ClientError) as exc:
        iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com", CustomSuffix="x")
    assert exc.value.response["Error"]["Message"] == (
        "Custom suffix is not allowed for ecs.amazonaws.com"
    )
    iam.delete_service_linked_role(RoleName="AWSServiceRoleForCertificateManager")
