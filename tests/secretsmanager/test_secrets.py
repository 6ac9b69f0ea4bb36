"""Secrets Manager through boto3: versions and staging labels, KMS encryption, rotation by a
real Python Lambda calling Secrets Manager from inside through its four steps (on RotateSecret
and on its schedule on the advanced clock), deletion and restore, replication, policies,
random passwords, listing and batch reads."""

from __future__ import annotations

import io
import json
import string
import time
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::000000000000:role/rotation"

ROTATION = """
import json
import boto3

client = boto3.client("secretsmanager")
STEPS = []


def handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    current = client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    log = json.loads(current["SecretString"])
    if step == "createSecret":
        try:
            client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except client.exceptions.ResourceNotFoundException:
            password = client.get_random_password(ExcludePunctuation=True)["RandomPassword"]
            value = dict(log, password=password, steps=log.get("steps", []) + [step])
            client.put_secret_value(
                SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(value),
                VersionStages=["AWSPENDING"],
            )
    elif step in ("setSecret", "testSecret"):
        pending = client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        assert "AWSCURRENT" not in pending["VersionStages"]
        client.tag_resource(SecretId=arn, Tags=[{"Key": step, "Value": token}])
    elif step == "finishSecret":
        described = client.describe_secret(SecretId=arn)
        current = next(
            v for v, stages in described["VersionIdsToStages"].items() if "AWSCURRENT" in stages
        )
        if current != token:
            client.update_secret_version_stage(
                SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                RemoveFromVersionId=current,
            )
    return {}
"""


@pytest.fixture
def sm(client: Callable[..., Any]) -> Any:
    return client("secretsmanager")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("rotate.py", source)
    return buffer.getvalue()


def test_versions_and_staging_labels(sm: Any, unique: Callable[[str], str]) -> None:
    name = unique("db")
    made = sm.create_secret(Name=name, SecretString="v1", Description="creds")
    assert made["ARN"].startswith(f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}-")
    first = made["VersionId"]
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretString"] == "v1" and got["VersionStages"] == ["AWSCURRENT"]
    second = sm.put_secret_value(SecretId=made["ARN"], SecretString="v2")["VersionId"]
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {first: ["AWSPREVIOUS"], second: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v1"
    assert sm.get_secret_value(SecretId=name, VersionId=first)["SecretString"] == "v1"
    # Same token, same value: the same version; another value: refused.
    again = sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=second)
    assert again["VersionId"] == second
    with pytest.raises(ClientError) as exc:
        sm.put_secret_value(SecretId=name, SecretString="v3", ClientRequestToken=second)
    assert _code(exc) == "ResourceExistsException"
    pending = sm.put_secret_value(SecretId=name, SecretString="v3", VersionStages=["AWSPENDING"])
    with pytest.raises(ClientError) as exc:
        sm.update_secret_version_stage(
            SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=pending["VersionId"]
        )
    assert _code(exc) == "InvalidParameterException"
    sm.update_secret_version_stage(
        SecretId=name,
        VersionStage="AWSCURRENT",
        MoveToVersionId=pending["VersionId"],
        RemoveFromVersionId=second,
    )
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {second: ["AWSPREVIOUS"], pending["VersionId"]: ["AWSPENDING", "AWSCURRENT"]}
    versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert {v["VersionId"] for v in versions} == {second, pending["VersionId"]}
    everything = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert len(everything) == 3
    with pytest.raises(ClientError) as exc:
        sm.get_secret_value(SecretId=unique("missing"))
    assert _code(exc) == "ResourceNotFoundException"
    assert (
        exc.value.response["Error"]["Message"] == "Secrets Manager can't find the specified secret."
    )


def test_binary_secrets_and_kms_keys(
    sm: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    kms = client("kms")
    name = unique("bin")
    sm.create_secret(Name=name, SecretBinary=b"\x00\x01\xff")
    assert sm.get_secret_value(SecretId=name)["SecretBinary"] == b"\x00\x01\xff"
    with pytest.raises(ClientError) as exc:
        sm.create_secret(Name=unique("both"), SecretBinary=b"x", SecretString="y")
    assert _code(exc) == "InvalidParameterException"
    assert "KmsKeyId" not in sm.describe_secret(SecretId=name)
    assert kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]["KeyManager"] == "AWS"

    key = kms.create_key()["KeyMetadata"]
    own = unique("own")
    sm.create_secret(Name=own, SecretString="s", KmsKeyId=key["KeyId"])
    assert sm.describe_secret(SecretId=own)["KmsKeyId"] == key["Arn"]
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as exc:
        sm.get_secret_value(SecretId=own)
    assert _code(exc) == "DecryptionFailure"
    kms.enable_key(KeyId=key["KeyId"])
    assert sm.get_secret_value(SecretId=own)["SecretString"] == "s"
    with pytest.raises(ClientError) as exc:
        sm.create_secret(Name=unique("nokey"), SecretString="s", KmsKeyId="alias/does-not-exist")
    assert _code(exc) == "EncryptionFailure"


