"""Event-driven pipelines as sample applications wire them: S3, SNS, SQS, Lambda, DynamoDB."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import bodies, make_function, receive, s3_records, wait_for


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def test_s3_object_created_notifies_sqs(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    s3, sqs = client("s3"), client("sqs")
    bucket = unique("uploads")
    url, arn = _queue(sqs, unique("uploads"))
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
                }
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="skipped.txt", Body=b"x")
    etag = s3.put_object(Bucket=bucket, Key="in/my report (1).csv", Body=b"a,b\n")["ETag"]
    (record,) = s3_records(sqs, url, 1)
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["awsRegion"] == "us-east-1"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert record["s3"]["object"]["key"] == "in/my+report+%281%29.csv"
    assert record["s3"]["object"]["size"] == 4
    assert record["s3"]["object"]["eTag"] == etag.strip('"')
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_s3_to_sns_to_sqs_fan_out_with_filter_policy(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    """Every upload reaches the audit queue; only images reach the thumbnailer, selected by a
    filter policy on the S3 event in the message body."""
    s3, sns, sqs = client("s3"), client("sns"), client("sqs")
    bucket, topic = unique("fan"), sns.create_topic(Name=unique("fan"))["TopicArn"]
    audit_url, audit_arn = _queue(sqs, unique("audit"))
    thumbs_url, thumbs_arn = _queue(sqs, unique("thumbs"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=audit_arn)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=thumbs_arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicyScope": "MessageBody",
            "FilterPolicy": json.dumps(
                {"Records": {"s3": {"object": {"key": [{"prefix": "images/"}]}}}}
            ),
        },
    )
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    s3.put_object(Bucket=bucket, Key="images/cat.png", Body=b"png")
    s3.put_object(Bucket=bucket, Key="docs/a.pdf", Body=b"pdf")
    keys = sorted(r["s3"]["object"]["key"] for r in s3_records(sqs, audit_url, 2))
    assert keys == ["docs/a.pdf", "images/cat.png"]
    thumbs = s3_records(sqs, thumbs_url, 1)
    assert [t["s3"]["object"]["key"] for t in thumbs] == ["images/cat.png"]
    assert sqs.receive_message(QueueUrl=thumbs_url).get("Messages", []) == []


def test_sns_filter_policy_selects_subscribers(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name=unique("orders"))["TopicArn"]
    queues = {}
    for kind in ("pdf", "image"):
        url, arn = _queue(sqs, unique(kind))
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={
                "RawMessageDelivery": "true",
                "FilterPolicy": json.dumps({"kind": [kind]}),
            },
        )
        queues[kind] = url
    for kind in ("image", "pdf", "video"):
        sns.publish(
            TopicArn=topic,
            Message=f"a {kind}",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
        )
    assert [m["Body"] for m in receive(sqs, queues["pdf"])] == ["a pdf"]
    assert [m["Body"] for m in receive(sqs, queues["image"])] == ["a image"]
    for url in queues.values():
        assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


SNS_TO_DYNAMODB = """
import json
import os
import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

def handler(event, context):
    for record in event["Records"]:
        message = json.loads(record["Sns"]["Message"])
        table.put_item(Item={"pk": message["id"], "total": message["total"],
                             "topic": record["Sns"]["TopicArn"]})
"""


def test_sns_to_lambda_to_dynamodb(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sns, lam, ddb = client("sns"), client("lambda"), client("dynamodb")
    table = _table(ddb, unique("orders"))
    fn = unique("on-order")
    arn = make_function(lam, fn, SNS_TO_DYNAMODB, Environment={"Variables": {"TABLE": table}})
    topic = sns.create_topic(Name=unique("orders"))["TopicArn"]
    lam.add_permission(
        FunctionName=fn,
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=topic,
    )
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    sns.publish(TopicArn=topic, Message=json.dumps({"id": "o-1", "total": 42}))
    item = wait_for(lambda: ddb.get_item(TableName=table, Key={"pk": {"S": "o-1"}}).get("Item"))
    assert item["total"] == {"N": "42"}
    assert item["topic"] == {"S": topic}


SQS_WORKER = """
import os
import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

def handler(event, context):
    for record in event["Records"]:
        assert record["eventSource"] == "aws:sqs"
        table.put_item(Item={"pk": record["body"], "id": record["messageId"]})
    return {"batchItemFailures": []}
