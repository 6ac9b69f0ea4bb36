"""AWS's protocol test vectors (../shared/protocol-tests), run in reverse against our protocol.

Input vectors: our parser must read the client's HTTP request back into the case's params.
Output vectors: our serializer must write a response that botocore's own parser reads back into
the case's result (or error). Values are compared after normalising both sides to one form
(timestamps to epoch seconds, blobs to bytes, streams read) since the wire allows variation.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore import parsers
from botocore.awsrequest import HeadersDict
from botocore.model import OperationModel, ServiceModel, Shape

from nubes.protocol.base import HttpRequest

ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "protocol-tests"
MISSING = (
    f"AWS protocol test vectors not run: {ROOT} is missing. They are botocore's protocol "
    "compliance vectors (botocore's tests/unit/protocols, Apache-2.0), kept in "
    "../shared/protocol-tests beside the clone; put them there to run them."
)
"""The skip reason when the vectors are not there (the run's summary repeats it)."""


def available() -> bool:
    return (ROOT / "protocol-tests-ignore-list.json").is_file()


FILES = [
    "ec2",
    "json",
    "json_1_0",
    "json_1_0-query-compatible",
    "query",
    "rest-json",
    "rest-xml",
    "smithy-rpc-v2-cbor",
    "smithy-rpc-v2-cbor-query-compatible",
    "smithy-rpc-v2-cbor-non-query-compatible",
]
LEGACY_FILES = ["ec2", "json", "query", "rest-json", "rest-xml"]


@dataclass
class Case:
    direction: str  # "input" or "output"
    file: str
    protocol: str
    suite: str
    case: dict[str, Any]
    service: ServiceModel
    operation: OperationModel
    ignored: bool

    @property
    def id(self) -> str:
        return f"{self.file}:{self.case.get('id') or self.case.get('description')}"


def _ignore_list() -> dict[str, Any]:
    return json.loads((ROOT / "protocol-tests-ignore-list.json").read_text())


def _ignored(ignore: dict[str, Any], protocol: str, direction: str, suite: str, case: dict) -> bool:
    if "SDK_UNKNOWN_MEMBER" in json.dumps(case.get("result", {})):
        # A client's stand-in for a union member it does not know: nothing a server writes.
        return True
    general = ignore.get("general", {}).get(direction, {})
    if suite in general.get("suites", []):
        return True
    cases = ignore.get("protocols", {}).get(protocol, {}).get(direction, {}).get("cases", [])
    return case.get("id") in cases


def _ignore_key(file: str) -> str:
    for suffix in ("-non-query-compatible", "-query-compatible"):
        file = file.removesuffix(suffix)
    return file


def load(direction: str) -> Iterator[Case]:
    ignore = _ignore_list()
    sources = [(f, ROOT / direction / f"{f}.json") for f in FILES]
    sources += [(f"legacy/{f}", ROOT / "legacy" / direction / f"{f}.json") for f in LEGACY_FILES]
    for file, path in sources:
        protocol_key = file.removeprefix("legacy/")
        for suite in json.loads(path.read_text()):
            metadata = dict(suite["metadata"])
            metadata.setdefault("apiVersion", "2014-01-01")
            for index, case in enumerate(suite["cases"]):
                given = dict(case["given"])
                name = given["name"]
                model = {
                    "metadata": metadata,
                    "shapes": suite["shapes"],
                    "operations": {name: given},
                }
                service = ServiceModel(model, service_name="protocoltest")
                case = dict(case)
                case.setdefault("id", f"{suite['description']}#{index}")
                yield Case(
                    direction=direction,
                    file=file,
                    protocol=metadata["protocol"],
                    suite=suite["description"],
                    case=case,
                    service=service,
                    operation=service.operation_model(name),
                    ignored=_ignored(
                        ignore, _ignore_key(protocol_key), direction, suite["description"], case
                    ),
                )


def http_request(serialized: dict[str, Any]) -> HttpRequest:
    parts = urlsplit(serialized["uri"])
    headers = {k.lower(): str(v) for k, v in serialized.get("headers", {}).items()}
    body = serialized.get("body", "") or ""
    if (
        serialized.get("protocol") == "smithy-rpc-v2-cbor"
        or headers.get("content-type") == "application/cbor"
    ):
        raw = base64.b64decode(body)
    else:
        raw = body.encode("utf-8")
    if raw:
        headers.setdefault("content-length", str(len(raw)))
    headers.setdefault("host", serialized.get("host", "localhost"))
    return HttpRequest(
        method=serialized.get("method", "POST"),
        path=parts.path or "/",
        query_string=parts.query,
        headers=headers,
        body=raw,
    )


class _RawStream:
    """What botocore's EventStream reads an event stream body from."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self) -> Iterator[bytes]:
        yield self.body


def botocore_parse(
    protocol: str, op: OperationModel, status: int, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    parser = parsers.create_parser(protocol)
    # botocore reads headers from a case-insensitive dict, as urllib3 hands them over.
    response: dict[str, Any] = {
        "status_code": status,
        "headers": HeadersDict(headers),
        "body": body,
        "context": {"operation_name": op.name},
    }
    if status < 300 and op.has_event_stream_output:
        response["body"] = _RawStream(body)
    if status >= 300:
        parsed = parser.parse(response, None)
        # As botocore's client does: the modeled error's own fields (headers included) on top.
        code = parsed.get("Error", {}).get("Code")
        error_shape = op.service_model.shape_for_error_code(code) if code else None
        if error_shape is not None:
            parsed.update(parser.parse(response, error_shape))
        return parsed
    return parser.parse(response, op.output_shape)


def normalize(value: Any, shape: Shape | None) -> Any:
    """One comparable form for a value of ``shape``: epoch floats, bytes, plain containers."""
    if value is None:
        return None
    if hasattr(value, "read"):
        value = value.read()
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        if shape.serialization.get("eventstream") and not isinstance(value, dict):
            return [normalize(event, shape) for event in value]
        if shape.is_document_type:
            return value
        members = shape.members  # type: ignore[attr-defined]
        return {k: normalize(v, members.get(k)) for k, v in value.items() if v is not None}
    if kind == "list":
        return [normalize(v, shape.member) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: normalize(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=datetime.UTC)
            return round(value.timestamp(), 3)
        if isinstance(value, str):
            from nubes.protocol import timestamps

            return round(timestamps.parse(value).timestamp(), 3)
        return round(float(value), 3)
    if kind == "blob":
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, bytearray):
            return bytes(value)
        return value
    if kind in ("float", "double"):
        if isinstance(value, str):
            value = float(value)
        if isinstance(value, float) and math.isnan(value):
            return "NaN"
        return float(value)
    return value
