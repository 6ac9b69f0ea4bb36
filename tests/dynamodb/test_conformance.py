"""Behaviours DynamoDB documents (or is known to show) at the edges: table names and ARNs,
start keys, PartiQL ordering and deletes of missing items, size(), Count vs ScannedCount."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.dynamodb.conftest import error_of


@pytest.fixture
def numbers(ddb: Any, make_table: Callable[..., str]) -> str:
    name = make_table(range_type="N")
    for i in range(4):
        ddb.put_item(
            TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": str(i)}, "v": {"N": str(i)}}
        )
    return name


def test_table_name_rules(ddb: Any) -> None:
    key = {"pk": {"S": "a"}}
    assert error_of(lambda: ddb.get_item(TableName="ab", Key=key)) == (
        "ValidationException",
        "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 3",
    )
    code, msg = error_of(lambda: ddb.describe_table(TableName="n" * 256))
    assert code == "ValidationException" and "less than or equal to 255" in msg
    assert error_of(lambda: ddb.delete_table(TableName="bad@name")) == (
        "ValidationException",
        "1 validation error detected: Value 'bad@name' at 'tableName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    )
    code, _ = error_of(
        lambda: ddb.create_table(
            TableName="x!",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    )
    assert code == "ValidationException"


def test_table_arn_in_place_of_name(ddb: Any, numbers: str) -> None:
    arn = ddb.describe_table(TableName=numbers)["Table"]["TableArn"]
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    assert ddb.get_item(TableName=arn, Key=key)["Item"] == {**key, "v": {"N": "1"}}
    assert ddb.describe_table(TableName=arn)["Table"]["TableName"] == numbers
    got = ddb.query(
        TableName=arn,
        KeyConditionExpression="pk = :a",
        ExpressionAttributeValues={":a": {"S": "a"}},
    )
    assert got["Count"] == 4


def test_start_key_of_the_wrong_type(ddb: Any, numbers: str) -> None:
    wrong = {"pk": {"N": "1"}, "sk": {"N": "1"}}
    message = (
        "The provided starting key is invalid: The provided key element does not match the schema"
    )
    assert error_of(lambda: ddb.scan(TableName=numbers, ExclusiveStartKey=wrong)) == (
        "ValidationException",
        message,
    )


def test_partiql_order_by(ddb: Any, numbers: str) -> None:
    got = ddb.execute_statement(
        Statement=f"SELECT sk FROM \"{numbers}\" WHERE pk = 'a' ORDER BY sk DESC"
    )
    assert [i["sk"]["N"] for i in got["Items"]] == ["3", "2", "1", "0"]
    got = ddb.execute_statement(
        Statement=f"SELECT sk FROM \"{numbers}\" WHERE pk = 'a' ORDER BY sk ASC"
    )
    assert [i["sk"]["N"] for i in got["Items"]] == ["0", "1", "2", "3"]
    assert error_of(
        lambda: ddb.execute_statement(Statement=f'SELECT * FROM "{numbers}" ORDER BY sk')
    ) == (
        "ValidationException",
        "Must have WHERE clause in the statement when using ORDER BY clause.",
    )


def test_partiql_writes_of_missing_items(ddb: Any, numbers: str) -> None:
    # DELETE of an absent item succeeds (nothing deleted); UPDATE of one fails its condition.
    got = ddb.execute_statement(Statement=f"DELETE FROM \"{numbers}\" WHERE pk = 'z' AND sk = 1")
    assert got.get("Items", []) == []
    assert error_of(
        lambda: ddb.execute_statement(
            Statement=f"UPDATE \"{numbers}\" SET v = 1 WHERE pk = 'z' AND sk = 1"
        )
    ) == ("ConditionalCheckFailedException", "The conditional request failed")
    # A present item whose WHERE condition is false fails DELETE too.
    assert error_of(
        lambda: ddb.execute_statement(
            Statement=f"DELETE FROM \"{numbers}\" WHERE pk = 'a' AND sk = 1 AND v = 5"
        )
    ) == ("ConditionalCheckFailedException", "The conditional request failed")


def test_size_of_each_type(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    ddb.put_item(
        TableName=name,
        Item={
            "pk": {"S": "a"},
            "s": {"S": "hello"},
            "b": {"B": b"\x00\x01\x02"},
            "ss": {"SS": ["x", "y"]},
            "l": {"L": [{"N": "1"}, {"S": "2"}, {"NULL": True}, {"M": {}}]},
            "m": {"M": {"k": {"S": "v"}}},
            "n": {"N": "12345"},
            "t": {"BOOL": True},
        },
    )
    # Strings and binaries count their length, sets and lists elements, maps entries.
    for attribute, size in (("s", 5), ("b", 3), ("ss", 2), ("l", 4), ("m", 1)):
        got = ddb.scan(
            TableName=name,
            FilterExpression=f"size({attribute}) = :n",
            ExpressionAttributeValues={":n": {"N": str(size)}},
        )
        assert got["Count"] == 1, attribute
    # Numbers and booleans have no size: the condition is simply false.
    for attribute in ("n", "t", "absent"):
        got = ddb.scan(
            TableName=name,
            FilterExpression=f"size({attribute}) >= :z",
            ExpressionAttributeValues={":z": {"N": "0"}},
        )
        assert (got["Count"], got["ScannedCount"]) == (0, 1), attribute


def test_count_and_scanned_count_with_filter_and_limit(ddb: Any, numbers: str) -> None:
    got = ddb.query(
        TableName=numbers,
        KeyConditionExpression="pk = :a",
        FilterExpression="v > :one",
        ExpressionAttributeValues={":a": {"S": "a"}, ":one": {"N": "1"}},
        Limit=3,
    )
    # Limit caps the items read; the filter then drops some of them.
    assert (got["Count"], got["ScannedCount"]) == (1, 3)
    assert got["LastEvaluatedKey"] == {"pk": {"S": "a"}, "sk": {"N": "2"}}
    got = ddb.scan(
        TableName=numbers,
        FilterExpression="v > :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        Select="COUNT",
    )
    assert (got["Count"], got["ScannedCount"]) == (2, 4)
    assert "Items" not in got


def test_query_filters_cannot_use_key_attributes(ddb: Any, numbers: str) -> None:
    values = {":a": {"S": "a"}, ":n": {"N": "1"}}
    assert error_of(
        lambda: ddb.query(
            TableName=numbers,
            KeyConditionExpression="pk = :a",
            FilterExpression="sk = :n",
            ExpressionAttributeValues=values,
        )
    ) == (
        "ValidationException",
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk",
    )
    eq = [{"AttributeValueList": [v], "ComparisonOperator": "EQ"} for v in values.values()]
    assert error_of(
        lambda: ddb.query(TableName=numbers, KeyConditions={"pk": eq[0]}, QueryFilter={"pk": eq[0]})
    ) == (
        "ValidationException",
        "QueryFilter can only contain non-primary key attributes: Primary key attribute: pk",
    )
    # A Scan may filter on keys.
    got = ddb.scan(
        TableName=numbers,
        FilterExpression="sk = :n",
        ExpressionAttributeValues={":n": values[":n"]},
    )
    assert got["Count"] == 1


def test_legacy_key_conditions_name_the_sort_key(ddb: Any, numbers: str) -> None:
    def eq(value: dict[str, str], op: str = "EQ") -> dict[str, Any]:
        return {"AttributeValueList": [value], "ComparisonOperator": op}

    a, one = {"S": "a"}, {"N": "1"}
    assert error_of(
        lambda: ddb.query(TableName=numbers, KeyConditions={"pk": eq(a), "z": eq(one)})
    ) == ("ValidationException", "Query condition missed key schema element: sk")
    assert error_of(
        lambda: ddb.query(
            TableName=numbers, KeyConditions={"pk": eq(a), "sk": eq(one), "z": eq(one)}
        )
    ) == ("ValidationException", "Conditions can be of length 1 or 2 only")
    assert error_of(
        lambda: ddb.query(
            TableName=numbers, KeyConditions={"pk": eq(a), "sk": eq(one, "BEGINS_WITH")}
        )
    ) == (
        "ValidationException",
        "One or more parameter values were invalid: ComparisonOperator BEGINS_WITH is not "
        "valid for N AttributeValue type",
    )
    assert error_of(
        lambda: ddb.query(
            TableName=numbers,
            KeyConditionExpression="pk = :a AND v = :n",
            ExpressionAttributeValues={":a": a, ":n": one},
        )
    ) == ("ValidationException", "Query condition missed key schema element: sk")


def test_number_arithmetic_limits(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    key = {"pk": {"S": "a"}}
    overflow = (
        "ValidationException",
        "Number overflow. Attempting to store a number with magnitude larger than supported range",
    )
    for left, right in (("9e125", "9e125"), ("1e50", "1")):
        # Too large, or too precise for 38 digits: DynamoDB calls both an overflow.
        assert (
            error_of(
                lambda left=left, right=right: ddb.update_item(
                    TableName=name,
                    Key=key,
                    UpdateExpression="SET b = :l + :r",
                    ExpressionAttributeValues={":l": {"N": left}, ":r": {"N": right}},
                )
            )
            == overflow
        )
    ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET b = :l - :r",
        ExpressionAttributeValues={":l": {"N": "10000000000000000000000"}, ":r": {"N": "1"}},
    )
    item = ddb.get_item(TableName=name, Key=key)["Item"]
    assert item["b"] == {"N": "9999999999999999999999"}


def test_removals_do_not_create_items(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    for n, update in enumerate(
        (
            {"UpdateExpression": "REMOVE a"},
            {"AttributeUpdates": {"a": {"Action": "DELETE"}}},
            {"AttributeUpdates": {"a": {"Action": "DELETE", "Value": {"NS": ["1"]}}}},
        )
    ):
        key = {"pk": {"S": f"r{n}"}}
        got = ddb.update_item(TableName=name, Key=key, ReturnValues="ALL_NEW", **update)
        assert "Attributes" not in got
        assert "Item" not in ddb.get_item(TableName=name, Key=key)
    # An update with no actions at all does create the (empty) item.
    ddb.update_item(TableName=name, Key={"pk": {"S": "empty"}})
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "empty"}})["Item"] == {
        "pk": {"S": "empty"}
    }


def test_legacy_attribute_updates_types(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    key = {"pk": {"S": "a"}}
    ddb.put_item(TableName=name, Item={**key, "s": {"S": "x"}, "ns": {"NS": ["1", "2"]}})

    def update(attribute: str, action: str, value: dict[str, Any]) -> tuple[str, str]:
        return error_of(
            lambda: ddb.update_item(
                TableName=name,
                Key=key,
                AttributeUpdates={attribute: {"Action": action, "Value": value}},
            )
        )

    invalid = "One or more parameter values were invalid: "
    assert update("s", "DELETE", {"S": "x"}) == (
        "ValidationException",
        invalid + "DELETE action with value is not supported for the type S",
    )
    assert update("s", "ADD", {"S": "x"}) == (
        "ValidationException",
        invalid + "ADD action is not supported for the type S",
    )
    mismatch = ("ValidationException", "Type mismatch for attribute to update")
    assert update("s", "DELETE", {"SS": ["x"]}) == mismatch
    assert update("ns", "DELETE", {"SS": ["x"]}) == mismatch
    assert update("ns", "ADD", {"SS": ["x"]}) == mismatch
    ddb.update_item(
        TableName=name,
        Key=key,
        AttributeUpdates={"ns": {"Action": "DELETE", "Value": {"NS": ["1", "2"]}}},
    )
    assert "ns" not in ddb.get_item(TableName=name, Key=key)["Item"]


def test_attributes_to_get_duplicates(ddb: Any, numbers: str) -> None:
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    assert error_of(
        lambda: ddb.get_item(TableName=numbers, Key=key, AttributesToGet=["v", "v"])
    ) == (
        "ValidationException",
        "One or more parameter values were invalid: Duplicate value in attribute name: v",
    )


def test_request_validation_envelope(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    item = {"pk": {"S": "a"}}

    def put(**extra: Any) -> tuple[str, str]:
        return error_of(lambda: ddb.put_item(TableName=name, Item=item, **extra))

    one = "1 validation error detected: "
    assert put(ExpressionAttributeValues={":v": {"S": "x"}})[1] == (
        one + "ExpressionAttributeValues can only be specified when using expressions"
    )
    assert put(ConditionExpression="")[1] == (
        one + "Invalid ConditionExpression: The expression can not be empty;"
    )
    assert put(Expected={"a": {"Exists": True}})[1] == (
        one + "One or more parameter values were invalid: Value must be provided when Exists is "
        "true for Attribute: a"
    )
    assert put(Expected={"a": {"ComparisonOperator": "EQ"}})[1] == (
        one + "One or more parameter values were invalid: Value or AttributeValueList must be "
        "used with ComparisonOperator: EQ for Attribute: a"
    )
    assert error_of(lambda: ddb.put_item(TableName="a" * 256, Item=item))[1] == (
        f"{one}Value '{'a' * 256}' at 'tableName' failed to satisfy constraint: Member must have "
        "length less than or equal to 255"
    )


def test_redundant_parentheses_and_self_comparison(
    ddb: Any, make_table: Callable[..., str]
) -> None:
    name = make_table()
    item = {"pk": {"S": "a"}}
    assert error_of(
        lambda: ddb.put_item(
            TableName=name, Item=item, ConditionExpression="((attribute_not_exists(pk)))"
        )
    ) == (
        "ValidationException",
        "Invalid ConditionExpression: The expression has redundant parentheses;",
    )
    ddb.put_item(TableName=name, Item=item, ConditionExpression="(attribute_not_exists(pk))")
    assert error_of(
        lambda: ddb.put_item(
            TableName=name,
            Item=item,
            ConditionExpression="contains(#a, #a)",
            ExpressionAttributeNames={"#a": "data"},
        )
    ) == (
        "ValidationException",
        "Invalid ConditionExpression: The first operand must be distinct from the remaining "
        "operands for this operator or function; operator: contains, first operand: [data]",
    )


def test_key_condition_operand_types(ddb: Any, numbers: str) -> None:
    def query(expression: str, values: dict[str, Any]) -> str:
        return error_of(
            lambda: ddb.query(
                TableName=numbers,
                KeyConditionExpression=expression,
                ExpressionAttributeValues={":p": {"S": "a"}, **values},
            )
        )[1]

    def operand(op: str, kind: str) -> str:
        return (
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
            f"operator or function: {op}, operand type: {kind}"
        )

    schema = (
        "One or more parameter values were invalid: Condition parameter type does not match "
        "schema type"
    )
    true, one = {"BOOL": True}, {"N": "1"}
    assert query("pk = :p AND begins_with(sk, :v)", {":v": one}) == operand("begins_with", "N")
    assert query("pk = :p AND begins_with(sk, :v)", {":v": true}) == operand("begins_with", "BOOL")
    assert query("pk = :p AND begins_with(sk, :v)", {":v": {"S": "a"}}) == schema
    assert query("pk = :p AND sk < :v", {":v": true}) == operand("<", "BOOL")
    assert query("pk = :p AND :v >= sk", {":v": true}) == operand(">=", "BOOL")
    assert query("pk = :p AND sk BETWEEN :v AND :w", {":v": true, ":w": true}) == operand(
        "BETWEEN", "BOOL"
    )
    assert query("pk = :p AND sk = :v", {":v": true}) == schema
    assert query("pk = :p AND sk > :v AND sk < :w", {":v": one, ":w": one}) == (
        "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition "
        "per key"
    )
    assert query("pk = :p AND sk > :v AND extra = :w", {":v": one, ":w": one}) == (
        "The number of query conditions (3) exceeds the number of key attributes defined in the "
        "schema (2)"
    )


def test_partiql_index_errors(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(
        ExtraDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    missing = f'SELECT * FROM "{name}"."nope"'
    for consistent in (False, True):
        assert error_of(
            lambda consistent=consistent: ddb.execute_statement(
                Statement=missing, ConsistentRead=consistent
            )
        ) == ("ValidationException", "The table does not have the specified index")
    assert error_of(
        lambda: ddb.execute_statement(
            Statement=f'SELECT * FROM "{name}"."by-g"', ConsistentRead=True
        )
    ) == (
        "ValidationException",
        "Strongly consistent read is not supported on Global Secondary Indexes",
    )


def test_transaction_key_type_errors_cancel(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    from botocore.exceptions import ClientError

    def cancelled(action: dict[str, Any]) -> list[dict[str, Any]]:
        with pytest.raises(ClientError) as info:
            ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": name, "Item": {"pk": {"S": "fine"}}}},
                    action,
                ]
            )
        assert info.value.response["Error"]["Code"] == "TransactionCanceledException"
        return info.value.response["CancellationReasons"]

    reasons = cancelled({"Put": {"TableName": name, "Item": {"pk": {"N": "5"}}}})
    assert reasons == [
        {"Code": "None"},
        {
            "Code": "ValidationError",
            "Message": "One or more parameter values were invalid: Type mismatch for key pk "
            "expected: S actual: N",
        },
    ]
    reasons = cancelled({"Delete": {"TableName": name, "Key": {"pk": {"L": [{"S": "x"}]}}}})
    assert reasons[1] == {
        "Code": "ValidationError",
        "Message": "The provided key element does not match the schema",
    }
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "fine"}})
    # An empty key value fails the whole request instead.
    assert error_of(
        lambda: ddb.transact_write_items(
            TransactItems=[{"Delete": {"TableName": name, "Key": {"pk": {"S": ""}}}}]
        )
    ) == (
        "ValidationException",
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty string value. Key: pk",
    )


NOT_NUMERIC = "The parameter cannot be converted to a numeric value"


def test_value_errors_in_the_current_layer(ddb: Any, make_table: Callable[..., str]) -> None:
    """PutItem, UpdateItem and DeleteItem word bad values in the current layer, enveloped;
    GetItem and Query the same words bare; BatchWriteItem and Scan the older ones."""
    name = make_table()
    one = "1 validation error detected: "
    invalid = "One or more parameter values were invalid: "
    duplicates = [
        (
            {"SS": ["b", "a", "b"]},
            invalid + 'Input collection ["a", "b", "b"] contains duplicates.',
        ),
        (
            {"BS": [b"\xff", b"\x00", b"\x00"]},
            invalid + 'Input collection ["AA==","/w==","AA=="]of type BS contains duplicates.',
        ),
        ({"NS": ["2", "1", "2"]}, invalid + "Input collection contains duplicates."),
        ({"N": "abc"}, f"{NOT_NUMERIC}: abc"),
        ({"N": ""}, f"{NOT_NUMERIC}: "),
    ]
    for value, message in duplicates:
        item = {"pk": {"S": "a"}, "v": value}
        assert error_of(lambda item=item: ddb.put_item(TableName=name, Item=item))[1] == (
            one + message
        )
        assert error_of(
            lambda value=value: ddb.update_item(
                TableName=name,
                Key={"pk": {"S": "a"}},
                UpdateExpression="SET v = :v",
                ExpressionAttributeValues={":v": value},
            )
        )[1] == (one + message)
        assert (
            error_of(
                lambda value=value: ddb.query(
                    TableName=name,
                    KeyConditionExpression="pk = :p",
                    FilterExpression="v = :v",
                    ExpressionAttributeValues={":p": {"S": "a"}, ":v": value},
                )
            )[1]
            == message
        )
    assert (
        error_of(
            lambda: ddb.batch_write_item(
                RequestItems={name: [{"PutRequest": {"Item": {"pk": {"S": "a"}, "v": {"N": ""}}}}]}
            )
        )[1]
        == NOT_NUMERIC
    )
    assert error_of(
        lambda: ddb.scan(
            TableName=name,
            FilterExpression="v = :v",
            ExpressionAttributeValues={":v": {"SS": ["b", "a", "b"]}},
        )
    )[1] == (
        "ExpressionAttributeValues contains invalid value: One or more parameter values were "
        "invalid: Input collection [b, a, b] contains duplicates. for key :v"
    )


def test_key_values_checked_before_the_schema(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    repeated = {"SS": ["b", "a", "b"]}
    message = (
        'One or more parameter values were invalid: Input collection ["a", "b", "b"] contains '
        "duplicates."
    )
    assert error_of(lambda: ddb.get_item(TableName=name, Key={"pk": repeated}))[1] == message
    assert (
        error_of(
            lambda: ddb.query(
                TableName=name,
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "a"}},
                ExclusiveStartKey={"pk": repeated},
            )
        )[1]
        == message
    )
    assert error_of(lambda: ddb.delete_item(TableName=name, Key={"pk": repeated}))[1] == (
        "1 validation error detected: " + message
    )


def test_batch_write_item_key_errors(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    mismatch = ("ValidationException", "The provided key element does not match the schema")
    for item in ({"pk": {"N": "5"}}, {"pk": {"L": [{"S": "x"}]}}, {"other": {"S": "x"}}):
        assert (
            error_of(
                lambda item=item: ddb.batch_write_item(
                    RequestItems={name: [{"PutRequest": {"Item": item}}]}
                )
            )
            == mismatch
        )
    assert (
        error_of(
            lambda: ddb.batch_write_item(
                RequestItems={name: [{"DeleteRequest": {"Key": {"other": {"S": "x"}}}}]}
            )
        )
        == mismatch
    )


def test_delete_item_request_checks(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    key = {"pk": {"S": "a"}}

    def delete(**extra: Any) -> str:
        return error_of(lambda: ddb.delete_item(TableName=name, Key=key, **extra))[1]

    one = "1 validation error detected: "
    invalid = "One or more parameter values were invalid: "
    condition = {"ConditionExpression": "attribute_exists(a)"}
    assert delete(**condition, ExpressionAttributeValues={}) == (
        one + "ExpressionAttributeValues must not be empty"
    )
    assert delete(ReturnValues="ALL_NEW") == one + "ReturnValues can only be ALL_OLD or NONE"
    assert error_of(lambda: ddb.put_item(TableName=name, Item=key, ReturnValues="UPDATED_NEW"))[
        1
    ] == (one + "ReturnValues can only be ALL_OLD or NONE")
    assert delete(Expected={"a": {"Exists": False, "Value": {"S": "x"}}}) == (
        f"{one}{invalid}Value cannot be used when Exists is false for Attribute: a"
    )
    both = {"Value": {"S": "x"}, "ComparisonOperator": "EQ", "AttributeValueList": [{"S": "x"}]}
    assert delete(Expected={"a": both}) == (
        f"{one}{invalid}Value and AttributeValueList cannot be used together for Attribute: a"
    )
    between = {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"S": "x"}]}
    assert delete(Expected={"a": between}) == (
        f"{one}{invalid}Invalid number of argument(s) for the BETWEEN ComparisonOperator"
    )
    # A Scan's legacy filter is checked in the older layer: bare.
    assert error_of(lambda: ddb.scan(TableName=name, ScanFilter={"a": between}))[1] == (
        f"{invalid}Invalid number of argument(s) for the BETWEEN ComparisonOperator"
    )


@pytest.mark.parametrize(
    ("literal", "cost"),
    [("3.14159", 5), ("123456", 4), ("1E125", 2), ("-7.3", 4), ("0042.1200", 3)],
)
def test_number_byte_cost_at_the_item_limit(
    ddb: Any, make_table: Callable[..., str], literal: str, cost: int
) -> None:
    """A number costs a byte, a byte per two significant digits on each side of the point
    (rounded up) and a byte if negative: measured here at the 400 KB item limit."""
    name = make_table()

    def item(total: int) -> dict[str, Any]:
        padding = total - len("pk") - len("k") - len("n") - cost - len("p")
        return {"pk": {"S": "k"}, "n": {"N": literal}, "p": {"S": "x" * padding}}

    ddb.put_item(TableName=name, Item=item(400 * 1024))
    assert error_of(lambda: ddb.put_item(TableName=name, Item=item(400 * 1024 + 1))) == (
        "ValidationException",
        "Item size has exceeded the maximum allowed size",
    )


def test_batch_get_item_mixing_styles_across_tables(
    ddb: Any, make_table: Callable[..., str]
) -> None:
    one, two = make_table(), make_table()
    assert error_of(
        lambda: ddb.batch_get_item(
            RequestItems={
                one: {"Keys": [{"pk": {"S": "a"}}], "ProjectionExpression": "pk"},
                two: {"Keys": [{"pk": {"S": "a"}}], "AttributesToGet": ["pk"]},
            }
        )
    ) == (
        "ValidationException",
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {AttributesToGet} Expression parameters: "
        "{ProjectionExpression}",
    )


def test_warm_throughput(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    baseline = {"ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 4000, "Status": "ACTIVE"}
    assert ddb.describe_table(TableName=name)["Table"]["WarmThroughput"] == baseline
    raised = ddb.update_table(TableName=name, WarmThroughput={"ReadUnitsPerSecond": 12240})
    assert raised["TableDescription"]["WarmThroughput"]["ReadUnitsPerSecond"] == 12240
    got = ddb.describe_table(TableName=name)["Table"]["WarmThroughput"]
    assert got == {**baseline, "ReadUnitsPerSecond": 12240}
    code, message = error_of(
        lambda: ddb.update_table(TableName=name, WarmThroughput={"ReadUnitsPerSecond": 12120})
    )
    assert code == "ValidationException" and "lower than current WarmThroughput" in message
    created = make_table(WarmThroughput={"WriteUnitsPerSecond": 4080})
    got = ddb.describe_table(TableName=created)["Table"]["WarmThroughput"]
    assert got == {**baseline, "WriteUnitsPerSecond": 4080}


def test_provisioned_throughput_changes_are_dated(ddb: Any, unique: Callable[[str], str]) -> None:
    name = unique("prov")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    up = {"ReadCapacityUnits": 10, "WriteCapacityUnits": 5}
    got = ddb.update_table(TableName=name, ProvisionedThroughput=up)["TableDescription"]
    assert "LastIncreaseDateTime" in got["ProvisionedThroughput"]
    down = {"ReadCapacityUnits": 2, "WriteCapacityUnits": 5}
    ddb.update_table(TableName=name, ProvisionedThroughput=down)
    described = ddb.describe_table(TableName=name)["Table"]["ProvisionedThroughput"]
    assert described["ReadCapacityUnits"] == 2
    assert described["NumberOfDecreasesToday"] == 1
    assert {"LastIncreaseDateTime", "LastDecreaseDateTime"} <= set(described)


def test_index_write_capacity_ladder(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(
        ExtraDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["p"]},
            }
        ],
    )
    key = {"pk": {"S": "a"}}

    def index_units(**update: Any) -> float:
        got = ddb.update_item(TableName=name, Key=key, ReturnConsumedCapacity="INDEXES", **update)[
            "ConsumedCapacity"
        ]
        return float(got.get("GlobalSecondaryIndexes", {}).get("by-g", {}).get("CapacityUnits", 0))

    def set_(expression: str, value: str) -> dict[str, Any]:
        return {"UpdateExpression": expression, "ExpressionAttributeValues": {":v": {"S": value}}}

    assert index_units(**set_("SET misc = :v", "x")) == 0  # sparse: not in the index
    assert index_units(**set_("SET g = :v", "g1")) == 1  # enters the index
    assert index_units(**set_("SET misc = :v", "y")) == 0  # not projected
    assert index_units(**set_("SET p = :v", "p1")) == 1  # projected
    assert index_units(**set_("SET g = :v", "g2")) == 2  # key moves: delete and insert
    assert index_units(UpdateExpression="REMOVE g") == 1  # leaves the index
    put = ddb.put_item(
        TableName=name,
        Item={**key, "g": {"S": "g"}},
        ReturnConsumedCapacity="INDEXES",
    )["ConsumedCapacity"]
    assert put["GlobalSecondaryIndexes"]["by-g"]["CapacityUnits"] == 1
    again = ddb.put_item(
        TableName=name, Item={**key, "g": {"S": "g"}}, ReturnConsumedCapacity="INDEXES"
    )["ConsumedCapacity"]
    assert "GlobalSecondaryIndexes" not in again  # an identical overwrite costs the index nothing
    assert again["CapacityUnits"] == 1


@pytest.mark.parametrize(
    ("literal", "stored"),
    [
        ("9.9999999999999999999999999999999999999E+125", "9" * 38 + "0" * 88),
        ("-9.9999999999999999999999999999999999999E+125", "-" + "9" * 38 + "0" * 88),
        ("+.5", "0.5"),
        ("-0", "0"),
        ("1.e5", "100000"),
        ("00042", "42"),
        ("+1e-2", "0.01"),
    ],
)
def test_number_formats(
    ddb: Any, make_table: Callable[..., str], literal: str, stored: str
) -> None:
    name = make_table()
    ddb.put_item(TableName=name, Item={"pk": {"S": "n"}, "v": {"N": literal}})
    item = ddb.get_item(TableName=name, Key={"pk": {"S": "n"}})["Item"]
    assert item["v"] == {"N": stored}


def test_size_of_a_string_counts_utf16_code_units(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "s": {"S": "héé"}, "e": {"S": "a😀"}})
    for attribute, size in (("s", 3), ("e", 3)):
        got = ddb.scan(
            TableName=name,
            FilterExpression=f"size({attribute}) = :n",
            ExpressionAttributeValues={":n": {"N": str(size)}},
        )
        assert got["Count"] == 1, attribute


def test_update_table_unchanged_throughput_and_on_demand(
    ddb: Any, make_table: Callable[..., str], unique: Callable[[str], str]
) -> None:
    name = unique("prov")
    same = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput=same,
    )
    code, message = error_of(lambda: ddb.update_table(TableName=name, ProvisionedThroughput=same))
    assert code == "ValidationException"
    assert message.startswith("The provisioned throughput for the table will not change.")
    on_demand = make_table()
    limits = {"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 50}
    ddb.update_table(TableName=on_demand, OnDemandThroughput=limits)
    assert ddb.describe_table(TableName=on_demand)["Table"]["OnDemandThroughput"] == limits


def _with_gsi(make_table: Callable[..., str]) -> str:
    return make_table(
        ExtraDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def test_empty_index_keys(ddb: Any, make_table: Callable[..., str]) -> None:
    name = _with_gsi(make_table)
    key = {"pk": {"S": "a"}}
    tail = "The AttributeValue for a key attribute cannot contain an empty string value. "
    assert error_of(lambda: ddb.put_item(TableName=name, Item={**key, "g": {"S": ""}}))[1] == (
        "One or more parameter values are not valid. A value specified for a secondary index key "
        f"is not supported. {tail}IndexName: by-g, IndexKey: g"
    )
    update = {
        "Key": key,
        "UpdateExpression": "SET g = :e",
        "ExpressionAttributeValues": {":e": {"S": ""}},
    }
    message = (
        "One or more parameter values are not valid. The update expression attempted to update a "
        f"secondary index key to a value that is not supported. {tail}IndexName: by-g, "
        "IndexKey: g"
    )
    assert error_of(lambda: ddb.update_item(TableName=name, **update))[1] == message
    # In a transaction too the empty value fails the whole request.
    assert error_of(
        lambda: ddb.transact_write_items(TransactItems=[{"Update": {"TableName": name, **update}}])
    ) == ("ValidationException", message)


def test_transaction_capacity_and_empty_projection(
    ddb: Any, make_table: Callable[..., str]
) -> None:
    name = make_table()
    key = {"pk": {"S": "a"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"S": "x"}})
    check = {"TableName": name, "Key": key, "ConditionExpression": "attribute_exists(pk)"}
    got = ddb.transact_write_items(
        TransactItems=[{"ConditionCheck": check}], ReturnConsumedCapacity="TOTAL"
    )
    assert got["ConsumedCapacity"][0]["CapacityUnits"] == 2.0
    got = ddb.transact_get_items(
        TransactItems=[{"Get": {"TableName": name, "Key": key, "ProjectionExpression": "nothing"}}]
    )
    assert got["Responses"] == [{}]


def test_update_table_gsi_definitions(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(
        ExtraDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    create = {
        "Create": {
            "IndexName": "by-g2",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    }
    code, message = error_of(
        lambda: ddb.update_table(TableName=name, GlobalSecondaryIndexUpdates=[create])
    )
    assert code == "ValidationException"
    assert "Some index key attributes are not defined in AttributeDefinitions" in message
    ddb.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "N"}],
        GlobalSecondaryIndexUpdates=[create],
    )
    definitions = ddb.describe_table(TableName=name)["Table"]["AttributeDefinitions"]
    assert {"AttributeName": "g", "AttributeType": "S"} in definitions


def test_tag_resource_with_a_malformed_arn(ddb: Any) -> None:
    assert error_of(
        lambda: ddb.tag_resource(ResourceArn="not-an-arn", Tags=[{"Key": "k", "Value": "v"}])
    ) == (
        "ValidationException",
        "Invalid TableArn: Invalid ResourceArn provided as input not-an-arn",
    )


def test_transaction_replay_reads(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    items = [{"Put": {"TableName": name, "Item": {"pk": {"S": "a"}}}}]
    first = ddb.transact_write_items(
        TransactItems=items, ClientRequestToken=name, ReturnConsumedCapacity="TOTAL"
    )
    assert first["ConsumedCapacity"][0]["CapacityUnits"] == 2.0
    again = ddb.transact_write_items(
        TransactItems=items, ClientRequestToken=name, ReturnConsumedCapacity="TOTAL"
    )
    assert again["ConsumedCapacity"][0]["TableName"] == name


def test_type_mismatched_condition_operands(ddb: Any, make_table: Callable[..., str]) -> None:
    """An operand no ordering applies to is a ValidationException, not a failed condition;
    a stored attribute of another type than the value only fails the condition."""
    table = make_table()
    item = {"pk": {"S": "a"}, "n": {"N": "5"}}
    ddb.put_item(TableName=table, Item=item)
    assert error_of(
        lambda: ddb.put_item(
            TableName=table,
            Item=item,
            ConditionExpression="n < :v",
            ExpressionAttributeValues={":v": {"BOOL": True}},
        )
    ) == (
        "ValidationException",
        "Invalid ConditionExpression: Incorrect operand type for operator or function; "
        "operator or function: <, operand type: BOOL",
    )
    code, text = error_of(
        lambda: ddb.delete_item(
            TableName=table,
            Key={"pk": {"S": "a"}},
            ConditionExpression="n BETWEEN :lo AND :hi",
            ExpressionAttributeValues={":lo": {"N": "1"}, ":hi": {"S": "z"}},
        )
    )
    assert code == "ValidationException"
    assert "requires same data type for lower and upper bounds" in text
    assert (
        error_of(
            lambda: ddb.put_item(
                TableName=table,
                Item=item,
                ConditionExpression="n < :v",
                ExpressionAttributeValues={":v": {"S": "z"}},
            )
        )[0]
        == "ConditionalCheckFailedException"
    )
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"] == item


def test_legacy_key_conditions_beside_expressions(ddb: Any, numbers: str) -> None:
    """KeyConditions may stand beside FilterExpression and ProjectionExpression (DynamoDB
    accepts the pair); only KeyConditionExpression, its own counterpart, conflicts with it."""
    key = {"pk": {"AttributeValueList": [{"S": "a"}], "ComparisonOperator": "EQ"}}
    got = ddb.query(
        TableName=numbers,
        KeyConditions=key,
        FilterExpression="v >= :two",
        ProjectionExpression="sk",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    assert got["Items"] == [{"sk": {"N": "2"}}, {"sk": {"N": "3"}}]
    assert got["ScannedCount"] == 4
    assert error_of(
        lambda: ddb.query(
            TableName=numbers,
            KeyConditions=key,
            KeyConditionExpression="pk = :a",
            ExpressionAttributeValues={":a": {"S": "a"}},
        )
    ) == (
        "ValidationException",
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {KeyConditions} Expression parameters: "
        "{KeyConditionExpression}",
    )
    code, _ = error_of(
        lambda: ddb.query(
            TableName=numbers,
            KeyConditions=key,
            QueryFilter={"v": {"AttributeValueList": [{"N": "1"}], "ComparisonOperator": "GE"}},
            FilterExpression="v >= :two",
            ExpressionAttributeValues={":two": {"N": "2"}},
        )
    )
    assert code == "ValidationException"


def test_warm_throughput_raised_is_updating_then_active(
    ddb: Any, make_table: Callable[..., str]
) -> None:
    """Developer Guide, "Check your table's current warm throughput": Status is UPDATING while
    a new warm throughput is being set, ACTIVE once it is; tables and global indexes alike."""
    name = make_table(
        ExtraDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
                "WarmThroughput": {"ReadUnitsPerSecond": 13000},
            }
        ],
    )
    index = ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]
    assert index["WarmThroughput"] == {
        "ReadUnitsPerSecond": 13000,
        "WriteUnitsPerSecond": 4000,
        "Status": "ACTIVE",
    }
    raised = ddb.update_table(TableName=name, WarmThroughput={"WriteUnitsPerSecond": 5000})
    assert raised["TableDescription"]["WarmThroughput"]["Status"] == "UPDATING"
    assert ddb.describe_table(TableName=name)["Table"]["WarmThroughput"]["Status"] == "ACTIVE"
    raised = ddb.update_table(
        TableName=name,
        GlobalSecondaryIndexUpdates=[
            {"Update": {"IndexName": "by-g", "WarmThroughput": {"WriteUnitsPerSecond": 6000}}}
        ],
    )
    index = raised["TableDescription"]["GlobalSecondaryIndexes"][0]
    assert index["WarmThroughput"] == {
        "ReadUnitsPerSecond": 13000,
        "WriteUnitsPerSecond": 6000,
        "Status": "UPDATING",
    }
    index = ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]
    assert index["WarmThroughput"]["Status"] == "ACTIVE"
    assert ddb.describe_table(TableName=name)["Table"]["WarmThroughput"]["Status"] == "ACTIVE"
