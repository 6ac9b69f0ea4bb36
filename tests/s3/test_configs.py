"""Bucket and object sub-resources: put, get, delete, and the errors for absent ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import error_of


def missing(call: Any, code: str, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    assert exc.value.response["Error"]["Code"] == code


def test_bucket_tagging(s3: Any, bucket: str) -> None:
    missing(s3.get_bucket_tagging, "NoSuchTagSet", Bucket=bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "env", "Value": "dev"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "env", "Value": "dev"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    missing(s3.get_bucket_tagging, "NoSuchTagSet", Bucket=bucket)


def test_bucket_policy_and_status(s3: Any, bucket: str) -> None:
    missing(s3.get_bucket_policy, "NoSuchBucketPolicy", Bucket=bucket)
    policy = {
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
    missing(s3.put_bucket_policy, "AccessDenied", Bucket=bucket, Policy=json.dumps(policy))
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    missing(s3.put_bucket_policy, "MalformedPolicy", Bucket=bucket, Policy="not json")
    s3.delete_bucket_policy(Bucket=bucket)
    missing(s3.get_bucket_policy, "NoSuchBucketPolicy", Bucket=bucket)


def test_ownership_acl_and_public_access_block(s3: Any, bucket: str) -> None:
    controls = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert controls["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(pab.values()) and len(pab) == 4
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert acl["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert acl["Grants"][0]["Grantee"]["ID"] == acl["Owner"]["ID"]
    missing(s3.put_bucket_acl, "AccessControlListNotSupported", Bucket=bucket, ACL="public-read")
    missing(
        s3.put_object,
        "AccessControlListNotSupported",
        Bucket=bucket,
        Key="k",
        Body=b"x",
        ACL="public-read",
    )
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    missing(s3.put_bucket_acl, "AccessDenied", Bucket=bucket, ACL="public-read")
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={**pab, "BlockPublicAcls": False},
    )
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="authenticated-read")
    object_grants = s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AuthenticatedUsers") for g in object_grants)
    s3.delete_public_access_block(Bucket=bucket)
    missing(s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration", Bucket=bucket)
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    missing(s3.get_bucket_ownership_controls, "OwnershipControlsNotFoundError", Bucket=bucket)


def test_create_bucket_acl_with_enforced_ownership(s3: Any, unique: Any) -> None:
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=unique("bkt"), ACL="public-read")
    assert error_of(exc) == ("InvalidBucketAclWithObjectOwnership", 400)
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=unique("bkt"), ACL="public-read", ObjectOwnership="ObjectWriter")
    assert error_of(exc) == ("AccessDenied", 403)
    name = unique("bkt")
    s3.create_bucket(Bucket=name, ACL="bucket-owner-read", ObjectOwnership="ObjectWriter")
    assert len(s3.get_bucket_acl(Bucket=name)["Grants"]) == 1


def test_encryption_defaults_and_kms(s3: Any, bucket: str, client: Any, unique: Any) -> None:
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    kms = client("kms")
    alias = f"alias/{unique('k')}"
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": alias,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"] == key["Arn"]
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == "aws:kms" and head["BucketKeyEnabled"] is True
    explicit = s3.put_object(Bucket=bucket, Key="k2", Body=b"x", ServerSideEncryption="AES256")
    assert explicit["ServerSideEncryption"] == "AES256"
    s3.delete_bucket_encryption(Bucket=bucket)
    assert s3.put_object(Bucket=bucket, Key="k3", Body=b"x")["ServerSideEncryption"] == "AES256"


def test_lifecycle_website_logging_notifications(s3: Any, bucket: str, unique: Any) -> None:
    missing(s3.get_bucket_lifecycle_configuration, "NoSuchLifecycleConfiguration", Bucket=bucket)
    rules = [
        {
            "ID": "expire",
            "Filter": {"Prefix": "logs/"},
            "Status": "Enabled",
            "Expiration": {"Days": 7},
        }
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == rules
    s3.delete_bucket_lifecycle(Bucket=bucket)
    missing(s3.get_bucket_lifecycle_configuration, "NoSuchLifecycleConfiguration", Bucket=bucket)

    missing(s3.get_bucket_website, "NoSuchWebsiteConfiguration", Bucket=bucket)
    site = {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"}}
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=site)
    got = s3.get_bucket_website(Bucket=bucket)
    assert (
        got["IndexDocument"] == site["IndexDocument"]
        and got["ErrorDocument"] == site["ErrorDocument"]
    )
    s3.delete_bucket_website(Bucket=bucket)

    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)
    target = unique("bkt")
    s3.create_bucket(Bucket=target)
    s3.put_bucket_logging(
        Bucket=bucket,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "l/"}},
    )
    assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]["TargetBucket"] == target

    config = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert "QueueConfigurations" not in config
    queue = {
        "QueueArn": "arn:aws:sqs:us-east-1:000000000000:absent",
        "Events": ["s3:ObjectCreated:*"],
    }
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [queue]}
        )
    assert error_of(exc) == ("InvalidArgument", 400)


def test_notifications_to_sqs(s3: Any, bucket: str, client: Any, unique: Any) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("events"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "created",
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
                }
            ]
        },
    )
    stored = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert stored[0]["QueueArn"] == arn
    s3.put_object(Bucket=bucket, Key="in/a b.txt", Body=b"12345")
    s3.put_object(Bucket=bucket, Key="out/ignored", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="in/a b.txt")
    bodies = []
    for _ in range(5):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        bodies += [json.loads(m["Body"]) for m in got.get("Messages", [])]
        if len(bodies) >= 3:
            break
    assert bodies[0]["Event"] == "s3:TestEvent"
    records = [b["Records"][0] for b in bodies[1:]]
    assert [r["eventName"] for r in records] == ["ObjectCreated:Put", "ObjectRemoved:Delete"]
    created = records[0]["s3"]
    assert created["bucket"]["name"] == bucket
    assert created["object"]["key"] == "in/a+b.txt"
    assert created["object"]["size"] == 5
    assert created["configurationId"] == "created"


def test_request_payment_and_accelerate(s3: Any, bucket: str) -> None:
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    s3.put_bucket_request_payment(Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"})
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "Requester"
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    s3.put_bucket_accelerate_configuration(
        Bucket=bucket, AccelerateConfiguration={"Status": "Enabled"}
    )
    assert s3.get_bucket_accelerate_configuration(Bucket=bucket)["Status"] == "Enabled"


def test_object_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1&b=2")
    assert (
        s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"][
            "x-amz-tagging-count"
        ]
        == "2"
    )
    tags = s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "1"), ("b", "2")]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "c", "Value": "3"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "c", "Value": "3"}]
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    missing(
        s3.put_object_tagging,
        "InvalidTag",
        Bucket=bucket,
        Key="k",
        Tagging={"TagSet": [{"Key": "d", "Value": "1"}, {"Key": "d", "Value": "2"}]},
    )


def test_object_attributes(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"12345")
    out = s3.get_object_attributes(
        Bucket=bucket, Key="k", ObjectAttributes=["ETag", "ObjectSize", "StorageClass", "Checksum"]
    )
    assert out["ObjectSize"] == 5
    assert not out["ETag"].startswith('"')
    assert out["StorageClass"] == "STANDARD"
    assert out["Checksum"]["ChecksumCRC32"]


def test_object_lock(s3: Any, unique: Any) -> None:
    name = unique("bkt")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    config = s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    assert config["ObjectLockEnabled"] == "Enabled"
    until = datetime.now(UTC) + timedelta(days=1)
    v = s3.put_object(
        Bucket=name,
        Key="k",
        Body=b"x",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]
    retention = s3.get_object_retention(Bucket=name, Key="k")["Retention"]
    assert retention["Mode"] == "GOVERNANCE"
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=name, Key="k", VersionId=v)
    assert error_of(exc) == ("AccessDenied", 403)
    s3.delete_object(Bucket=name, Key="k", VersionId=v, BypassGovernanceRetention=True)
    v2 = s3.put_object(Bucket=name, Key="h", Body=b"x")["VersionId"]
    missing(s3.get_object_legal_hold, "NoSuchObjectLockConfiguration", Bucket=name, Key="h")
    s3.put_object_legal_hold(Bucket=name, Key="h", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=name, Key="h")["LegalHold"]["Status"] == "ON"
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=name, Key="h", VersionId=v2, BypassGovernanceRetention=True)
    assert error_of(exc) == ("AccessDenied", 403)
    out = s3.delete_objects(
        Bucket=name,
        Delete={"Objects": [{"Key": "h", "VersionId": v2}, {"Key": "other"}], "Quiet": True},
    )
    assert out["Errors"] == [
        {
            "Key": "h",
            "VersionId": v2,
            "Code": "AccessDenied",
            "Message": "Access Denied because object protected by object lock.",
        }
    ]
    assert "Deleted" not in out
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    assert error_of(exc) == ("InvalidBucketState", 409)


def test_object_lock_needs_lock_enabled_bucket(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    missing(s3.get_object_retention, "InvalidRequest", Bucket=bucket, Key="k")
    missing(s3.get_object_lock_configuration, "ObjectLockConfigurationNotFoundError", Bucket=bucket)


def test_id_keyed_configurations(s3: Any, bucket: str) -> None:
    missing(s3.get_bucket_metrics_configuration, "NoSuchConfiguration", Bucket=bucket, Id="all")
    s3.put_bucket_metrics_configuration(Bucket=bucket, Id="all", MetricsConfiguration={"Id": "all"})
    s3.put_bucket_metrics_configuration(
        Bucket=bucket, Id="docs", MetricsConfiguration={"Id": "docs", "Filter": {"Prefix": "docs/"}}
    )
    got = s3.get_bucket_metrics_configuration(Bucket=bucket, Id="docs")["MetricsConfiguration"]
    assert got["Filter"] == {"Prefix": "docs/"}
    listed = s3.list_bucket_metrics_configurations(Bucket=bucket)["MetricsConfigurationList"]
    assert [c["Id"] for c in listed] == ["all", "docs"]
    s3.delete_bucket_metrics_configuration(Bucket=bucket, Id="all")
    missing(s3.delete_bucket_metrics_configuration, "NoSuchConfiguration", Bucket=bucket, Id="all")
    tiering = {
        "Id": "archive",
        "Status": "Enabled",
        "Tierings": [{"Days": 90, "AccessTier": "ARCHIVE_ACCESS"}],
    }
    s3.put_bucket_intelligent_tiering_configuration(
        Bucket=bucket, Id="archive", IntelligentTieringConfiguration=tiering
    )
    out = s3.get_bucket_intelligent_tiering_configuration(Bucket=bucket, Id="archive")
    assert out["IntelligentTieringConfiguration"] == tiering


def test_sse_customer_keys(s3: Any, bucket: str) -> None:
    key = b"k" * 32
    put = s3.put_object(
        Bucket=bucket, Key="c", Body=b"secret", SSECustomerAlgorithm="AES256", SSECustomerKey=key
    )
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert "ServerSideEncryption" not in put
    got = s3.get_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert got["Body"].read() == b"secret"
    assert got["SSECustomerKeyMD5"] == put["SSECustomerKeyMD5"]
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c")
    assert error_of(exc) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as exc:
        s3.get_object(
            Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=b"x" * 32
        )
    assert error_of(exc) == ("AccessDenied", 403)
    s3.copy_object(
        Bucket=bucket,
        Key="plain",
        CopySource={"Bucket": bucket, "Key": "c"},
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=key,
    )
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"secret"


def test_notifications_to_sns(s3: Any, bucket: str, client: Any, unique: Any) -> None:
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("fanout"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:Put"]}]
        },
    )
    s3.put_object(Bucket=bucket, Key="via-sns", Body=b"x")
    bodies: list[Any] = []
    for _ in range(5):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        bodies += [json.loads(m["Body"]) for m in got.get("Messages", [])]
        if any("Records" in b for b in bodies):
            break
    records = [b["Records"][0] for b in bodies if "Records" in b]
    assert records[0]["eventName"] == "ObjectCreated:Put"
    assert records[0]["s3"]["object"]["key"] == "via-sns"


def test_notifications_to_lambda(s3: Any, bucket: str, client: Any, unique: Any) -> None:
    import io
    import zipfile

    lam, sqs = client("lambda"), client("sqs")
    url = sqs.create_queue(QueueName=unique("done"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr(
            "app.py", "def handler(event, context):\n    return len(event['Records'])\n"
        )
    name = unique("fn")
    function_arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": queue_arn}}
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="to-lambda", Body=b"x")
    got: list[Any] = []
    for _ in range(10):
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])
        if got:
            break
    record = json.loads(got[0]["Body"])
    assert record["requestPayload"]["Records"][0]["s3"]["object"]["key"] == "to-lambda"
    assert record["responsePayload"] == 1
    lam.delete_function(FunctionName=name)
