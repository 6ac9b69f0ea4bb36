"""S3 behaviours measured against AWS (issue 15): response headers, validation, status codes."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import error_of

PART = b"p" * (5 * 1024 * 1024)
SSEC_KEY = "0123456789abcdef0123456789abcdef"
SSEC = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSEC_KEY}


def _headers(response: dict[str, Any]) -> dict[str, str]:
    return dict(response["ResponseMetadata"]["HTTPHeaders"])


def test_multipart_answers_default_encryption(s3: Any, bucket: str) -> None:
    """Every bucket encrypts with SSE-S3 by default, and every multipart step says so."""
    s3.put_object(Bucket=bucket, Key="src", Body=PART)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")
    assert upload["ServerSideEncryption"] == "AES256"
    uid = upload["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=1, Body=PART)
    assert part["ServerSideEncryption"] == "AES256"
    copied = s3.upload_part_copy(
        Bucket=bucket, Key="big", UploadId=uid, PartNumber=2, CopySource=f"{bucket}/src"
    )
    assert _headers(copied)["x-amz-server-side-encryption"] == "AES256"
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big",
        UploadId=uid,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": part["ETag"]},
                {"PartNumber": 2, "ETag": copied["CopyPartResult"]["ETag"]},
            ]
        },
    )
    assert done["ServerSideEncryption"] == "AES256"


def test_multipart_with_customer_key(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=PART, **SSEC)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big", **SSEC)
    uid = upload["UploadId"]
    assert upload["SSECustomerAlgorithm"] == "AES256"
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=1, Body=PART)
    assert error_of(excinfo) == ("InvalidRequest", 400)
    part = s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=1, Body=PART, **SSEC)
    assert part["SSECustomerAlgorithm"] == "AES256"
    key_md5 = part["SSECustomerKeyMD5"]
    copied = s3.upload_part_copy(
        Bucket=bucket,
        Key="big",
        UploadId=uid,
        PartNumber=2,
        CopySource=f"{bucket}/src",
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=SSEC_KEY,
        **SSEC,
    )
    assert copied["SSECustomerAlgorithm"] == "AES256"
    assert copied["SSECustomerKeyMD5"] == key_md5
    copy = s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource=f"{bucket}/src",
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=SSEC_KEY,
        **SSEC,
    )
    assert copy["SSECustomerKeyMD5"] == key_md5


def test_put_bucket_policy_answers_204(s3: Any, bucket: str) -> None:
    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":'
        '"arn:aws:iam::000000000000:root"},"Action":"s3:GetObject","Resource":'
        f'"arn:aws:s3:::{bucket}/*"}}]}}'
    )
    response = s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_malformed_version_ids(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for call in (s3.get_object, s3.delete_object, s3.head_object):
        with pytest.raises(ClientError) as excinfo:
            call(Bucket=bucket, Key="k", VersionId="not-a-version")
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # A well-formed id that names no version deletes nothing and succeeds.
    gone = s3.delete_object(Bucket=bucket, Key="k", VersionId="A" * 32)
    assert gone["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_expected_bucket_owner(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.head_object(Bucket=bucket, Key="k", ExpectedBucketOwner="000000000000")
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner="111111111111")
    assert error_of(excinfo) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner="not-an-account")
    assert error_of(excinfo) == ("InvalidBucketOwnerAWSAccountID", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(
            Bucket=bucket,
            Key="k2",
            CopySource=f"{bucket}/k",
            ExpectedSourceBucketOwner="111111111111",
        )
    assert error_of(excinfo) == ("AccessDenied", 403)


def test_repeated_completion_answers_the_same(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="m", UploadId=uid, PartNumber=1, Body=b"abc")
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    first = s3.complete_multipart_upload(
        Bucket=bucket, Key="m", UploadId=uid, MultipartUpload=parts
    )
    again = s3.complete_multipart_upload(
        Bucket=bucket, Key="m", UploadId=uid, MultipartUpload=parts
    )
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert again["ETag"] == first["ETag"]
    assert "VersionId" not in again
    # Once completed, the upload is gone for everything else.
    with pytest.raises(ClientError) as excinfo:
        s3.list_parts(Bucket=bucket, Key="m", UploadId=uid)
    assert error_of(excinfo) == ("NoSuchUpload", 404)


def _ended_upload(s3: Any, bucket: str, key: str) -> tuple[str, dict[str, Any]]:
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"abc")
    return uid, {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}


@pytest.mark.parametrize("versioned", [False, True])
def test_completion_is_forgotten_with_its_object(s3: Any, bucket: str, versioned: bool) -> None:
    """Completing again answers 200 while the object it made is there; once that object is
    deleted S3 answers NoSuchUpload (as Swift's s3api suite, run against AWS, records)."""
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    uid, parts = _ended_upload(s3, bucket, "m")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=uid, MultipartUpload=parts)
    if versioned:
        s3.delete_object(Bucket=bucket, Key="m", VersionId=done["VersionId"])
    else:
        s3.delete_object(Bucket=bucket, Key="m")
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=uid, MultipartUpload=parts)
    assert error_of(excinfo) == ("NoSuchUpload", 404)


