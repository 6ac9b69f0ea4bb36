"""HTTP APIs answering on their invoke URL: the stage (``$default`` without a prefix), the
route (most specific path, then ``$default``), CORS, Lambda authorizers (simple or IAM-policy
answers) and JWT authorizers, then the integration (Lambda proxy in payload format 1.0 or 2.0,
HTTP_PROXY)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nubes.core import arns, clock
from nubes.protocol.base import HttpResponse
from nubes.runtime.apigateway.guard import Authorizers, UsagePlans, iam_caller
from nubes.runtime.apigateway.proxy import (
    INTERNAL_ERROR,
    Call,
    access_log,
    call_function,
    json_reply,
    record_metrics,
    v1_event,
    v1_response,
    v2_event,
    v2_response,
)
from nubes.runtime.apigateway.rest import forward, match_template

if TYPE_CHECKING:
    from nubes.app import Environment

NOT_FOUND = {"message": "Not Found"}
UNAUTHORIZED = {"message": "Unauthorized"}


def pick_stage(api: dict[str, Any], path: str) -> tuple[str, str] | None:
    """(stage name, path within it): a stage named by the first segment, else ``$default``
    which takes the whole path."""
    stages = api.get("stages") or {}
    first, _, rest = path.lstrip("/").partition("/")
    if first and first in stages and first != "$default":
        return first, "/" + rest
    if "$default" in stages:
        return "$default", path or "/"
    return None


def match_route(
    routes: dict[str, Any], method: str, path: str
) -> tuple[dict[str, Any], dict[str, str]] | None:
    segments = [s for s in path.split("/") if s]
    best: tuple[tuple[Any, ...], dict[str, Any], dict[str, str]] | None = None
    fallback = None
    for route in routes.values():
        key = route["RouteKey"]
        if key == "$default":
            fallback = route
            continue
        verb, _, template = key.partition(" ")
        if verb not in (method, "ANY"):
            continue
        params = match_template(template, segments)
        if params is None:
            continue
        score = (
            tuple(
                0 if s.endswith("+}") else 1 if s.startswith("{") else 2
                for s in template.split("/")
                if s
            ),
            verb != "ANY",
        )
        if best is None or score > best[0]:
            best = (score, route, params)
    if best is not None:
        return best[1], best[2]
    return (fallback, {}) if fallback is not None else None


class HttpPlane:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.authorizers = Authorizers(env)
        self.throttles = UsagePlans()

    def reset(self) -> None:
        self.authorizers.forget()
        self.throttles = UsagePlans()

    async def answer(
        self, call: Call, api: dict[str, Any], stage: str | None = None
    ) -> HttpResponse:
        """``stage`` when the request's address already named it (a custom domain's API
        mapping); else the path's first segment does, or ``$default`` takes it all."""
        cors = api.get("CorsConfiguration") or {}
        origin = call.req.headers.get("origin")
        if cors and origin and call.req.method == "OPTIONS":
            return preflight(cors, origin, call.req.headers)
        response = await self._answer(call, api, stage)
        if cors and origin and _origin_allowed(cors, origin):
            response.headers.update(_cors_headers(cors, origin))
        return response

    async def _answer(
        self, call: Call, api: dict[str, Any], stage_name: str | None
    ) -> HttpResponse:
        found = pick_stage(api, call.path) if stage_name is None else (stage_name, call.path)
        if found is not None and found[0] not in (api.get("stages") or {}):
            found = None
        if found is None:
            return json_reply(404, NOT_FOUND)
        call.stage, call.path = found
        stage = api["stages"][call.stage]
        config = api
        if not stage.get("AutoDeploy"):
            deployment = (api.get("deployments") or {}).get(stage.get("DeploymentId") or "")
            if deployment is None:
                return json_reply(404, NOT_FOUND)
            config = deployment["snapshot"]
        call.stage_vars = dict(stage.get("StageVariables") or {})
        matched = match_route(config.get("routes") or {}, call.req.method, call.path)
        if matched is None:
            return json_reply(404, NOT_FOUND)
        route, call.path_params = matched
        call.route_key = route["RouteKey"]
        call.resource_path = route["RouteKey"].partition(" ")[2] or route["RouteKey"]
        setting = (stage.get("RouteSettings") or {}).get(call.route_key) or stage.get(
            "DefaultRouteSettings"
        )
        if setting and not self.throttles.take(
            ("route", call.api_id, call.stage, call.route_key),
            setting.get("ThrottlingRateLimit"),
            setting.get("ThrottlingBurstLimit"),
        ):
            return json_reply(429, {"message": "Too Many Requests"})
        refused = await self._authorize(call, config, route)
        if refused is not None:
            return refused
        target = route.get("Target") or ""
        integration = (config.get("integrations") or {}).get(target.rpartition("/")[2])
        if integration is None:
            return json_reply(500, INTERNAL_ERROR)
        started = clock.now()
        kind = integration.get("IntegrationType")
        if kind == "AWS_PROXY":
            if integration.get("PayloadFormatVersion") == "1.0":
                event = v1_event(call, http_api=True)
                answer = await call_function(
                    self.env, integration["IntegrationUri"], event, call.account, call.region
                )
                response = v1_response(answer)
            else:
                answer = await call_function(
                    self.env,
                    integration["IntegrationUri"],
                    v2_event(call),
                    call.account,
                    call.region,
                )
                response = v2_response(answer)
        elif kind == "HTTP_PROXY":
            url = integration["IntegrationUri"]
            for name, value in call.path_params.items():
                url = url.replace("{" + name + "+}", value).replace("{" + name + "}", value)
            if call.req.query_string:
                url += ("&" if "?" in url else "?") + call.req.query_string
            verb = integration.get("IntegrationMethod") or "ANY"
            headers = {k: v for k, v in call.req.headers.items() if k not in ("host", "connection")}
            response = await forward(
                call.req.method if verb == "ANY" else verb, url, headers, call.req.read_body()
            )
        else:
            response = json_reply(500, INTERNAL_ERROR)
        record_metrics(self.env, call, response.status, clock.now() - started, http_api=True)
        logs = stage.get("AccessLogSettings") or {}
        if logs.get("DestinationArn") and logs.get("Format"):
            body = response.body if isinstance(response.body, bytes) else b""
            access_log(
                self.env, call, logs["DestinationArn"], logs["Format"], response.status, len(body)
            )
        return response

    async def _authorize(
        self, call: Call, config: dict[str, Any], route: dict[str, Any]
    ) -> HttpResponse | None:
        kind = route.get("AuthorizationType") or "NONE"
        if kind == "NONE":
            return None
        if kind == "AWS_IAM":
            call.iam_identity, refused = iam_caller(self.env, call)
            if refused is not None:
                return json_reply(403, {"message": "Forbidden"})
            call.authorizer = {"iam": dict(call.iam_identity)}
            return None
        authorizer = (config.get("authorizers") or {}).get(route.get("AuthorizerId") or "")
        if authorizer is None:
            return json_reply(500, INTERNAL_ERROR)
        if kind == "JWT":
            from nubes.runtime.apigateway.cognito import pool_keys
            from nubes.runtime.apigateway.jwt import check_jwt

            env = self.env
            claims, refusal = await check_jwt(call, authorizer, route, lambda i: pool_keys(env, i))
            if refusal is not None:
                return refusal
            call.authorizer = {"jwt": {"claims": claims, "scopes": None}}
            return None
        sources = list(authorizer.get("IdentitySource") or [])
        values = [_identity_value(call, s) for s in sources]
        if sources and not all(values):
            return json_reply(401, UNAUTHORIZED)
        route_arn = arns.arn(
            "execute-api",
            call.region,
            call.account,
            f"{call.api_id}/{call.stage}/{call.req.method}{call.path}",
        )
        version = authorizer.get("AuthorizerPayloadFormatVersion") or "2.0"

        def event() -> dict[str, Any]:
            if version == "1.0":
                return {"type": "REQUEST", "methodArn": route_arn, **v1_event(call, http_api=True)}
            return {
                "type": "REQUEST",
                "routeArn": route_arn,
                "identitySource": [v or "" for v in values],
                **v2_event(call),
            }

        ttl = authorizer.get("AuthorizerResultTtlInSeconds")
        decided = await self.authorizers.decide(
            {
                "api": call.api_id,
                "id": authorizer["AuthorizerId"],
                "authorizerUri": authorizer.get("AuthorizerUri") or "",
                "authorizerResultTtlInSeconds": 0 if ttl is None else ttl,
            },
            "\x00".join(v or "" for v in values) if sources else "",
            event,
            call.account,
            call.region,
            route_arn,
            simple=bool(authorizer.get("EnableSimpleResponses")),
        )
        if decided.response is not None and decided.response.status == 403:
            return json_reply(403, {"message": "Forbidden"})
        if decided.context is not None and not authorizer.get("EnableSimpleResponses"):
            decided.context = {"lambda": decided.context} if version == "2.0" else decided.context
        call.authorizer = decided.context
        return decided.response


