"""Resource types of ELBv2, Auto Scaling, CloudWatch and EventBridge: one stack builds a load
balanced group with a scaling policy, an alarm and a rule; an update changes some in place and
replaces the target group; deleting the stack removes everything, each seen in its service's API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tests.cloudformation.conftest import outputs, reasons, settle
from tests.cloudformation.test_resources_ec2 import catalogue_image

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>"},
        "Vpc": {"Type": "AWS::EC2::VPC::Id"},
        "Image": {"Type": "AWS::EC2::Image::Id"},
        "Port": {"Type": "Number", "Default": 80},
        "Threshold": {"Type": "Number", "Default": 10},
    },
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {
            "EventPattern": {"source": ["my.app"]},
            "Targets": [{"Id": "queue", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}]}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName",
                            "Value": {"Fn::GetAtt": ["Queue", "QueueName"]}}],
            "Statistic": "Average", "Period": "60", "EvaluationPeriods": "1",
            "Threshold": {"Ref": "Threshold"}, "ComparisonOperator": "GreaterThanThreshold"}},
        "Targets": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "Port": {"Ref": "Port"}, "Protocol": "HTTP", "VpcId": {"Ref": "Vpc"},
            "HealthCheckPath": "/health", "HealthCheckIntervalSeconds": "10"}},
        "Balancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Subnets": {"Ref": "Subnets"},
            "LoadBalancerAttributes": [{"Key": "idle_timeout.timeout_seconds",
                                        "Value": "30"}]}},
        "Listener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
            "LoadBalancerArn": {"Ref": "Balancer"}, "Port": 80, "Protocol": "HTTP",
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Targets"}}]}},
        "ApiRule": {"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": {
            "ListenerArn": {"Ref": "Listener"}, "Priority": "10",
            "Conditions": [{"Field": "path-pattern", "Values": ["/api/*"]}],
            "Actions": [{"Type": "fixed-response", "FixedResponseConfig": {
                "StatusCode": "200", "ContentType": "text/plain", "MessageBody": "api"}}]}},
        "Launch": {"Type": "AWS::AutoScaling::LaunchConfiguration", "Properties": {
            "ImageId": {"Ref": "Image"}, "InstanceType": "t3.micro"}},
        "Group": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
            "LaunchConfigurationName": {"Ref": "Launch"}, "MinSize": "1", "MaxSize": "2",
            "VPCZoneIdentifier": {"Ref": "Subnets"}, "TargetGroupARNs": [{"Ref": "Targets"}],
            "Tags": [{"Key": "team", "Value": "web", "PropagateAtLaunch": True}]}},
        "ScaleOut": {"Type": "AWS::AutoScaling::ScalingPolicy", "Properties": {
            "AutoScalingGroupName": {"Ref": "Group"}, "AdjustmentType": "ChangeInCapacity",
            "ScalingAdjustment": "1", "Cooldown": "60"}},
    },
    "Outputs": {
        "Rule": {"Value": {"Ref": "Rule"}},
        "RuleArn": {"Value": {"Fn::GetAtt": ["Rule", "Arn"]}},
        "Alarm": {"Value": {"Ref": "Alarm"}},
        "AlarmArn": {"Value": {"Fn::GetAtt": ["Alarm", "Arn"]}},
        "TargetGroup": {"Value": {"Ref": "Targets"}},
        "TargetGroupName": {"Value": {"Fn::GetAtt": ["Targets", "TargetGroupName"]}},
        "Balancer": {"Value": {"Ref": "Balancer"}},
        "DNSName": {"Value": {"Fn::GetAtt": ["Balancer", "DNSName"]}},
        "FullName": {"Value": {"Fn::GetAtt": ["Balancer", "LoadBalancerFullName"]}},
        "Listener": {"Value": {"Ref": "Listener"}},
        "ApiRule": {"Value": {"Fn::GetAtt": ["ApiRule", "RuleArn"]}},
        "Group": {"Value": {"Ref": "Group"}},
        "Launch": {"Value": {"Ref": "Launch"}},
        "Policy": {"Value": {"Ref": "ScaleOut"}},
        "PolicyName": {"Value": {"Fn::GetAtt": ["ScaleOut", "PolicyName"]}},
    },
}  # fmt: skip


def _parameters(client: Callable[..., Any], **extra: str) -> list[dict[str, str]]:
    ec2 = client("ec2")
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    chosen = subnets["Subnets"][:2]
    values = {
        "Subnets": ",".join(s["SubnetId"] for s in chosen),
        "Vpc": chosen[0]["VpcId"],
        "Image": catalogue_image(client, "us-east-1"),
        **extra,
    }
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def _code(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as err:
        return str(err.response["Error"]["Code"])
    raise AssertionError("the call succeeded")


def test_balanced_group_alarm_and_rule_stack(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    elb, scaling = client("elbv2"), client("autoscaling")
    cloudwatch, events = client("cloudwatch"), client("events")
    name = unique("services")
    cfn.create_stack(
        StackName=name, TemplateBody=json.dumps(TEMPLATE), Parameters=_parameters(client)
    )
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, name)
    out = outputs(stack)

    rule = events.describe_rule(Name=out["Rule"])
    assert rule["Arn"] == out["RuleArn"]
    assert json.loads(rule["EventPattern"]) == {"source": ["my.app"]}
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=out["Rule"])["Targets"]] == ["queue"]
    alarm = cloudwatch.describe_alarms(AlarmNames=[out["Alarm"]])["MetricAlarms"][0]
    assert (alarm["AlarmArn"], alarm["Threshold"], alarm["Period"]) == (out["AlarmArn"], 10, 60)

    group = elb.describe_target_groups(TargetGroupArns=[out["TargetGroup"]])["TargetGroups"][0]
    assert (group["TargetGroupName"], group["Port"]) == (out["TargetGroupName"], 80)
    assert group["HealthCheckPath"] == "/health" and group["HealthCheckIntervalSeconds"] == 10
    balancer = elb.describe_load_balancers(LoadBalancerArns=[out["Balancer"]])["LoadBalancers"][0]
    assert balancer["DNSName"] == out["DNSName"]
    assert out["Balancer"].endswith(out["FullName"])
    attributes = elb.describe_load_balancer_attributes(LoadBalancerArn=out["Balancer"])
    idle = {a["Key"]: a["Value"] for a in attributes["Attributes"]}
    assert idle["idle_timeout.timeout_seconds"] == "30"
    tags = elb.describe_tags(ResourceArns=[out["Balancer"]])["TagDescriptions"][0]["Tags"]
    assert {"Key": "aws:cloudformation:logical-id", "Value": "Balancer"} in tags
    rules = elb.describe_rules(ListenerArn=out["Listener"])["Rules"]
    assert [(r["Priority"], r["RuleArn"] == out["ApiRule"]) for r in rules] == [
        ("10", True),
        ("default", False),
    ]

    asg = scaling.describe_auto_scaling_groups(AutoScalingGroupNames=[out["Group"]])[
        "AutoScalingGroups"
    ][0]
    assert asg["LaunchConfigurationName"] == out["Launch"]
    assert asg["TargetGroupARNs"] == [out["TargetGroup"]]
    assert (asg["MinSize"], asg["MaxSize"]) == (1, 2)
    group_tags = {t["Key"]: t["PropagateAtLaunch"] for t in asg["Tags"]}
    assert group_tags["team"] and group_tags["aws:cloudformation:stack-name"]
    policy = scaling.describe_policies(AutoScalingGroupName=out["Group"])["ScalingPolicies"][0]
    assert (policy["PolicyARN"], policy["PolicyName"]) == (out["Policy"], out["PolicyName"])
    assert policy["ScalingAdjustment"] == 1

    # Threshold changes the alarm in place; a new Port replaces the target group, and the
    # listener and the group move to the new one.
    cfn.update_stack(
        StackName=name,
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=_parameters(client, Port="8080", Threshold="20"),
    )
    updated = settle(cfn, name)
    assert updated["StackStatus"] == "UPDATE_COMPLETE", reasons(cfn, name)
    after = outputs(updated)
    assert after["Alarm"] == out["Alarm"]
    alarm = cloudwatch.describe_alarms(AlarmNames=[out["Alarm"]])["MetricAlarms"][0]
    assert alarm["Threshold"] == 20
    assert after["TargetGroup"] != out["TargetGroup"]
    assert _code(lambda: elb.describe_target_groups(TargetGroupArns=[out["TargetGroup"]])) == (
        "TargetGroupNotFound"
    )
    listener = elb.describe_listeners(ListenerArns=[out["Listener"]])["Listeners"][0]
    assert listener["DefaultActions"][0]["TargetGroupArn"] == after["TargetGroup"]
    asg = scaling.describe_auto_scaling_groups(AutoScalingGroupNames=[out["Group"]])[
        "AutoScalingGroups"
    ][0]
    assert asg["TargetGroupARNs"] == [after["TargetGroup"]]

    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE", reasons(
        cfn, stack["StackId"]
    )
    assert _code(lambda: events.describe_rule(Name=out["Rule"])) == "ResourceNotFoundException"
    assert cloudwatch.describe_alarms(AlarmNames=[out["Alarm"]])["MetricAlarms"] == []
    assert _code(lambda: elb.describe_load_balancers(LoadBalancerArns=[out["Balancer"]])) == (
        "LoadBalancerNotFound"
    )
    gone = scaling.describe_auto_scaling_groups(AutoScalingGroupNames=[out["Group"]])
    assert gone["AutoScalingGroups"] == []
    configs = scaling.describe_launch_configurations(LaunchConfigurationNames=[out["Launch"]])
    assert configs["LaunchConfigurations"] == []
