"""Metric math: the expression language of GetMetricData queries and alarms.

An expression is tokenized, parsed into a small tree, and evaluated over time series that share
the query's period grid. Values are scalars, single time series, or arrays of time series
(``METRICS()``, ``SEARCH(...)``); arithmetic and comparisons apply per timestamp (series with
series only where both have a value), ``SUM``/``AVG``/``MIN``/``MAX`` fold an array into one
series or a series into a scalar, ``FILL`` fills every grid timestamp without a value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


class MathError(ValueError):
    """An expression AWS would refuse (the provider reports it as a ValidationError)."""


@dataclass
class Series:
    id: str
    label: str
    points: dict[float, float]
    props: dict[str, str] = field(default_factory=dict)
    """What dynamic labels read (${PROP('Dim.X')}): MetricName, Namespace, Stat, Period, Dim.*."""


Value = float | Series | list[Series]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/^(),<>!]))"
)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise MathError(f"Unexpected character at position {pos + 1}: {text[pos]!r}")
        kind = m.lastgroup or "op"
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


Node = tuple[Any, ...]
# ("num", float) ("str", str) ("ref", id) ("kw", NAME) ("call", NAME, [args]) ("bin", op, a, b)
# ("neg", a) ("not", a)

_PRECEDENCE = {
    "||": 1,
    "OR": 1,
    "&&": 2,
    "AND": 2,
    "==": 3,
    "!=": 3,
    "<": 3,
    "<=": 3,
    ">": 3,
    ">=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "^": 6,
}
KEYWORDS = {"REPEAT", "LINEAR"}


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise MathError("Unexpected end of expression")
        self.i += 1
        return tok

    def expect(self, op: str) -> None:
        tok = self.take()
        if tok[1] != op:
            raise MathError(f"Expected '{op}' but found '{tok[1]}'")

    def expression(self, min_prec: int = 1) -> Node:
        left = self.unary()
        while True:
            tok = self.peek()
            if tok is None:
                return left
            op = tok[1].upper() if tok[0] == "name" else tok[1]
            prec = _PRECEDENCE.get(op)
            if prec is None or prec < min_prec or (tok[0] == "name" and op not in ("AND", "OR")):
                return left
            self.take()
            # ^ is right-associative; the others are left-associative.
            right = self.expression(prec if op == "^" else prec + 1)
            left = ("bin", {"AND": "&&", "OR": "||"}.get(op, op), left, right)

    def unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok[1] == "-":
            self.take()
            return ("neg", self.unary())
        if tok is not None and tok[1] == "+":
            self.take()
            return self.unary()
        if tok is not None and (tok[1] == "!" or (tok[0] == "name" and tok[1].upper() == "NOT")):
            self.take()
            return ("not", self.unary())
        return self.primary()

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "num":
            return ("num", float(text))
        if kind == "str":
            return ("str", re.sub(r"\\(.)", r"\1", text[1:-1]))
        if text == "(":
            node = self.expression()
            self.expect(")")
            return node
        if kind == "name":
            nxt = self.peek()
            if nxt is not None and nxt[1] == "(":
                self.take()
                args: list[Node] = []
                if self.peek() is not None and self.peek() != ("op", ")"):
                    args.append(self.expression())
                    while self.peek() == ("op", ","):
                        self.take()
                        args.append(self.expression())
                self.expect(")")
                return ("call", text.upper(), args)
            if text.upper() in KEYWORDS:
                return ("kw", text.upper())
            return ("ref", text)
        raise MathError(f"Unexpected token '{text}'")


def parse(text: str) -> Node:
    tokens = tokenize(text)
    if not tokens:
        raise MathError("The expression is empty")
    parser = _Parser(tokens)
    node = parser.expression()
    if parser.peek() is not None:
        raise MathError(f"Unexpected token '{parser.peek()[1]}'")  # type: ignore[index]
    return node


@dataclass
class Context:
    grid: Sequence[float]
    """The period start times of the query's range."""
    period: int
    lookup: Callable[[str], Value]
    metrics: Callable[[str], list[Series]]
    search: Callable[[str, str, int], list[Series]]
    expression_id: str


def evaluate(node: Node, ctx: Context) -> Value:
    kind = node[0]
    if kind == "num":
        return float(node[1])
    if kind == "ref":
        return ctx.lookup(node[1])
    if kind == "neg":
        return _map(_evaluate_value(node[1], ctx), lambda v: -v)
    if kind == "not":
        return _map(_evaluate_value(node[1], ctx), lambda v: 0.0 if v else 1.0)
    if kind == "bin":
        return _binary(node[1], _evaluate_value(node[2], ctx), _evaluate_value(node[3], ctx))
    if kind == "call":
        return _call(node[1], node[2], ctx)
    if kind == "str":
        raise MathError(f"A string ('{node[1]}') is not valid here")
    raise MathError(f"{node[1]} is only valid as an argument of FILL")


def _evaluate_value(node: Node, ctx: Context) -> Value:
    return evaluate(node, ctx)


