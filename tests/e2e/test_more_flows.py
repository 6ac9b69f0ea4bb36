"""More everyday flows: presigned POST forms, CLI copies, FIFO queues with a dead-letter queue,
Lambda logs and S3-triggered functions, paginators, and a restart with work in flight."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.e2e.conftest import make_function, receive, wait_for
from tests.server import NubesProcess


def test_presigned_post_form_upload(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    s3 = client("s3")
    bucket = unique("forms")
    s3.create_bucket(Bucket=bucket)
    post = s3.generate_presigned_post(
        bucket,
        "uploads/${filename}",
        Fields={"Content-Type": "text/plain"},
        Conditions=[{"Content-Type": "text/plain"}, ["content-length-range", 1, 1024]],
        ExpiresIn=300,
    )
    fields = {**post["fields"], "file": ("notes.txt", b"form body", "text/plain")}
    answer = urllib3.PoolManager().request("POST", post["url"], fields=fields)
    assert answer.status == 204, answer.data
    got = s3.get_object(Bucket=bucket, Key="uploads/notes.txt")
    assert got["Body"].read() == b"form body"
    too_big = {**post["fields"], "file": ("big.txt", b"x" * 2048, "text/plain")}
    refused = urllib3.PoolManager().request("POST", post["url"], fields=too_big)
    assert refused.status == 400
    assert b"EntityTooLarge" in refused.data


def test_s3_everyday_object_operations(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    s3 = client("s3")
    bucket = unique("objs")
    s3.create_bucket(Bucket=bucket)
    for key in ("a/1.txt", "a/2.txt", "b/3.txt", "top.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode(), Metadata={"origin": "test"})
    listing = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in listing["CommonPrefixes"]] == ["a/", "b/"]
    assert [o["Key"] for o in listing["Contents"]] == ["top.txt"]
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 1}
    )
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == [
        "a/1.txt",
        "a/2.txt",
        "b/3.txt",
        "top.txt",
    ]
    s3.copy_object(Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "top.txt"})
    copied = s3.get_object(Bucket=bucket, Key="copy.txt")
    assert copied["Body"].read() == b"top.txt"
    assert copied["Metadata"] == {"origin": "test"}
    ranged = s3.get_object(Bucket=bucket, Key="top.txt", Range="bytes=0-2")
    assert ranged["Body"].read() == b"top" and ranged["ContentRange"] == "bytes 0-2/7"
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="nope")
    assert missing.value.response["Error"]["Code"] == "404"
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="nope")
    deleted = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "a/1.txt"}, {"Key": "a/2.txt"}]}
    )
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["a/1.txt", "a/2.txt"]
    s3.get_waiter("object_not_exists").wait(Bucket=bucket, Key="a/1.txt")
    with pytest.raises(ClientError) as not_empty:
        s3.delete_bucket(Bucket=bucket)
    assert not_empty.value.response["Error"]["Code"] == "BucketNotEmpty"


def test_aws_cli_cp_large_file_and_recursive_remove(
    client: Callable[..., Any], endpoint: str, unique: Callable[[str], str], tmp_path: Path
) -> None:
    bucket = unique("cli-cp")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    def aws(*args: str) -> str:
        done = subprocess.run(
            ["aws", "--endpoint-url", endpoint, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    aws("s3", "mb", f"s3://{bucket}")
    data = os.urandom(12 * 1024 * 1024)
    (tmp_path / "big.bin").write_bytes(data)
    aws("s3", "cp", str(tmp_path / "big.bin"), f"s3://{bucket}/data/big.bin")
    head = client("s3").head_object(Bucket=bucket, Key="data/big.bin")
    assert head["ContentLength"] == len(data) and "-" in head["ETag"]
    aws("s3", "cp", f"s3://{bucket}/data/big.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    aws("s3", "cp", f"s3://{bucket}/data/big.bin", f"s3://{bucket}/data/copy.bin")
    assert client("s3").head_object(Bucket=bucket, Key="data/copy.bin")["ContentLength"] == len(
        data
    )
    presigned = aws("s3", "presign", f"s3://{bucket}/data/copy.bin").strip()
    fetched = urllib3.PoolManager().request("GET", presigned)
    assert fetched.status == 200, fetched.data
    assert fetched.data == data
    aws("s3", "rm", f"s3://{bucket}", "--recursive")
    assert client("s3").list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    aws("s3", "rb", f"s3://{bucket}")
    with pytest.raises(ClientError):
        client("s3").head_bucket(Bucket=bucket)


def test_fifo_queue_with_dead_letter_queue(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sqs = client("sqs")
    dlq = sqs.create_queue(QueueName=unique("dlq") + ".fifo", Attributes={"FifoQueue": "true"})
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    url = sqs.create_queue(
        QueueName=unique("orders") + ".fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}),
        },
    )["QueueUrl"]
    for body in ("first", "second", "first"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["first", "second"]
    # Received once and not deleted: the next receive moves them to the dead-letter queue.
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
    dead = [m["Body"] for m in receive(sqs, dlq["QueueUrl"], 2)]
    assert dead == ["first", "second"]
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq["QueueUrl"])["queueUrls"]
    assert sources == [url]


LOGGING = """
import json

