"""Request headers S3 validates on every operation before doing anything: ``Content-MD5``
must be the base64 of an MD5 digest (``InvalidDigest``) and match the body (``BadDigest``).
Bodies S3 stores as objects or parts are compared as they are stored (``base.receive``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import TYPE_CHECKING, Any

from nubes.services.s3.errors import errors

if TYPE_CHECKING:
    from nubes.core.context import RequestContext

_STORED = frozenset(("PutObject", "UploadPart"))


def check_content_md5(ctx: RequestContext, operation: str) -> None:
    given = ctx.request.headers.get("content-md5")
    if given is None:
        return
    try:
        digest = base64.b64decode(given.strip(), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise errors.InvalidDigest("The Content-MD5 you specified is not valid.")
    if operation in _STORED:
        return
    body: Any = ctx.request.read_body()
    computed = hashlib.md5(body).digest()
    if computed != digest:
        raise errors.BadDigest(
            "The Content-MD5 you specified did not match what we received.",
            ExpectedDigest=given,
            CalculatedDigest=base64.b64encode(computed).decode(),
        )
