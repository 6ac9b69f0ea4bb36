"""Metrics the other services publish, in AWS's namespaces, names, dimensions and units: SNS,
Lambda (and a Lambda alarm action), S3's daily storage metrics, and Logs metric filters."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudwatch.conftest import server_time
from tests.lambda_.conftest import ROLE, zipped
from tests.sns.conftest import Recorder


def _sum(
    cw: Any, ns: str, name: str, dims: list[dict[str, str]], start: datetime, end: datetime
) -> dict[str, float]:
    got = cw.get_metric_statistics(
        Namespace=ns,
        MetricName=name,
        Dimensions=dims,
        StartTime=start,
        EndTime=end,
        Period=3600,
        Statistics=["Sum", "SampleCount", "Maximum"],
    )
    total = {"Sum": 0.0, "SampleCount": 0.0, "Maximum": 0.0}
    for p in got["Datapoints"]:
        total["Sum"] += p["Sum"]
        total["SampleCount"] += p["SampleCount"]
        total["Maximum"] = max(total["Maximum"], p["Maximum"])
    return total


@pytest.mark.clock
def test_sns_counts_published_and_delivered(
    client: Callable[..., Any],
    cw: Any,
    endpoint: str,
    unique: Callable[[str], str],
    to_next_minute: Callable[[], float],
) -> None:
    sqs, sns = client("sqs"), client("sns")
    url = sqs.create_queue(QueueName=unique("sub"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    name = unique("topic")
    topic = sns.create_topic(Name=name)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    start = server_time(endpoint) - timedelta(hours=1)
    sns.publish(TopicArn=topic, Message="one")
    sns.publish(TopicArn=topic, Message="two")
    to_next_minute()
    end = server_time(endpoint) + timedelta(hours=1)
    dims = [{"Name": "TopicName", "Value": name}]
    assert _sum(cw, "AWS/SNS", "NumberOfMessagesPublished", dims, start, end)["Sum"] == 2.0
    assert _sum(cw, "AWS/SNS", "NumberOfNotificationsDelivered", dims, start, end)["Sum"] == 2.0
    size = cw.get_metric_statistics(
        Namespace="AWS/SNS",
        MetricName="PublishSize",
        Dimensions=dims,
        StartTime=start,
        EndTime=end,
        Period=3600,
        Statistics=["Maximum"],
    )
    assert size["Datapoints"][0]["Unit"] == "Bytes"


@pytest.mark.clock
def test_lambda_metrics_and_alarm_action(
    client: Callable[..., Any],
    cw: Any,
    endpoint: str,
    unique: Callable[[str], str],
    to_next_minute: Callable[[], float],
) -> None:
    lam = client("lambda")
    name = unique("fn")
    source = (
        "def handler(event, context):\n"
        "    if event.get('fail'):\n"
        "        raise ValueError('asked to fail')\n"
        "    return {'ok': True}\n"
    )
    arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": zipped({"app.py": source})},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    try:
        start = server_time(endpoint) - timedelta(hours=1)
        lam.invoke(FunctionName=name, Payload=b"{}")
        lam.invoke(FunctionName=name, Payload=json.dumps({"fail": True}).encode())
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
        with pytest.raises(ClientError):
            lam.invoke(FunctionName=name, Payload=b"{}")
        lam.delete_function_concurrency(FunctionName=name)
        to_next_minute()
        end = server_time(endpoint) + timedelta(hours=1)
        dims = [{"Name": "FunctionName", "Value": name}]
        assert _sum(cw, "AWS/Lambda", "Invocations", dims, start, end)["Sum"] == 2.0
        assert _sum(cw, "AWS/Lambda", "Errors", dims, start, end)["Sum"] == 1.0
        # Each throttled attempt counts (the SDK retries a throttled call).
        assert _sum(cw, "AWS/Lambda", "Throttles", dims, start, end)["Sum"] >= 1.0
        assert _sum(cw, "AWS/Lambda", "Duration", dims, start, end)["SampleCount"] == 2.0
        assert _sum(cw, "AWS/Lambda", "ConcurrentExecutions", dims, start, end)["Maximum"] >= 1.0
        alarm = unique("to-lambda")
        cw.put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Dimensions=dims,
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=[arn],
        )
        cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")
        (item,) = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="Action")[
            "AlarmHistoryItems"
        ]
        assert item["HistorySummary"] == f"Successfully executed action {arn}"
        event = json.loads(item["HistoryData"])["invokedPayload"]
        assert event["source"] == "aws.cloudwatch"
        assert event["alarmData"]["alarmName"] == alarm
        assert event["alarmData"]["state"]["value"] == "ALARM"
        assert event["alarmData"]["previousState"]["value"] == "INSUFFICIENT_DATA"
        metric = event["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"]
        assert metric == {
            "namespace": "AWS/Lambda",
            "name": "Errors",
            "dimensions": {"FunctionName": name},
        }
    finally:
        lam.delete_function(FunctionName=name)


@pytest.mark.clock
def test_s3_daily_storage_metrics(
    client: Callable[..., Any],
    cw: Any,
    endpoint: str,
    unique: Callable[[str], str],
    advance: Callable[[float], float],
) -> None:
    s3 = client("s3")
    bucket = unique("metrics")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"x" * 100)
    s3.put_object(Bucket=bucket, Key="b", Body=b"y" * 50)
    now = advance(86400 + 60)
    midnight = datetime.fromtimestamp(now - now % 86400, UTC)
    size = cw.get_metric_statistics(
        Namespace="AWS/S3",
        MetricName="BucketSizeBytes",
        Dimensions=[
            {"Name": "BucketName", "Value": bucket},
            {"Name": "StorageType", "Value": "StandardStorage"},
        ],
        StartTime=midnight - timedelta(days=1),
        EndTime=midnight + timedelta(days=1),
        Period=86400,
        Statistics=["Average"],
    )
    assert [(p["Timestamp"], p["Average"], p["Unit"]) for p in size["Datapoints"]] == [
        (midnight, 150.0, "Bytes")
    ]
    count = cw.get_metric_statistics(
        Namespace="AWS/S3",
        MetricName="NumberOfObjects",
        Dimensions=[
            {"Name": "BucketName", "Value": bucket},
            {"Name": "StorageType", "Value": "AllStorageTypes"},
        ],
        StartTime=midnight,
        EndTime=midnight + timedelta(days=1),
        Period=86400,
        Statistics=["Average"],
    )
    assert count["Datapoints"][0]["Average"] == 2.0


def test_logs_metric_filters(
    client: Callable[..., Any], cw: Any, endpoint: str, unique: Callable[[str], str]
) -> None:
    logs = client("logs")
    group, ns = unique("/app"), unique("LogMetrics")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_metric_filter(
        logGroupName=group,
        filterName="latency",
        filterPattern="{ $.latency > 0 }",
        metricTransformations=[
            {
                "metricName": "Latency",
                "metricNamespace": ns,
                "metricValue": "$.latency",
                "unit": "Milliseconds",
                "dimensions": {"Service": "$.service"},
            }
        ],
    )
    logs.put_metric_filter(
        logGroupName=group,
        filterName="errors",
        filterPattern="ERROR",
        metricTransformations=[
            {"metricName": "Errors", "metricNamespace": ns, "metricValue": "1", "defaultValue": 0}
        ],
    )
    t = server_time(endpoint)
    ms = int(t.timestamp() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": ms, "message": json.dumps({"latency": 20, "service": "api"})},
            {"timestamp": ms + 1, "message": json.dumps({"latency": 40, "service": "api"})},
            {"timestamp": ms + 2, "message": "ERROR something broke"},
        ],
    )
    start, end = t - timedelta(minutes=5), t + timedelta(minutes=5)
    latency = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Latency",
        Dimensions=[{"Name": "Service", "Value": "api"}],
        StartTime=start,
        EndTime=end,
        Period=600,
        Statistics=["Average", "SampleCount"],
    )
    assert [(p["Average"], p["SampleCount"], p["Unit"]) for p in latency["Datapoints"]] == [
        (30.0, 2.0, "Milliseconds")
    ]
    errors = _sum(cw, ns, "Errors", [], start, end)
    assert (errors["Sum"], errors["SampleCount"]) == (1.0, 3.0)


@pytest.mark.clock
def test_dynamodb_consumed_capacity(
    client: Callable[..., Any],
    cw: Any,
    endpoint: str,
    unique: Callable[[str], str],
    to_next_minute: Callable[[], float],
) -> None:
    ddb = client("dynamodb")
    table = unique("tbl")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    start = server_time(endpoint) - timedelta(hours=1)
    put = ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"S": "x" * 1500}})
    assert "ConsumedCapacity" not in put
    got = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})
    assert "ConsumedCapacity" not in got
    ddb.get_item(TableName=table, Key={"pk": {"S": "a"}}, ConsistentRead=True)
    with pytest.raises(ClientError):
        ddb.put_item(
            TableName=table,
            Item={"pk": {"S": "a"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    with pytest.raises(ClientError):
        ddb.get_item(TableName=table, Key={"nope": {"S": "a"}})
    to_next_minute()
    end = server_time(endpoint) + timedelta(hours=1)
    dims = [{"Name": "TableName", "Value": table}]
    assert _sum(cw, "AWS/DynamoDB", "ConsumedWriteCapacityUnits", dims, start, end)["Sum"] == 2.0
    assert _sum(cw, "AWS/DynamoDB", "ConsumedReadCapacityUnits", dims, start, end)["Sum"] == 1.5
    latency = _sum(
        cw,
        "AWS/DynamoDB",
        "SuccessfulRequestLatency",
        [*dims, {"Name": "Operation", "Value": "GetItem"}],
        start,
        end,
    )
    assert latency["SampleCount"] == 2.0
    failed = _sum(cw, "AWS/DynamoDB", "ConditionalCheckFailedRequests", dims, start, end)
    assert failed["Sum"] == 1.0
    user_errors = _sum(cw, "AWS/DynamoDB", "UserErrors", [], start, end)
    assert user_errors["Sum"] >= 1.0


def test_first_metric_from_a_failed_request_keeps_cloudwatch_whole(
    nubes_factory: Callable[..., Any],
) -> None:
    """CloudWatch is made on the first recorded value; when that comes from a request that
    fails (and rolls back), CloudWatch's tables must not go with it."""
    server = nubes_factory(persistent=False)
    ddb = server.client("dynamodb")
    with pytest.raises(ClientError):
        ddb.get_item(TableName="does-not-exist", Key={"pk": {"S": "a"}})
    cw = server.client("cloudwatch")
    cw.put_metric_data(Namespace="After", MetricData=[{"MetricName": "m", "Value": 1}])
    assert cw.list_metrics(Namespace="After")["Metrics"][0]["MetricName"] == "m"


@pytest.mark.clock
def test_sns_http_deliveries_are_counted(
    client: Callable[..., Any],
    cw: Any,
    endpoint: str,
    unique: Callable[[str], str],
    http_endpoint: Recorder,
    to_next_minute: Callable[[], float],
) -> None:
    sns = client("sns")
    name = unique("web")
    topic = sns.create_topic(Name=name)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=http_endpoint.url)
    confirm = json.loads(http_endpoint.wait_for(1)[0][1])
    sns.confirm_subscription(TopicArn=topic, Token=confirm["Token"])
    start = server_time(endpoint) - timedelta(hours=1)
    sns.publish(TopicArn=topic, Message="over http")
    http_endpoint.wait_for(2)
    dims = [{"Name": "TopicName", "Value": name}]
    delivered = 0.0
    for _ in range(3):
        # The delivery is counted once its answer is back, which may be just after a flush.
        to_next_minute()
        end = server_time(endpoint) + timedelta(hours=1)
        delivered = _sum(cw, "AWS/SNS", "NumberOfNotificationsDelivered", dims, start, end)["Sum"]
        if delivered:
            break
    assert delivered == 1.0
