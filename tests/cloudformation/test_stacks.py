"""Stacks end to end: create, describe, update (in place and by replacement), delete, rollback."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudformation.conftest import outputs, reasons, settle

QUEUES = """
AWSTemplateFormatVersion: 2010-09-09
Description: two queues
Parameters:
  Visibility:
    Type: Number
    Default: 30
Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref Visibility
  Dead:
    Type: AWS::SQS::Queue
    Properties:
      Tags:
        - Key: team
          Value: blue
Outputs:
  WorkUrl:
    Value: !Ref Work
  WorkArn:
    Value: !GetAtt Work.Arn
    Export:
      Name: !Sub "${AWS::StackName}-work-arn"
  DeadName:
    Value: !GetAtt [Dead, QueueName]
"""


def test_create_describe_delete(cfn: Any, client: Callable[..., Any], deploy: Any) -> None:
    stack = deploy(QUEUES, Tags=[{"Key": "env", "Value": "test"}])
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Description"] == "two queues"
    assert stack["Parameters"] == [{"ParameterKey": "Visibility", "ParameterValue": "30"}]
    out = outputs(stack)
    sqs = client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=out["WorkUrl"], AttributeNames=["All"])["Attributes"]
    assert attrs["QueueArn"] == out["WorkArn"]
    assert attrs["VisibilityTimeout"] == "30"
    name = stack["StackName"]
    assert out["DeadName"].startswith(f"{name}-Dead-")
    dead_url = sqs.get_queue_url(QueueName=out["DeadName"])["QueueUrl"]
    tags = sqs.list_queue_tags(QueueUrl=dead_url)["Tags"]
    assert tags["team"] == "blue" and tags["env"] == "test"
    assert tags["aws:cloudformation:logical-id"] == "Dead"
    assert tags["aws:cloudformation:stack-name"] == name
    resources = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    assert {(r["LogicalResourceId"], r["ResourceStatus"]) for r in resources} == {
        ("Work", "CREATE_COMPLETE"),
        ("Dead", "CREATE_COMPLETE"),
    }
    detail = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Work")
    assert detail["StackResourceDetail"]["PhysicalResourceId"] == out["WorkUrl"]
    exports = {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}
    assert exports[f"{name}-work-arn"] == out["WorkArn"]
    events = reasons(cfn, name)
    assert events[0] == (name, "CREATE_IN_PROGRESS", "User Initiated")
    assert events[-1][:2] == (name, "CREATE_COMPLETE")
    assert ("Work", "CREATE_IN_PROGRESS", "Resource creation Initiated") in events
    # Newest first, as AWS lists them.
    newest = cfn.describe_stack_events(StackName=name)["StackEvents"][0]
    assert newest["ResourceStatus"] == "CREATE_COMPLETE" and newest["LogicalResourceId"] == name

    cfn.delete_stack(StackName=name)
    deleted = settle(cfn, stack["StackId"])
    assert deleted["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError) as err:
        sqs.get_queue_url(QueueName=out["DeadName"])
    assert "NonExistentQueue" in str(err.value)
    with pytest.raises(ClientError) as missing:
        cfn.describe_stacks(StackName=name)
    assert missing.value.response["Error"]["Message"] == f"Stack with id {name} does not exist"


def test_update_in_place_and_replacement(cfn: Any, client: Callable[..., Any], deploy: Any) -> None:
    stack = deploy(QUEUES)
    name = stack["StackName"]
    before = outputs(stack)
    cfn.update_stack(
        StackName=name,
        UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": "Visibility", "ParameterValue": "45"}],
    )
    updated = settle(cfn, name)
    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    sqs = client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=before["WorkUrl"], AttributeNames=["All"])
    assert attrs["Attributes"]["VisibilityTimeout"] == "45"
    assert outputs(updated)["WorkUrl"] == before["WorkUrl"]

    # A new QueueName needs a new queue: Work is replaced, Dead is kept.
    replaced_name = f"{name}-renamed"
    template = QUEUES.replace(
        "      VisibilityTimeout: !Ref Visibility",
        f"      VisibilityTimeout: !Ref Visibility\n      QueueName: {replaced_name}",
    )
    cfn.update_stack(StackName=name, TemplateBody=template)
    after = settle(cfn, name)
    assert after["StackStatus"] == "UPDATE_COMPLETE"
    new = outputs(after)
    assert new["WorkUrl"].endswith(f"/{replaced_name}")
    assert new["DeadName"] == before["DeadName"]
    urls = sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    assert before["WorkUrl"] not in urls
    assert new["WorkUrl"] in urls
    events = reasons(cfn, name)
    assert (
        "Work",
        "UPDATE_IN_PROGRESS",
        "Requested update requires the creation of a new physical resource; hence creating one.",
    ) in events
    assert events[-1][:2] == (name, "UPDATE_COMPLETE")

    with pytest.raises(ClientError) as err:
        cfn.update_stack(StackName=name, TemplateBody=template)
    assert err.value.response["Error"]["Message"] == "No updates are to be performed."
    cfn.delete_stack(StackName=name)
    settle(cfn, after["StackId"])


def test_failure_rolls_back_what_was_created(
    cfn: Any, client: Callable[..., Any], deploy: Any, unique: Callable[[str], str]
) -> None:
    taken = unique("taken")
    client("sqs").create_queue(QueueName=taken, Attributes={"DelaySeconds": "5"})
    template = f"""
