"""Lifecycle transitions on the nubes clock: current and noncurrent versions move down the
storage classes when their days come, archived ones then need a restore before a GET; and the
checks PutBucketLifecycleConfiguration makes of transition rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import error_of
from tests.s3.test_lifecycle import DAY, advance, eventually

pytestmark = pytest.mark.clock  # these tests move the server clock

BIG = b"b" * (130 * 1024)
"""Over the 128 KiB below which objects do not transition by default."""


def storage_class(s3: Any, bucket: str, key: str, version_id: str | None = None) -> str:
    extra = {"VersionId": version_id} if version_id else {}
    return str(s3.head_object(Bucket=bucket, Key=key, **extra).get("StorageClass", "STANDARD"))


def configure(s3: Any, bucket: str, rule: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return dict(
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={"Rules": [{"ID": "r", "Status": "Enabled", **rule}]},
            **extra,
        )
    )


@pytest.mark.parametrize(
    ("rule", "code", "message"),
    [
        (
            {"Filter": {}, "Transitions": [{"Days": 10, "StorageClass": "STANDARD_IA"}]},
            "InvalidArgument",
            "'Days' in Transition action must be greater than or equal to 30 for storageClass "
            "'STANDARD_IA'",
        ),
        (
            {
                "Filter": {},
                "NoncurrentVersionTransitions": [
                    {"NoncurrentDays": 5, "StorageClass": "ONEZONE_IA"}
                ],
            },
            "InvalidArgument",
            "'NoncurrentDays' in NoncurrentVersionTransition action must be greater than or equal "
            "to 30 for storageClass 'ONEZONE_IA'",
        ),
        (
            {
                "Filter": {"Prefix": "logs/"},
                "Transitions": [{"Days": 60, "StorageClass": "GLACIER"}],
                "Expiration": {"Days": 30},
            },
            "InvalidArgument",
            "'Days' in the Expiration action for filter '(prefix=logs/)' must be greater than "
            "'Days' in the Transition action",
        ),
        (
            {
                "Filter": {},
                "Transitions": [
                    {"Days": 30, "StorageClass": "GLACIER"},
                    {"Days": 60, "StorageClass": "GLACIER"},
                ],
            },
            "InvalidRequest",
            "'StorageClass' must be different for 'Transition' actions in same 'Rule' with filter "
            "'(prefix=)'",
        ),
        (
            {
                "Filter": {},
                "Transitions": [
                    {"Date": datetime(2030, 1, 1, 12, tzinfo=UTC), "StorageClass": "GLACIER"}
                ],
            },
            "InvalidArgument",
            "'Date' must be at midnight GMT",
        ),
    ],
)
def test_invalid_transition_rules(
    s3: Any, bucket: str, rule: dict[str, Any], code: str, message: str
) -> None:
    with pytest.raises(ClientError) as exc:
        configure(s3, bucket, rule)
    assert error_of(exc) == (code, 400)
    assert exc.value.response["Error"]["Message"] == message


def test_current_versions_transition_then_need_a_restore(
    s3: Any, bucket: str, endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="data/big", Body=BIG)
    s3.put_object(Bucket=bucket, Key="data/small", Body=b"tiny")
    s3.put_object(Bucket=bucket, Key="other/big", Body=BIG)
    out = configure(
        s3,
        bucket,
        {
            "Filter": {"Prefix": "data/"},
            "Transitions": [
                {"Days": 30, "StorageClass": "STANDARD_IA"},
                {"Days": 60, "StorageClass": "GLACIER"},
            ],
        },
    )
    assert out["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert [t["StorageClass"] for t in got["Rules"][0]["Transitions"]] == ["STANDARD_IA", "GLACIER"]
    assert storage_class(s3, bucket, "data/big") == "STANDARD"
    advance(endpoint, 10 * DAY)
    assert storage_class(s3, bucket, "data/big") == "STANDARD"
    advance(endpoint, 21 * DAY)
    assert eventually(lambda: storage_class(s3, bucket, "data/big") == "STANDARD_IA")
    # Below 128 KiB nothing transitions by default; other prefixes are not the rule's.
    assert storage_class(s3, bucket, "data/small") == "STANDARD"
    assert storage_class(s3, bucket, "other/big") == "STANDARD"
    listed = {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed == {"data/big": "STANDARD_IA", "data/small": "STANDARD", "other/big": "STANDARD"}
    assert s3.get_object(Bucket=bucket, Key="data/big")["Body"].read() == BIG
    advance(endpoint, 30 * DAY)
    assert eventually(lambda: storage_class(s3, bucket, "data/big") == "GLACIER")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="data/big")
    assert error_of(exc) == ("InvalidObjectState", 403)
    s3.restore_object(Bucket=bucket, Key="data/big", RestoreRequest={"Days": 2})
    assert s3.get_object(Bucket=bucket, Key="data/big")["Body"].read() == BIG


def test_small_objects_and_dates(s3: Any, bucket: str, endpoint: str) -> None:
    s3.put_object(Bucket=bucket, Key="small", Body=b"tiny")
    s3.put_object(Bucket=bucket, Key="sized/small", Body=b"tiny")
    server_now = s3.head_object(Bucket=bucket, Key="small")["LastModified"].timestamp()
    midnight = datetime.fromtimestamp((server_now // DAY + 3) * DAY, UTC)
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        TransitionDefaultMinimumObjectSize="varies_by_storage_class",
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "glacier-by-date",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "small"},
                    "Transitions": [{"Date": midnight, "StorageClass": "DEEP_ARCHIVE"}],
                },
                {
                    "ID": "ia-by-size",
                    "Status": "Enabled",
                    "Filter": {"And": {"Prefix": "sized/", "ObjectSizeGreaterThan": 1}},
                    "Transitions": [{"Days": 0, "StorageClass": "INTELLIGENT_TIERING"}],
                },
            ]
        },
    )
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    advance(endpoint, 2 * DAY)
    # The rule's own size filter lets a small object go to any class.
    assert eventually(lambda: storage_class(s3, bucket, "sized/small") == "INTELLIGENT_TIERING")
    assert storage_class(s3, bucket, "small") == "STANDARD"
    advance(endpoint, 2 * DAY)
    # varies_by_storage_class lets small objects into the Glacier classes.
    assert eventually(lambda: storage_class(s3, bucket, "small") == "DEEP_ARCHIVE")


def test_noncurrent_transitions_keep_newer_versions(s3: Any, bucket: str, endpoint: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1, v2, v3, v4 = (
        s3.put_object(Bucket=bucket, Key="k", Body=BIG + bytes([n]))["VersionId"] for n in range(4)
    )
    configure(
        s3,
        bucket,
        {
            "Filter": {},
            "NoncurrentVersionTransitions": [
                {"NoncurrentDays": 1, "StorageClass": "GLACIER", "NewerNoncurrentVersions": 1}
            ],
            "NoncurrentVersionExpiration": {"NoncurrentDays": 5, "NewerNoncurrentVersions": 2},
        },
    )
    advance(endpoint, 2 * DAY)
    # v3 is the newest noncurrent version: the one NewerNoncurrentVersions keeps as it is.
    assert eventually(lambda: storage_class(s3, bucket, "k", v2) == "GLACIER")
    assert storage_class(s3, bucket, "k", v1) == "GLACIER"
    assert storage_class(s3, bucket, "k", v3) == "STANDARD"
    assert storage_class(s3, bucket, "k", v4) == "STANDARD"
    versions = {
        v["VersionId"]: v["StorageClass"]
        for v in s3.list_object_versions(Bucket=bucket)["Versions"]
    }
    assert versions == {v1: "GLACIER", v2: "GLACIER", v3: "STANDARD", v4: "STANDARD"}
    advance(endpoint, 5 * DAY)

    def remaining() -> list[str]:
        return [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]]

    # Expiration keeps the two newest noncurrent versions.
    assert eventually(lambda: remaining() == [v4, v3, v2])
