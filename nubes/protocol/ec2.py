"""EC2's variant of the query protocol: its own member naming, flat lists, no Result wrapper."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from botocore.model import Shape, StructureShape

from nubes.protocol.base import HttpResponse, ResponseContext, ServiceError
from nubes.protocol.query import QueryProtocol, QueryReader, error_shape, xml_headers
from nubes.protocol.xml import escape_text, write_error_fields, write_members


class Ec2Reader(QueryReader):
    def member_names(self, shape: StructureShape) -> tuple[tuple[str, str, Shape], ...]:
        return _ec2_member_names(shape)

    def read_list(self, shape: Shape, key: str) -> list[Any]:
        # EC2 lists are always flat: Name.1, Name.2, ... whatever the item's locationName.
        return self.read_items(shape.member, key + ".")


@cache
def _ec2_member_names(shape: StructureShape) -> tuple[tuple[str, str, Shape], ...]:
    return tuple((name, _ec2_name(name, member), member) for name, member in shape.members.items())


def _ec2_name(name: str, member: Shape) -> str:
    query_name = member.serialization.get("queryName")
    if query_name:
        return str(query_name)
    location = member.serialization.get("name")
    if location:
        return str(location[:1].upper() + location[1:])
    return name


class Ec2Protocol(QueryProtocol):
    name = "ec2"
    reader = Ec2Reader

    def serialize(self, result: Mapping[str, Any], ctx: ResponseContext) -> HttpResponse:
        op = ctx.operation
        assert op is not None
        api_version = escape_text(ctx.service.api_version or "")
        out = [
            "",
            f"<requestId>{escape_text(ctx.request_id)}</requestId>",
        ]
        attrs = ""
        if op.output_shape is not None:
            attrs = write_members(out, op.output_shape, result)
        out[0] = f'<{op.name}Response xmlns="http://ec2.amazonaws.com/doc/{api_version}/"{attrs}>'
        out.append(f"</{op.name}Response>")
        return HttpResponse(200, xml_headers(ctx), "".join(out).encode("utf-8"))

    def serialize_error(self, error: ServiceError, ctx: ResponseContext) -> HttpResponse:
        out = [
            f"<Response><Errors><Error><Code>{escape_text(error.wire_code)}</Code>"
            f"<Message>{escape_text(error.message)}</Message>"
        ]
        write_error_fields(out, error_shape(error, ctx), error.fields)
        out.append(
            f"</Error></Errors><RequestID>{escape_text(ctx.request_id)}</RequestID></Response>"
        )
        headers = {**xml_headers(ctx), **error.headers}
        return HttpResponse(error.status, headers, "".join(out).encode("utf-8"))