Resources:
  First:
    Type: AWS::SQS::Queue
  Clash:
    Type: AWS::SQS::Queue
    DependsOn: First
    Properties:
      QueueName: {taken}
      DelaySeconds: 10
"""
    stack = deploy(template)
    name = stack["StackName"]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = reasons(cfn, name)
    failed = [e for e in events if e[1] == "CREATE_FAILED"]
    assert failed and failed[0][0] == "Clash"
    assert (
        name,
        "ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to create: [Clash]. Rollback requested by user.",
    ) in events
    first = [e for e in events if e[0] == "First"]
    assert [s for _, s, _ in first][-2:] == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    assert client("sqs").list_queues(QueueNamePrefix=name).get("QueueUrls", []) == []
    with pytest.raises(ClientError) as err:
        cfn.create_change_set(StackName=name, ChangeSetName="again", TemplateBody=template)
    assert err.value.response["Error"]["Message"] == (
        f"Stack:{stack['StackId']} is in ROLLBACK_COMPLETE state and can not be updated."
    )

    kept = deploy(template, DisableRollback=True)
    assert kept["StackStatus"] == "CREATE_FAILED"
    urls = client("sqs").list_queues(QueueNamePrefix=kept["StackName"]).get("QueueUrls", [])
    assert len(urls) == 1
    cfn.rollback_stack(StackName=kept["StackName"])
    assert settle(cfn, kept["StackName"])["StackStatus"] == "ROLLBACK_COMPLETE"
    assert client("sqs").list_queues(QueueNamePrefix=kept["StackName"]).get("QueueUrls", []) == []
    cfn.delete_stack(StackName=kept["StackName"])
    assert settle(cfn, kept["StackId"])["StackStatus"] == "DELETE_COMPLETE"


POLICY = {
    "Statement": [
        {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "Update:*",
            "Principal": "*",
            "Resource": "LogicalResourceId/Dead",
        },
    ]
}


def test_stack_policy_guards_updates(cfn: Any, deploy: Any) -> None:
    stack = deploy(QUEUES, StackPolicyBody=json.dumps(POLICY))
    name = stack["StackName"]
    assert json.loads(cfn.get_stack_policy(StackName=name)["StackPolicyBody"]) == POLICY
    guarded = QUEUES.replace("Value: blue", "Value: red")
    cfn.update_stack(StackName=name, TemplateBody=guarded)
    rolled = settle(cfn, name)
    assert rolled["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert (
        "Dead",
        "UPDATE_FAILED",
        "Action denied by stack policy: Statement [#2] does not allow [Update:Modify] for "
        "resource [LogicalResourceId/Dead]",
    ) in reasons(cfn, name)
    # A policy for this update only lets it through.
    cfn.update_stack(
        StackName=name,
        TemplateBody=guarded,
        StackPolicyDuringUpdateBody=json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}
                ]
            }
        ),
    )
    assert settle(cfn, name)["StackStatus"] == "UPDATE_COMPLETE"
    assert json.loads(cfn.get_stack_policy(StackName=name)["StackPolicyBody"]) == POLICY
    cfn.delete_stack(StackName=name)
    settle(cfn, stack["StackId"])


def test_deletion_policies(cfn: Any, client: Callable[..., Any], deploy: Any) -> None:
    template = """
