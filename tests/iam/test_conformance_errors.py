"""What IAM answers to bad input, as real IAM does: name and path validation, NoSuchEntity per
entity type, DeleteConflict per dependency, trust policy validation, tag limits, access key
limits and list pagination defaults."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

Unique = Callable[[str], str]
ACCOUNT = "000000000000"
# Lets requests the SDK itself would refuse reach the server, to see what IAM says.
UNCHECKED = Config(retries={"max_attempts": 1}, parameter_validation=False)
DOC = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


def trust(**statement: Any) -> str:
    base = {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    base.update(statement)
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{k: v for k, v in base.items() if v is not None}]}
    )


@pytest.fixture
def iam(client: Callable[..., Any]) -> Any:
    return client("iam", config=UNCHECKED)


def failure(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


@pytest.mark.parametrize(
    ("call", "field", "limit"),
    [
        ("create_user", "UserName", 64),
        ("create_group", "GroupName", 128),
        ("create_instance_profile", "InstanceProfileName", 128),
    ],
)
def test_name_length_and_characters(iam: Any, call: str, field: str, limit: int) -> None:
    member = field[0].lower() + field[1:]
    with pytest.raises(ClientError) as exc:
        getattr(iam, call)(**{field: "a" * (limit + 1)})
    assert failure(exc) == (
        "ValidationError",
        f"1 validation error detected: Value '{'a' * (limit + 1)}' at '{member}' failed to "
        f"satisfy constraint: Member must have length less than or equal to {limit}",
        400,
    )
    with pytest.raises(ClientError) as exc:
        getattr(iam, call)(**{field: "has space"})
    code, message, status = failure(exc)
    assert (code, status) == ("ValidationError", 400)
    assert f"at '{member}' failed to satisfy constraint: Member must satisfy regular" in message


def test_role_and_policy_name_limits(iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="r" * 65, AssumeRolePolicyDocument=trust())
    assert failure(exc)[0] == "ValidationError"
    assert "Member must have length less than or equal to 64" in failure(exc)[1]
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName="p" * 129, PolicyDocument=DOC)
    assert "Member must have length less than or equal to 128" in failure(exc)[1]


@pytest.mark.parametrize("path", ["nopath", "/no-trailing", "no-leading/", "/a b/"])
def test_paths_must_start_and_end_with_a_slash(iam: Any, unique: Unique, path: str) -> None:
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=unique("p"), Path=path)
    code, message, status = failure(exc)
    assert (code, status) == ("ValidationError", 400)
    assert f"Value '{path}' at 'path' failed to satisfy constraint" in message


def test_nested_path_is_part_of_the_arn(iam: Any, unique: Unique) -> None:
    name = unique("p")
    user = iam.create_user(UserName=name, Path="/team/ops/")["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/ops/{name}"
    assert user["Path"] == "/team/ops/"


def test_no_such_entity_messages(iam: Any, unique: Unique) -> None:
    ghost = unique("ghost")
    cases = [
        (lambda: iam.get_user(UserName=ghost), f"The user with name {ghost} cannot be found."),
        (lambda: iam.get_role(RoleName=ghost), f"The role with name {ghost} cannot be found."),
        (lambda: iam.get_group(GroupName=ghost), f"The group with name {ghost} cannot be found."),
        (
            lambda: iam.get_instance_profile(InstanceProfileName=ghost),
            f"Instance Profile {ghost} cannot be found.",
        ),
        (
            lambda: iam.get_policy(PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/{ghost}"),
            f"Policy arn:aws:iam::{ACCOUNT}:policy/{ghost} was not found.",
        ),
        (
            lambda: iam.get_login_profile(UserName=ghost),
            f"The user with name {ghost} cannot be found.",
        ),
        (
            lambda: iam.create_access_key(UserName=ghost),
            f"The user with name {ghost} cannot be found.",
        ),
        (
            lambda: iam.update_assume_role_policy(RoleName=ghost, PolicyDocument=trust()),
            f"The role with name {ghost} cannot be found.",
        ),
    ]
    for call, message in cases:
        with pytest.raises(iam.exceptions.NoSuchEntityException) as exc:
            call()
        assert failure(exc) == ("NoSuchEntity", message, 404)


def test_no_such_entity_for_parts_of_a_user(iam: Any, unique: Unique) -> None:
    name = unique("u")
    iam.create_user(UserName=name)
    with pytest.raises(iam.exceptions.NoSuchEntityException) as exc:
        iam.get_login_profile(UserName=name)
    assert failure(exc) == ("NoSuchEntity", f"Login Profile for User {name} cannot be found.", 404)
    with pytest.raises(iam.exceptions.NoSuchEntityException) as exc:
        iam.get_user_policy(UserName=name, PolicyName="absent")
    assert failure(exc) == (
        "NoSuchEntity",
        "The user policy with name absent cannot be found.",
        404,
    )
    with pytest.raises(iam.exceptions.NoSuchEntityException) as exc:
        iam.delete_access_key(UserName=name, AccessKeyId="AKIAIOSFODNN7EXAMPLE")
    assert failure(exc) == (
        "NoSuchEntity",
        "The Access Key with id AKIAIOSFODNN7EXAMPLE cannot be found.",
        404,
    )


def test_delete_user_conflicts_in_order(iam: Any, unique: Unique) -> None:
    name, group = unique("u"), unique("g")
    iam.create_user(UserName=name)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=DOC)
    policy = iam.create_policy(PolicyName=unique("mp"), PolicyDocument=DOC)["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    iam.create_login_profile(UserName=name, Password="Str0ng-Passw0rd!")
    steps = [
        ("must delete login profile first", lambda: iam.delete_login_profile(UserName=name)),
        (
            "must delete access keys first",
            lambda: iam.delete_access_key(UserName=name, AccessKeyId=key),
        ),
        (
            "must delete policies first",
            lambda: iam.delete_user_policy(UserName=name, PolicyName="inline"),
        ),
        (
            "must detach all policies first",
            lambda: iam.detach_user_policy(UserName=name, PolicyArn=policy),
        ),
        (
            "must remove user from all groups first",
            lambda: iam.remove_user_from_group(GroupName=group, UserName=name),
        ),
    ]
    for what, undo in steps:
        with pytest.raises(iam.exceptions.DeleteConflictException) as exc:
            iam.delete_user(UserName=name)
        assert failure(exc) == ("DeleteConflict", f"Cannot delete entity, {what}.", 409)
        undo()
    iam.delete_user(UserName=name)


def test_delete_group_role_and_policy_conflicts(iam: Any, unique: Unique) -> None:
    user, group, role, profile = unique("u"), unique("g"), unique("r"), unique("ip")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    with pytest.raises(iam.exceptions.DeleteConflictException) as exc:
        iam.delete_group(GroupName=group)
    assert failure(exc) == (
        "DeleteConflict",
        "Cannot delete entity, must remove users from group first.",
        409,
    )
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust())
    policy = iam.create_policy(PolicyName=unique("mp"), PolicyDocument=DOC)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role, PolicyArn=policy)
    with pytest.raises(iam.exceptions.DeleteConflictException) as exc:
        iam.delete_role(RoleName=role)
    assert failure(exc)[1] == "Cannot delete entity, must detach all policies first."
    with pytest.raises(iam.exceptions.DeleteConflictException) as exc:
        iam.delete_policy(PolicyArn=policy)
    assert failure(exc)[1] == "Cannot delete a policy attached to entities."
    iam.detach_role_policy(RoleName=role, PolicyArn=policy)
    iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=DOC)
    with pytest.raises(iam.exceptions.DeleteConflictException) as exc:
        iam.delete_role(RoleName=role)
    assert failure(exc)[1] == "Cannot delete entity, must delete policies first."
    iam.delete_role_policy(RoleName=role, PolicyName="inline")
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    with pytest.raises(iam.exceptions.DeleteConflictException) as exc:
        iam.delete_role(RoleName=role)
    assert failure(exc)[1] == "Cannot delete entity, must remove roles from instance profile first."
    with pytest.raises(iam.exceptions.LimitExceededException) as limit:
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    assert failure(limit) == (
        "LimitExceeded",
        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
        409,
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "Syntax errors in policy."),
        (trust(Resource="*"), "Has prohibited field Resource."),
        (trust(Principal=None), "Missing required field Principal"),
        (trust(Action=None), "Policy statement must contain actions."),
        (
            trust(Action="s3:GetObject"),
            "AssumeRole policy may only specify STS AssumeRole actions.",
        ),
        (trust(Effect="Maybe"), "Syntax errors in policy."),
        (
            trust(Principal={"AWS": []}),
            "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The "
            "passed in policy has a statement with no principals!",
        ),
        (
            trust(Principal={"Service": "amazonaws.com"}),
            'Invalid principal in policy: "SERVICE":"amazonaws.com"',
        ),
        (
            trust(Principal={"Service": "lambda"}),
            'Invalid principal in policy: "SERVICE":"lambda"',
        ),
        (
            trust(Principal={"AWS": "not-an-arn"}),
            'Invalid principal in policy: "AWS":"not-an-arn"',
        ),
        (
            trust(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/no-such-role-here"}),
            f'Invalid principal in policy: "AWS":"arn:aws:iam::{ACCOUNT}:role/no-such-role-here"',
        ),
        (
            trust(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/no-such-user-here"}),
            f'Invalid principal in policy: "AWS":"arn:aws:iam::{ACCOUNT}:user/no-such-user-here"',
        ),
    ],
)
def test_trust_policy_validation(iam: Any, unique: Unique, document: str, message: str) -> None:
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException) as exc:
        iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=document)
    assert failure(exc) == ("MalformedPolicyDocument", message, 400)


def test_trust_policy_principals_that_resolve(iam: Any, unique: Unique) -> None:
    user = iam.create_user(UserName=unique("u"))["User"]["Arn"]
    for principal in ("*", "123456789012", f"arn:aws:iam::{ACCOUNT}:root", user):
        role = unique("r")
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(Principal={"AWS": principal}))
        got = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        assert got["Statement"][0]["Principal"] == {"AWS": principal}
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.update_assume_role_policy(
            RoleName=role, PolicyDocument=trust(Principal={"AWS": "not-an-arn"})
        )


def test_tag_limits_on_users_and_roles(iam: Any, unique: Unique) -> None:
    name = unique("u")
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=name, Tags=many)
    code, message, _ = failure(exc)
    assert code == "ValidationError"
    assert (
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal "
        "to 50" in message
    )
    iam.create_user(UserName=name, Tags=many[:50])
    with pytest.raises(iam.exceptions.LimitExceededException) as limit:
        iam.tag_user(UserName=name, Tags=[{"Key": "extra", "Value": "v"}])
    assert failure(limit)[:2] == (
        "LimitExceeded",
        "The number of tags has reached the maximum limit.",
    )
    role = unique("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust())
    with pytest.raises(iam.exceptions.InvalidInputException) as dup:
        iam.tag_role(
            RoleName=role, Tags=[{"Key": "Team", "Value": "a"}, {"Key": "team", "Value": "b"}]
        )
    assert failure(dup) == (
        "InvalidInput",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        400,
    )
    with pytest.raises(ClientError) as bad:
        iam.tag_role(RoleName=role, Tags=[{"Key": "bad!", "Value": "v"}])
    assert failure(bad) == (
        "ValidationError",
        "1 validation error detected: Value 'bad!' at 'tags.1.member.key' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
        400,
    )
    iam.tag_role(RoleName=role, Tags=[{"Key": "Ünïcode key 1 _.:/=+-@", "Value": "v"}])
    assert iam.list_role_tags(RoleName=role)["Tags"] == [
        {"Key": "Ünïcode key 1 _.:/=+-@", "Value": "v"}
    ]


def test_access_key_quota(iam: Any, unique: Unique) -> None:
    name = unique("u")
    iam.create_user(UserName=name)
    iam.create_access_key(UserName=name)
    iam.create_access_key(UserName=name)
    with pytest.raises(iam.exceptions.LimitExceededException) as exc:
        iam.create_access_key(UserName=name)
    assert failure(exc) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409)


def test_get_user_without_a_name_is_the_caller(iam: Any) -> None:
    user = iam.get_user()["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert user["UserId"] == ACCOUNT


def test_list_defaults_to_a_hundred_items(iam: Any, unique: Unique) -> None:
    prefix = f"/{unique('page')}/"
    for i in range(101):
        iam.create_group(GroupName=f"{prefix.strip('/')}-{i:03}", Path=prefix)
    first = iam.list_groups(PathPrefix=prefix)
    assert len(first["Groups"]) == 100
    assert first["IsTruncated"] is True
    rest = iam.list_groups(PathPrefix=prefix, Marker=first["Marker"])
    assert len(rest["Groups"]) == 1
    assert rest["IsTruncated"] is False
    assert "Marker" not in rest
    with pytest.raises(ClientError) as exc:
        iam.list_groups(MaxItems=0)
    assert failure(exc)[0] == "ValidationError"


def test_service_linked_roles_are_only_modifiable_by_their_service(iam: Any) -> None:
    role = iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")["Role"]
    name = role["RoleName"]
    message = (
        f"Cannot perform the operation on the protected role '{name}' - this role is only "
        "modifiable by AWS"
    )
    calls = [
        lambda: iam.delete_role(RoleName=name),
        lambda: iam.put_role_policy(RoleName=name, PolicyName="extra", PolicyDocument=DOC),
        lambda: iam.delete_role_policy(RoleName=name, PolicyName="extra"),
        lambda: iam.attach_role_policy(
            RoleName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
        ),
        lambda: iam.detach_role_policy(
            RoleName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
        ),
        lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust()),
    ]
    for call in calls:
        with pytest.raises(iam.exceptions.UnmodifiableEntityException) as exc:
            call()
        assert failure(exc) == ("UnmodifiableEntity", message, 400)
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []


def test_caller_defaults_need_user_credentials(
    iam: Any, client: Callable[..., Any], endpoint: str, unique: Unique
) -> None:
    role = unique("r")
    root = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(Principal=root))["Role"][
        "Arn"
    ]
    creds = client("sts").assume_role(RoleArn=arn, RoleSessionName="s1")["Credentials"]
    session = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=UNCHECKED,
    )
    for call in (session.get_user, session.list_access_keys, session.create_access_key):
        with pytest.raises(ClientError) as exc:
            call()
        assert failure(exc) == (
            "ValidationError",
            "Must specify userName when calling with non-User credentials",
            400,
        )
