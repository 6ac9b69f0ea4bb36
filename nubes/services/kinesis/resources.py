"""Kinesis's CloudFormation resource types: AWS::Kinesis::Stream and
AWS::Kinesis::StreamConsumer. As on AWS, a stack waits for the stream (and the consumer) to be
ACTIVE before it goes on."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from nubes.core import clock
from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceFailed,
    ResourceType,
    integer,
)

SETTLE_POLL = 0.1
SETTLE_TIMEOUT = 60.0
DEFAULT_RETENTION = 24


async def _active(ctx: ResourceContext, name: str) -> dict[str, Any]:
    deadline = clock.now() + SETTLE_TIMEOUT
    while True:
        await asyncio.sleep(SETTLE_POLL)
        summary: dict[str, Any] = ctx.call(
            "kinesis", "DescribeStreamSummary", {"StreamName": name}
        )["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return summary
        if clock.now() > deadline:
            raise ResourceFailed(f"Stream {name} did not become ACTIVE")


def _mode(props: Props) -> str:
    return str((props.get("StreamModeDetails") or {}).get("StreamMode") or "PROVISIONED")


class Stream(ResourceType):
    type_name = "AWS::Kinesis::Stream"
    attributes = ("Arn",)
    replace_on = frozenset({"Name"})
    identifier = ("Name",)

    async def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("Name") or ctx.physical_name(128)
        params: dict[str, Any] = {
            "StreamName": name,
            "StreamModeDetails": {"StreamMode": _mode(props)},
            "Tags": ctx.tag_map(props.get("Tags")),
        }
        if _mode(props) == "PROVISIONED":
            params["ShardCount"] = integer(props.get("ShardCount", 1))
        ctx.call("kinesis", "CreateStream", params)
        summary = await _active(ctx, name)
        await self._settings(ctx, name, props, {})
        return Provisioned(name, attributes={"Arn": summary["StreamARN"]})

    async def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        arn = current.attributes["Arn"]
        if _mode(props) != _mode(old_props):
            ctx.call(
                "kinesis",
                "UpdateStreamMode",
                {"StreamARN": arn, "StreamModeDetails": {"StreamMode": _mode(props)}},
            )
            await _active(ctx, name)
        if _mode(props) == "PROVISIONED":
            target = integer(props.get("ShardCount", 1))
            summary = await _active(ctx, name)
            if summary["OpenShardCount"] != target:
                ctx.call(
                    "kinesis",
                    "UpdateShardCount",
                    {
                        "StreamName": name,
                        "TargetShardCount": target,
                        "ScalingType": "UNIFORM_SCALING",
                    },
                )
                await _active(ctx, name)
        await self._settings(ctx, name, props, old_props)
        old_tags = ctx.previous_tag_map(old_props.get("Tags"))
        new_tags = ctx.tag_map(props.get("Tags"))
        gone = [k for k in old_tags if k not in new_tags]
        if gone:
            ctx.call("kinesis", "RemoveTagsFromStream", {"StreamName": name, "TagKeys": gone})
        if new_tags:
            ctx.call("kinesis", "AddTagsToStream", {"StreamName": name, "Tags": new_tags})
        return current

    @staticmethod
    async def _settings(ctx: ResourceContext, name: str, props: Props, old_props: Props) -> None:
        """Retention, shard-level metrics and encryption, where they differ from before."""
        hours = integer(props.get("RetentionPeriodHours", DEFAULT_RETENTION))
        was = integer(old_props.get("RetentionPeriodHours", DEFAULT_RETENTION))
        if hours != was:
            operation = (
                "IncreaseStreamRetentionPeriod" if hours > was else "DecreaseStreamRetentionPeriod"
            )
            ctx.call("kinesis", operation, {"StreamName": name, "RetentionPeriodHours": hours})
        metrics = list(props.get("DesiredShardLevelMetrics") or [])
        old_metrics = list(old_props.get("DesiredShardLevelMetrics") or [])
        removed = [m for m in old_metrics if m not in metrics]
        if removed:
            ctx.call(
                "kinesis",
                "DisableEnhancedMonitoring",
                {"StreamName": name, "ShardLevelMetrics": removed},
            )
        if metrics and metrics != old_metrics:
            ctx.call(
                "kinesis",
                "EnableEnhancedMonitoring",
                {"StreamName": name, "ShardLevelMetrics": metrics},
            )
        encryption = props.get("StreamEncryption") or {}
        old_encryption = old_props.get("StreamEncryption") or {}
        if encryption == old_encryption:
            return
        if old_encryption:
            ctx.call(
                "kinesis",
                "StopStreamEncryption",
                {
                    "StreamName": name,
                    "EncryptionType": "KMS",
                    "KeyId": old_encryption.get("KeyId"),
                },
            )
            await _active(ctx, name)
        if encryption:
            ctx.call(
                "kinesis",
                "StartStreamEncryption",
                {
                    "StreamName": name,
                    "EncryptionType": encryption.get("EncryptionType", "KMS"),
                    "KeyId": encryption["KeyId"],
                },
            )
            await _active(ctx, name)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("ResourceNotFoundException",),
            "kinesis",
            "DeleteStream",
            {"StreamName": current.physical_id, "EnforceConsumerDeletion": True},
        )

    def adopt(
        self, ctx: ResourceContext, identifier: Mapping[str, str], props: Props
    ) -> Provisioned:
        name = identifier["Name"]
        summary = ctx.call("kinesis", "DescribeStreamSummary", {"StreamName": name})
        return Provisioned(
            name, attributes={"Arn": summary["StreamDescriptionSummary"]["StreamARN"]}
        )


class StreamConsumer(ResourceType):
    type_name = "AWS::Kinesis::StreamConsumer"
    attributes = (
        "ConsumerARN",
        "ConsumerCreationTimestamp",
        "ConsumerName",
        "ConsumerStatus",
        "StreamARN",
    )
    required = ("ConsumerName", "StreamARN")
    replace_on = frozenset({"ConsumerName", "StreamARN"})

    async def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params: dict[str, Any] = {
            "StreamARN": props["StreamARN"],
            "ConsumerName": props["ConsumerName"],
        }
        if props.get("Tags"):
            params["Tags"] = {t["Key"]: t["Value"] for t in props["Tags"]}
        made = ctx.call("kinesis", "RegisterStreamConsumer", params)["Consumer"]
        deadline = clock.now() + SETTLE_TIMEOUT
        while True:
            await asyncio.sleep(SETTLE_POLL)
            found = ctx.call(
                "kinesis", "DescribeStreamConsumer", {"ConsumerARN": made["ConsumerARN"]}
            )["ConsumerDescription"]
            if found["ConsumerStatus"] == "ACTIVE":
                break
            if clock.now() > deadline:
                raise ResourceFailed(f"Consumer {made['ConsumerARN']} did not become ACTIVE")
        return Provisioned(
            found["ConsumerARN"],
            attributes={
                "ConsumerARN": found["ConsumerARN"],
                "ConsumerCreationTimestamp": datetime.fromtimestamp(
                    found["ConsumerCreationTimestamp"], UTC
                ).isoformat(),
                "ConsumerName": found["ConsumerName"],
                "ConsumerStatus": "ACTIVE",
                "StreamARN": found["StreamARN"],
            },
        )

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("ResourceNotFoundException",),
            "kinesis",
            "DeregisterStreamConsumer",
            {"ConsumerARN": current.physical_id},
        )


TYPES: dict[str, type[ResourceType]] = {t.type_name: t for t in (Stream, StreamConsumer)}
