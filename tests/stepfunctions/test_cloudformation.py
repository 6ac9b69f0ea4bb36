"""AWS::StepFunctions::StateMachine and AWS::StepFunctions::Activity in a stack."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.stepfunctions.conftest import ROLE, wait_done

TEMPLATE = {
    "Resources": {
        "Jobs": {"Type": "AWS::StepFunctions::Activity", "Properties": {"Name": "NAME-act"}},
        "FromS3": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "RoleArn": ROLE,
                "DefinitionS3Location": {"Bucket": "BUCKET", "Key": "flow.json"},
                "DefinitionSubstitutions": {"Greeting": "hello"},
            },
        },
        "Flow": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "RoleArn": ROLE,
                "DefinitionString": json.dumps(
                    {
                        "StartAt": "P",
                        "States": {
                            "P": {
                                "Type": "Pass",
                                "Result": {"activity": "${ActivityArn}", "limit": "${Limit}"},
                                "End": True,
                            }
                        },
                    }
                ),
                "DefinitionSubstitutions": {"ActivityArn": {"Ref": "Jobs"}, "Limit": 5},
                "Tags": [{"Key": "team", "Value": "a"}],
            },
        },
    },
    "Outputs": {
        "Arn": {"Value": {"Ref": "Flow"}},
        "Name": {"Value": {"Fn::GetAtt": ["Flow", "Name"]}},
        "FromS3": {"Value": {"Ref": "FromS3"}},
    },
}


def test_stack_with_state_machine_and_activity(
    client: Callable[..., Any], sfn: Any, unique: Callable[[str], str]
) -> None:
    cfn = client("cloudformation")
    stack = unique("sfn-stack")
    s3 = client("s3")
    s3.create_bucket(Bucket=stack)
    stored = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Result": "${Greeting}", "End": True}},
    }
    s3.put_object(Bucket=stack, Key="flow.json", Body=json.dumps(stored))
    body = json.dumps(TEMPLATE).replace("NAME", stack).replace("BUCKET", stack)
    cfn.create_stack(StackName=stack, TemplateBody=body)
    cfn.get_waiter("stack_create_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    }
    arn = outputs["Arn"]
    assert arn.endswith(f":stateMachine:{outputs['Name']}")
    tags = {t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert tags["team"] == "a" and tags["aws:cloudformation:stack-name"] == stack
    done = wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    activity = sfn.describe_activity(activityArn=json.loads(done["output"])["activity"])
    assert activity["name"] == f"{stack}-act"
    assert json.loads(done["output"])["limit"] == "5"
    from_s3 = wait_done(sfn, sfn.start_execution(stateMachineArn=outputs["FromS3"])["executionArn"])
    assert json.loads(from_s3["output"]) == "hello"
    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    assert arn not in [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
