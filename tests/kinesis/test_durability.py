"""Every acknowledged Kinesis record survives a SIGKILL of the server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests
from botocore.exceptions import BotoCoreError, ClientError

from tests.server import NubesProcess


def _produce(server: NubesProcess, acked: set[str], lock: threading.Lock) -> None:
    kinesis = server.client("kinesis")
    n = 0
    while True:
        n += 1
        try:
            if n % 2:
                kinesis.put_record(StreamName="durable", Data=f"r{n}".encode(), PartitionKey="k")
                sent = [f"r{n}"]
            else:
                kinesis.put_records(
                    StreamName="durable",
                    Records=[{"Data": f"b{n}-{i}".encode(), "PartitionKey": "k"} for i in range(5)],
                )
                sent = [f"b{n}-{i}" for i in range(5)]
        except (BotoCoreError, ClientError):
            return
        with lock:
            acked.update(sent)


def test_sigkill_loses_no_acknowledged_record(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    server = nubes_factory(persistent=True)
    kinesis = server.client("kinesis")
    kinesis.create_stream(StreamName="durable", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    requests.post(f"{server.endpoint}/_nubes/clock", json={"advance": 2}, timeout=10)
    acked: set[str] = set()
    lock = threading.Lock()
    producer = threading.Thread(target=_produce, args=(server, acked, lock))
    producer.start()
    time.sleep(1.0)
    server.kill()
    producer.join(30)
    assert len(acked) > 5
    restarted = NubesProcess(server.data_dir, port=server.port).start()
    try:
        kinesis = restarted.client("kinesis")
        found: set[str] = set()
        for shard in kinesis.list_shards(StreamName="durable")["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName="durable", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while True:
                got = kinesis.get_records(ShardIterator=iterator)
                found |= {r["Data"].decode() for r in got["Records"]}
                if not got["Records"]:
                    break
                iterator = got["NextShardIterator"]
    finally:
        restarted.stop()
    assert acked <= found
