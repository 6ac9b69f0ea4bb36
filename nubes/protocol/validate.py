"""Validation of a parsed input dict against the operation's botocore input shape.

Most AWS services run the same generated validation before any service code sees a request
(required members, lengths, ranges, enums, patterns) and report it in the service's own
style. :data:`SERVICE_STYLES` and :data:`PROTOCOL_STYLES` say which style a service uses:

* ``coral``: ``N validation error(s) detected: Value 'x' at 'a.b' failed to satisfy
  constraint: ...; Value ...`` with paths in lowerCamelCase, lists as ``a.1.member`` and map
  values as ``a.<key>.member``; at most :data:`MAX_REPORTED` violations are listed.
* ``parameter``: the first problem only, as ``MissingParameter`` ("The request must contain the
  parameter X") or ``InvalidParameterValue`` (EC2, SQS).

For JSON-family protocols a member of the wrong type is a deserialization failure
(``SerializationException``) raised before any constraint is looked at, as AWS does.

Each shape is compiled once into a :class:`_Node` holding only what needs checking, so a
request costs a walk over the members present plus the required ones.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from botocore.model import OperationModel, ServiceModel, Shape

from nubes.protocol.base import ServiceError

MAX_REPORTED = 10
"""Coral stops collecting violations after this many (the count in the message says so too)."""


@dataclass(frozen=True)
class Style:
    kind: Literal["coral", "parameter"]
    """``coral`` or ``parameter`` (see the module docstring)."""
    code: str
    """Code for constraint violations (and, in the coral style, for missing members too)."""
    query_code: str | None = None
    """What ``x-amzn-query-error`` carries for ``code`` when the service is
    ``awsQueryCompatible`` (when unset, the code itself)."""
    missing_code: str | None = None
    """``parameter`` style: the code for a missing required member."""
    missing_message: str = "The request must contain the parameter {}"
    """``parameter`` style: the message for a missing member, given its wire name."""
    constraints: bool = True
    """Whether lengths, ranges, enums and patterns are checked (else only required members)."""


CORAL_JSON = Style("coral", "ValidationException", query_code="ValidationError")
CORAL_QUERY = Style("coral", "ValidationError")
EC2 = Style("parameter", "InvalidParameterValue", missing_code="MissingParameter")

PROTOCOL_STYLES: dict[str, Style | None] = {
    "json": CORAL_JSON,
    "rest-json": CORAL_JSON,
    "smithy-rpc-v2-cbor": CORAL_JSON,
    # IAM, STS, SNS, CloudFormation, AutoScaling, ELB, RDS: Coral messages, code ValidationError.
    "query": CORAL_QUERY,
    "ec2": EC2,
    # S3 and most rest-xml services check little by model; their own code reports the rest.
    "rest-xml": None,
}

SERVICE_STYLES: dict[str, Style | None] = {
    # SQS answers a missing member with MissingParameter; everything else it checks (attribute
    # names, value ranges) comes with its own codes (InvalidAttributeName...) from the service.
    "sqs": Style(
        "parameter",
        "InvalidParameterValue",
        missing_code="MissingParameter",
        missing_message="The request must contain the parameter {}.",
        constraints=False,
    ),
    "route53": Style("coral", "InvalidInput"),
    # CloudWatch Logs reports model violations (missing members included) as
    # InvalidParameterException with Coral's message.
    "logs": Style("coral", "InvalidParameterException"),
    "s3": None,
}


def style_for(service_model: ServiceModel) -> Style | None:
    name = service_model.service_name
    if name in SERVICE_STYLES:
        return SERVICE_STYLES[name]
    return PROTOCOL_STYLES.get(service_model.protocol)


# --- building errors -------------------------------------------------------------------------


_error_shapes: dict[tuple[int, str], tuple[ServiceModel, Shape | None]] = {}


def _error_shape(service_model: ServiceModel, code: str) -> Shape | None:
    """The model's own error shape named ``code``, which knows its status and query code."""
    key = (id(service_model), code)
    entry = _error_shapes.get(key)
    if entry is None or entry[0] is not service_model:
        shape = next((s for s in service_model.error_shapes if s.name == code), None)
        entry = _error_shapes[key] = (service_model, shape)
    return entry[1]


