"""Durability: SIGKILL in the middle of a stream of puts loses no acknowledged object, and a
restart on the same data directory serves every one of them with the right bytes; a restart
deletes the blobs no row names and moves S3's blobs of older data directories into its area."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import requests

from tests.server import NubesProcess


def body_for(i: int) -> bytes:
    # a mix of inline-sized and blob-sized bodies
    size = 100 if i % 3 else 200 * 1024
    return hashlib.sha256(str(i).encode()).digest() * (size // 32)


def test_sigkill_during_puts_keeps_acknowledged_objects(nubes_factory: Any) -> None:
    server = nubes_factory(persistent=True)
    s3 = server.client("s3")
    s3.create_bucket(Bucket="durable")
    acked: dict[str, bytes] = {}
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            key = f"obj-{i}"
            try:
                s3.put_object(Bucket="durable", Key=key, Body=body_for(i))
            except Exception:
                return
            acked[key] = body_for(i)
            # overwrite an earlier key now and then: the old body must never win
            if i % 5 == 4:
                try:
                    s3.put_object(Bucket="durable", Key="obj-0", Body=body_for(i))
                except Exception:
                    return
                acked["obj-0"] = body_for(i)
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    while len(acked) < 40:
        thread.join(0.01)
    server.kill()
    stop.set()
    thread.join()
    restarted = NubesProcess(server.data_dir, port=server.port).start()
    try:
        s3 = restarted.client("s3")
        for key, body in acked.items():
            got = s3.get_object(Bucket="durable", Key=key)["Body"].read()
            assert got == body, key
    finally:
        restarted.stop()


def test_restart_sweeps_orphaned_blobs_and_moves_old_ones(nubes_factory: Any) -> None:
    server = nubes_factory(persistent=True)
    s3 = server.client("s3")
    s3.create_bucket(Bucket="sweep")
    big, part = body_for(0), b"p" * (5 * 1024 * 1024)
    s3.put_object(Bucket="sweep", Key="big", Body=big)
    s3.put_object(Bucket="sweep", Key="moved", Body=big[::-1])
    upload = s3.create_multipart_upload(Bucket="sweep", Key="mpu")["UploadId"]
    etag = s3.upload_part(Bucket="sweep", Key="mpu", UploadId=upload, PartNumber=1, Body=part)[
        "ETag"
    ]
    server.stop()
    area = server.data_dir / "blobs" / "s3"
    blobs = sorted(p for p in area.glob("??/*") if p.parent.name != "tmp")
    assert len(blobs) == 3
    # An orphan, as a crash between a blob's rename and its row's commit leaves one.
    orphan = area / "ab" / ("ab" + "0" * 30)
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"never committed")
    # A blob where S3 kept them before it had an area of its own.
    old = next(p for p in blobs if p.read_bytes() == big[::-1])
    legacy = server.data_dir / "blobs" / old.parent.name / old.name
    legacy.parent.mkdir(exist_ok=True)
    old.rename(legacy)
    restarted = NubesProcess(server.data_dir, port=server.port).start()
    try:
        s3 = restarted.client("s3")
        # The S3 provider is made, and sweeps, when the first S3 request arrives.
        s3.head_bucket(Bucket="sweep")
        assert not orphan.exists()
        assert not legacy.exists() and old.exists()
        assert s3.get_object(Bucket="sweep", Key="big")["Body"].read() == big
        assert s3.get_object(Bucket="sweep", Key="moved")["Body"].read() == big[::-1]
        s3.complete_multipart_upload(
            Bucket="sweep",
            Key="mpu",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )
        assert s3.get_object(Bucket="sweep", Key="mpu")["Body"].read() == part
    finally:
        restarted.stop()


def test_reset_clears_objects_and_big_bodies_still_store(nubes_factory: Any) -> None:
    server = nubes_factory(persistent=True)
    s3 = server.client("s3")
    s3.create_bucket(Bucket="reset")
    s3.put_object(Bucket="reset", Key="big", Body=body_for(0))
    requests.post(f"{server.endpoint}/_nubes/reset", timeout=10).raise_for_status()
    assert not list((server.data_dir / "blobs" / "s3").glob("??/*"))
    s3.create_bucket(Bucket="reset")
    s3.put_object(Bucket="reset", Key="big", Body=body_for(3))
    assert s3.get_object(Bucket="reset", Key="big")["Body"].read() == body_for(3)
