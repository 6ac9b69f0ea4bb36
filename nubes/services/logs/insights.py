"""A subset of the CloudWatch Logs Insights query language, run over stored events.

Commands, separated by ``|`` (``#`` starts a comment): ``fields``, ``display``, ``filter``,
``parse`` (glob ``"* - *"`` or regex with named groups), ``stats`` (``count``, ``count_distinct``,
``sum``, ``avg``, ``min``, ``max`` ``by`` fields or ``bin(5m)``), ``sort`` and ``limit``. Filters
combine comparisons (``= != < <= > >=``), ``like``/``not like`` (a string or ``/regex/``),
``in [..]``, ``ispresent(f)``, ``isempty(f)`` with ``and``, ``or``, ``not`` and parentheses.

Each event's fields: ``@timestamp``, ``@message``, ``@logStream``, ``@log``,
``@ingestionTime``, ``@ptr``; the keys of a JSON message (nested ones as ``a.b``); and for
Lambda's platform lines ``@type``, ``@requestId``, ``@duration``, ``@billedDuration``,
``@memorySize``, ``@maxMemoryUsed`` (bytes), ``@initDuration``.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nubes.core import safejson

DEFAULT_LIMIT = 10_000
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

Record = dict[str, Any]
Test = Callable[[Record], bool]


class QueryError(ValueError):
    """The query does not parse (MalformedQueryException)."""


@dataclass
class Aggregate:
    function: str
    argument: str | None
    name: str


@dataclass
class Query:
    steps: list[Callable[[list[Record]], list[Record]]] = field(default_factory=list)
    columns: list[str] | None = None
    limit: int = DEFAULT_LIMIT


# -- records ---------------------------------------------------------------------------------

_REPORT = re.compile(r"(\w[\w ]*?): ([\d.]+) (ms|MB)")


def record(
    timestamp: int, message: str, stream: str, group: str, ingested: int, pointer: str
) -> Record:
    fields: Record = {
        "@timestamp": timestamp,
        "@message": message,
        "@logStream": stream,
        "@log": group,
        "@ingestionTime": ingested,
        "@ptr": pointer,
    }
    text = message.strip()
    if text.startswith("{"):
        try:
            document = safejson.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict):
            _flatten(document, "", fields)
    for kind in ("REPORT", "START", "END"):
        if text.startswith(f"{kind} RequestId: "):
            fields["@type"] = kind
            fields["@requestId"] = text.split()[2]
    if fields.get("@type") == "REPORT":
        names = {
            "Duration": "@duration",
            "Billed Duration": "@billedDuration",
            "Memory Size": "@memorySize",
            "Max Memory Used": "@maxMemoryUsed",
            "Init Duration": "@initDuration",
        }
        for label, value, unit in _REPORT.findall(text):
            key = names.get(label.strip())
            if key:
                fields[key] = float(value) * (1_000_000 if unit == "MB" else 1)
    return fields


def _flatten(document: dict[str, Any], prefix: str, into: Record) -> None:
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, f"{name}.", into)
        else:
            into[name] = value


# -- parsing ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<regex>/(?:[^/\\]|\\.)*/)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>!=|<=|>=|=|<|>|\(|\)|\[|\]|,)
      | (?P<name>`[^`]+`|[@\w][\w.@-]*)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        found = _TOKEN.match(text, pos)
        if found is None or found.end() == pos:
            raise QueryError(f"unexpected input at {text[pos : pos + 20]!r}")
        kind = found.lastgroup or ""
        out.append((kind, found.group(kind)))
        pos = found.end()
    return out


def _split_commands(text: str) -> list[str]:
    """Split at ``|`` outside quotes and regexes; drop ``#`` comments."""
    commands: list[str] = []
    current = ""
    quote = ""
    for line in text.splitlines():
        for ch in line:
            if quote:
                current += ch
                if ch == quote:
                    quote = ""
                continue
            if ch == "#":
                break
            if ch in "\"'/":
                quote = ch
            if ch == "|":
                commands.append(current)
                current = ""
            else:
                current += ch
        current += " "
    commands.append(current)
    return [c.strip() for c in commands if c.strip()]


