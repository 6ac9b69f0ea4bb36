"""HTTP-level habits of single services that no botocore model describes.

DynamoDB refuses a body over 16 MB with 413 before reading it, inflates gzip and deflate request
bodies on every operation (SDKs compress large requests when asked), stamps each response with
``x-amz-crc32`` (the CRC32 of the body, which botocore checks and retries on mismatch) and
``Server: Server``, and answers an unsigned ``GET /`` on its endpoint with a health line.
"""

from __future__ import annotations

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


def health(req: HttpRequest, creds: Credentials | None) -> HttpResponse | None:
    """DynamoDB's answer to an unsigned ``GET /`` on its own host name (load balancers' and
    SDK health checks), instead of taking it for S3's ListBuckets."""
    if creds is not None or req.method != "GET" or req.path != "/":
        return None
    host = req.host.rsplit(":", 1)[0].lower()
    if not host.startswith("dynamodb."):
        return None
    return HttpResponse(200, {"content-type": "text/plain"}, f"healthy: {host} ".encode())


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


def finish(service: str, resp: HttpResponse) -> None:
    """Add the response headers the service sends on every answer."""
    if service != "dynamodb":
        return
    resp.headers["Server"] = "Server"
    if isinstance(resp.body, bytes):
        resp.headers["x-amz-crc32"] = str(zlib.crc32(resp.body))
