"""CloudWatch Logs API against a live server."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def logs(client: Callable[..., Any]) -> Any:
    return client("logs")


def now_ms() -> int:
    return int(time.time() * 1000)


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_groups_prefix_pagination_retention_tags(logs: Any, unique: Callable[[str], str]) -> None:
    prefix = "/" + unique("app")
    names = [f"{prefix}/{i}" for i in range(5)]
    for name in names:
        logs.create_log_group(logGroupName=name, tags={"env": "test"})
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName=names[0])
    assert code_of(exc) == "ResourceAlreadyExistsException"
    seen: list[str] = []
    token = None
    while True:
        page = logs.describe_log_groups(
            logGroupNamePrefix=prefix, limit=2, **({"nextToken": token} if token else {})
        )
        assert len(page["logGroups"]) <= 2
        seen += [g["logGroupName"] for g in page["logGroups"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names
    logs.put_retention_policy(logGroupName=names[0], retentionInDays=7)
    group = logs.describe_log_groups(logGroupNamePrefix=names[0])["logGroups"][0]
    assert group["retentionInDays"] == 7
    assert group["arn"].endswith(f":log-group:{names[0]}:*")
    with pytest.raises(ClientError) as exc:
        logs.put_retention_policy(logGroupName=names[0], retentionInDays=8)
    assert code_of(exc) == "InvalidParameterException"
    logs.delete_retention_policy(logGroupName=names[0])
    group = logs.describe_log_groups(logGroupNamePrefix=names[0])["logGroups"][0]
    assert "retentionInDays" not in group
    arn = group["logGroupArn"]
    logs.tag_resource(resourceArn=arn, tags={"team": "x"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "test", "team": "x"}
    logs.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert logs.list_tags_log_group(logGroupName=names[0])["tags"] == {"team": "x"}
    logs.associate_kms_key(logGroupName=names[0], kmsKeyId="arn:aws:kms:us-east-1:0:key/k")
    group = logs.describe_log_groups(logGroupNamePrefix=names[0])["logGroups"][0]
    assert group["kmsKeyId"] == "arn:aws:kms:us-east-1:0:key/k"
    logs.delete_log_group(logGroupName=names[0])
    with pytest.raises(ClientError) as exc:
        logs.delete_log_group(logGroupName=names[0])
    assert code_of(exc) == "ResourceNotFoundException"


def test_put_and_get_events(logs: Any, unique: Callable[[str], str]) -> None:
    group, stream = "/" + unique("g"), "s1"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    with pytest.raises(ClientError) as exc:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    assert code_of(exc) == "ResourceAlreadyExistsException"
    base = now_ms()
    out = logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": base + i, "message": f"line {i}"} for i in range(5)],
        sequenceToken="ignored",
    )
    assert "nextSequenceToken" in out and "rejectedLogEventsInfo" not in out
    with pytest.raises(ClientError) as exc:
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[
                {"timestamp": base, "message": "b"},
                {"timestamp": base - 1, "message": "a"},
            ],
        )
    assert code_of(exc) == "InvalidParameterException"
    rejected = logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": base + 3 * 3_600_000, "message": "too new"},
        ],
    )["rejectedLogEventsInfo"]
    assert rejected == {"tooNewLogEventStartIndex": 0}
    old = logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": base - 15 * 86_400_000, "message": "too old"}],
    )["rejectedLogEventsInfo"]
    assert old == {"tooOldLogEventEndIndex": 1}

    # From the head, two at a time, until the forward token stops changing.
    seen: list[str] = []
    first = logs.get_log_events(
        logGroupName=group, logStreamName=stream, startFromHead=True, limit=2
    )
    seen += [e["message"] for e in first["events"]]
    token = first["nextForwardToken"]
    while True:
        page = logs.get_log_events(
            logGroupName=group, logStreamName=stream, nextToken=token, limit=2
        )
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            assert page["events"] == []
            break
        token = page["nextForwardToken"]
    assert seen == [f"line {i}" for i in range(5)]

    # Without startFromHead: the newest events, then backwards.
    tail = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=2)
    assert [e["message"] for e in tail["events"]] == ["line 3", "line 4"]
    back = logs.get_log_events(
        logGroupName=group, logStreamName=stream, limit=2, nextToken=tail["nextBackwardToken"]
    )
    assert [e["message"] for e in back["events"]] == ["line 1", "line 2"]
    window = logs.get_log_events(
        logGroupName=group,
        logStreamName=stream,
        startTime=base + 1,
        endTime=base + 3,
        startFromHead=True,
    )
    assert [e["message"] for e in window["events"]] == ["line 1", "line 2"]
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert streams[0]["firstEventTimestamp"] == base
    assert streams[0]["lastEventTimestamp"] == base + 4
    with pytest.raises(ClientError) as exc:
        logs.get_log_events(logGroupName=group, logStreamName="nope")
    assert code_of(exc) == "ResourceNotFoundException"


def test_filter_log_events(logs: Any, unique: Callable[[str], str]) -> None:
    group = "/" + unique("f")
    logs.create_log_group(logGroupName=group)
    base = now_ms()
    for stream, lines in {
        "web-1": ["GET /a 200", "GET /b 500 ERROR", '{"level": "error", "ms": 120}'],
        "web-2": ["POST /c 201", "WARN slow request", '{"level": "info", "ms": 5}'],
        "worker": ["ERROR job failed"],
    }.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": base + i, "message": m} for i, m in enumerate(lines)],
        )

    def messages(**kwargs: Any) -> list[str]:
        found = logs.filter_log_events(logGroupName=group, **kwargs)["events"]
        return sorted(e["message"] for e in found)

    assert messages(filterPattern="ERROR") == ["ERROR job failed", "GET /b 500 ERROR"]
    assert messages(filterPattern="ERROR", logStreamNamePrefix="web") == ["GET /b 500 ERROR"]
    assert messages(filterPattern="?ERROR ?WARN", logStreamNames=["web-2"]) == ["WARN slow request"]
    assert messages(filterPattern="GET -ERROR") == ["GET /a 200"]
    assert messages(filterPattern="{ $.ms > 100 }") == ['{"level": "error", "ms": 120}']
    assert messages(filterPattern="[method, path, status = 5*, ...]") == ["GET /b 500 ERROR"]
    assert len(messages()) == 7
    # Pagination with a limit.
    collected: list[str] = []
    token = None
    while True:
        page = logs.filter_log_events(
            logGroupName=group, limit=3, **({"nextToken": token} if token else {})
        )
        collected += [e["message"] for e in page["events"]]
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(collected) == messages()
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=group, filterPattern="{ $.x = ")
    assert code_of(exc) == "InvalidParameterException"


def test_subscription_and_metric_filters(logs: Any, unique: Callable[[str], str]) -> None:
    group = "/" + unique("sub")
    logs.create_log_group(logGroupName=group)
    destination = "arn:aws:lambda:us-east-1:000000000000:function:sink"
    for name in ("one", "two"):
        logs.put_subscription_filter(
            logGroupName=group, filterName=name, filterPattern="ERROR", destinationArn=destination
        )
    with pytest.raises(ClientError) as exc:
        logs.put_subscription_filter(
            logGroupName=group, filterName="three", filterPattern="", destinationArn=destination
        )
    assert code_of(exc) == "LimitExceededException"
    found = logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
    assert [f["filterName"] for f in found] == ["one", "two"]
    assert found[0]["destinationArn"] == destination
    logs.delete_subscription_filter(logGroupName=group, filterName="one")
    logs.put_metric_filter(
        logGroupName=group,
        filterName="errors",
        filterPattern="ERROR",
        metricTransformations=[
            {"metricName": "Errors", "metricNamespace": "App", "metricValue": "1"}
        ],
    )
    metric = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert metric[0]["filterName"] == "errors"
    assert (
        logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["metricFilterCount"] == 1
    )
    tested = logs.test_metric_filter(
        filterPattern="[ip, status = 404]", logEventMessages=["1.2.3.4 404", "1.2.3.4 200"]
    )["matches"]
    assert tested == [
        {
            "eventNumber": 1,
            "eventMessage": "1.2.3.4 404",
            "extractedValues": {"$ip": "1.2.3.4", "$status": "404"},
        }
    ]


def test_retention_expires_events(nubes_factory: Callable[..., Any]) -> None:
    import requests

    server = nubes_factory(persistent=False)
    logs = server.client("logs")
    logs.create_log_group(logGroupName="/kept")
    logs.create_log_stream(logGroupName="/kept", logStreamName="s")
    logs.put_log_events(
        logGroupName="/kept", logStreamName="s", logEvents=[{"timestamp": now_ms(), "message": "x"}]
    )
    logs.put_retention_policy(logGroupName="/kept", retentionInDays=1)
    assert len(logs.get_log_events(logGroupName="/kept", logStreamName="s")["events"]) == 1
    requests.post(f"{server.endpoint}/_nubes/clock", json={"advance": 2 * 86_400}, timeout=5)
    deadline = time.monotonic() + 60
    events = ["x"]
    while events and time.monotonic() < deadline:
        events = logs.get_log_events(logGroupName="/kept", logStreamName="s")["events"]
        time.sleep(0.1)
    assert events == []


def test_saved_documents(logs: Any, unique: Callable[[str], str]) -> None:
    name = unique("query")
    definition = logs.put_query_definition(
        name=name, queryString="fields @message | limit 5", logGroupNames=["/a"]
    )["queryDefinitionId"]
    found = logs.describe_query_definitions(queryDefinitionNamePrefix=name)["queryDefinitions"]
    assert [(d["queryDefinitionId"], d["queryString"]) for d in found] == [
        (definition, "fields @message | limit 5")
    ]
    assert logs.delete_query_definition(queryDefinitionId=definition)["success"] is True
    policy_name = unique("policy")
    document = '{"Version": "2012-10-17", "Statement": []}'
    put = logs.put_resource_policy(policyName=policy_name, policyDocument=document)
    assert put["resourcePolicy"]["policyName"] == policy_name
    names = [p["policyName"] for p in logs.describe_resource_policies()["resourcePolicies"]]
    assert policy_name in names
    logs.delete_resource_policy(policyName=policy_name)
    with pytest.raises(ClientError) as exc:
        logs.delete_resource_policy(policyName=policy_name)
    assert code_of(exc) == "ResourceNotFoundException"
    destination = unique("dest")
    created = logs.put_destination(
        destinationName=destination,
        targetArn="arn:aws:kinesis:us-east-1:000000000000:stream/s",
        roleArn="arn:aws:iam::000000000000:role/r",
    )["destination"]
    assert created["arn"].endswith(f":destination:{destination}")
    logs.put_destination_policy(destinationName=destination, accessPolicy=document)
    described = logs.describe_destinations(DestinationNamePrefix=destination)["destinations"]
    assert described[0]["accessPolicy"] == document
    logs.delete_destination(destinationName=destination)
    assert logs.describe_destinations(DestinationNamePrefix=destination)["destinations"] == []
