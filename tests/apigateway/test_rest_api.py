"""REST APIs made with boto3 and called over plain HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from tests.apigateway.conftest import ECHO, api_url, lambda_uri


def _proxy_api(apigw: Any, unique: Callable[[str], str], function_arn: str) -> tuple[str, str]:
    """An API with ``ANY /items/{id}`` and ``ANY /{proxy+}`` proxied to the function, deployed
    to stage ``test``; -> (api id, /items/{id} resource id)."""
    api = apigw.create_rest_api(name=unique("api"))
    root = api["rootResourceId"]
    items = apigw.create_resource(restApiId=api["id"], parentId=root, pathPart="items")
    item = apigw.create_resource(restApiId=api["id"], parentId=items["id"], pathPart="{id}")
    proxy = apigw.create_resource(restApiId=api["id"], parentId=root, pathPart="{proxy+}")
    for resource in (item, proxy):
        apigw.put_method(
            restApiId=api["id"],
            resourceId=resource["id"],
            httpMethod="ANY",
            authorizationType="NONE",
        )
        apigw.put_integration(
            restApiId=api["id"],
            resourceId=resource["id"],
            httpMethod="ANY",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=lambda_uri(function_arn),
        )
    apigw.create_deployment(restApiId=api["id"], stageName="test", variables={"color": "blue"})
    return api["id"], item["id"]


def test_lambda_proxy_event_and_response(
    apigw: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    api_id, item_id = _proxy_api(apigw, unique, make_function(ECHO))
    resp = requests.post(
        f"{api_url(endpoint, api_id, 'test')}/items/42?q=1&q=2&single=x",
        headers={"X-Custom": "hello", "Content-Type": "application/json"},
        data=json.dumps({"a": 1}),
        timeout=60,
    )
    assert resp.status_code == 201
    assert resp.headers["x-echo"] == "yes"
    assert resp.headers["x-multi"] == "a, b"
    event = resp.json()
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"q": "2", "single": "x"}
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"], "single": ["x"]}
    assert event["headers"]["x-custom"] == "hello"
    assert event["multiValueHeaders"]["x-custom"] == ["hello"]
    assert event["stageVariables"] == {"color": "blue"}
    assert json.loads(event["body"]) == {"a": 1}
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "test"
    assert context["apiId"] == api_id
    assert context["resourceId"] == item_id
    assert context["resourcePath"] == "/items/{id}"
    assert context["path"] == "/test/items/42"
    assert context["accountId"] == "000000000000"
    assert context["identity"]["sourceIp"]

    # The greedy resource takes whatever the specific one does not.
    deep = requests.get(f"{api_url(endpoint, api_id, 'test')}/a/b/c", timeout=60)
    assert deep.status_code == 201
    assert deep.json()["pathParameters"] == {"proxy": "a/b/c"}
    assert deep.json()["body"] is None


def test_host_name_form_and_unknown_routes(
    apigw: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    api_id, _ = _proxy_api(apigw, unique, make_function(ECHO))
    port = urlsplit(endpoint).port
    resp = requests.get(
        f"{endpoint}/test/items/7",
        headers={"Host": f"{api_id}.execute-api.localhost.localstack.cloud:{port}"},
        timeout=60,
    )
    assert resp.status_code == 201
    assert resp.json()["pathParameters"] == {"id": "7"}
    missing_stage = requests.get(f"{api_url(endpoint, api_id, 'nope')}/items/1", timeout=30)
    assert missing_stage.status_code == 403
    assert missing_stage.json() == {"message": "Forbidden"}


def test_malformed_lambda_answer_is_502(
    apigw: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    bad = make_function(
        "def handler(event, context):\n    return {'statusCode': 200, 'body': {'x': 1}}\n"
    )
    api_id, _ = _proxy_api(apigw, unique, bad)
    resp = requests.get(f"{api_url(endpoint, api_id, 'test')}/items/1", timeout=60)
    assert resp.status_code == 502
    assert resp.json() == {"message": "Internal server error"}


def test_missing_resource_is_missing_authentication_token(
    apigw: Any, endpoint: str, unique: Callable[[str], str]
) -> None:
    api = apigw.create_rest_api(name=unique("api"))
    apigw.put_method(
        restApiId=api["id"],
        resourceId=api["rootResourceId"],
        httpMethod="GET",
        authorizationType="NONE",
    )
    apigw.put_integration(
        restApiId=api["id"],
        resourceId=api["rootResourceId"],
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigw.put_integration_response(
        restApiId=api["id"],
        resourceId=api["rootResourceId"],
        httpMethod="GET",
        statusCode="200",
        responseTemplates={"application/json": '{"ok": true}'},
    )
    apigw.create_deployment(restApiId=api["id"], stageName="dev")
    resp = requests.post(f"{api_url(endpoint, api['id'], 'dev')}/", timeout=30)
    assert resp.status_code == 403
    assert resp.json() == {"message": "Missing Authentication Token"}
    ok = requests.get(f"{api_url(endpoint, api['id'], 'dev')}/", timeout=30)
    assert ok.status_code == 200
    assert ok.json() == {"ok": True}


def test_control_plane_errors_and_listing(apigw: Any, unique: Callable[[str], str]) -> None:
    api = apigw.create_rest_api(name=unique("api"), description="d")
    got = apigw.get_rest_api(restApiId=api["id"])
    assert got["name"] == api["name"]
    assert got["rootResourceId"] == api["rootResourceId"]
    assert any(a["id"] == api["id"] for a in apigw.get_rest_apis(limit=500)["items"])
    resources = apigw.get_resources(restApiId=api["id"])["items"]
    assert [r["path"] for r in resources] == ["/"]
    with pytest.raises(ClientError) as err:
        apigw.get_rest_api(restApiId="abcdefghij")
    assert err.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as err:
        apigw.create_deployment(restApiId=api["id"], stageName="x")
    assert err.value.response["Error"]["Code"] == "BadRequestException"
    updated = apigw.update_rest_api(
        restApiId=api["id"], patchOperations=[{"op": "replace", "path": "/name", "value": "n2"}]
    )
    assert updated["name"] == "n2"
    apigw.delete_rest_api(restApiId=api["id"])
    with pytest.raises(ClientError):
        apigw.get_rest_api(restApiId=api["id"])


def test_custom_domain_base_path_mappings(
    apigw: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    api_id, _ = _proxy_api(apigw, unique, make_function(ECHO))
    domain = f"{unique('api')}.example.test".lower()
    made = apigw.create_domain_name(
        domainName=domain,
        regionalCertificateArn="arn:aws:acm:us-east-1:000000000000:certificate/x",
        endpointConfiguration={"types": ["REGIONAL"]},
    )
    assert made["regionalDomainName"].endswith(".amazonaws.com")
    apigw.create_base_path_mapping(domainName=domain, basePath="v1", restApiId=api_id, stage="test")
    assert [m["basePath"] for m in apigw.get_base_path_mappings(domainName=domain)["items"]] == [
        "v1"
    ]
    port = urlsplit(endpoint).port
    resp = requests.get(f"{endpoint}/v1/items/5", headers={"Host": f"{domain}:{port}"}, timeout=60)
    assert resp.status_code == 201
    assert resp.json()["pathParameters"] == {"id": "5"}
    unmapped = requests.get(
        f"{endpoint}/v2/items/5", headers={"Host": f"{domain}:{port}"}, timeout=60
    )
    assert unmapped.status_code == 403
    apigw.delete_base_path_mapping(domainName=domain, basePath="v1")
    apigw.delete_domain_name(domainName=domain)
    with pytest.raises(ClientError):
        apigw.get_domain_name(domainName=domain)


BINARY = """
import base64
def handler(event, context):
    data = base64.b64decode(event["body"]) if event["isBase64Encoded"] else b""
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/octet-stream"},
        "isBase64Encoded": True,
        "body": base64.b64encode(data[::-1]).decode(),
    }
"""


def test_binary_bodies(
    apigw: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    api_id, _ = _proxy_api(apigw, unique, make_function(BINARY))
    apigw.update_rest_api(
        restApiId=api_id,
        patchOperations=[{"op": "add", "path": "/binaryMediaTypes/application~1octet-stream"}],
    )
    assert apigw.get_rest_api(restApiId=api_id)["binaryMediaTypes"] == ["application/octet-stream"]
    apigw.create_deployment(restApiId=api_id, stageName="test")
    payload = bytes(range(256))
    resp = requests.post(
        f"{api_url(endpoint, api_id, 'test')}/items/1",
        data=payload,
        headers={"Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert resp.status_code == 200
    assert resp.content == payload[::-1]
