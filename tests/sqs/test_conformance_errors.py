"""What SQS answers to bad input, as real SQS does: error codes (the query code boto3 reports from
``x-amzn-query-error`` and the modelled exception class), messages and statuses, for queue names,
queue attributes, message bodies, message attributes, receipt handles, receives and listings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

Unique = Callable[[str], str]
# Lets requests the SDK itself would refuse reach the server, to see what SQS says.
UNCHECKED = Config(retries={"max_attempts": 1}, parameter_validation=False)


@pytest.fixture
def raw(client: Callable[..., Any]) -> Any:
    """A JSON-protocol client without client-side parameter validation."""
    return client("sqs", config=UNCHECKED)


@pytest.fixture
def url(raw: Any, unique: Unique) -> str:
    return str(raw.create_queue(QueueName=unique("c"))["QueueUrl"])


def failure(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_missing_queue_is_the_modelled_exception_with_the_query_code(
    raw: Any, url: str, unique: Unique
) -> None:
    calls = [
        lambda: raw.get_queue_url(QueueName=unique("none")),
        lambda: raw.send_message(QueueUrl=url + "-gone", MessageBody="x"),
        lambda: raw.get_queue_attributes(QueueUrl=url + "-gone", AttributeNames=["All"]),
        lambda: raw.delete_queue(QueueUrl=url + "-gone"),
    ]
    for call in calls:
        with pytest.raises(raw.exceptions.QueueDoesNotExist) as exc:
            call()
        assert failure(exc) == (
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
            400,
        )
        headers = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"MaxNumberOfMessages": 11},
            "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and "
            "10, if provided.",
        ),
        (
            {"MaxNumberOfMessages": 0},
            "Value 0 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and "
            "10, if provided.",
        ),
        (
            {"WaitTimeSeconds": 21},
            "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, "
            "if provided.",
        ),
        (
            {"VisibilityTimeout": 43_201},
            "Value 43201 for parameter VisibilityTimeout is invalid. Reason: Must be between 0 "
            "and 43200, if provided.",
        ),
    ],
)
def test_receive_limits(raw: Any, url: str, params: dict[str, int], message: str) -> None:
    with pytest.raises(ClientError) as exc:
        raw.receive_message(QueueUrl=url, **params)
    assert failure(exc) == ("InvalidParameterValue", message, 400)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VisibilityTimeout", "43201"),
        ("VisibilityTimeout", "-1"),
        ("VisibilityTimeout", "abc"),
        ("DelaySeconds", "901"),
        ("MessageRetentionPeriod", "59"),
        ("MessageRetentionPeriod", "1209601"),
        ("MaximumMessageSize", "1023"),
        ("MaximumMessageSize", "1048577"),
        ("ReceiveMessageWaitTimeSeconds", "21"),
    ],
)
def test_attribute_values_out_of_range(raw: Any, unique: Unique, name: str, value: str) -> None:
    with pytest.raises(raw.exceptions.InvalidAttributeValue) as exc:
        raw.create_queue(QueueName=unique("bad"), Attributes={name: value})
    assert failure(exc) == (
        "InvalidAttributeValue",
        f"Invalid value for the parameter {name}.",
        400,
    )


def test_attribute_bounds_are_inclusive(raw: Any, unique: Unique) -> None:
    attrs = {
        "VisibilityTimeout": "43200",
        "DelaySeconds": "900",
        "MessageRetentionPeriod": "60",
        "MaximumMessageSize": "1024",
        "ReceiveMessageWaitTimeSeconds": "20",
    }
    url = raw.create_queue(QueueName=unique("edge"), Attributes=attrs)["QueueUrl"]
    got = raw.get_queue_attributes(QueueUrl=url, AttributeNames=list(attrs))["Attributes"]
    assert got == attrs


def test_unknown_and_read_only_attribute_names(raw: Any, url: str, unique: Unique) -> None:
    for name in ("Foo", "QueueArn", "ApproximateNumberOfMessages", "All"):
        with pytest.raises(raw.exceptions.InvalidAttributeName) as exc:
            raw.set_queue_attributes(QueueUrl=url, Attributes={name: "1"})
        assert failure(exc) == ("InvalidAttributeName", f"Unknown Attribute {name}.", 400)
    with pytest.raises(raw.exceptions.InvalidAttributeName) as exc:
        raw.create_queue(QueueName=unique("cbd"), Attributes={"ContentBasedDeduplication": "true"})
    assert failure(exc)[:2] == (
        "InvalidAttributeName",
        "Unknown Attribute ContentBasedDeduplication.",
    )
    with pytest.raises(raw.exceptions.InvalidAttributeName):
        raw.get_queue_attributes(QueueUrl=url, AttributeNames=["FifoQueue"])


def test_get_queue_attributes_all_and_none(raw: Any, url: str) -> None:
    assert "Attributes" not in raw.get_queue_attributes(QueueUrl=url)
    every = raw.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert set(every) == {
        "QueueArn",
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
        "VisibilityTimeout",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
        "SqsManagedSseEnabled",
    }
    assert every["MaximumMessageSize"] == "1048576"
    assert every["MessageRetentionPeriod"] == "345600"
    # A named attribute that is not set is left out rather than reported empty.
    assert "Attributes" not in raw.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])


STANDARD_NAME = (
    "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
)
FIFO_NAME = (
    "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
    "underscores, must end with .fifo suffix and be 1 to 80 in length."
)


@pytest.mark.parametrize(
    ("name", "attrs", "message"),
    [
        ("a" * 81, {}, STANDARD_NAME),
        ("has space", {}, STANDARD_NAME),
        ("dot.name", {}, STANDARD_NAME),
        ("looks.fifo", {}, STANDARD_NAME),
        ("nofifosuffix", {"FifoQueue": "true"}, FIFO_NAME),
        ("a" * 76 + ".fifo", {"FifoQueue": "true"}, FIFO_NAME),
    ],
)
def test_queue_name_rules(raw: Any, name: str, attrs: dict[str, str], message: str) -> None:
    with pytest.raises(ClientError) as exc:
        raw.create_queue(QueueName=name, Attributes=attrs)
    assert failure(exc) == ("InvalidParameterValue", message, 400)


def test_longest_queue_names(raw: Any, unique: Unique) -> None:
    stem = unique("n")
    standard = stem + "x" * (80 - len(stem))
    fifo = stem + "y" * (75 - len(stem)) + ".fifo"
    assert raw.create_queue(QueueName=standard)["QueueUrl"].endswith("/" + standard)
    made = raw.create_queue(QueueName=fifo, Attributes={"FifoQueue": "true"})
    assert made["QueueUrl"].endswith("/" + fifo)


@pytest.mark.parametrize("char", ["\x00", "\x08", "\x1f", "\ufffe", "\uffff"])
def test_body_characters_outside_the_allowed_set(raw: Any, url: str, char: str) -> None:
    with pytest.raises(raw.exceptions.InvalidMessageContents) as exc:
        raw.send_message(QueueUrl=url, MessageBody=f"a{char}b")
    code, message, status = failure(exc)
    assert (code, status) == ("InvalidMessageContents", 400)
    assert message.startswith(f"Invalid binary character '#x{ord(char):X}' was found")


def test_body_characters_inside_the_allowed_set(raw: Any, url: str) -> None:
    body = "tab\tnl\ncr\r \ud7ff \ue000 \ufffd \U0001f600 \U0010ffff"
    raw.send_message(QueueUrl=url, MessageBody=body)
    got = raw.receive_message(QueueUrl=url)["Messages"][0]
    assert got["Body"] == body


def test_empty_body_is_a_missing_parameter(raw: Any, url: str) -> None:
    with pytest.raises(ClientError) as exc:
        raw.send_message(QueueUrl=url, MessageBody="")
    assert failure(exc) == (
        "MissingParameter",
        "The request must contain the parameter MessageBody.",
        400,
    )


def _send_attributes(raw: Any, url: str, attributes: dict[str, Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as exc:
        raw.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attributes)
    return failure(exc)


def test_message_attribute_validation(raw: Any, url: str) -> None:
    eleven = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}
    assert _send_attributes(raw, url, eleven) == (
        "InvalidParameterValue",
        "Number of message attributes [11] exceeds the allowed maximum [10].",
        400,
    )
    bad_type = {"a": {"DataType": "Text", "StringValue": "v"}}
    assert _send_attributes(raw, url, bad_type)[:2] == (
        "InvalidParameterValue",
        "The type of message (user) attribute 'a' is invalid. You must use only the following "
        "supported type prefixes: Binary, Number, String.",
    )
    no_type = {"a": {"DataType": "", "StringValue": "v"}}
    assert _send_attributes(raw, url, no_type)[:2] == (
        "InvalidParameterValue",
        "The message attribute 'a' must contain non-empty message attribute type.",
    )
    empty = {"a": {"DataType": "String", "StringValue": ""}}
    assert _send_attributes(raw, url, empty)[:2] == (
        "InvalidParameterValue",
        "Message (user) attribute 'a' must contain a non-empty value of type 'String'.",
    )
    not_number = {"n": {"DataType": "Number", "StringValue": "twelve"}}
    assert _send_attributes(raw, url, not_number)[0] == "InvalidParameterValue"
    for name in ("AWS.reserved", "amazon.reserved", ".lead", "trail.", "two..dots", "bad name"):
        attrs = {name: {"DataType": "String", "StringValue": "v"}}
        assert _send_attributes(raw, url, attrs)[:2] == (
            "InvalidParameterValue",
            f"Message (user) attribute name '{name}' is invalid.",
        )


def test_custom_attribute_types_round_trip(raw: Any, url: str) -> None:
    attrs = {
        "price": {"DataType": "Number.float", "StringValue": "12.5"},
        "label": {"DataType": "String.custom", "StringValue": "blue"},
        "icon": {"DataType": "Binary.png", "BinaryValue": b"\x89PNG"},
        **{f"k{i}": {"DataType": "String", "StringValue": str(i)} for i in range(7)},
    }
    sent = raw.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attrs)
    got = raw.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"][0]
    assert got["MessageAttributes"] == attrs
    assert got["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]


def test_value_field_follows_the_data_type(raw: Any, url: str) -> None:
    attrs = {"a": {"DataType": "String", "StringValue": "text", "BinaryValue": b"bytes"}}
    sent = raw.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attrs)
    got = raw.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"][0]
    assert got["MessageAttributes"] == {"a": {"DataType": "String", "StringValue": "text"}}
    assert got["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]


def test_receipt_handles_that_are_not_handles(raw: Any, url: str) -> None:
    with pytest.raises(raw.exceptions.ReceiptHandleIsInvalid) as exc:
        raw.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    assert failure(exc) == (
        "ReceiptHandleIsInvalid",
        'The input receipt handle "not-a-handle" is not a valid receipt handle.',
        400,
    )
    batch = raw.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": "one", "ReceiptHandle": "not-a-handle"}]
    )
    assert batch["Failed"] == [
        {
            "Id": "one",
            "SenderFault": True,
            "Code": "ReceiptHandleIsInvalid",
            "Message": 'The input receipt handle "not-a-handle" is not a valid receipt handle.',
        }
    ]


def test_receipt_handle_of_another_queue(raw: Any, url: str, unique: Unique) -> None:
    other = raw.create_queue(QueueName=unique("other"))["QueueUrl"]
    raw.send_message(QueueUrl=other, MessageBody="x")
    handle = raw.receive_message(QueueUrl=other)["Messages"][0]["ReceiptHandle"]
    with pytest.raises(raw.exceptions.ReceiptHandleIsInvalid) as exc:
        raw.delete_message(QueueUrl=url, ReceiptHandle=handle)
    assert failure(exc) == (
        "ReceiptHandleIsInvalid",
        f'The receipt handle "{handle}" is not valid for this queue.',
        400,
    )


def test_visibility_change_through_handles_that_no_longer_hold_the_message(
    raw: Any, url: str
) -> None:
    raw.send_message(QueueUrl=url, MessageBody="x")
    first = raw.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
    # Visibility already ran out: accepted, and the message stays visible.
    raw.change_message_visibility(
        QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=600
    )
    second = raw.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"][0]
    assert second["MessageId"] == first["MessageId"]
    stale = first["ReceiptHandle"]
    with pytest.raises(ClientError) as exc:
        raw.change_message_visibility(QueueUrl=url, ReceiptHandle=stale, VisibilityTimeout=10)
    assert failure(exc) == (
        "InvalidParameterValue",
        f"Value {stale} for parameter ReceiptHandle is invalid. Reason: Message does not exist "
        "or is not available for visibility timeout change.",
        400,
    )
    raw.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    batch = raw.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[{"Id": "gone", "ReceiptHandle": second["ReceiptHandle"], "VisibilityTimeout": 5}],
    )
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in batch["Failed"]] == [
        ("gone", "InvalidParameterValue", True)
    ]
    with pytest.raises(ClientError) as limit:
        raw.change_message_visibility(QueueUrl=url, ReceiptHandle=stale, VisibilityTimeout=43_201)
    assert failure(limit)[0] == "InvalidParameterValue"


def test_list_queues_paginates_only_when_asked(raw: Any, unique: Unique) -> None:
    prefix = unique("lq")
    for i in range(3):
        raw.create_queue(QueueName=f"{prefix}-{i}")
    unpaged = raw.list_queues(QueueNamePrefix=prefix)
    assert len(unpaged["QueueUrls"]) == 3
    assert "NextToken" not in unpaged
    first = raw.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    assert len(first["QueueUrls"]) == 2 and first["NextToken"]
    rest = raw.list_queues(QueueNamePrefix=prefix, MaxResults=2, NextToken=first["NextToken"])
    assert [u.rsplit("/", 1)[1] for u in rest["QueueUrls"]] == [f"{prefix}-2"]
    assert "NextToken" not in rest
    assert "QueueUrls" not in raw.list_queues(QueueNamePrefix=unique("empty"))
    for bad in (0, 1001):
        with pytest.raises(ClientError) as exc:
            raw.list_queues(MaxResults=bad)
        assert failure(exc)[0] == "InvalidParameterValue"


def test_tag_limits(raw: Any, url: str) -> None:
    with pytest.raises(ClientError) as exc:
        raw.tag_queue(QueueUrl=url, Tags={f"k{i}": "v" for i in range(51)})
    assert failure(exc)[0] == "InvalidParameterValue"
    raw.tag_queue(QueueUrl=url, Tags={f"k{i}": "v" for i in range(50)})
    assert len(raw.list_queue_tags(QueueUrl=url)["Tags"]) == 50
    with pytest.raises(ClientError):
        raw.tag_queue(QueueUrl=url, Tags={"one-more": "v"})


def test_fifo_send_rules(raw: Any, unique: Unique) -> None:
    url = raw.create_queue(QueueName=unique("f") + ".fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    with pytest.raises(ClientError) as exc:
        raw.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert failure(exc) == (
        "MissingParameter",
        "The request must contain the parameter MessageGroupId.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        raw.send_message(
            QueueUrl=url,
            MessageBody="x",
            MessageGroupId="g",
            MessageDeduplicationId="d",
            DelaySeconds=5,
        )
    assert failure(exc) == (
        "InvalidParameterValue",
        "Value 5 for parameter DelaySeconds is invalid. Reason: The request include parameter "
        "that is not valid for this queue type.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        raw.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert failure(exc) == (
        "InvalidParameterValue",
        "The queue should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly",
        400,
    )


def test_batch_request_errors(raw: Any, url: str) -> None:
    cases: list[tuple[list[dict[str, str]], str, str]] = [
        (
            [],
            "AWS.SimpleQueueService.EmptyBatchRequest",
            "There should be at least one SendMessageBatchRequestEntry in the request.",
        ),
        (
            [{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)],
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            "Maximum number of entries per request are 10. You have sent 11.",
        ),
        (
            [{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}],
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            "Id same repeated.",
        ),
        (
            [{"Id": "bad id", "MessageBody": "x"}],
            "AWS.SimpleQueueService.InvalidBatchEntryId",
            "A batch entry id can only contain alphanumeric characters, hyphens and "
            "underscores. It can be at most 80 letters long.",
        ),
    ]
    for entries, code, message in cases:
        with pytest.raises(ClientError) as exc:
            raw.send_message_batch(QueueUrl=url, Entries=entries)
        assert failure(exc) == (code, message, 400)


def test_visibility_extends_to_twelve_hours_from_the_receive(
    client: Callable[..., Any], unique: Unique, advance: Callable[[float], None]
) -> None:
    raw = client("sqs", config=UNCHECKED)
    url = raw.create_queue(QueueName=unique("vis"))["QueueUrl"]
    raw.send_message(QueueUrl=url, MessageBody="x")
    got = raw.receive_message(QueueUrl=url, VisibilityTimeout=43_200)["Messages"][0]
    advance(100)
    with pytest.raises(ClientError) as exc:
        raw.change_message_visibility(
            QueueUrl=url, ReceiptHandle=got["ReceiptHandle"], VisibilityTimeout=43_200
        )
    assert failure(exc) == (
        "InvalidParameterValue",
        "Value 43200 for parameter VisibilityTimeout is invalid. Reason: Total "
        "VisibilityTimeout for the message is beyond the limit [43200 seconds]",
        400,
    )
    raw.change_message_visibility(
        QueueUrl=url, ReceiptHandle=got["ReceiptHandle"], VisibilityTimeout=43_000
    )


def test_kms_encryption_replaces_sqs_managed_encryption(raw: Any, unique: Unique) -> None:
    url = raw.create_queue(QueueName=unique("kms"), Attributes={"KmsMasterKeyId": "alias/aws/sqs"})[
        "QueueUrl"
    ]
    got = raw.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert got["KmsMasterKeyId"] == "alias/aws/sqs"
    assert got["KmsDataKeyReusePeriodSeconds"] == "300"
    assert got["SqsManagedSseEnabled"] == "false"
    plain = raw.create_queue(QueueName=unique("sse"))["QueueUrl"]
    raw.set_queue_attributes(QueueUrl=plain, Attributes={"KmsMasterKeyId": "alias/aws/sqs"})
    got = raw.get_queue_attributes(QueueUrl=plain, AttributeNames=["All"])["Attributes"]
    assert got["SqsManagedSseEnabled"] == "false"
    assert (
        "KmsDataKeyReusePeriodSeconds"
        not in raw.get_queue_attributes(
            QueueUrl=raw.create_queue(QueueName=unique("none"))["QueueUrl"], AttributeNames=["All"]
        )["Attributes"]
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MessageDeduplicationId", "d" * 129),
        ("MessageDeduplicationId", "has space"),
        ("MessageGroupId", "g" * 129),
        ("MessageGroupId", "ümlaut"),
    ],
)
def test_fifo_ids_are_short_printable_ascii(
    raw: Any, unique: Unique, name: str, value: str
) -> None:
    url = raw.create_queue(QueueName=unique("ids") + ".fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    params = {"MessageGroupId": "g", "MessageDeduplicationId": "d", name: value}
    with pytest.raises(ClientError) as exc:
        raw.send_message(QueueUrl=url, MessageBody="x", **params)
    assert failure(exc) == (
        "InvalidParameterValue",
        f"Value {value} for parameter {name} is invalid. Reason: {name} can only include "
        "alphanumeric and punctuation characters. 1 to 128 in length.",
        400,
    )
    punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" + "x" * 96
    raw.send_message(QueueUrl=url, MessageBody="x", **{**params, name: punctuation})
    with pytest.raises(ClientError) as attempt:
        raw.receive_message(QueueUrl=url, ReceiveRequestAttemptId="a" * 129)
    assert failure(attempt)[0] == "InvalidParameterValue"
