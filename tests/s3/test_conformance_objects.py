"""Conformance: object headers, conditional requests and error shapes as real S3 answers them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError


def failure(call: Callable[..., Any], **kwargs: Any) -> tuple[dict[str, Any], int, dict[str, str]]:
    """(error document, status, headers) of a call expected to fail."""
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    response = exc.value.response
    meta = response["ResponseMetadata"]
    return response["Error"], meta["HTTPStatusCode"], meta["HTTPHeaders"]


def test_content_headers_round_trip(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert s3.head_object(Bucket=bucket, Key="plain")["ContentType"] == "binary/octet-stream"
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    s3.put_object(
        Bucket=bucket,
        Key="k",
        Body=b"hi",
        ContentEncoding="gzip",
        ContentDisposition='attachment; filename="x.txt"',
        CacheControl="no-cache",
        ContentLanguage="en",
        Expires=expires,
        Metadata={"MiXed-Case": "Val", "encoded": "=?UTF-8?B?bmHDr3Zl?="},
    )
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ContentEncoding"] == "gzip"
    assert head["ContentDisposition"] == 'attachment; filename="x.txt"'
    assert head["CacheControl"] == "no-cache" and head["ContentLanguage"] == "en"
    assert head["Expires"] == expires
    assert head["Metadata"] == {"mixed-case": "Val", "encoded": "=?UTF-8?B?bmHDr3Zl?="}
    got = s3.get_object(
        Bucket=bucket, Key="k", ResponseContentType="text/csv", ResponseCacheControl="no-store"
    )
    assert got["ContentType"] == "text/csv" and got["CacheControl"] == "no-store"


def test_if_modified_since_compares_whole_seconds(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="k")
    modified, etag = head["LastModified"], head["ETag"]
    assert modified.microsecond == 0
    error, status, headers = failure(
        s3.get_object, Bucket=bucket, Key="k", IfModifiedSince=modified
    )
    assert status == 304
    # A 304 keeps the validators.
    assert headers["etag"] == etag and "last-modified" in headers
    assert s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=modified - timedelta(seconds=1))
    assert s3.get_object(Bucket=bucket, Key="k", IfUnmodifiedSince=modified)
    error, status, _ = failure(
        s3.get_object, Bucket=bucket, Key="k", IfUnmodifiedSince=modified - timedelta(seconds=1)
    )
    assert (error["Code"], status, error["Condition"]) == (
        "PreconditionFailed",
        412,
        "If-Unmodified-Since",
    )


def test_etag_conditions_with_and_without_quotes(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    for value in (etag, etag.strip('"'), "*"):
        assert s3.get_object(Bucket=bucket, Key="k", IfMatch=value)["ETag"] == etag
        _, status, headers = failure(s3.get_object, Bucket=bucket, Key="k", IfNoneMatch=value)
        assert status == 304 and headers["etag"] == etag
    error, status, _ = failure(s3.get_object, Bucket=bucket, Key="k", IfMatch='"other"')
    assert (error["Code"], status, error["Condition"]) == ("PreconditionFailed", 412, "If-Match")
    _, status, _ = failure(s3.head_object, Bucket=bucket, Key="k", IfMatch='"other"')
    assert status == 412
    # If-Match holding wins over a failing If-Unmodified-Since (RFC 7232, as S3 documents).
    past = datetime(2000, 1, 1, tzinfo=UTC)
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag, IfUnmodifiedSince=past)


def test_missing_things_errors(s3: Any, bucket: str) -> None:
    error, status, _ = failure(s3.get_object, Bucket=f"{bucket}-none", Key="k")
    assert (error["Code"], status, error["BucketName"]) == ("NoSuchBucket", 404, f"{bucket}-none")
    error, status, _ = failure(s3.get_object, Bucket=bucket, Key="nokey")
    assert (error["Code"], status, error["Key"]) == ("NoSuchKey", 404, "nokey")
    assert error["Message"] == "The specified key does not exist."
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    error, status, _ = failure(s3.get_object, Bucket=bucket, Key="k", VersionId="a" * 32)
    assert (error["Code"], status) == ("NoSuchVersion", 404)
    error, status, _ = failure(s3.get_object, Bucket=bucket, Key="k", VersionId="bad")
    assert (error["Code"], status) == ("InvalidArgument", 400)


def test_range_errors_name_range_and_size(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"abcdef")
    error, status, _ = failure(s3.get_object, Bucket=bucket, Key="k", Range="bytes=6-")
    assert (error["Code"], status) == ("InvalidRange", 416)
    assert error["RangeRequested"] == "bytes=6-" and error["ActualObjectSize"] == "6"
    assert error["Message"] == "The requested range is not satisfiable"
    got = s3.get_object(Bucket=bucket, Key="k", Range="bytes=-2")
    assert got["ContentRange"] == "bytes 4-5/6" and got["Body"].read() == b"ef"
    # A range S3 cannot use (reversed, several) is ignored: the whole object comes back.
    for ignored in ("bytes=5-2", "bytes=0-0,2-3"):
        got = s3.get_object(Bucket=bucket, Key="k", Range=ignored)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200 and "ContentRange" not in got


@pytest.mark.parametrize(
    "name",
    [
        "UPPER",
        "under_score",
        "192.168.5.4",
        "ab",
        "a" * 64,
        "-abc",
        "abc-",
        ".abc",
        "abc.",
        "a..b",
        "a.-b",
        "xn--abc",
        "abc-s3alias",
        "abc--ol-s3",
    ],
)
def test_invalid_bucket_names(s3: Any, name: str) -> None:
    error, status, _ = failure(s3.create_bucket, Bucket=name)
    assert (error["Code"], status, error["BucketName"]) == ("InvalidBucketName", 400, name)


def test_bucket_already_owned(s3: Any, bucket: str) -> None:
    s3.create_bucket(Bucket=bucket)  # us-east-1 answers a repeat with success
    west = {"LocationConstraint": "eu-west-1"}
    error, status, _ = failure(s3.create_bucket, Bucket=bucket, CreateBucketConfiguration=west)
    assert (error["Code"], status) == ("BucketAlreadyOwnedByYou", 409)


def test_copy_to_itself_without_changes(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    source = {"Bucket": bucket, "Key": "k"}
    error, status, _ = failure(s3.copy_object, Bucket=bucket, Key="k", CopySource=source)
    assert (error["Code"], status) == ("InvalidRequest", 400)
    s3.copy_object(
        Bucket=bucket, Key="k", CopySource=source, MetadataDirective="REPLACE", Metadata={"a": "b"}
    )
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == {"a": "b"}


def test_delete_objects_bounds(s3: Any, bucket: str) -> None:
    for objects in ([], [{"Key": str(i)} for i in range(1001)]):
        error, status, _ = failure(s3.delete_objects, Bucket=bucket, Delete={"Objects": objects})
        assert (error["Code"], status) == ("MalformedXML", 400)
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "absent"}]})
    assert out["Deleted"] == [{"Key": "absent"}]


def test_delete_marker_reads(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    error, status, headers = failure(s3.get_object, Bucket=bucket, Key="k")
    assert (error["Code"], status) == ("NoSuchKey", 404)
    assert headers["x-amz-delete-marker"] == "true" and headers["x-amz-version-id"] == marker
    error, status, headers = failure(s3.get_object, Bucket=bucket, Key="k", VersionId=marker)
    assert (error["Code"], status) == ("MethodNotAllowed", 405)
    assert headers["x-amz-delete-marker"] == "true" and "last-modified" in headers
    _, status, headers = failure(s3.head_object, Bucket=bucket, Key="k", VersionId=marker)
    assert status == 405 and headers["x-amz-delete-marker"] == "true"


def test_part_number_reads(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"abc")
    got = s3.get_object(Bucket=bucket, Key="k", PartNumber=1)
    assert got["Body"].read() == b"abc" and "PartsCount" not in got
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == "bytes 0-2/3"
    assert s3.head_object(Bucket=bucket, Key="k", PartNumber=1)["ContentRange"] == "bytes 0-2/3"
    error, status, _ = failure(s3.get_object, Bucket=bucket, Key="k", PartNumber=2)
    assert (error["Code"], status, error["ActualPartCount"]) == ("InvalidPartNumber", 416, "1")
    for number in (0, 10001):
        error, status, _ = failure(s3.get_object, Bucket=bucket, Key="k", PartNumber=number)
        assert (error["Code"], status) == ("InvalidArgument", 400)
    error, status, _ = failure(
        s3.get_object, Bucket=bucket, Key="k", PartNumber=1, Range="bytes=0-1"
    )
    assert (error["Code"], status) == ("InvalidRequest", 400)


def test_copy_source_naming_a_delete_marker(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    error, status, _ = failure(
        s3.copy_object, Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "k"}
    )
    assert (error["Code"], status) == ("NoSuchKey", 404)
    named = {"Bucket": bucket, "Key": "k", "VersionId": marker}
    error, status, _ = failure(s3.copy_object, Bucket=bucket, Key="c", CopySource=named)
    assert (error["Code"], status) == ("InvalidRequest", 400)


def test_object_lock_configuration_checks(s3: Any, unique: Callable[[str], str]) -> None:
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)

    def configure(retention: dict[str, Any]) -> tuple[str, int]:
        config = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": retention}}
        error, status, _ = failure(
            s3.put_object_lock_configuration, Bucket=bucket, ObjectLockConfiguration=config
        )
        return error["Code"], status

    assert configure({"Mode": "GOVERNANCE", "Days": 0}) == ("InvalidArgument", 400)
    assert configure({"Mode": "GOVERNANCE", "Years": -1}) == ("InvalidArgument", 400)
    assert configure({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}) == ("MalformedXML", 400)
    assert configure({"Mode": "governance", "Days": 1}) == ("MalformedXML", 400)
    past = datetime(2000, 1, 1, tzinfo=UTC)
    error, status, _ = failure(
        s3.put_object,
        Bucket=bucket,
        Key="k",
        Body=b"x",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=past,
    )
    assert (error["Code"], status) == ("InvalidArgument", 400)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    error, status, _ = failure(
        s3.put_object_retention,
        Bucket=bucket,
        Key="k",
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": past},
    )
    assert (error["Code"], status) == ("InvalidArgument", 400)


def test_lifecycle_rule_checks(s3: Any, bucket: str) -> None:
    def configure(**rule: Any) -> tuple[str, int]:
        base = {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}}
        config = {"Rules": [{**base, **rule}]}
        error, status, _ = failure(
            s3.put_bucket_lifecycle_configuration, Bucket=bucket, LifecycleConfiguration=config
        )
        return error["Code"], status

    assert configure(ID="a" * 256, Expiration={"Days": 1}) == ("InvalidArgument", 400)
    assert configure() == ("InvalidRequest", 400)
    marker_and_days = {"Days": 1, "ExpiredObjectDeleteMarker": True}
    assert configure(Expiration=marker_and_days) == ("MalformedXML", 400)
    tagged = {"Tag": {"Key": "a", "Value": "b"}}
    abort = {"DaysAfterInitiation": 1}
    assert configure(Filter=tagged, AbortIncompleteMultipartUpload=abort) == (
        "InvalidRequest",
        400,
    )
    unnamed = {"Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [unnamed]}
    )
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules[0]["ID"]


def test_unknown_enumerated_values(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    source = {"Bucket": bucket, "Key": "k"}
    for directive, header in (
        ("MetadataDirective", "x-amz-metadata-directive"),
        ("TaggingDirective", "x-amz-tagging-directive"),
    ):
        error, status, _ = failure(
            s3.copy_object, Bucket=bucket, Key="c", CopySource=source, **{directive: "BOGUS"}
        )
        assert (error["Code"], status, error["ArgumentName"]) == ("InvalidArgument", 400, header)
    error, status, _ = failure(
        s3.put_object, Bucket=bucket, Key="c", Body=b"", ServerSideEncryption="AES"
    )
    assert (error["Code"], status) == ("InvalidArgument", 400)
    error, status, _ = failure(s3.list_objects_v2, Bucket=bucket, EncodingType="base64")
    assert (error["Code"], status, error["ArgumentName"]) == (
        "InvalidArgument",
        400,
        "encoding-type",
    )


def test_non_ascii_metadata_comes_back_rfc2047_encoded(s3: Any, bucket: str) -> None:
    def utf8_meta(params: dict[str, Any], **_: Any) -> None:
        params["headers"]["x-amz-meta-meta1"] = "Hello World\xe9"

    s3.meta.events.register("before-call.s3.PutObject", utf8_meta)
    try:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    finally:
        s3.meta.events.unregister("before-call.s3.PutObject", utf8_meta)
    metadata = s3.head_object(Bucket=bucket, Key="k")["Metadata"]
    assert metadata == {"meta1": "=?UTF-8?Q?Hello_World=C3=A9?="}


def test_tag_checks_for_objects_and_buckets(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    system = {"TagSet": [{"Key": "aws:owner", "Value": "v"}]}
    error, status, _ = failure(s3.put_object_tagging, Bucket=bucket, Key="k", Tagging=system)
    assert (error["Code"], status) == ("InvalidTag", 400)
    error, status, _ = failure(s3.put_bucket_tagging, Bucket=bucket, Tagging=system)
    assert (error["Code"], status) == ("InvalidTag", 400)
    for tag in ({"Key": "k" * 129, "Value": "v"}, {"Key": "k", "Value": "v" * 257}):
        error, status, _ = failure(s3.put_bucket_tagging, Bucket=bucket, Tagging={"TagSet": [tag]})
        assert (error["Code"], status) == ("InvalidTag", 400)
    eleven = {"TagSet": [{"Key": str(i), "Value": "v"} for i in range(11)]}
    error, status, _ = failure(s3.put_object_tagging, Bucket=bucket, Key="k", Tagging=eleven)
    assert (error["Code"], status) == ("BadRequest", 400)


def test_unknown_location_constraint(s3: Any, unique: Callable[[str], str]) -> None:
    error, status, _ = failure(
        s3.create_bucket,
        Bucket=unique("bkt"),
        CreateBucketConfiguration={"LocationConstraint": "moon-base-1"},
    )
    assert (error["Code"], status) == ("InvalidLocationConstraint", 400)
    assert error["LocationConstraint"] == "moon-base-1"


def test_eu_location_constraint(s3: Any, unique: Callable[[str], str]) -> None:
    name = unique("bkt")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "EU"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "EU"
    assert s3.head_bucket(Bucket=name)["BucketRegion"] == "eu-west-1"


def test_error_host_id_matches_the_header(endpoint: str, bucket: str) -> None:
    """The error body repeats the response's request ids (botocore keeps only the headers)."""
    resp = requests.get(f"{endpoint}/{bucket}/missing", timeout=10)
    assert resp.status_code == 404
    body = resp.text
    assert f"<HostId>{resp.headers['x-amz-id-2']}</HostId>" in body
    assert f"<RequestId>{resp.headers['x-amz-request-id']}</RequestId>" in body
