"""AttributeValues: validation and normal form, numbers, ordering, item size, storage encoding.

Items travel as the wire shape (``{"S": "x"}``, ``{"N": "1.5"}``, ``{"B": b"..."}``) with numbers
kept as their normalised decimal text (no exponent, no trailing zeros, as DynamoDB answers).
"""

from __future__ import annotations

import base64
import contextvars
import decimal
import json
import json.scanner
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from nubes.protocol.base import ServiceError
from nubes.services.dynamodb.errors import RequestValidationException, ValidationException

Item = dict[str, Any]
Value = dict[str, Any]

TYPES = ("S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS")
SCALAR_KEY_TYPES = ("S", "N", "B")
MAX_ITEM_SIZE = 400 * 1024
MAX_HASH_KEY = 2048
MAX_RANGE_KEY = 1024
MAX_DEPTH = 32

CONTEXT = decimal.Context(prec=38, rounding=decimal.ROUND_HALF_EVEN, Emax=125, Emin=-130)
_WIDE = decimal.Context(prec=1000)  # exact: for counting digits, never rounding
_MAX = Decimal("9.9999999999999999999999999999999999999E+125")
_MIN = Decimal("1E-130")


def invalid(message: str) -> Exception:
    return ValidationException(f"One or more parameter values were invalid: {message}")


# DynamoDB checks attribute values in one of two layers, by operation, and words a bad number
# or a repeated set member differently in each: "current" (GetItem, BatchGetItem, Query; and,
# inside the request-validation envelope, PutItem, UpdateItem, DeleteItem) or "older" (the rest).
_LAYER: contextvars.ContextVar[str] = contextvars.ContextVar("ddb_value_layer", default="older")


@contextmanager
def value_layer(name: str) -> Iterator[None]:
    """Check values as ``name`` ("current", "enveloped" or "older") within the block."""
    token = _LAYER.set(name)
    try:
        yield
    finally:
        _LAYER.reset(token)


def current_layer() -> bool:
    return _LAYER.get() != "older"


def request_error(message: str) -> Exception:
    """A check of the request itself: in the envelope where the operation's layer uses it."""
    if _LAYER.get() == "enveloped":
        return RequestValidationException(message)
    return ValidationException(message)


# --- numbers ---------------------------------------------------------------------------------


def parse_number(text: str) -> Decimal:
    """The decimal of a Number's text, within DynamoDB's 38 digits and exponent range."""
    if not text:
        suffix = ": " if current_layer() else ""
        raise ValidationException(f"The parameter cannot be converted to a numeric value{suffix}")
    stripped = text.strip()
    try:
        if not stripped or stripped != text or not _NUMBER_CHARS.issuperset(stripped):
            raise decimal.InvalidOperation
        value = Decimal(stripped)
        if not value.is_finite():
            raise decimal.InvalidOperation
    except decimal.InvalidOperation:
        raise ValidationException(
            f"The parameter cannot be converted to a numeric value: {text}"
        ) from None
    if value.is_zero():
        return Decimal(0)
    # An exponent far out of range (1e999999999) would overflow even the wide context below.
    if value.adjusted() > _MAX.adjusted():
        raise _overflow()
    if value.adjusted() < _MIN.adjusted():
        raise _underflow()
    digits = value.normalize(_WIDE).as_tuple().digits
    if len(digits) > 38:
        raise ValidationException("Attempting to store more than 38 significant digits in a Number")
    magnitude = value.copy_abs()  # exact: abs() would round to the default precision
    if magnitude > _MAX:
        raise _overflow()
    if magnitude < _MIN:
        raise _underflow()
    return value


def _overflow() -> Exception:
    return ValidationException(
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    )


def _underflow() -> Exception:
    return ValidationException(
        "Number underflow. Attempting to store a number with magnitude smaller than supported range"
    )


_NUMBER_CHARS = frozenset("0123456789.eE+-")


def format_number(value: Decimal) -> str:
    """Text without exponent or trailing zeros (``1E+2`` -> ``100``, ``1.50`` -> ``1.5``)."""
    if value.is_zero():
        return "0"
    text = format(value.normalize(CONTEXT), "f")
    return text


_PLAIN_INTEGER = re.compile(r"-?[1-9][0-9]{0,37}|0")


