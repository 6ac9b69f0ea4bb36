"""Durability: SIGKILL in the middle of a stream of puts loses no acknowledged object, and a
restart on the same data directory serves every one of them with the right bytes."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

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
