"""The signing keys of OpenID Connect providers, and checking an ID token's signature with them.

STS reads ``<issuer>/.well-known/openid-configuration`` and the ``jwks_uri`` it names over
HTTPS. A server whose certificate chains to a CA the host trusts is accepted as is; otherwise,
as IAM did before it kept its own CA library, the SHA-1 thumbprint of the top certificate the
server presents (its top intermediate CA, or the certificate itself when self-signed) must be in
the provider's ThumbprintList. Keys are cached briefly per issuer and fetched again when a token
names a key id the cache does not hold (the provider rotated its keys).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from nubes.core import clock

CACHE_SECONDS = 300
REFETCH_SECONDS = 30
"""A token naming an unknown key id refetches the keys at most this often."""
TIMEOUT = 5.0
MAX_DOCUMENT = 1 << 20

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}


class Unreachable(Exception):
    """The provider's configuration or keys could not be fetched."""


class UntrustedCertificate(Exception):
    """The provider's HTTPS certificate is neither trusted nor in the ThumbprintList."""


class NoKey(Exception):
    """The provider publishes no key that can check this token."""


class BadSignature(Exception):
    """The token's signature does not verify with the provider's key."""


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int(text: str) -> int:
    return int.from_bytes(_b64(text), "big")


def thumbprint(der: bytes) -> str:
    return hashlib.sha1(der, usedforsecurity=False).hexdigest()


def _chain(sock: ssl.SSLSocket) -> list[bytes]:
    """The certificates the server presented, leaf first (DER). Python 3.13 made the chain
    public; before, the same call lives on the socket's internal object."""
    getter = getattr(sock, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(sock, "_sslobj", None), "get_unverified_chain", None)
    if getter is not None:
        chain = getter() or []
        # 3.13's public method answers DER bytes; the internal one Certificate objects
        return [
            c if isinstance(c, bytes) else ssl.PEM_cert_to_DER_cert(c.public_bytes()) for c in chain
        ]
    leaf = sock.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def _get(url: str, thumbprints: Sequence[str]) -> Any:
    """GET ``url`` over HTTPS and parse its JSON body."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise Unreachable(f"not an HTTPS URL: {url}")
    host, port = parts.hostname, parts.port or 443
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        raw = socket.create_connection((host, port), timeout=TIMEOUT)
    except OSError as exc:
        raise Unreachable(str(exc)) from exc
    with raw:
        try:
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=host)
        except ssl.SSLCertVerificationError:
            sock = None
        except (OSError, ssl.SSLError) as exc:
            raise Unreachable(str(exc)) from exc
        if sock is None:
            return _get_pinned(host, port, path, thumbprints)
        with sock:
            return _exchange(sock, host, path)


def _get_pinned(host: str, port: int, path: str, thumbprints: Sequence[str]) -> Any:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        raw = socket.create_connection((host, port), timeout=TIMEOUT)
        sock = context.wrap_socket(raw, server_hostname=host)
    except (OSError, ssl.SSLError) as exc:
        raise Unreachable(str(exc)) from exc
    with sock:
        chain = _chain(sock)
        wanted = {t.lower() for t in thumbprints}
        if not chain or thumbprint(chain[-1]) not in wanted:
            raise UntrustedCertificate(host)
        return _exchange(sock, host, path)


def _exchange(sock: ssl.SSLSocket, host: str, path: str) -> Any:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n"
        "User-Agent: nubes-sts\r\nConnection: close\r\n\r\n"
    )
    try:
        sock.sendall(request.encode())
        data = b""
        while len(data) <= MAX_DOCUMENT:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (OSError, ssl.SSLError) as exc:
        raise Unreachable(str(exc)) from exc
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = status_line.split(" ", 2)
    if len(status) < 2 or status[1] != "200":
        raise Unreachable(f"{host} answered {status_line!r}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise Unreachable(f"{host} answered a body that is not JSON") from exc


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";", 1)[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


@dataclass
class _Entry:
    keys: list[dict[str, Any]]
    issuer: str
    fetched: float


class KeyCache:
    """JWKS per issuer URL, shared by every request of the server."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def keys(
        self, issuer: str, thumbprints: Sequence[str], kid: str | None
    ) -> tuple[str, list[dict[str, Any]]]:
        """(the issuer the provider's configuration states, its keys). Blocking: call it
        from a worker thread."""
        now = clock.now()
        with self._lock:
            entry = self._entries.get(issuer)
        fresh = entry is not None and now - entry.fetched < CACHE_SECONDS
        known = entry is not None and (kid is None or any(k.get("kid") == kid for k in entry.keys))
        if entry is not None and fresh and (known or now - entry.fetched < REFETCH_SECONDS):
            return entry.issuer, entry.keys
        entry = self._fetch(issuer, thumbprints, now)
        with self._lock:
            self._entries[issuer] = entry
        return entry.issuer, entry.keys

    @staticmethod
    def _fetch(issuer: str, thumbprints: Sequence[str], now: float) -> _Entry:
        config = _get(issuer.rstrip("/") + "/.well-known/openid-configuration", thumbprints)
        if not isinstance(config, dict) or not isinstance(config.get("jwks_uri"), str):
            raise Unreachable("the OpenID configuration names no jwks_uri")
        jwks = _get(config["jwks_uri"], thumbprints)
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(keys, list):
            raise Unreachable("the key set holds no keys")
        return _Entry([k for k in keys if isinstance(k, dict)], str(config.get("issuer", "")), now)


def _public_key(jwk: dict[str, Any]) -> Any:
    if jwk.get("x5c"):
        der = base64.b64decode(str(jwk["x5c"][0]))
        return x509.load_der_x509_certificate(der).public_key()
    if jwk.get("kty") == "RSA":
        return rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"])).public_key()
    if jwk.get("kty") == "EC" and jwk.get("crv") in _CURVES:
        curve = _CURVES[jwk["crv"]]
        return ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), curve).public_key()
    return None


def verify(token: str, header: dict[str, Any], keys: list[dict[str, Any]]) -> None:
    """Check the signature of a compact JWS with the key its ``kid`` names (or any key of
    the right type when it names none). RS256/384/512 and ES256/384/512."""
    alg = str(header.get("alg", ""))
    family, bits = alg[:2], alg[2:]
    if family not in ("RS", "ES") or bits not in _HASHES:
        raise NoKey(f"unsupported algorithm {alg}")
    kty = "RSA" if family == "RS" else "EC"
    kid = header.get("kid")
    candidates = [
        k
        for k in keys
        if (kid is None or k.get("kid") == kid)
        and (k.get("kty") == kty)
        and k.get("use", "sig") == "sig"
        and k.get("alg", alg) == alg
    ]
    if not candidates:
        raise NoKey("no key of the provider matches the token")
    signing_input, _, encoded = token.rpartition(".")
    try:
        signature = _b64(encoded)
    except (binascii.Error, ValueError) as exc:
        raise BadSignature("the signature is not base64url") from exc
    digest = _HASHES[bits]()
    for jwk in candidates:
        try:
            key = _public_key(jwk)
        except (KeyError, ValueError, TypeError, binascii.Error):
            continue
        try:
            if isinstance(key, rsa.RSAPublicKey) and family == "RS":
                key.verify(signature, signing_input.encode(), padding.PKCS1v15(), digest)
                return
            if isinstance(key, ec.EllipticCurvePublicKey) and family == "ES":
                half = len(signature) // 2
                der = encode_dss_signature(
                    int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
                )
                key.verify(der, signing_input.encode(), ec.ECDSA(digest))
                return
        except InvalidSignature:
            continue
    raise BadSignature("the signature does not verify")
