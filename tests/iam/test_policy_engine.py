"""The policy engine on its own: documents, matching, variables and AWS's evaluation logic
(the cases the IAM User Guide walks through in "Policy evaluation logic")."""

from __future__ import annotations

import json
from typing import Any

from nubes.services.iam.policy import Caller, Request, evaluate, parse_policy
from nubes.services.iam.policy.document import Policy

ACCOUNT = "111122223333"
OTHER = "444455556666"
ALICE = Caller(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, "user", "AIDAALICE", "alice")
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app"
SESSION = Caller(
    f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1",
    ACCOUNT,
    "assumed-role",
    "AROAAPP:s1",
    role_arn=ROLE_ARN,
)
ROOT = Caller(f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "root", ACCOUNT)
STRANGER = Caller(f"arn:aws:iam::{OTHER}:user/eve", OTHER, "user", "AIDAEVE", "eve")


def policy(*statements: dict[str, Any], kind: str = "identity") -> Policy:
    return parse_policy(
        json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        kind,  # type: ignore[arg-type]
        validate=False,
    )


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(
    action: str,
    resource: str = "*",
    caller: Caller = ALICE,
    identity: list[Policy] | None = None,
    resource_policy: Policy | None = None,
    boundary: list[Policy] | None = None,
    session: list[Policy] | None = None,
    context: dict[str, list[str]] | None = None,
    owner: str | None = None,
) -> str:
    refs = [(f"p{i}", p) for i, p in enumerate(identity or [])]
    return evaluate(
        Request(action, resource, caller, context or {}, owner),
        refs,
        [("resource", resource_policy)] if resource_policy else [],
        [("b", p) for p in boundary] if boundary is not None else None,
        [("s", p) for p in session] if session is not None else None,
    ).decision


# -- evaluation logic --------------------------------------------------------------------------


def test_default_is_implicit_deny() -> None:
    assert decide("s3:GetObject") == "implicitDeny"


def test_identity_allow() -> None:
    assert decide("s3:GetObject", identity=[policy(allow("s3:GetObject"))]) == "allowed"


def test_explicit_deny_wins_over_allow() -> None:
    identity = [policy(allow("s3:*")), policy(deny("s3:DeleteObject"))]
    assert decide("s3:DeleteObject", identity=identity) == "explicitDeny"
    assert decide("s3:GetObject", identity=identity) == "allowed"


def test_actions_are_case_insensitive_resources_are_not() -> None:
    identity = [policy(allow("S3:getobject", "arn:aws:s3:::Bucket/*"))]
    assert decide("s3:GetObject", "arn:aws:s3:::Bucket/k", identity=identity) == "allowed"
    assert decide("s3:GetObject", "arn:aws:s3:::bucket/k", identity=identity) == "implicitDeny"


def test_wildcards_star_and_question_mark() -> None:
    identity = [policy(allow("sqs:Send*", "arn:aws:sqs:*:111122223333:queue-?"))]
    arn = "arn:aws:sqs:us-east-1:111122223333:queue-1"
    assert decide("sqs:SendMessage", arn, identity=identity) == "allowed"
    assert decide("sqs:SendMessageBatch", arn, identity=identity) == "allowed"
    assert decide("sqs:SendMessage", arn + "0", identity=identity) == "implicitDeny"
    assert decide("sqs:ReceiveMessage", arn, identity=identity) == "implicitDeny"


def test_not_action() -> None:
    identity = [policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})]
    assert decide("s3:PutObject", identity=identity) == "allowed"
    assert decide("iam:CreateUser", identity=identity) == "implicitDeny"


def test_not_resource() -> None:
    identity = [
        policy(allow("s3:*")),
        policy({"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::mine/*"}),
    ]
    assert decide("s3:GetObject", "arn:aws:s3:::mine/a", identity=identity) == "allowed"
    assert decide("s3:GetObject", "arn:aws:s3:::theirs/a", identity=identity) == "explicitDeny"


def test_permissions_boundary_limits_identity() -> None:
    identity = [policy(allow("*"))]
    boundary = [policy(allow("s3:*"))]
    assert decide("s3:GetObject", identity=identity, boundary=boundary) == "allowed"
    assert decide("iam:CreateUser", identity=identity, boundary=boundary) == "implicitDeny"
    # the boundary alone grants nothing
    assert decide("s3:GetObject", identity=[], boundary=boundary) == "implicitDeny"


