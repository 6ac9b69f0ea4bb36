"""Lambda proxy integrations: the events API Gateway sends (REST and HTTP payload 1.0, HTTP
payload 2.0), calling the function, and turning its answer into the HTTP response as API
Gateway does (a malformed answer is a 502)."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from nubes.core import accounts, arns, clock, ids
from nubes.core.context import RequestContext
from nubes.protocol.base import HttpRequest, HttpResponse, ServiceError

if TYPE_CHECKING:
    from nubes.app import Environment

FUNCTION_IN_URI = re.compile(r"functions/(?P<arn>arn:[^/]+)/invocations")
INTERNAL_ERROR = {"message": "Internal server error"}


@dataclass
class Call:
    """One request reaching an API, with what routing found out about it."""

    req: HttpRequest
    api_id: str
    account: str
    region: str
    stage: str
    path: str
    """The path after the stage, percent-decoded, starting with '/'."""
    request_id: str = field(default_factory=ids.request_id)
    resource_path: str = ""
    resource_id: str = ""
    route_key: str = ""
    path_params: dict[str, str] = field(default_factory=dict)
    stage_vars: dict[str, str] = field(default_factory=dict)
    authorizer: dict[str, Any] | None = None
    iam_identity: dict[str, Any] = field(default_factory=dict)
    """The signed caller of an AWS_IAM method (accessKey, accountId, caller, user, userArn)."""
    started: float = field(default_factory=clock.now)

    @property
    def domain(self) -> str:
        return self.req.host.split(":")[0]

    def method_arn(self) -> str:
        return arns.arn(
            "execute-api",
            self.region,
            self.account,
            f"{self.api_id}/{self.stage}/{self.req.method}{self.path}",
        )

    def query_multi(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, value in parse_qsl(self.req.query_string, keep_blank_values=True):
            out.setdefault(key, []).append(value)
        return out

    def body(self, binary_types: list[str] | None = None) -> tuple[str | None, bool]:
        """The body as an event carries it: text, or base64 when binary (by the API's binary
        media types, or when it is not UTF-8)."""
        data = self.req.read_body()
        if not data:
            return None, False
        ctype = self.req.headers.get("content-type", "").split(";")[0].strip()
        binary = any(_media_matches(t, ctype) for t in binary_types or [])
        if not binary:
            try:
                return data.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
        return base64.b64encode(data).decode(), True

    def request_time(self) -> str:
        return datetime.fromtimestamp(self.started, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")

    def identity(self) -> dict[str, Any]:
        keys = (
            "cognitoIdentityPoolId",
            "accountId",
            "cognitoIdentityId",
            "caller",
            "principalOrgId",
            "accessKey",
            "cognitoAuthenticationType",
            "cognitoAuthenticationProvider",
            "userArn",
            "user",
        )
        out: dict[str, Any] = dict.fromkeys(keys)
        out["sourceIp"] = self.req.client_ip or "127.0.0.1"
        out["userAgent"] = self.req.headers.get("user-agent")
        out["apiKey"] = self.req.headers.get("x-api-key")
        out.update(self.iam_identity)
        return out


def _media_matches(pattern: str, ctype: str) -> bool:
    if pattern == "*/*":
        return True
    if pattern.endswith("/*"):
        return ctype.startswith(pattern[:-1])
    return pattern == ctype


def v1_event(call: Call, binary_types: list[str] | None = None, http_api: bool = False) -> Any:
    """The REST API proxy event (also HTTP APIs' payload format 1.0)."""
    headers = dict(call.req.headers)
    multi_query = call.query_multi()
    body, encoded = call.body(binary_types)
    context: dict[str, Any] = {
        "accountId": call.account,
        "apiId": call.api_id,
        "domainName": call.domain,
        "domainPrefix": call.domain.split(".")[0],
        "extendedRequestId": call.request_id,
        "httpMethod": call.req.method,
        "identity": call.identity(),
        "path": f"/{call.stage}{call.path}" if call.stage != "$default" else call.path,
        "protocol": "HTTP/1.1",
        "requestId": call.request_id,
        "requestTime": call.request_time(),
        "requestTimeEpoch": int(call.started * 1000),
        "resourceId": call.resource_id or call.route_key,
        "resourcePath": call.resource_path,
        "stage": call.stage,
    }
    if call.authorizer is not None:
        context["authorizer"] = call.authorizer
    event: dict[str, Any] = {
        "resource": call.resource_path,
        "path": call.path,
        "httpMethod": call.req.method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": call.path_params or None,
        "stageVariables": call.stage_vars or None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": encoded,
    }
    if http_api:
        event["version"] = "1.0"
        context["routeKey"] = call.route_key
    return event


def v2_event(call: Call) -> dict[str, Any]:
    """HTTP APIs' payload format 2.0 event."""
    req = call.req
    headers = {k: v for k, v in req.headers.items() if k != "cookie"}
    query = {k: ",".join(v) for k, v in call.query_multi().items()}
    body, encoded = call.body()
    context: dict[str, Any] = {
        "accountId": call.account,
        "apiId": call.api_id,
        "domainName": call.domain,
        "domainPrefix": call.domain.split(".")[0],
        "http": {
            "method": req.method,
            "path": unquote(req.path) if call.stage == "$default" else call.path,
            "protocol": "HTTP/1.1",
            "sourceIp": req.client_ip or "127.0.0.1",
            "userAgent": req.headers.get("user-agent", ""),
        },
        "requestId": call.request_id,
        "routeKey": call.route_key,
        "stage": call.stage,
        "time": call.request_time(),
        "timeEpoch": int(call.started * 1000),
    }
    if call.authorizer is not None:
        context["authorizer"] = call.authorizer
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": call.route_key,
        "rawPath": call.path if call.stage == "$default" else f"/{call.stage}{call.path}",
        "rawQueryString": req.query_string,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": encoded,
    }
    if req.headers.get("cookie"):
        event["cookies"] = [c.strip() for c in req.headers["cookie"].split(";")]
    if query:
        event["queryStringParameters"] = query
    if call.path_params:
        event["pathParameters"] = call.path_params
    if call.stage_vars:
        event["stageVariables"] = call.stage_vars
    if body is not None:
        event["body"] = body
    return event


