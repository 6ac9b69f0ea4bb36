"""Every instance state change goes to EventBridge as AWS sends it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from tests.ec2.conftest import wait_state


def test_state_change_notifications(
    ec2: Any, client: Callable[..., Any], account: str, image: str, unique: Callable[[str], str]
) -> None:
    sqs = client("sqs", aws_access_key_id=account)
    events = client("events", aws_access_key_id=account)
    queue = sqs.create_queue(QueueName=unique("ec2-events"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = unique("ec2-states")
    events.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]
    }))  # fmt: skip
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    wait_state(ec2, iid, "running")
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    states: list[str] = []
    deadline = time.monotonic() + 60
    while "terminated" not in states and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages", []):
            event = json.loads(message["Body"])
            assert event["source"] == "aws.ec2" and event["account"] == account
            assert event["resources"] == [f"arn:aws:ec2:us-east-1:{account}:instance/{iid}"]
            assert event["detail"]["instance-id"] == iid
            states.append(event["detail"]["state"])
    assert states == ["pending", "running", "shutting-down", "terminated"]
