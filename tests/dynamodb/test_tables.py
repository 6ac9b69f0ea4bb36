"""Table control plane: create/describe/list/update/delete, indexes, tags, TTL, backups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.dynamodb.conftest import error_of

KEY = [{"AttributeName": "pk", "KeyType": "HASH"}]
DEF = [{"AttributeName": "pk", "AttributeType": "S"}]


def test_create_describe_delete(ddb: Any, unique: Callable[[str], str]) -> None:
    name = unique("t")
    created = ddb.create_table(
        TableName=name,
        KeySchema=KEY,
        AttributeDefinitions=DEF,
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 3},
        Tags=[{"Key": "team", "Value": "x"}],
        TableClass="STANDARD_INFREQUENT_ACCESS",
        SSESpecification={"Enabled": True},
    )["TableDescription"]
    assert created["TableStatus"] == "CREATING"
    assert created["TableArn"] == f"arn:aws:dynamodb:us-east-1:000000000000:table/{name}"
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1})
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert "BillingModeSummary" not in table  # provisioned by default: DynamoDB shows none
    assert table["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert table["SSEDescription"]["Status"] == "ENABLED"
    assert table["ItemCount"] == 0
    tags = ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert tags == [{"Key": "team", "Value": "x"}]
    assert ddb.delete_table(TableName=name)["TableDescription"]["TableStatus"] == "DELETING"
    code, msg = error_of(lambda: ddb.describe_table(TableName=name))
    assert code == "ResourceNotFoundException"
    assert msg == f"Requested resource not found: Table: {name} not found"


def test_create_existing(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    code, msg = error_of(
        lambda: ddb.create_table(
            TableName=name, KeySchema=KEY, AttributeDefinitions=DEF, BillingMode="PAY_PER_REQUEST"
        )
    )
    assert (code, msg) == ("ResourceInUseException", f"Table already exists: {name}")


@pytest.mark.parametrize(
    ("schema", "definitions", "extra", "message"),
    [
        (
            KEY,
            [*DEF, {"AttributeName": "x", "AttributeType": "S"}],
            {},
            "One or more parameter values were invalid: Number of attributes in KeySchema does "
            "not exactly match number of attributes defined in AttributeDefinitions",
        ),
        (
            KEY,
            [{"AttributeName": "x", "AttributeType": "S"}],
            {},
            "One or more parameter values were invalid: Some index key attributes are not "
            "defined in AttributeDefinitions. Keys: [pk], AttributeDefinitions: [x]",
        ),
        (
            [{"AttributeName": "pk", "KeyType": "RANGE"}],
            DEF,
            {},
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ),
        (
            [*KEY, {"AttributeName": "pk", "KeyType": "RANGE"}],
            DEF,
            {},
            "Invalid KeySchema: Both the Hash Key and the Range Key element in the KeySchema "
            "have the same name",
        ),
        (
            [
                *KEY,
                {"AttributeName": "b", "KeyType": "RANGE"},
                {"AttributeName": "c", "KeyType": "RANGE"},
            ],
            DEF,
            {},
            "1 validation error detected: Value '[KeySchemaElement(attributeName=pk, "
            "keyType=HASH), KeySchemaElement(attributeName=b, keyType=RANGE), "
            "KeySchemaElement(attributeName=c, keyType=RANGE)]' at 'keySchema' failed to satisfy "
            "constraint: Member must have length less than or equal to 2",
        ),
        (
            KEY,
            DEF,
            {"BillingMode": "PROVISIONED"},
            "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits "
            "must both be specified when BillingMode is PROVISIONED",
        ),
        (
            KEY,
            DEF,
            {
                "BillingMode": "PAY_PER_REQUEST",
                "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            },
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor "
            "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        ),
    ],
)
def test_create_validation(
    ddb: Any,
    unique: Callable[[str], str],
    schema: Any,
    definitions: Any,
    extra: dict[str, Any],
    message: str,
) -> None:
    extra = extra or {"BillingMode": "PAY_PER_REQUEST"}
    code, msg = error_of(
        lambda: ddb.create_table(
            TableName=unique("t"), KeySchema=schema, AttributeDefinitions=definitions, **extra
        )
    )
    assert (code, msg) == ("ValidationException", message)


def test_lsi_requires_table_range_key(ddb: Any, unique: Callable[[str], str]) -> None:
    _code, msg = error_of(
        lambda: ddb.create_table(
            TableName=unique("t"),
            KeySchema=KEY,
            AttributeDefinitions=[*DEF, {"AttributeName": "x", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            LocalSecondaryIndexes=[
                {
                    "IndexName": "lsi",
                    "KeySchema": [*KEY, {"AttributeName": "x", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
    )
    assert msg == (
        "One or more parameter values were invalid: Table KeySchema does not have a range key, "
        "which is required when specifying a LocalSecondaryIndex"
    )


def test_list_tables_pagination(ddb: Any, make_table: Callable[..., str]) -> None:
    names = sorted(make_table() for _ in range(3))
    seen: list[str] = []
    kwargs: dict[str, Any] = {"Limit": 1, "ExclusiveStartTableName": names[0][:-1]}
    while True:
        page = ddb.list_tables(**kwargs)
        seen += page["TableNames"]
        if "LastEvaluatedTableName" not in page:
            break
        kwargs["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]
    assert [n for n in seen if n in names] == names


def test_deletion_protection(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(DeletionProtectionEnabled=True)
    code, msg = error_of(lambda: ddb.delete_table(TableName=name))
    assert code == "ResourceInUseException"
    assert "protected against manual deletion" in msg
    ddb.update_table(TableName=name, DeletionProtectionEnabled=False)
    ddb.delete_table(TableName=name)


def test_gsi_lifecycle_with_backfill(
    ddb: Any, make_table: Callable[..., str], advance: Callable[[float], None]
) -> None:
    name = make_table()
    for i in range(5):
        item = {"pk": {"S": f"p{i}"}, "v": {"N": str(i)}}
        if i % 2 == 0:
            item["g"] = {"S": "even"}
        ddb.put_item(TableName=name, Item=item)
    updated = ddb.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "byg",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            }
        ],
    )["TableDescription"]
    assert updated["GlobalSecondaryIndexes"][0]["IndexStatus"] == "CREATING"
    advance(60)
    table = ddb.describe_table(TableName=name)["Table"]
    index = table["GlobalSecondaryIndexes"][0]
    assert index["IndexStatus"] == "ACTIVE"
    assert index["ItemCount"] == 3
    assert {d["AttributeName"] for d in table["AttributeDefinitions"]} == {"pk", "g"}
    found = ddb.query(
        TableName=name,
        IndexName="byg",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "even"}},
    )["Items"]
    assert sorted(i["pk"]["S"] for i in found) == ["p0", "p2", "p4"]
    assert all(set(i) == {"pk", "g"} for i in found)  # KEYS_ONLY
    ddb.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "byg"}}])
    assert "GlobalSecondaryIndexes" not in ddb.describe_table(TableName=name)["Table"]


def test_tags(ddb: Any, make_table: Callable[..., str]) -> None:
    arn = ddb.describe_table(TableName=make_table())["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    missing = arn + "nope"
    code, msg = error_of(lambda: ddb.list_tags_of_resource(ResourceArn=missing))
    assert code == "ResourceNotFoundException"
    assert msg == f"Requested resource not found: ResourcearN: {missing} not found"


def test_ttl_settings(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "DISABLED"
    }
    spec = {"Enabled": True, "AttributeName": "exp"}
    assert (
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=spec)[
            "TimeToLiveSpecification"
        ]
        == spec
    )
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "exp",
    }
    code, msg = error_of(
        lambda: ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=spec)
    )
    assert (code, msg) == ("ValidationException", "TimeToLive is already enabled")


def test_continuous_backups(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    described = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert described["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    ddb.update_continuous_backups(
        TableName=name,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    described = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert described["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_limits_and_endpoints(ddb: Any) -> None:
    assert ddb.describe_limits()["TableMaxReadCapacityUnits"] == 40000
    assert ddb.describe_endpoints()["Endpoints"][0]["CachePeriodInMinutes"] == 1440


def test_describe_counts_items(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"S": "xyz"}})
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["ItemCount"] == 1
    assert table["TableSizeBytes"] == len("pk") + 1 + len("v") + 3


def test_failed_update_changes_nothing(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    code, _ = error_of(
        lambda: ddb.update_table(
            TableName=name,
            TableClass="STANDARD_INFREQUENT_ACCESS",
            GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "absent"}}],
        )
    )
    assert code == "ResourceNotFoundException"
    assert "TableClassSummary" not in ddb.describe_table(TableName=name)["Table"]


def test_backups_of_missing_table(ddb: Any, unique: Callable[[str], str]) -> None:
    name = unique("t")
    code, msg = error_of(lambda: ddb.describe_continuous_backups(TableName=name))
    assert (code, msg) == ("TableNotFoundException", f"Table not found: {name}")


def test_counts_follow_writes(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(
        ExtraDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "g": {"S": "x"}, "v": {"S": "abc"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "b"}, "v": {"S": "abc"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "b"}, "v": {"S": "abcdef"}})  # overwrite
    code, _ = error_of(
        lambda: ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {"pk": {"S": "c"}, "g": {"S": "y"}}}},
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": {"pk": {"S": "a"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    )
    assert code == "TransactionCanceledException"  # and counts nothing
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["ItemCount"] == 2
    # a: pk+"a" 3, g+"x" 2, v+"abc" 4; b: pk+"b" 3, v+"abcdef" 7
    assert table["TableSizeBytes"] == 9 + 10
    index = table["GlobalSecondaryIndexes"][0]
    assert (index["ItemCount"], index["IndexSizeBytes"]) == (1, 3 + 2)
    ddb.update_item(TableName=name, Key={"pk": {"S": "a"}}, UpdateExpression="REMOVE g")
    ddb.delete_item(TableName=name, Key={"pk": {"S": "b"}})
    table = ddb.describe_table(TableName=name)["Table"]
    assert (table["ItemCount"], table["TableSizeBytes"]) == (1, 3 + 4)
    assert table["GlobalSecondaryIndexes"][0]["ItemCount"] == 0


def test_billing_mode_summary_only_where_dynamodb_shows_it(
    ddb: Any, unique: Callable[[str], str]
) -> None:
    name = unique("tbl")
    ddb.create_table(
        TableName=name,
        KeySchema=KEY,
        AttributeDefinitions=DEF,
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    assert "BillingModeSummary" not in ddb.describe_table(TableName=name)["Table"]
    ddb.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")
    summary = ddb.describe_table(TableName=name)["Table"]["BillingModeSummary"]
    assert summary["BillingMode"] == "PAY_PER_REQUEST"
    switched = summary["LastUpdateToPayPerRequestDateTime"]
    ddb.update_table(
        TableName=name,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 2, "WriteCapacityUnits": 2},
    )
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"] == {
        "BillingMode": "PROVISIONED",
        "LastUpdateToPayPerRequestDateTime": switched,
    }
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 2


def test_gsi_added_later_backfills_and_key_limits(
    ddb: Any, unique: Callable[[str], str], advance: Callable[[float], None]
) -> None:
    """UpdateTable's new index holds the items already written (CREATING, then ACTIVE); items
    whose index keys violate the index (type, size) stay out of it; new writes with such keys
    are refused."""
    name = unique("tbl")
    ddb.create_table(
        TableName=name, KeySchema=KEY, AttributeDefinitions=DEF, BillingMode="PAY_PER_REQUEST"
    )
    ddb.put_item(TableName=name, Item={"pk": {"S": "1"}, "g": {"S": "blue"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "2"}, "g": {"S": "blue"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "3"}, "g": {"N": "7"}})  # wrong type
    ddb.put_item(TableName=name, Item={"pk": {"S": "4"}, "g": {"S": "x" * 2049}})  # too large
    ddb.put_item(TableName=name, Item={"pk": {"S": "5"}})  # sparse
    created = ddb.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )["TableDescription"]
    index = created["GlobalSecondaryIndexes"][0]
    assert index["IndexStatus"] == "CREATING"
    assert index["Backfilling"] is False
    advance(2)  # resources allocated, the items being copied in
    described = ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]
    assert (described["IndexStatus"], described["Backfilling"]) == ("CREATING", True)
    advance(60)
    described = ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]
    assert described["IndexStatus"] == "ACTIVE"
    assert "Backfilling" not in described
    assert described["IndexSizeBytes"] == 2 * len("pk1gblue")
    assert described["ItemCount"] == 2
    got = ddb.query(
        TableName=name,
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "blue"}},
    )["Items"]
    assert sorted(i["pk"]["S"] for i in got) == ["1", "2"]
    assert ddb.scan(TableName=name, IndexName="by-g")["Count"] == 2
    assert error_of(
        lambda: ddb.put_item(TableName=name, Item={"pk": {"S": "6"}, "g": {"S": "y" * 2049}})
    ) == (
        "ValidationException",
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum "
        "size limit of2048 bytes",
    )
