"""The AWS query protocol: form-encoded input, XML output (IAM, STS, SNS, RDS, ...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from nubes.core.safejson import MAX_DEPTH
from nubes.protocol.base import HttpRequest, HttpResponse, ResponseContext, ServiceError
from nubes.protocol.xml import (
    escape_attr,
    escape_text,
    parse_scalar,
    write_error_fields,
    write_members,
)

XML_CONTENT_TYPE = "text/xml"

MAX_BODY = 16 * 1024 * 1024
"""The largest form body read (SQS's 1 MiB batches, percent-encoded, fit several times)."""

MAX_KEY_PARTS = 3 * MAX_DEPTH
"""Dotted parts a parameter name may have: a nesting level takes up to three (``A.member.1``)."""


def xml_headers(ctx: ResponseContext) -> dict[str, str]:
    return {"Content-Type": XML_CONTENT_TYPE, "x-amzn-RequestId": ctx.request_id}


def form_params(req: HttpRequest) -> dict[str, str]:
    """The request's parameters: the query string plus a form-encoded body, last value wins."""
    params: dict[str, str] = {}
    if req.query_string:
        params.update(parse_qsl(req.query_string, keep_blank_values=True))
    if req.method != "GET":
        body = req.read_limited(MAX_BODY)
        if body:
            try:
                params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError as exc:
                raise ServiceError(
                    "MalformedQueryString", "The request body is not a valid form"
                ) from exc
    return params


class QueryReader:
    """Rebuilds nested input from flat ``A.B.member.1`` keys, by the rules of one protocol.

    The query and ec2 protocols differ only in how a member is named and how lists are laid out.
    """

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = params
        prefixes: set[str] = set()
        for key in params:
            # Every dotted prefix of a key: lets "is anything under A.B?" be one set lookup.
            pos = key.find(".")
            parts = 1
            while pos != -1:
                prefixes.add(key[:pos])
                pos = key.find(".", pos + 1)
                parts += 1
            if parts > MAX_KEY_PARTS:
                # Reading follows the key down recursive shapes one call per level.
                raise ServiceError(
                    "MalformedQueryString", f"The parameter name {key[:64]!r}... nests too deep"
                )
        self.prefixes = prefixes

    def present(self, key: str) -> bool:
        return key in self.params or key in self.prefixes

    def read(self, shape: Shape, key: str) -> Any:
        kind = shape.type_name
        if kind == "structure":
            return self.read_structure(shape, key + ".")
        if kind == "list":
            return self.read_list(shape, key)
        if kind == "map":
            return self.read_map(shape, key)
        text = self.params.get(key)
        # Only nested keys ("Name.x") for a scalar member: nothing the member can hold.
        return None if text is None else parse_scalar(shape, text)

    def read_structure(self, shape: StructureShape, prefix: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, wire, member in self.member_names(shape):
            key = prefix + wire
            if self.present(key):
                value = self.read(member, key)
                if value is not None:
                    result[name] = value
        return result

    def member_names(self, shape: StructureShape) -> tuple[tuple[str, str, Shape], ...]:
        return _query_member_names(shape)

    def read_list(self, shape: Shape, key: str) -> list[Any]:
        member = shape.member
        if shape.serialization.get("flattened"):
            item_prefix = key + "."
        else:
            item_prefix = f"{key}.{member.serialization.get('name', 'member')}."
        return self.read_items(member, item_prefix)

    def read_items(self, member: Shape, item_prefix: str) -> list[Any]:
        items = []
        index = 1
        while self.present(f"{item_prefix}{index}"):
            items.append(self.read(member, f"{item_prefix}{index}"))
            index += 1
        return items

    def read_map(self, shape: Shape, key: str) -> dict[str, Any]:
        prefix = key + "." if shape.serialization.get("flattened") else key + ".entry."
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        result: dict[str, Any] = {}
        index = 1
        empty = _EMPTY.get(shape.value.type_name)
        while self.present(f"{prefix}{index}"):
            entry = f"{prefix}{index}."
            if entry + key_name in self.params:
                value_key = entry + value_name
                if self.present(value_key):
                    result[self.params[entry + key_name]] = self.read(shape.value, value_key)
                elif empty is not None:
                    # A name without a value: an empty one, whose missing members the service
                    # reports (as it does for an empty structure in JSON). A scalar is left out,
                    # as JSON protocols leave out a null map value.
                    result[self.params[entry + key_name]] = empty()
            index += 1
        return result


_EMPTY: dict[str, Callable[[], Any]] = {"structure": dict, "map": dict, "list": list}


@cache
def _query_member_names(shape: StructureShape) -> tuple[tuple[str, str, Shape], ...]:
    return tuple(
        (name, _query_name(name, member), member) for name, member in shape.members.items()
    )


def _query_name(name: str, member: Shape) -> str:
    # A flattened list whose items are named puts that name in place of its own.
    if member.type_name == "list" and member.serialization.get("flattened"):
        item_name = member.member.serialization.get("name")
        if item_name:
            return str(item_name)
    return str(member.serialization.get("name", name))


@cache
def default_namespace(service: ServiceModel) -> str:
    meta = service.metadata
    ns = meta.get("xmlNamespace")
    if ns:
        return str(ns["uri"] if isinstance(ns, dict) else ns)
    prefix = meta.get("endpointPrefix", service.service_name)
    return f"https://{prefix}.amazonaws.com/doc/{meta.get('apiVersion', '')}/"


class QueryProtocol:
    name = "query"
    reader = QueryReader

    def parse(
        self, op: OperationModel, req: HttpRequest, uri_params: Mapping[str, str]
    ) -> dict[str, Any]:
        shape = op.input_shape
        if shape is None:
            return {}
        return self.reader(form_params(req)).read_structure(shape, "")

    def serialize(self, result: Mapping[str, Any], ctx: ResponseContext) -> HttpResponse:
        op = ctx.operation
        assert op is not None
        out: list[str] = []
        ns = escape_attr(default_namespace(ctx.service))
        out.append(f'<{op.name}Response xmlns="{ns}">')
        shape = op.output_shape
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper")
            if wrapper:
                start = len(out)
                out.append("")
                attrs = write_members(out, shape, result)
                out[start] = f"<{wrapper}{attrs}>"
                out.append(f"</{wrapper}>")
            else:
                attrs = write_members(out, shape, result)
                if attrs:
                    out[0] = out[0][:-1] + attrs + ">"
        out.append(
            f"<ResponseMetadata><RequestId>{escape_text(ctx.request_id)}</RequestId>"
            f"</ResponseMetadata></{op.name}Response>"
        )
        return HttpResponse(200, xml_headers(ctx), "".join(out).encode("utf-8"))

    def serialize_error(self, error: ServiceError, ctx: ResponseContext) -> HttpResponse:
        ns = escape_attr(default_namespace(ctx.service))
        fault = "Sender" if error.sender_fault else "Receiver"
        out = [
            f'<ErrorResponse xmlns="{ns}"><Error><Type>{fault}</Type>'
            f"<Code>{escape_text(error.wire_code)}</Code>"
            f"<Message>{escape_text(error.message)}</Message>"
        ]
        write_error_fields(out, error_shape(error, ctx), error.fields)
        out.append(f"</Error><RequestId>{escape_text(ctx.request_id)}</RequestId></ErrorResponse>")
        headers = {**xml_headers(ctx), **error.headers}
        return HttpResponse(error.status, headers, "".join(out).encode("utf-8"))


def error_shape(error: ServiceError, ctx: ResponseContext) -> StructureShape | None:
    if ctx.operation is None:
        return None
    for shape in ctx.operation.error_shapes:
        if shape.name == error.code:
            return shape
    return None
