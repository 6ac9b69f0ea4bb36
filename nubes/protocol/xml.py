"""Shapes to XML and back, shared by the query, ec2 and rest-xml protocols.

Writing builds a list of string fragments (much faster than building an ElementTree and
serializing it). What a shape needs on the wire (element names, attributes, flattening,
formatters) is worked out once per shape and cached, so a request only walks its values.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from xml.etree import ElementTree

from botocore.model import ListShape, MapShape, Shape, StructureShape

from nubes.core.safejson import MAX_DEPTH
from nubes.protocol import timestamps
from nubes.protocol.base import ServiceError
from nubes.protocol.document import int_in_range

# Characters XML 1.0 cannot carry at all, not even as references (control characters, lone
# surrogates, U+FFFE/U+FFFF): a client's XML parser would refuse the whole document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTR_SPECIAL = re.compile('[&<>"\r\n\t\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')


def escape_text(text: str) -> str:
    if not _TEXT_SPECIAL.search(text):
        return text
    # A raw \r would be normalised away by the reader's XML parser, so it travels as a reference.
    return _NOT_XML.sub(
        "\ufffd",
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#xD;"),
    )


def escape_attr(text: str) -> str:
    if not _ATTR_SPECIAL.search(text):
        return text
    text = _NOT_XML.sub("\ufffd", text)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\r", "&#xD;")
        .replace("\n", "&#xA;")
        .replace("\t", "&#x9;")
    )


def namespace_attr(shape: Shape) -> str:
    """The ``xmlns`` declaration a shape's ``xmlNamespace`` asks for (with a leading space)."""
    ns = shape.serialization.get("xmlNamespace")
    if not ns:
        return ""
    if isinstance(ns, str):
        return f' xmlns="{escape_attr(ns)}"'
    prefix = ns.get("prefix")
    name = f"xmlns:{prefix}" if prefix else "xmlns"
    return f' {name}="{escape_attr(ns.get("uri", ""))}"'


def format_scalar(value: Any, shape: Shape) -> str:
    """A scalar as XML text (unescaped)."""
    return _formatter(shape)(value)


def format_float(value: Any) -> str:
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return repr(number)


def _format_bool(value: Any) -> str:
    return "true" if value else "false"


def _format_int(value: Any) -> str:
    return str(int(value))


