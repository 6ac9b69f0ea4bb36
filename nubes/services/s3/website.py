"""Static website hosting: ``<bucket>.s3-website[.-]<region>.localhost.localstack.cloud`` (and
the ``amazonaws.com`` forms) serve a bucket's objects as a website, from its website
configuration: index documents, error documents, redirects of every request, routing rules
and per-object ``x-amz-website-redirect-location``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from nubes.core import ids
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


_REASONS = {403: "Forbidden", 404: "Not Found"}


def _page(
    status: int,
    error: dict[str, str],
    document_error: dict[str, str] | None = None,
) -> HttpResponse:
    """A website endpoint's error page, as S3 writes it: the HTTP status in the title and
    heading, the error's fields (Code, Message, then Key or BucketName) with the request ids,
    and, when the bucket's own error document could not be served, why not."""
    request_id, host_id = ids.s3_request_id(), ids.s3_host_id()

    def items(fields: dict[str, str]) -> str:
        return "".join(f"<li>{name}: {escape_text(value)}</li>\n" for name, value in fields.items())

    title = f"{status} {_REASONS[status]}"
    body = (
        f"<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n"
        f"{items({**error, 'RequestId': request_id, 'HostId': host_id})}</ul>\n"
    )
    if document_error is not None:
        body += (
            "<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>\n"
            f"<ul>\n{items(document_error)}</ul>\n"
        )
    body += "<hr/>\n</body>\n</html>\n"
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "x-amz-request-id": request_id,
        "x-amz-id-2": host_id,
    }
    return HttpResponse(status, headers, body.encode())


def _no_such_key(key: str) -> dict[str, str]:
    return {"Code": "NoSuchKey", "Message": "The specified key does not exist.", "Key": key}


_ACCESS_DENIED = {"Code": "AccessDenied", "Message": "Access Denied"}


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
            return _page(
                404,
                {
                    "Code": "NoSuchBucket",
                    "Message": "The specified bucket does not exist",
                    "BucketName": name,
                },
            )
        config = db.config(name, "website")
        if config is None:
            return _page(
                404,
                {
                    "Code": "NoSuchWebsiteConfiguration",
                    "Message": "The specified bucket does not have a website configuration",
                    "BucketName": name,
                },
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
            return self.error(name, key, config, req, denied=True)
        row = db.latest(name, key)
        if row is None or row["delete_marker"]:
            if db.latest(name, key + "/" + index) is not None:
                return _redirect(f"/{key}/", 302)
            return self.error(name, key, config, req)
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
        self, name: str, key: str, config: dict[str, Any], req: HttpRequest, denied: bool = False
    ) -> HttpResponse:
        """The bucket's error document with the error's status, else S3's own error page."""
        status = 403 if denied else 404
        error = _ACCESS_DENIED if denied else _no_such_key(key)
        document = (config.get("ErrorDocument") or {}).get("Key")
        if not document:
            return _page(status, error)
        document = str(document)
        if not self.readable(name, document, req):
            return _page(status, error, _ACCESS_DENIED)
        row = self.provider.db.latest(name, document)
        if row is None or row["delete_marker"]:
            return _page(status, error, _no_such_key(document))
        attrs = load_attrs(row["attrs"])
        headers = {
            "Content-Type": attrs.get("ContentType", "text/html"),
            "Content-Length": str(row["size"]),
        }
        return HttpResponse(
            status, headers, read_range(self.provider.blobs, Location.of(row), 0, row["size"])
        )
