"""Workflows that call other services: a Lambda function with Retry and Catch, SQS with a task
token, DynamoDB, AWS SDK integrations, activities, waits on the clock, nested executions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.lambda_.conftest import ROLE as LAMBDA_ROLE
from tests.lambda_.conftest import zipped
from tests.stepfunctions.conftest import wait_done, wait_for

FLAKY = """
import json, os
COUNT = "/tmp/count"

def handler(event, context):
    n = int(open(COUNT).read()) if os.path.exists(COUNT) else 0
    open(COUNT, "w").write(str(n + 1))
    if event.get("fail_times", 0) > n:
        raise ValueError("not yet %d" % n)
    if event.get("always"):
        class Broken(Exception):
            pass
        raise Broken("always broken")
    return {"doubled": event["value"] * 2, "attempt": n + 1}
"""


@pytest.fixture
def function(client: Callable[..., Any], unique: Callable[[str], str]) -> Iterator[str]:
    lam = client("lambda")
    name = unique("sfn-fn")
    out = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="app.handler",
        Role=LAMBDA_ROLE,
        Code={"ZipFile": zipped({"app.py": FLAKY})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    yield str(out["FunctionArn"])
    lam.delete_function(FunctionName=name)


def test_lambda_retry_then_success_and_history(
    sfn: Any, machine: Callable[..., str], function: str
) -> None:
    arn = machine(
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": function, "Payload.$": "$"},
                    "ResultSelector": {"result.$": "$.Payload"},
                    "Retry": [
                        {"ErrorEquals": ["ValueError"], "IntervalSeconds": 1, "BackoffRate": 1.0}
                    ],
                    "End": True,
                }
            },
        }
    )
    started = sfn.start_execution(
        stateMachineArn=arn, input=json.dumps({"value": 21, "fail_times": 1})
    )
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    assert json.loads(done["output"]) == {"result": {"doubled": 42, "attempt": 2}}
    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    types = [e["type"] for e in events]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert types.count("TaskFailed") == 1 and types.count("TaskSucceeded") == 1
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["previousEventId"] == e["id"] - 1 for e in events)
    failed = next(e for e in events if e["type"] == "TaskFailed")["taskFailedEventDetails"]
    assert failed["error"] == "ValueError" and failed["resourceType"] == "lambda"
    backwards = sfn.get_execution_history(
        executionArn=started["executionArn"], reverseOrder=True, maxResults=2
    )
    assert [e["type"] for e in backwards["events"]] == [types[-1], types[-2]]
    rest = sfn.get_execution_history(
        executionArn=started["executionArn"],
        reverseOrder=True,
        nextToken=backwards["nextToken"],
    )
    assert len(rest["events"]) == len(events) - 2


def test_bare_function_arn_error_is_caught(
    sfn: Any, machine: Callable[..., str], function: str
) -> None:
    arn = machine(
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": function,
                    "Catch": [
                        {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.e", "Next": "Bad"}
                    ],
                    "End": True,
                },
                "Bad": {"Type": "Pass", "End": True},
            },
        }
    )
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"always": True}))
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    caught = json.loads(done["output"])["e"]
    assert caught["Error"] == "Broken"
    assert json.loads(caught["Cause"])["errorMessage"] == "always broken"
    types = [
        e["type"] for e in sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    ]
    assert "LambdaFunctionScheduled" in types and "LambdaFunctionFailed" in types


@pytest.mark.clock
def test_wait_runs_on_the_clock(
    sfn: Any, machine: Callable[..., str], advance: Callable[[float], None]
) -> None:
    arn = machine(
        {
            "StartAt": "Wait",
            "States": {
                "Wait": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Done"},
                "Done": {"Type": "Succeed"},
            },
        }
    )
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"seconds": 3600}))
    entered = wait_for(
        lambda: any(
            e["type"] == "WaitStateEntered"
            for e in sfn.get_execution_history(executionArn=started["executionArn"])["events"]
        )
    )
    assert entered
    assert sfn.describe_execution(executionArn=started["executionArn"])["status"] == "RUNNING"
    advance(3601)
    assert wait_done(sfn, started["executionArn"])["status"] == "SUCCEEDED"


def test_sqs_task_token(
    sfn: Any, machine: Callable[..., str], client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("sfn-q"))["QueueUrl"]
    arn = machine(
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {
                        "QueueUrl": url,
                        "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$.order"},
                    },
                    "ResultPath": "$.answer",
                    "End": True,
                }
            },
        }
    )
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": 7}))
    messages = wait_for(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages")
    )
    body = json.loads(messages[0]["Body"])
    assert body["order"] == 7
    sfn.send_task_heartbeat(taskToken=body["token"])
    sfn.send_task_success(taskToken=body["token"], output=json.dumps({"approved": True}))
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    assert json.loads(done["output"]) == {"order": 7, "answer": {"approved": True}}
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=body["token"], output="{}")
    with pytest.raises(sfn.exceptions.TaskDoesNotExist):
        sfn.send_task_failure(taskToken="nope" * 10)


def test_activity_worker(
    sfn: Any, machine: Callable[..., str], unique: Callable[[str], str]
) -> None:
    activity = sfn.create_activity(name=unique("act"))["activityArn"]
    arn = machine(
        {
            "StartAt": "Work",
            "States": {
                "Work": {
                    "Type": "Task",
                    "Resource": activity,
                    "Retry": [{"ErrorEquals": ["Worker.Busy"], "IntervalSeconds": 1}],
                    "End": True,
                }
            },
        }
    )
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"job": 1}))
    task = sfn.get_activity_task(activityArn=activity, workerName="w1")
    assert json.loads(task["input"]) == {"job": 1}
    sfn.send_task_failure(taskToken=task["taskToken"], error="Worker.Busy", cause="later")
    again = sfn.get_activity_task(activityArn=activity, workerName="w2")
    sfn.send_task_success(taskToken=again["taskToken"], output=json.dumps({"done": 1}))
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    assert json.loads(done["output"]) == {"done": 1}
    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    workers = [
        e["activityStartedEventDetails"]["workerName"]
        for e in events
        if e["type"] == "ActivityStarted"
    ]
    assert workers == ["w1", "w2"]
    assert [a["name"] for a in sfn.list_activities()["activities"]].count(
        activity.split(":")[-1]
    ) == 1
    sfn.delete_activity(activityArn=activity)
    with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
        sfn.describe_activity(activityArn=activity)


def test_dynamodb_and_sdk_integrations(
    sfn: Any, machine: Callable[..., str], client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    ddb = client("dynamodb")
    table = unique("sfn-t")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    arn = machine(
        {
            "StartAt": "Put",
            "States": {
                "Put": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::dynamodb:putItem",
                    "Parameters": {
                        "TableName": table,
                        "Item": {"pk": {"S.$": "$.id"}, "n": {"N": "1"}},
                    },
                    "ResultPath": None,
                    "Next": "Get",
                },
                "Get": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::dynamodb:getItem",
                    "Parameters": {"TableName": table, "Key": {"pk": {"S.$": "$.id"}}},
                    "ResultSelector": {"n.$": "$.Item.n.N"},
                    "ResultPath": "$.got",
                    "Next": "Missing",
                },
                "Missing": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:sqs:getQueueUrl",
                    "Parameters": {"QueueName": "no-such-queue-here"},
                    "Catch": [
                        {
                            "ErrorEquals": ["Sqs.QueueDoesNotExistException"],
                            "ResultPath": "$.missing",
                            "Next": "Done",
                        }
                    ],
                    "End": True,
                },
                "Done": {"Type": "Succeed"},
            },
        }
    )
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"id": "a"}))
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    out = json.loads(done["output"])
    assert out["got"] == {"n": "1"}
    assert out["missing"]["Error"] == "Sqs.QueueDoesNotExistException"
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "1"}


def test_nested_execution_sync(sfn: Any, machine: Callable[..., str]) -> None:
    child = machine(
        {
            "StartAt": "Echo",
            "States": {"Echo": {"Type": "Pass", "Parameters": {"got.$": "$.x"}, "End": True}},
        }
    )
    parent = machine(
        {
            "StartAt": "Child",
            "States": {
                "Child": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {"StateMachineArn": child, "Input": {"x.$": "$.x"}},
                    "OutputPath": "$.Output",
                    "End": True,
                }
            },
        }
    )
    started = sfn.start_execution(stateMachineArn=parent, input=json.dumps({"x": 3}))
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    assert json.loads(done["output"]) == {"got": 3}


@pytest.mark.clock
def test_task_timeouts_on_the_clock(
    sfn: Any,
    machine: Callable[..., str],
    advance: Callable[[float], None],
    unique: Callable[[str], str],
) -> None:
    activity = sfn.create_activity(name=unique("slow"))["activityArn"]
    arn = machine(
        {
            "StartAt": "Work",
            "States": {
                "Work": {
                    "Type": "Task",
                    "Resource": activity,
                    "TimeoutSeconds": 300,
                    "HeartbeatSeconds": 60,
                    "Catch": [
                        {
                            "ErrorEquals": ["States.Timeout"],
                            "ResultPath": "$.timeout",
                            "Next": "TimedOut",
                        }
                    ],
                    "End": True,
                },
                "TimedOut": {"Type": "Pass", "End": True},
            },
        }
    )
    never_taken = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert wait_for(
        lambda: any(
            e["type"] == "ActivityScheduled"
            for e in sfn.get_execution_history(executionArn=never_taken)["events"]
        )
    )
    advance(301)
    done = wait_done(sfn, never_taken)
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    assert json.loads(done["output"])["timeout"]["Error"] == "States.Timeout"
    types = [e["type"] for e in sfn.get_execution_history(executionArn=never_taken)["events"]]
    assert "ActivityTimedOut" in types

    # A worker that stops sending heartbeats: States.HeartbeatTimeout, which no catcher here
    # takes (States.Timeout is another error), so the execution fails.
    silent = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    task = sfn.get_activity_task(activityArn=activity, workerName="quiet")
    assert task["taskToken"]
    advance(30)
    sfn.send_task_heartbeat(taskToken=task["taskToken"])
    advance(61)
    done = wait_done(sfn, silent)
    assert (done["status"], done["error"]) == ("FAILED", "States.HeartbeatTimeout")
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=task["taskToken"], output="{}")


@pytest.mark.clock
def test_execution_timeout(
    sfn: Any, machine: Callable[..., str], advance: Callable[[float], None]
) -> None:
    arn = machine(
        {
            "TimeoutSeconds": 100,
            "StartAt": "Wait",
            "States": {"Wait": {"Type": "Wait", "Seconds": 1000, "End": True}},
        }
    )
    started = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert wait_for(
        lambda: any(
            e["type"] == "WaitStateEntered"
            for e in sfn.get_execution_history(executionArn=started)["events"]
        )
    )
    advance(101)
    done = wait_done(sfn, started)
    assert done["status"] == "TIMED_OUT"
    last = sfn.get_execution_history(executionArn=started, reverseOrder=True)["events"][0]
    assert last["type"] == "ExecutionTimedOut"


def test_sns_and_eventbridge_integrations(
    sfn: Any, machine: Callable[..., str], client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name=unique("sfn-topic"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("sfn-sub"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    arn = machine(
        {
            "StartAt": "Publish",
            "States": {
                "Publish": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sns:publish",
                    "Parameters": {"TopicArn": topic, "Message": {"order.$": "$.order"}},
                    "ResultSelector": {"id.$": "$.MessageId"},
                    "ResultPath": "$.published",
                    "Next": "Emit",
                },
                "Emit": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::events:putEvents",
                    "Parameters": {
                        "Entries": [
                            {
                                "Source": "my.app",
                                "DetailType": "Order",
                                "Detail": {"order.$": "$.order"},
                            }
                        ]
                    },
                    "ResultSelector": {"failed.$": "$.FailedEntryCount"},
                    "ResultPath": "$.emitted",
                    "End": True,
                },
            },
        }
    )
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": 9}))
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    out = json.loads(done["output"])
    assert out["published"]["id"] and out["emitted"] == {"failed": 0}
    messages = wait_for(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages")
    )
    assert json.loads(messages[0]["Body"]) == {"order": 9}


def test_eventbridge_rule_starts_an_execution(
    sfn: Any, machine: Callable[..., str], client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    events = client("events")
    arn = machine(
        {
            "StartAt": "Keep",
            "States": {"Keep": {"Type": "Pass", "InputPath": "$.detail", "End": True}},
        }
    )
    rule = unique("sfn-start")
    source = unique("my.orders")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(
        Rule=rule,
        Targets=[{"Id": "sm", "Arn": arn, "RoleArn": "arn:aws:iam::000000000000:role/events"}],
    )
    events.put_events(
        Entries=[{"Source": source, "DetailType": "Order", "Detail": json.dumps({"id": 4})}]
    )
    found = wait_for(lambda: sfn.list_executions(stateMachineArn=arn)["executions"])
    done = wait_done(sfn, found[0]["executionArn"])
    assert json.loads(done["output"]) == {"id": 4}
    events.remove_targets(Rule=rule, Ids=["sm"])
    events.delete_rule(Name=rule)


def test_sdk_integration_with_s3_bodies(
    sfn: Any, machine: Callable[..., str], client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    bucket = unique("sfn-sdk")
    client("s3").create_bucket(Bucket=bucket)
    arn = machine(
        {
            "StartAt": "Put",
            "States": {
                "Put": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                    "Parameters": {"Bucket": bucket, "Key": "note.txt", "Body.$": "$.text"},
                    "ResultPath": None,
                    "Next": "Get",
                },
                "Get": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                    "Parameters": {"Bucket": bucket, "Key": "note.txt"},
                    "ResultSelector": {"body.$": "$.Body", "length.$": "$.ContentLength"},
                    "End": True,
                },
            },
        }
    )
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"text": "hello"}))
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    assert json.loads(done["output"]) == {"body": "hello", "length": 5}
