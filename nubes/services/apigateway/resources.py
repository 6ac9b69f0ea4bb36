"""API Gateway's (REST APIs) CloudFormation resource types: AWS::ApiGateway::RestApi (with an
OpenAPI ``Body``, as SAM makes them), Resource, Method, Deployment, Stage, Authorizer, Model,
RequestValidator, ApiKey, UsagePlan and UsagePlanKey."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceFailed,
    ResourceType,
    boolean,
    integer,
)

Json = dict[str, Any]
GONE = ("NotFoundException",)


def _camel(name: str) -> str:
    return name[0].lower() + name[1:]


def _camel_keys(value: Mapping[str, Any], rename: Mapping[str, str] | None = None) -> Json:
    rename = rename or {}
    return {rename.get(k, _camel(k)): v for k, v in value.items()}


def _body(props: Props) -> bytes | None:
    body = props.get("Body")
    if body is None:
        return None
    return (body if isinstance(body, str) else json.dumps(body)).encode()


class RestApi(ResourceType):
    type_name = "AWS::ApiGateway::RestApi"
    attributes = ("RestApiId", "RootResourceId")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        body = _body(props)
        if body is not None:
            api = ctx.call("apigateway", "ImportRestApi", {"body": body})
        else:
            api = ctx.call(
                "apigateway",
                "CreateRestApi",
                {"name": props.get("Name") or ctx.physical_name(), "tags": ctx.tag_map()},
            )
        self._settle(ctx, api["id"], props)
        return self._provisioned(api)

    def _settle(self, ctx: ResourceContext, api_id: str, props: Props) -> None:
        ops: list[Json] = []
        for prop, path in (("Name", "/name"), ("Description", "/description")):
            if props.get(prop) is not None:
                ops.append({"op": "replace", "path": path, "value": str(props[prop])})
        if props.get("ApiKeySourceType"):
            ops.append(
                {"op": "replace", "path": "/apiKeySource", "value": props["ApiKeySourceType"]}
            )
        for media in props.get("BinaryMediaTypes") or []:
            ops.append({"op": "add", "path": "/binaryMediaTypes/" + media.replace("/", "~1")})
        if ops:
            ctx.call("apigateway", "UpdateRestApi", {"restApiId": api_id, "patchOperations": ops})

    @staticmethod
    def _provisioned(api: Json) -> Provisioned:
        return Provisioned(
            api["id"], attributes={"RestApiId": api["id"], "RootResourceId": api["rootResourceId"]}
        )

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        body = _body(props)
        if body is not None and props.get("Body") != old_props.get("Body"):
            mode = (
                "merge" if str(props.get("Mode", "overwrite")).lower() == "merge" else "overwrite"
            )
            ctx.call(
                "apigateway",
                "PutRestApi",
                {"restApiId": current.physical_id, "mode": mode, "body": body},
            )
        self._settle(ctx, current.physical_id, props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(GONE, "apigateway", "DeleteRestApi", {"restApiId": current.physical_id})


class Resource(ResourceType):
    type_name = "AWS::ApiGateway::Resource"
    attributes = ("ResourceId",)
    replace_on = frozenset({"RestApiId", "ParentId", "PathPart"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        made = ctx.call(
            "apigateway",
            "CreateResource",
            {
                "restApiId": props["RestApiId"],
                "parentId": props["ParentId"],
                "pathPart": props["PathPart"],
            },
        )
        return Provisioned(
            f"{props['RestApiId']}|{made['id']}",
            ref=made["id"],
            attributes={"ResourceId": made["id"]},
        )

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        api_id, _, resource_id = current.physical_id.partition("|")
        ctx.call_ignoring(
            GONE, "apigateway", "DeleteResource", {"restApiId": api_id, "resourceId": resource_id}
        )


class Method(ResourceType):
    type_name = "AWS::ApiGateway::Method"
    replace_on = frozenset({"RestApiId", "ResourceId", "HttpMethod"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        where = {
            "restApiId": props["RestApiId"],
            "resourceId": props["ResourceId"],
            "httpMethod": str(props["HttpMethod"]).upper(),
        }
        method: Json = {**where, "authorizationType": props.get("AuthorizationType") or "NONE"}
        for prop in (
            "AuthorizerId",
            "OperationName",
            "RequestParameters",
            "RequestModels",
            "RequestValidatorId",
            "AuthorizationScopes",
        ):
            if props.get(prop) is not None:
                method[_camel(prop)] = props[prop]
        if props.get("ApiKeyRequired") is not None:
            method["apiKeyRequired"] = boolean(props["ApiKeyRequired"])
        if props.get("RequestParameters"):
            method["requestParameters"] = {
                k: boolean(v) for k, v in props["RequestParameters"].items()
            }
        ctx.call("apigateway", "PutMethod", method)
        for response in props.get("MethodResponses") or []:
            out = {**where, "statusCode": str(response["StatusCode"])}
            if response.get("ResponseParameters"):
                out["responseParameters"] = {
                    k: boolean(v) for k, v in response["ResponseParameters"].items()
                }
            if response.get("ResponseModels"):
                out["responseModels"] = response["ResponseModels"]
            ctx.call("apigateway", "PutMethodResponse", out)
        integration = props.get("Integration")
        if integration:
            spec = _camel_keys(
                {k: v for k, v in integration.items() if k != "IntegrationResponses"},
                {"IntegrationHttpMethod": "integrationHttpMethod", "Uri": "uri"},
            )
            if "timeoutInMillis" in spec:
                spec["timeoutInMillis"] = integer(spec["timeoutInMillis"])
            ctx.call("apigateway", "PutIntegration", {**where, **spec})
            for response in integration.get("IntegrationResponses") or []:
                out = {**where, **_camel_keys(response)}
                out["statusCode"] = str(out["statusCode"])
                ctx.call("apigateway", "PutIntegrationResponse", out)
        return Provisioned("|".join(where.values()))

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        return self.create(ctx, props)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        api_id, resource_id, verb = current.physical_id.split("|")
        ctx.call_ignoring(
            GONE,
            "apigateway",
            "DeleteMethod",
            {"restApiId": api_id, "resourceId": resource_id, "httpMethod": verb},
        )


class Deployment(ResourceType):
    type_name = "AWS::ApiGateway::Deployment"
    attributes = ("DeploymentId",)
    replace_on = frozenset({"RestApiId", "DeploymentCanarySettings"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        req: Json = {"restApiId": props["RestApiId"]}
        for prop in ("StageName", "Description"):
            if props.get(prop):
                req[_camel(prop)] = props[prop]
        made = ctx.call("apigateway", "CreateDeployment", req)
        return Provisioned(
            f"{props['RestApiId']}|{made['id']}",
            ref=made["id"],
            attributes={"DeploymentId": made["id"]},
        )

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        return self.create(ctx, props)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        api_id, _, deployment_id = current.physical_id.partition("|")
        # A deployment a stage still points at stays, as AWS's delete fails quietly for it.
        ctx.call_ignoring(
            (*GONE, "BadRequestException"),
            "apigateway",
            "DeleteDeployment",
            {"restApiId": api_id, "deploymentId": deployment_id},
        )


class Stage(ResourceType):
    type_name = "AWS::ApiGateway::Stage"
    replace_on = frozenset({"RestApiId", "StageName"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("StageName") or ctx.physical_name(128)
        req: Json = {
            "restApiId": props["RestApiId"],
            "stageName": name,
            "deploymentId": props["DeploymentId"],
        }
        if props.get("Variables"):
            req["variables"] = props["Variables"]
        if props.get("Description"):
            req["description"] = props["Description"]
        existing = ctx.call_ignoring(
            GONE, "apigateway", "GetStage", {"restApiId": props["RestApiId"], "stageName": name}
        )
        if existing is None:
            ctx.call("apigateway", "CreateStage", req)
        self._settle(ctx, props, name)
        return Provisioned(f"{props['RestApiId']}|{name}", ref=name)

    def _settle(self, ctx: ResourceContext, props: Props, name: str) -> None:
        ops: list[Json] = [
            {"op": "replace", "path": "/deploymentId", "value": props["DeploymentId"]}
        ]
        for key, value in (props.get("Variables") or {}).items():
            ops.append({"op": "replace", "path": f"/variables/{key}", "value": str(value)})
        for setting in props.get("MethodSettings") or []:
            resource = str(setting.get("ResourcePath", "/*")).replace("/", "~1")
            if resource == "~1*":
                resource = "*"
            verb = setting.get("HttpMethod", "*")
            for prop, path in (
                ("ThrottlingRateLimit", "throttling/rateLimit"),
                ("ThrottlingBurstLimit", "throttling/burstLimit"),
                ("MetricsEnabled", "metrics/enabled"),
                ("LoggingLevel", "logging/loglevel"),
                ("DataTraceEnabled", "logging/dataTrace"),
            ):
                if setting.get(prop) is not None:
                    value = setting[prop]
                    ops.append(
                        {
                            "op": "replace",
                            "path": f"/{resource}/{verb}/{path}",
                            "value": str(value).lower() if isinstance(value, bool) else str(value),
                        }
                    )
        logs = props.get("AccessLogSetting") or {}
        if logs.get("DestinationArn"):
            ops.append(
                {
                    "op": "replace",
                    "path": "/accessLogSettings/destinationArn",
                    "value": logs["DestinationArn"],
                }
            )
            ops.append(
                {"op": "replace", "path": "/accessLogSettings/format", "value": logs.get("Format")}
            )
        ctx.call(
            "apigateway",
            "UpdateStage",
            {"restApiId": props["RestApiId"], "stageName": name, "patchOperations": ops},
        )

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._settle(ctx, props, current.ref_value)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        api_id, _, name = current.physical_id.partition("|")
        ctx.call_ignoring(
            GONE, "apigateway", "DeleteStage", {"restApiId": api_id, "stageName": name}
        )


class _Child(ResourceType):
    """A thing inside an API made by one Create call and removed by one Delete call."""

    create_op: str
    delete_op: str
    id_param: str
    props_map: tuple[str, ...] = ()
    key_field = "id"
    """What names the made thing in its Delete call."""

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        req: Json = {"restApiId": props["RestApiId"]}
        for prop in self.props_map:
            if props.get(prop) is not None:
                req[_camel(prop)] = props[prop]
        self.adjust(ctx, req)
        made = ctx.call("apigateway", self.create_op, req)
        key = made[self.key_field]
        return Provisioned(f"{props['RestApiId']}|{key}", ref=key)

    def adjust(self, ctx: ResourceContext, req: Json) -> None:
        pass

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self.delete(ctx, current, old_props)
        return self.create(ctx, props)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        api_id, _, key = current.physical_id.partition("|")
        ctx.call_ignoring(
            GONE, "apigateway", self.delete_op, {"restApiId": api_id, self.id_param: key}
        )


class Authorizer(_Child):
    type_name = "AWS::ApiGateway::Authorizer"
    attributes = ("AuthorizerId",)
    create_op, delete_op, id_param = "CreateAuthorizer", "DeleteAuthorizer", "authorizerId"
    props_map = (
        "Name",
        "Type",
        "AuthorizerUri",
        "IdentitySource",
        "IdentityValidationExpression",
        "AuthorizerResultTtlInSeconds",
        "ProviderARNs",
        "AuthType",
        "AuthorizerCredentials",
    )

    def adjust(self, ctx: ResourceContext, req: Json) -> None:
        if "authorizerResultTtlInSeconds" in req:
            req["authorizerResultTtlInSeconds"] = integer(req["authorizerResultTtlInSeconds"])
        req.setdefault("name", ctx.physical_name(128))

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        made = super().create(ctx, props)
        made.attributes = {"AuthorizerId": made.ref_value}
        return made


class Model(_Child):
    type_name = "AWS::ApiGateway::Model"
    create_op, delete_op, id_param = "CreateModel", "DeleteModel", "modelName"
    key_field = "name"
    props_map = ("Name", "Description", "Schema", "ContentType")

    def adjust(self, ctx: ResourceContext, req: Json) -> None:
        if not isinstance(req.get("schema", ""), str):
            req["schema"] = json.dumps(req["schema"])
        req.setdefault("name", ctx.physical_name(64).replace("-", ""))
        req.setdefault("contentType", "application/json")


class RequestValidator(_Child):
    type_name = "AWS::ApiGateway::RequestValidator"
    attributes = ("RequestValidatorId",)
    create_op, delete_op, id_param = (
        "CreateRequestValidator",
        "DeleteRequestValidator",
        "requestValidatorId",
    )
    props_map = ("Name", "ValidateRequestBody", "ValidateRequestParameters")

    def adjust(self, ctx: ResourceContext, req: Json) -> None:
        for key in ("validateRequestBody", "validateRequestParameters"):
            if key in req:
                req[key] = boolean(req[key])

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        made = super().create(ctx, props)
        made.attributes = {"RequestValidatorId": made.ref_value}
        return made


class ApiKey(ResourceType):
    type_name = "AWS::ApiGateway::ApiKey"
    attributes = ("APIKeyId",)
    replace_on = frozenset({"Name", "Value", "GenerateDistinctId"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        req: Json = {
            "name": props.get("Name") or ctx.physical_name(),
            "enabled": boolean(props.get("Enabled", False)),
            "tags": ctx.tag_map(props.get("Tags")),
        }
        for prop in ("Value", "Description", "CustomerId"):
            if props.get(prop) is not None:
                req[_camel(prop)] = props[prop]
        if props.get("StageKeys"):
            req["stageKeys"] = [_camel_keys(k) for k in props["StageKeys"]]
        made = ctx.call("apigateway", "CreateApiKey", req)
        return Provisioned(made["id"], attributes={"APIKeyId": made["id"]})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        ops = [
            {
                "op": "replace",
                "path": "/enabled",
                "value": str(boolean(props.get("Enabled", False))).lower(),
            }
        ]
        ctx.call(
            "apigateway", "UpdateApiKey", {"apiKey": current.physical_id, "patchOperations": ops}
        )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(GONE, "apigateway", "DeleteApiKey", {"apiKey": current.physical_id})


class UsagePlan(ResourceType):
    type_name = "AWS::ApiGateway::UsagePlan"
    attributes = ("Id",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        req: Json = {
            "name": props.get("UsagePlanName") or ctx.physical_name(),
            "apiStages": [_camel_keys(s) for s in props.get("ApiStages") or []],
            "tags": ctx.tag_map(props.get("Tags")),
        }
        if props.get("Description"):
            req["description"] = props["Description"]
        throttle = props.get("Throttle")
        if throttle:
            req["throttle"] = {
                k: (float(v) if k == "rateLimit" else integer(v))
                for k, v in _camel_keys(throttle).items()
            }
        quota = props.get("Quota")
        if quota:
            req["quota"] = {
                k: (v if k == "period" else integer(v)) for k, v in _camel_keys(quota).items()
            }
        made = ctx.call("apigateway", "CreateUsagePlan", req)
        return Provisioned(made["id"], attributes={"Id": made["id"]})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self.delete(ctx, current, old_props)
        return self.create(ctx, props)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            GONE, "apigateway", "DeleteUsagePlan", {"usagePlanId": current.physical_id}
        )


class UsagePlanKey(ResourceType):
    type_name = "AWS::ApiGateway::UsagePlanKey"
    attributes = ("Id",)
    replace_on = frozenset({"KeyId", "KeyType", "UsagePlanId"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        if props.get("KeyType", "API_KEY") != "API_KEY":
            raise ResourceFailed("KeyType must be API_KEY")
        ctx.call(
            "apigateway",
            "CreateUsagePlanKey",
            {"usagePlanId": props["UsagePlanId"], "keyId": props["KeyId"], "keyType": "API_KEY"},
        )
        return Provisioned(
            f"{props['UsagePlanId']}|{props['KeyId']}", attributes={"Id": props["KeyId"]}
        )

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        plan, _, key = current.physical_id.partition("|")
        ctx.call_ignoring(
            GONE, "apigateway", "DeleteUsagePlanKey", {"usagePlanId": plan, "keyId": key}
        )


TYPES: dict[str, type[ResourceType]] = {
    t.type_name: t
    for t in (
        RestApi,
        Resource,
        Method,
        Deployment,
        Stage,
        Authorizer,
        Model,
        RequestValidator,
        ApiKey,
        UsagePlan,
        UsagePlanKey,
    )
}
