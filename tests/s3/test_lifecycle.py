"""Lifecycle rules applied when the nubes clock moves: expiry of current objects, noncurrent
versions and stale multipart uploads."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.clock  # these tests move the server clock

DAY = 86400


def advance(endpoint: str, seconds: float) -> None:
    requests.post(
        f"{endpoint}/_nubes/clock", json={"advance": seconds}, timeout=10
    ).raise_for_status()


def eventually(check: Callable[[], bool]) -> bool:
    """The sweep runs on the server's scheduler right after the clock moves."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_expiration_noncurrent_and_uploads(nubes_factory: Any) -> None:
    server = nubes_factory(persistent=False)
    s3 = server.client("s3")
    s3.create_bucket(Bucket="life")
    s3.put_object(Bucket="life", Key="logs/old.txt", Body=b"x")
    s3.put_object(Bucket="life", Key="keep/me.txt", Body=b"x")
    s3.create_multipart_upload(Bucket="life", Key="logs/partial")
    s3.put_bucket_lifecycle_configuration(
        Bucket="life",
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "logs",
                    "Filter": {"Prefix": "logs/"},
                    "Status": "Enabled",
                    "Expiration": {"Days": 1},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    )
    head = s3.head_object(Bucket="life", Key="logs/old.txt")
    assert head["Expiration"].startswith('expiry-date="') and 'rule-id="logs"' in head["Expiration"]
    assert "Expiration" not in s3.head_object(Bucket="life", Key="keep/me.txt")
    put = s3.put_object(Bucket="life", Key="logs/new.txt", Body=b"x")
    assert 'rule-id="logs"' in put["Expiration"]
    advance(server.endpoint, 2 * DAY)
    assert eventually(lambda: keys(s3, "life") == ["keep/me.txt"])
    assert eventually(lambda: "Uploads" not in s3.list_multipart_uploads(Bucket="life"))


def test_noncurrent_version_expiration(nubes_factory: Any) -> None:
    server = nubes_factory(persistent=False)
    s3 = server.client("s3")
    s3.create_bucket(Bucket="life-v")
    s3.put_bucket_versioning(Bucket="life-v", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="life-v", Key="k", Body=b"old")
    current = s3.put_object(Bucket="life-v", Key="k", Body=b"new")["VersionId"]
    s3.put_bucket_lifecycle_configuration(
        Bucket="life-v",
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "noncurrent",
                    "Filter": {},
                    "Status": "Enabled",
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                }
            ]
        },
    )

    def versions() -> list[str]:
        return [
            v["VersionId"] for v in s3.list_object_versions(Bucket="life-v").get("Versions", [])
        ]

    assert len(versions()) == 2
    advance(server.endpoint, 3 * DAY)
    assert eventually(lambda: versions() == [current])
    assert s3.get_object(Bucket="life-v", Key="k")["Body"].read() == b"new"
