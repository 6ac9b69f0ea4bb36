"""CloudFormation stacks with KMS keys and aliases, a secret generated under the key, and an
AMI id read from the public SSM parameters."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

TEMPLATE = """
Parameters:
  Image:
    Type: AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>
    Default: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: stack key
      EnableKeyRotation: true
      PendingWindowInDays: 7
  KeyAlias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: alias/ALIAS
      TargetKeyId: !Ref Key
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      KmsKeyId: !Ref KeyAlias
      GenerateSecretString:
        SecretStringTemplate: '{"username": "admin"}'
        GenerateStringKey: password
        PasswordLength: 20
        ExcludePunctuation: true
Outputs:
  KeyArn:
    Value: !GetAtt Key.Arn
  SecretArn:
    Value: !Ref Secret
  Image:
    Value: !Ref Image
"""


def _settle(cfn: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        assert time.monotonic() < deadline, stack["StackStatus"]
        time.sleep(0.2)


def test_stack_with_key_alias_and_generated_secret(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    cfn, kms, sm = client("cloudformation"), client("kms"), client("secretsmanager")
    ssm, ec2 = client("ssm"), client("ec2")
    name, alias = unique("stack"), unique("stack-key")
    cfn.create_stack(StackName=name, TemplateBody=TEMPLATE.replace("ALIAS", alias))
    stack = _settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    key = kms.describe_key(KeyId=f"alias/{alias}")["KeyMetadata"]
    assert key["Arn"] == out["KeyArn"] and key["Description"] == "stack key"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
    described = sm.describe_secret(SecretId=out["SecretArn"])
    assert described["KmsKeyId"] == key["Arn"]
    value = json.loads(sm.get_secret_value(SecretId=out["SecretArn"])["SecretString"])
    assert value["username"] == "admin" and len(value["password"]) == 20
    image = ssm.get_parameter(
        Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    )["Parameter"]["Value"]
    assert out["Image"] == image
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["ImageId"] == image

    cfn.delete_stack(StackName=name)
    # A deleted stack is found by its id only.
    assert _settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert not [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/{alias}"]
