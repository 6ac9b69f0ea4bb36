"""Under IAM enforcement Firehose writes to S3 with the destination's role: what the role may not
do fails (and is retried), and succeeds once the role is allowed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.firehose.conftest import wait_for_objects
from tests.server import NubesProcess

OWNER = "111111111111"


@pytest.fixture(scope="module")
def server() -> Iterator[NubesProcess]:
    process = NubesProcess(env={"NUBES_ENFORCE_IAM": "1"}).start()
    yield process
    process.stop()


def test_delivery_needs_the_role_to_allow_put_object(server: NubesProcess) -> None:
    def client(service: str) -> Any:
        return server.client(service, aws_access_key_id=OWNER, aws_secret_access_key="test")

    iam, s3, firehose, cloudwatch = (client(s) for s in ("iam", "s3", "firehose", "cloudwatch"))
    s3.create_bucket(Bucket="role-bucket")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "firehose.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="hose", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    firehose.create_delivery_stream(
        DeliveryStreamName="guarded",
        ExtendedS3DestinationConfiguration={
            "RoleARN": role["Arn"],
            "BucketARN": "arn:aws:s3:::role-bucket",
            "BufferingHints": {"IntervalInSeconds": 0},
        },
    )
    for _ in range(100):
        desc = firehose.describe_delivery_stream(DeliveryStreamName="guarded")
        if desc["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    firehose.put_record(DeliveryStreamName="guarded", Record={"Data": b"guarded"})
    # The failed attempt shows as DeliveryToS3.Success 0.
    deadline = time.monotonic() + 20
    while True:
        got = cloudwatch.get_metric_statistics(
            Namespace="AWS/Firehose",
            MetricName="DeliveryToS3.Success",
            Dimensions=[{"Name": "DeliveryStreamName", "Value": "guarded"}],
            StartTime=time.time() - 3600,
            EndTime=time.time() + 3600,
            Period=60,
            Statistics=["Minimum"],
        )["Datapoints"]
        if got or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got and got[0]["Minimum"] == 0
    assert "Contents" not in s3.list_objects_v2(Bucket="role-bucket")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::role-bucket/*"}
        ],
    }
    iam.put_role_policy(RoleName="hose", PolicyName="write", PolicyDocument=json.dumps(policy))
    [obj] = wait_for_objects(s3, "role-bucket")
    assert s3.get_object(Bucket="role-bucket", Key=obj["Key"])["Body"].read() == b"guarded"
