"""DynamoDB Streams, TTL expiry, and durability across kill -9."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from tests.dynamodb.conftest import error_of

pytestmark = pytest.mark.clock  # these tests move the server clock

KEY = [{"AttributeName": "pk", "KeyType": "HASH"}]
DEF = [{"AttributeName": "pk", "AttributeType": "S"}]


def records(streams: Any, arn: str, kind: str = "TRIM_HORIZON", **extra: Any) -> Any:
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **extra
    )["ShardIterator"]
    return streams.get_records(ShardIterator=iterator)


def test_equal_but_not_identical_write_records_nothing(
    ddb: Any, streams: Any, make_table: Callable[..., str]
) -> None:
    """A write that changes no data writes no stream record (DynamoDB Streams developer guide):
    the same map in another order, the same sets in another order and 1 written as 1.0 are
    the same data."""
    spec = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    name = make_table(StreamSpecification=spec)
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    key = {"pk": {"S": "a"}}
    item = {
        **key,
        "n": {"N": "1"},
        "m": {"M": {"dog": {"N": "1"}, "cat": {"N": "2"}}},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2"]},
    }
    ddb.put_item(TableName=name, Item=item)
    ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET n = :n, m = :m, ss = :ss, ns = :ns",
        ExpressionAttributeValues={
            ":n": {"N": "1.0"},
            ":m": {"M": {"cat": {"N": "2.0"}, "dog": {"N": "1"}}},
            ":ss": {"SS": ["b", "a"]},
            ":ns": {"NS": ["2", "1.0"]},
        },
    )
    ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "1.5"}},
    )
    got = records(streams, arn)["Records"]
    assert [r["eventName"] for r in got] == ["INSERT", "MODIFY"]
    assert got[1]["dynamodb"]["OldImage"]["n"] == {"N": "1"}
    assert got[1]["dynamodb"]["NewImage"]["n"] == {"N": "1.5"}


@pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])
def test_records_per_view_type(
    ddb: Any, streams: Any, make_table: Callable[..., str], view: str
) -> None:
    name = make_table(StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    table = ddb.describe_table(TableName=name)["Table"]
    arn = table["LatestStreamArn"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": view}
    key = {"pk": {"S": "a"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}})
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}})  # unchanged: no record
    ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    ddb.delete_item(TableName=name, Key=key)
    got = records(streams, arn)["Records"]
    assert [r["eventName"] for r in got] == ["INSERT", "MODIFY", "REMOVE"]
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in got]
    assert numbers == sorted(numbers)
    for record in got:
        assert record["dynamodb"]["Keys"] == key
        assert record["dynamodb"]["StreamViewType"] == view
        assert record["eventSource"] == "aws:dynamodb"
    modify = got[1]["dynamodb"]
    assert ("NewImage" in modify) == (view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"))
    assert ("OldImage" in modify) == (view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"))
    if "NewImage" in modify:
        assert modify["NewImage"]["v"] == {"N": "2"}
    if "OldImage" in modify:
        assert modify["OldImage"]["v"] == {"N": "1"}


def test_iterator_types_and_listing(ddb: Any, streams: Any, make_table: Callable[..., str]) -> None:
    name = make_table(StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    listed = streams.list_streams(TableName=name)["Streams"]
    assert [s["StreamArn"] for s in listed] == [arn]
    for i in range(3):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}})
    all_records = records(streams, arn)["Records"]
    second = all_records[1]["dynamodb"]["SequenceNumber"]
    at = records(streams, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=second)["Records"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in at] == ["k1", "k2"]
    after = records(streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=second)["Records"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in after] == ["k2"]
    latest = records(streams, arn, "LATEST")
    assert latest["Records"] == []
    ddb.put_item(TableName=name, Item={"pk": {"S": "k3"}})
    follow = streams.get_records(ShardIterator=latest["NextShardIterator"])["Records"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in follow] == ["k3"]


def test_disable_stream(ddb: Any, streams: Any, make_table: Callable[..., str]) -> None:
    name = make_table(StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    _, msg = error_of(
        lambda: ddb.update_table(
            TableName=name,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        )
    )
    assert msg == f"Table already has an enabled stream: TableName: {name}"
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    table = ddb.describe_table(TableName=name)["Table"]
    assert "StreamSpecification" not in table and table["LatestStreamArn"] == arn
    _, msg = error_of(
        lambda: ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    )
    assert msg == f"Table has no stream to disable: TableName: {name}"
    described = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert described["StreamStatus"] == "DISABLED"
    ddb.put_item(TableName=name, Item={"pk": {"S": "after"}})
    assert records(streams, arn)["Records"] == []


def _advance(endpoint: str, seconds: float) -> None:
    request = urllib.request.Request(
        endpoint + "/_nubes/clock",
        data=json.dumps({"advance": seconds}).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    urllib.request.urlopen(request).read()


def _keys(ddb: Any) -> list[str]:
    return sorted(i["pk"]["S"] for i in ddb.scan(TableName="ttl")["Items"])


def test_ttl_expiry_and_retention(nubes_factory: Callable[..., Any]) -> None:
    server = nubes_factory(persistent=False)
    ddb = server.client("dynamodb")
    streams = server.client("dynamodbstreams")
    ddb.create_table(
        TableName="ttl",
        KeySchema=KEY,
        AttributeDefinitions=DEF,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"},
    )
    ddb.update_time_to_live(
        TableName="ttl", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"}
    )
    now = int(ddb.describe_table(TableName="ttl")["Table"]["CreationDateTime"].timestamp())
    ddb.put_item(TableName="ttl", Item={"pk": {"S": "soon"}, "exp": {"N": str(now + 60)}})
    ddb.put_item(TableName="ttl", Item={"pk": {"S": "later"}, "exp": {"N": str(now + 7200)}})
    ddb.put_item(TableName="ttl", Item={"pk": {"S": "never"}, "exp": {"S": "not a number"}})
    _advance(server.endpoint, 120)
    assert _keys(ddb) == ["later", "never"]
    arn = ddb.describe_table(TableName="ttl")["Table"]["LatestStreamArn"]
    got = records(streams, arn)["Records"]
    removal = got[-1]
    assert removal["eventName"] == "REMOVE"
    assert removal["userIdentity"] == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
    assert removal["dynamodb"]["OldImage"]["pk"] == {"S": "soon"}
    _advance(server.endpoint, 25 * 3600)  # past the 24 hour retention (and "later" expired)
    assert _keys(ddb) == ["never"]
    got = records(streams, arn)["Records"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in got] == ["later"]


def test_items_survive_kill(nubes_factory: Callable[..., Any]) -> None:
    server = nubes_factory(persistent=True)
    ddb = server.client("dynamodb")
    ddb.create_table(
        TableName="durable",
        KeySchema=[*KEY, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[*DEF, {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(10):
        ddb.put_item(TableName="durable", Item={"pk": {"S": "p"}, "sk": {"N": str(i)}})
    server.kill()
    server.start()
    ddb = server.client("dynamodb")
    page = ddb.query(
        TableName="durable",
        KeyConditionExpression="pk = :p AND sk > :s",
        ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"N": "6"}},
    )
    assert [i["sk"]["N"] for i in page["Items"]] == ["7", "8", "9"]


def test_streams_request_limits_and_filters(
    ddb: Any, streams: Any, make_table: Callable[..., str]
) -> None:
    """Limits the DynamoDB Streams API reference states (DescribeStream and ListStreams 100,
    GetRecords 1000), the CHILD_SHARDS filter, and sequence numbers outside the shard."""
    spec = {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    name = make_table(StreamSpecification=spec)
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}})
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    shard_id = shard["ShardId"]
    for call, most in (
        (lambda: streams.describe_stream(StreamArn=arn, Limit=101), 100),
        (lambda: streams.list_streams(Limit=101), 100),
    ):
        assert error_of(call) == (
            "ValidationException",
            "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: "
            f"Member must have value less than or equal to {most}",
        )
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    code, text = error_of(lambda: streams.get_records(ShardIterator=iterator, Limit=1001))
    assert code == "ValidationException" and "less than or equal to 1000" in text
    assert len(streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]) == 1
    children = streams.describe_stream(
        StreamArn=arn, ShardFilter={"Type": "CHILD_SHARDS", "ShardId": shard_id}
    )["StreamDescription"]["Shards"]
    assert children == []
    first = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
    code, _ = error_of(
        lambda: streams.get_shard_iterator(
            StreamArn=arn,
            ShardId=shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=str(first + 10**6).zfill(21),
        )
    )
    assert code == "ValidationException"
    at = streams.get_shard_iterator(
        StreamArn=arn,
        ShardId=shard_id,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=shard["SequenceNumberRange"]["StartingSequenceNumber"],
    )["ShardIterator"]
    assert len(streams.get_records(ShardIterator=at)["Records"]) == 1
