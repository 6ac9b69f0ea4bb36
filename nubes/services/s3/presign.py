"""Presigned S3 URLs (SigV4 query authentication): expiry against the nubes clock, then the
signature itself, computed by the shared SigV4 module."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.gateway import sigv4
from nubes.gateway.router import s3_virtual_host_bucket
from nubes.services.s3.errors import errors

if TYPE_CHECKING:
    from botocore.model import OperationModel

    from nubes.core.context import RequestContext

MAX_EXPIRES = 604800


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_path(ctx: RequestContext) -> str:
    """The path the client signed: the router folds a virtual-host bucket into the path."""
    req = ctx.request
    bucket = s3_virtual_host_bucket(req.host)
    if bucket is not None and req.path.startswith(f"/{bucket}"):
        return req.path[len(bucket) + 1 :] or "/"
    return req.path


def check(ctx: RequestContext, op: OperationModel, params: dict[str, Any]) -> None:
    """Gateway check for S3 requests carrying a presigned query signature."""
    if ctx.service != "s3":
        return
    query_string = ctx.request.query_string
    if "X-Amz-Signature=" in query_string:
        _check_v4(ctx)
    elif "Signature=" in query_string and "Expires=" in query_string:
        _check_v2(ctx)


_V2_SUBRESOURCES = frozenset(
    (
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification",
        "partNumber", "policy", "requestPayment", "restore", "tagging", "torrent", "uploadId",
        "uploads", "versionId", "versioning", "versions", "website", "response-cache-control",
        "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires",
    )
)  # fmt: skip


def _check_v2(ctx: RequestContext) -> None:
    """Query-string authentication, signature version 2 (what botocore still presigns S3 URLs
    with unless told to use SigV4)."""
    req = ctx.request
    query = req.query
    expires = _first(query, "Expires")
    if not expires.isdigit():
        raise errors.AccessDenied("Query-string authentication requires the Expires parameter")
    if clock.now() > int(expires):
        raise errors.AccessDenied(
            "Request has expired", Expires=_iso(int(expires)), ServerTime=_iso(clock.now())
        )
    access_key = _first(query, "AWSAccessKeyId")
    given = _first(query, "Signature")
    bucket = s3_virtual_host_bucket(req.host)
    # The path as sent (still percent-encoded); subresource values decoded, as botocore signs.
    resource = (f"/{bucket}" if bucket else "") + signed_path(ctx)
    subresources = sorted((k, v[0]) for k, v in query.items() if k in _V2_SUBRESOURCES)
    if subresources:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in subresources)
    amz = sorted((k, " ".join(v.split())) for k, v in req.headers.items() if k.startswith("x-amz-"))
    text = "\n".join(
        (
            req.method,
            req.headers.get("content-md5", ""),
            req.headers.get("content-type", ""),
            expires,
            *(f"{k}:{v}" for k, v in amz),
            resource,
        )
    )
    secret = sigv4.secret_for(access_key)
    if secret is not None and not hmac.compare_digest(sigv4.sign_v2(secret, text), given):
        raise errors.SignatureDoesNotMatch(
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            AWSAccessKeyId=access_key,
            StringToSign=text,
            SignatureProvided=given,
        )


def _first(query: dict[str, list[str]], name: str) -> str:
    return query.get(name, [""])[0]


def _check_v4(ctx: RequestContext) -> None:
    req = ctx.request
    query = req.query
    if _first(query, "X-Amz-Algorithm") != sigv4.ALGORITHM:
        raise errors.AuthorizationQueryParametersError(
            'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"'
        )
    expires_text, amz_date = _first(query, "X-Amz-Expires"), _first(query, "X-Amz-Date")
    scope = sigv4.Scope.parse(_first(query, "X-Amz-Credential"))
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
        expires = int(expires_text)
    except ValueError:
        raise errors.AuthorizationQueryParametersError(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
            if expires_text.isdigit()
            else "X-Amz-Expires should be a number"
        ) from None
    if scope is None:
        raise errors.AuthorizationQueryParametersError(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    if expires > MAX_EXPIRES:
        raise errors.AuthorizationQueryParametersError(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800"
        )
    if expires < 0:
        raise errors.AuthorizationQueryParametersError("X-Amz-Expires must be non-negative")
    now = clock.now()
    if now > signed_at + expires:
        raise errors.AccessDenied(
            "Request has expired",
            **{"X-Amz-Expires": expires_text},
            Expires=_iso(signed_at + expires),
            ServerTime=_iso(now),
        )
    signed_headers = _first(query, "X-Amz-SignedHeaders").split(";")
    given = _first(query, "X-Amz-Signature")
    payload = req.headers.get("x-amz-content-sha256", sigv4.UNSIGNED_PAYLOAD)
    secret = sigv4.secret_for(scope.access_key_id)
    if secret is None:
        return
    expected = sigv4.expected_signature(
        secret,
        scope,
        amz_date,
        req.method,
        signed_path(ctx),
        req.query_string,
        req.headers,
        signed_headers,
        payload,
        exclude_query=("X-Amz-Signature",),
    )
    if not sigv4.matches(expected, given):
        raise errors.SignatureDoesNotMatch(
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            AWSAccessKeyId=scope.access_key_id,
            SignatureProvided=given,
        )
