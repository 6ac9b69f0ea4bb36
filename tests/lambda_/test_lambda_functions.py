"""Lambda control plane: functions, versions, aliases, concurrency, policies, layers, tags."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_.conftest import ROLE, zipped

ECHO = {"app.py": "def handler(event, context):\n    return event\n"}


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_create_get_and_list(lam: Any, unique: Callable[[str], str]) -> None:
    name = unique("fn")
    code = zipped(ECHO)
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": code},
        Description="echo",
        Timeout=7,
        MemorySize=256,
        Environment={"Variables": {"AA": "1"}},
        Tags={"team": "core"},
        Architectures=["arm64"],
        EphemeralStorage={"Size": 1024},
    )
    try:
        assert created["State"] == "Pending"
        assert created["StateReasonCode"] == "Creating"
        assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
        assert created["CodeSize"] == len(code)
        assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
        assert created["Version"] == "$LATEST"
        assert created["PackageType"] == "Zip"
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        got = lam.get_function(FunctionName=name)
        config = got["Configuration"]
        assert config["State"] == "Active"
        assert config["LastUpdateStatus"] == "Successful"
        assert config["Timeout"] == 7 and config["MemorySize"] == 256
        assert config["Environment"] == {"Variables": {"AA": "1"}}
        assert config["Architectures"] == ["arm64"]
        assert config["EphemeralStorage"] == {"Size": 1024}
        assert config["Role"] == ROLE and config["Description"] == "echo"
        assert got["Tags"] == {"team": "core"}
        assert got["Code"]["RepositoryType"] == "S3"
        by_arn = lam.get_function_configuration(FunctionName=config["FunctionArn"])
        assert by_arn["FunctionName"] == name
        pages = lam.get_paginator("list_functions").paginate()
        listed = {f["FunctionName"]: f for page in pages for f in page["Functions"]}
        assert listed[name]["CodeSha256"] == config["CodeSha256"]
        # ListFunctions leaves out the state fields.
        assert "State" not in listed[name] and "LastUpdateStatus" not in listed[name]
    finally:
        lam.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName=name)
    assert error_code(exc) == "ResourceNotFoundException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "Function not found" in exc.value.response["Error"]["Message"]


def test_create_errors(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    with pytest.raises(ClientError) as exc:
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zipped(ECHO)},
        )
    assert error_code(exc) == "ResourceConflictException"
    with pytest.raises(ClientError) as exc:
        lam.create_function(
            FunctionName=name + "x",
            Role=ROLE,
            PackageType="Image",
            Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest"},
        )
    assert error_code(exc) == "InvalidParameterValueException"
    assert "not supported" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        lam.create_function(
            FunctionName=name + "y",
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": b"not a zip"},
        )
    assert error_code(exc) == "InvalidParameterValueException"
    assert "Could not unzip" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        lam.create_function(
            FunctionName=name + "z",
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zipped(ECHO)},
            Environment={"Variables": {"AWS_REGION": "eu-west-1"}},
        )
    assert error_code(exc) == "InvalidParameterValueException"
    assert "AWS_REGION" in exc.value.response["Error"]["Message"]


def test_list_functions_paginates(lam: Any, make_function: Callable[..., str]) -> None:
    names = {make_function(ECHO) for _ in range(3)}
    seen: list[str] = []
    marker = None
    while True:
        page = lam.list_functions(MaxItems=1, **({"Marker": marker} if marker else {}))
        assert len(page["Functions"]) <= 1
        seen.extend(f["FunctionName"] for f in page["Functions"])
        marker = page.get("NextMarker")
        if not marker:
            break
    assert names <= set(seen)
    assert len(seen) == len(set(seen))


def test_update_code_and_configuration(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    before = lam.get_function_configuration(FunctionName=name)
    new_code = zipped({"app.py": "def handler(event, context):\n    return 'v2'\n"})
    updated = lam.update_function_code(FunctionName=name, ZipFile=new_code)
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["CodeSha256"] != before["CodeSha256"]
    assert updated["RevisionId"] != before["RevisionId"]
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert lam.invoke(FunctionName=name)["Payload"].read() == b'"v2"'
    config = lam.update_function_configuration(
        FunctionName=name, Timeout=30, Environment={"Variables": {"BB": "2"}}
    )
    assert config["Timeout"] == 30
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    got = lam.get_function_configuration(FunctionName=name)
    assert got["LastUpdateStatus"] == "Successful"
    assert got["Environment"]["Variables"] == {"BB": "2"}
    with pytest.raises(ClientError) as exc:
        lam.update_function_configuration(FunctionName=name, Timeout=5, RevisionId="stale")
    assert error_code(exc) == "PreconditionFailedException"


def test_versions_and_aliases(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function({"app.py": "def handler(event, context):\n    return 'one'\n"})
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["Version"] == "1"
    assert v1["FunctionArn"].endswith(f":{name}:1")
    # Nothing changed: publishing again returns the same version.
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    lam.update_function_code(
        FunctionName=name, ZipFile=zipped({"app.py": "def handler(e, c):\n    return 'two'\n"})
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    assert lam.invoke(FunctionName=name, Qualifier="1")["Payload"].read() == b'"one"'
    out = lam.invoke(FunctionName=f"{name}:2")
    assert out["ExecutedVersion"] == "2"
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(f":{name}:live")
    assert lam.invoke(FunctionName=name, Qualifier="live")["Payload"].read() == b'"one"'
    lam.update_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.0}},
    )
    got = lam.get_alias(FunctionName=name, Name="live")
    assert got["FunctionVersion"] == "2"
    assert got["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.0}}
    assert lam.invoke(FunctionName=name, Qualifier="live")["Payload"].read() == b'"two"'
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]
    with pytest.raises(ClientError) as exc:
        lam.delete_function(FunctionName=name, Qualifier="2")
    assert error_code(exc) == "ResourceConflictException"
    lam.delete_alias(FunctionName=name, Name="live")
    lam.delete_function(FunctionName=name, Qualifier="1")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "2"]
    with pytest.raises(ClientError) as exc:
        lam.get_alias(FunctionName=name, Name="live")
    assert error_code(exc) == "ResourceNotFoundException"


def test_concurrency_settings(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    put = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    assert put["ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    with pytest.raises(ClientError) as exc:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=950)
    assert error_code(exc) == "InvalidParameterValueException"
    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    version = lam.publish_version(FunctionName=name)["Version"]
    provisioned = lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=2
    )
    assert provisioned["RequestedProvisionedConcurrentExecutions"] == 2
    got = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert got["Status"] == "READY"
    with pytest.raises(ClientError) as exc:
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=2
        )
    assert error_code(exc) == "InvalidParameterValueException"


def test_permissions_policy(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    added = lam.add_permission(
        FunctionName=name,
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::bucket",
        SourceAccount="000000000000",
    )
    statement = json.loads(added["Statement"])
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnLike"] == {"AWS:SourceArn": "arn:aws:s3:::bucket"}
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert policy["Version"] == "2012-10-17"
    assert [s["Sid"] for s in policy["Statement"]] == ["s3-invoke"]
    with pytest.raises(ClientError) as exc:
        lam.add_permission(
            FunctionName=name,
            StatementId="s3-invoke",
            Action="lambda:InvokeFunction",
            Principal="sns.amazonaws.com",
        )
    assert error_code(exc) == "ResourceConflictException"
    lam.remove_permission(FunctionName=name, StatementId="s3-invoke")
    with pytest.raises(ClientError) as exc:
        lam.get_policy(FunctionName=name)
    assert error_code(exc) == "ResourceNotFoundException"


def test_tags(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"a": "1", "b": "2"})
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}


def test_layers_are_applied(
    lam: Any, make_function: Callable[..., str], unique: Callable[[str], str]
) -> None:
    layer_name = unique("layer")
    layer = lam.publish_layer_version(
        LayerName=layer_name,
        Content={"ZipFile": zipped({"python/helper.py": "GREETING = 'from layer'\n"})},
        CompatibleRuntimes=["python3.12"],
    )
    assert layer["Version"] == 1
    arn = layer["LayerVersionArn"]
    assert lam.get_layer_version(LayerName=layer_name, VersionNumber=1)["LayerVersionArn"] == arn
    listed = lam.list_layers(CompatibleRuntime="python3.12")["Layers"]
    assert any(entry["LayerName"] == layer_name for entry in listed)
    name = make_function(
        {"app.py": "import helper\ndef handler(e, c):\n    return helper.GREETING\n"},
        Layers=[arn],
    )
    assert lam.get_function_configuration(FunctionName=name)["Layers"][0]["Arn"] == arn
    assert lam.invoke(FunctionName=name)["Payload"].read() == b'"from layer"'
    permission = lam.add_layer_version_permission(
        LayerName=layer_name,
        VersionNumber=1,
        StatementId="everyone",
        Action="lambda:GetLayerVersion",
        Principal="*",
    )
    assert json.loads(permission["Statement"])["Principal"] == "*"
    versions = lam.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [1]
    lam.delete_layer_version(LayerName=layer_name, VersionNumber=1)
    with pytest.raises(ClientError) as exc:
        lam.get_layer_version(LayerName=layer_name, VersionNumber=1)
    assert error_code(exc) == "ResourceNotFoundException"


def test_recorded_settings(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    assert lam.get_function_code_signing_config(FunctionName=name)["CodeSigningConfigArn"] == ""
    assert lam.get_runtime_management_config(FunctionName=name)["UpdateRuntimeOn"] == "Auto"
    lam.put_runtime_management_config(FunctionName=name, UpdateRuntimeOn="FunctionUpdate")
    got = lam.get_runtime_management_config(FunctionName=name)
    assert got["UpdateRuntimeOn"] == "FunctionUpdate"
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
    lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Allow"


def test_invoke_with_response_stream(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    out = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"streamed": true}')
    assert out["StatusCode"] == 200
    events = list(out["EventStream"])
    assert events[0] == {"PayloadChunk": {"Payload": b'{"streamed": true}'}}
    assert "InvokeComplete" in events[-1]


def test_runtime_nubes_cannot_run(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function({"app.rb": "def handler(event:, context:) = 1\n"}, runtime="ruby3.3")
    config = lam.get_function_configuration(FunctionName=name)
    assert config["State"] == "Active"
    assert "cannot run ruby3.3" in config["StateReason"]
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name)
    assert error_code(exc) == "InvalidRuntimeException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502


def test_code_signing_configs(lam: Any, make_function: Callable[..., str]) -> None:
    created = lam.create_code_signing_config(
        Description="signed",
        AllowedPublishers={
            "SigningProfileVersionArns": [
                "arn:aws:signer:us-east-1:000000000000:/signing-profiles/p/abc"
            ]
        },
    )["CodeSigningConfig"]
    arn = created["CodeSigningConfigArn"]
    assert created["CodeSigningConfigId"].startswith("csc-")
    assert created["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    name = make_function(ECHO)
    lam.put_function_code_signing_config(FunctionName=name, CodeSigningConfigArn=arn)
    assert lam.get_function_code_signing_config(FunctionName=name)["CodeSigningConfigArn"] == arn
    function_arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == [
        function_arn
    ]
    with pytest.raises(ClientError) as exc:
        lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert error_code(exc) == "ResourceConflictException"
    lam.delete_function_code_signing_config(FunctionName=name)
    lam.update_code_signing_config(CodeSigningConfigArn=arn, Description="changed")
    assert (
        lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]["Description"]
        == "changed"
    )
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    with pytest.raises(ClientError) as exc:
        lam.get_code_signing_config(CodeSigningConfigArn=arn)
    assert error_code(exc) == "CodeSigningConfigNotFoundException"


def test_provisioned_concurrency_prewarms_workers(
    lam: Any, make_function: Callable[..., str]
) -> None:
    source = (
        "import os\n"
        "def handler(event, context):\n"
        "    return os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']\n"
    )
    name = make_function({"app.py": source})
    version = lam.publish_version(FunctionName=name)["Version"]
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "on-demand"
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    kind, out = None, None
    # The provisioned worker starts in the background: until then on-demand ones answer.
    deadline = time.monotonic() + 60
    while kind != "provisioned-concurrency" and time.monotonic() < deadline:
        out = lam.invoke(FunctionName=name, Qualifier=version, LogType="Tail")
        kind = json.loads(out["Payload"].read())
        time.sleep(0.1)
    assert kind == "provisioned-concurrency"
    assert out is not None
    report = base64.b64decode(out["LogResult"]).decode().strip().splitlines()[-1]
    assert "Init Duration" not in report
