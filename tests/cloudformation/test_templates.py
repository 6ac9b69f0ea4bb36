"""The template language: what AWS refuses up front (with its messages) and what every intrinsic
function gives."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudformation.conftest import outputs

REGION_MAP = """
AWSTemplateFormatVersion: "2010-09-09"
Mappings:
  RegionMap:
    us-east-1:
      HVM64: ami-0ff8a91507f77f867
    eu-west-1:
      HVM64: ami-047bb4163c506cd98
Resources:
  Server:
    Type: AWS::SQS::Queue
    Properties:
      Tags:
        - Key: image
          Value: !FindInMap [RegionMap, !Ref "AWS::Region", HVM64]
        - Key: size
          Value: !Ref InstanceType
Outputs:
  Image:
    Value: !FindInMap [RegionMap, !Ref "AWS::Region", HVM64]
"""
WITH_PARAMETER = REGION_MAP.replace(
    "Mappings:",
    "Parameters:\n  InstanceType:\n    Type: String\n    Default: t2.micro\nMappings:",
)


def refused(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_undeclared_parameter_is_refused_as_aws_refuses_it(
    cfn: Any, client: Callable[..., Any], deploy: Any, unique: Callable[[str], str]
) -> None:
    expected = (
        "ValidationError",
        "Template format error: Unresolved resource dependencies [InstanceType] in the "
        "Resources block of the template",
    )
    assert refused(cfn.validate_template, TemplateBody=REGION_MAP) == expected
    name = unique("regionmap")
    assert refused(cfn.create_stack, StackName=name, TemplateBody=REGION_MAP) == expected
    assert refused(cfn.describe_stacks, StackName=name)[1] == f"Stack with id {name} does not exist"

    valid = cfn.validate_template(TemplateBody=WITH_PARAMETER)
    assert valid["Parameters"] == [
        {
            "ParameterKey": "InstanceType",
            "DefaultValue": "t2.micro",
            "NoEcho": False,
            "Description": "",
        }
    ]
    stack = deploy(WITH_PARAMETER)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(stack)["Image"] == "ami-0ff8a91507f77f867"
    url = cfn.describe_stack_resource(StackName=stack["StackName"], LogicalResourceId="Server")
    tags = client("sqs").list_queue_tags(QueueUrl=url["StackResourceDetail"]["PhysicalResourceId"])
    assert tags["Tags"]["size"] == "t2.micro"


@pytest.mark.parametrize(
    ("body", "params", "message"),
    [
        (
            "Parameters:\n  Name: {Type: String}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n",
            [],
            "Parameters: [Name] must have values",
        ),
        (
            "Resources:\n  Q: {Type: AWS::SQS::Queue}\n",
            [{"ParameterKey": "Nope", "ParameterValue": "x"}],
            "Parameters: [Nope] do not exist in the template",
        ),
        (
            "Resources:\n  Q: {Type: AWS::Foo::Bar}\n",
            [],
            "Template format error: Unrecognized resource types: [AWS::Foo::Bar]",
        ),
        (
            "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    DependsOn: B\n"
            "  B:\n    Type: AWS::SQS::Queue\n    Properties:\n"
            "      QueueName: !GetAtt A.QueueName\n",
            [],
            "Circular dependency between resources: [A, B]",
        ),
        (
            "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties:\n"
            "      QueueName: !GetAtt A2.QueueName\n",
            [],
            "Template error: instance of Fn::GetAtt references undefined resource A2",
        ),
        (
            "Resources:\n  A: {Type: AWS::SQS::Queue}\nOutputs:\n  X:\n    Value: !GetAtt A.Nope\n",
            [],
            "Template error: resource A does not support attribute type Nope in Fn::GetAtt",
        ),
        (
            "Parameters:\n  Size: {Type: String, AllowedValues: [small, big]}\n"
            "Resources:\n  Q: {Type: AWS::SQS::Queue}\n",
            [{"ParameterKey": "Size", "ParameterValue": "huge"}],
            "Parameter 'Size' must be one of AllowedValues",
        ),
        (
            "Description: nothing\n",
            [],
            "Template format error: At least one Resources member must be defined.",
        ),
        ("Resources: [\n", [], "Template format error: YAML not well-formed. (line 1, column 13)"),
        ('{"Resources": ', [], "Template format error: JSON not well-formed."),
        ("Resources: " + "[" * 3000, [], "Template format error: YAML not well-formed."),
        ('{"Resources": ' + "[" * 3000, [], "Template format error: JSON not well-formed."),
        (
            "Resources:\n  A: {Type: AWS::SQS::Queue}\nOutputs:\n  X:\n    Value: !Ref Missing\n",
            [],
            "Template format error: Unresolved resource dependencies [Missing] in the Outputs "
            "block of the template",
        ),
        (
            "Resources:\n  A: {Type: AWS::SQS::Queue}\nOutputs:\n  X: {Description: no value}\n",
            [],
            "Template format error: Every Outputs member must contain a Value object",
        ),
        (
            "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    DependsOn: {x: 1}\n",
            [],
            "Template format error: DependsOn must be a string or list of strings.",
        ),
        (
            "Conditions:\n  C: !Equals [a]\nResources:\n  A:\n    Type: AWS::SQS::Queue\n"
            "    Condition: C\n",
            [],
            "Template error: Fn::Equals requires 2 arguments",
        ),
    ],
)
def test_refused_up_front(
    cfn: Any, unique: Callable[[str], str], body: str, params: list[Any], message: str
) -> None:
    code, text = refused(
        cfn.create_stack, StackName=unique("bad"), TemplateBody=body, Parameters=params
    )
    assert (code, text) == ("ValidationError", message)


FUNCTIONS = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::LanguageExtensions
Parameters:
  Env:
    Type: String
    Default: prod
    AllowedValues: [prod, dev]
  Names:
    Type: CommaDelimitedList
    Default: "a,b,c"
  Secret:
    Type: String
    NoEcho: true
    Default: hidden
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Or [!Equals [x, x], !Condition IsDev]]
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
  DevOnly:
    Type: AWS::CloudFormation::WaitConditionHandle
    Condition: IsDev
  Fn::ForEach::Handles:
    - Item
    - !Ref Names
    - Handle${Item}:
        Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  Sub:
    Value: !Sub "${AWS::StackName}-${Env}-${AWS::Region}"
  SubMap:
    Value: !Sub ["${a}/${b}/${!Literal}", {a: !Ref Env, b: !Select [1, !Ref Names]}]
  Join:
    Value: !Join ["+", [!Ref Env, !Select [2, !Split [",", "x,y,z"]]]]
  Azs:
    Value: !Select [0, !GetAZs ""]
  Base64:
    Value: !Base64 hello
  Cidr:
    Value: !Join [" ", !Cidr ["10.0.0.0/16", 3, 8]]
  If:
    Value: !If [IsProd, production, !Ref "AWS::NoValue"]
  Both:
    Value: !If [Both, ok, ko]
  Length:
    Value: !Length [1, 2, 3]
  Json:
    Value: !ToJsonString {k: [1, 2]}
  Loop:
    Value: !Ref Handleb
  Account:
    Value: !Sub "${AWS::AccountId}:${AWS::Partition}:${AWS::URLSuffix}"
  DevOnly:
    Condition: IsDev
    Value: !Ref DevOnly
"""


