"""WebSocket APIs: connections accepted on the API's invoke URL (the server speaks the
protocol; this module gets ASGI ``websocket`` messages), ``$connect``/``$disconnect`` and
routes chosen by the API's route selection expression, each running its Lambda integration,
and the connection registry ``@connections`` (PostToConnection and friends) reaches."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from nubes.core import arns, clock, ids
from nubes.protocol.base import HttpRequest
from nubes.runtime.apigateway.endpoint import locate
from nubes.runtime.apigateway.guard import Authorizers
from nubes.runtime.apigateway.proxy import call_function

if TYPE_CHECKING:
    from nubes.app import Environment

POLICY_VIOLATION = 1008
GOING_AWAY = 1001


@dataclass
class Connection:
    id: str
    api_id: str
    stage: str
    account: str
    region: str
    source_ip: str
    user_agent: str
    send: Any
    connected_at: float = field(default_factory=clock.now)
    last_active: float = field(default_factory=clock.now)
    closed: bool = False

    async def post(self, data: bytes) -> None:
        self.last_active = clock.now()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            await self.send({"type": "websocket.send", "bytes": data})
            return
        await self.send({"type": "websocket.send", "text": text})

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.send({"type": "websocket.close", "code": GOING_AWAY})


class Connections:
    """The open connections of every WebSocket API, by connection id."""

    def __init__(self) -> None:
        self.open: dict[str, Connection] = {}

    def get(self, connection_id: str) -> Connection | None:
        found = self.open.get(connection_id)
        return None if found is None or found.closed else found


def new_connection_id() -> str:
    return base64.b64encode(secrets.token_bytes(11)).decode().replace("/", "_").replace("+", "-")


def select_route(expression: str, body: str) -> str | None:
    """The route key the expression picks from a message (``$request.body.<path>``)."""
    expr = expression.strip()
    if expr.startswith("${") and expr.endswith("}"):
        expr = "$" + expr[2:-1]
    if not expr.startswith("$request.body"):
        return expr if not expr.startswith("$") else None
    try:
        value: Any = json.loads(body)
    except ValueError:
        return None
    for part in [p for p in expr[len("$request.body") :].split(".") if p]:
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


class WebSocketPlane:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.connections = Connections()
        self.authorizers = Authorizers(env)

    def _context(self, conn: Connection, route_key: str, event_type: str) -> dict[str, Any]:
        now = clock.now()
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": ids.request_id(),
            "requestTime": clock.utcnow().strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN",
            "stage": conn.stage,
            "connectedAt": int(conn.connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            "requestId": ids.request_id(),
            "domainName": f"{conn.api_id}.execute-api.localhost.localstack.cloud",
            "connectionId": conn.id,
            "apiId": conn.api_id,
        }
        if event_type == "MESSAGE":
            context["messageId"] = new_connection_id()
        return context

    async def _run(
        self, api: dict[str, Any], conn: Connection, route: dict[str, Any], event: dict[str, Any]
    ) -> tuple[bool, bytes | None]:
        """(succeeded, what the client is sent back when the route answers it)."""
        integration = (api.get("integrations") or {}).get(
            (route.get("Target") or "").rpartition("/")[2]
        )
        if integration is None:
            return False, None
        if integration.get("IntegrationType") not in ("AWS_PROXY", "AWS"):
            return True, None
        answer = await call_function(
            self.env, integration.get("IntegrationUri", ""), event, conn.account, conn.region
        )
        if answer is None or answer.error:
            return False, None
        try:
            value = json.loads(answer.payload)
        except ValueError:
            value = None
        status = 200
        body: bytes | None = answer.payload
        if isinstance(value, dict) and "statusCode" in value:
            try:
                status = int(value["statusCode"])
            except (TypeError, ValueError):
                return False, None
            raw = value.get("body")
            body = (
                None if raw is None else (raw if isinstance(raw, str) else json.dumps(raw)).encode()
            )
        if not route.get("RouteResponseSelectionExpression"):
            body = None
        return 200 <= status < 300, body

    async def _authorized(
        self,
        config: dict[str, Any],
        conn: Connection,
        route: dict[str, Any],
        event: dict[str, Any],
        headers: dict[str, str],
        query: dict[str, list[str]],
    ) -> bool:
        """A ``$connect`` route's Lambda REQUEST authorizer: its policy must allow the
        connection; what it gives as context reaches the integration."""
        if route.get("AuthorizationType") != "CUSTOM":
            return True
        authorizer = (config.get("authorizers") or {}).get(route.get("AuthorizerId") or "")
        if authorizer is None:
            return False
        values: list[str | None] = []
        for source in authorizer.get("IdentitySource") or []:
            name = source.rpartition(".")[2]
            if source.startswith("route.request.header."):
                values.append(headers.get(name.lower()))
            elif source.startswith("route.request.querystring."):
                found = query.get(name)
                values.append(found[-1] if found else None)
        if not all(values):
            return False
        arn = arns.arn(
            "execute-api", conn.region, conn.account, f"{conn.api_id}/{conn.stage}/$connect"
        )
        ttl = authorizer.get("AuthorizerResultTtlInSeconds")
        verdict = await self.authorizers.decide(
            {
                "api": conn.api_id,
                "id": authorizer["AuthorizerId"],
                "authorizerUri": authorizer.get("AuthorizerUri") or "",
                "authorizerResultTtlInSeconds": 0 if ttl is None else ttl,
            },
            "\x00".join(v or "" for v in values),
            lambda: {"type": "REQUEST", "methodArn": arn, **event},
            conn.account,
            conn.region,
            arn,
        )
        if verdict.response is not None:
            return False
        event["requestContext"]["authorizer"] = verdict.context
        return True

    async def serve(
        self,
        api: tuple[str, str, dict[str, Any]],
        path: str,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
    ) -> None:
        account, region, doc = api
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        stage_name = path.lstrip("/").partition("/")[0]
        stage = (doc.get("stages") or {}).get(stage_name)
        if stage is None:
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            return
        config = doc
        if not stage.get("AutoDeploy"):
            deployment = (doc.get("deployments") or {}).get(stage.get("DeploymentId") or "")
            if deployment is None:
                await send({"type": "websocket.close", "code": POLICY_VIOLATION})
                return
            config = deployment["snapshot"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client") or ("127.0.0.1", 0)
        conn = Connection(
            id=new_connection_id(),
            api_id=doc["ApiId"],
            stage=stage_name,
            account=account,
            region=region,
            source_ip=client[0],
            user_agent=headers.get("user-agent", ""),
            send=send,
        )
        routes = {r["RouteKey"]: r for r in (config.get("routes") or {}).values()}
        connect = routes.get("$connect")
        if connect is not None:
            query: dict[str, list[str]] = {}
            for key, value in parse_qsl(scope.get("query_string", b"").decode(), True):
                query.setdefault(key, []).append(value)
            event = {
                "headers": headers,
                "multiValueHeaders": {k: [v] for k, v in headers.items()},
                "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
                "multiValueQueryStringParameters": query or None,
                "stageVariables": stage.get("StageVariables") or None,
                "requestContext": self._context(conn, "$connect", "CONNECT"),
                "isBase64Encoded": False,
            }
            if not await self._authorized(config, conn, connect, event, headers, query):
                await send({"type": "websocket.close", "code": POLICY_VIOLATION})
                return
            allowed, _ = await self._run(config, conn, connect, event)
            if not allowed:
                await send({"type": "websocket.close", "code": POLICY_VIOLATION})
                return
        await send({"type": "websocket.accept"})
        self.connections.open[conn.id] = conn
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message["type"] != "websocket.receive":
                    continue
                conn.last_active = clock.now()
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", "replace")
                await self._message(config, stage, conn, routes, text)
        finally:
            conn.closed = True
            self.connections.open.pop(conn.id, None)
            disconnect = routes.get("$disconnect")
            if disconnect is not None:
                event = {
                    "headers": headers,
                    "requestContext": {
                        **self._context(conn, "$disconnect", "DISCONNECT"),
                        "disconnectStatusCode": 1000,
                    },
                    "isBase64Encoded": False,
                }
                await asyncio.shield(self._run(config, conn, disconnect, event))

    async def _message(
        self,
        config: dict[str, Any],
        stage: dict[str, Any],
        conn: Connection,
        routes: dict[str, dict[str, Any]],
        text: str,
    ) -> None:
        key = select_route(config.get("RouteSelectionExpression") or "", text)
        route = routes.get(key or "") if key not in ("$connect", "$disconnect") else None
        route = route or routes.get("$default")
        context = self._context(conn, route["RouteKey"] if route else "$default", "MESSAGE")
        if route is None:
            error = {
                "message": "Forbidden",
                "connectionId": conn.id,
                "requestId": context["requestId"],
            }
            await conn.post(json.dumps(error).encode())
            return
        event = {
            "requestContext": context,
            "body": text,
            "stageVariables": stage.get("StageVariables") or None,
            "isBase64Encoded": False,
        }
        ok, reply = await self._run(config, conn, route, event)
        if not ok:
            error = {
                "message": "Internal server error",
                "connectionId": conn.id,
                "requestId": context["requestId"],
            }
            await conn.post(json.dumps(error).encode())
        elif reply is not None and not conn.closed:
            await conn.post(reply)


async def accept(env: Environment, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A WebSocket connection to nubes' port: a WebSocket API's, or refused."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    raw_path = scope.get("raw_path") or scope["path"].encode()
    req = HttpRequest("GET", unquote(raw_path.decode("latin-1")), headers=headers)
    where = locate(req)
    provider: Any = None
    if where is not None and "apigatewayv2" in env.providers:
        provider = await env.providers.ready("apigatewayv2")
    api = provider.websocket_api(where[0]) if provider is not None and where else None
    if api is None or where is None:
        await receive()
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        return
    await provider.websockets.serve(api, where[1], scope, receive, send)