def _error(service_model: ServiceModel, style: Style, code: str, message: str) -> ServiceError:
    shape = _error_shape(service_model, code)
    if shape is not None:
        return ServiceError.from_shape(shape, message)
    query_code = None
    if "awsQueryCompatible" in service_model.metadata:
        query_code = style.query_code if code == style.code and style.query_code else code
    return ServiceError(code, message, query_code=query_code)


def _coral_message(violations: list[str]) -> str:
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(violations)


def describe_violation(value: Any, path: str, constraint: str) -> str:
    """One Coral violation: ``Value 'x' at 'path' failed to satisfy constraint: ...``."""
    return f"Value {_render(value, None)} at '{path}' failed to satisfy constraint: {constraint}"


def validation_error(service_model: ServiceModel, *violations: str) -> ServiceError:
    """The error a service reports for violations found by its own checks, in its style.

    Coral-style services get the ``N validation error(s) detected: `` prefix; the others
    (EC2, SQS...) answer ``InvalidParameterValue`` with the message as given.
    """
    style = style_for(service_model) or CORAL_JSON
    if style.kind == "coral":
        return _error(service_model, style, style.code, _coral_message(list(violations)))
    return _error(service_model, style, style.code, "; ".join(violations))


# --- rendering values the way Java's toString does --------------------------------------------


def _render(value: Any, node: _Node | None) -> str:
    if value is None:
        return "null"
    return f"'{_java(value, node)}'"


def _java(value: Any, node: _Node | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        size = len(value)
        return f"java.nio.HeapByteBuffer[pos=0 lim={size} cap={size}]"
    if isinstance(value, datetime):
        return value.strftime("%a %b %d %H:%M:%S UTC %Y")
    if isinstance(value, list):
        item = node.item if node is not None else None
        return "[" + ", ".join(_java(v, item) for v in value) + "]"
    if isinstance(value, dict):
        if node is not None and node.kind == _STRUCT:
            fields = ", ".join(
                f"{m.coral_name}={_java(value.get(m.name), m.node)}" for m in node.all_members
            )
            return f"{node.shape_name}({fields})"
        item = node.item if node is not None else None
        return "{" + ", ".join(f"{k}={_java(v, item)}" for k, v in value.items()) + "}"
    return str(value)


# --- compiled shapes -------------------------------------------------------------------------

_SCALAR, _LIST, _MAP, _STRUCT = range(4)

# Exact types first (a set lookup); bool is deliberately absent from the numeric sets.
_TYPES: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "integer": frozenset({int, float}),
    "long": frozenset({int, float}),
    "short": frozenset({int, float}),
    "byte": frozenset({int, float}),
    "float": frozenset({int, float}),
    "double": frozenset({int, float}),
    "boolean": frozenset({bool}),
    "blob": frozenset({bytes, bytearray, memoryview}),
    "timestamp": frozenset({datetime}),
    "list": frozenset({list}),
    "map": frozenset({dict}),
    "structure": frozenset({dict}),
}
_JAVA_NAMES = {
    "string": "an String",
    "integer": "an Integer",
    "long": "an Long",
    "short": "an Short",
    "byte": "an Byte",
    "float": "an Float",
    "double": "an Double",
    "boolean": "an Boolean",
    "blob": "a Blob",
    "timestamp": "an Date",
}
_TYPE_CHECKED_PROTOCOLS = frozenset({"json", "rest-json", "smithy-rpc-v2-cbor"})

# Java regex features Python's re either rejects or reads differently.
_JAVA_ONLY = re.compile(r"\\[pPQEhHvVRXGZz]|\\x\{|&&|[*+?}]\+")


