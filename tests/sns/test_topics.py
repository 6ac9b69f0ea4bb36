"""Topics and subscriptions: create, list (pages), attributes, tags, data protection."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def test_create_topic_is_idempotent(sns: Any, unique: Callable[[str], str]) -> None:
    name = unique("t")
    arn = sns.create_topic(Name=name, Attributes={"DisplayName": "x"})["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:000000000000:{name}"
    assert sns.create_topic(Name=name, Attributes={"DisplayName": "x"})["TopicArn"] == arn
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name=name, Attributes={"DisplayName": "y"})
    assert exc.value.response["Error"]["Code"] == "InvalidParameter"


def test_topic_names(sns: Any) -> None:
    for bad in ("has space", "x" * 257, "nofifo.fifo"):
        with pytest.raises(ClientError) as exc:
            sns.create_topic(Name=bad)
        assert exc.value.response["Error"]["Code"] == "InvalidParameter"
    with pytest.raises(ClientError):
        sns.create_topic(Name="plain", Attributes={"FifoTopic": "true"})


def test_list_topics_pages(sns: Any, unique: Callable[[str], str]) -> None:
    made = {sns.create_topic(Name=unique("page"))["TopicArn"] for _ in range(101)}
    seen: list[str] = []
    kwargs: dict[str, Any] = {}
    pages = 0
    while True:
        page = sns.list_topics(**kwargs)
        pages += 1
        assert len(page["Topics"]) <= 100
        seen += [t["TopicArn"] for t in page["Topics"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert pages >= 2
    assert made <= set(seen)
    assert len(seen) == len(set(seen))


def test_topic_attributes(sns: Any, unique: Callable[[str], str]) -> None:
    arn = sns.create_topic(Name=unique("attrs"))["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn
    assert attrs["Owner"] == "000000000000"
    assert attrs["SubscriptionsConfirmed"] == "0"
    assert json.loads(attrs["Policy"])["Statement"][0]["Resource"] == arn
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Shown")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "Shown"
    with pytest.raises(ClientError) as exc:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Bogus", AttributeValue="1")
    assert exc.value.response["Error"]["Message"] == "Invalid parameter: AttributeName"
    sns.delete_topic(TopicArn=arn)
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.get_topic_attributes(TopicArn=arn)


def test_fifo_topic_attributes(sns: Any, unique: Callable[[str], str]) -> None:
    arn = sns.create_topic(
        Name=unique("f") + ".fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["FifoTopic"] == "true"
    assert attrs["ContentBasedDeduplication"] == "true"


def test_tags(sns: Any, unique: Callable[[str], str]) -> None:
    arn = sns.create_topic(Name=unique("tags"), Tags=[{"Key": "a", "Value": "1"}])["TopicArn"]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
    tags = sns.list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "1"), ("b", "2")]
    sns.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(sns.exceptions.ResourceNotFoundException):
        sns.list_tags_for_resource(ResourceArn=arn + "-missing")


def test_data_protection_policy(sns: Any, unique: Callable[[str], str]) -> None:
    arn = sns.create_topic(Name=unique("dpp"))["TopicArn"]
    policy = json.dumps({"Name": "p", "Version": "2021-06-01", "Statement": []})
    sns.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy=policy)
    assert sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"] == policy


def test_subscriptions_listing_and_attributes(
    sns: Any, subscribed: Callable[..., tuple[str, str, str]]
) -> None:
    topic, _, sub = subscribed(RawMessageDelivery="true")
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [sub]
    assert sub in [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]]
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["RawMessageDelivery"] == "true"
    assert attrs["PendingConfirmation"] == "false"
    assert attrs["Protocol"] == "sqs"
    sns.set_subscription_attributes(
        SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue='{"a": ["b"]}'
    )
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["FilterPolicy"] == '{"a": ["b"]}'
    assert attrs["FilterPolicyScope"] == "MessageAttributes"
    with pytest.raises(ClientError) as exc:
        sns.set_subscription_attributes(
            SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue='{"a": "b"}'
        )
    assert exc.value.response["Error"]["Message"].startswith("Invalid parameter: FilterPolicy:")
    sns.unsubscribe(SubscriptionArn=sub)
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_subscribe_validation(sns: Any, unique: Callable[[str], str]) -> None:
    topic = sns.create_topic(Name=unique("val"))["TopicArn"]
    with pytest.raises(ClientError) as exc:
        sns.subscribe(TopicArn=topic, Protocol="carrier-pigeon", Endpoint="x")
    assert "does not support this protocol" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint="not-an-arn")
    with pytest.raises(ClientError):
        sns.subscribe(
            TopicArn=topic,
            Protocol="email",
            Endpoint="a@example.com",
            Attributes={"RawMessageDelivery": "true"},
        )
