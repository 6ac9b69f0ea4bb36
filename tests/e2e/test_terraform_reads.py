"""What infrastructure tools (Terraform, CDK, Pulumi) read back after creating a resource: every
optional configuration is asked for, and an absent one must be the documented error, not a
crash."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import make_function


def _code(call: Callable[..., Any], **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return str(caught.value.response["Error"]["Code"])


PUBLIC = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::%s/*",
            }
        ],
    }
)


def test_s3_bucket_refresh(client: Callable[..., Any], unique: Callable[[str], str]) -> None:
    s3 = client("s3")
    bucket = unique("tf")
    s3.create_bucket(Bucket=bucket)
    s3.head_bucket(Bucket=bucket)
    assert s3.get_bucket_acl(Bucket=bucket)["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") is None
    assert s3.get_bucket_accelerate_configuration(Bucket=bucket).get("Status") is None
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert ownership["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block["BlockPublicAcls"] is True
    missing = {
        s3.get_bucket_policy: "NoSuchBucketPolicy",
        s3.get_bucket_cors: "NoSuchCORSConfiguration",
        s3.get_bucket_website: "NoSuchWebsiteConfiguration",
        s3.get_bucket_lifecycle_configuration: "NoSuchLifecycleConfiguration",
        s3.get_bucket_tagging: "NoSuchTagSet",
        s3.get_bucket_replication: "ReplicationConfigurationNotFoundError",
        s3.get_object_lock_configuration: "ObjectLockConfigurationNotFoundError",
    }
    for call, code in missing.items():
        assert _code(call, Bucket=bucket) == code, call
    # New buckets block public policies, as on AWS since 2023: users lift the block first.
    assert _code(s3.put_bucket_policy, Bucket=bucket, Policy=PUBLIC % bucket) == "AccessDenied"
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=PUBLIC % bucket)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    assert _code(s3.head_bucket, Bucket=unique("absent")) == "404"


def test_queue_topic_table_function_refresh(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sqs, sns, ddb, lam, logs = (client(s) for s in ("sqs", "sns", "dynamodb", "lambda", "logs"))
    url = sqs.create_queue(QueueName=unique("tf"), tags={"env": "dev"})["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    for name in ("QueueArn", "CreatedTimestamp", "MessageRetentionPeriod", "SqsManagedSseEnabled"):
        assert name in attrs
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}

    topic = sns.create_topic(Name=unique("tf"), Tags=[{"Key": "env", "Value": "dev"}])["TopicArn"]
    topic_attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert topic_attrs["TopicArn"] == topic and json.loads(topic_attrs["Policy"])["Statement"]
    assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [{"Key": "env", "Value": "dev"}]

    table = unique("tf")
    arn = ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "env", "Value": "dev"}],
    )["TableDescription"]["TableArn"]
    ddb.get_waiter("table_exists").wait(TableName=table)
    backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    assert (
        ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["TimeToLiveStatus"]
        == "DISABLED"
    )
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    ddb.update_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "gsi", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by-gsi",
                    "KeySchema": [{"AttributeName": "gsi", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            }
        ],
    )
    ddb.put_item(TableName=table, Item={"pk": {"S": "1"}, "gsi": {"S": "g"}})
    found = ddb.query(
        TableName=table,
        IndexName="by-gsi",
        KeyConditionExpression="gsi = :g",
        ExpressionAttributeValues={":g": {"S": "g"}},
    )
    assert found["Items"] == [{"pk": {"S": "1"}, "gsi": {"S": "g"}}]

    fn = unique("tf")
    fn_arn = make_function(lam, fn, "def handler(e, c):\n    return 1\n", Tags={"env": "dev"})
    got = lam.get_function(FunctionName=fn)
    assert got["Tags"] == {"env": "dev"} and got["Code"]["RepositoryType"] == "S3"
    assert lam.list_tags(Resource=fn_arn)["Tags"] == {"env": "dev"}
    assert _code(lam.get_function_url_config, FunctionName=fn) == "ResourceNotFoundException"
    assert _code(lam.get_policy, FunctionName=fn) == "ResourceNotFoundException"
    concurrency = lam.get_function_concurrency(FunctionName=fn)
    assert "ReservedConcurrentExecutions" not in concurrency

    group = unique("/tf/group")
    logs.create_log_group(logGroupName=group, tags={"env": "dev"})
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert described["retentionInDays"] == 7
    assert logs.list_tags_for_resource(resourceArn=described["arn"].removesuffix(":*"))["tags"] == {
        "env": "dev"
    }
