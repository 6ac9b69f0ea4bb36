"""REST APIs answering on their invoke URL: resource and method matching against the stage's
deployment, API keys and usage plans, Lambda authorizers, then the integration (AWS_PROXY,
AWS Lambda with mapping templates, HTTP and HTTP_PROXY, MOCK) and its response mapping."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from nubes.core import clock
from nubes.protocol.base import HttpResponse
from nubes.runtime.apigateway import cognito, validators, vtl
from nubes.runtime.apigateway.guard import Authorizers, UsagePlans, iam_caller
from nubes.runtime.apigateway.proxy import (
    INTERNAL_ERROR,
    Call,
    access_log,
    call_function,
    execution_log,
    json_reply,
    record_metrics,
    v1_event,
    v1_response,
)

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.runtime.apigateway.docs import Docs

MISSING_TOKEN = {"message": "Missing Authentication Token"}
FORBIDDEN = {"message": "Forbidden"}
HTTP_TIMEOUT = 29.0


def match_resource(
    resources: dict[str, Any], path: str, method: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]] | None:
    """(resource, method, path parameters) for the most specific resource whose path matches:
    literal segments beat ``{param}`` ones, which beat a greedy ``{proxy+}``."""
    segments = [s for s in path.split("/") if s]
    best: tuple[tuple[int, ...], dict[str, Any], dict[str, str]] | None = None
    for resource in resources.values():
        params = match_template(resource["path"], segments)
        if params is None:
            continue
        methods = resource.get("resourceMethods") or {}
        if method not in methods and "ANY" not in methods:
            continue
        score = tuple(
            0 if s.endswith("+}") else 1 if s.startswith("{") else 2
            for s in resource["path"].split("/")
            if s
        )
        if best is None or score > best[0]:
            best = (score, resource, params)
    if best is None:
        return None
    methods = best[1]["resourceMethods"]
    return best[1], methods.get(method) or methods["ANY"], best[2]


def match_template(template: str, segments: list[str]) -> dict[str, str] | None:
    parts = [p for p in template.split("/") if p]
    params: dict[str, str] = {}
    for i, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            if i >= len(segments):
                return None
            params[part[1:-2]] = "/".join(segments[i:])
            return params
        if i >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = segments[i]
        elif part != segments[i]:
            return None
    return params if len(parts) == len(segments) else None


class RestPlane:
    def __init__(self, env: Environment, docs: Docs) -> None:
        self.env = env
        self.docs = docs
        self.plans = UsagePlans()
        self.authorizers = Authorizers(env)

    def reset(self) -> None:
        self.plans = UsagePlans()
        self.authorizers.forget()

    async def answer(self, call: Call, api: dict[str, Any]) -> HttpResponse:
        stage = (api.get("stages") or {}).get(call.stage)
        if stage is None:
            return json_reply(403, FORBIDDEN)
        deployment = (api.get("deployments") or {}).get(stage.get("deploymentId") or "")
        if deployment is None:
            return json_reply(403, FORBIDDEN)
        call.stage_vars = dict(stage.get("variables") or {})
        found = match_resource(deployment["resources"], call.path, call.req.method)
        if found is None:
            return json_reply(403, MISSING_TOKEN)
        resource, method, call.path_params = found
        call.resource_path, call.resource_id = resource["path"], resource["id"]
        validator = (deployment.get("validators") or {}).get(method.get("requestValidatorId") or "")
        if validator is not None:
            message = validators.problem(call, method, validator, deployment.get("models") or {})
            if message is not None:
                return json_reply(400, {"message": message})
        settings = stage.get("methodSettings") or {}
        setting = settings.get(f"{resource['path'].lstrip('/')}/{call.req.method}") or settings.get(
            "*/*"
        )
        if setting and not self.plans.take(
            ("stage", call.api_id, call.stage, resource["id"], call.req.method),
            setting.get("throttlingRateLimit"),
            setting.get("throttlingBurstLimit"),
        ):
            return json_reply(429, {"message": "Too Many Requests"})
        refused = self._usage(call, api, method)
        if refused is not None:
            return refused
        refused = await self._authorize(call, api, method)
        if refused is not None:
            return refused
        integration = method.get("methodIntegration")
        if integration is None:
            return json_reply(500, INTERNAL_ERROR)
        kind = integration.get("type")
        started = clock.now()
        if kind == "AWS_PROXY":
            answer = await call_function(
                self.env,
                integration.get("uri", ""),
                v1_event(call, api.get("binaryMediaTypes")),
                call.account,
                call.region,
            )
            response = v1_response(answer)
        elif kind == "HTTP_PROXY":
            response = await self._http_proxy(call, integration)
        else:
            try:
                response = await self._mapped(call, api, integration)
            except vtl.TemplateError:
                response = json_reply(500, INTERNAL_ERROR)
        record_metrics(self.env, call, response.status, clock.now() - started)
        level = (setting or {}).get("loggingLevel") or "OFF"
        if level != "OFF":
            detail = f"Endpoint response status: {response.status}" if kind != "MOCK" else ""
            execution_log(self.env, call, level, response.status, detail)
        logs = stage.get("accessLogSettings") or {}
        if logs.get("destinationArn") and logs.get("format"):
            body = response.body if isinstance(response.body, bytes) else b""
            access_log(
                self.env, call, logs["destinationArn"], logs["format"], response.status, len(body)
            )
        return response

    # -- before the integration ---------------------------------------------------------------

    def _usage(
        self, call: Call, api: dict[str, Any], method: dict[str, Any]
    ) -> HttpResponse | None:
        if not method.get("apiKeyRequired"):
            return None
        value = call.req.headers.get("x-api-key")
        if not value:
            return json_reply(403, FORBIDDEN)
        key = next(
            (
                k
                for k in self.docs.all(call.account, call.region, "apikey")
                if k["value"] == value and k.get("enabled")
            ),
            None,
        )
        if key is None:
            return json_reply(403, FORBIDDEN)
        for plan in self.docs.all(call.account, call.region, "usageplan"):
            stages = plan.get("apiStages") or []
            if key["id"] not in (plan.get("keys") or {}):
                continue
            if any(s.get("apiId") == call.api_id and s.get("stage") == call.stage for s in stages):
                return self.plans.admit(plan, key["id"])
        return json_reply(403, FORBIDDEN)

    async def _authorize(
        self, call: Call, api: dict[str, Any], method: dict[str, Any]
    ) -> HttpResponse | None:
        if method.get("authorizationType") == "AWS_IAM":
            call.iam_identity, refused = iam_caller(self.env, call)
            return refused
        if method.get("authorizationType") == "COGNITO_USER_POOLS":
            return cognito.authorize_rest(self.env, call, api, method)
        if method.get("authorizationType") != "CUSTOM":
            return None
        authorizer = (api.get("authorizers") or {}).get(method.get("authorizerId") or "")
        if authorizer is None:
            return json_reply(500, {"message": None})
        authorizer = {**authorizer, "api": call.api_id}
        arn = call.method_arn()
        sources = _identity_sources(authorizer.get("identitySource") or "")
        values = [_identity_value(call, s) for s in sources]
        if authorizer.get("type") == "TOKEN":
            token = values[0] if values else None
            if not token:
                return json_reply(401, {"message": "Unauthorized"})
            pattern = authorizer.get("identityValidationExpression")
            if pattern and re.fullmatch(pattern, token) is None:
                return json_reply(401, {"message": "Unauthorized"})

            def event() -> dict[str, Any]:
                return {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}

            cache_key = token
        else:
            if sources and not all(values):
                return json_reply(401, {"message": "Unauthorized"})

            def event() -> dict[str, Any]:
                body = v1_event(call, api.get("binaryMediaTypes"))
                return {"type": "REQUEST", "methodArn": arn, **body}

            cache_key = "\x00".join(v or "" for v in values) if sources else ""
        verdict = await self.authorizers.decide(
            authorizer, cache_key, event, call.account, call.region, arn
        )
        call.authorizer = verdict.context
        return verdict.response

    # -- integrations -------------------------------------------------------------------------

    async def _http_proxy(self, call: Call, integration: dict[str, Any]) -> HttpResponse:
        url = _substitute(integration.get("uri", ""), call)
        if call.req.query_string:
            url += ("&" if "?" in url else "?") + call.req.query_string
        verb = integration.get("httpMethod") or call.req.method
        if verb == "ANY":
            verb = call.req.method
        headers = {k: v for k, v in call.req.headers.items() if k not in ("host", "connection")}
        return await forward(verb, url, headers, call.req.read_body())

    async def _mapped(
        self,
        call: Call,
        api: dict[str, Any],
        integration: dict[str, Any],
    ) -> HttpResponse:
        """MOCK, AWS (Lambda) and HTTP integrations: request template, the backend, then the
        integration response chosen by its selection pattern and its template."""
        body = call.req.read_body().decode("utf-8", "replace")
        ctype = call.req.headers.get("content-type", "application/json").split(";")[0]
        templates = integration.get("requestTemplates") or {}
        template = templates.get(ctype)
        if template is None and templates:
            if integration.get("passthroughBehavior") == "NEVER" or (
                integration.get("passthroughBehavior") == "WHEN_NO_TEMPLATES"
            ):
                return json_reply(415, {"message": "Unsupported Media Type"})
            template = templates.get("application/json")
        context = self._vtl_context(call)
        payload = body if template is None else vtl.render(template, body, context)
        kind = integration.get("type")
        selector = ""
        out_headers: dict[str, str] = {}
        result = ""
        if kind == "MOCK":
            try:
                selector = str(json.loads(payload or "{}").get("statusCode", 200))
            except (ValueError, AttributeError):
                selector = "200"
            if template is None:
                selector = "200"
        elif kind == "AWS" and "lambda:path" in integration.get("uri", ""):
            try:
                parsed = json.loads(payload) if payload.strip() else {}
            except ValueError:
                parsed = payload
            answer = await call_function(
                self.env, integration["uri"], parsed, call.account, call.region
            )
            if answer is None:
                return json_reply(500, INTERNAL_ERROR)
            result = answer.payload.decode("utf-8", "replace")
            if answer.error:
                try:
                    selector = str(json.loads(result).get("errorMessage", ""))
                except (ValueError, AttributeError):
                    selector = result
        elif kind == "HTTP":
            url = _substitute(integration.get("uri", ""), call)
            verb = integration.get("httpMethod") or call.req.method
            got = await forward(verb, url, {"content-type": ctype}, payload.encode())
            selector = str(got.status)
            out_headers = got.headers
            result = got.body.decode("utf-8", "replace") if isinstance(got.body, bytes) else ""
        else:
            return json_reply(500, INTERNAL_ERROR)
        chosen = _select_response(integration.get("integrationResponses") or {}, selector)
        if chosen is None:
            return json_reply(500, INTERNAL_ERROR)
        status = int(chosen["statusCode"])
        headers = {"content-type": "application/json"}
        for target, source in (chosen.get("responseParameters") or {}).items():
            if not target.startswith("method.response.header."):
                continue
            name = target[len("method.response.header.") :].lower()
            if source.startswith("'") and source.endswith("'"):
                headers[name] = source[1:-1]
            elif source.startswith("integration.response.header."):
                value = out_headers.get(source[len("integration.response.header.") :].lower())
                if value is not None:
                    headers[name] = value
        response_templates = chosen.get("responseTemplates") or {}
        out_template = response_templates.get("application/json")
        if out_template is None and response_templates:
            out_template = next(iter(response_templates.values()))
        text = result if not out_template else vtl.render(out_template, result, context)
        return HttpResponse(status, headers, text.encode())

    def _vtl_context(self, call: Call) -> dict[str, Any]:
        return {
            "context": {
                "accountId": call.account,
                "apiId": call.api_id,
                "httpMethod": call.req.method,
                "requestId": call.request_id,
                "resourceId": call.resource_id,
                "resourcePath": call.resource_path,
                "stage": call.stage,
                "domainName": call.domain,
                "path": f"/{call.stage}{call.path}",
                "requestTime": call.request_time(),
                "requestTimeEpoch": int(call.started * 1000),
                "identity": call.identity(),
                "authorizer": call.authorizer or {},
            },
            "stageVariables": call.stage_vars,
            "params": {
                "path": call.path_params,
                "querystring": {k: v[-1] for k, v in call.query_multi().items()},
                "header": dict(call.req.headers),
            },
        }


def _identity_sources(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _identity_value(call: Call, source: str) -> str | None:
    req = call.req
    if source.startswith("method.request.header."):
        return req.headers.get(source[len("method.request.header.") :].lower())
    if source.startswith("method.request.querystring."):
        values = call.query_multi().get(source[len("method.request.querystring.") :])
        return values[-1] if values else None
    if source.startswith("stageVariables."):
        return call.stage_vars.get(source[len("stageVariables.") :])
    if source.startswith("context."):
        return call.request_id if source == "context.requestId" else None
    return None


def _substitute(uri: str, call: Call) -> str:
    """An integration URI with the method's path parameters (``{proxy}``, ``{id}``) and stage
    variables (``${stageVariables.x}``) put in."""
    for name, value in call.path_params.items():
        uri = uri.replace("{" + name + "+}", value).replace(
            "{" + name + "}", quote(value, safe="/") if name == "proxy" else quote(value)
        )
    for name, value in call.stage_vars.items():
        uri = uri.replace("${stageVariables." + name + "}", value)
    return uri


def _select_response(responses: dict[str, Any], selector: str) -> dict[str, Any] | None:
    default = None
    for response in responses.values():
        pattern = response.get("selectionPattern")
        if not pattern:
            default = default or response
        elif re.fullmatch(pattern, selector, re.DOTALL):
            return response
    return default


async def forward(method: str, url: str, headers: dict[str, str], body: bytes) -> HttpResponse:
    """One HTTP request to a backend (HTTP and HTTP_PROXY integrations): its status, headers
    and body come back; a backend that cannot be reached is a 502 as AWS gives."""

    def send() -> HttpResponse:
        request = urllib.request.Request(url, data=body or None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as got:
                return HttpResponse(
                    got.status, {k.lower(): v for k, v in got.headers.items()}, got.read()
                )
        except urllib.error.HTTPError as err:
            return HttpResponse(
                err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()
            )
        except (OSError, ValueError):
            return json_reply(502, INTERNAL_ERROR)

    response = await asyncio.to_thread(send)
    for hop in ("transfer-encoding", "connection", "content-length"):
        response.headers.pop(hop, None)
    return response
