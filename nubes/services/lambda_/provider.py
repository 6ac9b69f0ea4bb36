"""AWS Lambda: functions, versions, aliases, invocation (workers are local processes of the
function's interpreter, no containers), concurrency, asynchronous invocation with retries and
destinations, permissions, tags. Layers, event source mappings, function URLs and code signing
configurations are mixed in from their own modules."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import parse_arn, root_arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.core.tags import tag_problems
from nubes.protocol.base import ServiceError
from nubes.runtime.lambda_.workers import Credentials
from nubes.services.base import ServiceProvider
from nubes.services.lambda_ import configuration as cfg
from nubes.services.lambda_ import metrics as lambda_metrics
from nubes.services.lambda_.async_invoke import AsyncInvocations
from nubes.services.lambda_.code import MAX_DIRECT_ZIP, BadZip, CodeTrees, check_zip, sha256_b64
from nubes.services.lambda_.code_signing import CodeSigningConfigs
from nubes.services.lambda_.code_urls import CodeUrls
from nubes.services.lambda_.errors import errors
from nubes.services.lambda_.event_sources import EventSourceMappings
from nubes.services.lambda_.execution_role import ExecutionRoles
from nubes.services.lambda_.invoker import (
    ACCOUNT_CONCURRENCY,
    UNRESERVED_MINIMUM,
    Invoker,
    Result,
    Target,
    function_key,
)
from nubes.services.lambda_.layers import Layers
from nubes.services.lambda_.models import LATEST, MIGRATIONS, LambdaModel, Scope, Version
from nubes.services.lambda_.urls import FunctionUrls

FUNCTION_REF = re.compile(
    r"^(?:arn:aws[\w-]*:lambda:(?P<region>[\w-]+):(?P<arn_account>\d{12}):function:"
    r"|(?P<account>\d{12}):function:)?"
    r"(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024
TOTAL_CODE_SIZE = 80_530_636_800
LIST_FUNCTIONS_PAGE = 50
"""ListFunctions returns at most 50 functions a call, whatever MaxItems says."""
NOT_LISTED = frozenset(
    (
        "State",
        "StateReason",
        "StateReasonCode",
        "LastUpdateStatus",
        "LastUpdateStatusReason",
        "LastUpdateStatusReasonCode",
        "RuntimeVersionConfig",
    )
)
WORKER_IDLE_SECONDS = 600.0
"""Warm workers idle this long (real time) are stopped; the next invocation starts cold."""
REAP_INTERVAL = 30.0
_RUNNING_WORK = (
    "SELECT 1 FROM lambda_event_sources UNION ALL SELECT 1 FROM lambda_urls "
    "UNION ALL SELECT 1 FROM lambda_async_queue "
    "UNION ALL SELECT 1 FROM lambda_settings WHERE kind = 'provisioned' "
    "UNION ALL SELECT 1 FROM lambda_versions WHERE json_extract(config, '$.State') = 'Pending' "
    "OR json_extract(config, '$.LastUpdateStatus') = 'InProgress' LIMIT 1"
)

if TYPE_CHECKING:
    from nubes.app import Environment


def scope_of(ctx: RequestContext) -> Scope:
    return Scope(ctx.account_id, ctx.region)


def not_found(arn: str) -> ServiceError:
    return errors.ResourceNotFoundException(f"Function not found: {arn}", Type="User")


class LambdaProvider(
    FunctionUrls, EventSourceMappings, Layers, CodeSigningConfigs, ServiceProvider
):
    service = "lambda"
    migrations = MIGRATIONS

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.model = LambdaModel(self.store)
        settings = env.settings
        self.trees = CodeTrees(None if settings.ephemeral else Path(settings.data_dir) / "lambda")
        self.roles = ExecutionRoles(env)
        self.invoker = Invoker(
            self.trees, self.blobs.path, self._deliver_logs, self._endpoint, self._credentials
        )
        self.async_invocations = AsyncInvocations(self)
        self.code_urls = CodeUrls(env, self.blobs, self.model.note_code_location)
        self._prewarms: set[asyncio.Task[None]] = set()

    def _endpoint(self) -> str:
        settings = self.env.settings
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        return f"http://{host}:{settings.port}"

    def _credentials(self, target: Target) -> Credentials:
        return self.roles.credentials(
            target.function_key, target.name, target.config["Role"], target.scope.region
        )

    def _deliver_logs(
        self, scope: Scope, group: str, stream: str, events: list[tuple[int, str]]
    ) -> None:
        logs = self.env.providers.get("logs")
        with self.store.transaction():
            logs.deliver(scope.account, scope.region, group, stream, events)

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        # Event source mappings poll, queued asynchronous invocations run, function URLs and
        # provisioned concurrency serve, versions being published settle: all without a request.
        # So do code locations handed out before a restart, until they expire.
        return cls.has_rows(env, _RUNNING_WORK) or cls.has_rows(
            env, f"SELECT 1 FROM lambda_code_locations WHERE until > {clock.now()!r}"
        )

    async def start(self) -> None:
        self.trees.prepare()
        with self.store.transaction():
            for scope, version in self.model.pending_versions():
                self._settle(scope, version.name, version.version, version.config["RevisionId"])
            for scope, name, qualifier, doc in self.model.every_setting("provisioned"):
                count = doc["RequestedProvisionedConcurrentExecutions"]
                self._prewarm_later(scope, name, qualifier, count)
        self.async_invocations.start()
        self._reaper = asyncio.create_task(self._reap_idle_workers(), name="nubes-lambda-reaper")
        self.start_pollers()
        self.install_url_gateway()
        self.env.gateway.interceptors.append(self.code_urls.serve)

    async def _reap_idle_workers(self) -> None:
        while True:
            await asyncio.sleep(REAP_INTERVAL)
            self.invoker.pool.reap(WORKER_IDLE_SECONDS)

    async def stop(self) -> None:
        try:
            for task in list(self._prewarms):
                task.cancel()
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            await self.stop_pollers()
            await self.async_invocations.stop()
        finally:
            # Whatever went wrong above, no worker or unpacked code outlives the server.
            try:
                await self.invoker.shutdown()
            finally:
                self.trees.clear()

    def reset(self) -> None:
        self.roles.reset()
        # The functions are gone: so are their workers (invocations under way fail).
        asyncio.get_running_loop().create_task(self.invoker.pool.shutdown())

    # -- locating functions ------------------------------------------------------------------

    def locate(
        self, ctx: RequestContext, function_name: str, qualifier: str | None = None
    ) -> tuple[Scope, str, str | None]:
        """(scope, name, qualifier) from any of the forms FunctionName takes."""
        found = FUNCTION_REF.match(function_name)
        if found is None:
            raise errors.ValidationException(
                f"1 validation error detected: Value '{function_name}' at 'functionName' failed "
                "to satisfy constraint: Member must satisfy regular expression pattern"
            )
        derived = found.group("qualifier")
        if derived and qualifier and derived != qualifier:
            raise errors.InvalidParameterValueException(
                "The derived qualifier from the function name does not match the specified "
                "qualifier."
            )
        region = found.group("region")
        if region and region != ctx.region:
            raise errors.InvalidParameterValueException(
                f"Functions from '{region}' are not reachable in this region ('{ctx.region}')"
            )
        # A function of another account is named by its ARN; whether the caller may reach it
        # is IAM's question (the function's resource policy), as on AWS.
        account = found.group("arn_account") or found.group("account") or ctx.account_id
        return Scope(account, ctx.region), found.group("name"), derived or qualifier

    def function_row(self, scope: Scope, name: str) -> Any:
        row = self.model.function(scope, name)
        if row is None:
            raise not_found(scope.function_arn(name))
        return row

    def version_of(self, scope: Scope, name: str, qualifier: str | None) -> Version:
        """The version a qualifier names: $LATEST, a number, or an alias's primary version."""
        self.function_row(scope, name)
        version_name = qualifier or LATEST
        if qualifier and qualifier != LATEST and not qualifier.isdigit():
            alias = self.model.alias(scope, name, qualifier)
            if alias is None:
                raise not_found(scope.function_arn(name, qualifier))
            version_name = alias["FunctionVersion"]
        version = self.model.version(scope, name, version_name)
        if version is None:
            raise not_found(scope.function_arn(name, qualifier))
        return version

    # -- functions ---------------------------------------------------------------------------

    def create_function(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        cfg.check_package(req)
        cfg.check_settings(req)
        self.roles.check_assumable(req["Role"], ctx.region)
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        tags = req.get("Tags") or {}
        if tag_problems({}, tags):
            raise errors.InvalidParameterValueException(tag_problems({}, tags)[0])
        layers = self.layer_references(ctx, req.get("Layers"))
        data = self._code_bytes(ctx, req["Code"])
        config = cfg.new_configuration(name, scope.function_arn(name), req, layers)
        if not self.model.create_function(scope, name, clock.now()):
            raise errors.ResourceConflictException(f"Function already exist: {name}", Type="User")
        self._store_code(config, data)
        version = Version(name, LATEST, config, config.pop("_blob"))
        self._note_runtime(config)
        self.model.put_version(scope, version)
        if tags:
            self.env.tags.set(scope.function_arn(name), tags)
        self._settle(scope, name, LATEST, config["RevisionId"])
        if req.get("Publish"):
            self._publish(scope, name, None)
        return config

    def _code_bytes(self, ctx: RequestContext, code: dict[str, Any]) -> bytes:
        if code.get("ImageUri"):
            cfg.check_package({"ImageUri": code["ImageUri"]})
        if code.get("ZipFile") is not None:
            data = bytes(code["ZipFile"])
            if len(data) > MAX_DIRECT_ZIP:
                raise errors.RequestTooLargeException(
                    "Request must be smaller than 69905067 bytes for the CreateFunction operation"
                )
        elif code.get("S3Bucket") and code.get("S3Key"):
            data = self._s3_object(
                ctx, code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion")
            )
        else:
            raise errors.InvalidParameterValueException(
                "Please provide a source for function code."
            )
        try:
            check_zip(data)
        except BadZip as exc:
            raise errors.InvalidParameterValueException(str(exc)) from None
        return data

    def _s3_object(self, ctx: RequestContext, bucket: str, key: str, version: str | None) -> bytes:
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version:
            params["VersionId"] = version
        try:
            out = self.env.providers.invoke("s3", "GetObject", params, ctx.account_id, ctx.region)
        except ServiceError as err:
            raise errors.InvalidParameterValueException(
                f"Error occurred while GetObject. S3 Error Code: {err.code}. S3 Error Message: "
                f"{err.message}"
            ) from None
        body = out.get("Body", b"")
        if isinstance(body, bytes | bytearray):
            return bytes(body)
        if hasattr(body, "read"):
            with contextlib.closing(body):
                return bytes(body.read())
        return b"".join(body)

    def _store_code(self, config: dict[str, Any], data: bytes) -> None:
        info = self.blobs.write_bytes(data)
        config["CodeSize"] = info.size
        config["CodeSha256"] = sha256_b64(data)
        config["_blob"] = info.blob_id

    def _note_runtime(self, config: dict[str, Any]) -> None:
        """Say where the function runs when it is not the runtime it asked for (GetFunction's
        StateReason; its logs say it again on every cold start)."""
        note = cfg.runtime_note(config.get("Runtime", ""))
        if note:
            config["StateReason"] = note
            config["LastUpdateStatusReason"] = note
        else:
            config.pop("LastUpdateStatusReason", None)

    def _settle(self, scope: Scope, name: str, version: str, revision: str) -> None:
        """Finish a create or update once the request's transaction has committed: Pending ->
        Active, InProgress -> Successful (clients wait for this as on AWS)."""

        def settle() -> None:
            with self.store.transaction():
                current = self.model.version(scope, name, version)
                if current is None or current.config.get("RevisionId") != revision:
                    return
                config = current.config
                config["State"] = "Active"
                config["LastUpdateStatus"] = "Successful"
                for key in ("StateReasonCode", "LastUpdateStatusReasonCode"):
                    config.pop(key, None)
                config.pop("StateReason", None)
                self._note_runtime(config)
                self.model.put_version(scope, current)

        try:
            asyncio.get_running_loop().call_soon(settle)
        except RuntimeError:
            settle()

    def get_function(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        version = self.version_of(scope, name, qualifier)
        row = self.function_row(scope, name)
        out: dict[str, Any] = {
            "Configuration": self._configuration(version, qualifier),
            "Code": {"RepositoryType": "S3"},
            "Tags": self.env.tags.get(scope.function_arn(name)),
        }
        if version.code_blob:
            out["Code"]["Location"] = self.code_urls.location(
                ctx.base_url, scope.region, scope.account, name, version.code_blob
            )
        if row["reserved"] is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": row["reserved"]}
        return out

    def get_function_configuration(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        return self._configuration(self.version_of(scope, name, qualifier), qualifier)

    def _configuration(self, version: Version, qualifier: str | None) -> dict[str, Any]:
        """The FunctionArn is qualified as the request was: $LATEST only when the request (or
        a version listing) named it, an alias by the alias (with the Version it points to)."""
        config = dict(version.config)
        if qualifier == LATEST and version.version == LATEST:
            config["FunctionArn"] = f"{config['FunctionArn']}:{LATEST}"
        elif qualifier and qualifier != LATEST and not qualifier.isdigit():
            unqualified = config["FunctionArn"].rsplit(":function:", 1)
            config["FunctionArn"] = f"{unqualified[0]}:function:{version.name}:{qualifier}"
        return config

    def list_functions(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        limit = min(req.get("MaxItems") or LIST_FUNCTIONS_PAGE, LIST_FUNCTIONS_PAGE)
        after = self._marker(req.get("Marker"), "")
        every_version = req.get("FunctionVersion") == "ALL"
        page = self.model.functions_page(scope, after, limit + 1)
        more = len(page) > limit
        page = page[:limit]
        functions: list[dict[str, Any]] = []
        for latest in page:
            functions.append(_listed(latest.config))
            if every_version:
                functions.extend(
                    _listed(v.config)
                    for v in self.model.versions(scope, latest.name)
                    if v.version != LATEST
                )
        out: dict[str, Any] = {"Functions": functions}
        if more:
            out["NextMarker"] = encode_token(page[-1].name)
        return out

    def _marker(self, marker: str | None, default: Any) -> Any:
        if not marker:
            return default
        try:
            return decode_token(marker)
        except InvalidToken:
            raise errors.InvalidParameterValueException("Invalid marker: " + marker) from None

    def update_function_code(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        if req.get("ImageUri"):
            cfg.check_package(req)
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        latest = self._latest_for_update(scope, name, req.get("RevisionId"))
        data = self._code_bytes(ctx, req)
        if req.get("DryRun"):
            return {**latest.config, "CodeSha256": sha256_b64(data), "CodeSize": len(data)}
        old_blob = latest.code_blob
        config = latest.config
        if req.get("Architectures"):
            config["Architectures"] = req["Architectures"]
        self._store_code(config, data)
        latest.code_blob = config.pop("_blob")
        self._begin_update(config)
        self.model.put_version(scope, latest)
        self._release_blob(old_blob)
        self.invoker.pool.recycle(function_key(scope, name))
        self._settle(scope, name, LATEST, config["RevisionId"])
        if req.get("Publish"):
            self._publish(scope, name, None)
        return config

    def update_function_configuration(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        check = {k: v for k, v in req.items() if k != "FunctionName"}
        cfg.check_package(check)
        cfg.check_settings(req)
        if "Role" in req:
            self.roles.check_assumable(req["Role"], ctx.region)
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        latest = self._latest_for_update(scope, name, req.get("RevisionId"))
        layers = self.layer_references(ctx, req["Layers"]) if "Layers" in req else None
        cfg.apply_request(latest.config, req, layers)
        self._begin_update(latest.config)
        self.model.put_version(scope, latest)
        self.invoker.pool.recycle(function_key(scope, name))
        self._settle(scope, name, LATEST, latest.config["RevisionId"])
        return latest.config

    def _latest_for_update(self, scope: Scope, name: str, revision: str | None) -> Version:
        latest = self.version_of(scope, name, LATEST)
        config = latest.config
        if revision and revision != config["RevisionId"]:
            raise errors.PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id",
                Type="User",
            )
        if config.get("LastUpdateStatus") == "InProgress" or config.get("State") == "Pending":
            raise errors.ResourceConflictException(
                "The operation cannot be performed at this time. An update is in progress for "
                f"resource: {config['FunctionArn']}",
                Type="User",
            )
        return latest

    def _begin_update(self, config: dict[str, Any]) -> None:
        config["LastModified"] = cfg.timestamp()
        config["RevisionId"] = cfg.new_revision()
        config["LastUpdateStatus"] = "InProgress"
        config["LastUpdateStatusReason"] = "The function is being created."
        config["LastUpdateStatusReasonCode"] = "Creating"

    def _release_blob(self, blob: str | None) -> None:
        if blob and not self.model.blob_in_use(blob):
            self.blobs.delete(blob)
            self.trees.forget(blob)

    def delete_function(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        self.function_row(scope, name)
        if qualifier:
            return self._delete_version(scope, name, qualifier)
        blobs = self.model.delete_function(scope, name)
        self.env.tags.drop(scope.function_arn(name))
        for blob in blobs:
            self._release_blob(blob)
        self.invoker.pool.recycle(function_key(scope, name))
        self.trees.forget_tmp(function_key(scope, name))
        return {"StatusCode": 204}

    def _delete_version(self, scope: Scope, name: str, qualifier: str) -> dict[str, Any]:
        if qualifier == LATEST:
            raise errors.InvalidParameterValueException(
                "$LATEST version cannot be deleted without deleting the function."
            )
        if not qualifier.isdigit():
            raise errors.InvalidParameterValueException(
                "Deletion of aliases is not currently supported."
            )
        version = self.model.version(scope, name, qualifier)
        if version is None:
            raise not_found(scope.function_arn(name, qualifier))
        for alias in self.model.aliases(scope, name):
            weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            if alias["FunctionVersion"] == qualifier or qualifier in weights:
                raise errors.ResourceConflictException(
                    f"Unable to delete version because the following aliases reference it: "
                    f"[{alias['Name']}]",
                    Type="User",
                )
        self.model.delete_version(scope, name, qualifier)
        self._release_blob(version.code_blob)
        self.invoker.pool.recycle(function_key(scope, name))
        return {"StatusCode": 204}

    # -- versions ----------------------------------------------------------------------------

    def publish_version(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        latest = self.version_of(scope, name, LATEST)
        sha = req.get("CodeSha256")
        if sha and sha != latest.config["CodeSha256"]:
            raise errors.InvalidParameterValueException(
                f"CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST "
                f"({latest.config['CodeSha256']}). Please try again."
            )
        if req.get("RevisionId") and req["RevisionId"] != latest.config["RevisionId"]:
            raise errors.PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id",
                Type="User",
            )
        return self._publish(scope, name, req.get("Description"))

    def _publish(self, scope: Scope, name: str, description: str | None) -> dict[str, Any]:
        latest = self.version_of(scope, name, LATEST)
        row = self.function_row(scope, name)
        if row["last_version"]:
            previous = self.model.version(scope, name, str(row["last_version"]))
            if previous is not None and cfg.comparable(previous.config) == cfg.comparable(
                latest.config
            ):
                return previous.config
        number = row["last_version"] + 1
        self.model.update_function(scope, name, last_version=number)
        config = dict(latest.config)
        config.update(
            FunctionArn=scope.function_arn(name, str(number)),
            Version=str(number),
            RevisionId=cfg.new_revision(),
            LastModified=cfg.timestamp(),
            State="Active",
            LastUpdateStatus="Successful",
        )
        if description is not None:
            config["Description"] = description
        for key in ("StateReasonCode", "LastUpdateStatusReasonCode"):
            config.pop(key, None)
        self.model.put_version(scope, Version(name, str(number), config, latest.code_blob))
        return config

    def list_versions_by_function(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.function_row(scope, name)
        versions = [self._configuration(v, v.version) for v in self.model.versions(scope, name)]
        start = int(self._marker(req.get("Marker"), 0))
        limit = min(req.get("MaxItems") or 50, 10_000)
        out: dict[str, Any] = {"Versions": versions[start : start + limit]}
        if start + limit < len(versions):
            out["NextMarker"] = encode_token(start + limit)
        return out

    # -- aliases -----------------------------------------------------------------------------

    def create_alias(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.function_row(scope, name)
        alias_name = req["Name"]
        if self.model.alias(scope, name, alias_name) is not None:
            raise errors.ResourceConflictException(
                f"Alias already exists: {scope.function_arn(name, alias_name)}", Type="User"
            )
        doc = {
            "AliasArn": scope.function_arn(name, alias_name),
            "Name": alias_name,
            "FunctionVersion": self._alias_version(scope, name, req["FunctionVersion"]),
            "Description": req.get("Description") or "",
            "RevisionId": cfg.new_revision(),
        }
        self._routing(scope, name, doc, req.get("RoutingConfig"))
        self.model.put_alias(scope, name, doc)
        return doc

    def _alias_version(self, scope: Scope, name: str, version: str) -> str:
        if self.model.version(scope, name, version) is None:
            raise not_found(scope.function_arn(name, version))
        return version

    def _routing(
        self, scope: Scope, name: str, doc: dict[str, Any], routing: dict[str, Any] | None
    ) -> None:
        if routing is None:
            return
        weights = routing.get("AdditionalVersionWeights") or {}
        if len(weights) > 1:
            raise errors.InvalidParameterValueException(
                "Number of items in AdditionalVersionWeights cannot be greater than 1"
            )
        for version, weight in weights.items():
            if version == doc["FunctionVersion"]:
                raise errors.InvalidParameterValueException(
                    f"Invalid function version {version}. Function version {version} is already "
                    "included in routing configuration."
                )
            if version == LATEST or doc["FunctionVersion"] == LATEST:
                raise errors.InvalidParameterValueException(
                    "$LATEST is not supported for an alias pointing to more than 1 version"
                )
            if not 0.0 <= weight <= 1.0:
                raise errors.InvalidParameterValueException(
                    f"Invalid weight {weight}: weights must be between 0.0 and 1.0."
                )
            self._alias_version(scope, name, version)
        doc["RoutingConfig"] = {"AdditionalVersionWeights": weights}

    def get_alias(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        return self._alias(scope, name, req["Name"])

    def _alias(
        self, scope: Scope, name: str, alias_name: str, missing: str = "Cannot find alias arn"
    ) -> dict[str, Any]:
        """``missing`` leads the message when there is no such alias: GetAlias says ``Cannot
        find alias arn``, UpdateAlias ``Alias not found``, Invoke ``Function not found``."""
        self.function_row(scope, name)
        doc = self.model.alias(scope, name, alias_name)
        if doc is None:
            raise errors.ResourceNotFoundException(
                f"{missing}: {scope.function_arn(name, alias_name)}", Type="User"
            )
        return doc

    def update_alias(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        doc = self._alias(scope, name, req["Name"], "Alias not found")
        if req.get("RevisionId") and req["RevisionId"] != doc["RevisionId"]:
            raise errors.PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id",
                Type="User",
            )
        if req.get("FunctionVersion"):
            doc["FunctionVersion"] = self._alias_version(scope, name, req["FunctionVersion"])
        if "Description" in req:
            doc["Description"] = req["Description"]
        if "RoutingConfig" in req:
            doc.pop("RoutingConfig", None)
            self._routing(scope, name, doc, req["RoutingConfig"])
        doc["RevisionId"] = cfg.new_revision()
        self.model.put_alias(scope, name, doc)
        return doc

    def delete_alias(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.function_row(scope, name)
        self.model.delete_alias(scope, name, req["Name"])
        return {}

    def list_aliases(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.function_row(scope, name)
        wanted = req.get("FunctionVersion")
        aliases = [
            a
            for a in self.model.aliases(scope, name)
            if not wanted or a["FunctionVersion"] == wanted
        ]
        start = int(self._marker(req.get("Marker"), 0))
        limit = min(req.get("MaxItems") or 50, 10_000)
        out: dict[str, Any] = {"Aliases": aliases[start : start + limit]}
        if start + limit < len(aliases):
            out["NextMarker"] = encode_token(start + limit)
        return out

    # -- invoking ----------------------------------------------------------------------------

    def target(self, scope: Scope, name: str, qualifier: str | None, routed: bool = True) -> Target:
        """What an invocation of ``name[:qualifier]`` runs (weighted alias routing applied,
        unless ``routed`` is False: then an alias means its primary version)."""
        row = self.function_row(scope, name)
        version_name = qualifier or LATEST
        if qualifier and qualifier != LATEST and not qualifier.isdigit():
            alias = self._alias(scope, name, qualifier, "Function not found")
            version_name = alias["FunctionVersion"]
            weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            for other, weight in weights.items():
                if routed and random.random() < weight:
                    version_name = other
        version = self.model.version(scope, name, version_name)
        if version is None or version.code_blob is None:
            raise not_found(scope.function_arn(name, qualifier))
        return Target(
            scope=scope,
            name=name,
            version=version.version,
            config=version.config,
            code_blob=version.code_blob,
            invoked_arn=scope.function_arn(name, qualifier),
            reserved=row["reserved"],
            unreserved_limit=ACCOUNT_CONCURRENCY - self.model.reserved_total(scope),
            layer_blobs=self.layer_blobs(version.config.get("Layers") or []),
        )

    _KMS_ERRORS = {
        "NotFoundException": "KMSNotFoundException",
        "DisabledException": "KMSDisabledException",
        "KMSInvalidStateException": "KMSInvalidStateException",
    }

    def _check_kms(self, account: str, region: str, config: dict[str, Any]) -> None:
        """Environment variables under a customer key are decrypted through KMS for each
        start: a key that is missing, disabled or pending deletion stops the invocation."""
        key = config.get("KMSKeyArn")
        if not key or not (config.get("Environment") or {}).get("Variables"):
            return
        try:
            meta = self.env.providers.invoke("kms", "DescribeKey", {"KeyId": key}, account, region)
        except ServiceError as exc:
            raise errors(
                self._KMS_ERRORS.get(exc.code, "KMSAccessDeniedException"), str(exc), Type="User"
            ) from None
        state = meta["KeyMetadata"]["KeyState"]
        if state == "Disabled":
            raise errors.KMSDisabledException(
                "Lambda was unable to decrypt the environment variables because the KMS key "
                f"used is disabled. Please check the function's KMS key settings. KMS "
                f"Exception: DisabledException KMS Message: {key} is disabled.",
                Type="User",
            )
        if state != "Enabled":
            raise errors.KMSInvalidStateException(
                "Lambda was unable to decrypt the environment variables because the KMS key "
                f"used is in an invalid state for Decrypt. KMS Message: {key} is {state}.",
                Type="User",
            )

    async def invoke(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        kind = req.get("InvocationType") or "RequestResponse"
        payload = bytes(req.get("Payload") or b"")
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        with self.store.transaction():
            target = self.target(scope, name, qualifier)
            self._check_kms(scope.account, scope.region, target.config)
        _check_payload(payload, MAX_ASYNC_PAYLOAD if kind == "Event" else MAX_SYNC_PAYLOAD)
        if kind == "DryRun":
            return {"StatusCode": 204}
        if kind == "Event":
            with self.store.transaction():
                self.async_invocations.enqueue(scope, name, qualifier or LATEST, payload)
            return {"StatusCode": 202}
        if ctx.protocol == "internal":
            raise errors.InvalidParameterValueException(
                "An in-process Invoke cannot wait for the function: use InvocationType Event."
            )
        result = await self.run(target, payload, ctx.request_id, req.get("ClientContext"))
        out: dict[str, Any] = {
            "StatusCode": result.status,
            "Payload": result.payload,
            "ExecutedVersion": result.executed_version,
        }
        if result.function_error:
            out["FunctionError"] = result.function_error
        if req.get("LogType") == "Tail":
            out["LogResult"] = result.log_tail
        return out

    async def invoke_with_response_stream(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        """The buffered result sent as one payload chunk: handlers that stream their response
        (Node's ``awslambda.streamifyResponse``) are not supported."""
        if (req.get("InvocationType") or "RequestResponse") != "RequestResponse":
            return await self.invoke(ctx, req)
        out = await self.invoke(ctx, req)
        complete: dict[str, Any] = {}
        if out.get("FunctionError"):
            complete["ErrorCode"] = out["FunctionError"]
            complete["ErrorDetails"] = out["Payload"].decode()
        if "LogResult" in out:
            complete["LogResult"] = out["LogResult"]
        events: list[dict[str, Any]] = []
        if not out.get("FunctionError"):
            events.append({"PayloadChunk": {"Payload": out["Payload"]}})
        events.append({"InvokeComplete": complete})
        return {
            "StatusCode": out["StatusCode"],
            "ExecutedVersion": out["ExecutedVersion"],
            "ResponseStreamContentType": "application/octet-stream",
            "EventStream": events,
        }

    async def run(
        self, target: Target, payload: bytes, request_id: str, client_context: str | None = None
    ) -> Result:
        """Invoke a resolved target now (Invoke, the async queue, event source pollers)."""
        try:
            self.invoker.admit(target)
        except ServiceError:
            lambda_metrics.record(self.env, target, "Throttles", 1.0)
            raise
        inflight = self.invoker.inflight
        lambda_metrics.record(
            self.env,
            target,
            "ConcurrentExecutions",
            float(inflight[target.function_key]),
            account_value=float(sum(inflight.values())),
        )
        try:
            result = await self.invoker.run(target, payload, request_id, client_context)
        finally:
            self.invoker.leave(target)
        lambda_metrics.invoked(
            self.env, target, result.function_error is not None, result.outcome.duration_ms
        )
        return result

    def invoke_async(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.target(scope, name, None)
        body = req["InvokeArgs"]
        payload = body.read() if hasattr(body, "read") else bytes(body)
        _check_payload(payload, MAX_ASYNC_PAYLOAD)
        self.async_invocations.enqueue(scope, name, LATEST, payload)
        return {"Status": 202}

    # -- concurrency -------------------------------------------------------------------------

    def put_function_concurrency(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        row = self.function_row(scope, name)
        wanted = req["ReservedConcurrentExecutions"]
        others = self.model.reserved_total(scope) - (row["reserved"] or 0)
        if others + wanted > ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM:
            raise errors.InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{UNRESERVED_MINIMUM}]."
            )
        self.model.update_function(scope, name, reserved=wanted)
        return {"ReservedConcurrentExecutions": wanted}

    def get_function_concurrency(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        row = self.function_row(scope, name)
        return {} if row["reserved"] is None else {"ReservedConcurrentExecutions": row["reserved"]}

    def delete_function_concurrency(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.function_row(scope, name)
        self.model.update_function(scope, name, reserved=None)
        return {}

    def get_account_settings(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(ctx)
        names = self.model.function_names(scope)
        code_size = 0
        for name in names:
            code_size += sum(v.config.get("CodeSize", 0) for v in self.model.versions(scope, name))
        return {
            "AccountLimit": {
                "TotalCodeSize": TOTAL_CODE_SIZE,
                "CodeSizeUnzipped": 262_144_000,
                "CodeSizeZipped": 52_428_800,
                "ConcurrentExecutions": ACCOUNT_CONCURRENCY,
                "UnreservedConcurrentExecutions": ACCOUNT_CONCURRENCY
                - self.model.reserved_total(scope),
            },
            "AccountUsage": {"TotalCodeSize": code_size, "FunctionCount": len(names)},
        }

    def put_provisioned_concurrency_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req["Qualifier"])
        if qualifier == LATEST:
            raise errors.InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to unpublished function "
                "versions."
            )
        self.version_of(scope, name, qualifier)
        count = req["ProvisionedConcurrentExecutions"]
        doc = {
            "FunctionArn": scope.function_arn(name, qualifier),
            "RequestedProvisionedConcurrentExecutions": count,
            "AvailableProvisionedConcurrentExecutions": count,
            "AllocatedProvisionedConcurrentExecutions": count,
            "Status": "READY",
            "LastModified": cfg.timestamp(),
        }
        self.model.put_setting(scope, name, "provisioned", qualifier or LATEST, doc)
        self._prewarm_later(scope, name, qualifier or LATEST, count)
        return {
            **{k: v for k, v in doc.items() if k != "FunctionArn"},
            "Status": "IN_PROGRESS",
            "AvailableProvisionedConcurrentExecutions": 0,
            "AllocatedProvisionedConcurrentExecutions": 0,
        }

    def _prewarm_later(self, scope: Scope, name: str, qualifier: str, count: int) -> None:
        """Start the provisioned workers once the request has committed: initialised ahead,
        they serve invocations of that version without a cold start."""

        async def prewarm() -> None:
            try:
                with self.store.transaction():
                    target = self.target(scope, name, qualifier, routed=False)
                await self.invoker.prewarm(target, count)
            except ServiceError:
                return  # the version went away or cannot run: nothing to warm

        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            loop.call_soon(self._track, loop.create_task(prewarm()))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._prewarms.add(task)
        task.add_done_callback(self._prewarms.discard)

    def get_provisioned_concurrency_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req["Qualifier"])
        self.function_row(scope, name)
        doc = self.model.setting(scope, name, "provisioned", qualifier or LATEST)
        if doc is None:
            raise errors.ProvisionedConcurrencyConfigNotFoundException(
                "No Provisioned Concurrency Config found for this function", Type="User"
            )
        doc.pop("FunctionArn", None)
        return doc

    def delete_provisioned_concurrency_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req["Qualifier"])
        self.function_row(scope, name)
        self.model.delete_setting(scope, name, "provisioned", qualifier or LATEST)
        self.invoker.pool.recycle(function_key(scope, name))
        return {}

    def list_provisioned_concurrency_configs(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.function_row(scope, name)
        return {"ProvisionedConcurrencyConfigs": self.model.settings(scope, name, "provisioned")}

    # -- asynchronous invocation settings ------------------------------------------------------

    def put_function_event_invoke_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return self._event_invoke_config(ctx, req, replace=True)

    def update_function_event_invoke_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return self._event_invoke_config(ctx, req, replace=False)

    def _event_invoke_config(
        self, ctx: RequestContext, req: dict[str, Any], replace: bool
    ) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        self.version_of(scope, name, qualifier)
        key = qualifier or LATEST
        doc = {} if replace else (self.model.setting(scope, name, "invoke", key) or {})
        if not replace and not doc:
            raise self._no_invoke_config(scope, name, key)
        for member in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"):
            if member in req:
                doc[member] = req[member]
        doc.setdefault("DestinationConfig", {})
        doc["FunctionArn"] = scope.function_arn(name, key)
        doc["LastModified"] = clock.now()
        self.model.put_setting(scope, name, "invoke", key, doc)
        return doc

    def _no_invoke_config(self, scope: Scope, name: str, qualifier: str) -> ServiceError:
        return errors.ResourceNotFoundException(
            f"The function {scope.function_arn(name, qualifier)} doesn't have an EventInvokeConfig",
            Type="User",
        )

    def get_function_event_invoke_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        self.function_row(scope, name)
        doc = self.model.setting(scope, name, "invoke", qualifier or LATEST)
        if doc is None:
            raise self._no_invoke_config(scope, name, qualifier or LATEST)
        return doc

    def delete_function_event_invoke_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        self.function_row(scope, name)
        if not self.model.delete_setting(scope, name, "invoke", qualifier or LATEST):
            raise self._no_invoke_config(scope, name, qualifier or LATEST)
        return {}

    def list_function_event_invoke_configs(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.function_row(scope, name)
        return {"FunctionEventInvokeConfigs": self.model.settings(scope, name, "invoke")}

    # -- settings nubes records without acting on them ----------------------------------------

    def get_function_code_signing_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.function_row(scope, name)
        found = self.model.setting(scope, name, "code-signing", "") or {}
        return {"FunctionName": name, "CodeSigningConfigArn": found.get("arn", "")}

    def put_function_code_signing_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.function_row(scope, name)
        self.code_signing_config(scope, req["CodeSigningConfigArn"])
        self.model.put_setting(
            scope, name, "code-signing", "", {"arn": req["CodeSigningConfigArn"]}
        )
        return {"FunctionName": name, "CodeSigningConfigArn": req["CodeSigningConfigArn"]}

    def delete_function_code_signing_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.function_row(scope, name)
        self.model.delete_setting(scope, name, "code-signing", "")
        return {}

    def get_runtime_management_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        version = self.version_of(scope, name, qualifier)
        found = self.model.setting(scope, name, "runtime-management", version.version) or {}
        out = {
            "UpdateRuntimeOn": found.get("UpdateRuntimeOn", "Auto"),
            "FunctionArn": version.config["FunctionArn"],
        }
        if found.get("RuntimeVersionArn"):
            out["RuntimeVersionArn"] = found["RuntimeVersionArn"]
        return out

    def put_runtime_management_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        version = self.version_of(scope, name, qualifier)
        if req["UpdateRuntimeOn"] == "Manual" and not req.get("RuntimeVersionArn"):
            raise errors.InvalidParameterValueException(
                "RuntimeVersionArn is required when UpdateRuntimeOn is Manual."
            )
        doc = {k: req[k] for k in ("UpdateRuntimeOn", "RuntimeVersionArn") if req.get(k)}
        self.model.put_setting(scope, name, "runtime-management", version.version, doc)
        return {**doc, "FunctionArn": version.config["FunctionArn"]}

    def get_function_recursion_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.function_row(scope, name)
        found = self.model.setting(scope, name, "recursion", "") or {}
        return {"RecursiveLoop": found.get("RecursiveLoop", "Terminate")}

    def put_function_recursion_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name, _ = self.locate(ctx, req["FunctionName"])
        self.function_row(scope, name)
        self.model.put_setting(
            scope, name, "recursion", "", {"RecursiveLoop": req["RecursiveLoop"]}
        )
        return {"RecursiveLoop": req["RecursiveLoop"]}

    # -- resource policy ---------------------------------------------------------------------

    def add_permission(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        if qualifier:
            self.version_of(scope, name, qualifier)
        else:
            self.function_row(scope, name)
        policy = self._policy(scope, name, qualifier)
        if req.get("RevisionId") and req["RevisionId"] != policy["RevisionId"]:
            raise errors.PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetPolicy API to retrieve the latest Revision Id",
                Type="User",
            )
        statements = policy["Statement"]
        if any(s["Sid"] == req["StatementId"] for s in statements):
            raise errors.ResourceConflictException(
                f"The statement id ({req['StatementId']}) provided already exists. Please "
                "provide a new statement id, or remove the existing statement.",
                Type="User",
            )
        statement = _statement(req, scope.function_arn(name, qualifier))
        statements.append(statement)
        policy["RevisionId"] = cfg.new_revision()
        self.model.put_setting(scope, name, "policy", qualifier or "", policy)
        return {"Statement": json.dumps(statement)}

    def _policy(self, scope: Scope, name: str, qualifier: str | None) -> dict[str, Any]:
        return self.model.setting(scope, name, "policy", qualifier or "") or {
            "Statement": [],
            "RevisionId": cfg.new_revision(),
        }

    def remove_permission(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        self.function_row(scope, name)
        policy = self._policy(scope, name, qualifier)
        kept = [s for s in policy["Statement"] if s["Sid"] != req["StatementId"]]
        if len(kept) == len(policy["Statement"]):
            raise errors.ResourceNotFoundException(
                f"Statement {req['StatementId']} is not found in resource policy.", Type="User"
            )
        policy["Statement"] = kept
        policy["RevisionId"] = cfg.new_revision()
        self.model.put_setting(scope, name, "policy", qualifier or "", policy)
        return {}

    def get_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name, qualifier = self.locate(ctx, req["FunctionName"], req.get("Qualifier"))
        self.function_row(scope, name)
        policy = self.model.setting(scope, name, "policy", qualifier or "")
        if not policy or not policy["Statement"]:
            raise errors.ResourceNotFoundException(
                "The resource you requested does not exist.", Type="User"
            )
        document = {"Version": "2012-10-17", "Id": "default", "Statement": policy["Statement"]}
        return {"Policy": json.dumps(document), "RevisionId": policy["RevisionId"]}

    # -- tags --------------------------------------------------------------------------------

    def _tagged(self, ctx: RequestContext, resource: str) -> str:
        if ":event-source-mapping:" in resource:
            if self.model.event_source(resource.rsplit(":", 1)[-1]) is None:
                raise errors.ResourceNotFoundException(
                    f"Event source mapping not found: {resource}", Type="User"
                )
            return resource
        scope, name, _ = self.locate(ctx, resource)
        self.function_row(scope, name)
        return scope.function_arn(name)

    def tag_resource(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        arn = self._tagged(ctx, req["Resource"])
        problems = tag_problems(self.env.tags.get(arn), req["Tags"])
        if problems:
            raise errors.InvalidParameterValueException(problems[0])
        self.env.tags.set(arn, req["Tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self.env.tags.remove(self._tagged(ctx, req["Resource"]), req["TagKeys"])
        return {}

    def list_tags(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": self.env.tags.get(self._tagged(ctx, req["Resource"]))}


def _listed(config: dict[str, Any]) -> dict[str, Any]:
    """ListFunctions leaves out the state fields (GetFunction has them)."""
    return {k: v for k, v in config.items() if k not in NOT_LISTED}


def _check_payload(payload: bytes, limit: int) -> None:
    if len(payload) > limit:
        raise errors.RequestTooLargeException(
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            Type="User",
        )
    if payload:
        try:
            json.loads(payload)
        except ValueError as exc:
            raise errors.InvalidRequestContentException(
                f"Could not parse request body into json: {exc}", Type="User"
            ) from None


def _principal(principal: str, partition: str) -> Any:
    if principal == "*":
        return "*"
    if principal.endswith(".amazonaws.com") or principal.endswith(".amazon.com"):
        return {"Service": principal}
    if re.fullmatch(r"\d{12}", principal):
        return {"AWS": root_arn(principal, partition)}
    return {"AWS": principal}


def _statement(req: dict[str, Any], resource: str) -> dict[str, Any]:
    partition = parse_arn(resource).partition
    statement: dict[str, Any] = {
        "Sid": req["StatementId"],
        "Effect": "Allow",
        "Principal": _principal(req["Principal"], partition),
        "Action": req["Action"],
        "Resource": resource,
    }
    conditions: dict[str, dict[str, str]] = {}
    if req.get("SourceAccount"):
        conditions.setdefault("StringEquals", {})["AWS:SourceAccount"] = req["SourceAccount"]
    if req.get("PrincipalOrgID"):
        conditions.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = req["PrincipalOrgID"]
    if req.get("FunctionUrlAuthType"):
        conditions.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = req[
            "FunctionUrlAuthType"
        ]
    if req.get("EventSourceToken"):
        conditions.setdefault("StringEquals", {})["lambda:EventSourceToken"] = req[
            "EventSourceToken"
        ]
    if req.get("SourceArn"):
        conditions.setdefault("ArnLike", {})["AWS:SourceArn"] = req["SourceArn"]
    if conditions:
        statement["Condition"] = conditions
    return statement
