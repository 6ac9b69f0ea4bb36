"""The query protocol on the wire, without an SDK model: form posts signed with SigV4, unsigned
calls on a queue's URL, and XML answers a query-protocol parser reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import QueryParser

from nubes.services.sqs.query_names import query_model


def _signed_post(endpoint: str, params: dict[str, str]) -> requests.Response:
    body = urlencode({**params, "Version": "2012-11-05"})
    request = AWSRequest(
        "POST",
        endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials("test", "test"), "sqs", "us-east-1").add_auth(request)
    return requests.post(endpoint + "/", data=body, headers=dict(request.headers), timeout=10)


def _parse(client: Any, operation: str, answer: requests.Response) -> dict[str, Any]:
    model = query_model(client.meta.service_model).operation_model(operation)
    response = {
        "status_code": answer.status_code,
        "headers": dict(answer.headers),
        "body": answer.content,
    }
    shape = model.output_shape if answer.status_code == 200 else None
    return dict(QueryParser().parse(response, shape))


def test_signed_form_posts(
    endpoint: str, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sqs = client("sqs")
    name = unique("wire")
    created = _signed_post(
        endpoint,
        {
            "Action": "CreateQueue",
            "QueueName": name,
            "Attribute.1.Name": "VisibilityTimeout",
            "Attribute.1.Value": "45",
        },
    )
    assert created.status_code == 200
    assert created.headers["content-type"].startswith("text/xml")
    url = _parse(sqs, "CreateQueue", created)["QueueUrl"]
    assert b"<CreateQueueResult><QueueUrl>" in created.content
    sent = _signed_post(
        endpoint,
        {
            "Action": "SendMessage",
            "QueueUrl": url,
            "MessageBody": "over the wire",
            "MessageAttribute.1.Name": "k",
            "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "v",
        },
    )
    assert _parse(sqs, "SendMessage", sent)["MD5OfMessageAttributes"]
    got = _signed_post(
        endpoint,
        {
            "Action": "ReceiveMessage",
            "QueueUrl": url,
            "AttributeName.1": "All",
            "MessageAttributeName.1": "All",
        },
    )
    message = _parse(sqs, "ReceiveMessage", got)["Messages"][0]
    assert message["Body"] == "over the wire"
    assert message["MessageAttributes"]["k"]["StringValue"] == "v"
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    attrs = _signed_post(
        endpoint, {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "All"}
    )
    assert _parse(sqs, "GetQueueAttributes", attrs)["Attributes"]["VisibilityTimeout"] == "45"
    missing = _signed_post(endpoint, {"Action": "GetQueueUrl", "QueueName": unique("none")})
    assert missing.status_code == 400
    error = _parse(sqs, "GetQueueUrl", missing)["Error"]
    assert error["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert error["Type"] == "Sender"


def test_unsigned_calls_on_the_queue_url(
    endpoint: str, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("curl"))["QueueUrl"]
    answer = requests.get(
        url, params={"Action": "SendMessage", "MessageBody": "hi/there"}, timeout=10
    )
    assert answer.status_code == 200
    assert _parse(sqs, "SendMessage", answer)["MessageId"]
    posted = requests.post(
        url,
        data={"Action": "SendMessage", "MessageBody": "posted"},
        timeout=10,
    )
    assert posted.status_code == 200
    bodies = sorted(
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    )
    assert bodies == ["hi/there", "posted"]