def _format_blob(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(value).decode("ascii")


def _formatter(shape: Shape) -> Callable[[Any], str]:
    kind = shape.type_name
    if kind == "boolean":
        return _format_bool
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat") or "iso8601"
        return lambda value: str(timestamps.format(value, fmt))
    if kind == "blob":
        return _format_blob
    if kind in ("float", "double"):
        return format_float
    if kind in ("integer", "long", "byte", "short"):
        return _format_int
    return str


# --- writing -----------------------------------------------------------------------------------
#
# Each (shape, element name) gets a writer once: open and close tags, namespace declarations and
# value formatters are worked out then, so writing a response only walks its values.

Writer = Callable[[list[str], Any], None]
_MemberPlan = tuple[str, Writer | None, str, Callable[[Any], str]]
"""(key, element writer or None for an attribute, wire name, attribute formatter)"""


@cache
def element_writer(shape: Shape, tag: str) -> Writer:
    """A function appending ``<tag>...</tag>`` for a value of ``shape`` to a list of fragments."""
    kind = shape.type_name
    if kind == "structure":
        return _StructureWriter(shape, tag)
    if kind == "list":
        return _ListWriter(shape, tag)
    if kind == "map":
        return _MapWriter(shape, tag)
    fmt = _formatter(shape)
    open_tag, close_tag = f"<{tag}{namespace_attr(shape)}>", f"</{tag}>"
    if kind != "string":
        # Numbers, booleans, timestamps and base64 never hold characters XML must escape.
        return lambda out, value: out.append(open_tag + fmt(value) + close_tag)
    return lambda out, value: out.append(open_tag + escape_text(str(value)) + close_tag)


def write_element(out: list[str], tag: str, shape: Shape, value: Any) -> None:
    """Append ``<tag>value</tag>`` for a value of ``shape``."""
    element_writer(shape, tag)(out, value)


def write_members(out: list[str], shape: StructureShape, value: Mapping[str, Any]) -> str:
    """Append the child elements of a structure; returns its attributes (for the open tag)."""
    writer = element_writer(shape, shape.name)
    assert isinstance(writer, _StructureWriter)
    return writer.write_members(out, value)


class _StructureWriter:
    def __init__(self, shape: StructureShape, tag: str) -> None:
        self.shape = shape
        self.open_tag = f"<{tag}{namespace_attr(shape)}"
        self.close_tag = f"</{tag}>"
        # Built on first use: a recursive shape would otherwise never finish building.
        self._members: list[_MemberPlan] | None = None

    def members(self) -> list[_MemberPlan]:
        if self._members is None:
            members: list[_MemberPlan] = []
            for name, member in self.shape.members.items():
                tag = member.serialization.get("name", name)
                if member.serialization.get("xmlAttribute"):
                    members.append((name, None, tag, _formatter(member)))
                else:
                    members.append((name, element_writer(member, tag), tag, str))
            self._members = members
        return self._members

    def write_members(self, out: list[str], value: Mapping[str, Any]) -> str:
        attrs = ""
        for key, write, tag, fmt in self.members():
            item = value.get(key)
            if item is None:
                continue
            if write is None:
                attrs += f' {tag}="{escape_attr(fmt(item))}"'
            else:
                write(out, item)
        return attrs

    def __call__(self, out: list[str], value: Mapping[str, Any]) -> None:
        start = len(out)
        out.append("")
        attrs = self.write_members(out, value)
        out[start] = self.open_tag + attrs + ">"
        out.append(self.close_tag)


class _ListWriter:
    def __init__(self, shape: ListShape, tag: str) -> None:
        self.flattened = bool(shape.serialization.get("flattened"))
        item_tag = shape.member.serialization.get("name", tag if self.flattened else "member")
        self.item = element_writer(shape.member, item_tag)
        self.open_tag = f"<{tag}{namespace_attr(shape)}>"
        self.close_tag = f"</{tag}>"

    def __call__(self, out: list[str], value: Any) -> None:
        write = self.item
        if self.flattened:
            for item in value:
                write(out, item)
            return
        out.append(self.open_tag)
        for item in value:
            write(out, item)
        out.append(self.close_tag)


class _MapWriter:
    def __init__(self, shape: MapShape, tag: str) -> None:
        self.flattened = bool(shape.serialization.get("flattened"))
        self.key = element_writer(shape.key, shape.key.serialization.get("name", "key"))
        self.value = element_writer(shape.value, shape.value.serialization.get("name", "value"))
        entry_tag = tag if self.flattened else "entry"
        self.open_entry, self.close_entry = f"<{entry_tag}>", f"</{entry_tag}>"
        self.open_tag = f"<{tag}{namespace_attr(shape)}>"
        self.close_tag = f"</{tag}>"

    def __call__(self, out: list[str], value: Mapping[str, Any]) -> None:
        if not self.flattened:
            out.append(self.open_tag)
        for key, item in value.items():
            out.append(self.open_entry)
            self.key(out, key)
            self.value(out, item)
            out.append(self.close_entry)
        if not self.flattened:
            out.append(self.close_tag)


_ENVELOPE_FIELDS = frozenset(("Code", "Message", "message", "Type", "RequestId", "HostId"))


def write_error_fields(out: list[str], shape: Shape | None, fields: Mapping[str, Any]) -> None:
    """An error's own fields inside ``<Error>``: typed by its shape where it declares them,
    as plain text otherwise (services report some fields their models leave out)."""
    members = shape.members if isinstance(shape, StructureShape) else {}
    for key, value in fields.items():
        if value is None or key in _ENVELOPE_FIELDS:
            continue
        member = members.get(key)
        if member is not None:
            write_element(out, member.serialization.get("name", key), member, value)
        elif isinstance(value, bool):
            out.append(f"<{key}>{'true' if value else 'false'}</{key}>")
        else:
            out.append(f"<{key}>{escape_text(str(value))}</{key}>")


# --- reading -----------------------------------------------------------------------------------


def local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def parse_document(body: bytes) -> ElementTree.Element:
    """The root element; malformed XML, or elements nested deeper than
    :data:`~nubes.core.safejson.MAX_DEPTH` (reading recurses per level), is MalformedXML."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise _malformed() from exc
    # Fewer tags than the limit cannot nest deeper than it: most bodies stop at this count.
    if body.count(b"<") > MAX_DEPTH and _depth_exceeds(root, MAX_DEPTH):
        raise _malformed()
    return root


def _malformed() -> ServiceError:
    return ServiceError(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )


def _depth_exceeds(root: ElementTree.Element, max_depth: int) -> bool:
    level = [root]
    for _ in range(max_depth):
        level = [child for elem in level for child in elem]
        if not level:
            return False
    return True


def read_element(shape: Shape, elem: ElementTree.Element) -> Any:
    """The value of ``shape`` that an element holds."""
    return _READERS.get(shape.type_name, _read_scalar)(shape, elem)


@dataclass(frozen=True)
class _ReadMember:
    key: str
    tags: tuple[str, ...]
    """Element names that hold the member (or the attribute's local name)."""
    shape: Shape
    attribute: bool
    flattened_list: bool


@cache
def _read_members(shape: StructureShape) -> tuple[_ReadMember, ...]:
    found = []
    for name, member in shape.members.items():
        flattened_list = member.type_name == "list" and bool(member.serialization.get("flattened"))
        attribute = bool(member.serialization.get("xmlAttribute"))
        tag = member.serialization.get("name", name)
        tags: tuple[str, ...] = (tag.rpartition(":")[2] if attribute else tag,)
        if flattened_list:
            # Smithy names flattened items after the structure member, botocore after the list's
            # member: accept both.
            item_tag = member.member.serialization.get("name")
            if item_tag and item_tag != tag:
                tags += (item_tag,)
        found.append(_ReadMember(name, tags, member, attribute, flattened_list))
    return tuple(found)


def _read_structure(shape: Shape, elem: ElementTree.Element) -> dict[str, Any]:
    children: dict[str, list[ElementTree.Element]] = {}
    for child in elem:
        children.setdefault(local_name(child.tag), []).append(child)
    result: dict[str, Any] = {}
    for m in _read_members(shape):
        if m.attribute:
            for name, text in elem.attrib.items():
                if local_name(name) == m.tags[0]:
                    result[m.key] = parse_scalar(m.shape, text)
            continue
        nodes = [node for tag in m.tags for node in children.get(tag, ())]
        if not nodes:
            continue
        if m.flattened_list:
            item = m.shape.member
            result[m.key] = [read_element(item, node) for node in nodes]
        elif m.shape.type_name == "map" and m.shape.serialization.get("flattened"):
            result[m.key] = _read_entries(m.shape, nodes)
        else:
            result[m.key] = read_element(m.shape, nodes[0])
    return result


def _read_list(shape: Shape, elem: ElementTree.Element) -> list[Any]:
    member = shape.member
    return [read_element(member, child) for child in elem]


def _read_map(shape: Shape, elem: ElementTree.Element) -> dict[str, Any]:
    return _read_entries(shape, list(elem))


def _read_entries(shape: MapShape, entries: list[ElementTree.Element]) -> dict[str, Any]:
    key_tag = shape.key.serialization.get("name", "key")
    value_tag = shape.value.serialization.get("name", "value")
    result: dict[str, Any] = {}
    for entry in entries:
        key: Any = None
        value: Any = None
        for child in entry:
            name = local_name(child.tag)
            if name == key_tag:
                key = read_element(shape.key, child)
            elif name == value_tag:
                value = read_element(shape.value, child)
        if key is not None:
            result[key] = value
    return result


def _read_scalar(shape: Shape, elem: ElementTree.Element) -> Any:
    return parse_scalar(shape, elem.text or "")


_READERS: dict[str, Callable[[Shape, ElementTree.Element], Any]] = {
    "structure": _read_structure,
    "list": _read_list,
    "map": _read_map,
}


def parse_scalar(shape: Shape, text: str) -> Any:
    """A scalar from its text form (XML text, query string value or header value)."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long", "byte", "short"):
            return int_in_range(kind, int(text))
        if kind in ("float", "double"):
            return float(text)  # also reads the wire's NaN, Infinity and -Infinity
        if kind == "boolean":
            flag = text.strip().lower()
            if flag not in ("true", "false"):
                raise ValueError(text)
            return flag == "true"
        if kind == "timestamp":
            return _parse_timestamp(text)
        if kind == "blob":
            return base64.b64decode("".join(text.split()), validate=True)
    except ValueError as exc:
        raise ServiceError(
            "InvalidParameterValue", f"Invalid value {text!r} for a {kind} parameter"
        ) from exc
    return text


def _parse_timestamp(text: str) -> datetime:
    try:
        return timestamps.parse(text)
    except (TypeError, OverflowError) as exc:
        raise ValueError(text) from exc
