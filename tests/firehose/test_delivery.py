"""Delivery to S3: buffering by size and by the clock, object keys, prefixes, compression,
processors (delimiter, Lambda) and a Kinesis data stream as the source."""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import time
import zipfile
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from nubes.services.firehose import codecs
from tests.firehose.conftest import ROLE, wait_for_objects
from tests.lambda_.conftest import zipped

pytestmark = pytest.mark.clock

KEY = re.compile(
    r"^(\d{4})/(\d{2})/(\d{2})/(\d{2})/(?P<name>.+)-1-"
    r"(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-[0-9a-f-]{36}(?P<ext>\.\w+)?$"
)


def _body(s3: Any, bucket: str, key: str) -> bytes:
    data: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def test_interval_delivers_records_as_sent(
    firehose: Any, s3: Any, bucket: str, hose: Callable[..., str], advance: Callable[[float], None]
) -> None:
    name = hose(BufferingHints={"IntervalInSeconds": 60, "SizeInMBs": 5})
    firehose.put_record(DeliveryStreamName=name, Record={"Data": b"one"})
    firehose.put_record_batch(
        DeliveryStreamName=name, Records=[{"Data": b"two"}, {"Data": b"three"}]
    )
    advance(61)
    [obj] = wait_for_objects(s3, bucket)
    match = KEY.match(obj["Key"])
    assert match is not None, obj["Key"]
    assert match["name"] == name
    assert match["ext"] is None
    assert _body(s3, bucket, obj["Key"]) == b"onetwothree"


def test_size_delivers_without_waiting_for_the_interval(
    firehose: Any, s3: Any, bucket: str, hose: Callable[..., str]
) -> None:
    name = hose(BufferingHints={"IntervalInSeconds": 900, "SizeInMBs": 1})
    chunk = b"x" * 600_000
    firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": chunk}] * 2)
    objects = wait_for_objects(s3, bucket)
    assert objects, "a full buffer is delivered at once"
    assert _body(s3, bucket, objects[0]["Key"]).startswith(chunk)


def test_custom_prefix_delimiter_and_gzip(
    firehose: Any, s3: Any, bucket: str, hose: Callable[..., str], advance: Callable[[float], None]
) -> None:
    name = hose(
        Prefix="app/year=!{timestamp:yyyy}/r=!{firehose:random-string}/",
        ErrorOutputPrefix="errors/!{firehose:error-output-type}/",
        CompressionFormat="GZIP",
        BufferingHints={"IntervalInSeconds": 0},
        ProcessingConfiguration={
            "Enabled": True,
            "Processors": [{"Type": "AppendDelimiterToRecord"}],
        },
    )
    firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"a"}, {"Data": b"b"}])
    advance(1)
    [obj] = wait_for_objects(s3, bucket)
    assert re.match(
        r"^app/year=\d{4}/r=[a-z0-9]{11}/" + re.escape(name) + r"-1-.*\.gz$", obj["Key"]
    )
    assert gzip.decompress(_body(s3, bucket, obj["Key"])) == b"a\nb\n"


@pytest.mark.parametrize("fmt", ["ZIP", "Snappy", "HADOOP_SNAPPY"])
def test_other_compressions(
    firehose: Any,
    s3: Any,
    bucket: str,
    hose: Callable[..., str],
    advance: Callable[[float], None],
    fmt: str,
) -> None:
    name = hose(CompressionFormat=fmt, BufferingHints={"IntervalInSeconds": 0})
    firehose.put_record(DeliveryStreamName=name, Record={"Data": b"hello"})
    advance(1)
    [obj] = wait_for_objects(s3, bucket)
    body = _body(s3, bucket, obj["Key"])
    if fmt == "ZIP":
        assert obj["Key"].endswith(".zip")
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            [entry] = archive.namelist()
            assert archive.read(entry) == b"hello"
    elif fmt == "Snappy":
        assert body.startswith(b"\xff\x06\x00\x00sNaPpY")
        assert body.endswith(b"hello")
    else:
        assert body == b"\x00\x00\x00\x05\x00\x00\x00\x07\x05\x10hello"


def test_codec_checksum_is_crc32c() -> None:
    assert codecs.crc32c(b"123456789") == 0xE3069283


TRANSFORM = """
import base64, json

def handler(event, context):
    out = []
    for r in event["records"]:
        data = base64.b64decode(r["data"])
        if data == b"drop":
            out.append({"recordId": r["recordId"], "result": "Dropped"})
        elif data == b"fail":
            out.append({"recordId": r["recordId"], "result": "ProcessingFailed"})
        else:
            up = base64.b64encode(data.upper() + b"\\n").decode()
            out.append({"recordId": r["recordId"], "result": "Ok", "data": up})
    return {"records": out}
"""


