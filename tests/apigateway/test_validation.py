"""Request validators and models of REST API methods."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.apigateway.conftest import api_url

SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
}


def test_validator_checks_parameters_and_body(
    apigw: Any, endpoint: str, unique: Callable[[str], str]
) -> None:
    api = apigw.create_rest_api(name=unique("valid"))
    api_id, root = api["id"], api["rootResourceId"]
    apigw.create_model(
        restApiId=api_id, name="Person", contentType="application/json", schema=json.dumps(SCHEMA)
    )
    assert apigw.get_model(restApiId=api_id, modelName="Person")["name"] == "Person"
    validator = apigw.create_request_validator(
        restApiId=api_id, name="all", validateRequestBody=True, validateRequestParameters=True
    )
    apigw.put_method(
        restApiId=api_id,
        resourceId=root,
        httpMethod="POST",
        authorizationType="NONE",
        requestValidatorId=validator["id"],
        requestParameters={"method.request.querystring.team": True},
        requestModels={"application/json": "Person"},
    )
    apigw.put_integration(
        restApiId=api_id,
        resourceId=root,
        httpMethod="POST",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigw.put_integration_response(
        restApiId=api_id,
        resourceId=root,
        httpMethod="POST",
        statusCode="200",
        responseTemplates={"application/json": '{"ok": true}'},
    )
    apigw.create_deployment(restApiId=api_id, stageName="v")
    url = f"{api_url(endpoint, api_id, 'v')}/"

    no_param = requests.post(url, json={"name": "a"}, timeout=30)
    assert no_param.status_code == 400
    assert no_param.json() == {"message": "Missing required request parameters: [team]"}
    bad_body = requests.post(f"{url}?team=x", json={"age": -1}, timeout=30)
    assert bad_body.status_code == 400
    assert bad_body.json() == {"message": "Invalid request body"}
    ok = requests.post(f"{url}?team=x", json={"name": "a", "age": 3}, timeout=30)
    assert ok.status_code == 200
    assert ok.json() == {"ok": True}


def test_bad_model_schema_is_refused(apigw: Any, unique: Callable[[str], str]) -> None:
    api = apigw.create_rest_api(name=unique("valid"))
    with pytest.raises(ClientError) as err:
        apigw.create_model(
            restApiId=api["id"],
            name="Broken",
            contentType="application/json",
            schema='{"type": 5}',
        )
    assert err.value.response["Error"]["Code"] == "BadRequestException"
