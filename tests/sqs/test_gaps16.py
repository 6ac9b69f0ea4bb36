"""Issue 16's remaining SQS items: FIFO group order after visibility changes and requeues,
FIFO receipt handles that expire with their visibility, AWSTraceHeader, and attribute-name
wildcards on receive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _fifo(sqs: Any, unique: Callable[[str], str]) -> str:
    return str(
        sqs.create_queue(
            QueueName=unique("g") + ".fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        )["QueueUrl"]
    )


def _bodies(got: dict[str, Any]) -> list[str]:
    return [m["Body"] for m in got.get("Messages", [])]


def test_fifo_group_order_survives_visibility_changes(
    client: Any, unique: Callable[[str], str]
) -> None:
    sqs = client("sqs")
    url = _fifo(sqs, unique)
    for body in ("1", "2", "3"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600)
    assert _bodies(first) == ["1", "2", "3"]
    handles = [m["ReceiptHandle"] for m in first["Messages"]]
    # The last one goes back, the first is still in flight: the group stays locked.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handles[2], VisibilityTimeout=0)
    assert _bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)) == []
    # Done with the first, the middle one requeued: the group resumes in order.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handles[0])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handles[1], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600)
    assert _bodies(again) == ["2", "3"]


def test_fifo_handles_expire_with_their_visibility(
    client: Any, unique: Callable[[str], str]
) -> None:
    sqs = client("sqs")
    url = _fifo(sqs, unique)
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    old = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]["ReceiptHandle"]
    for call in (
        lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=old),
        lambda: sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=old, VisibilityTimeout=30
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        error = exc.value.response["Error"]
        assert error["Code"] == "InvalidParameterValue"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Message"] == (
            f"Value {old} for parameter ReceiptHandle is invalid. Reason: The receipt handle "
            "has expired."
        )
    current = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"][0]
    with pytest.raises(ClientError):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=old)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=current["ReceiptHandle"], VisibilityTimeout=700
    )
    sqs.delete_message(QueueUrl=url, ReceiptHandle=current["ReceiptHandle"])
    assert _bodies(sqs.receive_message(QueueUrl=url)) == []


def test_standard_queue_still_deletes_through_an_old_handle(
    client: Any, unique: Callable[[str], str]
) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("std"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    old = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]["ReceiptHandle"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=old)
    assert _bodies(sqs.receive_message(QueueUrl=url)) == []


def test_trace_header_and_attribute_wildcards(client: Any, unique: Callable[[str], str]) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("attrs"))["QueueUrl"]
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    attributes = {
        name: {"DataType": "String", "StringValue": name}
        for name in ("Custom.a", "Custom.b", "Other")
    }
    sqs.send_message(
        QueueUrl=url,
        MessageBody="x",
        MessageAttributes=attributes,
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": trace}},
    )
    for names, expected in (
        (["Custom.*"], {"Custom.a", "Custom.b"}),
        (["All"], {"Custom.a", "Custom.b", "Other"}),
        ([".*"], {"Custom.a", "Custom.b", "Other"}),
        (["Other"], {"Other"}),
    ):
        got = sqs.receive_message(
            QueueUrl=url,
            MessageAttributeNames=names,
            MessageSystemAttributeNames=["AWSTraceHeader"],
            VisibilityTimeout=0,
        )["Messages"][0]
        assert set(got["MessageAttributes"]) == expected
        assert got["Attributes"] == {"AWSTraceHeader": trace}
