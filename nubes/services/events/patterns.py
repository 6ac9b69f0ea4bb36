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
    matchers: tuple[Matcher | _Presence, ...]
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
        # NaN and Infinity are not JSON, whatever Python's parser would take.
        doc = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise PatternError("Invalid JSON") from None
    return compile_pattern(doc)


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def compile_pattern(doc: Any) -> Pattern:
    if not isinstance(doc, dict):
        raise PatternError("Filter is not an object")
    return _object(doc)


def _object(doc: dict[str, Any]) -> Pattern:
    if not doc:
        raise PatternError("Empty objects are not allowed")
    fields: list[tuple[str, Pattern | _Leaf]] = []
    alternatives: list[tuple[Pattern, ...]] = []
    for key, value in doc.items():
        if key == "$or":
            alternatives.append(_or(value))
        elif isinstance(value, dict):
            fields.append((key, _object(value)))
        elif isinstance(value, list):
            fields.append((key, _leaf(key, value)))
        else:
            raise PatternError(f'"{key}" must be an object or an array')
    return Pattern(tuple(fields), tuple(alternatives))


def _or(items: Any) -> tuple[Pattern, ...]:
    if not isinstance(items, list):
        raise PatternError("It must be an Array followed with $or.")
    subs = []
    for item in items:
        if not isinstance(item, dict):
            raise PatternError("Only JSON object is allowed in array of $or relationship.")
        subs.append(_object(item))
    if len(subs) < 2:
        raise PatternError("There must have at least 2 Objects in $or relationship.")
    return tuple(subs)


def _leaf(key: str, items: list[Any]) -> _Leaf:
    if not items:
        raise PatternError("Empty arrays are not allowed")
    matchers: list[Matcher | _Presence] = []
    for item in items:
        if isinstance(item, dict):
            if not item:
                raise PatternError("Match expression name not found")
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


@dataclass(frozen=True)
class _Presence:
    """``exists``: a test on whether the field has a value at all, not on the value."""

    present: bool


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
    if op == "exact":
        return _exact(_string_arg(op, arg))
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
        if not arg:
            raise PatternError("Anything-But expression name not found")
        if len(arg) != 1:
            raise PatternError("Only one key allowed in match expression")
        ((op, inner),) = arg.items()
        if op in ("prefix", "suffix"):
            if not isinstance(inner, str):
                raise PatternError("prefix/suffix match pattern must be a string")
            if not inner:
                raise PatternError("Null prefix/suffix not allowed")
            affix = _affix(op, inner)
            return lambda v: isinstance(v, str) and not affix(v)
        if op in ("equals-ignore-case", "wildcard"):
            items = inner if isinstance(inner, list) else [inner]
            if not all(isinstance(i, str) for i in items):
                raise PatternError(
                    f"Inside anything-but/{op} list, number|start|null|boolean is not supported."
                )
            if not items:
                raise PatternError("Empty arrays are not allowed")
            subs = [_operator(op, i) for i in items]
            return lambda v: isinstance(v, str) and not any(m(v) for m in subs)
        raise PatternError(f"Unsupported anything-but pattern: {op}")
    if isinstance(arg, list):
        if any(not isinstance(i, str) and not _is_number(i) for i in arg):
            raise PatternError("Inside anything but list, start|null|boolean is not supported.")
        strings = sum(isinstance(i, str) for i in arg)
        if not arg or 0 < strings < len(arg):
            raise PatternError(
                "Inside anything but list, either all values are number or string, mixed type "
                "is not supported"
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
    if not isinstance(arg, list):
        raise PatternError("Value of numeric must be an array.")
    bounds = _numeric_bounds(arg)

    def check(value: Any) -> bool:
        if not _is_number(value):
            return False
        v = round(float(value), 6)
        return all(_COMPARE[op](v, round(bound, 6)) for op, bound in bounds)

    return check


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "=": lambda v, b: v == b,
    ">": lambda v, b: v > b,
    ">=": lambda v, b: v >= b,
    "<": lambda v, b: v < b,
    "<=": lambda v, b: v <= b,
}


def _numeric_bounds(arg: list[Any]) -> list[tuple[str, float]]:
    """The comparisons of a numeric expression, refused in the words AWS uses: ``=``, ``<`` and
    ``<=`` stand alone; ``>`` and ``>=`` may be followed by an upper bound."""
    if not arg or not isinstance(arg[0], str):
        raise PatternError(f"Invalid member in numeric match: {json.dumps(arg[0] if arg else ']')}")
    op = arg[0]
    if op not in _COMPARE:
        raise PatternError(f"Unrecognized numeric range operator: {op}")
    if len(arg) < 2 or not _is_number(arg[1]):
        raise PatternError(f"Value of {'equals' if op == '=' else op} must be numeric")
    bounds = [(op, _check_number(arg[1]))]
    if op not in _LOWER:
        if len(arg) > 2:
            raise PatternError("Too many elements in numeric expression")
        return bounds
    if len(arg) == 2:
        return bounds
    top_op = arg[2]
    if not isinstance(top_op, str):
        raise PatternError(f"Bad value in numeric range: {json.dumps(top_op)}")
    if top_op not in _UPPER:
        raise PatternError(f"Bad numeric range operator: {top_op}")
    if len(arg) < 4 or not _is_number(arg[3]):
        raise PatternError(f"Value of {top_op} must be numeric")
    if len(arg) > 4:
        raise PatternError("Too many terms in numeric range expression")
    top = _check_number(arg[3])
    if bounds[0][1] >= top:
        raise PatternError("Bottom must be less than top")
    return [*bounds, (top_op, top)]


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