def function_arn(uri: str) -> str:
    """The function an integration URI names (the apigateway ``.../functions/<arn>/
    invocations`` form, or a bare function ARN as HTTP APIs accept)."""
    found = FUNCTION_IN_URI.search(uri)
    return found.group("arn") if found else uri


@dataclass
class LambdaAnswer:
    payload: bytes
    error: str | None
    """The function's error type when it failed (Unhandled, or what it raised)."""


async def invoke(env: Environment, uri: str, payload: Any, account: str, region: str) -> Any:
    """Call the function an integration names, synchronously, as the API's account."""
    arn = function_arn(uri)
    parts = arn.split(":")
    if len(parts) >= 5 and parts[0] == "arn":
        region, account = parts[3] or region, parts[4] or account
    lam = await env.providers.ready("lambda")
    ctx = RequestContext(
        account_id=account,
        region=region,
        request_id=ids.request_id(),
        service="lambda",
        operation="Invoke",
        principal=accounts.root_principal(account, account),
        request=HttpRequest("POST", "/", headers={"host": "apigateway.amazonaws.com"}),
        protocol="apigateway",
    )
    out = await lam.invoke(  # type: ignore[attr-defined]
        ctx, {"FunctionName": arn, "Payload": json.dumps(payload).encode()}
    )
    return LambdaAnswer(bytes(out["Payload"]), out.get("FunctionError"))


async def call_function(
    env: Environment, uri: str, payload: Any, account: str, region: str
) -> LambdaAnswer | None:
    """None when the function could not be called at all (missing, throttled)."""
    try:
        return await invoke(env, uri, payload, account, region)
    except ServiceError:
        return None


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    out = {"content-type": "application/json"}
    out.update(headers or {})
    return HttpResponse(status, out, json.dumps(body).encode())


