"""Alarm actions on EC2 instances: ``arn:aws:automate:<region>:ec2:stop`` stops the instance the
alarm's InstanceId dimension names, through the EC2 provider."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from tests.ec2.conftest import wait_state


def test_stop_action_stops_the_instance(client: Callable[..., Any]) -> None:
    account = "8" + "".join(secrets.choice("0123456789") for _ in range(11))
    ec2 = client("ec2", aws_access_key_id=account)
    cw = client("cloudwatch", aws_access_key_id=account)
    image = ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023.*-x86_64"]}]
    )["Images"][0]["ImageId"]
    instance_id = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]
    try:
        wait_state(ec2, instance_id, "running")
        cw.put_metric_alarm(
            AlarmName="stop-idle",
            Namespace="AWS/EC2",
            MetricName="CPUUtilization",
            Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
            Statistic="Average",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="LessThanThreshold",
            AlarmActions=["arn:aws:automate:us-east-1:ec2:stop"],
        )
        cw.set_alarm_state(AlarmName="stop-idle", StateValue="ALARM", StateReason="idle")
        (item,) = cw.describe_alarm_history(AlarmName="stop-idle", HistoryItemType="Action")[
            "AlarmHistoryItems"
        ]
        assert item["HistorySummary"] == (
            "Successfully executed action arn:aws:automate:us-east-1:ec2:stop"
        )
        assert json.loads(item["HistoryData"])["actionState"] == "Succeeded"
        wait_state(ec2, instance_id, "stopped")
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])


def test_recover_action_reaches_the_ec2_provider(client: Callable[..., Any]) -> None:
    account = "8" + "".join(secrets.choice("0123456789") for _ in range(11))
    ec2 = client("ec2", aws_access_key_id=account)
    cw = client("cloudwatch", aws_access_key_id=account)
    image = ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023.*-x86_64"]}]
    )["Images"][0]["ImageId"]
    instance_id = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]
    try:
        wait_state(ec2, instance_id, "running")
        cw.put_metric_alarm(
            AlarmName="recover",
            Namespace="AWS/EC2",
            MetricName="StatusCheckFailed_System",
            Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=2,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=["arn:aws:automate:us-east-1:ec2:recover"],
        )
        cw.set_alarm_state(AlarmName="recover", StateValue="ALARM", StateReason="host failed")
        (item,) = cw.describe_alarm_history(AlarmName="recover", HistoryItemType="Action")[
            "AlarmHistoryItems"
        ]
        assert item["HistorySummary"] == (
            "Successfully executed action arn:aws:automate:us-east-1:ec2:recover"
        )
        wait_state(ec2, instance_id, "running")
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])