def _compile_pattern(pattern: str) -> re.Pattern[str] | None:
    if _JAVA_ONLY.search(pattern):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return re.compile(pattern, re.ASCII)
        except (re.error, FutureWarning, DeprecationWarning):
            return None


def _java_length(value: str) -> int:
    # Java counts UTF-16 code units, so a character outside the BMP counts twice.
    if value.isascii():
        return len(value)
    return len(value.encode("utf-16-le")) // 2


def _bound(value: float, type_name: str) -> str:
    if type_name in ("float", "double"):
        return str(float(value))
    return str(int(value))


class _Member:
    __slots__ = ("coral_name", "name", "node", "required", "wire_name")

    def __init__(self, name: str, wire_name: str, node: _Node | None, required: bool) -> None:
        self.name = name
        self.coral_name = name[:1].lower() + name[1:]
        self.wire_name = wire_name
        self.node = node
        self.required = required


class _Node:
    """What to check for one shape; ``active`` is False when nothing below it needs looking at."""

    __slots__ = (
        "active",
        "all_members",
        "by_name",
        "constraint_texts",
        "enum",
        "item",
        "key",
        "kind",
        "max_len",
        "max_val",
        "members",
        "min_len",
        "min_val",
        "own",
        "pattern",
        "required",
        "shape_name",
        "span",
        "type_name",
        "types",
    )

    def __init__(self, shape: Shape) -> None:
        self.kind = _SCALAR
        self.shape_name = shape.name
        self.type_name = shape.type_name
        self.types: frozenset[type] | None = None
        self.active = True
        self.own = False
        self.min_len: int | None = None
        self.max_len: int | None = None
        self.min_val: float | None = None
        self.max_val: float | None = None
        self.enum: frozenset[str] | None = None
        self.pattern: re.Pattern[str] | None = None
        # For a string constrained by its length alone: (min, max) to accept ASCII at a glance.
        self.span: tuple[int, float] | None = None
        self.constraint_texts: list[str] = []
        self.item: _Node | None = None
        self.key: _Node | None = None
        self.members: tuple[_Member, ...] = ()
        self.all_members: tuple[_Member, ...] = ()
        self.by_name: dict[str, _Member] = {}
        self.required = False


