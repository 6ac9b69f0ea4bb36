"""KMS under IAM enforcement: the key policy is authoritative (IAM policies count only where it
lets the account's root delegate), principals it names need no IAM policy, and grants give
their grantee the operations they list."""

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


def _user(server: NubesProcess, name: str, actions: list[str] | None) -> tuple[Any, str]:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    if actions:
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = make_client(
        server.endpoint,
        "kms",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    return client, f"arn:aws:iam::{ACCOUNT}:user/{name}"


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_key_policy_decides_with_iam_policies(
    server: NubesProcess, unique: Callable[[str], str]
) -> None:
    kms = server.client("kms")
    allowed, _ = _user(server, unique("crypto"), ["kms:Encrypt", "kms:Decrypt"])
    bare, bare_arn = _user(server, unique("bare"), None)

    # The default key policy lets the root delegate: the IAM policy grants, its absence not.
    default = kms.create_key()["KeyMetadata"]
    blob = allowed.encrypt(KeyId=default["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert allowed.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    with pytest.raises(ClientError) as exc:
        bare.decrypt(CiphertextBlob=blob)
    assert _code(exc) == "AccessDeniedException"

    # A key policy that does not allow the root: the IAM policy alone grants nothing, while a
    # principal it names directly needs no IAM policy.
    own = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": ["kms:DescribeKey", "kms:PutKeyPolicy", "kms:CreateAlias"],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": bare_arn},
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": "*",
            },
        ],
    }
    locked = kms.create_key(Policy=json.dumps(own))["KeyMetadata"]
    with pytest.raises(ClientError) as exc:
        allowed.encrypt(KeyId=locked["KeyId"], Plaintext=b"x")
    assert _code(exc) == "AccessDeniedException"
    sealed = bare.encrypt(KeyId=locked["KeyId"], Plaintext=b"y")["CiphertextBlob"]
    assert bare.decrypt(CiphertextBlob=sealed)["Plaintext"] == b"y"

    # Through an alias the key's policy applies just the same.
    alias = f"alias/{unique('locked')}"
    kms.create_alias(AliasName=alias, TargetKeyId=locked["KeyId"])
    with pytest.raises(ClientError) as exc:
        allowed.encrypt(KeyId=alias, Plaintext=b"x")
    assert _code(exc) == "AccessDeniedException"
    assert bare.encrypt(KeyId=alias, Plaintext=b"z")["KeyId"] == locked["Arn"]


def test_grants_allow_their_grantee(server: NubesProcess, unique: Callable[[str], str]) -> None:
    kms = server.client("kms")
    grantee, grantee_arn = _user(server, unique("grantee"), None)
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"g", EncryptionContext={"app": "a"})[
        "CiphertextBlob"
    ]
    with pytest.raises(ClientError) as exc:
        grantee.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "a"})
    assert _code(exc) == "AccessDeniedException"
    grant = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=grantee_arn,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextEquals": {"app": "a"}},
    )
    out = grantee.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "a"})
    assert out["Plaintext"] == b"g"
    with pytest.raises(ClientError) as exc:
        grantee.encrypt(KeyId=key["KeyId"], Plaintext=b"no")
    assert _code(exc) == "AccessDeniedException"
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=grant["GrantId"])
    with pytest.raises(ClientError) as exc:
        grantee.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "a"})
    assert _code(exc) == "AccessDeniedException"


def test_s3_reads_of_sse_kms_objects_need_kms_decrypt(
    server: NubesProcess, unique: Callable[[str], str]
) -> None:
    admin_s3, kms = server.client("s3"), server.client("kms")
    bucket = unique("sse")
    admin_s3.create_bucket(Bucket=bucket)
    key = kms.create_key()["KeyMetadata"]
    admin_s3.put_object(
        Bucket=bucket, Key="k", Body=b"body", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"]
    )
    admin_s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    admin_s3.put_object(Bucket=bucket, Key="managed", Body=b"m", ServerSideEncryption="aws:kms")
    iam = server.client("iam")
    clients = {}
    for name, actions in (("s3only", ["s3:*"]), ("withkms", ["s3:*", "kms:Decrypt"])):
        user = unique(name)
        iam.create_user(UserName=user)
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
        access = iam.create_access_key(UserName=user)["AccessKey"]
        clients[name] = make_client(
            server.endpoint,
            "s3",
            aws_access_key_id=access["AccessKeyId"],
            aws_secret_access_key=access["SecretAccessKey"],
        )
    assert clients["s3only"].get_object(Bucket=bucket, Key="plain")["Body"].read() == b"plain"
    # Under aws/s3, S3 decrypts for whoever it lets read.
    assert clients["s3only"].get_object(Bucket=bucket, Key="managed")["Body"].read() == b"m"
    assert clients["s3only"].head_object(Bucket=bucket, Key="k")["SSEKMSKeyId"] == key["Arn"]
    with pytest.raises(ClientError) as exc:
        clients["s3only"].get_object(Bucket=bucket, Key="k")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    assert "kms:Decrypt" in exc.value.response["Error"]["Message"]
    assert clients["withkms"].get_object(Bucket=bucket, Key="k")["Body"].read() == b"body"


def test_services_decrypt_for_their_callers(
    server: NubesProcess, unique: Callable[[str], str]
) -> None:
    """Under an AWS managed key the service decrypts for any caller it lets in; under a
    customer key the caller needs kms:Decrypt on the key itself."""
    kms, ssm, sm = server.client("kms"), server.client("ssm"), server.client("secretsmanager")
    key = kms.create_key()["KeyMetadata"]
    managed, own = unique("/m"), unique("/o")
    ssm.put_parameter(Name=managed, Value="m", Type="SecureString")
    ssm.put_parameter(Name=own, Value="o", Type="SecureString", KeyId=key["Arn"])
    secret_managed, secret_own = unique("sm"), unique("so")
    sm.create_secret(Name=secret_managed, SecretString="m")
    sm.create_secret(Name=secret_own, SecretString="o", KmsKeyId=key["Arn"])
    iam = server.client("iam")
    users = {}
    for name, actions in (
        ("plain", ["ssm:GetParameter", "secretsmanager:GetSecretValue"]),
        ("decrypt", ["ssm:GetParameter", "secretsmanager:GetSecretValue", "kms:Decrypt"]),
    ):
        user = unique(name)
        iam.create_user(UserName=user)
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
        access = iam.create_access_key(UserName=user)["AccessKey"]
        users[name] = {
            svc: make_client(
                server.endpoint,
                svc,
                aws_access_key_id=access["AccessKeyId"],
                aws_secret_access_key=access["SecretAccessKey"],
            )
            for svc in ("ssm", "secretsmanager")
        }
    plain, decrypt = users["plain"], users["decrypt"]
    got = plain["ssm"].get_parameter(Name=managed, WithDecryption=True)
    assert got["Parameter"]["Value"] == "m"
    assert plain["secretsmanager"].get_secret_value(SecretId=secret_managed)["SecretString"] == "m"
    with pytest.raises(ClientError) as exc:
        plain["ssm"].get_parameter(Name=own, WithDecryption=True)
    assert _code(exc) == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:
        plain["secretsmanager"].get_secret_value(SecretId=secret_own)
    assert _code(exc) == "AccessDeniedException"
    assert plain["ssm"].get_parameter(Name=own)["Parameter"]["Version"] == 1
    got = decrypt["ssm"].get_parameter(Name=own, WithDecryption=True)
    assert got["Parameter"]["Value"] == "o"
    assert decrypt["secretsmanager"].get_secret_value(SecretId=secret_own)["SecretString"] == "o"
