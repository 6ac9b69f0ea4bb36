"""Who signed a request and for which region and service, read from its SigV4 (or SigV2)
credentials: the ``Authorization`` header or the presigned ``X-Amz-Credential`` query key.

Reading the scope is all routing and scoping need; verifying the signature is the job of
IAM enforcement, which only runs when it is switched on.
"""

from __future__ import annotations

from dataclasses import dataclass

from nubes.protocol.base import HttpRequest


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    region: str | None
    signing_name: str | None
    presigned: bool = False


def read_credentials(req: HttpRequest) -> Credentials | None:
    auth = req.headers.get("authorization", "")
    if auth.startswith("AWS4-"):
        start = auth.find("Credential=")
        if start >= 0:
            scope = auth[start + 11 :].split(",", 1)[0].strip()
            return _from_scope(scope, presigned=False)
    elif auth.startswith("AWS "):
        return Credentials(auth[4:].split(":", 1)[0], None, None)
    if "X-Amz-Credential" in req.query_string:
        scope = req.query.get("X-Amz-Credential", [""])[0]
        if scope:
            return _from_scope(scope, presigned=True)
    if "AWSAccessKeyId" in req.query_string:
        key = req.query.get("AWSAccessKeyId", [""])[0]
        if key:
            return Credentials(key, None, None, presigned=True)
    return None


def _from_scope(scope: str, presigned: bool) -> Credentials:
    # AKID/20130524/us-east-1/s3/aws4_request
    parts = scope.split("/")
    if len(parts) >= 5:
        return Credentials(parts[0], parts[2] or None, parts[3] or None, presigned)
    if len(parts) == 4:
        # SigV4A: AKID/20130524/s3/aws4_request, signed for a set of regions.
        return Credentials(parts[0], None, parts[2] or None, presigned)
    return Credentials(parts[0], None, None, presigned)
