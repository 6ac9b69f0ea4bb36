"""CloudWatch Logs filter patterns: parse once, then match log event messages.

Three forms, as the CloudWatch Logs documentation describes them:

- terms: ``ERROR``, ``"Failed to connect"`` (all must occur), ``?ERROR ?WARN`` (any may),
  ``-DEBUG`` (must not occur), ``%regex%``; matching is case-sensitive;
- JSON: ``{ $.level = "error" && ($.latency > 50 || $.retry IS TRUE) }`` on messages that are
  JSON objects; ``=``/``!=`` on strings with ``*`` wildcards, numeric comparisons,
  ``IS NULL``/``IS TRUE``/``IS FALSE``/``NOT EXISTS``, ``$.a.b[0]`` selectors;
- space-delimited: ``[ip, user, ..., status = 404, size > 1000]`` on messages split at spaces
  (``"..."`` and ``[...]`` stay one field); conditions may be joined with ``&&``/``||``.

``compile_pattern(text)`` raises :class:`PatternError` for what CloudWatch would reject.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nubes.core import safejson

Matcher = Callable[[str], bool]


class PatternError(ValueError):
    """The pattern is not valid CloudWatch Logs filter syntax."""


@dataclass
class FilterPattern:
    text: str
    _match: Matcher
    fields: list[str] = field(default_factory=list)
    """Names of the space-delimited fields, for extracted values."""

    def matches(self, message: str) -> bool:
        return self._match(message)

    def extract(self, message: str) -> dict[str, str]:
        """``$name`` -> value for the named fields of a space-delimited pattern."""
        if not self.fields:
            return {}
        values = split_fields(message)
        return {
            f"${name}": value
            for name, value in zip(self.fields, values, strict=False)
            if name != "..."
        }


def compile_pattern(text: str | None) -> FilterPattern:
    pattern = (text or "").strip()
    if not pattern:
        return FilterPattern("", lambda _message: True)
    if pattern.startswith("{"):
        if not pattern.endswith("}"):
            raise PatternError("Invalid character(s) in term")
        return FilterPattern(pattern, _JsonParser(pattern[1:-1]).parse())
    if pattern.startswith("["):
        if not pattern.endswith("]"):
            raise PatternError("Invalid character(s) in term")
        names, match = _delimited(pattern[1:-1])
        return FilterPattern(pattern, match, names)
    return FilterPattern(pattern, _terms(pattern))


# -- terms -----------------------------------------------------------------------------------

_TERM = re.compile(r'\s*([?-]?)(?:"((?:[^"\\]|\\.)*)"|%([^%]*)%|([^\s"]+))')


def _terms(pattern: str) -> Matcher:
    required: list[Matcher] = []
    optional: list[Matcher] = []
    excluded: list[Matcher] = []
    pos = 0
    while pos < len(pattern):
        found = _TERM.match(pattern, pos)
        if found is None:
            if pattern[pos:].strip():
                raise PatternError("Invalid character(s) in term")
            break
        pos = found.end()
        prefix, quoted, regex, bare = found.groups()
        if regex is not None:
            test = _regex_term(regex)
        else:
            if bare is not None and not re.fullmatch(r"[\w.:/@*+-]+", bare):
                raise PatternError(f"Invalid character(s) in term '{bare}'")
            test = _plain_term(quoted.replace('\\"', '"') if quoted is not None else bare)
        {"?": optional, "-": excluded, "": required}[prefix].append(test)
    # AWS: with any ?term, the pattern matches when any of those terms occurs.
    if optional:
        return lambda m: any(t(m) for t in optional) and not any(t(m) for t in excluded)
    return lambda m: all(t(m) for t in required) and not any(t(m) for t in excluded)


def _regex_term(regex: str) -> Matcher:
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise PatternError(f"Invalid regular expression: {exc}") from None
    return lambda message: compiled.search(message) is not None


def _plain_term(term: str) -> Matcher:
    return lambda message: term in message


# -- values and comparisons shared by JSON and space-delimited patterns ----------------------

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    return None


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if isinstance(expected, float):
        number = _as_number(actual)
        if number is None:
            return False
        return {
            "=": number == expected,
            "!=": number != expected,
            "<": number < expected,
            "<=": number <= expected,
            ">": number > expected,
            ">=": number >= expected,
        }[op]
    if actual is None or isinstance(actual, dict | list):
        return op == "!=" and actual is not None
    text = actual if isinstance(actual, str) else json.dumps(actual)
    same = fnmatch.fnmatchcase(text, expected) if "*" in expected else text == expected
    return same if op == "=" else not same


def _check_operator(op: str, expected: Any) -> None:
    if op not in ("=", "!=") and not isinstance(expected, float):
        raise PatternError(f"Operator {op} needs a numeric value")


def _literal(token: str) -> Any:
    if token.startswith('"'):
        return token[1:-1].replace('\\"', '"')
    if _NUMBER.fullmatch(token):
        return float(token)
    return token


# -- JSON patterns ---------------------------------------------------------------------------

_JSON_TOKEN = re.compile(
    r"""\s*(?:
        (?P<sel>\$(?:\.[\w$@-]+|\[\d+\]|\.\*|\[\*\])*)
      | (?P<op>&&|\|\||!=|<=|>=|=|<|>)
      | (?P<paren>[()])
      | (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<word>[^\s()&|=!<>"]+)
    )""",
    re.VERBOSE,
)


class _JsonParser:
    """Recursive descent: or-expr := and-expr (|| and-expr)*; and-expr := atom (&& atom)*."""

    def __init__(self, body: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(body):
            if not body[pos:].strip():
                break
            found = _JSON_TOKEN.match(body, pos)
            if found is None or found.end() == pos:
                raise PatternError("Invalid character(s) in JSON pattern")
            kind = found.lastgroup or ""
            self.tokens.append((kind, found.group(kind)))
            pos = found.end()
        self.pos = 0

    def parse(self) -> Matcher:
        test = self._or()
        if self.pos != len(self.tokens):
            raise PatternError("Unexpected token in JSON pattern")

        def match(message: str) -> bool:
            try:
                document = safejson.loads(message)
            except ValueError:
                return False
            return isinstance(document, dict) and test(document)

        return match

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("", "")

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if not token[0]:
            raise PatternError("Unexpected end of JSON pattern")
        self.pos += 1
        return token

    def _or(self) -> Callable[[Any], bool]:
        parts = [self._and()]
        while self._peek() == ("op", "||"):
            self.pos += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else lambda d: any(p(d) for p in parts)

    def _and(self) -> Callable[[Any], bool]:
        parts = [self._atom()]
        while self._peek() == ("op", "&&"):
            self.pos += 1
            parts.append(self._atom())
        return parts[0] if len(parts) == 1 else lambda d: all(p(d) for p in parts)

    def _atom(self) -> Callable[[Any], bool]:
        kind, value = self._take()
        if (kind, value) == ("paren", "("):
            inner = self._or()
            if self._take() != ("paren", ")"):
                raise PatternError("Missing ) in JSON pattern")
            return inner
        if kind != "sel":
            raise PatternError(f"Expected a selector ($.field), found {value!r}")
        path = _selector_path(value)
        kind, word = self._take()
        if kind == "word" and word.upper() in ("IS", "NOT"):
            return self._predicate(path, word.upper())
        if kind != "op" or word in ("&&", "||"):
            raise PatternError(f"Expected a comparison after {value}")
        _, raw = self._take()
        expected = _literal(raw)
        op = word
        _check_operator(op, expected)
        return lambda d: any(_compare(v, op, expected) for v in _select(d, path))

    def _predicate(self, path: list[Any], first: str) -> Callable[[Any], bool]:
        _, second = self._take()
        phrase = f"{first} {second.upper()}"
        if phrase == "NOT EXISTS":
            return lambda d: not _exists(d, path)
        if phrase == "IS NULL":
            return lambda d: any(v is None for v in _select(d, path)) and _exists(d, path)
        if phrase in ("IS TRUE", "IS FALSE"):
            wanted = phrase == "IS TRUE"
            return lambda d: any(v is wanted for v in _select(d, path))
        raise PatternError(f"Unknown predicate {phrase}")


def _selector_path(selector: str) -> list[Any]:
    path: list[Any] = []
    for part in re.findall(r"\.([\w$@-]+|\*)|\[(\d+|\*)\]", selector):
        name, index = part
        path.append(name if name else ("*" if index == "*" else int(index)))
    return path


def _select(document: Any, path: list[Any]) -> list[Any]:
    current = [document]
    for step in path:
        following: list[Any] = []
        for value in current:
            if step == "*":
                if isinstance(value, dict):
                    following.extend(value.values())
                elif isinstance(value, list):
                    following.extend(value)
            elif isinstance(step, int):
                if isinstance(value, list) and step < len(value):
                    following.append(value[step])
            elif isinstance(value, dict) and step in value:
                following.append(value[step])
        current = following
    return current


def _exists(document: Any, path: list[Any]) -> bool:
    return bool(_select(document, path))


# -- space-delimited patterns ----------------------------------------------------------------

_FIELD = re.compile(r'"[^"]*"|\[[^\]]*\]|\S+')


def split_fields(message: str) -> list[str]:
    return [f[1:-1] if f[0] in '"[' else f for f in _FIELD.findall(message)]


_CONDITION = re.compile(r'\s*(\w+)\s*(!=|<=|>=|=|<|>)\s*("(?:[^"\\]|\\.)*"|[^\s&|]+)\s*')


def _delimited(body: str) -> tuple[list[str], Matcher]:
    names: list[str] = []
    tests: list[tuple[int, Callable[[str], bool]] | None] = []
    for raw in _split_top(body):
        spec = raw.strip()
        if spec == "...":
            names.append("...")
            tests.append(None)
            continue
        name = re.match(r"\w+", spec)
        if name is None:
            raise PatternError(f"Invalid field in space-delimited pattern: {spec!r}")
        names.append(name.group(0))
        tests.append((len(names) - 1, _field_test(spec)) if spec != name.group(0) else None)
    ellipsis = [i for i, n in enumerate(names) if n == "..."]
    if len(ellipsis) > 1:
        raise PatternError("At most one ... in a space-delimited pattern")

    def match(message: str) -> bool:
        values = split_fields(message)
        if ellipsis:
            at = ellipsis[0]
            after = len(names) - at - 1
            if len(values) < len(names) - 1:
                return False
            aligned: list[str | None] = [*values[:at], None, *values[len(values) - after :]]
        else:
            if len(values) != len(names):
                return False
            aligned = list(values)
        for item in tests:
            if item is not None:
                index, test = item
                value = aligned[index]
                if value is None or not test(value):
                    return False
        return True

    return names, match


def _split_top(body: str) -> list[str]:
    parts, depth, quoted, current = [], 0, False, ""
    for ch in body:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        if ch == "," and not quoted and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _field_test(spec: str) -> Callable[[str], bool]:
    alternatives = re.split(r"\|\|", spec)
    groups = [[_condition(c) for c in alt.split("&&")] for alt in alternatives]
    return lambda v: any(all(c(v) for c in group) for group in groups)


def _condition(text: str) -> Callable[[str], bool]:
    found = _CONDITION.fullmatch(text)
    if found is None:
        raise PatternError(f"Invalid condition in space-delimited pattern: {text.strip()!r}")
    _, op, raw = found.groups()
    expected = _literal(raw)
    _check_operator(op, expected)
    return lambda v: _compare(v, op, expected)
