"""S3 streaming uploads framed as ``aws-chunked`` reach the provider as the plain object bytes."""

from __future__ import annotations

import botocore.session
import pytest

from nubes.protocol import get_protocol
from nubes.protocol.base import HttpRequest, ServiceError


def _chunked(payload: bytes, size: int, signed: bool, trailer: bool) -> bytes:
    sig = ";chunk-signature=" + "0" * 64 if signed else ""
    out = b""
    for start in range(0, len(payload), size):
        piece = payload[start : start + size]
        out += f"{len(piece):x}{sig}\r\n".encode() + piece + b"\r\n"
    out += f"0{sig}\r\n".encode()
    if trailer:
        out += b"x-amz-checksum-crc32:AAAAAA==\r\n"
    return out + b"\r\n"


def _put(body: bytes, headers: dict[str, str]) -> dict:
    model = botocore.session.get_session().get_service_model("s3")
    req = HttpRequest("PUT", "/bkt/key", "", {"host": "localhost", **headers}, body)
    return get_protocol("rest-xml").parse(
        model.operation_model("PutObject"), req, {"Bucket": "bkt", "Key": "key"}
    )


@pytest.mark.parametrize(
    ("signed", "trailer", "sha256"),
    [
        (True, False, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        (False, True, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        (True, True, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
    ],
)
def test_chunked_payload_is_decoded(signed: bool, trailer: bool, sha256: str) -> None:
    payload = bytes(range(256)) * 300
    params = _put(
        _chunked(payload, 8192, signed, trailer),
        {
            "content-encoding": "aws-chunked,gzip",
            "x-amz-content-sha256": sha256,
            "x-amz-decoded-content-length": str(len(payload)),
            "content-length": "99999",
        },
    )
    assert params["Body"].read() == payload
    assert params["ContentLength"] == len(payload)
    assert params["ContentEncoding"] == "gzip"


def test_plain_body_is_untouched() -> None:
    params = _put(b"0\r\nnot chunked", {"content-encoding": "gzip"})
    assert params["Body"].read() == b"0\r\nnot chunked"
    assert params["ContentEncoding"] == "gzip"


def test_truncated_chunked_body_is_an_error() -> None:
    body = _chunked(b"x" * 100, 100, True, False)[:50]
    params = _put(body, {"content-encoding": "aws-chunked"})
    assert "ContentEncoding" not in params
    with pytest.raises(ServiceError) as info:
        params["Body"].read()
    assert info.value.code == "IncompleteBody"