"""


def test_sqs_event_source_mapping_drains_the_queue(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sqs, lam, ddb = client("sqs"), client("lambda"), client("dynamodb")
    table = _table(ddb, unique("jobs"))
    url, arn = _queue(sqs, unique("jobs"))
    fn = unique("worker")
    make_function(lam, fn, SQS_WORKER, Environment={"Variables": {"TABLE": table}})
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "MessageBody": f"job-{i}"} for i in range(10)],
    )
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, BatchSize=5)
    try:
        wait_for(lambda: ddb.scan(TableName=table, Select="COUNT")["Count"] == 10)
        wait_for(
            lambda: (
                sqs.get_queue_attributes(
                    QueueUrl=url,
                    AttributeNames=[
                        "ApproximateNumberOfMessages",
                        "ApproximateNumberOfMessagesNotVisible",
                    ],
                )["Attributes"]
                == {
                    "ApproximateNumberOfMessages": "0",
                    "ApproximateNumberOfMessagesNotVisible": "0",
                }
            )
        )
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
    keys = {i["pk"]["S"] for i in ddb.scan(TableName=table)["Items"]}
    assert keys == {f"job-{i}" for i in range(10)}


STREAM_TO_SQS = """
import json
import os
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    for record in event["Records"]:
        sqs.send_message(QueueUrl=os.environ["QUEUE"], MessageBody=json.dumps({
            "event": record["eventName"],
            "source": record["eventSource"],
            "keys": record["dynamodb"]["Keys"],
            "new": record["dynamodb"].get("NewImage"),
            "old": record["dynamodb"].get("OldImage"),
        }))
"""


def test_dynamodb_stream_to_lambda(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sqs, lam, ddb = client("sqs"), client("lambda"), client("dynamodb")
    table = unique("stream")
    stream = ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    url, _ = _queue(sqs, unique("changes"))
    fn = unique("on-change")
    make_function(lam, fn, STREAM_TO_SQS, Environment={"Variables": {"QUEUE": url}})
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName=fn, StartingPosition="TRIM_HORIZON", BatchSize=10
    )
    try:
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET v = :v",
            ExpressionAttributeValues={":v": {"N": "2"}},
        )
        ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}})
        changes = bodies(receive(sqs, url, 3))
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
    assert [c["event"] for c in changes] == ["INSERT", "MODIFY", "REMOVE"]
    assert all(c["source"] == "aws:dynamodb" and c["keys"] == {"pk": {"S": "a"}} for c in changes)
    assert changes[1]["old"]["v"] == {"N": "1"} and changes[1]["new"]["v"] == {"N": "2"}
    assert changes[2]["new"] is None and changes[2]["old"]["v"] == {"N": "2"}


def _table(ddb: Any, name: str) -> str:
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_s3_event_names_for_each_way_of_writing_and_deleting(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    s3, sqs = client("s3"), client("sqs")
    bucket = unique("events")
    url, arn = _queue(sqs, unique("events"))
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    s3.copy_object(Bucket=bucket, Key="b", CopySource={"Bucket": bucket, "Key": "a"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="c")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="c", UploadId=upload, PartNumber=1, Body=b"y")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="c",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    s3.delete_object(Bucket=bucket, Key="a")
    records = s3_records(sqs, url, 4)
    names = {r["s3"]["object"]["key"] + ":" + r["eventName"] for r in records}
    assert names == {
        "a:ObjectCreated:Put",
        "b:ObjectCreated:Copy",
        "c:ObjectCreated:CompleteMultipartUpload",
        "a:ObjectRemoved:Delete",
    }
    for record in records:
        assert record["eventVersion"] == "2.1"
        assert record["s3"]["s3SchemaVersion"] == "1.0"
        assert record["s3"]["object"]["sequencer"]
        assert "eventTime" in record and record["userIdentity"]["principalId"]


def test_sns_envelope_fields_on_sqs(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name=unique("envelope"))["TopicArn"]
    url, arn = _queue(sqs, unique("envelope"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    sent = sns.publish(
        TopicArn=topic,
        Message=json.dumps({"order": 1}),
        Subject="New order",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "order"},
            "n": {"DataType": "Number", "StringValue": "3"},
        },
    )
    (envelope,) = bodies(receive(sqs, url))
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == sent["MessageId"]
    assert envelope["TopicArn"] == topic and envelope["Subject"] == "New order"
    assert json.loads(envelope["Message"]) == {"order": 1}
    assert envelope["Timestamp"].endswith("Z")
    assert envelope["SignatureVersion"] == "1"
    assert envelope["Signature"] and envelope["SigningCertURL"].startswith("http")
    assert "Action=Unsubscribe" in envelope["UnsubscribeURL"]
    assert envelope["MessageAttributes"] == {
        "kind": {"Type": "String", "Value": "order"},
        "n": {"Type": "Number", "Value": "3"},
    }
