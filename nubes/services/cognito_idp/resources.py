"""Cognito's CloudFormation resource types: AWS::Cognito::UserPool, UserPoolClient,
UserPoolGroup, UserPoolDomain, UserPoolResourceServer, UserPoolUser and
UserPoolUserToGroupAttachment."""

from __future__ import annotations

from typing import Any

from botocore.model import Shape

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceType,
    boolean,
    integer,
)

SERVICE = "cognito-idp"
NOT_FOUND = ("ResourceNotFoundException",)


def _shaped(value: Any, shape: Shape) -> Any:
    """A template value in the types the operation's shape wants (templates quote numbers and
    booleans); members the shape does not have are left out."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return value
        members = shape.members
        return {k: _shaped(v, members[k]) for k, v in value.items() if k in members}
    if kind == "list":
        member = shape.member
        return [_shaped(v, member) for v in value] if isinstance(value, list) else value
    if kind == "map":
        return value
    if kind == "boolean":
        return boolean(value)
    if kind in ("integer", "long"):
        return integer(value)
    if kind == "string" and isinstance(value, (int, float, bool)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return value


def _params(ctx: ResourceContext, operation: str, props: Props, **extra: Any) -> dict[str, Any]:
    shape = ctx.env.catalog.services[SERVICE].model.operation_model(operation).input_shape
    assert shape is not None
    shaped: dict[str, Any] = _shaped({**props, **extra}, shape)
    return shaped


def _pool_params(props: Props) -> Props:
    out = {k: v for k, v in props.items() if k != "UserPoolName"}
    if "UserPoolTags" in out and isinstance(out["UserPoolTags"], dict):
        out["UserPoolTags"] = {str(k): str(v) for k, v in out["UserPoolTags"].items()}
    return out


class UserPool(ResourceType):
    type_name = "AWS::Cognito::UserPool"
    attributes = ("Arn", "ProviderName", "ProviderURL", "UserPoolId")
    replace_on = frozenset({"AliasAttributes", "UsernameAttributes", "UsernameConfiguration"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("UserPoolName") or ctx.physical_name(128)
        params = _params(ctx, "CreateUserPool", _pool_params(props), PoolName=name)
        pool = ctx.call(SERVICE, "CreateUserPool", params)["UserPool"]
        return self._provisioned(ctx, pool["Id"], pool["Arn"])

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        extra = {"PoolName": props["UserPoolName"]} if props.get("UserPoolName") else {}
        params = _params(
            ctx, "UpdateUserPool", _pool_params(props), UserPoolId=current.physical_id, **extra
        )
        ctx.call(SERVICE, "UpdateUserPool", params)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(NOT_FOUND, SERVICE, "DeleteUserPool", {"UserPoolId": current.physical_id})

    @staticmethod
    def _provisioned(ctx: ResourceContext, pool_id: str, pool_arn: str) -> Provisioned:
        provider = f"cognito-idp.{ctx.region}.amazonaws.com/{pool_id}"
        return Provisioned(
            pool_id,
            attributes={
                "Arn": pool_arn,
                "ProviderName": provider,
                "ProviderURL": f"https://{provider}",
                "UserPoolId": pool_id,
            },
        )


class UserPoolClient(ResourceType):
    type_name = "AWS::Cognito::UserPoolClient"
    attributes = ("ClientId", "ClientSecret", "Name")
    replace_on = frozenset({"UserPoolId", "GenerateSecret"})
    required = ("UserPoolId",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("ClientName") or ctx.physical_name(128)
        params = _params(ctx, "CreateUserPoolClient", props, ClientName=name)
        made = ctx.call(SERVICE, "CreateUserPoolClient", params)["UserPoolClient"]
        return self._provisioned(made)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        fields = {k: v for k, v in props.items() if k != "GenerateSecret"}
        name = props.get("ClientName") or current.attributes.get("Name")
        params = _params(
            ctx, "UpdateUserPoolClient", fields, ClientId=current.physical_id, ClientName=name
        )
        made = ctx.call(SERVICE, "UpdateUserPoolClient", params)["UserPoolClient"]
        return self._provisioned(made)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            NOT_FOUND,
            SERVICE,
            "DeleteUserPoolClient",
            {"UserPoolId": props["UserPoolId"], "ClientId": current.physical_id},
        )

    @staticmethod
    def _provisioned(made: dict[str, Any]) -> Provisioned:
        attributes = {"ClientId": made["ClientId"], "Name": made.get("ClientName") or ""}
        if made.get("ClientSecret"):
            attributes["ClientSecret"] = made["ClientSecret"]
        return Provisioned(made["ClientId"], attributes=attributes)


class UserPoolGroup(ResourceType):
    type_name = "AWS::Cognito::UserPoolGroup"
    replace_on = frozenset({"GroupName", "UserPoolId"})
    required = ("UserPoolId",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("GroupName") or ctx.physical_name(128)
        ctx.call(SERVICE, "CreateGroup", _params(ctx, "CreateGroup", props, GroupName=name))
        return Provisioned(name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        params = _params(ctx, "UpdateGroup", props, GroupName=current.physical_id)
        ctx.call(SERVICE, "UpdateGroup", params)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            NOT_FOUND,
            SERVICE,
            "DeleteGroup",
            {"UserPoolId": props["UserPoolId"], "GroupName": current.physical_id},
        )


class UserPoolDomain(ResourceType):
    type_name = "AWS::Cognito::UserPoolDomain"
    attributes = ("CloudFrontDistribution",)
    replace_on = frozenset({"Domain", "UserPoolId"})
    required = ("Domain", "UserPoolId")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        ctx.call(SERVICE, "CreateUserPoolDomain", _params(ctx, "CreateUserPoolDomain", props))
        desc = ctx.call(SERVICE, "DescribeUserPoolDomain", {"Domain": props["Domain"]})
        front = desc["DomainDescription"].get("CloudFrontDistribution", "")
        return Provisioned(props["Domain"], attributes={"CloudFrontDistribution": front})

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            (*NOT_FOUND, "InvalidParameterException"),
            SERVICE,
            "DeleteUserPoolDomain",
            {"UserPoolId": props["UserPoolId"], "Domain": current.physical_id},
        )


class UserPoolResourceServer(ResourceType):
    type_name = "AWS::Cognito::UserPoolResourceServer"
    replace_on = frozenset({"Identifier", "UserPoolId"})
    required = ("Identifier", "Name", "UserPoolId")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params = _params(ctx, "CreateResourceServer", props)
        ctx.call(SERVICE, "CreateResourceServer", params)
        return Provisioned(props["Identifier"])

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        ctx.call(SERVICE, "UpdateResourceServer", _params(ctx, "UpdateResourceServer", props))
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            NOT_FOUND,
            SERVICE,
            "DeleteResourceServer",
            {"UserPoolId": props["UserPoolId"], "Identifier": current.physical_id},
        )


class UserPoolUser(ResourceType):
    type_name = "AWS::Cognito::UserPoolUser"
    replace_on = frozenset(
        {"Username", "UserPoolId", "UserAttributes", "MessageAction", "DesiredDeliveryMediums"}
    )
    required = ("UserPoolId",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params = _params(ctx, "AdminCreateUser", props)
        params.setdefault("Username", ctx.physical_name(128))
        made = ctx.call(SERVICE, "AdminCreateUser", params)["User"]
        return Provisioned(made["Username"])

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            (*NOT_FOUND, "UserNotFoundException"),
            SERVICE,
            "AdminDeleteUser",
            {"UserPoolId": props["UserPoolId"], "Username": current.physical_id},
        )


class UserPoolUserToGroupAttachment(ResourceType):
    type_name = "AWS::Cognito::UserPoolUserToGroupAttachment"
    replace_on = frozenset({"GroupName", "UserPoolId", "Username"})
    required = ("GroupName", "UserPoolId", "Username")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params = _params(ctx, "AdminAddUserToGroup", props)
        ctx.call(SERVICE, "AdminAddUserToGroup", params)
        return Provisioned(ctx.physical_name())

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            (*NOT_FOUND, "UserNotFoundException"),
            SERVICE,
            "AdminRemoveUserFromGroup",
            _params(ctx, "AdminRemoveUserFromGroup", props),
        )


TYPES: dict[str, type[ResourceType]] = {
    t.type_name: t
    for t in (
        UserPool,
        UserPoolClient,
        UserPoolGroup,
        UserPoolDomain,
        UserPoolResourceServer,
        UserPoolUser,
        UserPoolUserToGroupAttachment,
    )
}
