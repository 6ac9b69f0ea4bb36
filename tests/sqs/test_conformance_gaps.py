"""SQS behaviours measured against AWS: case-insensitive booleans, JSON error types beside
query codes, FIFO delays of zero, purges clearing deduplication, query GETs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError


@pytest.mark.parametrize("value", ["True", "TRUE", "true"])
def test_fifo_queue_attribute_is_case_insensitive(
    client: Any, unique: Callable[[str], str], value: str
) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(
        QueueName=unique("ci") + ".fifo",
        Attributes={"FifoQueue": value, "ContentBasedDeduplication": "True"},
    )["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "true"


def test_json_errors_carry_the_exception_type_and_the_query_code(
    client: Any, unique: Callable[[str], str]
) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("err"))["QueueUrl"]
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    error = info.value.response["Error"]
    assert error["Code"] == "InvalidParameterValue"
    assert error["QueryErrorCode"] == "InvalidParameterValueException"
    assert error["Type"] == "Sender"
    with pytest.raises(ClientError) as info:
        sqs.get_queue_url(QueueName=unique("missing"))
    error = info.value.response["Error"]
    assert error["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert error["QueryErrorCode"] == "QueueDoesNotExist"


def test_fifo_takes_an_explicit_zero_delay_and_needs_a_group(
    client: Any, unique: Callable[[str], str]
) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(
        QueueName=unique("zero") + ".fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g", DelaySeconds=0)
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="b", MessageGroupId="g", DelaySeconds=5)
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="c")
    assert info.value.response["Error"]["Code"] == "MissingParameter"


def test_purge_clears_the_deduplication_window(client: Any, unique: Callable[[str], str]) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(
        QueueName=unique("purge") + ".fifo",
        Attributes={"FifoQueue": "true"},
    )["QueueUrl"]
    first = sqs.send_message(
        QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="same"
    )
    again = sqs.send_message(
        QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="same"
    )
    assert again["MessageId"] == first["MessageId"]
    sqs.purge_queue(QueueUrl=url)
    after = sqs.send_message(
        QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="same"
    )
    assert after["MessageId"] != first["MessageId"]
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["MessageId"] for m in got] == [after["MessageId"]]


def test_query_get_with_the_parameters_in_the_url(
    client: Any, endpoint: str, unique: Callable[[str], str]
) -> None:
    name = unique("get")
    url = client("sqs").create_queue(QueueName=name)["QueueUrl"]
    target = f"{url}?Action=SendMessage&MessageBody=over-get&Version=2012-11-05"
    signed = AWSRequest("GET", target)
    SigV4Auth(Credentials("test", "test"), "sqs", "us-east-1").add_auth(signed)
    resp = requests.get(target, headers=dict(signed.headers), timeout=10)
    assert resp.status_code == 200
    assert "<SendMessageResponse" in resp.text
    got = client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert got[0]["Body"] == "over-get"
