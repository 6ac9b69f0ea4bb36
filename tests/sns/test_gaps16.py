"""Issue 16's SNS items, as a user notices them: who subscribed, FIFO topics into FIFO queues
(deduplication ids kept, AWS's unsigned FIFO envelope, FIFO dead-letter queues), AWS's
InvalidParameter wording, HTTP/S confirmation and retries that survive a restart, and the
credentials CreatePlatformApplication requires."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.server import NubesProcess
from tests.sns.conftest import Recorder, drain, queue_arn


def _failure(exc: pytest.ExceptionInfo[Any]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


def test_subscription_principal_is_the_subscribing_user(
    sns: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    iam = client("iam")
    name = unique("subscriber")
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    as_user = client(
        "sns",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    topic = sns.create_topic(Name=unique("principal"))["TopicArn"]
    sub = as_user.subscribe(TopicArn=topic, Protocol="email", Endpoint="a@example.com")
    arn = sub["SubscriptionArn"]
    assert arn == "pending confirmation"
    arn = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"]
    listed = sns.subscribe(
        TopicArn=topic, Protocol="email", Endpoint="a@example.com", ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    attrs = sns.get_subscription_attributes(SubscriptionArn=listed)["Attributes"]
    assert attrs["SubscriptionPrincipal"] == user["Arn"]
    assert arn == "PendingConfirmation"


def test_fifo_topic_keeps_dedup_id_and_sends_an_unsigned_envelope(
    sns: Any, sqs: Any, subscribed: Callable[..., tuple[str, str, str]]
) -> None:
    topic, url, _ = subscribed(fifo=True)
    answer = sns.publish(
        TopicArn=topic, Message="one", MessageGroupId="g", MessageDeduplicationId="dedup-1"
    )
    got = sqs.receive_message(
        QueueUrl=url, AttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert got[0]["Attributes"]["MessageDeduplicationId"] == "dedup-1"
    assert got[0]["Attributes"]["MessageGroupId"] == "g"
    body = json.loads(got[0]["Body"])
    assert list(body) == [
        "Type",
        "MessageId",
        "SequenceNumber",
        "TopicArn",
        "Message",
        "Timestamp",
        "UnsubscribeURL",
    ]
    assert body["SequenceNumber"] == answer["SequenceNumber"]


def test_standard_topic_envelope_stays_signed(
    sns: Any, sqs: Any, subscribed: Callable[..., tuple[str, str, str]]
) -> None:
    topic, url, _ = subscribed()
    sns.publish(TopicArn=topic, Message="signed")
    body = json.loads(drain(sqs, url)[0]["Body"])
    assert {"SignatureVersion", "Signature", "SigningCertURL"} <= set(body)


def test_fifo_subscription_dead_letter_queue(
    sns: Any, sqs: Any, unique: Callable[[str], str]
) -> None:
    topic = sns.create_topic(Name=unique("t") + ".fifo", Attributes={"FifoTopic": "true"})[
        "TopicArn"
    ]
    dlq = sqs.create_queue(QueueName=unique("dlq") + ".fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    target = sqs.create_queue(QueueName=unique("q") + ".fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    target_arn = queue_arn(sqs, target)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=target_arn,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq)})},
    )
    sqs.delete_queue(QueueUrl=target)
    sns.publish(TopicArn=topic, Message="lost", MessageGroupId="g", MessageDeduplicationId="d-9")
    got = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"]
    assert json.loads(got[0]["Body"])["Message"] == "lost"
    assert got[0]["Attributes"]["MessageGroupId"] == "g"
    assert got[0]["Attributes"]["MessageDeduplicationId"] == "d-9"


def test_topic_of_another_region_is_refused(sns: Any, unique: Callable[[str], str]) -> None:
    topic = sns.create_topic(Name=unique("here"))["TopicArn"]
    elsewhere = topic.replace(":us-east-1:", ":eu-west-1:")
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.publish(TopicArn=elsewhere, Message="x")
    assert _failure(exc) == ("InvalidParameter", "Invalid parameter: TopicArn")
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.get_topic_attributes(TopicArn=elsewhere)
    missing = topic + "-gone"
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.get_topic_attributes(TopicArn=missing)


def test_subscribe_names_attributes_in_policy_errors(
    sns: Any, sqs: Any, unique: Callable[[str], str]
) -> None:
    topic = sns.create_topic(Name=unique("fp"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("fpq"))["QueueUrl"]
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn(sqs, url),
            Attributes={"FilterPolicy": '{"a": "b"}'},
        )
    code, message = _failure(exc)
    assert code == "InvalidParameter"
    assert message.startswith("Invalid parameter: Attributes Reason: FilterPolicy: ")
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn(sqs, url),
            Attributes={"RedrivePolicy": "{}"},
        )
    assert _failure(exc)[1] == (
        "Invalid parameter: Attributes Reason: RedrivePolicy: Redrive policy does not contain "
        "mandatory attribute: deadLetterTargetArn"
    )


def test_platform_application_requires_credentials(sns: Any, unique: Callable[[str], str]) -> None:
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.create_platform_application(
            Name=unique("a"), Platform="GCM", Attributes={"PlatformPrincipal": "unused"}
        )
    assert _failure(exc) == (
        "InvalidParameter",
        "Invalid parameter: Attributes Reason: PlatformCredential attribute required.",
    )
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.create_platform_application(
            Name=unique("a"), Platform="APNS", Attributes={"PlatformCredential": "key"}
        )
    assert "PlatformPrincipal attribute required" in _failure(exc)[1]
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.create_platform_application(
            Name=unique("a"), Platform="PIGEON", Attributes={"PlatformCredential": "k"}
        )
    assert _failure(exc)[1] == "Invalid parameter: Platform Reason: PIGEON is not supported"
    arn = sns.create_platform_application(
        Name=unique("a"),
        Platform="APNS",
        Attributes={"PlatformCredential": "key", "PlatformPrincipal": "cert"},
    )["PlatformApplicationArn"]
    assert ":app/APNS/" in arn


def test_confirmation_flow_checks_the_token(
    sns: Any, unique: Callable[[str], str], http_endpoint: Recorder
) -> None:
    topic = sns.create_topic(Name=unique("confirm"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=http_endpoint.url)
    headers, body = http_endpoint.wait_for(1)[0]
    doc = json.loads(body)
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert doc["SubscribeURL"].startswith("http")
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.confirm_subscription(TopicArn=topic, Token="0" * 128)
    assert _failure(exc)[0] == "InvalidParameter"
    assert requests.get(doc["SubscribeURL"], timeout=10).status_code == 200
    sub = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])
    assert attrs["Attributes"]["PendingConfirmation"] == "false"


@pytest.mark.clock
def test_http_retries_survive_a_restart(
    nubes_factory: Callable[..., NubesProcess], http_endpoint: Recorder
) -> None:
    server = nubes_factory(persistent=True)
    sns = server.client("sns")
    topic = sns.create_topic(Name="retry-durable")["TopicArn"]
    policy = {"healthyRetryPolicy": {"numRetries": 3, "minDelayTarget": 30, "maxDelayTarget": 30}}
    sns.subscribe(
        TopicArn=topic,
        Protocol="http",
        Endpoint=http_endpoint.url,
        Attributes={"DeliveryPolicy": json.dumps(policy)},
    )
    token = json.loads(http_endpoint.wait_for(1)[0][1])["Token"]
    sns.confirm_subscription(TopicArn=topic, Token=token)
    http_endpoint.statuses = [500]
    sns.publish(TopicArn=topic, Message="again")
    assert len(http_endpoint.wait_for(2)) == 2
    server.kill()
    restarted = NubesProcess(server.data_dir, port=server.port).start()
    try:
        deadline = time.monotonic() + 60
        while len(http_endpoint.wait_for(3, timeout=0.3)) < 3 and time.monotonic() < deadline:
            requests.post(f"{restarted.endpoint}/_nubes/clock", json={"advance": 31}, timeout=10)
        posts = http_endpoint.wait_for(3)
        assert len(posts) == 3
        assert json.loads(posts[2][1])["Message"] == "again"
    finally:
        restarted.stop()


def test_confirmation_authentication_is_reported(
    sns: Any, unique: Callable[[str], str], http_endpoint: Recorder
) -> None:
    topic = sns.create_topic(Name=unique("auth"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=http_endpoint.url + "/a")
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=http_endpoint.url + "/b")
    docs = {json.loads(body)["Token"]: h for h, body in http_endpoint.wait_for(2)}
    tokens = list(docs)
    signed = sns.confirm_subscription(
        TopicArn=topic, Token=tokens[0], AuthenticateOnUnsubscribe="true"
    )["SubscriptionArn"]
    plain = sns.confirm_subscription(TopicArn=topic, Token=tokens[1])["SubscriptionArn"]
    for arn, expected in ((signed, "true"), (plain, "false")):
        attrs = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        assert attrs["ConfirmationWasAuthenticated"] == expected


@pytest.mark.clock
def test_confirmation_token_expires_after_two_days(
    sns: Any,
    unique: Callable[[str], str],
    http_endpoint: Recorder,
    advance: Callable[[float], None],
) -> None:
    topic = sns.create_topic(Name=unique("expiry"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=http_endpoint.url)
    token = json.loads(http_endpoint.wait_for(1)[0][1])["Token"]
    advance(2 * 86400 + 60)
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.confirm_subscription(TopicArn=topic, Token=token)
    assert _failure(exc) == ("InvalidParameter", "Invalid parameter: Token")


def test_publish_to_a_missing_platform_endpoint(sns: Any, unique: Callable[[str], str]) -> None:
    app = sns.create_platform_application(
        Name=unique("app"), Platform="GCM", Attributes={"PlatformCredential": "key"}
    )["PlatformApplicationArn"]
    endpoint = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="t")["EndpointArn"]
    sns.delete_endpoint(EndpointArn=endpoint)
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.publish(TargetArn=endpoint, Message="x")
    assert _failure(exc) == (
        "InvalidParameter",
        "Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified",
    )


def test_request_policy_sets_the_content_type(
    sns: Any, unique: Callable[[str], str], http_endpoint: Recorder
) -> None:
    topic = sns.create_topic(Name=unique("ctype"))["TopicArn"]
    policy = {"requestPolicy": {"headerContentType": "application/json"}}
    sns.subscribe(
        TopicArn=topic,
        Protocol="http",
        Endpoint=http_endpoint.url,
        Attributes={"DeliveryPolicy": json.dumps(policy)},
    )
    token = json.loads(http_endpoint.wait_for(1)[0][1])["Token"]
    sns.confirm_subscription(TopicArn=topic, Token=token)
    sns.publish(TopicArn=topic, Message="typed")
    headers, body = http_endpoint.wait_for(2)[1]
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["Message"] == "typed"


def test_subscriptions_stay_in_their_region(
    sns: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    topic = sns.create_topic(Name=unique("regional"))["TopicArn"]
    sub = sns.subscribe(
        TopicArn=topic, Protocol="sms", Endpoint="+15555550100", ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    elsewhere = client("sns", region="eu-west-1")
    with pytest.raises(elsewhere.exceptions.NotFoundException):
        elsewhere.get_subscription_attributes(SubscriptionArn=sub)
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["Protocol"] == "sms"
