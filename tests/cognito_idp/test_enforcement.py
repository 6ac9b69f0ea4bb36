"""User pools under IAM enforcement: admin operations are judged against the pool's ARN, while
sign-up and sign-in (modelled without auth) need no permission at all."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.server import NubesProcess, make_client


@pytest.fixture(scope="module")
def server() -> Iterator[NubesProcess]:
    process = NubesProcess(env={"NUBES_ENFORCE_IAM": "1"}).start()
    yield process
    process.stop()


def test_admin_operations_need_the_pool_arn(server: NubesProcess) -> None:
    idp = server.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="guarded")["UserPool"]
    other = idp.create_user_pool(PoolName="other")["UserPool"]
    app = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    iam = server.client("iam")
    iam.create_user(UserName="admin")
    statement = {"Effect": "Allow", "Action": "cognito-idp:Admin*", "Resource": pool["Arn"]}
    iam.put_user_policy(
        UserName="admin",
        PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    admin = make_client(
        server.endpoint,
        "cognito-idp",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    admin.admin_create_user(UserPoolId=pool["Id"], Username="ann", MessageAction="SUPPRESS")
    admin.admin_set_user_password(
        UserPoolId=pool["Id"], Username="ann", Password="Passw0rd!", Permanent=True
    )
    with pytest.raises(ClientError) as exc:
        admin.admin_create_user(UserPoolId=other["Id"], Username="ann", MessageAction="SUPPRESS")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"on resource: {other['Arn']}" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        admin.describe_user_pool(UserPoolId=pool["Id"])
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    # The same caller signs in without any cognito-idp:InitiateAuth permission.
    tokens = admin.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann", "PASSWORD": "Passw0rd!"},
    )["AuthenticationResult"]
    assert admin.get_user(AccessToken=tokens["AccessToken"])["Username"] == "ann"
