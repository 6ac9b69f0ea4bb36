"""Composite alarm rules: ``ALARM(name)``, ``OK(name)``, ``INSUFFICIENT_DATA(name)``, ``TRUE``,
``FALSE``, combined with ``AND``, ``OR``, ``NOT`` and parentheses (NOT binds tightest, then AND,
then OR). An alarm is named by its name or ARN, optionally in double quotes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<fn>ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?P<arg>\"(?:[^\"\\]|\\.)*\"|[^()\s]+)\s*\)"
    r"|(?P<word>AND|OR|NOT|TRUE|FALSE)\b|(?P<paren>[()]))"
)

Rule = tuple[Any, ...]


MAX_NESTING = 100
"""NOTs and parentheses one inside another."""


class RuleError(ValueError):
    pass


def parse(text: str) -> Rule:
    tokens: list[tuple[str, str]] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if m is None:
            raise RuleError(f"Error in alarm rule at position {pos + 1}.")
        if m.group("fn"):
            arg = m.group("arg")
            if arg.startswith('"'):
                arg = re.sub(r"\\(.)", r"\1", arg[1:-1])
            tokens.append((m.group("fn"), arg))
        elif m.group("word"):
            tokens.append(("word", m.group("word")))
        else:
            tokens.append(("paren", m.group("paren")))
        pos = m.end()
    if not tokens:
        raise RuleError("The alarm rule is empty.")
    i = 0
    depth = 0

    def deeper() -> None:
        # Each NOT and parenthesis is a call deeper, here and when the rule is evaluated.
        nonlocal depth
        depth += 1
        if depth > MAX_NESTING:
            raise RuleError("The alarm rule is nested too deeply.")

    def peek() -> tuple[str, str] | None:
        return tokens[i] if i < len(tokens) else None

    def or_expr() -> Rule:
        nonlocal i
        left = and_expr()
        while peek() == ("word", "OR"):
            i += 1
            left = ("or", left, and_expr())
        return left

    def and_expr() -> Rule:
        nonlocal i
        left = not_expr()
        while peek() == ("word", "AND"):
            i += 1
            left = ("and", left, not_expr())
        return left

    def not_expr() -> Rule:
        nonlocal i, depth
        if peek() == ("word", "NOT"):
            i += 1
            deeper()
            negated = ("not", not_expr())
            depth -= 1
            return negated
        return atom()

    def atom() -> Rule:
        nonlocal i, depth
        tok = peek()
        if tok is None:
            raise RuleError("Unexpected end of alarm rule.")
        i += 1
        if tok == ("paren", "("):
            deeper()
            inner = or_expr()
            if peek() != ("paren", ")"):
                raise RuleError("Missing closing parenthesis in alarm rule.")
            i += 1
            depth -= 1
            return inner
        if tok[0] in ("ALARM", "OK", "INSUFFICIENT_DATA"):
            return ("state", tok[0], tok[1])
        if tok in (("word", "TRUE"), ("word", "FALSE")):
            return ("const", tok[1] == "TRUE")
        raise RuleError(f"Unexpected '{tok[1]}' in alarm rule.")

    rule = or_expr()
    if i != len(tokens):
        raise RuleError(f"Unexpected '{tokens[i][1]}' in alarm rule.")
    return rule


def referenced(rule: Rule) -> list[str]:
    if rule[0] == "state":
        return [rule[2]]
    if rule[0] == "const":
        return []
    return [name for part in rule[1:] for name in referenced(part)]


def holds(rule: Rule, state_of: Callable[[str], str | None]) -> bool:
    kind = rule[0]
    if kind == "state":
        return state_of(rule[2]) == rule[1]
    if kind == "const":
        return bool(rule[1])
    if kind == "not":
        return not holds(rule[1], state_of)
    if kind == "and":
        return holds(rule[1], state_of) and holds(rule[2], state_of)
    return holds(rule[1], state_of) or holds(rule[2], state_of)
