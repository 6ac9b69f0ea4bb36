"""DynamoDB's expression language: tokenizer -> parser (AST) -> validator -> evaluator.

:class:`Expressions` holds one request's ExpressionAttributeNames/Values; each ``*_expression``
method parses and validates one expression of the request, and :meth:`Expressions.finish`
rejects names or values no expression used.
"""

from __future__ import annotations

from typing import Any

from nubes.services.dynamodb.errors import RequestValidationException, ValidationException
from nubes.services.dynamodb.expressions import ast
from nubes.services.dynamodb.expressions.evaluator import (
    apply_update,
    get_path,
    matches,
    project,
    updated_paths,
)
from nubes.services.dynamodb.expressions.parser import (
    parse_condition,
    parse_projection,
    parse_update,
)
from nubes.services.dynamodb.expressions.tokenizer import SyntaxFailure, syntax_error
from nubes.services.dynamodb.expressions.validator import (
    KeyCondition,
    Resolver,
    Validator,
    check_overlaps,
    key_condition,
    multi_key_condition,
)

__all__ = [
    "Expressions",
    "KeyCondition",
    "apply_update",
    "get_path",
    "matches",
    "project",
    "updated_paths",
]

Element = str | int


MAX_EXPRESSION_BYTES = 4096


def _check_source(kind: str, source: str) -> None:
    if not source.strip():
        # An empty string fails DynamoDB's request validation; blanks reach its parser.
        fail = RequestValidationException if not source else ValidationException
        raise fail(f"Invalid {kind}: The expression can not be empty;")
    size = len(source.encode())
    if size > MAX_EXPRESSION_BYTES:
        raise ValidationException(
            f"Invalid {kind}: Expression size has exceeded the maximum allowed size; "
            f"expression size: {size}"
        )


class Expressions:
    def __init__(
        self,
        names: dict[str, str] | None,
        values: dict[str, Any] | None,
        any_expression: bool = True,
    ) -> None:
        self.resolver = Resolver(names, values, any_expression)

    def condition(self, source: str, kind: str = "ConditionExpression") -> ast.Condition:
        _check_source(kind, source)
        try:
            tree = parse_condition(source)
        except SyntaxFailure as failure:
            raise syntax_error(kind, failure) from None
        Validator(self.resolver, kind).condition(tree)
        return tree

    def update(self, source: str) -> ast.Update:
        kind = "UpdateExpression"
        _check_source(kind, source)
        try:
            tree = parse_update(source)
        except SyntaxFailure as failure:
            raise syntax_error(kind, failure) from None
        Validator(self.resolver, kind).update(tree)
        return tree

    def projection(self, source: str) -> list[tuple[Element, ...]]:
        kind = "ProjectionExpression"
        _check_source(kind, source)
        try:
            paths = parse_projection(source)
        except SyntaxFailure as failure:
            raise syntax_error(kind, failure) from None
        validator = Validator(self.resolver, kind)
        elements = [validator.path(p).elements() for p in paths]
        check_overlaps(elements, validator.error)
        return elements

    def key_condition(
        self, source: str, hash_keys: list[tuple[str, str]], range_keys: list[tuple[str, str]]
    ) -> KeyCondition:
        kind = "KeyConditionExpression"
        _check_source(kind, source)
        try:
            tree = parse_condition(source)
        except SyntaxFailure as failure:
            raise syntax_error(kind, failure) from None
        validator = Validator(self.resolver, kind)
        if len(hash_keys) > 1 or len(range_keys) > 1:
            return multi_key_condition(validator, tree, hash_keys, range_keys)
        return key_condition(validator, tree, hash_keys[0], range_keys[0] if range_keys else None)

    def finish(self) -> None:
        self.resolver.finish()
