"""Task states' resources: Lambda (a function ARN, or ``lambda:invoke``), the optimized
integrations (SQS, SNS, DynamoDB, EventBridge, nested executions) and the AWS SDK integrations
``arn:aws:states:::aws-sdk:<service>:<action>``, every call made through the providers."""

from __future__ import annotations

import base64
import inspect
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore import xform_name
from botocore.model import Shape

from nubes.core import accounts, ids
from nubes.core.context import RequestContext
from nubes.protocol.base import HttpRequest, ServiceError
from nubes.runtime.stepfunctions.paths import StatesError

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.gateway.enforce import Enforcer
    from nubes.services.iam.identity import KeyRecord

Json = Any

SDK_SERVICES = {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs"}
"""Service names of the SDK integrations that differ from botocore's."""
_PREFIXES = {
    "dynamodb": "DynamoDb",
    "secretsmanager": "SecretsManager",
    "stepfunctions": "Sfn",
    "events": "EventBridge",
    "cloudwatch": "CloudWatch",
    "logs": "CloudWatchLogs",
    "apigateway": "ApiGateway",
}
_OPTIMIZED_PREFIX = {
    "lambda": "Lambda",
    "sqs": "SQS",
    "sns": "SNS",
    "dynamodb": "DynamoDB",
    "events": "EventBridge",
    "stepfunctions": "StepFunctions",
}


def error_name(prefix: str, code: str) -> str:
    """An SDK error as Step Functions names it: the service, then the SDK's exception class."""
    code = code.rsplit(".", 1)[-1] if code.startswith("AWS.") else code
    return f"{prefix}.{code if code.endswith('Exception') else code + 'Exception'}"


def sdk_prefix(service: str) -> str:
    return _PREFIXES.get(service, service[:1].upper() + service[1:])


def optimized_prefix(service: str) -> str:
    return _OPTIMIZED_PREFIX[service]


@dataclass(frozen=True)
class Role:
    """The execution role's session, whose permissions IAM enforcement checks for each call."""

    enforcer: Enforcer
    record: KeyRecord


def assume(env: Environment, role_arn: str, session: str, account: str, region: str) -> Role | None:
    """With IAM enforcement on, a session of the execution role (None when it is off)."""
    from nubes.gateway.enforce import running_enforcer

    enforcer = running_enforcer(env)
    if enforcer is None:
        return None
    try:
        creds = env.providers.invoke(
            "sts",
            "AssumeRole",
            {"RoleArn": role_arn, "RoleSessionName": session[:64]},
            account,
            region,
        )["Credentials"]
    except ServiceError:
        raise StatesError(
            "States.TaskFailed",
            "Neither the global service principal states.amazonaws.com, nor the regional one "
            "is authorized to assume the provided role.",
        ) from None
    return Role(enforcer, enforcer.key_record(creds["AccessKeyId"], creds["SessionToken"]))


async def call(
    env: Environment,
    service: str,
    operation: str,
    params: dict[str, Any],
    account: str,
    region: str,
    role: Role | None = None,
) -> Json:
    """Call a provider's operation as the account, waiting when it is asynchronous (Lambda's
    Invoke, a long poll); with a role, only what the role's policies allow."""
    if service not in env.providers:
        raise ServiceError("NotImplemented", f"The service {service} is not implemented.", 501)
    if role is not None:
        asking = RequestContext(
            account_id=account,
            region=region,
            request_id=ids.request_id(),
            service=service,
            operation=operation,
            principal=role.record.principal,
            request=HttpRequest("POST", "/", headers={"host": "states.amazonaws.com"}),
            protocol="json",
        )
        role.enforcer.authorize(asking, operation, params, role.record)
    provider = await env.providers.ready(service)
    method = getattr(provider, xform_name(operation), None)
    if method is None or not inspect.iscoroutinefunction(method):
        return env.providers.invoke(service, operation, params, account, region)
    ctx = RequestContext(
        account_id=account,
        region=region,
        request_id=ids.request_id(),
        service=service,
        operation=operation,
        principal=accounts.root_principal(account, account),
        request=HttpRequest("POST", "/", headers={"host": "states.amazonaws.com"}),
        # Not "internal": an in-process caller that awaits may wait (Lambda's RequestResponse).
        protocol="states",
    )
    return await method(ctx, params)


def operation_for(
    env: Environment, service: str, action: str
) -> tuple[str, Shape | None, Shape | None]:
    """The botocore operation an SDK integration's action names (``getItem`` -> GetItem) and its
    input and output shapes."""
    info = env.catalog.services.get(service)
    if info is None:
        raise StatesError("States.Runtime", f"The resource service {service} is not supported")
    by_lower = {name.lower(): name for name in info.operation_names}
    name = by_lower.get(action.lower())
    if name is None:
        raise StatesError(
            "States.Runtime", f"The API action {action} is not supported by the service {service}"
        )
    op = info.model.operation_model(name)
    return name, op.input_shape, op.output_shape


def to_model(value: Json, shape: Shape | None) -> Json:
    """Parameters as the state machine spells them (PascalCase) into the names the model uses
    (some services' members are camelCase)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        lowered = {k.lower(): k for k in members}
        out = {}
        for key, item in value.items():
            name = lowered.get(key.lower(), key)
            out[name] = to_model(item, members.get(name))
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [to_model(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: to_model(v, shape.value) for k, v in value.items()}
    if shape.type_name == "blob" and isinstance(value, str):
        return value.encode()
    return value


def from_model(value: Json, shape: Shape | None) -> Json:
    """A response as the SDK integrations answer it: PascalCase members, JSON values."""
    if isinstance(value, dict):
        if shape is not None and shape.type_name == "map":
            return {k: from_model(v, shape.value) for k, v in value.items()}
        if shape is None or shape.type_name != "structure":
            return {k: from_model(v, None) for k, v in value.items()}
        members = shape.members
        return {k[:1].upper() + k[1:]: from_model(v, members.get(k)) for k, v in value.items()}
    if isinstance(value, list):
        member = shape.member if shape is not None and shape.type_name == "list" else None
        return [from_model(v, member) for v in value]
    if hasattr(value, "read") or hasattr(value, "__next__"):
        value = read_body(value)  # a streaming body (S3's GetObject): its bytes
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        try:
            return data.decode()
        except UnicodeDecodeError:
            return base64.b64encode(data).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def read_body(body: Any) -> bytes:
    """An S3 object's body as the provider answers it (bytes, a file, or chunks)."""
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    try:
        if hasattr(body, "read"):
            return bytes(body.read())
        return b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


def as_text(value: Json) -> str:
    """Message bodies given as JSON values are sent as their JSON text."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
