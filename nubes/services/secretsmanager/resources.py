"""Secrets Manager's CloudFormation resource types: AWS::SecretsManager::Secret (with
GenerateSecretString), AWS::SecretsManager::ResourcePolicy and RotationSchedule."""

from __future__ import annotations

import json
from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceFailed,
    ResourceType,
    as_json,
    boolean,
    integer,
)

Json = dict[str, Any]
_PASSWORD_FLAGS = (
    "ExcludeLowercase",
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "IncludeSpace",
    "RequireEachIncludedType",
)


def _value(ctx: ResourceContext, props: Props) -> str | None:
    """The template's SecretString, or one GenerateSecretString makes: a password alone, or
    the template JSON with the password under GenerateStringKey."""
    generate = props.get("GenerateSecretString")
    if "SecretString" in props and generate:
        raise ResourceFailed("You can't specify both SecretString and GenerateSecretString.")
    if not generate:
        return None if props.get("SecretString") is None else str(props["SecretString"])
    params: Json = {k: boolean(generate[k]) for k in _PASSWORD_FLAGS if k in generate}
    if "PasswordLength" in generate:
        params["PasswordLength"] = integer(generate["PasswordLength"])
    if "ExcludeCharacters" in generate:
        params["ExcludeCharacters"] = str(generate["ExcludeCharacters"])
    password = ctx.call("secretsmanager", "GetRandomPassword", params)["RandomPassword"]
    template, key = generate.get("SecretStringTemplate"), generate.get("GenerateStringKey")
    if bool(template) != bool(key):
        raise ResourceFailed(
            "SecretStringTemplate and GenerateStringKey must be specified together."
        )
    if not template:
        return str(password)
    document = json.loads(template)
    document[key] = password
    return json.dumps(document)


class Secret(ResourceType):
    type_name = "AWS::SecretsManager::Secret"
    attributes = ("Id",)
    replace_on = frozenset({"Name"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params: Json = {
            "Name": props.get("Name") or ctx.physical_name(256),
            "Tags": ctx.tags(props.get("Tags")),
        }
        value = _value(ctx, props)
        if value is not None:
            params["SecretString"] = value
        for name in ("Description", "KmsKeyId"):
            if name in props:
                params[name] = props[name]
        if props.get("ReplicaRegions"):
            params["AddReplicaRegions"] = props["ReplicaRegions"]
        secret_arn = ctx.call("secretsmanager", "CreateSecret", params)["ARN"]
        return Provisioned(secret_arn, attributes={"Id": secret_arn})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        params: Json = {"SecretId": current.physical_id}
        for name in ("Description", "KmsKeyId"):
            if name in props:
                params[name] = props[name]
        changed = props.get("SecretString") != old_props.get("SecretString") or props.get(
            "GenerateSecretString"
        ) != old_props.get("GenerateSecretString")
        if changed:
            value = _value(ctx, props)
            if value is not None:
                params["SecretString"] = value
        ctx.call("secretsmanager", "UpdateSecret", params)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("ResourceNotFoundException",),
            "secretsmanager",
            "DeleteSecret",
            {"SecretId": current.physical_id, "ForceDeleteWithoutRecovery": True},
        )


class ResourcePolicy(ResourceType):
    type_name = "AWS::SecretsManager::ResourcePolicy"
    required = ("SecretId", "ResourcePolicy")
    replace_on = frozenset({"SecretId"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        self._put(ctx, props)
        return Provisioned(str(props["SecretId"]))

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._put(ctx, props)
        return current

    @staticmethod
    def _put(ctx: ResourceContext, props: Props) -> None:
        ctx.call(
            "secretsmanager",
            "PutResourcePolicy",
            {
                "SecretId": props["SecretId"],
                "ResourcePolicy": as_json(props["ResourcePolicy"]),
                "BlockPublicPolicy": boolean(props.get("BlockPublicPolicy", False)),
            },
        )

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("ResourceNotFoundException",),
            "secretsmanager",
            "DeleteResourcePolicy",
            {"SecretId": current.physical_id},
        )


def _rules(rules: Json) -> Json:
    out: Json = {k: rules[k] for k in ("ScheduleExpression", "Duration") if k in rules}
    if "AutomaticallyAfterDays" in rules:
        out["AutomaticallyAfterDays"] = integer(rules["AutomaticallyAfterDays"])
    return out


class RotationSchedule(ResourceType):
    type_name = "AWS::SecretsManager::RotationSchedule"
    required = ("SecretId",)
    replace_on = frozenset({"SecretId"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        # Ref answers the rotated secret's ARN.
        return Provisioned(self._rotate(ctx, str(props["SecretId"]), props))

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._rotate(ctx, current.physical_id, props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("ResourceNotFoundException", "InvalidRequestException"),
            "secretsmanager",
            "CancelRotateSecret",
            {"SecretId": current.physical_id},
        )

    @staticmethod
    def _rotate(ctx: ResourceContext, secret: str, props: Props) -> str:
        if props.get("HostedRotationLambda"):
            raise ResourceFailed(
                "HostedRotationLambda needs the AWS Serverless Application Repository, which "
                "nubes does not implement; give RotationLambdaARN instead"
            )
        req: Json = {
            "SecretId": secret,
            "RotateImmediately": boolean(props.get("RotateImmediatelyOnUpdate", True)),
        }
        if "RotationLambdaARN" in props:
            req["RotationLambdaARN"] = props["RotationLambdaARN"]
        if props.get("RotationRules"):
            req["RotationRules"] = _rules(props["RotationRules"])
        return str(ctx.call("secretsmanager", "RotateSecret", req)["ARN"])


TYPES: dict[str, type[ResourceType]] = {
    Secret.type_name: Secret,
    ResourcePolicy.type_name: ResourcePolicy,
    RotationSchedule.type_name: RotationSchedule,
}
