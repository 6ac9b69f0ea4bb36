"""Amazon API Gateway, REST APIs: APIs with their resources, methods, integrations, method
and integration responses, authorizers, deployments (a snapshot of the resources) and stages;
API keys and usage plans. The APIs answer over HTTP through ``nubes/runtime/apigateway``."""

from __future__ import annotations

import copy
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import yaml

from nubes.core import clock
from nubes.core.arns import arn_service
from nubes.core.context import RequestContext
from nubes.protocol.base import HttpRequest, HttpResponse
from nubes.runtime.apigateway import validators
from nubes.runtime.apigateway.docs import Docs, migration, new_id
from nubes.runtime.apigateway.endpoint import split_stage
from nubes.runtime.apigateway.proxy import Call
from nubes.runtime.apigateway.rest import RestPlane
from nubes.runtime.apigateway.serving import InvokeUrls, Mapped, domain_out
from nubes.services.apigateway import openapi
from nubes.services.apigateway.errors import errors
from nubes.services.base import ServiceProvider

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]

METHODS = frozenset(("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY"))
INTEGRATION_TYPES = frozenset(("HTTP", "AWS", "MOCK", "HTTP_PROXY", "AWS_PROXY"))
AUTHORIZATION_TYPES = frozenset(("NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"))


METHOD_SETTING = re.compile(r"^/(?P<resource>[^/]+)/(?P<verb>[A-Z*]+)/(?P<setting>.+)$")
METHOD_SETTINGS = {
    "throttling/rateLimit": "throttlingRateLimit",
    "throttling/burstLimit": "throttlingBurstLimit",
    "metrics/enabled": "metricsEnabled",
    "logging/loglevel": "loggingLevel",
    "logging/dataTrace": "dataTraceEnabled",
    "caching/enabled": "cachingEnabled",
    "caching/ttlInSeconds": "cacheTtlInSeconds",
    "caching/dataEncrypted": "cacheDataEncrypted",
    "caching/requireAuthorizationForCacheControl": "requireAuthorizationForCacheControl",
}
"""UpdateStage's method setting paths (``/{resource path, ~1 for /}/{method}/{setting}``)."""


def _page(items: list[Json], req: Json, key: str = "items") -> Json:
    start = int(req.get("position") or 0) if str(req.get("position") or "0").isdigit() else 0
    limit = int(req.get("limit") or 25)
    out: Json = {key: items[start : start + limit]}
    if start + limit < len(items):
        out["position"] = str(start + limit)
    return out


def _patch(doc: Json, operations: list[Json], allowed: frozenset[str] | None = None) -> None:
    """Apply UpdateXxx patch operations (replace/add/remove on ``/field`` and
    ``/map/key`` paths) to a document."""
    for op in operations or []:
        kind, path = op.get("op"), op.get("path") or ""
        parts = [p.replace("~1", "/").replace("~0", "~") for p in path.strip("/").split("/")]
        if not parts or not parts[0]:
            raise errors.BadRequestException(f"Invalid patch path {path}")
        if allowed is not None and parts[0] not in allowed and not path.startswith("/*/"):
            raise errors.BadRequestException(
                f"Invalid patch path '{path}' specified for op '{kind}'. Must be one of: "
                f"[{', '.join('/' + a for a in sorted(allowed))}]"
            )
        value: Any = op.get("value")
        if value in ("true", "false") and parts[0] in (
            "enabled",
            "apiKeyRequired",
            "cacheClusterEnabled",
            "tracingEnabled",
            "disableExecuteApiEndpoint",
        ):
            value = value == "true"
        if kind not in ("replace", "add", "remove"):
            raise errors.BadRequestException(f"Invalid patch operation specified: {kind}")
        if parts[0] == "binaryMediaTypes" and len(parts) == 2:
            # The media type is the path's last part (``/binaryMediaTypes/image~1png``).
            types = [t for t in doc.get("binaryMediaTypes") or [] if t != parts[1]]
            doc["binaryMediaTypes"] = types + ([parts[1]] if kind != "remove" else [])
            continue
        target = doc
        for part in parts[:-1]:
            found = target.setdefault(part, {})
            if not isinstance(found, dict):
                raise errors.BadRequestException(f"Invalid patch path {path}")
            target = found
        last = parts[-1]
        if kind == "remove":
            target.pop(last, None)
        elif isinstance(target.get(last), list) and kind == "add":
            target[last].append(value)
        else:
            target[last] = value


def _stage_key(stage: Json) -> str:
    if not stage.get("restApiId") or not stage.get("stageName"):
        raise errors.BadRequestException("Invalid stage key: restApiId and stageName are required")
    return f"{stage['restApiId']}/{stage['stageName']}"


def _base_path_mapping(domain: Json, path: str) -> Mapped | None:
    """The base path mapping named by the path's first segment, else the ``(none)`` mapping,
    which takes every path."""
    mappings = domain.get("mappings") or {}
    first, _, rest = path.lstrip("/").partition("/")
    mapping = mappings.get(first)
    if mapping is not None:
        path = "/" + rest
    else:
        mapping = mappings.get("(none)")
    if mapping is None:
        return None
    return Mapped(mapping["restApiId"], mapping.get("stage") or "", path)


