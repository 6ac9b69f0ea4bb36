"""A download that has started serves the version it started on, in full, whatever happens to
the key meanwhile; the files of a replaced version go when the last reader is done."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server import NubesProcess

PART = 5 * 1024 * 1024
HEAD = 256 * 1024
"""How much of a download is read before the key changes (well short of its first part)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NubesProcess]:
    process = NubesProcess(tmp_path_factory.mktemp("consistency") / "data").start()
    yield process
    process.stop()


@pytest.fixture
def s3(server: NubesProcess) -> Any:
    return server.client("s3")


def _content(seed: int, size: int) -> bytes:
    block = bytes((seed + i) % 251 for i in range(4096))
    return (block * (size // len(block) + 1))[:size]


def _put_multipart(s3: Any, bucket: str, key: str, seed: int, parts: int) -> bytes:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done, data = [], b""
    for number in range(1, parts + 1):
        body = _content(seed + number, PART if number < parts else PART // 2)
        etag = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body
        )["ETag"]
        done.append({"PartNumber": number, "ETag": etag})
        data += body
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": done}
    )
    return data


def _s3_blob_files(server: NubesProcess) -> list[Path]:
    assert server.data_dir is not None
    area = server.data_dir / "blobs" / "s3"
    return [
        f
        for folder in area.iterdir()
        if folder.is_dir() and folder.name != "tmp"
        for f in folder.iterdir()
    ]


def _overwrite_multipart(s3: Any, bucket: str, key: str) -> None:
    _put_multipart(s3, bucket, key, seed=100, parts=2)


def _overwrite_plain(s3: Any, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=_content(200, 3 * HEAD))


def _delete(s3: Any, bucket: str, key: str) -> None:
    s3.delete_object(Bucket=bucket, Key=key)


@pytest.mark.parametrize("change", [_overwrite_multipart, _overwrite_plain, _delete])
@pytest.mark.parametrize("multipart", [True, False])
def test_download_serves_the_version_it_started_on(
    server: NubesProcess,
    s3: Any,
    unique: Callable[[str], str],
    change: Callable[[Any, str, str], None],
    multipart: bool,
) -> None:
    bucket = unique("consistent")
    s3.create_bucket(Bucket=bucket)
    if multipart:
        original = _put_multipart(s3, bucket, "k", seed=1, parts=3)
    else:
        original = _content(7, 2 * PART)
        s3.put_object(Bucket=bucket, Key="k", Body=original)
    files_before = len(_s3_blob_files(server))

    body = s3.get_object(Bucket=bucket, Key="k")["Body"]
    first = body.read(HEAD)
    change(s3, bucket, "k")
    # The old version's files are still there while the download reads them...
    assert len(_s3_blob_files(server)) >= files_before
    rest = body.read()
    body.close()
    assert len(first) + len(rest) == len(original)
    assert first + rest == original

    # ...and gone once it is done: only what the key holds now is left.
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
    assert _s3_blob_files(server) == []


def test_ranged_and_abandoned_downloads_release_their_files(
    server: NubesProcess, s3: Any, unique: Callable[[str], str]
) -> None:
    bucket = unique("abandoned")
    s3.create_bucket(Bucket=bucket)
    original = _put_multipart(s3, bucket, "k", seed=3, parts=3)
    ranged = s3.get_object(Bucket=bucket, Key="k", Range=f"bytes={PART - 10}-{PART + 9}")
    dropped = s3.get_object(Bucket=bucket, Key="k")["Body"]
    dropped.read(HEAD)
    s3.head_object(Bucket=bucket, Key="k")
    _overwrite_plain(s3, bucket, "k")
    assert ranged["Body"].read() == original[PART - 10 : PART + 10]
    # A client that stops reading and hangs up: the server lets the old files go.
    dropped.close()
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
    for _ in range(100):
        if not _s3_blob_files(server):
            break
        os.sched_yield()
        server.client("sts").get_caller_identity()
    assert _s3_blob_files(server) == []


def test_files_held_by_a_reader_are_swept_after_a_crash(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    server = nubes_factory(persistent=True)
    s3 = server.client("s3")
    s3.create_bucket(Bucket="held")
    _put_multipart(s3, "held", "k", seed=5, parts=2)
    body = s3.get_object(Bucket="held", Key="k")["Body"]
    body.read(HEAD)
    _overwrite_plain(s3, "held", "k")
    assert len(_s3_blob_files(server)) == 3  # two parts still read, and the new body
    server.kill()
    body.close()
    restarted = NubesProcess(server.data_dir, port=server.port).start()
    try:
        s3 = restarted.client("s3")
        assert s3.get_object(Bucket="held", Key="k")["Body"].read() == _content(200, 3 * HEAD)
        assert len(_s3_blob_files(restarted)) == 1
    finally:
        restarted.stop()
