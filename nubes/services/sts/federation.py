"""Reading the identity assertions STS accepts: OpenID Connect tokens (JWTs) and SAML
responses. A JWT's signature is checked with its provider's keys (``oidc``); issuer, audience
and validity period against what IAM has configured."""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from nubes.core import safejson

WELL_KNOWN_WEB_IDPS = {
    "accounts.google.com",
    "cognito-identity.amazonaws.com",
    "graph.facebook.com",
    "www.amazon.com",
}
_SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"
_ROLE_SESSION = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
_SESSION_DURATION = "https://aws.amazon.com/SAML/Attributes/SessionDuration"


class InvalidAssertion(ValueError):
    """The token or assertion cannot be read."""


def _segment(text: str) -> Any:
    try:
        return safejson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise InvalidAssertion("a token segment is not base64url-encoded JSON") from exc


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a signed JWT; an unsigned one (``alg: none``, no signature) is
    refused, as STS accepts only ID tokens signed by the provider."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[2]:
        raise InvalidAssertion("the token is not a signed JWT")
    header, payload = _segment(parts[0]), _segment(parts[1])
    if not isinstance(header, dict) or str(header.get("alg", "none")).lower() == "none":
        raise InvalidAssertion("the token is not signed")
    if not isinstance(payload, dict):
        raise InvalidAssertion("the token payload is not an object")
    return header, payload


def issuer_host(iss: str) -> str:
    return iss.removeprefix("https://").rstrip("/")


def audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud", [])
    return [aud] if isinstance(aud, str) else [str(a) for a in aud]


@dataclass
class SamlAssertion:
    issuer: str
    subject: str
    subject_type: str
    audience: str
    session_name: str | None
    duration: int | None
    attributes: dict[str, list[str]] = field(default_factory=dict)


def decode_saml(encoded: str) -> SamlAssertion:
    try:
        root = ET.fromstring(base64.b64decode(encoded))
    except (binascii.Error, ValueError, ET.ParseError) as exc:
        raise InvalidAssertion("the SAML assertion is not base64-encoded XML") from exc
    issuer = root.find(f".//{_SAML}Issuer")
    name_id = root.find(f".//{_SAML}Subject/{_SAML}NameID")
    audience = root.find(f".//{_SAML}Audience")
    attributes: dict[str, list[str]] = {}
    for attribute in root.iter(f"{_SAML}Attribute"):
        values = [v.text or "" for v in attribute.iter(f"{_SAML}AttributeValue")]
        attributes[attribute.get("Name", "")] = values
    duration = attributes.get(_SESSION_DURATION, [None])[0]
    return SamlAssertion(
        issuer=(issuer.text or "") if issuer is not None else "",
        subject=(name_id.text or "") if name_id is not None else "",
        subject_type=(
            name_id.get("Format", "").rsplit(":", 1)[-1] if name_id is not None else "transient"
        ),
        audience=(audience.text or "") if audience is not None else "",
        session_name=attributes.get(_ROLE_SESSION, [None])[0],
        duration=int(duration) if duration and duration.isdigit() else None,
        attributes=attributes,
    )
