"""Cross-origin resource sharing from a bucket's CORS rules: the OPTIONS preflight (answered
before routing, since no S3 operation models it) and the Access-Control-* headers of actual
requests whose Origin a rule allows."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from nubes.core import ids
from nubes.gateway.router import s3_virtual_host_bucket
from nubes.protocol.base import HttpRequest, HttpResponse
from nubes.services.s3.responses import xml_error

if TYPE_CHECKING:
    from botocore.model import OperationModel

    from nubes.core.context import RequestContext
    from nubes.services.s3.provider import S3Provider

_NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
    "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    "are not whitelisted by the resource's CORS spec."
)
_DISABLED = "CORSResponse: CORS is not enabled for this bucket."


def _matches(pattern: str, value: str) -> bool:
    # Each rule value may hold one '*' wildcard; header names compare case-insensitively.
    return fnmatch.fnmatchcase(value.lower(), pattern.lower().replace("[", "[[]"))


def match_rule(
    rules: list[dict[str, Any]], origin: str, method: str, headers: list[str]
) -> dict[str, Any] | None:
    for rule in rules:
        if method not in rule.get("AllowedMethods", []):
            continue
        if not any(_matches(o, origin) for o in rule.get("AllowedOrigins", [])):
            continue
        allowed = rule.get("AllowedHeaders") or []
        if all(any(_matches(a, h) for a in allowed) for h in headers):
            return rule
    return None


def response_headers(rule: dict[str, Any], origin: str, method: str) -> dict[str, str]:
    wildcard = "*" in rule.get("AllowedOrigins", [])
    out = {
        "Access-Control-Allow-Origin": "*" if wildcard else origin,
        "Access-Control-Allow-Methods": ", ".join(rule.get("AllowedMethods", [])),
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }
    if not wildcard:
        out["Access-Control-Allow-Credentials"] = "true"
    if rule.get("ExposeHeaders"):
        out["Access-Control-Expose-Headers"] = ", ".join(rule["ExposeHeaders"])
    if rule.get("MaxAgeSeconds") is not None:
        out["Access-Control-Max-Age"] = str(rule["MaxAgeSeconds"])
    return out


class Cors:
    def __init__(self, provider: S3Provider) -> None:
        self.provider = provider

    def _bucket_of(self, req: HttpRequest) -> str | None:
        bucket = s3_virtual_host_bucket(req.host)
        if bucket is not None:
            return bucket
        first = req.path.lstrip("/").split("/", 1)[0]
        return first or None

    async def preflight(self, req: HttpRequest) -> HttpResponse | None:
        if req.method != "OPTIONS" or req.path.startswith("/_"):
            return None
        bucket = self._bucket_of(req)
        if bucket is None:
            return None
        origin = req.headers.get("origin")
        method = req.headers.get("access-control-request-method")
        if not origin or not method:
            return xml_error(
                400, "BadRequest", "Insufficient information. Origin request header needed."
            )
        if self.provider.db.bucket(bucket) is None:
            return xml_error(
                404, "NoSuchBucket", "The specified bucket does not exist", BucketName=bucket
            )
        config = self.provider.db.config(bucket, "cors")
        if not config:
            return xml_error(
                403, "AccessForbidden", _DISABLED, Method=method, ResourceType="OBJECT"
            )
        asked = [
            h.strip()
            for h in req.headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        ]
        rule = match_rule(config.get("CORSRules", []), origin, method, asked)
        if rule is None:
            return xml_error(
                403, "AccessForbidden", _NOT_ALLOWED, Method=method, ResourceType="OBJECT"
            )
        headers = response_headers(rule, origin, method)
        if asked:
            headers["Access-Control-Allow-Headers"] = ", ".join(h.lower() for h in asked)
        headers["x-amz-request-id"] = ids.s3_request_id()
        return HttpResponse(200, headers, b"")

    def annotate(self, ctx: RequestContext, op: OperationModel, params: dict[str, Any]) -> None:
        """Gateway check: put the Access-Control-* headers on an actual cross-origin request."""
        if ctx.service != "s3":
            return
        origin = ctx.request.headers.get("origin")
        bucket = params.get("Bucket")
        if not origin or not isinstance(bucket, str):
            return
        config = (
            self.provider.db.config(bucket, "cors") if self.provider.db.bucket(bucket) else None
        )
        if not config:
            return
        rule = match_rule(config.get("CORSRules", []), origin, ctx.request.method, [])
        if rule is not None:
            extra = ctx.extras.setdefault("response_headers", {})
            extra.update(response_headers(rule, origin, ctx.request.method))
