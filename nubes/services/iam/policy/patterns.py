"""Wildcards (``*``, ``?``) and policy variables (``${aws:username}``, ``${*}``, defaults).

A pattern compiles once into a matcher; patterns with variables are resolved against the
request's context keys first, and the values substituted in are matched literally.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

Context = Mapping[str, Sequence[str]]
"""Condition keys, lower-cased, to their values (a single-valued key has one)."""

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


class Unresolved(Exception):
    """A variable names a key the request does not have, and gives no default."""


def substitute(text: str, context: Context) -> list[tuple[str, bool]]:
    """``text`` as pieces (value, is_literal): pattern text keeps its wildcards, substituted
    values and escapes do not. Raises :class:`Unresolved`."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for m in _VARIABLE.finditer(text):
        if m.start() > pos:
            pieces.append((text[pos : m.start()], False))
        pieces.append((_value(m.group(1), context), True))
        pos = m.end()
    if pos < len(text):
        pieces.append((text[pos:], False))
    return pieces


def _value(body: str, context: Context) -> str:
    if body in _ESCAPES:
        return _ESCAPES[body]
    key, sep, default = body.partition(",")
    values = context.get(key.strip().lower())
    if values:
        return values[0]
    default = default.strip()
    if sep and len(default) >= 2 and default[0] == default[-1] == "'":
        return default[1:-1]
    raise Unresolved(key.strip())


def resolve(text: str, context: Context) -> str | None:
    """``text`` with its variables replaced (no wildcard meaning), or None if unresolved."""
    if "${" not in text:
        return text
    try:
        return "".join(value for value, _ in substitute(text, context))
    except Unresolved:
        return None


def _regex(pieces: Sequence[tuple[str, bool]]) -> str:
    out = []
    for value, literal in pieces:
        if literal:
            out.append(re.escape(value))
            continue
        for ch in value:
            out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return "".join(out)


@lru_cache(maxsize=8192)
def _compiled(regex: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


Matcher = Callable[[str, Context], bool]


def glob(pattern: str, ignore_case: bool = False, variables: bool = False) -> Matcher:
    """A matcher for ``pattern`` with ``*``/``?`` wildcards (and variables when the policy's
    version allows them)."""
    if variables and "${" in pattern:

        def match_with_variables(value: str, context: Context) -> bool:
            try:
                pieces = substitute(pattern, context)
            except Unresolved:
                return False
            return _compiled(_regex(pieces), ignore_case).fullmatch(value) is not None

        return match_with_variables
    if pattern == "*":
        return lambda value, context: True
    if "*" not in pattern and "?" not in pattern:
        if ignore_case:
            lowered = pattern.lower()
            return lambda value, context: value.lower() == lowered
        return lambda value, context: value == pattern
    regex = _compiled(_regex([(pattern, False)]), ignore_case)
    return lambda value, context: regex.fullmatch(value) is not None


def like(pattern: str, value: str, context: Context, ignore_case: bool = False) -> bool:
    """One-off wildcard match (condition values), variables resolved."""
    try:
        pieces = substitute(pattern, context) if "${" in pattern else [(pattern, False)]
    except Unresolved:
        return False
    return _compiled(_regex(pieces), ignore_case).fullmatch(value) is not None


def arn_like(pattern: str, value: str, context: Context) -> bool:
    """ARN matching: segment by segment (wildcards stay inside their segment), the resource
    part last."""
    p_parts = pattern.split(":", 5)
    v_parts = value.split(":", 5)
    if len(p_parts) != 6 or len(v_parts) != 6:
        return like(pattern, value, context)
    return all(like(p, v, context) for p, v in zip(p_parts, v_parts, strict=True))