def v1_response(answer: LambdaAnswer | None) -> HttpResponse:
    """What a REST API (or payload 1.0) answers for the function's result: a response object
    of statusCode, headers, multiValueHeaders, body and isBase64Encoded, else a 502."""
    if answer is None or answer.error:
        return json_reply(502, INTERNAL_ERROR)
    try:
        value = json.loads(answer.payload)
    except ValueError:
        return json_reply(502, INTERNAL_ERROR)
    allowed = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
    if not isinstance(value, dict) or set(value) - allowed:
        return json_reply(502, INTERNAL_ERROR)
    try:
        status = int(value.get("statusCode") or 200)
        body = value.get("body")
        if body is not None and not isinstance(body, str):
            return json_reply(502, INTERNAL_ERROR)
        headers: dict[str, str] = {}
        for key, values in (value.get("multiValueHeaders") or {}).items():
            headers[str(key).lower()] = ", ".join(str(v) for v in values)
        for key, one in (value.get("headers") or {}).items():
            headers[str(key).lower()] = str(one)
        data = (
            base64.b64decode(body)
            if body and value.get("isBase64Encoded")
            else (body or "").encode()
        )
    except (TypeError, ValueError, AttributeError):
        return json_reply(502, INTERNAL_ERROR)
    headers.setdefault("content-type", "application/json")
    return HttpResponse(status, headers, data)


def v2_response(answer: LambdaAnswer | None) -> HttpResponse:
    """Payload format 2.0: a response object, or any JSON value (a 200 with it as the body)."""
    if answer is None or answer.error:
        return json_reply(502, INTERNAL_ERROR)
    try:
        value = json.loads(answer.payload)
    except ValueError:
        return json_reply(502, INTERNAL_ERROR)
    if not isinstance(value, dict) or "statusCode" not in value:
        if isinstance(value, str):
            return HttpResponse(200, {"content-type": "application/json"}, value.encode())
        return HttpResponse(200, {"content-type": "application/json"}, answer.payload)
    try:
        status = int(value["statusCode"])
        headers = {str(k).lower(): str(v) for k, v in (value.get("headers") or {}).items()}
        body = value.get("body")
        if body is None:
            data = b""
        elif not isinstance(body, str):
            data = json.dumps(body).encode()
        elif value.get("isBase64Encoded"):
            data = base64.b64decode(body)
        else:
            data = body.encode()
        if value.get("cookies"):
            headers["set-cookie"] = ", ".join(str(c) for c in value["cookies"])
    except (TypeError, ValueError, AttributeError):
        return json_reply(502, INTERNAL_ERROR)
    headers.setdefault("content-type", "application/json")
    return HttpResponse(status, headers, data)


def record_metrics(
    env: Environment, call: Call, status: int, integration_seconds: float, http_api: bool = False
) -> None:
    """AWS/ApiGateway's per-request metrics (REST APIs by ApiName and Stage, HTTP APIs by
    ApiId and Stage; the ``4xx``/``5xx`` names HTTP APIs use)."""
    dims = {"ApiId" if http_api else "ApiName": call.api_id, "Stage": call.stage}
    client, server = ("4xx", "5xx") if http_api else ("4XXError", "5XXError")
    latency = round((clock.now() - call.started) * 1000, 3)
    for name, value, unit in (
        ("Count", 1.0, "Count"),
        (client, 1.0 if 400 <= status < 500 else 0.0, "Count"),
        (server, 1.0 if status >= 500 else 0.0, "Count"),
        ("Latency", latency, "Milliseconds"),
        ("IntegrationLatency", round(integration_seconds * 1000, 3), "Milliseconds"),
    ):
        env.metrics.record(call.account, call.region, "AWS/ApiGateway", name, value, unit, dims)


_CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z][A-Za-z0-9.]*[A-Za-z0-9])")


