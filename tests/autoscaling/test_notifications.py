"""What a group tells: SNS notifications it is configured for, EventBridge events, group
metrics once enabled; and instances brought in and out by hand (attach, detach, standby)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.autoscaling.conftest import desired, in_service, members, wait_for

SLEEPER = "#!/bin/sh\nexec sleep 3600\n"


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages") or []
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in got]


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


@pytest.mark.clock
def test_notifications_events_and_group_metrics(
    asg: Any, image: str, aws: Callable[[str], Any], advance: Callable[[float], float]
) -> None:
    sqs, sns, events, cw = aws("sqs"), aws("sns"), aws("events"), aws("cloudwatch")
    notes_url, notes_arn = queue(sqs, "notes")
    events_url, events_arn = queue(sqs, "events")
    topic = sns.create_topic(Name="scaling")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=notes_arn)
    events.put_rule(
        Name="launches",
        EventPattern=json.dumps(
            {"source": ["aws.autoscaling"], "detail-type": ["EC2 Instance Launch Successful"]}
        ),
    )
    events.put_targets(Rule="launches", Targets=[{"Id": "q", "Arn": events_arn}])
    zones = [z["ZoneName"] for z in aws("ec2").describe_availability_zones()["AvailabilityZones"]]
    asg.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=image, InstanceType="t3.micro", UserData=SLEEPER
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="g",
        LaunchConfigurationName="lc",
        MinSize=0,
        MaxSize=2,
        AvailabilityZones=zones[:1],
    )
    asg.put_notification_configuration(
        AutoScalingGroupName="g",
        TopicARN=topic,
        NotificationTypes=["autoscaling:EC2_INSTANCE_LAUNCH", "autoscaling:EC2_INSTANCE_TERMINATE"],
    )
    test = wait_for(lambda: drain(sqs, notes_url), what="the test notification")
    assert json.loads(test[0]["Message"])["Event"] == "autoscaling:TEST_NOTIFICATION"
    assert test[0]["Subject"] == 'Auto Scaling: test notification for group "g"'
    configs = asg.describe_notification_configurations(AutoScalingGroupNames=["g"])
    assert len(configs["NotificationConfigurations"]) == 2
    asg.enable_metrics_collection(
        AutoScalingGroupName="g",
        Metrics=["GroupDesiredCapacity", "GroupInServiceInstances"],
        Granularity="1Minute",
    )
    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=1)
    (member,) = in_service(asg, "g", 1)
    (note,) = wait_for(lambda: drain(sqs, notes_url), what="the launch notification")
    body = json.loads(note["Message"])
    assert note["Subject"] == 'Auto Scaling: launch for group "g"'
    assert body["Event"] == "autoscaling:EC2_INSTANCE_LAUNCH"
    assert body["EC2InstanceId"] == member["InstanceId"] and body["StatusCode"] == "Successful"
    (event,) = wait_for(lambda: drain(sqs, events_url), what="the EventBridge event")
    assert event["source"] == "aws.autoscaling"
    assert event["detail"]["EC2InstanceId"] == member["InstanceId"]
    assert event["detail"]["AutoScalingGroupName"] == "g"

    now = advance(120)
    stats = cw.get_metric_statistics(
        Namespace="AWS/AutoScaling",
        MetricName="GroupInServiceInstances",
        Dimensions=[{"Name": "AutoScalingGroupName", "Value": "g"}],
        StartTime=now - 600,
        EndTime=now,
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert stats and max(p["Maximum"] for p in stats) == 1
    listed = cw.list_metrics(Namespace="AWS/AutoScaling")["Metrics"]
    assert {m["MetricName"] for m in listed} == {"GroupDesiredCapacity", "GroupInServiceInstances"}

    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=0)
    (note,) = wait_for(lambda: drain(sqs, notes_url), what="the terminate notification")
    assert json.loads(note["Message"])["Event"] == "autoscaling:EC2_INSTANCE_TERMINATE"


def test_attach_detach_and_standby(asg: Any, image: str, aws: Callable[[str], Any]) -> None:
    ec2 = aws("ec2")
    zones = sorted(z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"])
    asg.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=image, InstanceType="t3.micro", UserData=SLEEPER
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="g",
        LaunchConfigurationName="lc",
        MinSize=0,
        MaxSize=3,
        DesiredCapacity=1,
        AvailabilityZones=zones[:1],
    )
    in_service(asg, "g", 1)
    outsider = ec2.run_instances(
        ImageId=image,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        UserData=SLEEPER,
        Placement={"AvailabilityZone": zones[0]},
    )["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[outsider], WaiterConfig={"Delay": 1})
    asg.attach_instances(AutoScalingGroupName="g", InstanceIds=[outsider])
    assert desired(asg, "g") == 2
    assert outsider in {m["InstanceId"] for m in in_service(asg, "g", 2)}
    out = asg.enter_standby(
        AutoScalingGroupName="g", InstanceIds=[outsider], ShouldDecrementDesiredCapacity=True
    )
    assert out["Activities"][0]["Description"] == f"Moving EC2 instance to Standby: {outsider}"
    assert desired(asg, "g") == 1
    assert {m["InstanceId"]: m["LifecycleState"] for m in members(asg, "g")}[outsider] == (
        "Standby"
    )
    asg.exit_standby(AutoScalingGroupName="g", InstanceIds=[outsider])
    assert desired(asg, "g") == 2
    asg.detach_instances(
        AutoScalingGroupName="g", InstanceIds=[outsider], ShouldDecrementDesiredCapacity=True
    )
    assert desired(asg, "g") == 1
    assert outsider not in {m["InstanceId"] for m in members(asg, "g")}
    state = ec2.describe_instances(InstanceIds=[outsider])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] == "running"  # detached, not terminated
    ec2.terminate_instances(InstanceIds=[outsider])
