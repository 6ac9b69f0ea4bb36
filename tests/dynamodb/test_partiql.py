"""PartiQL: ExecuteStatement, BatchExecuteStatement, ExecuteTransaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.dynamodb.conftest import error_of


def test_insert_select_update_delete(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(range_type="N")
    for i in range(5):
        ddb.execute_statement(
            Statement=f"INSERT INTO \"{name}\" VALUE {{'pk': ?, 'sk': {i}, 'tags': <<'a','b'>>}}",
            Parameters=[{"S": "p"}],
        )
    code, msg = error_of(
        lambda: ddb.execute_statement(
            Statement=f"INSERT INTO \"{name}\" VALUE {{'pk': 'p', 'sk': 0}}"
        )
    )
    assert (code, msg) == ("DuplicateItemException", "Duplicate primary key exists in table")
    got = ddb.execute_statement(
        Statement=f'SELECT sk FROM "{name}" WHERE pk = ? AND sk >= 3', Parameters=[{"S": "p"}]
    )
    assert got["Items"] == [{"sk": {"N": "3"}}, {"sk": {"N": "4"}}]
    ddb.execute_statement(
        Statement=f"UPDATE \"{name}\" SET n = 10 SET note = 'x' REMOVE tags "
        "WHERE pk = 'p' AND sk = 1"
    )
    item = ddb.get_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"N": "1"}})["Item"]
    assert item == {"pk": {"S": "p"}, "sk": {"N": "1"}, "n": {"N": "10"}, "note": {"S": "x"}}
    updated = ddb.execute_statement(
        Statement=f"UPDATE \"{name}\" SET n = n + 5 WHERE pk = 'p' AND sk = 1 RETURNING ALL_NEW *"
    )
    assert updated["Items"][0]["n"] == {"N": "15"}
    ddb.execute_statement(Statement=f"DELETE FROM \"{name}\" WHERE pk = 'p' AND sk = 0")
    rest = ddb.execute_statement(Statement=f'SELECT * FROM "{name}"')["Items"]
    assert sorted(int(i["sk"]["N"]) for i in rest) == [1, 2, 3, 4]
    code, _ = error_of(
        lambda: ddb.execute_statement(
            Statement=f"UPDATE \"{name}\" SET n = 1 WHERE pk = 'p' AND sk = 99"
        )
    )
    assert code == "ConditionalCheckFailedException"


def test_select_pagination(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(range_type="N")
    for i in range(7):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(i)}})
    seen: list[str] = []
    kwargs: dict[str, Any] = {"Statement": f"SELECT * FROM \"{name}\" WHERE pk = 'p'", "Limit": 3}
    while True:
        page = ddb.execute_statement(**kwargs)
        seen += [i["sk"]["N"] for i in page["Items"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert seen == [str(i) for i in range(7)]


def test_batch_execute(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    out = ddb.batch_execute_statement(
        Statements=[
            {"Statement": f"SELECT * FROM \"{name}\" WHERE pk = 'a'"},
            {"Statement": f"SELECT * FROM \"{name}\" WHERE pk = 'zz'"},
        ]
    )["Responses"]
    assert out[0]["Item"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    assert "Item" not in out[1]
    writes = ddb.batch_execute_statement(
        Statements=[
            {"Statement": f"INSERT INTO \"{name}\" VALUE {{'pk': 'b'}}"},
            {"Statement": f"INSERT INTO \"{name}\" VALUE {{'pk': 'a'}}"},
        ]
    )["Responses"]
    assert "Error" not in writes[0]
    assert writes[1]["Error"]["Code"] == "DuplicateItem"


def test_execute_transaction(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    with pytest.raises(ClientError) as info:
        ddb.execute_transaction(
            TransactStatements=[
                {"Statement": f"INSERT INTO \"{name}\" VALUE {{'pk': 'new'}}"},
                {"Statement": f"UPDATE \"{name}\" SET v = 2 WHERE pk = 'a' AND v = 5"},
            ]
        )
    assert info.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = info.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "new"}})
    ddb.execute_transaction(
        TransactStatements=[
            {"Statement": f"INSERT INTO \"{name}\" VALUE {{'pk': 'new'}}"},
            {"Statement": f"UPDATE \"{name}\" SET v = 2 WHERE pk = 'a' AND v = 1"},
        ]
    )
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "a"}})["Item"]["v"] == {"N": "2"}


def test_statement_errors(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table()
    code, msg = error_of(
        lambda: ddb.execute_statement(
            Statement=f'SELECT * FROM "{name}" WHERE pk = ?',
            Parameters=[{"S": "a"}, {"S": "b"}],
        )
    )
    assert (code, msg) == (
        "ValidationException",
        "Number of parameters in request and statement don't match.",
    )
    code, msg = error_of(lambda: ddb.execute_statement(Statement=f'SELEKT * FROM "{name}"'))
    assert code == "ValidationException"
    assert msg.startswith("Statement wasn't well formed, can't be processed")
    code, _ = error_of(lambda: ddb.execute_statement(Statement='SELECT * FROM "absent-table"'))
    assert code == "ResourceNotFoundException"


def test_select_on_index_with_in_and_missing(ddb: Any, make_table: Callable[..., str]) -> None:
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
    for key, group in (("a", "x"), ("b", "x"), ("c", "y")):
        ddb.put_item(TableName=name, Item={"pk": {"S": key}, "g": {"S": group}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "d"}, "g": {"S": "x"}, "flag": {"BOOL": True}})
    found = ddb.execute_statement(
        Statement=f'SELECT pk FROM "{name}"."by-g" WHERE g = \'x\' AND flag IS MISSING'
    )["Items"]
    assert sorted(i["pk"]["S"] for i in found) == ["a", "b"]
    found = ddb.execute_statement(Statement=f"SELECT pk FROM \"{name}\" WHERE pk IN ['a', 'c']")[
        "Items"
    ]
    assert sorted(i["pk"]["S"] for i in found) == ["a", "c"]
