"""S3's own ways of carrying a signature besides the SigV4 header: presigned URLs (SigV4 and
SigV2 query authentication, expiring on the nubes clock) and the SigV2 ``Authorization: AWS
<key>:<signature>`` header (dated by ``Date`` or ``x-amz-date``, within 15 minutes).

A malformed request is refused whether IAM enforcement is on or not, as S3 refuses it before
looking at the key. The signature itself is checked against the key's secret: with enforcement
off only when nubes knows the key, with it on always (enforcement calls ``verify``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.gateway import sigv2, sigv4
from nubes.gateway.router import s3_virtual_host_bucket
from nubes.protocol.base import ServiceError
from nubes.services.s3.errors import errors
from nubes.services.s3.headers import check_content_md5

if TYPE_CHECKING:
    from botocore.model import OperationModel

    from nubes.core.context import RequestContext

MAX_EXPIRES = 604800
MAX_SKEW = 15 * 60
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)


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
    """Gateway check for S3 requests: the form of any S3-specific signature, and the signature
    of a presigned URL when nubes knows the key; then ``Content-MD5``."""
    if ctx.service == "s3":
        verify(ctx, sigv4.secret_for(ctx.principal.access_key_id), strict=False)
        check_content_md5(ctx, op.name)


def form(ctx: RequestContext) -> str | None:
    """Which S3-specific signature the request carries: ``v2`` (header), ``v2-query``,
    ``v4-query``; None for the SigV4 header or no signature at all. More than one mechanism
    at once is refused, as S3 does."""
    req = ctx.request
    query_string = req.query_string
    found = []
    header = req.headers.get("authorization", "")
    if header.startswith(sigv4.ALGORITHM + " ") and sigv4.Authorization.parse(header) is None:
        raise ServiceError(
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; the Credential is mal-formed; expecting "
            '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
            400,
        )
    if header:
        found.append("v2" if header.startswith("AWS ") else None)
    if "X-Amz-Algorithm=" in query_string or "X-Amz-Signature=" in query_string:
        found.append("v4-query")
    if "AWSAccessKeyId=" in query_string or "Signature=" in query_string.replace(
        "X-Amz-Signature=", ""
    ):
        found.append("v2-query")
    if len(found) > 1:
        raise errors.InvalidArgument(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
            ArgumentName="Authorization",
            ArgumentValue=header,
        )
    return found[0] if found else None


def verify(ctx: RequestContext, secret: str | None, strict: bool = True) -> str | None:
    """Checks the S3-specific signature the request carries (see ``form``) and returns its
    form. ``secret`` None: the key is unknown, which only a non-strict check lets through."""
    kind = form(ctx)
    if kind == "v2":
        # Like the SigV4 header, the SigV2 one is only verified under enforcement; its form
        # and date are checked whatever the setting.
        _check_v2_header(ctx, secret if strict else None)
    elif kind == "v2-query":
        _check_v2(ctx, secret)
    elif kind == "v4-query":
        _check_v4(ctx, secret)
    if strict and kind is not None and secret is None:
        raise errors.InvalidAccessKeyId(
            "The AWS Access Key Id you provided does not exist in our records.",
            AWSAccessKeyId=ctx.principal.access_key_id,
        )
    return kind


def _resource(ctx: RequestContext) -> str:
    """SigV2's resource path: ``/bucket/key`` as sent (still percent-encoded), whatever the
    addressing style."""
    bucket = s3_virtual_host_bucket(ctx.request.host)
    return (f"/{bucket}" if bucket else "") + signed_path(ctx)


def _check_v2_header(ctx: RequestContext, secret: str | None) -> None:
    req = ctx.request
    header = req.headers["authorization"]
    parsed = sigv2.HEADER.match(header)
    if parsed is None:
        raise errors.InvalidArgument(
            "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
            ArgumentName="Authorization",
            ArgumentValue=header,
        )
    amz_date = req.headers.get("x-amz-date")
    date_text = amz_date if amz_date is not None else req.headers.get("date", "")
    signed_at = sigv2.http_date(date_text)
    if signed_at is None:
        raise errors.AccessDenied("AWS authentication requires a valid Date or x-amz-date header")
    # Clients sign with the real wall clock, not the emulated one tests move forward.
    real_now = clock.now() - clock.offset()
    if abs(real_now - signed_at) > MAX_SKEW:
        raise errors.RequestTimeTooSkewed(
            "The difference between the request time and the current time is too large.",
            RequestTime=date_text,
            ServerTime=_iso(real_now),
            MaxAllowedSkewMilliseconds=str(MAX_SKEW * 1000),
        )
    if secret is None:
        return
    given = parsed.group("signature")
    # With x-amz-date the Date line is empty; clients that sign Date anyway are taken too.
    dates = ("", req.headers.get("date", "")) if amz_date is not None else (date_text,)
    for date in dict.fromkeys(dates):
        text = sigv2.s3_string_to_sign(req.method, _resource(ctx), req.query, req.headers, date)
        if sigv2.matches(sigv2.sign(secret, text), given):
            return
    raise errors.SignatureDoesNotMatch(
        _MISMATCH,
        AWSAccessKeyId=parsed.group("key"),
        StringToSign=text,
        SignatureProvided=given,
    )


def _check_v2(ctx: RequestContext, secret: str | None) -> None:
    """Query-string authentication, signature version 2 (what botocore still presigns S3 URLs
    with unless told to use SigV4)."""
    req = ctx.request
    query = req.query
    expires, access_key, given = (
        _first(query, "Expires"),
        _first(query, "AWSAccessKeyId"),
        _first(query, "Signature"),
    )
    if not (expires and access_key and given):
        raise errors.AccessDenied(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId "
            "parameters"
        )
    if not expires.isdigit():
        raise errors.AccessDenied("Invalid date (should be seconds since epoch): " + expires)
    if clock.now() > int(expires):
        raise errors.AccessDenied(
            "Request has expired", Expires=_iso(int(expires)), ServerTime=_iso(clock.now())
        )
    if secret is None:
        return
    text = sigv2.s3_string_to_sign(req.method, _resource(ctx), query, req.headers, expires)
    if not sigv2.matches(sigv2.sign(secret, text), given):
        raise errors.SignatureDoesNotMatch(
            _MISMATCH,
            AWSAccessKeyId=access_key,
            StringToSign=text,
            SignatureProvided=given,
        )


def _first(query: dict[str, list[str]], name: str) -> str:
    return query.get(name, [""])[0]


def _check_v4(ctx: RequestContext, secret: str | None) -> None:
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
            _MISMATCH,
            AWSAccessKeyId=scope.access_key_id,
            SignatureProvided=given,
        )
