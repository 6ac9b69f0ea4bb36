"""Message bodies and attributes: validation, the MD5 digests SQS returns, and selection of the
attributes a receive asks for."""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Mapping
from typing import Any

from nubes.services.sqs.errors import errors, invalid_value

MAX_ATTRIBUTES = 10
_INVALID_BODY = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_\-.]{1,256}$")
_TRANSPORT = {"String": 1, "Number": 1, "Binary": 2}

SYSTEM_ATTRIBUTES = (
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_of_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """The digest SQS documents: per attribute sorted by name, length-prefixed name, data type,
    a transport byte (1 string, 2 binary) and length-prefixed value."""
    out = bytearray()
    for name in sorted(attributes):
        attr = attributes[name]
        data_type = attr["DataType"]
        _put(out, name.encode())
        _put(out, data_type.encode())
        if _is_binary(data_type):
            out.append(2)
            _put(out, _binary(attr["BinaryValue"]))
        else:
            out.append(1)
            _put(out, attr["StringValue"].encode())
    return md5_hex(bytes(out))


def _is_binary(data_type: str) -> bool:
    return data_type.split(".", 1)[0] == "Binary"


def _put(out: bytearray, data: bytes) -> None:
    out += struct.pack(">I", len(data))
    out += data


def _binary(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else base64.b64decode(value)


def check_body(body: str) -> None:
    if not body:
        raise errors.MissingParameter("The request must contain the parameter MessageBody.")
    bad = _INVALID_BODY.search(body)
    if bad:
        raise errors.InvalidMessageContents(
            f"Invalid binary character '#x{ord(bad.group()):X}' was found in the message body, "
            "the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to "
            "#xFFFD | #x10000 to #x10FFFF"
        )


def check_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> int:
    """Validates user message attributes; returns the bytes they count towards the size."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise invalid_value(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
            f"[{MAX_ATTRIBUTES}]."
        )
    size = 0
    for name, attr in attributes.items():
        _check_name(name)
        data_type = attr.get("DataType", "")
        if not data_type:
            raise invalid_value(
                f"The message attribute '{name}' must contain non-empty message attribute type."
            )
        base = data_type.split(".", 1)[0]
        if base not in _TRANSPORT:
            raise invalid_value(
                f"The type of message (user) attribute '{name}' is invalid. You must use only "
                "the following supported type prefixes: Binary, Number, String."
            )
        if base == "Binary":
            value = attr.get("BinaryValue")
            if not value:
                raise _empty(name, "Binary")
            size += len(_binary(value))
        else:
            text = attr.get("StringValue")
            if text is None or text == "":
                raise _empty(name, base)
            if base == "Number":
                _check_number(name, text)
            size += len(text.encode())
        size += len(name.encode()) + len(data_type.encode())
    return size


def _check_name(name: str) -> None:
    lowered = name.lower()
    if (
        not _ATTRIBUTE_NAME.match(name)
        or ".." in name
        or name.startswith(".")
        or name.endswith(".")
        or lowered.startswith(("aws.", "amazon."))
    ):
        raise invalid_value(f"Message (user) attribute name '{name}' is invalid.")


def _empty(name: str, kind: str) -> Exception:
    return invalid_value(
        f"Message (user) attribute '{name}' must contain a non-empty value of type '{kind}'."
    )


def _check_number(name: str, text: str) -> None:
    try:
        float(text)
    except ValueError:
        raise invalid_value(f"Could not cast message attribute '{name}' value to number.") from None


def to_storable(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """JSON-friendly copy: binary values as base64 text."""
    out: dict[str, dict[str, str]] = {}
    for name, attr in attributes.items():
        item = {"DataType": attr["DataType"]}
        # The data type decides which value field counts; the other is ignored, as in the MD5.
        if _is_binary(attr["DataType"]):
            item["BinaryValue"] = base64.b64encode(_binary(attr["BinaryValue"])).decode()
        else:
            item["StringValue"] = attr["StringValue"]
        out[name] = item
    return out


def from_storable(attributes: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, attr in attributes.items():
        if "BinaryValue" in attr:
            out[name] = {"DataType": attr["DataType"], "BinaryValue": _binary(attr["BinaryValue"])}
        else:
            out[name] = dict(attr)
    return out


def select(names: list[str] | None, available: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes a receive asked for: ``All``/``.*``, exact names, or ``prefix.*``."""
    if not names or not available:
        return {}
    if "All" in names or ".*" in names:
        return dict(available)
    prefixes = tuple(n[:-1] for n in names if n.endswith(".*"))
    exact = set(names)
    return {
        k: v for k, v in available.items() if k in exact or (prefixes and k.startswith(prefixes))
    }
