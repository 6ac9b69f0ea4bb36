"""What SNS answers to bad input, as real SNS does: topic names, malformed ARNs, subscription
endpoints that do not fit their protocol, unknown attributes, and missing topics/subscriptions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

Unique = Callable[[str], str]
ACCOUNT = "000000000000"


def failure(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


@pytest.fixture
def topic(sns: Any, unique: Unique) -> str:
    return str(sns.create_topic(Name=unique("t"))["TopicArn"])


@pytest.mark.parametrize("name", ["has space", "a" * 257, "dot.name", "x.fifo"])
def test_topic_name_rules(sns: Any, name: str) -> None:
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.create_topic(Name=name)
    code, message, status = failure(exc)
    assert (code, status) == ("InvalidParameter", 400)
    assert message.startswith("Invalid parameter: ")


def test_longest_topic_names(sns: Any, unique: Unique) -> None:
    stem = unique("n")
    standard = stem + "x" * (256 - len(stem))
    fifo = stem + "y" * (251 - len(stem)) + ".fifo"
    assert sns.create_topic(Name=standard)["TopicArn"].endswith(":" + standard)
    made = sns.create_topic(Name=fifo, Attributes={"FifoTopic": "true"})
    assert made["TopicArn"].endswith(":" + fifo)


def test_malformed_arns_are_invalid_parameters(sns: Any) -> None:
    calls = {
        "TopicArn": [
            lambda: sns.get_topic_attributes(TopicArn="not-an-arn"),
            lambda: sns.publish(TopicArn="not-an-arn", Message="x"),
            lambda: sns.subscribe(TopicArn="not-an-arn", Protocol="sqs", Endpoint="x"),
        ],
        "SubscriptionArn": [
            lambda: sns.get_subscription_attributes(SubscriptionArn="not-an-arn"),
            lambda: sns.unsubscribe(SubscriptionArn="not-an-arn"),
        ],
    }
    for param, fns in calls.items():
        for call in fns:
            with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
                call()
            assert failure(exc) == (
                "InvalidParameter",
                f"Invalid parameter: {param} Reason: An ARN must have at least 6 elements, not 1",
                400,
            )


def test_missing_topics_and_subscriptions_are_not_found(sns: Any, topic: str) -> None:
    gone = topic + "-gone"
    for call in (
        lambda: sns.get_topic_attributes(TopicArn=gone),
        lambda: sns.publish(TopicArn=gone, Message="x"),
        lambda: sns.list_subscriptions_by_topic(TopicArn=gone),
        lambda: sns.set_topic_attributes(
            TopicArn=gone, AttributeName="DisplayName", AttributeValue="x"
        ),
    ):
        with pytest.raises(sns.exceptions.NotFoundException) as exc:
            call()
        assert failure(exc) == ("NotFound", "Topic does not exist", 404)
    missing_sub = f"{topic}:00000000-0000-0000-0000-000000000000"
    with pytest.raises(sns.exceptions.NotFoundException) as exc:
        sns.get_subscription_attributes(SubscriptionArn=missing_sub)
    assert failure(exc) == ("NotFound", "Subscription does not exist", 404)
    # Deleting a topic that is not there is not an error.
    sns.delete_topic(TopicArn=gone)


@pytest.mark.parametrize(
    ("protocol", "target", "message"),
    [
        (
            "http",
            "https://example.com/hook",
            "Invalid parameter: Endpoint must match the specified protocol",
        ),
        (
            "https",
            "http://example.com/hook",
            "Invalid parameter: Endpoint must match the specified protocol",
        ),
        (
            "http",
            "ftp://example.com",
            "Invalid parameter: Endpoint must match the specified protocol",
        ),
        ("sqs", "not-an-arn", "Invalid parameter: SQS endpoint ARN"),
        ("lambda", "not-an-arn", "Invalid parameter: Lambda endpoint ARN"),
        ("sms", "not-a-number", "Invalid SMS endpoint: not-a-number"),
        (
            "carrier-pigeon",
            "x",
            "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon",
        ),
    ],
)
def test_subscribe_endpoint_must_fit_the_protocol(
    sns: Any, topic: str, protocol: str, target: str, message: str
) -> None:
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=target)
    assert failure(exc) == ("InvalidParameter", message, 400)


def test_unknown_attribute_names(sns: Any, topic: str) -> None:
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Colour", AttributeValue="x")
    assert failure(exc) == ("InvalidParameter", "Invalid parameter: AttributeName", 400)


def test_publish_rules(sns: Any, topic: str) -> None:
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.publish(TopicArn=topic, Message="")
    assert failure(exc) == ("InvalidParameter", "Invalid parameter: Empty message", 400)
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.publish(TopicArn=topic, Message="x" * 262_145)
    assert failure(exc)[:2] == ("InvalidParameter", "Invalid parameter: Message too long")
    sns.publish(TopicArn=topic, Message="x" * 262_144)


def test_tag_quota(sns: Any, topic: str) -> None:
    with pytest.raises(sns.exceptions.TagLimitExceededException) as exc:
        sns.tag_resource(
            ResourceArn=topic, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)]
        )
    assert failure(exc)[:2] == (
        "TagLimitExceeded",
        "Could not complete request: tag quota of per resource exceeded",
    )


def test_message_attribute_values_must_not_be_empty(sns: Any, topic: str) -> None:
    for kind, value in (("String", {"StringValue": ""}), ("Binary", {"BinaryValue": b""})):
        with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
            sns.publish(
                TopicArn=topic, Message="x", MessageAttributes={"a": {"DataType": kind, **value}}
            )
        assert failure(exc) == (
            "InvalidParameter",
            f"Invalid parameter: The message attribute 'a' must contain non-empty message "
            f"attribute value for message attribute type '{kind}'.",
            400,
        )


def test_subscription_redrive_policy_needs_an_arn(sns: Any, topic: str, unique: Unique) -> None:
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{unique('q')}"
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)["SubscriptionArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.set_subscription_attributes(
            SubscriptionArn=sub,
            AttributeName="RedrivePolicy",
            AttributeValue='{"deadLetterTargetArn": "not-an-arn"}',
        )
    assert failure(exc) == (
        "InvalidParameter",
        "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn",
        400,
    )
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.set_subscription_attributes(
            SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="maybe"
        )
    assert failure(exc)[0] == "InvalidParameter"
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.set_subscription_attributes(
            SubscriptionArn=sub, AttributeName="Colour", AttributeValue="x"
        )
    assert failure(exc) == ("InvalidParameter", "Invalid parameter: AttributeName", 400)


def test_topic_attribute_values(sns: Any, topic: str) -> None:
    for name, value in (("TracingConfig", "Sometimes"), ("SignatureVersion", "3")):
        with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
            sns.set_topic_attributes(TopicArn=topic, AttributeName=name, AttributeValue=value)
        code, message, status = failure(exc)
        assert (code, status) == ("InvalidParameter", 400)
        assert message.startswith(f"Invalid parameter: Attributes Reason: {name}")
    sns.set_topic_attributes(TopicArn=topic, AttributeName="TracingConfig", AttributeValue="Active")
    got = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert got["TracingConfig"] == "Active"
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.set_topic_attributes(TopicArn=topic, AttributeName="FifoTopic", AttributeValue="true")
    assert failure(exc)[0] == "InvalidParameter"
