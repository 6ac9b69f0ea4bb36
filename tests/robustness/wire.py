"""Signed raw requests (bodies no SDK would send) and checks that an answer is a well-formed
error in the service's own protocol."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

import cbor2
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CREDENTIALS = Credentials("test", "test")
TIMEOUT = 30


def send(
    endpoint: str,
    service: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """``path`` may carry a query string; the request is SigV4-signed for ``service``."""
    request = AWSRequest(method=method, url=endpoint + path, data=body, headers=headers or {})
    SigV4Auth(CREDENTIALS, service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    return requests.request(
        method, prepared.url, data=body, headers=dict(prepared.headers), timeout=TIMEOUT
    )


def json_call(
    endpoint: str, service: str, target: str, body: bytes | str, version: str = "1.0"
) -> requests.Response:
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    headers = {"X-Amz-Target": target, "Content-Type": f"application/x-amz-json-{version}"}
    return send(endpoint, service, "POST", "/", raw, headers)


def query_call(endpoint: str, service: str, form: str) -> requests.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    return send(endpoint, service, "POST", "/", form.encode(), headers)


def error_code(resp: requests.Response, protocol: str) -> str:
    """The error code of a well-formed error response in ``protocol`` (AssertionError if the
    body is not one)."""
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.content[:300])
    if protocol in ("json", "rest-json"):
        body: Any = json.loads(resp.content)
        code = body.get("__type") or resp.headers.get("x-amzn-ErrorType") or body.get("code")
        assert isinstance(code, str) and code, body
        return code.rsplit("#", 1)[-1].split(":", 1)[0]
    if protocol == "smithy-rpc-v2-cbor":
        assert resp.headers.get("smithy-protocol") == "rpc-v2-cbor"
        body = cbor2.loads(resp.content)
        code = body["__type"]
        assert isinstance(code, str) and code, body
        return code.rsplit("#", 1)[-1]
    if not resp.content:
        return ""  # HEAD: status only, as AWS answers
    root = ElementTree.fromstring(resp.content)
    code_elem = next((e for e in root.iter() if e.tag.rpartition("}")[2] == "Code"), None)
    assert code_elem is not None and code_elem.text, resp.content[:300]
    return code_elem.text
