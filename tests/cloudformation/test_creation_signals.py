"""CreationPolicy ResourceSignal on instances and Auto Scaling groups: the resource waits in
CREATE_IN_PROGRESS for Count SUCCESS signals (SignalResource, as cfn-signal sends them), fails on
a FAILURE signal, and times out on the nubes clock."""

from __future__ import annotations

import base64
import json
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from tests.cloudformation.conftest import reasons, settle
from tests.cloudformation.test_resources_ec2 import catalogue_image

INSTANCE = """
Resources:
  Server:
    Type: AWS::EC2::Instance
    CreationPolicy:
      ResourceSignal:
        Count: {count}
        Timeout: PT15M
    Properties:
      ImageId: {image}
      InstanceType: t2.micro
"""

# What cfn-signal does from an instance: SignalResource through the endpoint the instance is given
# (AWS_ENDPOINT_URL), here with the test's own Python and boto3.
SIGNAL_SCRIPT = """#!/bin/sh
AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test {python} -c '
import boto3
boto3.client("cloudformation").signal_resource(
    StackName="{stack}", LogicalResourceId="Server", UniqueId="user-data", Status="SUCCESS")
'
"""

GROUP = """
Resources:
  Launch:
    Type: AWS::AutoScaling::LaunchConfiguration
    Properties:
      ImageId: {image}
      InstanceType: t2.micro
  Group:
    Type: AWS::AutoScaling::AutoScalingGroup
    CreationPolicy:
      ResourceSignal:
        Count: 1
        Timeout: PT15M
    Properties:
      LaunchConfigurationName: !Ref Launch
      MinSize: "1"
      MaxSize: "1"
      AvailabilityZones: !GetAZs ""
"""


def _waiting(cfn: Any, name: str, logical_id: str) -> None:
    """Until the resource is created and waits for its signals."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = cfn.describe_stack_events(StackName=name)["StackEvents"]
        if any(
            r["LogicalResourceId"] == logical_id
            and r.get("ResourceStatusReason") == "Resource creation Initiated"
            for r in rows
        ):
            return
        time.sleep(0.1)
    raise AssertionError(f"{logical_id} never started waiting for signals")


def _status(cfn: Any, name: str, logical_id: str) -> str:
    found = cfn.describe_stack_resource(StackName=name, LogicalResourceId=logical_id)
    return str(found["StackResourceDetail"]["ResourceStatus"])


def test_instance_waits_for_count_success_signals(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    name = unique("signals")
    image = catalogue_image(client, cfn.meta.region_name)
    cfn.create_stack(StackName=name, TemplateBody=INSTANCE.format(count=2, image=image))
    _waiting(cfn, name, "Server")
    cfn.signal_resource(StackName=name, LogicalResourceId="Server", UniqueId="a", Status="SUCCESS")
    # The same UniqueId again is one signal, not two.
    cfn.signal_resource(StackName=name, LogicalResourceId="Server", UniqueId="a", Status="SUCCESS")
    assert _status(cfn, name, "Server") == "CREATE_IN_PROGRESS"
    cfn.signal_resource(StackName=name, LogicalResourceId="Server", UniqueId="b", Status="SUCCESS")
    assert settle(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    cfn.delete_stack(StackName=name)


def test_group_fails_on_a_failure_signal(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    name = unique("signals")
    image = catalogue_image(client, cfn.meta.region_name)
    cfn.create_stack(StackName=name, TemplateBody=GROUP.format(image=image))
    _waiting(cfn, name, "Group")
    cfn.signal_resource(StackName=name, LogicalResourceId="Group", UniqueId="i-1", Status="FAILURE")
    assert settle(cfn, name)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert (
        "Group",
        "CREATE_FAILED",
        "Received FAILURE signal with UniqueId i-1",
    ) in reasons(cfn, name)


@pytest.mark.clock
def test_instance_times_out_on_the_clock(
    cfn: Any, client: Callable[..., Any], endpoint: str, unique: Callable[[str], str]
) -> None:
    name = unique("signals")
    image = catalogue_image(client, cfn.meta.region_name)
    cfn.create_stack(StackName=name, TemplateBody=INSTANCE.format(count=1, image=image))
    _waiting(cfn, name, "Server")
    advance = urllib.request.Request(
        f"{endpoint}/_nubes/clock", data=json.dumps({"advance": 16 * 60}).encode(), method="POST"
    )
    urllib.request.urlopen(advance).close()
    assert settle(cfn, name)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert (
        "Server",
        "CREATE_FAILED",
        "Failed to receive 1 resource signal(s) within the specified duration",
    ) in reasons(cfn, name)


def test_instance_user_data_signals_through_the_api(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    name = unique("signals")
    image = catalogue_image(client, cfn.meta.region_name)
    script = SIGNAL_SCRIPT.format(python=sys.executable, stack=name)
    body = INSTANCE.format(count=1, image=image) + (
        f"      UserData: {base64.b64encode(script.encode()).decode()}\n"
    )
    cfn.create_stack(StackName=name, TemplateBody=body)
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, name)
    cfn.delete_stack(StackName=name)
