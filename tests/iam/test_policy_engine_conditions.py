"""Every condition operator, its IfExists form, the set qualifiers and the global keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nubes.services.iam.policy import Caller, Request, evaluate, parse_policy

ACCOUNT = "111122223333"
ALICE = Caller(
    f"arn:aws:iam::{ACCOUNT}:user/alice",
    ACCOUNT,
    "user",
    "AIDAALICE",
    "alice",
    tags={"Team": "red"},
    mfa=True,
)


def holds(operator: str, key: str, values: Any, context: dict[str, list[str]]) -> bool:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {operator: {key: values}},
                }
            ],
        }
    )
    policy = parse_policy(document, validate=True)
    request = Request("s3:GetObject", "*", ALICE, {k.lower(): v for k, v in context.items()})
    return evaluate(request, [("p", policy)]).allowed


@pytest.mark.parametrize(
    ("operator", "policy_values", "request_values", "expected"),
    [
        ("StringEquals", "a", ["a"], True),
        ("StringEquals", "a", ["A"], False),
        ("StringEquals", ["x", "a"], ["a"], True),
        ("StringNotEquals", "a", ["b"], True),
        ("StringNotEquals", "a", ["a"], False),
        ("StringEqualsIgnoreCase", "a", ["A"], True),
        ("StringNotEqualsIgnoreCase", "a", ["A"], False),
        ("StringLike", "pre*", ["prefix"], True),
        ("StringLike", "a?c", ["abc"], True),
        ("StringLike", "a?c", ["abbc"], False),
        ("StringNotLike", "pre*", ["other"], True),
        ("NumericEquals", "10", ["10.0"], True),
        ("NumericNotEquals", "10", ["11"], True),
        ("NumericLessThan", "10", ["9"], True),
        ("NumericLessThan", "10", ["10"], False),
        ("NumericLessThanEquals", "10", ["10"], True),
        ("NumericGreaterThan", "10", ["11"], True),
        ("NumericGreaterThanEquals", "10", ["10"], True),
        ("NumericEquals", "10", ["ten"], False),
        ("DateEquals", "2024-01-01T00:00:00Z", ["2024-01-01T00:00:00Z"], True),
        ("DateNotEquals", "2024-01-01T00:00:00Z", ["2024-01-02T00:00:00Z"], True),
        ("DateLessThan", "2024-01-01T00:00:00Z", ["2023-12-31T23:59:59Z"], True),
        ("DateLessThanEquals", "2024-01-01", ["2024-01-01T00:00:00Z"], True),
        ("DateGreaterThan", "2024-01-01T00:00:00Z", ["1704067201"], True),
        ("DateGreaterThanEquals", "1704067200", ["2024-01-01T00:00:00Z"], True),
        ("Bool", "true", ["true"], True),
        ("Bool", "true", ["false"], False),
        ("Bool", True, ["TRUE"], True),
        ("BinaryEquals", "QmluYXJ5", ["QmluYXJ5"], True),
        ("BinaryEquals", "QmluYXJ5", ["T3RoZXI="], False),
        ("IpAddress", "203.0.113.0/24", ["203.0.113.7"], True),
        ("IpAddress", "203.0.113.0/24", ["198.51.100.1"], False),
        ("IpAddress", "2001:db8::/32", ["2001:db8::1"], True),
        ("NotIpAddress", "203.0.113.0/24", ["198.51.100.1"], True),
        (
            "ArnEquals",
            "arn:aws:sns:us-east-1:111122223333:t",
            ["arn:aws:sns:us-east-1:111122223333:t"],
            True,
        ),
        ("ArnLike", "arn:aws:sns:*:111122223333:*", ["arn:aws:sns:eu-west-1:111122223333:t"], True),
        (
            "ArnLike",
            "arn:aws:sns:*:111122223333:*",
            ["arn:aws:sns:eu-west-1:999999999999:t"],
            False,
        ),
        (
            "ArnNotEquals",
            "arn:aws:sns:us-east-1:111122223333:t",
            ["arn:aws:sns:us-east-1:111122223333:u"],
            True,
        ),
        (
            "ArnNotLike",
            "arn:aws:sns:*:111122223333:*",
            ["arn:aws:sns:eu-west-1:111122223333:t"],
            False,
        ),
    ],
)
def test_operator(
    operator: str, policy_values: Any, request_values: list[str], expected: bool
) -> None:
    assert holds(operator, "aws:Test", policy_values, {"aws:Test": request_values}) is expected


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("StringEquals", False),
        ("StringNotEquals", True),
        ("StringNotLike", True),
        ("ArnNotLike", True),
        ("NotIpAddress", True),
        ("NumericLessThan", False),
        ("StringEqualsIfExists", True),
        ("NumericLessThanIfExists", True),
        ("ForAnyValue:StringEquals", False),
        ("ForAllValues:StringEquals", True),
    ],
)
def test_missing_key(operator: str, expected: bool) -> None:
    assert holds(operator, "aws:Absent", "x", {}) is expected


def test_if_exists_applies_the_operator_when_present() -> None:
    assert holds("StringEqualsIfExists", "aws:Test", "a", {"aws:Test": ["a"]})
    assert not holds("StringEqualsIfExists", "aws:Test", "a", {"aws:Test": ["b"]})


def test_null() -> None:
    assert holds("Null", "aws:Test", "true", {})
    assert not holds("Null", "aws:Test", "true", {"aws:Test": ["x"]})
    assert holds("Null", "aws:Test", "false", {"aws:Test": ["x"]})
    assert not holds("Null", "aws:Test", "false", {})


def test_for_all_values() -> None:
    assert holds("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], {"aws:TagKeys": ["a"]})
    assert not holds(
        "ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], {"aws:TagKeys": ["a", "c"]}
    )
    assert holds("ForAllValues:StringEquals", "aws:TagKeys", ["a"], {"aws:TagKeys": []})
    assert holds("ForAllValues:StringNotEquals", "aws:TagKeys", ["x"], {"aws:TagKeys": ["a"]})


def test_for_any_value() -> None:
    assert holds("ForAnyValue:StringEquals", "aws:TagKeys", ["a"], {"aws:TagKeys": ["c", "a"]})
    assert not holds("ForAnyValue:StringEquals", "aws:TagKeys", ["a"], {"aws:TagKeys": ["c"]})
    assert holds("ForAnyValue:StringLike", "aws:TagKeys", ["a*"], {"aws:TagKeys": ["abc"]})
    assert holds("ForAnyValue:StringNotEquals", "aws:TagKeys", ["a"], {"aws:TagKeys": ["a", "b"]})


def test_keys_are_case_insensitive() -> None:
    assert holds("StringEquals", "AWS:TEST", "a", {"aws:test": ["a"]})


def test_values_may_use_variables() -> None:
    assert holds("StringEquals", "aws:Test", "${aws:username}", {"aws:Test": ["alice"]})
    assert holds("StringLike", "aws:Test", "home/${aws:username}/*", {"aws:Test": ["home/alice/x"]})


def test_multiple_keys_and_operators_must_all_hold() -> None:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:A": "1", "aws:B": "2"},
                        "Bool": {"aws:SecureTransport": "true"},
                    },
                }
            ],
        }
    )
    policy = parse_policy(document)

    def check(context: dict[str, list[str]]) -> bool:
        return evaluate(Request("s3:Get", "*", ALICE, context), [("p", policy)]).allowed

    assert check({"aws:a": ["1"], "aws:b": ["2"], "aws:securetransport": ["true"]})
    assert not check({"aws:a": ["1"], "aws:b": ["3"], "aws:securetransport": ["true"]})
    assert not check({"aws:a": ["1"], "aws:b": ["2"], "aws:securetransport": ["false"]})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("aws:PrincipalArn", f"arn:aws:iam::{ACCOUNT}:user/alice"),
        ("aws:PrincipalAccount", ACCOUNT),
        ("aws:PrincipalType", "User"),
        ("aws:userid", "AIDAALICE"),
        ("aws:username", "alice"),
        ("aws:PrincipalTag/team", "red"),
        ("aws:MultiFactorAuthPresent", "true"),
    ],
)
def test_global_keys_from_the_caller(key: str, value: str) -> None:
    assert holds("StringEquals", key, value, {})


def test_principal_arn_of_a_role_session_is_the_role() -> None:
    session = Caller(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s",
        ACCOUNT,
        "assumed-role",
        "AROA:s",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/app",
    )
    assert session.context["aws:principalarn"] == [f"arn:aws:iam::{ACCOUNT}:role/app"]
    assert session.context["aws:principaltype"] == ["AssumedRole"]
    assert "aws:username" not in session.context


def test_request_keys_current_time_and_source_ip() -> None:
    context = {
        "aws:CurrentTime": ["2030-01-01T00:00:00Z"],
        "aws:EpochTime": ["1893456000"],
        "aws:SourceIp": ["10.1.2.3"],
        "aws:RequestedRegion": ["eu-west-1"],
    }
    assert holds("DateGreaterThan", "aws:CurrentTime", "2029-12-31T00:00:00Z", context)
    assert holds("NumericGreaterThan", "aws:EpochTime", "1893455999", context)
    assert holds("IpAddress", "aws:SourceIp", "10.0.0.0/8", context)
    assert holds("StringEquals", "aws:RequestedRegion", ["eu-west-1", "eu-west-2"], context)
