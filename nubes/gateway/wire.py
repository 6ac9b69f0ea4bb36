"""HTTP-level habits of single services that no botocore model describes.

DynamoDB refuses a body over 16 MB with 413 before reading it, inflates gzip and deflate request
bodies on every operation (SDKs compress large requests when asked), stamps each response with
``x-amz-crc32`` (the CRC32 of the body, which botocore checks and retries on mismatch) and
``Server: Server``, answers an unsigned ``GET /`` on its endpoint with a health line and answers
browsers' CORS preflights. Browsers calling DynamoDB or Cognito user pools get CORS headers on
every answer.
"""

from __future__ import annotations

import gzip
import zlib
from typing import TYPE_CHECKING

from nubes.protocol.base import HttpRequest, HttpResponse, ServiceError

if TYPE_CHECKING:
    from botocore.model import OperationModel

    from nubes.gateway.auth import Credentials

DYNAMODB_MAX_REQUEST = 16 * 1024 * 1024
"""DynamoDB's largest request (BatchWriteItem's documented 16 MB total)."""
MAX_INFLATED = 16 * 1024 * 1024
"""The largest body a compressed request may inflate to (AWS's own limits are not above it)."""


def early(req: HttpRequest, creds: Credentials | None) -> HttpResponse | None:
    """Answers given before routing: DynamoDB's health line and its CORS preflights."""
    if creds is not None or req.path != "/":
        return None
    host = req.host.rsplit(":", 1)[0].lower()
    if req.method == "GET" and host.startswith("dynamodb."):
        # Load balancers' and SDK health checks, not S3's ListBuckets.
        return HttpResponse(200, {"content-type": "text/plain"}, f"healthy: {host} ".encode())
    if req.method == "OPTIONS":
        return _preflight(req, host)
    return None


def _preflight(req: HttpRequest, host: str) -> HttpResponse | None:
    """A browser's preflight for a JSON RPC call (DynamoDB from the JavaScript SDK): any origin
    may call, with the headers it asks for; S3's own CORS rules answer the rest."""
    origin = req.headers.get("origin")
    method = req.headers.get("access-control-request-method")
    asked = req.headers.get("access-control-request-headers", "")
    rpc = "x-amz-target" in asked.lower() or host.startswith("dynamodb.")
    if not origin or not method or not rpc:
        return None
    headers = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": method,
        "Access-Control-Max-Age": "172800",
        "Access-Control-Expose-Headers": EXPOSED,
        "content-type": "text/plain",
    }
    if asked:
        headers["Access-Control-Allow-Headers"] = asked
    return HttpResponse(200, headers, b"")


EXPOSED = "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,x-amz-crc32,Date"
"""Response headers a browser's SDK reads: the request id, the error type and the checksum."""
BROWSER_CALLED = frozenset(("dynamodb", "cognito-idp"))
"""JSON RPC services web pages call straight from the browser (Amplify signing users in to
Cognito, the JavaScript SDK): their answers carry CORS headers for any origin."""


def prepare(service: str, op: OperationModel, req: HttpRequest) -> None:
    """Bound and inflate the request body before the protocol parses it."""
    dynamodb = service == "dynamodb"
    if dynamodb and req.body_size() > DYNAMODB_MAX_REQUEST:
        raise ServiceError("RequestEntityTooLarge", "Request Entity Too Large", 413)
    encoding = req.headers.get("content-encoding", "").lower()
    if not (dynamodb or op.request_compression) or not encoding:
        return
    if "gzip" in encoding:
        _inflate(req, 16 + zlib.MAX_WBITS, "gzip")
    elif dynamodb and "deflate" in encoding:
        # HTTP's "deflate" is zlib-wrapped; some clients send raw deflate: accept both.
        _inflate(
            req,
            32 + zlib.MAX_WBITS if req.read_body()[:1] == b"\x78" else -zlib.MAX_WBITS,
            "deflate",
        )


def _inflate(req: HttpRequest, wbits: int, name: str) -> None:
    """Inflate the body, bounded so a small bomb cannot take the memory."""
    inflater = zlib.decompressobj(wbits)
    try:
        body = inflater.decompress(req.read_body(), MAX_INFLATED)
    except zlib.error:
        raise ServiceError(
            "SerializationException", f"The {name} request body is corrupt."
        ) from None
    if inflater.unconsumed_tail:
        raise ServiceError("RequestEntityTooLarge", "The inflated request body is too large.", 413)
    req.body, req.body_file = body, None


def finish(service: str, req: HttpRequest, resp: HttpResponse) -> None:
    """Add the response headers the service sends on every answer; gzip the body for a client
    that accepts it (the checksum is then of the bytes sent, as SDKs verify it)."""
    if service in BROWSER_CALLED and "origin" in req.headers:
        resp.headers["Access-Control-Allow-Origin"] = "*"
        resp.headers["Access-Control-Expose-Headers"] = EXPOSED
    if service != "dynamodb":
        return
    resp.headers["Server"] = "Server"
    if not isinstance(resp.body, bytes):
        return
    accepted = req.headers.get("accept-encoding", "").lower()
    if "gzip" in accepted and "content-encoding" not in {k.lower() for k in resp.headers}:
        resp.body = gzip.compress(resp.body, mtime=0)
        resp.headers["Content-Encoding"] = "gzip"
    resp.headers["x-amz-crc32"] = str(zlib.crc32(resp.body))
