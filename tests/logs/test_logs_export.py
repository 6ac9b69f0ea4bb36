"""CloudWatch Logs export tasks to S3 (CreateExportTask, DescribeExportTasks,
CancelExportTask), as the API reference and the user guide's "Exporting log data to Amazon S3"
describe them: the bucket policy must let ``logs.<region>.amazonaws.com`` call GetBucketAcl and
PutObject, one active task per account, objects under ``<prefix>/<taskId>/<stream>/``."""

from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import NubesProcess

REGION = "us-east-1"


@pytest.fixture
def account() -> str:
    # Each test its own account: AWS allows one active export task per account.
    return f"{random.randrange(10**11, 10**12)}"


@pytest.fixture
def logs(client: Callable[..., Any], account: str) -> Any:
    return client("logs", aws_access_key_id=account)


@pytest.fixture
def s3(client: Callable[..., Any], account: str) -> Any:
    return client("s3", aws_access_key_id=account)


def bucket_policy(bucket: str, account: str) -> str:
    """The policy the user guide gives for an export bucket."""
    principal = {"Service": f"logs.{REGION}.amazonaws.com"}
    condition = {
        "StringEquals": {"aws:SourceAccount": [account]},
        "ArnLike": {"aws:SourceArn": [f"arn:aws:logs:{REGION}:{account}:log-group:*"]},
    }
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "s3:GetBucketAcl",
                    "Effect": "Allow",
                    "Resource": f"arn:aws:s3:::{bucket}",
                    "Principal": principal,
                    "Condition": condition,
                },
                {
                    "Action": "s3:PutObject",
                    "Effect": "Allow",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                    "Principal": principal,
                    "Condition": {
                        **condition,
                        "StringEquals": {
                            "s3:x-amz-acl": "bucket-owner-full-control",
                            "aws:SourceAccount": [account],
                        },
                    },
                },
            ],
        }
    )


def make_bucket(s3: Any, name: str, account: str, policy: bool = True) -> str:
    s3.create_bucket(Bucket=name)
    if policy:
        s3.put_bucket_policy(Bucket=name, Policy=bucket_policy(name, account))
    return name


def make_group(logs: Any, name: str, streams: dict[str, list[tuple[int, str]]]) -> None:
    logs.create_log_group(logGroupName=name)
    for stream, events in streams.items():
        logs.create_log_stream(logGroupName=name, logStreamName=stream)
        logs.put_log_events(
            logGroupName=name,
            logStreamName=stream,
            logEvents=[{"timestamp": ts, "message": m} for ts, m in events],
        )


def span(start: int, end: int) -> dict[str, int]:
    return {"from": start, "to": end}


def wait_for(logs: Any, task_id: str, codes: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        task = logs.describe_export_tasks(taskId=task_id)["exportTasks"][0]
        if task["status"]["code"] in codes or time.monotonic() > deadline:
            return dict(task)
        time.sleep(0.2)


def test_export_writes_gzip_objects_per_stream(
    logs: Any, s3: Any, account: str, unique: Callable[[str], str]
) -> None:
    now = int(time.time() * 1000)
    group = "/export/" + unique("g")
    make_group(
        logs,
        group,
        {
            "app/one": [(now - 3000, "old"), (now - 2000, "first"), (now - 1000, "second")],
            "app/two": [(now - 1500, "other")],
            "web/one": [(now - 1500, "not in prefix")],
        },
    )
    bucket = make_bucket(s3, unique("export"), account)
    task_id = logs.create_export_task(
        taskName="nightly",
        logGroupName=group,
        logStreamNamePrefix="app/",
        **span(now - 2000, now - 1000),
        destination=bucket,
        destinationPrefix="exports",
    )["taskId"]
    first = logs.describe_export_tasks(taskId=task_id)["exportTasks"][0]
    assert first["status"]["code"] in ("PENDING", "RUNNING", "COMPLETED")
    assert first["taskName"] == "nightly"
    assert first["logGroupName"] == group
    assert (first["from"], first["to"]) == (now - 2000, now - 1000)
    assert first["destination"] == bucket
    assert first["destinationPrefix"] == "exports"
    assert first["executionInfo"]["creationTime"] > 0
    task = wait_for(logs, task_id, ("COMPLETED", "FAILED"))
    assert task["status"]["code"] == "COMPLETED", task["status"]
    assert task["executionInfo"]["completionTime"] >= task["executionInfo"]["creationTime"]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == sorted(
        [
            "exports/aws-logs-write-test",
            f"exports/{task_id}/app/one/000000.gz",
            f"exports/{task_id}/app/two/000000.gz",
        ]
    )
    test_body = s3.get_object(Bucket=bucket, Key="exports/aws-logs-write-test")["Body"].read()
    assert test_body == b"Permission Check Successful"
    one = s3.get_object(Bucket=bucket, Key=f"exports/{task_id}/app/one/000000.gz")
    lines = gzip.decompress(one["Body"].read()).decode().splitlines()
    # Both ends of the range are included; each line is the ISO 8601 time, then the message.
    assert [line.split(" ", 1)[1] for line in lines] == ["first", "second"]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((now - 2000) / 1000))
    assert lines[0] == f"{stamp}.{(now - 2000) % 1000:03d}Z first"


