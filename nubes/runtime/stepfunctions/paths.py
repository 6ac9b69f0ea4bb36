"""JSONPath as the Amazon States Language uses it (Paths and Reference Paths over the state's
input and the context object ``$$``), payload templates (``"key.$"`` fields) and the intrinsic
functions (``States.Format(...)`` ...)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import re
import uuid
from collections.abc import Callable
from typing import Any

Json = Any


class StatesError(Exception):
    """A runtime error of the execution, caught by Retry/Catch by its name
    (``States.Runtime``, ``States.TaskFailed``, ``Lambda.ServiceException`` ...)."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


def runtime(cause: str) -> StatesError:
    return StatesError("States.Runtime", cause)


# -- JSONPath ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\.\.(?P<deep>[^.\[]+)?|\.(?P<name>[^.\[]+)|\[\s*(?:
        '(?P<sq>(?:[^'\\]|\\.)*)'|"(?P<dq>(?:[^"\\]|\\.)*)"|
        (?P<star>\*)|(?P<slice>-?\d*\s*:\s*-?\d*)|(?P<index>-?\d+)|
        (?P<filter>\?\(.*?\))|(?P<union>-?\d+(?:\s*,\s*-?\d+)+)
    )\s*\]""",
    re.VERBOSE,
)


class PathError(ValueError):
    pass


def _steps(path: str) -> list[tuple[str, Any]]:
    if not path.startswith("$"):
        raise PathError(f"The path '{path}' must start with '$'")
    variable = _VARIABLE.match(path)
    if variable is not None:
        rest = path[variable.end() :]
    else:
        rest = path[2:] if path.startswith("$$") else path[1:]
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(rest):
        found = _TOKEN.match(rest, pos)
        if found is None:
            raise PathError(f"The path '{path}' is invalid")
        pos = found.end()
        kind = found.lastgroup
        value = found.group(kind) if kind else None
        if kind == "deep":
            steps.append(("deep", value))
        elif kind == "name":
            steps.append(("all", None) if value == "*" else ("key", value))
        elif kind in ("sq", "dq"):
            steps.append(("key", re.sub(r"\\(.)", r"\1", value or "")))
        elif kind == "star":
            steps.append(("all", None))
        elif kind == "index":
            steps.append(("index", int(value or 0)))
        elif kind == "slice":
            lo, _, hi = (value or ":").partition(":")
            steps.append(
                ("slice", (int(lo) if lo.strip() else None, int(hi) if hi.strip() else None))
            )
        elif kind == "union":
            steps.append(("union", [int(v) for v in (value or "").split(",")]))
        else:
            steps.append(("filter", _filter((value or "?()")[2:-1])))
    return steps


_FILTER = re.compile(r"^@((?:\.[\w-]+)+)\s*(==|!=|<=|>=|<|>)\s*(.+)$")


def _filter(text: str) -> Callable[[Any], bool]:
    found = _FILTER.match(text.strip())
    if found is None:
        exists = text.strip()
        if exists.startswith("@."):
            keys = exists[2:].split(".")
            return lambda item: _dig(item, keys) is not _MISSING
        raise PathError(f"Unsupported filter expression '{text}'")
    keys = found.group(1)[1:].split(".")
    op = found.group(2)
    try:
        literal = json.loads(found.group(3).replace("'", '"'))
    except ValueError:
        raise PathError(f"Unsupported filter expression '{text}'") from None

    def test(item: Any) -> bool:
        value = _dig(item, keys)
        if value is _MISSING:
            return False
        try:
            return bool(
                {
                    "==": lambda: value == literal,
                    "!=": lambda: value != literal,
                    "<": lambda: value < literal,
                    ">": lambda: value > literal,
                    "<=": lambda: value <= literal,
                    ">=": lambda: value >= literal,
                }[op]()
            )
        except TypeError:
            return False

    return test


_MISSING = object()


def _dig(value: Any, keys: list[str]) -> Any:
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _walk(values: list[Any], step: tuple[str, Any]) -> tuple[list[Any], bool]:
    """The values one step reaches, and whether the step may select several."""
    kind, arg = step
    out: list[Any] = []
    if kind == "key":
        out = [v[arg] for v in values if isinstance(v, dict) and arg in v]
        return out, False
    if kind == "index":
        for v in values:
            if isinstance(v, list) and -len(v) <= arg < len(v):
                out.append(v[arg])
        return out, False
    if kind == "all":
        for v in values:
            out.extend(v.values() if isinstance(v, dict) else v if isinstance(v, list) else [])
        return out, True
    if kind == "slice":
        for v in values:
            if isinstance(v, list):
                out.extend(v[arg[0] : arg[1]])
        return out, True
    if kind == "union":
        for v in values:
            if isinstance(v, list):
                out.extend(v[i] for i in arg if -len(v) <= i < len(v))
        return out, True
    if kind == "filter":
        for v in values:
            items = v if isinstance(v, list) else list(v.values()) if isinstance(v, dict) else []
            out.extend(i for i in items if arg(i))
        return out, True

    # deep scan
    def scan(v: Any) -> None:
        if isinstance(v, dict):
            if arg in v:
                out.append(v[arg])
            for child in v.values():
                scan(child)
        elif isinstance(v, list):
            for child in v:
                scan(child)

    for v in values:
        scan(v)
    return out, True


def check_path(path: str) -> None:
    """Raises PathError when ``path`` is not a JSONPath the States Language accepts."""
    _steps(path)


def is_reference_path(path: str) -> bool:
    """Reference Paths (ResultPath, Choice Variables) name one node: no wildcards or filters."""
    try:
        return all(kind in ("key", "index") for kind, _ in _steps(path))
    except PathError:
        return False


def select(path: str, data: Json, context: Json) -> Json:
    """The value ``path`` selects from ``data`` (``$$`` paths from the context object); a path
    that selects nothing is ``States.Runtime`` as AWS raises it."""
    found = lookup(path, data, context)
    if found is _MISSING:
        raise runtime(
            f"An error occurred while executing the state. The JSONPath '{path}' could not be "
            "found in the input"
        )
    return found


VARIABLES = "\x00variables"
"""Where the context handed to these functions keeps the workflow's variables."""
_VARIABLE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)")


