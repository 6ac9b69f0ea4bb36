"""IAM enforcement end to end (``NUBES_ENFORCE_IAM=1``): signatures, keys, temporary
credentials and policies decide, and refusals come in each service's own words."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nubes.gateway import sigv4
from nubes.gateway.admission import signed_headers
from tests.server import NubesProcess, make_client
from tests.sts.oidc_idp import serve_idp

Unique = Callable[[str], str]
ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def server() -> Iterator[NubesProcess]:
    process = NubesProcess(env={"NUBES_ENFORCE_IAM": "1"}).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def admin(server: NubesProcess) -> Callable[[str], Any]:
    """Clients of the account root (the configured root key pair test/test)."""
    return lambda service: server.client(service)


def statement(
    action: Any, resource: Any = "*", effect: str = "Allow", **extra: Any
) -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def creds_client(server: NubesProcess, service: str, creds: dict[str, Any]) -> Any:
    return make_client(
        server.endpoint,
        service,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
    )


def new_user(
    admin: Callable[[str], Any], unique: Unique, *statements: dict[str, Any]
) -> dict[str, Any]:
    iam = admin("iam")
    name = unique("user")
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document(*statements))
    key: dict[str, Any] = iam.create_access_key(UserName=name)["AccessKey"]
    key["Arn"] = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    return key


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def advance(server: NubesProcess, seconds: float) -> None:
    """Moves the server clock, signed as the account root (internal endpoints need it)."""
    body = json.dumps({"advance": seconds}).encode()
    url = f"{server.endpoint}/_nubes/clock"
    headers = signed_headers("POST", url, body, "test", "test", "us-east-1")
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    urllib.request.urlopen(request).read()


# -- authentication -----------------------------------------------------------------------------


def test_root_key_pair_may_do_anything(admin: Callable[[str], Any], unique: Unique) -> None:
    assert admin("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    admin("iam").create_user(UserName=unique("anything"))


def test_unknown_key_is_refused(server: NubesProcess) -> None:
    stranger = make_client(
        server.endpoint, "iam", aws_access_key_id="AKIAUNKNOWNKEY000000", aws_secret_access_key="x"
    )
    with pytest.raises(ClientError) as exc:
        stranger.list_users()
    assert error(exc) == (
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
        403,
    )


def test_wrong_secret_is_refused(server: NubesProcess) -> None:
    wrong = make_client(server.endpoint, "sts", aws_secret_access_key="not-test")
    with pytest.raises(ClientError) as exc:
        wrong.get_caller_identity()
    code, message, status = error(exc)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith("The request signature we calculated does not match")


def test_tampered_signature_and_body_are_refused(server: NubesProcess) -> None:
    sts = make_client(server.endpoint, "sts")

    def tamper_signature(request: Any, **_: Any) -> None:
        auth = request.headers["Authorization"]
        auth = auth.decode() if isinstance(auth, bytes) else auth
        request.headers["Authorization"] = auth[:-4] + ("1111" if auth.endswith("0000") else "0000")

    sts.meta.events.register("before-send.sts.GetCallerIdentity", tamper_signature)
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert error(exc)[0] == "SignatureDoesNotMatch"
    iam = make_client(server.endpoint, "iam")

    def tamper_body(request: Any, **_: Any) -> None:
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        request.body = body.replace(b"MaxItems=5", b"MaxItems=6")

    iam.meta.events.register("before-send.iam.ListUsers", tamper_body)
    with pytest.raises(ClientError) as exc:
        iam.list_users(MaxItems=5)
    assert error(exc)[0] == "SignatureDoesNotMatch"


def test_skewed_clock_is_refused(server: NubesProcess) -> None:
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    signed_at = datetime.now(UTC) - timedelta(minutes=20)
    amz_date = signed_at.strftime("%Y%m%dT%H%M%SZ")
    host = server.endpoint.removeprefix("http://")
    headers = {
        "host": host,
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        "x-amz-date": amz_date,
    }
    scope = sigv4.Scope("test", amz_date[:8], "us-east-1", "sts")
    signed = sorted(headers)
    signature = sigv4.expected_signature(
        "test",
        scope,
        amz_date,
        "POST",
        "/",
        "",
        headers,
        signed,
        hashlib.sha256(body).hexdigest(),
        True,
    )
    headers["authorization"] = (
        f"{sigv4.ALGORITHM} Credential=test/{scope}, SignedHeaders={';'.join(signed)}, "
        f"Signature={signature}"
    )
    request = urllib.request.Request(
        server.endpoint + "/", data=body, headers=headers, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request)
    text = exc.value.read().decode()
    assert exc.value.code == 403 and "<Code>SignatureDoesNotMatch</Code>" in text
    assert f"Signature expired: {amz_date} is now earlier than" in text


def test_inactive_key_is_refused(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    key = new_user(admin, unique)
    admin("iam").update_access_key(
        UserName=key["UserName"], AccessKeyId=key["AccessKeyId"], Status="Inactive"
    )
    with pytest.raises(ClientError) as exc:
        creds_client(server, "sts", key).get_caller_identity()
    assert error(exc)[0] == "InvalidClientTokenId"


# -- identity-based policies ------------------------------------------------------------------


def test_user_allowed_and_denied(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    key = new_user(admin, unique, statement(["iam:GetUser", "iam:ListUsers"]))
    iam = creds_client(server, "iam", key)
    assert iam.get_user(UserName=key["UserName"])["User"]["UserName"] == key["UserName"]
    iam.list_users(MaxItems=1)
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=unique("nope"))
    code, message, status = error(exc)
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        f"User: {key['Arn']} is not authorized to perform: iam:CreateUser on resource: "
        f"arn:aws:iam::{ACCOUNT}:user/{message.rsplit('user/', 1)[-1].split(' ')[0]} "
        "because no identity-based policy allows the iam:CreateUser action"
    )
    # GetCallerIdentity needs no permission
    assert creds_client(server, "sts", key).get_caller_identity()["Arn"] == key["Arn"]


def test_explicit_deny_and_group_policies(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    key = new_user(admin, unique, statement("iam:List*"), statement("iam:ListRoles", effect="Deny"))
    group = unique("group")
    admin("iam").create_group(GroupName=group)
    admin("iam").attach_group_policy(
        GroupName=group, PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    )
    iam = creds_client(server, "iam", key)
    iam.list_groups(MaxItems=1)
    with pytest.raises(ClientError) as exc:
        iam.list_roles()
    assert "with an explicit deny in an identity-based policy" in error(exc)[1]
    with pytest.raises(ClientError) as exc:
        iam.get_group(GroupName=group)
    admin("iam").add_user_to_group(GroupName=group, UserName=key["UserName"])
    assert iam.get_group(GroupName=group)["Group"]["GroupName"] == group


def test_permissions_boundary_caps_the_user(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    key = new_user(admin, unique, statement("iam:*"))
    boundary = admin("iam").create_policy(
        PolicyName=unique("boundary"), PolicyDocument=document(statement("iam:List*"))
    )["Policy"]["Arn"]
    admin("iam").put_user_permissions_boundary(
        UserName=key["UserName"], PermissionsBoundary=boundary
    )
    iam = creds_client(server, "iam", key)
    iam.list_users(MaxItems=1)
    with pytest.raises(ClientError) as exc:
        iam.create_group(GroupName=unique("g"))
    assert "because no permissions boundary allows the iam:CreateGroup action" in error(exc)[1]


def test_policy_variables_in_effect(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    key = new_user(
        admin, unique, statement("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}")
    )
    other = unique("other")
    admin("iam").create_user(UserName=other)
    iam = creds_client(server, "iam", key)
    iam.get_user(UserName=key["UserName"])
    with pytest.raises(ClientError):
        iam.get_user(UserName=other)


# -- roles and temporary credentials ------------------------------------------------------------


def new_role(
    admin: Callable[[str], Any],
    unique: Unique,
    principal: Any,
    *statements: dict[str, Any],
    **extra: Any,
) -> str:
    trust = document(
        {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}
    )
    iam = admin("iam")
    name = unique("role")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=document(*statements))
    return arn


def test_trust_policy_decides_who_may_assume(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    trusted = new_user(admin, unique)
    untrusted = new_user(admin, unique, statement("sts:AssumeRole"))
    role = new_role(admin, unique, {"AWS": trusted["Arn"]}, statement("iam:ListUsers"))
    creds = creds_client(server, "sts", trusted).assume_role(RoleArn=role, RoleSessionName="ok")[
        "Credentials"
    ]
    creds_client(server, "iam", creds).list_users(MaxItems=1)
    with pytest.raises(ClientError) as exc:
        creds_client(server, "sts", untrusted).assume_role(RoleArn=role, RoleSessionName="no")
    code, message, _ = error(exc)
    assert code == "AccessDenied"
    assert message.startswith(
        f"User: {untrusted['Arn']} is not authorized to perform: sts:AssumeRole on resource: {role}"
    )


def test_trust_naming_the_account_needs_an_identity_policy(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    role = new_role(admin, unique, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    without = new_user(admin, unique)
    with pytest.raises(ClientError):
        creds_client(server, "sts", without).assume_role(RoleArn=role, RoleSessionName="s1")
    allowed = new_user(admin, unique, statement("sts:AssumeRole", role))
    creds_client(server, "sts", allowed).assume_role(RoleArn=role, RoleSessionName="s1")


def test_external_id_condition(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    user = new_user(admin, unique)
    role = new_role(
        admin,
        unique,
        {"AWS": user["Arn"]},
        Condition={"StringEquals": {"sts:ExternalId": "secret-1"}},
    )
    sts = creds_client(server, "sts", user)
    with pytest.raises(ClientError):
        sts.assume_role(RoleArn=role, RoleSessionName="s1")
    with pytest.raises(ClientError):
        sts.assume_role(RoleArn=role, RoleSessionName="s1", ExternalId="wrong-1")
    sts.assume_role(RoleArn=role, RoleSessionName="s1", ExternalId="secret-1")


def test_role_chain_with_session_policies(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    user = new_user(admin, unique)
    first = new_role(
        admin, unique, {"AWS": user["Arn"]}, statement(["sts:AssumeRole", "iam:List*"])
    )
    second = new_role(admin, unique, {"AWS": first}, statement("iam:*"))
    hop1 = creds_client(server, "sts", user).assume_role(
        RoleArn=first,
        RoleSessionName="hop1",
        Policy=document(statement(["sts:AssumeRole", "iam:ListUsers"])),
    )["Credentials"]
    creds_client(server, "iam", hop1).list_users(MaxItems=1)
    with pytest.raises(ClientError) as exc:
        creds_client(server, "iam", hop1).list_roles()
    assert "because no session policy allows the iam:ListRoles action" in error(exc)[1]
    hop2 = creds_client(server, "sts", hop1).assume_role(
        RoleArn=second,
        RoleSessionName="hop2",
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}],
    )["Credentials"]
    assert creds_client(server, "sts", hop2).get_caller_identity()["Arn"].endswith("/hop2")
    creds_client(server, "iam", hop2).list_roles(MaxItems=1)
    with pytest.raises(ClientError) as exc:
        creds_client(server, "iam", hop2).create_user(UserName=unique("u"))
    assert "because no session policy allows the iam:CreateUser action" in error(exc)[1]
    with pytest.raises(ClientError) as exc:
        creds_client(server, "sts", hop1).assume_role(
            RoleArn=second, RoleSessionName="hop3", DurationSeconds=7200
        )
    assert error(exc)[0] == "ValidationError"


def test_session_token_is_required(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    user = new_user(admin, unique)
    role = new_role(admin, unique, {"AWS": user["Arn"]})
    creds = creds_client(server, "sts", user).assume_role(RoleArn=role, RoleSessionName="s1")[
        "Credentials"
    ]
    without_token = {k: v for k, v in creds.items() if k != "SessionToken"}
    with pytest.raises(ClientError) as exc:
        creds_client(server, "sts", without_token).get_caller_identity()
    assert error(exc)[0] == "InvalidClientTokenId"


def test_temporary_credentials_expire(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    user = new_user(admin, unique)
    role = new_role(admin, unique, {"AWS": user["Arn"]})
    creds = creds_client(server, "sts", user).assume_role(
        RoleArn=role, RoleSessionName="s1", DurationSeconds=900
    )["Credentials"]
    sts = creds_client(server, "sts", creds)
    sts.get_caller_identity()
    advance(server, 901)
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert error(exc) == (
        "ExpiredToken",
        "The security token included in the request is expired",
        400,
    )


def test_federation_token_without_policy_has_no_permissions(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    user = new_user(admin, unique, statement(["sts:GetFederationToken", "iam:*"]))
    sts = creds_client(server, "sts", user)
    bare = sts.get_federation_token(Name="bare")["Credentials"]
    with pytest.raises(ClientError):
        creds_client(server, "iam", bare).list_users()
    scoped = sts.get_federation_token(Name="scoped", Policy=document(statement("iam:ListUsers")))
    creds_client(server, "iam", scoped["Credentials"]).list_users(MaxItems=1)


# -- other services -----------------------------------------------------------------------------


def test_sqs(server: NubesProcess, admin: Callable[[str], Any], unique: Unique) -> None:
    sqs = admin("sqs")
    allowed = sqs.create_queue(QueueName=unique("allowed"))["QueueUrl"]
    other = sqs.create_queue(QueueName=unique("other"))["QueueUrl"]
    allowed_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{allowed.rsplit('/', 1)[-1]}"
    key = new_user(admin, unique, statement(["sqs:SendMessage", "sqs:ReceiveMessage"], allowed_arn))
    user_sqs = creds_client(server, "sqs", key)
    user_sqs.send_message(QueueUrl=allowed, MessageBody="hi")
    with pytest.raises(ClientError) as exc:
        user_sqs.send_message(QueueUrl=other, MessageBody="hi")
    assert (
        "is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:" in error(exc)[1]
    )
    # a queue policy naming the user is enough on its own
    stranger = new_user(admin, unique)
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": stranger["Arn"]},
                    "Action": "sqs:SendMessage",
                    "Resource": "*",
                }
            ],
        }
    )
    sqs.set_queue_attributes(QueueUrl=other, Attributes={"Policy": policy})
    creds_client(server, "sqs", stranger).send_message(QueueUrl=other, MessageBody="hi")


def test_s3(server: NubesProcess, admin: Callable[[str], Any], unique: Unique) -> None:
    s3 = admin("s3")
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="public/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="private/b", Body=b"b")
    key = new_user(admin, unique, statement("s3:GetObject", f"arn:aws:s3:::{bucket}/public/*"))
    user_s3 = creds_client(server, "s3", key)
    assert user_s3.get_object(Bucket=bucket, Key="public/a")["Body"].read() == b"a"
    with pytest.raises(ClientError) as exc:
        user_s3.get_object(Bucket=bucket, Key="private/b")
    code, message, status = error(exc)
    assert (code, status) == ("AccessDenied", 403)
    assert f"on resource: arn:aws:s3:::{bucket}/private/b" in message
    reader = new_user(admin, unique)
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": reader["Arn"]},
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/private/*",
                    }
                ],
            }
        ),
    )
    assert (
        creds_client(server, "s3", reader).get_object(Bucket=bucket, Key="private/b")["Body"].read()
        == b"b"
    )


def test_sns(server: NubesProcess, admin: Callable[[str], Any], unique: Unique) -> None:
    sns = admin("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    other = sns.create_topic(Name=unique("other"))["TopicArn"]
    key = new_user(admin, unique, statement("sns:Publish", topic))
    user_sns = creds_client(server, "sns", key)
    user_sns.publish(TopicArn=topic, Message="hi")
    with pytest.raises(ClientError) as exc:
        user_sns.publish(TopicArn=other, Message="hi")
    code, message, status = error(exc)
    assert (code, status) == ("AuthorizationError", 403)
    assert message.startswith(f"User: {key['Arn']} is not authorized to perform: sns:Publish")


def test_dynamodb(server: NubesProcess, admin: Callable[[str], Any], unique: Unique) -> None:
    ddb = admin("dynamodb")
    table = unique("table")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}"
    key = new_user(admin, unique, statement("dynamodb:GetItem", arn))
    user_ddb = creds_client(server, "dynamodb", key)
    assert user_ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}}
    with pytest.raises(ClientError) as exc:
        user_ddb.put_item(TableName=table, Item={"pk": {"S": "b"}})
    code, message, status = error(exc)
    assert (code, status) == ("AccessDeniedException", 400)
    assert message.endswith("because no identity-based policy allows the dynamodb:PutItem action")


def test_dynamodb_leading_keys(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    table = unique("table")
    admin("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "owner", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "owner", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    key = new_user(
        admin,
        unique,
        statement(
            ["dynamodb:GetItem", "dynamodb:PutItem"],
            f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}",
            Condition={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:username}"]}},
        ),
    )
    ddb = creds_client(server, "dynamodb", key)
    ddb.put_item(TableName=table, Item={"owner": {"S": key["UserName"]}, "v": {"N": "1"}})
    with pytest.raises(ClientError) as exc:
        ddb.put_item(TableName=table, Item={"owner": {"S": "someone-else"}})
    assert error(exc)[0] == "AccessDeniedException"


def test_iam_resources_carry_their_path(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    name = unique("pathed")
    admin("iam").create_user(UserName=name, Path="/team/")
    key = new_user(admin, unique, statement("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/team/*"))
    assert creds_client(server, "iam", key).get_user(UserName=name)["User"]["Path"] == "/team/"


def test_access_key_last_used_is_recorded(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    key = new_user(admin, unique)
    creds_client(server, "sts", key).get_caller_identity()
    used = admin("iam").get_access_key_last_used(AccessKeyId=key["AccessKeyId"])[
        "AccessKeyLastUsed"
    ]
    assert used["ServiceName"] == "sts" and used["Region"] == "us-east-1" and "LastUsedDate" in used


def test_web_identity_needs_a_trusting_role(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique, tmp_path: Path
) -> None:
    with serve_idp(tmp_path) as idp:
        host = idp.url.removeprefix("https://")
        provider = admin("iam").create_open_id_connect_provider(
            Url=idp.url, ClientIDList=["app"], ThumbprintList=[idp.thumbprint]
        )["OpenIDConnectProviderArn"]
        trust = document(
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{host}:sub": "good-subject"}},
            }
        )
        role = admin("iam").create_role(RoleName=unique("web"), AssumeRolePolicyDocument=trust)
        arn = role["Role"]["Arn"]

        def token(sub: str) -> str:
            # this server's clock runs ahead (other tests of the module advance it)
            expiry = int(time.time()) + 10 * 365 * 86400
            return idp.token({"iss": idp.url, "aud": "app", "sub": sub, "exp": expiry})

        sts = make_client(server.endpoint, "sts")
        out = sts.assume_role_with_web_identity(
            RoleArn=arn, RoleSessionName="web1", WebIdentityToken=token("good-subject")
        )
        assert out["AssumedRoleUser"]["Arn"].endswith("/web1")
        with pytest.raises(ClientError) as exc:
            sts.assume_role_with_web_identity(
                RoleArn=arn, RoleSessionName="web2", WebIdentityToken=token("intruder")
            )
        assert error(exc)[0] == "AccessDenied"


def test_presigned_s3_urls_use_the_key_and_its_policies(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    bucket = unique("presign")
    admin("s3").create_bucket(Bucket=bucket)
    admin("s3").put_object(Bucket=bucket, Key="ok/a", Body=b"a")
    admin("s3").put_object(Bucket=bucket, Key="no/b", Body=b"b")
    key = new_user(admin, unique, statement("s3:GetObject", f"arn:aws:s3:::{bucket}/ok/*"))
    s3 = creds_client(server, "s3", key)
    allowed = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "ok/a"})
    assert urllib.request.urlopen(allowed).read() == b"a"
    denied = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "no/b"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(denied)
    assert exc.value.code == 403 and b"<Code>AccessDenied</Code>" in exc.value.read()


def test_explain_mode_logs_decisions(nubes_factory: Callable[..., Any]) -> None:
    server = nubes_factory(
        persistent=False,
        env={"NUBES_ENFORCE_IAM": "1", "NUBES_IAM_EXPLAIN": "1", "NUBES_LOG_LEVEL": "info"},
    )
    iam = server.client("iam")
    iam.create_user(UserName="explained")
    key = iam.create_access_key(UserName="explained")["AccessKey"]
    with pytest.raises(ClientError):
        creds_client(server, "iam", key).list_users()
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while not lines and time.monotonic() < deadline:
        lines = [line for line in server.output if "iam:ListUsers" in line]
        time.sleep(0.05)
    assert lines and "implicitDeny because no identity-based policy allows" in lines[-1]


def test_enforcement_is_off_by_default(endpoint: str) -> None:
    anyone = make_client(
        endpoint, "iam", aws_access_key_id="AKIAANYONE0000000000", aws_secret_access_key="?"
    )
    assert "Users" in anyone.list_users(MaxItems=1)


def test_resource_tags_in_conditions(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    mine, theirs = unique("mine"), unique("theirs")
    admin("iam").create_role(
        RoleName=mine,
        AssumeRolePolicyDocument=document(
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ),
        Tags=[{"Key": "team", "Value": "red"}],
    )
    admin("iam").create_role(
        RoleName=theirs,
        AssumeRolePolicyDocument=document(
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ),
        Tags=[{"Key": "team", "Value": "blue"}],
    )
    key = new_user(
        admin,
        unique,
        statement("iam:GetRole", Condition={"StringEquals": {"aws:ResourceTag/team": "red"}}),
    )
    iam = creds_client(server, "iam", key)
    iam.get_role(RoleName=mine)
    with pytest.raises(ClientError):
        iam.get_role(RoleName=theirs)


def test_mfa_condition_through_get_session_token(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    key = new_user(
        admin,
        unique,
        statement("sts:GetSessionToken"),
        statement("iam:ListUsers", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
    )
    with pytest.raises(ClientError):
        creds_client(server, "iam", key).list_users()
    session = creds_client(server, "sts", key).get_session_token(
        SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/{key['UserName']}", TokenCode="123456"
    )["Credentials"]
    creds_client(server, "iam", session).list_users(MaxItems=1)


def test_anonymous_s3_gets_what_the_bucket_policy_grants_everyone(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    public, private = unique("public"), unique("private")
    s3 = admin("s3")
    for bucket in (public, private):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    # New buckets block public policies, as on AWS since 2023: lift that first.
    s3.delete_public_access_block(Bucket=public)
    s3.put_bucket_policy(
        Bucket=public,
        Policy=document(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{public}/*",
            }
        ),
    )
    assert urllib.request.urlopen(f"{server.endpoint}/{public}/k").read() == b"data"
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(f"{server.endpoint}/{private}/k")
    assert exc.value.code == 403 and b"<Code>AccessDenied</Code>" in exc.value.read()


def test_self_service_operations_act_on_the_caller(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    key = new_user(
        admin,
        unique,
        statement(
            ["iam:GetUser", "iam:ListAccessKeys"], f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"
        ),
    )
    iam = creds_client(server, "iam", key)
    assert iam.get_user()["User"]["UserName"] == key["UserName"]
    listed = iam.list_access_keys()["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]


def test_authentication_errors_in_each_protocol(server: NubesProcess) -> None:
    unknown = {"aws_access_key_id": "AKIAUNKNOWNKEY000000", "aws_secret_access_key": "x"}
    wrong = {"aws_secret_access_key": "not-test"}
    cases = (
        ("s3", lambda c: c.list_buckets(), unknown, ("InvalidAccessKeyId", 403)),
        ("s3", lambda c: c.list_buckets(), wrong, ("SignatureDoesNotMatch", 403)),
        ("dynamodb", lambda c: c.list_tables(), unknown, ("UnrecognizedClientException", 400)),
        ("dynamodb", lambda c: c.list_tables(), wrong, ("InvalidSignatureException", 400)),
        ("sns", lambda c: c.list_topics(), unknown, ("InvalidClientTokenId", 403)),
    )
    for service, call, creds, expected in cases:
        with pytest.raises(ClientError) as exc:
            call(make_client(server.endpoint, service, **creds))
        assert error(exc)[0::2] == expected, service


OTHER = "111111111111"


def other_account(server: NubesProcess, service: str) -> Any:
    """The root of a second account: a 12-digit access key is that account's root."""
    return make_client(server.endpoint, service, aws_access_key_id=OTHER)


