"""KMS keys named by other services: DynamoDB's SSESpecification answers the key's ARN, an
SSE-KMS SQS queue refuses messages while its key is unusable, and a Lambda function whose
environment is under a customer key cannot start while the key is disabled."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def test_dynamodb_sse_names_the_key_arn(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    ddb, kms = client("dynamodb"), client("kms")
    schema = {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    key = kms.create_key()["KeyMetadata"]
    own = ddb.create_table(
        TableName=unique("t"),
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["KeyId"]},
        **schema,
    )["TableDescription"]
    assert own["SSEDescription"] == {
        "Status": "ENABLED",
        "SSEType": "KMS",
        "KMSMasterKeyArn": key["Arn"],
    }
    managed = ddb.create_table(
        TableName=unique("t"), SSESpecification={"Enabled": True, "SSEType": "KMS"}, **schema
    )["TableDescription"]
    aws_key = kms.describe_key(KeyId="alias/aws/dynamodb")["KeyMetadata"]
    assert managed["SSEDescription"]["KMSMasterKeyArn"] == aws_key["Arn"]
    with pytest.raises(ClientError) as exc:
        ddb.create_table(
            TableName=unique("t"),
            SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": "alias/nope"},
            **schema,
        )
    assert exc.value.response["Error"]["Code"] == "ValidationException"


def test_sse_kms_queue_needs_a_usable_key(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sqs, kms = client("sqs"), client("kms")
    key = kms.create_key()["KeyMetadata"]
    url = sqs.create_queue(QueueName=unique("q"), Attributes={"KmsMasterKeyId": key["KeyId"]})[
        "QueueUrl"
    ]
    sqs.send_message(QueueUrl=url, MessageBody="ok")
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="no")
    assert exc.value.response["Error"]["Code"] in ("KmsDisabled", "KMS.DisabledException")
    kms.enable_key(KeyId=key["KeyId"])
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "again"}])
    missing = sqs.create_queue(
        QueueName=unique("q"), Attributes={"KmsMasterKeyId": "alias/does-not-exist"}
    )["QueueUrl"]
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=missing, MessageBody="no")
    assert exc.value.response["Error"]["Code"] in ("KmsNotFound", "KMS.NotFoundException")


def test_lambda_environment_under_a_disabled_key_does_not_start(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    lam, kms = client("lambda"), client("kms")
    key = kms.create_key()["KeyMetadata"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 'ok'\n")
    name = unique("fn")
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="app.handler",
        Role="arn:aws:iam::000000000000:role/r",
        Code={"ZipFile": buffer.getvalue()},
        Environment={"Variables": {"COLOR": "blue"}},
        KMSKeyArn=key["Arn"],
    )
    try:
        assert created["KMSKeyArn"] == key["Arn"]
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        assert lam.invoke(FunctionName=name)["StatusCode"] == 200
        kms.disable_key(KeyId=key["KeyId"])
        with pytest.raises(ClientError) as exc:
            lam.invoke(FunctionName=name)
        assert exc.value.response["Error"]["Code"] == "KMSDisabledException"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
    finally:
        lam.delete_function(FunctionName=name)


def test_sse_topic_needs_a_usable_key(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sns, kms = client("sns"), client("kms")
    key = kms.create_key()["KeyMetadata"]
    topic = sns.create_topic(Name=unique("t"), Attributes={"KmsMasterKeyId": key["Arn"]})[
        "TopicArn"
    ]
    sns.publish(TopicArn=topic, Message="ok")
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=topic, Message="no")
    # SNS speaks the query protocol: the error's code is the shape's own, KMSDisabled.
    assert exc.value.response["Error"]["Code"] == "KMSDisabled"
    kms.enable_key(KeyId=key["KeyId"])
    sns.publish(TopicArn=topic, Message="again")
