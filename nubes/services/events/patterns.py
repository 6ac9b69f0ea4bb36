"""EventBridge event patterns: validation with AWS's reasons, and matching.

A pattern is a JSON object mirroring the event: a key holds either a nested object or a list of
match values (exact strings, numbers, ``true``/``false``/``null``, or one-key operator objects:
``prefix``, ``suffix``, ``equals-ignore-case``, ``wildcard``, ``anything-but``, ``numeric``,
``exists``, ``cidr``). ``$or`` at any level holds alternative sub-patterns. A list value in the
event matches when any of its elements does; the fields a nested pattern names must all match
within the same array element.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

NUMERIC_LIMIT = 5.0e9
_MISSING = object()


class PatternError(ValueError):
    """A pattern EventBridge refuses; ``str()`` is the reason AWS gives."""


Matcher = Callable[[Any], bool]


@dataclass(frozen=True)
class _Leaf:
    matchers: tuple[Matcher, ...]
    """The leaf matches when any of these matches any of the field's values."""


@dataclass(frozen=True)
class Pattern:
    fields: tuple[tuple[str, Pattern | _Leaf], ...]
    alternatives: tuple[tuple[Pattern, ...], ...]
    """Each ``$or`` at this level: at least one of its sub-patterns must match."""

    def matches(self, event: Any) -> bool:
        return _match_object(self, event)


def parse(text: str) -> Pattern:
    """Parse and validate a pattern's JSON text; raises :class:`PatternError`."""
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise PatternError(f"Unrecognized token in event pattern: {exc}") from None
    return compile_pattern(doc)


def _no_constant(name: str) -> Any:
    raise ValueError(f"Unrecognized token '{name}'")


def compile_pattern(doc: Any) -> Pattern:
    if not isinstance(doc, dict):
        raise PatternError("Filter is not an object")
    return _object(doc)


def _object(doc: dict[str, Any]) -> Pattern:
    fields: list[tuple[str, Pattern | _Leaf]] = []
    alternatives: list[tuple[Pattern, ...]] = []
    for key, value in doc.items():
        if key == "$or" and isinstance(value, list):
            alternatives.append(_or(value))
        elif isinstance(value, dict):
            if not value:
                raise PatternError("Empty objects are not allowed")
            fields.append((key, _object(value)))
        elif isinstance(value, list):
            fields.append((key, _leaf(key, value)))
        else:
            raise PatternError(f'"{key}" must be an object or an array')
    return Pattern(tuple(fields), tuple(alternatives))


def _or(items: list[Any]) -> tuple[Pattern, ...]:
    if len(items) < 2:
        raise PatternError("Or relationship must have at least 2 sub-patterns")
    subs = []
    for item in items:
        if not isinstance(item, dict):
            raise PatternError("Elements of $or must be objects")
        if not item:
            raise PatternError("Empty objects are not allowed")
        subs.append(_object(item))
    return tuple(subs)


def _leaf(key: str, items: list[Any]) -> _Leaf:
    if not items:
        raise PatternError("Empty arrays are not allowed")
    matchers: list[Matcher] = []
    for item in items:
        if isinstance(item, dict):
            if len(item) != 1:
                raise PatternError("Only one key allowed in match expression")
            ((op, arg),) = item.items()
            if op == "exists":
                if not isinstance(arg, bool):
                    raise PatternError("exists match pattern must be either true or false.")
                matchers.append(_Presence(arg))
            else:
                matchers.append(_operator(op, arg))
        elif isinstance(item, list):
            raise PatternError("Match value must be String, number, true, false, or null")
        else:
            matchers.append(_exact(item))
    return _Leaf(tuple(matchers))


class _Presence:
    """``exists``: a test on whether the field has a value at all, not on the value."""

    def __init__(self, present: bool) -> None:
        self.present = present

    def __call__(self, value: Any) -> bool:
        return self.present


# -- values -----------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _exact(expected: Any) -> Matcher:
    if _is_number(expected):
        # Exact numbers have no range limit (only numeric comparisons do).
        number = float(expected)
        return lambda v: _is_number(v) and _same_number(v, number)
    if isinstance(expected, bool) or expected is None:
        return lambda v: v is expected
    if isinstance(expected, str):
        return lambda v: isinstance(v, str) and v == expected
    raise PatternError("Match value must be String, number, true, false, or null")


def _check_number(value: Any) -> float:
    number = float(value)
    if math.isnan(number) or not -NUMERIC_LIMIT <= number <= NUMERIC_LIMIT:
        raise PatternError(
            f"Value {value} is out of range: numbers must be between -5.0E9 and 5.0E9"
        )
    return number


def _same_number(a: Any, b: float) -> bool:
    # Six decimal places of precision, as EventBridge compares numbers.
    return round(float(a), 6) == round(b, 6)


def _string_arg(op: str, arg: Any) -> str:
    if not isinstance(arg, str):
        raise PatternError(f"{op} match pattern must be a string")
    return arg


def _operator(op: str, arg: Any) -> Matcher:
    if op in ("prefix", "suffix"):
        return _affix(op, arg)
    if op == "equals-ignore-case":
        text = _string_arg(op, arg).casefold()
        return lambda v: isinstance(v, str) and v.casefold() == text
    if op == "wildcard":
        regex = _wildcard(_string_arg(op, arg))
        return lambda v: isinstance(v, str) and regex.fullmatch(v) is not None
    if op == "anything-but":
        return _anything_but(arg)
    if op == "numeric":
        return _numeric(arg)
    if op == "cidr":
        network = _network(arg)
        return lambda v: _in_network(v, network)
    raise PatternError(f"Unrecognized match type {op}")


