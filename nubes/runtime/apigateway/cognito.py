"""Cognito user pools in front of APIs: a REST API's ``COGNITO_USER_POOLS`` authorizer checks the
token against the pools it names, and an HTTP API's JWT authorizer whose issuer is a nubes pool
gets that pool's keys in-process (the issuer's real host is AWS's, out of reach here)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from nubes.protocol.base import HttpResponse
from nubes.runtime.apigateway.proxy import json_reply

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.runtime.apigateway.proxy import Call
    from nubes.services.cognito_idp.provider import CognitoIdpProvider

_ISSUER = re.compile(r"^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/([\w-]+_[0-9A-Za-z]+)/?$")
UNAUTHORIZED = {"message": "Unauthorized"}


def authorize_rest(
    env: Environment, call: Call, api: dict[str, Any], method: dict[str, Any]
) -> HttpResponse | None:
    """A 401 unless the request carries a live token of one of the authorizer's pools: an ID
    token, or an access token granting one of the method's scopes when it lists any. The
    token's claims reach the integration as ``requestContext.authorizer.claims``."""
    authorizer = (api.get("authorizers") or {}).get(method.get("authorizerId") or "")
    if authorizer is None:
        return json_reply(500, {"message": None})
    source = authorizer.get("identitySource") or "method.request.header.Authorization"
    token = call.req.headers.get(source.rpartition(".")[2].lower(), "").strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    pools = [str(a).rpartition("/")[2] for a in authorizer.get("providerARNs") or []]
    scopes = method.get("authorizationScopes") or []
    claims = None
    if token:
        with env.state.store.transaction():
            claims = _pools(env).verify_token(token, pools, "access" if scopes else "id")
    if claims is None:
        return json_reply(401, UNAUTHORIZED)
    if scopes and not set(str(claims.get("scope") or "").split()) & set(scopes):
        return json_reply(401, UNAUTHORIZED)
    call.authorizer = {
        "claims": {
            k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in claims.items()
        }
    }
    return None


def pool_keys(env: Environment, issuer: str) -> list[dict[str, Any]] | None:
    """The JWKS keys of a nubes pool the issuer names (None when it names none)."""
    found = _ISSUER.match(issuer)
    if found is None:
        return None
    with env.state.store.transaction():
        jwks = _pools(env).jwks(found.group(1))
    return list(jwks["keys"]) if jwks else None


def _pools(env: Environment) -> CognitoIdpProvider:
    return cast("CognitoIdpProvider", env.providers.get("cognito-idp"))
