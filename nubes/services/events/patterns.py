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
SNIPPET = 500
_MISSING = object()


class PatternError(ValueError):
    """A pattern EventBridge refuses; ``str()`` is the reason AWS gives."""

    def __init__(self, reason: str, where: _Where | None = None) -> None:
        super().__init__(reason)
        self.where = where


Matcher = Callable[[Any], bool]


@dataclass(frozen=True)
class _Where:
    """Where the rule compiler stood when it refused, in terms of the parsed pattern: a value
    (by its container and key or index) just ``opened`` (a string's opening quote, a bracket,
    or a whole number or literal) or fully ``read``; or a container just ``closed``."""

    mode: str
    container: Any
    key: Any = None


@dataclass(frozen=True)
class _Presence:
    """``exists``: a test on whether the field has a value at all, not on the value."""

    present: bool


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
    """Parse and validate a pattern's JSON text; raises :class:`PatternError` whose message
    ends, as AWS's does, with where in the text the compiler stopped."""
    try:
        doc, spans = _Reader(text).document()
    except (ValueError, RecursionError):
        raise PatternError("Invalid JSON") from None
    try:
        return compile_pattern(doc)
    except PatternError as exc:
        if exc.where is None:
            raise
        offset = _offset(spans, exc.where)
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        raise PatternError(
            f"{exc}\n at [Source: (String){_snippet(text)}; line: {line}, column: {column}]"
        ) from None


def _snippet(text: str) -> str:
    """The pattern as the JSON reader quotes it in a location: 500 characters at most."""
    if len(text) <= SNIPPET:
        return f'"{text}"'
    return f'"{text[:SNIPPET]}"[truncated {len(text) - SNIPPET} chars]'


def compile_pattern(doc: Any) -> Pattern:
    if not isinstance(doc, dict):
        raise PatternError("Filter is not an object", _Where("opened", None))
    return _object(doc)


def _object(doc: dict[str, Any]) -> Pattern:
    if not doc:
        raise PatternError("Empty objects are not allowed", _Where("closed", doc))
    fields: list[tuple[str, Pattern | _Leaf]] = []
    alternatives: list[tuple[Pattern, ...]] = []
    for key, value in doc.items():
        if key == "$or":
            alternatives.append(_or(doc))
        elif isinstance(value, dict):
            fields.append((key, _object(value)))
        elif isinstance(value, list):
            fields.append((key, _leaf(value)))
        else:
            raise PatternError(f'"{key}" must be an object or an array', _Where("opened", doc, key))
    return Pattern(tuple(fields), tuple(alternatives))


def _or(doc: dict[str, Any]) -> tuple[Pattern, ...]:
    items = doc["$or"]
    if not isinstance(items, list):
        raise PatternError("It must be an Array followed with $or.", _Where("opened", doc, "$or"))
    subs = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise PatternError(
                "Only JSON object is allowed in array of $or relationship.",
                _Where("opened", items, index),
            )
        subs.append(_object(item))
    if len(subs) < 2:
        raise PatternError(
            "There must have at least 2 Objects in $or relationship.", _Where("closed", items)
        )
    return tuple(subs)


def _leaf(items: list[Any]) -> _Leaf:
    if not items:
        raise PatternError("Empty arrays are not allowed", _Where("closed", items))
    matchers: list[Matcher | _Presence] = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            matchers.append(_expression(item))
        elif isinstance(item, list):
            raise PatternError(
                "Match value must be String, number, true, false, or null",
                _Where("opened", items, index),
            )
        else:
            matchers.append(_exact(item))
    return _Leaf(tuple(matchers))


