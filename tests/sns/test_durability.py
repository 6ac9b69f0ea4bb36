"""Once Publish answered, every SQS subscriber has the message, even if the server is killed
right after."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from tests.server import NubesProcess


def test_acknowledged_publishes_survive_sigkill(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    server = nubes_factory(persistent=True)
    sns, sqs = server.client("sns"), server.client("sqs")
    topic = sns.create_topic(Name="durable")["TopicArn"]
    urls = []
    for i in range(2):
        url = sqs.create_queue(QueueName=f"fan-{i}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        urls.append(url)
    acked: list[str] = []

    def publish() -> None:
        client = server.client("sns")
        n = 0
        while True:
            n += 1
            try:
                acked.append(client.publish(TopicArn=topic, Message=f"m{n}")["MessageId"])
            except (BotoCoreError, ClientError):
                return

    thread = threading.Thread(target=publish)
    thread.start()
    # Kill while publishes are in flight, once enough were acknowledged (however fast that is).
    deadline = time.monotonic() + 60
    while len(acked) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    thread.join(30)
    assert len(acked) >= 20
    restarted = NubesProcess(server.data_dir, port=server.port).start()
    try:
        sqs = restarted.client("sqs")
        for url in urls:
            got: set[str] = set()
            while True:
                batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                    "Messages", []
                )
                if not batch:
                    break
                got |= {json.loads(m["Body"])["MessageId"] for m in batch}
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(batch)
                    ],
                )
            assert set(acked) <= got
    finally:
        restarted.stop()
