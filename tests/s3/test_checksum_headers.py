"""Checksum headers S3 refuses before reading a body, and completions that do not match its
schema: the answers OpenStack Swift's s3api suite records against AWS (x-amz-checksum-*
values must be base64 as base64 writes it, the named algorithm must be the one sent)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import error_of

BODY = b"123456789"
CRC32 = "y/Q5Jg=="
# Decodes to CRC32's four bytes, but the bits base64 leaves unused are not zero.
NOT_CANONICAL = "y/Q5Jh=="


def _refusal(excinfo: Any) -> tuple[str, int, str]:
    code, status = error_of(excinfo)
    return code, status, excinfo.value.response["Error"]["Message"]


def test_checksum_value_written_otherwise(s3: Any, bucket: str) -> None:
    invalid = ("InvalidRequest", 400, "Value for x-amz-checksum-crc32 header is invalid.")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="k", Body=BODY, ChecksumCRC32=NOT_CANONICAL)
    assert _refusal(excinfo) == invalid
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key="k")
    assert error_of(excinfo)[1] == 404
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part(
            Bucket=bucket,
            Key="m",
            UploadId=upload,
            PartNumber=1,
            Body=BODY,
            ChecksumCRC32=NOT_CANONICAL,
        )
    assert _refusal(excinfo) == invalid
    assert "Parts" not in s3.list_parts(Bucket=bucket, Key="m", UploadId=upload)
    put = s3.put_object(Bucket=bucket, Key="k", Body=BODY, ChecksumCRC32=CRC32)
    assert put["ChecksumCRC32"] == CRC32


def test_named_algorithm_must_be_the_one_sent(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(
            Bucket=bucket, Key="k", Body=BODY, ChecksumCRC32=CRC32, ChecksumAlgorithm="SHA1"
        )
    assert _refusal(excinfo) == (
        "InvalidRequest",
        400,
        "Value for x-amz-sdk-checksum-algorithm header is invalid.",
    )
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key="k")
    assert error_of(excinfo)[1] == 404


def test_completion_parts_need_number_and_etag(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m", ChecksumAlgorithm="CRC32C")
    uid = upload["UploadId"]
    part = s3.upload_part(
        Bucket=bucket, Key="m", UploadId=uid, PartNumber=1, Body=BODY, ChecksumAlgorithm="CRC32C"
    )
    for listed in (
        {"PartNumber": 1, "ChecksumCRC32C": part["ChecksumCRC32C"]},
        {"ETag": part["ETag"], "ChecksumCRC32C": part["ChecksumCRC32C"]},
    ):
        with pytest.raises(ClientError) as excinfo:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="m", UploadId=uid, MultipartUpload={"Parts": [listed]}
            )
        assert _refusal(excinfo) == (
            "MalformedXML",
            400,
            "The XML you provided was not well-formed or did not validate against our "
            "published schema",
        )
    # An empty entity tag is well-formed: that part is not found.
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="m",
            UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": ""}]},
        )
    assert error_of(excinfo) == ("InvalidPart", 400)
    assert excinfo.value.response["Error"]["ETag"] is None
    aborted = s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=uid)
    assert aborted["ResponseMetadata"]["HTTPStatusCode"] == 204
