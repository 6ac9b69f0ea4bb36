"""Messages: send and receive, attributes and their digests, delays, visibility, retention,
sizes and batches, in both protocols."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sqs.conftest import error_code


def md5_of_attributes(attrs: dict[str, dict[str, Any]]) -> str:
    """The documented algorithm, written out independently of the server's code."""
    out = b""
    for name in sorted(attrs):
        attr = attrs[name]
        out += struct.pack(">I", len(name)) + name.encode()
        out += struct.pack(">I", len(attr["DataType"])) + attr["DataType"].encode()
        if "BinaryValue" in attr:
            out += b"\x02" + struct.pack(">I", len(attr["BinaryValue"])) + attr["BinaryValue"]
        else:
            value = attr["StringValue"].encode()
            out += b"\x01" + struct.pack(">I", len(value)) + value
    return hashlib.md5(out).hexdigest()


ATTRS: dict[str, dict[str, Any]] = {
    "color": {"DataType": "String", "StringValue": "blue"},
    "count": {"DataType": "Number", "StringValue": "42"},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xffdata"},
    "foo.bar": {"DataType": "String.custom", "StringValue": "x"},
    "foo.baz": {"DataType": "String", "StringValue": "y"},
}


def test_send_receive_delete(sqs: Any, queue: str) -> None:
    sent = sqs.send_message(QueueUrl=queue, MessageBody="hello ✓", MessageAttributes=ATTRS)
    assert sent["MD5OfMessageBody"] == hashlib.md5("hello ✓".encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(ATTRS)
    got = sqs.receive_message(
        QueueUrl=queue, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert len(got) == 1
    msg = got[0]
    assert msg["MessageId"] == sent["MessageId"]
    assert msg["Body"] == "hello ✓"
    assert msg["MessageAttributes"] == ATTRS
    assert msg["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    system = msg["Attributes"]
    assert system["ApproximateReceiveCount"] == "1"
    assert system["SenderId"] == "000000000000"
    assert int(system["SentTimestamp"]) <= int(system["ApproximateFirstReceiveTimestamp"])
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=msg["ReceiptHandle"])
    counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "0"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_attribute_name_selection(sqs: Any, queue: str) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody="sel", MessageAttributes=ATTRS)
    msg = sqs.receive_message(
        QueueUrl=queue, MessageAttributeNames=["foo.*", "color"], VisibilityTimeout=0
    )["Messages"][0]
    assert set(msg["MessageAttributes"]) == {"foo.bar", "foo.baz", "color"}
    msg = sqs.receive_message(QueueUrl=queue, AttributeNames=["SentTimestamp"])["Messages"][0]
    assert set(msg["Attributes"]) == {"SentTimestamp"}
    assert "MessageAttributes" not in msg


def test_trace_header_system_attribute(sqs: Any, queue: str) -> None:
    trace = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}}
    sent = sqs.send_message(QueueUrl=queue, MessageBody="t", MessageSystemAttributes=trace)
    assert sent["MD5OfMessageSystemAttributes"] == md5_of_attributes(trace)
    msg = sqs.receive_message(QueueUrl=queue, AttributeNames=["AWSTraceHeader"])["Messages"][0]
    assert msg["Attributes"] == {"AWSTraceHeader": "Root=1-abc"}


def test_invalid_message_attributes(sqs: Any, queue: str) -> None:
    bad = [
        {"AWS.x": {"DataType": "String", "StringValue": "v"}},
        {"n": {"DataType": "Strange", "StringValue": "v"}},
        {"n": {"DataType": "Number", "StringValue": "abc"}},
        {"n": {"DataType": "String", "StringValue": ""}},
        {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)},
    ]
    for attrs in bad:
        with pytest.raises(ClientError) as exc:
            sqs.send_message(QueueUrl=queue, MessageBody="x", MessageAttributes=attrs)
        assert error_code(exc) == "InvalidParameterValue"


def test_invalid_body_characters(sqs: Any, queue: str) -> None:
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue, MessageBody="bad \x01 char")
    assert error_code(exc) == "InvalidMessageContents"


def test_maximum_message_size(sqs: Any, unique: Callable[[str], str]) -> None:
    default = sqs.create_queue(QueueName=unique("big"))["QueueUrl"]
    sqs.send_message(QueueUrl=default, MessageBody="x" * 1_048_576)
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=default, MessageBody="x" * 1_048_577)
    assert error_code(exc) == "InvalidParameterValue"
    assert "Message must be shorter than 1048576 bytes" in exc.value.response["Error"]["Message"]
    small = sqs.create_queue(QueueName=unique("small"), Attributes={"MaximumMessageSize": "1024"})[
        "QueueUrl"
    ]
    with pytest.raises(ClientError):
        sqs.send_message(QueueUrl=small, MessageBody="x" * 1025)


