"""The Velocity (VTL) subset API Gateway's mapping templates use: references (``$x``,
``$!x``, ``${x}``, properties, method calls, indexes), ``#set``, ``#if``/``#elseif``/
``#else``, ``#foreach`` (with ``$foreach.hasNext``), comments; ``$input`` (``json``, ``path``,
``params``, ``body``), ``$util`` (``escapeJavaScript``, ``parseJson``, ``urlEncode``,
``urlDecode``, ``base64Encode``, ``base64Decode``), ``$context`` and ``$stageVariables``."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from typing import Any
from urllib.parse import quote_plus, unquote_plus

MAX_LOOP = 1000
"""API Gateway caps #foreach at 1,000 iterations."""


class TemplateError(Exception):
    pass


# -- the objects templates see ---------------------------------------------------------------


class Input:
    def __init__(self, body: str, params: dict[str, dict[str, str]]) -> None:
        self.body = body
        self._params = params
        self._parsed: Any = None
        self._done = False

    def _doc(self) -> Any:
        if not self._done:
            self._done = True
            try:
                self._parsed = json.loads(self.body) if self.body.strip() else {}
            except ValueError:
                self._parsed = None
        return self._parsed

    def path(self, expr: str) -> Any:
        return json_path(self._doc(), expr)

    def json(self, expr: str) -> str:
        return json.dumps(json_path(self._doc(), expr))

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return self._params
        for where in ("path", "querystring", "header"):
            found = self._params.get(where, {})
            value = found.get(name.lower() if where == "header" else name)
            if value is not None:
                return value
        return ""


class Util:
    @staticmethod
    def escapeJavaScript(text: Any) -> str:
        return json.dumps(_text(text))[1:-1].replace("'", "\\'")

    @staticmethod
    def parseJson(text: Any) -> Any:
        return json.loads(_text(text))

    @staticmethod
    def urlEncode(text: Any) -> str:
        return quote_plus(_text(text))

    @staticmethod
    def urlDecode(text: Any) -> str:
        return unquote_plus(_text(text))

    @staticmethod
    def base64Encode(text: Any) -> str:
        return base64.b64encode(_text(text).encode()).decode()

    @staticmethod
    def base64Decode(text: Any) -> str:
        return base64.b64decode(_text(text)).decode("utf-8", "replace")


_JSON_STEP = re.compile(
    r"\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]|\.\*|\[\*\]"
)


def json_path(doc: Any, expr: str) -> Any:
    """The JSONPath subset templates use: ``$``, ``.name``, ``['name']``, ``[index]``."""
    expr = expr.strip()
    if not expr.startswith("$"):
        raise TemplateError(f"Invalid JSONPath {expr!r}")
    pos, value = 1, doc
    while pos < len(expr):
        found = _JSON_STEP.match(expr, pos)
        if found is None:
            raise TemplateError(f"Invalid JSONPath {expr!r}")
        pos = found.end()
        name = found.group(1) or found.group(3) or found.group(4)
        if found.group(2) is not None:
            index = int(found.group(2))
            value = value[index] if isinstance(value, list) and index < len(value) else None
        elif name is not None:
            value = value.get(name) if isinstance(value, dict) else None
        else:
            value = list(value.values()) if isinstance(value, dict) else value
    return value


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else to_string(value)