def parse_query(text: str) -> Query:
    query = Query()
    for command in _split_commands(text):
        verb, _, rest = command.partition(" ")
        verb = verb.lower()
        rest = rest.strip()
        if verb in ("fields", "display"):
            names = [_name(n.strip()) for n in rest.split(",") if n.strip()]
            if not names:
                raise QueryError(f"{verb} needs field names")
            query.columns = names
        elif verb == "filter":
            query.steps.append(_filter_step(_Parser(_tokens(rest)).parse()))
        elif verb == "parse":
            query.steps.append(_parse_step(rest))
        elif verb == "stats":
            step, columns = _stats_step(rest)
            query.steps.append(step)
            query.columns = columns
        elif verb == "sort":
            query.steps.append(_sort_step(rest))
        elif verb == "limit":
            if not rest.isdigit() or not 0 < int(rest) <= 100_000:
                raise QueryError("limit takes a number from 1 to 100000")
            query.limit = int(rest)
        else:
            raise QueryError(f"unknown command {verb!r}")
    return query


def _name(token: str) -> str:
    return token[1:-1] if token.startswith("`") else token


def _literal(kind: str, value: str) -> Any:
    if kind == "string":
        return value[1:-1].replace(f"\\{value[0]}", value[0])
    if kind == "number":
        return float(value)
    raise QueryError(f"expected a value, found {value!r}")


class _Parser:
    """or := and ("or" and)*; and := unary ("and" unary)*; unary := "not" unary | atom."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def parse(self) -> Test:
        test = self._or()
        if self.pos != len(self.tokens):
            raise QueryError(f"unexpected {self.tokens[self.pos][1]!r} in filter")
        return test

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("", "")

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if not token[0]:
            raise QueryError("filter ends too early")
        self.pos += 1
        return token

    def _keyword(self, word: str) -> bool:
        kind, value = self._peek()
        if kind == "name" and value.lower() == word:
            self.pos += 1
            return True
        return False

    def _or(self) -> Test:
        parts = [self._and()]
        while self._keyword("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else lambda r: any(p(r) for p in parts)

    def _and(self) -> Test:
        parts = [self._unary()]
        while self._keyword("and"):
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else lambda r: all(p(r) for p in parts)

    def _unary(self) -> Test:
        if self._keyword("not"):
            inner = self._unary()
            return lambda r: not inner(r)
        if self._peek() == ("op", "("):
            self.pos += 1
            inner = self._or()
            if self._take() != ("op", ")"):
                raise QueryError("missing )")
            return inner
        return self._atom()

    def _atom(self) -> Test:
        kind, value = self._take()
        if kind != "name":
            raise QueryError(f"expected a field, found {value!r}")
        lowered = value.lower()
        if lowered in ("ispresent", "isempty", "isblank") and self._peek() == ("op", "("):
            self.pos += 1
            name = _name(self._take()[1])
            if self._take() != ("op", ")"):
                raise QueryError("missing )")
            if lowered == "ispresent":
                return lambda r: r.get(name) is not None
            return lambda r: (
                r.get(name) in (None, "")
                or (lowered == "isblank" and str(r.get(name)).strip() == "")
            )
        name = _name(value)
        negate = self._keyword("not")
        if self._keyword("like"):
            pattern = self._pattern()
            return lambda r: (r.get(name) is not None and pattern(str(r[name]))) != negate
        if self._keyword("in"):
            values = self._list()
            return lambda r: (_plain(r.get(name)) in values) != negate
        if negate:
            raise QueryError("expected like or in after not")
        op_kind, op = self._take()
        if op_kind != "op" or op not in ("=", "!=", "<", "<=", ">", ">="):
            raise QueryError(f"expected a comparison after {name}")
        expected = _literal(*self._take())
        return lambda r: _compare(r.get(name), op, expected)

    def _pattern(self) -> Callable[[str], bool]:
        kind, value = self._take()
        if kind == "regex":
            body = value[1:-1]
            flags = 0
            if body.startswith("(?i)"):
                body, flags = body[4:], re.IGNORECASE
            try:
                compiled = _regex(body, flags)
            except re.error as exc:
                raise QueryError(f"bad regular expression: {exc}") from None
            return lambda text: compiled.search(text) is not None
        needle = _literal(kind, value)
        return lambda text: str(needle) in text

    def _list(self) -> list[Any]:
        if self._take() != ("op", "["):
            raise QueryError("in needs a [list]")
        values = []
        while True:
            values.append(_plain(_literal(*self._take())))
            token = self._take()
            if token == ("op", "]"):
                return values
            if token != ("op", ","):
                raise QueryError("bad list")


def _regex(body: str, flags: int = 0) -> re.Pattern[str]:
    """Insights writes named groups as ``(?<name>...)``; Python as ``(?P<name>...)``."""
    return re.compile(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", body), flags)


def _plain(value: Any) -> Any:
    """Numbers compare as numbers whatever their type."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return False
    if isinstance(expected, float):
        number = _number(actual)
        if number is None:
            return op == "!="
        left: Any = number
    else:
        left = actual if isinstance(actual, str) else json.dumps(actual)
    if op in ("<", "<=", ">", ">=") and isinstance(left, str) != isinstance(expected, str):
        return False
    return bool(_OPERATORS[op](left, expected))


