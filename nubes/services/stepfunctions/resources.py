"""Step Functions' CloudFormation resource types: AWS::StepFunctions::StateMachine and
AWS::StepFunctions::Activity, through the service's own operations."""

from __future__ import annotations

import json
import re
from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceFailed,
    ResourceType,
    as_json,
)
from nubes.services.stepfunctions.integrations import read_body

Json = dict[str, Any]
_GONE = ("StateMachineDoesNotExist", "ActivityDoesNotExist", "InvalidArn")


def _tags(ctx: ResourceContext, props: Props) -> list[Json]:
    return [{"key": t["Key"], "value": t["Value"]} for t in ctx.tags(props.get("Tags"))]


def _read_s3(ctx: ResourceContext, location: Json) -> str:
    params = {"Bucket": location["Bucket"], "Key": location["Key"]}
    if location.get("Version"):
        params["VersionId"] = location["Version"]
    return read_body(ctx.call("s3", "GetObject", params).get("Body")).decode()


def definition(ctx: ResourceContext, props: Props) -> str:
    """The definition from Definition (an object), DefinitionString or DefinitionS3Location,
    with DefinitionSubstitutions' ``${name}`` placeholders filled in."""
    given = [k for k in ("Definition", "DefinitionString", "DefinitionS3Location") if k in props]
    if len(given) != 1:
        raise ResourceFailed(
            "Exactly one of Definition, DefinitionString or DefinitionS3Location is required"
        )
    if "Definition" in props:
        text = as_json(props["Definition"])
    elif "DefinitionString" in props:
        text = str(props["DefinitionString"])
    else:
        text = _read_s3(ctx, props["DefinitionS3Location"])
    substitutions = props.get("DefinitionSubstitutions") or {}

    def fill(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in substitutions:
            return found.group(0)
        value = substitutions[name]
        # Inside a JSON string the value goes in as text; a number or boolean keeps its type.
        return value if isinstance(value, str) else json.dumps(value)

    return re.sub(r"\$\{([^}]+)\}", fill, text)


class StateMachine(ResourceType):
    type_name = "AWS::StepFunctions::StateMachine"
    attributes = ("Arn", "Name", "StateMachineRevisionId")
    replace_on = frozenset({"StateMachineName", "StateMachineType"})
    required = ("RoleArn",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("StateMachineName") or ctx.physical_name(80)
        req: Json = {
            "name": name,
            "definition": definition(ctx, props),
            "roleArn": props["RoleArn"],
            "type": props.get("StateMachineType") or "STANDARD",
            "tags": _tags(ctx, props),
        }
        for key, field in (
            ("LoggingConfiguration", "loggingConfiguration"),
            ("TracingConfiguration", "tracingConfiguration"),
        ):
            if key in props:
                req[field] = _lower_keys(props[key])
        arn = ctx.call("stepfunctions", "CreateStateMachine", req)["stateMachineArn"]
        return self._provisioned(ctx, arn)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        req: Json = {
            "stateMachineArn": current.physical_id,
            "definition": definition(ctx, props),
            "roleArn": props["RoleArn"],
        }
        ctx.call("stepfunctions", "UpdateStateMachine", req)
        tags = ctx.tag_map(props.get("Tags"))
        dropped = [k for k in ctx.previous_tag_map(old_props.get("Tags")) if k not in tags]
        if dropped:
            ctx.call(
                "stepfunctions",
                "UntagResource",
                {"resourceArn": current.physical_id, "tagKeys": dropped},
            )
        ctx.call(
            "stepfunctions",
            "TagResource",
            {"resourceArn": current.physical_id, "tags": _tags(ctx, props)},
        )
        return self._provisioned(ctx, current.physical_id)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            _GONE, "stepfunctions", "DeleteStateMachine", {"stateMachineArn": current.physical_id}
        )

    @staticmethod
    def _provisioned(ctx: ResourceContext, arn: str) -> Provisioned:
        out = ctx.call("stepfunctions", "DescribeStateMachine", {"stateMachineArn": arn})
        return Provisioned(
            arn,
            attributes={
                "Arn": arn,
                "Name": out["name"],
                "StateMachineRevisionId": out.get("revisionId", ""),
            },
        )


def _lower_keys(value: Any) -> Any:
    """CloudFormation's PascalCase configuration in the API's camelCase."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


class Activity(ResourceType):
    type_name = "AWS::StepFunctions::Activity"
    attributes = ("Arn", "Name")
    replace_on = frozenset({"Name"})
    required = ("Name",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        out = ctx.call(
            "stepfunctions", "CreateActivity", {"name": props["Name"], "tags": _tags(ctx, props)}
        )
        arn = out["activityArn"]
        return Provisioned(arn, attributes={"Arn": arn, "Name": props["Name"]})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        tags = ctx.tag_map(props.get("Tags"))
        dropped = [k for k in ctx.previous_tag_map(old_props.get("Tags")) if k not in tags]
        if dropped:
            ctx.call(
                "stepfunctions",
                "UntagResource",
                {"resourceArn": current.physical_id, "tagKeys": dropped},
            )
        ctx.call(
            "stepfunctions",
            "TagResource",
            {"resourceArn": current.physical_id, "tags": _tags(ctx, props)},
        )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            _GONE, "stepfunctions", "DeleteActivity", {"activityArn": current.physical_id}
        )


TYPES: dict[str, type[ResourceType]] = {cls.type_name: cls for cls in (StateMachine, Activity)}
