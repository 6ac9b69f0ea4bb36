"""End to end: an S3 upload notifies function A, which writes to a DynamoDB table; the table's
stream drives function B through an event source mapping, and B sends the key to SQS. Both
functions use boto3 against nubes with the credentials Lambda gives them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

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
    lam: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    s3, ddb, sqs = client("s3"), client("dynamodb"), client("sqs")
    queue_url = sqs.create_queue(QueueName=unique("chain"))["QueueUrl"]
    table = unique("chain")
    stream_arn = ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]

    writer = make_function({"app.py": FUNCTION_A}, Environment={"Variables": {"TABLE": table}})
    sender = make_function(
        {"app.py": FUNCTION_B}, Environment={"Variables": {"QUEUE_URL": queue_url}}
    )
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=sender, StartingPosition="LATEST", BatchSize=10
    )

    bucket = unique("chain")
    s3.create_bucket(Bucket=bucket)
    writer_arn = lam.get_function(FunctionName=writer)["Configuration"]["FunctionArn"]
    lam.add_permission(
        FunctionName=writer,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
    )
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
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
    assert body == {"key": "uploads/report.csv", "bucket": bucket, "event": "INSERT"}
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "uploads/report.csv"}})["Item"]
    assert item["bucket"] == {"S": bucket}


def _receive_one(sqs: Any, queue_url: str, seconds: float) -> Any:
    """The first message on the queue, waiting up to ``seconds`` (long polls, no sleeps)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5).get("Messages", [])
        if messages:
            return json.loads(messages[0]["Body"])
    raise AssertionError(f"no message reached the queue within {seconds} s")
