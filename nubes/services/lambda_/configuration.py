"""A function's configuration document (``FunctionConfiguration``) from Create/Update requests,
with the checks and defaults AWS applies."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from nubes.core import clock
from nubes.core.arns import parse_arn
from nubes.runtime.lambda_ import runtimes
from nubes.services.lambda_.errors import errors

RESERVED_VARIABLES = frozenset(
    (
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    )
)
MAX_TIMEOUT = 900
MAX_VARIABLES_BYTES = 4096

# Members of a Create/UpdateFunctionConfiguration request copied as they are.
_RECORDED = (
    "Description",
    "Role",
    "Handler",
    "Runtime",
    "Timeout",
    "MemorySize",
    "KMSKeyArn",
    "DeadLetterConfig",
    "TracingConfig",
    "EphemeralStorage",
    "FileSystemConfigs",
    "SnapStart",
)
# What PublishVersion compares to tell whether $LATEST changed since the last version.
_VOLATILE = frozenset(
    (
        "FunctionArn",
        "Version",
        "LastModified",
        "RevisionId",
        "State",
        "StateReason",
        "StateReasonCode",
        "LastUpdateStatus",
        "LastUpdateStatusReason",
        "LastUpdateStatusReasonCode",
        "Description",
    )
)


def timestamp(seconds: float | None = None) -> str:
    """Lambda's LastModified form: ``2026-11-23T04:36:13.123+0000``."""
    moment = datetime.fromtimestamp(clock.now() if seconds is None else seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def new_revision() -> str:
    return str(uuid.uuid4())


def check_package(req: dict[str, Any]) -> None:
    if req.get("PackageType") == "Image" or req.get("ImageUri") or req.get("ImageConfig"):
        raise errors.InvalidParameterValueException(
            "nubes runs Lambda functions as local processes without containers: PackageType "
            "Image (container image functions) is not supported. Use a .zip deployment package."
        )


def check_settings(req: dict[str, Any]) -> None:
    timeout = req.get("Timeout")
    if timeout is not None and not 1 <= timeout <= MAX_TIMEOUT:
        # The model bounds Timeout only below; AWS checks the top as a validation error too.
        raise errors.ValidationException(
            f"1 validation error detected: Value '{timeout}' at 'timeout' failed to satisfy "
            f"constraint: Member must have value less than or equal to {MAX_TIMEOUT}"
        )
    variables = (req.get("Environment") or {}).get("Variables") or {}
    reserved = sorted(k for k in variables if k in RESERVED_VARIABLES)
    if reserved:
        raise errors.InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not "
            f"supported for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )
    for key in variables:
        if not re.fullmatch(r"[a-zA-Z]([a-zA-Z0-9_])*", key):
            raise errors.InvalidParameterValueException(
                "Lambda was unable to configure your environment variables because the "
                f"environment variables you have provided are invalid: {key}"
            )
    size = sum(len(k) + len(v) for k, v in variables.items())
    if size > MAX_VARIABLES_BYTES:
        raise errors.InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            f"variables you have provided exceeded the 4KB limit. String measured: {size}"
        )


def new_configuration(
    name: str, function_arn: str, req: dict[str, Any], layers: list[dict[str, Any]]
) -> dict[str, Any]:
    if not req.get("Runtime") or not req.get("Handler"):
        raise errors.InvalidParameterValueException(
            "Runtime and Handler are mandatory parameters for functions created with deployment "
            "packages."
        )
    config: dict[str, Any] = {
        "FunctionName": name,
        "FunctionArn": function_arn,
        "Description": "",
        "Timeout": 3,
        "MemorySize": 128,
        "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"},
        "PackageType": "Zip",
        "Architectures": req.get("Architectures") or ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
    }
    apply_request(config, req, layers)
    config["State"] = "Pending"
    config["StateReason"] = "The function is being created."
    config["StateReasonCode"] = "Creating"
    return config


def apply_request(
    config: dict[str, Any], req: dict[str, Any], layers: list[dict[str, Any]] | None
) -> None:
    """Copy the members a Create/UpdateFunctionConfiguration request sets into ``config``."""
    for key in _RECORDED:
        if key in req:
            config[key] = req[key]
    if "Environment" in req:
        config["Environment"] = {"Variables": (req["Environment"] or {}).get("Variables") or {}}
    if "VpcConfig" in req:
        vpc = req["VpcConfig"] or {}
        config["VpcConfig"] = {
            "SubnetIds": vpc.get("SubnetIds") or [],
            "SecurityGroupIds": vpc.get("SecurityGroupIds") or [],
            "Ipv6AllowedForDualStack": bool(vpc.get("Ipv6AllowedForDualStack")),
            "VpcId": "",
        }
    if "LoggingConfig" in req:
        config["LoggingConfig"] = {**config.get("LoggingConfig", {}), **req["LoggingConfig"]}
    if layers is not None:
        config["Layers"] = layers
    if "Runtime" in req:
        # AWS names a runtime version in the function's partition and region.
        function = parse_arn(config["FunctionArn"])
        config["RuntimeVersionConfig"] = {
            "RuntimeVersionArn": f"arn:{function.partition}:lambda:{function.region}::runtime:"
            f"{req['Runtime']}-nubes"
        }
    config["LastModified"] = timestamp()
    config["RevisionId"] = new_revision()


def runtime_note(runtime: str) -> str:
    """What to say about where a runtime runs (empty when it runs as asked)."""
    if runtimes.language_of(runtime) is None:
        return (
            f"nubes cannot run {runtime} functions (Python, Node.js, Java and OS-only runtimes "
            "run locally): invocations fail."
        )
    interpreter = runtimes.resolve(runtime)
    if interpreter is None:
        return f"No interpreter for {runtime} on this machine: invocations fail."
    return interpreter.note


def comparable(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in _VOLATILE}
