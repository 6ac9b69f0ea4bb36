"""CloudFormation's own resource types: wait conditions and their handles, custom resources
(Lambda- and SNS-backed, answering at a presigned URL nubes serves) and nested stacks."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from nubes.core import clock
from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceFailed,
    ResourceType,
    integer,
)
from nubes.protocol.base import HttpRequest, HttpResponse, ServiceError
from nubes.services.cloudformation.engine import StepFailed, duration
from nubes.services.s3.responses import xml_error

if TYPE_CHECKING:
    from nubes.services.cloudformation.models import Stack
    from nubes.services.cloudformation.provider import CloudFormationProvider

NESTED_IN: ContextVar[tuple[str, str] | None] = ContextVar("cfn_nested_in", default=None)
"""(parent stack id, root stack id) while a nested stack's CreateStack runs."""
WAIT_BUCKET = "cloudformation-waitcondition-"
RESPONSE_BUCKET = "cloudformation-custom-resource-response-"
DEFAULT_SERVICE_TIMEOUT = 3600.0
MAX_WAIT_TIMEOUT = 43_200


def _provider(ctx: ResourceContext) -> CloudFormationProvider:
    provider: CloudFormationProvider = ctx.env.providers.get("cloudformation")  # type: ignore[assignment]
    return provider


def _stack(ctx: ResourceContext) -> Stack:
    provider = _provider(ctx)
    with provider.store.transaction():
        stack = provider.stacks.get(ctx.stack_id)
    assert stack is not None
    return stack


def _presigned(ctx: ResourceContext, bucket: str, key: str) -> str:
    """A URL in the shape of AWS's presigned S3 URLs, served by nubes itself."""
    stack = _stack(ctx)
    scheme = stack.doc.get("scheme") or "http"
    host = stack.doc.get("host") or ctx.host or "localhost:4566"
    stamp = datetime.fromtimestamp(clock.now(), UTC).strftime("%Y%m%dT%H%M%SZ")
    query = (
        f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={stamp}&X-Amz-SignedHeaders=host"
        f"&X-Amz-Expires=7200&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F{stamp[:8]}%2F"
        f"{ctx.region}%2Fs3%2Faws4_request&X-Amz-Signature={secrets.token_hex(32)}"
    )
    return f"{scheme}://{host}/{bucket}{ctx.region}/{key}?{query}"


class WaitConditionHandle(ResourceType):
    type_name = "AWS::CloudFormation::WaitConditionHandle"

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        key = f"{quote(ctx.stack_id, safe='')}/{ctx.logical_id}"
        return Provisioned(_presigned(ctx, WAIT_BUCKET, key))

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        return None


class WaitCondition(ResourceType):
    type_name = "AWS::CloudFormation::WaitCondition"
    attributes = ("Data",)
    replace_on = frozenset({"Handle", "Timeout", "Count"})

    async def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        provider = _provider(ctx)
        stack = _stack(ctx)
        definition = stack.template["Resources"][ctx.logical_id]
        signal = (definition.get("CreationPolicy") or {}).get("ResourceSignal")
        if signal:
            count = int(signal.get("Count", 1))
            deadline = clock.now() + duration(signal.get("Timeout"), 300.0)
            waited_on = ctx.logical_id
        else:
            if "Handle" not in props or "Timeout" not in props:
                raise ResourceFailed("Property Handle cannot be empty.")
            timeout = integer(props["Timeout"])
            if not 0 < timeout <= MAX_WAIT_TIMEOUT:
                raise ResourceFailed(f"Timeout must be between 1 and {MAX_WAIT_TIMEOUT} seconds")
            count = integer(props.get("Count", 1))
            deadline = clock.now() + timeout
            path = unquote(urlsplit(str(props["Handle"])).path)
            waited_on = path.rsplit("/", 1)[-1]
        try:
            signals = await provider.engine.await_signals(stack, waited_on, count, deadline)
        except StepFailed as exc:
            if signal or "within the specified duration" not in exc.reason:
                raise
            raise StepFailed(
                exc.logical_id,
                f"WaitCondition timed out. Received 0 conditions when expecting {count}",
            ) from None
        data = {s["unique_id"]: s["data"] or "" for s in signals}
        arn = ctx.arn("cloudformation", f"stack/{ctx.stack_name}/{ctx.logical_id}")
        return Provisioned(arn, attributes={"Data": json.dumps(data)})

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        return None