def test_default_prefix_and_describe_filters_and_paging(
    logs: Any, s3: Any, account: str, unique: Callable[[str], str]
) -> None:
    now = int(time.time() * 1000)
    group = unique("g")
    make_group(logs, group, {"s": [(now - 500, "hello")]})
    bucket = make_bucket(s3, unique("export"), account)
    ids = []
    for _ in range(3):
        task_id = logs.create_export_task(
            logGroupName=group, **span(now - 1000, now), destination=bucket
        )["taskId"]
        assert wait_for(logs, task_id, ("COMPLETED",))["status"]["code"] == "COMPLETED"
        ids.append(task_id)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert f"exportedlogs/{ids[0]}/s/000000.gz" in keys
    assert "exportedlogs/aws-logs-write-test" in keys
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = logs.describe_export_tasks(limit=2, **token)
        assert len(page["exportTasks"]) <= 2
        seen += [t["taskId"] for t in page["exportTasks"]]
        if "nextToken" not in page:
            break
        token = {"nextToken": page["nextToken"]}
    assert sorted(seen) == sorted(ids)
    completed = logs.describe_export_tasks(statusCode="COMPLETED")["exportTasks"]
    assert {t["taskId"] for t in completed} == set(ids)
    assert logs.describe_export_tasks(statusCode="RUNNING")["exportTasks"] == []
    assert logs.describe_export_tasks(taskId="no-such-task")["exportTasks"] == []


def test_bucket_must_allow_the_logs_service(
    logs: Any, s3: Any, account: str, unique: Callable[[str], str]
) -> None:
    group = unique("g")
    logs.create_log_group(logGroupName=group)
    bare = make_bucket(s3, unique("bare"), account, policy=False)
    with pytest.raises(ClientError) as exc:
        logs.create_export_task(logGroupName=group, **span(0, 1), destination=bare)
    err = exc.value.response["Error"]
    assert err["Code"] == "InvalidParameterException"
    assert err["Message"] == (
        "GetBucketAcl call on the given bucket failed. Please check if CloudWatch Logs has been "
        "granted permission to perform this operation."
    )
    assert "Contents" not in s3.list_objects_v2(Bucket=bare)
    # A policy for another region's Logs service does not do.
    s3.put_bucket_policy(
        Bucket=bare, Policy=bucket_policy(bare, account).replace(REGION, "eu-west-1")
    )
    with pytest.raises(ClientError) as exc:
        logs.create_export_task(logGroupName=group, **span(0, 1), destination=bare)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.create_export_task(
            logGroupName=group, **span(0, 1), destination=unique("no-such-bucket")
        )
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    assert logs.describe_export_tasks()["exportTasks"] == []


