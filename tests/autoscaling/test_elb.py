"""An Auto Scaling group behind an Application Load Balancer: the group registers its instances
in the target group, takes the load balancer's health checks as its own (health check type ELB)
and replaces a crashed instance in the same zone while traffic keeps flowing."""

from __future__ import annotations

import http.client
import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.autoscaling.conftest import in_service, members, wait_for

SERVE_ID = """#!/bin/sh
mkdir -p /tmp/www && cd /tmp/www
python3 -c "import urllib.request as u; open('index.html', 'w').write(u.urlopen('http://169.254.169.254/latest/meta-data/instance-id').read().decode())"
exec python3 -m http.server 8080
"""


def health(elb: Any, tg: str) -> dict[str, str]:
    found = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in found}


@pytest.mark.clock
def test_a_crashed_instance_behind_an_alb_is_replaced_in_its_zone(
    asg: Any,
    image: str,
    aws: Callable[[str], Any],
    endpoint: str,
    advance: Callable[[float], float],
) -> None:
    ec2, elb = aws("ec2"), aws("elbv2")
    subnets = sorted(
        (s["AvailabilityZone"], s["SubnetId"])
        for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])[
            "Subnets"
        ]
    )[:2]
    vpc = ec2.describe_subnets(SubnetIds=[subnets[0][1]])["Subnets"][0]["VpcId"]
    lb_group = ec2.create_security_group(GroupName="lb", Description="lb", VpcId=vpc)["GroupId"]
    web_group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": lb_group}],
            }
        ],
    )
    lb = elb.create_load_balancer(
        Name="web", Subnets=[s for _, s in subnets], SecurityGroups=[lb_group]
    )["LoadBalancers"][0]
    tg = elb.create_target_group(
        Name="web",
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc,
        HealthCheckPath="/",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=2,
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(
        TargetGroupArn=tg,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "0"}],
    )
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    asg.create_launch_configuration(
        LaunchConfigurationName="web",
        ImageId=image,
        InstanceType="t3.micro",
        UserData=SERVE_ID,
        SecurityGroups=[web_group],
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchConfigurationName="web",
        MinSize=2,
        MaxSize=4,
        DesiredCapacity=2,
        VPCZoneIdentifier=",".join(s for _, s in subnets),
        TargetGroupARNs=[tg],
        HealthCheckType="ELB",
        HealthCheckGracePeriod=30,
    )
    first = in_service(asg, "web", 2, timeout=60)
    assert sorted(m["AvailabilityZone"] for m in first) == [z for z, _ in subnets]
    ids = {m["InstanceId"] for m in first}
    wait_for(lambda: set(health(elb, tg)) == ids, what="both instances registered")

    def settle(want: set[str]) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            advance(5)
            if (
                wait_for(lambda: True)
                and {i for i, s in health(elb, tg).items() if s == "healthy"} == want
            ):
                return
            time.sleep(0.3)  # the servers start in real time
        raise AssertionError(f"targets never healthy: {health(elb, tg)}")

    settle(ids)
    netloc = urlsplit(endpoint).netloc

    def get() -> tuple[int, str]:
        conn = http.client.HTTPConnection(netloc, timeout=30)
        try:
            conn.request("GET", "/", headers={"Host": lb["DNSName"]})
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    assert {get()[1] for _ in range(8)} == ids
    crashed = first[0]
    fault = urllib.request.Request(
        endpoint + "/_nubes/faults",
        data=json.dumps(
            {"fault": "ec2:instance-crash", "instance_id": crashed["InstanceId"]}
        ).encode(),
        method="POST",
    )
    urllib.request.urlopen(fault, timeout=10).close()
    # Interval x unhealthy threshold later, the load balancer sends everything to the other.
    advance(5)
    advance(5)
    survivor = (ids - {crashed["InstanceId"]}).pop()
    wait_for(
        lambda: health(elb, tg).get(crashed["InstanceId"]) in ("unhealthy", "draining", None),
        what="the crashed target out",
    )
    assert [get() for _ in range(6)] == [(200, survivor)] * 6
    advance(30)  # past the grace period: the group acts on the failed check
    replacement = wait_for(
        lambda: [
            m
            for m in members(asg, "web")
            if m["InstanceId"] not in ids and m["LifecycleState"] == "InService"
        ],
        timeout=60,
        what="a replacement in service",
    )[0]
    assert replacement["AvailabilityZone"] == crashed["AvailabilityZone"]
    settle({survivor, replacement["InstanceId"]})
    assert {get()[1] for _ in range(8)} == {survivor, replacement["InstanceId"]}
    causes = [
        a["Cause"]
        for a in asg.describe_scaling_activities(AutoScalingGroupName="web")["Activities"]
    ]
    assert any(
        "an instance was taken out of service in response to" in c
        and ("ELB system health check failure" in c or "status checks failure" in c)
        for c in causes
    )
    in_service(asg, "web", 2)


@pytest.mark.clock
def test_a_classic_load_balancer_as_traffic_source(
    asg: Any,
    image: str,
    aws: Callable[[str], Any],
    endpoint: str,
    advance: Callable[[float], float],
) -> None:
    ec2, elb = aws("ec2"), aws("elb")
    subnets = sorted(
        (s["AvailabilityZone"], s["SubnetId"])
        for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])[
            "Subnets"
        ]
    )[:2]
    elb.create_load_balancer(
        LoadBalancerName="classic",
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}],
        Subnets=[s for _, s in subnets],
    )
    elb.configure_health_check(
        LoadBalancerName="classic",
        HealthCheck={
            "Target": "HTTP:8080/",
            "Interval": 5,
            "Timeout": 2,
            "UnhealthyThreshold": 2,
            "HealthyThreshold": 2,
        },
    )
    asg.create_launch_configuration(
        LaunchConfigurationName="web", ImageId=image, InstanceType="t3.micro", UserData=SERVE_ID
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="classic",
        LaunchConfigurationName="web",
        MinSize=1,
        MaxSize=2,
        VPCZoneIdentifier=",".join(s for _, s in subnets),
        HealthCheckType="ELB",
        # The clock runs ahead of a booting instance on a loaded host: without a grace period
        # the group would replace it for failing checks it could not yet answer.
        HealthCheckGracePeriod=3600,
    )
    asg.attach_traffic_sources(
        AutoScalingGroupName="classic", TrafficSources=[{"Identifier": "classic", "Type": "elb"}]
    )
    sources = asg.describe_traffic_sources(AutoScalingGroupName="classic")["TrafficSources"]
    assert [(s["Identifier"], s["Type"], s["State"]) for s in sources] == [
        ("classic", "elb", "InService")
    ]
    (member,) = in_service(asg, "classic", 1)

    def states() -> dict[str, str]:
        found = elb.describe_instance_health(LoadBalancerName="classic")["InstanceStates"]
        return {s["InstanceId"]: s["State"] for s in found}

    wait_for(lambda: member["InstanceId"] in states(), what="the instance registered")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        advance(5)
        if states().get(member["InstanceId"]) == "InService":
            break
        time.sleep(0.3)  # the server starts in real time
    assert states() == {member["InstanceId"]: "InService"}
    asg.detach_traffic_sources(
        AutoScalingGroupName="classic", TrafficSources=[{"Identifier": "classic", "Type": "elb"}]
    )
    assert states() == {}
    assert asg.describe_load_balancers(AutoScalingGroupName="classic")["LoadBalancers"] == []