def _expression(item: dict[str, Any]) -> Matcher | _Presence:
    """One ``{"operator": argument}`` match expression."""
    if not item:
        raise PatternError("Match expression name not found", _Where("closed", item))
    names = list(item)
    op = names[0]
    if op == "exists":
        if not isinstance(item[op], bool):
            raise PatternError(
                "exists match pattern must be either true or false.", _Where("opened", item, op)
            )
        matcher: Matcher | _Presence = _Presence(item[op])
    else:
        matcher = _operator(item, op)
    if len(names) > 1:
        reason = (
            "Too many elements in numeric expression"
            if op in ("numeric", "anything-but")
            else "Only one key allowed in match expression"
        )
        raise PatternError(reason, _Where("opened", item, names[1]))
    return matcher


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
    return lambda v: isinstance(v, str) and v == expected


def _check_number(value: Any, where: _Where) -> float:
    number = float(value)
    if math.isnan(number) or not -NUMERIC_LIMIT <= number <= NUMERIC_LIMIT:
        raise PatternError(
            f"Value {value} is out of range: numbers must be between -5.0E9 and 5.0E9", where
        )
    return number


def _same_number(a: Any, b: float) -> bool:
    # Six decimal places of precision, as EventBridge compares numbers.
    return round(float(a), 6) == round(b, 6)


def _string_arg(op: str, container: Any, key: Any) -> str:
    arg = container[key]
    if not isinstance(arg, str):
        raise PatternError(f"{op} match pattern must be a string", _Where("opened", container, key))
    return arg


def _operator(item: dict[str, Any], op: str) -> Matcher:
    if op in ("prefix", "suffix"):
        return _affix(item, op)
    if op == "exact":
        return _exact(_string_arg(op, item, op))
    if op == "equals-ignore-case":
        return _folded_equal(_string_arg(op, item, op))
    if op == "wildcard":
        return _full_match(_wildcard(_string_arg(op, item, op), _Where("read", item, op)))
    if op == "anything-but":
        return _anything_but(item)
    if op == "numeric":
        return _numeric(item)
    if op == "cidr":
        network = _network(item)
        return lambda v: _in_network(v, network)
    raise PatternError(f"Unrecognized match type {op}", _Where("opened", item, op))


def _affix(item: dict[str, Any], op: str) -> Matcher:
    """``prefix``/``suffix``, given a string or ``{"equals-ignore-case": string}``."""
    arg = item[op]
    container, key = item, op
    if isinstance(arg, dict) and list(arg) == ["equals-ignore-case"]:
        container, key = arg, "equals-ignore-case"
    text = _string_arg(op, container, key)
    check = str.startswith if op == "prefix" else str.endswith
    if container is not item:
        folded = text.casefold()
        return lambda v: isinstance(v, str) and check(v.casefold(), folded)
    return lambda v: isinstance(v, str) and check(v, text)


def _wildcard(text: str, where: _Where) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text) or text[i + 1] not in "*\\":
                raise PatternError(f"Invalid escape character at pos {i + 1}", where)
            out.append(re.escape(text[i + 1]))
            i += 2
            continue
        if ch == "*":
            if i + 1 < len(text) and text[i + 1] == "*":
                # Positions count the opening quote the compiler sees, as AWS reports them.
                raise PatternError(f"Consecutive wildcard characters at pos {i + 1}", where)
            out.append(".*")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _anything_but(item: dict[str, Any]) -> Matcher:
    arg = item["anything-but"]
    if isinstance(arg, dict):
        return _anything_but_operator(arg)
    if isinstance(arg, list):
        for index, value in enumerate(arg):
            if not isinstance(value, str) and not _is_number(value):
                raise PatternError(
                    "Inside anything but list, start|null|boolean is not supported.",
                    _Where("read", arg, index),
                )
        strings = sum(isinstance(i, str) for i in arg)
        if not arg or 0 < strings < len(arg):
            raise PatternError(
                "Inside anything but list, either all values are number or string, mixed type "
                "is not supported",
                _Where("closed", arg),
            )
        excluded = [_exact(i) for i in arg]
        return lambda v: not any(m(v) for m in excluded)
    if isinstance(arg, str) or _is_number(arg):
        excluded_one = _exact(arg)
        return lambda v: not excluded_one(v)
    raise PatternError(
        "Value of anything-but must be an array or single string/number value.",
        _Where("opened", item, "anything-but"),
    )


