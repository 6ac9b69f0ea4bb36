"""Publishing: the SQS envelope as AWS writes it (and verifiable signatures), raw delivery,
filter policies end to end, per-protocol messages, FIFO, batches, errors, subscription DLQs."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.sns.conftest import drain, queue_arn

ATTRS = {
    "color": {"DataType": "String", "StringValue": "red"},
    "size": {"DataType": "Number", "StringValue": "7"},
    "tags": {"DataType": "String.Array", "StringValue": '["a", "b"]'},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
}


def _verify(envelope: dict[str, Any]) -> None:
    """Checks the signature the way the SNS documentation tells subscribers to."""
    fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    text = "".join(f"{k}\n{envelope[k]}\n" for k in fields if k in envelope)
    cert = x509.load_pem_x509_certificate(
        requests.get(envelope["SigningCertURL"], timeout=10).content
    )
    digest = hashes.SHA256() if envelope["SignatureVersion"] == "2" else hashes.SHA1()
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(envelope["Signature"]), text.encode(), padding.PKCS1v15(), digest)


def test_envelope(sns: Any, sqs: Any, subscribed: Callable[..., tuple[str, str, str]]) -> None:
    topic, url, sub = subscribed()
    sent = sns.publish(TopicArn=topic, Message="hello", Subject="Greeting", MessageAttributes=ATTRS)
    body = json.loads(drain(sqs, url)[0]["Body"])
    assert list(body) == [
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
        "MessageAttributes",
    ]
    assert body["Type"] == "Notification"
    assert body["MessageId"] == sent["MessageId"]
    assert body["TopicArn"] == topic
    assert body["Message"] == "hello"
    assert body["Subject"] == "Greeting"
    assert body["SignatureVersion"] == "1"
    assert body["Timestamp"].endswith("Z")
    assert body["UnsubscribeURL"].endswith(f"Action=Unsubscribe&SubscriptionArn={sub}")
    assert body["MessageAttributes"]["color"] == {"Type": "String", "Value": "red"}
    assert body["MessageAttributes"]["blob"] == {"Type": "Binary", "Value": "AAE="}
    _verify(body)


def test_signature_version_2(
    sns: Any, sqs: Any, subscribed: Callable[..., tuple[str, str, str]]
) -> None:
    topic, url, _ = subscribed()
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish(TopicArn=topic, Message="v2")
    body = json.loads(drain(sqs, url)[0]["Body"])
    assert body["SignatureVersion"] == "2"
    assert "Subject" not in body
    _verify(body)


def test_unsubscribe_url_works(
    sns: Any, sqs: Any, subscribed: Callable[..., tuple[str, str, str]]
) -> None:
    topic, url, _ = subscribed()
    sns.publish(TopicArn=topic, Message="bye")
    body = json.loads(drain(sqs, url)[0]["Body"])
    assert requests.get(body["UnsubscribeURL"], timeout=10).status_code == 200
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_raw_delivery(sns: Any, sqs: Any, subscribed: Callable[..., tuple[str, str, str]]) -> None:
    topic, url, _ = subscribed(RawMessageDelivery="true")
    sns.publish(TopicArn=topic, Message="raw body", MessageAttributes=ATTRS)
    msg = drain(sqs, url)[0]
    assert msg["Body"] == "raw body"
    assert msg["MessageAttributes"]["color"] == {"StringValue": "red", "DataType": "String"}
    assert msg["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01"
    assert msg["MessageAttributes"]["tags"]["StringValue"] == '["a", "b"]'


def test_filter_policy_on_attributes(
    sns: Any, sqs: Any, subscribed: Callable[..., tuple[str, str, str]]
) -> None:
    policy = {"color": ["red"], "size": [{"numeric": [">", 5]}], "tags": ["b"]}
    topic, url, _ = subscribed(FilterPolicy=json.dumps(policy), RawMessageDelivery="true")
    sns.publish(TopicArn=topic, Message="match", MessageAttributes=ATTRS)
    small = {**ATTRS, "size": {"DataType": "Number", "StringValue": "3"}}
    sns.publish(TopicArn=topic, Message="too small", MessageAttributes=small)
    sns.publish(TopicArn=topic, Message="no attributes")
    assert [m["Body"] for m in drain(sqs, url)] == ["match"]


def test_filter_policy_on_body(
    sns: Any, sqs: Any, subscribed: Callable[..., tuple[str, str, str]]
) -> None:
    policy = {"order": {"status": [{"prefix": "pa"}], "total": [{"numeric": [">=", 10]}]}}
    topic, url, _ = subscribed(
        FilterPolicy=json.dumps(policy), FilterPolicyScope="MessageBody", RawMessageDelivery="true"
    )
    wanted = json.dumps({"order": {"status": "paid", "total": 12}})
    sns.publish(TopicArn=topic, Message=wanted)
    sns.publish(TopicArn=topic, Message=json.dumps({"order": {"status": "paid", "total": 2}}))
    sns.publish(TopicArn=topic, Message="not json")
    assert [m["Body"] for m in drain(sqs, url)] == [wanted]


def test_message_structure_json(
    sns: Any, sqs: Any, subscribed: Callable[..., tuple[str, str, str]]
) -> None:
    topic, url, _ = subscribed(RawMessageDelivery="true")
    message = json.dumps({"default": "for everyone", "sqs": "for queues"})
    sns.publish(TopicArn=topic, Message=message, MessageStructure="json")
    assert [m["Body"] for m in drain(sqs, url)] == ["for queues"]
    for bad in ("not json", json.dumps({"sqs": "no default"})):
        with pytest.raises(ClientError) as exc:
            sns.publish(TopicArn=topic, Message=bad, MessageStructure="json")
        assert exc.value.response["Error"]["Code"] == "InvalidParameter"


def test_fifo_topic_to_fifo_queue(
    sns: Any, sqs: Any, subscribed: Callable[..., tuple[str, str, str]]
) -> None:
    topic, url, _ = subscribed(fifo=True, RawMessageDelivery="true")
    first = sns.publish(
        TopicArn=topic, Message="one", MessageGroupId="g", MessageDeduplicationId="1"
    )
    again = sns.publish(
        TopicArn=topic, Message="one", MessageGroupId="g", MessageDeduplicationId="1"
    )
    second = sns.publish(
        TopicArn=topic, Message="two", MessageGroupId="g", MessageDeduplicationId="2"
    )
    assert again["MessageId"] == first["MessageId"]
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    assert [m["Body"] for m in got["Messages"]] == ["one", "two"]
    assert got["Messages"][0]["Attributes"]["MessageGroupId"] == "g"
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=topic, Message="x", MessageDeduplicationId="3")
    assert "MessageGroupId" in exc.value.response["Error"]["Message"]


def test_standard_topic_refuses_fifo_queue(
    sns: Any, sqs: Any, unique: Callable[[str], str]
) -> None:
    topic = sns.create_topic(Name=unique("std"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("q") + ".fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    with pytest.raises(ClientError):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(sqs, url))


def test_publish_batch(sns: Any, sqs: Any, subscribed: Callable[..., tuple[str, str, str]]) -> None:
    topic, url, _ = subscribed(RawMessageDelivery="true")
    result = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {"Id": "a", "Message": "first"},
            {"Id": "b", "Message": "second", "MessageAttributes": ATTRS},
            {"Id": "c", "Message": "x", "MessageDeduplicationId": "nope"},
        ],
    )
    assert [e["Id"] for e in result["Successful"]] == ["a", "b"]
    assert result["Failed"][0]["Id"] == "c"
    assert result["Failed"][0]["Code"] == "InvalidParameter"
    assert sorted(m["Body"] for m in drain(sqs, url)) == ["first", "second"]
    # (An empty batch cannot be sent in the query protocol: the member is simply missing.)
    errors = [
        ([{"Id": str(i), "Message": "m"} for i in range(11)], "TooManyEntriesInBatchRequest"),
        ([{"Id": "d", "Message": "m"}, {"Id": "d", "Message": "m"}], "BatchEntryIdsNotDistinct"),
        ([{"Id": "bad id", "Message": "m"}], "InvalidBatchEntryId"),
        ([{"Id": str(i), "Message": "m" * 100_000} for i in range(3)], "BatchRequestTooLong"),
    ]
    for entries, code in errors:
        with pytest.raises(ClientError) as exc:
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
        assert exc.value.response["Error"]["Code"] == code


def test_publish_errors(sns: Any, unique: Callable[[str], str]) -> None:
    topic = sns.create_topic(Name=unique("err"))["TopicArn"]
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.publish(TopicArn=topic + "-gone", Message="x")
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=topic, Message="x" * 262_145)
    assert exc.value.response["Error"]["Message"] == "Invalid parameter: Message too long"
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=topic, Message="x", Subject="line\nbreak")
    assert exc.value.response["Error"]["Message"] == "Invalid parameter: Subject"
    with pytest.raises(ClientError):
        sns.publish(Message="nowhere")


def test_subscription_dead_letter_queue(sns: Any, sqs: Any, unique: Callable[[str], str]) -> None:
    topic = sns.create_topic(Name=unique("dlq"))["TopicArn"]
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    gone = sqs.create_queue(QueueName=unique("gone"))["QueueUrl"]
    gone_arn = queue_arn(sqs, gone)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=gone_arn,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq)})},
    )
    sqs.delete_queue(QueueUrl=gone)
    sns.publish(TopicArn=topic, Message="undeliverable")
    body = json.loads(drain(sqs, dlq)[0]["Body"])
    assert body["Message"] == "undeliverable"
