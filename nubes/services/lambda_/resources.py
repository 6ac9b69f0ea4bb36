"""Lambda's CloudFormation resource types: functions (inline or S3 code), versions, aliases,
permissions, event source mappings, layers and function URLs."""

from __future__ import annotations

import asyncio
from typing import Any

from nubes.core import clock
from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceFailed,
    ResourceType,
    boolean,
    integer,
)
from nubes.services.lambda_.inline_code import inline_zip

Json = dict[str, Any]
GONE = ("ResourceNotFoundException",)
SETTLE_POLL = 0.05
SETTLE_LIMIT = 300.0
CONFIG_KEYS = (
    "Description",
    "Handler",
    "Runtime",
    "Role",
    "Timeout",
    "MemorySize",
    "Environment",
    "Layers",
    "DeadLetterConfig",
    "TracingConfig",
    "VpcConfig",
    "EphemeralStorage",
    "LoggingConfig",
    "FileSystemConfigs",
    "ImageConfig",
    "SnapStart",
)
INTEGERS = ("Timeout", "MemorySize")


def _code(props: Props) -> Json:
    code = props.get("Code") or {}
    if "ZipFile" in code:
        return {"ZipFile": inline_zip(str(code["ZipFile"]), str(props.get("Runtime", "")))}
    out: Json = {}
    for key in ("S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri"):
        if key in code:
            out[key] = code[key]
    if not out:
        raise ResourceFailed("Property Code cannot be empty.")
    return out


def _config(props: Props) -> Json:
    out: Json = {}
    for key in CONFIG_KEYS:
        if key not in props:
            continue
        value = props[key]
        if key in INTEGERS:
            value = integer(value)
        elif key == "EphemeralStorage":
            value = {"Size": integer(value["Size"])}
        out[key] = value
    if "KmsKeyArn" in props:
        out["KMSKeyArn"] = props["KmsKeyArn"]
    return out


async def settled(ctx: ResourceContext, name: str) -> Json:
    """The function's configuration once a create or update has finished (Pending -> Active)."""
    deadline = clock.now() + SETTLE_LIMIT
    while True:
        config: Json = ctx.call("lambda", "GetFunctionConfiguration", {"FunctionName": name})
        if config.get("State") == "Failed":
            raise ResourceFailed(config.get("StateReason") or "The function failed to create")
        if config.get("State") != "Pending" and config.get("LastUpdateStatus") != "InProgress":
            return config
        if clock.now() > deadline:
            raise ResourceFailed("The function did not become active")
        await asyncio.sleep(SETTLE_POLL)


class Function(ResourceType):
    type_name = "AWS::Lambda::Function"
    attributes = ("Arn", "SnapStartResponse", "SnapStartResponse.ApplyOn")
    required = ("Code", "Role")
    replace_on = frozenset({"FunctionName", "PackageType"})

    async def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("FunctionName") or ctx.physical_name(64)
        params: Json = {
            "FunctionName": name,
            "Code": _code(props),
            "Tags": ctx.tag_map(props.get("Tags")),
            **_config(props),
        }
        for key in ("PackageType", "Architectures", "CodeSigningConfigArn"):
            if key in props:
                params[key] = props[key]
        ctx.call("lambda", "CreateFunction", params)
        await asyncio.sleep(0)  # the function settles once the call's transaction committed
        config = await settled(ctx, name)
        if "ReservedConcurrentExecutions" in props:
            ctx.call(
                "lambda",
                "PutFunctionConcurrency",
                {
                    "FunctionName": name,
                    "ReservedConcurrentExecutions": integer(props["ReservedConcurrentExecutions"]),
                },
            )
        return Provisioned(name, attributes={"Arn": config["FunctionArn"]})

    async def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        if props.get("Code") != old_props.get("Code") or (
            "ZipFile" in (props.get("Code") or {})
            and props.get("Runtime") != old_props.get("Runtime")
        ):
            params: Json = {"FunctionName": name, **_code(props)}
            if "Architectures" in props:
                params["Architectures"] = props["Architectures"]
            ctx.call("lambda", "UpdateFunctionCode", params)
            await asyncio.sleep(0)
            await settled(ctx, name)
        new, old = _config(props), _config(old_props)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        for key in old:
            if key not in new:
                changed[key] = _RESET.get(key, "")
        if changed:
            ctx.call("lambda", "UpdateFunctionConfiguration", {"FunctionName": name, **changed})
            await asyncio.sleep(0)
            await settled(ctx, name)
        concurrency = props.get("ReservedConcurrentExecutions")
        if concurrency != old_props.get("ReservedConcurrentExecutions"):
            if concurrency is None:
                ctx.call("lambda", "DeleteFunctionConcurrency", {"FunctionName": name})
            else:
                ctx.call(
                    "lambda",
                    "PutFunctionConcurrency",
                    {"FunctionName": name, "ReservedConcurrentExecutions": integer(concurrency)},
                )
        tags = ctx.tag_map(props.get("Tags"))
        before = ctx.previous_tag_map(old_props.get("Tags"))
        if tags != before:
            arn = current.attributes["Arn"]
            gone = [k for k in before if k not in tags]
            if gone:
                ctx.call("lambda", "UntagResource", {"Resource": arn, "TagKeys": gone})
            ctx.call("lambda", "TagResource", {"Resource": arn, "Tags": tags})
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(GONE, "lambda", "DeleteFunction", {"FunctionName": current.physical_id})


