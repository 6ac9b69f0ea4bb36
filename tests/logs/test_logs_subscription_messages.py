"""The documents subscription filters send (pure logic): a batch too large for one Kinesis
record or Lambda payload is split into several DATA_MESSAGEs, each event in exactly one."""

from __future__ import annotations

import base64
import gzip
import json
import secrets

from nubes.services.logs import subscriptions


def test_large_batches_split_under_the_limit_in_order() -> None:
    # Random hex barely compresses: 40 events of 50 KB make about 1 MB of gzip.
    events = [(1_000 + i, secrets.token_hex(25_000)) for i in range(40)]
    limit = subscriptions.MESSAGE_LIMITS["kinesis"]
    messages = subscriptions.data_messages("123456789012", "g", "s", "f", events, limit)
    assert len(messages) > 1
    assert all(len(m) <= limit for m in messages)
    documents = [json.loads(gzip.decompress(m)) for m in messages]
    assert all(d["messageType"] == "DATA_MESSAGE" for d in documents)
    sent = [(e["timestamp"], e["message"]) for d in documents for e in d["logEvents"]]
    assert sent == events


def test_small_batch_is_one_message_and_lambda_payload_wraps_it() -> None:
    events = [(1, "a"), (2, "b")]
    (message,) = subscriptions.data_messages("123456789012", "g", "s", "f", events, 1000)
    payload = json.loads(subscriptions.lambda_payload(message))
    document = json.loads(gzip.decompress(base64.b64decode(payload["awslogs"]["data"])))
    assert document["subscriptionFilters"] == ["f"]
    assert [e["message"] for e in document["logEvents"]] == ["a", "b"]


def test_records_of_a_log_stream_share_a_partition_key() -> None:
    one = subscriptions.kinesis_record("arn", b"x", "stream-a", "ByLogStream")
    two = subscriptions.kinesis_record("arn", b"y", "stream-a", "ByLogStream")
    other = subscriptions.kinesis_record("arn", b"z", "stream-b", "ByLogStream")
    assert one["PartitionKey"] == two["PartitionKey"] != other["PartitionKey"]
    assert subscriptions.destination_kind("arn:aws:kinesis:us-east-1:1:stream/s") == "kinesis"
    assert subscriptions.destination_kind("arn:aws:logs:us-east-1:1:destination:d") == "logs"
    assert subscriptions.destination_kind("junk") == "other"
