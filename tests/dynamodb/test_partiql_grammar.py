"""PartiQL as DynamoDB's parser reads it: number literals, comments, leftover tokens, aliases,
WHERE functions and IS, ordering operand types, write responses, keyed batch/transaction reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.dynamodb.conftest import error_of

MALFORMED = "Statement wasn't well formed, can't be processed: "
LEFTOVER = MALFORMED + "Unexpected token after expression"
OVERFLOW = (
    "Number overflow. Attempting to store a number with magnitude larger than supported range"
)


@pytest.fixture
def numbers(ddb: Any, make_table: Callable[..., str]) -> str:
    name = make_table(hash_type="N")
    for n in ("7310000", "7.3", "-7.3"):
        ddb.put_item(TableName=name, Item={"pk": {"N": n}})
    return name


@pytest.fixture
def strings(ddb: Any, make_table: Callable[..., str]) -> str:
    name = make_table()
    ddb.put_item(
        TableName=name,
        Item={
            "pk": {"S": "a"},
            "ss": {"SS": ["a", "b"]},
            "s": {"S": "str"},
            "m": {"M": {"sub": {"S": "x"}}},
            "nul": {"NULL": True},
            "flag": {"BOOL": True},
        },
    )
    return name


def rejected(ddb: Any, statement: str) -> tuple[str, str]:
    return error_of(lambda: ddb.execute_statement(Statement=statement))


def count(ddb: Any, statement: str) -> int:
    return len(ddb.execute_statement(Statement=statement)["Items"])


@pytest.mark.parametrize(
    "literal", ["7.31e6", "7.31E6", "7.31e+6", "731e4", "73100000e-1", "7310000"]
)
def test_number_literals(ddb: Any, numbers: str, literal: str) -> None:
    got = ddb.execute_statement(Statement=f'SELECT * FROM "{numbers}" WHERE pk = {literal}')
    assert got["Items"] == [{"pk": {"N": "7310000"}}]


def test_number_literals_without_leading_digit(ddb: Any, numbers: str) -> None:
    assert count(ddb, f'SELECT * FROM "{numbers}" WHERE pk = .73e1') == 1
    got = ddb.execute_statement(Statement=f'SELECT * FROM "{numbers}" WHERE pk = -.73e1')
    assert got["Items"] == [{"pk": {"N": "-7.3"}}]


def test_number_literal_errors(ddb: Any, numbers: str) -> None:
    t = f'"{numbers}"'
    assert rejected(ddb, f"SELECT * FROM {t} WHERE pk = 1e126") == (
        "ValidationException",
        OVERFLOW + " under root",
    )
    assert rejected(ddb, f"INSERT INTO {t} VALUE {{'pk': 1, 'm': {{'x': 1e126}}}}")[1] == (
        OVERFLOW + " under root.x"
    )
    assert rejected(ddb, f"INSERT INTO {t} VALUE {{'pk': 1, 'l': [1, 1e126]}}")[1] == (
        OVERFLOW + " under root[1]"
    )
    assert rejected(ddb, f"UPDATE {t} SET a = 1e-131 WHERE pk = 1")[1] == (
        "Number underflow. Attempting to store a number with magnitude smaller than supported "
        "range under root"
    )
    for unreadable in ("1e2147483648", "1.5e-2147483647", "1 # note", "1 /* note"):
        assert rejected(ddb, f"SELECT * FROM {t} WHERE pk = {unreadable}") == (
            "ValidationException",
            MALFORMED,
        )


def test_comments_are_whitespace(ddb: Any, strings: str) -> None:
    t = f'"{strings}"'
    assert count(ddb, f"SELECT * FROM {t} WHERE pk = 'a' -- a note") == 1
    assert count(ddb, f"SELECT * FROM {t} -- a note\nWHERE pk = 'zz'") == 0
    assert count(ddb, f"-- x\nSELECT * FROM {t} /* n */ WHERE pk = 'a' /* n */") == 1


def test_leftover_tokens_and_aliases(ddb: Any, numbers: str, strings: str) -> None:
    n, s = f'"{numbers}"', f'"{strings}"'
    for statement in (
        f"SELECT * FROM {n} WHERE pk = 1 foo",
        f"SELECT * FROM {n} WHERE pk = 1 e5",
        f"SELECT * FROM {n} WHERE pk = 1)",
        f"INSERT INTO {n} VALUE {{'pk': 970001}} foo",
        f"DELETE FROM {n} WHERE pk = 7.3 ORDER BY pk",
        f"SELECT * FROM {n} ORDER BY pk WHERE pk = 1",
        f"INSERT INTO {s} t VALUE {{'pk': 'x'}}",
    ):
        assert rejected(ddb, statement) == ("ValidationException", LEFTOVER), statement
    for statement in (
        f"SELECT * FROM {s} t WHERE pk = 'x'",
        f"SELECT * FROM {s} AS t WHERE pk = 'x'",
        f"UPDATE {s} t SET a = 3 WHERE pk = 'x'",
        f"DELETE FROM {s} t WHERE pk = 'a'",
    ):
        assert rejected(ddb, statement) == ("ValidationException", "Aliasing is not supported")
    assert count(ddb, f"SELECT * FROM {n} WHERE pk = 7.3") == 1
    assert count(ddb, f"SELECT * FROM {s} WHERE pk = 'a'") == 1


@pytest.mark.parametrize(
    ("condition", "matches"),
    [
        ("attribute_exists(ss)", True),
        ("ATTRIBUTE_EXISTS(ss)", True),
        ("attribute_exists(nope)", False),
        ("NOT attribute_exists(nope)", True),
        ("attribute_exists(ss) = true", True),
        ("attribute_exists(ss) = false", False),
        ('attribute_exists("ss")', True),
        ("attribute_exists(m.sub)", True),
        ("size(s) = 3", True),
        ("attribute_type(ss, 'SS')", True),
        ("nul IS NULL", True),
        ("s IS NULL", False),
        ("s IS NOT NULL", True),
        ("nul IS NOT NULL", False),
        ("flag IS BOOL", True),
        ("s IS STRING", True),
        ("s IS BOOL", False),
        ("absent IS MISSING", True),
    ],
)
def test_where_functions_and_is(ddb: Any, strings: str, condition: str, matches: bool) -> None:
    statement = f"SELECT * FROM \"{strings}\" WHERE pk = 'a' AND {condition}"
    assert count(ddb, statement) == int(matches)


def test_where_function_and_operand_errors(ddb: Any, strings: str) -> None:
    where = f"SELECT * FROM \"{strings}\" WHERE pk = 'a' AND "
    assert rejected(ddb, where + "attribute_exists('ss')")[1] == (
        "Operator or function requires a document path; operator or function: attribute_exists"
    )
    assert rejected(ddb, where + "attribute_exists()")[1] == (
        "Incorrect number of operands for operator or function; operator or function: "
        "attribute_exists, number of operands: 0"
    )
    for op in ("<", "<=", ">", ">="):
        assert rejected(ddb, where + f"flag {op} true")[1] == (
            "Incorrect operand type for operator or function; operator or function: "
            f"{op}, operand type: BOOL"
        )
    assert "operator or function: BETWEEN" in rejected(ddb, where + "s BETWEEN true AND false")[1]
    # Equality takes any type; ordering a string against a number is allowed (and false).
    assert count(ddb, where + "flag = true") == 1
    assert count(ddb, where + "s < 5") == 0


def test_write_responses(ddb: Any, strings: str) -> None:
    t = f'"{strings}"'
    for statement in (
        f"INSERT INTO {t} VALUE {{'pk': 'w'}}",
        f"UPDATE {t} SET a = 2 WHERE pk = 'w'",
        f"DELETE FROM {t} WHERE pk = 'w'",
        f"DELETE FROM {t} WHERE pk = 'never'",
    ):
        assert ddb.execute_statement(Statement=statement)["Items"] == []
    got = ddb.execute_transaction(
        TransactStatements=[
            {"Statement": f"INSERT INTO {t} VALUE {{'pk': 'x1'}}"},
            {"Statement": f"UPDATE {t} SET a = 1 WHERE pk = 'a'"},
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    assert got["Responses"] == []
    assert [c["TableName"] for c in got["ConsumedCapacity"]] == [strings]


def test_keyed_reads_in_batches_and_transactions(ddb: Any, strings: str) -> None:
    where = f"SELECT * FROM \"{strings}\" WHERE pk = 'a' AND attribute_exists(ss)"
    got = ddb.batch_execute_statement(Statements=[{"Statement": where}])
    assert got["Responses"][0]["Error"] == {
        "Code": "ValidationError",
        "Message": "Select statements within BatchExecuteStatement must specify the primary key "
        "in the where clause.",
    }
    assert error_of(lambda: ddb.execute_transaction(TransactStatements=[{"Statement": where}])) == (
        "ValidationException",
        "Validation failed in TransactStatements[0]: Select statements within ExecuteTransaction "
        "must specify the primary key in the where clause.",
    )
    keyed = f"SELECT pk FROM \"{strings}\" WHERE pk = 'a'"
    got = ddb.execute_transaction(TransactStatements=[{"Statement": keyed}])
    assert got["Responses"] == [{"Item": {"pk": {"S": "a"}}}]


def test_set_add_and_set_delete(ddb: Any, strings: str) -> None:
    t = f'"{strings}"'

    def update(clause: str, *parameters: dict[str, Any]) -> dict[str, Any]:
        statement = f"UPDATE {t} SET {clause} WHERE pk = 'a' RETURNING ALL NEW *"
        extra = {"Parameters": list(parameters)} if parameters else {}
        got = ddb.execute_statement(Statement=statement, **extra)
        return dict(got["Items"][0])

    assert sorted(update("ss = set_add(ss, <<'z', 'a'>>)")["ss"]["SS"]) == ["a", "b", "z"]
    assert update("ns = SET_ADD(ns, ?)", {"NS": ["2", "1"]})["ns"] == {"NS": ["2", "1"]}
    assert "ss" not in update("ss = set_delete(ss, <<'a', 'b', 'z'>>)")
    assert "gone" not in update("gone = set_delete(gone, <<'a'>>)")
    statement = f"UPDATE {t} SET other = set_add(ns, <<'x'>>) WHERE pk = 'a'"
    column = statement.index("set_add") + 1
    assert rejected(ddb, statement)[1] == (
        f"The first argument to SET_ADD must equal the assignment value at 1:{column}:7"
    )
    assert rejected(ddb, f"UPDATE {t} SET ns = set_add(ns, <<>>) WHERE pk = 'a'")[1] == (
        "Empty bags are not supported"
    )
    assert rejected(ddb, f"UPDATE {t} SET s = set_add(s, <<'x'>>) WHERE pk = 'a'")[1] == (
        "An operand in the update expression has an incorrect data type"
    )
    assert rejected(ddb, f"UPDATE {t} SET ss = set_add(ss, <<'x'>>) WHERE pk = 'none'")[0] == (
        "ConditionalCheckFailedException"
    )


def test_index_reads(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(
        range_type="S",
        ExtraDefinitions=[
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "l", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-l",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "l", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    item = {"pk": {"S": "p"}, "sk": {"S": "s"}, "g": {"S": "x"}, "l": {"S": "y"}, "d": {"S": "1"}}
    ddb.put_item(TableName=name, Item=item)
    got = ddb.execute_statement(Statement=f'SELECT d FROM "{name}"."by-l" WHERE pk = \'p\'')
    assert got["Items"] == [{"d": {"S": "1"}}]
    assert rejected(ddb, f'SELECT d, e, d FROM "{name}"."by-g" WHERE g = \'x\'')[1] == (
        "One or more parameter values were invalid: Global secondary index by-g does not project "
        "[d, e]"
    )
    got = ddb.execute_statement(Statement=f'SELECT pk FROM "{name}"."by-g" WHERE g = \'x\'')
    assert got["Items"] == [{"pk": {"S": "p"}}]
    batch = ddb.batch_execute_statement(
        Statements=[{"Statement": f'SELECT * FROM "{name}"."by-g" WHERE g = \'x\''}]
    )
    assert batch["Responses"][0]["Error"]["Code"] == "ValidationError"


def test_from_first_update(ddb: Any, strings: str) -> None:
    t = f'"{strings}"'
    got = ddb.execute_statement(
        Statement=f"from {t} where pk = ? set c = ? remove flag returning all new *",
        Parameters=[{"S": "a"}, {"N": "7"}],
    )
    assert got["Items"][0]["c"] == {"N": "7"} and "flag" not in got["Items"][0]
    assert rejected(ddb, f"FROM {t} WHERE pk = 'a' AND c = 8 SET d = 1")[0] == (
        "ConditionalCheckFailedException"
    )
    assert rejected(ddb, f"FROM {t} WHERE pk = 'absent' SET d = 1")[0] == (
        "ConditionalCheckFailedException"
    )
    ddb.execute_transaction(
        TransactStatements=[{"Statement": f"FROM {t} WHERE pk = 'a' SET d = 2"}]
    )
    item = ddb.get_item(TableName=strings, Key={"pk": {"S": "a"}})["Item"]
    assert item["d"] == {"N": "2"}


def test_batch_members(ddb: Any, strings: str) -> None:
    t = f'"{strings}"'
    got = ddb.batch_execute_statement(
        Statements=[
            {"Statement": f"UPDATE {t} SET n = 1 WHERE pk = 'a' RETURNING MODIFIED NEW *"},
            {"Statement": f"INSERT INTO {t} VALUE {{'pk': 'a'}}"},
            {
                "Statement": f"UPDATE {t} SET n = 2 WHERE pk = 'a' AND n = 5",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
            {"Statement": f"SELEC * FROM {t}"},
            {"Statement": f"SELECT pk FROM {t} WHERE pk = 'a'", "ConsistentRead": True},
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    first, duplicate, failed, malformed, read = got["Responses"]
    assert first == {"TableName": strings, "Item": {"n": {"N": "1"}}}
    assert duplicate["TableName"] == strings and duplicate["Error"]["Code"] == "DuplicateItem"
    assert failed["Error"]["Code"] == "ConditionalCheckFailed" and "Item" not in failed["Error"]
    assert failed["TableName"] == strings
    assert malformed["Error"]["Code"] == "ValidationError" and "TableName" not in malformed
    assert read == {"TableName": strings, "Item": {"pk": {"S": "a"}}}
    assert got["ConsumedCapacity"][0]["TableName"] == strings
    assert rejected(ddb, f"DELETE FROM {t} WHERE pk = 'a' RETURNING ALL NEW *")[0] == (
        "ValidationException"
    )


def test_transaction_token_and_returning(ddb: Any, strings: str) -> None:
    t = f'"{strings}"'
    statements = [{"Statement": f"UPDATE {t} SET n = n + 1 WHERE pk = 'a'"}]
    ddb.update_item(
        TableName=strings,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET n = :z",
        ExpressionAttributeValues={":z": {"N": "0"}},
    )
    for _ in range(2):
        ddb.execute_transaction(TransactStatements=statements, ClientRequestToken=strings)
    item = ddb.get_item(TableName=strings, Key={"pk": {"S": "a"}})["Item"]
    assert item["n"] == {"N": "1"}  # the replay did not apply again
    returning = [{"Statement": f"UPDATE {t} SET n = 5 WHERE pk = 'a' RETURNING ALL NEW *"}]
    assert error_of(lambda: ddb.execute_transaction(TransactStatements=returning))[0] == (
        "ValidationException"
    )


def test_modified_returning_and_local_index_select_star(ddb: Any, strings: str) -> None:
    t = f'"{strings}"'
    got = ddb.execute_statement(
        Statement=f"UPDATE {t} SET fresh = 1 WHERE pk = 'a' RETURNING MODIFIED OLD *"
    )
    assert got["Items"] == []
    got = ddb.execute_statement(
        Statement=f"UPDATE {t} SET fresh = 2 WHERE pk = 'a' RETURNING MODIFIED OLD *"
    )
    assert got["Items"] == [{"fresh": {"N": "1"}}]


def test_returning_and_index_filter_messages(
    ddb: Any, strings: str, make_table: Callable[..., str]
) -> None:
    t = f'"{strings}"'
    for mode in ("ALL NEW", "MODIFIED OLD"):
        assert rejected(ddb, f"DELETE FROM {t} WHERE pk = 'a' RETURNING {mode} *") == (
            "ValidationException",
            f"Invalid returning clause: RETURNING {mode} *. Only RETURNING ALL OLD * is allowed "
            "in DELETE statements.",
        )
    returning = [{"Statement": f"UPDATE {t} SET v = 1 WHERE pk = 'a' RETURNING ALL NEW *"}]
    assert error_of(lambda: ddb.execute_transaction(TransactStatements=returning))[1] == (
        "Validation failed in TransactStatements[0]: RETURNING clause is not supported in "
        "ExecuteTransaction."
    )
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
    index = f'"{name}"."by-g"'
    assert rejected(ddb, f"SELECT pk FROM {index} WHERE g = 'y' AND hidden = 1")[1] == (
        "One or more parameter values were invalid: Secondary index by-g does not project one "
        "or more filter attributes: [hidden]"
    )
    # Unkeyed, or inside an OR, the same filter simply matches nothing.
    assert count(ddb, f"SELECT pk FROM {index} WHERE hidden = 1") == 0
    assert count(ddb, f"SELECT pk FROM {index} WHERE g = 'y' AND (hidden = 1 OR g = 'z')") == 0


def test_incomplete_statements(ddb: Any, strings: str) -> None:
    t = f'"{strings}"'
    term = MALFORMED + "Unexpected term"
    for statement in (
        f"SELECT * FROM {t} WHERE",
        f"SELECT * FROM {t} WHERE;",
        f"UPDATE {t} SET a = 1 WHERE",
        f"SELECT * FROM {t} WHERE NOT",
        f"SELECT * FROM {t} WHERE (",
        "SELECT * FROM",
    ):
        assert rejected(ddb, statement) == ("ValidationException", term), statement
    for statement in ("DELETE FROM", "DELETE FROM;", "DELETE FROM WHERE pk = 'a'"):
        assert rejected(ddb, statement)[1] == MALFORMED + "Expected identifier for simple path"
    assert rejected(ddb, f"SELECT * FROM {t} WHERE pk = 'a' AND")[1] == (
        MALFORMED + "Missing right-hand side expression of infix operator"
    )
    assert rejected(ddb, f"SELECT * FROM {t} WHERE ORDER BY pk")[1] == (
        MALFORMED + "Unexpected keyword"
    )
    assert rejected(ddb, f"SELECT * FROM {t} WHERE IS NULL")[1] == MALFORMED + "Unexpected operator"
    assert rejected(ddb, f"SELECT * FROM {t} WHERE pk = 'a' AND x IS FOO")[1] == (
        MALFORMED + "Expected type name"
    )
    assert rejected(ddb, f"FROM {t} SET c = 1")[1] == (
        "Where clause does not contain a mandatory equality on all key attributes"
    )
    assert rejected(ddb, f"FROM {t} SET c = 1 WHERE pk = 'a'")[1] == LEFTOVER
    assert (
        error_of(
            lambda: ddb.execute_transaction(
                TransactStatements=[{"Statement": f"SELECT * FROM {t} WHERE"}]
            )
        )[1]
        == f"Validation failed in TransactStatements[0]: {term}"
    )
    assert count(ddb, f"SELECT * FROM {t} WHERE pk = 'a';") == 1
