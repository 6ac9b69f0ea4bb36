"""The pool's signing key and the JWTs made with it: RS256, a ``kid`` per pool key, and the
JWKS document a verifier fetches."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _uint(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def new_key() -> str:
    """A fresh pool key as PKCS#8 PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class PoolKey:
    def __init__(self, pem: str) -> None:
        loaded = serialization.load_pem_private_key(pem.encode(), password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        self.private = loaded
        numbers = loaded.public_key().public_numbers()
        self.jwk = {"alg": "RS256", "e": _uint(numbers.e), "kty": "RSA", "n": _uint(numbers.n)}
        self.kid = _b64(hashlib.sha256(self.jwk["n"].encode()).digest())
        self.jwk = {**self.jwk, "kid": self.kid, "use": "sig"}

    def sign(self, claims: dict[str, Any]) -> str:
        head = _b64(json.dumps({"kid": self.kid, "alg": "RS256"}, separators=(",", ":")).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signed = f"{head}.{body}".encode()
        signature = self.private.sign(signed, padding.PKCS1v15(), hashes.SHA256())
        return f"{head}.{body}.{_b64(signature)}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this key signed, else None (expiry is the caller's)."""
        try:
            head, body, signature = token.split(".")
            self.private.public_key().verify(
                _unb64(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            claims = json.loads(_unb64(body))
        except (ValueError, InvalidSignature):
            return None
        return claims if isinstance(claims, dict) else None


def unverified_claims(token: str) -> dict[str, Any] | None:
    try:
        claims = json.loads(_unb64(token.split(".")[1]))
    except (ValueError, IndexError):
        return None
    return claims if isinstance(claims, dict) else None
