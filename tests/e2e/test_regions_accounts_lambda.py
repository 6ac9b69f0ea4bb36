"""Functions run where they were created: a Lambda in eu-west-1 of account 111111111111 sees its
own region and account, and its SDK calls land there."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import make_function

WHERE = """
import os
import boto3

def handler(event, context):
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=event["queue"])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="from lambda")
    return {
        "region": os.environ["AWS_REGION"],
        "arn": context.invoked_function_arn,
        "account": boto3.client("sts").get_caller_identity()["Account"],
        "url": url,
    }
"""


def test_lambda_in_another_region_and_account(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    creds = {"aws_access_key_id": "111111111111", "aws_secret_access_key": "test"}
    lam = client("lambda", region="eu-west-1", **creds)
    sqs = client("sqs", region="eu-west-1", **creds)
    queue = unique("regional")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    fn = unique("where")
    make_function(lam, fn, WHERE, Role="arn:aws:iam::111111111111:role/lambda-role")
    out = json.loads(
        lam.invoke(FunctionName=fn, Payload=json.dumps({"queue": queue}))["Payload"].read()
    )
    assert out["region"] == "eu-west-1"
    assert out["arn"] == f"arn:aws:lambda:eu-west-1:111111111111:function:{fn}"
    assert out["account"] == "111111111111"
    assert out["url"] == url
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "from lambda"


def test_long_poll_wakes_when_a_message_arrives(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("wake"))["QueueUrl"]
    got: list[Any] = []
    waiter = threading.Thread(
        target=lambda: got.extend(
            sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
        )
    )
    waiter.start()
    client("sqs", aws_access_key_id="other", aws_secret_access_key="x").send_message(
        QueueUrl=url, MessageBody="wake up"
    )
    waiter.join(30)
    assert [m["Body"] for m in got] == ["wake up"]
