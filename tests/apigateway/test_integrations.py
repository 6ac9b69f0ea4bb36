"""MOCK, HTTP_PROXY and AWS (Lambda, non-proxy) integrations with VTL mapping templates."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.apigateway.conftest import api_url, lambda_uri


def _method(apigw: Any, api_id: str, resource_id: str, verb: str = "GET") -> None:
    apigw.put_method(
        restApiId=api_id, resourceId=resource_id, httpMethod=verb, authorizationType="NONE"
    )


def test_mock_integration_with_templates(
    apigw: Any, endpoint: str, unique: Callable[[str], str]
) -> None:
    api = apigw.create_rest_api(name=unique("mock"))
    api_id, root = api["id"], api["rootResourceId"]
    pet = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{pet}")
    _method(apigw, api_id, pet["id"])
    apigw.put_integration(
        restApiId=api_id,
        resourceId=pet["id"],
        httpMethod="GET",
        type="MOCK",
        requestTemplates={
            "application/json": "#if($input.params('fail') == 'yes')"
            '{"statusCode": 500}#else{"statusCode": 200}#end'
        },
    )
    apigw.put_method_response(
        restApiId=api_id, resourceId=pet["id"], httpMethod="GET", statusCode="200"
    )
    apigw.put_integration_response(
        restApiId=api_id,
        resourceId=pet["id"],
        httpMethod="GET",
        statusCode="200",
        responseParameters={"method.response.header.X-Kind": "'mock'"},
        responseTemplates={
            "application/json": '{"pet": "$input.params(\'pet\')", "stage": "$context.stage", '
            '"color": "$stageVariables.color", "tags": [#foreach($t in ["a", "b"])"$t"'
            "#if($foreach.hasNext),#end#end]}"
        },
    )
    apigw.put_integration_response(
        restApiId=api_id,
        resourceId=pet["id"],
        httpMethod="GET",
        statusCode="503",
        selectionPattern="5\\d{2}",
        responseTemplates={"application/json": '{"error": "down"}'},
    )
    apigw.create_deployment(restApiId=api_id, stageName="v1", variables={"color": "red"})
    ok = requests.get(f"{api_url(endpoint, api_id, 'v1')}/rex", timeout=30)
    assert ok.status_code == 200
    assert ok.headers["x-kind"] == "mock"
    assert ok.json() == {"pet": "rex", "stage": "v1", "color": "red", "tags": ["a", "b"]}
    failed = requests.get(f"{api_url(endpoint, api_id, 'v1')}/rex?fail=yes", timeout=30)
    assert failed.status_code == 503
    assert failed.json() == {"error": "down"}

    tested = apigw.test_invoke_method(
        restApiId=api_id, resourceId=pet["id"], httpMethod="GET", pathWithQueryString="/tom"
    )
    assert tested["status"] == 200
    assert json.loads(tested["body"])["pet"] == "tom"
    assert json.loads(tested["body"])["stage"] == "test-invoke-stage"


class _Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        data = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "header": self.headers.get("x-custom"),
                "body": body,
            }
        ).encode()
        self.send_response(418)
        self.send_header("content-type", "application/json")
        self.send_header("x-backend", "yes")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_proxy_to_a_local_server(
    apigw: Any, apigw2: Any, endpoint: str, unique: Callable[[str], str], backend: str
) -> None:
    api = apigw.create_rest_api(name=unique("proxy"))
    api_id = api["id"]
    proxy = apigw.create_resource(
        restApiId=api_id, parentId=api["rootResourceId"], pathPart="{proxy+}"
    )
    _method(apigw, api_id, proxy["id"], "ANY")
    apigw.put_integration(
        restApiId=api_id,
        resourceId=proxy["id"],
        httpMethod="ANY",
        type="HTTP_PROXY",
        integrationHttpMethod="ANY",
        uri=f"{backend}/base/{{proxy}}",
    )
    apigw.create_deployment(restApiId=api_id, stageName="live")
    resp = requests.post(
        f"{api_url(endpoint, api_id, 'live')}/a/b?x=1",
        headers={"X-Custom": "c"},
        data="payload",
        timeout=30,
    )
    assert resp.status_code == 418
    assert resp.headers["x-backend"] == "yes"
    assert resp.json() == {
        "method": "POST",
        "path": "/base/a/b?x=1",
        "header": "c",
        "body": "payload",
    }

    http_api = apigw2.create_api(Name=unique("hp"), ProtocolType="HTTP", Target=backend + "/h")
    got = requests.get(f"{api_url(endpoint, http_api['ApiId'])}/ignored", timeout=30)
    assert got.status_code == 418
    assert got.json()["path"] == "/h"


LAMBDA = """
def handler(event, context):
    if event.get("name") == "nobody":
        raise Exception("NotFound: no such person")
    return {"greeting": "Hello " + event["name"], "stage": event["stage"]}
"""


def test_aws_lambda_integration_with_mapping_templates(
    apigw: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    api = apigw.create_rest_api(name=unique("aws"))
    api_id, root = api["id"], api["rootResourceId"]
    _method(apigw, api_id, root, "POST")
    apigw.put_integration(
        restApiId=api_id,
        resourceId=root,
        httpMethod="POST",
        type="AWS",
        integrationHttpMethod="POST",
        uri=lambda_uri(make_function(LAMBDA)),
        requestTemplates={
            "application/json": "#set($body = $input.path('$'))"
            '{"name": "$util.escapeJavaScript($body.name)", "stage": "$context.stage"}'
        },
    )
    apigw.put_integration_response(
        restApiId=api_id,
        resourceId=root,
        httpMethod="POST",
        statusCode="200",
        responseTemplates={
            "application/json": "{\"message\": $input.json('$.greeting'), "
            '"encoded": "$util.base64Encode($input.path(\'$.stage\'))"}'
        },
    )
    apigw.put_integration_response(
        restApiId=api_id,
        resourceId=root,
        httpMethod="POST",
        statusCode="404",
        selectionPattern="NotFound:.*",
        responseTemplates={"application/json": '{"error": "$input.path(\'$.errorMessage\')"}'},
    )
    apigw.create_deployment(restApiId=api_id, stageName="s")
    resp = requests.post(f"{api_url(endpoint, api_id, 's')}/", json={"name": "Ada"}, timeout=60)
    assert resp.status_code == 200
    assert resp.json() == {"message": "Hello Ada", "encoded": "cw=="}
    missing = requests.post(
        f"{api_url(endpoint, api_id, 's')}/", json={"name": "nobody"}, timeout=60
    )
    assert missing.status_code == 404
    assert missing.json() == {"error": "NotFound: no such person"}


def test_cors_preflight_as_the_console_makes_it(
    apigw: Any, endpoint: str, unique: Callable[[str], str]
) -> None:
    api = apigw.create_rest_api(name=unique("cors"))
    api_id, root = api["id"], api["rootResourceId"]
    _method(apigw, api_id, root, "OPTIONS")
    apigw.put_integration(
        restApiId=api_id,
        resourceId=root,
        httpMethod="OPTIONS",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    headers = {
        "method.response.header.Access-Control-Allow-Headers": True,
        "method.response.header.Access-Control-Allow-Methods": True,
        "method.response.header.Access-Control-Allow-Origin": True,
    }
    apigw.put_method_response(
        restApiId=api_id,
        resourceId=root,
        httpMethod="OPTIONS",
        statusCode="200",
        responseParameters=headers,
    )
    apigw.put_integration_response(
        restApiId=api_id,
        resourceId=root,
        httpMethod="OPTIONS",
        statusCode="200",
        responseParameters={
            "method.response.header.Access-Control-Allow-Headers": "'Content-Type,X-Api-Key'",
            "method.response.header.Access-Control-Allow-Methods": "'GET,OPTIONS'",
            "method.response.header.Access-Control-Allow-Origin": "'*'",
        },
        responseTemplates={"application/json": ""},
    )
    apigw.create_deployment(restApiId=api_id, stageName="s")
    resp = requests.options(
        f"{api_url(endpoint, api_id, 's')}/",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "GET"},
        timeout=30,
    )
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "*"
    assert resp.headers["access-control-allow-methods"] == "GET,OPTIONS"
    assert resp.content == b""
