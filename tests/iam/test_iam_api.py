"""IAM's API through boto3: principals, policies, credentials, account settings, with AWS's
limits, ids, messages and pagination."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sts.oidc_idp import self_signed

Unique = Callable[[str], str]
DOC = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)
TRUST = json.dumps(
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


@pytest.fixture
def iam(client: Callable[..., Any]) -> Any:
    return client("iam")


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_user_lifecycle(iam: Any, unique: Unique) -> None:
    name = unique("user")
    user = iam.create_user(UserName=name, Path="/eng/", Tags=[{"Key": "team", "Value": "a"}])[
        "User"
    ]
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 21
    assert user["Arn"] == f"arn:aws:iam::000000000000:user/eng/{name}"
    assert user["Tags"] == [{"Key": "team", "Value": "a"}]
    assert iam.get_user(UserName=name.upper())["User"]["UserName"] == name
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=name.upper())
    assert error(exc) == ("EntityAlreadyExists", f"User with name {name.upper()} already exists.")
    renamed = unique("renamed")
    iam.update_user(UserName=name, NewUserName=renamed, NewPath="/ops/")
    got = iam.get_user(UserName=renamed)["User"]
    assert got["Arn"].endswith(f":user/ops/{renamed}") and got["UserId"] == user["UserId"]
    assert iam.list_user_tags(UserName=renamed)["Tags"] == [{"Key": "team", "Value": "a"}]
    iam.delete_user(UserName=renamed)
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName=renamed)
    assert error(exc) == ("NoSuchEntity", f"The user with name {renamed} cannot be found.")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_get_user_without_name_is_the_caller(iam: Any) -> None:
    assert iam.get_user()["User"]["Arn"] == "arn:aws:iam::000000000000:root"


def test_list_users_paginates_with_marker(iam: Any, unique: Unique) -> None:
    path = f"/{unique('p')}/"
    names = sorted(unique("u") for _ in range(5))
    for name in names:
        iam.create_user(UserName=name, Path=path)
    first = iam.list_users(PathPrefix=path, MaxItems=2)
    assert [u["UserName"] for u in first["Users"]] == names[:2] and first["IsTruncated"]
    rest = iam.list_users(PathPrefix=path, Marker=first["Marker"], MaxItems=10)
    assert [u["UserName"] for u in rest["Users"]] == names[2:] and not rest["IsTruncated"]
    paged = [
        u["UserName"]
        for page in iam.get_paginator("list_users").paginate(
            PathPrefix=path, PaginationConfig={"PageSize": 2}
        )
        for u in page["Users"]
    ]
    assert paged == names


def test_groups_and_membership(iam: Any, unique: Unique) -> None:
    group, user = unique("group"), unique("user")
    created = iam.create_group(GroupName=group)["Group"]
    assert created["GroupId"].startswith("AGPA")
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    got = iam.get_group(GroupName=group)
    assert [u["UserName"] for u in got["Users"]] == [user]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    with pytest.raises(ClientError) as exc:
        iam.delete_group(GroupName=group)
    assert error(exc) == (
        "DeleteConflict",
        "Cannot delete entity, must remove users from group first.",
    )
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=user)
    assert error(exc)[0] == "DeleteConflict"
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=user)


def test_roles(iam: Any, unique: Unique) -> None:
    name = unique("role")
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=TRUST,
        Description="d",
        MaxSessionDuration=7200,
        Tags=[{"Key": "k", "Value": "v"}],
    )["Role"]
    assert role["RoleId"].startswith("AROA")
    assert role["AssumeRolePolicyDocument"] == json.loads(TRUST)
    got = iam.get_role(RoleName=name)["Role"]
    assert got["MaxSessionDuration"] == 7200 and got["Description"] == "d"
    assert got["Tags"] == [{"Key": "k", "Value": "v"}]
    iam.update_role(RoleName=name, MaxSessionDuration=3600)
    assert iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 3600
    new_trust = TRUST.replace("lambda", "ec2")
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=new_trust)
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == json.loads(new_trust)
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=DOC)
    assert error(exc) == ("MalformedPolicyDocument", "Missing required field Principal")
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=name)
    assert error(exc) == ("NoSuchEntity", f"The role with name {name} cannot be found.")


def test_permissions_boundary(iam: Any, unique: Unique) -> None:
    policy = iam.create_policy(PolicyName=unique("pb"), PolicyDocument=DOC)["Policy"]
    user = unique("user")
    iam.create_user(UserName=user, PermissionsBoundary=policy["Arn"])
    assert iam.get_user(UserName=user)["User"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": policy["Arn"],
    }
    assert iam.get_policy(PolicyArn=policy["Arn"])["Policy"]["PermissionsBoundaryUsageCount"] == 1
    iam.delete_user_permissions_boundary(UserName=user)
    assert "PermissionsBoundary" not in iam.get_user(UserName=user)["User"]
    role = unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=policy["Arn"])
    assert (
        iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"]
        == (policy["Arn"])
    )


def test_instance_profiles(iam: Any, unique: Unique) -> None:
    profile, role = unique("ip"), unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    created = iam.create_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
    assert created["InstanceProfileId"].startswith("AIPA") and created["Roles"] == []
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    got = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == [role]
    with pytest.raises(ClientError) as exc:
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    assert error(exc)[0] == "LimitExceeded"
    listed = iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in listed] == [profile]
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=role)
    assert error(exc) == (
        "DeleteConflict",
        "Cannot delete entity, must remove roles from instance profile first.",
    )
    iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=profile)
    iam.delete_role(RoleName=role)


def test_managed_policy_versions(iam: Any, unique: Unique) -> None:
    policy = iam.create_policy(PolicyName=unique("pol"), PolicyDocument=DOC, Description="x")[
        "Policy"
    ]
    arn = policy["Arn"]
    assert policy["PolicyId"].startswith("ANPA") and policy["DefaultVersionId"] == "v1"
    for _ in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=DOC)
    with pytest.raises(ClientError) as exc:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=DOC)
    assert error(exc) == (
        "LimitExceeded",
        "A managed policy can have up to 5 versions. Before you create a new version, you "
        "must delete an existing version.",
    )
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v3")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["IsDefaultVersion"] for v in versions] == [False, False, True, False, False]
    with pytest.raises(ClientError) as exc:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert error(exc) == ("DeleteConflict", "Cannot delete the default version of a policy.")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v5")
    created = iam.create_policy_version(PolicyArn=arn, PolicyDocument=DOC, SetAsDefault=True)
    assert created["PolicyVersion"]["VersionId"] == "v6"
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v6")["PolicyVersion"]
    assert version["Document"] == json.loads(DOC) and version["IsDefaultVersion"]
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error(exc)[0] == "DeleteConflict"
    for v in ("v1", "v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=arn)
    assert error(exc) == ("NoSuchEntity", f"Policy {arn} was not found.")


def test_malformed_and_oversized_policies(iam: Any, unique: Unique) -> None:
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName=unique("p"), PolicyDocument="{")
    assert error(exc) == ("MalformedPolicyDocument", "Syntax errors in policy.")
    statement = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/" + "x" * 6200,
    }
    big = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName=unique("p"), PolicyDocument=big)
    assert error(exc) == ("LimitExceeded", "Cannot exceed quota for PolicySize: 6144")
    user = unique("user")
    iam.create_user(UserName=user)
    statement["Resource"] = "arn:aws:s3:::b/" + "x" * 2000
    with pytest.raises(ClientError) as exc:
        iam.put_user_policy(
            UserName=user,
            PolicyName="p",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
    assert error(exc) == (
        "LimitExceeded",
        f"Maximum policy size of 2048 bytes exceeded for user {user}",
    )


def test_attachments_and_entities_for_policy(iam: Any, unique: Unique) -> None:
    arn = iam.create_policy(PolicyName=unique("pol"), PolicyDocument=DOC)["Policy"]["Arn"]
    user, group, role = unique("u"), unique("g"), unique("r")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == [group]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [role]
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert {p["PolicyArn"] for p in attached} == {arn, "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    with pytest.raises(ClientError) as exc:
        iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/Nope")
    assert error(exc) == (
        "NoSuchEntity",
        "Policy arn:aws:iam::aws:policy/Nope does not exist or is not attachable.",
    )
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=role)
    assert error(exc) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.")
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    assert error(exc)[0] == "NoSuchEntity"


def test_attached_policy_quota(iam: Any, unique: Unique) -> None:
    role = unique("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    arns = [
        iam.create_policy(PolicyName=unique("p"), PolicyDocument=DOC)["Policy"]["Arn"]
        for _ in range(11)
    ]
    for arn in arns[:10]:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName=role, PolicyArn=arns[10])
    assert error(exc) == ("LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10")


def test_list_policies_scopes(iam: Any, unique: Unique) -> None:
    path = f"/{unique('scope')}/"
    arn = iam.create_policy(PolicyName=unique("p"), Path=path, PolicyDocument=DOC)["Policy"]["Arn"]
    aws = {p["PolicyName"] for p in iam.list_policies(Scope="AWS", MaxItems=1000)["Policies"]}
    assert {"AdministratorAccess", "ReadOnlyAccess", "AmazonS3FullAccess"} <= aws
    local = iam.list_policies(Scope="Local", PathPrefix=path)["Policies"]
    assert [p["Arn"] for p in local] == [arn]
    assert iam.list_policies(Scope="Local", PathPrefix=path, OnlyAttached=True)["Policies"] == []
    admin = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")["Policy"]
    version = iam.get_policy_version(PolicyArn=admin["Arn"], VersionId=admin["DefaultVersionId"])
    assert version["PolicyVersion"]["Document"]["Statement"] == [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}
    ]


def test_inline_policies(iam: Any, unique: Unique) -> None:
    role = unique("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName=role, PolicyName="b", PolicyDocument=DOC)
    iam.put_role_policy(RoleName=role, PolicyName="a", PolicyDocument=DOC)
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["a", "b"]
    got = iam.get_role_policy(RoleName=role, PolicyName="a")
    assert got["PolicyDocument"] == json.loads(DOC) and got["RoleName"] == role
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=role)
    assert error(exc) == ("DeleteConflict", "Cannot delete entity, must delete policies first.")
    iam.delete_role_policy(RoleName=role, PolicyName="a")
    with pytest.raises(ClientError) as exc:
        iam.get_role_policy(RoleName=role, PolicyName="a")
    assert error(exc) == ("NoSuchEntity", "The role policy with name a cannot be found.")
    with pytest.raises(ClientError) as exc:
        iam.put_role_policy(
            RoleName=role,
            PolicyName="c",
            PolicyDocument=DOC.replace('"Effect"', '"Principal": "*", "Effect"'),
        )
    assert error(exc) == (
        "MalformedPolicyDocument",
        "Policy document should not specify a principal.",
    )


def test_access_keys(iam: Any, unique: Unique) -> None:
    user = unique("u")
    iam.create_user(UserName=user)
    first = iam.create_access_key(UserName=user)["AccessKey"]
    assert first["AccessKeyId"].startswith("AKIA") and len(first["AccessKeyId"]) == 20
    assert len(first["SecretAccessKey"]) == 40 and first["Status"] == "Active"
    iam.create_access_key(UserName=user)
    with pytest.raises(ClientError) as exc:
        iam.create_access_key(UserName=user)
    assert error(exc) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
    iam.update_access_key(UserName=user, AccessKeyId=first["AccessKeyId"], Status="Inactive")
    keys = {
        k["AccessKeyId"]: k["Status"]
        for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    }
    assert keys[first["AccessKeyId"]] == "Inactive"
    used = iam.get_access_key_last_used(AccessKeyId=first["AccessKeyId"])
    assert used["UserName"] == user
    assert used["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}
    iam.delete_access_key(UserName=user, AccessKeyId=first["AccessKeyId"])
    with pytest.raises(ClientError) as exc:
        iam.delete_access_key(UserName=user, AccessKeyId=first["AccessKeyId"])
    assert error(exc) == (
        "NoSuchEntity",
        f"The Access Key with id {first['AccessKeyId']} cannot be found.",
    )


def test_login_profile_and_password_policy(iam: Any, unique: Unique) -> None:
    user = unique("u")
    iam.create_user(UserName=user)
    profile = iam.create_login_profile(
        UserName=user, Password="Secret-123", PasswordResetRequired=True
    )
    assert profile["LoginProfile"]["PasswordResetRequired"] is True
    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName=user, Password="Secret-123")
    assert error(exc) == ("EntityAlreadyExists", f"Login Profile for user {user} already exists.")
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["UserName"] == user
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=user)
    assert error(exc) == (
        "DeleteConflict",
        "Cannot delete entity, must delete login profile first.",
    )
    iam.delete_login_profile(UserName=user)
    with pytest.raises(ClientError) as exc:
        iam.get_login_profile(UserName=user)
    assert error(exc) == ("NoSuchEntity", f"Login Profile for User {user} cannot be found.")


def test_account_settings(nubes_factory: Callable[..., Any]) -> None:
    iam = nubes_factory(persistent=False).client("iam")
    with pytest.raises(ClientError) as exc:
        iam.get_account_password_policy()
    assert error(exc) == (
        "NoSuchEntity",
        "The Password Policy with domain name 000000000000 cannot be found.",
    )
    iam.update_account_password_policy(MinimumPasswordLength=12, RequireNumbers=True)
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 12 and policy["RequireNumbers"] is True
    iam.create_user(UserName="pw")
    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName="pw", Password="short")
    assert error(exc)[0] == "PasswordPolicyViolation"
    iam.delete_account_password_policy()
    iam.create_account_alias(AccountAlias="my-alias")
    assert iam.list_account_aliases()["AccountAliases"] == ["my-alias"]
    iam.delete_account_alias(AccountAlias="my-alias")
    assert iam.list_account_aliases()["AccountAliases"] == []
    with pytest.raises(ClientError) as exc:
        iam.get_credential_report()
    assert error(exc)[0] == "ReportNotPresent"
    assert iam.generate_credential_report()["State"] == "STARTED"
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    report = iam.get_credential_report()
    lines = report["Content"].decode().splitlines()
    assert lines[0].startswith("user,arn,user_creation_time,password_enabled")
    assert lines[1].startswith("<root_account>,arn:aws:iam::000000000000:root,")
    assert lines[2].startswith("pw,arn:aws:iam::000000000000:user/pw,")
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["Users"] == 1 and summary["UsersQuota"] == 5000


def test_account_authorization_details(nubes_factory: Callable[..., Any]) -> None:
    iam = nubes_factory(persistent=False).client("iam")
    iam.create_user(UserName="u")
    iam.create_group(GroupName="g")
    iam.add_user_to_group(GroupName="g", UserName="u")
    iam.put_user_policy(UserName="u", PolicyName="inline", PolicyDocument=DOC)
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="r", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    arn = iam.create_policy(PolicyName="mine", PolicyDocument=DOC)["Policy"]["Arn"]
    details = iam.get_account_authorization_details()
    user = details["UserDetailList"][0]
    assert user["GroupList"] == ["g"] and user["UserPolicyList"][0]["PolicyName"] == "inline"
    assert user["UserPolicyList"][0]["PolicyDocument"] == json.loads(DOC)
    role = details["RoleDetailList"][0]
    assert role["AttachedManagedPolicies"][0]["PolicyName"] == "ReadOnlyAccess"
    assert {p["Arn"] for p in details["Policies"]} == {
        arn,
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    }
    only_roles = iam.get_account_authorization_details(Filter=["Role"])
    assert only_roles["UserDetailList"] == [] and len(only_roles["RoleDetailList"]) == 1


def test_service_linked_role(iam: Any) -> None:
    role = iam.create_service_linked_role(
        AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="x1"
    )["Role"]
    assert role["RoleName"] == "AWSServiceRoleForAutoScaling_x1"
    assert role["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=role["RoleName"])
    assert error(exc)[0] == "UnmodifiableEntity"
    task = iam.delete_service_linked_role(RoleName=role["RoleName"])["DeletionTaskId"]
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"


def test_identity_providers(iam: Any, unique: Unique) -> None:
    host = f"{unique('idp')}.example.com"
    arn = iam.create_open_id_connect_provider(
        Url=f"https://{host}", ClientIDList=["app"], ThumbprintList=["a" * 40]
    )["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::000000000000:oidc-provider/{host}"
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="other")
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == host and got["ClientIDList"] == ["app", "other"]
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url=f"https://{host}", ThumbprintList=["a" * 40])
    assert error(exc)[0] == "EntityAlreadyExists"
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    name = unique("saml")
    saml = iam.create_saml_provider(Name=name, SAMLMetadataDocument="x" * 1000)["SAMLProviderArn"]
    assert saml == f"arn:aws:iam::000000000000:saml-provider/{name}"
    assert iam.get_saml_provider(SAMLProviderArn=saml)["SAMLMetadataDocument"] == "x" * 1000
    assert saml in [p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]]
    iam.delete_saml_provider(SAMLProviderArn=saml)


def test_mfa_devices(iam: Any, unique: Unique) -> None:
    user, device = unique("u"), unique("mfa")
    iam.create_user(UserName=user)
    created = iam.create_virtual_mfa_device(VirtualMFADeviceName=device)["VirtualMFADevice"]
    serial = created["SerialNumber"]
    assert serial == f"arn:aws:iam::000000000000:mfa/{device}" and created["Base32StringSeed"]
    iam.enable_mfa_device(
        UserName=user,
        SerialNumber=serial,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName=user)["MFADevices"]] == [
        serial
    ]
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert any(d["SerialNumber"] == serial and d["User"]["UserName"] == user for d in assigned)
    with pytest.raises(ClientError) as exc:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error(exc)[0] == "DeleteConflict"
    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    iam.delete_virtual_mfa_device(SerialNumber=serial)


def _certificate() -> str:
    from cryptography.hazmat.primitives import serialization

    return self_signed("nubes.test")[0].public_bytes(serialization.Encoding.PEM).decode()


def test_certificates_and_ssh_keys(iam: Any, unique: Unique) -> None:
    user, name = unique("u"), unique("cert")
    iam.create_user(UserName=user)
    body = _certificate()
    meta = iam.upload_server_certificate(
        ServerCertificateName=name, CertificateBody=body, PrivateKey="unused"
    )["ServerCertificateMetadata"]
    assert meta["ServerCertificateId"].startswith("ASCA")
    assert meta["Arn"] == f"arn:aws:iam::000000000000:server-certificate/{name}"
    got = iam.get_server_certificate(ServerCertificateName=name)["ServerCertificate"]
    assert got["CertificateBody"] == body
    iam.delete_server_certificate(ServerCertificateName=name)
    with pytest.raises(ClientError) as exc:
        iam.upload_server_certificate(
            ServerCertificateName=name, CertificateBody="nope", PrivateKey="x"
        )
    assert error(exc)[0] == "MalformedCertificate"
    signing = iam.upload_signing_certificate(UserName=user, CertificateBody=body)["Certificate"]
    assert signing["Status"] == "Active"
    assert len(iam.list_signing_certificates(UserName=user)["Certificates"]) == 1
    iam.delete_signing_certificate(UserName=user, CertificateId=signing["CertificateId"])
    key = iam.upload_ssh_public_key(
        UserName=user,
        SSHPublicKeyBody="ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIHBhc3N3b3JkMTIzNDU2Nzg5MDEyMzQ1Njc4OTA= me",
    )["SSHPublicKey"]
    assert key["SSHPublicKeyId"].startswith("APKA") and key["Status"] == "Active"
    iam.update_ssh_public_key(
        UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"], Status="Inactive"
    )
    listed = iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"]
    assert [k["Status"] for k in listed] == ["Inactive"]
    iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"])


def test_simulators(iam: Any, unique: Unique) -> None:
    user = unique("u")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=DOC)
    iam.put_user_policy(
        UserName=user,
        PolicyName="deny",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}],
            }
        ),
    )
    arn = f"arn:aws:iam::000000000000:user/{user}"
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["s3:GetObject", "s3:DeleteBucket", "sqs:SendMessage"]
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "explicitDeny", "implicitDeny"]
    assert results[0]["MatchedStatements"][0]["SourcePolicyId"] == "s3"
    assert results[0]["MatchedStatements"][0]["SourcePolicyType"] == "user"
    assert results[0]["MatchedStatements"][0]["StartPosition"] == {"Line": 1, "Column": 41}
    custom = iam.simulate_custom_policy(
        PolicyInputList=[
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::b/*",
                            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                        }
                    ],
                }
            )
        ],
        ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::b/k", "arn:aws:s3:::other/k"],
        ContextEntries=[
            {
                "ContextKeyName": "aws:SourceIp",
                "ContextKeyValues": ["10.1.1.1"],
                "ContextKeyType": "ip",
            }
        ],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in custom] == ["allowed", "implicitDeny"]
    assert custom[0]["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"


def test_account_authorization_details_paginate(nubes_factory: Callable[..., Any]) -> None:
    iam = nubes_factory(persistent=False).client("iam")
    for i in range(3):
        iam.create_user(UserName=f"u{i}")
        iam.create_role(RoleName=f"r{i}", AssumeRolePolicyDocument=TRUST)
    users: list[str] = []
    roles: list[str] = []
    for page in iam.get_paginator("get_account_authorization_details").paginate(
        PaginationConfig={"PageSize": 2}
    ):
        assert len(page["UserDetailList"]) + len(page["RoleDetailList"]) <= 2
        users += [u["UserName"] for u in page["UserDetailList"]]
        roles += [r["RoleName"] for r in page["RoleDetailList"]]
    assert users == ["u0", "u1", "u2"] and roles == ["r0", "r1", "r2"]


def test_iam_state_survives_a_restart(nubes_factory: Callable[..., Any]) -> None:
    server = nubes_factory(persistent=True)
    iam = server.client("iam")
    iam.create_user(UserName="durable")
    iam.put_user_policy(UserName="durable", PolicyName="p", PolicyDocument=DOC)
    key = iam.create_access_key(UserName="durable")["AccessKey"]
    server.kill()
    server.start()
    again = server.client("iam")
    assert again.get_user_policy(UserName="durable", PolicyName="p")[
        "PolicyDocument"
    ] == json.loads(DOC)
    sts = server.client(
        "sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    assert sts.get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:user/durable"


def test_context_keys_of_policies(iam: Any, unique: Unique) -> None:
    conditioned = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": "*",
                    "Condition": {
                        "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                        "StringLike": {"s3:prefix": "home/*"},
                    },
                }
            ],
        }
    )
    keys = iam.get_context_keys_for_custom_policy(PolicyInputList=[conditioned])["ContextKeyNames"]
    assert keys == ["aws:SourceIp", "s3:prefix"]
    user = unique("u")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="c", PolicyDocument=conditioned)
    found = iam.get_context_keys_for_principal_policy(
        PolicySourceArn=f"arn:aws:iam::000000000000:user/{user}"
    )["ContextKeyNames"]
    assert found == ["aws:SourceIp", "s3:prefix"]


def test_renamed_user_keeps_login_profile_and_boundary(iam: Any, unique: Unique) -> None:
    boundary = iam.create_policy(PolicyName=unique("b"), PolicyDocument=DOC)["Policy"]["Arn"]
    old, new = unique("old"), unique("new")
    iam.create_user(UserName=old, PermissionsBoundary=boundary)
    iam.create_login_profile(UserName=old, Password="Secret-123")
    iam.update_user(UserName=old, NewUserName=new)
    assert iam.get_login_profile(UserName=new)["LoginProfile"]["UserName"] == new
    entities = iam.list_entities_for_policy(
        PolicyArn=boundary, PolicyUsageFilter="PermissionsBoundary"
    )
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [new]


def test_entities_for_policy_paginate(iam: Any, unique: Unique) -> None:
    arn = iam.create_policy(PolicyName=unique("shared"), PolicyDocument=DOC)["Policy"]["Arn"]
    users = sorted(unique("u") for _ in range(3))
    for user in users:
        iam.create_user(UserName=user)
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    first = iam.list_entities_for_policy(PolicyArn=arn, MaxItems=2)
    assert len(first["PolicyUsers"]) == 2 and first["IsTruncated"]
    rest = iam.list_entities_for_policy(PolicyArn=arn, MaxItems=2, Marker=first["Marker"])
    assert [u["UserName"] for u in first["PolicyUsers"] + rest["PolicyUsers"]] == users
    assert not rest["IsTruncated"]


def test_policies_granting_service_access(iam: Any, unique: Unique) -> None:
    user, group = unique("u"), unique("g")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="s3-inline", PolicyDocument=DOC)
    iam.attach_group_policy(
        GroupName=group, PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess"
    )
    found = iam.list_policies_granting_service_access(
        Arn=f"arn:aws:iam::000000000000:user/{user}", ServiceNamespaces=["s3", "sqs", "iam"]
    )["PoliciesGrantingServiceAccess"]
    by_service = {f["ServiceNamespace"]: f["Policies"] for f in found}
    assert by_service["s3"] == [
        {
            "PolicyName": "s3-inline",
            "PolicyType": "INLINE",
            "EntityType": "USER",
            "EntityName": user,
        }
    ]
    assert [p["PolicyArn"] for p in by_service["sqs"]] == [
        "arn:aws:iam::aws:policy/AmazonSQSFullAccess"
    ]
    assert by_service["iam"] == []


def test_service_last_accessed_details(iam: Any, unique: Unique) -> None:
    user = unique("u")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=DOC)
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess")
    job = iam.generate_service_last_accessed_details(Arn=f"arn:aws:iam::000000000000:user/{user}")
    details = iam.get_service_last_accessed_details(JobId=job["JobId"])
    assert details["JobStatus"] == "COMPLETED"
    assert [s["ServiceNamespace"] for s in details["ServicesLastAccessed"]] == ["s3", "sqs"]
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 2
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v1Token")