def handler(event, context):
    print("processing", json.dumps(event))
    return {"request": context.aws_request_id, "name": context.function_name}
"""


def test_lambda_logs_and_tail(client: Callable[..., Any], unique: Callable[[str], str]) -> None:
    lam, logs = client("lambda"), client("logs")
    fn = unique("logger")
    make_function(lam, fn, LOGGING)
    out = lam.invoke(FunctionName=fn, Payload=b'{"id": 7}', LogType="Tail")
    result = json.loads(out["Payload"].read())
    assert result["name"] == fn
    tail = base64.b64decode(out["LogResult"]).decode()
    assert 'processing {"id": 7}' in tail and f"RequestId: {result['request']}" in tail
    group = f"/aws/lambda/{fn}"

    def logged() -> list[str]:
        events = logs.filter_log_events(logGroupName=group, filterPattern="processing")
        return [e["message"] for e in events["events"]]

    assert any('{"id": 7}' in m for m in wait_for(logged))
    lam.update_function_configuration(FunctionName=fn, Environment={"Variables": {"STAGE": "dev"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    config = lam.get_function_configuration(FunctionName=fn)
    assert config["Environment"]["Variables"] == {"STAGE": "dev"}
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=unique("missing"))


RAISES = """
def handler(event, context):
    raise ValueError("bad input")
"""


def test_lambda_error_and_async_invoke(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    lam = client("lambda")
    fn = unique("raises")
    make_function(lam, fn, RAISES)
    out = lam.invoke(FunctionName=fn, Payload=b"{}")
    assert out["FunctionError"] == "Unhandled"
    error = json.loads(out["Payload"].read())
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "bad input"
    queued = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b"{}")
    assert queued["StatusCode"] == 202


def test_restart_with_work_in_flight(
    nubes_factory: Callable[..., NubesProcess], unique: Callable[[str], str]
) -> None:
    server = nubes_factory(persistent=True)
    s3, sqs = server.client("s3"), server.client("sqs")
    bucket = unique("mpu")
    s3.create_bucket(Bucket=bucket)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    part = s3.upload_part(
        Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"a" * (5 * 1024 * 1024)
    )["ETag"]
    url = sqs.create_queue(QueueName=unique("inflight"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    held = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"][0]
    server.kill()
    again = NubesProcess(server.data_dir, port=server.port).start()
    try:
        s3, sqs = again.client("s3"), again.client("sqs")
        listed = s3.list_parts(Bucket=bucket, Key="big", UploadId=upload)["Parts"]
        assert [p["ETag"] for p in listed] == [part]
        last = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=2, Body=b"b")
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="big",
            UploadId=upload,
            MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": part}, {"PartNumber": 2, "ETag": last["ETag"]}]
            },
        )
        assert s3.head_object(Bucket=bucket, Key="big")["ContentLength"] == 5 * 1024 * 1024 + 1
        # Still invisible after the restart; its receipt handle still deletes it.
        assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
        sqs.delete_message(QueueUrl=url, ReceiptHandle=held["ReceiptHandle"])
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    finally:
        again.stop()


S3_TRIGGER = """
import boto3
from urllib.parse import unquote_plus

s3 = boto3.client("s3")

def handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.put_object(Bucket=bucket, Key="out/" + key.split("/", 1)[1], Body=body.upper())
"""


def test_s3_upload_triggers_lambda_thumbnailer(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    s3, lam = client("s3"), client("lambda")
    bucket, fn = unique("thumbs"), unique("thumbnailer")
    arn = make_function(lam, fn, S3_TRIGGER)
    s3.create_bucket(Bucket=bucket)
    lam.add_permission(
        FunctionName=fn,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
                }
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="in/hello world.txt", Body=b"shout")

    def converted() -> bytes | None:
        try:
            return bytes(s3.get_object(Bucket=bucket, Key="out/hello world.txt")["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None

    assert wait_for(converted) == b"SHOUT"


def test_sdk_checksums_and_unseekable_streams(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    """Current SDKs send CRC32 checksums by default and stream unseekable bodies aws-chunked."""
    s3 = client("s3")
    bucket = unique("sums")
    s3.create_bucket(Bucket=bucket)
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"hello")["ChecksumCRC32"] == "NhCmhg=="
    sha = base64.b64encode(hashlib.sha256(b"hello").digest()).decode()
    put = s3.put_object(Bucket=bucket, Key="s", Body=b"hello", ChecksumAlgorithm="SHA256")
    assert put["ChecksumSHA256"] == sha
    got = s3.get_object(Bucket=bucket, Key="s", ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == sha and got["Body"].read() == b"hello"
    with pytest.raises(ClientError) as bad:
        s3.put_object(
            Bucket=bucket,
            Key="bad",
            Body=b"hello",
            ChecksumSHA256=base64.b64encode(b"0" * 32).decode(),
        )
    assert bad.value.response["Error"]["Code"] == "BadDigest"

    class Unseekable(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            chunk = self.data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    data = os.urandom(9 * 1024 * 1024)
    s3.upload_fileobj(io.BufferedReader(Unseekable(data)), bucket, "stream")
    assert s3.get_object(Bucket=bucket, Key="stream")["Body"].read() == data
