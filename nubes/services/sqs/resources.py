"""SQS's CloudFormation resource types: AWS::SQS::Queue, AWS::SQS::QueuePolicy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceType,
    as_json,
    boolean,
)

# Template property -> queue attribute, for those that are plain values.
PLAIN = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)
DOCUMENTS = ("RedrivePolicy", "RedriveAllowPolicy")
DEFAULTS = {
    "DelaySeconds": "0",
    "MaximumMessageSize": "262144",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
}


def queue_attributes(props: Props, fill_defaults: bool = False) -> dict[str, str]:
    attrs: dict[str, str] = dict(DEFAULTS) if fill_defaults else {}
    for name in PLAIN:
        if name in props:
            value = props[name]
            attrs[name] = str(value).lower() if isinstance(value, bool) else str(value)
    for name in DOCUMENTS:
        if name in props:
            attrs[name] = as_json(props[name])
    if boolean(props.get("FifoQueue", False)):
        attrs["FifoQueue"] = "true"
    return attrs


class Queue(ResourceType):
    type_name = "AWS::SQS::Queue"
    attributes = ("Arn", "QueueName", "QueueUrl")
    replace_on = frozenset({"QueueName", "FifoQueue"})
    identifier = ("QueueUrl",)

    def adopt(
        self, ctx: ResourceContext, identifier: Mapping[str, str], props: Props
    ) -> Provisioned:
        url = identifier["QueueUrl"]
        attrs = ctx.call(
            "sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["QueueArn"]}
        )["Attributes"]
        return self._provisioned(ctx, url, attrs["QueueArn"].rsplit(":", 1)[-1])

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        fifo = boolean(props.get("FifoQueue", False))
        name = props.get("QueueName") or ctx.physical_name(80 - 5 * fifo, suffix=".fifo" * fifo)
        out = ctx.call(
            "sqs",
            "CreateQueue",
            {
                "QueueName": name,
                "Attributes": queue_attributes(props),
                "tags": ctx.tag_map(props.get("Tags")),
            },
        )
        return self._provisioned(ctx, out["QueueUrl"], name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        # Properties left out go back to their defaults, as a template describes the whole queue.
        attrs = queue_attributes(props, fill_defaults=True)
        attrs.pop("FifoQueue", None)
        for name in DOCUMENTS:
            attrs.setdefault(name, "")
        ctx.call(
            "sqs", "SetQueueAttributes", {"QueueUrl": current.physical_id, "Attributes": attrs}
        )
        old_tags = ctx.previous_tag_map(old_props.get("Tags"))
        new_tags = ctx.tag_map(props.get("Tags"))
        gone = [k for k in old_tags if k not in new_tags]
        if gone:
            ctx.call("sqs", "UntagQueue", {"QueueUrl": current.physical_id, "TagKeys": gone})
        ctx.call("sqs", "TagQueue", {"QueueUrl": current.physical_id, "Tags": new_tags})
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("QueueDoesNotExist",), "sqs", "DeleteQueue", {"QueueUrl": current.physical_id}
        )

    @staticmethod
    def _provisioned(ctx: ResourceContext, url: str, name: str) -> Provisioned:
        return Provisioned(
            url, attributes={"Arn": ctx.arn("sqs", name), "QueueName": name, "QueueUrl": url}
        )


class QueuePolicy(ResourceType):
    """One policy set on several queues; Ref is an id AWS makes up."""

    type_name = "AWS::SQS::QueuePolicy"
    attributes = ("Id",)
    required = ("PolicyDocument", "Queues")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        self._apply(ctx, props["Queues"], as_json(props["PolicyDocument"]))
        physical = ctx.physical_name()
        return Provisioned(physical, attributes={"Id": physical})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        dropped = [q for q in old_props.get("Queues", []) if q not in props["Queues"]]
        self._apply(ctx, dropped, "", missing_ok=True)
        self._apply(ctx, props["Queues"], as_json(props["PolicyDocument"]))
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        self._apply(ctx, props.get("Queues", []), "", missing_ok=True)

    @staticmethod
    def _apply(ctx: ResourceContext, urls: Any, policy: str, missing_ok: bool = False) -> None:
        for url in urls:
            params = {"QueueUrl": url, "Attributes": {"Policy": policy}}
            if missing_ok:
                ctx.call_ignoring(("QueueDoesNotExist",), "sqs", "SetQueueAttributes", params)
            else:
                ctx.call("sqs", "SetQueueAttributes", params)


TYPES: dict[str, type[ResourceType]] = {t.type_name: t for t in (Queue, QueuePolicy)}
