"""Items: put/get/update/delete, conditions, return values, capacity, types and limits, legacy
parameters, and the boto3 resource API."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Attr, Key

from tests.dynamodb.conftest import error_of


def test_put_get_delete_with_return_values(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    item = {"pk": {"S": "a"}, "n": {"N": "1"}}
    assert "Attributes" not in ddb.put_item(TableName=name, Item=item)
    old = ddb.put_item(
        TableName=name, Item={"pk": {"S": "a"}, "n": {"N": "2"}}, ReturnValues="ALL_OLD"
    )["Attributes"]
    assert old == item
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "a"}}, ConsistentRead=True)["Item"] == {
        "pk": {"S": "a"},
        "n": {"N": "2"},
    }
    deleted = ddb.delete_item(TableName=name, Key={"pk": {"S": "a"}}, ReturnValues="ALL_OLD")
    assert deleted["Attributes"]["n"] == {"N": "2"}
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "a"}})


def test_all_types_round_trip_and_number_normal_form(
    ddb: Any, make_table: Callable[..., str]
) -> None:
    name = make_table()
    item = {
        "pk": {"S": "types"},
        "s": {"S": ""},
        "n": {"N": "001.500"},
        "big": {"N": "1" * 38},
        "tiny": {"N": "-1E-130"},
        "exp": {"N": "1.5e3"},
        "b": {"B": b"\x00\xff"},
        "t": {"BOOL": False},
        "z": {"NULL": True},
        "m": {"M": {"inner": {"L": [{"S": "x"}, {"N": "2"}]}}},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.50"]},
        "bs": {"BS": [b"\x01", b"\x02"]},
    }
    ddb.put_item(TableName=name, Item=item)
    got = ddb.get_item(TableName=name, Key={"pk": {"S": "types"}})["Item"]
    assert got["n"] == {"N": "1.5"}
    assert got["big"] == {"N": "1" * 38}
    assert got["exp"] == {"N": "1500"}
    assert got["tiny"]["N"].startswith("-0.000")
    assert got["b"] == {"B": b"\x00\xff"}
    assert got["bs"] == {"BS": [b"\x01", b"\x02"]}
    assert got["s"] == {"S": ""}
    assert sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert got["m"] == item["m"]


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        ({"SS": []}, "One or more parameter values were invalid: An string set  may not be empty"),
        ({"NS": []}, "One or more parameter values were invalid: An number set  may not be empty"),
        ({"BS": []}, "One or more parameter values were invalid: Binary sets should not be empty"),
        (
            {"SS": ["a", "a"]},
            "One or more parameter values were invalid: Input collection [a, a] contains "
            "duplicates.",
        ),
        (
            {"BS": [b"b", b"b"]},
            "One or more parameter values were invalid: Input collection [Yg==, Yg==]of type BS "
            "contains duplicates.",
        ),
        ({"NS": ["1", "1.0"]}, "Input collection contains duplicates"),
        ({"N": "abc"}, "The parameter cannot be converted to a numeric value: abc"),
        ({"N": ""}, "The parameter cannot be converted to a numeric value"),
        ({"N": "1" * 39}, "Attempting to store more than 38 significant digits in a Number"),
        (
            {"N": "1e126"},
            "Number overflow. Attempting to store a number with magnitude larger than supported "
            "range",
        ),
        (
            {"N": "1e-131"},
            "Number underflow. Attempting to store a number with magnitude smaller than "
            "supported range",
        ),
        (
            {},
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        ),
        (
            {"S": "a", "N": "1"},
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one "
            "of the supported datatypes",
        ),
    ],
)
def test_invalid_values(
    ddb: Any, make_table: Callable[..., str], attr: dict[str, Any], message: str
) -> None:
    # BatchWriteItem checks values in DynamoDB's older layer, which words them bare.
    name = make_table()
    item = {"pk": {"S": "a"}, "x": attr}
    code, msg = error_of(
        lambda: ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": item}}]})
    )
    assert (code, msg) == ("ValidationException", message)


def test_key_errors(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(range_type="N")
    _, msg = error_of(lambda: ddb.put_item(TableName=name, Item={"pk": {"S": "a"}}))
    assert msg == "One or more parameter values were invalid: Missing the key sk in the item"
    _, msg = error_of(
        lambda: ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"S": "x"}})
    )
    assert msg == (
        "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S"
    )
    _, msg = error_of(lambda: ddb.get_item(TableName=name, Key={"pk": {"S": "a"}}))
    assert msg == "The provided key element does not match the schema"
    _, msg = error_of(
        lambda: ddb.put_item(TableName=name, Item={"pk": {"S": ""}, "sk": {"N": "1"}})
    )
    assert msg == (
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty string value. Key: pk"
    )
    _, msg = error_of(
        lambda: ddb.put_item(TableName=name, Item={"pk": {"S": "x" * 2049}, "sk": {"N": "1"}})
    )
    assert msg == (
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum "
        "size limit of2048 bytes"
    )
    code, msg = error_of(lambda: ddb.get_item(TableName=name + "x", Key={"pk": {"S": "a"}}))
    assert (code, msg) == ("ResourceNotFoundException", "Requested resource not found")


def test_item_size_limit(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"S": "x" * (400 * 1024 - 10)}})
    _, msg = error_of(
        lambda: ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"S": "x" * 409600}})
    )
    assert msg == "Item size has exceeded the maximum allowed size"


def test_nesting_limit(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    value: dict[str, Any] = {"S": "leaf"}
    for _ in range(33):
        value = {"L": [value]}
    _, msg = error_of(lambda: ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": value}))
    assert msg == "1 validation error detected: Nesting Levels have exceeded supported limits"


def test_conditions_and_old_item_on_failure(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    ddb.put_item(
        TableName=name,
        Item={"pk": {"S": "a"}, "v": {"N": "1"}},
        ConditionExpression="attribute_not_exists(pk)",
    )
    code, msg = error_of(
        lambda: ddb.put_item(
            TableName=name, Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)"
        )
    )
    assert (code, msg) == ("ConditionalCheckFailedException", "The conditional request failed")
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        ddb.delete_item(
            TableName=name,
            Key={"pk": {"S": "a"}},
            ConditionExpression="v > :v",
            ExpressionAttributeValues={":v": {"N": "5"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert info.value.response["Item"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    ddb.delete_item(
        TableName=name,
        Key={"pk": {"S": "a"}},
        ConditionExpression="v < :v",
        ExpressionAttributeValues={":v": {"N": "5"}},
    )


def test_update_item_return_values(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    key = {"pk": {"S": "u"}}
    new = ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET #c = if_not_exists(#c, :z) + :one, tags = :t",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":z": {"N": "0"}, ":one": {"N": "1"}, ":t": {"SS": ["x"]}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert new == {"pk": {"S": "u"}, "count": {"N": "1"}, "tags": {"SS": ["x"]}}
    out = ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="ADD #c :one DELETE tags :t",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":one": {"N": "1"}, ":t": {"SS": ["x"]}},
        ReturnValues="UPDATED_OLD",
    )
    assert out["Attributes"] == {"count": {"N": "1"}, "tags": {"SS": ["x"]}}
    out = ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="REMOVE #c",
        ExpressionAttributeNames={"#c": "count"},
        ReturnValues="UPDATED_NEW",
    )
    assert "Attributes" not in out
    assert ddb.get_item(TableName=name, Key=key)["Item"] == key


def test_update_key_attribute_rejected(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    _, msg = error_of(
        lambda: ddb.update_item(
            TableName=name,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET pk = :v",
            ExpressionAttributeValues={":v": {"S": "b"}},
        )
    )
    assert msg == (
        "One or more parameter values were invalid: Cannot update attribute pk. This attribute "
        "is part of the key"
    )


def test_expression_errors_on_the_wire(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    code, msg = error_of(
        lambda: ddb.update_item(
            TableName=name,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET a = :v",
            ExpressionAttributeValues={":v": {"S": "b"}, ":w": {"S": "c"}},
        )
    )
    assert (code, msg) == (
        "ValidationException",
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}",
    )
    _, msg = error_of(
        lambda: ddb.get_item(
            TableName=name, Key={"pk": {"S": "a"}}, ExpressionAttributeNames={"#a": "a"}
        )
    )
    assert msg == (
        "1 validation error detected: "
        "ExpressionAttributeNames can only be specified when using expressions"
    )
    _, msg = error_of(
        lambda: ddb.get_item(
            TableName=name,
            Key={"pk": {"S": "a"}},
            ProjectionExpression="a",
            AttributesToGet=["a"],
        )
    )
    assert msg == (
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {AttributesToGet} Expression parameters: "
        "{ProjectionExpression}"
    )


def test_projection_on_get(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    ddb.put_item(
        TableName=name,
        Item={"pk": {"S": "p"}, "a": {"M": {"b": {"N": "1"}, "c": {"N": "2"}}}, "d": {"S": "x"}},
    )
    got = ddb.get_item(TableName=name, Key={"pk": {"S": "p"}}, ProjectionExpression="a.c, d")
    assert got["Item"] == {"a": {"M": {"c": {"N": "2"}}}, "d": {"S": "x"}}
    legacy = ddb.get_item(TableName=name, Key={"pk": {"S": "p"}}, AttributesToGet=["d"])
    assert legacy["Item"] == {"d": {"S": "x"}}


def test_consumed_capacity_rounding(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    put = ddb.put_item(
        TableName=name,
        Item={"pk": {"S": "c"}, "v": {"S": "x" * 2000}},
        ReturnConsumedCapacity="TOTAL",
    )
    assert put["ConsumedCapacity"] == {"TableName": name, "CapacityUnits": 2.0}
    strong = ddb.get_item(
        TableName=name, Key={"pk": {"S": "c"}}, ConsistentRead=True, ReturnConsumedCapacity="TOTAL"
    )
    assert strong["ConsumedCapacity"]["CapacityUnits"] == 1.0
    eventual = ddb.get_item(TableName=name, Key={"pk": {"S": "c"}}, ReturnConsumedCapacity="TOTAL")
    assert eventual["ConsumedCapacity"]["CapacityUnits"] == 0.5


def test_legacy_expected_and_attribute_updates(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    key = {"pk": {"S": "l"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}}, Expected={"pk": {"Exists": False}})
    ddb.update_item(
        TableName=name,
        Key=key,
        AttributeUpdates={
            "v": {"Action": "ADD", "Value": {"N": "2"}},
            "w": {"Action": "PUT", "Value": {"S": "x"}},
        },
        Expected={"v": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]}},
    )
    assert ddb.get_item(TableName=name, Key=key)["Item"] == {
        **key,
        "v": {"N": "3"},
        "w": {"S": "x"},
    }
    code, _ = error_of(
        lambda: ddb.delete_item(TableName=name, Key=key, Expected={"v": {"Value": {"N": "9"}}})
    )
    assert code == "ConditionalCheckFailedException"


def test_resource_api(resource: Any, make_table: Callable[..., str]) -> None:
    table = resource.Table(make_table(range_type="N"))
    with table.batch_writer() as batch:
        for i in range(30):
            batch.put_item(Item={"pk": "r", "sk": i, "price": Decimal("1.25") * i, "odd": i % 2})
    got = table.get_item(Key={"pk": "r", "sk": 3})["Item"]
    assert got["price"] == Decimal("3.75")
    page = table.query(
        KeyConditionExpression=Key("pk").eq("r") & Key("sk").between(5, 14),
        FilterExpression=Attr("odd").eq(1),
        ScanIndexForward=False,
    )
    assert [int(i["sk"]) for i in page["Items"]] == [13, 11, 9, 7, 5]
    assert page["ScannedCount"] == 10
    table.update_item(
        Key={"pk": "r", "sk": 3},
        UpdateExpression="SET price = price - :d",
        ExpressionAttributeValues={":d": Decimal("0.75")},
    )
    assert table.get_item(Key={"pk": "r", "sk": 3})["Item"]["price"] == Decimal("3")


def test_invalid_expression_value_and_legacy_operand_type(
    ddb: Any, make_table: Callable[..., str]
) -> None:
    name = make_table()
    _, msg = error_of(
        lambda: ddb.scan(
            TableName=name,
            FilterExpression="a = :v",
            ExpressionAttributeValues={":v": {"SS": []}},
        )
    )
    assert msg == (
        "ExpressionAttributeValues contains invalid value: One or more parameter values were "
        "invalid: An string set  may not be empty for key :v"
    )
    _, msg = error_of(
        lambda: ddb.scan(
            TableName=name,
            ScanFilter={"a": {"ComparisonOperator": "LT", "AttributeValueList": [{"SS": ["x"]}]}},
        )
    )
    assert msg == (
        "One or more parameter values were invalid: ComparisonOperator LT is not valid for SS "
        "AttributeValue type"
    )


def test_capacity_at_the_kilobyte_boundary(ddb: Any, make_table: Callable[..., str]) -> None:
    """Item size as AWS counts it: names + values, numbers by significant digits, binary by
    bytes; 1,024 bytes is one write unit, 1,025 two."""
    name = make_table()
    base = {
        "pk": {"S": "k"},
        "c": {"N": "12.3456"},  # 1 + 4
        "d": {"B": b"\x01\x02"},  # 1 + 2
        "e": {"BS": [b"\x01\x02", b"\x02"]},  # 1 + 3
    }
    fixed = 3 + 5 + 3 + 4 + 1  # pk + k, c, d, e, and the name "b"
    for size, units in ((1024, 1.0), (1025, 2.0)):
        item = {**base, "b": {"S": "b" * (size - fixed)}}
        put = ddb.put_item(TableName=name, Item=item, ReturnConsumedCapacity="TOTAL")
        assert put["ConsumedCapacity"]["CapacityUnits"] == units


def test_item_collection_metrics_for_tables_with_local_indexes(
    ddb: Any, make_table: Callable[..., str]
) -> None:
    name = make_table(
        range_type="S",
        ExtraDefinitions=[{"AttributeName": "r", "AttributeType": "N"}],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-r",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "r", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    out = ddb.put_item(
        TableName=name,
        Item={"pk": {"S": "p"}, "sk": {"S": "s"}, "r": {"N": "1"}},
        ReturnItemCollectionMetrics="SIZE",
    )
    metrics = out["ItemCollectionMetrics"]
    assert metrics["ItemCollectionKey"] == {"pk": {"S": "p"}}
    assert len(metrics["SizeEstimateRangeGB"]) == 2
    plain = make_table()
    out = ddb.put_item(TableName=plain, Item={"pk": {"S": "p"}}, ReturnItemCollectionMetrics="SIZE")
    assert "ItemCollectionMetrics" not in out


def test_number_and_binary_hash_keys(ddb: Any, make_table: Callable[..., str]) -> None:
    numbers = make_table(hash_type="N")
    ddb.put_item(TableName=numbers, Item={"pk": {"N": "1.50"}, "v": {"S": "x"}})
    got = ddb.get_item(TableName=numbers, Key={"pk": {"N": "1.5"}})["Item"]
    assert got == {"pk": {"N": "1.5"}, "v": {"S": "x"}}
    page = ddb.query(
        TableName=numbers,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"N": "15E-1"}},
    )
    assert page["Count"] == 1
    binary = make_table(hash_type="B")
    ddb.put_item(TableName=binary, Item={"pk": {"B": b"\x00\x01"}})
    assert "Item" in ddb.get_item(TableName=binary, Key={"pk": {"B": b"\x00\x01"}})
    assert "Item" not in ddb.get_item(TableName=binary, Key={"pk": {"B": b"\x00"}})
