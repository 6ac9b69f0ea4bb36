"""Conditional requests: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since on
GET and HEAD (RFC 7232 precedence, as S3 applies it) and their x-amz-copy-source-if-* forms."""

from __future__ import annotations

from datetime import datetime
from email.utils import formatdate
from typing import Any

from nubes.services.s3.errors import errors

_FAILED = "At least one of the pre-conditions you specified did not hold"


def etag_matches(header: str, etag: str) -> bool:
    """Whether an If-Match / If-None-Match list names ``etag`` (or is ``*``)."""
    bare = etag.strip('"')
    for item in header.split(","):
        item = item.strip()
        if item == "*" or item.removeprefix("W/").strip('"') == bare:
            return True
    return False


def _seconds(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def check_read(req: dict[str, Any], etag: str, last_modified: float) -> None:
    modified = int(last_modified)
    if_match, if_none = req.get("IfMatch"), req.get("IfNoneMatch")
    since, unmodified = _seconds(req.get("IfModifiedSince")), _seconds(req.get("IfUnmodifiedSince"))
    if if_match is not None and not etag_matches(if_match, etag):
        raise errors.PreconditionFailed(_FAILED, Condition="If-Match")
    if if_match is None and unmodified is not None and modified > unmodified:
        raise errors.PreconditionFailed(_FAILED, Condition="If-Unmodified-Since")
    not_modified = (if_none is not None and etag_matches(if_none, etag)) or (
        if_none is None and since is not None and modified <= since
    )
    if not_modified:
        err = errors.NotModified("Not Modified")
        err.headers = {"ETag": etag, "Last-Modified": formatdate(last_modified, usegmt=True)}
        raise err


def check_copy_source(req: dict[str, Any], etag: str, last_modified: float) -> None:
    """The copy-source conditions: any that fails is a 412, not a 304."""
    modified = int(last_modified)
    if_match, if_none = req.get("CopySourceIfMatch"), req.get("CopySourceIfNoneMatch")
    since = _seconds(req.get("CopySourceIfModifiedSince"))
    unmodified = _seconds(req.get("CopySourceIfUnmodifiedSince"))
    failed = None
    if if_match is not None and not etag_matches(if_match, etag):
        failed = "x-amz-copy-source-If-Match"
    elif if_match is None and unmodified is not None and modified > unmodified:
        failed = "x-amz-copy-source-If-Unmodified-Since"
    elif if_none is not None and etag_matches(if_none, etag):
        failed = "x-amz-copy-source-If-None-Match"
    elif if_none is None and since is not None and modified <= since:
        failed = "x-amz-copy-source-If-Modified-Since"
    if failed:
        raise errors.PreconditionFailed(_FAILED, Condition=failed)
