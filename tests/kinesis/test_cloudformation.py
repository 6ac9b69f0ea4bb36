"""AWS::Kinesis::Stream and AWS::Kinesis::StreamConsumer in CloudFormation stacks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.cloudformation.conftest import outputs, settle


def test_stream_and_consumer_stack_create_update_delete(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    cfn, kinesis = client("cloudformation"), client("kinesis")
    name = unique("cfn-stream")

    def template(shards: int, hours: int) -> str:
        return json.dumps(
            {
                "Resources": {
                    "Stream": {
                        "Type": "AWS::Kinesis::Stream",
                        "Properties": {
                            "Name": name,
                            "ShardCount": shards,
                            "RetentionPeriodHours": hours,
                            "Tags": [{"Key": "team", "Value": "data"}],
                        },
                    },
                    "Consumer": {
                        "Type": "AWS::Kinesis::StreamConsumer",
                        "Properties": {
                            "ConsumerName": "reader",
                            "StreamARN": {"Fn::GetAtt": ["Stream", "Arn"]},
                        },
                    },
                },
                "Outputs": {
                    "Ref": {"Value": {"Ref": "Stream"}},
                    "Arn": {"Value": {"Fn::GetAtt": ["Stream", "Arn"]}},
                    "Consumer": {"Value": {"Ref": "Consumer"}},
                    "Status": {"Value": {"Fn::GetAtt": ["Consumer", "ConsumerStatus"]}},
                },
            }
        )

    stack = unique("stack")
    stack_id = cfn.create_stack(StackName=stack, TemplateBody=template(2, 24))["StackId"]
    found = settle(cfn, stack)
    assert found["StackStatus"] == "CREATE_COMPLETE"
    out = outputs(found)
    assert out["Ref"] == name
    assert out["Arn"] == f"arn:aws:kinesis:us-east-1:000000000000:stream/{name}"
    assert out["Consumer"].startswith(out["Arn"] + "/consumer/reader:")
    assert out["Status"] == "ACTIVE"
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE" and summary["OpenShardCount"] == 2
    tags = {t["Key"]: t["Value"] for t in kinesis.list_tags_for_stream(StreamName=name)["Tags"]}
    assert tags["team"] == "data" and tags["aws:cloudformation:stack-name"] == stack

    cfn.update_stack(StackName=stack, TemplateBody=template(3, 48))
    assert settle(cfn, stack)["StackStatus"] == "UPDATE_COMPLETE"
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3 and summary["RetentionPeriodHours"] == 48

    cfn.delete_stack(StackName=stack)
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    status = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert status["StreamStatus"] == "DELETING"


def test_on_demand_encrypted_stream_with_metrics(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    cfn, kinesis = client("cloudformation"), client("kinesis")
    properties: dict[str, Any] = {
        "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
        "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
        "DesiredShardLevelMetrics": ["IncomingBytes"],
    }
    template = {
        "Resources": {"Stream": {"Type": "AWS::Kinesis::Stream", "Properties": properties}},
        "Outputs": {"Name": {"Value": {"Ref": "Stream"}}},
    }
    stack = unique("stack")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    found = settle(cfn, stack)
    assert found["StackStatus"] == "CREATE_COMPLETE", found.get("StackStatusReason")
    name = outputs(found)["Name"]
    assert name.startswith(f"{stack}-Stream-")
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summary["EncryptionType"] == "KMS" and summary["KeyId"] == "alias/aws/kinesis"
    assert summary["EnhancedMonitoring"] == [{"ShardLevelMetrics": ["IncomingBytes"]}]
    properties.pop("StreamEncryption")
    cfn.update_stack(StackName=stack, TemplateBody=json.dumps(template))
    assert settle(cfn, stack)["StackStatus"] == "UPDATE_COMPLETE"
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["EncryptionType"] == "NONE"
    cfn.delete_stack(StackName=stack)
