"""Conformance: ACLs, Block Public Access and ownership as real S3 applies them to new buckets,
and multipart paging and part errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import error_of

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
MB = 1024 * 1024


def refused(call: Callable[..., Any], **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    return error_of(exc)


@pytest.fixture
def acl_bucket(s3: Any, unique: Callable[[str], str]) -> str:
    """A bucket with ACLs enabled and public access unblocked, as ACL tests must set one up."""
    name = unique("bkt")
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=name)
    return name


def public_policy(bucket: str) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": ["*"]},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_new_bucket_blocks_public_acls_and_policies(s3: Any, unique: Callable[[str], str]) -> None:
    name = unique("bkt")
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    assert refused(s3.put_bucket_acl, Bucket=name, ACL="public-read") == ("AccessDenied", 403)
    assert refused(s3.put_object, Bucket=name, Key="k", Body=b"", ACL="public-read") == (
        "AccessDenied",
        403,
    )
    code, status = refused(s3.put_bucket_policy, Bucket=name, Policy=public_policy(name))
    assert (code, status) == ("AccessDenied", 403)
    s3.put_bucket_acl(Bucket=name, ACL="private")
    # A public ACL cannot be given at creation either, even with ACLs enabled.
    code, status = refused(
        s3.create_bucket, Bucket=unique("bkt"), ACL="public-read", ObjectOwnership="ObjectWriter"
    )
    assert (code, status) == ("AccessDenied", 403)


def test_canned_acls_and_grant_headers(s3: Any, acl_bucket: str) -> None:
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="public-read")
    acl = s3.get_bucket_acl(Bucket=acl_bucket)
    owner = acl["Owner"]["ID"]
    assert acl["Grants"] == [
        {"Grantee": {"ID": owner, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
    ]
    s3.put_bucket_acl(Bucket=acl_bucket, GrantRead=f'uri="{AUTHENTICATED}"')
    assert s3.get_bucket_acl(Bucket=acl_bucket)["Grants"] == [
        {"Grantee": {"Type": "Group", "URI": AUTHENTICATED}, "Permission": "READ"}
    ]
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", ACL="public-read")
    grants = s3.get_object_acl(Bucket=acl_bucket, Key="k")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in grants
    assert refused(s3.get_object_acl, Bucket=acl_bucket, Key="absent") == ("NoSuchKey", 404)


def test_access_control_policy_body(s3: Any, acl_bucket: str) -> None:
    owner = s3.get_bucket_acl(Bucket=acl_bucket)["Owner"]["ID"]
    grants = [
        {"Grantee": {"ID": owner, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "Group", "URI": AUTHENTICATED}, "Permission": "READ"},
    ]
    s3.put_bucket_acl(
        Bucket=acl_bucket, AccessControlPolicy={"Owner": {"ID": owner}, "Grants": grants}
    )
    assert s3.get_bucket_acl(Bucket=acl_bucket)["Grants"] == grants


def test_enforcing_ownership_needs_a_private_bucket_acl(s3: Any, acl_bucket: str) -> None:
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="public-read")
    enforced = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    code, status = refused(
        s3.put_bucket_ownership_controls, Bucket=acl_bucket, OwnershipControls=enforced
    )
    assert (code, status) == ("InvalidBucketAclWithObjectOwnership", 400)
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=acl_bucket, OwnershipControls=enforced)
    code, _ = refused(s3.put_bucket_acl, Bucket=acl_bucket, ACL="public-read")
    assert code == "AccessControlListNotSupported"


def test_policy_status(s3: Any, acl_bucket: str) -> None:
    assert refused(s3.get_bucket_policy_status, Bucket=acl_bucket) == ("NoSuchBucketPolicy", 404)
    s3.put_bucket_policy(Bucket=acl_bucket, Policy=public_policy(acl_bucket))
    assert s3.get_bucket_policy_status(Bucket=acl_bucket)["PolicyStatus"]["IsPublic"] is True
    document = json.loads(public_policy(acl_bucket))
    document["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.1/32"}}
    s3.put_bucket_policy(Bucket=acl_bucket, Policy=json.dumps(document))
    assert s3.get_bucket_policy_status(Bucket=acl_bucket)["PolicyStatus"]["IsPublic"] is False


@pytest.fixture
def upload(s3: Any, bucket: str) -> tuple[str, str, dict[int, str]]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etags = {}
    for number in range(1, 6):
        body = bytes([number]) * (5 * MB if number < 5 else 10)
        part = s3.upload_part(
            Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=number, Body=body
        )
        etags[number] = part["ETag"]
    return bucket, upload_id, etags


def test_list_parts_paging(s3: Any, upload: tuple[str, str, dict[int, str]]) -> None:
    bucket, upload_id, _ = upload
    first = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True and first["NextPartNumberMarker"] == 2
    assert first["MaxParts"] == 2
    second = s3.list_parts(
        Bucket=bucket, Key="mp", UploadId=upload_id, MaxParts=2, PartNumberMarker=2
    )
    assert [p["PartNumber"] for p in second["Parts"]] == [3, 4]
    assert second["PartNumberMarker"] == 2
    last = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumberMarker=5)
    assert "Parts" not in last and last["IsTruncated"] is False
    code, status = refused(s3.list_parts, Bucket=bucket, Key="mp", UploadId=upload_id, MaxParts=-1)
    assert (code, status) == ("InvalidArgument", 400)


def test_part_numbers_and_wrong_etags(s3: Any, upload: tuple[str, str, dict[int, str]]) -> None:
    bucket, upload_id, etags = upload
    for number in (0, 10001):
        code, status = refused(
            s3.upload_part,
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            PartNumber=number,
            Body=b"x",
        )
        assert (code, status) == ("InvalidArgument", 400)
    wrong = {"Parts": [{"PartNumber": 1, "ETag": '"deadbeef"'}]}
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload=wrong
        )
    assert error_of(exc) == ("InvalidPart", 400)
    backwards = {
        "Parts": [{"PartNumber": 2, "ETag": etags[2]}, {"PartNumber": 1, "ETag": etags[1]}]
    }
    code, _ = refused(
        s3.complete_multipart_upload,
        Bucket=bucket,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload=backwards,
    )
    assert code == "InvalidPartOrder"


def test_reuploaded_part_wins_and_parts_count(
    s3: Any, upload: tuple[str, str, dict[int, str]]
) -> None:
    bucket, upload_id, etags = upload
    etags[2] = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=2, Body=b"\x09" * 5 * MB
    )["ETag"]
    chosen = {"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in (1, 2, 5)]}
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload=chosen
    )
    assert done["ETag"].endswith('-3"')
    whole = s3.head_object(Bucket=bucket, Key="mp")
    assert whole["ContentLength"] == 10 * MB + 10 and "PartsCount" not in whole
    second = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert second["PartsCount"] == 3 and second["ContentLength"] == 5 * MB
    assert second["ContentRange"] == f"bytes {5 * MB}-{10 * MB - 1}/{10 * MB + 10}"
    assert second["Body"].read(2) == b"\x09\x09"
    code, status = refused(s3.get_object, Bucket=bucket, Key="mp", PartNumber=4)
    assert (code, status) == ("InvalidPartNumber", 416)


def test_list_multipart_uploads_paging(s3: Any, bucket: str) -> None:
    made = [(k, s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"]) for k in "aabc"]
    expected = made  # by key, then by initiation
    listed = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == expected
    first = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2)
    assert first["IsTruncated"] is True
    assert (first["NextKeyMarker"], first["NextUploadIdMarker"]) == expected[1]
    rest = s3.list_multipart_uploads(
        Bucket=bucket,
        KeyMarker=first["NextKeyMarker"],
        UploadIdMarker=first["NextUploadIdMarker"],
    )
    assert [(u["Key"], u["UploadId"]) for u in rest["Uploads"]] == expected[2:]
    after_a = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a")
    assert [u["Key"] for u in after_a["Uploads"]] == ["b", "c"]


def test_list_multipart_uploads_url_encoding(s3: Any, bucket: str) -> None:
    s3.create_multipart_upload(Bucket=bucket, Key="a b/c+d")
    out = s3.list_multipart_uploads(Bucket=bucket, EncodingType="url", Delimiter="/")
    assert out["EncodingType"] == "url"
    assert out["CommonPrefixes"] == [{"Prefix": "a%20b/"}]
    out = s3.list_multipart_uploads(Bucket=bucket, EncodingType="url")
    assert [u["Key"] for u in out["Uploads"]] == ["a%20b/c%2Bd"]


def test_bucket_policy_statements_are_checked(s3: Any, bucket: str) -> None:
    good = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
        "Action": ["s3:GetObject", "s3:List*"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }
    broken = [
        {**good, "Effect": "Permit"},
        {**good, "Action": "sqs:SendMessage"},
        {**good, "Resource": "arn:aws:s3:::some-other-bucket/*"},
        {k: v for k, v in good.items() if k != "Resource"},
    ]
    for statement in broken:
        policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        assert refused(s3.put_bucket_policy, Bucket=bucket, Policy=policy) == (
            "MalformedPolicy",
            400,
        )
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [good]})
    )
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