def test_lambda_transformation_and_failed_records(
    firehose: Any,
    s3: Any,
    bucket: str,
    hose: Callable[..., str],
    advance: Callable[[float], None],
    client: Callable[..., Any],
    unique: Callable[[str], str],
) -> None:
    lam = client("lambda")
    fn = unique("transform")
    arn = lam.create_function(
        FunctionName=fn,
        Runtime="python3.12",
        Handler="app.handler",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Code={"ZipFile": zipped({"app.py": TRANSFORM})},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=fn)
    try:
        name = hose(
            Prefix="ok/",
            BufferingHints={"IntervalInSeconds": 0},
            ProcessingConfiguration={
                "Enabled": True,
                "Processors": [
                    {
                        "Type": "Lambda",
                        "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": arn}],
                    }
                ],
            },
        )
        firehose.put_record_batch(
            DeliveryStreamName=name,
            Records=[{"Data": b"keep"}, {"Data": b"drop"}, {"Data": b"fail"}, {"Data": b"me"}],
        )
        advance(1)
        objects = wait_for_objects(s3, bucket, count=2)
        [good] = [o for o in objects if o["Key"].startswith("ok/2")]
        assert _body(s3, bucket, good["Key"]) == b"KEEP\nME\n"
        [bad] = [o for o in objects if o["Key"].startswith("ok/processing-failed/")]
        [line] = _body(s3, bucket, bad["Key"]).decode().splitlines()
        failed = json.loads(line)
        assert base64.b64decode(failed["rawData"]) == b"fail"
        assert failed["lambdaArn"] == arn
        assert failed["errorCode"]
    finally:
        lam.delete_function(FunctionName=fn)


def test_kinesis_stream_as_source(
    firehose: Any,
    s3: Any,
    bucket: str,
    client: Callable[..., Any],
    unique: Callable[[str], str],
    advance: Callable[[float], None],
) -> None:
    kinesis = client("kinesis")
    source = unique("src")
    kinesis.create_stream(StreamName=source, ShardCount=1)
    advance(2)
    source_arn = kinesis.describe_stream_summary(StreamName=source)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    name = unique("hose")
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": source_arn, "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE,
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "BufferingHints": {"IntervalInSeconds": 0},
        },
    )
    advance(2)
    desc = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert desc["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"] == source_arn
    with pytest.raises(firehose.exceptions.InvalidArgumentException):
        firehose.put_record(DeliveryStreamName=name, Record={"Data": b"x"})
    kinesis.put_record(StreamName=source, Data=b"from-kinesis", PartitionKey="p")
    advance(1)
    [obj] = wait_for_objects(s3, bucket)
    assert _body(s3, bucket, obj["Key"]) == b"from-kinesis"
    assert firehose.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")[
        "DeliveryStreamNames"
    ]


def test_failed_s3_delivery_is_retried(
    firehose: Any,
    s3: Any,
    unique: Callable[[str], str],
    advance: Callable[[float], None],
) -> None:
    bucket = unique("later").lower()
    name = unique("hose")
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE,
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "BufferingHints": {"IntervalInSeconds": 0},
        },
    )
    advance(2)
    firehose.put_record(DeliveryStreamName=name, Record={"Data": b"kept"})
    advance(1)
    s3.create_bucket(Bucket=bucket)
    advance(6)
    [obj] = wait_for_objects(s3, bucket)
    assert _body(s3, bucket, obj["Key"]) == b"kept"


