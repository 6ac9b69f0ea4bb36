"""Connections and API destinations: rules calling an HTTP endpoint (a server on loopback the
test runs) with the connection's authorization and the target's HTTP parameters."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.events.conftest import Queue


class Endpoint:
    """A loopback HTTP server recording what it is sent; answers with ``status``."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path.startswith("/oauth"):
                    payload = json.dumps({"access_token": "tok-1", "expires_in": 3600}).encode()
                    endpoint.received.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body.decode()}
                    )
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                endpoint.received.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body.decode(),
                    }
                )
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_GET = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def calls(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.close()


@pytest.fixture
def connections(events: Any) -> Iterator[list[str]]:
    """Connection names (and API destinations, prefixed ``dest:``) deleted at the end."""
    made: list[str] = []
    yield made
    for name in reversed(made):
        try:
            if name.startswith("dest:"):
                events.delete_api_destination(Name=name[5:])
            else:
                events.delete_connection(Name=name)
        except ClientError:
            pass


def make_destination(
    events: Any,
    connections: list[str],
    unique: Callable[[str], str],
    url: str,
    auth_type: str,
    auth: dict[str, Any],
    method: str = "POST",
) -> str:
    name = unique("conn")
    connection = events.create_connection(
        Name=name, AuthorizationType=auth_type, AuthParameters=auth
    )
    connections.append(name)
    destination = unique("dest")
    arn = events.create_api_destination(
        Name=destination,
        ConnectionArn=connection["ConnectionArn"],
        InvocationEndpoint=url,
        HttpMethod=method,
    )["ApiDestinationArn"]
    connections.append("dest:" + destination)
    return str(arn)


def test_api_key_connection_and_http_parameters(
    events: Any,
    http_endpoint: Endpoint,
    connections: list[str],
    rule_to: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    arn = make_destination(
        events,
        connections,
        unique,
        http_endpoint.url + "/hooks/*/events",
        "API_KEY",
        {
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"},
            "InvocationHttpParameters": {
                "HeaderParameters": [{"Key": "x-from-connection", "Value": "c"}],
                "QueryStringParameters": [{"Key": "conn", "Value": "1"}],
            },
        },
    )
    source = unique("to.http")
    rule_to(
        arn,
        pattern={"source": [source]},
        HttpParameters={
            "PathParameterValues": ["orders"],
            "HeaderParameters": {"x-from-target": "t"},
            "QueryStringParameters": {"target": "2"},
        },
    )
    out = events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": '{"n": 1}'}])
    (call,) = http_endpoint.calls(1)
    assert call["method"] == "POST"
    assert call["path"] == "/hooks/orders/events?conn=1&target=2"
    headers = {k.lower(): v for k, v in call["headers"].items()}
    assert headers["x-api-key"] == "s3cret"
    assert headers["x-from-connection"] == "c"
    assert headers["x-from-target"] == "t"
    assert headers["content-type"] == "application/json; charset=utf-8"
    event = json.loads(call["body"])
    assert event["id"] == out["Entries"][0]["EventId"]
    assert event["detail"] == {"n": 1}


def test_connection_hides_secrets_and_lists(
    events: Any, connections: list[str], unique: Callable[[str], str]
) -> None:
    name = unique("basic")
    made = events.create_connection(
        Name=name,
        AuthorizationType="BASIC",
        AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}},
        Description="mine",
    )
    connections.append(name)
    assert made["ConnectionState"] == "AUTHORIZED"
    described = events.describe_connection(Name=name)
    assert described["AuthParameters"] == {"BasicAuthParameters": {"Username": "u"}}
    assert described["SecretArn"].startswith(
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:events!connection/"
    )
    assert [c["Name"] for c in events.list_connections(NamePrefix=name)["Connections"]] == [name]
    with pytest.raises(ClientError) as exc:
        events.create_connection(
            Name=name,
            AuthorizationType="BASIC",
            AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}},
        )
    assert exc.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as exc:
        events.create_connection(
            Name=unique("noauth"),
            AuthorizationType="API_KEY",
            AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}},
        )
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert events.deauthorize_connection(Name=name)["ConnectionState"] == "DEAUTHORIZING"
    assert events.describe_connection(Name=name)["ConnectionState"] == "DEAUTHORIZED"
    with pytest.raises(ClientError) as exc:
        events.describe_connection(Name=unique("missing"))
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_basic_and_oauth_authorization(
    events: Any,
    http_endpoint: Endpoint,
    connections: list[str],
    rule_to: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    basic = make_destination(
        events,
        connections,
        unique,
        http_endpoint.url + "/basic",
        "BASIC",
        {"BasicAuthParameters": {"Username": "user", "Password": "pw"}},
        method="PUT",
    )
    oauth = make_destination(
        events,
        connections,
        unique,
        http_endpoint.url + "/oauthed",
        "OAUTH_CLIENT_CREDENTIALS",
        {
            "OAuthParameters": {
                "ClientParameters": {"ClientID": "id", "ClientSecret": "secret"},
                "AuthorizationEndpoint": http_endpoint.url + "/oauth/token",
                "HttpMethod": "POST",
                "OAuthHttpParameters": {"BodyParameters": [{"Key": "scope", "Value": "events"}]},
            }
        },
    )
    source = unique("auth")
    rule_to(basic, pattern={"source": [source]})
    rule_to(oauth, pattern={"source": [source]})
    events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}"}])
    calls = http_endpoint.calls(3)
    by_path = {c["path"]: c for c in calls}
    basic_call = by_path["/basic"]
    assert basic_call["method"] == "PUT"
    expected = "Basic " + base64.b64encode(b"user:pw").decode()
    assert {k.lower(): v for k, v in basic_call["headers"].items()}["authorization"] == expected
    token_call = by_path["/oauth/token"]
    assert "grant_type=client_credentials" in token_call["body"]
    assert "scope=events" in token_call["body"]
    client = "Basic " + base64.b64encode(b"id:secret").decode()
    assert {k.lower(): v for k, v in token_call["headers"].items()}["authorization"] == client
    oauth_call = by_path["/oauthed"]
    assert {k.lower(): v for k, v in oauth_call["headers"].items()}[
        "authorization"
    ] == "Bearer tok-1"


