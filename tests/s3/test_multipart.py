"""Multipart uploads: parts, completion rules, listing, copy parts, aborts."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import error_of

MiB = 1024 * 1024


def multipart_etag(parts: list[bytes]) -> str:
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def test_upload_complete_and_read_back(s3: Any, bucket: str) -> None:
    parts = [b"a" * (5 * MiB), b"b" * (5 * MiB), b"tail"]
    up = s3.create_multipart_upload(
        Bucket=bucket, Key="mp", ContentType="text/x", Metadata={"m": "1"}
    )
    uid = up["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=i + 1, Body=p)["ETag"]
        for i, p in enumerate(parts)
    ]
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    assert [p["Size"] for p in listed["Parts"]] == [len(p) for p in parts]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [uid]
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=uid,
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": i + 1} for i, e in enumerate(etags)]},
    )
    assert done["ETag"] == multipart_etag(parts)
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == b"".join(parts)
    assert got["ContentType"] == "text/x" and got["Metadata"] == {"m": "1"}
    assert "PartsCount" not in got
    span = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MiB - 2}-{5 * MiB + 1}")
    assert span["Body"].read() == b"aabb"
    second = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert second["ContentLength"] == 5 * MiB and second["PartsCount"] == 3
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
    assert error_of(exc) == ("NoSuchUpload", 404)


def test_completion_errors(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"small")["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=2, Body=b"x")["ETag"]
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=uid,
            MultipartUpload={
                "Parts": [{"ETag": e1, "PartNumber": 1}, {"ETag": e2, "PartNumber": 2}]
            },
        )
    assert error_of(exc) == ("EntityTooSmall", 400)
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=uid,
            MultipartUpload={
                "Parts": [{"ETag": e2, "PartNumber": 2}, {"ETag": e1, "PartNumber": 1}]
            },
        )
    assert error_of(exc) == ("InvalidPartOrder", 400)
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=uid,
            MultipartUpload={"Parts": [{"ETag": '"0000"', "PartNumber": 1}]},
        )
    assert error_of(exc) == ("InvalidPart", 400)
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=10001, Body=b"x")
    assert error_of(exc) == ("InvalidArgument", 400)
    # a single small part is fine: only the last part may be small
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=uid,
        MultipartUpload={"Parts": [{"ETag": e1, "PartNumber": 1}]},
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"small"


def test_abort_and_unknown_upload(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=uid)
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"x")
    assert error_of(exc) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as exc:
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId="nope")
    assert error_of(exc) == ("NoSuchUpload", 404)


def test_upload_part_copy_with_range(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    out = s3.upload_part_copy(
        Bucket=bucket,
        Key="dst",
        UploadId=uid,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "src"},
        CopySourceRange="bytes=2-5",
    )
    etag = out["CopyPartResult"]["ETag"]
    assert etag == f'"{hashlib.md5(b"2345").hexdigest()}"'
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(
            Bucket=bucket,
            Key="dst",
            UploadId=uid,
            PartNumber=2,
            CopySource={"Bucket": bucket, "Key": "src"},
            CopySourceRange="bytes=5-50",
        )
    assert error_of(exc) == ("InvalidRange", 416)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="dst",
        UploadId=uid,
        MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]},
    )
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"2345"


def test_composite_checksum(s3: Any, bucket: str) -> None:
    import base64
    import zlib

    parts = [b"p" * (5 * MiB), b"q" * 100]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="c", ChecksumAlgorithm="CRC32")["UploadId"]
    done_parts = []
    for i, body in enumerate(parts, start=1):
        out = s3.upload_part(
            Bucket=bucket, Key="c", UploadId=uid, PartNumber=i, Body=body, ChecksumAlgorithm="CRC32"
        )
        crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
        assert out["ChecksumCRC32"] == crc
        done_parts.append({"ETag": out["ETag"], "PartNumber": i, "ChecksumCRC32": crc})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="c", UploadId=uid, MultipartUpload={"Parts": done_parts}
    )
    raw = b"".join(base64.b64decode(p["ChecksumCRC32"]) for p in done_parts)
    expected = base64.b64encode(zlib.crc32(raw).to_bytes(4, "big")).decode() + "-2"
    assert done["ChecksumCRC32"] == expected
    assert done["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == expected


def test_transfer_manager_round_trip(s3: Any, bucket: str, tmp_path: Any) -> None:
    from boto3.s3.transfer import TransferConfig

    data = bytes(range(256)) * (12 * 4096)  # 12 MiB: three 5 MiB parts
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_file(str(src), bucket, "tm", Config=config)
    dst = tmp_path / "dst.bin"
    s3.download_file(bucket, "tm", str(dst), Config=config)
    assert dst.read_bytes() == data


def test_full_object_crc32(s3: Any, bucket: str) -> None:
    import base64
    import zlib

    parts = [b"f" * (5 * MiB), b"g" * 300]
    uid = s3.create_multipart_upload(
        Bucket=bucket, Key="full", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )["UploadId"]
    done_parts = []
    for i, body in enumerate(parts, start=1):
        out = s3.upload_part(
            Bucket=bucket,
            Key="full",
            UploadId=uid,
            PartNumber=i,
            Body=body,
            ChecksumAlgorithm="CRC32",
        )
        done_parts.append(
            {"ETag": out["ETag"], "PartNumber": i, "ChecksumCRC32": out["ChecksumCRC32"]}
        )
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="full", UploadId=uid, MultipartUpload={"Parts": done_parts}
    )
    whole = base64.b64encode(zlib.crc32(b"".join(parts)).to_bytes(4, "big")).decode()
    assert done["ChecksumCRC32"] == whole
    assert done["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"".join(parts)
    assert got["ChecksumCRC32"] == whole


def test_delete_bucket_with_pending_upload(s3: Any, unique: Any) -> None:
    name = unique("bkt")
    s3.create_bucket(Bucket=name)
    uid = s3.create_multipart_upload(Bucket=name, Key="k")["UploadId"]
    s3.upload_part(Bucket=name, Key="k", UploadId=uid, PartNumber=1, Body=b"x")
    s3.delete_bucket(Bucket=name)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_large_copies(s3: Any, bucket: str) -> None:
    from boto3.s3.transfer import TransferConfig

    data = bytes(range(256)) * (11 * 4096)  # 11 MiB: copied off the event loop
    s3.put_object(Bucket=bucket, Key="src", Body=data)
    s3.copy_object(Bucket=bucket, Key="plain-copy", CopySource={"Bucket": bucket, "Key": "src"})
    assert s3.get_object(Bucket=bucket, Key="plain-copy")["Body"].read() == data
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.copy({"Bucket": bucket, "Key": "src"}, bucket, "managed-copy", Config=config)
    got = s3.get_object(Bucket=bucket, Key="managed-copy")
    assert got["Body"].read() == data
    assert got["ETag"].endswith('-3"')


def test_list_uploads_with_delimiter_and_markers(s3: Any, bucket: str) -> None:
    ids = {}
    for key in ["a/1", "a/2", "b", "c/1", "d"]:
        ids[key] = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    out = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/", "c/"]
    assert [u["Key"] for u in out["Uploads"]] == ["b", "d"]
    page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2)
    assert [u["Key"] for u in page["Uploads"]] == ["a/1", "a/2"] and page["IsTruncated"]
    rest = s3.list_multipart_uploads(
        Bucket=bucket, KeyMarker=page["NextKeyMarker"], UploadIdMarker=page["NextUploadIdMarker"]
    )
    assert [u["Key"] for u in rest["Uploads"]] == ["b", "c/1", "d"]
    assert rest["IsTruncated"] is False
    assert [u["UploadId"] for u in rest["Uploads"]] == [ids["b"], ids["c/1"], ids["d"]]
