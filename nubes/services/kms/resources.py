"""KMS's CloudFormation resource types: AWS::KMS::Key, AWS::KMS::Alias."""

from __future__ import annotations

from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceType,
    as_json,
    boolean,
    integer,
)

Json = dict[str, Any]


class Key(ResourceType):
    type_name = "AWS::KMS::Key"
    attributes = ("Arn", "KeyId")
    replace_on = frozenset({"KeySpec", "KeyUsage", "MultiRegion", "Origin"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params: Json = {
            "Tags": [
                {"TagKey": k, "TagValue": v} for k, v in ctx.tag_map(props.get("Tags")).items()
            ]
        }
        for name in ("Description", "KeySpec", "KeyUsage", "Origin"):
            if name in props:
                params[name] = props[name]
        if "MultiRegion" in props:
            params["MultiRegion"] = boolean(props["MultiRegion"])
        if props.get("KeyPolicy"):
            params["Policy"] = as_json(props["KeyPolicy"])
        meta = ctx.call("kms", "CreateKey", params)["KeyMetadata"]
        current = Provisioned(
            meta["KeyId"], attributes={"Arn": meta["Arn"], "KeyId": meta["KeyId"]}
        )
        self._settle(ctx, current.physical_id, props)
        return current

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        key = current.physical_id
        if props.get("Description", "") != old_props.get("Description", ""):
            ctx.call(
                "kms",
                "UpdateKeyDescription",
                {"KeyId": key, "Description": props.get("Description", "")},
            )
        if props.get("KeyPolicy") and props.get("KeyPolicy") != old_props.get("KeyPolicy"):
            ctx.call(
                "kms",
                "PutKeyPolicy",
                {"KeyId": key, "PolicyName": "default", "Policy": as_json(props["KeyPolicy"])},
            )
        self._settle(ctx, key, props)
        return current

    @staticmethod
    def _settle(ctx: ResourceContext, key: str, props: Props) -> None:
        """Enabled and rotation as the template states them."""
        enabled = boolean(props.get("Enabled", True))
        ctx.call("kms", "EnableKey" if enabled else "DisableKey", {"KeyId": key})
        if enabled and boolean(props.get("EnableKeyRotation", False)):
            params: Json = {"KeyId": key}
            if "RotationPeriodInDays" in props:
                params["RotationPeriodInDays"] = integer(props["RotationPeriodInDays"])
            ctx.call("kms", "EnableKeyRotation", params)
        elif enabled and props.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT":
            ctx.call("kms", "DisableKeyRotation", {"KeyId": key})

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("NotFoundException", "KMSInvalidStateException"),
            "kms",
            "ScheduleKeyDeletion",
            {
                "KeyId": current.physical_id,
                "PendingWindowInDays": integer(props.get("PendingWindowInDays", 30)),
            },
        )


class Alias(ResourceType):
    type_name = "AWS::KMS::Alias"
    required = ("AliasName", "TargetKeyId")
    replace_on = frozenset({"AliasName"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        ctx.call(
            "kms",
            "CreateAlias",
            {"AliasName": props["AliasName"], "TargetKeyId": props["TargetKeyId"]},
        )
        return Provisioned(props["AliasName"])

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        ctx.call(
            "kms",
            "UpdateAlias",
            {"AliasName": current.physical_id, "TargetKeyId": props["TargetKeyId"]},
        )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("NotFoundException",), "kms", "DeleteAlias", {"AliasName": current.physical_id}
        )


TYPES: dict[str, type[ResourceType]] = {Key.type_name: Key, Alias.type_name: Alias}
