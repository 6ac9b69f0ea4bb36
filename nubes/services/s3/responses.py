"""S3 error documents for the requests answered before routing (CORS preflight, browser POST
uploads), where the protocol serializer is not in the path."""

from __future__ import annotations

from nubes.core import ids
from nubes.protocol.base import HttpResponse
from nubes.protocol.xml import escape_text


def xml_error(status: int, code: str, message: str, **fields: str) -> HttpResponse:
    request_id = ids.s3_request_id()
    extra = "".join(f"<{k}>{escape_text(str(v))}</{k}>" for k, v in fields.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape_text(message)}</Message>{extra}"
        f"<RequestId>{request_id}</RequestId><HostId>{ids.s3_host_id()}</HostId></Error>"
    )
    return HttpResponse(
        status,
        {"Content-Type": "application/xml", "x-amz-request-id": request_id},
        body.encode(),
    )