def normal_number(text: str) -> str:
    if _PLAIN_INTEGER.fullmatch(text):
        return text  # already in normal form: most numbers on the wire are
    return format_number(parse_number(text))


def number_arith(left: str, right: str, subtract: bool) -> str:
    a, b = Decimal(left), Decimal(right)
    result = _WIDE.subtract(a, b) if subtract else _WIDE.add(a, b)
    if not result.is_zero() and len(result.normalize(_WIDE).as_tuple().digits) > 38:
        # DynamoDB words a result too precise to store as an overflow.
        raise ValidationException(
            "Number overflow. Attempting to store a number with magnitude larger than supported "
            "range"
        )
    return format_number(parse_number(format(result, "f")))


# --- validation ------------------------------------------------------------------------------


def check_value(value: Any, depth: int = 1) -> Value:
    """Validate one AttributeValue and return its normal form (numbers normalised)."""
    if _LAYER.get() != "enveloped" or depth > 1:
        return _check_value(value, depth)
    try:
        return _check_value(value, depth)
    except ServiceError as exc:
        raise RequestValidationException(exc.message) from None


def _check_value(value: Any, depth: int) -> Value:
    if not isinstance(value, Mapping) or not value:
        raise ValidationException(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    if len(value) > 1:
        raise ValidationException(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one "
            "of the supported datatypes"
        )
    if depth > MAX_DEPTH:
        raise ValidationException("Nesting Levels have exceeded supported limits")
    ((kind, inner),) = value.items()
    if kind in ("S", "B", "BOOL"):
        return {kind: inner}
    if kind == "N":
        return {"N": normal_number(inner)}
    if kind == "NULL":
        if inner is not True:
            raise invalid("Null attribute value types must have the value of true")
        return {"NULL": True}
    if kind == "M":
        return {"M": {k: _check_value(v, depth + 1) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_check_value(v, depth + 1) for v in inner]}
    if kind in ("SS", "NS", "BS"):
        return {kind: check_set(kind, inner)}
    raise ValidationException(
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
    )


_EMPTY_SET = {
    "SS": "An string set  may not be empty",
    "NS": "An number set  may not be empty",
    "BS": "Binary sets should not be empty",
}


def check_set(kind: str, members: list[Any]) -> list[Any]:
    if not members:
        raise invalid(_EMPTY_SET[kind])
    if kind == "NS":
        members = [normal_number(m) for m in members]
        if len({Decimal(m) for m in members}) != len(members):
            if current_layer():
                raise invalid("Input collection contains duplicates.")
            raise ValidationException("Input collection contains duplicates")
        return members
    if len(set(members)) != len(members):
        # DynamoDB's own wording, missing space included for binary sets.
        if current_layer():
            raise invalid(_current_duplicates(kind, members))
        if kind == "BS":
            shown = ", ".join(base64.b64encode(m).decode() for m in members)
            raise invalid(f"Input collection [{shown}]of type BS contains duplicates.")
        raise invalid(f"Input collection [{', '.join(members)}] contains duplicates.")
    return members


def _current_duplicates(kind: str, members: list[Any]) -> str:
    """The current layer lists the members in byte order up to the first repeat, then the
    repeat, then the rest as sent; quoted, binaries in base64 and without spaces."""
    order = list(members)
    for position, member in enumerate(members):
        if member in members[:position]:
            seen = sorted(set(members[:position]), key=lambda m: m if kind == "BS" else m.encode())
            order = [*seen, member, *members[position + 1 :]]
            break
    if kind == "BS":
        shown = ",".join(f'"{base64.b64encode(m).decode()}"' for m in order)
        return f"Input collection [{shown}]of type BS contains duplicates."
    shown = ", ".join(f'"{m}"' for m in order)
    return f"Input collection [{shown}] contains duplicates."


def check_item(item: Mapping[str, Any]) -> Item:
    return {name: check_value(value) for name, value in item.items()}


def value_type(value: Value) -> str:
    return next(iter(value))


# --- equality and ordering -------------------------------------------------------------------


def equal(a: Value, b: Value) -> bool:
    ka, kb = value_type(a), value_type(b)
    if ka != kb:
        return False
    va, vb = a[ka], b[kb]
    if ka == "N":
        return Decimal(va) == Decimal(vb)
    if ka == "NS":
        return {Decimal(x) for x in va} == {Decimal(x) for x in vb}
    if ka in ("SS", "BS"):
        return set(va) == set(vb)
    if ka == "M":
        return va.keys() == vb.keys() and all(equal(va[k], vb[k]) for k in va)
    if ka == "L":
        return len(va) == len(vb) and all(equal(x, y) for x, y in zip(va, vb, strict=True))
    return bool(va == vb)


def scalar(value: Value) -> Any:
    """A comparable Python value of an S, N or B (None for other types)."""
    kind = value_type(value)
    if kind == "N":
        return Decimal(value["N"])
    if kind in ("S", "B"):
        return value[kind]
    return None


def compare(a: Value, b: Value) -> int | None:
    """-1/0/1 for two values of the same ordered type (S, N, B), else None."""
    ka, kb = value_type(a), value_type(b)
    if ka != kb or ka not in SCALAR_KEY_TYPES:
        return None
    x, y = scalar(a), scalar(b)
    if ka == "S":
        x, y = x.encode(), y.encode()
    return (x > y) - (x < y)


# --- sortable keys ---------------------------------------------------------------------------


def sort_key(value: Value) -> Any:
    """What a key attribute is stored as so SQLite orders it as DynamoDB does: S as text (UTF-8
    byte order), B as a blob, N as text in an order-preserving encoding of the decimal."""
    kind = value_type(value)
    if kind == "S":
        return value["S"]
    if kind == "B":
        return bytes(value["B"])
    return number_key(Decimal(value["N"]))


def number_key(value: Decimal) -> str:
    """Sign class, then the exponent, then the digits; for negatives both are complemented
    (and a terminator above every digit), so text order is numeric order."""
    if value.is_zero():
        return "1"
    sign, digits, _ = value.normalize(_WIDE).as_tuple()
    exponent = value.adjusted() + 200
    text = "".join(map(str, digits))
    if not sign:
        return f"2{exponent:03d}{text}"
    inverted = "".join(str(9 - d) for d in digits)
    return f"0{999 - exponent:03d}{inverted}~"


# --- size ------------------------------------------------------------------------------------


def item_size(item: Mapping[str, Value]) -> int:
    """Bytes as AWS counts them: attribute names plus values (see "Item sizes and formats")."""
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def value_size(value: Value) -> int:
    kind = value_type(value)
    inner = value[kind]
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner)
    if kind == "N":
        return number_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "NS":
        return sum(number_size(n) for n in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in inner.items())
    return 3 + sum(value_size(v) + 1 for v in inner)


