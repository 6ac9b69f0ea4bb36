"""IAM enforcement as teams use it: users with access keys and managed policies, a public
website bucket read anonymously, and wrong secrets refused."""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3
import pytest
import urllib3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.server import NubesProcess


def test_users_keys_managed_policies_and_public_bucket(
    nubes_factory: Callable[..., NubesProcess], unique: Callable[[str], str]
) -> None:
    server = nubes_factory(persistent=False, env={"NUBES_ENFORCE_IAM": "1"})
    iam, s3 = server.client("iam"), server.client("s3")
    user = unique("dev")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    creds = {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }
    dev_sqs = server.client("sqs", **creds)
    with pytest.raises(ClientError) as denied:
        dev_sqs.create_queue(QueueName=unique("q"))
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
    assert f"user/{user} is not authorized to perform: sqs:CreateQueue" in str(denied.value)
    group = unique("devs")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.attach_group_policy(
        GroupName=group, PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess"
    )
    url = dev_sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    dev_sqs.send_message(QueueUrl=url, MessageBody="allowed")
    with pytest.raises(ClientError):
        server.client("s3", **creds).list_buckets()
    wrong = server.client(
        "sqs", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key="not-the-secret"
    )
    with pytest.raises(ClientError) as bad:
        wrong.list_queues()
    assert "Signature" in bad.value.response["Error"]["Code"]
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError):
        dev_sqs.list_queues()

    bucket = unique("site")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>hi</h1>", ContentType="text/html")
    http = urllib3.PoolManager()
    assert http.request("GET", f"{server.endpoint}/{bucket}/index.html").status == 403
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    }
                ],
            }
        ),
    )
    page = http.request("GET", f"{server.endpoint}/{bucket}/index.html")
    assert page.status == 200 and page.data == b"<h1>hi</h1>"
    assert http.request("GET", f"{server.endpoint}/{bucket}").status == 403
    anonymous = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED),
    )
    assert anonymous.get_object(Bucket=bucket, Key="index.html")["Body"].read() == b"<h1>hi</h1>"
    with pytest.raises(ClientError) as no_put:
        anonymous.put_object(Bucket=bucket, Key="defaced.html", Body=b"x")
    assert no_put.value.response["Error"]["Code"] == "AccessDenied"
