"""Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) as
authenticator apps compute them from the secret AssociateSoftwareToken hands out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct

STEP = 30
DIGITS = 6


def new_secret() -> str:
    """A base32 secret of 32 characters (160 bits), as Cognito's SecretCode."""
    return base64.b32encode(secrets.token_bytes(20)).decode()


def code_at(secret: str, when: float) -> str:
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(when // STEP)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 10**DIGITS:0{DIGITS}d}"


def matches(secret: str, code: str, now: float) -> bool:
    """Whether ``code`` is the one for now or a step either side (clocks drift)."""
    return any(
        hmac.compare_digest(code_at(secret, now + drift * STEP).encode(), code.encode())
        for drift in (-1, 0, 1)
    )
