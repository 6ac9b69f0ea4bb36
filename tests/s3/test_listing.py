"""ListObjects v1/v2 and ListObjectVersions: order, prefixes, delimiters, pagination, encoding."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import error_of

KEYS = ["a/1", "a/2", "a/b/3", "b", "c/1", "c/2", "d", "z/z/z", "é"]


@pytest.fixture
def filled(s3: Any, bucket: str) -> str:
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def test_v2_all_keys_in_utf8_order(s3: Any, filled: str) -> None:
    out = s3.list_objects_v2(Bucket=filled)
    assert [o["Key"] for o in out["Contents"]] == KEYS
    assert out["KeyCount"] == len(KEYS)
    assert out["IsTruncated"] is False
    first = out["Contents"][0]
    assert first["Size"] == 3 and first["StorageClass"] == "STANDARD" and "Owner" not in first
    assert first["ETag"].startswith('"')


def test_v2_delimiter_and_prefix(s3: Any, filled: str) -> None:
    out = s3.list_objects_v2(Bucket=filled, Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/", "c/", "z/"]
    assert [o["Key"] for o in out["Contents"]] == ["b", "d", "é"]
    assert out["KeyCount"] == 6
    out = s3.list_objects_v2(Bucket=filled, Delimiter="/", Prefix="a/")
    assert [o["Key"] for o in out["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/b/"]
    assert out["Prefix"] == "a/"


def test_v2_pagination_with_common_prefixes(s3: Any, filled: str) -> None:
    seen: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": filled, "Delimiter": "/", "MaxKeys": 2}
    while True:
        out = s3.list_objects_v2(**kwargs)
        seen += [o["Key"] for o in out.get("Contents", [])]
        seen += [p["Prefix"] for p in out.get("CommonPrefixes", [])]
        assert out["KeyCount"] <= 2
        if not out["IsTruncated"]:
            break
        kwargs["ContinuationToken"] = out["NextContinuationToken"]
    assert sorted(seen) == ["a/", "b", "c/", "d", "z/", "é"]


def test_v2_paginator_start_after_fetch_owner(s3: Any, filled: str) -> None:
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=filled, PaginationConfig={"PageSize": 3}
    )
    assert [o["Key"] for page in pages for o in page["Contents"]] == KEYS
    out = s3.list_objects_v2(Bucket=filled, StartAfter="c/1", FetchOwner=True)
    assert [o["Key"] for o in out["Contents"]] == KEYS[5:]
    assert out["StartAfter"] == "c/1"
    assert out["Contents"][0]["Owner"]["ID"]


def test_v2_bad_continuation_token(s3: Any, filled: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=filled, ContinuationToken="not-a-token!")
    assert error_of(exc) == ("InvalidArgument", 400)


def test_v1_marker_and_next_marker(s3: Any, filled: str) -> None:
    out = s3.list_objects(Bucket=filled, MaxKeys=3)
    assert [o["Key"] for o in out["Contents"]] == KEYS[:3]
    assert out["IsTruncated"] is True
    assert "NextMarker" not in out
    assert out["Contents"][0]["Owner"]["ID"]
    out = s3.list_objects(Bucket=filled, Marker="a/b/3", MaxKeys=100)
    assert [o["Key"] for o in out["Contents"]] == KEYS[3:]
    out = s3.list_objects(Bucket=filled, Delimiter="/", MaxKeys=2)
    assert out["NextMarker"] == "b"
    out = s3.list_objects(Bucket=filled, Delimiter="/", Marker="a/")
    assert [o["Key"] for o in out["Contents"]] == ["b", "d", "é"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["c/", "z/"]


def test_encoding_type_url(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="sp ace/+plus", Body=b"x")
    # botocore asks for url encoding itself and decodes the answer
    assert s3.list_objects_v2(Bucket=bucket)["Contents"][0]["Key"] == "sp ace/+plus"
    # asked for explicitly, the caller gets the encoded form
    raw = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/")
    assert raw["CommonPrefixes"][0]["Prefix"] == "sp%20ace/"
    assert raw["EncodingType"] == "url"
    raw = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert raw["Contents"][0]["Key"] == "sp%20ace/%2Bplus"


def test_many_keys_below_one_prefix_skipped(s3: Any, bucket: str) -> None:
    keys = [f"deep/{i:04d}" for i in range(300)] + ["top"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    out = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert out["CommonPrefixes"] == [{"Prefix": "deep/"}]
    out = s3.list_objects_v2(
        Bucket=bucket, Delimiter="/", MaxKeys=1, ContinuationToken=out["NextContinuationToken"]
    )
    assert [o["Key"] for o in out["Contents"]] == ["top"]
    assert out["IsTruncated"] is False


def test_list_object_versions_pagination(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ids = {}
    for key in ("k1", "k2"):
        ids[key] = [s3.put_object(Bucket=bucket, Key=key, Body=b"v")["VersionId"] for _ in range(3)]
    s3.delete_object(Bucket=bucket, Key="k2")
    seen: list[tuple[str, str, bool]] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": 2}
    while True:
        out = s3.list_object_versions(**kwargs)
        seen += [(v["Key"], v["VersionId"], v["IsLatest"]) for v in out.get("Versions", [])]
        seen += [(m["Key"], m["VersionId"], m["IsLatest"]) for m in out.get("DeleteMarkers", [])]
        if not out["IsTruncated"]:
            break
        kwargs["KeyMarker"] = out["NextKeyMarker"]
        kwargs["VersionIdMarker"] = out["NextVersionIdMarker"]
    k1 = [s for s in seen if s[0] == "k1"]
    assert [v for _, v, _ in k1] == ids["k1"][::-1]
    assert [latest for _, _, latest in k1] == [True, False, False]
    k2 = [s for s in seen if s[0] == "k2"]
    assert len(k2) == 4 and k2[0][2] is True and k2[0][1] not in ids["k2"]


def test_delimiter_pages_over_many_prefixes(s3: Any, bucket: str) -> None:
    keys = [f"p{i:02d}/{j}" for i in range(40) for j in range(3)] + ["z-top"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    seen: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Delimiter": "/", "MaxKeys": 7}
    while True:
        out = s3.list_objects_v2(**kwargs)
        seen += [p["Prefix"] for p in out.get("CommonPrefixes", [])]
        seen += [o["Key"] for o in out.get("Contents", [])]
        if not out["IsTruncated"]:
            break
        kwargs["ContinuationToken"] = out["NextContinuationToken"]
    assert seen == [f"p{i:02d}/" for i in range(40)] + ["z-top"]


def test_versions_of_one_key_across_pages(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    made = [s3.put_object(Bucket=bucket, Key="a", Body=b"x")["VersionId"] for _ in range(12)]
    made_b = [s3.put_object(Bucket=bucket, Key="b", Body=b"x")["VersionId"] for _ in range(2)]
    out = s3.list_object_versions(Bucket=bucket, MaxKeys=100)
    assert [v["VersionId"] for v in out["Versions"]] == made[::-1] + made_b[::-1]
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 5}
    )
    listed = [v["VersionId"] for page in pages for v in page.get("Versions", [])]
    assert listed == made[::-1] + made_b[::-1]