_RESET: dict[str, Any] = {
    "Environment": {"Variables": {}},
    "Layers": [],
    "Timeout": 3,
    "MemorySize": 128,
    "DeadLetterConfig": {},
    "TracingConfig": {"Mode": "PassThrough"},
    "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []},
}


class Version(ResourceType):
    type_name = "AWS::Lambda::Version"
    attributes = ("FunctionArn", "Version")
    required = ("FunctionName",)
    replace_on = frozenset({"FunctionName", "CodeSha256", "Description"})

    async def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        await settled(ctx, props["FunctionName"])
        params: Json = {"FunctionName": props["FunctionName"]}
        for key in ("CodeSha256", "Description"):
            if key in props:
                params[key] = props[key]
        out = ctx.call("lambda", "PublishVersion", params)
        arn = out["FunctionArn"]
        return Provisioned(arn, attributes={"FunctionArn": arn, "Version": out["Version"]})

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        # AWS keeps published versions when the stack lets them go only if retained; a version
        # an alias still points at cannot go, which AWS reports as a failure too.
        ctx.call_ignoring(
            (*GONE, "ResourceConflictException"),
            "lambda",
            "DeleteFunction",
            {"FunctionName": current.physical_id},
        )


class Alias(ResourceType):
    type_name = "AWS::Lambda::Alias"
    attributes = ("AliasArn",)
    required = ("FunctionName", "FunctionVersion", "Name")
    replace_on = frozenset({"FunctionName", "Name"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        out = ctx.call("lambda", "CreateAlias", self._params(props))
        return Provisioned(out["AliasArn"], attributes={"AliasArn": out["AliasArn"]})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        ctx.call("lambda", "UpdateAlias", self._params(props))
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            GONE,
            "lambda",
            "DeleteAlias",
            {"FunctionName": props["FunctionName"], "Name": props["Name"]},
        )

    @staticmethod
    def _params(props: Props) -> Json:
        params: Json = {
            "FunctionName": props["FunctionName"],
            "Name": props["Name"],
            "FunctionVersion": str(props["FunctionVersion"]),
            "Description": props.get("Description", ""),
        }
        routing = props.get("RoutingConfig")
        if routing:
            params["RoutingConfig"] = {
                "AdditionalVersionWeights": {
                    str(w["FunctionVersion"]): float(w["FunctionWeight"])
                    for w in routing.get("AdditionalVersionWeights", [])
                }
            }
        return params


class Permission(ResourceType):
    type_name = "AWS::Lambda::Permission"
    required = ("Action", "FunctionName", "Principal")
    replace_on = frozenset(
        {
            "Action",
            "EventSourceToken",
            "FunctionName",
            "FunctionUrlAuthType",
            "Principal",
            "PrincipalOrgID",
            "SourceAccount",
            "SourceArn",
        }
    )

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        statement = ctx.physical_name(100)
        params: Json = {
            "FunctionName": props["FunctionName"],
            "StatementId": statement,
            "Action": props["Action"],
            "Principal": props["Principal"],
        }
        for key in (
            "SourceArn",
            "SourceAccount",
            "EventSourceToken",
            "PrincipalOrgID",
            "FunctionUrlAuthType",
        ):
            if key in props:
                params[key] = props[key]
        ctx.call("lambda", "AddPermission", params)
        return Provisioned(statement)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            GONE,
            "lambda",
            "RemovePermission",
            {"FunctionName": props["FunctionName"], "StatementId": current.physical_id},
        )


ESM_KEYS = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "BisectBatchOnFunctionError",
    "FilterCriteria",
    "DestinationConfig",
    "FunctionResponseTypes",
    "ScalingConfig",
)