def test_validation_and_missing_group(
    logs: Any, s3: Any, account: str, unique: Callable[[str], str]
) -> None:
    bucket = make_bucket(s3, unique("export"), account)
    with pytest.raises(ClientError) as exc:
        logs.create_export_task(logGroupName=unique("missing"), **span(0, 1), destination=bucket)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    group = unique("g")
    logs.create_log_group(logGroupName=group)
    with pytest.raises(ClientError) as exc:
        logs.create_export_task(logGroupName=group, **span(10, 5), destination=bucket)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.cancel_export_task(taskId="no-such-task")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_one_active_task_per_account_and_cancel(
    logs: Any, s3: Any, account: str, unique: Callable[[str], str]
) -> None:
    group = unique("g")
    logs.create_log_group(logGroupName=group)
    bucket = make_bucket(s3, unique("export"), account)
    first = logs.create_export_task(logGroupName=group, **span(0, 1), destination=bucket)
    task = logs.describe_export_tasks(taskId=first["taskId"])["exportTasks"][0]
    if task["status"]["code"] in ("PENDING", "RUNNING"):
        with pytest.raises(ClientError) as exc:
            logs.create_export_task(logGroupName=group, **span(0, 1), destination=bucket)
        assert exc.value.response["Error"]["Code"] == "LimitExceededException"
        logs.cancel_export_task(taskId=first["taskId"])
        cancelled = logs.describe_export_tasks(taskId=first["taskId"])["exportTasks"][0]
        assert cancelled["status"]["code"] == "CANCELLED"
    else:
        # The task already finished (a busy machine): a finished task cannot be cancelled.
        with pytest.raises(ClientError) as exc:
            logs.cancel_export_task(taskId=first["taskId"])
        assert exc.value.response["Error"]["Code"] == "InvalidOperationException"
    with pytest.raises(ClientError) as exc:
        logs.cancel_export_task(taskId=first["taskId"])
    assert exc.value.response["Error"]["Code"] == "InvalidOperationException"
    second = logs.create_export_task(logGroupName=group, **span(0, 1), destination=bucket)
    assert wait_for(logs, second["taskId"], ("COMPLETED",))["status"]["code"] == "COMPLETED"


def test_task_fails_when_the_bucket_goes_away(
    logs: Any, s3: Any, account: str, unique: Callable[[str], str]
) -> None:
    now = int(time.time() * 1000)
    group = unique("g")
    make_group(logs, group, {"s": [(now - 100, "x")]})
    bucket = make_bucket(s3, unique("export"), account)
    task_id = logs.create_export_task(
        logGroupName=group, **span(now - 1000, now), destination=bucket
    )["taskId"]
    s3.delete_bucket_policy(Bucket=bucket)
    task = wait_for(logs, task_id, ("COMPLETED", "FAILED"))
    if task["status"]["code"] == "FAILED":
        assert "GetBucketAcl" in task["status"]["message"]
    else:
        pytest.skip("the task finished before the policy was removed")


def test_pending_task_finishes_after_a_sigkill(
    nubes_factory: Callable[..., NubesProcess], unique: Callable[[str], str]
) -> None:
    server = nubes_factory(persistent=True)
    account = "210987654321"
    logs = server.client("logs", aws_access_key_id=account)
    s3 = server.client("s3", aws_access_key_id=account)
    now = int(time.time() * 1000)
    make_group(logs, "g", {"s": [(now - 10, "kept")]})
    bucket = make_bucket(s3, unique("export"), account)
    task_id = logs.create_export_task(
        logGroupName="g", **span(now - 1000, now), destination=bucket
    )["taskId"]
    server.kill()
    server.start()
    logs = server.client("logs", aws_access_key_id=account)
    s3 = server.client("s3", aws_access_key_id=account)
    assert wait_for(logs, task_id, ("COMPLETED",))["status"]["code"] == "COMPLETED"
    body = s3.get_object(Bucket=bucket, Key=f"exportedlogs/{task_id}/s/000000.gz")["Body"]
    assert gzip.decompress(body.read()).decode().endswith(" kept\n")