def test_visibility_timeout_by_the_clock(
    sqs: Any, queue: str, advance: Callable[[float], None]
) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody="v")
    first = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=100)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)
    counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    advance(101)
    again = sqs.receive_message(QueueUrl=queue, AttributeNames=["All"])["Messages"][0]
    assert again["MessageId"] == first["MessageId"]
    assert again["ReceiptHandle"] != first["ReceiptHandle"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_change_visibility(sqs: Any, queue: str) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody="c")
    msg = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=300)["Messages"][0]
    sqs.change_message_visibility(
        QueueUrl=queue, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=0
    )
    again = sqs.receive_message(QueueUrl=queue)["Messages"][0]
    assert again["MessageId"] == msg["MessageId"]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=again["ReceiptHandle"])
    with pytest.raises(ClientError) as exc:
        sqs.change_message_visibility(
            QueueUrl=queue, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=10
        )
    assert error_code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        sqs.delete_message(QueueUrl=queue, ReceiptHandle="garbage")
    assert error_code(exc) == "ReceiptHandleIsInvalid"


def test_delays(sqs: Any, unique: Callable[[str], str], advance: Callable[[float], None]) -> None:
    url = sqs.create_queue(QueueName=unique("delay"), Attributes={"DelaySeconds": "30"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="queue-delay")
    sqs.send_message(QueueUrl=url, MessageBody="own-delay", DelaySeconds=90)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesDelayed"] == "2"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    advance(31)
    first = sqs.receive_message(QueueUrl=url)["Messages"]
    assert [m["Body"] for m in first] == ["queue-delay"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    advance(60)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["own-delay"]
    with pytest.raises(ClientError):
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)


def test_retention_expires_messages(
    sqs: Any, unique: Callable[[str], str], advance: Callable[[float], None]
) -> None:
    url = sqs.create_queue(QueueName=unique("ret"), Attributes={"MessageRetentionPeriod": "60"})[
        "QueueUrl"
    ]
    sqs.send_message(QueueUrl=url, MessageBody="short-lived")
    advance(61)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "0"


def test_receive_limits(sqs: Any, queue: str) -> None:
    for value in (0, 11):
        with pytest.raises(ClientError) as exc:
            sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=value)
        assert error_code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError):
        sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=21)
    sqs.send_message_batch(
        QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)]
    )
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == sorted(f"m{i}" for i in range(10))


def test_batches(sqs: Any, queue: str) -> None:
    result = sqs.send_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "ok", "MessageBody": "fine", "MessageAttributes": ATTRS},
            {"Id": "bad", "MessageBody": "x", "DelaySeconds": 1000},
        ],
    )
    assert [e["Id"] for e in result["Successful"]] == ["ok"]
    assert result["Successful"][0]["MD5OfMessageAttributes"] == md5_of_attributes(ATTRS)
    assert result["Failed"] == [
        {
            "Id": "bad",
            "SenderFault": True,
            "Code": "InvalidParameterValue",
            "Message": "Value 1000 for parameter DelaySeconds is invalid. Reason: DelaySeconds "
            "must be >= 0 and <= 900.",
        }
    ]
    msg = sqs.receive_message(QueueUrl=queue)["Messages"][0]
    deleted = sqs.delete_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "a", "ReceiptHandle": msg["ReceiptHandle"]},
            {"Id": "b", "ReceiptHandle": "not-a-handle"},
        ],
    )
    assert [e["Id"] for e in deleted["Successful"]] == ["a"]
    assert deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"


def test_batch_request_errors(sqs: Any, queue: str) -> None:
    cases = [
        ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
        (
            [{"Id": str(i), "MessageBody": "x"} for i in range(11)],
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        ),
        (
            [{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}],
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        ),
        ([{"Id": "bad id!", "MessageBody": "x"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
        (
            [{"Id": str(i), "MessageBody": "x" * 200_000} for i in range(6)],
            "AWS.SimpleQueueService.BatchRequestTooLong",
        ),
    ]
    if sqs.meta.service_model.protocol == "query":
        cases.pop(0)  # a query request cannot carry an empty list: Entries is simply missing
    for entries, code in cases:
        with pytest.raises(ClientError) as exc:
            sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        assert error_code(exc) == code


def test_change_visibility_batch(sqs: Any, queue: str) -> None:
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": "1", "MessageBody": "a"}])
    msg = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=300)["Messages"][0]
    result = sqs.change_message_visibility_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "x", "ReceiptHandle": msg["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "y", "ReceiptHandle": "bogus", "VisibilityTimeout": 0},
        ],
    )
    assert [e["Id"] for e in result["Successful"]] == ["x"]
    assert result["Failed"][0]["Id"] == "y"
    assert sqs.receive_message(QueueUrl=queue)["Messages"][0]["MessageId"] == msg["MessageId"]