def _anything_but_operator(arg: dict[str, Any]) -> Matcher:
    if not arg:
        raise PatternError("Anything-But expression name not found", _Where("closed", arg))
    names = list(arg)
    op = names[0]
    inner = arg[op]
    if op in ("prefix", "suffix"):
        if not isinstance(inner, str):
            raise PatternError(
                "prefix/suffix match pattern must be a string", _Where("opened", arg, op)
            )
        if not inner:
            raise PatternError("Null prefix/suffix not allowed", _Where("read", arg, op))
        matcher = _affix(arg, op)
    elif op in ("equals-ignore-case", "wildcard"):
        places: list[tuple[Any, Any]] = (
            [(inner, index) for index in range(len(inner))]
            if isinstance(inner, list)
            else [(arg, op)]
        )
        if not places:
            raise PatternError("Empty arrays are not allowed", _Where("closed", inner))
        subs: list[Matcher] = []
        for container, key in places:
            value = container[key]
            if not isinstance(value, str):
                raise PatternError(
                    f"Inside anything-but/{op} list, number|start|null|boolean is not supported.",
                    _Where("read", container, key),
                )
            if op == "wildcard":
                subs.append(_full_match(_wildcard(value, _Where("read", container, key))))
            else:
                subs.append(_folded_equal(value))
        matcher = lambda v: any(m(v) for m in subs)  # noqa: E731
    else:
        raise PatternError(f"Unsupported anything-but pattern: {op}", _Where("opened", arg, op))
    if len(names) > 1:
        raise PatternError(
            "Only one key allowed in match expression", _Where("opened", arg, names[1])
        )
    return lambda v: isinstance(v, str) and not matcher(v)


def _full_match(regex: re.Pattern[str]) -> Matcher:
    return lambda v: isinstance(v, str) and regex.fullmatch(v) is not None


def _folded_equal(text: str) -> Matcher:
    folded = text.casefold()
    return lambda v: isinstance(v, str) and v.casefold() == folded


_LOWER = (">", ">=")
_UPPER = ("<", "<=")


def _numeric(item: dict[str, Any]) -> Matcher:
    arg = item["numeric"]
    if not isinstance(arg, list):
        raise PatternError("Value of numeric must be an array.", _Where("opened", item, "numeric"))
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

    def at(index: int, mode: str = "opened") -> _Where:
        return _Where(mode, arg, index) if index < len(arg) else _Where("closed", arg)

    if not arg or not isinstance(arg[0], str):
        shown = json.dumps(arg[0]) if arg else "]"
        raise PatternError(f"Invalid member in numeric match: {shown}", at(0, "read"))
    op = arg[0]
    if op not in _COMPARE:
        raise PatternError(f"Unrecognized numeric range operator: {op}", at(1))
    if len(arg) < 2 or not _is_number(arg[1]):
        raise PatternError(f"Value of {'equals' if op == '=' else op} must be numeric", at(1))
    bounds = [(op, _check_number(arg[1], at(1, "read")))]
    if op not in _LOWER:
        if len(arg) > 2:
            raise PatternError("Too many elements in numeric expression", at(2))
        return bounds
    if len(arg) == 2:
        return bounds
    top_op = arg[2]
    if not isinstance(top_op, str):
        raise PatternError(f"Bad value in numeric range: {json.dumps(top_op)}", at(2, "read"))
    if top_op not in _UPPER:
        raise PatternError(f"Bad numeric range operator: {top_op}", at(2, "read"))
    if len(arg) < 4 or not _is_number(arg[3]):
        raise PatternError(f"Value of {top_op} must be numeric", at(3))
    if len(arg) > 4:
        raise PatternError("Too many terms in numeric range expression", at(4))
    top = _check_number(arg[3], at(3, "read"))
    if bounds[0][1] >= top:
        raise PatternError("Bottom must be less than top", at(4))
    return [*bounds, (top_op, top)]