class EventSourceMapping(ResourceType):
    type_name = "AWS::Lambda::EventSourceMapping"
    attributes = ("Id", "EventSourceMappingArn")
    required = ("FunctionName",)
    replace_on = frozenset({"EventSourceArn", "StartingPosition", "StartingPositionTimestamp"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params: Json = {"FunctionName": props["FunctionName"], **self._settings(props)}
        for key in ("EventSourceArn", "StartingPosition", "Topics", "Queues"):
            if key in props:
                params[key] = props[key]
        out = ctx.call("lambda", "CreateEventSourceMapping", params)
        uuid = out["UUID"]
        arn = out.get("EventSourceMappingArn") or ctx.arn("lambda", f"event-source-mapping:{uuid}")
        return Provisioned(uuid, attributes={"Id": uuid, "EventSourceMappingArn": arn})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        ctx.call(
            "lambda",
            "UpdateEventSourceMapping",
            {
                "UUID": current.physical_id,
                "FunctionName": props["FunctionName"],
                **self._settings(props),
            },
        )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(GONE, "lambda", "DeleteEventSourceMapping", {"UUID": current.physical_id})

    @staticmethod
    def _settings(props: Props) -> Json:
        out: Json = {"Enabled": boolean(props.get("Enabled", True))}
        for key in ESM_KEYS:
            if key in props:
                value = props[key]
                if key == "BisectBatchOnFunctionError":
                    value = boolean(value)
                elif key in ("BatchSize", "MaximumBatchingWindowInSeconds") or key.startswith(
                    ("Parallel", "MaximumR", "Tumbling")
                ):
                    value = integer(value)
                out[key] = value
        return out


class LayerVersion(ResourceType):
    type_name = "AWS::Lambda::LayerVersion"
    attributes = ("LayerVersionArn",)
    required = ("Content",)
    replace_on = frozenset(
        {
            "CompatibleArchitectures",
            "CompatibleRuntimes",
            "Content",
            "Description",
            "LayerName",
            "LicenseInfo",
        }
    )

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("LayerName") or ctx.physical_name(64)
        content = {
            k: props["Content"][k]
            for k in ("S3Bucket", "S3Key", "S3ObjectVersion")
            if k in props["Content"]
        }
        params: Json = {"LayerName": name, "Content": content}
        for key in ("Description", "CompatibleRuntimes", "LicenseInfo", "CompatibleArchitectures"):
            if key in props:
                params[key] = props[key]
        out = ctx.call("lambda", "PublishLayerVersion", params)
        arn = out["LayerVersionArn"]
        return Provisioned(arn, attributes={"LayerVersionArn": arn})

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        layer, _, version = current.physical_id.rpartition(":")
        ctx.call_ignoring(
            GONE,
            "lambda",
            "DeleteLayerVersion",
            {"LayerName": layer, "VersionNumber": int(version)},
        )


class LayerVersionPermission(ResourceType):
    type_name = "AWS::Lambda::LayerVersionPermission"
    required = ("Action", "LayerVersionArn", "Principal")
    replace_on = frozenset({"Action", "LayerVersionArn", "OrganizationId", "Principal"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        layer, _, version = str(props["LayerVersionArn"]).rpartition(":")
        statement = ctx.physical_name(100)
        params: Json = {
            "LayerName": layer,
            "VersionNumber": int(version),
            "StatementId": statement,
            "Action": props["Action"],
            "Principal": props["Principal"],
        }
        if "OrganizationId" in props:
            params["OrganizationId"] = props["OrganizationId"]
        ctx.call("lambda", "AddLayerVersionPermission", params)
        return Provisioned(f"{props['LayerVersionArn']}#{statement}")

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        arn, _, statement = current.physical_id.partition("#")
        layer, _, version = arn.rpartition(":")
        ctx.call_ignoring(
            GONE,
            "lambda",
            "RemoveLayerVersionPermission",
            {"LayerName": layer, "VersionNumber": int(version), "StatementId": statement},
        )


class Url(ResourceType):
    type_name = "AWS::Lambda::Url"
    attributes = ("FunctionArn", "FunctionUrl")
    required = ("AuthType", "TargetFunctionArn")
    replace_on = frozenset({"TargetFunctionArn", "Qualifier"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        out = ctx.call("lambda", "CreateFunctionUrlConfig", self._params(props))
        return Provisioned(
            out["FunctionArn"],
            attributes={"FunctionArn": out["FunctionArn"], "FunctionUrl": out["FunctionUrl"]},
        )

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        ctx.call("lambda", "UpdateFunctionUrlConfig", self._params(props))
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        params = {"FunctionName": props["TargetFunctionArn"]}
        if "Qualifier" in props:
            params["Qualifier"] = props["Qualifier"]
        ctx.call_ignoring(GONE, "lambda", "DeleteFunctionUrlConfig", params)

    @staticmethod
    def _params(props: Props) -> Json:
        params: Json = {"FunctionName": props["TargetFunctionArn"], "AuthType": props["AuthType"]}
        for key in ("Qualifier", "Cors", "InvokeMode"):
            if key in props:
                params[key] = props[key]
        return params


TYPES: dict[str, type[ResourceType]] = {
    t.type_name: t
    for t in (
        Function,
        Version,
        Alias,
        Permission,
        EventSourceMapping,
        LayerVersion,
        LayerVersionPermission,
        Url,
    )
}
