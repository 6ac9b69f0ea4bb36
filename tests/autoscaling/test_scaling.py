"""Scaling policies driven by CloudWatch alarms on the one clock: step scaling on an SQS backlog
(and a simple policy with its cooldown to come back), target tracking on the group's average CPU
with the alarms it manages."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.autoscaling.conftest import desired, in_service, wait_for

SLEEPER = "#!/bin/sh\nexec sleep 3600\n"
BURNER = """#!/bin/sh
cat > /tmp/burn.py <<'PY'
import http.server, threading
burning = threading.Event()
def burn():
    while True:
        burning.wait()
        while burning.is_set():
            pass
threading.Thread(target=burn, daemon=True).start()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        (burning.set if self.path == "/burn" else burning.clear)()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(self.path.encode())
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("", 8080), H).serve_forever()
PY
exec python3 -u /tmp/burn.py
"""


def zones(aws: Callable[[str], Any]) -> list[str]:
    found = aws("ec2").describe_availability_zones()["AvailabilityZones"]
    return sorted(z["ZoneName"] for z in found)[:2]


def causes(asg: Any, name: str) -> list[str]:
    return [
        a["Cause"] for a in asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
    ]


@pytest.mark.clock
def test_step_scaling_follows_a_queue_backlog_and_a_simple_policy_brings_it_back(
    asg: Any, image: str, aws: Callable[[str], Any], advance: Callable[[float], float]
) -> None:
    sqs, cw = aws("sqs"), aws("cloudwatch")
    queue = sqs.create_queue(QueueName="work")["QueueUrl"]
    asg.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=image, InstanceType="t3.micro", UserData=SLEEPER
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="workers",
        LaunchConfigurationName="lc",
        MinSize=1,
        MaxSize=5,
        AvailabilityZones=zones(aws),
        DefaultCooldown=300,
    )
    in_service(asg, "workers", 1)
    out = asg.put_scaling_policy(
        AutoScalingGroupName="workers",
        PolicyName="backlog-out",
        PolicyType="StepScaling",
        AdjustmentType="ChangeInCapacity",
        EstimatedInstanceWarmup=120,
        StepAdjustments=[
            {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 40, "ScalingAdjustment": 1},
            {"MetricIntervalLowerBound": 40, "ScalingAdjustment": 2},
        ],
    )
    scale_in = asg.put_scaling_policy(
        AutoScalingGroupName="workers",
        PolicyName="drained-in",
        PolicyType="SimpleScaling",
        AdjustmentType="ChangeInCapacity",
        ScalingAdjustment=-1,
        Cooldown=300,
    )
    metric = {
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": "work"}],
        "Period": 60,
        "Statistic": "Maximum",
        "EvaluationPeriods": 1,
    }
    cw.put_metric_alarm(
        AlarmName="backlog-high",
        Threshold=10,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[out["PolicyARN"]],
        **metric,
    )
    cw.put_metric_alarm(
        AlarmName="backlog-empty",
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
        AlarmActions=[scale_in["PolicyARN"]],
        **metric,
    )
    # No backlog yet: the scale-in alarm fires, but the group is at its minimum.
    advance(120)
    assert desired(asg, "workers") == 1
    for start in range(0, 60, 10):
        sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": str(i), "MessageBody": f"job {i}"} for i in range(start, start + 10)],
        )
    advance(120)
    # 60 visible against a threshold of 10: 50 over it, the second step (+2).
    wait_for(lambda: desired(asg, "workers") == 3, what="scale-out to 3")
    assert any(
        "a monitor alarm backlog-high in state ALARM triggered policy backlog-out changing the "
        "desired capacity from 1 to 3." in c
        for c in causes(asg, "workers")
    )
    in_service(asg, "workers", 3)

    sqs.purge_queue(QueueUrl=queue)
    advance(120)
    wait_for(lambda: desired(asg, "workers") == 2, what="scale-in to 2")
    wait_for(
        lambda: any(
            "a monitor alarm backlog-empty in state ALARM triggered policy drained-in changing "
            "the desired capacity from 3 to 2." in c
            for c in causes(asg, "workers")
        ),
        what="the scale-in activity",
    )
    # The simple policy's cooldown holds further simple scaling until it has passed.
    with pytest.raises(ClientError) as info:
        asg.execute_policy(
            AutoScalingGroupName="workers", PolicyName="drained-in", HonorCooldown=True
        )
    assert info.value.response["Error"]["Code"] == "ScalingActivityInProgress"
    # The alarm stays in ALARM and invokes the policy again each minute: the cooldown turns
    # those away until it has passed, then the group shrinks again.
    for _ in range(8):
        advance(60)  # minute by minute: the queue's gauge is sampled at each boundary
        if desired(asg, "workers") == 1:
            break
    scale_ins = [
        a
        for a in asg.describe_scaling_activities(AutoScalingGroupName="workers")["Activities"]
        if "triggered policy drained-in" in a["Cause"]
    ]
    assert "changing the desired capacity from 2 to 1." in scale_ins[0]["Cause"]
    assert "changing the desired capacity from 3 to 2." in scale_ins[1]["Cause"]
    assert (scale_ins[0]["StartTime"] - scale_ins[1]["StartTime"]).total_seconds() >= 300
    in_service(asg, "workers", 1)
    policies = asg.describe_policies(AutoScalingGroupName="workers")["ScalingPolicies"]
    assert {p["PolicyName"]: [a["AlarmName"] for a in p["Alarms"]] for p in policies} == {
        "backlog-out": ["backlog-high"],
        "drained-in": ["backlog-empty"],
    }
    assert {p["PolicyName"]: p["PolicyType"] for p in policies} == {
        "backlog-out": "StepScaling",
        "drained-in": "SimpleScaling",
    }


def fetch(url: str, timeout: float = 30.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return bytes(resp.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def advance_until(check: Callable[[], bool], advance: Callable[[float], float], what: str) -> None:
    """Move the clock a minute at a time until ``check`` holds: instances burn real CPU time, so
    how many minutes a loaded machine needs varies; the deadline is generous."""
    deadline = time.monotonic() + 120
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)  # real CPU time to measure over each minute the clock jumps
        advance(60)


@pytest.mark.clock
def test_target_tracking_on_average_cpu_scales_out_and_back_in(
    asg: Any, image: str, aws: Callable[[str], Any], advance: Callable[[float], float]
) -> None:
    ec2, cw = aws("ec2"), aws("cloudwatch")
    group_id = ec2.create_security_group(GroupName="burners", Description="burners")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    asg.create_launch_configuration(
        LaunchConfigurationName="lc",
        ImageId=image,
        InstanceType="t2.micro",
        UserData=BURNER,
        SecurityGroups=[group_id],
        InstanceMonitoring={"Enabled": True},
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="cpu",
        LaunchConfigurationName="lc",
        MinSize=1,
        MaxSize=3,
        AvailabilityZones=zones(aws),
        DefaultCooldown=120,
    )
    (first,) = in_service(asg, "cpu", 1)
    policy = asg.put_scaling_policy(
        AutoScalingGroupName="cpu",
        PolicyName="cpu10",
        PolicyType="TargetTrackingScaling",
        EstimatedInstanceWarmup=180,
        TargetTrackingConfiguration={
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
            "TargetValue": 10.0,
        },
    )
    names = sorted(a["AlarmName"] for a in policy["Alarms"])
    assert [n.rsplit("-", 5)[0] for n in names] == [
        "TargetTracking-cpu-AlarmHigh",
        "TargetTracking-cpu-AlarmLow",
    ]
    alarms = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNames=names)["MetricAlarms"]}
    high, low = (alarms[n] for n in names)
    assert (high["Threshold"], high["EvaluationPeriods"], high["DatapointsToAlarm"]) == (10, 3, 3)
    assert (low["Threshold"], low["EvaluationPeriods"], low["DatapointsToAlarm"]) == (9, 15, 15)
    assert high["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": "cpu"}]
    assert high["AlarmActions"] == [policy["PolicyARN"]]

    address = ec2.describe_instances(InstanceIds=[first["InstanceId"]])["Reservations"][0][
        "Instances"
    ][0]["PublicIpAddress"]
    assert fetch(f"http://{address}:8080/burn") == b"/burn"
    # One busy vCPU out of one: well over 10%, however loaded the machine.
    advance_until(lambda: desired(asg, "cpu") >= 2, advance, what="scale-out")
    fetch(f"http://{address}:8080/rest")
    wait_for(
        lambda: any(
            "in state ALARM triggered policy cpu10 changing the desired capacity from 1 to " in c
            and "TargetTracking-cpu-AlarmHigh-" in c
            for c in causes(asg, "cpu")
        ),
        what="the scale-out activity",
    )
    # While the new instances warm up, a breach asks for no more than the first one did.
    grown = desired(asg, "cpu")
    asg.execute_policy(
        AutoScalingGroupName="cpu", PolicyName="cpu10", MetricValue=11.0, BreachThreshold=10.0
    )
    assert desired(asg, "cpu") == grown
    in_service(asg, "cpu", grown, timeout=60)
    advance_until(lambda: desired(asg, "cpu") == 1, advance, what="scale-in to 1")
    wait_for(
        lambda: any(
            "TargetTracking-cpu-AlarmLow-" in c
            and re.search(r"changing the desired capacity from \d to 1\.", c)
            for c in causes(asg, "cpu")
        ),
        what="the scale-in activity",
    )
    in_service(asg, "cpu", 1, timeout=60)
    asg.delete_policy(AutoScalingGroupName="cpu", PolicyName="cpu10")
    assert cw.describe_alarms(AlarmNames=names)["MetricAlarms"] == []
