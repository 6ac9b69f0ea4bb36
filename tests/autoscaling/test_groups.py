"""Groups through the API: launch configurations, capacity kept across zones, termination
policies and protection, activities as AWS words them, processes, tags, scheduled actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.autoscaling.conftest import desired, in_service, members, wait_for

SLEEPER = "#!/bin/sh\nexec sleep 3600\n"


def code(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response["Error"]
    return str(err["Code"]), str(err["Message"])


def zones(aws: Callable[[str], Any]) -> list[str]:
    found = aws("ec2").describe_availability_zones()["AvailabilityZones"]
    return sorted(z["ZoneName"] for z in found)[:2]


def test_launch_configurations_are_immutable_records(asg: Any, image: str) -> None:
    asg.create_launch_configuration(
        LaunchConfigurationName="web", ImageId=image, InstanceType="t3.micro", UserData=SLEEPER
    )
    assert (
        code(
            lambda: asg.create_launch_configuration(
                LaunchConfigurationName="web", ImageId=image, InstanceType="t3.micro"
            )
        )[0]
        == "AlreadyExists"
    )
    found = asg.describe_launch_configurations(LaunchConfigurationNames=["web"])
    lc = found["LaunchConfigurations"][0]
    assert lc["LaunchConfigurationARN"].startswith("arn:aws:autoscaling:us-east-1:")
    assert lc["InstanceMonitoring"] == {"Enabled": True}
    assert code(lambda: asg.delete_launch_configuration(LaunchConfigurationName="nope"))[0] == (
        "ValidationError"
    )
    asg.delete_launch_configuration(LaunchConfigurationName="web")
    assert asg.describe_launch_configurations()["LaunchConfigurations"] == []


def test_bad_groups_are_refused(asg: Any, image: str, aws: Callable[[str], Any]) -> None:
    asg.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=image, InstanceType="t3.micro"
    )
    az = zones(aws)
    assert code(
        lambda: asg.create_auto_scaling_group(
            AutoScalingGroupName="g",
            LaunchConfigurationName="lc",
            MinSize=3,
            MaxSize=1,
            AvailabilityZones=az,
        )
    ) == ("ValidationError", "Max bound, 1, must be greater than or equal to min bound, 3")
    assert (
        code(
            lambda: asg.create_auto_scaling_group(
                AutoScalingGroupName="g",
                LaunchConfigurationName="lc",
                MinSize=0,
                MaxSize=1,
                DesiredCapacity=2,
                AvailabilityZones=az,
            )
        )[0]
        == "ValidationError"
    )
    assert (
        code(
            lambda: asg.create_auto_scaling_group(
                AutoScalingGroupName="g",
                LaunchConfigurationName="missing",
                MinSize=0,
                MaxSize=1,
                AvailabilityZones=az,
            )
        )[0]
        == "ValidationError"
    )
    assert (
        code(lambda: asg.set_desired_capacity(AutoScalingGroupName="nope", DesiredCapacity=1))[0]
        == "ValidationError"
    )
    assert asg.describe_auto_scaling_groups()["AutoScalingGroups"] == []


def test_group_keeps_capacity_balanced_and_shrinks_by_policy(
    asg: Any, image: str, aws: Callable[[str], Any]
) -> None:
    az = zones(aws)
    asg.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=image, InstanceType="t3.micro", UserData=SLEEPER
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="g",
        LaunchConfigurationName="lc",
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=4,
        AvailabilityZones=az,
        TerminationPolicies=["NewestInstance"],
        Tags=[{"Key": "team", "Value": "blue", "PropagateAtLaunch": True}],
    )
    found = in_service(asg, "g", 4)
    assert sorted(m["AvailabilityZone"] for m in found) == sorted(az * 2)
    ec2 = aws("ec2")
    instances = {
        i["InstanceId"]: i
        for r in ec2.describe_instances(InstanceIds=[m["InstanceId"] for m in found])[
            "Reservations"
        ]
        for i in r["Instances"]
    }
    for inst in instances.values():
        tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
        assert tags["aws:autoscaling:groupName"] == "g" and tags["team"] == "blue"
    activities = asg.describe_scaling_activities(AutoScalingGroupName="g")["Activities"]
    assert len(activities) == 4
    assert all(a["StatusCode"] == "Successful" for a in activities)
    assert activities[0]["Description"].startswith("Launching a new EC2 instance: i-")
    assert (
        "a user request created an AutoScalingGroup changing the desired capacity from 0 to 4"
        in (activities[0]["Cause"])
    )
    assert "increasing the capacity from 0 to 4" in activities[0]["Cause"]

    protected = found[0]["InstanceId"]
    asg.set_instance_protection(
        AutoScalingGroupName="g", InstanceIds=[protected], ProtectedFromScaleIn=True
    )
    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=2)
    left = in_service(asg, "g", 2)
    assert protected in {m["InstanceId"] for m in left}
    assert sorted(m["AvailabilityZone"] for m in left) == sorted(az)
    latest = asg.describe_scaling_activities(AutoScalingGroupName="g")["Activities"][0]
    assert latest["Description"].startswith("Terminating EC2 instance: i-")
    assert (
        "explicitly set group desired capacity changing the desired capacity from 4 to 2"
        in (latest["Cause"])
    )
    assert "was selected for termination" in latest["Cause"]

    # An instance terminated behind the group's back is replaced.
    gone = next(m["InstanceId"] for m in left if m["InstanceId"] != protected)
    ec2.terminate_instances(InstanceIds=[gone])
    replaced = wait_for(
        lambda: [
            m
            for m in members(asg, "g")
            if m["InstanceId"] not in (gone, protected) and m["LifecycleState"] == "InService"
        ],
        what="a replacement",
    )
    assert len(replaced) == 1
    causes = [
        a["Cause"] for a in asg.describe_scaling_activities(AutoScalingGroupName="g")["Activities"]
    ]
    assert any(
        "taken out of service in response to an EC2 health check indicating it has been "
        "terminated or stopped" in c
        for c in causes
    )


def test_a_zone_added_to_the_group_is_rebalanced_into(
    asg: Any, image: str, aws: Callable[[str], Any]
) -> None:
    az = zones(aws)
    asg.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=image, InstanceType="t3.micro", UserData=SLEEPER
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="g",
        LaunchConfigurationName="lc",
        MinSize=2,
        MaxSize=2,
        AvailabilityZones=az[:1],
    )
    in_service(asg, "g", 2)
    asg.update_auto_scaling_group(AutoScalingGroupName="g", AvailabilityZones=az)

    def balanced() -> bool:
        found = members(asg, "g")
        return (
            len(found) == 2
            and sorted(m["AvailabilityZone"] for m in found) == az
            and all(m["LifecycleState"] == "InService" for m in found)
        )

    wait_for(balanced, 60, "the zones balanced")
    descriptions = [
        a["Cause"] for a in asg.describe_scaling_activities(AutoScalingGroupName="g")["Activities"]
    ]
    assert any(
        "an instance was launched to aid in balancing the group's zones" in c for c in descriptions
    )


def test_suspended_launch_and_terminate_instance(
    asg: Any, image: str, aws: Callable[[str], Any]
) -> None:
    asg.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=image, InstanceType="t3.micro", UserData=SLEEPER
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="g",
        LaunchConfigurationName="lc",
        MinSize=1,
        MaxSize=3,
        AvailabilityZones=zones(aws),
    )
    (only,) = in_service(asg, "g", 1)
    asg.suspend_processes(AutoScalingGroupName="g", ScalingProcesses=["Launch"])
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["g"])["AutoScalingGroups"][0]
    assert [p["ProcessName"] for p in group["SuspendedProcesses"]] == ["Launch"]
    out = asg.terminate_instance_in_auto_scaling_group(
        InstanceId=only["InstanceId"], ShouldDecrementDesiredCapacity=False
    )
    assert out["Activity"]["Description"] == f"Terminating EC2 instance: {only['InstanceId']}"
    wait_for(lambda: members(asg, "g") == [], what="the instance gone")
    assert desired(asg, "g") == 1
    asg.resume_processes(AutoScalingGroupName="g")
    in_service(asg, "g", 1)


def test_tags_processes_and_types(asg: Any, image: str, aws: Callable[[str], Any]) -> None:
    asg.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=image, InstanceType="t3.micro"
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="g",
        LaunchConfigurationName="lc",
        MinSize=0,
        MaxSize=1,
        AvailabilityZones=zones(aws),
    )
    asg.create_or_update_tags(
        Tags=[
            {
                "ResourceId": "g",
                "ResourceType": "auto-scaling-group",
                "Key": "env",
                "Value": "test",
                "PropagateAtLaunch": False,
            }
        ]
    )
    tags = asg.describe_tags(Filters=[{"Name": "auto-scaling-group", "Values": ["g"]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("env", "test")]
    asg.delete_tags(Tags=[{"ResourceId": "g", "ResourceType": "auto-scaling-group", "Key": "env"}])
    assert asg.describe_tags()["Tags"] == []
    assert "Launch" in [p["ProcessName"] for p in asg.describe_scaling_process_types()["Processes"]]
    assert "OldestInstance" in asg.describe_termination_policy_types()["TerminationPolicyTypes"]
    assert (
        code(lambda: asg.suspend_processes(AutoScalingGroupName="g", ScalingProcesses=["Fly"]))[0]
        == "ValidationError"
    )


@pytest.mark.clock
def test_scheduled_actions_change_capacity_on_the_clock(
    asg: Any, image: str, aws: Callable[[str], Any], advance: Callable[[float], float]
) -> None:
    asg.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=image, InstanceType="t3.micro"
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="g",
        LaunchConfigurationName="lc",
        MinSize=0,
        MaxSize=3,
        AvailabilityZones=zones(aws),
    )
    asg.suspend_processes(AutoScalingGroupName="g", ScalingProcesses=["Launch"])
    asg.put_scheduled_update_group_action(
        AutoScalingGroupName="g",
        ScheduledActionName="every-hour",
        Recurrence="0 * * * *",
        DesiredCapacity=2,
        TimeZone="Europe/Paris",
    )
    action = asg.describe_scheduled_actions(AutoScalingGroupName="g")[
        "ScheduledUpdateGroupActions"
    ][0]
    assert action["Recurrence"] == "0 * * * *"
    advance(3600)
    wait_for(lambda: desired(asg, "g") == 2, what="the scheduled desired capacity")
    assert members(asg, "g") == []  # Launch is suspended: the capacity waits for it
    asg.resume_processes(AutoScalingGroupName="g")
    in_service(asg, "g", 2)
    causes = [a["Cause"] for a in asg.describe_scaling_activities()["Activities"]]
    assert all("the scheduled action every-hour executed" in c for c in causes)
    asg.delete_scheduled_action(AutoScalingGroupName="g", ScheduledActionName="every-hour")
    assert asg.describe_scheduled_actions()["ScheduledUpdateGroupActions"] == []


def test_a_group_keeps_its_instances_across_a_kill_and_restart(
    nubes_factory: Callable[..., Any],
) -> None:
    server = nubes_factory()
    asg, ec2 = server.client("autoscaling"), server.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    asg.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=image, InstanceType="t3.micro", UserData=SLEEPER
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="g",
        LaunchConfigurationName="lc",
        MinSize=1,
        MaxSize=2,
        AvailabilityZones=["us-east-1a"],
    )
    (before,) = in_service(asg, "g", 1)
    server.kill()
    server.start()
    try:
        asg = server.client("autoscaling")
        # The group comes back with the server and keeps the instance EC2 boots again.
        (after,) = in_service(asg, "g", 1)
        assert after["InstanceId"] == before["InstanceId"]
        asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=2)
        in_service(asg, "g", 2)
    finally:
        server.client("autoscaling").delete_auto_scaling_group(
            AutoScalingGroupName="g", ForceDelete=True
        )


def test_launch_instances_at_once_and_idempotently(
    asg: Any, image: str, aws: Callable[[str], Any]
) -> None:
    az = zones(aws)
    asg.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=image, InstanceType="t3.micro", UserData=SLEEPER
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="g",
        LaunchConfigurationName="lc",
        MinSize=0,
        MaxSize=3,
        AvailabilityZones=az,
    )
    # Both into one zone: AZRebalance would move one of them, unless suspended.
    asg.suspend_processes(AutoScalingGroupName="g", ScalingProcesses=["AZRebalance"])
    token = "00000000-0000-0000-0000-000000000001"
    out = asg.launch_instances(
        AutoScalingGroupName="g",
        RequestedCapacity=2,
        ClientToken=token,
        AvailabilityZones=az[1:],
    )
    assert out["Errors"] == []
    (made,) = out["Instances"]
    assert made["AvailabilityZone"] == az[1] and len(made["InstanceIds"]) == 2
    assert desired(asg, "g") == 2
    again = asg.launch_instances(
        AutoScalingGroupName="g",
        RequestedCapacity=2,
        ClientToken=token,
        AvailabilityZones=az[1:],
    )
    assert again["Instances"] == out["Instances"] and desired(asg, "g") == 2
    assert (
        code(
            lambda: asg.launch_instances(
                AutoScalingGroupName="g",
                RequestedCapacity=2,
                ClientToken="00000000-0000-0000-0000-000000000002",
            )
        )[0]
        == "ValidationError"
    )
    assert {m["InstanceId"] for m in in_service(asg, "g", 2)} == set(made["InstanceIds"])
