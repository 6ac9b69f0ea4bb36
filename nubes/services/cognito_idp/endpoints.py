"""What nubes serves for user pools over plain HTTP on its port: each pool's JWKS and OpenID
configuration (``/<poolId>/.well-known/jwks.json``, as ``cognito-idp.<region>.amazonaws.com``
does); the managed login endpoints (``/oauth2/authorize``, ``/login``, ``/oauth2/token``,
``/oauth2/userInfo``) under ``/<poolId>`` or at the pool domain's host
``<domain>.auth.<region>.amazoncognito.com``; and the codes Cognito would have mailed
(``GET /_aws/cognito-idp/codes/<poolId>/<user>``)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from nubes.protocol.base import HttpRequest, HttpResponse
from nubes.services.cognito_idp import hosted

if TYPE_CHECKING:
    from nubes.services.cognito_idp.provider import CognitoIdpProvider

_WELL_KNOWN = re.compile(
    r"^/([a-z]{2}(?:-[a-z]+)+-\d+_[0-9A-Za-z]+)/\.well-known/(jwks\.json|openid-configuration)$"
)
_POOL_PATH = re.compile(r"^/([a-z]{2}(?:-[a-z]+)+-\d+_[0-9A-Za-z]+)(/.*)$")
_DOMAIN_HOST = re.compile(r"^([a-z0-9-]+)\.auth\.[a-z0-9-]+\.amazoncognito\.com$")
CODES = "/_aws/cognito-idp/codes/"


def _json(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(data).encode())


def endpoints(
    provider: CognitoIdpProvider,
) -> Callable[[HttpRequest], Awaitable[HttpResponse | None]]:
    async def intercept(req: HttpRequest) -> HttpResponse | None:
        path = req.path
        if path.endswith(("/oauth2/token", "/oauth2/authorize", "/login", "/oauth2/userInfo")):
            return await _managed_login(provider, req)
        if req.method != "GET":
            return None
        found = _WELL_KNOWN.match(path)
        if found is not None:
            pool_id, what = found.groups()
            with provider.store.transaction():
                jwks = provider.jwks(pool_id)
            if jwks is None:
                return _json({"message": f"User pool {pool_id} does not exist."}, 404)
            if what == "jwks.json":
                return _json(jwks)
            return _json(openid_configuration(pool_id, f"http://{req.host}"))
        if path.startswith(CODES):
            pool_id, _, username = path[len(CODES) :].partition("/")
            with provider.store.transaction():
                codes = provider.codes(pool_id, unquote(username))
            if codes is None:
                return _json({"message": "User does not exist."}, 404)
            return _json(codes)
        return None

    return intercept


def _pool_and_path(provider: CognitoIdpProvider, req: HttpRequest) -> tuple[str, str, str] | None:
    """(pool id, base path, endpoint path) of a managed-login request: under ``/<poolId>`` on
    nubes' port, or at the root of the pool domain's host."""
    found = _POOL_PATH.match(req.path)
    if found is not None:
        return found.group(1), f"/{found.group(1)}", found.group(2)
    domain = _DOMAIN_HOST.match(req.host.rsplit(":", 1)[0].lower())
    if domain is None:
        return None
    with provider.store.transaction():
        pool_id = provider.pool_of_domain(domain.group(1))
    return (pool_id, "", req.path) if pool_id else None


def _credentials(req: HttpRequest, form: dict[str, str]) -> tuple[str, str] | None:
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    basic = req.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
    return client_id, secret


async def _managed_login(provider: CognitoIdpProvider, req: HttpRequest) -> HttpResponse | None:
    found = _pool_and_path(provider, req)
    if found is None:
        return None
    pool_id, base, path = found
    query = dict(parse_qsl(req.query_string))
    if path == "/oauth2/authorize" and req.method == "GET":
        return hosted.authorize(provider, pool_id, base, query)
    if path == "/oauth2/userInfo" and req.method in ("GET", "POST"):
        return hosted.user_info(provider, req.headers.get("authorization", ""))
    if req.method != "POST" or path not in ("/login", "/oauth2/token"):
        return None
    form = dict(parse_qsl(req.read_body().decode("utf-8", "replace")))
    if path == "/login":
        return hosted.login(provider, pool_id, base, form)
    credentials = _credentials(req, form)
    if credentials is None:
        return _json({"error": "invalid_client"}, 400)
    if form.get("grant_type") == "authorization_code":
        return await hosted.exchange_code(provider, pool_id, form, *credentials)
    with provider.store.transaction():
        status, body = provider.oauth_token(pool_id, form, *credentials)
    return _json(body, status)


def openid_configuration(pool_id: str, base: str) -> dict[str, Any]:
    region = pool_id.split("_", 1)[0]
    return {
        "issuer": f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
        "jwks_uri": f"{base}/{pool_id}/.well-known/jwks.json",
        "authorization_endpoint": f"{base}/{pool_id}/oauth2/authorize",
        "token_endpoint": f"{base}/{pool_id}/oauth2/token",
        "userinfo_endpoint": f"{base}/{pool_id}/oauth2/userInfo",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }
