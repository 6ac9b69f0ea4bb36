"""Delivery stream lifecycle and API errors, through boto3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.firehose.conftest import ROLE

pytestmark = pytest.mark.clock


def test_create_describe_settles_to_active(
    firehose: Any, bucket: str, unique: Callable[[str], str], advance: Callable[[float], None]
) -> None:
    name = unique("hose")
    arn = firehose.create_delivery_stream(
        DeliveryStreamName=name,
        S3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"},
        Tags=[{"Key": "team", "Value": "data"}],
    )["DeliveryStreamARN"]
    assert arn == f"arn:aws:firehose:us-east-1:000000000000:deliverystream/{name}"
    desc = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert desc["DeliveryStreamStatus"] == "CREATING"
    with pytest.raises(ClientError) as err:
        firehose.put_record(DeliveryStreamName=name, Record={"Data": b"early"})
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert desc["DeliveryStreamType"] == "DirectPut"
    assert desc["VersionId"] == "1"
    [dest] = desc["Destinations"]
    assert dest["DestinationId"] == "destinationId-000000000001"
    s3d = dest["S3DestinationDescription"]
    assert s3d["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 300}
    assert s3d["CompressionFormat"] == "UNCOMPRESSED"
    assert s3d["EncryptionConfiguration"] == {"NoEncryptionConfig": "NoEncryption"}
    advance(2)
    desc = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert desc["DeliveryStreamStatus"] == "ACTIVE"
    tags = firehose.list_tags_for_delivery_stream(DeliveryStreamName=name)
    assert tags["Tags"] == [{"Key": "team", "Value": "data"}]
    assert tags["HasMoreTags"] is False

    with pytest.raises(ClientError) as err:
        firehose.create_delivery_stream(
            DeliveryStreamName=name,
            S3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"},
        )
    assert err.value.response["Error"]["Code"] == "ResourceInUseException"

    firehose.delete_delivery_stream(DeliveryStreamName=name)
    desc = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert desc["DeliveryStreamStatus"] == "DELETING"
    advance(2)
    with pytest.raises(ClientError) as err:
        firehose.describe_delivery_stream(DeliveryStreamName=name)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert f"Firehose {name} under account 000000000000 not found." in str(err.value)


def test_list_pages_and_filters_by_type(
    firehose: Any, hose: Callable[..., str], client: Callable[..., Any]
) -> None:
    mine = client("firehose", region="eu-west-3")
    names = []
    for i in range(3):
        name = f"list-{i}"
        mine.create_delivery_stream(
            DeliveryStreamName=name,
            ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::b"},
        )
        names.append(name)
    page = mine.list_delivery_streams(Limit=2)
    assert page == {
        "DeliveryStreamNames": names[:2],
        "HasMoreDeliveryStreams": True,
        "ResponseMetadata": page["ResponseMetadata"],
    }
    rest = mine.list_delivery_streams(Limit=2, ExclusiveStartDeliveryStreamName=names[1])
    assert rest["DeliveryStreamNames"] == names[2:]
    assert rest["HasMoreDeliveryStreams"] is False
    assert (
        mine.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")[
            "DeliveryStreamNames"
        ]
        == []
    )


def test_update_destination_checks_version(firehose: Any, hose: Callable[..., str]) -> None:
    name = hose()
    firehose.update_destination(
        DeliveryStreamName=name,
        CurrentDeliveryStreamVersionId="1",
        DestinationId="destinationId-000000000001",
        ExtendedS3DestinationUpdate={"BufferingHints": {"IntervalInSeconds": 60}},
    )
    desc = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert desc["VersionId"] == "2"
    assert "LastUpdateTimestamp" in desc
    ext = desc["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert ext["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 60}
    with pytest.raises(ClientError) as err:
        firehose.update_destination(
            DeliveryStreamName=name,
            CurrentDeliveryStreamVersionId="1",
            DestinationId="destinationId-000000000001",
            ExtendedS3DestinationUpdate={"Prefix": "x/"},
        )
    assert err.value.response["Error"]["Code"] == "ConcurrentModificationException"


@pytest.mark.parametrize(
    ("prefix", "error_prefix"),
    [
        ("logs/!{timestamp:yyyy}/", None),
        ("logs/!{firehose:error-output-type}/", "e/!{firehose:error-output-type}"),
        ("logs/", "errors/!{timestamp:yyyy}/"),
        ("logs/!{nope:x}/", "e/!{firehose:error-output-type}"),
        ("logs/!{timestamp:yyyy", None),
    ],
)
def test_prefix_rules(
    firehose: Any, bucket: str, unique: Callable[[str], str], prefix: str, error_prefix: str | None
) -> None:
    config: dict[str, Any] = {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"}
    config["Prefix"] = prefix
    if error_prefix is not None:
        config["ErrorOutputPrefix"] = error_prefix
    with pytest.raises(ClientError) as err:
        firehose.create_delivery_stream(
            DeliveryStreamName=unique("bad"), ExtendedS3DestinationConfiguration=config
        )
    assert err.value.response["Error"]["Code"] == "InvalidArgumentException"


def test_put_limits_and_errors(firehose: Any, hose: Callable[..., str]) -> None:
    name = hose()
    with pytest.raises(ClientError) as err:
        firehose.put_record(DeliveryStreamName="missing", Record={"Data": b"x"})
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        firehose.put_record(DeliveryStreamName=name, Record={"Data": b"x" * 1_024_001})
    assert err.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as err:
        firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x"}] * 501)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as err:
        firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x" * 1_000_000}] * 5)
    assert err.value.response["Error"]["Code"] == "InvalidArgumentException"
    out = firehose.put_record_batch(
        DeliveryStreamName=name, Records=[{"Data": b"a"}, {"Data": b"b"}]
    )
    assert out["FailedPutCount"] == 0
    assert out["Encrypted"] is False
    ids = [r["RecordId"] for r in out["RequestResponses"]]
    assert len(set(ids)) == 2


def test_encryption_start_stop(
    firehose: Any, hose: Callable[..., str], advance: Callable[[float], None]
) -> None:
    name = hose()

    def status() -> str:
        desc = firehose.describe_delivery_stream(DeliveryStreamName=name)
        return str(
            desc["DeliveryStreamDescription"]["DeliveryStreamEncryptionConfiguration"]["Status"]
        )

    assert status() == "DISABLED"
    firehose.start_delivery_stream_encryption(
        DeliveryStreamName=name,
        DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"},
    )
    assert status() == "ENABLING"
    advance(2)
    assert status() == "ENABLED"
    assert firehose.put_record(DeliveryStreamName=name, Record={"Data": b"x"})["Encrypted"]
    with pytest.raises(ClientError) as err:
        firehose.start_delivery_stream_encryption(
            DeliveryStreamName=name,
            DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK"},
        )
    assert err.value.response["Error"]["Code"] == "InvalidArgumentException"
    firehose.stop_delivery_stream_encryption(DeliveryStreamName=name)
    assert status() == "DISABLING"
    advance(2)
    assert status() == "DISABLED"


def test_tags(firehose: Any, hose: Callable[..., str]) -> None:
    name = hose()
    firehose.tag_delivery_stream(
        DeliveryStreamName=name, Tags=[{"Key": f"k{i}", "Value": str(i)} for i in range(3)]
    )
    page = firehose.list_tags_for_delivery_stream(DeliveryStreamName=name, Limit=2)
    assert [t["Key"] for t in page["Tags"]] == ["k0", "k1"]
    assert page["HasMoreTags"] is True
    firehose.untag_delivery_stream(DeliveryStreamName=name, TagKeys=["k0"])
    rest = firehose.list_tags_for_delivery_stream(DeliveryStreamName=name)
    assert [t["Key"] for t in rest["Tags"]] == ["k1", "k2"]
    with pytest.raises(ClientError) as err:
        firehose.tag_delivery_stream(
            DeliveryStreamName=name, Tags=[{"Key": f"x{i}", "Value": ""} for i in range(49)]
        )
    assert err.value.response["Error"]["Code"] == "LimitExceededException"


def test_customer_managed_key_must_exist(
    firehose: Any, hose: Callable[..., str], client: Callable[..., Any]
) -> None:
    name = hose()
    missing = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError) as err:
        firehose.start_delivery_stream_encryption(
            DeliveryStreamName=name,
            DeliveryStreamEncryptionConfigurationInput={
                "KeyType": "CUSTOMER_MANAGED_CMK",
                "KeyARN": missing,
            },
        )
    assert err.value.response["Error"]["Code"] == "InvalidKMSResourceException"
    key = client("kms").create_key()["KeyMetadata"]["Arn"]
    firehose.start_delivery_stream_encryption(
        DeliveryStreamName=name,
        DeliveryStreamEncryptionConfigurationInput={
            "KeyType": "CUSTOMER_MANAGED_CMK",
            "KeyARN": key,
        },
    )
    desc = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert desc["DeliveryStreamEncryptionConfiguration"]["KeyARN"] == key
    assert desc["DeliveryStreamEncryptionConfiguration"]["KeyType"] == "CUSTOMER_MANAGED_CMK"
