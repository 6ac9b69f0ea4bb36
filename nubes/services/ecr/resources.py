"""ECR's CloudFormation resource type: AWS::ECR::Repository (tag mutability, scanning,
encryption, lifecycle and repository policies, tags, EmptyOnDelete), through ECR's operations."""

from __future__ import annotations

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
_GONE = ("RepositoryNotFoundException",)


def _scanning(props: Props) -> Json:
    config = props.get("ImageScanningConfiguration") or {}
    return {"scanOnPush": boolean(config.get("ScanOnPush", False))}


def _lifecycle_text(props: Props) -> str | None:
    text = (props.get("LifecyclePolicy") or {}).get("LifecyclePolicyText")
    return None if text is None else as_json(text)


class Repository(ResourceType):
    type_name = "AWS::ECR::Repository"
    attributes = ("Arn", "RepositoryUri")
    replace_on = frozenset({"RepositoryName", "EncryptionConfiguration"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("RepositoryName") or ctx.physical_name(256, lower=True)
        req: Json = {
            "repositoryName": name,
            "imageTagMutability": props.get("ImageTagMutability", "MUTABLE"),
            "imageScanningConfiguration": _scanning(props),
            "tags": ctx.tags(props.get("Tags")),
        }
        encryption = props.get("EncryptionConfiguration")
        if encryption:
            req["encryptionConfiguration"] = {
                "encryptionType": encryption["EncryptionType"],
                **({"kmsKey": encryption["KmsKey"]} if encryption.get("KmsKey") else {}),
            }
        out = ctx.call("ecr", "CreateRepository", req)["repository"]
        self._policies(ctx, name, props, {})
        return Provisioned(
            name, attributes={"Arn": out["repositoryArn"], "RepositoryUri": out["repositoryUri"]}
        )

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        mutability = props.get("ImageTagMutability", "MUTABLE")
        if mutability != old_props.get("ImageTagMutability", "MUTABLE"):
            ctx.call(
                "ecr",
                "PutImageTagMutability",
                {"repositoryName": name, "imageTagMutability": mutability},
            )
        if _scanning(props) != _scanning(old_props):
            ctx.call(
                "ecr",
                "PutImageScanningConfiguration",
                {"repositoryName": name, "imageScanningConfiguration": _scanning(props)},
            )
        self._policies(ctx, name, props, old_props)
        tags = ctx.tag_map(props.get("Tags"))
        old_tags = ctx.previous_tag_map(old_props.get("Tags"))
        if tags != old_tags:
            arn = current.attributes["Arn"]
            dropped = [k for k in old_tags if k not in tags]
            if dropped:
                ctx.call("ecr", "UntagResource", {"resourceArn": arn, "tagKeys": dropped})
            ctx.call(
                "ecr", "TagResource", {"resourceArn": arn, "tags": ctx.tags(props.get("Tags"))}
            )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            _GONE,
            "ecr",
            "DeleteRepository",
            {
                "repositoryName": current.physical_id,
                "force": boolean(props.get("EmptyOnDelete", False)),
            },
        )

    @staticmethod
    def _policies(ctx: ResourceContext, name: str, props: Props, old_props: Props) -> None:
        lifecycle, old_lifecycle = _lifecycle_text(props), _lifecycle_text(old_props)
        if lifecycle != old_lifecycle:
            if lifecycle is None:
                ctx.call("ecr", "DeleteLifecyclePolicy", {"repositoryName": name})
            else:
                ctx.call(
                    "ecr",
                    "PutLifecyclePolicy",
                    {"repositoryName": name, "lifecyclePolicyText": lifecycle},
                )
        policy, old_policy = (
            props.get("RepositoryPolicyText"),
            old_props.get("RepositoryPolicyText"),
        )
        if policy != old_policy:
            if policy is None:
                ctx.call("ecr", "DeleteRepositoryPolicy", {"repositoryName": name})
            else:
                ctx.call(
                    "ecr",
                    "SetRepositoryPolicy",
                    {"repositoryName": name, "policyText": as_json(policy)},
                )


TYPES: dict[str, type[ResourceType]] = {Repository.type_name: Repository}
