"""AWS Signature Version 4: the canonical request, the string to sign, the signing key and the
signature, for both the ``Authorization`` header form and the presigned query form.

Shared by every check that verifies a signature (S3 presigned URLs; IAM enforcement for header
signatures). Secrets come from resolvers IAM registers; without one, nubes' documented default
credentials apply (any access key, secret ``test``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DEFAULT_ACCESS_KEY = "test"
DEFAULT_SECRET = "test"

SecretResolver = Callable[[str], str | None]
_secret_resolvers: list[SecretResolver] = []


def register_secret_resolver(resolver: SecretResolver) -> None:
    """IAM registers how to find the secret of the access keys it issued."""
    if resolver not in _secret_resolvers:
        _secret_resolvers.append(resolver)


def secret_for(access_key_id: str) -> str | None:
    """The secret of a key nubes knows (IAM's keys, the test/test pair), else None: with IAM
    enforcement off any credentials work, so a signature made with an unknown secret stands."""
    for resolver in _secret_resolvers:
        found = resolver(access_key_id)
        if found is not None:
            return found
    return DEFAULT_SECRET if access_key_id == DEFAULT_ACCESS_KEY else None


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_uri(path: str, double_encode: bool) -> str:
    """S3 signs the path as sent; every other service encodes each segment once more."""
    if not path:
        return "/"
    if not double_encode:
        return path
    return "/".join(_encode(segment) for segment in path.split("/"))


def canonical_query(query_string: str, exclude: Sequence[str] = ()) -> str:
    pairs = []
    for item in query_string.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        name, value = unquote(name), unquote(value)
        if name in exclude:
            continue
        pairs.append((_encode(name), _encode(value)))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_headers(headers: Mapping[str, str], signed: Sequence[str]) -> str:
    lines = []
    for name in signed:
        value = " ".join(headers.get(name, "").split())
        lines.append(f"{name}:{value}\n")
    return "".join(lines)


def header_fields(header: str, algorithm: str) -> dict[str, str] | None:
    """The ``Name=value`` fields of an Authorization header signed with ``algorithm`` (None
    for another algorithm)."""
    if not header.startswith(algorithm + " "):
        return None
    fields = {}
    for item in header[len(algorithm) + 1 :].split(","):
        name, _, value = item.strip().partition("=")
        fields[name] = value
    return fields


def canonical_request(
    method: str,
    path: str,
    query_string: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_hash: str,
    double_encode: bool = False,
    exclude_query: Sequence[str] = (),
) -> str:
    return "\n".join(
        (
            method,
            canonical_uri(path, double_encode),
            canonical_query(query_string, exclude_query),
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        )
    )


def string_to_sign(amz_date: str, scope: str, request: str) -> str:
    digest = hashlib.sha256(request.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_v2(secret: str, text: str) -> str:
    """A signature version 2 signature (S3's legacy query authentication still uses it)."""
    import base64

    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Scope:
    access_key_id: str
    date: str
    region: str
    service: str

    @classmethod
    def parse(cls, credential: str) -> Scope | None:
        parts = credential.split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            return None
        return cls(parts[0], parts[1], parts[2], parts[3])

    def __str__(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def expected_signature(
    secret: str,
    scope: Scope,
    amz_date: str,
    method: str,
    path: str,
    query_string: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_hash: str,
    double_encode: bool = False,
    exclude_query: Sequence[str] = (),
) -> str:
    request = canonical_request(
        method,
        path,
        query_string,
        headers,
        signed_headers,
        payload_hash,
        double_encode,
        exclude_query,
    )
    key = signing_key(secret, scope.date, scope.region, scope.service)
    return sign(key, string_to_sign(amz_date, str(scope), request))


@dataclass(frozen=True)
class Authorization:
    """The parts of an ``Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
    Signature=...`` header."""

    scope: Scope
    signed_headers: tuple[str, ...]
    signature: str

    @classmethod
    def parse(cls, header: str) -> Authorization | None:
        fields = header_fields(header, ALGORITHM)
        if fields is None:
            return None
        scope = Scope.parse(fields.get("Credential", ""))
        if scope is None or "SignedHeaders" not in fields or "Signature" not in fields:
            return None
        return cls(scope, tuple(fields["SignedHeaders"].split(";")), fields["Signature"])


def header_signature_matches(
    method: str,
    path: str,
    query_string: str,
    headers: Mapping[str, str],
    body: bytes = b"",
    double_encode: bool = True,
) -> bool | None:
    """Whether a request's ``Authorization`` header signature is right (None: not SigV4, or
    a key whose secret nubes does not know).
    ``headers`` are lower-cased; S3 signs the path as sent (``double_encode=False``) and
    names its payload hash in ``x-amz-content-sha256``."""
    auth = Authorization.parse(headers.get("authorization", ""))
    secret = secret_for(auth.scope.access_key_id) if auth else None
    if auth is None or secret is None:
        return None
    payload = headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    expected = expected_signature(
        secret,
        auth.scope,
        headers.get("x-amz-date", ""),
        method,
        path,
        query_string,
        headers,
        auth.signed_headers,
        payload,
        double_encode,
    )
    return matches(expected, auth.signature)


class ChunkSigner:
    """The signatures of an S3 ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` body's chunks, in turn:
    each is chained from the previous one, the first from the request's own signature."""

    _EMPTY = hashlib.sha256(b"").hexdigest()

    def __init__(self, key: bytes, scope: Scope, amz_date: str, seed: str) -> None:
        self.key = key
        self.prefix = f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n"
        self.previous = seed

    def next(self, chunk_sha256: str) -> str:
        """The signature the next chunk (whose SHA-256 is given in hex) must carry."""
        text = f"{self.prefix}{self.previous}\n{self._EMPTY}\n{chunk_sha256}"
        self.previous = sign(self.key, text)
        return self.previous


def matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.lower().encode())