def test_cross_account_role(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    user = new_user(admin, unique)
    name = unique("xacct")
    role_arn = other_account(server, "iam").create_role(
        RoleName=name,
        AssumeRolePolicyDocument=document(
            {"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}
        ),
    )["Role"]["Arn"]
    assert role_arn == f"arn:aws:iam::{OTHER}:role/{name}"
    sts = creds_client(server, "sts", user)
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="x1")
    assert "because no identity-based policy allows the sts:AssumeRole action" in error(exc)[1]
    admin("iam").put_user_policy(
        UserName=user["UserName"],
        PolicyName="assume",
        PolicyDocument=document(statement("sts:AssumeRole", role_arn)),
    )
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="x1")["Credentials"]
    found = creds_client(server, "sts", creds).get_caller_identity()
    assert found["Account"] == OTHER
    assert found["Arn"] == f"arn:aws:sts::{OTHER}:assumed-role/{name}/x1"


def test_cross_account_queue_needs_both_sides(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    queue = other_account(server, "sqs").create_queue(QueueName=unique("shared"))["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{OTHER}:{queue.rsplit('/', 1)[-1]}"
    user = new_user(admin, unique, statement("sqs:SendMessage", arn))
    sqs = creds_client(server, "sqs", user)
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue, MessageBody="hi")
    # and an account's root is no one in another account
    mine = admin("sqs").create_queue(QueueName=unique("mine"))["QueueUrl"]
    with pytest.raises(ClientError):
        other_account(server, "sqs").send_message(QueueUrl=mine, MessageBody="hi")
    assert "because no resource-based policy allows the sqs:SendMessage action" in error(exc)[1]
    other_account(server, "sqs").set_queue_attributes(
        QueueUrl=queue,
        Attributes={
            "Policy": document(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                }
            )
        },
    )
    sqs.send_message(QueueUrl=queue, MessageBody="hi")
    # and an account's root is no one in another account
    mine = admin("sqs").create_queue(QueueName=unique("mine"))["QueueUrl"]
    with pytest.raises(ClientError):
        other_account(server, "sqs").send_message(QueueUrl=mine, MessageBody="hi")


