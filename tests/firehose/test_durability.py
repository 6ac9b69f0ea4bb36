"""Records Firehose acknowledged survive ``kill -9``: they are delivered after the restart."""

from __future__ import annotations

from collections.abc import Callable

import requests

from tests.firehose.conftest import ROLE, wait_for_objects
from tests.server import NubesProcess


def test_buffered_records_survive_kill(nubes_factory: Callable[..., NubesProcess]) -> None:
    server = nubes_factory(persistent=True)
    s3 = server.client("s3")
    firehose = server.client("firehose")
    s3.create_bucket(Bucket="durable")
    firehose.create_delivery_stream(
        DeliveryStreamName="durable",
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE,
            "BucketARN": "arn:aws:s3:::durable",
            "BufferingHints": {"IntervalInSeconds": 300, "SizeInMBs": 5},
        },
    )
    requests.post(f"{server.endpoint}/_nubes/clock", json={"advance": 2}, timeout=10)
    sent = [f"record-{i};".encode() for i in range(20)]
    for data in sent:
        firehose.put_record(DeliveryStreamName="durable", Record={"Data": data})
    server.kill()
    restarted = NubesProcess(server.data_dir, port=server.port).start()
    try:
        requests.post(f"{restarted.endpoint}/_nubes/clock", json={"advance": 400}, timeout=10)
        s3 = restarted.client("s3")
        [obj] = wait_for_objects(s3, "durable")
        body = s3.get_object(Bucket="durable", Key=obj["Key"])["Body"].read()
        assert body == b"".join(sent)
    finally:
        restarted.stop()
