"""Application flows: uploads by presigned URL and multipart transfer, `aws s3 sync`, an SQS
worker loop, the DynamoDB resource API, and STS role credentials under IAM enforcement."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3
from boto3.dynamodb.conditions import Attr, Key
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.server import NubesProcess


def test_presigned_put_then_get_by_another_client(
    client: Callable[..., Any], endpoint: str, unique: Callable[[str], str]
) -> None:
    bucket = unique("share")
    client("s3").create_bucket(Bucket=bucket)
    uploader = client("s3", aws_access_key_id="uploader", aws_secret_access_key="secret")
    put_url = uploader.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": "photos/me.jpg", "ContentType": "image/jpeg"},
        ExpiresIn=300,
    )
    http = urllib3.PoolManager()
    put = http.request("PUT", put_url, body=b"\xff\xd8jpeg", headers={"Content-Type": "image/jpeg"})
    assert put.status == 200, put.data
    reader = client("s3", aws_access_key_id="reader", aws_secret_access_key="other")
    get_url = reader.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "photos/me.jpg"}, ExpiresIn=60
    )
    got = http.request("GET", get_url)
    assert got.status == 200
    assert got.data == b"\xff\xd8jpeg"
    assert got.headers["Content-Type"] == "image/jpeg"
    head = reader.head_object(Bucket=bucket, Key="photos/me.jpg")
    assert head["ContentLength"] == 6


def test_multipart_transfer_of_a_20_mib_file(
    client: Callable[..., Any], unique: Callable[[str], str], tmp_path: Path
) -> None:
    s3 = client("s3")
    bucket = unique("big")
    s3.create_bucket(Bucket=bucket)
    source = tmp_path / "big.bin"
    data = os.urandom(20 * 1024 * 1024)
    source.write_bytes(data)
    config = TransferConfig(
        multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024
    )
    s3.upload_file(str(source), bucket, "backups/big.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="backups/big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    target = tmp_path / "back.bin"
    s3.download_file(bucket, "backups/big.bin", str(target), Config=config)
    assert target.read_bytes() == data


def test_aws_cli_s3_sync_round_trip(
    client: Callable[..., Any], endpoint: str, unique: Callable[[str], str], tmp_path: Path
) -> None:
    bucket = unique("sync")
    client("s3").create_bucket(Bucket=bucket)
    site = tmp_path / "site"
    (site / "css").mkdir(parents=True)
    (site / "index.html").write_text("<h1>hi</h1>")
    (site / "css" / "main.css").write_text("body{}")
    (site / "with space.txt").write_text("spaced")
    # Files made long before the sync, as on a real disk: sync compares modification times.
    for path in site.rglob("*.*"):
        os.utime(path, (path.stat().st_mtime - 3600,) * 2)

    def aws(*args: str) -> str:
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
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

    aws("s3", "sync", str(site), f"s3://{bucket}/www")
    keys = sorted(o["Key"] for o in client("s3").list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["www/css/main.css", "www/index.html", "www/with space.txt"]
    assert "upload" not in aws("s3", "sync", str(site), f"s3://{bucket}/www")
    (site / "index.html").write_text("<h1>changed</h1>")
    assert "index.html" in aws("s3", "sync", str(site), f"s3://{bucket}/www")
    back = tmp_path / "back"
    aws("s3", "sync", f"s3://{bucket}/www", str(back))
    assert (back / "index.html").read_text() == "<h1>changed</h1>"
    assert (back / "css" / "main.css").read_text() == "body{}"
    assert (back / "with space.txt").read_text() == "spaced"
    listing = aws("s3", "ls", f"s3://{bucket}/www/")
    assert "index.html" in listing and "PRE css/" in listing


def test_sqs_worker_loop_with_long_polling_and_visibility_extension(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(
        QueueName=unique("work"), Attributes={"ReceiveMessageWaitTimeSeconds": "1"}
    )["QueueUrl"]
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"task {i}"} for i in range(10)]
    )
    done: list[str] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=5,
            WaitTimeSeconds=1,
            VisibilityTimeout=30,
            AttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            # A slow task asks for more time before the message would reappear.
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=120
            )
            assert message["Attributes"]["ApproximateReceiveCount"] == "1"
            done.append(message["Body"])
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in messages],
        )
    assert sorted(done) == sorted(f"task {i}" for i in range(10))
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_dynamodb_resource_api(endpoint: str, unique: Callable[[str], str]) -> None:
    resource = boto3.resource(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    table = resource.create_table(
        TableName=unique("music"),
        KeySchema=[
            {"AttributeName": "artist", "KeyType": "HASH"},
            {"AttributeName": "song", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "artist", "AttributeType": "S"},
            {"AttributeName": "song", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    table.wait_until_exists()
    table.put_item(Item={"artist": "Ana", "song": "Alpha", "year": 2001, "tags": {"pop"}})
    with table.batch_writer() as batch:
        for i in range(100):
            batch.put_item(Item={"artist": "Bo", "song": f"s{i:03d}", "year": 1990 + i % 20})
    found = table.query(
        KeyConditionExpression=Key("artist").eq("Bo") & Key("song").between("s010", "s019"),
        FilterExpression=Attr("year").gte(2005),
    )
    assert [i["song"] for i in found["Items"]] == ["s015", "s016", "s017", "s018", "s019"]
    assert found["ScannedCount"] == 10
    pages, items, start = 0, 0, None
    while True:
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("artist").eq("Bo"), "Limit": 30}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = table.query(**kwargs)
        pages, items = pages + 1, items + len(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert items == 100 and pages >= 4
    ana = table.get_item(Key={"artist": "Ana", "song": "Alpha"})["Item"]
    assert ana["year"] == 2001 and ana["tags"] == {"pop"}
    table.update_item(
        Key={"artist": "Ana", "song": "Alpha"},
        UpdateExpression="SET plays = if_not_exists(plays, :zero) + :one",
        ExpressionAttributeValues={":zero": 0, ":one": 1},
    )

    client = resource.meta.client
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": table.name,
                    "Key": {"artist": "Ana", "song": "Alpha"},
                    "UpdateExpression": "SET plays = plays + :one",
                    "ConditionExpression": "plays = :one",
                    "ExpressionAttributeValues": {":one": 1},
                }
            },
            {"Put": {"TableName": table.name, "Item": {"artist": "Ana", "song": "Beta"}}},
        ]
    )
    assert table.get_item(Key={"artist": "Ana", "song": "Alpha"})["Item"]["plays"] == 2
    with pytest.raises(ClientError) as caught:
        client.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": table.name, "Key": {"artist": "Ana", "song": "Beta"}}},
                {
                    "ConditionCheck": {
                        "TableName": table.name,
                        "Key": {"artist": "Ana", "song": "Alpha"},
                        "ConditionExpression": "plays = :n",
                        "ExpressionAttributeValues": {":n": 99},
                    }
                },
            ]
        )
    error = caught.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in error["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert "Item" in table.get_item(Key={"artist": "Ana", "song": "Beta"})
    got = client.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": table.name, "Key": {"artist": "Ana", "song": "Alpha"}}},
            {"Get": {"TableName": table.name, "Key": {"artist": "Ana", "song": "Nope"}}},
        ]
    )["Responses"]
    assert got[0]["Item"]["plays"] == 2 and got[1] == {}


TRUST_ACCOUNT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def test_assume_role_credentials_under_iam_enforcement(
    nubes_factory: Callable[..., NubesProcess], unique: Callable[[str], str]
) -> None:
    server = nubes_factory(persistent=False, env={"NUBES_ENFORCE_IAM": "1"})
    iam, admin_s3, admin_ddb = server.client("iam"), server.client("s3"), server.client("dynamodb")
    bucket, table, role = unique("app"), unique("app"), unique("app-role")
    admin_s3.create_bucket(Bucket=bucket)
    admin_ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_ACCOUNT)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role,
        PolicyName="app",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:PutObject"],
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["dynamodb:PutItem", "dynamodb:GetItem"],
                        "Resource": f"arn:aws:dynamodb:us-east-1:000000000000:table/{table}",
                    },
                ],
            }
        ),
    )
    creds = server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="app")["Credentials"]
    session = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    identity = server.client("sts", **session).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::000000000000:assumed-role/{role}/app"
    s3, ddb = server.client("s3", **session), server.client("dynamodb", **session)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}}
    with pytest.raises(ClientError) as denied:
        s3.delete_object(Bucket=bucket, Key="k")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as denied_ddb:
        ddb.delete_table(TableName=table)
    assert denied_ddb.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as unsigned:
        server.client(
            "s3",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
        ).list_buckets()
    assert unsigned.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert admin_s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
