"""Global tables, version 2019.11.21 (Developer Guide, "Global tables"; API reference,
UpdateTable ReplicaUpdates and ReplicationGroupUpdate): a replica in another region of the
account, writes replicated both ways, replicas removed by UpdateTable or DeleteTable; the
2017.11.29 operations answer as DynamoDB does now that it makes no such tables."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config

from tests.cloudformation.conftest import outputs, reasons, settle
from tests.dynamodb.conftest import error_of

HOME, AWAY = "us-east-1", "eu-west-1"
KEY = [{"AttributeName": "pk", "KeyType": "HASH"}]
DEF = [{"AttributeName": "pk", "AttributeType": "S"}]


@pytest.fixture
def away(client: Callable[..., Any]) -> Any:
    return client("dynamodb", region=AWAY)


def _global_table(ddb: Any, unique: Callable[[str], str], **extra: Any) -> str:
    name = unique("global")
    ddb.create_table(
        TableName=name,
        KeySchema=KEY,
        AttributeDefinitions=DEF,
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    ddb.put_item(TableName=name, Item={"pk": {"S": "before"}, "v": {"N": "1"}})
    created = ddb.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": AWAY}}])
    description = created["TableDescription"]
    assert description["TableStatus"] == "UPDATING"
    assert {r["RegionName"]: r["ReplicaStatus"] for r in description["Replicas"]} == {
        HOME: "ACTIVE",
        AWAY: "CREATING",
    }
    return name


@pytest.mark.clock
def test_replica_created_active_and_described_in_both_regions(
    ddb: Any, away: Any, unique: Callable[[str], str], advance: Callable[[float], None]
) -> None:
    name = _global_table(ddb, unique)
    assert away.describe_table(TableName=name)["Table"]["TableStatus"] == "CREATING"
    advance(60)
    assert away.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"
    for client, region in ((ddb, HOME), (away, AWAY)):
        table = client.describe_table(TableName=name)["Table"]
        assert table["GlobalTableVersion"] == "2019.11.21"
        assert [(r["RegionName"], r["ReplicaStatus"]) for r in table["Replicas"]] == sorted(
            [(HOME, "ACTIVE"), (AWAY, "ACTIVE")]
        )
        assert table["TableArn"].split(":")[3] == region
        # The replica got a stream with both images, as DynamoDB enables one when none is on.
        assert table["StreamSpecification"] == {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    # The items already in the table were copied into the replica.
    assert away.get_item(TableName=name, Key={"pk": {"S": "before"}})["Item"]["v"] == {"N": "1"}
    assert away.describe_table(TableName=name)["Table"]["ItemCount"] == 1


def test_writes_replicate_both_ways(ddb: Any, away: Any, unique: Callable[[str], str]) -> None:
    name = _global_table(ddb, unique)
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "from": {"S": HOME}})
    away.put_item(TableName=name, Item={"pk": {"S": "b"}, "from": {"S": AWAY}})
    away.update_item(
        TableName=name,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET seen = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    for client in (ddb, away):
        items = {i["pk"]["S"]: i for i in client.scan(TableName=name, ConsistentRead=True)["Items"]}
        assert set(items) == {"before", "a", "b"}
        # The last writer wins; no aws:rep:* bookkeeping attributes are shown.
        assert items["a"] == {"pk": {"S": "a"}, "from": {"S": HOME}, "seen": {"BOOL": True}}
    ddb.transact_write_items(
        TransactItems=[{"Delete": {"TableName": name, "Key": {"pk": {"S": "b"}}}}]
    )
    ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {"pk": {"S": "c"}}}}]})
    assert sorted(i["pk"]["S"] for i in away.scan(TableName=name)["Items"]) == [
        "a",
        "before",
        "c",
    ]


def test_replicated_writes_are_streamed_in_each_region(
    ddb: Any, away: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    name = _global_table(ddb, unique)
    ddb.put_item(TableName=name, Item={"pk": {"S": "x"}, "n": {"N": "1"}})
    away_streams = client("dynamodbstreams", region=AWAY)
    arn = away.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = away_streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = away_streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = away_streams.get_records(ShardIterator=iterator)["Records"]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records] == [
        ("INSERT", "x")
    ]
    assert records[0]["awsRegion"] == AWAY
    assert records[0]["dynamodb"]["NewImage"] == {"pk": {"S": "x"}, "n": {"N": "1"}}


def test_stream_rules_while_global(ddb: Any, unique: Callable[[str], str]) -> None:
    name = _global_table(
        ddb,
        unique,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )
    # An existing stream keeps its view type.
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["StreamSpecification"]["StreamViewType"] == "KEYS_ONLY"
    code, message = error_of(
        lambda: ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    )
    assert code == "ValidationException"
    assert "Disabling Stream is not allowed for a Global Table replica" in message


def test_replica_update_errors(
    ddb: Any, away: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    name = unique("regional")
    ddb.create_table(
        TableName=name, KeySchema=KEY, AttributeDefinitions=DEF, BillingMode="PAY_PER_REQUEST"
    )
    table = ddb.describe_table(TableName=name)["Table"]
    assert "Replicas" not in table and "GlobalTableVersion" not in table
    assert error_of(
        lambda: ddb.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": HOME}}])
    ) == (
        "ValidationException",
        "Cannot add or delete the local region through ReplicaUpdates. Use CreateTable, "
        "DeleteTable, or UpdateTable as required.",
    )
    assert error_of(
        lambda: ddb.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": AWAY}}])
    ) == (
        "ValidationException",
        "Replica specified in the Replica Update or Replica Delete action of the request was "
        "not found.",
    )
    unchecked = client("dynamodb", config=Config(parameter_validation=False))
    code, message = error_of(
        lambda: unchecked.update_table(
            TableName=name,
            ReplicaUpdates=[{"Create": {"RegionName": AWAY}, "Delete": {"RegionName": AWAY}}],
        )
    )
    assert code == "ValidationException" and "Only one of Create, Update or Delete" in message
    # A table of that name already in the other region is not made a replica.
    away.create_table(
        TableName=name, KeySchema=KEY, AttributeDefinitions=DEF, BillingMode="PAY_PER_REQUEST"
    )
    code, message = error_of(
        lambda: ddb.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": AWAY}}])
    )
    assert code == "ValidationException" and "already existed as tables" in message
    assert "Replicas" not in ddb.describe_table(TableName=name)["Table"]


def test_replica_deleted_by_update_table(ddb: Any, away: Any, unique: Callable[[str], str]) -> None:
    name = _global_table(ddb, unique)
    deleted = ddb.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": AWAY}}])
    assert deleted["TableDescription"]["TableStatus"] == "UPDATING"
    code, _ = error_of(lambda: away.describe_table(TableName=name))
    assert code == "ResourceNotFoundException"
    # Back to a regional table: no Replicas, the stream stays on.
    table = ddb.describe_table(TableName=name)["Table"]
    assert "Replicas" not in table and "GlobalTableVersion" not in table
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    ddb.put_item(TableName=name, Item={"pk": {"S": "local"}})
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})


def test_replica_deleted_by_delete_table(ddb: Any, away: Any, unique: Callable[[str], str]) -> None:
    name = _global_table(ddb, unique)
    away.delete_table(TableName=name)
    table = ddb.describe_table(TableName=name)["Table"]
    assert "Replicas" not in table
    ddb.put_item(TableName=name, Item={"pk": {"S": "after"}})
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "after"}})["Item"]


def test_legacy_global_table_operations(ddb: Any, unique: Callable[[str], str]) -> None:
    name = _global_table(ddb, unique)
    assert ddb.list_global_tables()["GlobalTables"] == []
    code, message = error_of(
        lambda: ddb.create_global_table(
            GlobalTableName=name, ReplicationGroup=[{"RegionName": AWAY}]
        )
    )
    assert code == "ValidationException" and "2017.11.29 is not supported" in message
    for call in (
        lambda: ddb.describe_global_table(GlobalTableName=name),
        lambda: ddb.describe_global_table_settings(GlobalTableName=name),
        lambda: ddb.update_global_table(
            GlobalTableName=name, ReplicaUpdates=[{"Delete": {"RegionName": AWAY}}]
        ),
    ):
        assert error_of(call) == (
            "GlobalTableNotFoundException",
            f"Global table with name '{name}' does not exist.",
        )


def test_index_and_ttl_changes_apply_to_every_replica(
    ddb: Any, away: Any, unique: Callable[[str], str]
) -> None:
    name = _global_table(ddb, unique)
    ddb.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            }
        ],
    )
    ddb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
    index = away.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]
    assert index["IndexName"] == "by-g"
    assert index["IndexArn"].split(":")[3] == AWAY
    assert away.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires",
    }
    ddb.put_item(TableName=name, Item={"pk": {"S": "k"}, "g": {"S": "green"}})
    found = away.query(
        TableName=name,
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "green"}},
    )["Items"]
    assert found == [{"pk": {"S": "k"}, "g": {"S": "green"}}]


def _template(name: str, regions: list[str]) -> str:
    replicas = [
        {
            "Region": region,
            "Tags": [{"Key": "where", "Value": region}],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        }
        for region in regions
    ]
    return json.dumps(
        {
            "Resources": {
                "Global": {
                    "Type": "AWS::DynamoDB::GlobalTable",
                    "Properties": {
                        "TableName": name,
                        "BillingMode": "PAY_PER_REQUEST",
                        "AttributeDefinitions": [
                            {"AttributeName": "pk", "AttributeType": "S"},
                            {"AttributeName": "g", "AttributeType": "S"},
                        ],
                        "KeySchema": KEY,
                        "GlobalSecondaryIndexes": [
                            {
                                "IndexName": "by-g",
                                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                "Projection": {"ProjectionType": "ALL"},
                            }
                        ],
                        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                        "TimeToLiveSpecification": {"AttributeName": "exp", "Enabled": True},
                        "Replicas": replicas,
                    },
                }
            },
            "Outputs": {
                "Name": {"Value": {"Ref": "Global"}},
                "Arn": {"Value": {"Fn::GetAtt": ["Global", "Arn"]}},
                "TableId": {"Value": {"Fn::GetAtt": ["Global", "TableId"]}},
            },
        }
    )


def test_cloudformation_global_table(
    ddb: Any, away: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    """AWS::DynamoDB::GlobalTable (CloudFormation User Guide): the table in the stack's
    region and a replica in each other region of Replicas, each with its own settings."""
    cfn = client("cloudformation")
    third = client("dynamodb", region="us-west-2")
    name, stack = unique("gt"), unique("gt-stack")
    cfn.create_stack(StackName=stack, TemplateBody=_template(name, [HOME, AWAY]))
    created = settle(cfn, stack)
    assert created["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, stack)
    out = outputs(created)
    assert out["Name"] == name
    assert out["Arn"].endswith(f":table/{name}") and f":{HOME}:" in out["Arn"]
    assert out["TableId"] == ddb.describe_table(TableName=name)["Table"]["TableId"]
    table = away.describe_table(TableName=name)["Table"]
    assert {r["RegionName"] for r in table["Replicas"]} == {HOME, AWAY}
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "by-g"
    assert (
        away.describe_time_to_live(TableName=name)["TimeToLiveDescription"]["TimeToLiveStatus"]
        == "ENABLED"
    )
    tags = away.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert {"Key": "where", "Value": AWAY} in tags
    backups = away.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    # Moving the replica from one region to another.
    cfn.update_stack(StackName=stack, TemplateBody=_template(name, [HOME, "us-west-2"]))
    updated = settle(cfn, stack)
    assert updated["StackStatus"] == "UPDATE_COMPLETE", reasons(cfn, stack)
    assert error_of(lambda: away.describe_table(TableName=name))[0] == "ResourceNotFoundException"
    replicas = ddb.describe_table(TableName=name)["Table"]["Replicas"]
    assert {r["RegionName"] for r in replicas} == {HOME, "us-west-2"}
    ddb.put_item(TableName=name, Item={"pk": {"S": "x"}, "g": {"S": "y"}})
    assert third.get_item(TableName=name, Key={"pk": {"S": "x"}})["Item"]["g"] == {"S": "y"}
    cfn.delete_stack(StackName=stack)
    assert settle(cfn, created["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    for one in (ddb, third):
        assert error_of(lambda c=one: c.describe_table(TableName=name))[0] == (
            "ResourceNotFoundException"
        )


def test_replica_settings_of_its_own(ddb: Any, away: Any, unique: Callable[[str], str]) -> None:
    """ReplicaUpdates Create/Update with a replica's own settings (API reference,
    CreateReplicationGroupMemberAction, UpdateReplicationGroupMemberAction): shown in Replicas
    (ReplicaDescription) and made in the replica's table."""
    name = unique("global")
    ddb.create_table(
        TableName=name,
        KeySchema=KEY,
        AttributeDefinitions=DEF,
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    ddb.update_table(
        TableName=name,
        ReplicaUpdates=[
            {
                "Create": {
                    "RegionName": AWAY,
                    "ProvisionedThroughputOverride": {"ReadCapacityUnits": 9},
                }
            }
        ],
    )
    ddb.update_table(
        TableName=name,
        ReplicaUpdates=[
            {"Update": {"RegionName": AWAY, "TableClassOverride": "STANDARD_INFREQUENT_ACCESS"}}
        ],
    )
    for client in (ddb, away):
        replicas = {
            r["RegionName"]: r for r in client.describe_table(TableName=name)["Table"]["Replicas"]
        }
        assert replicas[AWAY]["ProvisionedThroughputOverride"] == {"ReadCapacityUnits": 9}
        assert replicas[AWAY]["ReplicaTableClassSummary"] == {
            "TableClass": "STANDARD_INFREQUENT_ACCESS"
        }
        assert "ProvisionedThroughputOverride" not in replicas[HOME]
    table = away.describe_table(TableName=name)["Table"]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 9
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 5
    assert table["TableClassSummary"] == {"TableClass": "STANDARD_INFREQUENT_ACCESS"}
    assert "TableClassSummary" not in ddb.describe_table(TableName=name)["Table"]
    # The table's capacity changes reach the replica; its own read capacity stays.
    ddb.update_table(
        TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 6, "WriteCapacityUnits": 5}
    )
    ddb.update_table(
        TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 6, "WriteCapacityUnits": 7}
    )
    throughput = away.describe_table(TableName=name)["Table"]["ProvisionedThroughput"]
    assert (throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]) == (9, 7)


@pytest.mark.clock
def test_replication_latency_metric(
    ddb: Any,
    client: Callable[..., Any],
    unique: Callable[[str], str],
    advance: Callable[[float], None],
) -> None:
    """Developer Guide, "DynamoDB metrics": ReplicationLatency, per TableName and
    ReceivingRegion, published in the region a write was made in."""
    name = _global_table(ddb, unique)
    ddb.put_item(TableName=name, Item={"pk": {"S": "m"}})
    advance(120)  # past the minute the datapoints are handed over in
    metrics = client("cloudwatch").list_metrics(
        Namespace="AWS/DynamoDB",
        MetricName="ReplicationLatency",
        Dimensions=[{"Name": "TableName", "Value": name}],
    )["Metrics"]
    assert [sorted((d["Name"], d["Value"]) for d in m["Dimensions"]) for m in metrics] == [
        [("ReceivingRegion", AWAY), ("TableName", name)]
    ]