class CustomResource(ResourceType):
    """``AWS::CloudFormation::CustomResource`` and ``Custom::*``: a Lambda function or an SNS
    topic (the ServiceToken) is told what to do and answers at the ResponseURL."""

    type_name = "AWS::CloudFormation::CustomResource"
    required = ("ServiceToken",)
    replace_on = frozenset({"ServiceToken"})

    async def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        return await self._request(ctx, "Create", props)

    async def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        new = await self._request(ctx, "Update", props, current.physical_id, old_props)
        if new.physical_id != current.physical_id:
            # A new physical id means the provider replaced it: the old one is deleted.
            await self._request(ctx, "Delete", old_props, current.physical_id)
        return new

    async def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        await self._request(ctx, "Delete", props, current.physical_id)

    async def _request(
        self,
        ctx: ResourceContext,
        kind: str,
        props: Props,
        physical_id: str | None = None,
        old_props: Props | None = None,
    ) -> Provisioned:
        provider = _provider(ctx)
        stack = _stack(ctx)
        type_name = stack.template["Resources"].get(ctx.logical_id, {}).get("Type", self.type_name)
        token = uuid.uuid4().hex
        request_id = str(uuid.uuid4())
        key = quote(f"{ctx.stack_id}|{ctx.logical_id}|{token}", safe="")
        event: dict[str, Any] = {
            "RequestType": kind,
            "ServiceToken": props.get("ServiceToken"),
            "ResponseURL": _presigned(ctx, RESPONSE_BUCKET, key),
            "StackId": ctx.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": ctx.logical_id,
            "ResourceType": type_name,
            "ResourceProperties": _strings(props),
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_props is not None:
            event["OldResourceProperties"] = _strings(old_props)
        with provider.store.transaction():
            provider.store.execute(
                "INSERT INTO cfn_custom_responses VALUES (?, ?, ?, NULL)",
                (token, ctx.stack_id, ctx.logical_id),
            )
        token_arn = str(props.get("ServiceToken", ""))
        if ":sns:" in token_arn:
            ctx.call("sns", "Publish", {"TopicArn": token_arn, "Message": json.dumps(event)})
        elif ":lambda:" in token_arn:
            ctx.call(
                "lambda",
                "Invoke",
                {
                    "FunctionName": token_arn,
                    "InvocationType": "Event",
                    "Payload": json.dumps(event).encode(),
                },
            )
        else:
            raise ResourceFailed(f"Invalid service token: {token_arn}")
        timeout = float(props.get("ServiceTimeout") or DEFAULT_SERVICE_TIMEOUT)
        deadline = clock.now() + timeout
        while True:
            with provider.store.transaction():
                answer = provider.store.scalar(
                    "SELECT response FROM cfn_custom_responses WHERE token = ?", (token,)
                )
            if answer is not None:
                break
            if clock.now() >= deadline:
                if kind == "Delete":
                    return Provisioned(physical_id or "")
                raise ResourceFailed(
                    "CloudFormation did not receive a response from your Custom Resource. Please "
                    f"check your logs for requestId [{request_id}]. If you are using the Python "
                    "cfn-response module, you may need to update your Lambda function code so "
                    "that CloudFormation can attach the updated version."
                )
            await provider.engine.sleep_until_woken(ctx.stack_id, ctx.logical_id)
        with provider.store.transaction():
            provider.store.execute("DELETE FROM cfn_custom_responses WHERE token = ?", (token,))
        return self._answered(answer, request_id, physical_id)

    @staticmethod
    def _answered(answer: str, request_id: str, physical_id: str | None) -> Provisioned:
        try:
            response = json.loads(answer)
        except ValueError:
            raise ResourceFailed("Response is not valid JSON") from None
        status = response.get("Status")
        if status == "FAILED":
            raise ResourceFailed(
                "Received response status [FAILED] from custom resource. Message returned: "
                f"{response.get('Reason', '')} (RequestId: {request_id})"
            )
        if status != "SUCCESS":
            raise ResourceFailed(f"Invalid response status [{status}] from custom resource")
        physical = response.get("PhysicalResourceId") or physical_id
        if not physical:
            raise ResourceFailed("Response does not contain a PhysicalResourceId")
        data = response.get("Data") or {}
        return Provisioned(str(physical), attributes={str(k): v for k, v in data.items()})


class CdkMetadata(ResourceType):
    """``AWS::CDK::Metadata``: the version report CDK adds to its templates; nothing to make."""

    type_name = "AWS::CDK::Metadata"

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        return Provisioned(ctx.arn("cloudformation", f"stack/{ctx.stack_name}/{ctx.logical_id}"))

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        return None


class NestedStack(ResourceType):
    """``AWS::CloudFormation::Stack``: a stack of its own, made through CreateStack with the
    parent's capabilities; ``Outputs.<name>`` attributes read its outputs."""

    type_name = "AWS::CloudFormation::Stack"
    required = ("TemplateURL",)

    async def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        provider = _provider(ctx)
        parent = _stack(ctx)
        name = ctx.physical_name(128)
        request = self._request(props, parent)
        request["StackName"] = name
        token = NESTED_IN.set((parent.stack_id, parent.doc.get("root_id") or parent.stack_id))
        try:
            child_id = ctx.call("cloudformation", "CreateStack", request)["StackId"]
        finally:
            NESTED_IN.reset(token)
        child = await provider.engine.wait(child_id)
        if child.status != "CREATE_COMPLETE":
            raise ResourceFailed(
                f"Embedded stack {child_id} was not successfully created: {child.reason or ''}"
            )
        return self._provisioned(child)

    async def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        provider = _provider(ctx)
        request = self._request(props, _stack(ctx))
        request["StackName"] = current.physical_id
        try:
            ctx.call("cloudformation", "UpdateStack", request)
        except ServiceError as exc:
            if exc.message != "No updates are to be performed.":
                raise
        child = await provider.engine.wait(current.physical_id)
        if child.status not in ("UPDATE_COMPLETE", "CREATE_COMPLETE"):
            raise ResourceFailed(
                f"Embedded stack {child.stack_id} was not successfully updated. Currently in "
                f"{child.status} with reason: {child.reason or ''}"
            )
        return self._provisioned(child)

    async def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        provider = _provider(ctx)
        ctx.call("cloudformation", "DeleteStack", {"StackName": current.physical_id})
        child = await provider.engine.wait(current.physical_id)
        if child.status != "DELETE_COMPLETE":
            raise ResourceFailed(f"Embedded stack {child.stack_id} was not deleted: {child.reason}")

    @staticmethod
    def _request(props: Props, parent: Stack) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TemplateURL": props["TemplateURL"],
            "Parameters": [
                {"ParameterKey": k, "ParameterValue": _param_text(v)}
                for k, v in (props.get("Parameters") or {}).items()
            ],
            "Capabilities": [*(parent.doc.get("capabilities") or []), "CAPABILITY_AUTO_EXPAND"],
            "Tags": list(props.get("Tags") or parent.doc.get("tags") or []),
        }
        if props.get("NotificationARNs"):
            request["NotificationARNs"] = props["NotificationARNs"]
        if props.get("TimeoutInMinutes"):
            request["TimeoutInMinutes"] = integer(props["TimeoutInMinutes"])
        return request

    @staticmethod
    def _provisioned(child: Stack) -> Provisioned:
        outputs = {
            f"Outputs.{o['OutputKey']}": o["OutputValue"] for o in child.doc.get("outputs") or []
        }
        return Provisioned(child.stack_id, attributes=outputs)


