"""Request validation of REST API methods: required request parameters and the body against
the method's model (a JSON Schema draft 4, as API Gateway's models are)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import jsonschema

if TYPE_CHECKING:
    from nubes.runtime.apigateway.proxy import Call


def schema_problem(text: str) -> str | None:
    """Why a model's schema is not a JSON Schema (CreateModel, UpdateModel refuse it)."""
    try:
        jsonschema.Draft4Validator.check_schema(json.loads(text))
    except ValueError as err:
        return f"Invalid model specified: Validation Result: {err}"
    except jsonschema.SchemaError as err:
        return f"Invalid model specified: Validation Result: {err.message}"
    return None


def problem(
    call: Call, method: dict[str, Any], validator: dict[str, Any], models: dict[str, Any]
) -> str | None:
    """The message API Gateway answers a request the method's validator refuses with."""
    if validator.get("validateRequestParameters"):
        missing = []
        query = call.query_multi()
        for name, required in (method.get("requestParameters") or {}).items():
            if not required:
                continue
            where, _, key = name.removeprefix("method.request.").partition(".")
            present = (
                (where == "querystring" and key in query)
                or (where == "header" and key.lower() in call.req.headers)
                or (where == "path" and key in call.path_params)
            )
            if not present:
                missing.append(key)
        if missing:
            return f"Missing required request parameters: [{', '.join(missing)}]"
    if validator.get("validateRequestBody"):
        ctype = call.req.headers.get("content-type", "application/json").split(";")[0].strip()
        wanted = (method.get("requestModels") or {}).get(ctype)
        model = next((m for m in models.values() if m["name"] == wanted), None)
        if model is not None and model.get("schema"):
            try:
                body = json.loads(call.req.read_body() or b"null")
                jsonschema.Draft4Validator(json.loads(model["schema"])).validate(body)
            except (ValueError, jsonschema.ValidationError):
                return "Invalid request body"
    return None
