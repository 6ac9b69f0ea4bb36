"""ImportRestApi, PutRestApi and GetExport with API Gateway's OpenAPI extensions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
import yaml
from botocore.exceptions import ClientError

from tests.apigateway.conftest import ECHO, api_url, lambda_uri


def _definition(function_arn: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.1",
        "info": {"title": "pets", "version": "1.0"},
        "paths": {
            "/pets/{id}": {
                "get": {
                    "responses": {"200": {"description": "ok"}},
                    "x-amazon-apigateway-integration": {
                        "type": "mock",
                        "requestTemplates": {"application/json": '{"statusCode": 200}'},
                        "responses": {
                            "default": {
                                "statusCode": "200",
                                "responseTemplates": {
                                    "application/json": '{"id": "$input.params(\'id\')"}'
                                },
                            }
                        },
                    },
                }
            },
            "/echo": {
                "x-amazon-apigateway-any-method": {
                    "security": [{"api_key": []}],
                    "x-amazon-apigateway-integration": {
                        "type": "aws_proxy",
                        "httpMethod": "POST",
                        "uri": lambda_uri(function_arn),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}}
        },
    }


def test_import_call_export(apigw: Any, endpoint: str, make_function: Callable[..., str]) -> None:
    definition = _definition(make_function(ECHO))
    api = apigw.import_rest_api(body=json.dumps(definition).encode())
    api_id = api["id"]
    assert api["name"] == "pets"
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"])
    assert paths == ["/", "/echo", "/pets", "/pets/{id}"]
    apigw.create_deployment(restApiId=api_id, stageName="v1")
    got = requests.get(f"{api_url(endpoint, api_id, 'v1')}/pets/12", timeout=30)
    assert got.status_code == 200
    assert got.json() == {"id": "12"}
    # /echo wants an API key.
    assert requests.post(f"{api_url(endpoint, api_id, 'v1')}/echo", timeout=30).status_code == 403

    exported = apigw.get_export(
        restApiId=api_id,
        stageName="v1",
        exportType="oas30",
        parameters={"extensions": "integrations"},
    )
    doc = json.loads(exported["body"].read())
    assert doc["openapi"].startswith("3.0")
    assert set(doc["paths"]) == {"/pets/{id}", "/echo"}
    integration = doc["paths"]["/echo"]["x-amazon-apigateway-any-method"][
        "x-amazon-apigateway-integration"
    ]
    assert integration["type"] == "aws_proxy"
    swagger = apigw.get_export(
        restApiId=api_id, stageName="v1", exportType="swagger", accepts="application/yaml"
    )
    assert yaml.safe_load(swagger["body"].read())["swagger"] == "2.0"

    # Overwrite replaces the resources; merge adds to them.
    small = {"swagger": "2.0", "info": {"title": "pets"}, "paths": {"/only": {"get": {
        "x-amazon-apigateway-integration": {"type": "mock"}}}}}  # fmt: skip
    apigw.put_rest_api(restApiId=api_id, mode="overwrite", body=json.dumps(small).encode())
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"])
    assert paths == ["/", "/only"]
    apigw.put_rest_api(restApiId=api_id, mode="merge", body=yaml.safe_dump(definition).encode())
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"])
    assert paths == ["/", "/echo", "/only", "/pets", "/pets/{id}"]


def test_bad_definitions_are_bad_requests(apigw: Any) -> None:
    deep = b"[" * 3000
    bodies = (b"not: [valid", b'{"info": {"title": "x"}}', b'{"openapi": "3.0.1"}', deep)
    for body in (*bodies, b"{" + b'"a":{' * 3000):
        with pytest.raises(ClientError) as err:
            apigw.import_rest_api(body=body)
        assert err.value.response["Error"]["Code"] == "BadRequestException"
