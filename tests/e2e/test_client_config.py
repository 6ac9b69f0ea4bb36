"""How clients are configured in practice: the endpoint from the environment only, regions
other than us-east-1, and a 12-digit access key naming the account."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

SCRIPT = """
import json
import boto3

s3 = boto3.client("s3")
sqs = boto3.client("sqs")
ddb = boto3.resource("dynamodb")
s3.create_bucket(Bucket="{bucket}")
s3.put_object(Bucket="{bucket}", Key="k", Body=b"from env")
url = sqs.create_queue(QueueName="{queue}")["QueueUrl"]
sqs.send_message(QueueUrl=url, MessageBody="hi")
print(json.dumps({{
    "body": s3.get_object(Bucket="{bucket}", Key="k")["Body"].read().decode(),
    "url": url,
    "account": boto3.client("sts").get_caller_identity()["Account"],
    "tables": [t.name for t in ddb.tables.limit(1)] is not None,
}}))
"""


def test_endpoint_from_aws_endpoint_url_only(
    endpoint: str, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    bucket, queue = unique("env"), unique("env")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k == "AWS_CONFIG_FILE"
    }
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(bucket=bucket, queue=queue)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["body"] == "from env"
    assert out["url"].endswith(f"/000000000000/{queue}")
    assert out["account"] == "000000000000"
    messages = client("sqs").receive_message(QueueUrl=out["url"])["Messages"]
    assert messages[0]["Body"] == "hi"


def test_aws_cli_with_endpoint_url_env(endpoint: str, unique: Callable[[str], str]) -> None:
    name = unique("cli")
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "eu-central-1",
    }

    def aws(*args: str) -> Any:
        done = subprocess.run(
            ["aws", *args, "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    # (The CLI v1 routes SQS to its legacy endpoint whatever AWS_ENDPOINT_URL says.)
    topic = aws("sns", "create-topic", "--name", name)["TopicArn"]
    assert topic == f"arn:aws:sns:eu-central-1:000000000000:{name}"
    aws(
        "s3api",
        "create-bucket",
        "--bucket",
        name,
        "--create-bucket-configuration",
        "LocationConstraint=eu-central-1",
    )
    location = aws("s3api", "get-bucket-location", "--bucket", name)
    assert location["LocationConstraint"] == "eu-central-1"
    listed = aws("dynamodb", "list-tables")
    assert isinstance(listed["TableNames"], list)


def test_resources_are_regional(client: Callable[..., Any], unique: Callable[[str], str]) -> None:
    name = unique("regional")
    eu, us = client("sqs", region="eu-west-1"), client("sqs")
    url = eu.create_queue(QueueName=name)["QueueUrl"]
    arn = eu.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert arn == f"arn:aws:sqs:eu-west-1:000000000000:{name}"
    with pytest.raises(ClientError) as caught:
        us.get_queue_url(QueueName=name)
    assert caught.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert url not in us.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    assert eu.list_queues(QueueNamePrefix=name)["QueueUrls"] == [url]

    table = unique("regional")
    client("dynamodb", region="ap-southeast-2").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert table not in client("dynamodb").list_tables()["TableNames"]
    described = client("dynamodb", region="ap-southeast-2").describe_table(TableName=table)
    assert described["Table"]["TableArn"].startswith("arn:aws:dynamodb:ap-southeast-2:")

    topic = client("sns", region="eu-west-1").create_topic(Name=unique("regional"))["TopicArn"]
    assert topic.startswith("arn:aws:sns:eu-west-1:000000000000:")
    us_topics = [t["TopicArn"] for t in client("sns").list_topics()["Topics"]]
    assert topic not in us_topics


def test_bucket_in_another_region(client: Callable[..., Any], unique: Callable[[str], str]) -> None:
    bucket = unique("eu-bucket")
    eu = client("s3", region="eu-west-1")
    eu.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert eu.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-1"
    head = client("s3").head_bucket(Bucket=bucket)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
    eu.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert eu.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    us_bucket = unique("us-bucket")
    client("s3").create_bucket(Bucket=us_bucket)
    assert client("s3").get_bucket_location(Bucket=us_bucket)["LocationConstraint"] is None
    with pytest.raises(ClientError) as caught:
        client("s3", region="eu-west-1").create_bucket(Bucket=unique("mismatch"))
    assert caught.value.response["Error"]["Code"] == "IllegalLocationConstraintException"


def test_twelve_digit_access_key_is_the_account(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    first = {"aws_access_key_id": "111111111111", "aws_secret_access_key": "test"}
    second = {"aws_access_key_id": "222222222222", "aws_secret_access_key": "test"}
    assert client("sts", **first).get_caller_identity()["Account"] == "111111111111"
    queue = unique("acct")
    url = client("sqs", **first).create_queue(QueueName=queue)["QueueUrl"]
    assert "/111111111111/" in url
    with pytest.raises(ClientError):
        client("sqs", **second).get_queue_url(QueueName=queue)
    other_url = client("sqs", **second).create_queue(QueueName=queue)["QueueUrl"]
    assert "/222222222222/" in other_url
    client("sqs", **first).send_message(QueueUrl=url, MessageBody="for one")
    assert client("sqs", **second).receive_message(QueueUrl=other_url).get("Messages", []) == []

    table = unique("acct")
    client("dynamodb", **first).create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert table not in client("dynamodb", **second).list_tables()["TableNames"]
    assert table not in client("dynamodb").list_tables()["TableNames"]

    role = unique("acct")
    arn = client("iam", **second).create_role(
        RoleName=role,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    assert arn == f"arn:aws:iam::222222222222:role/{role}"
    with pytest.raises(ClientError) as caught:
        client("iam", **first).get_role(RoleName=role)
    assert caught.value.response["Error"]["Code"] == "NoSuchEntity"
    topic = client("sns", **first).create_topic(Name=unique("acct"))["TopicArn"]
    assert topic.split(":")[4] == "111111111111"


def test_endpoint_url_from_a_config_file_profile(
    endpoint: str, unique: Callable[[str], str], tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.write_text(
        f"[profile local]\nregion = eu-west-2\nendpoint_url = {endpoint}\n"
        "aws_access_key_id = 333333333333\naws_secret_access_key = test\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(config), AWS_PROFILE="local",
               AWS_SHARED_CREDENTIALS_FILE="/nonexistent")  # fmt: skip
    script = (
        "import boto3, json\n"
        "sns = boto3.client('sns')\n"
        f"print(json.dumps(sns.create_topic(Name='{unique('profile')}')['TopicArn']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout).startswith("arn:aws:sns:eu-west-2:333333333333:profile-")
