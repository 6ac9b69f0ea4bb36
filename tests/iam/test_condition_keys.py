"""Policy grammar IAM applies to its own documents (IAM user guide, "IAM JSON policy elements:
Condition", "AWS global condition context keys" and "IAM JSON policy elements: Sid"): global
condition keys may be written without their ``aws:`` prefix and are evaluated as the ``aws:``
key; any other key without a vendor prefix is refused; Sids are alphanumeric."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _policy(condition: dict[str, Any]) -> str:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{**statement, "Condition": condition}]}
    )


def _decision(iam: Any, condition: dict[str, Any], ip: str) -> str:
    out = iam.simulate_custom_policy(
        PolicyInputList=[_policy(condition)],
        ActionNames=["s3:GetObject"],
        ContextEntries=[
            {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": [ip], "ContextKeyType": "ip"}
        ],
    )
    return str(out["EvaluationResults"][0]["EvalDecision"])


def test_global_keys_without_prefix_are_the_aws_keys(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    iam = client("iam")
    user = unique("u")
    iam.create_user(UserName=user)
    for condition in (
        {"IpAddress": {"SourceIp": "10.0.0.0/8"}},
        {"Bool": {"SecureTransport": "true"}},
        {"StringEquals": {"PrincipalTag/team": "blue"}},
    ):
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=_policy(condition))
    unprefixed = {"IpAddress": {"SourceIp": "10.0.0.0/8"}}
    assert _decision(iam, unprefixed, "10.1.2.3") == "allowed"
    assert _decision(iam, unprefixed, "192.168.0.1") == "implicitDeny"


@pytest.mark.parametrize("key", ["team", "NoSuchGlobalKey", "s3prefix"])
def test_other_keys_need_a_vendor_prefix(
    client: Callable[..., Any], unique: Callable[[str], str], key: str
) -> None:
    iam = client("iam")
    user = unique("u")
    iam.create_user(UserName=user)
    with pytest.raises(ClientError) as exc:
        iam.put_user_policy(
            UserName=user, PolicyName="p", PolicyDocument=_policy({"StringEquals": {key: "x"}})
        )
    assert exc.value.response["Error"] == {
        "Type": "Sender",
        "Code": "MalformedPolicyDocument",
        "Message": "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    }


def test_iam_policy_sids_are_alphanumeric(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    iam = client("iam")
    user = unique("u")
    iam.create_user(UserName=user)
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    good = {"Version": "2012-10-17", "Statement": [{**statement, "Sid": "Read1"}]}
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(good))
    bad = {"Version": "2012-10-17", "Statement": [{**statement, "Sid": "read objects"}]}
    with pytest.raises(ClientError) as exc:
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(bad))
    assert exc.value.response["Error"]["Message"] == (
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
        "regular expression [0-9A-Za-z]*"
    )
