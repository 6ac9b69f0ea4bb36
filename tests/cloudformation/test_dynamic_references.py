"""Dynamic references: {{resolve:ssm|ssm-secure|secretsmanager:...}} read when a resource's
properties are resolved; a missing parameter or secret fails the resource and rolls back."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.cloudformation.conftest import reasons


def _parameter(logical: str, name: str, value: str) -> str:
    return (
        f"  {logical}:\n    Type: AWS::SSM::Parameter\n    Properties:\n"
        f"      Name: {name}\n      Type: String\n      Value: '{value}'\n"
    )


def test_ssm_and_secrets_references(
    cfn: Any, client: Callable[..., Any], deploy: Any, unique: Callable[[str], str]
) -> None:
    ssm, secrets = client("ssm"), client("secretsmanager")
    base = "/" + unique("dyn")
    ssm.put_parameter(Name=f"{base}/plain", Value="v1", Type="String")
    ssm.put_parameter(Name=f"{base}/plain", Value="v2", Type="String", Overwrite=True)
    secret = secrets.create_secret(
        Name=unique("dyn-secret"), SecretString=json.dumps({"user": "u1", "pw": "p1"})
    )
    first = secret["VersionId"]
    secrets.put_secret_value(SecretId=secret["ARN"], SecretString=json.dumps({"user": "u2"}))
    refs = {
        "latest": f"{{{{resolve:ssm:{base}/plain}}}}",
        "versioned": f"x-{{{{resolve:ssm:{base}/plain:1}}}}-y",
        "whole": f"{{{{resolve:secretsmanager:{secret['Name']}}}}}",
        "key": f"{{{{resolve:secretsmanager:{secret['ARN']}:SecretString:user}}}}",
        "previous": (
            f"{{{{resolve:secretsmanager:{secret['Name']}:SecretString:user:AWSPREVIOUS}}}}"
        ),
        "byid": f"{{{{resolve:secretsmanager:{secret['Name']}:SecretString:pw::{first}}}}}",
    }
    body = "Resources:\n" + "".join(
        _parameter(k.title(), f"{base}/out/{k}", v) for k, v in refs.items()
    )
    stack = deploy(body)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, stack["StackName"])
    got = {k: ssm.get_parameter(Name=f"{base}/out/{k}")["Parameter"]["Value"] for k in refs}
    assert got == {
        "latest": "v2",
        "versioned": "x-v1-y",
        "whole": json.dumps({"user": "u2"}),
        "key": "u2",
        "previous": "u1",
        "byid": "p1",
    }


def test_missing_references_roll_back(
    cfn: Any, client: Callable[..., Any], deploy: Any, unique: Callable[[str], str]
) -> None:
    ssm = client("ssm")
    base = "/" + unique("dyn")
    ssm.put_parameter(Name=f"{base}/secure", Value="s", Type="SecureString")
    cases = {
        f"{{{{resolve:ssm:{base}/absent}}}}": f"Parameters: [{base}/absent] cannot be found.",
        f"{{{{resolve:secretsmanager:{unique('absent')}}}}}": "can't find the specified secret",
        f"{{{{resolve:ssm-secure:{base}/secure}}}}": "SSM Secure reference is not supported in",
    }
    for ref, reason in cases.items():
        stack = deploy("Resources:\n" + _parameter("P", f"{base}/out", ref))
        assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
        failed = [r for r in reasons(cfn, stack["StackName"]) if r[1] == "CREATE_FAILED"]
        assert failed and reason in failed[0][2], failed


def test_ssm_secure_where_aws_allows_it(
    cfn: Any, client: Callable[..., Any], deploy: Any, unique: Callable[[str], str]
) -> None:
    ssm, iam = client("ssm"), client("iam")
    name, user = "/" + unique("dyn-secure"), unique("dyn-user")
    ssm.put_parameter(Name=name, Value="Secure-Pass-123!", Type="SecureString")
    body = f"""
Resources:
  User:
    Type: AWS::IAM::User
    Properties:
      UserName: {user}
      LoginProfile:
        Password: "{{{{resolve:ssm-secure:{name}}}}}"
"""
    stack = deploy(body, Capabilities=["CAPABILITY_NAMED_IAM"])
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, stack["StackName"])
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["UserName"] == user
    cfn.delete_stack(StackName=stack["StackName"])
