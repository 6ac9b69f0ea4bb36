"""Versioning: Enabled and Suspended semantics, null versions, delete markers, access by id."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.s3.conftest import error_of


def enable(s3: Any, bucket: str, status: str = "Enabled") -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def test_get_versioning_states(s3: Any, bucket: str) -> None:
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    with pytest.raises(ClientError) as exc:
        enable(s3, bucket, "On")
    assert error_of(exc) == ("MalformedXML", 400)


def test_versions_and_delete_markers(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and v1 != "null"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    old = s3.get_object(Bucket=bucket, Key="k", VersionId=v1)
    assert old["Body"].read() == b"one" and old["VersionId"] == v1
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k")
    assert error_of(exc) == ("NoSuchKey", 404)
    headers = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true"
    assert headers["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k", VersionId=marker)
    assert error_of(exc) == ("405", 405)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    # removing the marker brings v2 back
    s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v2)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId=v2)
    assert error_of(exc) == ("NoSuchVersion", 404)


def test_null_version_before_enabling(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"pre")
    enable(s3, bucket)
    v = s3.put_object(Bucket=bucket, Key="k", Body=b"post")["VersionId"]
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [x["VersionId"] for x in versions] == [v, "null"]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"pre"


def test_suspended_overwrites_null_version(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
    enable(s3, bucket, "Suspended")
    out = s3.put_object(Bucket=bucket, Key="k", Body=b"n1")
    assert out["VersionId"] == "null"
    s3.put_object(Bucket=bucket, Key="k", Body=b"n2")
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [x["VersionId"] for x in versions] == ["null", kept]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"n2"
    marker = s3.delete_object(Bucket=bucket, Key="k")
    assert marker["DeleteMarker"] is True and marker["VersionId"] == "null"
    listing = s3.list_object_versions(Bucket=bucket)
    assert [x["VersionId"] for x in listing["Versions"]] == [kept]
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == ["null"]


def test_copy_and_head_by_version(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"first")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    out = s3.copy_object(
        Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1}
    )
    assert out["CopySourceVersionId"] == v1
    assert out["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"first"
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=v1)["ContentLength"] == 5


def test_version_id_header_on_wire(s3: Any, bucket: str, endpoint: str) -> None:
    enable(s3, bucket)
    v = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    resp = requests.get(f"{endpoint}/{bucket}/k", timeout=10)
    assert resp.headers["x-amz-version-id"] == v


def test_delete_objects_versions(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    v = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]})
    assert out["Deleted"][0]["DeleteMarker"] is True
    marker = out["Deleted"][0]["DeleteMarkerVersionId"]
    out = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "k", "VersionId": v}, {"Key": "k", "VersionId": marker}]},
    )
    assert {d["VersionId"] for d in out["Deleted"]} == {v, marker}
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)
