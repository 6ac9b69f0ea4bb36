"""Lambda's errors as AWS words them per operation (issue 16; the API reference's errors for
each operation): ``Function not found: <arn>`` naming the qualified ARN asked for, alias and
version conflicts, the qualifier rules, functions named by the ARN of another region or account,
and $LATEST in the ARNs where AWS includes it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_.conftest import ROLE, zipped
from tests.server import NubesProcess

SOURCE = {"app.py": "def handler(event, context):\n    return event\n"}
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


def _failure(call: Callable[..., Any], **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        call(**params)
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


def test_missing_function_is_named_by_its_arn(lam: Any, unique: Callable[[str], str]) -> None:
    name = unique("gone")
    expected = ("ResourceNotFoundException", f"Function not found: {ARN}{name}")
    calls: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (lam.get_function, {}),
        (lam.get_function_configuration, {}),
        (lam.invoke, {}),
        (lam.delete_function, {}),
        (lam.publish_version, {}),
        (lam.update_function_code, {"ZipFile": zipped(SOURCE)}),
        (lam.update_function_configuration, {"Timeout": 5}),
        (lam.list_versions_by_function, {}),
        (lam.list_aliases, {}),
        (lam.put_function_concurrency, {"ReservedConcurrentExecutions": 1}),
        (lam.get_function_concurrency, {}),
    ]
    for call, params in calls:
        assert _failure(call, FunctionName=name, **params) == expected, call
    assert _failure(lam.list_tags, Resource=f"{ARN}{name}") == expected


def test_versions_aliases_and_qualifiers(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function(SOURCE)
    arn = f"{ARN}{name}"
    assert _failure(lam.get_function_configuration, FunctionName=name, Qualifier="7") == (
        "ResourceNotFoundException",
        f"Function not found: {arn}:7",
    )
    assert _failure(lam.get_function, FunctionName=name, Qualifier="nope") == (
        "ResourceNotFoundException",
        f"Function not found: {arn}:nope",
    )
    assert _failure(lam.create_alias, FunctionName=name, Name="live", FunctionVersion="9") == (
        "ResourceNotFoundException",
        f"Function not found: {arn}:9",
    )
    version = lam.publish_version(FunctionName=name)
    assert version["FunctionArn"] == f"{arn}:1"
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert alias["AliasArn"] == f"{arn}:live"
    assert _failure(lam.create_alias, FunctionName=name, Name="live", FunctionVersion="1") == (
        "ResourceConflictException",
        f"Alias already exists: {arn}:live",
    )
    assert _failure(lam.get_alias, FunctionName=name, Name="other") == (
        "ResourceNotFoundException",
        f"Cannot find alias arn: {arn}:other",
    )
    assert _failure(lam.update_alias, FunctionName=name, Name="other", FunctionVersion="1") == (
        "ResourceNotFoundException",
        f"Alias not found: {arn}:other",
    )
    assert _failure(lam.invoke, FunctionName=name, Qualifier="other") == (
        "ResourceNotFoundException",
        f"Function not found: {arn}:other",
    )
    assert _failure(lam.delete_function, FunctionName=name, Qualifier="live") == (
        "InvalidParameterValueException",
        "Deletion of aliases is not currently supported.",
    )
    assert _failure(lam.delete_function, FunctionName=name, Qualifier="$LATEST") == (
        "InvalidParameterValueException",
        "$LATEST version cannot be deleted without deleting the function.",
    )
    assert _failure(lam.get_function, FunctionName=f"{name}:1", Qualifier="2") == (
        "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.",
    )
    assert _failure(
        lam.create_function,
        FunctionName=name,
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": zipped(SOURCE)},
    ) == ("ResourceConflictException", f"Function already exist: {name}")
    # $LATEST is named in the ARN when the request qualified with it.
    latest = lam.get_function_configuration(FunctionName=name, Qualifier="$LATEST")
    assert latest["FunctionArn"] == f"{arn}:$LATEST"
    assert lam.get_function_configuration(FunctionName=name)["FunctionArn"] == arn
    # An alias qualifies the ARN by its name; Version is the version it points to.
    by_alias = lam.get_function_configuration(FunctionName=name, Qualifier="live")
    assert (by_alias["FunctionArn"], by_alias["Version"]) == (f"{arn}:live", "1")
    assert lam.get_function(FunctionName=f"{name}:live")["Configuration"]["FunctionArn"] == (
        f"{arn}:live"
    )
    by_version = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert by_version["FunctionArn"] == f"{arn}:1"
    invoked = lam.invoke(FunctionName=name, Qualifier="$LATEST", Payload=b"{}")
    assert invoked["ExecutedVersion"] == "$LATEST"


def test_timeout_above_fifteen_minutes_is_a_validation_error(
    lam: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(SOURCE)
    assert _failure(lam.update_function_configuration, FunctionName=name, Timeout=1200) == (
        "ValidationException",
        "1 validation error detected: Value '1200' at 'timeout' failed to satisfy constraint: "
        "Member must have value less than or equal to 900",
    )
    assert lam.get_function_configuration(FunctionName=name)["Timeout"] == 3


def test_permissions_and_configs_that_are_not_there(
    lam: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(SOURCE)
    assert _failure(lam.get_policy, FunctionName=name) == (
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )
    assert _failure(lam.remove_permission, FunctionName=name, StatementId="s1") == (
        "ResourceNotFoundException",
        "Statement s1 is not found in resource policy.",
    )
    permission = {
        "FunctionName": name,
        "StatementId": "s1",
        "Action": "lambda:InvokeFunction",
        "Principal": "sns.amazonaws.com",
    }
    lam.add_permission(**permission)
    assert _failure(lam.add_permission, **permission) == (
        "ResourceConflictException",
        "The statement id (s1) provided already exists. Please provide a new statement id, or "
        "remove the existing statement.",
    )
    assert _failure(lam.get_function_event_invoke_config, FunctionName=name) == (
        "ResourceNotFoundException",
        f"The function {ARN}{name}:$LATEST doesn't have an EventInvokeConfig",
    )


def test_a_function_of_another_region_is_not_reachable(
    lam: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(SOURCE)
    other = f"arn:aws:lambda:us-west-2:000000000000:function:{name}"
    for call in (lam.get_function, lam.invoke, lam.delete_function):
        assert _failure(call, FunctionName=other) == (
            "InvalidParameterValueException",
            "Functions from 'us-west-2' are not reachable in this region ('us-east-1')",
        )
    # The refusal changed nothing.
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


def test_a_function_of_another_account_is_found_by_its_arn(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    owner = client("lambda", aws_access_key_id="111111111111", aws_secret_access_key="x")
    caller = client("lambda")
    name = unique("theirs")
    created = owner.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="app.handler",
        Role="arn:aws:iam::111111111111:role/lambda-role",
        Code={"ZipFile": zipped(SOURCE)},
    )
    try:
        arn = created["FunctionArn"]
        assert arn == f"arn:aws:lambda:us-east-1:111111111111:function:{name}"
        # By name the caller looks in its own account; by ARN in the owner's (IAM enforcement,
        # off here, would ask the function's resource policy).
        assert _failure(caller.get_function, FunctionName=name) == (
            "ResourceNotFoundException",
            f"Function not found: {ARN}{name}",
        )
        got = caller.get_function_configuration(FunctionName=arn)
        assert got["FunctionArn"] == arn
        partial = caller.get_function_configuration(FunctionName=f"111111111111:function:{name}")
        assert partial["FunctionArn"] == arn
    finally:
        owner.delete_function(FunctionName=name)


def test_another_accounts_function_under_iam_enforcement(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    """Cross-account calls by ARN reach the owner's function only as its resource policy
    allows (Lambda developer guide, "Granting function access to other accounts")."""
    server = nubes_factory(persistent=False, env={"NUBES_ENFORCE_IAM": "1"})
    caller = server.client("lambda", aws_access_key_id="111111111111", aws_secret_access_key="test")
    owner = server.client("lambda", aws_access_key_id="222222222222", aws_secret_access_key="test")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    server.client(
        "iam", aws_access_key_id="222222222222", aws_secret_access_key="test"
    ).create_role(RoleName="runner", AssumeRolePolicyDocument=json.dumps(trust))
    arn = owner.create_function(
        FunctionName="shared",
        Runtime="python3.12",
        Handler="app.handler",
        Role="arn:aws:iam::222222222222:role/runner",
        Code={"ZipFile": zipped(SOURCE)},
    )["FunctionArn"]
    owner.get_waiter("function_active_v2").wait(FunctionName="shared")
    code, message = _failure(caller.invoke, FunctionName=arn, Payload=b"{}")
    assert code == "AccessDeniedException"
    assert "no resource-based policy allows the lambda:InvokeFunction action" in message
    owner.add_permission(
        FunctionName="shared",
        StatementId="caller",
        Action="lambda:InvokeFunction",
        Principal="111111111111",
    )
    answer = caller.invoke(FunctionName=arn, Payload=b'{"from": "caller"}')
    assert json.loads(answer["Payload"].read()) == {"from": "caller"}
    # The grant covers invoking only.
    assert _failure(caller.get_function, FunctionName=arn)[0] == "AccessDeniedException"
