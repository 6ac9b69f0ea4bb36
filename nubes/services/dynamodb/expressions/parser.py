"""Recursive-descent parser for condition, key-condition, update and projection expressions.

Precedence, loosest first: OR, AND, NOT, then comparisons / BETWEEN / IN / functions, with
parentheses overriding. Syntax only: names, values and function use are checked afterwards by
the validator.
"""

from __future__ import annotations

from nubes.services.dynamodb.expressions import ast
from nubes.services.dynamodb.expressions.tokenizer import SyntaxFailure, Token, near, tokenize

COMPARATORS = frozenset({"=", "<>", "<", "<=", ">", ">="})
CLAUSES = ("SET", "REMOVE", "ADD", "DELETE")

MAX_NESTING = 100
"""Parentheses, NOTs and function calls one inside another: the parser recurses per level, and
a 4 KB expression could otherwise nest past what Python's stack allows."""


class Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.pos = 0
        self.parenthesized: list[ast.Condition] = []
        self.depth = 0

    # -- token helpers ----------------------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def keyword(self, word: str) -> bool:
        token = self.token
        return token.kind == "NAME" and token.text.upper() == word

    def peek_kind(self, offset: int = 1) -> str:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)].kind

    def fail(self) -> SyntaxFailure:
        return SyntaxFailure(self.token, near(self.source, self.tokens, self.pos))

    def expect(self, kind: str) -> Token:
        token = self.token
        if token.kind != kind:
            raise self.fail()
        self.pos += 1
        return token

    def accept(self, kind: str) -> bool:
        if self.token.kind == kind:
            self.pos += 1
            return True
        return False

    def accept_keyword(self, word: str) -> bool:
        if self.keyword(word):
            self.pos += 1
            return True
        return False

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise SyntaxFailure(self.token, "", "The expression is nested too deeply")

    def end(self) -> None:
        if self.token.kind != "EOF":
            raise self.fail()

    # -- conditions -------------------------------------------------------------------------

    def condition(self) -> ast.Condition:
        left = self.conjunction()
        while self.accept_keyword("OR"):
            left = ast.Or(left, self.conjunction())
        return left

    def conjunction(self) -> ast.Condition:
        left = self.negation()
        while self.accept_keyword("AND"):
            left = ast.And(left, self.negation())
        return left

    def negation(self) -> ast.Condition:
        if self.accept_keyword("NOT"):
            self.enter()
            negated = ast.Not(self.negation())
            self.depth -= 1
            return negated
        return self.predicate()

    def predicate(self) -> ast.Condition:
        if self.token.kind == "(":
            self.pos += 1
            self.enter()
            inner = self.condition()
            self.expect(")")
            self.depth -= 1
            # One pair of parentheses may wrap anything; a second around the same thing not.
            if any(inner is seen for seen in self.parenthesized):
                raise SyntaxFailure(self.token, "", "The expression has redundant parentheses")
            self.parenthesized.append(inner)
            return inner
        if self.token.kind == "NAME" and self.peek_kind() == "(":
            call = self.call()
            if self.token.kind not in COMPARATORS and not self._range_keyword():
                return ast.FunctionCondition(call)
            left: ast.Operand = call
        else:
            left = self.operand()
        token = self.token
        if token.kind in COMPARATORS:
            self.pos += 1
            return ast.Compare(token.kind, left, self.operand())
        if self.accept_keyword("BETWEEN"):
            low = self.operand()
            if not self.accept_keyword("AND"):
                raise self.fail()
            return ast.Between(left, low, self.operand())
        if self.accept_keyword("IN"):
            self.expect("(")
            options = [self.operand()]
            while self.accept(","):
                options.append(self.operand())
            self.expect(")")
            return ast.In(left, options)
        raise self.fail()

    def _range_keyword(self) -> bool:
        return self.keyword("BETWEEN") or self.keyword("IN")

    def operand(self) -> ast.Operand:
        token = self.token
        if token.kind == "VALUEREF":
            self.pos += 1
            return ast.ValueRef(token.text)
        if token.kind == "NAME" and self.peek_kind() == "(":
            return self.call()
        return self.path()

    def call(self) -> ast.Call:
        name = self.expect("NAME").text
        self.expect("(")
        self.enter()
        args: list[ast.Operand] = []
        if self.token.kind != ")":
            args.append(self.update_operand())
            while self.accept(","):
                args.append(self.update_operand())
        self.expect(")")
        self.depth -= 1
        return ast.Call(name, args)

    def path(self) -> ast.Path:
        parts: list[ast.Name | int] = [self.name()]
        while True:
            if self.accept("."):
                parts.append(self.name())
            elif self.accept("["):
                parts.append(int(self.expect("NUMBER").text))
                self.expect("]")
            else:
                return ast.Path(parts)

    def name(self) -> ast.Name:
        token = self.token
        if token.kind == "NAME":
            self.pos += 1
            return ast.Name(token.text)
        if token.kind == "NAMEREF":
            self.pos += 1
            return ast.Name(token.text, ref=True)
        raise self.fail()

    # -- updates ----------------------------------------------------------------------------

    def update(self) -> ast.Update:
        actions: list[ast.Action] = []
        sections: list[str] = []
        if self.token.kind == "EOF":
            raise self.fail()
        while self.token.kind != "EOF":
            token = self.token
            clause = token.text.upper() if token.kind == "NAME" else ""
            if clause not in CLAUSES:
                raise self.fail()
            self.pos += 1
            sections.append(clause)
            actions.append(self.action(clause))
            while self.accept(","):
                actions.append(self.action(clause))
        return ast.Update(actions, sections)

    def action(self, clause: str) -> ast.Action:
        path = self.path()
        if clause == "SET":
            self.expect("=")
            return ast.Action(clause, path, self.set_value())
        if clause == "REMOVE":
            return ast.Action(clause, path)
        token = self.expect("VALUEREF")
        return ast.Action(clause, path, ast.ValueRef(token.text))

    def set_value(self) -> ast.Operand:
        left = self.update_operand()
        token = self.token
        if token.kind in ("+", "-"):
            self.pos += 1
            return ast.Arith(token.kind, left, self.update_operand())
        return left

    def update_operand(self) -> ast.Operand:
        if self.accept("("):
            self.enter()
            inner = self.set_value()
            self.expect(")")
            self.depth -= 1
            return inner
        return self.operand()

    # -- projections ------------------------------------------------------------------------

    def projection(self) -> list[ast.Path]:
        paths = [self.path()]
        while self.accept(","):
            paths.append(self.path())
        return paths


def parse_condition(source: str) -> ast.Condition:
    parser = Parser(source)
    tree = parser.condition()
    parser.end()
    return tree


def parse_update(source: str) -> ast.Update:
    parser = Parser(source)
    tree = parser.update()
    parser.end()
    return tree


def parse_projection(source: str) -> list[ast.Path]:
    parser = Parser(source)
    paths = parser.projection()
    parser.end()
    return paths
