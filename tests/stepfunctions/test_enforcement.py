"""Under IAM enforcement a state machine's tasks run as its execution role: what the role's
policies allow goes through, the rest fails the task with the service's AccessDenied."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.server import NubesProcess
from tests.stepfunctions.conftest import wait_done

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "states.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture(scope="module")
def server() -> Iterator[NubesProcess]:
    process = NubesProcess(env={"NUBES_ENFORCE_IAM": "1"}).start()
    yield process
    process.stop()


def test_tasks_run_as_the_execution_role(server: NubesProcess) -> None:
    iam, sqs, sfn = (server.client(s) for s in ("iam", "sqs", "stepfunctions"))
    allowed = sqs.create_queue(QueueName="sfn-allowed")["QueueUrl"]
    denied = sqs.create_queue(QueueName="sfn-denied")["QueueUrl"]
    allowed_arn = sqs.get_queue_attributes(QueueUrl=allowed, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    role = iam.create_role(RoleName="sfn-exec", AssumeRolePolicyDocument=json.dumps(TRUST))
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": allowed_arn}],
    }
    iam.put_role_policy(RoleName="sfn-exec", PolicyName="send", PolicyDocument=json.dumps(policy))

    def send(url: str) -> dict[str, object]:
        return {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": url, "MessageBody": "hi"},
            "ResultPath": None,
        }

    definition = {
        "StartAt": "Allowed",
        "States": {
            "Allowed": {**send(allowed), "Next": "Denied"},
            "Denied": {**send(denied), "End": True},
        },
    }
    arn = sfn.create_state_machine(
        name="as-role", definition=json.dumps(definition), roleArn=role["Role"]["Arn"]
    )["stateMachineArn"]
    done = wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert done["status"] == "FAILED"
    assert done["error"].startswith("SQS.AccessDenied"), done["error"]
    assert "sqs:SendMessage" in done["cause"]
    got = sqs.receive_message(QueueUrl=allowed, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in got] == ["hi"]
    assert "Messages" not in sqs.receive_message(QueueUrl=denied)
