"""Static website hosting: ``<bucket>.s3-website[.-]<region>.localhost.localstack.cloud`` (and
the ``amazonaws.com`` forms) serve a bucket's objects as a website, from its website
configuration: index documents, error documents, redirects of every request, routing rules
and per-object ``x-amz-website-redirect-location``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from nubes.protocol.base import HttpRequest, HttpResponse, ServiceError
from nubes.protocol.xml import escape_text
from nubes.services.s3.models import load_attrs
from nubes.services.s3.storage import Location, read_range

if TYPE_CHECKING:
    from nubes.services.s3.provider import S3Provider

_WEBSITE_HOST = re.compile(
    r"^(?P<bucket>.+?)\.s3-website[.-](?:[a-z0-9-]+\.)?"
    r"(?:localhost\.localstack\.cloud|amazonaws\.com)(?::\d+)?$"
)


def _page(status: int, code: str, message: str, extra: str = "") -> HttpResponse:
    body = (
        f"<html>\n<head><title>{status} {escape_text(message)}</title></head>\n<body>\n"
        f"<h1>{status} {escape_text(message)}</h1>\n<ul>\n<li>Code: {code}</li>\n"
        f"<li>Message: {escape_text(message)}</li>\n{extra}</ul>\n<hr/>\n</body>\n</html>\n"
    )
    return HttpResponse(status, {"Content-Type": "text/html; charset=utf-8"}, body.encode())


def _redirect(location: str, status: int = 301) -> HttpResponse:
    return HttpResponse(status, {"Location": location, "Content-Length": "0"}, b"")


def _target(redirect: dict[str, Any], key: str, default_host: str) -> str:
    protocol = redirect.get("Protocol") or "http"
    host = redirect.get("HostName") or default_host
    if "ReplaceKeyWith" in redirect:
        key = redirect["ReplaceKeyWith"]
    return f"{protocol}://{host}/{key}"


class Website:
    def __init__(self, provider: S3Provider) -> None:
        self.provider = provider

    async def intercept(self, req: HttpRequest) -> HttpResponse | None:
        m = _WEBSITE_HOST.match(req.host.lower())
        if m is None or req.method not in ("GET", "HEAD"):
            return None
        return self.serve(m.group("bucket"), unquote(req.path.lstrip("/")), req)

    def serve(self, name: str, key: str, req: HttpRequest) -> HttpResponse:
        db = self.provider.db
        if db.bucket(name) is None:
            return _page(404, "NoSuchBucket", "The specified bucket does not exist")
        config = db.config(name, "website")
        if config is None:
            return _page(
                404,
                "NoSuchWebsiteConfiguration",
                "The specified bucket does not have a website configuration",
            )
        everything = config.get("RedirectAllRequestsTo")
        if everything:
            return _redirect(_target(everything, key, req.host))
        index = (config.get("IndexDocument") or {}).get("Suffix", "index.html")
        if not key or key.endswith("/"):
            key += index
        for rule in config.get("RoutingRules") or []:
            condition = rule.get("Condition") or {}
            prefix = condition.get("KeyPrefixEquals")
            if condition.get("HttpErrorCodeReturnedEquals") or (
                prefix is not None and not key.startswith(prefix)
            ):
                continue
            redirect = dict(rule["Redirect"])
            if "ReplaceKeyPrefixWith" in redirect and prefix is not None:
                redirect["ReplaceKeyWith"] = redirect["ReplaceKeyPrefixWith"] + key[len(prefix) :]
            status = int(redirect.get("HttpRedirectCode") or 301)
            return _redirect(_target(redirect, key, req.host), status)
        if not self.readable(name, key, req):
            return self.error(name, config, req, denied=True)
        row = db.latest(name, key)
        if row is None or row["delete_marker"]:
            if db.latest(name, key + "/" + index) is not None:
                return _redirect(f"/{key}/", 302)
            return self.error(name, config, req)
        attrs = load_attrs(row["attrs"])
        if attrs.get("WebsiteRedirectLocation"):
            return _redirect(attrs["WebsiteRedirectLocation"])
        headers = {
            "Content-Type": attrs.get("ContentType", "binary/octet-stream"),
            "Content-Length": str(row["size"]),
            "ETag": row["etag"],
        }
        return HttpResponse(
            200, headers, read_range(self.provider.blobs, Location.of(row), 0, row["size"])
        )

    def readable(self, name: str, key: str, req: HttpRequest) -> bool:
        """A website endpoint serves what an anonymous caller may read, as AWS's does: under
        IAM enforcement, what the bucket policy grants everyone."""
        from nubes.gateway.enforce import anonymous_context, running_enforcer

        enforcer = running_enforcer(self.provider.env)
        if enforcer is None:
            return True
        ctx = anonymous_context(self.provider.env, "s3", "GetObject", req)
        try:
            enforcer.authorize(ctx, "GetObject", {"Bucket": name, "Key": key}, enforcer.anonymous)
        except ServiceError:
            return False
        return True

    def error(
        self, name: str, config: dict[str, Any], req: HttpRequest, denied: bool = False
    ) -> HttpResponse:
        status = 403 if denied else 404
        document = (config.get("ErrorDocument") or {}).get("Key")
        readable = bool(document) and self.readable(name, str(document), req)
        row = self.provider.db.latest(name, str(document)) if readable else None
        if row is None or row["delete_marker"]:
            if denied:
                return _page(403, "AccessDenied", "Access Denied")
            return _page(404, "NoSuchKey", "The specified key does not exist.")
        attrs = load_attrs(row["attrs"])
        headers = {
            "Content-Type": attrs.get("ContentType", "text/html"),
            "Content-Length": str(row["size"]),
        }
        return HttpResponse(
            status, headers, read_range(self.provider.blobs, Location.of(row), 0, row["size"])
        )