def test_abort_of_an_ended_upload(s3: Any, bucket: str) -> None:
    """Aborting an upload that completed, or one aborted already, answers 204 again; an
    unknown upload id stays NoSuchUpload, and an aborted upload cannot be completed."""
    uid, parts = _ended_upload(s3, bucket, "done")
    s3.complete_multipart_upload(Bucket=bucket, Key="done", UploadId=uid, MultipartUpload=parts)
    answer = s3.abort_multipart_upload(Bucket=bucket, Key="done", UploadId=uid)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object(Bucket=bucket, Key="done")["Body"].read() == b"abc"
    uid, parts = _ended_upload(s3, bucket, "dropped")
    for _ in range(2):
        answer = s3.abort_multipart_upload(Bucket=bucket, Key="dropped", UploadId=uid)
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="dropped", UploadId=uid, MultipartUpload=parts
        )
    assert error_of(excinfo) == ("NoSuchUpload", 404)
    for call in (s3.list_parts, s3.abort_multipart_upload):
        with pytest.raises(ClientError) as excinfo:
            call(Bucket=bucket, Key="dropped", UploadId=uid + "x")
        assert error_of(excinfo) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.list_parts(Bucket=bucket, Key="dropped", UploadId=uid)
    assert error_of(excinfo) == ("NoSuchUpload", 404)


def test_unversioned_bucket_answers_no_version_id(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    copy = s3.copy_object(Bucket=bucket, Key="k2", CopySource=f"{bucket}/k")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="m", UploadId=uid, PartNumber=1, Body=b"abc")
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="m",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    for response in (put, copy, done):
        assert "x-amz-version-id" not in _headers(response)


def test_version_cleanup_loop_terminates(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for key in ("a", "b", "c"):
        for n in range(3):
            s3.put_object(Bucket=bucket, Key=key, Body=str(n).encode())
        s3.delete_object(Bucket=bucket, Key=key)
    marker: dict[str, str] = {}
    for _ in range(20):
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=2, **marker)
        found = page.get("Versions", []) + page.get("DeleteMarkers", [])
        for item in found:
            s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
        if not page["IsTruncated"]:
            break
        marker = {
            "KeyMarker": page["NextKeyMarker"],
            "VersionIdMarker": page["NextVersionIdMarker"],
        }
    else:
        pytest.fail("the cleanup loop did not end")
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)
    s3.delete_bucket(Bucket=bucket)


def test_version_marker_must_be_well_formed(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.list_object_versions(Bucket=bucket, KeyMarker="k", VersionIdMarker="bad")
    assert error_of(excinfo) == ("InvalidArgument", 400)


def _queue_events(client: Any, s3: Any, bucket: str, unique: Any) -> tuple[Any, str]:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("events"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)  # the s3:TestEvent
    return sqs, url


def _records(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    import json

    records: list[dict[str, Any]] = []
    for _ in range(5):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        for message in got.get("Messages", []):
            body = json.loads(message["Body"])
            records += body.get("Records", [])
        if len(records) >= count:
            break
    return records


def test_event_principal_ids(s3: Any, bucket: str, client: Any, unique: Any) -> None:
    """Events name IAM callers by their unique id (AWS:AIDA..., AWS:AROA...:session) and the
    root user and the bucket owner by the account's Amazon customer id."""
    import re

    sqs, url = _queue_events(client, s3, bucket, unique)
    iam = client("iam")
    user = iam.create_user(UserName=unique("u"))["User"]
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]
    as_user = client(
        "s3",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    role = iam.create_role(
        RoleName=unique("r"),
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}',
    )["Role"]
    assumed = client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="sess")
    creds = assumed["Credentials"]
    as_role = client(
        "s3",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    s3.put_object(Bucket=bucket, Key="root", Body=b"x")
    as_user.put_object(Bucket=bucket, Key="user", Body=b"x")
    as_role.put_object(Bucket=bucket, Key="role", Body=b"x")
    found = {r["s3"]["object"]["key"]: r for r in _records(sqs, url, 3)}
    owner = found["root"]["s3"]["bucket"]["ownerIdentity"]["principalId"]
    assert re.fullmatch(r"A[A-Z0-9]{13}", owner)
    assert found["root"]["userIdentity"]["principalId"] == owner
    assert found["user"]["userIdentity"]["principalId"] == f"AWS:{user['UserId']}"
    role_id = assumed["AssumedRoleUser"]["AssumedRoleId"]
    assert role_id.endswith(":sess")
    assert found["role"]["userIdentity"]["principalId"] == f"AWS:{role_id}"


def test_policy_status_without_a_policy(s3: Any, bucket: str) -> None:
    """AWS answers GetBucketPolicyStatus of a bucket without a policy 404 NoSuchBucketPolicy."""
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_policy_status(Bucket=bucket)
    assert error_of(excinfo) == ("NoSuchBucketPolicy", 404)


def test_legacy_defaults_switch(nubes_factory: Any, unique: Any) -> None:
    """NUBES_S3_LEGACY_DEFAULTS=1: new buckets as before April 2023 (ObjectWriter, no Block
    Public Access), so public-read ACLs work as older tests expect."""
    from tests.server import make_client

    server = nubes_factory(persistent=False, env={"NUBES_S3_LEGACY_DEFAULTS": "1"})
    s3 = make_client(server.endpoint, "s3")
    name = unique("legacy")
    s3.create_bucket(Bucket=name, ACL="public-read")
    rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "ObjectWriter"}]
    with pytest.raises(ClientError) as excinfo:
        s3.get_public_access_block(Bucket=name)
    assert error_of(excinfo) == ("NoSuchPublicAccessBlockConfiguration", 404)
    s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="public-read")
    grants = s3.get_object_acl(Bucket=name, Key="k")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in grants)
    # Asking for today's defaults explicitly still gets them.
    enforced = unique("enforced")
    s3.create_bucket(Bucket=enforced, ObjectOwnership="BucketOwnerEnforced")
    rules = s3.get_bucket_ownership_controls(Bucket=enforced)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_current_defaults(s3: Any, bucket: str) -> None:
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())


