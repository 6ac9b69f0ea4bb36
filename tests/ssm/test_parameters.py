"""Parameter Store through boto3: SecureString through KMS, versions, labels and selectors,
hierarchies and filters, tiers, expiration on the advanced clock, tags, and the public
parameters resolving to images EC2 describes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError


@pytest.fixture
def ssm(client: Callable[..., Any]) -> Any:
    return client("ssm")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_secure_string_round_trip_through_kms(
    ssm: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    kms = client("kms")
    name = f"/{unique('app')}/db/password"
    assert ssm.put_parameter(Name=name, Value="hunter2", Type="SecureString")["Version"] == 1
    hidden = ssm.get_parameter(Name=name)["Parameter"]
    assert hidden["Type"] == "SecureString" and hidden["Value"] != "hunter2"
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "hunter2"
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])[
        "Parameters"
    ]
    assert described[0]["KeyId"] == "alias/aws/ssm"
    assert kms.describe_key(KeyId="alias/aws/ssm")["KeyMetadata"]["KeyManager"] == "AWS"

    # With a customer key: disabling it makes the value unreadable, not the parameter.
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    own = f"/{unique('app')}/token"
    ssm.put_parameter(Name=own, Value="t0k3n", Type="SecureString", KeyId=key_id)
    assert ssm.get_parameter(Name=own, WithDecryption=True)["Parameter"]["Value"] == "t0k3n"
    kms.disable_key(KeyId=key_id)
    with pytest.raises(ClientError):
        ssm.get_parameter(Name=own, WithDecryption=True)
    assert ssm.get_parameter(Name=own)["Parameter"]["Version"] == 1
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(
            Name=f"/{unique('x')}", Value="v", Type="SecureString", KeyId="alias/none"
        )
    assert _code(exc) == "InvalidKeyId"


def test_versions_labels_and_selectors(ssm: Any, unique: Callable[[str], str]) -> None:
    name = f"/{unique('cfg')}/level"
    ssm.put_parameter(Name=name, Value="one", Type="String")
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=name, Value="two", Type="String")
    assert _code(exc) == "ParameterAlreadyExists"
    assert ssm.put_parameter(Name=name, Value="two", Overwrite=True)["Version"] == 2
    ssm.put_parameter(Name=name, Value="three", Overwrite=True)
    out = ssm.label_parameter_version(
        Name=name, ParameterVersion=1, Labels=["prod", "aws-no", "9x"]
    )
    assert out["InvalidLabels"] == ["aws-no", "9x"]
    assert ssm.get_parameter(Name=f"{name}:prod")["Parameter"]["Value"] == "one"
    assert ssm.get_parameter(Name=f"{name}:2")["Parameter"]["Value"] == "two"
    assert ssm.get_parameter(Name=f"{name}:2")["Parameter"]["Selector"] == ":2"
    # Labelling another version moves the label.
    ssm.label_parameter_version(Name=name, ParameterVersion=3, Labels=["prod"])
    assert ssm.get_parameter(Name=f"{name}:prod")["Parameter"]["Value"] == "three"
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [h["Value"] for h in history] == ["one", "two", "three"]
    assert [h["Labels"] for h in history] == [[], [], ["prod"]]
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(Name=f"{name}:9")
    assert _code(exc) == "ParameterVersionNotFound"
    removed = ssm.unlabel_parameter_version(Name=name, ParameterVersion=3, Labels=["prod", "x"])
    assert removed["RemovedLabels"] == ["prod"] and removed["InvalidLabels"] == ["x"]
    got = ssm.get_parameters(Names=[name, f"{name}:1", f"/{unique('missing')}"])
    assert [p["Value"] for p in got["Parameters"]] == ["three", "one"]
    assert len(got["InvalidParameters"]) == 1


def test_only_a_hundred_versions_are_kept(ssm: Any, unique: Callable[[str], str]) -> None:
    name = unique("many")
    ssm.put_parameter(Name=name, Value="0", Type="String")
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["keep"])
    for i in range(1, 100):
        ssm.put_parameter(Name=name, Value=str(i), Overwrite=True)
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=name, Value="100", Overwrite=True)
    assert _code(exc) == "ParameterMaxVersionLimitExceeded"
    ssm.unlabel_parameter_version(Name=name, ParameterVersion=1, Labels=["keep"])
    assert ssm.put_parameter(Name=name, Value="100", Overwrite=True)["Version"] == 101
    history = ssm.get_parameter_history(Name=name, MaxResults=50)
    assert history["Parameters"][0]["Version"] == 2


def test_names_hierarchies_and_tiers(ssm: Any, unique: Callable[[str], str]) -> None:
    for bad in ("/aws/mine", "ssm-thing", "a/b", "has space"):
        with pytest.raises(ClientError) as exc:
            ssm.put_parameter(Name=bad, Value="v", Type="String")
        assert _code(exc) == "ValidationException"
    deep = "/" + "/".join("l" for _ in range(16))
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=deep, Value="v", Type="String")
    assert _code(exc) == "HierarchyLevelLimitExceededException"
    big = "x" * 5000
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=unique("big"), Value=big, Type="String")
    assert "4096" in exc.value.response["Error"]["Message"]
    assert (
        ssm.put_parameter(Name=unique("big"), Value=big, Type="String", Tier="Intelligent-Tiering")[
            "Tier"
        ]
        == "Advanced"
    )
    name = unique("adv")
    ssm.put_parameter(Name=name, Value="v", Type="String", Tier="Advanced")
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=name, Value="w", Tier="Standard", Overwrite=True)
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=unique("pat"), Value="abc", Type="String", AllowedPattern=r"^\d+$")
    assert _code(exc) == "ParameterPatternMismatchException"


def test_paths_filters_and_paging(ssm: Any, unique: Callable[[str], str]) -> None:
    root = f"/{unique('tree')}"
    names = [f"{root}/a", f"{root}/b", f"{root}/sub/c", f"{root}/sub/deeper/d"]
    for name in names:
        ssm.put_parameter(Name=name, Value=name[-1], Type="String")
    ssm.put_parameter(Name=f"{root}/list", Value="x,y", Type="StringList")
    one = ssm.get_parameters_by_path(Path=root)["Parameters"]
    assert sorted(p["Name"] for p in one) == [f"{root}/a", f"{root}/b", f"{root}/list"]
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = ssm.get_parameters_by_path(Path=root, Recursive=True, MaxResults=2, **token)
        seen += [p["Name"] for p in page["Parameters"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert sorted(seen) == sorted([*names, f"{root}/list"])
    typed = ssm.get_parameters_by_path(
        Path=root, ParameterFilters=[{"Key": "Type", "Values": ["StringList"]}]
    )["Parameters"]
    assert [p["Name"] for p in typed] == [f"{root}/list"]

    ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId=f"{root}/a", Tags=[{"Key": "team", "Value": "x"}]
    )
    ssm.label_parameter_version(Name=f"{root}/b", Labels=["live"])
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [f"{root}/sub"]}]
    )["Parameters"]
    assert sorted(p["Name"] for p in described) == names[2:]
    by_tag = ssm.describe_parameters(
        ParameterFilters=[{"Key": "tag:team", "Values": ["x"]}, {"Key": "Path", "Values": [root]}]
    )["Parameters"]
    assert [p["Name"] for p in by_tag] == [f"{root}/a"]
    by_label = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Label", "Values": ["live"]}, {"Key": "Path", "Values": [root]}]
    )["Parameters"]
    assert [p["Name"] for p in by_label] == [f"{root}/b"]
    begins = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [f"{root}/s"]}]
    )["Parameters"]
    assert sorted(p["Name"] for p in begins) == names[2:]
    with pytest.raises(ClientError) as exc:
        ssm.describe_parameters(
            Filters=[{"Key": "Name", "Values": ["x"]}],
            ParameterFilters=[{"Key": "Name", "Values": ["x"]}],
        )
    assert _code(exc) == "ValidationException"

    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=f"{root}/a")
    assert tags["TagList"] == [{"Key": "team", "Value": "x"}]
    ssm.remove_tags_from_resource(
        ResourceType="Parameter", ResourceId=f"{root}/a", TagKeys=["team"]
    )
    assert (
        ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=f"{root}/a")["TagList"]
        == []
    )

    out = ssm.delete_parameters(Names=[f"{root}/a", f"{root}/nope"])
    assert out["DeletedParameters"] == [f"{root}/a"] and out["InvalidParameters"] == [
        f"{root}/nope"
    ]
    ssm.delete_parameter(Name=f"{root}/b")
    with pytest.raises(ClientError) as exc:
        ssm.delete_parameter(Name=f"{root}/b")
    assert _code(exc) == "ParameterNotFound"


@pytest.mark.clock
def test_expiration_policy_deletes_on_the_clock(
    ssm: Any, endpoint: str, unique: Callable[[str], str]
) -> None:
    now = requests.get(f"{endpoint}/_nubes/clock", timeout=10).json()["now"]
    start = datetime.fromtimestamp(now, UTC)
    at = (start + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    name = unique("expiring")
    policies = [
        {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": at}},
        {
            "Type": "ExpirationNotification",
            "Version": "1.0",
            "Attributes": {"Before": "1", "Unit": "Days"},
        },
    ]
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=name, Value="v", Type="String", Policies=json.dumps(policies))
    assert _code(exc) == "ValidationException"
    ssm.put_parameter(
        Name=name, Value="v", Type="String", Tier="Advanced", Policies=json.dumps(policies)
    )
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])[
        "Parameters"
    ][0]
    assert {p["PolicyType"] for p in described["Policies"]} == {
        "Expiration",
        "ExpirationNotification",
    }
    assert all(p["PolicyStatus"] == "Pending" for p in described["Policies"])
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 86_400 + 60}, timeout=10)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "v"
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 86_400}, timeout=10)
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(Name=name)
    assert _code(exc) == "ParameterNotFound"


def test_public_ami_parameters_resolve_to_images_ec2_describes(
    ssm: Any, client: Callable[..., Any]
) -> None:
    ec2 = client("ec2")
    names = [
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        "/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2",
        "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id",
    ]
    for name in names:
        parameter = ssm.get_parameter(Name=name)["Parameter"]
        assert parameter["Value"].startswith("ami-") and parameter["DataType"] == "aws:ec2:image"
        images = ec2.describe_images(ImageIds=[parameter["Value"]])["Images"]
        assert len(images) == 1
    latest = ssm.get_parameters_by_path(Path="/aws/service/ami-amazon-linux-latest")
    assert any(p["Name"].endswith("al2023-ami-kernel-default-arm64") for p in latest["Parameters"])


def test_public_region_parameters(ssm: Any) -> None:
    base = "/aws/service/global-infrastructure/regions"
    regions: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = ssm.get_parameters_by_path(Path=base, **token)
        regions += [p["Value"] for p in page["Parameters"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert "us-east-1" in regions and "eu-west-1" in regions
    facts = ssm.get_parameters_by_path(Path=f"{base}/eu-west-1")["Parameters"]
    assert {p["Name"].rsplit("/", 1)[1]: p["Value"] for p in facts}["longName"] == (
        "Europe (Ireland)"
    )
    assert ssm.get_parameter(Name=f"{base}/us-east-1/partition")["Parameter"]["Value"] == "aws"


def test_secrets_manager_references(
    ssm: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sm = client("secretsmanager")
    name = unique("ref")
    first = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    sm.put_secret_value(SecretId=name, SecretString="two")
    reference = f"/aws/reference/secretsmanager/{name}"
    found = ssm.get_parameter(Name=reference, WithDecryption=True)["Parameter"]
    assert found["Value"] == "two" and found["Type"] == "SecureString"
    assert json.loads(found["SourceResult"])["Name"] == name
    previous = ssm.get_parameter(Name=f"{reference}:AWSPREVIOUS", WithDecryption=True)
    assert previous["Parameter"]["Value"] == "one"
    by_id = ssm.get_parameter(Name=f"{reference}:{first}", WithDecryption=True)
    assert by_id["Parameter"]["Value"] == "one"
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(Name=reference)
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(
            Name=f"/aws/reference/secretsmanager/{unique('none')}", WithDecryption=True
        )
    assert _code(exc) == "ParameterNotFound"