def test_metrics(
    firehose: Any,
    s3: Any,
    bucket: str,
    hose: Callable[..., str],
    advance: Callable[[float], None],
    client: Callable[..., Any],
    endpoint: str,
) -> None:
    name = hose(BufferingHints={"IntervalInSeconds": 0})
    firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"m"}] * 3)
    advance(1)
    wait_for_objects(s3, bucket)
    advance(120)
    cloudwatch = client("cloudwatch")
    now = requests.get(f"{endpoint}/_nubes/clock", timeout=10).json()["now"]
    deadline = time.monotonic() + 20
    while True:
        got = cloudwatch.get_metric_statistics(
            Namespace="AWS/Firehose",
            MetricName="DeliveryToS3.Records",
            Dimensions=[{"Name": "DeliveryStreamName", "Value": name}],
            StartTime=now - 3600,
            EndTime=now + 60,
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        if got or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sum(p["Sum"] for p in got) == 3
    incoming = cloudwatch.get_metric_statistics(
        Namespace="AWS/Firehose",
        MetricName="IncomingRecords",
        Dimensions=[{"Name": "DeliveryStreamName", "Value": name}],
        StartTime=now - 3600,
        EndTime=now + 60,
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    assert sum(p["Sum"] for p in incoming) == 3


def test_lambda_error_sends_the_records_to_the_error_prefix(
    firehose: Any,
    s3: Any,
    bucket: str,
    hose: Callable[..., str],
    advance: Callable[[float], None],
    client: Callable[..., Any],
    unique: Callable[[str], str],
) -> None:
    lam = client("lambda")
    fn = unique("broken")
    arn = lam.create_function(
        FunctionName=fn,
        Runtime="python3.12",
        Handler="app.handler",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Code={
            "ZipFile": zipped(
                {"app.py": "def handler(event, context):\n    raise ValueError('no')\n"}
            )
        },
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=fn)
    try:
        name = hose(
            Prefix="data/",
            ErrorOutputPrefix="bad/!{firehose:error-output-type}/",
            BufferingHints={"IntervalInSeconds": 0},
            ProcessingConfiguration={
                "Enabled": True,
                "Processors": [
                    {
                        "Type": "Lambda",
                        "Parameters": [
                            {"ParameterName": "LambdaArn", "ParameterValue": arn},
                            {"ParameterName": "NumberOfRetries", "ParameterValue": "0"},
                        ],
                    }
                ],
            },
        )
        firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x"}, {"Data": b"y"}])
        advance(1)
        [obj] = wait_for_objects(s3, bucket)
        assert obj["Key"].startswith("bad/processing-failed/")
        lines = [json.loads(line) for line in _body(s3, bucket, obj["Key"]).splitlines()]
        assert [base64.b64decode(e["rawData"]) for e in lines] == [b"x", b"y"]
        assert {e["errorCode"] for e in lines} == {"Lambda.FunctionError"}
    finally:
        lam.delete_function(FunctionName=fn)


def test_one_object_holds_the_whole_buffer(
    firehose: Any, s3: Any, bucket: str, hose: Callable[..., str], advance: Callable[[float], None]
) -> None:
    name = hose(BufferingHints={"IntervalInSeconds": 60, "SizeInMBs": 5})
    for _ in range(12):
        firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"r"}] * 500)
    advance(61)
    [obj] = wait_for_objects(s3, bucket)
    assert _body(s3, bucket, obj["Key"]) == b"r" * 6000


def test_custom_time_zone(
    firehose: Any, s3: Any, bucket: str, hose: Callable[..., str], advance: Callable[[float], None]
) -> None:
    name = hose(CustomTimeZone="Asia/Kolkata", BufferingHints={"IntervalInSeconds": 0})
    firehose.put_record(DeliveryStreamName=name, Record={"Data": b"tz"})
    advance(1)
    [obj] = wait_for_objects(s3, bucket)
    match = KEY.match(obj["Key"])
    assert match is not None, obj["Key"]
    # The key's time is Kolkata's (UTC+5:30): read as such, it is when the object was written.
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(6, 12))
    stamp = datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo("Asia/Kolkata"))
    assert abs((stamp - obj["LastModified"]).total_seconds()) < 120


def test_s3_backup_keeps_the_source_records(
    firehose: Any, s3: Any, bucket: str, hose: Callable[..., str], advance: Callable[[float], None]
) -> None:
    name = hose(
        Prefix="main/",
        BufferingHints={"IntervalInSeconds": 0},
        ProcessingConfiguration={
            "Enabled": True,
            "Processors": [{"Type": "AppendDelimiterToRecord"}],
        },
        S3BackupMode="Enabled",
        S3BackupConfiguration={
            "RoleARN": ROLE,
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": "raw/",
            "CompressionFormat": "GZIP",
        },
    )
    desc = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    backup = desc["Destinations"][0]["ExtendedS3DestinationDescription"]["S3BackupDescription"]
    assert backup["Prefix"] == "raw/"
    assert backup["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 300}
    firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"a"}, {"Data": b"b"}])
    advance(1)
    objects = wait_for_objects(s3, bucket, count=2)
    [main] = [o for o in objects if o["Key"].startswith("main/")]
    [raw] = [o for o in objects if o["Key"].startswith("raw/")]
    assert _body(s3, bucket, main["Key"]) == b"a\nb\n"
    assert raw["Key"].endswith(".gz")
    assert gzip.decompress(_body(s3, bucket, raw["Key"])) == b"ab"