# -- steps -----------------------------------------------------------------------------------


def _filter_step(test: Test) -> Callable[[list[Record]], list[Record]]:
    return lambda records: [r for r in records if test(r)]


_PARSE = re.compile(
    r"^(?P<field>\S+)\s+(?P<pattern>\"(?:[^\"\\]|\\.)*\"|/(?:[^/\\]|\\.)*/)"
    r"(?:\s+as\s+(?P<names>.+))?$"
)


def _parse_step(text: str) -> Callable[[list[Record]], list[Record]]:
    found = _PARSE.match(text)
    if found is None:
        raise QueryError('parse needs: field "glob * pattern" as names, or field /regex/')
    source = _name(found.group("field"))
    pattern = found.group("pattern")
    if pattern.startswith('"'):
        names = [n.strip() for n in (found.group("names") or "").split(",") if n.strip()]
        parts = pattern[1:-1].split("*")
        if len(parts) - 1 != len(names):
            raise QueryError("parse: as many names as * in the pattern")
        regex = re.compile(
            "".join(re.escape(p) + ("(.*?)" if i < len(names) else "") for i, p in enumerate(parts))
        )
    else:
        try:
            regex = _regex(pattern[1:-1])
        except re.error as exc:
            raise QueryError(f"bad regular expression: {exc}") from None
        names = list(regex.groupindex)

    def step(records: list[Record]) -> list[Record]:
        for r in records:
            match = regex.search(str(r.get(source, "")))
            if match:
                values = (
                    match.groups() if pattern.startswith('"') else [match.group(n) for n in names]
                )
                r.update(zip(names, values, strict=True))
        return records

    return step


