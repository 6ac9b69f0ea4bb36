"""Buckets: naming, location constraints, ownership across accounts, listing, deletion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import error_of


def test_create_head_location_delete(s3: Any, unique: Callable[[str], str]) -> None:
    name = unique("bkt")
    out = s3.create_bucket(Bucket=name)
    assert out["Location"] == f"/{name}"
    head = s3.head_bucket(Bucket=name)
    assert head["BucketRegion"] == "us-east-1"
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert error_of(exc) == ("404", 404)


@pytest.mark.parametrize(
    "name",
    ["ab", "UPPER-case", "a" * 64, "-leading", "trailing-", "1.2.3.4", "dots..dots", "xn--abc"],
)
def test_invalid_bucket_names(s3: Any, name: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name)
    assert error_of(exc) == ("InvalidBucketName", 400)
    assert exc.value.response["Error"]["BucketName"] == name


def test_location_constraint_rules(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    west = client("s3", region="eu-west-1")
    name = unique("bkt")
    with pytest.raises(ClientError) as exc:
        west.create_bucket(Bucket=name)
    assert error_of(exc) == ("IllegalLocationConstraintException", 400)
    with pytest.raises(ClientError) as exc:
        west.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
    assert error_of(exc) == ("IllegalLocationConstraintException", 400)
    west.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert west.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert west.head_bucket(Bucket=name)["BucketRegion"] == "eu-west-1"
    with pytest.raises(ClientError) as exc:
        west.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    assert error_of(exc) == ("BucketAlreadyOwnedByYou", 409)
    east = client("s3")
    with pytest.raises(ClientError) as exc:
        east.create_bucket(
            Bucket=unique("bkt"), CreateBucketConfiguration={"LocationConstraint": "us-east-1"}
        )
    assert error_of(exc) == ("InvalidLocationConstraint", 400)


def test_already_exists_across_accounts(
    s3: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    name = unique("bkt")
    s3.create_bucket(Bucket=name)
    # us-east-1 answers a repeated create of one's own bucket with success
    s3.create_bucket(Bucket=name)
    other = client("s3", aws_access_key_id="111122223333")
    with pytest.raises(ClientError) as exc:
        other.create_bucket(Bucket=name)
    assert error_of(exc) == ("BucketAlreadyExists", 409)
    assert name not in [b["Name"] for b in other.list_buckets()["Buckets"]]


def test_list_buckets_pagination_and_filters(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    s3 = client("s3", aws_access_key_id="444455556666")
    prefix = unique("lb")
    names = sorted(f"{prefix}-{i}" for i in range(5))
    for name in names:
        s3.create_bucket(Bucket=name)
    page = s3.list_buckets(Prefix=prefix, MaxBuckets=2)
    assert [b["Name"] for b in page["Buckets"]] == names[:2]
    assert page["Prefix"] == prefix
    seen = [b["Name"] for b in page["Buckets"]]
    while "ContinuationToken" in page:
        page = s3.list_buckets(
            Prefix=prefix, MaxBuckets=2, ContinuationToken=page["ContinuationToken"]
        )
        seen += [b["Name"] for b in page["Buckets"]]
    assert seen == names
    assert s3.list_buckets(Prefix=prefix, BucketRegion="eu-west-1")["Buckets"] == []
    everything = s3.list_buckets()
    assert "ContinuationToken" not in everything
    assert everything["Owner"]["ID"]


def test_delete_bucket_not_empty_and_missing(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert error_of(exc) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert error_of(exc) == ("NoSuchBucket", 404)
    assert exc.value.response["Error"]["BucketName"] == bucket


def test_expected_bucket_owner(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner="000000000000")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner="111122223333")
    assert error_of(exc) == ("AccessDenied", 403)
