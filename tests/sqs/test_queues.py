"""Queues: create (idempotency, naming, attribute validation), URLs, listing, attributes, tags,
purge and delete, in both protocols."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sqs.conftest import error_code


def test_create_is_idempotent_with_same_attributes(sqs: Any, unique: Callable[[str], str]) -> None:
    name = unique("idem")
    first = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
    again = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
    assert first == again
    assert first.endswith(f"/000000000000/{name}")
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "41"})
    assert error_code(exc) == "QueueAlreadyExists"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_queue_url_uses_the_host_the_client_used(sqs: Any, endpoint: str) -> None:
    url = sqs.create_queue(QueueName="host-check")["QueueUrl"]
    assert url == f"{endpoint}/000000000000/host-check"
    assert sqs.get_queue_url(QueueName="host-check")["QueueUrl"] == url


def test_requests_accept_every_queue_url_form(sqs: Any, queue: str) -> None:
    account, name = queue.rsplit("/", 2)[-2:]
    forms = [
        f"http://localhost:4566/{account}/{name}",
        f"http://sqs.us-east-1.localhost.localstack.cloud:4566/{account}/{name}",
        f"https://sqs.us-east-1.amazonaws.com/{account}/{name}",
    ]
    for url in forms:
        sqs.send_message(QueueUrl=url, MessageBody=url)
    got = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert got["Attributes"]["ApproximateNumberOfMessages"] == "3"


def test_get_queue_url_of_missing_queue(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as exc:
        sqs.get_queue_url(QueueName="no-such-queue-at-all")
    assert error_code(exc) == "AWS.SimpleQueueService.NonExistentQueue"


def test_get_queue_url_with_owner_account(sqs: Any, queue: str) -> None:
    name = queue.rsplit("/", 1)[-1]
    url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId="000000000000")["QueueUrl"]
    assert url == queue
    with pytest.raises(ClientError):
        sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId="111111111111")


def test_names_are_validated(sqs: Any) -> None:
    for bad in ("has space", "x" * 81, "dot.name"):
        with pytest.raises(ClientError) as exc:
            sqs.create_queue(QueueName=bad)
        assert error_code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName="no-suffix", Attributes={"FifoQueue": "true"})
    assert "must end with .fifo suffix" in exc.value.response["Error"]["Message"]


def test_attribute_validation(sqs: Any, queue: str) -> None:
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "43201"})
    assert error_code(exc) == "InvalidAttributeValue"
    assert exc.value.response["Error"]["Message"] == (
        "Invalid value for the parameter VisibilityTimeout."
    )
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"ContentBasedDeduplication": "true"})
    assert error_code(exc) == "InvalidAttributeName"
    assert exc.value.response["Error"]["Message"] == "Unknown Attribute ContentBasedDeduplication."
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(
            QueueUrl=queue, Attributes={"RedrivePolicy": '{"maxReceiveCount": 3}'}
        )
    assert error_code(exc) == "InvalidAttributeValue"


def test_all_attributes(sqs: Any, unique: Callable[[str], str]) -> None:
    policy = '{"Version":"2012-10-17","Statement":[]}'
    url = sqs.create_queue(
        QueueName=unique("attrs"),
        Attributes={
            "DelaySeconds": "5",
            "MaximumMessageSize": "2048",
            "MessageRetentionPeriod": "120",
            "ReceiveMessageWaitTimeSeconds": "2",
            "Policy": policy,
            "KmsMasterKeyId": "alias/aws/sqs",
            "KmsDataKeyReusePeriodSeconds": "600",
        },
    )["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["DelaySeconds"] == "5"
    assert attrs["MaximumMessageSize"] == "2048"
    assert attrs["MessageRetentionPeriod"] == "120"
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "2"
    assert attrs["VisibilityTimeout"] == "30"
    assert attrs["Policy"] == policy
    assert attrs["KmsMasterKeyId"] == "alias/aws/sqs"
    assert attrs["KmsDataKeyReusePeriodSeconds"] == "600"
    assert attrs["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{url.rsplit('/', 1)[-1]}"
    for counter in ("", "NotVisible", "Delayed"):
        assert attrs[f"ApproximateNumberOfMessages{counter}"] == "0"
    assert int(attrs["CreatedTimestamp"]) > 1_600_000_000
    one = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])["Attributes"]
    assert one == {"DelaySeconds": "5"}
    with pytest.raises(ClientError) as exc:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["FifoQueue"])
    assert error_code(exc) == "InvalidAttributeName"


def test_fifo_attributes(sqs: Any, fifo: str) -> None:
    attrs = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "false"
    assert attrs["DeduplicationScope"] == "queue"
    assert attrs["FifoThroughputLimit"] == "perQueue"
    sqs.set_queue_attributes(
        QueueUrl=fifo,
        Attributes={
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
        },
    )
    attrs = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoThroughputLimit"] == "perMessageGroupId"


def test_list_queues_prefix_and_pages(sqs: Any, unique: Callable[[str], str]) -> None:
    prefix = unique("list")
    urls = sorted(sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(5))
    assert sorted(sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]) == urls
    seen: list[str] = []
    kwargs: dict[str, Any] = {"QueueNamePrefix": prefix, "MaxResults": 2}
    while True:
        page = sqs.list_queues(**kwargs)
        assert len(page["QueueUrls"]) <= 2
        seen += page["QueueUrls"]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert seen == urls
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=prefix + "-none")


def test_delete_and_recreate_waits_60_seconds(
    sqs: Any, unique: Callable[[str], str], advance: Callable[[float], None]
) -> None:
    name = unique("del")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=name)
    assert error_code(exc) == "AWS.SimpleQueueService.QueueDeletedRecently"
    advance(61)
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == url


def test_tags(sqs: Any, unique: Callable[[str], str]) -> None:
    url = sqs.create_queue(QueueName=unique("tags"), tags={"team": "a"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"env": "test", "team": "b"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "test", "team": "b"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "test"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["env"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)


def test_purge(sqs: Any, queue: str, advance: Callable[[float], None]) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody="a")
    sqs.purge_queue(QueueUrl=queue)
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)
    with pytest.raises(ClientError) as exc:
        sqs.purge_queue(QueueUrl=queue)
    assert error_code(exc) == "AWS.SimpleQueueService.PurgeQueueInProgress"
    advance(61)
    sqs.purge_queue(QueueUrl=queue)


def test_permissions(sqs: Any, queue: str) -> None:
    sqs.add_permission(
        QueueUrl=queue, Label="l1", AWSAccountIds=["111111111111"], Actions=["SendMessage"]
    )
    with pytest.raises(ClientError) as exc:
        sqs.add_permission(
            QueueUrl=queue, Label="l1", AWSAccountIds=["111111111111"], Actions=["SendMessage"]
        )
    assert error_code(exc) == "InvalidParameterValue"
    policy = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"])["Attributes"]
    assert '"Sid": "l1"' in policy["Policy"]
    sqs.remove_permission(QueueUrl=queue, Label="l1")
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"])
