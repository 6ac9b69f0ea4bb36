"""The ``Location`` GetFunction (``Code``) and GetLayerVersion (``Content``) hand out: as on
AWS, a presigned S3 GET URL of an object in a bucket the Lambda service owns
(``awslambda-<region>-tasks`` for functions, ``awslambda-<region>-layers`` for layers; key
``snapshots/<account>/<name>-<uuid>``), valid for ten minutes. nubes serves it itself, on its
own port in path style (so that a plain HTTP client downloads it without wildcard DNS), from
the zip kept in its blobs, checking the SigV4 query signature and expiry as S3 checks them.

The URLs are signed with a key the data directory keeps, so that they verify after a restart
(the provider starts with the server while one handed out is still valid); the expiry runs on
the nubes clock. Requests to such a path that are not signed with that key
are left to S3 (where the bucket does not exist, as on AWS)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from nubes.core import clock, ids
from nubes.gateway import sigv4
from nubes.protocol import get_protocol
from nubes.protocol.base import HttpRequest, HttpResponse, ResponseContext, ServiceError

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.store.blobs import BlobStore

EXPIRES = 600
"""AWS's code locations are valid for ten minutes."""
MAX_EXPIRES = 604800

PATH = re.compile(
    r"^/awslambda-(?P<region>[a-z0-9-]+)-(?P<kind>tasks|layers)/snapshots/(?P<account>\d{12})/"
    r"(?P<name>[^/]+)-(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y%m%dT%H%M%SZ")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CodeUrls:
    def __init__(self, env: Environment, blobs: BlobStore, note: Callable[[float], None]) -> None:
        """``note(until)`` records (in the request's transaction) how long a location handed
        out stays valid, so that a restarted server serves it before any Lambda request."""
        self.env = env
        self.blobs = blobs
        self._note = note
        self._key_file = Path(blobs.root) / "lambda" / "code-url.key"
        self._secret: str | None = None

    @property
    def secret(self) -> str:
        if self._secret is None:
            self._secret = self._load_secret()
        return self._secret

    def _load_secret(self) -> str:
        if not self._key_file.exists():
            self._key_file.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: two workers racing to make the key keep the first one written.
            try:
                fd = os.open(self._key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_urlsafe(30))
        return self._key_file.read_text().strip()

    @property
    def access_key_id(self) -> str:
        """An ``ASIA`` key like the Lambda service's session credentials, told apart from any
        user's by being derived from this data directory's secret."""
        digest = hashlib.sha256(self.secret.encode()).hexdigest().upper()
        return "ASIA" + digest[:16]

    def location(
        self, base_url: str, region: str, account: str, name: str, blob: str, layer: bool = False
    ) -> str:
        kind = "layers" if layer else "tasks"
        uid = f"{blob[:8]}-{blob[8:12]}-{blob[12:16]}-{blob[16:20]}-{blob[20:32]}"
        path = f"/awslambda-{region}-{kind}/snapshots/{account}/{quote(name, safe='')}-{uid}"
        now = clock.now()
        self._note(now + EXPIRES)
        amz_date = _stamp(now)
        scope = sigv4.Scope(self.access_key_id, amz_date[:8], region, "s3")
        query = (
            f"X-Amz-Algorithm={sigv4.ALGORITHM}"
            f"&X-Amz-Credential={quote(f'{scope.access_key_id}/{scope}', safe='')}"
            f"&X-Amz-Date={amz_date}&X-Amz-Expires={EXPIRES}&X-Amz-SignedHeaders=host"
        )
        host = urlsplit(base_url).netloc
        signature = sigv4.expected_signature(
            self.secret,
            scope,
            amz_date,
            "GET",
            path,
            query,
            {"host": host},
            ["host"],
            sigv4.UNSIGNED_PAYLOAD,
        )
        return f"{base_url}{path}?{query}&X-Amz-Signature={signature}"

    async def serve(self, req: HttpRequest) -> HttpResponse | None:
        """Answers a GET or HEAD of a location this data directory signed; None for anything
        else (S3 answers it)."""
        found = PATH.match(req.path)
        if found is None or req.method not in ("GET", "HEAD"):
            return None
        query = req.query
        credential = sigv4.Scope.parse(query.get("X-Amz-Credential", [""])[0])
        if credential is None or credential.access_key_id != self.access_key_id:
            return None
        try:
            self._verify(req, credential)
        except ServiceError as err:
            return self._error(err)
        blob = found.group("uuid").replace("-", "")
        path = self.blobs.path(blob)
        if not path.is_file():
            return self._error(ServiceError("NoSuchKey", "The specified key does not exist.", 404))
        headers = {
            "content-type": "application/zip",
            "content-length": str(path.stat().st_size),
            "etag": f'"{blob}"',
            "last-modified": datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime(
                "%a, %d %b %Y %H:%M:%S GMT"
            ),
            "x-amz-request-id": ids.s3_request_id(),
        }
        body: Any = b"" if req.method == "HEAD" else self.blobs.iter(blob)
        return HttpResponse(200, headers, body)

    def _verify(self, req: HttpRequest, scope: sigv4.Scope) -> None:
        def first(name: str) -> str:
            return req.query.get(name, [""])[0]

        if first("X-Amz-Algorithm") != sigv4.ALGORITHM:
            raise ServiceError(
                "AuthorizationQueryParametersError",
                'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
            )
        amz_date, expires_text = first("X-Amz-Date"), first("X-Amz-Expires")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expires = int(expires_text)
        except ValueError:
            raise ServiceError(
                "AuthorizationQueryParametersError",
                "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
                if expires_text.isdigit()
                else "X-Amz-Expires should be a number",
            ) from None
        if not 0 <= expires <= MAX_EXPIRES:
            raise ServiceError(
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
            )
        now = clock.now()
        if now > signed_at.timestamp() + expires:
            raise ServiceError(
                "AccessDenied",
                "Request has expired",
                403,
                fields={
                    "X-Amz-Expires": expires_text,
                    "Expires": _iso(signed_at.timestamp() + expires),
                    "ServerTime": _iso(now),
                },
            )
        signed_headers = first("X-Amz-SignedHeaders").split(";")
        expected = sigv4.expected_signature(
            self.secret,
            scope,
            amz_date,
            req.method,
            req.path,
            req.query_string,
            req.headers,
            signed_headers,
            sigv4.UNSIGNED_PAYLOAD,
            exclude_query=("X-Amz-Signature",),
        )
        if not sigv4.matches(expected, first("X-Amz-Signature")):
            raise ServiceError(
                "SignatureDoesNotMatch",
                _MISMATCH,
                403,
                fields={
                    "AWSAccessKeyId": scope.access_key_id,
                    "SignatureProvided": first("X-Amz-Signature"),
                },
            )

    def _error(self, err: ServiceError) -> HttpResponse:
        """S3's XML error document, as S3 answers a refused presigned GET."""
        model = self.env.catalog.services["s3"].model
        return get_protocol("rest-xml").serialize_error(
            err, ResponseContext(ids.s3_request_id(), model, host_id=ids.s3_host_id())
        )