@pytest.mark.clock
def test_delete_with_recovery_window_and_restore(
    sm: Any, endpoint: str, unique: Callable[[str], str]
) -> None:
    name = unique("gone")
    sm.create_secret(Name=name, SecretString="x")
    with pytest.raises(ClientError) as exc:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=3)
    assert _code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert _code(exc) == "InvalidParameterException"
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    with pytest.raises(ClientError) as exc:
        sm.get_secret_value(SecretId=name)
    assert _code(exc) == "InvalidRequestException"
    assert "DeletedDate" in sm.describe_secret(SecretId=name)
    listed = [
        s["Name"]
        for s in sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    ]
    assert listed == []
    planned = sm.list_secrets(
        IncludePlannedDeletion=True, Filters=[{"Key": "name", "Values": [name]}]
    )
    assert [s["Name"] for s in planned["SecretList"]] == [name]
    with pytest.raises(ClientError) as exc:
        sm.create_secret(Name=name, SecretString="again")
    assert _code(exc) == "InvalidRequestException"
    sm.restore_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "x"

    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 7 * 86_400 + 120}, timeout=10)
    with pytest.raises(ClientError) as exc:
        sm.describe_secret(SecretId=name)
    assert _code(exc) == "ResourceNotFoundException"
    forced = unique("forced")
    sm.create_secret(Name=forced, SecretString="x")
    sm.delete_secret(SecretId=forced, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as exc:
        sm.describe_secret(SecretId=forced)
    assert _code(exc) == "ResourceNotFoundException"


def _wait_for(check: Callable[[], bool]) -> None:
    """Rotation runs after RotateSecret answers; poll until it is done."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("rotation did not finish")


@pytest.mark.clock
def test_rotation_by_a_lambda_through_its_four_steps(
    sm: Any, client: Callable[..., Any], endpoint: str, unique: Callable[[str], str]
) -> None:
    lam = client("lambda")
    function = unique("rotator")
    function_arn = lam.create_function(
        FunctionName=function,
        Runtime="python3.12",
        Handler="rotate.handler",
        Role=ROLE,
        Code={"ZipFile": _zip(ROTATION)},
        Timeout=30,
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=function)
    try:
        name = unique("rotated")
        first = sm.create_secret(Name=name, SecretString=json.dumps({"user": "app"}))["VersionId"]
        out = sm.rotate_secret(
            SecretId=name,
            RotationLambdaARN=function_arn,
            RotationRules={"AutomaticallyAfterDays": 10},
        )
        token = out["VersionId"]

        _wait_for(lambda: "LastRotatedDate" in sm.describe_secret(SecretId=name))
        described = sm.describe_secret(SecretId=name)
        assert described["RotationEnabled"] and described["RotationLambdaARN"] == function_arn
        assert described["RotationRules"]["AutomaticallyAfterDays"] == 10
        assert described["VersionIdsToStages"][first] == ["AWSPREVIOUS"]
        assert described["VersionIdsToStages"][token] == ["AWSCURRENT"]
        value = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
        assert value["user"] == "app" and value["steps"] == ["createSecret"]
        assert len(value["password"]) == 32
        assert set(value["password"]) <= set(string.ascii_letters + string.digits)
        # setSecret and testSecret ran, each with this rotation's token.
        tags = {t["Key"]: t["Value"] for t in described.get("Tags", [])}
        assert tags == {"setSecret": token, "testSecret": token}

        # The schedule rotates again after ten days on the clock.
        requests.post(f"{endpoint}/_nubes/clock", json={"advance": 10 * 86_400 + 120}, timeout=10)
        _wait_for(
            lambda: (
                len(sm.list_secret_version_ids(SecretId=name)["Versions"]) == 2
                and token
                in [
                    v["VersionId"]
                    for v in sm.list_secret_version_ids(SecretId=name)["Versions"]
                    if "AWSPREVIOUS" in v["VersionStages"]
                ]
            )
        )
        assert first not in {
            v["VersionId"] for v in sm.list_secret_version_ids(SecretId=name)["Versions"]
        }
    finally:
        lam.delete_function(FunctionName=function)


def test_rotate_without_a_function_is_refused(sm: Any, unique: Callable[[str], str]) -> None:
    name = unique("norot")
    sm.create_secret(Name=name, SecretString="x")
    with pytest.raises(ClientError) as exc:
        sm.rotate_secret(SecretId=name)
    assert _code(exc) == "InvalidRequestException"


def test_random_passwords(sm: Any) -> None:
    default = sm.get_random_password()["RandomPassword"]
    assert len(default) == 32
    digits = sm.get_random_password(
        PasswordLength=12, ExcludeLowercase=True, ExcludeUppercase=True, ExcludePunctuation=True
    )["RandomPassword"]
    assert len(digits) == 12 and digits.isdigit()
    spaced = sm.get_random_password(
        PasswordLength=40, IncludeSpace=True, ExcludeCharacters="abc", RequireEachIncludedType=True
    )["RandomPassword"]
    assert " " in spaced and not set("abc") & set(spaced)
    with pytest.raises(ClientError) as exc:
        sm.get_random_password(
            ExcludeLowercase=True,
            ExcludeUppercase=True,
            ExcludeNumbers=True,
            ExcludePunctuation=True,
        )
    assert _code(exc) == "InvalidParameterException"


def test_replication_to_regions(
    sm: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    name = unique("global")
    made = sm.create_secret(
        Name=name, SecretString="one", AddReplicaRegions=[{"Region": "eu-west-1"}]
    )
    assert made["ReplicationStatus"][0]["Status"] == "InSync"
    europe = client("secretsmanager", region="eu-west-1")
    assert europe.get_secret_value(SecretId=name)["SecretString"] == "one"
    sm.put_secret_value(SecretId=name, SecretString="two")
    assert europe.get_secret_value(SecretId=name)["SecretString"] == "two"
    replica = europe.describe_secret(SecretId=name)
    assert replica["PrimaryRegion"] == "us-east-1"
    assert replica["ARN"] == made["ARN"].replace("us-east-1", "eu-west-1")
    with pytest.raises(ClientError) as exc:
        europe.put_secret_value(SecretId=name, SecretString="three")
    assert _code(exc) == "InvalidRequestException"
    sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": "ap-south-1"}])
    regions = {r["Region"] for r in sm.describe_secret(SecretId=name)["ReplicationStatus"]}
    assert regions == {"eu-west-1", "ap-south-1"}
    sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=["ap-south-1"])
    with pytest.raises(ClientError) as exc:
        client("secretsmanager", region="ap-south-1").describe_secret(SecretId=name)
    assert _code(exc) == "ResourceNotFoundException"
    europe.stop_replication_to_replica(SecretId=name)
    europe.put_secret_value(SecretId=name, SecretString="own")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "two"


def test_resource_policies(sm: Any, unique: Callable[[str], str]) -> None:
    name = unique("pol")
    sm.create_secret(Name=name, SecretString="x")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ],
    }
    sm.put_resource_policy(SecretId=name, ResourcePolicy=json.dumps(policy))
    assert json.loads(sm.get_resource_policy(SecretId=name)["ResourcePolicy"]) == policy
    assert sm.validate_resource_policy(ResourcePolicy=json.dumps(policy))["PolicyValidationPassed"]
    assert not sm.validate_resource_policy(ResourcePolicy="{bad")["PolicyValidationPassed"]
    public = dict(policy, Statement=[dict(policy["Statement"][0], Principal="*")])  # type: ignore[arg-type]
    with pytest.raises(ClientError) as exc:
        sm.put_resource_policy(
            SecretId=name, ResourcePolicy=json.dumps(public), BlockPublicPolicy=True
        )
    assert _code(exc) == "PublicPolicyException"
    sm.delete_resource_policy(SecretId=name)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)


def test_list_filters_paging_tags_and_batch_get(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sm = client("secretsmanager", region="ca-central-1")
    prefix = unique("team")
    names = [f"{prefix}/svc-{i}" for i in range(5)]
    for i, name in enumerate(names):
        sm.create_secret(
            Name=name,
            SecretString=f"value-{i}",
            Description="red" if i % 2 else "blue",
            Tags=[{"Key": "env", "Value": "prod" if i < 3 else "dev"}],
        )
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = sm.list_secrets(MaxResults=2, Filters=[{"Key": "name", "Values": [prefix]}], **token)
        seen += [s["Name"] for s in page["SecretList"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert seen == names
    red = sm.list_secrets(
        Filters=[{"Key": "name", "Values": [prefix]}, {"Key": "description", "Values": ["red"]}]
    )["SecretList"]
    assert [s["Name"] for s in red] == [names[1], names[3]]
    not_prod = sm.list_secrets(
        Filters=[{"Key": "name", "Values": [prefix]}, {"Key": "tag-value", "Values": ["!prod"]}]
    )["SecretList"]
    assert [s["Name"] for s in not_prod] == names[3:]
    sm.untag_resource(SecretId=names[0], TagKeys=["env"])
    sm.tag_resource(SecretId=names[0], Tags=[{"Key": "owner", "Value": "me"}])
    assert sm.describe_secret(SecretId=names[0])["Tags"] == [{"Key": "owner", "Value": "me"}]

    batch = sm.batch_get_secret_value(SecretIdList=[names[0], names[4], f"{prefix}/nope"])
    assert [v["SecretString"] for v in batch["SecretValues"]] == ["value-0", "value-4"]
    assert batch["Errors"][0]["ErrorCode"] == "ResourceNotFoundException"
    filtered = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [prefix]}])
    assert len(filtered["SecretValues"]) == 5


def test_a_name_outside_the_allowed_characters_is_refused(sm: Any) -> None:
    for name in ("arn:aws:iam::000000000000:role/x", "with space", "semi;colon"):
        with pytest.raises(ClientError) as err:
            sm.create_secret(Name=name, SecretString="x")
        assert err.value.response["Error"]["Code"] == "ValidationException"
        assert err.value.response["Error"]["Message"].startswith("Invalid name.")
    for name in ("a/b_c+d=e.f@g-h", "rds!db-1234"):
        assert sm.create_secret(Name=name, SecretString="x")["Name"] == name
