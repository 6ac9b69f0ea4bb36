"""OpenAPI (2.0 and 3.0) definitions of REST APIs with API Gateway's extensions
(``x-amazon-apigateway-integration``, ``-authorizer``, ``-binary-media-types``,
``-any-method``, ``-api-key-source``): read for ImportRestApi and PutRestApi, written for
GetExport."""

from __future__ import annotations

from typing import Any

import yaml

from nubes.core import safejson, safeyaml
from nubes.runtime.apigateway.docs import new_id
from nubes.services.apigateway.errors import errors

Json = dict[str, Any]

VERBS = ("get", "put", "post", "delete", "patch", "head", "options")
ANY_METHOD = "x-amazon-apigateway-any-method"


def parse(body: bytes) -> Json:
    try:
        text = body.decode("utf-8")
        doc = safejson.loads(text) if text.lstrip().startswith("{") else safeyaml.load(text)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError):
        raise errors.BadRequestException(
            "Invalid OpenAPI input. The definition is neither JSON nor YAML."
        ) from None
    if not isinstance(doc, dict) or not ("swagger" in doc or "openapi" in doc):
        raise errors.BadRequestException(
            "Invalid OpenAPI input: the definition names neither 'swagger' nor 'openapi'."
        )
    if not isinstance(doc.get("paths") or {}, dict):
        raise errors.BadRequestException("Invalid OpenAPI input: 'paths' must be an object.")
    return doc


def _schemes(doc: Json) -> Json:
    found = doc.get("securityDefinitions") or (doc.get("components") or {}).get("securitySchemes")
    return found if isinstance(found, dict) else {}


def authorizers(doc: Json) -> dict[str, Json]:
    """Scheme name -> authorizer (without its id) for the schemes that are Lambda or Cognito
    user pool authorizers."""
    out: dict[str, Json] = {}
    for name, scheme in _schemes(doc).items():
        ext = (scheme or {}).get("x-amazon-apigateway-authorizer")
        if not isinstance(ext, dict):
            continue
        kind = str(ext.get("type") or "token").upper()
        authorizer: Json = {"name": name, "type": kind}
        if ext.get("authorizerUri"):
            authorizer["authorizerUri"] = ext["authorizerUri"]
        if ext.get("providerARNs"):
            authorizer["providerARNs"] = list(ext["providerARNs"])
        source = ext.get("identitySource")
        if source is None and kind in ("TOKEN", "COGNITO_USER_POOLS"):
            source = f"method.request.header.{scheme.get('name') or 'Authorization'}"
        if source:
            authorizer["identitySource"] = source
        if ext.get("identityValidationExpression"):
            authorizer["identityValidationExpression"] = ext["identityValidationExpression"]
        ttl = ext.get("authorizerResultTtlInSeconds")
        authorizer["authorizerResultTtlInSeconds"] = 300 if ttl is None else int(ttl)
        out[name] = authorizer
    return out


def _integration(ext: Json) -> Json:
    integration: Json = {
        "type": str(ext.get("type") or "").upper(),
        "passthroughBehavior": str(ext.get("passthroughBehavior") or "WHEN_NO_MATCH").upper(),
        "timeoutInMillis": int(ext.get("timeoutInMillis") or 29000),
        "cacheKeyParameters": ext.get("cacheKeyParameters") or [],
    }
    if integration["type"] not in ("HTTP", "AWS", "MOCK", "HTTP_PROXY", "AWS_PROXY"):
        raise errors.BadRequestException(
            f"Invalid integration type in x-amazon-apigateway-integration: {ext.get('type')}"
        )
    if ext.get("httpMethod"):
        integration["httpMethod"] = str(ext["httpMethod"]).upper()
    for key in ("uri", "requestTemplates", "requestParameters", "contentHandling"):
        if ext.get(key) is not None:
            integration[key] = ext[key]
    responses: Json = {}
    for pattern, response in (ext.get("responses") or {}).items():
        status = str((response or {}).get("statusCode") or "200")
        entry: Json = {"statusCode": status}
        if pattern != "default":
            entry["selectionPattern"] = pattern
        for key in ("responseTemplates", "responseParameters", "contentHandling"):
            if (response or {}).get(key) is not None:
                entry[key] = response[key]
        responses[status] = entry
    if responses:
        integration["integrationResponses"] = responses
    return integration


