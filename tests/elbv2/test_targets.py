"""Targets other than host addresses: EC2 instances reached inside their own networks (their
security groups judging the load balancer's traffic) and Lambda functions."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from tests.elbv2.conftest import Reply, eventually, settle, states

pytestmark = pytest.mark.clock

SERVE_ID = """#!/bin/sh
mkdir -p /tmp/www && cd /tmp/www
python3 -c "import urllib.request as u; open('index.html', 'w').write(u.urlopen('http://169.254.169.254/latest/meta-data/instance-id').read().decode())"
exec python3 -m http.server 8080
"""


def test_instances_behind_an_application_load_balancer(
    client: Callable[..., Any],
    network: dict[str, Any],
    unique: Callable[[str], str],
    advance: Callable[[float], None],
    through: Callable[..., Reply],
) -> None:
    ec2, elb = client("ec2"), client("elbv2")
    lb_group = ec2.create_security_group(
        GroupName=unique("lb"), Description="load balancer", VpcId=network["vpc"]
    )["GroupId"]
    web_group = ec2.create_security_group(
        GroupName=unique("web"), Description="web servers", VpcId=network["vpc"]
    )["GroupId"]
    image = ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023.*-x86_64"]}]
    )["Images"][0]["ImageId"]
    instances = [
        ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            SubnetId=subnet,
            SecurityGroupIds=[web_group],
            UserData=SERVE_ID,
        )["Instances"][0]["InstanceId"]
        for subnet in network["subnets"]
    ]
    try:
        lb = elb.create_load_balancer(
            Name=unique("lb"), Subnets=network["subnets"], SecurityGroups=[lb_group]
        )["LoadBalancers"][0]
        tg = elb.create_target_group(
            Name=unique("tg"),
            Protocol="HTTP",
            Port=8080,
            VpcId=network["vpc"],
            HealthCheckIntervalSeconds=5,
            HealthCheckTimeoutSeconds=2,
            HealthyThresholdCount=2,
        )["TargetGroups"][0]["TargetGroupArn"]
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
        )
        ec2.get_waiter("instance_running").wait(InstanceIds=instances)
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i} for i in instances])
        found = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        assert {d["Target"]["AvailabilityZone"] for d in found} == {"us-east-1a", "us-east-1b"}
        # The web servers' group does not let the load balancer in: its checks time out.
        settle(elb, tg, advance, want="unhealthy")
        reasons = {
            d["TargetHealth"]["Reason"]
            for d in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        }
        assert reasons == {"Target.Timeout"}
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
        settle(elb, tg, advance)
        answered = {through(lb["DNSName"], "/").body.decode() for _ in range(6)}
        assert answered == set(instances)
        # A terminated instance leaves its target groups, as AWS deregisters it.
        ec2.terminate_instances(InstanceIds=instances[:1])

        def gone() -> bool:
            advance(5)
            return set(states(elb, tg)) == {f"{instances[1]}:8080"}

        assert eventually(gone)
        assert {through(lb["DNSName"], "/").body.decode() for _ in range(4)} == {instances[1]}
    finally:
        ec2.terminate_instances(InstanceIds=instances)


HANDLER = """
import base64, json
def handler(event, context):
    return {
        "statusCode": 201,
        "statusDescription": "201 Created",
        "headers": {"Content-Type": "application/json", "X-From": "lambda"},
        "body": json.dumps({"path": event["path"], "method": event["httpMethod"],
                            "query": event["queryStringParameters"], "body": event["body"],
                            "elb": event["requestContext"]["elb"]["targetGroupArn"],
                            "xff": event["headers"].get("x-forwarded-for")}),
        "isBase64Encoded": False,
    }
"""


def test_lambda_target(
    client: Callable[..., Any],
    network: dict[str, Any],
    unique: Callable[[str], str],
    through: Callable[..., Reply],
) -> None:
    elb, lam, iam = client("elbv2"), client("lambda"), client("iam")
    role = iam.create_role(
        RoleName=unique("role"),
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("index.py", HANDLER)
    function = lam.create_function(
        FunctionName=unique("fn"),
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=function)
    tg = elb.create_target_group(Name=unique("tg"), TargetType="lambda")["TargetGroups"][0]
    assert tg["HealthCheckEnabled"] is False
    arn = tg["TargetGroupArn"]
    with pytest.raises(Exception) as denied:
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": function}])
    assert "AccessDenied" in str(denied.value)
    lam.add_permission(
        FunctionName=function,
        StatementId="elb",
        Action="lambda:InvokeFunction",
        Principal="elasticloadbalancing.amazonaws.com",
        SourceArn=arn,
    )
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": function}])
    lb = elb.create_load_balancer(Name=unique("lb"), Subnets=network["subnets"])["LoadBalancers"][0]
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
    )
    health = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"][0]
    assert health["Target"] == {"Id": function}
    assert health["TargetHealth"]["State"] == "unavailable"
    assert health["TargetHealth"]["Reason"] == "Target.HealthCheckDisabled"
    reply = through(lb["DNSName"], "/orders?id=7", method="POST", body=b"hello")
    assert reply.status == 201
    assert reply.headers["X-From"] == "lambda"
    seen = reply.json()
    assert seen == {
        "path": "/orders",
        "method": "POST",
        "query": {"id": "7"},
        "body": "hello",
        "elb": arn,
        "xff": "127.0.0.1",
    }
    assert eventually(lambda: states(elb, arn) == {f"{function}:None": "unavailable"})