def _map(value: Value, fn: Callable[[float], float]) -> Value:
    if isinstance(value, float | int):
        return _safe(fn, float(value))
    if isinstance(value, Series):
        return _with_points(value, {t: _safe(fn, v) for t, v in value.points.items()})
    return [_with_points(s, {t: _safe(fn, v) for t, v in s.points.items()}) for s in value]


def _safe(fn: Callable[[float], float], v: float) -> float:
    try:
        return fn(v)
    except (ValueError, OverflowError, ZeroDivisionError):
        return math.nan


def _with_points(series: Series, points: dict[float, float]) -> Series:
    return Series(series.id, series.label, points, dict(series.props))


_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b else (math.nan if a == 0 else math.copysign(math.inf, a)),
    "^": lambda a, b: a**b,
    "==": lambda a, b: float(a == b),
    "!=": lambda a, b: float(a != b),
    "<": lambda a, b: float(a < b),
    "<=": lambda a, b: float(a <= b),
    ">": lambda a, b: float(a > b),
    ">=": lambda a, b: float(a >= b),
    "&&": lambda a, b: float(bool(a) and bool(b)),
    "||": lambda a, b: float(bool(a) or bool(b)),
}


def _binary(op: str, a: Value, b: Value) -> Value:
    fn = _OPS[op]
    if isinstance(a, list):
        return [_binary_one(fn, s, b) for s in a]
    if isinstance(b, list):
        return [_binary_one(fn, a, s) for s in b]
    return _binary_one(fn, a, b)


def _binary_one(fn: Callable[[float, float], float], a: Value, b: Value) -> Any:
    if isinstance(a, list) or isinstance(b, list):
        raise MathError("Arrays of time series cannot be combined with each other")
    if isinstance(a, Series) and isinstance(b, Series):
        return _with_points(
            a, {t: _safe2(fn, v, b.points[t]) for t, v in a.points.items() if t in b.points}
        )
    if isinstance(a, Series):
        return _with_points(a, {t: _safe2(fn, v, float(b)) for t, v in a.points.items()})  # type: ignore[arg-type]
    if isinstance(b, Series):
        return _with_points(b, {t: _safe2(fn, float(a), v) for t, v in b.points.items()})
    return _safe2(fn, float(a), float(b))


def _safe2(fn: Callable[[float, float], float], a: float, b: float) -> float:
    try:
        return fn(a, b)
    except (ValueError, OverflowError, ZeroDivisionError):
        return math.nan


def _fold(name: str, values: list[float]) -> float:
    if name == "SUM":
        return math.fsum(values)
    if name == "AVG":
        return math.fsum(values) / len(values)
    if name == "MIN":
        return min(values)
    if name == "MAX":
        return max(values)
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))


def _call(name: str, args: list[Node], ctx: Context) -> Value:
    if name == "METRICS":
        pattern = ""
        if args:
            if args[0][0] != "str":
                raise MathError("METRICS() takes an optional string")
            pattern = args[0][1]
        return ctx.metrics(pattern)
    if name == "SEARCH":
        return _search(args, ctx)
    if name == "PERIOD":
        value = _one(name, args, ctx)
        return _map(value, lambda _: float(ctx.period))
    if name in ("SUM", "AVG", "MIN", "MAX", "STDDEV"):
        if len(args) != 1:
            raise MathError(f"{name} takes exactly one argument")
        value = evaluate(args[0], ctx)
        if isinstance(value, list):
            merged: dict[float, list[float]] = {}
            for s in value:
                for t, v in s.points.items():
                    merged.setdefault(t, []).append(v)
            label = ctx.expression_id
            return Series(
                ctx.expression_id, label, {t: _fold(name, vs) for t, vs in sorted(merged.items())}
            )
        if isinstance(value, Series):
            vals = list(value.points.values())
            return _fold(name, vals) if vals else math.nan
        return float(value)
    if name in ("ABS", "CEIL", "FLOOR", "SQRT", "LOG", "LOG10", "EXP"):
        fns: dict[str, Callable[[float], float]] = {
            "ABS": abs,
            "CEIL": lambda v: float(math.ceil(v)),
            "FLOOR": lambda v: float(math.floor(v)),
            "SQRT": math.sqrt,
            "LOG": math.log,
            "LOG10": math.log10,
            "EXP": math.exp,
        }
        return _map(_one(name, args, ctx), fns[name])
    if name == "FILL":
        return _fill(args, ctx)
    if name in ("RATE", "DIFF", "DIFF_TIME", "RUNNING_SUM"):
        return _per_series(_one(name, args, ctx), lambda s: _sequence(name, s))
    if name == "IF":
        return _if(args, ctx)
    if name == "ANOMALY_DETECTION_BAND":
        return _band(args, ctx)
    raise MathError(f"Unknown function {name}")


