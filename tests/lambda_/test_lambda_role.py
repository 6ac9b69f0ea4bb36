"""The execution role inside the function: its temporary credentials in the environment,
refreshed before they expire, limited by the role's policies when IAM is enforced."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.lambda_.conftest import ROLE, zipped

ACCOUNT = "000000000000"
TRUST_LAMBDA = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
WHO_AM_I = """
import os
import boto3

def handler(event, context):
    identity = boto3.client("sts").get_caller_identity()
    return {
        "arn": identity["Arn"],
        "key": os.environ["AWS_ACCESS_KEY_ID"],
        "token": "AWS_SESSION_TOKEN" in os.environ,
    }
"""
LIST_BUCKETS = """
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    try:
        boto3.client("s3").list_buckets()
    except ClientError as err:
        return err.response["Error"]["Code"]
    return "ok"
"""


def _invoke(lam: Any, name: str) -> tuple[Any, str]:
    """The function's result and its log tail."""
    out = lam.invoke(FunctionName=name, LogType="Tail")
    assert "FunctionError" not in out, out["Payload"].read()
    return json.loads(out["Payload"].read()), base64.b64decode(out["LogResult"]).decode()


def _role(iam: Any, name: str, **kwargs: Any) -> str:
    return str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA, **kwargs)["Role"][
            "Arn"
        ]
    )


def test_function_runs_as_a_session_of_its_role(
    lam: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    role_name = unique("exec")
    role = _role(client("iam"), role_name)
    name = make_function({"app.py": WHO_AM_I}, Role=role)
    result, tail = _invoke(lam, name)
    assert result["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{name}"
    assert result["key"].startswith("ASIA")
    assert result["token"] is True
    assert "does not exist in IAM" not in tail


def test_made_up_role_leaves_the_account_root_and_says_so_once(
    lam: Any, make_function: Callable[..., str]
) -> None:
    name = make_function({"app.py": WHO_AM_I}, Role=ROLE)
    result, tail = _invoke(lam, name)
    assert result == {"arn": f"arn:aws:iam::{ACCOUNT}:root", "key": ACCOUNT, "token": False}
    assert f"the execution role {ROLE} does not exist in IAM" in tail
    # A new worker (new configuration) does not repeat it.
    lam.update_function_configuration(FunctionName=name, MemorySize=256)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    result, tail = _invoke(lam, name)
    assert result["key"] == ACCOUNT
    assert "Init Duration" in tail
    assert "does not exist in IAM" not in tail


@pytest.mark.clock
def test_credentials_are_renewed_before_they_expire(
    lam: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
    endpoint: str,
) -> None:
    role_name = unique("exec")
    role = _role(client("iam"), role_name, MaxSessionDuration=3600)
    name = make_function({"app.py": WHO_AM_I}, Role=role)
    first, _ = _invoke(lam, name)
    again, tail = _invoke(lam, name)
    assert again["key"] == first["key"]
    assert "Init Duration" not in tail
    # Ten minutes before the session ends the warm worker is retired for one with a new one.
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 3000}, timeout=5)
    renewed, tail = _invoke(lam, name)
    assert renewed["key"] != first["key"]
    assert renewed["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{name}"
    assert "Init Duration" in tail


def test_role_policies_apply_inside_the_function_when_iam_is_enforced(
    nubes_factory: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    server = nubes_factory(persistent=False, env={"NUBES_ENFORCE_IAM": "1"})
    iam, lam = server.client("iam"), server.client("lambda")
    role_name = unique("exec")
    role = _role(iam, role_name)
    name = unique("fn")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": LIST_BUCKETS})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    assert _invoke(lam, name)[0] == "AccessDenied"
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="list",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
                ],
            }
        ),
    )
    assert _invoke(lam, name)[0] == "ok"
    # A role that stops trusting Lambda gives new workers no credentials at all.
    iam.update_assume_role_policy(
        RoleName=role_name,
        PolicyDocument=TRUST_LAMBDA.replace("lambda.amazonaws.com", "ec2.amazonaws.com"),
    )
    lam.update_function_configuration(FunctionName=name, MemorySize=256)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    out = lam.invoke(FunctionName=name, LogType="Tail")
    assert json.loads(out["Payload"].read())["errorType"] == "NoCredentialsError"
    assert f"Lambda cannot assume the role {role}" in base64.b64decode(out["LogResult"]).decode()


def test_role_lambda_cannot_assume_is_refused_when_iam_is_enforced(
    nubes_factory: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    server = nubes_factory(persistent=False, env={"NUBES_ENFORCE_IAM": "1"})
    iam, lam = server.client("iam"), server.client("lambda")
    trust_ec2 = TRUST_LAMBDA.replace("lambda.amazonaws.com", "ec2.amazonaws.com")
    role = iam.create_role(RoleName=unique("ec2"), AssumeRolePolicyDocument=trust_ec2)["Role"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        lam.create_function(
            FunctionName=unique("fn"),
            Runtime="python3.12",
            Role=role["Arn"],
            Handler="app.handler",
            Code={"ZipFile": zipped({"app.py": LIST_BUCKETS})},
        )
    assert exc.value.response["Error"]["Message"] == (
        "The role defined for the function cannot be assumed by Lambda."
    )
