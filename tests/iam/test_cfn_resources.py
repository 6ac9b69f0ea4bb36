"""IAM's CloudFormation resource types follow their properties through updates (CloudFormation
user guide, AWS::IAM::Policy, AWS::IAM::ManagedPolicy, AWS::IAM::User): a policy resource moves
between the principals it names, a principal's inline and managed policies and login profile
change in place, and deleting the stack leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.cloudformation.conftest import settle

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _doc(action: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
    }


def _template(
    policy_on: dict[str, list[Any]], managed_on: dict[str, list[Any]], **user: Any
) -> str:
    return json.dumps(
        {
            "Resources": {
                "Role": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "AssumeRolePolicyDocument": TRUST,
                        "Policies": [{"PolicyName": "inline", "PolicyDocument": _doc("sqs:*")}],
                    },
                },
                "Group": {"Type": "AWS::IAM::Group"},
                "User": {"Type": "AWS::IAM::User", "Properties": user},
                "Extra": {
                    "Type": "AWS::IAM::Policy",
                    "Properties": {
                        "PolicyName": "extra",
                        "PolicyDocument": _doc("s3:*"),
                        **policy_on,
                    },
                },
                "Managed": {
                    "Type": "AWS::IAM::ManagedPolicy",
                    "Properties": {"PolicyDocument": _doc("logs:*"), **managed_on},
                },
            }
        }
    )


def test_policies_follow_their_principals_through_updates(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    cfn, iam = client("cloudformation"), client("iam")
    name = unique("iamstack")
    caps = ["CAPABILITY_IAM"]
    cfn.create_stack(
        StackName=name,
        Capabilities=caps,
        TemplateBody=_template(
            {"Roles": [{"Ref": "Role"}], "Users": [{"Ref": "User"}]},
            {"Groups": [{"Ref": "Group"}]},
            LoginProfile={"Password": "First-password-1"},
        ),
    )
    assert settle(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    ids = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=name)["StackResources"]
    }
    role, user, group, managed = ids["Role"], ids["User"], ids["Group"], ids["Managed"]
    assert sorted(iam.list_role_policies(RoleName=role)["PolicyNames"]) == ["extra", "inline"]
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == ["extra"]
    attached = iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [managed]
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["UserName"] == user

    cfn.update_stack(
        StackName=name,
        Capabilities=caps,
        TemplateBody=_template(
            {"Groups": [{"Ref": "Group"}], "Users": [{"Ref": "User"}]},
            {"Roles": [{"Ref": "Role"}]},
        ),
    )
    assert settle(cfn, name)["StackStatus"] == "UPDATE_COMPLETE"
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["inline"]
    assert iam.list_group_policies(GroupName=group)["PolicyNames"] == ["extra"]
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == ["extra"]
    assert iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"] == []
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [managed]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName=user)

    stack_id = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert role not in roles
    policies = [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]]
    assert managed not in policies
