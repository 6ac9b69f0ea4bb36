"""Splits an expression into tokens, each knowing where it stands in the source (for the
``near:`` part of DynamoDB's syntax errors)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nubes.services.dynamodb.errors import ValidationException


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    """NAME, NAMEREF (#x), VALUEREF (:x), NUMBER, an operator or punctuation, or EOF."""
    text: str
    start: int
    end: int


_PATTERN = re.compile(
    r"\s*(?:"
    r"(?P<NAME>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<NAMEREF>\#[A-Za-z0-9_]+)"
    r"|(?P<VALUEREF>:[A-Za-z0-9_]+)"
    r"|(?P<NUMBER>[0-9]+)"
    r"|(?P<OP><>|<=|>=|[=<>()\[\],.+\-])"
    r"|(?P<BAD>\S)"
    r")"
)


class SyntaxFailure(Exception):
    """A syntax error at a token; the caller words it for the expression it was parsing."""

    def __init__(self, token: Token, near: str, detail: str = "") -> None:
        super().__init__(token.text)
        self.token = token
        self.near = near
        self.detail = detail
        """Set for the errors DynamoDB words as other than a syntax error."""


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    length = len(source)
    while pos < length:
        match = _PATTERN.match(source, pos)
        if match is None or match.end() == pos:
            break
        kind = match.lastgroup or "BAD"
        start = match.start(kind)
        text = match.group(kind)
        tokens.append(Token(text if kind == "OP" else kind, text, start, match.end()))
        pos = match.end()
    tokens.append(Token("EOF", "<EOF>", length, length))
    for i, token in enumerate(tokens):
        if token.kind == "BAD":
            raise SyntaxFailure(token, near(source, tokens, i))
    return tokens


def near(source: str, tokens: list[Token], index: int) -> str:
    """The source from the token before the offending one to the token after it."""
    first = tokens[max(index - 1, 0)]
    last = tokens[min(index + 1, len(tokens) - 1)]
    return source[first.start : last.end]


def syntax_error(kind: str, failure: SyntaxFailure) -> Exception:
    if failure.detail:
        return ValidationException(f"Invalid {kind}: {failure.detail};")
    return ValidationException(
        f'Invalid {kind}: Syntax error; token: "{failure.token.text}", near: "{failure.near}"'
    )
