"""Systems Manager's CloudFormation resource type: AWS::SSM::Parameter."""

from __future__ import annotations

from typing import Any

from nubes.core.resources import Props, Provisioned, ResourceContext, ResourceType, given

Json = dict[str, Any]
OPTIONAL = ("Description", "AllowedPattern", "Tier", "Policies", "DataType")


class Parameter(ResourceType):
    type_name = "AWS::SSM::Parameter"
    attributes = ("Type", "Value")
    required = ("Type", "Value")
    replace_on = frozenset({"Name"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("Name") or ctx.physical_name(2048)
        tags = {**ctx.tag_map(), **{str(k): str(v) for k, v in (props.get("Tags") or {}).items()}}
        self._put(ctx, name, props, {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]})
        return self._provisioned(name, props)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._put(ctx, current.physical_id, props, {"Overwrite": True})
        return self._provisioned(current.physical_id, props)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("ParameterNotFound",), "ssm", "DeleteParameter", {"Name": current.physical_id}
        )

    @staticmethod
    def _put(ctx: ResourceContext, name: str, props: Props, extra: Json) -> None:
        params: Json = {"Name": name, "Value": str(props["Value"]), "Type": props["Type"], **extra}
        params.update(given(props, OPTIONAL))
        ctx.call("ssm", "PutParameter", params)

    @staticmethod
    def _provisioned(name: str, props: Props) -> Provisioned:
        return Provisioned(name, attributes={"Type": props["Type"], "Value": str(props["Value"])})


TYPES: dict[str, type[ResourceType]] = {Parameter.type_name: Parameter}