def test_lambda_and_logs(server: NubesProcess, admin: Callable[[str], Any], unique: Unique) -> None:
    group = f"/app/{unique('group')}"
    admin("logs").create_log_group(logGroupName=group)
    key = new_user(
        admin,
        unique,
        statement(["lambda:ListFunctions", "logs:DescribeLogGroups"]),
        statement("logs:CreateLogStream", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/*"),
    )
    assert "Functions" in creds_client(server, "lambda", key).list_functions(MaxItems=5)
    logs = creds_client(server, "logs", key)
    logs.describe_log_groups(logGroupNamePrefix="/app/")
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    with pytest.raises(ClientError) as exc:
        logs.delete_log_group(logGroupName=group)
    assert error(exc)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:
        creds_client(server, "lambda", key).get_function(FunctionName="nope:1")
    code, _, status = error(exc)
    assert (code, status) == ("AccessDeniedException", 403)


def test_localstack_setting_name_is_accepted(nubes_factory: Callable[..., Any]) -> None:
    server = nubes_factory(persistent=False, env={"ENFORCE_IAM": "1"})
    assert server.client("sts").get_caller_identity()["Account"] == ACCOUNT
    with pytest.raises(ClientError) as exc:
        server.client("sts", aws_secret_access_key="wrong").get_caller_identity()
    assert error(exc)[0] == "SignatureDoesNotMatch"


def test_root_key_pair_is_configurable(nubes_factory: Callable[..., Any]) -> None:
    server = nubes_factory(
        persistent=False,
        env={
            "NUBES_ENFORCE_IAM": "1",
            "NUBES_ROOT_ACCESS_KEY_ID": "AKIDROOT",
            "NUBES_ROOT_SECRET_ACCESS_KEY": "s3cret",
        },
    )
    root = server.client("sts", aws_access_key_id="AKIDROOT", aws_secret_access_key="s3cret")
    assert root.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    with pytest.raises(ClientError) as exc:
        server.client("sts").get_caller_identity()
    assert error(exc)[0] == "InvalidClientTokenId"


def test_presigned_sts_get_caller_identity(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    key = new_user(admin, unique)
    sts = creds_client(server, "sts", key)
    # expiry runs on the nubes clock, which other tests here move forward
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=86400)
    body = urllib.request.urlopen(url).read().decode()
    assert f"<Arn>{key['Arn']}</Arn>" in body
    tampered = url.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(tampered)
    assert exc.value.code == 403 and b"SignatureDoesNotMatch" in exc.value.read()


def test_session_tags_need_tag_session_in_the_trust_policy(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    user = new_user(admin, unique)
    plain = new_role(admin, unique, {"AWS": user["Arn"]})
    tags = [{"Key": "project", "Value": "x"}]
    sts = creds_client(server, "sts", user)
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=plain, RoleSessionName="t1", Tags=tags)
    assert "sts:TagSession" in error(exc)[1]
    trust = document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": user["Arn"]},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    )
    tagging = admin("iam").create_role(RoleName=unique("tagging"), AssumeRolePolicyDocument=trust)
    out = sts.assume_role(RoleArn=tagging["Role"]["Arn"], RoleSessionName="t1", Tags=tags)
    assert out["AssumedRoleUser"]["Arn"].endswith("/t1")


def test_service_condition_keys(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    bucket = unique("keys")
    admin("s3").create_bucket(Bucket=bucket)
    admin("s3").put_object(Bucket=bucket, Key="home/a", Body=b"a")
    admin("s3").put_object(Bucket=bucket, Key="etc/b", Body=b"b")
    topic = admin("sns").create_topic(Name=unique("topic"))["TopicArn"]
    key = new_user(
        admin,
        unique,
        statement(
            "s3:ListBucket",
            f"arn:aws:s3:::{bucket}",
            Condition={"StringLike": {"s3:prefix": "home/*"}},
        ),
        statement("sns:Subscribe", topic, Condition={"StringEquals": {"sns:Protocol": "sqs"}}),
    )
    s3 = creds_client(server, "s3", key)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="home/")["Contents"]] == [
        "home/a"
    ]
    with pytest.raises(ClientError):
        s3.list_objects_v2(Bucket=bucket, Prefix="etc/")
    sns = creds_client(server, "sns", key)
    queue = admin("sqs").create_queue(QueueName=unique("sub"))["QueueUrl"]
    queue_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue.rsplit('/', 1)[-1]}"
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    with pytest.raises(ClientError) as exc:
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint="http://example.com/hook")
    assert error(exc)[0] == "AuthorizationError"


def test_bucket_policy_deny_stops_even_the_root(
    server: NubesProcess, admin: Callable[[str], Any], unique: Unique
) -> None:
    bucket = unique("locked")
    s3 = admin("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=document(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ),
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=bucket, Key="k")
    assert "with an explicit deny in a resource-based policy" in error(exc)[1]
    s3.delete_bucket_policy(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="k")
