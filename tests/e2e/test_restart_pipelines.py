"""Wiring survives a restart too: notifications, subscriptions and event source mappings keep
delivering on the restarted server without being set up again."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.e2e.conftest import bodies, make_function, receive, s3_records
from tests.server import NubesProcess

FORWARD = """
import json
import os
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    for record in event["Records"]:
        source = record.get("eventSource") or record.get("EventSource")
        sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps({"source": source}))
"""


def test_pipelines_keep_running_after_sigkill(
    nubes_factory: Callable[..., NubesProcess], unique: Callable[[str], str]
) -> None:
    server = nubes_factory(persistent=True)
    names = _wire(server, unique)
    server.kill()
    again = NubesProcess(server.data_dir, port=server.port).start()
    try:
        s3, sqs, sns, ddb = (again.client(s) for s in ("s3", "sqs", "sns", "dynamodb"))
        s3.put_object(Bucket=names["bucket"], Key="after.txt", Body=b"x")
        (record,) = s3_records(sqs, names["notified"], 1)
        assert record["s3"]["object"]["key"] == "after.txt"
        sqs.send_message(QueueUrl=names["jobs"], MessageBody="job")
        sns.publish(TopicArn=names["topic"], Message="note")
        ddb.put_item(TableName=names["table"], Item={"pk": {"S": "after"}})
        sources = sorted(b["source"] for b in bodies(receive(again.client("sqs"), names["out"], 3)))
        assert sources == ["aws:dynamodb", "aws:sns", "aws:sqs"]
    finally:
        again.stop()


def _wire(server: NubesProcess, unique: Callable[[str], str]) -> dict[str, str]:
    s3, sqs, sns, ddb, lam = (server.client(s) for s in ("s3", "sqs", "sns", "dynamodb", "lambda"))

    def queue(prefix: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=unique(prefix))["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, attrs["Attributes"]["QueueArn"]

    names = {"bucket": unique("wired"), "table": unique("wired")}
    notified, notified_arn = queue("notified")
    jobs, jobs_arn = queue("jobs")
    out, _ = queue("out")
    names.update(notified=notified, jobs=jobs, out=out)
    s3.create_bucket(Bucket=names["bucket"])
    s3.put_bucket_notification_configuration(
        Bucket=names["bucket"],
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": notified_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    fn = unique("forward")
    fn_arn = make_function(lam, fn, FORWARD, Environment={"Variables": {"OUT": out}})
    lam.create_event_source_mapping(EventSourceArn=jobs_arn, FunctionName=fn, BatchSize=1)
    names["topic"] = sns.create_topic(Name=unique("wired"))["TopicArn"]
    lam.add_permission(
        FunctionName=fn,
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=names["topic"],
    )
    sns.subscribe(TopicArn=names["topic"], Protocol="lambda", Endpoint=fn_arn)
    stream = ddb.create_table(
        TableName=names["table"],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]["LatestStreamArn"]
    lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName=fn, StartingPosition="LATEST", BatchSize=1
    )
    mappings = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert {m["State"] for m in mappings} <= {"Creating", "Enabling", "Enabled"}
    assert json.dumps(mappings, default=str)
    return names
