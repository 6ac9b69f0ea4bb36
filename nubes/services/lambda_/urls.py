"""Function URLs: an HTTP endpoint on nubes that invokes a function with the payload format 2.0
event, as ``http://<url-id>.lambda-url.<region>.localhost.localstack.cloud:<port>/`` and, for
clients without wildcard DNS, ``http://localhost:<port>/_aws/lambda-url/<url-id>/``. CORS
settings are honoured (preflight answered by nubes, headers added to responses).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from nubes.core import clock, ids
from nubes.core.arns import arn
from nubes.core.context import RequestContext
from nubes.protocol.base import HttpRequest, HttpResponse, ServiceError
from nubes.services.lambda_ import configuration as cfg
from nubes.services.lambda_.errors import errors
from nubes.services.lambda_.models import LATEST, Scope
from nubes.services.lambda_.parts import FunctionAccess

if TYPE_CHECKING:
    pass

URL_HOST = re.compile(r"^(?P<id>[a-z0-9]{32})\.lambda-url\.(?P<region>[a-z0-9-]+)\.")
URL_PATH = re.compile(r"^/_aws/lambda-url/(?P<id>[a-z0-9]{32})(?P<rest>/.*)?$")
_ID_CHARS = string.ascii_lowercase + string.digits


class FunctionUrls(FunctionAccess):
    """Mixed into the Lambda provider."""

    blobs: Any

    # -- API ---------------------------------------------------------------------------------

    def create_function_url_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        self._url_qualifier(scope, name, qualifier)
        key = qualifier or LATEST
        function_arn = scope.function_arn(name, qualifier)
        if self.model.url(scope, name, key) is not None:
            raise errors.ResourceConflictException(
                f"Failed to create function url config for [functionArn = {function_arn}]. "
                "Error message:  FunctionUrlConfig exists for this Lambda function",
                Type="User",
            )
        url_id = "".join(secrets.choice(_ID_CHARS) for _ in range(32))
        now = cfg.timestamp()
        doc: dict[str, Any] = {
            "FunctionUrl": _url(ctx, url_id),
            "FunctionArn": function_arn,
            "AuthType": req["AuthType"],
            "CreationTime": now,
            "LastModifiedTime": now,
            "InvokeMode": req.get("InvokeMode") or "BUFFERED",
        }
        if req.get("Cors"):
            doc["Cors"] = req["Cors"]
        self.model.put_url(scope, name, key, url_id, doc)
        return {k: v for k, v in doc.items() if k != "LastModifiedTime"}

    def _url_qualifier(self, scope: Scope, name: str, qualifier: str | None) -> None:
        if qualifier and qualifier.isdigit():
            raise errors.InvalidParameterValueException(
                "Function URLs can only be configured for an alias or $LATEST, not a version."
            )
        self.version_of(scope, name, qualifier)

    def _url_row(self, ctx: RequestContext, req: dict[str, Any]) -> tuple[Scope, str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        self.version_of(scope, name, None)
        row = self.model.url(scope, name, qualifier or LATEST)
        if row is None:
            raise errors.ResourceNotFoundException(
                "The resource you requested does not exist.", Type="User"
            )
        return scope, name, row

    def get_function_url_config(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        _, _, row = self._url_row(ctx, req)
        return dict(json.loads(row["doc"]))

    def update_function_url_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, row = self._url_row(ctx, req)
        doc = json.loads(row["doc"])
        for member in ("AuthType", "Cors", "InvokeMode"):
            if member in req:
                doc[member] = req[member]
        doc["LastModifiedTime"] = cfg.timestamp()
        self.model.put_url(scope, name, row["qualifier"], row["url_id"], doc)
        return dict(doc)

    def delete_function_url_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        _, _, row = self._url_row(ctx, req)
        self.model.delete_url(row["url_id"])
        return {}

    def list_function_url_configs(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.version_of(scope, name, None)
        return {"FunctionUrlConfigs": [json.loads(r["doc"]) for r in self.model.urls(scope, name)]}

    # -- HTTP --------------------------------------------------------------------------------

    def install_url_gateway(self) -> None:
        self.env.gateway.interceptors.append(self._serve_http)

    async def _serve_http(self, req: HttpRequest) -> HttpResponse | None:
        found = URL_HOST.match(req.host)
        path = req.path
        if found is None:
            by_path = URL_PATH.match(req.path)
            if by_path is None:
                return None
            found, path = by_path, by_path.group("rest") or "/"
        with self.store.transaction():
            row = self.model.url_by_id(found.group("id"))
        if row is None:
            return _reply(404, {"Message": None})
        doc = json.loads(row["doc"])
        cors = doc.get("Cors") or {}
        origin = req.headers.get("origin")
        if req.method == "OPTIONS" and origin and cors:
            return _preflight(cors, origin, req)
        if not self._url_allowed(row, doc, req):
            return _reply(403, {"Message": "Forbidden"})
        response = await self._invoke_url(row, doc, req, path)
        if origin and cors and _origin_allowed(cors, origin):
            response.headers.update(_cors_headers(cors, origin))
        return response

    def _url_allowed(self, row: Any, doc: dict[str, Any], req: HttpRequest) -> bool:
        """``AWS_IAM``: a SigV4-signed caller allowed ``lambda:InvokeFunctionUrl``; ``NONE``:
        anyone the function's resource policy lets invoke its URL. Without IAM enforcement only
        the presence of a signature is asked for."""
        from nubes.core import accounts
        from nubes.gateway.auth import read_credentials
        from nubes.gateway.enforce import anonymous_context, running_enforcer

        auth_type = doc["AuthType"]
        enforcer = running_enforcer(self.env)
        if enforcer is None:
            return auth_type != "AWS_IAM" or "authorization" in req.headers
        ctx = anonymous_context(self.env, "lambda", "InvokeFunctionUrl", req)
        ctx.account_id, ctx.region = row["account"], row["region"]
        params: dict[str, Any] = {
            "FunctionName": arn("lambda", row["region"], row["account"], f"function:{row['name']}"),
            "FunctionUrlAuthType": auth_type,
        }
        if row["qualifier"] != LATEST:
            params["Qualifier"] = row["qualifier"]
            params["FunctionName"] += f":{row['qualifier']}"
        try:
            record = enforcer.anonymous
            if auth_type == "AWS_IAM":
                creds = read_credentials(req)
                ctx.principal = accounts.resolve(creds.access_key_id if creds else "", "")
                record = enforcer.authenticate(ctx, None)
                ctx.principal = record.principal
            enforcer.authorize(ctx, "InvokeFunctionUrl", params, record)
        except ServiceError:
            return False
        return True

    async def _invoke_url(
        self, row: Any, doc: dict[str, Any], req: HttpRequest, path: str
    ) -> HttpResponse:
        scope = Scope(row["account"], row["region"])
        qualifier = None if row["qualifier"] == LATEST else row["qualifier"]
        request_id = ids.request_id()
        try:
            with self.store.transaction():
                target = self.target(scope, row["name"], qualifier)
            event = _event(req, path, row, request_id)
            result = await self.run(target, json.dumps(event).encode(), request_id)
        except ServiceError as err:
            if err.code == "TooManyRequestsException":
                return _reply(429, {"Message": "Rate Exceeded."})
            return _reply(502, {"Message": "Internal Server Error"})
        if result.function_error:
            return _reply(502, {"Message": "Internal Server Error"})
        return _response(result.payload)


def _url(ctx: RequestContext, url_id: str) -> str:
    port = ctx.request.host.rpartition(":")[2] if ":" in ctx.request.host else ""
    suffix = f":{port}" if port.isdigit() else ""
    return f"http://{url_id}.lambda-url.{ctx.region}.localhost.localstack.cloud{suffix}/"


def _event(req: HttpRequest, path: str, row: Any, request_id: str) -> dict[str, Any]:
    """The payload format 2.0 event a function URL sends."""
    headers = {k: v for k, v in req.headers.items() if k != "cookie"}
    query: dict[str, str] = {}
    for key, value in parse_qsl(req.query_string, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = clock.now()
    moment = datetime.fromtimestamp(now, UTC)
    body = req.read_body()
    text_body: str | None = None
    encoded = False
    if body:
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            text_body, encoded = base64.b64encode(body).decode(), True
    domain = req.host.split(":")[0]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": unquote(path),
        "rawQueryString": req.query_string,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": row["url_id"],
            "domainName": domain,
            "domainPrefix": row["url_id"],
            "http": {
                "method": req.method,
                "path": unquote(path),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": req.headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if req.headers.get("cookie"):
        event["cookies"] = [c.strip() for c in req.headers["cookie"].split(";")]
    if query:
        event["queryStringParameters"] = query
    if text_body is not None:
        event["body"] = text_body
    return event


def _response(payload: bytes) -> HttpResponse:
    """The HTTP response for what the function returned (a response object, or any JSON value
    which becomes a 200 application/json body)."""
    try:
        value = json.loads(payload)
    except ValueError:
        return HttpResponse(200, {"content-type": "application/json"}, payload)
    if not isinstance(value, dict) or "statusCode" not in value:
        return HttpResponse(200, {"content-type": "application/json"}, payload)
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
    headers.setdefault("content-type", "application/json")
    if value.get("cookies"):
        headers["set-cookie"] = ", ".join(value["cookies"])
    return HttpResponse(int(value["statusCode"]), headers, data)


def _reply(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(body).encode())


def _origin_allowed(cors: dict[str, Any], origin: str) -> bool:
    allowed = cors.get("AllowOrigins") or []
    return "*" in allowed or origin in allowed


def _cors_headers(cors: dict[str, Any], origin: str) -> dict[str, str]:
    allowed = cors.get("AllowOrigins") or []
    headers = {"access-control-allow-origin": "*" if "*" in allowed else origin}
    if cors.get("AllowCredentials"):
        headers["access-control-allow-credentials"] = "true"
        headers["access-control-allow-origin"] = origin
    if cors.get("ExposeHeaders"):
        headers["access-control-expose-headers"] = ",".join(cors["ExposeHeaders"])
    return headers


def _preflight(cors: dict[str, Any], origin: str, req: HttpRequest) -> HttpResponse:
    if not _origin_allowed(cors, origin):
        return HttpResponse(200, {}, b"")
    headers = _cors_headers(cors, origin)
    methods = cors.get("AllowMethods") or []
    wanted = req.headers.get("access-control-request-method", "")
    if methods and ("*" in methods or wanted in methods):
        headers["access-control-allow-methods"] = "*" if "*" in methods else ",".join(methods)
    if cors.get("AllowHeaders"):
        headers["access-control-allow-headers"] = ",".join(cors["AllowHeaders"])
    if cors.get("MaxAge") is not None:
        headers["access-control-max-age"] = str(cors["MaxAge"])
    return HttpResponse(200, headers, b"")
