"""Global secondary indexes with multi-attribute keys (DynamoDB, November 2025): up to four
partition key and four sort key attributes per index, queried with every partition key
attribute compared for equality and the sort key attributes from the left, equality first and
one range condition last (Developer Guide, "Multi-attribute keys pattern")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.dynamodb.conftest import error_of

INDEX = "by-tournament"


def _matches_table(ddb: Any, unique: Callable[[str], str], **extra: Any) -> str:
    name = unique("matches")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "matchId", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "matchId", "AttributeType": "S"},
            {"AttributeName": "tournamentId", "AttributeType": "S"},
            {"AttributeName": "region", "AttributeType": "S"},
            {"AttributeName": "round", "AttributeType": "S"},
            {"AttributeName": "bracket", "AttributeType": "S"},
            {"AttributeName": "seq", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": INDEX,
                "KeySchema": [
                    {"AttributeName": "tournamentId", "KeyType": "HASH"},
                    {"AttributeName": "region", "KeyType": "HASH"},
                    {"AttributeName": "round", "KeyType": "RANGE"},
                    {"AttributeName": "bracket", "KeyType": "RANGE"},
                    {"AttributeName": "seq", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    return name


def _match(match: str, tournament: str, region: str, rnd: str, bracket: str, seq: int) -> Any:
    return {
        "matchId": {"S": match},
        "tournamentId": {"S": tournament},
        "region": {"S": region},
        "round": {"S": rnd},
        "bracket": {"S": bracket},
        "seq": {"N": str(seq)},
    }


MATCHES = [
    _match("m1", "WINTER2024", "NA-EAST", "FINALS", "CHAMPIONSHIP", 1),
    _match("m2", "WINTER2024", "NA-EAST", "SEMIFINALS", "UPPER", 1),
    _match("m3", "WINTER2024", "NA-EAST", "SEMIFINALS", "UPPER", 2),
    _match("m4", "WINTER2024", "NA-EAST", "SEMIFINALS", "LOWER", 1),
    _match("m5", "WINTER2024", "NA-EAST", "QUARTERFINALS", "UPPER", 10),
    _match("m6", "WINTER2024", "EU-WEST", "SEMIFINALS", "UPPER", 1),
    _match("m7", "SPRING2025", "NA-EAST", "SEMIFINALS", "UPPER", 1),
]


def _query(ddb: Any, table: str, condition: str, values: dict[str, Any], **extra: Any) -> Any:
    names = {k: v for k, v in (("#r", "round"), ("#g", "region")) if k in condition}
    if names:
        extra["ExpressionAttributeNames"] = names
    return ddb.query(
        TableName=table,
        IndexName=INDEX,
        KeyConditionExpression=condition,
        ExpressionAttributeValues={k: {"N" if k == ":n" else "S": v} for k, v in values.items()},
        **extra,
    )


def _ids(result: Any) -> list[str]:
    return [i["matchId"]["S"] for i in result["Items"]]


def test_create_and_describe(ddb: Any, unique: Callable[[str], str]) -> None:
    name = _matches_table(ddb, unique)
    index = ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]
    assert [(e["AttributeName"], e["KeyType"]) for e in index["KeySchema"]] == [
        ("tournamentId", "HASH"),
        ("region", "HASH"),
        ("round", "RANGE"),
        ("bracket", "RANGE"),
        ("seq", "RANGE"),
    ]
    assert index["IndexStatus"] == "ACTIVE"


def test_query_rules(ddb: Any, unique: Callable[[str], str]) -> None:
    name = _matches_table(ddb, unique)
    for item in MATCHES:
        ddb.put_item(TableName=name, Item=item)
    pk = "tournamentId = :t AND #g = :g"
    base = {":t": "WINTER2024", ":g": "NA-EAST"}
    # Every partition key attribute; items come in sort key order, attribute by attribute.
    assert _ids(_query(ddb, name, pk, base)) == ["m1", "m5", "m4", "m2", "m3"]
    assert _ids(_query(ddb, name, pk, base, ScanIndexForward=False)) == [
        "m3",
        "m2",
        "m4",
        "m5",
        "m1",
    ]
    # Sort key attributes from the left, equality then one range condition last.
    semis = f"{pk} AND #r = :r"
    assert _ids(_query(ddb, name, semis, {**base, ":r": "SEMIFINALS"})) == ["m4", "m2", "m3"]
    upper = f"{semis} AND bracket = :b"
    values = {**base, ":r": "SEMIFINALS", ":b": "UPPER"}
    assert _ids(_query(ddb, name, upper, values)) == ["m2", "m3"]
    assert _ids(_query(ddb, name, f"{upper} AND seq > :n", {**values, ":n": "1"})) == ["m3"]
    assert _ids(_query(ddb, name, f"{semis} AND bracket < :b", values)) == ["m4"]
    assert _ids(_query(ddb, name, f"{pk} AND begins_with(#r, :r)", {**base, ":r": "SEMI"})) == [
        "m4",
        "m2",
        "m3",
    ]
    between = f"{pk} AND #r BETWEEN :a AND :z"
    assert _ids(_query(ddb, name, between, {**base, ":a": "FINALS", ":z": "QUARTERFINALS"})) == [
        "m1",
        "m5",
    ]
    # A partition key attribute left out, or compared by range.
    assert error_of(lambda: _query(ddb, name, "tournamentId = :t", {":t": "WINTER2024"})) == (
        "ValidationException",
        "Query condition missed key schema element: region",
    )
    assert error_of(lambda: _query(ddb, name, "tournamentId = :t AND #g > :g", base)) == (
        "ValidationException",
        "Query key condition not supported",
    )
    # A sort key attribute skipped, or a range condition before the last one.
    code, message = error_of(
        lambda: _query(ddb, name, f"{pk} AND bracket = :b", {**base, ":b": "UPPER"})
    )
    assert (code, message) == (
        "ValidationException",
        "Query condition missed key schema element: round",
    )
    code, _ = error_of(
        lambda: _query(
            ddb, name, f"{pk} AND #r > :r AND bracket = :b", {**base, ":r": "A", ":b": "UPPER"}
        )
    )
    assert code == "ValidationException"
    # A value of the wrong type for its attribute.
    code, message = error_of(lambda: _query(ddb, name, f"{upper} AND seq = :r", values))
    assert message.endswith("Condition parameter type does not match schema type")


def test_pages_follow_the_composite_order(ddb: Any, unique: Callable[[str], str]) -> None:
    name = _matches_table(ddb, unique)
    for item in MATCHES:
        ddb.put_item(TableName=name, Item=item)
    seen: list[str] = []
    start: dict[str, Any] | None = None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        page = _query(
            ddb,
            name,
            "tournamentId = :t AND #g = :g",
            {":t": "WINTER2024", ":g": "NA-EAST"},
            Limit=2,
            **extra,
        )
        seen += _ids(page)
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
        assert set(start) == {"matchId", "tournamentId", "region", "round", "bracket", "seq"}
    assert seen == ["m1", "m5", "m4", "m2", "m3"]


def test_sparse_and_kept_by_batches_and_transactions(
    ddb: Any, unique: Callable[[str], str]
) -> None:
    name = _matches_table(ddb, unique)
    partial = dict(MATCHES[0])
    del partial["seq"]  # a sort key attribute missing: not in the index
    ddb.batch_write_item(
        RequestItems={name: [{"PutRequest": {"Item": i}} for i in [partial, *MATCHES[1:3]]]}
    )
    pk = "tournamentId = :t AND #g = :g"
    base = {":t": "WINTER2024", ":g": "NA-EAST"}
    assert _ids(_query(ddb, name, pk, base)) == ["m2", "m3"]
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": MATCHES[3]}},
            {"Delete": {"TableName": name, "Key": {"matchId": {"S": "m2"}}}},
            {
                "Update": {
                    "TableName": name,
                    "Key": {"matchId": {"S": "m1"}},
                    "UpdateExpression": "SET seq = :n",
                    "ExpressionAttributeValues": {":n": {"N": "1"}},
                }
            },
        ]
    )
    assert _ids(_query(ddb, name, pk, base)) == ["m1", "m4", "m3"]
    # Moving an item from one composite partition to another.
    ddb.update_item(
        TableName=name,
        Key={"matchId": {"S": "m3"}},
        UpdateExpression="SET #g = :g",
        ExpressionAttributeNames={"#g": "region"},
        ExpressionAttributeValues={":g": {"S": "EU-WEST"}},
    )
    assert _ids(_query(ddb, name, pk, base)) == ["m1", "m4"]
    assert _ids(_query(ddb, name, pk, {**base, ":g": "EU-WEST"})) == ["m3"]
    described = ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]
    assert described["ItemCount"] == 3
    # Index key values are checked each against the type it is declared with.
    bad = {**MATCHES[4], "seq": {"S": "ten"}}
    assert error_of(lambda: ddb.put_item(TableName=name, Item=bad)) == (
        "ValidationException",
        "One or more parameter values were invalid: Type mismatch for Index Key seq Expected: N "
        f"Actual: S IndexName: {INDEX}",
    )


def test_key_schema_checks(ddb: Any, unique: Callable[[str], str]) -> None:
    def create(schema: list[tuple[str, str]], defined: list[str] | None = None) -> Any:
        names = defined if defined is not None else sorted({n for n, _ in schema} | {"id"})
        return ddb.create_table(
            TableName=unique("mak"),
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in names],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi",
                    "KeySchema": [{"AttributeName": n, "KeyType": k} for n, k in schema],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )

    four = [(f"h{i}", "HASH") for i in range(4)] + [(f"r{i}", "RANGE") for i in range(4)]
    assert create(four)["TableDescription"]["GlobalSecondaryIndexes"][0]["IndexName"] == "gsi"
    code, message = error_of(lambda: create([(f"h{i}", "HASH") for i in range(5)]))
    assert code == "ValidationException" and "HASH" in message
    code, message = error_of(
        lambda: create([("h", "HASH")] + [(f"r{i}", "RANGE") for i in range(5)])
    )
    assert code == "ValidationException" and "RANGE" in message
    code, _ = error_of(lambda: create([("h", "HASH"), ("r", "RANGE"), ("h2", "HASH")]))
    assert code == "ValidationException"
    code, _ = error_of(lambda: create([("h", "HASH"), ("r", "RANGE"), ("h", "RANGE")]))
    assert code == "ValidationException"
    # Every key attribute defined in AttributeDefinitions.
    code, message = error_of(
        lambda: create([("h", "HASH"), ("h2", "HASH"), ("r", "RANGE")], ["id", "h", "r"])
    )
    assert code == "ValidationException"
    assert "Some index key attributes are not defined in AttributeDefinitions" in message
    # The table's own key has at most one partition and one sort key attribute.
    code, _ = error_of(
        lambda: ddb.create_table(
            TableName=unique("mak"),
            KeySchema=[
                {"AttributeName": "a", "KeyType": "HASH"},
                {"AttributeName": "b", "KeyType": "HASH"},
                {"AttributeName": "c", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": n, "AttributeType": "S"} for n in ("a", "b", "c")
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    )
    assert code == "ValidationException"


def test_added_by_update_table_with_backfill(ddb: Any, unique: Callable[[str], str]) -> None:
    name = unique("mak")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for i, (team, year) in enumerate([("a", 2024), ("a", 2025), ("b", 2024)]):
        item = {"id": {"S": f"i{i}"}, "team": {"S": team}, "year": {"N": str(year)}}
        ddb.put_item(TableName=name, Item=item)
    ddb.put_item(TableName=name, Item={"id": {"S": "lone"}, "team": {"S": "a"}})
    ddb.update_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "team", "AttributeType": "S"},
            {"AttributeName": "year", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "team-year",
                    "KeySchema": [
                        {"AttributeName": "team", "KeyType": "HASH"},
                        {"AttributeName": "year", "KeyType": "HASH"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            }
        ],
    )
    found = ddb.query(
        TableName=name,
        IndexName="team-year",
        KeyConditionExpression="team = :t AND #y = :y",
        ExpressionAttributeNames={"#y": "year"},
        ExpressionAttributeValues={":t": {"S": "a"}, ":y": {"N": "2024"}},
    )["Items"]
    assert [i["id"]["S"] for i in found] == ["i0"]


def test_key_size_limits_apply_to_each_attribute(ddb: Any, unique: Callable[[str], str]) -> None:
    name = _matches_table(ddb, unique)
    big_sort = {**MATCHES[0], "bracket": {"S": "b" * 1025}}
    assert error_of(lambda: ddb.put_item(TableName=name, Item=big_sort)) == (
        "ValidationException",
        "One or more parameter values were invalid: Aggregated size of all range keys has "
        "exceeded the size limit of 1024 bytes",
    )
    big_partition = {**MATCHES[0], "region": {"S": "r" * 2049}}
    assert error_of(lambda: ddb.put_item(TableName=name, Item=big_partition)) == (
        "ValidationException",
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum "
        "size limit of2048 bytes",
    )
    # At the limit, each attribute on its own.
    fits = {**MATCHES[0], "region": {"S": "r" * 2048}, "bracket": {"S": "b" * 1024}}
    ddb.put_item(TableName=name, Item=fits)


def test_scan_pages_and_partiql(ddb: Any, unique: Callable[[str], str]) -> None:
    name = _matches_table(ddb, unique)
    for item in MATCHES:
        ddb.put_item(TableName=name, Item=item)
    seen: list[str] = []
    start: dict[str, Any] | None = None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        page = ddb.scan(TableName=name, IndexName=INDEX, Limit=3, **extra)
        seen += _ids(page)
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
    assert sorted(seen) == sorted(m["matchId"]["S"] for m in MATCHES)
    found = ddb.execute_statement(
        Statement=f'SELECT matchId FROM "{name}"."{INDEX}" WHERE tournamentId = ? AND region = ?',
        Parameters=[{"S": "WINTER2024"}, {"S": "EU-WEST"}],
    )["Items"]
    assert found == [{"matchId": {"S": "m6"}}]
