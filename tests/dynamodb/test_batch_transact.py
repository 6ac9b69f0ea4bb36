"""BatchGetItem, BatchWriteItem, TransactWriteItems and TransactGetItems."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.dynamodb.conftest import error_of


def test_batch_write_and_get(ddb: Any, make_table: Callable[..., str]) -> None:
    a, b = make_table(), make_table()
    ddb.batch_write_item(
        RequestItems={
            a: [
                {"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "v": {"N": str(i)}}}}
                for i in range(20)
            ],
            b: [{"PutRequest": {"Item": {"pk": {"S": "only"}}}}],
        }
    )
    ddb.batch_write_item(RequestItems={a: [{"DeleteRequest": {"Key": {"pk": {"S": "k0"}}}}]})
    got = ddb.batch_get_item(
        RequestItems={
            a: {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(3)], "ProjectionExpression": "v"},
            b: {"Keys": [{"pk": {"S": "only"}}, {"pk": {"S": "absent"}}]},
        },
        ReturnConsumedCapacity="TOTAL",
    )
    assert sorted(i["v"]["N"] for i in got["Responses"][a]) == ["1", "2"]
    assert got["Responses"][b] == [{"pk": {"S": "only"}}]
    assert got["UnprocessedKeys"] == {}
    assert {c["TableName"] for c in got["ConsumedCapacity"]} == {a, b}


def test_batch_limits_and_duplicates(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    _, msg = error_of(
        lambda: ddb.batch_write_item(
            RequestItems={
                name: [
                    {"PutRequest": {"Item": {"pk": {"S": "a"}}}},
                    {"DeleteRequest": {"Key": {"pk": {"S": "a"}}}},
                ]
            }
        )
    )
    assert msg == "Provided list of item keys contains duplicates"
    _, msg = error_of(
        lambda: ddb.batch_get_item(
            RequestItems={name: {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "a"}}]}}
        )
    )
    assert msg == "Provided list of item keys contains duplicates"
    other = make_table()
    _, msg = error_of(
        lambda: ddb.batch_get_item(
            RequestItems={
                name: {"Keys": [{"pk": {"S": str(i)}} for i in range(60)]},
                other: {"Keys": [{"pk": {"S": str(i)}} for i in range(41)]},
            }
        )
    )
    assert msg == "Too many items requested for the BatchGetItem call"


def test_transact_write_all_or_nothing(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    ddb.put_item(TableName=name, Item={"pk": {"S": "acct"}, "bal": {"N": "10"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "other"}})
    ops: list[dict[str, Any]] = [
        {"Put": {"TableName": name, "Item": {"pk": {"S": "new"}}}},
        {
            "Update": {
                "TableName": name,
                "Key": {"pk": {"S": "acct"}},
                "UpdateExpression": "SET bal = bal - :amt",
                "ConditionExpression": "bal >= :amt",
                "ExpressionAttributeValues": {":amt": {"N": "30"}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {
            "ConditionCheck": {
                "TableName": name,
                "Key": {"pk": {"S": "other"}},
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
    ]
    with pytest.raises(ClientError) as info:
        ddb.transact_write_items(TransactItems=ops)
    err = info.value.response
    assert err["Error"]["Code"] == "TransactionCanceledException"
    assert err["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed, None]"
    )
    reasons = err["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed", "None"]
    assert reasons[1]["Item"] == {"pk": {"S": "acct"}, "bal": {"N": "10"}}
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "new"}})
    ops[1]["Update"]["ExpressionAttributeValues"] = {":amt": {"N": "4"}}
    ddb.transact_write_items(TransactItems=ops)
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "acct"}})["Item"]["bal"] == {"N": "6"}
    assert "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "new"}})


def test_transact_one_item_once(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    item = {"pk": {"S": "x"}}
    _, msg = error_of(
        lambda: ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": item}},
                {"Delete": {"TableName": name, "Key": item}},
            ]
        )
    )
    assert msg == "Transaction request cannot include multiple operations on one item"


def test_transact_idempotency_token(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    update = {
        "Update": {
            "TableName": name,
            "Key": {"pk": {"S": "c"}},
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
    for _ in range(2):
        ddb.transact_write_items(TransactItems=[update], ClientRequestToken="tok-1")
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "c"}})["Item"]["n"] == {"N": "1"}
    other = {"Put": {"TableName": name, "Item": {"pk": {"S": "d"}}}}
    code, _ = error_of(
        lambda: ddb.transact_write_items(TransactItems=[other], ClientRequestToken="tok-1")
    )
    assert code == "IdempotentParameterMismatchException"


def test_transact_get(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"S": "x"}, "w": {"S": "y"}})
    got = ddb.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": name, "Key": {"pk": {"S": "a"}}, "ProjectionExpression": "v"}},
            {"Get": {"TableName": name, "Key": {"pk": {"S": "b"}}}},
        ]
    )
    assert got["Responses"] == [{"Item": {"v": {"S": "x"}}}, {}]