def test_intrinsic_functions(cfn: Any, deploy: Any) -> None:
    stack = deploy(FUNCTIONS, Capabilities=["CAPABILITY_AUTO_EXPAND"])
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    out = outputs(stack)
    name = stack["StackName"]
    assert out["Sub"] == f"{name}-prod-us-east-1"
    assert out["SubMap"] == "prod/b/${Literal}"
    assert out["Join"] == "prod+z"
    assert out["Azs"] == "us-east-1a"
    assert base64.b64decode(out["Base64"]) == b"hello"
    assert out["Cidr"] == "10.0.0.0/24 10.0.1.0/24 10.0.2.0/24"
    assert out["If"] == "production"
    assert out["Both"] == "ok"
    assert out["Length"] == "3"
    assert json.loads(out["Json"]) == {"k": [1, 2]}
    assert out["Loop"].startswith("http")
    assert out["Account"].endswith(":aws:amazonaws.com")
    assert "DevOnly" not in out
    logical = {
        r["LogicalResourceId"]
        for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    }
    assert logical == {"Handle", "Handlea", "Handleb", "Handlec"}
    shown = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert shown["Secret"] == "****"
    original = cfn.get_template(StackName=name)
    assert "Fn::ForEach::Handles" in str(original["TemplateBody"])
    processed = cfn.get_template(StackName=name, TemplateStage="Processed")["TemplateBody"]
    assert "Handlec" in json.dumps(processed)


def test_property_of_the_wrong_shape_fails_the_resource(cfn: Any, deploy: Any) -> None:
    body = """
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: 5
  Filter:
    Type: AWS::Logs::MetricFilter
    Properties:
      LogGroupName: x
      FilterPattern: x
      MetricTransformations: [{}]
"""
    stack = deploy(body)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [
        e
        for e in cfn.describe_stack_events(StackName=stack["StackName"])["StackEvents"]
        if e["ResourceStatus"] == "CREATE_FAILED"
    ]
    assert failed and failed[0]["ResourceStatusReason"]


