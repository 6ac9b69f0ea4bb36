"""JWT authorizers of HTTP APIs against an issuer whose JWKS the test serves locally."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.apigateway.conftest import ECHO, api_url

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _number(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def token(issuer: str, key: Any = KEY, **claims: Any) -> str:
    body = {"iss": issuer, "aud": "my-app", "exp": time.time() + 3600, "scope": "read"}
    body.update(claims)
    head = _b64(json.dumps({"alg": "RS256", "kid": "k1", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(body).encode())
    signature = key.sign(f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{payload}.{_b64(signature)}"


@pytest.fixture
def issuer() -> Iterator[str]:
    numbers = KEY.public_key().public_numbers()
    jwks = {"keys": [{"kty": "RSA", "kid": "k1", "n": _number(numbers.n), "e": _number(numbers.e)}]}

    class Issuer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{port}"
            data: dict[str, Any]
            if self.path == "/.well-known/openid-configuration":
                data = {"issuer": base, "jwks_uri": f"{base}/jwks"}
            elif self.path == "/jwks":
                data = jwks
            else:
                self.send_response(404)
                self.end_headers()
                return
            raw = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Issuer)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_jwt_authorizer(
    apigw2: Any,
    endpoint: str,
    unique: Callable[[str], str],
    make_function: Callable[..., str],
    issuer: str,
) -> None:
    api_id = apigw2.create_api(Name=unique("jwt"), ProtocolType="HTTP")["ApiId"]
    integration = apigw2.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=make_function(ECHO)
    )
    authorizer = apigw2.create_authorizer(
        ApiId=api_id,
        Name="jwt",
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer, "Audience": ["my-app"]},
    )
    for key, scopes in (("GET /read", ["read"]), ("GET /write", ["write"])):
        apigw2.create_route(
            ApiId=api_id,
            RouteKey=key,
            AuthorizationType="JWT",
            AuthorizerId=authorizer["AuthorizerId"],
            AuthorizationScopes=scopes,
            Target=f"integrations/{integration['IntegrationId']}",
        )
    apigw2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    url = api_url(endpoint, api_id)

    good = requests.get(
        f"{url}/read", headers={"Authorization": f"Bearer {token(issuer)}"}, timeout=60
    )
    assert good.status_code == 201
    claims = good.json()["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["aud"] == "my-app"

    def status(tok: str, path: str = "/read") -> int:
        return requests.get(f"{url}{path}", headers={"Authorization": tok}, timeout=60).status_code

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert status(token(issuer, key=other_key)) == 401  # signature
    assert status(token(issuer, exp=time.time() - 10)) == 401  # expired
    assert status(token(issuer, aud="someone-else")) == 401  # audience
    assert status(token("http://elsewhere")) == 401  # issuer
    assert status("garbage") == 401
    assert requests.get(f"{url}/read", timeout=60).status_code == 401
    assert status(token(issuer), "/write") == 403  # scope
