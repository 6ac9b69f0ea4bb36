"""AWS managed policies are AWS's complete documents, with their default version, path and dates
(AWS Managed Policy Reference: one page per policy with its JSON document, default version,
creation and edit time), and service-linked roles carry the ``*ServiceRolePolicy`` AWS attaches
(IAM user guide, "AWS services that work with IAM" and each service's service-linked role page)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

from nubes.services.iam.policy import parse_policy

AWS = "arn:aws:iam::aws:policy"


@pytest.fixture
def iam(client: Callable[..., Any]) -> Any:
    return client("iam")


def _document(iam: Any, arn: str) -> dict[str, Any]:
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
    document = version["PolicyVersion"]["Document"]
    return document if isinstance(document, dict) else json.loads(unquote(document))


def _actions(document: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for statement in document["Statement"]:
        action = statement.get("Action", [])
        out += [action] if isinstance(action, str) else action
    return out


def test_read_only_access_is_the_complete_document(iam: Any) -> None:
    policy = iam.get_policy(PolicyArn=f"{AWS}/ReadOnlyAccess")["Policy"]
    assert policy["Path"] == "/"
    assert policy["CreateDate"] == datetime(2015, 2, 6, 18, 39, 48, tzinfo=UTC)
    assert int(policy["DefaultVersionId"].removeprefix("v")) > 100
    assert policy["Description"] == "Provides read-only access to AWS services and resources."
    actions = _actions(_document(iam, f"{AWS}/ReadOnlyAccess"))
    # thousands of actions across hundreds of services, not the handful nubes implements
    assert len(actions) > 2000
    assert len({a.split(":", 1)[0] for a in actions}) > 200
    assert {"s3:Get*", "sqs:Receive*", "dynamodb:Query", "lambda:List*", "a4b:Get*"} <= set(actions)


@pytest.mark.parametrize(
    ("name", "path", "version", "action"),
    [
        ("AdministratorAccess", "/", "v1", "*"),
        ("AmazonSQSFullAccess", "/", "v1", "sqs:*"),
        ("AmazonS3ReadOnlyAccess", "/", "v3", "s3-object-lambda:List*"),
        ("AWSLambdaBasicExecutionRole", "/service-role/", "v1", "logs:PutLogEvents"),
        ("AWSLambdaKinesisExecutionRole", "/service-role/", "v2", "kinesis:GetRecords"),
        ("AmazonSSMManagedInstanceCore", "/", "v2", "ssmmessages:OpenDataChannel"),
        ("AmazonEC2ContainerRegistryReadOnly", "/", "v3", "ecr:BatchGetImage"),
        ("CloudWatchAgentServerPolicy", "/", "v3", "cloudwatch:PutMetricData"),
    ],
)
def test_commonly_attached_policies(
    iam: Any, name: str, path: str, version: str, action: str
) -> None:
    arn = f"{AWS}{path}{name}"
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert (policy["Arn"], policy["Path"], policy["DefaultVersionId"]) == (arn, path, version)
    assert policy["IsAttachable"] is True
    assert action in _actions(_document(iam, arn))


def test_every_listed_aws_policy_is_a_valid_document(iam: Any) -> None:
    names = set()
    for page in iam.get_paginator("list_policies").paginate(Scope="AWS"):
        for policy in page["Policies"]:
            names.add(policy["PolicyName"])
            assert policy["Arn"] == f"{AWS}{policy['Path']}{policy['PolicyName']}"
            assert policy["CreateDate"] <= policy["UpdateDate"]
    assert {
        "PowerUserAccess",
        "AmazonDynamoDBFullAccess",
        "AmazonDynamoDBReadOnlyAccess",
        "AmazonSNSFullAccess",
        "AmazonSNSReadOnlyAccess",
        "AWSLambda_FullAccess",
        "AWSLambda_ReadOnlyAccess",
        "AmazonEC2FullAccess",
        "AmazonEC2ReadOnlyAccess",
        "CloudWatchFullAccess",
        "CloudWatchReadOnlyAccess",
        "CloudWatchLogsFullAccess",
        "CloudWatchLogsReadOnlyAccess",
        "AWSLambdaVPCAccessExecutionRole",
        "AWSLambdaSQSQueueExecutionRole",
        "AWSLambdaDynamoDBExecutionRole",
    } <= names
    for name in ("PowerUserAccess", "AmazonDynamoDBFullAccess", "CloudWatchReadOnlyAccess"):
        policy = iam.get_policy(PolicyArn=f"{AWS}/{name}")["Policy"]
        parse_policy(json.dumps(_document(iam, policy["Arn"])), "identity")


@pytest.mark.parametrize(
    ("service", "role", "policy"),
    [
        (
            "acm.amazonaws.com",
            "AWSServiceRoleForCertificateManager",
            "CertificateManagerServiceRolePolicy",
        ),
        ("ecs.amazonaws.com", "AWSServiceRoleForECS", "AmazonECSServiceRolePolicy"),
        (
            "ops.apigateway.amazonaws.com",
            "AWSServiceRoleForAPIGateway",
            "APIGatewayServiceRolePolicy",
        ),
        (
            "elasticloadbalancing.amazonaws.com",
            "AWSServiceRoleForElasticLoadBalancing",
            "AWSElasticLoadBalancingServiceRolePolicy",
        ),
    ],
)
def test_service_linked_roles_attach_the_service_role_policy(
    client: Callable[..., Any], service: str, role: str, policy: str
) -> None:
    # a fresh account: each service has one service-linked role per account
    iam = client("iam", aws_access_key_id=str(100_000_000_000 + secrets.randbelow(10**11)))
    created = iam.create_service_linked_role(AWSServiceName=service)["Role"]
    assert created["RoleName"] == role
    assert created["Path"] == f"/aws-service-role/{service}/"
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    arn = f"{AWS}/aws-service-role/{policy}"
    assert attached == [{"PolicyName": policy, "PolicyArn": arn}]
    found = iam.get_policy(PolicyArn=arn)["Policy"]
    assert found["Path"] == "/aws-service-role/" and found["AttachmentCount"] == 1
    task = iam.delete_service_linked_role(RoleName=role)["DeletionTaskId"]
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"


def test_service_role_policies_attach_to_no_customer_role(
    iam: Any, unique: Callable[[str], str]
) -> None:
    role = unique("r")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    arn = f"{AWS}/aws-service-role/AmazonECSServiceRolePolicy"
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert exc.value.response["Error"]["Code"] == "PolicyNotAttachable"
    assert exc.value.response["Error"]["Message"] == (
        "Cannot attach a Service Role Policy to a Customer Role."
    )
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