def _affix(op: str, arg: Any) -> Matcher:
    ignore_case = False
    if isinstance(arg, dict):
        if list(arg) != ["equals-ignore-case"]:
            raise PatternError(f"Unsupported {op} pattern: {json.dumps(arg)}")
        arg = arg["equals-ignore-case"]
        ignore_case = True
    text = _string_arg(op, arg)
    if ignore_case:
        text = text.casefold()
    check = str.startswith if op == "prefix" else str.endswith
    if ignore_case:
        return lambda v: isinstance(v, str) and check(v.casefold(), text)
    return lambda v: isinstance(v, str) and check(v, text)


def _wildcard(text: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text) or text[i + 1] not in "*\\":
                raise PatternError(f"Invalid escape character at pos {i}")
            out.append(re.escape(text[i + 1]))
            i += 2
            continue
        if ch == "*":
            if i + 1 < len(text) and text[i + 1] == "*":
                raise PatternError(f"Consecutive wildcard characters at pos {i + 1}")
            out.append(".*")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _anything_but(arg: Any) -> Matcher:
    if isinstance(arg, dict):
        if len(arg) != 1:
            raise PatternError("Only one key allowed in anything-but expression")
        ((op, inner),) = arg.items()
        if op in ("prefix", "suffix"):
            affix = _affix(op, _string_arg(f"anything-but {op}", inner))
            return lambda v: isinstance(v, str) and not affix(v)
        if op in ("equals-ignore-case", "wildcard"):
            items = inner if isinstance(inner, list) else [inner]
            if not items or not all(isinstance(i, str) for i in items):
                raise PatternError(
                    f"Inside anything-but/{op} list, number|start|null|boolean is not supported."
                )
            subs = [_operator(op, i) for i in items]
            return lambda v: isinstance(v, str) and not any(m(v) for m in subs)
        raise PatternError(f"Unsupported anything-but pattern: {op}")
    if isinstance(arg, list):
        if not arg:
            raise PatternError("Empty arrays are not allowed")
        kinds = {"number" if _is_number(i) else type(i).__name__ for i in arg}
        if not kinds <= {"str", "number"} or len(kinds) != 1:
            raise PatternError(
                "Inside anything but list, start|null|boolean is not supported."
                if not kinds <= {"str", "number"}
                else "Inside anything but list, all elements must be of the same type."
            )
        excluded = [_exact(i) for i in arg]
        return lambda v: not any(m(v) for m in excluded)
    if isinstance(arg, str) or _is_number(arg):
        excluded_one = _exact(arg)
        return lambda v: not excluded_one(v)
    raise PatternError("Value of anything-but must be an array or single string/number value.")


_LOWER = (">", ">=")
_UPPER = ("<", "<=")


def _numeric(arg: Any) -> Matcher:
    if not isinstance(arg, list) or not arg:
        raise PatternError("Value of numeric must be an array.")
    if len(arg) % 2 or len(arg) > 4:
        raise PatternError("Too many elements in numeric expression")
    bounds: list[tuple[str, float]] = []
    for i in range(0, len(arg), 2):
        op, number = arg[i], arg[i + 1]
        if op not in ("=", *_LOWER, *_UPPER):
            raise PatternError(f"Unrecognized numeric range operator: {op}")
        if not _is_number(number):
            raise PatternError(f"Value of {op} must be numeric")
        bounds.append((op, _check_number(number)))
    if len(bounds) == 2:
        (lo_op, lo), (hi_op, hi) = bounds
        if lo_op not in _LOWER or hi_op not in _UPPER:
            raise PatternError(
                "Invalid member in numeric match: must be a range with a bottom and a top"
            )
        if lo >= hi:
            raise PatternError("Bottom must be less than top")

    def check(value: Any) -> bool:
        if not _is_number(value):
            return False
        v = round(float(value), 6)
        for op, bound in bounds:
            b = round(bound, 6)
            ok = {
                "=": v == b,
                ">": v > b,
                ">=": v >= b,
                "<": v < b,
                "<=": v <= b,
            }[op]
            if not ok:
                return False
        return True

    return check


def _network(arg: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not isinstance(arg, str):
        raise PatternError("cidr match pattern must be a string")
    try:
        return ipaddress.ip_network(arg, strict=False)
    except ValueError:
        raise PatternError(f"Nonstandard IP address: {arg}") from None


def _in_network(value: Any, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return ipaddress.ip_address(value) in network
    except ValueError:
        return False


# -- matching ---------------------------------------------------------------------------------


def _elements(value: Any) -> Iterator[Any]:
    """An event value and, for lists, every element (nested lists flattened)."""
    if isinstance(value, list):
        for item in value:
            yield from _elements(item)
    else:
        yield value


def _match_object(pattern: Pattern, value: Any) -> bool:
    if isinstance(value, list):
        return any(_match_object(pattern, item) for item in _elements(value)) or (
            not value and _match_object(pattern, _MISSING)
        )
    for key, sub in pattern.fields:
        child = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
        if isinstance(sub, Pattern):
            if not _match_object(sub, child):
                return False
        elif not _match_leaf(sub, child):
            return False
    return all(any(_match_object(alt, value) for alt in group) for group in pattern.alternatives)


def _match_leaf(leaf: _Leaf, value: Any) -> bool:
    # An object is not a leaf: for the leaf's matchers it is as if the field were absent.
    scalars = [v for v in _elements(value) if v is not _MISSING and not isinstance(v, dict)]
    for matcher in leaf.matchers:
        if isinstance(matcher, _Presence):
            if bool(scalars) == matcher.present:
                return True
            continue
        if any(matcher(v) for v in scalars):
            return True
    return False