def test_session_policy_limits_role() -> None:
    identity = [policy(allow("sqs:*"))]
    session = [policy(allow("sqs:ListQueues"))]
    assert decide("sqs:ListQueues", caller=SESSION, identity=identity, session=session) == "allowed"
    assert (
        decide("sqs:CreateQueue", caller=SESSION, identity=identity, session=session)
        == "implicitDeny"
    )


def test_empty_session_policy_set_allows_nothing() -> None:
    assert decide("s3:GetObject", identity=[policy(allow())], session=[]) == "implicitDeny"


def test_deny_in_session_policy_is_explicit() -> None:
    session = [policy(allow(), deny("s3:*"))]
    assert decide("s3:GetObject", identity=[policy(allow())], session=session) == "explicitDeny"


def test_resource_policy_naming_the_user_allows_without_identity_policy() -> None:
    bucket = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ALICE.arn},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
        },
        kind="resource",
    )
    arn = "arn:aws:s3:::b/k"
    assert decide("s3:GetObject", arn, resource_policy=bucket) == "allowed"
    # not limited by the boundary's implicit deny either
    assert decide("s3:GetObject", arn, resource_policy=bucket, boundary=[]) == "allowed"


def test_resource_policy_naming_the_account_needs_identity_allow() -> None:
    queue = policy(
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sqs:*", "Resource": "*"},
        kind="resource",
    )
    assert decide("sqs:SendMessage", resource_policy=queue) == "implicitDeny"
    assert (
        decide("sqs:SendMessage", resource_policy=queue, identity=[policy(allow("sqs:*"))])
        == "allowed"
    )


def test_resource_policy_naming_the_role_still_limited_by_session_policy() -> None:
    queue = policy(
        {"Effect": "Allow", "Principal": {"AWS": ROLE_ARN}, "Action": "sqs:*", "Resource": "*"},
        kind="resource",
    )
    assert decide("sqs:SendMessage", caller=SESSION, resource_policy=queue) == "allowed"
    session = [policy(allow("sqs:ReceiveMessage"))]
    assert (
        decide("sqs:SendMessage", caller=SESSION, resource_policy=queue, session=session)
        == "implicitDeny"
    )


def test_resource_policy_deny_wins() -> None:
    bucket = policy(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "*"},
        kind="resource",
    )
    assert (
        decide("s3:DeleteObject", identity=[policy(allow())], resource_policy=bucket)
        == "explicitDeny"
    )


def test_cross_account_needs_both_sides() -> None:
    identity = [policy(allow("sqs:SendMessage"))]
    queue_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"
    queue = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
        },
        kind="resource",
    )

    def stranger(**policies: Any) -> str:
        return decide("sqs:SendMessage", queue_arn, caller=STRANGER, owner=ACCOUNT, **policies)

    assert stranger(identity=identity) == "implicitDeny"
    assert stranger(resource_policy=queue) == "implicitDeny"
    assert stranger(identity=identity, resource_policy=queue) == "allowed"


def test_root_is_allowed_in_its_account_but_not_across() -> None:
    assert decide("iam:CreateUser", caller=ROOT) == "allowed"
    assert decide("sqs:SendMessage", caller=ROOT, owner=OTHER) == "implicitDeny"
    bucket = policy(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}, kind="resource"
    )
    assert decide("s3:GetObject", caller=ROOT, resource_policy=bucket) == "explicitDeny"


def test_not_principal() -> None:
    bucket = policy(
        {"Effect": "Deny", "NotPrincipal": {"AWS": ALICE.arn}, "Action": "s3:*", "Resource": "*"},
        kind="resource",
    )
    identity = [policy(allow())]
    assert decide("s3:GetObject", identity=identity, resource_policy=bucket) == "allowed"
    assert (
        decide(
            "s3:GetObject",
            caller=Caller(f"arn:aws:iam::{ACCOUNT}:user/bob", ACCOUNT, "user", "AIDABOB", "bob"),
            identity=identity,
            resource_policy=bucket,
        )
        == "explicitDeny"
    )


def test_service_and_federated_principals() -> None:
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        },
        kind="trust",
    )
    lam = Caller("lambda.amazonaws.com", ACCOUNT, "service", service="lambda.amazonaws.com")
    assert decide("sts:AssumeRole", ROLE_ARN, caller=lam, resource_policy=trust) == "allowed"
    assert decide("sts:AssumeRole", ROLE_ARN, resource_policy=trust) == "implicitDeny"