def build(doc: Json, authorizer_ids: dict[str, str]) -> tuple[Json, dict[str, Json]]:
    """(API fields, resources by id) for a definition; ``authorizer_ids`` maps security
    scheme names to the authorizers made for them."""
    info = doc.get("info") or {}
    fields: Json = {}
    if info.get("title"):
        fields["name"] = str(info["title"])
    if info.get("description"):
        fields["description"] = str(info["description"])
    if info.get("version") is not None:
        fields["version"] = str(info["version"])
    if doc.get("x-amazon-apigateway-binary-media-types"):
        fields["binaryMediaTypes"] = list(doc["x-amazon-apigateway-binary-media-types"])
    if doc.get("x-amazon-apigateway-api-key-source"):
        fields["apiKeySource"] = doc["x-amazon-apigateway-api-key-source"]
    schemes = _schemes(doc)
    key_schemes = {
        n
        for n, s in schemes.items()
        if (s or {}).get("type") == "apiKey"
        and "x-amazon-apigateway-authorizer" not in s
        and str(s.get("name", "")).lower() == "x-api-key"
    }
    kinds = {name: a["type"] for name, a in authorizers(doc).items()}
    root = new_id()
    resources: dict[str, Json] = {root: {"id": root, "path": "/"}}
    by_path = {"/": root}
    for path, item in sorted((doc.get("paths") or {}).items()):
        if not isinstance(path, str) or not path.startswith("/") or not isinstance(item, dict):
            raise errors.BadRequestException(f"Invalid OpenAPI input: bad path {path!r}")
        parent = root
        current = ""
        for part in [p for p in path.split("/") if p]:
            current += "/" + part
            if current not in by_path:
                rid = new_id()
                resources[rid] = {"id": rid, "parentId": parent, "pathPart": part, "path": current}
                by_path[current] = rid
            parent = by_path[current]
        resource = resources[by_path[path.rstrip("/") or "/"]]
        for verb_key, operation in item.items():
            if verb_key not in VERBS and verb_key != ANY_METHOD:
                continue
            verb = "ANY" if verb_key == ANY_METHOD else verb_key.upper()
            operation = operation or {}
            method: Json = {
                "httpMethod": verb,
                "authorizationType": "NONE",
                "apiKeyRequired": False,
            }
            security = operation.get("security", doc.get("security")) or []
            for requirement in security:
                for name in requirement or {}:
                    if name in authorizer_ids:
                        cognito = kinds.get(name) == "COGNITO_USER_POOLS"
                        method["authorizationType"] = "COGNITO_USER_POOLS" if cognito else "CUSTOM"
                        method["authorizerId"] = authorizer_ids[name]
                        if cognito and requirement[name]:
                            method["authorizationScopes"] = list(requirement[name])
                    elif name in key_schemes:
                        method["apiKeyRequired"] = True
            if operation.get("operationId"):
                method["operationName"] = operation["operationId"]
            responses = {
                str(code): {"statusCode": str(code)}
                for code in (operation.get("responses") or {})
                if str(code).isdigit()
            }
            if responses:
                method["methodResponses"] = responses
            ext = operation.get("x-amazon-apigateway-integration")
            if isinstance(ext, dict):
                method["methodIntegration"] = _integration(ext)
            resource.setdefault("resourceMethods", {})[verb] = method
    return fields, resources


def export(api: Json, stage: Json, resources: dict[str, Json], kind: str, extensions: bool) -> Json:
    """The definition of what a stage serves (``oas30`` or ``swagger``)."""
    paths: Json = {}
    for resource in sorted(resources.values(), key=lambda r: r["path"]):
        methods = resource.get("resourceMethods") or {}
        if not methods:
            continue
        item: Json = {}
        for verb, method in methods.items():
            operation: Json = {
                "responses": {
                    code: {"description": f"{code} response"}
                    for code in (method.get("methodResponses") or {})
                }
            }
            params = [
                p[1:-1].rstrip("+")
                for p in resource["path"].split("/")
                if p.startswith("{") and p.endswith("}")
            ]
            if params:
                operation["parameters"] = [
                    {"name": p, "in": "path", "required": True}
                    | ({"schema": {"type": "string"}} if kind == "oas30" else {"type": "string"})
                    for p in params
                ]
            if method.get("apiKeyRequired"):
                operation["security"] = [{"api_key": []}]
            integration = method.get("methodIntegration")
            if extensions and integration:
                ext: Json = {
                    k: v
                    for k, v in integration.items()
                    if k in ("uri", "httpMethod", "requestTemplates", "requestParameters")
                }
                ext["type"] = integration["type"].lower()
                ext["passthroughBehavior"] = integration.get("passthroughBehavior", "when_no_match")
                responses: Json = {}
                for response in (integration.get("integrationResponses") or {}).values():
                    entry = {
                        k: v
                        for k, v in response.items()
                        if k in ("statusCode", "responseTemplates", "responseParameters")
                    }
                    responses[response.get("selectionPattern") or "default"] = entry
                if responses:
                    ext["responses"] = responses
                operation["x-amazon-apigateway-integration"] = ext
            item[ANY_METHOD if verb == "ANY" else verb.lower()] = operation
        paths[resource["path"]] = item
    info = {"title": api["name"], "version": api.get("version") or str(stage["deploymentId"])}
    if api.get("description"):
        info["description"] = api["description"]
    doc: Json
    if kind == "oas30":
        doc = {
            "openapi": "3.0.1",
            "info": info,
            "servers": [{"variables": {"basePath": {"default": f"/{stage['stageName']}"}}}],
            "paths": paths,
        }
    else:
        doc = {"swagger": "2.0", "info": info, "basePath": f"/{stage['stageName']}", "paths": paths}
    if any(
        m.get("apiKeyRequired")
        for r in resources.values()
        for m in (r.get("resourceMethods") or {}).values()
    ):
        scheme = {"type": "apiKey", "name": "x-api-key", "in": "header"}
        if kind == "oas30":
            doc["components"] = {"securitySchemes": {"api_key": scheme}}
        else:
            doc["securityDefinitions"] = {"api_key": scheme}
    if extensions and api.get("binaryMediaTypes"):
        doc["x-amazon-apigateway-binary-media-types"] = api["binaryMediaTypes"]
    return doc
