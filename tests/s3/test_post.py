"""Browser form uploads (presigned POST): policy signature, expiry, conditions."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from botocore.config import Config

from tests.server import make_client


@pytest.fixture(params=["s3", "s3v4"])
def signer(request: Any, endpoint: str) -> Any:
    return make_client(endpoint, "s3", config=Config(signature_version=request.param))


def test_presigned_post_upload(signer: Any, bucket: str) -> None:
    post = signer.generate_presigned_post(
        bucket,
        "uploads/${filename}",
        Fields={"Content-Type": "text/plain", "success_action_status": "201"},
        Conditions=[
            ["starts-with", "$key", "uploads/"],
            {"Content-Type": "text/plain"},
            {"success_action_status": "201"},
            ["content-length-range", 1, 100],
        ],
        ExpiresIn=300,
    )
    resp = requests.post(
        post["url"], data=post["fields"], files={"file": ("note.txt", b"posted")}, timeout=10
    )
    assert resp.status_code == 201, resp.content
    assert b"<Key>uploads/note.txt</Key>" in resp.content
    got = signer.get_object(Bucket=bucket, Key="uploads/note.txt")
    assert got["Body"].read() == b"posted"
    assert got["ContentType"] == "text/plain"
    too_big = requests.post(
        post["url"], data=post["fields"], files={"file": ("big.txt", b"x" * 101)}, timeout=10
    )
    assert too_big.status_code == 400
    assert b"EntityTooLarge" in too_big.content


def test_presigned_post_rejections(s3: Any, bucket: str) -> None:
    post = s3.generate_presigned_post(bucket, "fixed.txt", ExpiresIn=300)
    tampered = {**post["fields"], "key": "other.txt"}
    resp = requests.post(post["url"], data=tampered, files={"file": b"x"}, timeout=10)
    assert resp.status_code == 403
    assert b"Policy Condition failed" in resp.content
    extra = {**post["fields"], "x-amz-meta-color": "red"}
    resp = requests.post(post["url"], data=extra, files={"file": b"x"}, timeout=10)
    assert resp.status_code == 403 and b"Extra input fields" in resp.content
    name = "x-amz-signature" if "x-amz-signature" in post["fields"] else "signature"
    forged = {**post["fields"], name: "AAAA"}
    resp = requests.post(post["url"], data=forged, files={"file": b"x"}, timeout=10)
    assert resp.status_code == 403 and b"SignatureDoesNotMatch" in resp.content
    ok = requests.post(post["url"], data=post["fields"], files={"file": b"fine"}, timeout=10)
    assert ok.status_code == 204
    assert s3.get_object(Bucket=bucket, Key="fixed.txt")["Body"].read() == b"fine"


def test_presigned_post_expires_on_nubes_clock(nubes_factory: Any) -> None:
    server = nubes_factory(persistent=False)
    s3 = server.client("s3")
    s3.create_bucket(Bucket="post-expiry")
    post = s3.generate_presigned_post("post-expiry", "k", ExpiresIn=60)
    requests.post(f"{server.endpoint}/_nubes/clock", json={"advance": 120}, timeout=10)
    resp = requests.post(post["url"], data=post["fields"], files={"file": b"x"}, timeout=10)
    assert resp.status_code == 403 and b"Policy expired" in resp.content
