"""Which service, protocol and operation a request is for, from every form real clients send.

In order: ``smithy-protocol: rpc-v2-cbor`` with ``/service/<S>/operation/<O>``; ``X-Amz-Target``;
``Action`` (query and ec2, in a form body or the query string); REST ``requestUri`` templates of
the services that share the request's signing name; and S3 for unsigned requests and S3-style
virtual hosts. All tables come from the catalog and are built once per service.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from nubes.gateway.auth import Credentials
from nubes.gateway.catalog import Catalog, ServiceInfo
from nubes.protocol.base import HttpRequest, ServiceError

REST_PROTOCOLS = ("rest-json", "rest-xml")
FORM = "application/x-www-form-urlencoded"

# Hosts that name an S3 bucket in their first labels (virtual-host style addressing).
_S3_VHOST = re.compile(
    r"^(?P<bucket>.+?)\.(?:s3[.-](?:[a-z0-9-]+\.)?(?:localhost\.localstack\.cloud|amazonaws\.com)"
    r"|s3\.localhost\.localstack\.cloud|localhost(?:\.localstack\.cloud)?)$"
)
_FORM_ACTION = re.compile(rb"(?:^|&)Action=([^&]*)")
_FORM_VERSION = re.compile(rb"(?:^|&)Version=([^&]*)")
_NOT_BUCKETS = {"s3", "sqs", "sns", "www", "s3-website"}


@dataclass
class Target:
    service: ServiceInfo
    protocol: str
    operation: str | None
    """None when the service is known but no operation matched."""
    uri_params: dict[str, str] = field(default_factory=dict)
    action: str | None = None
    """The name the client asked for, when it did not match an operation."""


def s3_virtual_host_bucket(host: str) -> str | None:
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    m = _S3_VHOST.match(hostname.lower())
    if m is None:
        return None
    bucket = m.group("bucket")
    if bucket in _NOT_BUCKETS or bucket.startswith(("sqs.", "sns.")):
        return None
    return bucket


class Router:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._s3 = catalog.services["s3"]

    def identify(self, req: HttpRequest, creds: Credentials | None) -> Target | None:
        headers = req.headers
        if headers.get("smithy-protocol") == "rpc-v2-cbor":
            return self._cbor(req)
        target = headers.get("x-amz-target")
        if target:
            return self._json(target, creds)
        action = self._action(req)
        if action is not None:
            return self._query(action, req, creds)
        return self._rest(req, creds)

    # -- RPC protocols ---------------------------------------------------------------------

    def _cbor(self, req: HttpRequest) -> Target | None:
        parts = req.path.split("/")
        # ['', 'service', <S>, 'operation', <O>]
        if len(parts) < 5 or parts[1] != "service" or parts[3] != "operation":
            return None
        for info in self.catalog.by_target_prefix.get(parts[2], ()):
            if "smithy-rpc-v2-cbor" in info.protocols:
                return self._resolve(info, "smithy-rpc-v2-cbor", parts[4])
        return None

    def _json(self, target: str, creds: Credentials | None) -> Target | None:
        prefix, _, name = target.rpartition(".")
        candidates = self.catalog.by_target_prefix.get(prefix, [])
        if creds and creds.signing_name and len(candidates) > 1:
            candidates = [i for i in candidates if i.signing_name == creds.signing_name] or (
                candidates
            )
        for info in candidates:
            if "json" in info.protocols:
                return self._resolve(info, "json", name)
        return None

    def _action(self, req: HttpRequest) -> str | None:
        if "Action=" in req.query_string:
            return req.query.get("Action", [None])[0]
        content_type = req.headers.get("content-type", "")
        if req.method == "POST" and content_type.startswith(FORM):
            # Only the action is needed here; the protocol parses the whole form once.
            body = req.read_body()
            if "gzip" in req.headers.get("content-encoding", ""):
                # A compressed form (PutMetricData): its start is enough to find the action.
                try:
                    body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, 1 << 20)
                except zlib.error:
                    body = b""
            m = _FORM_ACTION.search(body)
            return unquote_plus(m.group(1).decode("utf-8", "replace")) if m else None
        return None

    def _query(self, action: str, req: HttpRequest, creds: Credentials | None) -> Target | None:
        candidates: list[ServiceInfo] = []
        if creds and creds.signing_name:
            candidates = [
                i
                for i in self.catalog.by_signing_name.get(creds.signing_name, ())
                if "query" in i.protocols or "ec2" in i.protocols
            ]
        if not candidates:
            # Unsigned calls (AssumeRoleWithWebIdentity and friends): any service with the action.
            candidates = [
                i
                for i in self.catalog.services.values()
                if ("query" in i.protocols or "ec2" in i.protocols) and action in i.operation_names
            ]
        if len({i.metadata.get("apiVersion") for i in candidates}) > 1:
            # Services sharing a signing name (elb and elbv2 as elasticloadbalancing) are told
            # apart by the API version the request names.
            version = self._version(req)
            candidates.sort(key=lambda i: i.metadata.get("apiVersion") != version)
        for info in candidates:
            if action in info.operation_names:
                return Target(info, "ec2" if info.protocol == "ec2" else "query", action)
        if candidates:
            info = candidates[0]
            return Target(info, "ec2" if info.protocol == "ec2" else "query", None, action=action)
        return None

    @staticmethod
    def _version(req: HttpRequest) -> str | None:
        if "Version=" in req.query_string:
            return req.query.get("Version", [None])[0]
        if req.method == "POST" and req.headers.get("content-type", "").startswith(FORM):
            m = _FORM_VERSION.search(req.read_body())
            return unquote_plus(m.group(1).decode("utf-8", "replace")) if m else None
        return None

    def _resolve(self, info: ServiceInfo, protocol: str, name: str) -> Target:
        if name in info.operation_names:
            return Target(info, protocol, name)
        return Target(info, protocol, None, action=name)

    # -- REST protocols --------------------------------------------------------------------

    def _rest(self, req: HttpRequest, creds: Credentials | None) -> Target | None:
        candidates: list[ServiceInfo] = []
        if creds and creds.signing_name:
            candidates = [
                i
                for i in self.catalog.by_signing_name.get(creds.signing_name, ())
                if i.protocol in REST_PROTOCOLS
            ]
            if creds.signing_name == "s3" and req.path.startswith("/v20180820/"):
                candidates.sort(key=lambda i: i.name != "s3control")
        if not candidates:
            candidates = [self._s3]
        for info in candidates:
            path = req.path
            if info is self._s3:
                bucket = s3_virtual_host_bucket(req.host)
                if bucket is not None:
                    path = "/" + bucket + (path if path != "/" else "")
                    req.path = path
            found = info.rest_router.match(req.method, path, req.query, req.headers)
            if found is not None:
                operation, params = found
                return Target(info, info.protocol, operation, params)
        info = candidates[0]
        return Target(info, info.protocol, None, action=f"{req.method} {req.path}")


def unknown_operation(target: Target) -> ServiceError:
    """The error a service gives for an operation it does not have."""
    name = target.action or "?"
    if target.protocol in ("query", "ec2"):
        return ServiceError(
            "InvalidAction", f"The action {name} is not valid for this web service.", 400
        )
    if target.service.name == "s3":
        return ServiceError(
            "MethodNotAllowed", "The specified method is not allowed against this resource.", 405
        )
    # JSON RPC services (DynamoDB, Kinesis, ...) answer 400; REST paths that match nothing, 404.
    status = 400 if target.protocol == "json" else 404
    return ServiceError("UnknownOperationException", f"Unknown operation {name}", status)
