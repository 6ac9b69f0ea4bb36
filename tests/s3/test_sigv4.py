"""The shared SigV4 module against signatures botocore makes (header and presigned forms)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from nubes.gateway import sigv4


def signed(
    auth_class: type[SigV4Auth],
    service: str,
    url: str,
    body: bytes,
    secret: str,
    key: str = "test",
) -> AWSRequest:
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "text/plain"})
    auth_class(Credentials(key, secret), service, "eu-west-1").add_auth(request)
    return request


@pytest.mark.parametrize(
    ("auth_class", "service", "double_encode"),
    [(SigV4Auth, "sqs", True), (S3SigV4Auth, "s3", False)],
)
def test_header_signatures(auth_class: type[SigV4Auth], service: str, double_encode: bool) -> None:
    url = "http://localhost:4566/some%20path/a+b?b=2&a=1&empty="
    request = signed(auth_class, service, url, b"payload", "test")
    parts = urlsplit(url)
    headers = {
        k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
    }
    headers["host"] = parts.netloc
    check = {
        "method": "POST",
        "path": parts.path,
        "query_string": parts.query,
        "headers": headers,
        "body": b"payload",
        "double_encode": double_encode,
    }
    assert sigv4.header_signature_matches(**check) is True
    assert sigv4.header_signature_matches(**{**check, "body": b"other"}) is (service == "s3")
    forged = signed(auth_class, service, url, b"payload", "not-test")
    forged_headers = {
        k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in forged.headers.items()
    }
    forged_headers["host"] = parts.netloc
    assert sigv4.header_signature_matches(**{**check, "headers": forged_headers}) is False
    assert sigv4.header_signature_matches(**{**check, "headers": {"host": "x"}}) is None
    # A key whose secret nubes does not know: any signature stands (enforcement is off).
    unknown = signed(auth_class, service, url, b"payload", "whatever", key="AKIDEXAMPLE")
    unknown_headers = {
        k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in unknown.headers.items()
    }
    unknown_headers["host"] = parts.netloc
    assert sigv4.header_signature_matches(**{**check, "headers": unknown_headers}) is None


def test_signing_key_known_vector() -> None:
    # The example from the SigV4 documentation.
    key = sigv4.signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"
    )
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
