"""Application Auto Scaling of a Lambda alias's provisioned concurrency."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.lambda_.conftest import ROLE, zipped


def test_provisioned_concurrency_follows_the_target_and_its_policy(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    lam, aas, cw = client("lambda"), client("application-autoscaling"), client("cloudwatch")
    name = unique("fn")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": zipped({"app.py": "def handler(e, c):\n    return 1\n"})},
    )
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        version = lam.publish_version(FunctionName=name)["Version"]
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
        target = {
            "ServiceNamespace": "lambda",
            "ResourceId": f"function:{name}:live",
            "ScalableDimension": "lambda:function:ProvisionedConcurrency",
        }
        aas.register_scalable_target(**target, MinCapacity=2, MaxCapacity=10)
        config = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
        assert config["RequestedProvisionedConcurrentExecutions"] == 2
        policy = aas.put_scaling_policy(
            **target,
            PolicyName="util",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 0.5,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "LambdaProvisionedConcurrencyUtilization"
                },
            },
        )
        high = min(a["AlarmName"] for a in policy["Alarms"])
        alarm = cw.describe_alarms(AlarmNames=[high])["MetricAlarms"][0]
        assert alarm["Namespace"] == "AWS/Lambda"
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
            "FunctionName": name,
            "Resource": f"{name}:live",
        }
        # Utilization 0.9 against a target of 0.5: 2 * 0.9 / 0.5 = 3.6, so 4.
        cw.set_alarm_state(
            AlarmName=high,
            StateValue="ALARM",
            StateReason="test",
            StateReasonData=json.dumps({"recentDatapoints": [0.9]}),
        )
        config = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
        assert config["RequestedProvisionedConcurrentExecutions"] == 4
        activity = aas.describe_scaling_activities(ServiceNamespace="lambda")["ScalingActivities"][
            0
        ]
        assert activity["Cause"].endswith(
            "triggered policy util changing the provisioned concurrency from 2 to 4"
        )
        aas.deregister_scalable_target(**target)
        assert cw.describe_alarms(AlarmNames=[high])["MetricAlarms"] == []
    finally:
        lam.delete_function(FunctionName=name)
