"""Cognito's resource types: a stack makes a pool (quoted numbers and booleans as templates
have them), a client with a secret, a group, a domain and a user in the group; an update changes
the pool in place; deleting the stack removes them, each seen through Cognito's own API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudformation.conftest import outputs, reasons, settle


def _template(domain: str, length: str) -> str:
    return json.dumps(
        {
            "Resources": {
                "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {
                    "Policies": {"PasswordPolicy": {"MinimumLength": length,
                                                    "RequireSymbols": "false"}},
                    "AutoVerifiedAttributes": ["email"],
                    "Schema": [{"Name": "email", "AttributeDataType": "String",
                                "Required": "true", "Mutable": "true"}],
                    "UserPoolTags": {"team": "auth"}}},
                "Client": {"Type": "AWS::Cognito::UserPoolClient", "Properties": {
                    "UserPoolId": {"Ref": "Pool"}, "GenerateSecret": True,
                    "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}},
                "Orders": {"Type": "AWS::Cognito::UserPoolResourceServer", "Properties": {
                    "UserPoolId": {"Ref": "Pool"}, "Identifier": "orders", "Name": "Orders",
                    "Scopes": [{"ScopeName": "read", "ScopeDescription": "r"}]}},
                "Machine": {"Type": "AWS::Cognito::UserPoolClient", "DependsOn": "Orders",
                            "Properties": {
                    "UserPoolId": {"Ref": "Pool"}, "GenerateSecret": True,
                    "AllowedOAuthFlowsUserPoolClient": True,
                    "AllowedOAuthFlows": ["client_credentials"],
                    "AllowedOAuthScopes": ["orders/read"]}},
                "Admins": {"Type": "AWS::Cognito::UserPoolGroup", "Properties": {
                    "UserPoolId": {"Ref": "Pool"}, "GroupName": "admins", "Precedence": "1"}},
                "Domain": {"Type": "AWS::Cognito::UserPoolDomain", "Properties": {
                    "UserPoolId": {"Ref": "Pool"}, "Domain": domain}},
                "User": {"Type": "AWS::Cognito::UserPoolUser", "Properties": {
                    "UserPoolId": {"Ref": "Pool"}, "Username": "root",
                    "MessageAction": "SUPPRESS",
                    "UserAttributes": [{"Name": "email", "Value": "root@example.com"}]}},
                "Membership": {"Type": "AWS::Cognito::UserPoolUserToGroupAttachment",
                               "Properties": {"UserPoolId": {"Ref": "Pool"},
                                              "GroupName": {"Ref": "Admins"},
                                              "Username": {"Ref": "User"}}},
            },
            "Outputs": {
                "Pool": {"Value": {"Ref": "Pool"}},
                "Arn": {"Value": {"Fn::GetAtt": ["Pool", "Arn"]}},
                "Url": {"Value": {"Fn::GetAtt": ["Pool", "ProviderURL"]}},
                "Client": {"Value": {"Ref": "Client"}},
                "Secret": {"Value": {"Fn::GetAtt": ["Client", "ClientSecret"]}},
            },
        }
    )  # fmt: skip


def test_user_pool_stack(client: Callable[..., Any], unique: Callable[[str], str]) -> None:
    cfn = client("cloudformation")
    idp = client("cognito-idp")
    name, domain = unique("auth"), unique("login")
    cfn.create_stack(StackName=name, TemplateBody=_template(domain, "12"))
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, name)
    out = outputs(stack)
    pool = idp.describe_user_pool(UserPoolId=out["Pool"])["UserPool"]
    assert pool["Arn"] == out["Arn"] and pool["Domain"] == domain
    assert out["Url"] == f"https://cognito-idp.us-east-1.amazonaws.com/{out['Pool']}"
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert pool["UserPoolTags"] == {"team": "auth"}
    made = idp.describe_user_pool_client(UserPoolId=out["Pool"], ClientId=out["Client"])
    assert made["UserPoolClient"]["ClientSecret"] == out["Secret"]
    server = idp.describe_resource_server(UserPoolId=out["Pool"], Identifier="orders")
    assert server["ResourceServer"]["Scopes"] == [{"ScopeName": "read", "ScopeDescription": "r"}]
    groups = idp.admin_list_groups_for_user(UserPoolId=out["Pool"], Username="root")["Groups"]
    assert [(g["GroupName"], g["Precedence"]) for g in groups] == [("admins", 1)]

    cfn.update_stack(StackName=name, TemplateBody=_template(domain, "9"))
    updated = settle(cfn, name)
    assert updated["StackStatus"] == "UPDATE_COMPLETE", reasons(cfn, name)
    assert outputs(updated)["Pool"] == out["Pool"]
    pool = idp.describe_user_pool(UserPoolId=out["Pool"])["UserPool"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 9

    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE", reasons(
        cfn, stack["StackId"]
    )
    with pytest.raises(ClientError) as exc:
        idp.describe_user_pool(UserPoolId=out["Pool"])
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
