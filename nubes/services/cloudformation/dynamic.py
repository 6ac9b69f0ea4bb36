"""Dynamic references (``{{resolve:ssm:...}}``, ``{{resolve:ssm-secure:...}}``,
``{{resolve:secretsmanager:...}}``) in a resource's resolved properties."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from nubes.protocol.base import ServiceError
from nubes.services.cloudformation.intrinsics import NO_VALUE

_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^}]*)\}\}")

# Where AWS accepts ssm-secure references (its documented list of supported properties).
SECURE_PROPERTIES: dict[str, set[str]] = {
    "AWS::DirectoryService::MicrosoftAD": {"Password"},
    "AWS::DirectoryService::SimpleAD": {"Password"},
    "AWS::ElastiCache::ReplicationGroup": {"AuthToken"},
    "AWS::IAM::User": {"LoginProfile"},
    "AWS::KinesisFirehose::DeliveryStream": {"RedshiftDestinationConfiguration"},
    "AWS::OpsWorks::App": {"AppSource", "SslConfiguration"},
    "AWS::OpsWorks::Stack": {"CustomCookbooksSource", "RdsDbInstances"},
    "AWS::RDS::DBCluster": {"MasterUserPassword"},
    "AWS::RDS::DBInstance": {"MasterUserPassword"},
    "AWS::Redshift::Cluster": {"MasterUserPassword"},
}

Invoke = Callable[[str, str, dict[str, Any]], dict[str, Any]]


class DynamicReferenceError(Exception):
    """A dynamic reference that is malformed or used where AWS refuses it."""


def resolve_references(type_name: str, props: Any, invoke: Invoke) -> Any:
    """``props`` with every dynamic reference replaced by the value it names, read through the
    SSM and Secrets Manager providers (their errors propagate: the resource fails)."""

    def walk(value: Any, top: str | None) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, top or k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, top) for v in value]
        if isinstance(value, str) and "{{resolve:" in value:
            return _REFERENCE.sub(lambda m: _lookup(m, type_name, top, invoke), value)
        return value

    return props if props is NO_VALUE else walk(props, None)


def _lookup(match: re.Match[str], type_name: str, prop: str | None, invoke: Invoke) -> str:
    service, rest = match.group(1), match.group(2)
    if service == "secretsmanager":
        return _secret(rest, invoke)
    if service == "ssm-secure" and prop not in SECURE_PROPERTIES.get(type_name, set()):
        raise DynamicReferenceError(
            f"SSM Secure reference is not supported in: [{type_name}/Properties/{prop}]"
        )
    name, _, version = rest.partition(":")
    if not name or (version and not version.isdigit()):
        raise DynamicReferenceError(
            f"Incorrect format is used in the following SSM reference: [{rest}]"
        )
    params = {"Name": f"{name}:{version}" if version else name, "WithDecryption": True}
    try:
        parameter = invoke("ssm", "GetParameter", params)["Parameter"]
    except ServiceError as exc:
        if exc.code not in ("ParameterNotFound", "ParameterVersionNotFound"):
            raise
        raise DynamicReferenceError(f"Parameters: [{rest}] cannot be found.") from exc
    if service == "ssm" and parameter.get("Type") == "SecureString":
        raise DynamicReferenceError(
            f"Parameters: [{name}] of type SecureString must be referenced with ssm-secure"
        )
    return str(parameter["Value"])


def _secret(rest: str, invoke: Invoke) -> str:
    parts = rest.split(":")
    # An ARN names the secret with colons of its own (seven parts up to the secret's name).
    cut = 7 if rest.startswith("arn:") else 1
    secret_id, options = ":".join(parts[:cut]), parts[cut:] + [""] * 4
    field, json_key, stage, version_id = options[:4]
    if not secret_id or field not in ("", "SecretString") or len(parts) > cut + 4:
        raise DynamicReferenceError(
            f"Incorrect format is used in the following Secrets Manager reference: [{rest}]"
        )
    params: dict[str, Any] = {"SecretId": secret_id}
    if stage:
        params["VersionStage"] = stage
    if version_id:
        params["VersionId"] = version_id
    value = str(invoke("secretsmanager", "GetSecretValue", params).get("SecretString", ""))
    if not json_key:
        return value
    try:
        document = json.loads(value)
    except ValueError:
        document = None
    if not isinstance(document, dict) or json_key not in document:
        raise DynamicReferenceError(
            f"Could not parse SecretString JSON or find key {json_key} in secret {secret_id}"
        )
    found = document[json_key]
    return found if isinstance(found, str) else json.dumps(found)