def test_client_errors_go_to_the_dead_letter_queue(
    events: Any,
    http_endpoint: Endpoint,
    connections: list[str],
    make_queue: Callable[..., Queue],
    rule_to: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    http_endpoint.status = 400
    arn = make_destination(
        events,
        connections,
        unique,
        http_endpoint.url + "/refuses",
        "API_KEY",
        {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}},
    )
    dlq = make_queue()
    source = unique("refused")
    rule_to(arn, pattern={"source": [source]}, DeadLetterConfig={"Arn": dlq.arn})
    events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}"}])
    assert len(http_endpoint.calls(1)) == 1
    deadline = time.monotonic() + 60
    messages: list[Any] = []
    while not messages and time.monotonic() < deadline:
        messages = dlq.drain(attributes=True)
    (message,) = messages
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "400"
    assert attributes["TARGET_ARN"] == arn


def test_api_destination_crud(
    events: Any, connections: list[str], unique: Callable[[str], str]
) -> None:
    connection = events.create_connection(
        Name=(name := unique("c")),
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}},
    )["ConnectionArn"]
    connections.append(name)
    destination = unique("d")
    made = events.create_api_destination(
        Name=destination,
        ConnectionArn=connection,
        InvocationEndpoint="https://example.com/hook",
        HttpMethod="POST",
        InvocationRateLimitPerSecond=10,
    )
    connections.append("dest:" + destination)
    assert made["ApiDestinationState"] == "ACTIVE"
    described = events.describe_api_destination(Name=destination)
    assert described["InvocationRateLimitPerSecond"] == 10
    assert described["ConnectionArn"] == connection
    events.update_api_destination(Name=destination, HttpMethod="PUT")
    assert events.describe_api_destination(Name=destination)["HttpMethod"] == "PUT"
    listed = events.list_api_destinations(ConnectionArn=connection)["ApiDestinations"]
    assert [d["Name"] for d in listed] == [destination]
    with pytest.raises(ClientError) as exc:
        events.create_api_destination(
            Name=unique("d"),
            ConnectionArn=connection + "x",
            InvocationEndpoint="https://example.com/hook",
            HttpMethod="POST",
        )
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    events.delete_api_destination(Name=destination)
    with pytest.raises(ClientError) as exc:
        events.describe_api_destination(Name=destination)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_answered_call_is_not_retried_later(
    events: Any,
    http_endpoint: Endpoint,
    connections: list[str],
    rule_to: Callable[..., str],
    advance: Callable[[float], None],
    unique: Callable[[str], str],
) -> None:
    """The lease a call in flight holds is released by the answer: moving the clock past the
    lease sends nothing again."""
    arn = make_destination(
        events,
        connections,
        unique,
        http_endpoint.url + "/once",
        "API_KEY",
        {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}},
    )
    source = unique("once")
    rule_to(arn, pattern={"source": [source]})
    first = events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": '{"n": 1}'}])
    assert len(http_endpoint.calls(1)) == 1
    advance(600)
    events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": '{"n": 2}'}])
    calls = http_endpoint.calls(2)
    assert [json.loads(c["body"])["detail"]["n"] for c in calls] == [1, 2]
    assert json.loads(calls[0]["body"])["id"] == first["Entries"][0]["EventId"]