class _Compiler:
    def __init__(self, style: Style, check_types: bool, wire_key: str) -> None:
        self.style = style
        self.check_types = check_types
        self.wire_key = wire_key
        self.nodes: dict[str, _Node] = {}

    def node(self, shape: Shape) -> _Node | None:
        node = self.nodes.get(shape.name)
        if node is None:
            node = self._build(shape)
        return node if node.active else None

    def _build(self, shape: Shape) -> _Node:
        type_name = shape.type_name
        node = _Node(shape)
        # Registered before the children so recursive shapes (DynamoDB's AttributeValue) end.
        self.nodes[shape.name] = node
        ser, meta = shape.serialization, shape.metadata
        if meta.get("document") or ser.get("eventstream"):
            # Free-form JSON, or a stream of events the protocol hands over as it arrives.
            node.active = False
            return node
        node.kind = {"list": _LIST, "map": _MAP, "structure": _STRUCT}.get(type_name, _SCALAR)
        streaming = ser.get("streaming") or meta.get("requiresLength")
        if self.check_types and not streaming:
            node.types = _TYPES.get(type_name)
        kind = node.kind
        if self.style.constraints:
            self._constraints(node, shape, streaming=bool(streaming))
        if kind == _LIST:
            node.item = self.node(shape.member)
        elif kind == _MAP:
            key = self.node(shape.key)
            # Keys arrive as strings whatever the protocol: only their constraints matter.
            node.key = key if key is not None and key.own else None
            node.item = self.node(shape.value)
        elif kind == _STRUCT:
            required = set(shape.required_members)
            all_members = []
            for name, member_shape in shape.members.items():
                member_ser = member_shape.serialization
                wire = member_ser.get(self.wire_key) or member_ser.get("name") or name
                if self.wire_key == "queryName" and "queryName" not in member_ser:
                    wire = wire[:1].upper() + wire[1:]
                # A jsonvalue header is decoded into any JSON value by the protocol.
                jsonvalue = member_ser.get("jsonvalue")
                member_node = None if jsonvalue else self.node(member_shape)
                all_members.append(_Member(name, wire, member_node, name in required))
            node.all_members = tuple(all_members)
            node.members = tuple(m for m in all_members if m.required or m.node is not None)
            node.by_name = {m.name: m for m in node.members}
            node.required = any(m.required for m in node.members)
        node.active = bool(node.types or node.own or node.item or node.key or node.members)
        return node

    def _constraints(self, node: _Node, shape: Shape, streaming: bool) -> None:
        meta = shape.metadata
        type_name = shape.type_name
        lo, hi = meta.get("min"), meta.get("max")
        texts = node.constraint_texts
        if type_name in ("string", "list", "map") or (type_name == "blob" and not streaming):
            if hi is not None:
                node.max_len = int(hi)
                texts.append(f"Member must have length less than or equal to {int(hi)}")
            if lo is not None and lo > 0:
                node.min_len = int(lo)
                texts.append(f"Member must have length greater than or equal to {int(lo)}")
        elif type_name in ("integer", "long", "short", "byte", "float", "double"):
            if hi is not None:
                node.max_val = hi
                texts.append(
                    f"Member must have value less than or equal to {_bound(hi, type_name)}"
                )
            if lo is not None:
                node.min_val = lo
                texts.append(
                    f"Member must have value greater than or equal to {_bound(lo, type_name)}"
                )
        if type_name == "string":
            pattern = meta.get("pattern")
            if pattern:
                node.pattern = _compile_pattern(pattern)
                if node.pattern is not None:
                    texts.append(f"Member must satisfy regular expression pattern: {pattern}")
            enum = meta.get("enum")
            if enum:
                node.enum = frozenset(enum)
                texts.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        node.own = bool(texts)
        if type_name == "string" and node.pattern is None and node.enum is None and texts:
            node.span = (node.min_len or 0, math.inf if node.max_len is None else node.max_len)


@dataclass
class _Plan:
    operation: OperationModel
    """Kept so the cache key (the operation's id) cannot be reused by another object."""
    service: ServiceModel
    style: Style
    root: _Node | None


_plans: dict[int, _Plan] = {}
_compilers: dict[int, tuple[ServiceModel, _Compiler]] = {}


def _plan(op: OperationModel) -> _Plan:
    service = op.service_model
    style = style_for(service)
    root = None
    shape = op.input_shape
    if style is not None and shape is not None:
        entry = _compilers.get(id(service))
        if entry is None:
            wire_key = "queryName" if service.protocol == "ec2" else "name"
            compiler = _Compiler(
                style, service.protocol in _TYPE_CHECKED_PROTOCOLS, wire_key=wire_key
            )
            entry = _compilers[id(service)] = (service, compiler)
        root = entry[1].node(shape)
    plan = _Plan(op, service, _operation_style(op, style) or CORAL_JSON, root)
    _plans[id(op)] = plan
    return plan


def _operation_style(op: OperationModel, style: Style | None) -> Style | None:
    """A service's own code for violations, unless the operation's errors leave it out and
    list the protocol's (CloudWatch Logs' delivery APIs answer ValidationException where its
    older operations answer InvalidParameterException)."""
    fallback = PROTOCOL_STYLES.get(op.service_model.protocol)
    if style is None or fallback is None or style.kind != fallback.kind:
        return style
    codes = {shape.name for shape in op.error_shapes}
    return fallback if style.code not in codes and fallback.code in codes else style


# --- the walk --------------------------------------------------------------------------------

