"""Event source mappings reading Kinesis streams (AWS's Kinesis event, retries, bisection,
partial batch responses, on-failure destinations, record age, filters, enhanced fan-out
consumers) and the states every mapping goes through."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.lambda_.conftest import ROLE, zipped
from tests.server import NubesProcess

RECORDER = """
import base64, json

def handler(event, context):
    for r in event["Records"]:
        print("got", json.dumps(r, sort_keys=True))
"""

FAILING = """
import base64

def handler(event, context):
    data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    if "poison" in data:
        raise ValueError("poison in " + ",".join(data))
    for d in data:
        print("ok", d)
"""

PARTIAL = """
import base64

def handler(event, context):
    for r in event["Records"]:
        data = base64.b64decode(r["kinesis"]["data"]).decode()
        print("seen", data)
        if data == "bad":
            return {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]}]}
    return {"batchItemFailures": []}
"""


def _active_stream(kinesis: Any, name: str, **kwargs: Any) -> str:
    kinesis.create_stream(StreamName=name, **kwargs)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return str(summary["StreamARN"])
        time.sleep(0.1)
    raise AssertionError(f"stream {name} not ACTIVE")


def _enabled(lam: Any, uuid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found: dict[str, Any] = lam.get_event_source_mapping(UUID=uuid)
        if found["State"] == "Enabled":
            return found
        time.sleep(0.1)
    raise AssertionError(f"mapping {uuid} not Enabled")


def _lines(logs: Any, name: str, pattern: str, count: int) -> list[str]:
    deadline = time.monotonic() + 60
    seen: list[str] = []
    while time.monotonic() < deadline and len(seen) < count:
        time.sleep(0.3)
        try:
            events = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{name}", filterPattern=pattern
            )["events"]
        except ClientError:
            continue
        seen = [e["message"].strip() for e in events]
    return seen


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def test_kinesis_records_reach_the_function_as_kinesis_events(
    lam: Any,
    logs: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    kinesis = client("kinesis")
    stream = unique("ks")
    arn = _active_stream(kinesis, stream, ShardCount=2)
    kinesis.put_record(StreamName=stream, Data=b'{"n": 1}', PartitionKey="a")
    put = kinesis.put_record(StreamName=stream, Data=b'{"n": 2}', PartitionKey="a")
    name = make_function({"app.py": RECORDER})
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON", BatchSize=10
    )
    assert mapping["State"] == "Creating"
    assert mapping["StateTransitionReason"] == "USER_INITIATED"
    assert mapping["ParallelizationFactor"] == 1 and mapping["MaximumRetryAttempts"] == -1
    seen = _lines(logs, name, "got", 2)
    records = [json.loads(line.split(" ", 1)[1]) for line in seen]
    assert [base64.b64decode(r["kinesis"]["data"]) for r in records] == [b'{"n": 1}', b'{"n": 2}']
    last = records[-1]
    assert last["eventSource"] == "aws:kinesis"
    assert last["eventName"] == "aws:kinesis:record"
    assert last["eventSourceARN"] == arn
    assert last["eventID"] == f"{put['ShardId']}:{put['SequenceNumber']}"
    assert last["kinesis"]["partitionKey"] == "a"
    assert last["kinesis"]["sequenceNumber"] == put["SequenceNumber"]
    assert last["invokeIdentityArn"].startswith("arn:aws:iam::")
    assert last["awsRegion"] == "us-east-1"
    assert _enabled(lam, mapping["UUID"])["LastProcessingResult"] == "OK"
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_kinesis_bisects_and_sends_what_fails_to_the_destination(
    lam: Any,
    logs: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    kinesis, sqs = client("kinesis"), client("sqs")
    stream = unique("ks")
    arn = _active_stream(kinesis, stream, ShardCount=1)
    failures, failures_arn = _queue(sqs, unique("kfail"))
    for data in ("a", "poison", "b"):
        kinesis.put_record(StreamName=stream, Data=data.encode(), PartitionKey="k")
    name = make_function({"app.py": FAILING})
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )
    got = sqs.receive_message(QueueUrl=failures, WaitTimeSeconds=20).get("Messages")
    assert got, "the poison record reaches the on-failure destination"
    record = json.loads(got[0]["Body"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    info = record["KinesisBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == arn
    assert info["shardId"] == "shardId-000000000000"
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert sorted(_lines(logs, name, "ok", 2)) == ["ok a", "ok b"]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_kinesis_partial_batch_response_resumes_at_the_failed_record(
    lam: Any,
    logs: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    kinesis = client("kinesis")
    stream = unique("ks")
    arn = _active_stream(kinesis, stream, ShardCount=1)
    for data in ("one", "bad", "three"):
        kinesis.put_record(StreamName=stream, Data=data.encode(), PartitionKey="k")
    name = make_function({"app.py": PARTIAL})
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        StartingPosition="TRIM_HORIZON",
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=1,
    )
    # One call reports "bad"; the retry starts at it (not at "one") and fails again, which
    # uses up the one retry: the rest of the batch is skipped and reading goes on after it.
    assert _lines(logs, name, "seen", 3) == ["seen one", "seen bad", "seen bad"]
    kinesis.put_record(StreamName=stream, Data=b"four", PartitionKey="k")
    assert _lines(logs, name, "seen", 4)[3:] == ["seen four"]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_kinesis_filters_on_decoded_data(
    lam: Any,
    logs: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    kinesis = client("kinesis")
    stream = unique("ks")
    arn = _active_stream(kinesis, stream, ShardCount=1)
    for value in ("hot", "cold", "hot"):
        kinesis.put_record(
            StreamName=stream, Data=json.dumps({"temp": value}).encode(), PartitionKey="k"
        )
    kinesis.put_record(StreamName=stream, Data=b"not json", PartitionKey="k")
    name = make_function({"app.py": RECORDER})
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        StartingPosition="TRIM_HORIZON",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"temp": ["hot"]}})}]},
    )
    seen = _lines(logs, name, "got", 2)
    time.sleep(1.0)  # nothing else arrives
    seen = _lines(logs, name, "got", 2)
    data = [base64.b64decode(json.loads(s.split(" ", 1)[1])["kinesis"]["data"]) for s in seen]
    assert data == [b'{"temp": "hot"}', b'{"temp": "hot"}']
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_kinesis_consumer_arn_as_the_source(
    lam: Any,
    logs: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    kinesis = client("kinesis")
    stream = unique("ks")
    arn = _active_stream(kinesis, stream, ShardCount=1)
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="efo")["Consumer"]
    kinesis.put_record(StreamName=stream, Data=b"fan-out", PartitionKey="k")
    name = make_function({"app.py": RECORDER})
    mapping = lam.create_event_source_mapping(
        EventSourceArn=consumer["ConsumerARN"], FunctionName=name, StartingPosition="TRIM_HORIZON"
    )
    seen = _lines(logs, name, "got", 1)
    record = json.loads(seen[0].split(" ", 1)[1])
    assert base64.b64decode(record["kinesis"]["data"]) == b"fan-out"
    assert record["eventSourceARN"] == consumer["ConsumerARN"]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_kinesis_children_are_read_after_their_parent(
    lam: Any,
    logs: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    kinesis = client("kinesis")
    stream = unique("ks")
    arn = _active_stream(kinesis, stream, ShardCount=1)
    kinesis.put_record(StreamName=stream, Data=b"parent", PartitionKey="k")
    kinesis.split_shard(
        StreamName=stream, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127)
    )
    for _ in range(100):
        status = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        if status["StreamStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    kinesis.put_record(StreamName=stream, Data=b"child", PartitionKey="k")
    name = make_function({"app.py": RECORDER})
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON"
    )
    seen = _lines(logs, name, "got", 2)
    data = [base64.b64decode(json.loads(s.split(" ", 1)[1])["kinesis"]["data"]) for s in seen]
    assert data == [b"parent", b"child"]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


@pytest.mark.clock
def test_kinesis_from_a_timestamp_in_parallel_lanes_keeping_each_key_in_order(
    lam: Any,
    logs: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
    endpoint: str,
) -> None:
    kinesis = client("kinesis")
    stream = unique("ks")
    arn = _active_stream(kinesis, stream, ShardCount=1)
    kinesis.put_record(StreamName=stream, Data=b"old", PartitionKey="a")
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 60}, timeout=10)
    start = requests.get(f"{endpoint}/_nubes/clock", timeout=10).json()["now"]
    for i in range(3):
        for key in "abcd":
            kinesis.put_record(StreamName=stream, Data=f"{key}{i}".encode(), PartitionKey=key)
    name = make_function({"app.py": RECORDER})
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        StartingPosition="AT_TIMESTAMP",
        StartingPositionTimestamp=start,
        ParallelizationFactor=4,
        MaximumBatchingWindowInSeconds=1,
    )
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 2}, timeout=10)
    seen = _lines(logs, name, "got", 12)
    data = [
        base64.b64decode(json.loads(s.split(" ", 1)[1])["kinesis"]["data"]).decode() for s in seen
    ]
    assert sorted(data) == sorted(f"{key}{i}" for i in range(3) for key in "abcd")
    for key in "abcd":
        assert [d for d in data if d[0] == key] == [f"{key}0", f"{key}1", f"{key}2"]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


@pytest.mark.clock
def test_records_older_than_the_maximum_age_go_to_the_destination(
    lam: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
    endpoint: str,
) -> None:
    kinesis, sqs = client("kinesis"), client("sqs")
    stream = unique("ks")
    arn = _active_stream(kinesis, stream, ShardCount=1)
    failures, failures_arn = _queue(sqs, unique("kold"))
    kinesis.put_record(StreamName=stream, Data=b"stale", PartitionKey="k")
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 120}, timeout=10)
    name = make_function({"app.py": RECORDER})
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        StartingPosition="TRIM_HORIZON",
        MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 2}, timeout=10)
    got = sqs.receive_message(QueueUrl=failures, WaitTimeSeconds=20).get("Messages")
    assert got
    record = json.loads(got[0]["Body"])
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["KinesisBatchInfo"]["batchSize"] == 1
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


@pytest.mark.clock
def test_mapping_states_as_aws_reports_them(
    lam: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
    endpoint: str,
) -> None:
    def settle() -> None:
        requests.post(f"{endpoint}/_nubes/clock", json={"advance": 2}, timeout=10)

    kinesis = client("kinesis")
    arn = _active_stream(kinesis, unique("ks"), ShardCount=1)
    name = make_function({"app.py": RECORDER})
    created = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, StartingPosition="LATEST"
    )
    uuid = created["UUID"]
    assert created["State"] == "Creating"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Creating"
    settle()
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    assert lam.update_event_source_mapping(UUID=uuid, BatchSize=50)["State"] == "Updating"
    settle()
    disabling = lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert disabling["State"] == "Disabling"
    assert disabling["StateTransitionReason"] == "USER_INITIATED"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabling"
    settle()
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    settle()
    current = lam.get_event_source_mapping(UUID=uuid)
    assert current["State"] == "Enabled" and current["BatchSize"] == 50
    assert lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["State"] for m in listed] == ["Deleting"]
    with pytest.raises(ClientError) as err:
        lam.delete_event_source_mapping(UUID=uuid)
    assert err.value.response["Error"]["Code"] == "ResourceInUseException"
    # A new mapping of the same source may be made while the old one is going.
    again = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, StartingPosition="LATEST", Enabled=False
    )
    settle()
    with pytest.raises(ClientError) as err:
        lam.get_event_source_mapping(UUID=uuid)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert lam.get_event_source_mapping(UUID=again["UUID"])["State"] == "Disabled"
    lam.delete_event_source_mapping(UUID=again["UUID"])


def test_kinesis_mapping_validation(
    lam: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    name = make_function({"app.py": RECORDER})
    missing = f"arn:aws:kinesis:us-east-1:000000000000:stream/{unique('none')}"
    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(
            EventSourceArn=missing, FunctionName=name, StartingPosition="LATEST"
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    arn = _active_stream(client("kinesis"), unique("ks"), ShardCount=1)
    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(
            EventSourceArn=f"{arn}/consumer/none:1", FunctionName=name, StartingPosition="LATEST"
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    for extra in (
        {"StartingPosition": "AT_TIMESTAMP"},
        {"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 30},
        {},
    ):
        with pytest.raises(ClientError) as err:
            lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, **extra)
        assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    made = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        StartingPosition="AT_TIMESTAMP",
        StartingPositionTimestamp=time.time(),
        ParallelizationFactor=4,
    )
    assert made["ParallelizationFactor"] == 4
    assert made["StartingPositionTimestamp"]
    lam.delete_event_source_mapping(UUID=made["UUID"])


def test_kinesis_mapping_resumes_after_a_kill_without_repeating(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    server = nubes_factory(persistent=True)
    kinesis, lam, logs = (server.client(s) for s in ("kinesis", "lambda", "logs"))
    arn = _active_stream(kinesis, "durable", ShardCount=1)
    lam.create_function(
        FunctionName="reader",
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": zipped({"app.py": RECORDER})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="reader")
    uuid = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="reader", StartingPosition="TRIM_HORIZON"
    )["UUID"]
    kinesis.put_record(StreamName="durable", Data=b"before", PartitionKey="k")
    assert len(_lines(logs, "reader", "got", 1)) == 1
    # The position is saved with the batch's result, once the function has returned.
    deadline = time.monotonic() + 30
    while lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] != "OK":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    server.kill()
    restarted = NubesProcess(server.data_dir, port=server.port).start()
    try:
        restarted.client("kinesis").put_record(
            StreamName="durable", Data=b"after", PartitionKey="k"
        )
        seen = _lines(restarted.client("logs"), "reader", "got", 2)
        data = [base64.b64decode(json.loads(s.split(" ", 1)[1])["kinesis"]["data"]) for s in seen]
        assert data == [b"before", b"after"]
    finally:
        restarted.stop()
