"""ElastiCache events: DescribeEvents, and a cluster's notification topic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_events_and_notifications(ec: Any, client: Callable[..., Any], account: str) -> None:
    sns = client("sns", aws_access_key_id=account)
    sqs = client("sqs", aws_access_key_id=account)
    topic = sns.create_topic(Name="cache-events")["TopicArn"]
    queue = sqs.create_queue(QueueName="cache-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    created = ec.create_cache_cluster(
        CacheClusterId="noisy", Engine="redis", NotificationTopicArn=topic
    )["CacheCluster"]
    assert created["NotificationConfiguration"] == {"TopicArn": topic, "TopicStatus": "active"}
    ec.reboot_cache_cluster(CacheClusterId="noisy", CacheNodeIdsToReboot=["0001"])
    events = ec.describe_events(SourceType="cache-cluster", SourceIdentifier="noisy")["Events"]
    assert [e["Message"] for e in events] == ["Cache cluster created", "Cache node 0001 restarted"]
    assert all(e["SourceType"] == "cache-cluster" for e in events)

    received = []
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []):
            received.append(message["Body"])
        if len(received) >= 2:
            break
    assert len(received) == 2 and "Cache node 0001 restarted" in received[1]

    ec.create_replication_group(
        ReplicationGroupId="evented", ReplicationGroupDescription="d", NumCacheClusters=1
    )
    groups = ec.describe_events(SourceType="replication-group")["Events"]
    assert [e["Message"] for e in groups] == ["Replication group created"]
    assert ec.describe_events(Duration=60, SourceIdentifier="nothing")["Events"] == []
