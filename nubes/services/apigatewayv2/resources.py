"""API Gateway v2's CloudFormation resource types: AWS::ApiGatewayV2::Api (with an OpenAPI
``Body``, as SAM's HttpApi makes them, or quick create's ``Target``), Integration, Route,
Authorizer, Stage and Deployment."""

from __future__ import annotations

import json
from typing import Any

from nubes.core.resources import Props, Provisioned, ResourceContext, ResourceType, boolean

Json = dict[str, Any]
GONE = ("NotFoundException",)


def _fields(props: Props, names: tuple[str, ...]) -> Json:
    return {n: props[n] for n in names if props.get(n) is not None}


class Api(ResourceType):
    type_name = "AWS::ApiGatewayV2::Api"
    attributes = ("ApiEndpoint", "ApiId")
    replace_on = frozenset({"ProtocolType"})
    settable = (
        "Description",
        "CorsConfiguration",
        "RouteSelectionExpression",
        "ApiKeySelectionExpression",
        "DisableExecuteApiEndpoint",
        "Version",
    )

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        body = props.get("Body")
        if body is not None:
            text = body if isinstance(body, str) else json.dumps(body)
            api = ctx.call("apigatewayv2", "ImportApi", {"Body": text})
            if props.get("Name"):
                api = ctx.call(
                    "apigatewayv2", "UpdateApi", {"ApiId": api["ApiId"], "Name": props["Name"]}
                )
        else:
            req: Json = {
                "Name": props.get("Name") or ctx.physical_name(128),
                "ProtocolType": props.get("ProtocolType") or "HTTP",
                "Tags": ctx.tag_map(),
                **_fields(props, (*self.settable, "Target", "RouteKey", "CredentialsArn")),
            }
            api = ctx.call("apigatewayv2", "CreateApi", req)
        return Provisioned(
            api["ApiId"], attributes={"ApiId": api["ApiId"], "ApiEndpoint": api["ApiEndpoint"]}
        )

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        body = props.get("Body")
        if body is not None and body != old_props.get("Body"):
            text = body if isinstance(body, str) else json.dumps(body)
            ctx.call("apigatewayv2", "ReimportApi", {"ApiId": current.physical_id, "Body": text})
        req = {"ApiId": current.physical_id, **_fields(props, ("Name", *self.settable))}
        ctx.call("apigatewayv2", "UpdateApi", req)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(GONE, "apigatewayv2", "DeleteApi", {"ApiId": current.physical_id})


class _Part(ResourceType):
    """A part of an API made by its Create call, changed by its Update call."""

    noun: str
    fields: tuple[str, ...]

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        req = {"ApiId": props["ApiId"], **_fields(props, self.fields)}
        made = ctx.call("apigatewayv2", f"Create{self.noun}", self.adjust(req))
        key = made[f"{self.noun}Id"]
        return Provisioned(f"{props['ApiId']}|{key}", ref=key, attributes={f"{self.noun}Id": key})

    def adjust(self, req: Json) -> Json:
        return req

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        api_id, _, key = current.physical_id.partition("|")
        req = {"ApiId": api_id, f"{self.noun}Id": key, **_fields(props, self.fields)}
        ctx.call("apigatewayv2", f"Update{self.noun}", self.adjust(req))
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        api_id, _, key = current.physical_id.partition("|")
        ctx.call_ignoring(
            (*GONE, "ConflictException"),
            "apigatewayv2",
            f"Delete{self.noun}",
            {"ApiId": api_id, f"{self.noun}Id": key},
        )


class Integration(_Part):
    type_name = "AWS::ApiGatewayV2::Integration"
    attributes = ("IntegrationId",)
    replace_on = frozenset({"ApiId"})
    noun = "Integration"
    fields = (
        "IntegrationType",
        "IntegrationUri",
        "IntegrationMethod",
        "PayloadFormatVersion",
        "ConnectionType",
        "Description",
        "RequestParameters",
        "RequestTemplates",
        "TimeoutInMillis",
    )


class Route(_Part):
    type_name = "AWS::ApiGatewayV2::Route"
    attributes = ("RouteId",)
    replace_on = frozenset({"ApiId"})
    noun = "Route"
    fields = (
        "RouteKey",
        "Target",
        "AuthorizationType",
        "AuthorizerId",
        "AuthorizationScopes",
        "ApiKeyRequired",
        "OperationName",
        "RouteResponseSelectionExpression",
    )

    def adjust(self, req: Json) -> Json:
        if "ApiKeyRequired" in req:
            req["ApiKeyRequired"] = boolean(req["ApiKeyRequired"])
        return req


class Authorizer(_Part):
    type_name = "AWS::ApiGatewayV2::Authorizer"
    attributes = ("AuthorizerId",)
    replace_on = frozenset({"ApiId"})
    noun = "Authorizer"
    fields = (
        "Name",
        "AuthorizerType",
        "AuthorizerUri",
        "IdentitySource",
        "JwtConfiguration",
        "AuthorizerPayloadFormatVersion",
        "EnableSimpleResponses",
        "AuthorizerResultTtlInSeconds",
    )


class Stage(ResourceType):
    type_name = "AWS::ApiGatewayV2::Stage"
    replace_on = frozenset({"ApiId", "StageName"})
    fields = (
        "AutoDeploy",
        "DeploymentId",
        "Description",
        "StageVariables",
        "DefaultRouteSettings",
        "RouteSettings",
        "AccessLogSettings",
    )

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        req = {"ApiId": props["ApiId"], "StageName": props["StageName"], **self._settings(props)}
        ctx.call("apigatewayv2", "CreateStage", req)
        return Provisioned(f"{props['ApiId']}|{props['StageName']}", ref=props["StageName"])

    def _settings(self, props: Props) -> Json:
        out = _fields(props, self.fields)
        if "AutoDeploy" in out:
            out["AutoDeploy"] = boolean(out["AutoDeploy"])
        return out

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        req = {"ApiId": props["ApiId"], "StageName": props["StageName"], **self._settings(props)}
        ctx.call("apigatewayv2", "UpdateStage", req)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        api_id, _, name = current.physical_id.partition("|")
        ctx.call_ignoring(GONE, "apigatewayv2", "DeleteStage", {"ApiId": api_id, "StageName": name})


class Deployment(ResourceType):
    type_name = "AWS::ApiGatewayV2::Deployment"
    attributes = ("DeploymentId",)
    replace_on = frozenset({"ApiId"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        req = {"ApiId": props["ApiId"], **_fields(props, ("Description", "StageName"))}
        made = ctx.call("apigatewayv2", "CreateDeployment", req)
        key = made["DeploymentId"]
        return Provisioned(f"{props['ApiId']}|{key}", ref=key, attributes={"DeploymentId": key})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        return self.create(ctx, props)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        api_id, _, key = current.physical_id.partition("|")
        ctx.call_ignoring(
            (*GONE, "BadRequestException"),
            "apigatewayv2",
            "DeleteDeployment",
            {"ApiId": api_id, "DeploymentId": key},
        )


TYPES: dict[str, type[ResourceType]] = {
    t.type_name: t for t in (Api, Integration, Route, Authorizer, Stage, Deployment)
}
