"""Lifecycle hooks: launching and terminating instances wait for their hooks, told through an
SQS queue, until completed or until the heartbeat timeout gives the default result."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.autoscaling.conftest import members, wait_for

SLEEPER = "#!/bin/sh\nexec sleep 3600\n"


def messages(sqs: Any, url: str) -> list[dict[str, Any]]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages") or []
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in got]


def state(asg: Any, name: str) -> str | None:
    found = members(asg, name)
    return str(found[0]["LifecycleState"]) if found else None


@pytest.mark.clock
def test_launch_and_terminate_wait_for_their_hooks(
    asg: Any, image: str, aws: Callable[[str], Any], advance: Callable[[float], float]
) -> None:
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="hooks")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    zones = [z["ZoneName"] for z in aws("ec2").describe_availability_zones()["AvailabilityZones"]]
    asg.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=image, InstanceType="t3.micro", UserData=SLEEPER
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="g",
        LaunchConfigurationName="lc",
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=0,
        AvailabilityZones=zones[:1],
    )
    asg.put_lifecycle_hook(
        AutoScalingGroupName="g",
        LifecycleHookName="warm-up",
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        NotificationTargetARN=queue_arn,
        RoleARN="arn:aws:iam::000000000000:role/hooks",
        NotificationMetadata="hello",
        HeartbeatTimeout=300,
    )
    asg.put_lifecycle_hook(
        AutoScalingGroupName="g",
        LifecycleHookName="drain",
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        NotificationTargetARN=queue_arn,
        RoleARN="arn:aws:iam::000000000000:role/hooks",
        HeartbeatTimeout=60,
        DefaultResult="CONTINUE",
    )
    hooks = asg.describe_lifecycle_hooks(AutoScalingGroupName="g")["LifecycleHooks"]
    assert [(h["LifecycleHookName"], h["GlobalTimeout"], h["DefaultResult"]) for h in hooks] == [
        ("drain", 6000, "CONTINUE"),
        ("warm-up", 30000, "ABANDON"),
    ]
    assert [m["Event"] for m in messages(sqs, url)] == ["autoscaling:TEST_NOTIFICATION"] * 2

    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=1)
    wait_for(lambda: state(asg, "g") == "Pending:Wait", what="Pending:Wait")
    (told,) = wait_for(lambda: messages(sqs, url), what="the launch notification")
    assert told["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    assert told["NotificationMetadata"] == "hello" and told["LifecycleHookName"] == "warm-up"
    instance_id = members(asg, "g")[0]["InstanceId"]
    assert told["EC2InstanceId"] == instance_id
    with pytest.raises(ClientError):
        asg.complete_lifecycle_action(
            AutoScalingGroupName="g",
            LifecycleHookName="warm-up",
            LifecycleActionToken="00000000-0000-0000-0000-000000000000",
            LifecycleActionResult="CONTINUE",
        )
    asg.complete_lifecycle_action(
        AutoScalingGroupName="g",
        LifecycleHookName="warm-up",
        LifecycleActionToken=told["LifecycleActionToken"],
        LifecycleActionResult="CONTINUE",
    )
    assert state(asg, "g") == "InService"

    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=0)
    assert state(asg, "g") == "Terminating:Wait"
    (told,) = wait_for(lambda: messages(sqs, url), what="the terminate notification")
    assert told["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    advance(45)
    asg.record_lifecycle_action_heartbeat(
        AutoScalingGroupName="g", LifecycleHookName="drain", InstanceId=instance_id
    )
    advance(45)  # 90 s since the wait began, 45 since the heartbeat: still waiting
    assert state(asg, "g") == "Terminating:Wait"
    advance(30)  # the heartbeat's timeout: the default result (CONTINUE) applies
    wait_for(lambda: members(asg, "g") == [], what="the instance terminated")
    ec2 = aws("ec2")
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert found["State"]["Name"] in ("shutting-down", "terminated")
