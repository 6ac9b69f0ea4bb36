"""A persistent server keeps every service's state across a restart, graceful or not."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import make_function, receive
from tests.server import NubesProcess

HANDLER = """
def handler(event, context):
    return {"doubled": event["n"] * 2}
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_everything_survives_a_restart(
    nubes_factory: Callable[..., NubesProcess], unique: Callable[[str], str], sig: int
) -> None:
    server = nubes_factory(persistent=True)
    names = _build(server, unique)
    server.stop(sig)
    again = NubesProcess(server.data_dir, port=server.port).start()
    try:
        _check(again, names)
    finally:
        again.stop()


def _build(server: NubesProcess, unique: Callable[[str], str]) -> dict[str, Any]:
    s3, sqs, sns, ddb, iam, lam, logs = (
        server.client(s) for s in ("s3", "sqs", "sns", "dynamodb", "iam", "lambda", "logs")
    )
    n: dict[str, Any] = {
        k: unique(k)
        for k in ("bucket", "queue", "topic", "table", "user", "role", "fn", "group", "sub")
    }
    s3.create_bucket(Bucket=n["bucket"])
    s3.put_bucket_versioning(Bucket=n["bucket"], VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(
        Bucket=n["bucket"], Tagging={"TagSet": [{"Key": "team", "Value": "data"}]}
    )
    n["v1"] = s3.put_object(Bucket=n["bucket"], Key="a/b.txt", Body=b"one")["VersionId"]
    s3.put_object(Bucket=n["bucket"], Key="a/b.txt", Body=b"two", ContentType="text/plain")

    n["queue_url"] = sqs.create_queue(QueueName=n["queue"], Attributes={"VisibilityTimeout": "45"})[
        "QueueUrl"
    ]
    sqs.send_message(
        QueueUrl=n["queue_url"],
        MessageBody="hello",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}},
    )
    n["sub_url"] = sqs.create_queue(QueueName=n["sub"])["QueueUrl"]
    sub_arn = sqs.get_queue_attributes(QueueUrl=n["sub_url"], AttributeNames=["QueueArn"])
    n["topic_arn"] = sns.create_topic(Name=n["topic"])["TopicArn"]
    sns.subscribe(
        TopicArn=n["topic_arn"],
        Protocol="sqs",
        Endpoint=sub_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )

    ddb.create_table(
        TableName=n["table"],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "email", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-email",
                "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    for i in range(3):
        ddb.put_item(
            TableName=n["table"],
            Item={"pk": {"S": "u"}, "sk": {"N": str(i)}, "email": {"S": f"{i}@x.io"}},
        )

    iam.create_user(UserName=n["user"])
    n["key"] = iam.create_access_key(UserName=n["user"])["AccessKey"]
    iam.create_role(
        RoleName=n["role"],
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    n["policy_arn"] = iam.create_policy(
        PolicyName=n["role"],
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=n["role"], PolicyArn=n["policy_arn"])

    make_function(lam, n["fn"], HANDLER)

    logs.create_log_group(logGroupName=n["group"])
    logs.create_log_stream(logGroupName=n["group"], logStreamName="s")
    now = _epoch_ms()
    logs.put_log_events(
        logGroupName=n["group"],
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": "first"}, {"timestamp": now, "message": "second"}],
    )
    return n


def _epoch_ms() -> int:
    return int(time.time() * 1000)


def _check(server: NubesProcess, n: dict[str, Any]) -> None:
    s3, sqs, sns, ddb, iam, lam, logs = (
        server.client(s) for s in ("s3", "sqs", "sns", "dynamodb", "iam", "lambda", "logs")
    )
    assert s3.get_bucket_versioning(Bucket=n["bucket"])["Status"] == "Enabled"
    assert s3.get_bucket_tagging(Bucket=n["bucket"])["TagSet"] == [{"Key": "team", "Value": "data"}]
    latest = s3.get_object(Bucket=n["bucket"], Key="a/b.txt")
    assert latest["Body"].read() == b"two"
    assert latest["ContentType"] == "text/plain"
    old = s3.get_object(Bucket=n["bucket"], Key="a/b.txt", VersionId=n["v1"])
    assert old["Body"].read() == b"one"
    versions = s3.list_object_versions(Bucket=n["bucket"])["Versions"]
    assert len(versions) == 2

    attrs = sqs.get_queue_attributes(QueueUrl=n["queue_url"], AttributeNames=["All"])
    assert attrs["Attributes"]["VisibilityTimeout"] == "45"
    got = sqs.receive_message(
        QueueUrl=n["queue_url"], MessageAttributeNames=["All"], WaitTimeSeconds=1
    )["Messages"]
    assert got[0]["Body"] == "hello"
    assert got[0]["MessageAttributes"]["kind"]["StringValue"] == "greeting"

    sns.publish(TopicArn=n["topic_arn"], Message="after restart")
    assert receive(sqs, n["sub_url"])[0]["Body"] == "after restart"

    items = ddb.query(
        TableName=n["table"],
        KeyConditionExpression="pk = :p AND sk >= :s",
        ExpressionAttributeValues={":p": {"S": "u"}, ":s": {"N": "1"}},
    )["Items"]
    assert [i["sk"]["N"] for i in items] == ["1", "2"]
    by_email = ddb.query(
        TableName=n["table"],
        IndexName="by-email",
        KeyConditionExpression="email = :e",
        ExpressionAttributeValues={":e": {"S": "2@x.io"}},
    )["Items"]
    assert by_email[0]["sk"] == {"N": "2"}
    table = ddb.describe_table(TableName=n["table"])["Table"]
    streams = server.client("dynamodbstreams")
    shards = streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"][
        "Shards"
    ]
    iterator = streams.get_shard_iterator(
        StreamArn=table["LatestStreamArn"],
        ShardId=shards[0]["ShardId"],
        ShardIteratorType="TRIM_HORIZON",
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT"] * 3

    assert iam.get_user(UserName=n["user"])["User"]["UserName"] == n["user"]
    attached = iam.list_attached_role_policies(RoleName=n["role"])["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [n["policy_arn"]]
    sts = server.client(
        "sts",
        aws_access_key_id=n["key"]["AccessKeyId"],
        aws_secret_access_key=n["key"]["SecretAccessKey"],
    )
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{n['user']}")

    out = lam.invoke(FunctionName=n["fn"], Payload=json.dumps({"n": 21}))
    assert json.loads(out["Payload"].read()) == {"doubled": 42}

    events = logs.get_log_events(logGroupName=n["group"], logStreamName="s", startFromHead=True)
    assert [e["message"] for e in events["events"]] == ["first", "second"]


def test_credentials_and_policies_survive_a_restart_under_enforcement(
    nubes_factory: Callable[..., NubesProcess], unique: Callable[[str], str]
) -> None:
    server = nubes_factory(persistent=True, env={"NUBES_ENFORCE_IAM": "1"})
    iam = server.client("iam")
    user, role = unique("ci"), unique("ci-role")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    iam.attach_user_policy(
        UserName=user, PolicyArn="arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess")
    session = server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="ci")[
        "Credentials"
    ]
    server.kill()
    again = NubesProcess(server.data_dir, port=server.port, env=server.env).start()
    try:
        as_user = {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }
        assert "TableNames" in again.client("dynamodb", **as_user).list_tables()
        with pytest.raises(ClientError):
            again.client("sqs", **as_user).list_queues()
        as_role = {
            "aws_access_key_id": session["AccessKeyId"],
            "aws_secret_access_key": session["SecretAccessKey"],
            "aws_session_token": session["SessionToken"],
        }
        again.client("sqs", **as_role).create_queue(QueueName=unique("ci"))
        with pytest.raises(ClientError):
            again.client("dynamodb", **as_role).list_tables()
    finally:
        again.stop()


def test_sigterm_does_not_wait_for_a_long_poll(
    nubes_factory: Callable[..., NubesProcess], unique: Callable[[str], str]
) -> None:
    """Stopping (Ctrl-C, docker stop) cuts a waiting long poll after a short grace instead of
    hanging until it ends; what was written stays."""
    server = nubes_factory(persistent=True)
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=unique("poll"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    empty = sqs.create_queue(QueueName=unique("empty"))["QueueUrl"]
    polling = threading.Thread(target=_poll_quietly, args=(sqs, empty), daemon=True)
    polling.start()
    _wait_until_waiting(server, empty)
    # stop() escalates to SIGKILL after 15 s; a clean exit is by the SIGTERM itself.
    assert server.stop(timeout=15) == -signal.SIGTERM
    again = NubesProcess(server.data_dir, port=server.port).start()
    try:
        assert again.client("sqs").receive_message(QueueUrl=url)["Messages"][0]["Body"] == "kept"
    finally:
        again.stop()


def _poll_quietly(sqs: Any, url: str) -> None:
    with contextlib.suppress(Exception):
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)


def _wait_until_waiting(server: NubesProcess, url: str) -> None:
    """Give the poll a moment to reach the server (a request, not a sleep, ends the wait)."""
    server.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    time.sleep(0.3)
