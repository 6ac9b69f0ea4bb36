"""EventBridge Scheduler's resource types: a stack makes a schedule group and a schedule that
sends to a queue; an update changes the schedule in place; deleting the stack removes both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tests.cloudformation.conftest import outputs, reasons, settle

TEMPLATE = """
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: scheduler.amazonaws.com}
            Action: sts:AssumeRole
  Group:
    Type: AWS::Scheduler::ScheduleGroup
    Properties:
      Tags:
        - Key: team
          Value: ops
  Tick:
    Type: AWS::Scheduler::Schedule
    Properties:
      GroupName: !Ref Group
      ScheduleExpression: EXPRESSION
      FlexibleTimeWindow:
        Mode: "OFF"
      Target:
        Arn: !GetAtt Queue.Arn
        RoleArn: !GetAtt Role.Arn
        Input: '{"tick": true}'
        RetryPolicy:
          MaximumRetryAttempts: "3"
Outputs:
  Group:
    Value: !Ref Group
  GroupArn:
    Value: !GetAtt Group.Arn
  GroupState:
    Value: !GetAtt Group.State
  Tick:
    Value: !Ref Tick
  TickArn:
    Value: !GetAtt Tick.Arn
"""


def test_schedule_and_group_stack(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    scheduler = client("scheduler")
    name = unique("sched")
    cfn.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.replace("EXPRESSION", "rate(5 minutes)"),
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, name)
    out = outputs(stack)
    group = scheduler.get_schedule_group(Name=out["Group"])
    assert (group["Arn"], group["State"]) == (out["GroupArn"], out["GroupState"])
    tags = scheduler.list_tags_for_resource(ResourceArn=out["GroupArn"])["Tags"]
    assert {"Key": "team", "Value": "ops"} in tags
    schedule = scheduler.get_schedule(Name=out["Tick"], GroupName=out["Group"])
    assert schedule["Arn"] == out["TickArn"]
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 3

    cfn.update_stack(
        StackName=name,
        TemplateBody=TEMPLATE.replace("EXPRESSION", "rate(1 hour)"),
        Capabilities=["CAPABILITY_IAM"],
    )
    assert settle(cfn, name)["StackStatus"] == "UPDATE_COMPLETE", reasons(cfn, name)
    schedule = scheduler.get_schedule(Name=out["Tick"], GroupName=out["Group"])
    assert (schedule["Arn"], schedule["ScheduleExpression"]) == (out["TickArn"], "rate(1 hour)")

    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    try:
        scheduler.get_schedule_group(Name=out["Group"])
    except ClientError as err:
        assert err.response["Error"]["Code"] == "ResourceNotFoundException"
    else:
        raise AssertionError("the group outlived its stack")