def _strings(value: Any) -> Any:
    """Properties as a custom resource receives them: every number and boolean as a string."""
    if isinstance(value, dict):
        return {k: _strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if value is None or isinstance(value, str) else str(value)


def _param_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def response_endpoint(
    provider: CloudFormationProvider,
) -> Callable[[HttpRequest], Awaitable[HttpResponse | None]]:
    """Serves the presigned URLs handed to custom resources and wait condition handles: the
    PUT of a response or signal lands here, as it would in AWS's bucket."""

    async def intercept(req: HttpRequest) -> HttpResponse | None:
        path = req.path.lstrip("/")
        if req.method != "PUT" or not path.startswith((WAIT_BUCKET, RESPONSE_BUCKET)):
            return None
        body = req.read_body()
        _, _, key = path.partition("/")
        if path.startswith(RESPONSE_BUCKET):
            stack_id, _, rest = unquote(key).partition("|")
            logical_id, _, token = rest.partition("|")
            with provider.store.transaction():
                changed = provider.store.execute(
                    "UPDATE cfn_custom_responses SET response = ? WHERE token = ?",
                    (body.decode("utf-8", "replace"), token),
                )
            if not changed:
                return xml_error(403, "AccessDenied", "Request has expired")
        else:
            stack_ref, _, logical_id = key.rpartition("/")
            stack_id = unquote(stack_ref)
            try:
                signal = json.loads(body)
            except ValueError:
                return xml_error(400, "InvalidRequest", "The signal is not valid JSON")
            status = str(signal.get("Status", ""))
            if status not in ("SUCCESS", "FAILURE"):
                return xml_error(400, "InvalidRequest", "Status must be SUCCESS or FAILURE")
            with provider.store.transaction():
                provider.stacks.signal(
                    stack_id,
                    logical_id,
                    str(signal.get("UniqueId", "")),
                    status,
                    str(signal.get("Reason", "")),
                    str(signal.get("Data", "")),
                )
        provider.engine.wake(stack_id, logical_id)
        etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
        return HttpResponse(200, {"ETag": f'"{etag}"', "Content-Length": "0"}, b"")

    return intercept


TYPES: dict[str, type[ResourceType]] = {
    t.type_name: t
    for t in (WaitConditionHandle, WaitCondition, CustomResource, NestedStack, CdkMetadata)
}