class ApiGatewayProvider(ServiceProvider):
    service = "apigateway"
    migrations = (migration("apigateway_docs"),)

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.docs = Docs(self.store, "apigateway_docs")
        self.plane = RestPlane(env, self.docs)
        self.urls = InvokeUrls(
            env, self.docs, "restapi", self._answer, _base_path_mapping, (403, "Forbidden")
        )

    async def start(self) -> None:
        self.urls.start()

    def reset(self) -> None:
        self.plane.reset()
        self.urls.domains_changed()

    async def _answer(self, call: Call, api: Json, stage: str | None) -> HttpResponse:
        if stage is None:
            call.stage, call.path = split_stage(call.path)
        else:
            call.stage = stage
        return await self.plane.answer(call, api)

    # -- REST APIs ------------------------------------------------------------------------------

    def _api(self, ctx: RequestContext, api_id: str) -> Json:
        api = self.docs.get(ctx.account_id, ctx.region, "restapi", api_id)
        if api is None:
            raise errors.NotFoundException(
                f"Invalid API identifier specified {ctx.account_id}:{api_id}"
            )
        return api

    def _save(self, ctx: RequestContext, api: Json) -> None:
        self.docs.put(ctx.account_id, ctx.region, "restapi", api["id"], api)

    @staticmethod
    def _api_out(api: Json) -> Json:
        return {
            k: v
            for k, v in api.items()
            if k
            not in ("resources", "authorizers", "deployments", "stages", "validators", "models")
        }

    def create_rest_api(self, ctx: RequestContext, req: Json) -> Json:
        api_id = new_id()
        root = new_id()
        api: Json = {
            "id": api_id,
            "name": req["name"],
            "createdDate": clock.now(),
            "apiKeySource": req.get("apiKeySource") or "HEADER",
            "endpointConfiguration": req.get("endpointConfiguration")
            or {"types": ["EDGE"], "ipAddressType": "ipv4"},
            "disableExecuteApiEndpoint": bool(req.get("disableExecuteApiEndpoint")),
            "rootResourceId": root,
            "tags": req.get("tags") or {},
            "resources": {root: {"id": root, "path": "/"}},
            "authorizers": {},
            "deployments": {},
            "stages": {},
            "validators": {},
            "models": {},
        }
        for key in ("description", "version", "binaryMediaTypes", "minimumCompressionSize"):
            if req.get(key) is not None:
                api[key] = req[key]
        if req.get("policy"):
            api["policy"] = req["policy"]
        self._save(ctx, api)
        return self._api_out(api)

    def get_rest_api(self, ctx: RequestContext, req: Json) -> Json:
        return self._api_out(self._api(ctx, req["restApiId"]))

    def get_rest_apis(self, ctx: RequestContext, req: Json) -> Json:
        apis = self.docs.all(ctx.account_id, ctx.region, "restapi")
        return _page([self._api_out(a) for a in apis], req)

    def update_rest_api(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        _patch(
            api,
            req.get("patchOperations") or [],
            frozenset(
                (
                    "name",
                    "description",
                    "version",
                    "binaryMediaTypes",
                    "minimumCompressionSize",
                    "apiKeySource",
                    "policy",
                    "disableExecuteApiEndpoint",
                    "endpointConfiguration",
                )
            ),
        )
        self._save(ctx, api)
        return self._api_out(api)

    def delete_rest_api(self, ctx: RequestContext, req: Json) -> Json:
        self._api(ctx, req["restApiId"])
        self.docs.delete(ctx.account_id, ctx.region, "restapi", req["restApiId"])
        return {}

    # -- OpenAPI ----------------------------------------------------------------------------------

    def _apply_definition(self, api: Json, body: bytes, merge: bool) -> None:
        doc = openapi.parse(body)
        made: dict[str, str] = {}
        if not merge:
            api["authorizers"] = {}
        for scheme, authorizer in openapi.authorizers(doc).items():
            existing = next((a for a in api["authorizers"].values() if a["name"] == scheme), None)
            authorizer["id"] = existing["id"] if existing else new_id(6)
            api["authorizers"][authorizer["id"]] = authorizer
            made[scheme] = authorizer["id"]
        fields, resources = openapi.build(doc, made)
        if merge:
            by_path = {r["path"]: r for r in api["resources"].values()}
            for resource in sorted(resources.values(), key=lambda r: r["path"]):
                mine = by_path.get(resource["path"])
                if mine is None:
                    parent_path = resource["path"].rsplit("/", 1)[0] or "/"
                    resource["parentId"] = by_path[parent_path]["id"]
                    api["resources"][resource["id"]] = resource
                    by_path[resource["path"]] = resource
                else:
                    mine.setdefault("resourceMethods", {}).update(
                        resource.get("resourceMethods") or {}
                    )
        else:
            root = next(r for r in resources.values() if r["path"] == "/")
            old_root = api["rootResourceId"]
            for resource in resources.values():
                if resource.get("parentId") == root["id"]:
                    resource["parentId"] = old_root
            del resources[root["id"]]
            root["id"] = old_root
            resources[old_root] = root
            api["resources"] = resources
        api.update(fields)

    def import_rest_api(self, ctx: RequestContext, req: Json) -> Json:
        body = bytes(req.get("body") or b"")
        doc = openapi.parse(body)
        title = (doc.get("info") or {}).get("title")
        if not title:
            raise errors.BadRequestException(
                "Invalid OpenAPI input: the definition has no info.title to name the API."
            )
        api = self.create_rest_api(ctx, {"name": str(title)})
        full = self._api(ctx, api["id"])
        self._apply_definition(full, body, merge=False)
        self._save(ctx, full)
        return self._api_out(full)

    def put_rest_api(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        mode = req.get("mode") or "merge"
        if mode not in ("merge", "overwrite"):
            raise errors.BadRequestException(f"Invalid mode: {mode}")
        self._apply_definition(api, bytes(req.get("body") or b""), merge=mode == "merge")
        self._save(ctx, api)
        return self._api_out(api)

    def get_export(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        stage = self._stage(api, req["stageName"])
        kind = req["exportType"]
        if kind not in ("oas30", "swagger"):
            raise errors.BadRequestException(f"Invalid export type: {kind}")
        extensions = (req.get("parameters") or {}).get("extensions") in (
            "integrations",
            "apigateway",
        )
        resources = api["deployments"][stage["deploymentId"]]["resources"]
        doc = openapi.export(api, stage, resources, kind, extensions)
        if "yaml" in (req.get("accepts") or ""):
            body = yaml.safe_dump(doc, sort_keys=False).encode()
            content_type = "application/yaml"
            suffix = "yaml"
        else:
            body = json.dumps(doc, indent=2).encode()
            content_type = "application/json"
            suffix = "json"
        return {
            "contentType": content_type,
            "contentDisposition": f'attachment; filename="{kind}_{clock.now():.0f}.{suffix}"',
            "body": body,
        }

    # -- resources ------------------------------------------------------------------------------

    @staticmethod
    def _resource(api: Json, resource_id: str) -> Json:
        resource = api["resources"].get(resource_id)
        if resource is None:
            raise errors.NotFoundException("Invalid Resource identifier specified")
        return resource

    def create_resource(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        parent = self._resource(api, req["parentId"])
        part = req["pathPart"]
        if not part or "/" in part:
            raise errors.BadRequestException(
                "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning "
                "and the end and an optional plus sign before the closing brace."
            )
        path = parent["path"].rstrip("/") + "/" + part
        for other in api["resources"].values():
            if other.get("parentId") == parent["id"] and other["path"] == path:
                raise errors.ConflictException(
                    f"Another resource with the same parent already has this name: {part}"
                )
        if part.startswith("{") and any(
            o.get("parentId") == parent["id"] and o.get("pathPart", "").startswith("{")
            for o in api["resources"].values()
        ):
            raise errors.BadRequestException(
                "A sibling ({name}) of this resource already has a variable path part -- only "
                "one is allowed"
            )
        resource = {"id": new_id(10), "parentId": parent["id"], "pathPart": part, "path": path}
        api["resources"][resource["id"]] = resource
        self._save(ctx, api)
        return resource

    def get_resource(self, ctx: RequestContext, req: Json) -> Json:
        return self._resource(self._api(ctx, req["restApiId"]), req["resourceId"])

    def get_resources(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        items = sorted(api["resources"].values(), key=lambda r: r["path"])
        if "methods" not in (req.get("embed") or []):
            items = [
                {
                    **r,
                    "resourceMethods": {m: {} for m in r["resourceMethods"]},
                }
                if r.get("resourceMethods")
                else r
                for r in items
            ]
        return _page(items, req)

    def update_resource(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        resource = self._resource(api, req["resourceId"])
        _patch(resource, req.get("patchOperations") or [], frozenset(("pathPart", "parentId")))
        self._save(ctx, api)
        return resource

    def delete_resource(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        resource = self._resource(api, req["resourceId"])
        if resource["id"] == api["rootResourceId"]:
            raise errors.BadRequestException("Cannot delete the root resource of an API")
        doomed = {resource["id"]}
        changed = True
        while changed:
            changed = False
            for other in api["resources"].values():
                if other.get("parentId") in doomed and other["id"] not in doomed:
                    doomed.add(other["id"])
                    changed = True
        for rid in doomed:
            del api["resources"][rid]
        self._save(ctx, api)
        return {}

    # -- methods and integrations ---------------------------------------------------------------

    def _method(self, api: Json, req: Json) -> Json:
        resource = self._resource(api, req["resourceId"])
        method = (resource.get("resourceMethods") or {}).get(req["httpMethod"])
        if method is None:
            raise errors.NotFoundException("Invalid Method identifier specified")
        return method

    def put_method(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        resource = self._resource(api, req["resourceId"])
        verb = req["httpMethod"].upper()
        if verb not in METHODS:
            raise errors.BadRequestException(
                "Invalid HttpMethod specified. Valid options are "
                "GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY"
            )
        auth = req["authorizationType"]
        if auth not in AUTHORIZATION_TYPES:
            raise errors.BadRequestException(f"Invalid authorization type specified: {auth}")
        if auth in ("CUSTOM", "COGNITO_USER_POOLS"):
            if not req.get("authorizerId"):
                raise errors.BadRequestException(
                    "Invalid authorizer ID specified. Setting the authorization type to CUSTOM or "
                    "COGNITO_USER_POOLS requires a valid authorizer."
                )
            if req["authorizerId"] not in api["authorizers"]:
                raise errors.BadRequestException("Invalid authorizer ID specified")
        method: Json = {
            "httpMethod": verb,
            "authorizationType": auth,
            "apiKeyRequired": bool(req.get("apiKeyRequired")),
        }
        for key in (
            "authorizerId",
            "operationName",
            "requestParameters",
            "requestModels",
            "requestValidatorId",
            "authorizationScopes",
        ):
            if req.get(key) is not None:
                method[key] = req[key]
        resource.setdefault("resourceMethods", {})[verb] = method
        self._save(ctx, api)
        return method

    def get_method(self, ctx: RequestContext, req: Json) -> Json:
        return self._method(self._api(ctx, req["restApiId"]), req)

    def update_method(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        method = self._method(api, req)
        _patch(method, req.get("patchOperations") or [])
        self._save(ctx, api)
        return method

    def delete_method(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        self._method(api, req)
        del self._resource(api, req["resourceId"])["resourceMethods"][req["httpMethod"]]
        self._save(ctx, api)
        return {}

    def put_method_response(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        method = self._method(api, req)
        response: Json = {"statusCode": req["statusCode"]}
        for key in ("responseParameters", "responseModels"):
            if req.get(key) is not None:
                response[key] = req[key]
        method.setdefault("methodResponses", {})[req["statusCode"]] = response
        self._save(ctx, api)
        return response

    def get_method_response(self, ctx: RequestContext, req: Json) -> Json:
        method = self._method(self._api(ctx, req["restApiId"]), req)
        response = (method.get("methodResponses") or {}).get(req["statusCode"])
        if response is None:
            raise errors.NotFoundException("Invalid Response status code specified")
        return response

    def delete_method_response(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        self.get_method_response(ctx, req)
        del self._method(api, req)["methodResponses"][req["statusCode"]]
        self._save(ctx, api)
        return {}

    def put_integration(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        method = self._method(api, req)
        kind = req["type"]
        if kind not in INTEGRATION_TYPES:
            raise errors.BadRequestException(f"Invalid integration type specified: {kind}")
        if kind != "MOCK" and not req.get("uri"):
            raise errors.BadRequestException("Invalid integration URI specified")
        if kind in ("AWS", "AWS_PROXY") and arn_service(req["uri"]) != "apigateway":
            raise errors.BadRequestException("AWS ARN for integration must contain path or action")
        if kind in ("HTTP", "HTTP_PROXY") and not req["uri"].startswith(("http://", "https://")):
            raise errors.BadRequestException("Invalid HTTP endpoint specified for URI")
        if kind != "MOCK" and not req.get("integrationHttpMethod"):
            raise errors.BadRequestException("Enumeration value for HttpMethod must be non-empty")
        integration: Json = {
            "type": kind,
            "passthroughBehavior": req.get("passthroughBehavior") or "WHEN_NO_MATCH",
            "timeoutInMillis": req.get("timeoutInMillis") or 29000,
            "cacheNamespace": req.get("cacheNamespace") or req["resourceId"],
            "cacheKeyParameters": req.get("cacheKeyParameters") or [],
        }
        if req.get("integrationHttpMethod"):
            integration["httpMethod"] = req["integrationHttpMethod"]
        for key in (
            "uri",
            "connectionType",
            "connectionId",
            "credentials",
            "requestParameters",
            "requestTemplates",
            "contentHandling",
            "tlsConfig",
        ):
            if req.get(key) is not None:
                integration[key] = req[key]
        method["methodIntegration"] = integration
        self._save(ctx, api)
        return integration

    def _integration(self, api: Json, req: Json) -> Json:
        integration = self._method(api, req).get("methodIntegration")
        if integration is None:
            raise errors.NotFoundException("Invalid Integration identifier specified")
        return integration

    def get_integration(self, ctx: RequestContext, req: Json) -> Json:
        return self._integration(self._api(ctx, req["restApiId"]), req)

    def update_integration(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        integration = self._integration(api, req)
        _patch(integration, req.get("patchOperations") or [])
        self._save(ctx, api)
        return integration

    def delete_integration(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        self._integration(api, req)
        del self._method(api, req)["methodIntegration"]
        self._save(ctx, api)
        return {}

    def put_integration_response(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        integration = self._integration(api, req)
        response: Json = {"statusCode": req["statusCode"]}
        for key in (
            "selectionPattern",
            "responseParameters",
            "responseTemplates",
            "contentHandling",
        ):
            if req.get(key) is not None:
                response[key] = req[key]
        integration.setdefault("integrationResponses", {})[req["statusCode"]] = response
        self._save(ctx, api)
        return response

    def get_integration_response(self, ctx: RequestContext, req: Json) -> Json:
        integration = self._integration(self._api(ctx, req["restApiId"]), req)
        response = (integration.get("integrationResponses") or {}).get(req["statusCode"])
        if response is None:
            raise errors.NotFoundException("Invalid Response status code specified")
        return response

    def delete_integration_response(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        self.get_integration_response(ctx, req)
        del self._integration(api, req)["integrationResponses"][req["statusCode"]]
        self._save(ctx, api)
        return {}

    # -- authorizers ----------------------------------------------------------------------------

    def create_authorizer(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        kind = req["type"]
        if kind not in ("TOKEN", "REQUEST", "COGNITO_USER_POOLS"):
            raise errors.BadRequestException(f"Invalid authorizer type specified: {kind}")
        if kind in ("TOKEN", "REQUEST") and not req.get("authorizerUri"):
            raise errors.BadRequestException("Authorizer URI is required for this authorizer type")
        if kind == "TOKEN" and not req.get("identitySource"):
            raise errors.BadRequestException("Identity source is required for TOKEN authorizers")
        authorizer: Json = {"id": new_id(6), "name": req["name"], "type": kind}
        for key in (
            "providerARNs",
            "authType",
            "authorizerUri",
            "authorizerCredentials",
            "identitySource",
            "identityValidationExpression",
        ):
            if req.get(key) is not None:
                authorizer[key] = req[key]
        ttl = req.get("authorizerResultTtlInSeconds")
        authorizer["authorizerResultTtlInSeconds"] = 300 if ttl is None else ttl
        api["authorizers"][authorizer["id"]] = authorizer
        self._save(ctx, api)
        return authorizer

    def _authorizer(self, api: Json, authorizer_id: str) -> Json:
        authorizer = api["authorizers"].get(authorizer_id)
        if authorizer is None:
            raise errors.NotFoundException("Invalid Authorizer identifier specified")
        return authorizer

    def get_authorizer(self, ctx: RequestContext, req: Json) -> Json:
        return self._authorizer(self._api(ctx, req["restApiId"]), req["authorizerId"])

    def get_authorizers(self, ctx: RequestContext, req: Json) -> Json:
        return _page(list(self._api(ctx, req["restApiId"])["authorizers"].values()), req)

    def update_authorizer(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        authorizer = self._authorizer(api, req["authorizerId"])
        _patch(authorizer, req.get("patchOperations") or [])
        self._save(ctx, api)
        self.plane.authorizers.forget()
        return authorizer

    def delete_authorizer(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        self._authorizer(api, req["authorizerId"])
        del api["authorizers"][req["authorizerId"]]
        self._save(ctx, api)
        return {}

    async def test_invoke_method(self, ctx: RequestContext, req: Json) -> Json:
        """Run a method as it is now (undeployed), in a stage of its own named
        ``test-invoke-stage``, as the console's Test button does."""
        with self.store.transaction():
            api = copy.deepcopy(self._api(ctx, req["restApiId"]))
            resource = self._resource(api, req["resourceId"])
            self._method(api, req)
        stage_name = "test-invoke-stage"
        api["deployments"]["test-invoke"] = {
            "id": "test-invoke",
            "resources": api["resources"],
            "validators": api.get("validators") or {},
            "models": api.get("models") or {},
        }
        api["stages"][stage_name] = {
            "stageName": stage_name,
            "deploymentId": "test-invoke",
            "variables": req.get("stageVariables") or {},
        }
        target, _, query = (req.get("pathWithQueryString") or resource["path"]).partition("?")
        headers = {k.lower(): v for k, v in (req.get("headers") or {}).items()}
        for key, values in (req.get("multiValueHeaders") or {}).items():
            headers[key.lower()] = ",".join(values)
        headers.setdefault("host", f"{api['id']}.execute-api.localhost.localstack.cloud")
        body = (req.get("body") or "").encode()
        http = HttpRequest(req["httpMethod"], quote(target), query, headers, body)
        started = clock.now()
        call = Call(http, api["id"], ctx.account_id, ctx.region, stage_name, target)
        response = await self.plane.answer(call, api)
        data = response.body if isinstance(response.body, bytes) else b""
        return {
            "status": response.status,
            "body": data.decode("utf-8", "replace"),
            "headers": dict(response.headers),
            "multiValueHeaders": {k: [v] for k, v in response.headers.items()},
            "log": f"Execution log for request {call.request_id}\n"
            f"Method completed with status: {response.status}\n",
            "latency": int((clock.now() - started) * 1000),
        }

    def get_usage(self, ctx: RequestContext, req: Json) -> Json:
        plan = self._plan(ctx, req["usagePlanId"])
        keys = [req["keyId"]] if req.get("keyId") else list(plan["keys"])
        items: dict[str, list[list[int]]] = {}
        for key in keys:
            found = self.plane.plans.remaining(plan, key)
            if found is not None:
                items[key] = [list(found)]
        return {
            "usagePlanId": plan["id"],
            "startDate": req["startDate"],
            "endDate": req["endDate"],
            "items": items,
        }

    # -- custom domain names and base path mappings ----------------------------------------------

    def create_domain_name(self, ctx: RequestContext, req: Json) -> Json:
        name = req["domainName"].lower()
        if self.urls.domain_taken(name):
            raise errors.ConflictException("The domain name you provided already exists.")
        types = (req.get("endpointConfiguration") or {}).get("types") or ["EDGE"]
        domain: Json = {
            "domainName": name,
            "domainNameArn": f"arn:{ctx.partition}:apigateway:{ctx.region}::/domainnames/{name}",
            "endpointConfiguration": {"types": types},
            "domainNameStatus": "AVAILABLE",
            "securityPolicy": req.get("securityPolicy") or "TLS_1_2",
            "tags": req.get("tags") or {},
            "certificateUploadDate": clock.now(),
            "mappings": {},
        }
        if "REGIONAL" in types:
            domain["regionalDomainName"] = f"d-{new_id(10)}.execute-api.{ctx.region}.amazonaws.com"
            domain["regionalHostedZoneId"] = "Z1UJRXOUMOOFQ8"
        else:
            domain["distributionDomainName"] = f"d{new_id(13)}.cloudfront.net"
            domain["distributionHostedZoneId"] = "Z2FDTNDATAQYW2"
        for key in ("certificateName", "certificateArn", "regionalCertificateName",
                    "regionalCertificateArn"):  # fmt: skip
            if req.get(key):
                domain[key] = req[key]
        self.urls.save_domain(ctx.account_id, ctx.region, name, domain)
        return domain_out(domain)

    def _domain(self, ctx: RequestContext, name: str) -> Json:
        domain = self.urls.domain(ctx.account_id, ctx.region, name)
        if domain is None:
            raise errors.NotFoundException("Invalid domain name identifier specified")
        return domain

    def get_domain_name(self, ctx: RequestContext, req: Json) -> Json:
        return domain_out(self._domain(ctx, req["domainName"]))

    def get_domain_names(self, ctx: RequestContext, req: Json) -> Json:
        return _page(self.urls.domains(ctx.account_id, ctx.region), req)

    def delete_domain_name(self, ctx: RequestContext, req: Json) -> Json:
        domain = self._domain(ctx, req["domainName"])
        self.urls.delete_domain(ctx.account_id, ctx.region, domain["domainName"])
        return {}

    def create_base_path_mapping(self, ctx: RequestContext, req: Json) -> Json:
        domain = self._domain(ctx, req["domainName"])
        api = self._api(ctx, req["restApiId"])
        if req.get("stage"):
            self._stage(api, req["stage"])
        base = req.get("basePath") or "(none)"
        if base in domain["mappings"]:
            raise errors.ConflictException("Base path already exists for this domain name")
        mapping: Json = {"basePath": base, "restApiId": api["id"]}
        if req.get("stage"):
            mapping["stage"] = req["stage"]
        domain["mappings"][base] = mapping
        self.urls.save_domain(ctx.account_id, ctx.region, domain["domainName"], domain)
        return mapping

    def _mapping(self, domain: Json, base: str) -> Json:
        mapping = domain["mappings"].get(base or "(none)")
        if mapping is None:
            raise errors.NotFoundException("Invalid base path mapping identifier specified")
        return mapping

    def get_base_path_mapping(self, ctx: RequestContext, req: Json) -> Json:
        return self._mapping(self._domain(ctx, req["domainName"]), req["basePath"])

    def get_base_path_mappings(self, ctx: RequestContext, req: Json) -> Json:
        domain = self._domain(ctx, req["domainName"])
        return _page(list(domain["mappings"].values()), req)

    def delete_base_path_mapping(self, ctx: RequestContext, req: Json) -> Json:
        domain = self._domain(ctx, req["domainName"])
        mapping = self._mapping(domain, req["basePath"])
        del domain["mappings"][mapping["basePath"]]
        self.urls.save_domain(ctx.account_id, ctx.region, domain["domainName"], domain)
        return {}

    # -- models and request validators ---------------------------------------------------------

    def create_model(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        name = req["name"]
        if not name.isalnum():
            raise errors.BadRequestException("Model name must be alphanumeric")
        if any(m["name"] == name for m in api["models"].values()):
            raise errors.ConflictException("Model name already exists for this REST API")
        schema = req.get("schema")
        if schema is not None:
            self._check_schema(schema)
        model: Json = {
            "id": new_id(6),
            "name": name,
            "contentType": req["contentType"],
        }
        for key in ("description", "schema"):
            if req.get(key) is not None:
                model[key] = req[key]
        api["models"][model["id"]] = model
        self._save(ctx, api)
        return model

    @staticmethod
    def _check_schema(schema: str) -> None:
        problem = validators.schema_problem(schema)
        if problem is not None:
            raise errors.BadRequestException(problem)

    def _model(self, api: Json, name: str) -> Json:
        model = next((m for m in api["models"].values() if m["name"] == name), None)
        if model is None:
            raise errors.NotFoundException("Invalid model name specified")
        return model

    def get_model(self, ctx: RequestContext, req: Json) -> Json:
        return self._model(self._api(ctx, req["restApiId"]), req["modelName"])

    def get_models(self, ctx: RequestContext, req: Json) -> Json:
        return _page(list(self._api(ctx, req["restApiId"])["models"].values()), req)

    def update_model(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        model = self._model(api, req["modelName"])
        _patch(model, req.get("patchOperations") or [], frozenset(("schema", "description")))
        if model.get("schema") is not None:
            self._check_schema(model["schema"])
        self._save(ctx, api)
        return model

    def delete_model(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        model = self._model(api, req["modelName"])
        del api["models"][model["id"]]
        self._save(ctx, api)
        return {}

    def create_request_validator(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        validator: Json = {
            "id": new_id(6),
            "name": req.get("name") or "",
            "validateRequestBody": bool(req.get("validateRequestBody")),
            "validateRequestParameters": bool(req.get("validateRequestParameters")),
        }
        api["validators"][validator["id"]] = validator
        self._save(ctx, api)
        return validator

    def _validator(self, api: Json, validator_id: str) -> Json:
        validator = api["validators"].get(validator_id)
        if validator is None:
            raise errors.NotFoundException("Invalid Request Validator identifier specified")
        return validator

    def get_request_validator(self, ctx: RequestContext, req: Json) -> Json:
        return self._validator(self._api(ctx, req["restApiId"]), req["requestValidatorId"])

    def get_request_validators(self, ctx: RequestContext, req: Json) -> Json:
        return _page(list(self._api(ctx, req["restApiId"])["validators"].values()), req)

    def update_request_validator(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        validator = self._validator(api, req["requestValidatorId"])
        ops = [
            {**op, "value": op.get("value") == "true"} if op.get("path") != "/name" else op
            for op in req.get("patchOperations") or []
        ]
        _patch(
            validator,
            ops,
            frozenset(("name", "validateRequestBody", "validateRequestParameters")),
        )
        self._save(ctx, api)
        return validator

    def delete_request_validator(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        self._validator(api, req["requestValidatorId"])
        del api["validators"][req["requestValidatorId"]]
        self._save(ctx, api)
        return {}

    # -- deployments and stages -----------------------------------------------------------------

    def create_deployment(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        if not any(r.get("resourceMethods") for r in api["resources"].values()):
            raise errors.BadRequestException("The REST API doesn't contain any methods")
        for resource in api["resources"].values():
            for verb, method in (resource.get("resourceMethods") or {}).items():
                if "methodIntegration" not in method:
                    raise errors.BadRequestException(
                        f"No integration defined for method {verb} {resource['path']}"
                    )
        deployment: Json = {"id": new_id(6), "createdDate": clock.now()}
        if req.get("description") is not None:
            deployment["description"] = req["description"]
        api["deployments"][deployment["id"]] = {
            **deployment,
            "resources": copy.deepcopy(api["resources"]),
            "validators": copy.deepcopy(api.get("validators") or {}),
            "models": copy.deepcopy(api.get("models") or {}),
        }
        if req.get("stageName"):
            name = req["stageName"]
            stage = api["stages"].get(name)
            if stage is None:
                stage = self._new_stage(name, deployment["id"], req.get("stageDescription"))
                api["stages"][name] = stage
            stage["deploymentId"] = deployment["id"]
            stage["lastUpdatedDate"] = clock.now()
            if req.get("variables") is not None:
                stage["variables"] = req["variables"]
        self._save(ctx, api)
        return deployment

    def get_deployment(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        deployment = api["deployments"].get(req["deploymentId"])
        if deployment is None:
            raise errors.NotFoundException("Invalid Deployment identifier specified")
        return self._deployment_out(deployment)

    @staticmethod
    def _deployment_out(deployment: Json) -> Json:
        return {
            k: v for k, v in deployment.items() if k not in ("resources", "validators", "models")
        }

    def get_deployments(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        items = [
            {k: v for k, v in d.items() if k != "resources"} for d in api["deployments"].values()
        ]
        return _page(items, req)

    def delete_deployment(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        self.get_deployment(ctx, req)
        if any(s.get("deploymentId") == req["deploymentId"] for s in api["stages"].values()):
            raise errors.BadRequestException(
                "Active stages pointing to this deployment must be moved or deleted"
            )
        del api["deployments"][req["deploymentId"]]
        self._save(ctx, api)
        return {}

    @staticmethod
    def _new_stage(name: str, deployment_id: str, description: str | None) -> Json:
        now = clock.now()
        stage: Json = {
            "stageName": name,
            "deploymentId": deployment_id,
            "cacheClusterEnabled": False,
            "cacheClusterStatus": "NOT_AVAILABLE",
            "methodSettings": {},
            "tracingEnabled": False,
            "createdDate": now,
            "lastUpdatedDate": now,
        }
        if description:
            stage["description"] = description
        return stage

    def create_stage(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        name = req["stageName"]
        if name in api["stages"]:
            raise errors.ConflictException("Stage already exists")
        if req["deploymentId"] not in api["deployments"]:
            raise errors.BadRequestException("Invalid deployment identifier specified")
        stage = self._new_stage(name, req["deploymentId"], req.get("description"))
        for key in ("variables", "tags", "tracingEnabled", "canarySettings"):
            if req.get(key) is not None:
                stage[key] = req[key]
        api["stages"][name] = stage
        self._save(ctx, api)
        return stage

    def _stage(self, api: Json, name: str) -> Json:
        stage = api["stages"].get(name)
        if stage is None:
            raise errors.NotFoundException("Invalid Stage identifier specified")
        return stage

    def get_stage(self, ctx: RequestContext, req: Json) -> Json:
        return self._stage(self._api(ctx, req["restApiId"]), req["stageName"])

    def get_stages(self, ctx: RequestContext, req: Json) -> Json:
        stages = list(self._api(ctx, req["restApiId"])["stages"].values())
        if req.get("deploymentId"):
            stages = [s for s in stages if s.get("deploymentId") == req["deploymentId"]]
        return {"item": stages}

    def update_stage(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        stage = self._stage(api, req["stageName"])
        plain = []
        for op in req.get("patchOperations") or []:
            found = METHOD_SETTING.match(op.get("path") or "")
            if found is None:
                plain.append(op)
                continue
            name = METHOD_SETTINGS.get(found.group("setting"))
            if name is None:
                raise errors.BadRequestException(f"Invalid method setting path: {op['path']}")
            key = f"{found.group('resource').replace('~1', '/').lstrip('/')}/{found.group('verb')}"
            settings = stage.setdefault("methodSettings", {}).setdefault(key, {})
            if op.get("op") == "remove":
                settings.pop(name, None)
                continue
            value = str(op.get("value"))
            settings[name] = (
                value == "true"
                if name.endswith(("Enabled", "Encrypted", "CacheControl"))
                else float(value)
                if name == "throttlingRateLimit"
                else int(value)
                if name in ("throttlingBurstLimit", "cacheTtlInSeconds")
                else value
            )
        _patch(stage, plain)
        if stage.get("deploymentId") not in api["deployments"]:
            raise errors.BadRequestException("Invalid deployment identifier specified")
        stage["lastUpdatedDate"] = clock.now()
        self._save(ctx, api)
        return stage

    def delete_stage(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["restApiId"])
        self._stage(api, req["stageName"])
        del api["stages"][req["stageName"]]
        self._save(ctx, api)
        return {}

    # -- API keys and usage plans -----------------------------------------------------------------

    def create_api_key(self, ctx: RequestContext, req: Json) -> Json:
        value = req.get("value") or new_id(40)
        if len(value) < 20:
            raise errors.BadRequestException("API Key value should be at least 20 characters")
        if any(k["value"] == value for k in self.docs.all(ctx.account_id, ctx.region, "apikey")):
            raise errors.ConflictException("API Key already exists")
        now = clock.now()
        key: Json = {
            "id": new_id(10),
            "value": value,
            "name": req.get("name") or "",
            "enabled": bool(req.get("enabled")),
            "createdDate": now,
            "lastUpdatedDate": now,
            "stageKeys": [_stage_key(s) for s in req.get("stageKeys") or []],
            "tags": req.get("tags") or {},
        }
        for field in ("description", "customerId"):
            if req.get(field) is not None:
                key[field] = req[field]
        self.docs.put(ctx.account_id, ctx.region, "apikey", key["id"], key)
        return key

    def _api_key(self, ctx: RequestContext, key_id: str) -> Json:
        key = self.docs.get(ctx.account_id, ctx.region, "apikey", key_id)
        if key is None:
            raise errors.NotFoundException("Invalid API Key identifier specified")
        return key

    def get_api_key(self, ctx: RequestContext, req: Json) -> Json:
        key = self._api_key(ctx, req["apiKey"])
        return key if req.get("includeValue") else {k: v for k, v in key.items() if k != "value"}

    def get_api_keys(self, ctx: RequestContext, req: Json) -> Json:
        keys = self.docs.all(ctx.account_id, ctx.region, "apikey")
        if req.get("nameQuery"):
            keys = [k for k in keys if k["name"].startswith(req["nameQuery"])]
        if not req.get("includeValues"):
            keys = [{k: v for k, v in key.items() if k != "value"} for key in keys]
        return _page(keys, req)

    def update_api_key(self, ctx: RequestContext, req: Json) -> Json:
        key = self._api_key(ctx, req["apiKey"])
        _patch(key, req.get("patchOperations") or [])
        key["lastUpdatedDate"] = clock.now()
        self.docs.put(ctx.account_id, ctx.region, "apikey", key["id"], key)
        return key

    def delete_api_key(self, ctx: RequestContext, req: Json) -> Json:
        self._api_key(ctx, req["apiKey"])
        self.docs.delete(ctx.account_id, ctx.region, "apikey", req["apiKey"])
        for plan in self.docs.all(ctx.account_id, ctx.region, "usageplan"):
            if (plan.get("keys") or {}).pop(req["apiKey"], None) is not None:
                self.docs.put(ctx.account_id, ctx.region, "usageplan", plan["id"], plan)
        return {}

    def create_usage_plan(self, ctx: RequestContext, req: Json) -> Json:
        for stage in req.get("apiStages") or []:
            api = self._api(ctx, stage.get("apiId") or "")
            self._stage(api, stage.get("stage") or "")
        plan: Json = {"id": new_id(6), "name": req["name"], "apiStages": req.get("apiStages") or []}
        for key in ("description", "throttle", "quota", "tags"):
            if req.get(key) is not None:
                plan[key] = req[key]
        plan["keys"] = {}
        self.docs.put(ctx.account_id, ctx.region, "usageplan", plan["id"], plan)
        return self._plan_out(plan)

    @staticmethod
    def _plan_out(plan: Json) -> Json:
        return {k: v for k, v in plan.items() if k != "keys"}

    def _plan(self, ctx: RequestContext, plan_id: str) -> Json:
        plan = self.docs.get(ctx.account_id, ctx.region, "usageplan", plan_id)
        if plan is None:
            raise errors.NotFoundException("Invalid Usage Plan ID specified")
        return plan

    def get_usage_plan(self, ctx: RequestContext, req: Json) -> Json:
        return self._plan_out(self._plan(ctx, req["usagePlanId"]))

    def get_usage_plans(self, ctx: RequestContext, req: Json) -> Json:
        plans = self.docs.all(ctx.account_id, ctx.region, "usageplan")
        if req.get("keyId"):
            plans = [p for p in plans if req["keyId"] in (p.get("keys") or {})]
        return _page([self._plan_out(p) for p in plans], req)

    def update_usage_plan(self, ctx: RequestContext, req: Json) -> Json:
        plan = self._plan(ctx, req["usagePlanId"])
        for op in req.get("patchOperations") or []:
            if op.get("path") == "/apiStages" and op.get("op") in ("add", "remove"):
                api_id, _, stage = str(op.get("value") or "").partition(":")
                entry = {"apiId": api_id, "stage": stage}
                if op["op"] == "add":
                    self._stage(self._api(ctx, api_id), stage)
                    plan["apiStages"].append(entry)
                else:
                    plan["apiStages"] = [s for s in plan["apiStages"] if s != entry]
                continue
            value = op.get("value")
            if op.get("path", "").startswith(("/throttle/", "/quota/")) and value is not None:
                field = op["path"].rsplit("/", 1)[1]
                number = float(value) if field == "rateLimit" else value
                if field in ("burstLimit", "limit", "offset"):
                    number = int(value)
                op = {**op, "value": number}
            _patch(plan, [op])
        self.docs.put(ctx.account_id, ctx.region, "usageplan", plan["id"], plan)
        return self._plan_out(plan)

    def delete_usage_plan(self, ctx: RequestContext, req: Json) -> Json:
        self._plan(ctx, req["usagePlanId"])
        self.docs.delete(ctx.account_id, ctx.region, "usageplan", req["usagePlanId"])
        return {}

    def create_usage_plan_key(self, ctx: RequestContext, req: Json) -> Json:
        plan = self._plan(ctx, req["usagePlanId"])
        if req["keyType"] != "API_KEY":
            raise errors.BadRequestException(f"Invalid key type specified: {req['keyType']}")
        key = self._api_key(ctx, req["keyId"])
        if key["id"] in plan["keys"]:
            raise errors.ConflictException(
                f"Usage Plan {plan['id']} cannot be added because API Key {key['id']} cannot be "
                "associated with more than one Usage Plan"
            )
        plan["keys"][key["id"]] = True
        self.docs.put(ctx.account_id, ctx.region, "usageplan", plan["id"], plan)
        return self._plan_key(key)

    @staticmethod
    def _plan_key(key: Json) -> Json:
        return {"id": key["id"], "type": "API_KEY", "value": key["value"], "name": key["name"]}

    def get_usage_plan_keys(self, ctx: RequestContext, req: Json) -> Json:
        plan = self._plan(ctx, req["usagePlanId"])
        keys = [self.docs.get(ctx.account_id, ctx.region, "apikey", k) for k in plan["keys"]]
        items = [self._plan_key(k) for k in keys if k is not None]
        if req.get("nameQuery"):
            items = [i for i in items if i["name"].startswith(req["nameQuery"])]
        return _page(items, req)

    def get_usage_plan_key(self, ctx: RequestContext, req: Json) -> Json:
        plan = self._plan(ctx, req["usagePlanId"])
        if req["keyId"] not in plan["keys"]:
            raise errors.NotFoundException("Invalid Usage Plan Key identifier specified")
        return self._plan_key(self._api_key(ctx, req["keyId"]))

    def delete_usage_plan_key(self, ctx: RequestContext, req: Json) -> Json:
        plan = self._plan(ctx, req["usagePlanId"])
        if plan["keys"].pop(req["keyId"], None) is None:
            raise errors.NotFoundException("Invalid Usage Plan Key identifier specified")
        self.docs.put(ctx.account_id, ctx.region, "usageplan", plan["id"], plan)
        return {}
