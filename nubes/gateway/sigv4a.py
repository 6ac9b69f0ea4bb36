"""AWS Signature Version 4A (``AWS4-ECDSA-P256-SHA256``): the SigV4 canonical request signed
with an ECDSA P-256 key derived from the secret access key, for a set of regions
(``X-Amz-Region-Set``) instead of one. S3 (multi-Region access points) and EventBridge (global
endpoints) take it; nubes verifies the ``Authorization`` header form for them.

The key derivation is the one AWS's SDKs use: HMAC-SHA256 in counter mode (NIST SP 800-108)
keyed with ``"AWS4A" + secret``, over the label ``AWS4-ECDSA-P256-SHA256`` and the access key id
with a one-byte counter, until the candidate lies below the curve order minus one.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from nubes.gateway.sigv4 import header_fields

ALGORITHM = "AWS4-ECDSA-P256-SHA256"
SERVICES = frozenset(("s3", "events"))
"""The services that accept SigV4A; others refuse it, as AWS's do."""
_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC63254F", 16)


@dataclass(frozen=True)
class Authorization:
    access_key_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.service}/aws4_request"

    @classmethod
    def parse(cls, header: str) -> Authorization | None:
        fields = header_fields(header, ALGORITHM)
        if fields is None:
            return None
        parts = fields.get("Credential", "").split("/")
        if len(parts) != 4 or parts[3] != "aws4_request":
            return None
        if "SignedHeaders" not in fields or "Signature" not in fields:
            return None
        return cls(
            parts[0],
            parts[1],
            parts[2],
            tuple(fields["SignedHeaders"].split(";")),
            fields["Signature"],
        )


@lru_cache(maxsize=256)
def public_key(access_key_id: str, secret: str) -> Any:
    """The P-256 public key of the private key derived from a key pair."""
    from cryptography.hazmat.primitives.asymmetric import ec

    secret_key = ("AWS4A" + secret).encode()
    for counter in range(1, 255):
        fixed = (
            (1).to_bytes(4, "big")
            + ALGORITHM.encode()
            + b"\x00"
            + access_key_id.encode()
            + bytes((counter,))
            + (256).to_bytes(4, "big")
        )
        candidate = int.from_bytes(hmac.new(secret_key, fixed, hashlib.sha256).digest(), "big")
        if candidate <= _ORDER - 2:
            return ec.derive_private_key(candidate + 1, ec.SECP256R1()).public_key()
    raise ValueError("no key could be derived")


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def verify(access_key_id: str, secret: str, text: str, signature: str) -> bool:
    """Whether ``signature`` (hex DER ECDSA) signs ``text`` with the key pair's derived key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        raw = bytes.fromhex(signature)
        public_key(access_key_id, secret).verify(raw, text.encode(), ec.ECDSA(hashes.SHA256()))
    except (ValueError, InvalidSignature):
        return False
    return True