def test_object_parts_with_checksums(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="m", ChecksumAlgorithm="SHA256")["UploadId"]
    parts = []
    for number, body in ((1, PART), (2, PART), (3, b"tail")):
        got = s3.upload_part(
            Bucket=bucket,
            Key="m",
            UploadId=uid,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="SHA256",
        )
        parts.append(
            {"PartNumber": number, "ETag": got["ETag"], "ChecksumSHA256": got["ChecksumSHA256"]}
        )
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="m", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    assert done["ChecksumType"] == "COMPOSITE"
    assert done["ChecksumSHA256"].endswith("-3")
    first = s3.get_object_attributes(
        Bucket=bucket, Key="m", ObjectAttributes=["ObjectParts", "Checksum"], MaxParts=2
    )
    assert first["Checksum"]["ChecksumType"] == "COMPOSITE"
    page = first["ObjectParts"]
    assert page["TotalPartsCount"] == 3
    assert page["MaxParts"] == 2
    assert page["IsTruncated"] is True
    assert page["NextPartNumberMarker"] == 2
    assert [(p["PartNumber"], p["Size"], p["ChecksumSHA256"]) for p in page["Parts"]] == [
        (1, len(PART), parts[0]["ChecksumSHA256"]),
        (2, len(PART), parts[1]["ChecksumSHA256"]),
    ]
    rest = s3.get_object_attributes(
        Bucket=bucket, Key="m", ObjectAttributes=["ObjectParts"], PartNumberMarker=2
    )["ObjectParts"]
    assert rest["IsTruncated"] is False
    assert [p["PartNumber"] for p in rest["Parts"]] == [3]
    head = s3.head_object(Bucket=bucket, Key="m", PartNumber=3, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == parts[2]["ChecksumSHA256"]
    assert head["PartsCount"] == 3


def test_completion_checks_part_checksums(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="m", ChecksumAlgorithm="CRC32")["UploadId"]
    got = s3.upload_part(
        Bucket=bucket, Key="m", UploadId=uid, PartNumber=1, Body=b"abc", ChecksumAlgorithm="CRC32"
    )
    wrong = {"PartNumber": 1, "ETag": got["ETag"], "ChecksumCRC32": "AAAAAA=="}
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="m", UploadId=uid, MultipartUpload={"Parts": [wrong]}
        )
    assert error_of(excinfo) == ("InvalidPart", 400)


def test_delete_objects_with_malformed_version(s3: Any, bucket: str) -> None:
    """A batch delete reports a malformed version id per key as NoSuchVersion (S3's answer, as
    recorded in versity/versitygw#2119) and deletes the rest."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    out = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": "abc"}, {"Key": "k"}]}
    )
    assert out["Errors"] == [
        {
            "Key": "k",
            "VersionId": "abc",
            "Code": "NoSuchVersion",
            "Message": "The specified version does not exist.",
        }
    ]
    assert out["Deleted"] == [{"Key": "k"}]


def test_copy_answers_checksum_type(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"abc", ChecksumAlgorithm="SHA256")
    copied = s3.copy_object(Bucket=bucket, Key="k2", CopySource=f"{bucket}/k")
    result = copied["CopyObjectResult"]
    assert result["ChecksumType"] == "FULL_OBJECT"
    assert "ChecksumSHA256" in result