def lookup(path: str, data: Json, context: Json) -> Any:
    """Like ``select`` but answers ``MISSING`` instead of raising."""
    root = context if path.startswith("$$") else data
    variable = _VARIABLE.match(path)
    if variable is not None:
        # ``$name.field``: a variable (Assign) rather than the input.
        variables = context.get(VARIABLES, {}) if isinstance(context, dict) else {}
        if variable.group(1) not in variables:
            return _MISSING
        root = variables[variable.group(1)]
    try:
        steps = _steps(path)
    except PathError as exc:
        raise runtime(str(exc)) from None
    values = [root]
    many = False
    for step in steps:
        values, more = _walk(values, step)
        many = many or more
        if not values and not many:
            return _MISSING
    if many:
        return values
    return values[0] if values else _MISSING


MISSING = _MISSING


def put(result_path: str | None, data: Json, result: Json) -> Json:
    """ResultPath: ``result`` placed into a copy of ``data`` at the reference path."""
    if result_path is None:
        return data
    if result_path == "$":
        return result
    steps = _steps(result_path)
    out = copy.deepcopy(data)
    if not isinstance(out, dict):
        raise StatesError(
            "States.Runtime",
            f"An error occurred while executing the state. Unable to apply ReferencePath "
            f"{result_path} to input {json.dumps(data)}",
        )
    node: Any = out
    for kind, key in steps[:-1]:
        if kind != "key":
            raise runtime(f"Invalid ResultPath {result_path}")
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    kind, key = steps[-1]
    if kind != "key":
        raise runtime(f"Invalid ResultPath {result_path}")
    node[key] = result
    return out


# -- payload templates and intrinsic functions ------------------------------------------------