def access_log(
    env: Environment, call: Call, destination: str, fmt: str, status: int, length: int
) -> None:
    """One access log line, the stage's format with its ``$context`` variables put in, to the
    CloudWatch Logs group the stage names (a stream per stage). A group that is gone loses
    the line, as API Gateway's delivery does."""
    latency = int((clock.now() - call.started) * 1000)
    values: dict[str, Any] = {
        "requestId": call.request_id,
        "extendedRequestId": call.request_id,
        "apiId": call.api_id,
        "stage": call.stage,
        "httpMethod": call.req.method,
        "path": call.path,
        "resourcePath": call.resource_path,
        "resourceId": call.resource_id,
        "routeKey": call.route_key,
        "protocol": "HTTP/1.1",
        "status": status,
        "responseLength": length,
        "responseLatency": latency,
        "requestTime": call.request_time(),
        "requestTimeEpoch": int(call.started * 1000),
        "domainName": call.domain,
        "accountId": call.account,
        "identity.sourceIp": call.req.client_ip or "127.0.0.1",
        "identity.userAgent": call.req.headers.get("user-agent", ""),
        "identity.apiKey": call.req.headers.get("x-api-key", ""),
        "authorizer.principalId": (call.authorizer or {}).get("principalId", ""),
    }
    line = _CONTEXT_VARIABLE.sub(lambda m: str(values.get(m.group(1), "-")), fmt)
    group = destination.split(":log-group:", 1)[-1].removesuffix(":*")
    stream = f"{call.api_id}-{call.stage}".replace("$", "")
    write_log(env, call.account, call.region, group, stream, [line], call.started)


def write_log(
    env: Environment,
    account: str,
    region: str,
    group: str,
    stream: str,
    lines: list[str],
    when: float,
    make_group: bool = False,
) -> None:
    """Lines to a CloudWatch Logs stream, made when missing (and its group, for the groups
    API Gateway owns). A group that is gone loses the lines, as API Gateway's delivery does."""
    events = [{"timestamp": int(when * 1000), "message": line} for line in lines]
    put = {"logGroupName": group, "logStreamName": stream, "logEvents": events}
    try:
        env.providers.invoke("logs", "PutLogEvents", put, account, region)
        return
    except ServiceError as err:
        if err.code != "ResourceNotFoundException":
            return
    try:
        if make_group:
            try:
                env.providers.invoke(
                    "logs", "CreateLogGroup", {"logGroupName": group}, account, region
                )
            except ServiceError as err:
                if err.code != "ResourceAlreadyExistsException":
                    return
        try:
            env.providers.invoke(
                "logs",
                "CreateLogStream",
                {"logGroupName": group, "logStreamName": stream},
                account,
                region,
            )
        except ServiceError as err:
            if err.code != "ResourceAlreadyExistsException":
                return
        env.providers.invoke("logs", "PutLogEvents", put, account, region)
    except ServiceError:
        return


def execution_log(env: Environment, call: Call, level: str, status: int, detail: str) -> None:
    """The stage's execution log (method settings' loggingLevel INFO or ERROR) in the group
    API Gateway makes, ``API-Gateway-Execution-Logs_<api id>/<stage>``."""
    if level not in ("INFO", "ERROR") or (level == "ERROR" and status < 400):
        return
    rid = call.request_id
    lines = [
        f"({rid}) Extended Request Id: {rid}",
        f"({rid}) Verifying Usage Plan for request: {rid}. API Key:  API Stage: "
        f"{call.api_id}/{call.stage}",
        f"({rid}) Starting execution for request: {rid}",
        f"({rid}) HTTP Method: {call.req.method}, Resource Path: {call.path}",
        f"({rid}) Method request path: {json.dumps(call.path_params)}",
        f"({rid}) Method request query string: "
        f"{json.dumps({k: v[-1] for k, v in call.query_multi().items()})}",
    ]
    if detail:
        lines.append(f"({rid}) {detail}")
    lines.append(f"({rid}) Method completed with status: {status}")
    write_log(
        env,
        call.account,
        call.region,
        f"API-Gateway-Execution-Logs_{call.api_id}/{call.stage}",
        rid,
        lines,
        call.started,
        make_group=True,
    )
