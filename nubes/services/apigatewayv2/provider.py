"""Amazon API Gateway v2: HTTP APIs (routes, Lambda proxy and HTTP proxy integrations in
payload formats 1.0 and 2.0, Lambda and JWT authorizers, CORS, stages with auto-deploy, quick
create) and WebSocket APIs (``$connect``/``$disconnect``/``$default`` and selected routes).
The APIs answer through ``nubes/runtime/apigateway``."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.protocol.base import HttpResponse
from nubes.runtime.apigateway.docs import Docs, migration, new_id
from nubes.runtime.apigateway.http import NOT_FOUND, HttpPlane
from nubes.runtime.apigateway.proxy import Call, json_reply
from nubes.runtime.apigateway.serving import InvokeUrls, Mapped, domain_out
from nubes.runtime.apigateway.websocket import WebSocketPlane
from nubes.services.apigateway import openapi
from nubes.services.apigatewayv2.errors import errors
from nubes.services.base import ServiceProvider

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]

ROUTE_KEY = re.compile(r"^(\$default|(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS|ANY) (/[^ ]*))$")
INTEGRATION_TYPES = frozenset(("AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY", "MOCK"))
API_ARN = re.compile(r"^arn:aws[a-z-]*:apigateway:[a-z0-9-]+::/apis/(?P<id>[a-z0-9]+)$")


def _api_out(api: Json) -> Json:
    return {
        k: v
        for k, v in api.items()
        if k not in ("routes", "integrations", "stages", "deployments", "authorizers")
    }


def _items(values: list[Json], req: Json) -> Json:
    start = int(req.get("NextToken") or 0) if str(req.get("NextToken") or "0").isdigit() else 0
    raw = req.get("MaxResults") or "100"
    if not str(raw).isdigit():
        raise errors.BadRequestException(f"Invalid value for MaxResults: {raw}")
    limit = int(raw)
    out: Json = {"Items": values[start : start + limit]}
    if start + limit < len(values):
        out["NextToken"] = str(start + limit)
    return out


def _copy_fields(target: Json, req: Json, fields: tuple[str, ...]) -> None:
    for field in fields:
        if req.get(field) is not None:
            target[field] = req[field]


def _api_mapping(domain: Json, path: str) -> Mapped | None:
    """The API mapping with the longest key the path starts with (the empty key takes every
    other path)."""
    best = None
    for mapping in (domain.get("mappings") or {}).values():
        key = mapping.get("ApiMappingKey") or ""
        if key and not (path == f"/{key}" or path.startswith(f"/{key}/")):
            continue
        if best is None or len(key) > len(best.get("ApiMappingKey") or ""):
            best = mapping
    if best is None:
        return None
    key = best.get("ApiMappingKey") or ""
    rest = path[len(key) + 1 :] if key else path
    return Mapped(best["ApiId"], best["Stage"], rest or "/")


class ApiGatewayV2Provider(ServiceProvider):
    service = "apigatewayv2"
    migrations = (migration("apigatewayv2_docs"),)

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.docs = Docs(self.store, "apigatewayv2_docs")
        self.plane = HttpPlane(env)
        self.websockets = WebSocketPlane(env)
        self.urls = InvokeUrls(
            env, self.docs, "api", self._answer, _api_mapping, (404, "Not Found")
        )

    async def start(self) -> None:
        self.urls.start()

    def reset(self) -> None:
        self.plane.reset()
        self.urls.domains_changed()

    async def _answer(self, call: Call, api: Json, stage: str | None) -> HttpResponse | None:
        if api.get("ProtocolType") == "HTTP":
            return await self.plane.answer(call, api, stage)
        if stage is not None:
            # Custom domain names map HTTP APIs only.
            return json_reply(404, NOT_FOUND)
        # The @connections API of a WebSocket API's stage URL: what remains is the management
        # API's own path, which routing (by the execute-api signature) takes.
        stage, _, rest = call.path.lstrip("/").partition("/")
        if stage and rest.startswith("@connections/"):
            call.req.path = "/" + rest
        return None

    # -- custom domain names and API mappings -----------------------------------------------------

    def create_domain_name(self, ctx: RequestContext, req: Json) -> Json:
        name = req["DomainName"].lower()
        if self.urls.domain_taken(name):
            raise errors.ConflictException(f"The domain name resource already exists: {name}")
        configs = []
        regional = f"execute-api.{ctx.region}.amazonaws.com"
        for config in req.get("DomainNameConfigurations") or [{}]:
            configs.append(
                {
                    **config,
                    "ApiGatewayDomainName": f"d-{new_id(10)}.{regional}",
                    "DomainNameStatus": "AVAILABLE",
                    "EndpointType": config.get("EndpointType") or "REGIONAL",
                    "HostedZoneId": "Z1UJRXOUMOOFQ8",
                    "SecurityPolicy": config.get("SecurityPolicy") or "TLS_1_2",
                }
            )
        domain: Json = {
            "DomainName": name,
            "DomainNameArn": f"arn:{ctx.partition}:apigateway:{ctx.region}::/domainnames/{name}",
            "ApiMappingSelectionExpression": "$request.basepath",
            "DomainNameConfigurations": configs,
            "Tags": req.get("Tags") or {},
            "mappings": {},
        }
        self.urls.save_domain(ctx.account_id, ctx.region, name, domain)
        return domain_out(domain)

    def _domain(self, ctx: RequestContext, name: str) -> Json:
        domain = self.urls.domain(ctx.account_id, ctx.region, name)
        if domain is None:
            raise errors.NotFoundException(f"Invalid domain name identifier specified {name}")
        return domain

    def get_domain_name(self, ctx: RequestContext, req: Json) -> Json:
        return domain_out(self._domain(ctx, req["DomainName"]))

    def get_domain_names(self, ctx: RequestContext, req: Json) -> Json:
        return _items(self.urls.domains(ctx.account_id, ctx.region), req)

    def delete_domain_name(self, ctx: RequestContext, req: Json) -> Json:
        domain = self._domain(ctx, req["DomainName"])
        self.urls.delete_domain(ctx.account_id, ctx.region, domain["DomainName"])
        return {}

    def create_api_mapping(self, ctx: RequestContext, req: Json) -> Json:
        domain = self._domain(ctx, req["DomainName"])
        api = self._api(ctx, req["ApiId"])
        if req["Stage"] not in api["stages"]:
            raise errors.BadRequestException(f"Invalid stage identifier specified {req['Stage']}")
        key = req.get("ApiMappingKey") or ""
        if any((m.get("ApiMappingKey") or "") == key for m in domain["mappings"].values()):
            raise errors.ConflictException(f"ApiMapping with key '{key}' already exists")
        mapping: Json = {
            "ApiMappingId": new_id(6),
            "ApiId": api["ApiId"],
            "Stage": req["Stage"],
            "ApiMappingKey": key,
        }
        domain["mappings"][mapping["ApiMappingId"]] = mapping
        self.urls.save_domain(ctx.account_id, ctx.region, domain["DomainName"], domain)
        return mapping

    def _api_mapping(self, domain: Json, mapping_id: str) -> Json:
        mapping = domain["mappings"].get(mapping_id)
        if mapping is None:
            raise errors.NotFoundException(f"Invalid API mapping identifier specified {mapping_id}")
        return mapping

    def get_api_mapping(self, ctx: RequestContext, req: Json) -> Json:
        return self._api_mapping(self._domain(ctx, req["DomainName"]), req["ApiMappingId"])

    def get_api_mappings(self, ctx: RequestContext, req: Json) -> Json:
        return _items(list(self._domain(ctx, req["DomainName"])["mappings"].values()), req)

    def delete_api_mapping(self, ctx: RequestContext, req: Json) -> Json:
        domain = self._domain(ctx, req["DomainName"])
        self._api_mapping(domain, req["ApiMappingId"])
        del domain["mappings"][req["ApiMappingId"]]
        self.urls.save_domain(ctx.account_id, ctx.region, domain["DomainName"], domain)
        return {}

    def websocket_api(self, api_id: str) -> tuple[str, str, Json] | None:
        """(account, region, API) of a WebSocket API, for the connection endpoint."""
        with self.store.transaction():
            found = self.docs.find("api", api_id)
        if found is None or found[2].get("ProtocolType") != "WEBSOCKET":
            return None
        return found

    # -- APIs -----------------------------------------------------------------------------------

    def _api(self, ctx: RequestContext, api_id: str) -> Json:
        api = self.docs.get(ctx.account_id, ctx.region, "api", api_id)
        if api is None:
            raise errors.NotFoundException(f"Invalid API identifier specified {api_id}")
        return api

    def _save(self, ctx: RequestContext, api: Json, changed: bool = True) -> None:
        """Store the API; a change to what it routes redeploys its auto-deploy stages."""
        if changed:
            for stage in api["stages"].values():
                if stage.get("AutoDeploy"):
                    deployment = self._snapshot(api, "Automatic deployment", auto=True)
                    stage["DeploymentId"] = deployment["DeploymentId"]
                    stage["LastDeploymentStatusMessage"] = (
                        f"Successfully deployed stage with deployment ID "
                        f"'{deployment['DeploymentId']}'"
                    )
                    stage["LastUpdatedDate"] = clock.now()
        self.docs.put(ctx.account_id, ctx.region, "api", api["ApiId"], api)

    @staticmethod
    def _snapshot(api: Json, description: str | None, auto: bool = False) -> Json:
        deployment: Json = {
            "DeploymentId": new_id(6),
            "DeploymentStatus": "DEPLOYED",
            "CreatedDate": clock.now(),
            "AutoDeployed": auto,
        }
        if description is not None:
            deployment["Description"] = description
        api["deployments"][deployment["DeploymentId"]] = {
            **deployment,
            "snapshot": {
                k: copy.deepcopy(api[k]) for k in ("routes", "integrations", "authorizers")
            },
        }
        return deployment

    @staticmethod
    def _endpoint(ctx: RequestContext, api_id: str, protocol: str) -> str:
        host = ctx.request.host
        port = host.rpartition(":")[2] if ":" in host else ""
        suffix = f":{port}" if port.isdigit() else ""
        scheme = "ws" if protocol == "WEBSOCKET" else "http"
        return f"{scheme}://{api_id}.execute-api.localhost.localstack.cloud{suffix}"

    def create_api(self, ctx: RequestContext, req: Json) -> Json:
        protocol = req["ProtocolType"]
        if protocol not in ("HTTP", "WEBSOCKET"):
            raise errors.BadRequestException(f"Invalid protocol type: {protocol}")
        if protocol == "WEBSOCKET" and not req.get("RouteSelectionExpression"):
            raise errors.BadRequestException(
                "RouteSelectionExpression is required for WEBSOCKET APIs"
            )
        if protocol == "WEBSOCKET" and (req.get("Target") or req.get("RouteKey")):
            raise errors.BadRequestException("Quick create is only supported for HTTP APIs")
        api_id = new_id()
        api: Json = {
            "ApiId": api_id,
            "Name": req["Name"],
            "ProtocolType": protocol,
            "ApiEndpoint": self._endpoint(ctx, api_id, protocol),
            "ApiKeySelectionExpression": req.get("ApiKeySelectionExpression")
            or "$request.header.x-api-key",
            "CreatedDate": clock.now(),
            "DisableExecuteApiEndpoint": bool(req.get("DisableExecuteApiEndpoint")),
            "RouteSelectionExpression": req.get("RouteSelectionExpression")
            or "${request.method} ${request.path}",
            "Tags": req.get("Tags") or {},
            "routes": {},
            "integrations": {},
            "stages": {},
            "deployments": {},
            "authorizers": {},
        }
        _copy_fields(
            api,
            req,
            (
                "Description",
                "Version",
                "CorsConfiguration",
                "DisableSchemaValidation",
                "IpAddressType",
            ),
        )
        if protocol == "HTTP" and api.get("CorsConfiguration"):
            _check_cors(api["CorsConfiguration"])
        if req.get("Target"):
            target = req["Target"]
            lambda_target = target.startswith("arn:")
            integration = {
                "IntegrationId": new_id(7),
                "ConnectionType": "INTERNET",
                "IntegrationType": "AWS_PROXY" if lambda_target else "HTTP_PROXY",
                "IntegrationUri": target,
                "PayloadFormatVersion": "2.0" if lambda_target else "1.0",
                "TimeoutInMillis": 30000,
                "ApiGatewayManaged": True,
            }
            if not lambda_target:
                integration["IntegrationMethod"] = "ANY"
            api["integrations"][integration["IntegrationId"]] = integration
            route_key = req.get("RouteKey") or "$default"
            route = {
                "RouteId": new_id(7),
                "RouteKey": route_key,
                "AuthorizationType": "NONE",
                "ApiKeyRequired": False,
                "ApiGatewayManaged": True,
                "Target": f"integrations/{integration['IntegrationId']}",
            }
            api["routes"][route["RouteId"]] = route
            now = clock.now()
            api["stages"]["$default"] = {
                "StageName": "$default",
                "AutoDeploy": True,
                "ApiGatewayManaged": True,
                "CreatedDate": now,
                "LastUpdatedDate": now,
                "DefaultRouteSettings": {"DetailedMetricsEnabled": False},
                "RouteSettings": {},
                "StageVariables": {},
                "Tags": {},
            }
            api["ApiGatewayManaged"] = True
        elif req.get("RouteKey"):
            raise errors.BadRequestException("RouteKey can only be given with a Target")
        self._save(ctx, api)
        return _api_out(api)

    def import_api(self, ctx: RequestContext, req: Json) -> Json:
        doc = openapi.parse(str(req.get("Body") or "").encode())
        title = (doc.get("info") or {}).get("title")
        if not title:
            raise errors.BadRequestException("Invalid OpenAPI input: the definition has no title")
        made = self.create_api(ctx, {"Name": str(title), "ProtocolType": "HTTP"})
        api = self._api(ctx, made["ApiId"])
        self._apply_definition(api, doc)
        self._save(ctx, api)
        return _api_out(api)

    def reimport_api(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        doc = openapi.parse(str(req.get("Body") or "").encode())
        api["routes"], api["integrations"], api["authorizers"] = {}, {}, {}
        self._apply_definition(api, doc)
        self._save(ctx, api)
        return _api_out(api)

    @staticmethod
    def _apply_definition(api: Json, doc: Json) -> None:
        """An OpenAPI 3 definition of an HTTP API: routes from its paths, integrations from
        their x-amazon-apigateway-integration, authorizers from its security schemes."""
        info = doc.get("info") or {}
        api["Name"] = str(info.get("title") or api["Name"])
        if info.get("description"):
            api["Description"] = str(info["description"])
        if info.get("version") is not None:
            api["Version"] = str(info["version"])
        cors = doc.get("x-amazon-apigateway-cors")
        if isinstance(cors, dict):
            api["CorsConfiguration"] = {k[0].upper() + k[1:]: v for k, v in cors.items()}
        schemes = ((doc.get("components") or {}).get("securitySchemes")) or {}
        by_scheme: dict[str, str] = {}
        for name, scheme in schemes.items():
            ext = (scheme or {}).get("x-amazon-apigateway-authorizer")
            if not isinstance(ext, dict):
                continue
            kind = str(ext.get("type") or "").upper()
            authorizer: Json = {
                "AuthorizerId": new_id(6),
                "Name": name,
                "AuthorizerType": "JWT" if kind == "JWT" else "REQUEST",
            }
            source = ext.get("identitySource") or "$request.header.Authorization"
            authorizer["IdentitySource"] = (
                [s.strip() for s in source.split(",")] if isinstance(source, str) else source
            )
            jwt = ext.get("jwtConfiguration")
            if isinstance(jwt, dict):
                authorizer["JwtConfiguration"] = {
                    "Issuer": jwt.get("issuer"),
                    "Audience": list(jwt.get("audience") or []),
                }
            for key, field in (
                ("authorizerUri", "AuthorizerUri"),
                ("authorizerPayloadFormatVersion", "AuthorizerPayloadFormatVersion"),
                ("enableSimpleResponses", "EnableSimpleResponses"),
                ("authorizerResultTtlInSeconds", "AuthorizerResultTtlInSeconds"),
            ):
                if ext.get(key) is not None:
                    authorizer[field] = ext[key]
            api["authorizers"][authorizer["AuthorizerId"]] = authorizer
            by_scheme[name] = authorizer["AuthorizerId"]
        for path, item in (doc.get("paths") or {}).items():
            for verb_key, operation in (item or {}).items():
                verb = "ANY" if verb_key == openapi.ANY_METHOD else verb_key.upper()
                if verb != "ANY" and verb_key not in openapi.VERBS:
                    continue
                operation = operation or {}
                default = path in ("$default", "/$default") or operation.get("isDefaultRoute")
                route: Json = {
                    "RouteId": new_id(7),
                    "RouteKey": "$default" if default else f"{verb} {path}",
                    "AuthorizationType": "NONE",
                    "ApiKeyRequired": False,
                }
                ext = operation.get("x-amazon-apigateway-integration")
                if isinstance(ext, dict):
                    kind = str(ext.get("type") or "aws_proxy").upper()
                    integration: Json = {
                        "IntegrationId": new_id(7),
                        "IntegrationType": kind,
                        "IntegrationUri": ext.get("uri") or "",
                        "ConnectionType": str(ext.get("connectionType") or "INTERNET"),
                        "PayloadFormatVersion": str(
                            ext.get("payloadFormatVersion")
                            or ("2.0" if kind == "AWS_PROXY" else "1.0")
                        ),
                        "TimeoutInMillis": int(ext.get("timeoutInMillis") or 30000),
                    }
                    if kind == "HTTP_PROXY":
                        integration["IntegrationMethod"] = str(ext.get("httpMethod") or "ANY")
                    api["integrations"][integration["IntegrationId"]] = integration
                    route["Target"] = f"integrations/{integration['IntegrationId']}"
                for requirement in operation.get("security", doc.get("security")) or []:
                    for scheme_name, scopes in (requirement or {}).items():
                        if scheme_name in by_scheme:
                            authorizer = api["authorizers"][by_scheme[scheme_name]]
                            route["AuthorizerId"] = by_scheme[scheme_name]
                            route["AuthorizationType"] = (
                                "JWT" if authorizer["AuthorizerType"] == "JWT" else "CUSTOM"
                            )
                            if scopes:
                                route["AuthorizationScopes"] = list(scopes)
                api["routes"][route["RouteId"]] = route

    def get_api(self, ctx: RequestContext, req: Json) -> Json:
        return _api_out(self._api(ctx, req["ApiId"]))

    def get_apis(self, ctx: RequestContext, req: Json) -> Json:
        return _items([_api_out(a) for a in self.docs.all(ctx.account_id, ctx.region, "api")], req)

    def update_api(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        _copy_fields(
            api,
            req,
            (
                "Name",
                "Description",
                "Version",
                "CorsConfiguration",
                "RouteSelectionExpression",
                "ApiKeySelectionExpression",
                "DisableSchemaValidation",
                "DisableExecuteApiEndpoint",
                "IpAddressType",
            ),
        )
        if api.get("CorsConfiguration"):
            _check_cors(api["CorsConfiguration"])
        self._save(ctx, api, changed=False)
        return _api_out(api)

    def delete_api(self, ctx: RequestContext, req: Json) -> Json:
        self._api(ctx, req["ApiId"])
        self.docs.delete(ctx.account_id, ctx.region, "api", req["ApiId"])
        return {}

    def delete_cors_configuration(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        api.pop("CorsConfiguration", None)
        self._save(ctx, api, changed=False)
        return {}

    # -- integrations ---------------------------------------------------------------------------

    def create_integration(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        kind = req["IntegrationType"]
        if kind not in INTEGRATION_TYPES:
            raise errors.BadRequestException(f"Invalid integration type: {kind}")
        if kind != "MOCK" and not req.get("IntegrationUri"):
            raise errors.BadRequestException("IntegrationUri is required for this integration type")
        http = api["ProtocolType"] == "HTTP"
        if http and kind in ("AWS", "HTTP", "MOCK"):
            raise errors.BadRequestException(
                f"Integration type {kind} is not supported for HTTP APIs"
            )
        version = req.get("PayloadFormatVersion")
        if version not in (None, "1.0", "2.0"):
            raise errors.BadRequestException(f"Invalid payload format version: {version}")
        if version is None:
            version = "2.0" if http and kind == "AWS_PROXY" else "1.0"
        integration: Json = {
            "IntegrationId": new_id(7),
            "IntegrationType": kind,
            "ConnectionType": req.get("ConnectionType") or "INTERNET",
            "PayloadFormatVersion": version,
            "TimeoutInMillis": req.get("TimeoutInMillis") or (30000 if http else 29000),
        }
        if kind == "HTTP_PROXY" and http:
            integration["IntegrationMethod"] = req.get("IntegrationMethod") or "ANY"
        _copy_fields(
            integration,
            req,
            (
                "ConnectionId",
                "ContentHandlingStrategy",
                "CredentialsArn",
                "Description",
                "IntegrationMethod",
                "IntegrationSubtype",
                "IntegrationUri",
                "PassthroughBehavior",
                "RequestParameters",
                "RequestTemplates",
                "ResponseParameters",
                "TemplateSelectionExpression",
                "TlsConfig",
            ),
        )
        api["integrations"][integration["IntegrationId"]] = integration
        self._save(ctx, api)
        return integration

    def _integration(self, api: Json, integration_id: str) -> Json:
        integration = api["integrations"].get(integration_id)
        if integration is None:
            raise errors.NotFoundException(
                f"Invalid Integration identifier specified {integration_id}"
            )
        return integration

    def get_integration(self, ctx: RequestContext, req: Json) -> Json:
        return self._integration(self._api(ctx, req["ApiId"]), req["IntegrationId"])

    def get_integrations(self, ctx: RequestContext, req: Json) -> Json:
        return _items(list(self._api(ctx, req["ApiId"])["integrations"].values()), req)

    def update_integration(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        integration = self._integration(api, req["IntegrationId"])
        _copy_fields(
            integration,
            req,
            (
                "ConnectionId",
                "ConnectionType",
                "Description",
                "IntegrationMethod",
                "IntegrationType",
                "IntegrationUri",
                "PayloadFormatVersion",
                "RequestParameters",
                "RequestTemplates",
                "ResponseParameters",
                "TimeoutInMillis",
            ),
        )
        self._save(ctx, api)
        return integration

    def delete_integration(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        self._integration(api, req["IntegrationId"])
        target = f"integrations/{req['IntegrationId']}"
        if any(r.get("Target") == target for r in api["routes"].values()):
            raise errors.ConflictException(
                "Cannot delete an integration that is the target of a route"
            )
        del api["integrations"][req["IntegrationId"]]
        self._save(ctx, api)
        return {}

    # -- routes ---------------------------------------------------------------------------------

    def _check_route(self, api: Json, req: Json, route_id: str | None = None) -> None:
        key = req.get("RouteKey")
        if key is not None:
            if api["ProtocolType"] == "HTTP" and ROUTE_KEY.match(key) is None:
                raise errors.BadRequestException(f"Invalid route key: {key}")
            if any(
                r["RouteKey"] == key and r["RouteId"] != route_id for r in api["routes"].values()
            ):
                raise errors.ConflictException(f"Route with key {key} already exists for this API")
        target = req.get("Target")
        if target is not None and target.rpartition("/")[2] not in api["integrations"]:
            raise errors.BadRequestException(f"Invalid integration target: {target}")
        auth = req.get("AuthorizationType")
        if auth not in (None, "NONE", "AWS_IAM", "CUSTOM", "JWT"):
            raise errors.BadRequestException(f"Invalid authorization type: {auth}")
        if auth in ("CUSTOM", "JWT") and req.get("AuthorizerId") not in api["authorizers"]:
            raise errors.BadRequestException("Invalid authorizer identifier specified")

    def create_route(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        self._check_route(api, req)
        route: Json = {
            "RouteId": new_id(7),
            "RouteKey": req["RouteKey"],
            "AuthorizationType": req.get("AuthorizationType") or "NONE",
            "ApiKeyRequired": bool(req.get("ApiKeyRequired")),
        }
        _copy_fields(
            route,
            req,
            (
                "AuthorizationScopes",
                "AuthorizerId",
                "ModelSelectionExpression",
                "OperationName",
                "RequestModels",
                "RequestParameters",
                "RouteResponseSelectionExpression",
                "Target",
            ),
        )
        api["routes"][route["RouteId"]] = route
        self._save(ctx, api)
        return route

    def _route(self, api: Json, route_id: str) -> Json:
        route = api["routes"].get(route_id)
        if route is None:
            raise errors.NotFoundException(f"Invalid Route identifier specified {route_id}")
        return route

    def get_route(self, ctx: RequestContext, req: Json) -> Json:
        return self._route(self._api(ctx, req["ApiId"]), req["RouteId"])

    def get_routes(self, ctx: RequestContext, req: Json) -> Json:
        return _items(list(self._api(ctx, req["ApiId"])["routes"].values()), req)

    def update_route(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        route = self._route(api, req["RouteId"])
        merged = {**route, **{k: v for k, v in req.items() if v is not None}}
        self._check_route(api, merged, route["RouteId"])
        _copy_fields(
            route,
            req,
            (
                "RouteKey",
                "AuthorizationType",
                "AuthorizerId",
                "AuthorizationScopes",
                "ApiKeyRequired",
                "OperationName",
                "RequestModels",
                "RequestParameters",
                "RouteResponseSelectionExpression",
                "Target",
            ),
        )
        self._save(ctx, api)
        return route

    def delete_route(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        self._route(api, req["RouteId"])
        del api["routes"][req["RouteId"]]
        self._save(ctx, api)
        return {}

    # -- authorizers ----------------------------------------------------------------------------

    def create_authorizer(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        kind = req["AuthorizerType"]
        if kind not in ("REQUEST", "JWT"):
            raise errors.BadRequestException(f"Invalid authorizer type: {kind}")
        if kind == "JWT":
            jwt = req.get("JwtConfiguration") or {}
            if not jwt.get("Issuer") or not jwt.get("Audience"):
                raise errors.BadRequestException(
                    "JwtConfiguration with an Issuer and an Audience is required for JWT "
                    "authorizers"
                )
        if kind == "REQUEST" and not req.get("AuthorizerUri"):
            raise errors.BadRequestException("AuthorizerUri is required for REQUEST authorizers")
        if kind == "REQUEST" and api["ProtocolType"] == "HTTP":
            version = req.get("AuthorizerPayloadFormatVersion")
            if version not in ("1.0", "2.0"):
                raise errors.BadRequestException(
                    "AuthorizerPayloadFormatVersion is required for REQUEST authorizers of "
                    "HTTP APIs (1.0 or 2.0)"
                )
            if req.get("EnableSimpleResponses") and version != "2.0":
                raise errors.BadRequestException(
                    "Simple responses are only supported with payload format version 2.0"
                )
        authorizer: Json = {
            "AuthorizerId": new_id(6),
            "AuthorizerType": kind,
            "Name": req["Name"],
            "IdentitySource": req.get("IdentitySource") or [],
        }
        _copy_fields(
            authorizer,
            req,
            (
                "AuthorizerCredentialsArn",
                "AuthorizerPayloadFormatVersion",
                "AuthorizerResultTtlInSeconds",
                "AuthorizerUri",
                "EnableSimpleResponses",
                "IdentityValidationExpression",
                "JwtConfiguration",
            ),
        )
        api["authorizers"][authorizer["AuthorizerId"]] = authorizer
        self._save(ctx, api)
        return authorizer

    def _authorizer(self, api: Json, authorizer_id: str) -> Json:
        authorizer = api["authorizers"].get(authorizer_id)
        if authorizer is None:
            raise errors.NotFoundException(
                f"Invalid Authorizer identifier specified {authorizer_id}"
            )
        return authorizer

    def get_authorizer(self, ctx: RequestContext, req: Json) -> Json:
        return self._authorizer(self._api(ctx, req["ApiId"]), req["AuthorizerId"])

    def get_authorizers(self, ctx: RequestContext, req: Json) -> Json:
        return _items(list(self._api(ctx, req["ApiId"])["authorizers"].values()), req)

    def update_authorizer(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        authorizer = self._authorizer(api, req["AuthorizerId"])
        _copy_fields(
            authorizer,
            req,
            (
                "Name",
                "AuthorizerUri",
                "AuthorizerResultTtlInSeconds",
                "IdentitySource",
                "JwtConfiguration",
                "EnableSimpleResponses",
                "AuthorizerPayloadFormatVersion",
            ),
        )
        self._save(ctx, api)
        self.plane.authorizers.forget()
        return authorizer

    def delete_authorizer(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        self._authorizer(api, req["AuthorizerId"])
        if any(r.get("AuthorizerId") == req["AuthorizerId"] for r in api["routes"].values()):
            raise errors.ConflictException("Cannot delete an authorizer that a route uses")
        del api["authorizers"][req["AuthorizerId"]]
        self._save(ctx, api)
        return {}

    def reset_authorizers_cache(self, ctx: RequestContext, req: Json) -> Json:
        self._api(ctx, req["ApiId"])
        self.plane.authorizers.forget()
        return {}

    # -- stages and deployments -----------------------------------------------------------------

    def create_stage(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        name = req["StageName"]
        if name in api["stages"]:
            raise errors.ConflictException(f"Stage {name} already exists")
        if req.get("DeploymentId") and req["DeploymentId"] not in api["deployments"]:
            raise errors.BadRequestException("Invalid deployment identifier specified")
        now = clock.now()
        stage: Json = {
            "StageName": name,
            "AutoDeploy": bool(req.get("AutoDeploy")),
            "CreatedDate": now,
            "LastUpdatedDate": now,
            "DefaultRouteSettings": req.get("DefaultRouteSettings")
            or {"DetailedMetricsEnabled": False},
            "RouteSettings": req.get("RouteSettings") or {},
            "StageVariables": req.get("StageVariables") or {},
            "Tags": req.get("Tags") or {},
        }
        _copy_fields(
            stage, req, ("AccessLogSettings", "ClientCertificateId", "DeploymentId", "Description")
        )
        api["stages"][name] = stage
        self._save(ctx, api, changed=bool(stage["AutoDeploy"]))
        return stage

    def _stage(self, api: Json, name: str) -> Json:
        stage = api["stages"].get(name)
        if stage is None:
            raise errors.NotFoundException(f"Invalid stage identifier specified {name}")
        return stage

    def get_stage(self, ctx: RequestContext, req: Json) -> Json:
        return self._stage(self._api(ctx, req["ApiId"]), req["StageName"])

    def get_stages(self, ctx: RequestContext, req: Json) -> Json:
        return _items(list(self._api(ctx, req["ApiId"])["stages"].values()), req)

    def update_stage(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        stage = self._stage(api, req["StageName"])
        if req.get("DeploymentId") and req["DeploymentId"] not in api["deployments"]:
            raise errors.BadRequestException("Invalid deployment identifier specified")
        _copy_fields(
            stage,
            req,
            (
                "AccessLogSettings",
                "AutoDeploy",
                "DefaultRouteSettings",
                "DeploymentId",
                "Description",
                "RouteSettings",
                "StageVariables",
            ),
        )
        stage["LastUpdatedDate"] = clock.now()
        self._save(ctx, api, changed=bool(req.get("AutoDeploy")))
        return stage

    def delete_stage(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        self._stage(api, req["StageName"])
        del api["stages"][req["StageName"]]
        self._save(ctx, api, changed=False)
        return {}

    def create_deployment(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        if not api["routes"]:
            raise errors.BadRequestException("Unable to deploy API because no routes exist")
        stage = None
        if req.get("StageName"):
            stage = self._stage(api, req["StageName"])
            if stage.get("AutoDeploy"):
                raise errors.BadRequestException(
                    "Unable to create a deployment for a stage with auto-deploy enabled"
                )
        deployment = self._snapshot(api, req.get("Description"))
        if stage is not None:
            stage["DeploymentId"] = deployment["DeploymentId"]
            stage["LastUpdatedDate"] = clock.now()
        self._save(ctx, api, changed=False)
        return deployment

    def _deployment(self, api: Json, deployment_id: str) -> Json:
        deployment = api["deployments"].get(deployment_id)
        if deployment is None:
            raise errors.NotFoundException(
                f"Invalid Deployment identifier specified {deployment_id}"
            )
        return {k: v for k, v in deployment.items() if k != "snapshot"}

    def get_deployment(self, ctx: RequestContext, req: Json) -> Json:
        return self._deployment(self._api(ctx, req["ApiId"]), req["DeploymentId"])

    def get_deployments(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        return _items([self._deployment(api, d) for d in api["deployments"]], req)

    def delete_deployment(self, ctx: RequestContext, req: Json) -> Json:
        api = self._api(ctx, req["ApiId"])
        self._deployment(api, req["DeploymentId"])
        if any(s.get("DeploymentId") == req["DeploymentId"] for s in api["stages"].values()):
            raise errors.BadRequestException(
                "Active stages pointing to this deployment must be moved or deleted"
            )
        del api["deployments"][req["DeploymentId"]]
        self._save(ctx, api, changed=False)
        return {}

    # -- tags -----------------------------------------------------------------------------------

    def _tagged(self, ctx: RequestContext, arn: str) -> Json:
        found = API_ARN.match(arn)
        if found is None:
            raise errors.NotFoundException(f"Invalid resource ARN {arn}")
        return self._api(ctx, found.group("id"))

    def get_tags(self, ctx: RequestContext, req: Json) -> Json:
        return {"Tags": self._tagged(ctx, req["ResourceArn"]).get("Tags") or {}}

    def tag_resource(self, ctx: RequestContext, req: Json) -> Json:
        api = self._tagged(ctx, req["ResourceArn"])
        api.setdefault("Tags", {}).update(req.get("Tags") or {})
        self._save(ctx, api, changed=False)
        return {}

    def untag_resource(self, ctx: RequestContext, req: Json) -> Json:
        api = self._tagged(ctx, req["ResourceArn"])
        for key in req.get("TagKeys") or []:
            api.setdefault("Tags", {}).pop(key, None)
        self._save(ctx, api, changed=False)
        return {}


def _check_cors(cors: Json) -> None:
    if cors.get("AllowCredentials") and "*" in (cors.get("AllowOrigins") or []):
        raise errors.BadRequestException(
            "allow-credentials is not supported when allow-origins is '*'"
        )
