"""HTTP/HTTPS (confirmation, delivery from the background, retries by the clock), mail tokens,
SMS and mobile push records, Lambda subscriptions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import requests

from tests.sns.conftest import Recorder, drain, queue_arn


def _confirm(sns: Any, topic: str, hook: Recorder) -> str:
    headers, body = hook.wait_for(1)[0]
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    doc = json.loads(body)
    assert doc["Type"] == "SubscriptionConfirmation"
    assert doc["TopicArn"] == topic
    return str(sns.confirm_subscription(TopicArn=topic, Token=doc["Token"])["SubscriptionArn"])


def test_http_subscription_confirmation_and_delivery(
    sns: Any, unique: Callable[[str], str], http_endpoint: Recorder
) -> None:
    topic = sns.create_topic(Name=unique("http"))["TopicArn"]
    answer = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=http_endpoint.url)
    assert answer["SubscriptionArn"] == "pending confirmation"
    pending = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert pending[0]["SubscriptionArn"] == "PendingConfirmation"
    sub = _confirm(sns, topic, http_endpoint)
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["PendingConfirmation"] == "false"
    sns.publish(TopicArn=topic, Message="over http", Subject="s")
    headers, body = http_endpoint.wait_for(2)[1]
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-subscription-arn"] == sub
    doc = json.loads(body)
    assert doc["Message"] == "over http"
    assert doc["Subject"] == "s"


def test_subscribe_url_confirms(
    sns: Any, unique: Callable[[str], str], http_endpoint: Recorder
) -> None:
    topic = sns.create_topic(Name=unique("url"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=http_endpoint.url)
    doc = json.loads(http_endpoint.wait_for(1)[0][1])
    assert requests.get(doc["SubscribeURL"], timeout=10).status_code == 200
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert listed[0]["SubscriptionArn"].startswith(topic)


def test_http_retries_then_dead_letter(
    sns: Any,
    sqs: Any,
    unique: Callable[[str], str],
    http_endpoint: Recorder,
    advance: Callable[[float], None],
) -> None:
    topic = sns.create_topic(Name=unique("retry"))["TopicArn"]
    dlq = sqs.create_queue(QueueName=unique("http-dlq"))["QueueUrl"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="http",
        Endpoint=http_endpoint.url,
        Attributes={
            "RawMessageDelivery": "true",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq)}),
        },
    )
    _confirm(sns, topic, http_endpoint)
    http_endpoint.statuses = [500, 503]
    sns.publish(TopicArn=topic, Message="eventually")
    _pump(http_endpoint, advance, 4)
    posts = http_endpoint.posts
    assert [p[1] for p in posts[1:4]] == ["eventually"] * 3
    assert posts[3][0]["x-amz-sns-rawdelivery"] == "true"
    assert drain(sqs, dlq) == []
    # Now every attempt fails: after the default three retries the message goes to the DLQ.
    http_endpoint.statuses = [500] * 4
    sns.publish(TopicArn=topic, Message="never")
    _pump(http_endpoint, advance, 8)
    deadline = time.monotonic() + 60
    got = drain(sqs, dlq)
    while not got and time.monotonic() < deadline:
        time.sleep(0.1)
        got = drain(sqs, dlq)
    assert [m["Body"] for m in got] == ["never"]
    assert len(http_endpoint.posts) == 8


def _pump(hook: Recorder, advance: Callable[[float], None], count: int) -> None:
    """Moves the clock past retry delays until ``count`` posts arrived (a retry may still be
    in flight when the clock moves, so keep nudging)."""
    deadline = time.monotonic() + 60
    while len(hook.wait_for(count, timeout=0.3)) < count and time.monotonic() < deadline:
        advance(21)


def test_email_subscription_token_endpoint(
    sns: Any, endpoint: str, unique: Callable[[str], str]
) -> None:
    topic = sns.create_topic(Name=unique("mail"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="someone@example.com")
    pending = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]
    assert pending["SubscriptionArn"] == "PendingConfirmation"
    arn = sns.subscribe(
        TopicArn=topic,
        Protocol="email",
        Endpoint="someone@example.com",
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    token = requests.get(f"{endpoint}/_aws/sns/subscription-tokens/{arn}", timeout=10).json()
    assert token["subscription_arn"] == arn
    assert (
        sns.confirm_subscription(TopicArn=topic, Token=token["subscription_token"])[
            "SubscriptionArn"
        ]
        == arn
    )


def test_sms_messages_are_recorded(sns: Any, endpoint: str, unique: Callable[[str], str]) -> None:
    phone = "+15551234567"
    sns.publish(PhoneNumber=phone, Message="direct text")
    topic = sns.create_topic(Name=unique("sms"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint=phone)
    sns.publish(TopicArn=topic, Message="via topic")
    found = requests.get(
        f"{endpoint}/_aws/sns/sms-messages", params={"phoneNumber": phone}, timeout=10
    ).json()
    assert [m["Message"] for m in found["sms_messages"][phone]][-2:] == ["direct text", "via topic"]


def test_platform_endpoints(sns: Any, endpoint: str, unique: Callable[[str], str]) -> None:
    app = sns.create_platform_application(
        Name=unique("app"), Platform="GCM", Attributes={"PlatformCredential": "key"}
    )["PlatformApplicationArn"]
    target = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="device-1")[
        "EndpointArn"
    ]
    assert (
        sns.create_platform_endpoint(PlatformApplicationArn=app, Token="device-1")["EndpointArn"]
        == target
    )
    listed = sns.list_endpoints_by_platform_application(PlatformApplicationArn=app)["Endpoints"]
    assert [e["EndpointArn"] for e in listed] == [target]
    sns.publish(TargetArn=target, Message="push!")
    found = requests.get(f"{endpoint}/_aws/sns/platform-endpoint-messages", timeout=10).json()
    assert found["platform_endpoint_messages"][target][-1]["Message"] == "push!"
    sns.set_endpoint_attributes(EndpointArn=target, Attributes={"Enabled": "false"})
    try:
        sns.publish(TargetArn=target, Message="nope")
        raise AssertionError("publishing to a disabled endpoint must fail")
    except sns.exceptions.EndpointDisabledException:
        pass
    sns.delete_platform_application(PlatformApplicationArn=app)


def test_sms_attributes(sns: Any) -> None:
    sns.set_sms_attributes(attributes={"DefaultSMSType": "Transactional"})
    got = sns.get_sms_attributes(attributes=["DefaultSMSType"])["attributes"]
    assert got == {"DefaultSMSType": "Transactional"}
    assert sns.check_if_phone_number_is_opted_out(phoneNumber="+15550000000")["isOptedOut"] is False


def test_lambda_subscription_invokes_the_function(
    sns: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    import io
    import time
    import zipfile

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr(
            "h.py",
            "import json\ndef handler(event, context):\n    print('GOT', json.dumps(event))\n",
        )
    name = unique("fn")
    function = client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/r",
        Handler="h.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    topic = sns.create_topic(Name=unique("lambda"))["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)["SubscriptionArn"]
    sns.publish(TopicArn=topic, Message="to lambda", Subject="hi")
    logs = client("logs")
    found: list[str] = []
    deadline = time.monotonic() + 60
    while not found and time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            continue
        found = [e["message"] for e in events if e["message"].startswith("GOT")]
    event = json.loads(found[0][4:])
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"] == sub
    assert record["Sns"]["Message"] == "to lambda"
    assert record["Sns"]["Subject"] == "hi"


def test_http_client_error_fails_without_retries(
    sns: Any, sqs: Any, unique: Callable[[str], str], http_endpoint: Recorder
) -> None:
    topic = sns.create_topic(Name=unique("refused"))["TopicArn"]
    dlq = sqs.create_queue(QueueName=unique("refused-dlq"))["QueueUrl"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="http",
        Endpoint=http_endpoint.url,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq)})},
    )
    _confirm(sns, topic, http_endpoint)
    http_endpoint.statuses = [404]
    sns.publish(TopicArn=topic, Message="refused")
    deadline = time.monotonic() + 60
    got = drain(sqs, dlq)
    while not got and time.monotonic() < deadline:
        time.sleep(0.1)
        got = drain(sqs, dlq)
    assert json.loads(got[0]["Body"])["Message"] == "refused"
    assert len(http_endpoint.posts) == 2


def test_unsubscribe_sends_unsubscribe_confirmation(
    sns: Any, unique: Callable[[str], str], http_endpoint: Recorder
) -> None:
    topic = sns.create_topic(Name=unique("unsub"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=http_endpoint.url)
    sub = _confirm(sns, topic, http_endpoint)
    sns.unsubscribe(SubscriptionArn=sub)
    headers, body = http_endpoint.wait_for(2)[1]
    assert headers["x-amz-sns-message-type"] == "UnsubscribeConfirmation"
    doc = json.loads(body)
    assert doc["Type"] == "UnsubscribeConfirmation"
    assert sub in doc["Message"]
