"""End to end: an S3 upload notifies function A, which writes to a DynamoDB table; the table's
stream drives function B through an event source mapping, and B sends the key to SQS. Both
functions use boto3 against nubes with the credentials Lambda gives them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from tests.lambda_.conftest import ROLE, zipped
from tests.lambda_.test_lambda_role import ACCOUNT, TRUST_LAMBDA

FUNCTION_A = """
import os
import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

def handler(event, context):
    for record in event["Records"]:
        s3 = record["s3"]
        table.put_item(Item={"pk": s3["object"]["key"], "bucket": s3["bucket"]["name"]})
        print("stored", s3["object"]["key"])
"""

FUNCTION_B = """
import json
import os
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    for record in event["Records"]:
        image = record["dynamodb"]["NewImage"]
        body = {"key": image["pk"]["S"], "bucket": image["bucket"]["S"],
                "event": record["eventName"]}
        sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=json.dumps(body))
        print("sent", body["key"])
"""


def test_s3_to_lambda_to_dynamodb_stream_to_lambda_to_sqs(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    body, bucket = _chain(client, unique, ROLE, ROLE)
    assert body == {"key": "uploads/report.csv", "bucket": bucket, "event": "INSERT"}


def test_chain_with_least_privilege_roles_when_iam_is_enforced(
    nubes_factory: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    """Each function may do its own step and nothing else: the writer may put items in the
    table, the sender may send to the queue."""
    server = nubes_factory(persistent=False, env={"NUBES_ENFORCE_IAM": "1"})
    iam = server.client("iam")
    table, queue = unique("chain"), unique("chain")
    allowed = {
        "writer": ("dynamodb:PutItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}"),
        "sender": ("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}"),
    }
    roles = []
    for step, (action, resource) in allowed.items():
        name = unique(step)
        roles.append(iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA))
        iam.put_role_policy(
            RoleName=name,
            PolicyName=step,
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
                }
            ),
        )
    body, bucket = _chain(
        server.client, unique, roles[0]["Role"]["Arn"], roles[1]["Role"]["Arn"], table, queue
    )
    assert body == {"key": "uploads/report.csv", "bucket": bucket, "event": "INSERT"}


def _chain(
    client: Callable[..., Any],
    unique: Callable[[str], str],
    writer_role: str,
    sender_role: str,
    table: str | None = None,
    queue: str | None = None,
) -> tuple[Any, str]:
    """Build the chain, upload an object, and return what reached the queue (and the bucket)."""
    lam, s3, ddb, sqs = (client(s) for s in ("lambda", "s3", "dynamodb", "sqs"))
    queue_url = sqs.create_queue(QueueName=queue or unique("chain"))["QueueUrl"]
    table = table or unique("chain")
    stream_arn = ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    writer, sender = unique("writer"), unique("sender")
    for name, source, role, variables in (
        (writer, FUNCTION_A, writer_role, {"TABLE": table}),
        (sender, FUNCTION_B, sender_role, {"QUEUE_URL": queue_url}),
    ):
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": zipped({"app.py": source})},
            Environment={"Variables": variables},
        )
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=sender, StartingPosition="LATEST", BatchSize=10
    )
    bucket = unique("chain")
    s3.create_bucket(Bucket=bucket)
    lam.add_permission(
        FunctionName=writer,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
    )
    writer_arn = lam.get_function(FunctionName=writer)["Configuration"]["FunctionArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": writer_arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    try:
        s3.put_object(Bucket=bucket, Key="uploads/report.csv", Body=b"a,b\n1,2\n")
        body = _receive_one(sqs, queue_url, seconds=30)
        item = ddb.get_item(TableName=table, Key={"pk": {"S": "uploads/report.csv"}})["Item"]
        assert item["bucket"] == {"S": bucket}
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
        for name in (writer, sender):
            lam.delete_function(FunctionName=name)
    return body, bucket


def _receive_one(sqs: Any, queue_url: str, seconds: float) -> Any:
    """The first message on the queue, waiting up to ``seconds`` (long polls, no sleeps)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5).get("Messages", [])
        if messages:
            return json.loads(messages[0]["Body"])
    raise AssertionError(f"no message reached the queue within {seconds} s")