def test_aws_specific_parameter_types(
    cfn: Any, client: Callable[..., Any], deploy: Any, unique: Callable[[str], str]
) -> None:
    name = f"/app/{unique('size')}"
    client("ssm").put_parameter(Name=name, Value="large", Type="String")
    body = """
Parameters:
  Size:
    Type: AWS::SSM::Parameter::Value<String>
  Zones:
    Type: List<AWS::EC2::AvailabilityZone::Name>
    Default: us-east-1a,us-east-1b
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      Tags:
        - Key: size
          Value: !Ref Size
Outputs:
  Size:
    Value: !Ref Size
  Zone:
    Value: !Select [1, !Ref Zones]
"""
    stack = deploy(body, Parameters=[{"ParameterKey": "Size", "ParameterValue": name}])
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(stack) == {"Size": "large", "Zone": "us-east-1b"}
    shown = {p["ParameterKey"]: p for p in stack["Parameters"]}
    assert shown["Size"] == {
        "ParameterKey": "Size",
        "ParameterValue": name,
        "ResolvedValue": "large",
    }
    key_body = """
Parameters:
  Key:
    Type: AWS::EC2::KeyPair::KeyName
Resources:
  Q:
    Type: AWS::SQS::Queue
"""
    code, message = refused(
        cfn.create_stack,
        StackName=unique("key"),
        TemplateBody=key_body,
        Parameters=[{"ParameterKey": "Key", "ParameterValue": "no-such-key"}],
    )
    assert (code, message) == (
        "ValidationError",
        "Parameter validation failed: parameter value no-such-key for parameter name Key does "
        "not exist.",
    )
    missing = refused(
        cfn.create_stack,
        StackName=unique("ssm"),
        TemplateBody=body,
        Parameters=[{"ParameterKey": "Size", "ParameterValue": "/no/such/parameter"}],
    )
    assert missing == (
        "ValidationError",
        "Parameters [/no/such/parameter] referenced by template have no values.",
    )


RULES = """
Parameters:
  Version:
    Type: String
    Default: "6"
  Env:
    Type: String
    Default: prod
Rules:
  CheckVersion:
    Assertions:
      - Assert: !Not [!Contains [["1", "2", "3", "4", "5"], !Ref Version]]
        AssertDescription: Version 6 or newer required.
  ProdOnly:
    RuleCondition: !Equals [!Ref Env, prod]
    Assertions:
      - Assert: !EachMemberIn [[!Ref Version], ["6", "7"]]
        AssertDescription: prod runs 6 or 7.
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
"""


def test_rules_assertions(cfn: Any, deploy: Any, unique: Callable[[str], str]) -> None:
    assert deploy(RULES)["StackStatus"] == "CREATE_COMPLETE"
    old = [{"ParameterKey": "Version", "ParameterValue": "5"}]
    assert refused(
        cfn.create_stack, StackName=unique("rules"), TemplateBody=RULES, Parameters=old
    ) == ("ValidationError", "Version 6 or newer required.")
    newer = [{"ParameterKey": "Version", "ParameterValue": "8"}]
    assert refused(
        cfn.create_stack, StackName=unique("rules"), TemplateBody=RULES, Parameters=newer
    ) == ("ValidationError", "prod runs 6 or 7.")
    dev = [*newer, {"ParameterKey": "Env", "ParameterValue": "dev"}]
    assert deploy(RULES, Parameters=dev)["StackStatus"] == "CREATE_COMPLETE"


CDK_SHAPED = """
{
  "Resources": {
    "Queue4A7E3555": {
      "Type": "AWS::SQS::Queue",
      "UpdateReplacePolicy": "Delete",
      "DeletionPolicy": "Delete",
      "Metadata": {"aws:cdk:path": "App/Queue/Resource"}
    },
    "CDKMetadata": {
      "Type": "AWS::CDK::Metadata",
      "Properties": {"Analytics": "v2:deflate64:H4sIAAAAAAAA/zPSMzQw1DNQTCwv1k1O"},
      "Metadata": {"aws:cdk:path": "App/CDKMetadata/Default"},
      "Condition": "CDKMetadataAvailable"
    }
  },
  "Conditions": {
    "CDKMetadataAvailable": {"Fn::Or": [
      {"Fn::Or": [
        {"Fn::Equals": [{"Ref": "AWS::Region"}, "af-south-1"]},
        {"Fn::Equals": [{"Ref": "AWS::Region"}, "ap-east-1"]}
      ]},
      {"Fn::Or": [
        {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
        {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-west-2"]}
      ]}
    ]}
  },
  "Parameters": {
    "BootstrapVersion": {
      "Type": "AWS::SSM::Parameter::Value<String>",
      "Default": "VERSION_PARAMETER",
      "Description": "Version of the CDK Bootstrap resources in this environment"
    }
  },
  "Rules": {
    "CheckBootstrapVersion": {
      "Assertions": [{
        "Assert": {"Fn::Not": [{"Fn::Contains": [["1", "2", "3", "4", "5"],
                                                 {"Ref": "BootstrapVersion"}]}]},
        "AssertDescription": "CDK bootstrap stack version 6 required."
      }]
    }
  }
}
"""


def test_a_cdk_shaped_template(
    cfn: Any, client: Callable[..., Any], deploy: Any, unique: Callable[[str], str]
) -> None:
    parameter = f"/cdk-bootstrap/{unique('q')}/version"
    client("ssm").put_parameter(Name=parameter, Value="21", Type="String")
    stack = deploy(CDK_SHAPED.replace("VERSION_PARAMETER", parameter))
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    types = {
        r["ResourceType"]
        for r in cfn.list_stack_resources(StackName=stack["StackName"])["StackResourceSummaries"]
    }
    assert types == {"AWS::SQS::Queue", "AWS::CDK::Metadata"}