def test_reason_names_the_missing_policy() -> None:
    found = evaluate(Request("sqs:SendMessage", "*", ALICE), [])
    assert found.reason == "because no identity-based policy allows the sqs:SendMessage action"
    found = evaluate(Request("s3:Get", "*", ALICE), [("p", policy(deny()))])
    assert found.reason == "with an explicit deny in an identity-based policy"


def test_matched_statements_are_reported() -> None:
    found = evaluate(
        Request("s3:GetObject", "*", ALICE),
        [("one", policy(allow("s3:*"), allow("sqs:*"))), ("two", policy(allow("s3:Get*")))],
    )
    assert [(m.policy_id, m.statement.index) for m in found.matched] == [("one", 0), ("two", 0)]


# -- policy variables ---------------------------------------------------------------------------


def test_username_variable_in_resource() -> None:
    identity = [policy(allow("s3:*", "arn:aws:s3:::home/${aws:username}/*"))]
    assert decide("s3:GetObject", "arn:aws:s3:::home/alice/x", identity=identity) == "allowed"
    assert decide("s3:GetObject", "arn:aws:s3:::home/bob/x", identity=identity) == "implicitDeny"


def test_variable_values_are_literal_and_escapes() -> None:
    identity = [policy(allow("s3:*", "arn:aws:s3:::b/${*}/${?}/${$}"))]
    assert decide("s3:GetObject", "arn:aws:s3:::b/*/?/$", identity=identity) == "allowed"
    assert decide("s3:GetObject", "arn:aws:s3:::b/x/y/$", identity=identity) == "implicitDeny"


def test_missing_variable_does_not_match_unless_defaulted() -> None:
    missing = [policy(allow("s3:*", "arn:aws:s3:::b/${aws:PrincipalTag/team}/*"))]
    assert decide("s3:GetObject", "arn:aws:s3:::b/x/y", identity=missing) == "implicitDeny"
    default = [policy(allow("s3:*", "arn:aws:s3:::b/${aws:PrincipalTag/team, 'shared'}/*"))]
    assert decide("s3:GetObject", "arn:aws:s3:::b/shared/y", identity=default) == "allowed"
    tagged = Caller(ALICE.arn, ACCOUNT, "user", "AIDAALICE", "alice", tags={"team": "red"})
    assert (
        decide("s3:GetObject", "arn:aws:s3:::b/red/y", caller=tagged, identity=missing) == "allowed"
    )


def test_variables_need_version_2012() -> None:
    old = parse_policy(
        json.dumps(
            {
                "Version": "2008-10-17",
                "Statement": [allow("s3:*", "arn:aws:s3:::b/${aws:username}")],
            }
        ),
        validate=False,
    )
    assert decide("s3:GetObject", "arn:aws:s3:::b/alice", identity=[old]) == "implicitDeny"
    assert decide("s3:GetObject", "arn:aws:s3:::b/${aws:username}", identity=[old]) == "allowed"


def test_userid_variable_in_condition() -> None:
    identity = [policy(allow(Condition={"StringEquals": {"aws:userid": "${aws:userid}"}}))]
    assert decide("s3:GetObject", identity=identity) == "allowed"


def test_trust_policy_must_allow_even_within_the_account() -> None:
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"},
            "Action": "sts:AssumeRole",
        },
        kind="trust",
    )
    identity = [policy(allow("sts:AssumeRole"))]

    def assume(caller: Caller, ids: list[Policy]) -> str:
        request = Request("sts:AssumeRole", ROLE_ARN, caller, {}, ACCOUNT)
        refs = [("p", p) for p in ids]
        return evaluate(request, refs, [("trust", trust)], resource_must_allow=True).decision

    assert assume(ALICE, identity) == "implicitDeny"
    bob = Caller("arn:aws:iam::111122223333:user/bob", ACCOUNT, "user", "AIDABOB", "bob")
    assert assume(bob, []) == "allowed"


def test_chunk_signature_matches_the_aws_example() -> None:
    from nubes.gateway import sigv4
    from nubes.gateway.enforce import chunk_signature

    scope = sigv4.Scope("AKIAIOSFODNN7EXAMPLE", "20130524", "us-east-1", "s3")
    seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert chunk_signature(secret, scope, "20130524T000000Z", seed, b"a" * 65536) == (
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
    )