def _identity_value(call: Call, source: str) -> str | None:
    if source.startswith("$request.header."):
        return call.req.headers.get(source[len("$request.header.") :].lower())
    if source.startswith("$request.querystring."):
        values = call.query_multi().get(source[len("$request.querystring.") :])
        return values[-1] if values else None
    if source.startswith("$stageVariables."):
        return call.stage_vars.get(source[len("$stageVariables.") :])
    if source.startswith("$context."):
        return call.request_id if source == "$context.requestId" else None
    return None


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


def preflight(cors: dict[str, Any], origin: str, request_headers: dict[str, str]) -> HttpResponse:
    """API Gateway answers an HTTP API's CORS preflight itself, without calling a route."""
    if not _origin_allowed(cors, origin):
        return HttpResponse(204, {}, b"")
    headers = _cors_headers(cors, origin)
    methods = cors.get("AllowMethods") or []
    wanted = request_headers.get("access-control-request-method", "")
    if methods and ("*" in methods or wanted in methods):
        headers["access-control-allow-methods"] = "*" if "*" in methods else ",".join(methods)
    if cors.get("AllowHeaders"):
        headers["access-control-allow-headers"] = ",".join(cors["AllowHeaders"])
    if cors.get("MaxAge") is not None:
        headers["access-control-max-age"] = str(cors["MaxAge"])
    return HttpResponse(204, headers, b"")
