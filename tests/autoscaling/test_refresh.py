"""Launch templates and instance refresh: a group launching from a template version replaces
its instances a few at a time when refreshed to a new version, pauses at a checkpoint, and a
rollback brings the previous version back."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from tests.autoscaling.conftest import in_service, members, wait_for

SLEEPER = base64.b64encode(b"#!/bin/sh\nexec sleep 3600\n").decode()


def refresh(asg: Any, name: str) -> dict[str, Any]:
    found = asg.describe_instance_refreshes(AutoScalingGroupName=name)["InstanceRefreshes"]
    return dict(found[0])


def versions(asg: Any, name: str) -> list[str]:
    return sorted(m["LaunchTemplate"]["Version"] for m in members(asg, name))


def test_refresh_to_a_new_template_version_then_roll_back_from_a_checkpoint(
    asg: Any, image: str, aws: Callable[[str], Any]
) -> None:
    ec2 = aws("ec2")
    data = {"ImageId": image, "InstanceType": "t3.micro", "UserData": SLEEPER}
    template = ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData=data)[
        "LaunchTemplate"
    ]["LaunchTemplateId"]
    for kind in ("t3.small", "t3.medium"):
        ec2.create_launch_template_version(
            LaunchTemplateId=template, LaunchTemplateData={**data, "InstanceType": kind}
        )
    zones = sorted(z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"])
    asg.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateName": "web", "Version": "1"},
        MinSize=2,
        MaxSize=4,
        AvailabilityZones=zones[:2],
    )
    first = in_service(asg, "web", 2)
    assert versions(asg, "web") == ["1", "1"]
    assert {m["LaunchTemplate"]["LaunchTemplateId"] for m in first} == {template}

    asg.start_instance_refresh(
        AutoScalingGroupName="web",
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": template, "Version": "2"}},
        Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 0},
    )
    wait_for(lambda: refresh(asg, "web")["Status"] == "Successful", 60, "the refresh")
    assert versions(asg, "web") == ["2", "2"]
    assert {m["InstanceType"] for m in members(asg, "web")} == {"t3.small"}
    assert not {m["InstanceId"] for m in first} & {m["InstanceId"] for m in members(asg, "web")}
    causes = [
        a["Cause"]
        for a in asg.describe_scaling_activities(AutoScalingGroupName="web")["Activities"]
    ]
    assert sum("in response to an instance refresh" in c for c in causes) == 2

    second = asg.start_instance_refresh(
        AutoScalingGroupName="web",
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": template, "Version": "3"}},
        Preferences={
            "MinHealthyPercentage": 50,
            "InstanceWarmup": 0,
            "CheckpointPercentages": [50],
            "CheckpointDelay": 3600,
        },
    )["InstanceRefreshId"]
    paused = wait_for(
        lambda: (
            (r := refresh(asg, "web")).get("StatusReason", "").startswith("Waiting for checkpoint")
            and r
        ),
        60,
        "the checkpoint",
    )
    assert paused["InstanceRefreshId"] == second and paused["PercentageComplete"] == 50
    assert versions(asg, "web") == ["2", "3"]
    asg.rollback_instance_refresh(AutoScalingGroupName="web")
    wait_for(lambda: refresh(asg, "web")["Status"] == "RollbackSuccessful", 60, "the rollback")
    assert versions(asg, "web") == ["2", "2"]
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    assert group["LaunchTemplate"]["Version"] == "2"
    assert (
        len(asg.describe_instance_refreshes(AutoScalingGroupName="web")["InstanceRefreshes"]) == 2
    )


def test_a_warm_pool_keeps_stopped_instances_that_a_scale_out_starts(
    asg: Any, image: str, aws: Callable[[str], Any]
) -> None:
    ec2 = aws("ec2")
    ec2.create_launch_template(
        LaunchTemplateName="warm",
        LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro", "UserData": SLEEPER},
    )
    zones = sorted(z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"])
    asg.create_auto_scaling_group(
        AutoScalingGroupName="warm",
        LaunchTemplate={"LaunchTemplateName": "warm", "Version": "$Latest"},
        MinSize=1,
        MaxSize=3,
        AvailabilityZones=zones[:1],
    )
    asg.put_warm_pool(AutoScalingGroupName="warm", PoolState="Stopped", MinSize=1)

    def pool() -> list[dict[str, Any]]:
        return list(asg.describe_warm_pool(AutoScalingGroupName="warm")["Instances"])

    # Prepared capacity is the group's max (3): two warm instances beside the one in service.
    wait_for(
        lambda: len(pool()) == 2 and all(m["LifecycleState"] == "Warmed:Stopped" for m in pool()),
        60,
        "two stopped warm instances",
    )
    warm_ids = {m["InstanceId"] for m in pool()}
    states = {
        i["InstanceId"]: i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=sorted(warm_ids))["Reservations"]
        for i in r["Instances"]
    }
    assert set(states.values()) == {"stopped"}
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["warm"])["AutoScalingGroups"][0]
    assert group["WarmPoolSize"] == 2 and len(group["Instances"]) == 1
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=2)
    grown = in_service(asg, "warm", 2, timeout=60)
    started = {m["InstanceId"] for m in grown} & warm_ids
    assert len(started) == 1
    activities = asg.describe_scaling_activities(AutoScalingGroupName="warm")["Activities"]
    assert any(
        a["Description"] == f"Launching a new EC2 instance from warm pool: {started.pop()}"
        for a in activities
    )
    # The pool is topped up again to the prepared capacity, at least its minimum of one.
    wait_for(lambda: len(pool()) == 1, 60, "one warm instance left")
    asg.delete_warm_pool(AutoScalingGroupName="warm", ForceDelete=True)
    assert "WarmPoolConfiguration" not in asg.describe_warm_pool(AutoScalingGroupName="warm")


def test_a_mixed_instances_policy_takes_its_overrides_in_turn(
    asg: Any, image: str, aws: Callable[[str], Any]
) -> None:
    ec2 = aws("ec2")
    ec2.create_launch_template(
        LaunchTemplateName="mixed",
        LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro", "UserData": SLEEPER},
    )
    zones = sorted(z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"])
    overrides = [{"InstanceType": "t3.small"}, {"InstanceType": "t3.medium"}]
    policy = {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateName": "mixed", "Version": "$Default"},
            "Overrides": overrides,
        },
        "InstancesDistribution": {"OnDemandBaseCapacity": 2},
    }
    asg.create_auto_scaling_group(
        AutoScalingGroupName="mixed",
        MixedInstancesPolicy=policy,
        MinSize=2,
        MaxSize=2,
        AvailabilityZones=zones[:2],
    )
    found = in_service(asg, "mixed", 2)
    assert sorted(m["InstanceType"] for m in found) == ["t3.medium", "t3.small"]
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["mixed"])["AutoScalingGroups"][
        0
    ]
    assert group["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"] == overrides