def test_dynamic_partitioning_by_query(
    firehose: Any, s3: Any, bucket: str, hose: Callable[..., str], advance: Callable[[float], None]
) -> None:
    name = hose(
        Prefix="customer=!{partitionKeyFromQuery:customer}/",
        ErrorOutputPrefix="err/!{firehose:error-output-type}/",
        BufferingHints={"SizeInMBs": 64, "IntervalInSeconds": 0},
        DynamicPartitioningConfiguration={"Enabled": True},
        ProcessingConfiguration={
            "Enabled": True,
            "Processors": [
                {
                    "Type": "MetadataExtraction",
                    "Parameters": [
                        {
                            "ParameterName": "MetadataExtractionQuery",
                            "ParameterValue": "{customer: .who.id}",
                        },
                        {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                    ],
                },
                {"Type": "AppendDelimiterToRecord"},
            ],
        },
    )
    records = [b'{"who": {"id": "a"}, "n": 1}', b'{"who": {"id": "b"}, "n": 2}']
    records += [b'{"who": {"id": "a"}, "n": 3}', b"not json"]
    firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
    advance(1)
    objects = wait_for_objects(s3, bucket, count=3)
    by_prefix = {o["Key"].split("/")[0]: _body(s3, bucket, o["Key"]) for o in objects}
    assert by_prefix["customer=a"] == records[0] + b"\n" + records[2] + b"\n"
    assert by_prefix["customer=b"] == records[1] + b"\n"
    [failed] = by_prefix["err"].splitlines()
    assert base64.b64decode(json.loads(failed)["rawData"]) == b"not json"


def test_dynamic_partitioning_rules(
    firehose: Any, bucket: str, unique: Callable[[str], str]
) -> None:
    base = {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"}
    for config in (
        {
            "Prefix": "k=!{partitionKeyFromQuery:k}/",
            "ErrorOutputPrefix": "e/!{firehose:error-output-type}/",
        },
        {
            "Prefix": "plain/",
            "ErrorOutputPrefix": "e/!{firehose:error-output-type}/",
            "BufferingHints": {"SizeInMBs": 64},
        },
    ):
        with pytest.raises(firehose.exceptions.InvalidArgumentException):
            firehose.create_delivery_stream(
                DeliveryStreamName=unique("dyn"),
                ExtendedS3DestinationConfiguration={
                    **base,
                    **config,
                    "DynamicPartitioningConfiguration": {"Enabled": True},
                },
            )


PARTITIONER = """
import base64, json

def handler(event, context):
    out = []
    for r in event["records"]:
        doc = json.loads(base64.b64decode(r["data"]))
        out.append({
            "recordId": r["recordId"],
            "result": "Ok",
            "data": r["data"],
            "metadata": {"partitionKeys": {"kind": doc["kind"]}},
        })
    return {"records": out}
"""


def test_dynamic_partitioning_by_lambda(
    firehose: Any,
    s3: Any,
    bucket: str,
    hose: Callable[..., str],
    advance: Callable[[float], None],
    client: Callable[..., Any],
    unique: Callable[[str], str],
) -> None:
    lam = client("lambda")
    fn = unique("partitioner")
    arn = lam.create_function(
        FunctionName=fn,
        Runtime="python3.12",
        Handler="app.handler",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Code={"ZipFile": zipped({"app.py": PARTITIONER})},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=fn)
    try:
        name = hose(
            Prefix="kind=!{partitionKeyFromLambda:kind}/",
            ErrorOutputPrefix="err/!{firehose:error-output-type}/",
            BufferingHints={"SizeInMBs": 64, "IntervalInSeconds": 0},
            DynamicPartitioningConfiguration={"Enabled": True},
            ProcessingConfiguration={
                "Enabled": True,
                "Processors": [
                    {
                        "Type": "Lambda",
                        "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": arn}],
                    }
                ],
            },
        )
        records = [b'{"kind": "x"}', b'{"kind": "y"}']
        firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
        advance(1)
        objects = wait_for_objects(s3, bucket, count=2)
        by_prefix = {o["Key"].split("/")[0]: _body(s3, bucket, o["Key"]) for o in objects}
        assert by_prefix == {"kind=x": records[0], "kind=y": records[1]}
    finally:
        lam.delete_function(FunctionName=fn)


def test_objects_carry_the_stream_version(
    firehose: Any, s3: Any, bucket: str, hose: Callable[..., str], advance: Callable[[float], None]
) -> None:
    name = hose(BufferingHints={"IntervalInSeconds": 60})
    firehose.update_destination(
        DeliveryStreamName=name,
        CurrentDeliveryStreamVersionId="1",
        DestinationId="destinationId-000000000001",
        ExtendedS3DestinationUpdate={"Prefix": "v2/", "BufferingHints": {"IntervalInSeconds": 0}},
    )
    firehose.put_record(DeliveryStreamName=name, Record={"Data": b"after"})
    advance(1)
    [obj] = wait_for_objects(s3, bucket)
    assert obj["Key"].startswith("v2/")
    assert f"/{name}-2-" in obj["Key"]
