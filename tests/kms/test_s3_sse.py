"""S3 SSE-KMS through KMS: the data key comes from the named key (``aws/s3`` by default), the
key ARN comes back as AWS returns it, and a disabled key makes the object unreadable with KMS's
error as S3 reports it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def test_sse_kms_objects_need_their_key(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    s3, kms = client("s3"), client("kms")
    bucket = unique("sse")
    s3.create_bucket(Bucket=bucket)
    key = kms.create_key()["KeyMetadata"]
    alias = f"alias/{unique('objects')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])

    by_id = s3.put_object(
        Bucket=bucket,
        Key="a",
        Body=b"aaa",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["KeyId"],
    )
    assert by_id["ServerSideEncryption"] == "aws:kms" and by_id["SSEKMSKeyId"] == key["Arn"]
    by_alias = s3.put_object(
        Bucket=bucket, Key="b", Body=b"bbb", ServerSideEncryption="aws:kms", SSEKMSKeyId=alias
    )
    assert by_alias["SSEKMSKeyId"] == key["Arn"]
    managed = s3.put_object(Bucket=bucket, Key="c", Body=b"ccc", ServerSideEncryption="aws:kms")
    aws_s3 = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert managed["SSEKMSKeyId"] == aws_s3["Arn"]
    got = s3.get_object(Bucket=bucket, Key="a")
    assert got["Body"].read() == b"aaa" and got["SSEKMSKeyId"] == key["Arn"]

    copied = s3.copy_object(
        Bucket=bucket,
        Key="copy",
        CopySource={"Bucket": bucket, "Key": "c"},
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["Arn"],
    )
    assert copied["SSEKMSKeyId"] == key["Arn"]

    upload = s3.create_multipart_upload(
        Bucket=bucket, Key="multi", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"]
    )
    assert upload["SSEKMSKeyId"] == key["Arn"]
    part = s3.upload_part(
        Bucket=bucket, Key="multi", UploadId=upload["UploadId"], PartNumber=1, Body=b"m" * 10
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="multi",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert s3.head_object(Bucket=bucket, Key="multi")["SSEKMSKeyId"] == key["Arn"]

    kms.disable_key(KeyId=key["KeyId"])
    for name in ("a", "b", "multi", "copy"):
        with pytest.raises(ClientError) as exc:
            s3.get_object(Bucket=bucket, Key=name)
        assert exc.value.response["Error"]["Code"] == "KMS.DisabledException"
    # Metadata stays readable; the bytes of objects under other keys too.
    assert s3.head_object(Bucket=bucket, Key="a")["SSEKMSKeyId"] == key["Arn"]
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"ccc"
    with pytest.raises(ClientError) as exc:
        s3.put_object(
            Bucket=bucket, Key="d", Body=b"d", ServerSideEncryption="aws:kms", SSEKMSKeyId=alias
        )
    assert exc.value.response["Error"]["Code"] == "KMS.DisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="b")["Body"].read() == b"bbb"

    with pytest.raises(ClientError) as exc:
        s3.put_object(
            Bucket=bucket,
            Key="e",
            Body=b"e",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId="alias/no-such-key",
        )
    assert exc.value.response["Error"]["Code"] == "KMS.NotFoundException"
