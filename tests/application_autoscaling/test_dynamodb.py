"""Application Auto Scaling of a DynamoDB table's capacity: targets, a step policy run by its
alarm, target tracking with the alarms it manages, scheduled actions on the one clock."""

from __future__ import annotations

import json
import secrets
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def aws(client: Callable[..., Any]) -> Callable[[str], Any]:
    account = "7" + "".join(secrets.choice("0123456789") for _ in range(11))
    return lambda service: client(service, aws_access_key_id=account)


def table(aws: Callable[[str], Any], name: str, units: int = 5) -> None:
    aws("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": units, "WriteCapacityUnits": units},
    )


def read_units(aws: Callable[[str], Any], name: str) -> int:
    found = aws("dynamodb").describe_table(TableName=name)["Table"]
    return int(found["ProvisionedThroughput"]["ReadCapacityUnits"])


TARGET = {
    "ServiceNamespace": "dynamodb",
    "ResourceId": "table/orders",
    "ScalableDimension": "dynamodb:table:ReadCapacityUnits",
}


def test_targets_are_checked_and_clamp_the_capacity(aws: Callable[[str], Any]) -> None:
    aas = aws("application-autoscaling")
    with pytest.raises(ClientError) as info:
        aas.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=10)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    table(aws, "orders", units=2)
    with pytest.raises(ClientError) as info:
        aas.register_scalable_target(**TARGET, MinCapacity=9, MaxCapacity=3)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    aas.register_scalable_target(**TARGET, MinCapacity=4, MaxCapacity=10)
    assert read_units(aws, "orders") == 4
    found = aas.describe_scalable_targets(ServiceNamespace="dynamodb")["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in found] == [
        ("table/orders", 4, 10)
    ]
    with pytest.raises(ClientError) as info:
        aas.put_scaling_policy(
            **{**TARGET, "ResourceId": "table/other"},
            PolicyName="p",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={"TargetValue": 50.0},
        )
    assert info.value.response["Error"]["Code"] == "ObjectNotFoundException"
    aas.deregister_scalable_target(**TARGET)
    assert aas.describe_scalable_targets(ServiceNamespace="dynamodb")["ScalableTargets"] == []


def test_step_policy_run_by_its_alarm_and_target_tracking_alarms(
    aws: Callable[[str], Any],
) -> None:
    aas, cw = aws("application-autoscaling"), aws("cloudwatch")
    table(aws, "orders", units=5)
    aas.register_scalable_target(**TARGET, MinCapacity=5, MaxCapacity=20)
    step = aas.put_scaling_policy(
        **TARGET,
        PolicyName="reads-up",
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [
                {
                    "MetricIntervalLowerBound": 0,
                    "MetricIntervalUpperBound": 100,
                    "ScalingAdjustment": 2,
                },
                {"MetricIntervalLowerBound": 100, "ScalingAdjustment": 5},
            ],
            "Cooldown": 60,
        },
    )
    assert ":resource/dynamodb/table/orders:policyName/reads-up" in step["PolicyARN"]
    cw.put_metric_alarm(
        AlarmName="reads-high",
        Namespace="AWS/DynamoDB",
        MetricName="ConsumedReadCapacityUnits",
        Dimensions=[{"Name": "TableName", "Value": "orders"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=200,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[step["PolicyARN"]],
    )
    cw.set_alarm_state(
        AlarmName="reads-high",
        StateValue="ALARM",
        StateReason="test",
        StateReasonData=json.dumps({"recentDatapoints": [350.0]}),
    )
    assert read_units(aws, "orders") == 10  # 150 over the threshold: the second step, +5
    activity = aas.describe_scaling_activities(ServiceNamespace="dynamodb")["ScalingActivities"][0]
    assert activity["Description"] == "Setting read capacity units to 10."
    assert activity["Cause"] == (
        "monitor alarm reads-high in state ALARM triggered policy reads-up changing the read "
        "capacity units from 5 to 10"
    )
    assert activity["StatusCode"] == "Successful"

    tracking = aas.put_scaling_policy(
        **TARGET,
        PolicyName="reads-70",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "DynamoDBReadCapacityUtilization"
            },
        },
    )
    names = sorted(a["AlarmName"] for a in tracking["Alarms"])
    assert [n.rsplit("-", 5)[0] for n in names] == [
        "TargetTracking-table/orders-AlarmHigh",
        "TargetTracking-table/orders-AlarmLow",
    ]
    high = cw.describe_alarms(AlarmNames=[names[0]])["MetricAlarms"][0]
    assert high["MetricName"] == "ConsumedReadCapacityUnits" and high["Threshold"] == 420
    aas.delete_scaling_policy(**TARGET, PolicyName="reads-70")
    assert cw.describe_alarms(AlarmNames=names)["MetricAlarms"] == []
    policies = aas.describe_scaling_policies(ServiceNamespace="dynamodb")["ScalingPolicies"]
    assert [p["PolicyName"] for p in policies] == ["reads-up"]


@pytest.mark.clock
def test_scheduled_actions_move_the_bounds_on_the_clock(
    aws: Callable[[str], Any], endpoint: str
) -> None:
    aas = aws("application-autoscaling")
    table(aws, "orders", units=5)
    aas.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=50)
    aas.put_scheduled_action(
        **TARGET,
        ScheduledActionName="morning",
        Schedule="rate(1 hour)",
        ScalableTargetAction={"MinCapacity": 15, "MaxCapacity": 50},
    )
    actions = aas.describe_scheduled_actions(ServiceNamespace="dynamodb")["ScheduledActions"]
    assert [a["ScheduledActionName"] for a in actions] == ["morning"]
    req = urllib.request.Request(
        endpoint + "/_nubes/clock", data=json.dumps({"advance": 3601}).encode(), method="POST"
    )
    urllib.request.urlopen(req, timeout=30).close()
    assert read_units(aws, "orders") == 15
    target = aas.describe_scalable_targets(ServiceNamespace="dynamodb")["ScalableTargets"][0]
    assert target["MinCapacity"] == 15
    causes = [
        a["Cause"]
        for a in aas.describe_scaling_activities(ServiceNamespace="dynamodb")["ScalingActivities"]
    ]
    assert any(c.startswith("scheduled action name morning was triggered at ") for c in causes)
    aas.delete_scheduled_action(**TARGET, ScheduledActionName="morning")
