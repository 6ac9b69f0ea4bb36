"""Policy documents as IAM validates them, with IAM's messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nubes.services.iam.policy import PolicyError, parse_policy
from nubes.services.iam.policy.document import policy_size


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> str:
    return json.dumps({"Version": version, "Statement": list(statements)})


GOOD = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("not json", "identity", "Syntax errors in policy."),
        ("[]", "identity", "Syntax errors in policy."),
        (json.dumps({"Version": "2012-10-17"}), "identity", "Syntax errors in policy."),
        (doc(GOOD, version="2012-10-18"), "identity", "The policy failed legacy parsing"),
        (doc({**GOOD, "Effect": "Maybe"}), "identity", "Syntax errors in policy."),
        (
            doc({**GOOD, "Principal": "*"}),
            "identity",
            "Policy document should not specify a principal.",
        ),
        (doc(GOOD), "resource", "Missing required field Principal"),
        (
            doc({"Effect": "Allow", "Resource": "*"}),
            "identity",
            "Policy statement must contain actions.",
        ),
        (
            doc({"Effect": "Allow", "Action": "s3:*"}),
            "identity",
            "Policy statement must contain resources.",
        ),
        (
            doc({**GOOD, "Action": "GetObject"}),
            "identity",
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            doc({**GOOD, "Resource": "bucket"}),
            "identity",
            'Resource bucket must be in ARN format or "*".',
        ),
        (doc({**GOOD, "NotAction": "s3:*"}), "identity", "Syntax errors in policy."),
        (
            doc({**GOOD, "Sid": "a"}, {**GOOD, "Sid": "a"}),
            "identity",
            "Statement IDs (SID) in a single policy must be unique.",
        ),
        (
            doc({**GOOD, "Condition": {"Bogus": {"aws:x": "1"}}}),
            "identity",
            "Syntax errors in policy.",
        ),
        (doc({**GOOD, "Extra": 1}), "identity", "Syntax errors in policy."),
        (
            doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "s3:GetObject",
                }
            ),
            "trust",
            "AssumeRole policy may only specify STS AssumeRole actions.",
        ),
        (
            doc({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}),
            "trust",
            "Has prohibited field Resource.",
        ),
    ],
)
def test_malformed(text: str, kind: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, kind)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_valid_documents() -> None:
    parse_policy(doc(GOOD))
    parse_policy(json.dumps({"Version": "2012-10-17", "Statement": GOOD}))
    parse_policy(
        doc({"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}),
        "trust",
    )


def test_size_ignores_whitespace() -> None:
    assert policy_size('{ "a" :\n  1 }') == len('{"a":1}')


def test_aws_managed_policies_are_valid_identity_policies() -> None:
    from nubes.services.iam.common import aws_managed

    managed = aws_managed()
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in managed
    assert "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" in managed
    for info in managed.values():
        parse_policy(info["text"])
        assert info["id"].startswith("ANPA") and len(info["id"]) == 21


def test_statement_positions() -> None:
    from nubes.services.iam.policy.document import statement_positions

    text = (
        '{"Version": "2012-10-17", "Statement": [\n'
        '  {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},\n'
        '  {"Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"}\n'
        "]}"
    )
    assert statement_positions(text) == [((2, 3), (2, 57)), ((3, 3), (3, 62))]
    single = '{"Statement": {"Effect": "Allow"}, "Version": "2012-10-17"}'
    assert statement_positions(single) == [((1, 15), (1, 34))]