def number_size(text: str) -> int:
    """A byte, then a byte per two significant digits counted separately either side of the
    point (rounding up), and a byte more if negative (as DynamoDB measures; its guide's
    "one byte per two digits" undercounts)."""
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("-").partition(".")
    whole = whole.lstrip("0")
    fraction = fraction.rstrip("0")
    if not fraction:
        whole = whole.rstrip("0")
    if not whole:
        fraction = fraction.lstrip("0")
    return 1 + (len(whole) + 1) // 2 + (len(fraction) + 1) // 2 + negative


# --- storage encoding (JSON text; binary as base64) ------------------------------------------


def dumps(item: Mapping[str, Value]) -> str:
    return json.dumps(item, separators=(",", ":"), default=_b64)


def _b64(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(type(value))


# The C scanner straight away: stored documents are compact JSON objects, so json.loads's
# whitespace handling and wrappers are pure overhead on every item a read returns.
_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def loads(text: str) -> Item:
    item: Item = _scan(text, 0)[0]
    # Most items hold no binary: skip the walk unless a B or BS tag is in the text.
    if '"B"' in text or '"BS"' in text:
        for value in item.values():
            _unb64(value)
    return item


def _unb64(value: Value) -> None:
    if "B" in value:
        value["B"] = base64.b64decode(value["B"])
    elif "BS" in value:
        value["BS"] = [base64.b64decode(b) for b in value["BS"]]
    elif "M" in value:
        for v in value["M"].values():
            _unb64(v)
    elif "L" in value:
        for v in value["L"]:
            _unb64(v)
