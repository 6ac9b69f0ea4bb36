"""Query and Scan: key conditions on tables and indexes, order, paging, filters, Select,
parallel scans, capacity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.dynamodb.conftest import error_of


@pytest.fixture
def numbers(ddb: Any, make_table: Callable[..., str]) -> str:
    """Partition "p" with sort keys -5..14 (N), attribute odd, and partition "q" with one item."""
    name = make_table(range_type="N")
    for i in range(-5, 15):
        ddb.put_item(
            TableName=name,
            Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "odd": {"BOOL": i % 2 == 1}},
        )
    ddb.put_item(TableName=name, Item={"pk": {"S": "q"}, "sk": {"N": "0"}})
    return name


def keys(items: list[dict[str, Any]]) -> list[int]:
    return [int(i["sk"]["N"]) for i in items]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("pk = :p AND sk = :a", [2]),
        ("pk = :p AND sk < :a", [-5, -4, -3, -2, -1, 0, 1]),
        ("pk = :p AND sk <= :b", list(range(-5, -1))),
        ("pk = :p AND sk > :c", [13, 14]),
        ("pk = :p AND sk >= :c", [12, 13, 14]),
        ("pk = :p AND sk BETWEEN :b AND :a", [-2, -1, 0, 1, 2]),
    ],
)
def test_number_sort_key_ranges(
    ddb: Any, numbers: str, condition: str, expected: list[int]
) -> None:
    values = {":p": {"S": "p"}, ":a": {"N": "2"}, ":b": {"N": "-2"}, ":c": {"N": "12"}}
    used = {k: v for k, v in values.items() if k + " " in condition + " "}
    page = ddb.query(
        TableName=numbers, KeyConditionExpression=condition, ExpressionAttributeValues=used
    )
    assert keys(page["Items"]) == expected
    assert page["Count"] == len(expected)


def test_descending_order_and_paging(ddb: Any, numbers: str) -> None:
    seen: list[int] = []
    kwargs: dict[str, Any] = {
        "TableName": numbers,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "p"}},
        "ScanIndexForward": False,
        "Limit": 6,
    }
    pages = 0
    while True:
        page = ddb.query(**kwargs)
        pages += 1
        seen += keys(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        assert set(page["LastEvaluatedKey"]) == {"pk", "sk"}
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert seen == list(range(14, -6, -1))
    assert pages == 4


def test_filter_counts_and_select(ddb: Any, numbers: str) -> None:
    page = ddb.query(
        TableName=numbers,
        KeyConditionExpression="pk = :p AND sk >= :z",
        FilterExpression="odd = :t",
        ExpressionAttributeValues={":p": {"S": "p"}, ":z": {"N": "0"}, ":t": {"BOOL": True}},
        Limit=4,
    )
    assert keys(page["Items"]) == [1, 3]
    assert (page["Count"], page["ScannedCount"]) == (2, 4)
    counted = ddb.query(
        TableName=numbers,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        Select="COUNT",
    )
    assert counted["Count"] == 20 and "Items" not in counted
    projected = ddb.query(
        TableName=numbers,
        KeyConditionExpression="pk = :p AND sk = :z",
        ExpressionAttributeValues={":p": {"S": "p"}, ":z": {"N": "0"}},
        ProjectionExpression="odd",
    )
    assert projected["Items"] == [{"odd": {"BOOL": False}}]


def test_string_and_binary_sort_keys(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(range_type="S")
    for word in ["b", "a", "ab", "abc", "B", "é", "aa"]:
        ddb.put_item(TableName=name, Item={"pk": {"S": "w"}, "sk": {"S": word}})
    page = ddb.query(
        TableName=name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "w"}},
    )
    assert [i["sk"]["S"] for i in page["Items"]] == ["B", "a", "aa", "ab", "abc", "b", "é"]
    prefixed = ddb.query(
        TableName=name,
        KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
        ExpressionAttributeValues={":p": {"S": "w"}, ":a": {"S": "a"}},
    )
    assert [i["sk"]["S"] for i in prefixed["Items"]] == ["a", "aa", "ab", "abc"]
    binary = make_table(range_type="B")
    for raw in [b"\x02", b"\x01\xff", b"\x01", b"\xff\x00"]:
        ddb.put_item(TableName=binary, Item={"pk": {"S": "b"}, "sk": {"B": raw}})
    page = ddb.query(
        TableName=binary,
        KeyConditionExpression="pk = :p AND begins_with(sk, :x)",
        ExpressionAttributeValues={":p": {"S": "b"}, ":x": {"B": b"\x01"}},
    )
    assert [i["sk"]["B"] for i in page["Items"]] == [b"\x01", b"\x01\xff"]


def test_query_key_errors(ddb: Any, numbers: str) -> None:
    _, msg = error_of(
        lambda: ddb.query(
            TableName=numbers,
            KeyConditionExpression="sk = :a",
            ExpressionAttributeValues={":a": {"N": "1"}},
        )
    )
    assert msg == "Query condition missed key schema element: pk"
    _, msg = error_of(
        lambda: ddb.query(
            TableName=numbers,
            IndexName="nope",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
        )
    )
    assert msg == "The table does not have the specified index: nope"


def test_legacy_key_conditions_and_query_filter(ddb: Any, numbers: str) -> None:
    page = ddb.query(
        TableName=numbers,
        KeyConditions={
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
            "sk": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "10"}]},
        },
        QueryFilter={"odd": {"ComparisonOperator": "EQ", "AttributeValueList": [{"BOOL": True}]}},
    )
    assert keys(page["Items"]) == [11, 13]


def indexed_table(ddb: Any, make_table: Callable[..., str]) -> str:
    return make_table(
        range_type="S",
        ExtraDefinitions=[
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "rank", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "rank", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["extra"]},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-rank",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "rank", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


def test_global_and_local_indexes(ddb: Any, make_table: Callable[..., str]) -> None:
    name = indexed_table(ddb, make_table)
    for i in range(6):
        item = {"pk": {"S": "p"}, "sk": {"S": f"s{i}"}, "rank": {"N": str(10 - i)}}
        item["extra"] = {"S": "e"}
        item["hidden"] = {"S": "h"}
        if i < 4:
            item["g"] = {"S": "grp"}  # sparse: the others are not in by-g
        ddb.put_item(TableName=name, Item=item)
    gsi = ddb.query(
        TableName=name,
        IndexName="by-g",
        KeyConditionExpression="g = :g AND #r > :r",
        ExpressionAttributeNames={"#r": "rank"},
        ExpressionAttributeValues={":g": {"S": "grp"}, ":r": {"N": "7"}},
        Limit=2,
    )
    assert [i["rank"]["N"] for i in gsi["Items"]] == ["8", "9"]
    assert set(gsi["Items"][0]) == {"pk", "sk", "g", "rank", "extra"}
    assert set(gsi["LastEvaluatedKey"]) == {"pk", "sk", "g", "rank"}
    rest = ddb.query(
        TableName=name,
        IndexName="by-g",
        KeyConditionExpression="g = :g AND #r > :r",
        ExpressionAttributeNames={"#r": "rank"},
        ExpressionAttributeValues={":g": {"S": "grp"}, ":r": {"N": "7"}},
        ExclusiveStartKey=gsi["LastEvaluatedKey"],
    )
    assert [i["rank"]["N"] for i in rest["Items"]] == ["10"]
    lsi = ddb.query(
        TableName=name,
        IndexName="by-rank",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
    )
    assert [i["rank"]["N"] for i in lsi["Items"]] == ["5", "6", "7", "8", "9", "10"]
    assert set(lsi["Items"][0]) == {"pk", "sk", "rank"}
    full = ddb.query(
        TableName=name,
        IndexName="by-rank",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        Select="ALL_ATTRIBUTES",
        Limit=1,
    )
    assert "hidden" in full["Items"][0]
    _, msg = error_of(
        lambda: ddb.query(
            TableName=name,
            IndexName="by-g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "grp"}},
            ConsistentRead=True,
        )
    )
    assert msg == "Consistent reads are not supported on global secondary indexes"
    # index rows follow updates and deletes
    ddb.delete_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"S": "s0"}})
    ddb.update_item(
        TableName=name,
        Key={"pk": {"S": "p"}, "sk": {"S": "s1"}},
        UpdateExpression="REMOVE g",
    )
    scan = ddb.scan(TableName=name, IndexName="by-g")
    assert sorted(i["sk"]["S"] for i in scan["Items"]) == ["s2", "s3"]


def test_index_key_type_mismatch(ddb: Any, make_table: Callable[..., str]) -> None:
    name = indexed_table(ddb, make_table)
    _, msg = error_of(
        lambda: ddb.put_item(
            TableName=name, Item={"pk": {"S": "p"}, "sk": {"S": "x"}, "g": {"N": "1"}}
        )
    )
    assert msg == (
        "One or more parameter values were invalid: Type mismatch for Index Key g Expected: S "
        "Actual: N IndexName: by-g"
    )


def test_scan_paging_filter_and_segments(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    for i in range(40):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}, "n": {"N": str(i)}})
    seen: list[str] = []
    kwargs: dict[str, Any] = {"TableName": name, "Limit": 7}
    while True:
        page = ddb.scan(**kwargs)
        seen += [i["pk"]["S"] for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert sorted(seen) == sorted(f"k{i}" for i in range(40))
    segments = [
        {i["pk"]["S"] for i in ddb.scan(TableName=name, Segment=s, TotalSegments=3)["Items"]}
        for s in range(3)
    ]
    assert set.union(*segments) == set(seen)
    assert sum(len(s) for s in segments) == 40
    filtered = ddb.scan(
        TableName=name,
        FilterExpression="n >= :x",
        ExpressionAttributeValues={":x": {"N": "35"}},
        ReturnConsumedCapacity="TOTAL",
    )
    assert filtered["Count"] == 5 and filtered["ScannedCount"] == 40
    assert filtered["ConsumedCapacity"]["CapacityUnits"] == 0.5
    _, msg = error_of(lambda: ddb.scan(TableName=name, Segment=3, TotalSegments=3))
    assert msg == (
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
        "Segment: 3 is not less than TotalSegments: 3"
    )
    legacy = ddb.scan(
        TableName=name,
        ScanFilter={
            "n": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "3"}]}
        },
    )
    assert legacy["Count"] == 3


def test_one_megabyte_pages(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(range_type="N")
    blob = "x" * (300 * 1024)
    for i in range(5):
        ddb.put_item(
            TableName=name, Item={"pk": {"S": "big"}, "sk": {"N": str(i)}, "v": {"S": blob}}
        )
    page = ddb.query(
        TableName=name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "big"}},
        ReturnConsumedCapacity="TOTAL",
    )
    assert page["Count"] == 4  # the page closes once it passed 1 MB
    assert page["LastEvaluatedKey"]["sk"] == {"N": "3"}


def test_page_ending_at_limit_names_its_last_key(ddb: Any, numbers: str) -> None:
    page = ddb.query(
        TableName=numbers,
        KeyConditionExpression="pk = :q",
        ExpressionAttributeValues={":q": {"S": "q"}},
        Limit=1,
    )
    assert page["LastEvaluatedKey"] == {"pk": {"S": "q"}, "sk": {"N": "0"}}
    after = ddb.query(
        TableName=numbers,
        KeyConditionExpression="pk = :q",
        ExpressionAttributeValues={":q": {"S": "q"}},
        ExclusiveStartKey=page["LastEvaluatedKey"],
    )
    assert after["Items"] == [] and "LastEvaluatedKey" not in after


def test_specific_attributes_needs_a_projection(ddb: Any, numbers: str) -> None:
    _, msg = error_of(
        lambda: ddb.query(
            TableName=numbers,
            KeyConditionExpression="pk = :q",
            ExpressionAttributeValues={":q": {"S": "q"}},
            Select="SPECIFIC_ATTRIBUTES",
        )
    )
    expected = (
        "Must specify the AttributesToGet or ProjectionExpression when choosing to get "
        "SPECIFIC_ATTRIBUTES"
    )
    assert msg == "1 validation error detected: " + expected
    _, msg = error_of(lambda: ddb.scan(TableName=numbers, Select="SPECIFIC_ATTRIBUTES"))
    assert msg == expected


def test_index_capacity_breakdown(ddb: Any, make_table: Callable[..., str]) -> None:
    name = indexed_table(ddb, make_table)
    item = {"pk": {"S": "p"}, "sk": {"S": "a"}, "g": {"S": "x"}, "rank": {"N": "1"}}
    put = ddb.put_item(TableName=name, Item=item, ReturnConsumedCapacity="INDEXES")
    consumed = put["ConsumedCapacity"]
    assert consumed["Table"] == {"CapacityUnits": 1.0}
    assert consumed["GlobalSecondaryIndexes"]["by-g"]["CapacityUnits"] == 1.0
    assert consumed["LocalSecondaryIndexes"]["by-rank"]["CapacityUnits"] == 1.0
    assert consumed["CapacityUnits"] == 3.0
    page = ddb.query(
        TableName=name,
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "x"}},
        ReturnConsumedCapacity="INDEXES",
    )
    assert page["ConsumedCapacity"]["GlobalSecondaryIndexes"]["by-g"]["CapacityUnits"] == 0.5