# A path is a chain of (parent, step) pairs built only as deep as the walk goes; a step is a
# member, a list index or a map key. It is turned into text only when something failed.
_Path = tuple[Any, Any] | None


class _Violation:
    __slots__ = ("constraint", "node", "path", "value")

    def __init__(self, path: _Path, value: Any, node: _Node | None, constraint: str) -> None:
        self.path = path
        self.value = value
        self.node = node
        self.constraint = constraint


class _TypeMismatch(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _steps(path: _Path) -> list[Any]:
    steps = []
    while path is not None:
        path, step = path
        steps.append(step)
    steps.reverse()
    return steps


def _coral_path(path: _Path) -> str:
    parts = []
    for step in _steps(path):
        if isinstance(step, _Member):
            parts.append(step.coral_name)
        elif isinstance(step, int):
            parts.append(f"{step + 1}.member")
        else:
            parts.append(f"{step}.member")
    return ".".join(parts)


def _wire_path(path: _Path) -> str:
    parts = []
    for step in _steps(path):
        if isinstance(step, _Member):
            parts.append(step.wire_name)
        elif isinstance(step, int):
            parts.append(str(step + 1))
        else:
            parts.append(str(step))
    return ".".join(parts)


def _type_mismatch(node: _Node, value: Any) -> _TypeMismatch:
    if isinstance(value, list):
        return _TypeMismatch("Start of list found where not expected")
    if isinstance(value, dict):
        return _TypeMismatch("Start of structure or map found where not expected.")
    if node.kind == _LIST:
        return _TypeMismatch("Expected list or null")
    if node.kind == _MAP:
        return _TypeMismatch("Expected map or null")
    if node.kind == _STRUCT:
        return _TypeMismatch("Expected null")
    target = _JAVA_NAMES.get(node.type_name, "an Object")
    if isinstance(value, str) and node.type_name == "boolean":
        return _TypeMismatch(f"'{value.upper()}' can not be converted to {target}")
    if isinstance(value, bool):
        source = "java.lang.Boolean"
    elif isinstance(value, int | float):
        source = "com.amazon.coral.value.json.numbers.TruncatingBigNumber"
    else:
        source = "java.lang.String"
    return _TypeMismatch(f"class {source} can not be converted to {target}")


def _type_ok(node: _Node, value: Any) -> bool:
    # Subclasses (OrderedDict, IntEnum...) are rare; bool must never pass for a number.
    if isinstance(value, bool):
        return node.type_name == "boolean"
    return any(isinstance(value, t) for t in node.types or ())


def _own_failures(node: _Node, value: Any) -> list[str]:
    """The constraint texts ``value`` breaks, in the order Coral lists them."""
    failed = []
    if node.min_len is not None or node.max_len is not None:
        size = _java_length(value) if isinstance(value, str) else len(value)
        if node.min_len is not None and size < node.min_len:
            failed.append(f"Member must have length greater than or equal to {node.min_len}")
        if node.max_len is not None and size > node.max_len:
            failed.append(f"Member must have length less than or equal to {node.max_len}")
    if node.min_val is not None and value < node.min_val:
        failed.append(
            "Member must have value greater than or equal to "
            + _bound(node.min_val, node.type_name)
        )
    if node.max_val is not None and value > node.max_val:
        failed.append(
            "Member must have value less than or equal to " + _bound(node.max_val, node.type_name)
        )
    if node.pattern is not None and node.pattern.fullmatch(value) is None:
        failed.append(f"Member must satisfy regular expression pattern: {node.pattern.pattern}")
    if node.enum is not None and value not in node.enum:
        failed.append(node.constraint_texts[-1])
    return failed


def _walk(
    node: _Node, value: Any, path: _Path, out: list[_Violation], cap: int, own: bool = True
) -> None:
    types = node.types
    if types is not None and type(value) not in types and not _type_ok(node, value):
        raise _type_mismatch(node, value)
    if own and node.own:
        for text in _own_failures(node, value):
            out.append(_Violation(path, value, node, text))
    kind = node.kind
    if kind == _STRUCT:
        if node.required or len(value) > 1:
            for member in node.members:
                if len(out) >= cap:
                    return
                v = value.get(member.name)
                if v is None:
                    if member.required:
                        out.append(_Violation((path, member), None, None, _NOT_NULL))
                    continue
                child = member.node
                if child is None:
                    continue
                # Most members are scalars whose type matches and that carry no constraint:
                # settled here, without a call per member (the hot path of every request).
                if child.kind == _SCALAR and type(v) in (child.types or ()):
                    if not child.own:
                        continue
                    span = child.span
                    if span is not None and span[0] <= len(v) <= span[1] and v.isascii():
                        continue
                    if (
                        child.enum is not None
                        and v in child.enum
                        and len(child.constraint_texts) == 1
                    ):
                        continue
                _walk(child, v, (path, member), out, cap)
        else:
            for name, v in value.items():
                present = node.by_name.get(name)
                if present is not None and present.node is not None and v is not None:
                    _walk(present.node, v, (path, present), out, cap)
    elif kind == _LIST:
        item = node.item
        if item is not None:
            for i, v in enumerate(value):
                if len(out) >= cap:
                    return
                if v is not None:
                    _walk(item, v, (path, i), out, cap)
    elif kind == _MAP:
        _walk_map(node, value, path, out, cap)


def _walk_map(
    node: _Node, value: dict[str, Any], path: _Path, out: list[_Violation], cap: int
) -> None:
    key, item = node.key, node.item
    # A map's keys and values are reported once each, listing every constraint of the key or
    # value shape, at the map's own path.
    if key is not None and key.own:
        for k in value:
            if _own_failures(key, k):
                texts = ", ".join(key.constraint_texts)
                out.append(
                    _Violation(path, value, node, f"Map keys must satisfy constraint: [{texts}]")
                )
                break
    if item is None:
        return
    if item.own:
        for v in value.values():
            if v is not None and _own_failures(item, v):
                texts = ", ".join(item.constraint_texts)
                out.append(
                    _Violation(path, value, node, f"Map value must satisfy constraint: [{texts}]")
                )
                break
    if item.types is None and item.kind == _SCALAR:
        return
    for k, v in value.items():
        if len(out) >= cap:
            return
        if v is not None:
            _walk(item, v, (path, k), out, cap, own=False)


_NOT_NULL = "Member must not be null"


def validate(operation_model: OperationModel, params: Mapping[str, Any]) -> None:
    """Raise the service's own error if ``params`` breaks the operation's input shape."""
    plan = _plans.get(id(operation_model))
    if plan is None:
        plan = _plan(operation_model)
    root = plan.root
    if root is None:
        return
    style = plan.style
    cap = MAX_REPORTED if style.kind == "coral" else 1
    out: list[_Violation] = []
    try:
        _walk(root, params, None, out, cap)
    except _TypeMismatch as exc:
        raise ServiceError("SerializationException", exc.message) from None
    if out:
        raise _report(plan.service, style, out[:cap])


def _report(service: ServiceModel, style: Style, found: list[_Violation]) -> ServiceError:
    if style.kind == "coral":
        texts = [
            f"Value {_render(v.value, v.node)} at '{_coral_path(v.path)}' "
            f"failed to satisfy constraint: {v.constraint}"
            for v in found
        ]
        return _error(service, style, style.code, _coral_message(texts))
    first = found[0]
    if first.constraint is _NOT_NULL and style.missing_code:
        message = style.missing_message.format(_wire_path(first.path))
        return _error(service, style, style.missing_code, message)
    shown = _java(first.value, first.node)
    message = f"Value ({shown}) for parameter {_coral_path(first.path)} is invalid."
    return _error(service, style, style.code, message)
