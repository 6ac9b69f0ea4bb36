"""AWS Signature Version 2: S3's ``Authorization: AWS <key>:<signature>`` header and its
``AWSAccessKeyId``/``Signature``/``Expires`` query form (HMAC-SHA1 over S3's string to sign),
and the query APIs' ``SignatureVersion=2`` form (HMAC-SHA256 or HMAC-SHA1 over the sorted
parameters).

Shared by every check that verifies one: S3's own checks (with enforcement off, they refuse a
malformed request and verify signatures of keys nubes knows) and IAM enforcement.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from urllib.parse import quote

HEADER = re.compile(r"^AWS (?P<key>[^:\s]+):(?P<signature>\S+)$")
"""``AWS <access key id>:<base64 signature>``."""

S3_SUBRESOURCES = frozenset(
    (
        "accelerate", "acl", "analytics", "cors", "delete", "intelligent-tiering", "inventory",
        "lifecycle", "location", "logging", "metrics", "notification", "object-lock",
        "ownershipControls", "partNumber", "policy", "policyStatus", "publicAccessBlock",
        "replication", "requestPayment", "restore", "retention", "legal-hold", "select",
        "select-type", "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId",
        "versioning", "versions", "website", "response-cache-control",
        "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires",
    )
)  # fmt: skip
"""The query parameters S3's SigV2 canonical resource keeps."""


def sign(secret: str, text: str, digest: str = "sha1") -> str:
    mac = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), getattr(hashlib, digest))
    return base64.b64encode(mac.digest()).decode()


def matches(expected: str, given: str) -> bool:
    """Compares as bytes: a signature holding non-ASCII characters (``%ff``) simply does not
    match, instead of failing the comparison."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


def well_formed(signature: str) -> bool:
    """A SigV2 signature is the base64 of a SHA-1 (20 bytes) or SHA-256 (32 bytes) digest."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) in (20, 32)


def http_date(text: str) -> float | None:
    """An RFC 1123 (or RFC 850 / asctime) HTTP date, as S3 reads ``Date`` and the SigV2
    ``x-amz-date``; None when it is not one or lies before the epoch."""
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    stamp = moment.timestamp()
    return stamp if stamp >= 0 else None


def s3_string_to_sign(
    method: str,
    resource_path: str,
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    date: str,
) -> str:
    """S3's SigV2 string to sign. ``resource_path`` is ``/bucket/key`` as sent (still
    percent-encoded) whatever the addressing style; ``date`` is the ``Date`` header (empty when
    ``x-amz-date`` is sent) or, for query authentication, the ``Expires`` value."""
    resource = resource_path
    subresources = sorted((k, v[0]) for k, v in query.items() if k in S3_SUBRESOURCES)
    if subresources:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in subresources)
    amz = sorted((k, v.strip()) for k, v in headers.items() if k.startswith("x-amz-"))
    return "\n".join(
        (
            method,
            headers.get("content-md5", "").strip(),
            headers.get("content-type", "").strip(),
            date,
            *(f"{k}:{v}" for k, v in amz),
            resource,
        )
    )


def query_string_to_sign(method: str, host: str, path: str, params: Mapping[str, str]) -> str:
    """The query APIs' SignatureVersion 2 string to sign: method, lower-cased host, path and
    every parameter but ``Signature``, sorted and RFC 3986 encoded."""
    pairs = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(params.items())
        if k != "Signature"
    )
    return f"{method}\n{host.lower()}\n{path or '/'}\n{pairs}"
