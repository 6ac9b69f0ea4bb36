"""Multipart objects whose part numbers have gaps, and part reads past an object's parts.

From AWS's S3 API reference: GetObject/HeadObject ``partNumber`` ("Effectively performs a
'ranged' GET request for the part specified"), ``PartsCount`` ("the count of parts this object
has"), the ``InvalidPartNumber`` error (416, "The requested partnumber is not satisfiable"),
CompletedPart's ``PartNumber`` (with an additional checksum the part numbers must start at 1
and be consecutive, else 400 ``InvalidPartOrder``) and GetObjectAttributesParts. A completed
object's parts are read as 1..n in order whatever numbers they were uploaded as: S3 answers
so (as OpenStack Swift's s3api suite, which runs against AWS, records for parts 1 and 1000).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from nubes.services.s3 import checksums
from tests.s3.conftest import error_of
from tests.server import make_client

MB = 1024 * 1024
BODIES = {1: b"a" * 5 * MB, 3: b"b" * 5 * MB, 7: b"tail"}


def _upload(s3: Any, bucket: str, key: str, bodies: dict[int, bytes], **create: Any) -> Any:
    """Upload ``bodies`` by part number; return the completion's arguments (parts listed)."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    parts = []
    for number, body in bodies.items():
        extra = {"ChecksumAlgorithm": create["ChecksumAlgorithm"]} if create else {}
        got = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body, **extra
        )
        part = {"PartNumber": number, "ETag": got["ETag"]}
        part.update((k, v) for k, v in got.items() if k.startswith("Checksum"))
        parts.append(part)
    return {
        "Bucket": bucket,
        "Key": key,
        "UploadId": upload_id,
        "MultipartUpload": {"Parts": parts},
    }


@pytest.fixture
def gapped(s3: Any, bucket: str) -> str:
    """An object completed from parts 1, 3 and 7."""
    s3.complete_multipart_upload(**_upload(s3, bucket, "gaps", BODIES))
    return bucket


def test_parts_are_read_as_1_to_n(s3: Any, gapped: str) -> None:
    size = sum(len(b) for b in BODIES.values())
    offset = 0
    for number, body in enumerate(BODIES.values(), 1):
        got = s3.get_object(Bucket=gapped, Key="gaps", PartNumber=number)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["PartsCount"] == 3
        assert got["ETag"].endswith('-3"')
        assert got["ContentLength"] == len(body)
        assert got["ContentRange"] == f"bytes {offset}-{offset + len(body) - 1}/{size}"
        assert got["Body"].read() == body
        head = s3.head_object(Bucket=gapped, Key="gaps", PartNumber=number)
        assert (head["ContentLength"], head["PartsCount"]) == (len(body), 3)
        offset += len(body)


@pytest.mark.parametrize("number", [4, 7, 10000])
def test_part_numbers_past_the_parts_are_not_satisfiable(s3: Any, gapped: str, number: int) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=gapped, Key="gaps", PartNumber=number)
    assert error_of(excinfo) == ("InvalidPartNumber", 416)
    error = excinfo.value.response["Error"]
    assert error["Message"] == "The requested partnumber is not satisfiable"
    assert (error["PartNumberRequested"], error["ActualPartCount"]) == (str(number), "3")
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=gapped, Key="gaps", PartNumber=number)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


def test_part_beyond_a_plain_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"abc")
    whole = s3.get_object(Bucket=bucket, Key="plain", PartNumber=1)
    assert whole["Body"].read() == b"abc" and "PartsCount" not in whole
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="plain", PartNumber=2)
    assert error_of(excinfo) == ("InvalidPartNumber", 416)
    assert excinfo.value.response["Error"]["ActualPartCount"] == "1"


def test_object_attributes_of_a_gapped_object(s3: Any, gapped: str) -> None:
    """Without an additional checksum S3 counts the parts but lists none."""
    got = s3.get_object_attributes(
        Bucket=gapped, Key="gaps", ObjectAttributes=["ObjectParts", "ObjectSize", "ETag"]
    )
    assert got["ObjectParts"]["TotalPartsCount"] == 3
    assert "Parts" not in got["ObjectParts"]
    assert got["ETag"].endswith("-3")


@pytest.mark.parametrize("numbers", [(1, 3), (2, 3)])
@pytest.mark.parametrize("algorithm", ["SHA256", "CRC32"])
def test_checksum_uploads_need_consecutive_parts(
    s3: Any, bucket: str, algorithm: str, numbers: tuple[int, int]
) -> None:
    bodies = dict(zip(numbers, (b"c" * 5 * MB, b"end"), strict=True))
    completion = _upload(s3, bucket, "sum", bodies, ChecksumAlgorithm=algorithm)
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(**completion)
    assert error_of(excinfo) == ("InvalidPartOrder", 400)
    # The refused completion leaves the upload as it was.
    listed = s3.list_parts(Bucket=bucket, Key="sum", UploadId=completion["UploadId"])
    assert [p["PartNumber"] for p in listed["Parts"]] == list(numbers)
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key="sum")
    assert error_of(excinfo)[1] == 404


def test_composite_parts_page_by_part_number(s3: Any, bucket: str) -> None:
    bodies = {1: b"d" * 5 * MB, 2: b"e" * 5 * MB, 3: b"f"}
    completion = _upload(s3, bucket, "comp", bodies, ChecksumAlgorithm="SHA256")
    done = s3.complete_multipart_upload(**completion)
    assert done["ChecksumSHA256"].endswith("-3") and done["ChecksumType"] == "COMPOSITE"
    sums = [p["ChecksumSHA256"] for p in completion["MultipartUpload"]["Parts"]]
    page = s3.get_object_attributes(
        Bucket=bucket, Key="comp", ObjectAttributes=["ObjectParts"], PartNumberMarker=1, MaxParts=1
    )["ObjectParts"]
    assert [(p["PartNumber"], p["ChecksumSHA256"]) for p in page["Parts"]] == [(2, sums[1])]
    assert (page["IsTruncated"], page["NextPartNumberMarker"]) == (True, 2)
    for number in bodies:
        head = s3.head_object(Bucket=bucket, Key="comp", PartNumber=number, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == sums[number - 1]
        assert head["ChecksumType"] == "COMPOSITE"


@pytest.mark.skipif(not checksums.FAST_CRCS, reason="S3's default CRC64NVME needs awscrt")
def test_default_checksum_of_a_gapped_object(endpoint: str, bucket: str) -> None:
    """Parts sent without checksums: S3's CRC64NVME covers the whole object, gaps or not."""
    config = Config(request_checksum_calculation="when_required")
    s3 = make_client(endpoint, "s3", config=config)
    s3.complete_multipart_upload(**_upload(s3, bucket, "gaps", BODIES))
    head = s3.head_object(Bucket=bucket, Key="gaps", ChecksumMode="ENABLED")
    whole = b"".join(BODIES.values())
    assert head["ChecksumCRC64NVME"] == checksums.compute("CRC64NVME", whole)
    assert head["ChecksumType"] == "FULL_OBJECT"
    # A part is a range: it carries no checksum of the whole object.
    part = s3.head_object(Bucket=bucket, Key="gaps", PartNumber=3, ChecksumMode="ENABLED")
    assert "ChecksumCRC64NVME" not in part
