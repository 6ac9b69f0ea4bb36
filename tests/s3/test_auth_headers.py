"""What S3 refuses before looking at a key, whether IAM enforcement is on or not: malformed
SigV2 ``Authorization`` and ``Date`` headers, malformed or wrong ``Content-MD5``, presigned URLs
missing their parameters, and browser POST forms whose policy is malformed (400) or not signed
by a key nubes knows (403)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any

import pytest
import requests
from botocore.config import Config

from tests.server import make_client


@pytest.fixture
def bucket(client: Callable[..., Any], unique: Callable[[str], str]) -> str:
    name = unique("auth")
    client("s3").create_bucket(Bucket=name)
    return name


def v2_put(endpoint: str, bucket: str, headers: dict[str, str]) -> requests.Response:
    return requests.put(f"{endpoint}/{bucket}/k", data=b"bar", headers=headers, timeout=10)


def code(resp: requests.Response) -> tuple[int, str]:
    start = resp.text.find("<Code>")
    return resp.status_code, resp.text[start + 6 : resp.text.find("</Code>")]


NOW = formatdate(usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Authorization": "AWS HAHAHA", "Date": NOW}, (400, "InvalidArgument")),
        ({"Authorization": "AWS test:", "Date": NOW}, (400, "InvalidArgument")),
        ({"Authorization": "AWS test:abc="}, (403, "AccessDenied")),
        ({"Authorization": "AWS test:abc=", "Date": "Bad Date"}, (403, "AccessDenied")),
        ({"Authorization": "AWS test:abc=", "Date": ""}, (403, "AccessDenied")),
        (
            {"Authorization": "AWS test:abc=", "Date": "Tue, 07 Jul 1950 21:53:04 GMT"},
            (403, "AccessDenied"),
        ),
        (
            {"Authorization": "AWS test:abc=", "Date": "Tue, 07 Jul 2010 21:53:04 GMT"},
            (403, "RequestTimeTooSkewed"),
        ),
        (
            {"Authorization": "AWS test:abc=", "Date": "Tue, 07 Jul 9999 21:53:04 GMT"},
            (403, "RequestTimeTooSkewed"),
        ),
        ({"Authorization": "AWS test:abc=", "X-Amz-Date": "Bad Date"}, (403, "AccessDenied")),
        (
            {"Authorization": "AWS4-HMAC-SHA256 Credential=HAHAHA", "X-Amz-Date": NOW},
            (400, "AuthorizationHeaderMalformed"),
        ),
    ],
)
def test_malformed_sigv2_headers(
    endpoint: str, bucket: str, headers: dict[str, str], expected: tuple[int, str]
) -> None:
    assert code(v2_put(endpoint, bucket, headers)) == expected


def test_sigv2_clients_work(endpoint: str, bucket: str) -> None:
    s3 = make_client(endpoint, "s3", config=Config(signature_version="s3"))
    s3.put_object(Bucket=bucket, Key="v2", Body=b"signed")
    assert s3.get_object(Bucket=bucket, Key="v2")["Body"].read() == b"signed"


@pytest.mark.parametrize(
    ("md5", "expected"),
    [
        ("AWS HAHAHA", (400, "InvalidDigest")),
        ("YWJyYWNhZGFicmE=", (400, "InvalidDigest")),
        ("rL0Y20xC+Fzt72VPzMSk2A==", (400, "BadDigest")),
    ],
)
def test_content_md5_on_every_operation(
    client: Callable[..., Any], bucket: str, md5: str, expected: tuple[int, str]
) -> None:
    s3 = client("s3")

    def tamper(request: Any, **_: Any) -> None:
        request.headers["Content-MD5"] = md5

    for event in ("before-sign.s3.PutBucketTagging", "before-sign.s3.PutObject"):
        s3.meta.events.register(event, tamper)
    try:
        for call in (
            lambda: s3.put_bucket_tagging(
                Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}
            ),
            lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"bar"),
        ):
            with pytest.raises(s3.exceptions.ClientError) as exc:
                call()
            response = exc.value.response
            got = (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"])
            assert got == expected
    finally:
        for event in ("before-sign.s3.PutBucketTagging", "before-sign.s3.PutObject"):
            s3.meta.events.unregister(event, tamper)


def test_presigned_v2_needs_all_its_parameters(endpoint: str, bucket: str) -> None:
    for query in ("AWSAccessKeyId=test&Signature=abc", "Signature=%ff", "AWSAccessKeyId=test"):
        resp = requests.get(f"{endpoint}/{bucket}/k?{query}", timeout=10)
        assert code(resp) == (403, "AccessDenied"), resp.text


def form(bucket: str, key: str, secret: str, policy: dict[str, Any]) -> dict[str, str]:
    encoded = base64.b64encode(json.dumps(policy).encode()).decode()
    signature = hmac.new(secret.encode(), encoded.encode(), hashlib.sha1).digest()
    return {
        "key": "foo.txt",
        "AWSAccessKeyId": key,
        "policy": encoded,
        "signature": base64.b64encode(signature).decode(),
    }


def test_browser_post_policy_errors(endpoint: str, bucket: str) -> None:
    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    good = {"expiration": expires, "conditions": [{"bucket": bucket}, ["eq", "$key", "foo.txt"]]}
    url = f"{endpoint}/{bucket}"

    def post(fields: dict[str, str]) -> tuple[int, str]:
        files = {"file": ("foo.txt", b"bar")}
        return code(requests.post(url, data=fields, files=files, timeout=10))

    assert post(form(bucket, "test", "test", good))[0] == 204
    assert post(form(bucket, "AKIANOTAKEYNUBESKNOW", "test", good)) == (403, "InvalidAccessKeyId")
    assert post(form(bucket, "test", "wrong", good)) == (403, "SignatureDoesNotMatch")
    unsigned = form(bucket, "test", "test", good)
    del unsigned["signature"]
    assert post(unsigned) == (400, "InvalidArgument")
    for malformed in (
        {**good, "expiration": str(datetime.now(UTC) + timedelta(hours=1))},
        {"conditions": good["conditions"]},
        {"EXPIRATION": expires, "conditions": good["conditions"]},
        {"expiration": expires, "CONDITIONS": good["conditions"]},
        {"expiration": expires, "conditions": [{}]},
        {"expiration": expires, "conditions": [["content-length-range", "a", 1]]},
        {"expiration": expires, "conditions": [["matches", "$key", "foo"]]},
    ):
        assert post(form(bucket, "test", "test", malformed)) == (400, "InvalidPolicyDocument")
    for refused in (
        {**good, "expiration": "2001-01-01T00:00:00Z"},
        {"expiration": expires, "conditions": [{"bucket": "another"}]},
        {"expiration": expires, "conditions": [["starts-with", "$key", "bar"]]},
    ):
        assert post(form(bucket, "test", "test", refused)) == (403, "AccessDenied")