def _band(args: list[Node], ctx: Context) -> list[Series]:
    """The expected range of a metric: its mean over the query's range, plus and minus
    ``width`` (default 2) standard deviations, at each of its timestamps (lower, then upper).
    A stand-in for CloudWatch's trained model, which sees weeks of history."""
    if len(args) not in (1, 2):
        raise MathError("ANOMALY_DETECTION_BAND takes a metric and an optional band width")
    series = evaluate(args[0], ctx)
    if not isinstance(series, Series):
        raise MathError("ANOMALY_DETECTION_BAND takes a single time series")
    width = 2.0
    if len(args) == 2:
        given = evaluate(args[1], ctx)
        if not isinstance(given, float | int):
            raise MathError("The band width of ANOMALY_DETECTION_BAND must be a number")
        width = float(given)
    values = list(series.points.values())
    mean = math.fsum(values) / len(values) if values else 0.0
    spread = _fold("STDDEV", values) if values else 0.0
    low = {t: mean - width * spread for t in series.points}
    high = {t: mean + width * spread for t in series.points}
    label = series.label
    return [
        Series(ctx.expression_id, f"{label} (lower)", low, dict(series.props)),
        Series(ctx.expression_id, f"{label} (upper)", high, dict(series.props)),
    ]


def _one(name: str, args: list[Node], ctx: Context) -> Value:
    if len(args) != 1:
        raise MathError(f"{name} takes exactly one argument")
    return evaluate(args[0], ctx)


def _per_series(value: Value, fn: Callable[[Series], Series]) -> Value:
    if isinstance(value, list):
        return [fn(s) for s in value]
    if isinstance(value, Series):
        return fn(value)
    raise MathError("This function takes a time series")


def _sequence(name: str, series: Series) -> Series:
    items = sorted(series.points.items())
    out: dict[float, float] = {}
    running = 0.0
    for i, (t, v) in enumerate(items):
        if name == "RUNNING_SUM":
            running += v
            out[t] = running
            continue
        if i == 0:
            continue
        pt, pv = items[i - 1]
        if name == "RATE":
            out[t] = (v - pv) / (t - pt)
        elif name == "DIFF":
            out[t] = v - pv
        else:
            out[t] = t - pt
    return _with_points(series, out)


def _fill(args: list[Node], ctx: Context) -> Value:
    if len(args) != 2:
        raise MathError("FILL takes a time series and a value, REPEAT or LINEAR")
    target = evaluate(args[0], ctx)
    how: Value | str
    if args[1][0] == "kw":
        how = args[1][1]
    else:
        how = evaluate(args[1], ctx)
        if isinstance(how, list):
            raise MathError("The filling value of FILL must be a number or a time series")

    def fill(series: Series) -> Series:
        points = dict(series.points)
        known = sorted(points.items())
        for t in ctx.grid:
            if t in points:
                continue
            if how == "REPEAT":
                before = [v for kt, v in known if kt < t]
                if before:
                    points[t] = before[-1]
                else:
                    after = [v for kt, v in known if kt > t]
                    if after:
                        points[t] = after[0]
            elif how == "LINEAR":
                before_pt = max(((kt, v) for kt, v in known if kt < t), default=None)
                after_pt = min(((kt, v) for kt, v in known if kt > t), default=None)
                if before_pt and after_pt:
                    (t0, v0), (t1, v1) = before_pt, after_pt
                    points[t] = v0 + (v1 - v0) * (t - t0) / (t1 - t0)
            elif isinstance(how, Series):
                if t in how.points:
                    points[t] = how.points[t]
            else:
                points[t] = float(how)  # type: ignore[arg-type]
        return _with_points(series, dict(sorted(points.items())))

    return _per_series(target, fill)


def _if(args: list[Node], ctx: Context) -> Value:
    if len(args) not in (2, 3):
        raise MathError("IF takes a condition, a value when true and an optional value when false")
    cond = evaluate(args[0], ctx)
    yes = evaluate(args[1], ctx)
    no = evaluate(args[2], ctx) if len(args) == 3 else None

    def at(value: Value | None, t: float) -> float | None:
        if value is None:
            return None
        if isinstance(value, Series):
            return value.points.get(t)
        if isinstance(value, list):
            raise MathError("IF does not take arrays of time series as its values")
        return float(value)

    def choose(series: Series) -> Series:
        out: dict[float, float] = {}
        for t, c in series.points.items():
            chosen = at(yes, t) if c else at(no, t)
            if chosen is not None:
                out[t] = chosen
        return _with_points(series, out)

    if isinstance(cond, float | int):
        return yes if cond else (no if no is not None else math.nan)
    return _per_series(cond, choose)


def _search(args: list[Node], ctx: Context) -> list[Series]:
    if not 2 <= len(args) <= 3 or any(a[0] not in ("str", "num") for a in args):
        raise MathError("SEARCH takes a search expression, a statistic and an optional period")
    if args[0][0] != "str" or args[1][0] != "str":
        raise MathError("SEARCH takes a search expression, a statistic and an optional period")
    period = int(args[2][1]) if len(args) == 3 else ctx.period
    return ctx.search(args[0][1], args[1][1], period)