Resources:
  Kept:
    Type: AWS::SQS::Queue
    DeletionPolicy: Retain
  Swapped:
    Type: AWS::SQS::Queue
    UpdateReplacePolicy: Retain
    Properties:
      FifoQueue: false
Outputs:
  Kept:
    Value: !Ref Kept
  Swapped:
    Value: !Ref Swapped
"""
    stack = deploy(template)
    name = stack["StackName"]
    before = outputs(stack)
    cfn.update_stack(StackName=name, TemplateBody=template.replace("false", "true"))
    after = outputs(settle(cfn, name))
    assert after["Swapped"] != before["Swapped"] and after["Swapped"].endswith(".fifo")
    sqs = client("sqs")
    # The replaced queue was kept, as UpdateReplacePolicy asked.
    sqs.get_queue_attributes(QueueUrl=before["Swapped"], AttributeNames=["QueueArn"])
    cfn.delete_stack(StackName=name)
    settle(cfn, stack["StackId"])
    assert ("Kept", "DELETE_SKIPPED", "") in reasons(cfn, stack["StackId"])
    sqs.get_queue_attributes(QueueUrl=before["Kept"], AttributeNames=["QueueArn"])
    with pytest.raises(ClientError):
        sqs.get_queue_attributes(QueueUrl=after["Swapped"], AttributeNames=["QueueArn"])


def test_long_listings_come_in_pages(cfn: Any, deploy: Any) -> None:
    body = "Resources:\n" + "".join(
        f"  H{i}:\n    Type: AWS::CloudFormation::WaitConditionHandle\n" for i in range(40)
    )
    stack = deploy(body)
    name = stack["StackName"]
    first = cfn.describe_stack_events(StackName=name)
    assert len(first["StackEvents"]) == 100 and first["NextToken"]
    pages = cfn.get_paginator("describe_stack_events").paginate(StackName=name)
    events = [e for page in pages for e in page["StackEvents"]]
    assert len(events) == 2 + 40 * 3
    assert len({e["EventId"] for e in events}) == len(events)
    resources = cfn.get_paginator("list_stack_resources").paginate(StackName=name)
    assert sum(len(p["StackResourceSummaries"]) for p in resources) == 40
    with pytest.raises(ClientError) as err:
        cfn.describe_stack_events(StackName=name, NextToken="garbage")
    assert err.value.response["Error"]["Message"] == "Invalid NextToken"


def test_stacks_survive_a_kill(nubes_factory: Callable[..., Any]) -> None:
    server = nubes_factory()
    cfn = server.client("cloudformation")
    cfn.create_stack(StackName="kept", TemplateBody=QUEUES)
    stack = settle(cfn, "kept")
    server.kill()
    again = nubes_factory()
    cfn = again.client("cloudformation")
    found = cfn.describe_stacks(StackName="kept")["Stacks"][0]
    assert found["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(found) == outputs(stack)
    url = outputs(found)["WorkUrl"]
    again.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    cfn.delete_stack(StackName="kept")
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_cancel_update_rolls_back(cfn: Any, deploy: Any) -> None:
    stack = deploy(QUEUES)
    name = stack["StackName"]
    waiting = QUEUES.replace(
        "Outputs:",
        "  Gate:\n    Type: AWS::CloudFormation::WaitCondition\n    CreationPolicy:\n"
        "      ResourceSignal:\n        Timeout: PT1H\nOutputs:",
    )
    cfn.update_stack(StackName=name, TemplateBody=waiting)
    status = ""
    while status != "CREATE_IN_PROGRESS":
        rows = cfn.describe_stack_resources(StackName=name)["StackResources"]
        status = next((r["ResourceStatus"] for r in rows if r["LogicalResourceId"] == "Gate"), "")
    with pytest.raises(ClientError):
        cfn.cancel_update_stack(StackName=f"{name}-none")
    cfn.cancel_update_stack(StackName=name)
    rolled = settle(cfn, name)
    assert rolled["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    logical = {
        r["LogicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=name)["StackResources"]
    }
    assert logical == {"Work", "Dead"}
    with pytest.raises(ClientError) as err:
        cfn.cancel_update_stack(StackName=name)
    assert err.value.response["Error"]["Message"] == (
        "CancelUpdateStack cannot be called from current stack status UPDATE_ROLLBACK_COMPLETE"
    )
    cfn.delete_stack(StackName=name)
    settle(cfn, stack["StackId"])


@pytest.mark.clock
def test_creation_timeout_on_the_clock(cfn: Any, endpoint: str, deploy: Any) -> None:
    body = """
