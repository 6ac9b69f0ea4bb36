"""Secrets Manager under IAM enforcement: a secret named by name is guarded as its full ARN,
its resource policy grants and denies like other resource policies."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import NubesProcess, make_client

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def server() -> Iterator[NubesProcess]:
    process = NubesProcess(env={"NUBES_ENFORCE_IAM": "1"}).start()
    yield process
    process.stop()


def _user(server: NubesProcess, name: str, statements: list[dict[str, Any]]) -> tuple[Any, str]:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    if statements:
        policy = {"Version": "2012-10-17", "Statement": statements}
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = make_client(
        server.endpoint,
        "secretsmanager",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    return client, f"arn:aws:iam::{ACCOUNT}:user/{name}"


def test_resource_policy_and_identity_policy(
    server: NubesProcess, unique: Callable[[str], str]
) -> None:
    sm = server.client("secretsmanager")
    name = unique("guarded")
    secret_arn = sm.create_secret(Name=name, SecretString="s")["ARN"]
    reader, _ = _user(
        server,
        unique("reader"),
        [
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}-*",
            },
        ],
    )
    friend, friend_arn = _user(server, unique("friend"), [])
    stranger, _ = _user(server, unique("stranger"), [])
    # By name, the identity policy's ARN pattern applies to the secret's full ARN.
    assert reader.get_secret_value(SecretId=name)["SecretString"] == "s"
    with pytest.raises(ClientError) as exc:
        friend.get_secret_value(SecretId=name)
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": friend_arn},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                "Condition": {"StringLike": {"aws:username": "reader-*"}},
            },
        ],
    }
    sm.put_resource_policy(SecretId=secret_arn, ResourcePolicy=json.dumps(policy))
    assert friend.get_secret_value(SecretId=name)["SecretString"] == "s"
    with pytest.raises(ClientError) as exc:
        reader.get_secret_value(SecretId=secret_arn)
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:
        stranger.get_secret_value(SecretId=name)
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