def resolve(template: Json, data: Json, context: Json) -> Json:
    """A payload template (Parameters, ResultSelector, ItemSelector, Arguments): fields whose
    names end in ``.$`` take the value of their path or intrinsic function."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str):
                out[key[:-2]] = evaluate(value, data, context)
            else:
                out[key] = resolve(value, data, context)
        return out
    if isinstance(template, list):
        return [resolve(v, data, context) for v in template]
    return template


def evaluate(expression: str, data: Json, context: Json) -> Json:
    expression = expression.strip()
    if expression.startswith("States."):
        call = parse_intrinsic(expression)
        return _call(call, data, context)
    return select(expression, data, context)


class IntrinsicError(ValueError):
    pass


Call = tuple[str, list[Any]]
"""(function name, arguments): arguments are ("lit", value), ("path", text) or ("call", Call)."""


def parse_intrinsic(text: str) -> Call:
    call, pos = _parse_call(text, 0)
    if text[pos:].strip():
        raise IntrinsicError(f"Unexpected text after the intrinsic function: '{text[pos:]}'")
    return call


_NAME = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_PATH_ARG = re.compile(r"\$\$?(?:[^,()'\s]|\[[^\]]*\]|\([^)]*\))*")


def _parse_call(text: str, pos: int) -> tuple[Call, int]:
    found = _NAME.match(text, pos)
    if found is None:
        raise IntrinsicError(f"Invalid intrinsic function: '{text}'")
    name = found.group(0)
    if name not in FUNCTIONS:
        raise IntrinsicError(f"Unsupported intrinsic function: '{name}'")
    pos = found.end()
    if pos >= len(text) or text[pos] != "(":
        raise IntrinsicError(f"Missing '(' after {name}")
    pos += 1
    args: list[Any] = []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos < len(text) and text[pos] == ")" and not args:
            return (name, args), pos + 1
        arg, pos = _parse_arg(text, pos)
        args.append(arg)
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            raise IntrinsicError(f"Unterminated call of {name}")
        if text[pos] == ")":
            return (name, args), pos + 1
        if text[pos] != ",":
            raise IntrinsicError(f"Expected ',' or ')' in the call of {name}")
        pos += 1


def _parse_arg(text: str, pos: int) -> tuple[Any, int]:
    if text.startswith("States.", pos):
        call, pos = _parse_call(text, pos)
        return ("call", call), pos
    if pos < len(text) and text[pos] == "'":
        out = []
        pos += 1
        while pos < len(text) and text[pos] != "'":
            if text[pos] == "\\" and pos + 1 < len(text):
                pos += 1
                # \{ and \} stay escaped for States.Format's own reading of the template.
                out.append("\\" + text[pos] if text[pos] in "{}" else text[pos])
            else:
                out.append(text[pos])
            pos += 1
        if pos >= len(text):
            raise IntrinsicError("Unterminated string literal")
        return ("lit", "".join(out)), pos + 1
    if text.startswith("$", pos):
        found = _PATH_ARG.match(text, pos)
        assert found is not None
        return ("path", found.group(0)), found.end()
    for word, value in (("true", True), ("false", False), ("null", None)):
        if text.startswith(word, pos):
            return ("lit", value), pos + len(word)
    found = _NUMBER.match(text, pos)
    if found is None:
        raise IntrinsicError(f"Invalid argument at '{text[pos:]}'")
    number = json.loads(found.group(0))
    return ("lit", number), found.end()


def _arg(arg: Any, data: Json, context: Json) -> Any:
    kind, value = arg
    if kind == "lit":
        return value
    if kind == "path":
        return select(value, data, context)
    return _call(value, data, context)


def _call(call: Call, data: Json, context: Json) -> Json:
    name, raw = call
    args = [_arg(a, data, context) for a in raw]
    try:
        return FUNCTIONS[name](*args)
    except StatesError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, OverflowError) as exc:
        raise StatesError("States.IntrinsicFailure", f"{name}: {exc}") from None


def _unescape(text: str) -> str:
    return text.replace("\\{", "{").replace("\\}", "}")


def _format(template: str, *values: Any) -> str:
    pieces = re.split(r"(?<!\\)\{\}", template)
    if len(pieces) - 1 != len(values):
        raise ValueError(
            f"Number of arguments ({len(values)}) does not match the number of placeholders "
            f"({len(pieces) - 1})"
        )
    out = _unescape(pieces[0])
    for value, piece in zip(values, pieces[1:], strict=True):
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        out += text + _unescape(piece)
    return out


def _number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{value!r} is not an integer")
    return int(value)


def _array_partition(items: list[Any], size: Any) -> list[list[Any]]:
    n = _number(size)
    if n <= 0:
        raise ValueError("the chunk size must be positive")
    return [items[i : i + n] for i in range(0, len(items), n)]


def _array_range(start: Any, end: Any, step: Any) -> list[int]:
    a, b, s = _number(start), _number(end), _number(step)
    if s == 0:
        raise ValueError("the step must not be 0")
    out = list(range(a, b + (1 if s > 0 else -1), s))
    if len(out) > 1000:
        raise ValueError("the range has more than 1000 items")
    return out


def _array_get(items: list[Any], index: Any) -> Any:
    i = _number(index)
    if not isinstance(items, list) or not 0 <= i < len(items):
        raise IndexError(f"index {i} is out of bounds")
    return items[i]


def _unique(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _hash(data: Any, algorithm: str) -> str:
    names = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384"}
    names["SHA-512"] = "sha512"
    if algorithm not in names:
        raise ValueError(f"unsupported hash algorithm {algorithm}")
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return hashlib.new(names[algorithm], text.encode()).hexdigest()


def _merge(a: Any, b: Any, deep: Any) -> Any:
    if not isinstance(a, dict) or not isinstance(b, dict):
        raise ValueError("States.JsonMerge merges two JSON objects")
    if deep is not False:
        raise ValueError("States.JsonMerge supports shallow merges only (false)")
    return {**a, **b}


def _random(start: Any, end: Any, seed: Any = None) -> int:
    lo, hi = _number(start), _number(end)
    rng = random.Random(_number(seed)) if seed is not None else random
    return rng.randint(lo, hi)


def _split(text: str, delimiters: str) -> list[str]:
    if not isinstance(text, str) or not isinstance(delimiters, str):
        raise ValueError("States.StringSplit takes two strings")
    pattern = "[" + re.escape(delimiters) + "]" if delimiters else None
    return [p for p in (re.split(pattern, text) if pattern else [text]) if p]


def _b64decode(text: str) -> str:
    return base64.b64decode(text, validate=True).decode()


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "States.Format": _format,
    "States.StringToJson": lambda text: json.loads(text),
    "States.JsonToString": lambda value: json.dumps(value, separators=(",", ":")),
    "States.Array": lambda *values: list(values),
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": lambda items, value: value in items,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get,
    "States.ArrayLength": lambda items: len(items) if isinstance(items, list) else len([]),
    "States.ArrayUnique": _unique,
    "States.Base64Encode": lambda text: base64.b64encode(text.encode()).decode(),
    "States.Base64Decode": _b64decode,
    "States.Hash": _hash,
    "States.JsonMerge": _merge,
    "States.MathRandom": _random,
    "States.MathAdd": lambda a, b: _number(a) + _number(b),
    "States.StringSplit": _split,
    "States.UUID": lambda: str(uuid.uuid4()),
}
