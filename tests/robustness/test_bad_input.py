"""Inputs that once answered HTTP 500 or poisoned state: each gets the error AWS gives."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.robustness.wire import error_code, json_call, query_call, send
from tests.server import NubesProcess

DEEP_ARRAY = "[" * 2000 + "]" * 2000
DEEP_OBJECT = '{"a":' * 2000 + "1" + "}" * 2000
DDB = "DynamoDB_20120810."


@pytest.fixture(scope="module")
def table(nubes: NubesProcess) -> str:
    name = f"bad-input-{uuid.uuid4().hex[:8]}"
    nubes.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return name


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT, '{"TableName":' + DEEP_ARRAY + "}"])
@pytest.mark.parametrize(
    ("service", "target", "version"),
    [
        ("dynamodb", DDB + "ListTables", "1.0"),
        ("sqs", "AmazonSQS.ListQueues", "1.0"),
        ("logs", "Logs_20140328.DescribeLogGroups", "1.1"),
    ],
)
def test_deep_json_is_a_serialization_error(
    endpoint: str, service: str, target: str, version: str, body: str
) -> None:
    resp = json_call(endpoint, service, target, body, version)
    assert resp.status_code == 400
    assert error_code(resp, "json") == "SerializationException"


def test_deep_rest_json_body(endpoint: str) -> None:
    headers = {"Content-Type": "application/json"}
    resp = send(endpoint, "lambda", "POST", "/2015-03-31/functions", DEEP_ARRAY.encode(), headers)
    assert resp.status_code == 400
    assert error_code(resp, "rest-json") == "SerializationException"


def test_deep_xml_body(endpoint: str, client: Callable[..., Any]) -> None:
    bucket = f"bad-input-{uuid.uuid4().hex[:8]}"
    client("s3").create_bucket(Bucket=bucket)
    body = b"<Tagging>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</Tagging>"
    resp = send(endpoint, "s3", "PUT", f"/{bucket}?tagging", body)
    assert resp.status_code == 400
    assert error_code(resp, "rest-xml") == "MalformedXML"


@pytest.mark.parametrize("policy", [DEEP_ARRAY, '{"Statement":' + DEEP_ARRAY + "}"])
def test_deep_bucket_policy(endpoint: str, client: Callable[..., Any], policy: str) -> None:
    s3 = client("s3")
    bucket = f"bad-input-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(s3.exceptions.ClientError) as caught:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert caught.value.response["Error"]["Code"] == "MalformedPolicy"


@pytest.mark.parametrize(
    "document", [DEEP_ARRAY, '{"Version":"2012-10-17","Statement":' + DEEP_OBJECT + "}"]
)
def test_deep_iam_policy_document(client: Callable[..., Any], document: str) -> None:
    iam = client("iam")
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.create_policy(PolicyName=f"deep-{uuid.uuid4().hex[:8]}", PolicyDocument=document)


def test_partiql_with_thousands_of_parentheses(client: Callable[..., Any], table: str) -> None:
    ddb = client("dynamodb")
    for statement in (
        f'SELECT * FROM "{table}" WHERE ' + "(" * 3000 + "k = 'a'" + ")" * 3000,
        f'SELECT * FROM "{table}" WHERE ' + "NOT " * 1500 + "k = 'a'",
        f'INSERT INTO "{table}" VALUE ' + "{'k': 'a', 'l': " + "[" * 3000 + "]" * 3000 + "}",
    ):
        with pytest.raises(ddb.exceptions.ClientError) as caught:
            ddb.execute_statement(Statement=statement)
        assert caught.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 1900 + "attribute_exists(k)" + ")" * 1900,
        "NOT " * 1000 + "attribute_exists(k)",
        "(attribute_exists(k) AND " * 150 + "attribute_exists(k)" + ")" * 150,
        "size(" * 600 + "k" + ")" * 600 + " > :v",
    ],
)
def test_deeply_nested_condition_expression(
    client: Callable[..., Any], table: str, expression: str
) -> None:
    ddb = client("dynamodb")
    with pytest.raises(ddb.exceptions.ClientError) as caught:
        ddb.put_item(
            TableName=table,
            Item={"k": {"S": "deep"}},
            ConditionExpression=expression,
            **({"ExpressionAttributeValues": {":v": {"N": "1"}}} if ":v" in expression else {}),
        )
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("Invalid ConditionExpression")


def test_deeply_nested_update_expression(client: Callable[..., Any], table: str) -> None:
    ddb = client("dynamodb")
    with pytest.raises(ddb.exceptions.ClientError) as caught:
        ddb.update_item(
            TableName=table,
            Key={"k": {"S": "deep"}},
            UpdateExpression="SET a = " + "(" * 1900 + "b" + ")" * 1900,
        )
    assert caught.value.response["Error"]["Message"].startswith("Invalid UpdateExpression")


@pytest.mark.parametrize(
    ("request_body", "missing"),
    [
        ({"AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}]}, ["keySchema"]),
        ({"KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}]}, ["attributeDefinitions"]),
        ({}, ["attributeDefinitions", "keySchema"]),
    ],
)
def test_create_table_without_key_schema_or_definitions(
    endpoint: str, request_body: dict[str, Any], missing: list[str]
) -> None:
    body = {"TableName": f"bad-{uuid.uuid4().hex[:8]}", "BillingMode": "PAY_PER_REQUEST"}
    resp = json_call(
        endpoint, "dynamodb", DDB + "CreateTable", json.dumps({**body, **request_body})
    )
    assert error_code(resp, "json") == "ValidationException"
    message = resp.json()["message"]
    assert message.startswith(f"{len(missing)} validation error")
    for path in missing:
        assert f"Value null at '{path}' failed to satisfy constraint: Member must not be null" in (
            message
        )


def test_numbers_out_of_range(endpoint: str, client: Callable[..., Any], table: str) -> None:
    ddb = client("dynamodb")
    for number in ("1e999999999", "-1e999999999", "1e-999999999"):
        with pytest.raises(ddb.exceptions.ClientError) as caught:
            ddb.put_item(TableName=table, Item={"k": {"S": "n"}, "n": {"N": number}})
        assert "Number overflow" in caught.value.response["Error"]["Message"] or (
            "Number underflow" in caught.value.response["Error"]["Message"]
        )
        with pytest.raises(ddb.exceptions.ClientError) as caught:
            ddb.query(
                TableName=table,
                KeyConditionExpression="k = :k",
                FilterExpression="n = :n",
                ExpressionAttributeValues={":k": {"S": "n"}, ":n": {"N": number}},
            )
        assert caught.value.response["Error"]["Code"] == "ValidationException"
    # A JSON number literal too large for any integer member.
    body = '{"TableName":"' + table + '","Limit":1e999999999}'
    resp = json_call(endpoint, "dynamodb", DDB + "Scan", body)
    assert error_code(resp, "json") == "SerializationException"


@pytest.mark.parametrize(
    ("service", "target", "template"),
    [
        ("dynamodb", DDB + "PutItem", '{"TableName":"%(table)s","Item":{"k":{"S":"\\ud800"}}}'),
        (
            "dynamodb",
            DDB + "PutItem",
            '{"TableName":"%(table)s","Item":{"k":{"S":"a"},"\\udfff":{"S":"x"}}}',
        ),
        ("dynamodb", DDB + "GetItem", '{"TableName":"%(table)s","Key":{"k":{"S":"a\\ud800b"}}}'),
        ("sqs", "AmazonSQS.CreateQueue", '{"QueueName":"q","tags":{"t":"\\ud800"}}'),
        ("sqs", "AmazonSQS.SendMessage", '{"QueueUrl":"%(queue)s","MessageBody":"\\udc00"}'),
    ],
)
def test_lone_surrogates(
    endpoint: str, client: Callable[..., Any], table: str, service: str, target: str, template: str
) -> None:
    queue = client("sqs").create_queue(QueueName=f"surrogates-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    resp = json_call(endpoint, service, target, template % {"table": table, "queue": queue})
    assert error_code(resp, "json") == "SerializationException"
    # A proper pair is one character and is stored as such.
    pair = json_call(
        endpoint,
        "dynamodb",
        DDB + "PutItem",
        '{"TableName":"' + table + '","Item":{"k":{"S":"\\ud83d\\ude00"}}}',
    )
    assert pair.status_code == 200
    item = client("dynamodb").get_item(TableName=table, Key={"k": {"S": "\U0001f600"}})
    assert item["Item"]["k"]["S"] == "\U0001f600"


@pytest.mark.parametrize(
    "request_items",
    [
        '{"%(table)s":[null]}',
        '{"%(table)s":null}',
        '{"%(table)s":[{}]}',
        "null",
        '{"%(table)s":[{"PutRequest":null}]}',
    ],
)
def test_batch_write_with_nulls(endpoint: str, table: str, request_items: str) -> None:
    body = '{"RequestItems":%s}' % (request_items % {"table": table})
    resp = json_call(endpoint, "dynamodb", DDB + "BatchWriteItem", body)
    assert error_code(resp, "json") in ("ValidationException", "SerializationException")


def test_stream_record_with_binary_inside_a_map(client: Callable[..., Any], table: str) -> None:
    ddb, streams = client("dynamodb"), client("dynamodbstreams")
    image = {
        "k": {"S": "binary-map"},
        "m": {"M": {"b": {"B": b"\x00\xff"}, "l": {"L": [{"B": b"x"}, {"BS": [b"y"]}]}}},
    }
    ddb.put_item(TableName=table, Item=image)
    ddb.put_item(TableName=table, Item={**image, "n": {"N": "1"}})
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = [
        r
        for r in streams.get_records(ShardIterator=iterator)["Records"]
        if r["dynamodb"]["Keys"]["k"]["S"] == "binary-map"
    ]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    assert records[1]["dynamodb"]["OldImage"]["m"] == image["m"]
    assert records[1]["dynamodb"]["NewImage"]["m"] == image["m"]


def test_sqs_message_attribute_without_value(endpoint: str, client: Callable[..., Any]) -> None:
    queue = client("sqs").create_queue(QueueName=f"attr-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for form in (
        f"Action=SendMessage&QueueUrl={queue}&MessageBody=hi&MessageAttribute.1.Name=a",
        f"Action=SendMessage&QueueUrl={queue}&MessageBody=hi&MessageAttribute.1.Name=a"
        "&MessageAttribute.1.Value.DataType=String",
        f"Action=SendMessageBatch&QueueUrl={queue}&SendMessageBatchRequestEntry.1.Id=x"
        "&SendMessageBatchRequestEntry.1.MessageBody=hi"
        "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=a",
        f"Action=SetQueueAttributes&QueueUrl={queue}&Attribute.1.Name=Policy",
    ):
        resp = query_call(endpoint, "sqs", form)
        assert resp.status_code < 500, resp.text
        if "SetQueueAttributes" not in form:
            assert error_code(resp, "query") in ("MissingParameter", "InvalidParameterValue")
    assert client("sqs").receive_message(QueueUrl=queue).get("Messages") is None


def test_query_parameter_nested_too_deep(endpoint: str) -> None:
    form = "Action=ListUsers&Version=2010-05-08&" + "A." * 400 + "B=1"
    resp = query_call(endpoint, "iam", form)
    assert error_code(resp, "query") == "MalformedQueryString"


def _post(endpoint: str, bucket: str, fields: dict[str, str]) -> requests.Response:
    files: dict[str, Any] = {name: (None, value) for name, value in fields.items()}
    files["file"] = ("f.txt", b"data")
    return requests.post(f"{endpoint}/{bucket}", files=files, timeout=30)


@pytest.mark.parametrize(
    "policy",
    [
        "!!!not base64!!!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(DEEP_ARRAY.encode()).decode(),
    ],
)
def test_post_policy_not_a_policy(endpoint: str, client: Callable[..., Any], policy: str) -> None:
    bucket = f"post-{uuid.uuid4().hex[:8]}"
    client("s3").create_bucket(Bucket=bucket)
    resp = _post(
        endpoint, bucket, {"key": "k", "policy": policy, "AWSAccessKeyId": "test", "signature": "x"}
    )
    assert resp.status_code == 400
    assert error_code(resp, "rest-xml") == "InvalidPolicyDocument"


@pytest.mark.parametrize(
    "condition",
    [
        ["content-length-range"],
        ["content-length-range", 1],
        ["content-length-range", "a", "b"],
        ["eq"],
        [],
        7,
    ],
)
def test_post_policy_conditions_missing_arguments(
    endpoint: str, client: Callable[..., Any], condition: Any
) -> None:
    s3 = client("s3")
    bucket = f"post-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    post = s3.generate_presigned_post(bucket, "k", Conditions=[condition])
    resp = _post(endpoint, bucket, post["fields"])
    assert resp.status_code == 400
    assert error_code(resp, "rest-xml") == "InvalidPolicyDocument"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


@pytest.mark.clock
@pytest.mark.parametrize(
    "advance", ["NaN", "Infinity", "-Infinity", "1e400", "-5", "1e300", '"x"', "null"]
)
def test_clock_refuses_what_is_not_a_forward_move(
    endpoint: str, client: Callable[..., Any], advance: str
) -> None:
    before = requests.get(f"{endpoint}/_nubes/clock", timeout=30).json()
    resp = requests.post(
        f"{endpoint}/_nubes/clock", data='{"advance": ' + advance + "}", timeout=30
    )
    assert resp.status_code == 400
    after = requests.get(f"{endpoint}/_nubes/clock", timeout=30).json()
    assert after["offset"] == before["offset"]
    # S3, SQS and IAM writes still work.
    bucket = f"clock-{uuid.uuid4().hex[:8]}"
    client("s3").create_bucket(Bucket=bucket)
    client("s3").put_object(Bucket=bucket, Key="k", Body=b"x")
    queue = client("sqs").create_queue(QueueName=bucket)["QueueUrl"]
    client("sqs").send_message(QueueUrl=queue, MessageBody="x")
    client("iam").create_user(UserName=bucket)


def test_streams_before_any_dynamodb_call(nubes_factory: Callable[..., NubesProcess]) -> None:
    """Providers are made on first use: the stream tables must exist for the first caller."""
    server = nubes_factory(persistent=False)
    streams = server.client("dynamodbstreams")
    assert streams.list_streams(Limit=5)["Streams"] == []


def test_malformed_arns_under_enforcement(nubes_factory: Callable[..., NubesProcess]) -> None:
    """Looking up a resource policy for a parameter that is not an ARN is no 500."""
    server = nubes_factory(persistent=False, env={"NUBES_ENFORCE_IAM": "1"})
    sns = server.client("sns")
    for arn in ("x", "arn:aws:sns", ""):
        with pytest.raises(sns.exceptions.ClientError) as caught:
            sns.publish(TopicArn=arn, Message="m")
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500


def test_composite_alarm_rule_nested_too_deep(client: Callable[..., Any]) -> None:
    cloudwatch = client("cloudwatch")
    for rule in ("NOT " * 2000 + "TRUE", "(" * 2000 + "TRUE" + ")" * 2000):
        with pytest.raises(cloudwatch.exceptions.ClientError) as caught:
            cloudwatch.put_composite_alarm(AlarmName=f"deep-{uuid.uuid4().hex[:8]}", AlarmRule=rule)
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_autoscaling_tags_without_a_group(client: Callable[..., Any]) -> None:
    autoscaling = client("autoscaling")
    for call in (autoscaling.create_or_update_tags, autoscaling.delete_tags):
        with pytest.raises(autoscaling.exceptions.ClientError) as caught:
            call(Tags=[{"Key": "k", "Value": "v"}])
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_nat_gateway_without_a_subnet(client: Callable[..., Any]) -> None:
    ec2 = client("ec2")
    with pytest.raises(ec2.exceptions.ClientError) as caught:
        ec2.create_nat_gateway()
    assert caught.value.response["Error"]["Code"] == "MissingParameter"


def test_kms_decrypt_without_ciphertext(client: Callable[..., Any]) -> None:
    kms = client("kms")
    with pytest.raises(kms.exceptions.ClientError) as caught:
        kms.decrypt()
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_cloudformation_get_template_without_a_stack(client: Callable[..., Any]) -> None:
    cloudformation = client("cloudformation")
    with pytest.raises(cloudformation.exceptions.ClientError) as caught:
        cloudformation.get_template()
    assert caught.value.response["Error"]["Code"] == "ValidationError"
