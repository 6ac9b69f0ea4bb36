"""The AWS CLI for DynamoDB, Lambda and Logs, Lambda versions/aliases/URLs, SNS FIFO to SQS
FIFO, and binary message attributes (checked by boto3's MD5 validation)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.e2e.conftest import ROLE, make_function, receive, zipped


def _cli(endpoint: str) -> Callable[..., Any]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    def aws(*args: str) -> Any:
        done = subprocess.run(
            ["aws", "--endpoint-url", endpoint, "--output", "json", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    return aws


def test_cli_dynamodb_lambda_logs(
    endpoint: str, unique: Callable[[str], str], tmp_path: Path
) -> None:
    aws = _cli(endpoint)
    table = unique("cli")
    aws(
        "dynamodb", "create-table", "--table-name", table,
        "--attribute-definitions", "AttributeName=id,AttributeType=S",
        "--key-schema", "AttributeName=id,KeyType=HASH",
        "--billing-mode", "PAY_PER_REQUEST",
    )  # fmt: skip
    aws("dynamodb", "wait", "table-exists", "--table-name", table)
    aws("dynamodb", "put-item", "--table-name", table,
        "--item", json.dumps({"id": {"S": "1"}, "n": {"N": "5"}}))  # fmt: skip
    got = aws("dynamodb", "get-item", "--table-name", table, "--key", '{"id": {"S": "1"}}')
    assert got["Item"]["n"] == {"N": "5"}
    scanned = aws("dynamodb", "scan", "--table-name", table)
    assert scanned["Count"] == 1

    zip_path = tmp_path / "fn.zip"
    zip_path.write_bytes(zipped("def handler(event, context):\n    return {'got': event}\n"))
    fn = unique("cli")
    created = aws(
        "lambda", "create-function", "--function-name", fn, "--runtime", "python3.12",
        "--handler", "app.handler", "--role", ROLE, "--zip-file", f"fileb://{zip_path}",
    )  # fmt: skip
    assert created["FunctionName"] == fn
    aws("lambda", "wait", "function-active-v2", "--function-name", fn)
    out = tmp_path / "out.json"
    result = aws(
        "lambda", "invoke", "--function-name", fn,
        "--payload", '{"a": 1}', str(out),
    )  # fmt: skip
    assert result["StatusCode"] == 200
    assert json.loads(out.read_text()) == {"got": {"a": 1}}

    group = unique("/cli/logs")
    aws("logs", "create-log-group", "--log-group-name", group)
    aws("logs", "create-log-stream", "--log-group-name", group, "--log-stream-name", "s")
    groups = aws("logs", "describe-log-groups", "--log-group-name-prefix", group)
    assert [g["logGroupName"] for g in groups["logGroups"]] == [group]


def test_lambda_versions_aliases_and_url(
    client: Callable[..., Any], endpoint: str, unique: Callable[[str], str]
) -> None:
    lam = client("lambda")
    fn = unique("versioned")
    make_function(lam, fn, "def handler(e, c):\n    return 'v1'\n")
    v1 = lam.publish_version(FunctionName=fn)["Version"]
    assert v1 == "1"
    v2 = zipped(
        "def handler(e, c):\n"
        "    return {'statusCode': 201, 'headers': {'x-v': '2'}, 'body': 'v2'}\n"
    )
    lam.update_function_code(FunctionName=fn, ZipFile=v2)
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion=v1)
    assert json.loads(lam.invoke(FunctionName=fn, Qualifier="live")["Payload"].read()) == "v1"
    assert json.loads(lam.invoke(FunctionName=fn)["Payload"].read())["body"] == "v2"
    url = lam.create_function_url_config(FunctionName=fn, AuthType="NONE")["FunctionUrl"]
    # As users without wildcard DNS do: the server address, the URL's host in Host.
    host = url.split("//", 1)[1].split("/", 1)[0]
    answer = urllib3.PoolManager().request("GET", endpoint + "/", headers={"Host": host})
    assert answer.status == 201
    assert answer.data == b"v2" and answer.headers["x-v"] == "2"


def test_sns_fifo_topic_to_sqs_fifo_queue(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(
        Name=unique("events") + ".fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    url = sqs.create_queue(QueueName=unique("events") + ".fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    for body in ("one", "two", "one", "three"):
        sns.publish(TopicArn=topic, Message=body, MessageGroupId="g")
    got = [m["Body"] for m in receive(sqs, url, 3)]
    assert got == ["one", "two", "three"]
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.publish(TopicArn=topic, Message="no group")


def test_binary_and_number_message_attributes(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("attrs"))["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="payload",
        MessageAttributes={
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
            "count": {"DataType": "Number", "StringValue": "42"},
            "trace": {"DataType": "String.custom", "StringValue": "abc"},
        },
        MessageSystemAttributes={
            "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}
        },
    )
    message = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"][0]
    assert message["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01\xff"
    assert message["MessageAttributes"]["count"] == {"DataType": "Number", "StringValue": "42"}
    assert message["Attributes"]["AWSTraceHeader"] == "Root=1-abc"
    assert base64.b64encode(b"x")
