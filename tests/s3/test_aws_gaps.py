"""S3 behaviours measured against AWS (issue 15): response headers, validation, status codes."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import error_of

PART = b"p" * (5 * 1024 * 1024)
SSEC_KEY = "0123456789abcdef0123456789abcdef"
SSEC = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSEC_KEY}


def _headers(response: dict[str, Any]) -> dict[str, str]:
    return dict(response["ResponseMetadata"]["HTTPHeaders"])


def test_multipart_answers_default_encryption(s3: Any, bucket: str) -> None:
    """Every bucket encrypts with SSE-S3 by default, and every multipart step says so."""
    s3.put_object(Bucket=bucket, Key="src", Body=PART)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")
    assert upload["ServerSideEncryption"] == "AES256"
    uid = upload["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=1, Body=PART)
    assert part["ServerSideEncryption"] == "AES256"
    copied = s3.upload_part_copy(
        Bucket=bucket, Key="big", UploadId=uid, PartNumber=2, CopySource=f"{bucket}/src"
    )
    assert _headers(copied)["x-amz-server-side-encryption"] == "AES256"
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big",
        UploadId=uid,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": part["ETag"]},
                {"PartNumber": 2, "ETag": copied["CopyPartResult"]["ETag"]},
            ]
        },
    )
    assert done["ServerSideEncryption"] == "AES256"


def test_multipart_with_customer_key(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=PART, **SSEC)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big", **SSEC)
    uid = upload["UploadId"]
    assert upload["SSECustomerAlgorithm"] == "AES256"
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=1, Body=PART)
    assert error_of(excinfo) == ("InvalidRequest", 400)
    part = s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=1, Body=PART, **SSEC)
    assert part["SSECustomerAlgorithm"] == "AES256"
    key_md5 = part["SSECustomerKeyMD5"]
    copied = s3.upload_part_copy(
        Bucket=bucket,
        Key="big",
        UploadId=uid,
        PartNumber=2,
        CopySource=f"{bucket}/src",
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=SSEC_KEY,
        **SSEC,
    )
    assert copied["SSECustomerAlgorithm"] == "AES256"
    assert copied["SSECustomerKeyMD5"] == key_md5
    copy = s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource=f"{bucket}/src",
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=SSEC_KEY,
        **SSEC,
    )
    assert copy["SSECustomerKeyMD5"] == key_md5
