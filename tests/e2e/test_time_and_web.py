"""Flows that depend on time (moved with the server clock) or on plain HTTP: delayed and
expiring messages, DynamoDB TTL, presigned URL expiry, SNS HTTP subscriptions, CORS."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import urllib3

from tests.e2e.conftest import wait_for
from tests.server import NubesProcess


def _advance(endpoint: str, seconds: float) -> None:
    answer = urllib3.PoolManager().request(
        "POST", f"{endpoint}/_nubes/clock", body=json.dumps({"advance": seconds})
    )
    assert answer.status == 200, answer.data


@pytest.mark.clock
def test_delayed_message_and_visibility_timeout(
    client: Callable[..., Any], endpoint: str, unique: Callable[[str], str]
) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("delay"), Attributes={"DelaySeconds": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later")
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    _advance(endpoint, 61)
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    assert first[0]["Body"] == "later"
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    _advance(endpoint, 31)
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])
    assert again["Messages"][0]["Attributes"]["ApproximateReceiveCount"] == "2"


@pytest.mark.clock
def test_dynamodb_ttl_expires_items(
    client: Callable[..., Any], endpoint: str, unique: Callable[[str], str]
) -> None:
    ddb = client("dynamodb")
    table = unique("sessions")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == "expires"
    now = int(ddb.describe_table(TableName=table)["Table"]["CreationDateTime"].timestamp())
    ddb.put_item(TableName=table, Item={"pk": {"S": "old"}, "expires": {"N": str(now + 60)}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "new"}, "expires": {"N": str(now + 10**6)}})
    _advance(endpoint, 3600)
    left = wait_for(lambda: [i["pk"]["S"] for i in ddb.scan(TableName=table)["Items"]] == ["new"])
    assert left


@pytest.mark.clock
def test_presigned_url_expires(
    nubes_factory: Callable[..., NubesProcess], unique: Callable[[str], str]
) -> None:
    # A server of its own: the URL is signed with the client's clock, so the server's must not
    # have been moved by other tests yet.
    server = nubes_factory(persistent=False)
    endpoint, s3 = server.endpoint, server.client("s3")
    bucket = unique("expiry")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60
    )
    http = urllib3.PoolManager()
    assert http.request("GET", url).status == 200
    _advance(endpoint, 120)
    expired = http.request("GET", url)
    assert expired.status == 403
    assert b"<Code>AccessDenied</Code>" in expired.data
    assert b"Request has expired" in expired.data


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        headers = {k.lower(): v for k, v in self.headers.items()}
        type(self).received.append((headers, json.loads(self.rfile.read(length))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_endpoint() -> Iterator[tuple[str, list[tuple[dict[str, str], Any]]]]:
    received: list[tuple[dict[str, str], Any]] = []
    handler = type("Handler", (_Recorder,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_sns_http_subscription_confirmation_and_delivery(
    client: Callable[..., Any],
    unique: Callable[[str], str],
    http_endpoint: tuple[str, list[tuple[dict[str, str], Any]]],
) -> None:
    sns = client("sns")
    url, received = http_endpoint
    topic = sns.create_topic(Name=unique("hooks"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=url)
    wait_for(lambda: received)
    headers, confirmation = received[0]
    assert confirmation["Type"] == "SubscriptionConfirmation"
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert confirmation["TopicArn"] == topic
    answer = urllib3.PoolManager().request("GET", confirmation["SubscribeURL"])
    assert answer.status == 200, answer.data
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert subs[0]["SubscriptionArn"].startswith(topic + ":")
    sns.publish(TopicArn=topic, Message="ping", Subject="hello")
    wait_for(lambda: len(received) >= 2)
    headers, note = received[1]
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-topic-arn"] == topic
    assert note["Message"] == "ping" and note["Subject"] == "hello"
    assert note["SignatureVersion"] == "1" and note["Signature"]


def test_s3_cors_preflight(
    client: Callable[..., Any], endpoint: str, unique: Callable[[str], str]
) -> None:
    s3 = client("s3")
    bucket = unique("web")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": ["http://localhost:3000"],
                    "AllowedMethods": ["GET", "PUT"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 600,
                }
            ]
        },
    )
    http = urllib3.PoolManager()
    ok = http.request(
        "OPTIONS",
        f"{endpoint}/{bucket}/file.txt",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert ok.status == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "PUT" in ok.headers["Access-Control-Allow-Methods"]
    refused = http.request(
        "OPTIONS",
        f"{endpoint}/{bucket}/file.txt",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "PUT"},
    )
    assert refused.status == 403
