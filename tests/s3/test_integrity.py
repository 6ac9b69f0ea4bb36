"""Integrity: Content-MD5, x-amz-content-sha256, flexible checksums in headers and in aws-chunked
trailers, and the checksum algorithms themselves."""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from nubes.services.s3 import checksums
from tests.s3.conftest import error_of
from tests.server import make_client


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def crc32(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


@pytest.mark.parametrize(
    ("algorithm", "check"),
    [("CRC32", "cbf43926"), ("CRC32C", "e3069283"), ("CRC64NVME", "ae8b14860a799888")],
)
def test_crc_check_values(algorithm: str, check: str) -> None:
    hasher = checksums.ALGORITHMS[algorithm]()
    hasher.update(b"1234")
    hasher.update(b"56789")
    assert hasher.digest().hex() == check


def test_boto3_default_crc32_is_stored_and_returned(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    assert put["ChecksumCRC32"] == crc32(b"hello")
    assert put["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == crc32(b"hello")
    assert got["Body"].read() == b"hello"
    assert "ChecksumCRC32" not in s3.head_object(Bucket=bucket, Key="k")


@pytest.mark.parametrize("algorithm", ["CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_header_checksums_verified(s3: Any, bucket: str, algorithm: str) -> None:
    value = checksums.compute(algorithm, b"payload")
    out = s3.put_object(Bucket=bucket, Key="k", Body=b"payload", **{f"Checksum{algorithm}": value})
    assert out[f"Checksum{algorithm}"] == value
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == value
    wrong = checksums.compute(algorithm, b"other")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k2", Body=b"payload", **{f"Checksum{algorithm}": wrong})
    assert error_of(exc) == ("BadDigest", 400)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k2")


def test_invalid_checksum_value(bucket: str, endpoint: str) -> None:
    resp = requests.put(
        f"{endpoint}/{bucket}/k",
        data=b"x",
        headers={"x-amz-checksum-crc32": "not base64!"},
        timeout=10,
    )
    assert resp.status_code == 400
    assert b"<Code>InvalidRequest</Code>" in resp.content


def test_content_md5(s3: Any, bucket: str) -> None:
    good = b64(hashlib.md5(b"data").digest())
    s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentMD5=good)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data!", ContentMD5=good)
    assert error_of(exc) == ("BadDigest", 400)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentMD5="abc")
    assert error_of(exc) == ("InvalidDigest", 400)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"


def test_content_sha256_mismatch(bucket: str, endpoint: str) -> None:
    resp = requests.put(
        f"{endpoint}/{bucket}/k",
        data=b"abc",
        headers={"x-amz-content-sha256": hashlib.sha256(b"xyz").hexdigest()},
        timeout=10,
    )
    assert resp.status_code == 400
    assert b"<Code>XAmzContentSHA256Mismatch</Code>" in resp.content


def chunked(payload: bytes, size: int, trailer: str = "", signed: bool = False) -> bytes:
    out = b""
    sig = ";chunk-signature=" + "0" * 64 if signed else ""
    for i in range(0, len(payload), size):
        piece = payload[i : i + size]
        out += f"{len(piece):x}{sig}\r\n".encode() + piece + b"\r\n"
    out += f"0{sig}\r\n".encode()
    if trailer:
        out += trailer.encode() + b"\r\n"
    return out + b"\r\n"


def test_aws_chunked_with_trailing_checksum(s3: Any, bucket: str, endpoint: str) -> None:
    payload = b"streamed body " * 1000
    body = chunked(payload, 4096, f"x-amz-checksum-crc32:{crc32(payload)}")
    headers = {
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(payload)),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "content-type": "text/plain",
    }
    resp = requests.put(f"{endpoint}/{bucket}/chunked", data=body, headers=headers, timeout=10)
    assert resp.status_code == 200, resp.content
    assert resp.headers["x-amz-checksum-crc32"] == crc32(payload)
    got = s3.get_object(Bucket=bucket, Key="chunked", ChecksumMode="ENABLED")
    assert got["Body"].read() == payload
    assert got["ChecksumCRC32"] == crc32(payload)
    assert "ContentEncoding" not in got
    bad = chunked(payload, 4096, f"x-amz-checksum-crc32:{crc32(b'nope')}")
    resp = requests.put(f"{endpoint}/{bucket}/bad", data=bad, headers=headers, timeout=10)
    assert resp.status_code == 400
    assert b"<Code>BadDigest</Code>" in resp.content


def test_aws_chunked_signed_chunks(s3: Any, bucket: str, endpoint: str) -> None:
    payload = bytes(range(256)) * 300
    headers = {
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding": "aws-chunked,gzip",
        "x-amz-decoded-content-length": str(len(payload)),
    }
    resp = requests.put(
        f"{endpoint}/{bucket}/signed",
        data=chunked(payload, 10000, signed=True),
        headers=headers,
        timeout=10,
    )
    assert resp.status_code == 200, resp.content
    got = s3.get_object(Bucket=bucket, Key="signed")
    assert got["Body"].read() == payload
    assert got["ContentEncoding"] == "gzip"
    short = {**headers, "x-amz-decoded-content-length": str(len(payload) + 1)}
    resp = requests.put(
        f"{endpoint}/{bucket}/short",
        data=chunked(payload, 10000, signed=True),
        headers=short,
        timeout=10,
    )
    assert resp.status_code == 400


def test_large_aws_chunked_upload(s3: Any, bucket: str, endpoint: str) -> None:
    payload = bytes(range(251)) * (40 * 1024)  # ~10 MiB: spooled to disk, decoded while streaming
    body = chunked(payload, 64 * 1024, f"x-amz-checksum-crc32:{crc32(payload)}")
    headers = {
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(payload)),
        "x-amz-trailer": "x-amz-checksum-crc32",
    }
    resp = requests.put(f"{endpoint}/{bucket}/large", data=body, headers=headers, timeout=30)
    assert resp.status_code == 200, resp.content
    assert s3.get_object(Bucket=bucket, Key="large")["Body"].read() == payload


def test_multiple_checksums_rejected(bucket: str, endpoint: str) -> None:
    resp = requests.put(
        f"{endpoint}/{bucket}/k",
        data=b"x",
        headers={
            "x-amz-checksum-crc32": crc32(b"x"),
            "x-amz-checksum-sha1": b64(hashlib.sha1(b"x").digest()),
        },
        timeout=10,
    )
    assert resp.status_code == 400
    assert b"<Code>InvalidRequest</Code>" in resp.content


def test_boto3_trailer_checksums(endpoint: str, bucket: str) -> None:
    """What boto3 sends over HTTPS (aws-chunked body, CRC32 in a trailer), forced over HTTP."""
    from tests.server import make_client

    client = make_client(endpoint, "s3")
    seen: list[str] = []

    def use_trailer(params: dict[str, Any], **_: Any) -> None:
        algorithm = params["context"].get("checksum", {}).get("request_algorithm")
        if algorithm:
            algorithm["in"] = "trailer"

    def record(request: Any, **_: Any) -> None:
        seen.append(request.headers.get("Content-Encoding", b"").decode())

    client.meta.events.register("before-call.s3.PutObject", use_trailer)
    client.meta.events.register("before-call.s3.UploadPart", use_trailer)
    client.meta.events.register("before-send.s3.PutObject", record)
    payload = b"trailing checksum " * 5000
    out = client.put_object(Bucket=bucket, Key="trailer", Body=payload)
    assert seen == ["aws-chunked"]
    assert out["ChecksumCRC32"] == crc32(payload)
    got = client.get_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert got["Body"].read() == payload and got["ChecksumCRC32"] == crc32(payload)
    uid = client.create_multipart_upload(Bucket=bucket, Key="mp-trailer")["UploadId"]
    part = client.upload_part(
        Bucket=bucket, Key="mp-trailer", UploadId=uid, PartNumber=1, Body=payload
    )
    assert part["ChecksumCRC32"] == crc32(payload)
    client.complete_multipart_upload(
        Bucket=bucket,
        Key="mp-trailer",
        UploadId=uid,
        MultipartUpload={
            "Parts": [
                {"ETag": part["ETag"], "PartNumber": 1, "ChecksumCRC32": part["ChecksumCRC32"]}
            ]
        },
    )
    assert client.get_object(Bucket=bucket, Key="mp-trailer")["Body"].read() == payload


def test_pure_python_crcs_match_the_fast_ones() -> None:
    data = bytes(range(256)) * 37 + b"tail"
    for algorithm, pure in (("CRC32C", checksums.Crc32c), ("CRC64NVME", checksums.Crc64Nvme)):
        hasher, slow = checksums.ALGORITHMS[algorithm](), pure()
        hasher.update(data[:1001])
        hasher.update(data[1001:])
        slow.update(data)
        assert hasher.digest() == slow.digest()
        parts = [(checksums.compute(algorithm, data[:5000]), 5000)]
        parts.append((checksums.compute(algorithm, data[5000:]), len(data) - 5000))
        assert checksums.combine(algorithm, parts) == checksums.compute(algorithm, data)


@pytest.mark.skipif(not checksums.FAST_CRCS, reason="S3's default CRC64NVME needs awscrt")
def test_default_crc64nvme_without_client_checksum(endpoint: str, bucket: str) -> None:
    s3 = make_client(
        endpoint,
        "s3",
        config=Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    expected = checksums.compute("CRC64NVME", b"no checksum sent")
    put = s3.put_object(Bucket=bucket, Key="plain", Body=b"no checksum sent")
    assert "ChecksumCRC32" not in put
    assert put["ChecksumCRC64NVME"] == expected
    got = s3.get_object(Bucket=bucket, Key="plain", ChecksumMode="ENABLED")
    assert (got["ChecksumCRC64NVME"], got["ChecksumType"]) == (expected, "FULL_OBJECT")
    assert "ChecksumCRC64NVME" not in s3.head_object(Bucket=bucket, Key="plain")
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert listed["ChecksumAlgorithm"] == ["CRC64NVME"]
    assert listed["ChecksumType"] == "FULL_OBJECT"
    # A multipart upload without checksums gets the CRC64NVME of the whole object too.
    first, second = b"a" * (5 * 1024 * 1024), b"tail end"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mpu")["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="mpu", UploadId=upload, PartNumber=n, Body=body)["ETag"]
        for n, body in ((1, first), (2, second))
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mpu",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    head = s3.head_object(Bucket=bucket, Key="mpu", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == checksums.compute("CRC64NVME", first + second)
    assert head["ChecksumType"] == "FULL_OBJECT"
    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/plain")
    assert copied["CopyObjectResult"]["ChecksumCRC64NVME"] == expected
