"""Identifiers in the shapes AWS gives them."""

from __future__ import annotations

import os
import secrets
import string
import uuid

_UPPER_ALNUM = string.ascii_uppercase + string.digits


def request_id() -> str:
    return str(uuid.uuid4())


def s3_request_id() -> str:
    """S3's 16-character upper-case hex request id."""
    return os.urandom(8).hex().upper()


def s3_host_id() -> str:
    return secrets.token_urlsafe(48)


def unique_id(prefix: str, length: int = 21) -> str:
    """IAM-style ids: a 4-letter prefix (AIDA, AROA, AKIA, ASIA, ...) and upper-case alnum."""
    return prefix + "".join(secrets.choice(_UPPER_ALNUM) for _ in range(length - len(prefix)))


def short_id(length: int = 8) -> str:
    """Lower-case hex ids as EC2 and friends use after their prefix (``vpc-0a1b2c3d``)."""
    return secrets.token_hex((length + 1) // 2)[:length]