def _network(item: dict[str, Any]) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    text = _string_arg("cidr", item, "cidr")
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise PatternError(
            f"Nonstandard IP address: {text}", _Where("read", item, "cidr")
        ) from None


def _in_network(value: Any, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return ipaddress.ip_address(value) in network
    except ValueError:
        return False


# -- the pattern's text ------------------------------------------------------------------------


@dataclass
class _Span:
    start: int
    end: int
    kind: str
    """``container``, ``string`` or ``scalar``."""


_DECODER = json.JSONDecoder()
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class _Reader:
    """JSON with the place of every value: ``spans[id(container)]`` is the container's own span
    (key None) and its members' (by key or index)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans: dict[int, dict[Any, _Span]] = {}
        self.root: _Span | None = None

    def document(self) -> tuple[Any, dict[int, dict[Any, _Span]]]:
        value, span = self._value(self._skip(0))
        if self._skip(span.end) != len(self.text):
            raise ValueError("trailing characters")
        self.spans[id(None)] = {None: span}
        return value, self.spans

    def _skip(self, i: int) -> int:
        found = _WHITESPACE.match(self.text, i)
        return found.end() if found else i

    def _value(self, i: int) -> tuple[Any, _Span]:
        text = self.text
        if i >= len(text):
            raise ValueError("end of input")
        ch = text[i]
        if ch == "{":
            return self._object(i)
        if ch == "[":
            return self._array(i)
        if ch == '"':
            value, end = _DECODER.raw_decode(text, i)
            return value, _Span(i, end, "string")
        for word, value in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, i):
                return value, _Span(i, i + len(word), "scalar")
        found = _NUMBER.match(text, i)
        if not found:
            raise ValueError(f"unexpected character at {i}")
        literal = found.group()
        number = float(literal) if any(c in literal for c in ".eE") else int(literal)
        return number, _Span(i, found.end(), "scalar")

    def _object(self, start: int) -> tuple[dict[str, Any], _Span]:
        doc: dict[str, Any] = {}
        members: dict[Any, _Span] = {}
        i = self._skip(start + 1)
        if self.text.startswith("}", i):
            span = _Span(start, i + 1, "container")
            self.spans[id(doc)] = {None: span}
            return doc, span
        while True:
            if not self.text.startswith('"', i):
                raise ValueError("expected a name")
            key, i = _DECODER.raw_decode(self.text, i)
            i = self._skip(i)
            if not self.text.startswith(":", i):
                raise ValueError("expected ':'")
            value, span = self._value(self._skip(i + 1))
            doc[key] = value
            members[key] = span
            i = self._skip(span.end)
            if self.text.startswith(",", i):
                i = self._skip(i + 1)
                continue
            if self.text.startswith("}", i):
                break
            raise ValueError("expected ',' or '}'")
        own = _Span(start, i + 1, "container")
        self.spans[id(doc)] = {None: own, **members}
        return doc, own

    def _array(self, start: int) -> tuple[list[Any], _Span]:
        items: list[Any] = []
        members: dict[Any, _Span] = {}
        i = self._skip(start + 1)
        if not self.text.startswith("]", i):
            while True:
                value, span = self._value(i)
                members[len(items)] = span
                items.append(value)
                i = self._skip(span.end)
                if self.text.startswith(",", i):
                    i = self._skip(i + 1)
                    continue
                if self.text.startswith("]", i):
                    break
                raise ValueError("expected ',' or ']'")
        own = _Span(start, i + 1, "container")
        self.spans[id(items)] = {None: own, **members}
        return items, own


def _offset(spans: dict[int, dict[Any, _Span]], where: _Where) -> int:
    """The character offset the compiler's reader had reached: just past an opened value's
    first character (a whole number or literal), past a read value, or past a closed one."""
    table = spans.get(id(where.container), {})
    span = table.get(where.key) if where.mode != "closed" else table.get(None)
    if span is None:
        return 0
    if where.mode == "opened" and span.kind != "scalar":
        return span.start + 1
    return span.end


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
