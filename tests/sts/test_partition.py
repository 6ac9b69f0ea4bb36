"""ARNs carry the partition of the request's region (issue 16): ``aws-cn`` for ``cn-*``,
``aws-us-gov`` for ``us-gov-*`` (AWS General Reference, "Amazon Resource Names")."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from nubes.core.arns import arn, partition_of

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-west-1", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("", "aws"),
    ],
)
def test_partition_of_region(region: str, partition: str) -> None:
    assert partition_of(region) == partition
    assert arn("logs", region, "1", "x").startswith(f"arn:{partition}:logs:")


@pytest.mark.parametrize(
    ("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]
)
def test_regional_and_session_arns_use_the_partition(
    client: Callable[..., Any], unique: Callable[[str], str], region: str, partition: str
) -> None:
    logs = client("logs", region=region)
    group = unique("g")
    logs.create_log_group(logGroupName=group)
    found = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert found["arn"].startswith(f"arn:{partition}:logs:{region}:")
    role = client("iam").create_role(RoleName=unique("r"), AssumeRolePolicyDocument=TRUST)["Role"]
    out = client("sts", region=region).assume_role(
        RoleArn=role["Arn"], RoleSessionName="cn-session"
    )
    assert out["AssumedRoleUser"]["Arn"].startswith(f"arn:{partition}:sts::")


@pytest.mark.parametrize(
    ("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]
)
def test_every_service_mints_arns_in_the_partition_of_the_region(
    client: Callable[..., Any], unique: Callable[[str], str], region: str, partition: str
) -> None:
    me = client("sts", region=region).get_caller_identity()
    assert me["Arn"] == f"arn:{partition}:iam::{me['Account']}:root"
    # IAM is global: its endpoint in these partitions is signed for cn-north-1 / us-gov-west-1.
    iam = client("iam", region=region)
    trust = TRUST.replace("arn:aws:", f"arn:{partition}:")
    role = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust)["Role"]
    assert role["Arn"] == f"arn:{partition}:iam::{me['Account']}:role/{role['RoleName']}"
    assert iam.get_role(RoleName=role["RoleName"])["Role"]["Arn"] == role["Arn"]
    managed = f"arn:{partition}:iam::aws:policy/ReadOnlyAccess"
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=managed)
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [managed]
    assert iam.get_policy(PolicyArn=managed)["Policy"]["Arn"] == managed

    sqs = client("sqs", region=region)
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert queue_arn.startswith(f"arn:{partition}:sqs:{region}:")

    topic = client("sns", region=region).create_topic(Name=unique("t"))["TopicArn"]
    assert topic.startswith(f"arn:{partition}:sns:{region}:")
    sub = client("sns", region=region).subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    assert sub["SubscriptionArn"].startswith(f"{topic}:")

    events = client("events", region=region)
    rule = events.put_rule(Name=unique("rule"), EventPattern='{"source": ["aws.s3"]}')
    assert rule["RuleArn"].startswith(f"arn:{partition}:events:{region}:")
    events.put_targets(
        Rule=rule["RuleArn"].rsplit("/", 1)[1], Targets=[{"Id": "q", "Arn": queue_arn}]
    )

    s3 = client("s3", region=region)
    bucket = unique("b").lower()
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}],
            "EventBridgeConfiguration": {},
        },
    )
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    bodies: list[dict[str, Any]] = []
    for _ in range(10):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies += [json.loads(m["Body"]) for m in got.get("Messages", [])]
        if len(bodies) >= 2:
            break
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    records = [r for b in bodies for r in b.get("Records", [])]
    assert [r["s3"]["bucket"]["arn"] for r in records] == [bucket_arn]
    assert [b["resources"] for b in bodies if "detail-type" in b] == [[bucket_arn]]


def test_ec2_and_cloudwatch_arns_in_china(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    region = "cn-northwest-1"
    ec2 = client("ec2", region=region)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName=unique("group"), Description="d", VpcId=vpc)
    found = ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"][0]
    assert found["SecurityGroupArn"].startswith(f"arn:aws-cn:ec2:{region}:")
    cloudwatch = client("cloudwatch", region=region)
    name = unique("alarm")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="m",
        Namespace="n",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["AlarmArn"].startswith(f"arn:aws-cn:cloudwatch:{region}:")
