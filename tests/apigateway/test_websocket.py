"""A WebSocket API round trip: $connect, a selected route answering the client, @connections
posting to it, and closing it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from nubes.testing.server import make_client
from tests.apigateway.conftest import lambda_uri

HANDLER = """
import json
def handler(event, context):
    ctx = event["requestContext"]
    if ctx["eventType"] == "CONNECT":
        denied = (event.get("queryStringParameters") or {}).get("deny")
        return {"statusCode": 403 if denied else 200}
    if ctx["eventType"] == "DISCONNECT":
        return {"statusCode": 200}
    body = json.loads(event["body"])
    return {"statusCode": 200, "body": json.dumps(
        {"route": ctx["routeKey"], "id": ctx["connectionId"], "got": body.get("data")})}
"""


def test_websocket_round_trip(
    apigw2: Any,
    endpoint: str,
    unique: Callable[[str], str],
    make_function: Callable[..., str],
) -> None:
    api = apigw2.create_api(
        Name=unique("ws"),
        ProtocolType="WEBSOCKET",
        RouteSelectionExpression="$request.body.action",
    )
    api_id = api["ApiId"]
    assert api["ApiEndpoint"].startswith("ws://")
    integration = apigw2.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=lambda_uri(make_function(HANDLER)),
    )
    target = f"integrations/{integration['IntegrationId']}"
    for key in ("$connect", "$disconnect", "ping"):
        apigw2.create_route(
            ApiId=api_id, RouteKey=key, Target=target, RouteResponseSelectionExpression="$default"
        )
    apigw2.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    url = f"{endpoint.replace('http://', 'ws://')}/_aws/execute-api/{api_id}/prod"

    with pytest.raises(InvalidStatus):
        connect(f"{url}?deny=1", open_timeout=30).close()

    manage = make_client(f"{endpoint}/_aws/execute-api/{api_id}/prod", "apigatewaymanagementapi")
    with connect(url, open_timeout=30) as ws:
        ws.send(json.dumps({"action": "ping", "data": 1}))
        answer = json.loads(ws.recv(timeout=60))
        assert answer["route"] == "ping"
        assert answer["got"] == 1
        connection_id = answer["id"]

        # No route for the action and no $default route.
        ws.send(json.dumps({"action": "other"}))
        refused = json.loads(ws.recv(timeout=60))
        assert refused["message"] == "Forbidden"
        assert refused["connectionId"] == connection_id

        manage.post_to_connection(ConnectionId=connection_id, Data=b"hello from the server")
        assert ws.recv(timeout=30) == "hello from the server"
        info = manage.get_connection(ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"]
        manage.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)
    with pytest.raises(ClientError) as err:
        manage.post_to_connection(ConnectionId=connection_id, Data=b"x")
    assert err.value.response["Error"]["Code"] == "GoneException"


AUTHORIZER = """
def handler(event, context):
    ok = event["headers"].get("x-token") == "ok"
    return {
        "principalId": "me",
        "policyDocument": {"Version": "2012-10-17", "Statement": [{
            "Action": "execute-api:Invoke", "Effect": "Allow" if ok else "Deny",
            "Resource": event["methodArn"]}]},
        "context": {"who": "me"},
    }
"""


def test_connect_authorizer(
    apigw2: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    api_id = apigw2.create_api(
        Name=unique("wsauth"),
        ProtocolType="WEBSOCKET",
        RouteSelectionExpression="$request.body.action",
    )["ApiId"]
    integration = apigw2.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=lambda_uri(make_function(HANDLER))
    )
    authorizer = apigw2.create_authorizer(
        ApiId=api_id,
        Name="tok",
        AuthorizerType="REQUEST",
        AuthorizerUri=lambda_uri(make_function(AUTHORIZER)),
        IdentitySource=["route.request.header.x-token"],
    )
    target = f"integrations/{integration['IntegrationId']}"
    apigw2.create_route(
        ApiId=api_id,
        RouteKey="$connect",
        Target=target,
        AuthorizationType="CUSTOM",
        AuthorizerId=authorizer["AuthorizerId"],
    )
    apigw2.create_route(
        ApiId=api_id,
        RouteKey="$default",
        Target=target,
        RouteResponseSelectionExpression="$default",
    )
    apigw2.create_stage(ApiId=api_id, StageName="live", AutoDeploy=True)
    url = f"{endpoint.replace('http://', 'ws://')}/_aws/execute-api/{api_id}/live"
    for headers in ({}, {"x-token": "bad"}):
        with pytest.raises(InvalidStatus):
            connect(url, additional_headers=headers, open_timeout=30).close()
    with connect(url, additional_headers={"x-token": "ok"}, open_timeout=30) as ws:
        ws.send(json.dumps({"data": 2}))
        assert json.loads(ws.recv(timeout=60))["route"] == "$default"
