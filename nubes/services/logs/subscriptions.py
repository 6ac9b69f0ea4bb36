"""What subscription filters send: the gzip'd JSON document of the CloudWatch Logs user guide
("Subscription filters with ..."), given to a Lambda function (base64, under ``awslogs.data``)
or put on a Kinesis or Firehose stream as one record (the gzip bytes themselves). A filter whose
destination is a stream is created only once the stream took the CONTROL_MESSAGE AWS sends to
check it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import secrets
from typing import Any

from nubes.core.arns import parse_arn

CONTROL_MESSAGE = "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."
MESSAGE_LIMITS = {"kinesis": 1_000_000, "firehose": 1_000_000, "lambda": 700_000}
"""Gzip'd bytes per message: a Kinesis record holds 1 MiB with its partition key; an
asynchronous Lambda payload 1 MiB after base64 and the ``awslogs`` wrapper."""
UNDELIVERABLE = (
    "Could not deliver test message to specified Kinesis stream. Check if the given kinesis "
    "stream is in ACTIVE state."
)


def destination_kind(destination_arn: str) -> str:
    """``lambda``, ``kinesis``, ``firehose``, ``logs`` (a cross-account destination) or
    ``other``."""
    try:
        parsed = parse_arn(destination_arn)
    except ValueError:
        return "other"
    if parsed.service == "lambda" and parsed.resource.startswith("function:"):
        return "lambda"
    if parsed.service == "kinesis" and parsed.resource.startswith("stream/"):
        return "kinesis"
    if parsed.service == "firehose":
        return "firehose"
    if parsed.service == "logs" and parsed.resource.startswith("destination:"):
        return "logs"
    return "other"


def event_id(timestamp: int) -> str:
    return f"{timestamp:020d}{secrets.randbelow(10**36):036d}"


def data_messages(
    owner: str,
    group: str,
    stream: str,
    filter_name: str,
    events: list[tuple[int, str]],
    limit: int,
) -> list[bytes]:
    """The batch as DATA_MESSAGEs of at most ``limit`` gzip'd bytes each (halved until each
    fits; a single event goes alone whatever its size)."""
    data = data_message(owner, group, stream, filter_name, events)
    if len(data) <= limit or len(events) == 1:
        return [data]
    half = len(events) // 2
    return data_messages(owner, group, stream, filter_name, events[:half], limit) + data_messages(
        owner, group, stream, filter_name, events[half:], limit
    )


def data_message(
    owner: str, group: str, stream: str, filter_name: str, events: list[tuple[int, str]]
) -> bytes:
    document = {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": [filter_name],
        "logEvents": [
            {"id": event_id(ts), "timestamp": ts, "message": message} for ts, message in events
        ],
    }
    return gzip.compress(json.dumps(document).encode())


def control_message(now_ms: int) -> bytes:
    document = {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": now_ms, "message": CONTROL_MESSAGE}],
    }
    return gzip.compress(json.dumps(document).encode())


def lambda_payload(data: bytes) -> bytes:
    return json.dumps({"awslogs": {"data": base64.b64encode(data).decode()}}).encode()


def firehose_records(stream_arn: str, data: bytes) -> dict[str, Any]:
    """PutRecordBatch's input: the gzip'd message as one record, as CloudWatch Logs sends it."""
    name = parse_arn(stream_arn).resource.split("/", 1)[-1]
    return {"DeliveryStreamName": name, "Records": [{"Data": data}]}


def kinesis_record(
    stream_arn: str, data: bytes, log_stream: str, distribution: str
) -> dict[str, Any]:
    """PutRecord's input: records of one log stream share a shard unless the filter
    distributes them at random."""
    if distribution == "Random":
        key = secrets.token_hex(16)
    else:
        key = hashlib.md5(log_stream.encode(), usedforsecurity=False).hexdigest()
    return {"StreamARN": stream_arn, "Data": data, "PartitionKey": key}
