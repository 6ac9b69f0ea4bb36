"""AWS::KinesisFirehose::DeliveryStream through CloudFormation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.firehose.conftest import ROLE

pytestmark = pytest.mark.clock


def _template(bucket: str, interval: str) -> str:
    return json.dumps(
        {
            "Resources": {
                "Hose": {
                    "Type": "AWS::KinesisFirehose::DeliveryStream",
                    "Properties": {
                        "DeliveryStreamType": "DirectPut",
                        "ExtendedS3DestinationConfiguration": {
                            "RoleARN": ROLE,
                            "BucketARN": f"arn:aws:s3:::{bucket}",
                            "Prefix": "cfn/",
                            "BufferingHints": {"IntervalInSeconds": interval, "SizeInMBs": "1"},
                        },
                        "Tags": [{"Key": "owner", "Value": "stack"}],
                    },
                }
            },
            "Outputs": {
                "Name": {"Value": {"Ref": "Hose"}},
                "Arn": {"Value": {"Fn::GetAtt": ["Hose", "Arn"]}},
            },
        }
    )


def test_stack_creates_updates_and_deletes_a_delivery_stream(
    client: Callable[..., Any], firehose: Any, bucket: str, unique: Callable[[str], str]
) -> None:
    cfn = client("cloudformation")
    stack = unique("fh-stack")
    cfn.create_stack(StackName=stack, TemplateBody=_template(bucket, "60"))
    cfn.get_waiter("stack_create_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    }
    name = outputs["Name"]
    desc = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert desc["DeliveryStreamARN"] == outputs["Arn"]
    assert desc["DeliveryStreamStatus"] == "ACTIVE"
    ext = desc["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert ext["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 1}
    tags = firehose.list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"]
    assert {"Key": "owner", "Value": "stack"} in tags

    cfn.update_stack(StackName=stack, TemplateBody=_template(bucket, "120"))
    cfn.get_waiter("stack_update_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    desc = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert desc["VersionId"] == "2"
    ext = desc["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert ext["BufferingHints"]["IntervalInSeconds"] == 120

    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    names = firehose.list_delivery_streams(Limit=10000)["DeliveryStreamNames"]
    statuses = [
        firehose.describe_delivery_stream(DeliveryStreamName=n)["DeliveryStreamDescription"][
            "DeliveryStreamStatus"
        ]
        for n in names
        if n == name
    ]
    assert statuses in ([], ["DELETING"])
