"""The Step Functions API: definitions checked as AWS checks them, executions (names, listing,
stopping, sync runs), versions and aliases, tags, and executions surviving a restart."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from nubes.testing.server import NubesProcess
from tests.stepfunctions.conftest import ROLE, wait_done, wait_for

WAIT = {
    "StartAt": "Wait",
    "States": {"Wait": {"Type": "Wait", "Seconds": 86400, "End": True}},
}
PASS: dict[str, Any] = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def test_invalid_definitions(sfn: Any, unique: Callable[[str], str]) -> None:
    bad = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "Nowhere"},
            "B": {"Type": "Succeed"},
        },
    }
    with pytest.raises(ClientError) as caught:
        sfn.create_state_machine(name=unique("bad"), definition=json.dumps(bad), roleArn=ROLE)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidDefinition"
    assert error["Message"].startswith("Invalid State Machine Definition: '")
    assert (
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nowhere at /States/A/Next"
        in (error["Message"])
    )
    out = sfn.validate_state_machine_definition(definition=json.dumps(bad))
    assert out["result"] == "FAIL"
    assert out["diagnostics"][0]["code"] == "MISSING_TRANSITION_TARGET"
    loop = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}},
    }
    found = sfn.validate_state_machine_definition(definition=json.dumps(loop))["diagnostics"]
    assert [(d["code"], d["message"]) for d in found] == [
        ("MISSING_END_STATE", "Workflow has no terminal state")
    ]
    unreachable = {**PASS, "States": {**PASS["States"], "Z": {"Type": "Succeed"}}}
    found = sfn.validate_state_machine_definition(definition=json.dumps(unreachable))["diagnostics"]
    assert found[0]["message"] == 'State "Z" is not reachable.'
    assert sfn.validate_state_machine_definition(definition=json.dumps(PASS))["result"] == "OK"
    broken = sfn.validate_state_machine_definition(definition="{nope")["diagnostics"]
    assert broken[0]["code"] == "INVALID_JSON_DESCRIPTION"
    intrinsic = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"x.$": "States.Nope(1)"}, "End": True}},
    }
    found = sfn.validate_state_machine_definition(definition=json.dumps(intrinsic))["diagnostics"]
    assert found[0]["code"] == "SCHEMA_VALIDATION_FAILED"


def test_machine_lifecycle_versions_aliases_tags(sfn: Any, unique: Callable[[str], str]) -> None:
    name = unique("sm")
    made = sfn.create_state_machine(
        name=name,
        definition=json.dumps(PASS),
        roleArn=ROLE,
        tags=[{"key": "team", "value": "a"}],
        publish=True,
    )
    arn = made["stateMachineArn"]
    assert made["stateMachineVersionArn"] == f"{arn}:1"
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert (described["name"], described["type"], described["status"]) == (
        name,
        "STANDARD",
        "ACTIVE",
    )
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        sfn.create_state_machine(name=name, definition=json.dumps(WAIT), roleArn=ROLE)
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(WAIT))
    v2 = sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=updated["revisionId"])
    assert v2["stateMachineVersionArn"] == f"{arn}:2"
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{arn}:2", f"{arn}:1"]
    alias = sfn.create_state_machine_alias(
        name="live",
        routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1", "weight": 100}],
    )["stateMachineAliasArn"]
    assert alias == f"{arn}:live"
    started = sfn.start_execution(stateMachineArn=alias)
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert done["stateMachineVersionArn"] == f"{arn}:1"
    assert done["stateMachineAliasArn"] == alias
    assert json.loads(sfn.describe_state_machine(stateMachineArn=f"{arn}:1")["definition"]) == PASS
    with pytest.raises(sfn.exceptions.ConflictException):
        sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:1")
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "dev"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "dev"}]
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)


def test_executions_names_listing_and_stop(sfn: Any, machine: Callable[..., str]) -> None:
    arn = machine(WAIT)
    first = sfn.start_execution(stateMachineArn=arn, name="one", input='{"a": 1}')
    again = sfn.start_execution(stateMachineArn=arn, name="one", input='{"a": 1}')
    assert again["executionArn"] == first["executionArn"]
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="one", input='{"a": 2}')
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.start_execution(stateMachineArn=arn, input="{not json")
    for n in range(3):
        sfn.start_execution(stateMachineArn=arn, name=f"more-{n}")
    page = sfn.list_executions(stateMachineArn=arn, maxResults=2)
    assert len(page["executions"]) == 2
    rest = sfn.list_executions(stateMachineArn=arn, nextToken=page["nextToken"])
    names = {e["name"] for e in page["executions"] + rest["executions"]}
    assert names == {"one", "more-0", "more-1", "more-2"}
    stopped = sfn.stop_execution(executionArn=first["executionArn"], error="Why", cause="test")
    assert "stopDate" in stopped
    described = sfn.describe_execution(executionArn=first["executionArn"])
    assert (described["status"], described["error"], described["cause"]) == (
        "ABORTED",
        "Why",
        "test",
    )
    aborted = sfn.list_executions(stateMachineArn=arn, statusFilter="ABORTED")["executions"]
    assert [e["name"] for e in aborted] == ["one"]
    history = sfn.get_execution_history(executionArn=first["executionArn"])["events"]
    assert history[-1]["type"] == "ExecutionAborted"
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn=first["executionArn"] + "x")
    for e in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
        sfn.stop_execution(executionArn=e["executionArn"])
    machine_of = sfn.describe_state_machine_for_execution(executionArn=first["executionArn"])
    assert json.loads(machine_of["definition"]) == WAIT


def test_express_sync_execution(
    client: Callable[..., Any], sfn: Any, machine: Callable[..., str]
) -> None:
    # StartSyncExecution's endpoint has the host prefix "sync-", which 127.0.0.1 cannot take.
    sync = client("stepfunctions", config=Config(inject_host_prefix=False))
    express = machine(
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Pass",
                    "Parameters": {"sum.$": "States.MathAdd($.a, 1)"},
                    "End": True,
                }
            },
        },
        kind="EXPRESS",
    )
    out = sync.start_sync_execution(stateMachineArn=express, input='{"a": 41}')
    assert out["status"] == "SUCCEEDED"
    assert json.loads(out["output"]) == {"sum": 42}
    assert ":express:" in out["executionArn"]
    failing = machine(
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}},
        kind="EXPRESS",
    )
    out = sync.start_sync_execution(stateMachineArn=failing)
    assert (out["status"], out["error"], out["cause"]) == ("FAILED", "E", "C")
    with pytest.raises(sync.exceptions.StateMachineTypeNotSupported):
        sync.start_sync_execution(stateMachineArn=machine(PASS))
    with pytest.raises(sfn.exceptions.StateMachineTypeNotSupported):
        sfn.list_executions(stateMachineArn=express)


def test_running_execution_resumes_after_restart(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    server = nubes_factory(persistent=True)
    sfn = server.client("stepfunctions")
    definition = {
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Result": {"step": 1}, "Next": "Wait"},
            "Wait": {"Type": "Wait", "Seconds": 600, "Next": "Last"},
            "Last": {"Type": "Pass", "Parameters": {"after.$": "$.step"}, "End": True},
        },
    }
    arn = sfn.create_state_machine(name="durable", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    started = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    activity = sfn.create_activity(name="durable-work")["activityArn"]
    worked = sfn.create_state_machine(
        name="durable-activity",
        definition=json.dumps(
            {
                "StartAt": "Work",
                "States": {"Work": {"Type": "Task", "Resource": activity, "End": True}},
            }
        ),
        roleArn=ROLE,
    )["stateMachineArn"]
    working = sfn.start_execution(stateMachineArn=worked)["executionArn"]
    old_token = sfn.get_activity_task(activityArn=activity)["taskToken"]
    assert wait_for(
        lambda: any(
            e["type"] == "WaitStateEntered"
            for e in sfn.get_execution_history(executionArn=started)["events"]
        )
    )
    server.kill()
    again = nubes_factory(persistent=True)
    sfn = again.client("stepfunctions")
    assert sfn.describe_execution(executionArn=started)["status"] == "RUNNING"
    # The activity task runs again with a new token; the one handed out before is over.
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=old_token, output="{}")
    task = sfn.get_activity_task(activityArn=activity)
    sfn.send_task_success(taskToken=task["taskToken"], output='{"after": "restart"}')
    assert json.loads(wait_done(sfn, working)["output"]) == {"after": "restart"}
    requests.post(f"{again.endpoint}/_nubes/clock", json={"advance": 601}, timeout=30)
    deadline = time.monotonic() + 30
    done = wait_done(sfn, started, seconds=30)
    assert time.monotonic() <= deadline
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    assert json.loads(done["output"]) == {"after": 1}
    events = sfn.get_execution_history(executionArn=started)["events"]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))


def test_status_changes_reach_eventbridge(
    client: Callable[..., Any], sfn: Any, machine: Callable[..., str], unique: Callable[[str], str]
) -> None:
    sqs, events = client("sqs"), client("events")
    url = sqs.create_queue(QueueName=unique("sfn-events"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    arn = machine(PASS)
    rule = unique("sfn-rule")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {"stateMachineArn": [arn]},
            }
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    started = sfn.start_execution(stateMachineArn=arn, input='{"k": 1}')["executionArn"]
    wait_done(sfn, started)
    seen: list[dict[str, Any]] = []

    def collect() -> bool:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(json.loads(m["Body"]))
        return len(seen) >= 2

    assert wait_for(collect)
    assert sorted(e["detail"]["status"] for e in seen) == ["RUNNING", "SUCCEEDED"]
    assert all(e["detail"]["executionArn"] == started for e in seen)
    assert seen[0]["resources"] == [started]
    events.remove_targets(Rule=rule, Ids=["q"])
    events.delete_rule(Name=rule)


def test_redrive_restarts_from_the_failed_state(
    sfn: Any, machine: Callable[..., str], unique: Callable[[str], str]
) -> None:
    activity = sfn.create_activity(name=unique("redrive"))["activityArn"]
    arn = machine(
        {
            "StartAt": "Prepare",
            "States": {
                "Prepare": {"Type": "Pass", "Result": {"ready": True}, "Next": "Work"},
                "Work": {"Type": "Task", "Resource": activity, "End": True},
            },
        }
    )
    started = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
        sfn.redrive_execution(executionArn=started)
    task = sfn.get_activity_task(activityArn=activity)
    assert json.loads(task["input"]) == {"ready": True}
    sfn.send_task_failure(taskToken=task["taskToken"], error="Flaky", cause="first time")
    failed = wait_done(sfn, started)
    assert (failed["status"], failed["redriveStatus"]) == ("FAILED", "REDRIVABLE")
    sfn.redrive_execution(executionArn=started)
    task = sfn.get_activity_task(activityArn=activity)
    assert json.loads(task["input"]) == {"ready": True}
    sfn.send_task_success(taskToken=task["taskToken"], output='{"ok": 1}')
    done = wait_done(sfn, started)
    assert (done["status"], done["redriveCount"]) == ("SUCCEEDED", 1)
    assert json.loads(done["output"]) == {"ok": 1}
    assert "redriveDate" in done
    types = [e["type"] for e in sfn.get_execution_history(executionArn=started)["events"]]
    assert types.count("PassStateEntered") == 1
    assert types.count("ExecutionRedriven") == 1 and types[-1] == "ExecutionSucceeded"
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
        sfn.redrive_execution(executionArn=started)


def test_names_are_taken_for_90_days(nubes_factory: Callable[..., NubesProcess]) -> None:
    # A server of its own: three months on the shared clock server would age other tests' data.
    server = nubes_factory(persistent=False)
    sfn = server.client("stepfunctions")

    def advance(seconds: float) -> None:
        requests.post(
            f"{server.endpoint}/_nubes/clock", json={"advance": seconds}, timeout=30
        ).raise_for_status()

    arn = sfn.create_state_machine(name="daily", definition=json.dumps(PASS), roleArn=ROLE)[
        "stateMachineArn"
    ]
    first = sfn.start_execution(stateMachineArn=arn, name="daily", input='{"day": 1}')
    wait_done(sfn, first["executionArn"])
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="daily", input='{"day": 2}')
    advance(91 * 86400)

    def forgotten() -> bool:
        try:
            sfn.describe_execution(executionArn=first["executionArn"])
        except sfn.exceptions.ExecutionDoesNotExist:
            return True
        return False

    assert wait_for(forgotten)
    again = sfn.start_execution(stateMachineArn=arn, name="daily", input='{"day": 2}')
    assert again["executionArn"] == first["executionArn"]
    assert wait_done(sfn, again["executionArn"])["input"] == '{"day": 2}'


def test_test_state(client: Callable[..., Any], unique: Callable[[str], str]) -> None:
    # TestState's endpoint has the host prefix "sync-" too.
    sfn = client("stepfunctions", config=Config(inject_host_prefix=False))
    passed = sfn.test_state(
        definition=json.dumps(
            {
                "Type": "Pass",
                "InputPath": "$.in",
                "Parameters": {"x.$": "States.MathAdd($.v, 1)"},
                "ResultPath": "$.out",
                "Next": "After",
            }
        ),
        input='{"in": {"v": 1}}',
        inspectionLevel="DEBUG",
    )
    assert (passed["status"], passed["nextState"]) == ("SUCCEEDED", "After")
    # ResultPath places the result into the state's input as it came, before InputPath.
    assert json.loads(passed["output"]) == {"in": {"v": 1}, "out": {"x": 2}}
    assert passed["inspectionData"]["input"] == '{"in": {"v": 1}}'
    choice = {
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}],
                "Default": "Small",
            },
            "Big": {"Type": "Succeed"},
            "Small": {"Type": "Succeed"},
        },
    }
    picked = sfn.test_state(definition=json.dumps(choice), stateName="Pick", input='{"n": 2}')
    assert picked["nextState"] == "Big"
    missing_queue = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:sqs:getQueueUrl",
        "Parameters": {"QueueName": unique("absent")},
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "Handle"}],
        "End": True,
    }
    caught = sfn.test_state(definition=json.dumps(missing_queue), roleArn=ROLE)
    assert (caught["status"], caught["nextState"]) == ("CAUGHT_ERROR", "Handle")
    assert caught["error"] == "Sqs.QueueDoesNotExistException"
    retried = sfn.test_state(
        definition=json.dumps(
            {**missing_queue, "Retry": [{"ErrorEquals": ["States.ALL"]}], "Catch": []}
        ),
        roleArn=ROLE,
    )
    assert retried["status"] == "RETRIABLE"
    failed = sfn.test_state(definition=json.dumps({"Type": "Fail", "Error": "E", "Cause": "C"}))
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "E", "C")
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.test_state(definition=json.dumps({"Type": "Wait", "End": True}))
    with pytest.raises(ClientError) as refused:
        sfn.test_state(
            definition=json.dumps({"Type": "Map", "ItemProcessor": PASS, "End": True}),
            roleArn=ROLE,
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_metrics_in_aws_states(
    client: Callable[..., Any], sfn: Any, machine: Callable[..., str]
) -> None:
    arn = machine(PASS)
    wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    cloudwatch = client("cloudwatch")

    def names() -> set[str]:
        found = cloudwatch.list_metrics(
            Namespace="AWS/States", Dimensions=[{"Name": "StateMachineArn", "Value": arn}]
        )["Metrics"]
        return {m["MetricName"] for m in found}

    assert wait_for(
        lambda: {"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionTime"} <= names()
    )
