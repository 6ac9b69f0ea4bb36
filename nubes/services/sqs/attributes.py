"""Queue attributes: which exist, their defaults, the values each accepts, and what
GetQueueAttributes reports."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nubes.core import safejson
from nubes.core.arns import parse_arn
from nubes.services.sqs.errors import errors

MAX_MESSAGE_SIZE = 1_048_576

# name -> (lowest, highest) for the integer attributes a client may set.
INT_RANGES: dict[str, tuple[int, int]] = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, MAX_MESSAGE_SIZE),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}

KMS_REUSE_DEFAULT = "300"
DEFAULTS: dict[str, str] = {
    "DelaySeconds": "0",
    "MaximumMessageSize": str(MAX_MESSAGE_SIZE),
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
    "SqsManagedSseEnabled": "true",
}
FIFO_DEFAULTS: dict[str, str] = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}
ENUMS: dict[str, tuple[str, ...]] = {
    "SqsManagedSseEnabled": ("true", "false"),
    "ContentBasedDeduplication": ("true", "false"),
    "FifoQueue": ("true", "false"),
    "DeduplicationScope": ("messageGroup", "queue"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}
SETTABLE = frozenset(
    {*INT_RANGES, "Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId"}
    | {"SqsManagedSseEnabled"}
)
FIFO_ONLY = frozenset({"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"})
COMPUTED = (
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
)
READABLE = frozenset({*COMPUTED, *SETTABLE, *FIFO_ONLY, "FifoQueue", "All"})
# Attributes that carry JSON documents are compared as documents, not as text.
JSON_VALUED = frozenset({"Policy", "RedrivePolicy", "RedriveAllowPolicy"})


def unknown(name: str) -> Exception:
    return errors.InvalidAttributeName(f"Unknown Attribute {name}.")


def invalid(name: str, reason: str | None = None, value: str = "") -> Exception:
    if reason is None:
        return errors.InvalidAttributeValue(f"Invalid value for the parameter {name}.")
    return errors.InvalidAttributeValue(
        f"Value {value} for parameter {name} is invalid. Reason: {reason}"
    )


def is_fifo(attrs: Mapping[str, str]) -> bool:
    return str(attrs.get("FifoQueue", "")).lower() == "true"


def validate(attrs: Mapping[str, str], fifo: bool, creating: bool) -> dict[str, str]:
    """The attributes normalized as stored; raises what SQS raises for the first bad one."""
    out: dict[str, str] = {}
    for name, value in attrs.items():
        if name == "FifoQueue":
            if not creating:
                raise invalid(name, "Modifying queue type is not supported.", value)
            if value.lower() not in ENUMS[name]:
                raise invalid(name)
            continue
        if name in FIFO_ONLY and not fifo:
            raise unknown(name)
        if name not in SETTABLE and name not in FIFO_ONLY:
            raise unknown(name)
        out[name] = _value(name, value)
    return out


def _value(name: str, value: str) -> str:
    if name in INT_RANGES:
        low, high = INT_RANGES[name]
        try:
            number = int(value)
        except ValueError:
            raise invalid(name) from None
        if not low <= number <= high:
            raise invalid(name)
        return str(number)
    if name in ENUMS:
        if ENUMS[name] == ("true", "false"):
            # SQS reads its boolean attributes without regard to case ("True" works).
            value = value.lower()
        if value not in ENUMS[name]:
            raise invalid(name)
        return value
    if name in JSON_VALUED and value:
        try:
            doc = safejson.loads(value)
        except ValueError:
            raise invalid(name, "failed to parse JSON.", value) from None
        if not isinstance(doc, dict):
            raise invalid(name, "failed to parse JSON.", value)
        if name == "RedrivePolicy":
            _check_redrive(doc, value)
        if name == "RedriveAllowPolicy":
            _check_redrive_allow(doc, value)
    return value


def _check_redrive(doc: dict[str, Any], raw: str) -> None:
    target = doc.get("deadLetterTargetArn")
    if not isinstance(target, str):
        raise invalid(
            "RedrivePolicy",
            "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.",
            raw,
        )
    try:
        parse_arn(target)
    except ValueError:
        raise invalid("RedrivePolicy", "Invalid value for deadLetterTargetArn.", raw) from None
    count = doc.get("maxReceiveCount")
    try:
        number = int(count)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise invalid(
            "RedrivePolicy",
            "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            raw,
        ) from None
    if not 1 <= number <= 1000:
        raise invalid(
            "RedrivePolicy",
            f"Invalid value for maxReceiveCount: {count}, valid values are from 1 to 1000 both "
            "inclusive.",
            raw,
        )


def _check_redrive_allow(doc: dict[str, Any], raw: str) -> None:
    permission = doc.get("redrivePermission")
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise invalid(
            "RedriveAllowPolicy",
            "Amazon SQS can't create the redrive allow policy, as it's in an unsupported format.",
            raw,
        )
    sources = doc.get("sourceQueueArns")
    if permission == "byQueue":
        if not isinstance(sources, list) or not 1 <= len(sources) <= 10:
            raise invalid(
                "RedriveAllowPolicy",
                "Amazon SQS can't create the redrive allow policy. When you specify the byQueue "
                "permission type, you must also specify one or more sourceQueueArns values.",
                raw,
            )
    elif sources:
        raise invalid(
            "RedriveAllowPolicy",
            "Amazon SQS can't create the redrive allow policy. To specify one or more source "
            "queue ARNs, you must set redrivePermission to byQueue.",
            raw,
        )


def settle_encryption(attrs: dict[str, str], given: Mapping[str, str]) -> None:
    """SSE-KMS and SSE-SQS are one or the other: a KMS key turns SQS-managed encryption off
    (unless the same request asks for it) and brings the data key reuse period's default."""
    if attrs.get("KmsMasterKeyId"):
        if "SqsManagedSseEnabled" not in given:
            attrs["SqsManagedSseEnabled"] = "false"
        attrs.setdefault("KmsDataKeyReusePeriodSeconds", KMS_REUSE_DEFAULT)


def differs(name: str, old: str | None, new: str) -> bool:
    if old is None:
        return new != DEFAULTS.get(name, FIFO_DEFAULTS.get(name))
    if name in JSON_VALUED:
        try:
            return bool(json.loads(old) != json.loads(new))
        except ValueError:
            return old != new
    return old != new


def requested(names: list[str] | None, fifo: bool) -> list[str] | None:
    """The attribute names a GetQueueAttributes call asks for; None means all."""
    if not names:
        return []
    for name in names:
        fifo_only = name in FIFO_ONLY or name == "FifoQueue"
        if name not in READABLE or (fifo_only and not fifo):
            raise unknown(name)
    return None if "All" in names else names