Resources:
  Gate:
    Type: AWS::CloudFormation::WaitCondition
    CreationPolicy:
      ResourceSignal:
        Timeout: PT1H
"""
    name = f"timeout-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=body, TimeoutInMinutes=5)
    status = ""
    while status != "CREATE_IN_PROGRESS":
        rows = cfn.describe_stack_resources(StackName=name)["StackResources"]
        status = next((r["ResourceStatus"] for r in rows), "")
    advance = urllib.request.Request(
        f"{endpoint}/_nubes/clock", data=json.dumps({"advance": 360}).encode(), method="POST"
    )
    urllib.request.urlopen(advance).close()
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert (
        "Gate",
        "CREATE_FAILED",
        "Stack creation time exceeded the specified timeout",
    ) in reasons(cfn, name)


def test_new_stack_tags_reach_every_resource(
    cfn: Any, client: Callable[..., Any], deploy: Any
) -> None:
    stack = deploy(QUEUES, Tags=[{"Key": "env", "Value": "test"}])
    name = stack["StackName"]
    cfn.update_stack(
        StackName=name, UsePreviousTemplate=True, Tags=[{"Key": "env", "Value": "prod"}]
    )
    assert settle(cfn, name)["StackStatus"] == "UPDATE_COMPLETE"
    sqs = client("sqs")
    for url in (
        outputs(stack)["WorkUrl"],
        sqs.get_queue_url(QueueName=outputs(stack)["DeadName"])["QueueUrl"],
    ):
        assert sqs.list_queue_tags(QueueUrl=url)["Tags"]["env"] == "prod"
    cfn.delete_stack(StackName=name)
    settle(cfn, stack["StackId"])


@pytest.mark.parametrize("how", ["retain", "force"])
def test_a_failed_delete_can_leave_resources_behind(
    cfn: Any, client: Callable[..., Any], deploy: Any, how: str
) -> None:
    stack = deploy(
        "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n  Queue:\n    Type: AWS::SQS::Queue\n"
    )
    name = stack["StackName"]
    bucket = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Bucket")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    client("s3").put_object(Bucket=bucket, Key="keep", Body=b"x")
    cfn.delete_stack(StackName=name)
    failed = settle(cfn, name)
    assert failed["StackStatus"] == "DELETE_FAILED"
    assert failed["StackStatusReason"] == "The following resource(s) failed to delete: [Bucket]. "
    if how == "retain":
        cfn.delete_stack(StackName=name, RetainResources=["Bucket"])
    else:
        cfn.delete_stack(StackName=name, DeletionMode="FORCE_DELETE_STACK")
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    client("s3").head_bucket(Bucket=bucket)
    client("s3").delete_object(Bucket=bucket, Key="keep")
    client("s3").delete_bucket(Bucket=bucket)
