"""Conformance: object key edge cases and listing details as real S3 answers them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import error_of

ODD_KEYS = ["a b", "a+b", "a%b", "a?b", "a#b", "tab\tx", "ü/ñ", "//x", "/lead", "~x", "*", ".."]


def test_odd_keys_round_trip_and_list_in_byte_order(s3: Any, bucket: str) -> None:
    for key in ODD_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in ODD_KEYS:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(ODD_KEYS, key=lambda k: k.encode())
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == listed


def test_url_encoding_type_escapes_keys_and_prefixes(s3: Any, bucket: str) -> None:
    for key in ("a b", "a+b", "ü/ñ", "tab\tx"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    out = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert out["EncodingType"] == "url"
    assert [o["Key"] for o in out["Contents"]] == ["a%20b", "a%2Bb", "tab%09x", "%C3%BC/%C3%B1"]
    out = s3.list_objects(Bucket=bucket, EncodingType="url", Delimiter=" ")
    assert out["CommonPrefixes"] == [{"Prefix": "a%20"}]
    assert out["Delimiter"] == "%20"


def test_key_length_limit_counts_utf8_bytes(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k" * 1024, Body=b"")
    for key, size in (("k" * 1025, "1025"), ("é" * 513, "1026")):
        with pytest.raises(ClientError) as exc:
            s3.put_object(Bucket=bucket, Key=key, Body=b"")
        assert error_of(exc) == ("KeyTooLongError", 400)
        assert exc.value.response["Error"]["Size"] == size
        assert exc.value.response["Error"]["MaxSizeAllowed"] == "1024"


@pytest.fixture
def tree(s3: Any, bucket: str) -> str:
    for key in ("asdf", "a-b", "a-c-d", "foo/bar/baz", "foo/bar/xyzzy", "quux/thud", "x.y.z"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    return bucket


def test_max_keys_zero_is_an_empty_untruncated_page(s3: Any, tree: str) -> None:
    v2 = s3.list_objects_v2(Bucket=tree, MaxKeys=0)
    assert v2["IsTruncated"] is False and v2["KeyCount"] == 0 and "Contents" not in v2
    assert "NextContinuationToken" not in v2
    v1 = s3.list_objects(Bucket=tree, MaxKeys=0)
    assert v1["IsTruncated"] is False and v1["MaxKeys"] == 0 and "Contents" not in v1
    versions = s3.list_object_versions(Bucket=tree, MaxKeys=0)
    assert versions["IsTruncated"] is False and "Versions" not in versions


def test_delimiters_other_than_slash(s3: Any, tree: str) -> None:
    out = s3.list_objects(Bucket=tree, Delimiter="a")
    assert [o["Key"] for o in out["Contents"]] == ["quux/thud", "x.y.z"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a", "foo/ba"]
    out = s3.list_objects_v2(Bucket=tree, Delimiter="-")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a-"]
    assert out["KeyCount"] == 6
    out = s3.list_objects_v2(Bucket=tree, Delimiter="-", Prefix="a-")
    assert [o["Key"] for o in out["Contents"]] == ["a-b"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a-c-"]


def test_start_after_and_markers(s3: Any, tree: str) -> None:
    out = s3.list_objects_v2(Bucket=tree, StartAfter="zzz")
    assert out["KeyCount"] == 0 and out["StartAfter"] == "zzz" and out["IsTruncated"] is False
    out = s3.list_objects(Bucket=tree, Marker="quux/thud")
    assert [o["Key"] for o in out["Contents"]] == ["x.y.z"] and out["Marker"] == "quux/thud"
    out = s3.list_objects(Bucket=tree, Delimiter="/", MaxKeys=2)
    assert out["IsTruncated"] is True and out["NextMarker"] == "a-c-d"
    # Without a delimiter S3 leaves NextMarker out: the last key is the marker.
    assert "NextMarker" not in s3.list_objects(Bucket=tree, MaxKeys=1)


def test_invalid_continuation_token(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="garbage")
    assert error_of(exc) == ("InvalidArgument", 400)
    assert exc.value.response["Error"]["ArgumentName"] == "continuation-token"


def test_fetch_owner_and_listing_timestamps(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    acl_owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    assert "Owner" not in s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    listed = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]
    assert listed["Owner"]["ID"] == acl_owner
    assert s3.list_objects(Bucket=bucket)["Contents"][0]["Owner"]["ID"] == acl_owner
    # Listings carry Last-Modified to the second, so they agree with HEAD.
    assert listed["LastModified"] == s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    assert listed["LastModified"].microsecond == 0


def test_versions_newest_first_and_paged_by_markers(s3: Any, unique: Callable[[str], str]) -> None:
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    made: list[tuple[str, str]] = []
    for key in ("b", "a", "c"):
        for i in range(3):
            out = s3.put_object(Bucket=bucket, Key=key, Body=f"{key}{i}".encode())
            made.append((key, out["VersionId"]))
    marker = s3.delete_object(Bucket=bucket, Key="a")["VersionId"]
    made.append(("a", marker))
    expected = sorted(made, key=lambda kv: (kv[0], -made.index(kv)))
    seen: list[tuple[str, str]] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": 2}
    while True:
        page = s3.list_object_versions(**kwargs)
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        entries.sort(key=lambda e: expected.index((e["Key"], e["VersionId"])))
        seen += [(e["Key"], e["VersionId"]) for e in entries]
        if not page["IsTruncated"]:
            break
        assert page["NextVersionIdMarker"] == seen[-1][1]
        kwargs.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"])
    assert seen == expected
    latest = s3.list_object_versions(Bucket=bucket, Prefix="a")
    assert latest["DeleteMarkers"][0]["IsLatest"] is True
    assert not any(v["IsLatest"] for v in latest["Versions"])
    after_b = s3.list_object_versions(Bucket=bucket, KeyMarker="b")
    assert {v["Key"] for v in after_b["Versions"]} == {"c"}
    with pytest.raises(ClientError) as exc:
        s3.list_object_versions(Bucket=bucket, VersionIdMarker=marker)
    assert error_of(exc) == ("InvalidArgument", 400)


def test_max_keys_that_is_not_a_number(s3: Any, bucket: str) -> None:
    def bad_max_keys(params: dict[str, Any], **_: Any) -> None:
        params["url"] += "&max-keys=blah" if "?" in params["url"] else "?max-keys=blah"

    s3.meta.events.register("before-call.s3.ListObjects", bad_max_keys)
    try:
        with pytest.raises(ClientError) as exc:
            s3.list_objects(Bucket=bucket)
    finally:
        s3.meta.events.unregister("before-call.s3.ListObjects", bad_max_keys)
    assert error_of(exc) == ("InvalidArgument", 400)
