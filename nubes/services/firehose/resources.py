"""Firehose's CloudFormation resource type: AWS::KinesisFirehose::DeliveryStream. As on AWS,
the stack waits for the delivery stream to be ACTIVE before it goes on."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from botocore.model import Shape

from nubes.core import clock
from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceFailed,
    ResourceType,
    boolean,
    integer,
)

SETTLE_POLL = 0.1
SETTLE_TIMEOUT = 60.0
CONFIGURATIONS = (
    "DeliveryStreamType",
    "KinesisStreamSourceConfiguration",
    "DeliveryStreamEncryptionConfigurationInput",
    "S3DestinationConfiguration",
    "ExtendedS3DestinationConfiguration",
)
UPDATES = {
    "S3DestinationConfiguration": "S3DestinationUpdate",
    "ExtendedS3DestinationConfiguration": "ExtendedS3DestinationUpdate",
}


def _typed(value: Any, shape: Shape) -> Any:
    """A template's value with the numbers and booleans the API shape wants (templates often
    quote them)."""
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: _typed(v, members[k]) if k in members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_typed(v, shape.member) for v in value]
    if shape.type_name in ("integer", "long"):
        return integer(value)
    if shape.type_name == "boolean":
        return boolean(value)
    return value


def _input(ctx: ResourceContext, operation: str, props: Props, names: Any) -> dict[str, Any]:
    model = ctx.env.catalog.services["firehose"].model
    members = model.operation_model(operation).input_shape.members
    return {name: _typed(props[name], members[name]) for name in names if props.get(name)}


async def _active(ctx: ResourceContext, name: str) -> dict[str, Any]:
    deadline = clock.now() + SETTLE_TIMEOUT
    while True:
        found: dict[str, Any] = ctx.call(
            "firehose", "DescribeDeliveryStream", {"DeliveryStreamName": name}
        )["DeliveryStreamDescription"]
        if found["DeliveryStreamStatus"] == "ACTIVE":
            return found
        if clock.now() > deadline:
            raise ResourceFailed(f"Firehose {name} did not become ACTIVE")
        await asyncio.sleep(SETTLE_POLL)


class DeliveryStream(ResourceType):
    type_name = "AWS::KinesisFirehose::DeliveryStream"
    attributes = ("Arn",)
    replace_on = frozenset(
        {"DeliveryStreamName", "DeliveryStreamType", "KinesisStreamSourceConfiguration"}
    )
    identifier = ("DeliveryStreamName",)

    async def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("DeliveryStreamName") or ctx.physical_name(64)
        params = _input(ctx, "CreateDeliveryStream", props, CONFIGURATIONS)
        params["DeliveryStreamName"] = name
        params["Tags"] = ctx.tags(props.get("Tags"))
        arn = ctx.call("firehose", "CreateDeliveryStream", params)["DeliveryStreamARN"]
        await _active(ctx, name)
        return Provisioned(name, attributes={"Arn": arn})

    async def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        for config, update in UPDATES.items():
            if props.get(config) and props.get(config) != old_props.get(config):
                found = await _active(ctx, name)
                change = _input(ctx, "CreateDeliveryStream", props, [config])[config]
                ctx.call(
                    "firehose",
                    "UpdateDestination",
                    {
                        "DeliveryStreamName": name,
                        "CurrentDeliveryStreamVersionId": found["VersionId"],
                        "DestinationId": found["Destinations"][0]["DestinationId"],
                        update: change,
                    },
                )
        encryption = props.get("DeliveryStreamEncryptionConfigurationInput")
        if encryption != old_props.get("DeliveryStreamEncryptionConfigurationInput"):
            if encryption:
                ctx.call(
                    "firehose",
                    "StartDeliveryStreamEncryption",
                    {
                        "DeliveryStreamName": name,
                        "DeliveryStreamEncryptionConfigurationInput": encryption,
                    },
                )
            else:
                ctx.call("firehose", "StopDeliveryStreamEncryption", {"DeliveryStreamName": name})
        old_tags = ctx.previous_tag_map(old_props.get("Tags"))
        new_tags = ctx.tag_map(props.get("Tags"))
        gone = [k for k in old_tags if k not in new_tags]
        if gone:
            ctx.call(
                "firehose", "UntagDeliveryStream", {"DeliveryStreamName": name, "TagKeys": gone}
            )
        if new_tags != old_tags:
            ctx.call(
                "firehose",
                "TagDeliveryStream",
                {"DeliveryStreamName": name, "Tags": ctx.tags(props.get("Tags"))},
            )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("ResourceNotFoundException",),
            "firehose",
            "DeleteDeliveryStream",
            {"DeliveryStreamName": current.physical_id, "AllowForceDelete": True},
        )

    def adopt(
        self, ctx: ResourceContext, identifier: Mapping[str, str], props: Props
    ) -> Provisioned:
        name = identifier["DeliveryStreamName"]
        found = ctx.call("firehose", "DescribeDeliveryStream", {"DeliveryStreamName": name})
        arn = found["DeliveryStreamDescription"]["DeliveryStreamARN"]
        return Provisioned(name, attributes={"Arn": arn})


TYPES: dict[str, type[ResourceType]] = {t.type_name: t for t in (DeliveryStream,)}