_AGGREGATE = re.compile(r"^(?P<fn>\w+)\((?P<arg>[^)]*)\)(?:\s+as\s+(?P<alias>[\w@.]+))?$")
_BIN = re.compile(r"^bin\((?P<n>\d+)(?P<unit>ms|s|m|h|d)\)(?:\s+as\s+(?P<alias>[\w@.]+))?$")
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _stats_step(text: str) -> tuple[Callable[[list[Record]], list[Record]], list[str]]:
    body, by = ([*re.split(r"\s+by\s+", text, maxsplit=1), ""])[:2]
    aggregates = []
    for part in _split_top(body):
        found = _AGGREGATE.match(part)
        if found is None:
            raise QueryError(f"stats cannot compute {part!r}")
        fn = found.group("fn").lower()
        if fn not in ("count", "count_distinct", "sum", "avg", "min", "max"):
            raise QueryError(f"unsupported stats function {fn}")
        arg = found.group("arg").strip()
        aggregates.append(
            Aggregate(fn, None if arg in ("", "*") else _name(arg), found.group("alias") or part)
        )
    groups: list[tuple[str, int | None]] = []
    for part in _split_top(by):
        binned = _BIN.match(part)
        if binned:
            width = int(binned.group("n")) * _UNITS[binned.group("unit")]
            groups.append((binned.group("alias") or part, width))
        else:
            groups.append((_name(part), None))

    def step(records: list[Record]) -> list[Record]:
        buckets: dict[tuple[Any, ...], list[Record]] = {}
        for r in records:
            key = tuple(
                (r["@timestamp"] // width) * width if width else r.get(name)
                for name, width in groups
            )
            buckets.setdefault(key, []).append(r)
        rows = []
        for key, members in buckets.items():
            row: Record = {}
            for (name, width), value in zip(groups, key, strict=True):
                row[name] = _timestamp(value) if width else value
            for aggregate in aggregates:
                row[aggregate.name] = _aggregate(aggregate, members)
            rows.append(row)
        return rows

    return step, [name for name, _ in groups] + [a.name for a in aggregates]


def _split_top(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def _aggregate(aggregate: Aggregate, members: list[Record]) -> Any:
    if aggregate.argument is None:
        return len(members)
    values = [m[aggregate.argument] for m in members if m.get(aggregate.argument) is not None]
    if aggregate.function == "count":
        return len(values)
    if aggregate.function == "count_distinct":
        return len({json.dumps(v, sort_keys=True) for v in values})
    numbers = [n for n in (_number(v) for v in values) if n is not None]
    if not numbers:
        return None
    return {
        "sum": sum(numbers),
        "avg": sum(numbers) / len(numbers),
        "min": min(numbers),
        "max": max(numbers),
    }[aggregate.function]


def _sort_step(text: str) -> Callable[[list[Record]], list[Record]]:
    keys = []
    for part in _split_top(text):
        words = part.split()
        if (
            not words
            or len(words) > 2
            or (len(words) == 2 and words[1].lower() not in ("asc", "desc"))
        ):
            raise QueryError(f"cannot sort by {part!r}")
        keys.append((_name(words[0]), len(words) == 2 and words[1].lower() == "desc"))

    def step(records: list[Record]) -> list[Record]:
        for name, descending in reversed(keys):
            present = [r for r in records if r.get(name) is not None]
            absent = [r for r in records if r.get(name) is None]
            present.sort(key=_sort_by(name), reverse=descending)
            records = present + absent
        return records

    return step


def _sort_by(name: str) -> Callable[[Record], tuple[int, Any]]:
    return lambda row: _sort_key(row[name])


def _sort_key(value: Any) -> tuple[int, Any]:
    # Numbers after everything else, as Insights orders them ascending.
    number = _number(value)
    return (1, number) if number is not None else (0, str(value))


# -- running ---------------------------------------------------------------------------------


def run(query: Query, records: Iterable[Record]) -> list[list[dict[str, str]]]:
    """The result rows as GetQueryResults returns them."""
    rows = list(records)
    for step in query.steps:
        rows = step(rows)
    rows = rows[: query.limit]
    columns = query.columns or ["@timestamp", "@message"]
    out = []
    for row in rows:
        cells = [
            {"field": name, "value": _text(name, row[name])}
            for name in columns
            if row.get(name) is not None
        ]
        if "@ptr" in row:
            cells.append({"field": "@ptr", "value": str(row["@ptr"])})
        out.append(cells)
    return out


def _text(name: str, value: Any) -> str:
    if name in ("@timestamp", "@ingestionTime") and isinstance(value, int):
        return _timestamp(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _timestamp(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
