"""Objects: put/get/head/delete, metadata and content headers, ranges, conditional requests,
copies and batch deletes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.s3.conftest import error_of


def test_put_get_head_with_metadata(s3: Any, bucket: str) -> None:
    body = b"hello nubes"
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/hello.txt",
        Body=body,
        Metadata={"Color": "blue", "n": "1"},
        ContentType="text/plain",
        CacheControl="max-age=60",
        ContentDisposition="attachment",
        ContentLanguage="en",
        StorageClass="STANDARD_IA",
    )
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ETag"] == etag
    assert put["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="dir/hello.txt")
    assert got["Body"].read() == body
    assert got["ETag"] == etag
    assert got["ContentLength"] == len(body)
    assert got["Metadata"] == {"color": "blue", "n": "1"}
    assert got["ContentType"] == "text/plain"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "attachment"
    assert got["ContentLanguage"] == "en"
    assert got["StorageClass"] == "STANDARD_IA"
    assert got["AcceptRanges"] == "bytes"
    head = s3.head_object(Bucket=bucket, Key="dir/hello.txt")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == etag
    assert "VersionId" not in head


def test_default_content_type_and_empty_body(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentType"] == "binary/octet-stream"
    assert got["ETag"] == f'"{hashlib.md5(b"").hexdigest()}"'


def test_response_overrides(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ContentType="text/plain")
    got = s3.get_object(
        Bucket=bucket,
        Key="k",
        ResponseContentType="application/json",
        ResponseContentDisposition='attachment; filename="a.json"',
        ResponseCacheControl="no-cache",
    )
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == 'attachment; filename="a.json"'
    assert got["CacheControl"] == "no-cache"


def test_missing_key_and_bucket_errors(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="nope/x")
    assert error_of(exc) == ("NoSuchKey", 404)
    assert exc.value.response["Error"]["Key"] == "nope/x"
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="nope")
    assert error_of(exc) == ("404", 404)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket + "-missing", Key="k")
    assert error_of(exc) == ("NoSuchBucket", 404)


def test_head_error_has_no_body(s3: Any, bucket: str, endpoint: str) -> None:
    resp = requests.head(f"{endpoint}/{bucket}/missing", timeout=10)
    assert resp.status_code == 404
    assert resp.content == b""
    get = requests.get(f"{endpoint}/{bucket}/missing", timeout=10)
    assert b"<Code>NoSuchKey</Code>" in get.content
    assert b"<Key>missing</Key>" in get.content
    assert b"<RequestId>" in get.content


@pytest.mark.parametrize(
    ("header", "content", "content_range"),
    [
        ("bytes=0-3", b"0123", "bytes 0-3/10"),
        ("bytes=5-", b"56789", "bytes 5-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
        ("bytes=-20", b"0123456789", "bytes 0-9/10"),
    ],
)
def test_range_get(s3: Any, bucket: str, header: str, content: bytes, content_range: str) -> None:
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="digits", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == content
    assert got["ContentRange"] == content_range
    assert got["ContentLength"] == len(content)


def test_range_unsatisfiable_and_ignored(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="digits", Range="bytes=10-20")
    assert error_of(exc) == ("InvalidRange", 416)
    whole = s3.get_object(Bucket=bucket, Key="digits", Range="bytes=5-2")
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert whole["Body"].read() == b"0123456789"


def test_large_object_round_trip(s3: Any, bucket: str) -> None:
    body = bytes(range(256)) * (40 * 1024 + 3)  # ~10 MiB: spooled to disk by the gateway
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["Body"].read() == body
    part = s3.get_object(Bucket=bucket, Key="big", Range="bytes=1000000-1000009")
    assert part["Body"].read() == body[1000000:1000010]


def test_conditional_get(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"data")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == b"data"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", IfMatch='"other"')
    assert error_of(exc) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=etag)
    assert error_of(exc) == ("304", 304)
    future = datetime.now(UTC) + timedelta(hours=1)
    past = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=future - timedelta(minutes=59))
    assert error_of(exc) == ("304", 304)
    assert s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=past)["ETag"] == etag
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k", IfUnmodifiedSince=past)
    assert error_of(exc) == ("412", 412)
    # If-Match true wins over a failing If-Unmodified-Since
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag, IfUnmodifiedSince=past)["ETag"]


def test_conditional_put(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"one", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfNoneMatch="*")
    assert error_of(exc) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch='"nope"')
    assert error_of(exc) == ("PreconditionFailed", 412)
    s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=etag)
    assert error_of(exc) == ("NoSuchKey", 404)


def test_delete_object_is_idempotent(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_delete_objects(s3: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    out = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zz"}]}
    )
    assert sorted(d["Key"] for d in out["Deleted"]) == ["a", "b", "zz"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["c"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_copy_object_directives(s3: Any, bucket: str, unique: Any) -> None:
    s3.put_object(
        Bucket=bucket,
        Key="src",
        Body=b"payload",
        Metadata={"a": "1"},
        ContentType="text/plain",
        Tagging="t=1",
    )
    other = unique("bkt")
    s3.create_bucket(Bucket=other)
    out = s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert out["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"payload").hexdigest()}"'
    got = s3.get_object(Bucket=other, Key="dst")
    assert got["Body"].read() == b"payload"
    assert got["Metadata"] == {"a": "1"}
    assert got["ContentType"] == "text/plain"
    assert s3.get_object_tagging(Bucket=other, Key="dst")["TagSet"] == [{"Key": "t", "Value": "1"}]
    s3.copy_object(
        Bucket=other,
        Key="dst2",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
        TaggingDirective="REPLACE",
        Tagging="u=2",
    )
    head = s3.head_object(Bucket=other, Key="dst2")
    assert head["Metadata"] == {"b": "2"}
    assert head["ContentType"] == "binary/octet-stream"
    assert s3.get_object_tagging(Bucket=other, Key="dst2")["TagSet"] == [{"Key": "u", "Value": "2"}]


def test_copy_to_itself_needs_a_change(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"a": "1"})
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"})
    assert error_of(exc) == ("InvalidRequest", 400)
    s3.copy_object(
        Bucket=bucket,
        Key="k",
        CopySource={"Bucket": bucket, "Key": "k"},
        MetadataDirective="REPLACE",
        Metadata={"a": "2"},
    )
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == {"a": "2"}
    s3.copy_object(
        Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"}, StorageClass="GLACIER_IR"
    )
    assert s3.head_object(Bucket=bucket, Key="k")["StorageClass"] == "GLACIER_IR"


def test_copy_source_conditions_and_missing(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"x")["ETag"]
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=bucket, Key="d", CopySource=f"{bucket}/src", CopySourceIfNoneMatch=etag
        )
    assert error_of(exc) == ("PreconditionFailed", 412)
    s3.copy_object(Bucket=bucket, Key="d", CopySource=f"{bucket}/src", CopySourceIfMatch=etag)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="d", CopySource=f"{bucket}/missing")
    assert error_of(exc) == ("NoSuchKey", 404)


def test_keys_with_special_characters(s3: Any, bucket: str) -> None:
    keys = ["a b+c", "ü/ñ?x=1", "x%2Fy", "trailing/", "#hash&amp"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode())


def test_key_too_long(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert error_of(exc) == ("KeyTooLongError", 400)


def test_invalid_storage_class(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", StorageClass="FAST")
    assert error_of(exc) == ("InvalidStorageClass", 400)


def test_archived_objects_need_restore(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="cold", Body=b"frozen", StorageClass="GLACIER")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="cold")
    assert error_of(exc) == ("InvalidObjectState", 403)
    assert exc.value.response["Error"]["StorageClass"] == "GLACIER"
    assert s3.head_object(Bucket=bucket, Key="cold")["StorageClass"] == "GLACIER"
    out = s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 2})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert 'ongoing-request="false"' in s3.head_object(Bucket=bucket, Key="cold")["Restore"]
    assert s3.get_object(Bucket=bucket, Key="cold")["Body"].read() == b"frozen"
    again = s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 2})
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    s3.put_object(Bucket=bucket, Key="warm", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.restore_object(Bucket=bucket, Key="warm", RestoreRequest={"Days": 1})
    assert error_of(exc) == ("InvalidObjectState", 403)


def test_metadata_too_large(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"big": "v" * 2100})
    assert error_of(exc) == ("MetadataTooLarge", 400)


def test_entity_too_large_is_refused_before_reading(bucket: str, endpoint: str) -> None:
    resp = requests.put(
        f"{endpoint}/{bucket}/huge",
        data=b"x",
        headers={
            "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "content-encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(6 * 1024**3),
        },
        timeout=10,
    )
    assert resp.status_code == 400
    assert b"<Code>EntityTooLarge</Code>" in resp.content
