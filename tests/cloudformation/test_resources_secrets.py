"""AWS::SecretsManager::RotationSchedule: a stack turns on a secret's rotation with its own
function and rules, an update changes the rules in place, the secret shows both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.cloudformation.conftest import outputs, reasons, settle

TEMPLATE = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
  Rotator:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
          def handler(event, context):
              return None
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      SecretString: '{"password": "p"}'
  Rotation:
    Type: AWS::SecretsManager::RotationSchedule
    Properties:
      SecretId: !Ref Secret
      RotationLambdaARN: !GetAtt Rotator.Arn
      RotateImmediatelyOnUpdate: false
      RotationRules:
        AutomaticallyAfterDays: "DAYS"
Outputs:
  Secret:
    Value: !Ref Secret
  Rotation:
    Value: !Ref Rotation
  Rotator:
    Value: !GetAtt Rotator.Arn
"""


def test_rotation_schedule(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    secrets = client("secretsmanager")
    name = unique("rotation")
    cfn.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.replace("DAYS", "30"),
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, name)
    out = outputs(stack)
    assert out["Rotation"] == out["Secret"]
    secret = secrets.describe_secret(SecretId=out["Secret"])
    assert secret["RotationEnabled"] is True
    assert secret["RotationLambdaARN"] == out["Rotator"]
    assert secret["RotationRules"]["AutomaticallyAfterDays"] == 30

    cfn.update_stack(
        StackName=name,
        TemplateBody=TEMPLATE.replace("DAYS", "60"),
        Capabilities=["CAPABILITY_IAM"],
    )
    assert settle(cfn, name)["StackStatus"] == "UPDATE_COMPLETE", reasons(cfn, name)
    secret = secrets.describe_secret(SecretId=out["Secret"])
    assert secret["RotationRules"]["AutomaticallyAfterDays"] == 60

    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE", reasons(
        cfn, stack["StackId"]
    )
