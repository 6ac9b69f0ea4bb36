"""What nubes serves for user pools over plain HTTP on its port: each pool's JWKS and OpenID
configuration (``/<poolId>/.well-known/jwks.json``, as ``cognito-idp.<region>.amazonaws.com``
does), and the codes Cognito would have mailed (``GET /_aws/cognito-idp/codes/<poolId>/<user>``)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from nubes.protocol.base import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from nubes.services.cognito_idp.provider import CognitoIdpProvider

_WELL_KNOWN = re.compile(
    r"^/([a-z]{2}(?:-[a-z]+)+-\d+_[0-9A-Za-z]+)/\.well-known/(jwks\.json|openid-configuration)$"
)
CODES = "/_aws/cognito-idp/codes/"


def _json(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(data).encode())


def endpoints(
    provider: CognitoIdpProvider,
) -> Callable[[HttpRequest], Awaitable[HttpResponse | None]]:
    async def intercept(req: HttpRequest) -> HttpResponse | None:
        if req.method != "GET":
            return None
        path = req.path
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


def openid_configuration(pool_id: str, base: str) -> dict[str, Any]:
    region = pool_id.split("_", 1)[0]
    return {
        "issuer": f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
        "jwks_uri": f"{base}/{pool_id}/.well-known/jwks.json",
        "authorization_endpoint": f"{base}/{pool_id}/oauth2/authorize",
        "token_endpoint": f"{base}/{pool_id}/oauth2/token",
        "userinfo_endpoint": f"{base}/{pool_id}/oauth2/userInfo",
        "response_types_supported": ["code", "token"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }
