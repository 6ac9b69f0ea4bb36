"""Function URLs: HTTP requests invoke the function with the 2.0 payload; CORS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

WEB = """
import json

def handler(event, context):
    if event["rawPath"] == "/plain":
        return {"just": "json"}
    if event["rawPath"] == "/fail":
        raise RuntimeError("broken")
    return {
        "statusCode": 201,
        "headers": {"X-Echo": event["requestContext"]["http"]["method"]},
        "cookies": ["a=1"],
        "body": json.dumps({
            "path": event["rawPath"],
            "query": event.get("queryStringParameters"),
            "body": event.get("body"),
            "version": event["version"],
            "header": event["headers"].get("x-custom"),
        }),
    }
"""


def path_url(endpoint: str, function_url: str) -> str:
    url_id = function_url.split("//", 1)[1].split(".", 1)[0]
    return f"{endpoint}/_aws/lambda-url/{url_id}"


def test_function_url_invokes_with_payload_v2(
    lam: Any, make_function: Callable[..., str], endpoint: str
) -> None:
    name = make_function({"app.py": WEB})
    created = lam.create_function_url_config(
        FunctionName=name,
        AuthType="NONE",
        Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["POST"], "MaxAge": 60},
    )
    url = created["FunctionUrl"]
    assert ".lambda-url.us-east-1." in url and url.endswith("/")
    assert lam.get_function_url_config(FunctionName=name)["FunctionUrl"] == url
    with pytest.raises(ClientError) as exc:
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert exc.value.response["Error"]["Code"] == "ResourceConflictException"
    base = path_url(endpoint, url)
    response = requests.post(
        f"{base}/items/7?a=1&a=2&b=x",
        data="hello",
        headers={"X-Custom": "yes", "Origin": "https://app.example"},
        timeout=10,
    )
    assert response.status_code == 201
    assert response.headers["x-echo"] == "POST"
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert response.json() == {
        "path": "/items/7",
        "query": {"a": "1,2", "b": "x"},
        "body": "hello",
        "version": "2.0",
        "header": "yes",
    }
    plain = requests.get(f"{base}/plain", timeout=10)
    assert plain.status_code == 200 and plain.json() == {"just": "json"}
    assert requests.get(f"{base}/fail", timeout=10).status_code == 502
    preflight = requests.options(
        f"{base}/x",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.headers["access-control-allow-methods"] == "POST"
    assert preflight.headers["access-control-max-age"] == "60"
    # The host form works too, for clients that resolve *.localhost.localstack.cloud.
    host = url.split("//", 1)[1].split("/", 1)[0]
    by_host = requests.get(f"{endpoint}/plain", headers={"Host": host}, timeout=10)
    assert by_host.json() == {"just": "json"}
    lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert requests.get(f"{base}/plain", timeout=10).status_code == 403
    lam.delete_function_url_config(FunctionName=name)
    assert requests.get(f"{base}/plain", timeout=10).status_code == 404


def test_code_location_downloads_the_zip(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function({"app.py": "def handler(e, c):\n    return 1\n"})
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    response = requests.get(location, timeout=10)
    assert response.status_code == 200
    assert response.content[:2] == b"PK"
    assert len(response.content) == lam.get_function_configuration(FunctionName=name)["CodeSize"]
