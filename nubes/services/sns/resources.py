"""SNS's CloudFormation resource types: AWS::SNS::Topic, AWS::SNS::Subscription,
AWS::SNS::TopicPolicy."""

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

Json = dict[str, Any]
TOPIC_ATTRIBUTES = ("DisplayName", "KmsMasterKeyId", "SignatureVersion", "TracingConfig")
TOPIC_DOCUMENTS = ("DataProtectionPolicy", "ArchivePolicy", "DeliveryPolicy")
SUBSCRIPTION_DOCUMENTS = ("FilterPolicy", "RedrivePolicy", "DeliveryPolicy")
SUBSCRIPTION_PLAIN = ("FilterPolicyScope", "RawMessageDelivery", "SubscriptionRoleArn")


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class Topic(ResourceType):
    type_name = "AWS::SNS::Topic"
    attributes = ("TopicArn", "TopicName")
    replace_on = frozenset({"TopicName", "FifoTopic"})
    identifier = ("TopicArn",)

    def adopt(
        self, ctx: ResourceContext, identifier: Mapping[str, str], props: Props
    ) -> Provisioned:
        arn = identifier["TopicArn"]
        ctx.call("sns", "GetTopicAttributes", {"TopicArn": arn})
        return Provisioned(arn, attributes={"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[-1]})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        fifo = boolean(props.get("FifoTopic", False))
        name = props.get("TopicName") or ctx.physical_name(256 - 5 * fifo, suffix=".fifo" * fifo)
        attrs: dict[str, str] = {}
        if fifo:
            attrs["FifoTopic"] = "true"
        if "ContentBasedDeduplication" in props:
            attrs["ContentBasedDeduplication"] = _text(props["ContentBasedDeduplication"])
        for key in TOPIC_ATTRIBUTES:
            if key in props:
                attrs[key] = _text(props[key])
        out = ctx.call(
            "sns",
            "CreateTopic",
            {"Name": name, "Attributes": attrs, "Tags": ctx.tags(props.get("Tags"))},
        )
        arn = out["TopicArn"]
        for key in TOPIC_DOCUMENTS:
            if key in props and key != "DataProtectionPolicy":
                self._set(ctx, arn, key, as_json(props[key]))
        for sub in props.get("Subscription") or []:
            ctx.call(
                "sns",
                "Subscribe",
                {"TopicArn": arn, "Protocol": sub["Protocol"], "Endpoint": sub["Endpoint"]},
            )
        return Provisioned(arn, attributes={"TopicArn": arn, "TopicName": name})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        arn = current.physical_id
        for key in (*TOPIC_ATTRIBUTES, "ContentBasedDeduplication"):
            if props.get(key) != old_props.get(key):
                self._set(ctx, arn, key, _text(props.get(key, "")))
        tags = ctx.tags(props.get("Tags"))
        if tags != ctx.previous_tags(old_props.get("Tags")):
            ctx.call("sns", "TagResource", {"ResourceArn": arn, "Tags": tags})
        old_subs = {(s["Protocol"], s["Endpoint"]) for s in old_props.get("Subscription") or []}
        new_subs = {(s["Protocol"], s["Endpoint"]) for s in props.get("Subscription") or []}
        for protocol, endpoint in new_subs - old_subs:
            ctx.call(
                "sns", "Subscribe", {"TopicArn": arn, "Protocol": protocol, "Endpoint": endpoint}
            )
        if old_subs - new_subs:
            listed = ctx.call("sns", "ListSubscriptionsByTopic", {"TopicArn": arn})
            for sub in listed.get("Subscriptions", []):
                if (sub["Protocol"], sub["Endpoint"]) in old_subs - new_subs:
                    ctx.call("sns", "Unsubscribe", {"SubscriptionArn": sub["SubscriptionArn"]})
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("NotFound",), "sns", "DeleteTopic", {"TopicArn": current.physical_id})

    @staticmethod
    def _set(ctx: ResourceContext, arn: str, name: str, value: str) -> None:
        ctx.call(
            "sns",
            "SetTopicAttributes",
            {"TopicArn": arn, "AttributeName": name, "AttributeValue": value},
        )


class Subscription(ResourceType):
    type_name = "AWS::SNS::Subscription"
    attributes = ("Arn",)
    required = ("TopicArn", "Protocol")
    replace_on = frozenset({"TopicArn", "Protocol", "Endpoint", "Region"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params: Json = {
            "TopicArn": props["TopicArn"],
            "Protocol": props["Protocol"],
            "Attributes": self._attributes(props),
            "ReturnSubscriptionArn": True,
        }
        if "Endpoint" in props:
            params["Endpoint"] = props["Endpoint"]
        out = ctx.call("sns", "Subscribe", params)
        arn = out["SubscriptionArn"]
        return Provisioned(arn, attributes={"Arn": arn})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        new, old = self._attributes(props), self._attributes(old_props)
        for key in sorted(set(new) | set(old)):
            if new.get(key) != old.get(key):
                ctx.call(
                    "sns",
                    "SetSubscriptionAttributes",
                    {
                        "SubscriptionArn": current.physical_id,
                        "AttributeName": key,
                        "AttributeValue": new.get(key, ""),
                    },
                )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("NotFound", "InvalidParameter"),
            "sns",
            "Unsubscribe",
            {"SubscriptionArn": current.physical_id},
        )

    @staticmethod
    def _attributes(props: Props) -> dict[str, str]:
        attrs = {k: _text(props[k]) for k in SUBSCRIPTION_PLAIN if k in props}
        attrs.update({k: as_json(props[k]) for k in SUBSCRIPTION_DOCUMENTS if k in props})
        return attrs


class TopicPolicy(ResourceType):
    type_name = "AWS::SNS::TopicPolicy"
    attributes = ("Id",)
    required = ("PolicyDocument", "Topics")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        self._apply(ctx, props["Topics"], as_json(props["PolicyDocument"]))
        physical = ctx.physical_name()
        return Provisioned(physical, attributes={"Id": physical})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._apply(ctx, props["Topics"], as_json(props["PolicyDocument"]))
        dropped = [t for t in old_props.get("Topics") or [] if t not in props["Topics"]]
        self._reset(ctx, dropped)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        self._reset(ctx, props.get("Topics") or [])

    @staticmethod
    def _apply(ctx: ResourceContext, topics: list[str], policy: str) -> None:
        for arn in topics:
            Topic._set(ctx, arn, "Policy", policy)

    @staticmethod
    def _reset(ctx: ResourceContext, topics: list[str]) -> None:
        """Back to the policy a new topic has: its owner may do everything."""
        for arn in topics:
            account = arn.split(":")[4]
            default = {
                "Version": "2008-10-17",
                "Id": "__default_policy_ID",
                "Statement": [
                    {
                        "Sid": "__default_statement_ID",
                        "Effect": "Allow",
                        "Principal": {"AWS": "*"},
                        "Action": [
                            "SNS:GetTopicAttributes",
                            "SNS:SetTopicAttributes",
                            "SNS:AddPermission",
                            "SNS:RemovePermission",
                            "SNS:DeleteTopic",
                            "SNS:Subscribe",
                            "SNS:ListSubscriptionsByTopic",
                            "SNS:Publish",
                        ],
                        "Resource": arn,
                        "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
                    }
                ],
            }
            ctx.call_ignoring(
                ("NotFound",),
                "sns",
                "SetTopicAttributes",
                {"TopicArn": arn, "AttributeName": "Policy", "AttributeValue": as_json(default)},
            )


TYPES: dict[str, type[ResourceType]] = {t.type_name: t for t in (Topic, Subscription, TopicPolicy)}
