"""JWT authorizers of HTTP APIs: the token's signature checked against the issuer's JWKS
(found through its OpenID configuration), then issuer, audience, expiry and the route's
scopes, as API Gateway documents them."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from nubes.core import clock
from nubes.protocol.base import HttpResponse
from nubes.runtime.apigateway.proxy import json_reply

if TYPE_CHECKING:
    from nubes.runtime.apigateway.proxy import Call

JWKS_TTL = 300.0
FETCH_TIMEOUT = 5.0
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_jwks: dict[str, tuple[float, list[dict[str, Any]]]] = {}

UNAUTHORIZED = {"message": "Unauthorized"}


class Refused(Exception):
    pass


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int(text: str) -> int:
    return int.from_bytes(_b64(text), "big")


def _fetch_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as got:
        return json.loads(got.read())


LocalKeys = Callable[[str], list[dict[str, Any]] | None]
"""The keys of an issuer nubes itself runs (a Cognito user pool), None for any other."""


async def _keys(issuer: str, local: LocalKeys | None = None) -> list[dict[str, Any]]:
    found = local(issuer) if local is not None else None
    if found is not None:
        return found
    cached = _jwks.get(issuer)
    if cached is not None and cached[0] > clock.now():
        return cached[1]

    def load() -> list[dict[str, Any]]:
        config = _fetch_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        return list(_fetch_json(config["jwks_uri"]).get("keys") or [])

    try:
        keys = await asyncio.to_thread(load)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise Refused from err
    _jwks[issuer] = (clock.now() + JWKS_TTL, keys)
    return keys


def verify_signature(alg: str, key: dict[str, Any], signed: bytes, signature: bytes) -> None:
    digest = _HASHES.get(alg[2:])
    if digest is None:
        raise Refused
    try:
        if alg.startswith("RS") and key.get("kty") == "RSA":
            public = rsa.RSAPublicNumbers(_int(key["e"]), _int(key["n"])).public_key()
            public.verify(signature, signed, padding.PKCS1v15(), digest())
            return
        if alg.startswith("ES") and key.get("kty") == "EC":
            curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
            point = ec.EllipticCurvePublicNumbers(
                _int(key["x"]), _int(key["y"]), curve[key["crv"]]
            ).public_key()
            half = len(signature) // 2
            der = encode_dss_signature(
                int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
            )
            point.verify(der, signed, ec.ECDSA(digest()))
            return
    except (InvalidSignature, KeyError, ValueError) as err:
        raise Refused from err
    raise Refused


async def check_jwt(
    call: Call, authorizer: dict[str, Any], route: dict[str, Any], local: LocalKeys | None = None
) -> tuple[dict[str, Any], HttpResponse | None]:
    """(claims, None) when the token is good; else a 401 (bad token) or 403 (missing scope)."""
    config = authorizer.get("JwtConfiguration") or {}
    sources = authorizer.get("IdentitySource") or ["$request.header.Authorization"]
    header_name = sources[0].rpartition(".")[2].lower()
    token = call.req.headers.get(header_name, "")
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    try:
        head_b64, body_b64, sig_b64 = token.split(".")
        head = json.loads(_b64(head_b64))
        claims = json.loads(_b64(body_b64))
        signature = _b64(sig_b64)
        if not isinstance(claims, dict) or not isinstance(head, dict):
            raise Refused
        issuer = config.get("Issuer") or ""
        if claims.get("iss") != issuer:
            raise Refused
        keys = await _keys(issuer, local)
        key = next((k for k in keys if k.get("kid") == head.get("kid")), None)
        if key is None:
            raise Refused
        verify_signature(str(head.get("alg")), key, f"{head_b64}.{body_b64}".encode(), signature)
        now = clock.now()
        if "exp" not in claims or float(claims["exp"]) <= now:
            raise Refused
        if "nbf" in claims and float(claims["nbf"]) > now:
            raise Refused
        audiences = config.get("Audience") or []
        aud = claims.get("aud", claims.get("client_id"))
        token_audiences = aud if isinstance(aud, list) else [aud]
        if not any(a in audiences for a in token_audiences):
            raise Refused
    except (Refused, ValueError, TypeError, UnicodeDecodeError):
        return {}, json_reply(401, UNAUTHORIZED)
    wanted = route.get("AuthorizationScopes") or []
    if wanted:
        granted = str(claims.get("scope") or claims.get("scp") or "").split()
        if not any(s in granted for s in wanted):
            return claims, json_reply(403, {"message": "Forbidden"})
    return claims, None