def to_string(value: Any) -> str:
    """How Velocity prints a value (Java's toString for maps and lists)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={to_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_string(v) for v in value) + "]"
    return str(value)


# -- parsing -----------------------------------------------------------------------------------

Node = tuple[Any, ...]


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.pos = 0

    def parse(self, ends: tuple[str, ...] = ()) -> tuple[list[Node], str]:
        """Nodes up to one of the directives in ``ends`` (which is consumed and returned)."""
        nodes: list[Node] = []
        text: list[str] = []
        src = self.src
        while self.pos < len(src):
            ch = src[self.pos]
            if ch == "#":
                if src.startswith("##", self.pos):
                    end = src.find("\n", self.pos)
                    self.pos = len(src) if end < 0 else end + 1
                    continue
                if src.startswith("#*", self.pos):
                    end = src.find("*#", self.pos)
                    self.pos = len(src) if end < 0 else end + 2
                    continue
                found = re.compile(r"#\{?(set|if|elseif|else|end|foreach|break)\b\}?").match(
                    src, self.pos
                )
                if found is not None:
                    word = found.group(1)
                    if text:
                        nodes.append(("text", "".join(text)))
                        text = []
                    self.pos = found.end()
                    if word in ends:
                        return nodes, word
                    if word == "set":
                        nodes.append(self._set())
                    elif word == "if":
                        nodes.append(self._if())
                    elif word == "foreach":
                        nodes.append(self._foreach())
                    elif word == "break":
                        nodes.append(("break",))
                    else:
                        raise TemplateError(f"Unexpected #{word}")
                    continue
            if ch == "$" and self._reference_start():
                if text:
                    nodes.append(("text", "".join(text)))
                    text = []
                nodes.append(self._reference_in_text())
                continue
            if ch == "\\" and src.startswith("\\$", self.pos):
                text.append("$")
                self.pos += 2
                continue
            text.append(ch)
            self.pos += 1
        if text:
            nodes.append(("text", "".join(text)))
        if ends:
            raise TemplateError("Missing #end")
        return nodes, ""

    def _reference_start(self) -> bool:
        return re.compile(r"\$!?\{?[A-Za-z_]").match(self.src, self.pos) is not None

    def _directive_args(self) -> None:
        self._spaces()
        if not self.src.startswith("(", self.pos):
            raise TemplateError("Expected '(' after a directive")
        self.pos += 1

    def _close(self) -> None:
        self._spaces()
        if not self.src.startswith(")", self.pos):
            raise TemplateError(f"Expected ')' at {self.pos}")
        self.pos += 1

    def _set(self) -> Node:
        self._directive_args()
        self._spaces()
        target = self._primary()
        self._spaces()
        if not self.src.startswith("=", self.pos):
            raise TemplateError("Expected '=' in #set")
        self.pos += 1
        value = self._expr()
        self._close()
        self._eat_line_end()
        return ("set", target, value)

    def _if(self) -> Node:
        branches: list[tuple[Node | None, list[Node]]] = []
        self._directive_args()
        cond: Node | None = self._expr()
        self._close()
        while True:
            body, end = self.parse(("elseif", "else", "end"))
            branches.append((cond, body))
            if end == "end":
                return ("if", branches)
            if end == "elseif":
                self._directive_args()
                cond = self._expr()
                self._close()
            else:
                cond = None

    def _foreach(self) -> Node:
        self._directive_args()
        self._spaces()
        var = self._primary()
        self._spaces()
        if not self.src.startswith("in", self.pos):
            raise TemplateError("Expected 'in' in #foreach")
        self.pos += 2
        items = self._expr()
        self._close()
        body, _ = self.parse(("end",))
        return ("foreach", var[1], items, body)

    def _eat_line_end(self) -> None:
        found = re.compile(r"[ \t]*\r?\n").match(self.src, self.pos)
        if found is not None:
            self.pos = found.end()

    def _spaces(self) -> None:
        while self.pos < len(self.src) and self.src[self.pos] in " \t\r\n":
            self.pos += 1

    # references

    def _reference_in_text(self) -> Node:
        start = self.pos
        self.pos += 1
        quiet = self.src.startswith("!", self.pos)
        if quiet:
            self.pos += 1
        braced = self.src.startswith("{", self.pos)
        if braced:
            self.pos += 1
        node = self._chain(self._name(), in_text=not braced)
        if braced:
            if not self.src.startswith("}", self.pos):
                raise TemplateError("Expected '}'")
            self.pos += 1
        return ("out", node, quiet, self.src[start : self.pos])

    def _name(self) -> str:
        found = re.compile(r"[A-Za-z_][\w-]*").match(self.src, self.pos)
        if found is None:
            raise TemplateError(f"Expected a name at {self.pos}")
        name = found.group(0)
        # A trailing '-' belongs to the text (``$a-$b``), as Velocity reads it.
        name = name.rstrip("-")
        self.pos += len(name)
        return name

    def _chain(self, name: str, in_text: bool = False) -> Node:
        node: Node = ("var", name)
        while True:
            if self.src.startswith(".", self.pos) and re.compile(r"\.[A-Za-z_]").match(
                self.src, self.pos
            ):
                self.pos += 1
                attr = self._name()
                if self.src.startswith("(", self.pos):
                    self.pos += 1
                    args = self._args(")")
                    node = ("call", node, attr, args)
                else:
                    node = ("attr", node, attr)
            elif self.src.startswith("[", self.pos):
                self.pos += 1
                index = self._expr()
                self._spaces()
                if not self.src.startswith("]", self.pos):
                    raise TemplateError("Expected ']'")
                self.pos += 1
                node = ("index", node, index)
            else:
                return node

    def _args(self, closing: str) -> list[Node]:
        args: list[Node] = []
        self._spaces()
        if self.src.startswith(closing, self.pos):
            self.pos += 1
            return args
        while True:
            args.append(self._expr())
            self._spaces()
            if self.src.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.src.startswith(closing, self.pos):
                self.pos += 1
                return args
            raise TemplateError(f"Expected ',' or '{closing}' at {self.pos}")

    # expressions

    _BINARY = [
        ("||", "or"),
        ("&&", "and"),
        ("==", "!=", "eq", "ne"),
        ("<=", ">=", "<", ">", "le", "ge", "lt", "gt"),
        ("+", "-"),
        ("*", "/", "%"),
    ]

    def _expr(self, level: int = 0) -> Node:
        if level == len(self._BINARY):
            return self._unary()
        left = self._expr(level + 1)
        while True:
            self._spaces()
            op = self._operator(self._BINARY[level])
            if op is None:
                return left
            right = self._expr(level + 1)
            left = ("op", op, left, right)

    def _operator(self, ops: tuple[str, ...]) -> str | None:
        for op in ops:
            if not self.src.startswith(op, self.pos):
                continue
            end = self.pos + len(op)
            if op.isalpha() and end < len(self.src) and self.src[end].isalnum():
                continue
            if op in ("<", ">") and self.src.startswith("=", end):
                continue
            self.pos = end
            return {"or": "||", "and": "&&", "eq": "==", "ne": "!=", "le": "<=", "ge": ">=",
                    "lt": "<", "gt": ">"}.get(op, op)  # fmt: skip
        return None

    def _unary(self) -> Node:
        self._spaces()
        if self.src.startswith("!", self.pos) and not self.src.startswith("!=", self.pos):
            self.pos += 1
            return ("not", self._unary())
        if re.compile(r"not\b").match(self.src, self.pos):
            self.pos += 3
            return ("not", self._unary())
        if (
            self.src.startswith("-", self.pos)
            and not self.src[self.pos + 1 : self.pos + 2].isdigit()
        ):
            self.pos += 1
            return ("op", "-", ("lit", 0), self._unary())
        return self._primary()

    def _primary(self) -> Node:
        self._spaces()
        src, pos = self.src, self.pos
        if pos >= len(src):
            raise TemplateError("Unexpected end of template")
        ch = src[pos]
        if ch == "$":
            self.pos += 1
            if src.startswith("!", self.pos):
                self.pos += 1
            braced = src.startswith("{", self.pos)
            if braced:
                self.pos += 1
            node = self._chain(self._name())
            if braced:
                self.pos += 1
            return node
        if ch in "'\"":
            end = src.find(ch, pos + 1)
            if end < 0:
                raise TemplateError("Unterminated string")
            self.pos = end + 1
            text = src[pos + 1 : end]
            if ch == '"' and "$" in text:
                inner, _ = _Parser(text).parse()
                return ("interp", inner)
            return ("lit", text)
        if ch == "(":
            self.pos += 1
            node = self._expr()
            self._close()
            return node
        if ch == "[":
            self.pos += 1
            found = re.compile(r"\s*(-?\d+)\s*\.\.\s*(-?\d+|\$[\w.]+)\s*\]").match(src, self.pos)
            if found is not None and found.group(2)[0] != "$":
                self.pos = found.end()
                lo, hi = int(found.group(1)), int(found.group(2))
                step = 1 if hi >= lo else -1
                return ("lit", list(range(lo, hi + step, step)))
            return ("list", self._args("]"))
        if ch == "{":
            self.pos += 1
            pairs: list[tuple[Node, Node]] = []
            self._spaces()
            if src.startswith("}", self.pos):
                self.pos += 1
                return ("map", pairs)
            while True:
                key = self._expr()
                self._spaces()
                if not src.startswith(":", self.pos):
                    raise TemplateError("Expected ':' in a map")
                self.pos += 1
                pairs.append((key, self._expr()))
                self._spaces()
                if src.startswith(",", self.pos):
                    self.pos += 1
                    continue
                if src.startswith("}", self.pos):
                    self.pos += 1
                    return ("map", pairs)
                raise TemplateError("Expected ',' or '}' in a map")
        found = re.compile(r"-?\d+(\.\d+)?").match(src, pos)
        if found is not None:
            self.pos = found.end()
            text = found.group(0)
            return ("lit", float(text) if "." in text else int(text))
        for word, value in (("true", True), ("false", False), ("null", None)):
            if re.compile(word + r"\b").match(src, pos):
                self.pos += len(word)
                return ("lit", value)
        raise TemplateError(f"Unexpected {ch!r} at {pos}")


# -- evaluation --------------------------------------------------------------------------------


class _Break(Exception):
    pass


def render(template: str, body: str, context: dict[str, Any]) -> str:
    """The template's output for a request (or integration response) ``body``; ``context``
    holds ``context``, ``stageVariables`` and ``params`` (path, querystring, header)."""
    nodes, _ = _Parser(template).parse()
    scope: dict[str, Any] = {
        "input": Input(body, context.get("params") or {}),
        "util": Util(),
        "context": context.get("context") or {},
        "stageVariables": context.get("stageVariables") or {},
    }
    out: list[str] = []
    with contextlib.suppress(_Break):
        _run(nodes, scope, out)
    return "".join(out)


def _run(nodes: list[Node], scope: dict[str, Any], out: list[str]) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "out":
            value = _eval(node[1], scope)
            if value is None:
                out.append("" if node[2] else node[3])
            else:
                out.append(to_string(value))
        elif kind == "set":
            _assign(node[1], _eval(node[2], scope), scope)
        elif kind == "if":
            for cond, body in node[1]:
                if cond is None or _truthy(_eval(cond, scope)):
                    _run(body, scope, out)
                    break
        elif kind == "foreach":
            items = _eval(node[2], scope)
            if isinstance(items, dict):
                items = list(items.values())
            items = list(items or [])[:MAX_LOOP]
            saved = scope.get(node[1]), scope.get("foreach")
            try:
                for i, item in enumerate(items):
                    scope[node[1]] = item
                    scope["foreach"] = {
                        "index": i,
                        "count": i + 1,
                        "hasNext": i + 1 < len(items),
                        "first": i == 0,
                        "last": i + 1 == len(items),
                    }
                    _run(node[3], scope, out)
            except _Break:
                pass
            scope[node[1]], scope["foreach"] = saved
        elif kind == "break":
            raise _Break


def _assign(target: Node, value: Any, scope: dict[str, Any]) -> None:
    if target[0] == "var":
        scope[target[1]] = value
    elif target[0] == "attr":
        owner = _eval(target[1], scope)
        if isinstance(owner, dict):
            owner[target[2]] = value
    elif target[0] == "index":
        owner = _eval(target[1], scope)
        key = _eval(target[2], scope)
        if isinstance(owner, dict | list):
            owner[key] = value


def _truthy(value: Any) -> bool:
    return value is not None and value is not False


def _eval(node: Node, scope: dict[str, Any]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "var":
        return scope.get(node[1])
    if kind == "attr":
        owner = _eval(node[1], scope)
        return _attribute(owner, node[2])
    if kind == "index":
        owner = _eval(node[1], scope)
        key = _eval(node[2], scope)
        if isinstance(owner, dict):
            return owner.get(key)
        if isinstance(owner, list) and isinstance(key, int) and -len(owner) <= key < len(owner):
            return owner[key]
        return None
    if kind == "call":
        owner = _eval(node[1], scope)
        args = [_eval(a, scope) for a in node[3]]
        return _call(owner, node[2], args)
    if kind == "interp":
        out: list[str] = []
        _run(node[1], scope, out)
        return "".join(out)
    if kind == "list":
        return [_eval(n, scope) for n in node[1]]
    if kind == "map":
        return {_eval(k, scope): _eval(v, scope) for k, v in node[1]}
    if kind == "not":
        return not _truthy(_eval(node[1], scope))
    if kind == "op":
        return _binary(node[1], node[2], node[3], scope)
    raise TemplateError(f"Cannot evaluate {kind}")


def _binary(op: str, left_node: Node, right_node: Node, scope: dict[str, Any]) -> Any:
    left = _eval(left_node, scope)
    if op == "&&":
        return _truthy(left) and _truthy(_eval(right_node, scope))
    if op == "||":
        return _truthy(left) or _truthy(_eval(right_node, scope))
    right = _eval(right_node, scope)
    if op == "==":
        return left == right or (left is not None and to_string(left) == to_string(right))
    if op == "!=":
        return not (left == right or (left is not None and to_string(left) == to_string(right)))
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return to_string(left) + to_string(right)
    try:
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "/":
            return (
                left // right if isinstance(left, int) and isinstance(right, int) else left / right
            )
        if op == "%":
            return left % right
        if op == "<":
            return left < right
        if op == ">":
            return left > right
        if op == "<=":
            return left <= right
        if op == ">=":
            return left >= right
    except (TypeError, ZeroDivisionError):
        return None
    raise TemplateError(f"Unknown operator {op}")


def _attribute(owner: Any, name: str) -> Any:
    if isinstance(owner, dict):
        return owner.get(name)
    if isinstance(owner, Input) and name == "body":
        return owner.body
    if isinstance(owner, list | str) and name in ("size", "length"):
        return len(owner)
    if isinstance(owner, list) and name == "empty":
        return not owner
    return None


def _call(owner: Any, name: str, args: list[Any]) -> Any:
    if isinstance(owner, Input | Util):
        method = getattr(owner, name, None)
        if method is None or name.startswith("_"):
            return None
        try:
            return method(*args)
        except (TypeError, ValueError, TemplateError):
            return None
    if isinstance(owner, dict):
        table: dict[str, Any] = {
            "get": lambda k: owner.get(k),
            "containsKey": lambda k: k in owner,
            "keySet": lambda: list(owner),
            "values": lambda: list(owner.values()),
            "size": lambda: len(owner),
            "isEmpty": lambda: not owner,
            "put": lambda k, v: owner.__setitem__(k, v),
            "remove": lambda k: owner.pop(k, None),
            "toString": lambda: to_string(owner),
        }
    elif isinstance(owner, list):
        table = {
            "size": lambda: len(owner),
            "get": lambda i: owner[i] if 0 <= i < len(owner) else None,
            "isEmpty": lambda: not owner,
            "contains": lambda v: v in owner,
            "add": lambda v: owner.append(v),
            "toString": lambda: to_string(owner),
        }
    elif isinstance(owner, str):
        table = {
            "length": lambda: len(owner),
            "size": lambda: len(owner),
            "isEmpty": lambda: not owner,
            "contains": lambda s: to_string(s) in owner,
            "startsWith": lambda s: owner.startswith(to_string(s)),
            "endsWith": lambda s: owner.endswith(to_string(s)),
            "indexOf": lambda s: owner.find(to_string(s)),
            "substring": lambda a, b=None: owner[a:b],
            "toLowerCase": lambda: owner.lower(),
            "toUpperCase": lambda: owner.upper(),
            "trim": lambda: owner.strip(),
            "replace": lambda a, b: owner.replace(to_string(a), to_string(b)),
            "replaceAll": lambda a, b: re.sub(to_string(a), to_string(b), owner),
            "split": lambda s: re.split(to_string(s), owner),
            "equals": lambda s: owner == s,
            "toString": lambda: owner,
        }
    elif owner is not None:
        table = {"toString": lambda: to_string(owner), "equals": lambda s: owner == s}
    else:
        return None
    function = table.get(name)
    if function is None:
        return None
    try:
        return function(*args)
    except (TypeError, ValueError, IndexError, re.error):
        return None
