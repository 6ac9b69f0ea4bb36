"""PartiQL for DynamoDB: SELECT (with a partition key equality a Query, else a Scan; ORDER BY,
``"table"."index"``), INSERT ... VALUE {...}, UPDATE ... SET/REMOVE ... WHERE <key> (and its
FROM-first form; set_add/set_delete), DELETE FROM ... WHERE <key>, RETURNING, ``?`` parameters
and comments. Statements become the same expression trees the API's expressions do; errors are
worded as DynamoDB's own parser words them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.protocol.base import ServiceError
from nubes.services.dynamodb import values as av
from nubes.services.dynamodb.capacity import Capacity, read_units
from nubes.services.dynamodb.errors import ValidationException, errors
from nubes.services.dynamodb.expressions import apply_update, ast, matches, project
from nubes.services.dynamodb.models import Index, Table, Write, range_condition

if TYPE_CHECKING:
    from nubes.services.dynamodb.provider import DynamoDBProvider

Item = dict[str, Any]

_TOKEN = re.compile(
    r"(?P<STR>'(?:[^']|'')*')|(?P<QID>\"(?:[^\"]|\"\")*\")"
    r"|(?P<NUM>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<OP><<|>>|<>|!=|<=|>=|[=<>,.\[\]{}():?*+\-;])"
    r"|(?P<ID>[A-Za-z_][A-Za-z0-9_]*)"
)
# Whitespace, -- line comments and /* block */ comments separate tokens.
_GAP = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/)*", re.S)
_INT32 = 2**31
_TYPE_NAMES = {
    "STRING": "S",
    "NUMBER": "N",
    "BINARY": "B",
    "BLOB": "B",
    "BOOL": "BOOL",
    "BOOLEAN": "BOOL",
    "LIST": "L",
    "MAP": "M",
    "STRUCT": "M",
    "TUPLE": "M",
}
_ORDERED = ("S", "N", "B")
_KEYWORDS = ("ORDER", "BY", "WHERE", "SET", "REMOVE", "RETURNING", "FROM", "SELECT", "VALUE")
_OPERATOR_WORDS = ("IS", "LIKE", "IN", "BETWEEN", "AND", "OR")


@dataclass
class Tok:
    kind: str
    text: str
    at: int = 0
    """Where the token starts in the statement (for the positions some errors name)."""

    def position(self, length: int | None = None) -> str:
        return f"1:{self.at + 1}:{len(self.text) if length is None else length}"


def _malformed(detail: str = "") -> Exception:
    return ValidationException(f"Statement wasn't well formed, can't be processed: {detail}")


def _leftover() -> Exception:
    return _malformed("Unexpected token after expression")


def tokenize(text: str) -> list[Tok]:
    out: list[Tok] = []
    pos = _GAP.match(text, 0).end()  # type: ignore[union-attr]
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _malformed()  # DynamoDB says no more about a character it cannot read
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "STR":
            value = value[1:-1].replace("''", "'")
        elif kind == "QID":
            value = value[1:-1].replace('""', '"')
        out.append(Tok(kind, value, match.start()))
        pos = _GAP.match(text, match.end()).end()  # type: ignore[union-attr]
    out.append(Tok("EOF", ""))
    return out


@dataclass
class Statement:
    kind: str
    table: str
    index: str | None = None
    projection: list[tuple[str | int, ...]] | None = None
    where: ast.Condition | None = None
    item: Item | None = None
    actions: list[ast.Action] = field(default_factory=list)
    returning: str | None = None
    descending: bool = False
    ordered: bool = False


MAX_NESTING = 100
"""Parentheses, NOTs, calls and literals one inside another: the parser recurses per level."""


class Parser:
    def __init__(self, text: str, parameters: list[Any]) -> None:
        self.toks = tokenize(text)
        self.pos = 0
        self.parameters = [av.check_value(p) for p in parameters]
        self.used = 0
        self.depth = 0

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _malformed("Expression nested too deeply")

    @property
    def tok(self) -> Tok:
        return self.toks[self.pos]

    def word(self, *words: str) -> bool:
        return self.tok.kind == "ID" and self.tok.text.upper() in words

    def take_word(self, word: str) -> None:
        if not self.word(word):
            raise _malformed(f"expected {word} near {self.tok.text or 'end of statement'}")
        self.pos += 1

    def accept(self, op: str) -> bool:
        if self.tok.kind == "OP" and self.tok.text == op:
            self.pos += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.accept(op):
            raise _malformed(f"expected {op} near {self.tok.text or 'end of statement'}")

    def statement(self) -> Statement:
        if self.word("SELECT"):
            self.pos += 1
            statement = self.select()
        elif self.word("INSERT"):
            self.pos += 1
            self.take_word("INTO")
            statement = Statement("INSERT", self.name())
            if not self.word("VALUE"):
                raise _leftover()
            self.pos += 1
            value = self.value(None)
            if "M" not in value:
                raise _malformed("INSERT needs a map (tuple) value")
            statement.item = value["M"]
        elif self.word("UPDATE"):
            self.pos += 1
            statement = self.update()
        elif self.word("FROM"):
            self.pos += 1
            statement = self.from_first_update()
        elif self.word("DELETE"):
            self.pos += 1
            self.take_word("FROM")
            if self.tok.kind not in ("ID", "QID") or self.word("WHERE"):
                raise _malformed("Expected identifier for simple path")
            statement = Statement("DELETE", self.name())
            self.no_alias()
            self.take_word("WHERE")
            statement.where = self.condition()
            statement.returning = self.returning()
            if statement.returning not in (None, "ALL_OLD"):
                shown = statement.returning.replace("_", " ")
                raise ValidationException(
                    f"Invalid returning clause: RETURNING {shown} *. Only RETURNING ALL OLD * is "
                    "allowed in DELETE statements."
                )
        else:
            raise _malformed("unsupported statement")
        if self.tok.kind == "OP" and self.tok.text == ";" and self.toks[self.pos + 1].kind == "EOF":
            self.pos += 1  # a statement may end with a semicolon
        if self.tok.kind != "EOF":
            raise _leftover()
        if self.used != len(self.parameters):
            raise ValidationException("Number of parameters in request and statement don't match.")
        return statement

    def select(self) -> Statement:
        projection: list[tuple[str | int, ...]] | None = None
        if not self.accept("*"):
            projection = [self.path().elements()]
            while self.accept(","):
                projection.append(self.path().elements())
        self.take_word("FROM")
        statement = Statement("SELECT", self.name(), projection=projection)
        if self.accept("."):
            statement.index = self.name()
        self.no_alias()
        if self.word("WHERE"):
            self.pos += 1
            statement.where = self.condition()
        if self.word("ORDER"):
            self.pos += 1
            self.take_word("BY")
            statement.ordered = True
            while True:
                self.path()
                if self.word("ASC", "DESC"):
                    # One partition is ordered by its sort key alone: a DESC reverses it.
                    statement.descending |= self.tok.text.upper() == "DESC"
                    self.pos += 1
                if not self.accept(","):
                    break
        return statement

    def update(self) -> Statement:
        statement = Statement("UPDATE", self.name())
        self.no_alias()
        self.update_clauses(statement)
        self.take_word("WHERE")
        statement.where = self.condition()
        statement.returning = self.returning()
        return statement

    def from_first_update(self) -> Statement:
        """``FROM table WHERE key SET ... | REMOVE ...``: PartiQL's other form of UPDATE."""
        statement = Statement("UPDATE", self.name())
        self.no_alias()
        if self.word("WHERE"):  # without one, the key check below refuses the statement
            self.pos += 1
            statement.where = self.condition()
        self.update_clauses(statement)
        statement.returning = self.returning()
        return statement

    def update_clauses(self, statement: Statement) -> None:
        while self.word("SET", "REMOVE"):
            clause = self.tok.text.upper()
            self.pos += 1
            while True:
                path = self.path()
                if clause == "SET":
                    self.expect("=")
                    statement.actions.append(self.set_action(path))
                else:
                    statement.actions.append(ast.Action("REMOVE", path))
                if not self.accept(","):
                    break
        if not statement.actions:
            raise _malformed("UPDATE needs SET or REMOVE")

    def set_action(self, path: ast.Path) -> ast.Action:
        """``path = value``, or ``path = set_add(path, <<...>>)`` / ``set_delete`` (an ADD or
        DELETE of set members)."""
        start = self.tok
        value = self.set_value()
        if not (isinstance(value, ast.Call) and value.name in ("set_add", "set_delete")):
            return ast.Action("SET", path, value)
        function = value.name.upper()
        if len(value.args) != 2:
            raise ValidationException(
                f"{function} must have exactly two arguments at {start.position()}"
            )
        first, second = value.args
        if not isinstance(first, ast.Path) or first.elements() != path.elements():
            raise ValidationException(
                f"The first argument to {function} must equal the assignment value at "
                f"{start.position()}"
            )
        if not isinstance(second, ast.ValueRef) or av.value_type(second.value) not in (
            "SS",
            "NS",
            "BS",
        ):
            argument = self.toks[self.toks.index(start) + 2]
            raise ValidationException(
                f"The second argument to {function} must be a value with type SET at "
                f"{argument.position()}"
            )
        return ast.Action("ADD" if value.name == "set_add" else "DELETE", path, second)

    def no_alias(self) -> None:
        if self.tok.kind in ("ID", "QID") and not self.word(
            "WHERE", "SET", "REMOVE", "ORDER", "RETURNING"
        ):
            raise ValidationException("Aliasing is not supported")

    def returning(self) -> str | None:
        if not self.word("RETURNING"):
            return None
        self.pos += 1
        mode = self.tok.text.upper()
        self.pos += 1
        if mode in ("ALL", "MODIFIED") and self.word("OLD", "NEW"):
            mode = f"{mode}_{self.tok.text.upper()}"  # RETURNING ALL NEW *, as documented
            self.pos += 1
        self.expect("*")
        return mode

    def name(self) -> str:
        tok = self.tok
        if tok.kind not in ("ID", "QID"):
            raise self.unexpected()
        self.pos += 1
        return tok.text

    def path(self) -> ast.Path:
        first = self.name()
        parts: list[ast.Name | int] = [ast.Name(first, resolved=first)]
        while True:
            if self.accept("."):
                name = self.name()
                parts.append(ast.Name(name, resolved=name))
            elif self.accept("["):
                if self.tok.kind != "NUM":
                    raise _malformed("expected a list index")
                parts.append(int(self.tok.text))
                self.pos += 1
                self.expect("]")
            else:
                return ast.Path(parts)

    # -- values -------------------------------------------------------------------------------

    def value(self, path: str | None = "root") -> Item:
        """A literal; ``path`` names where it sits for number errors (None: the members of
        an INSERT's item, each its own root)."""
        tok = self.tok
        if tok.kind == "STR":
            self.pos += 1
            return {"S": tok.text}
        negative = tok.kind == "OP" and tok.text == "-" and self.toks[self.pos + 1].kind == "NUM"
        if tok.kind == "NUM" or negative:
            self.pos += 1 + negative
            return {"N": _number(("-" if negative else "") + self.toks[self.pos - 1].text, path)}
        if tok.kind == "OP" and tok.text == "?":
            self.pos += 1
            if self.used >= len(self.parameters):
                raise ValidationException(
                    "Number of parameters in request and statement don't match."
                )
            self.used += 1
            return self.parameters[self.used - 1]
        if self.word("TRUE", "FALSE"):
            self.pos += 1
            return {"BOOL": tok.text.upper() == "TRUE"}
        if self.word("NULL"):
            self.pos += 1
            return {"NULL": True}
        if tok.kind == "OP" and tok.text in ("{", "[", "<<"):
            self.enter()
            literal = self._container(path)
            self.depth -= 1
            return literal
        raise self.unexpected()

    def _container(self, path: str | None) -> Item:
        if self.accept("{"):
            members: dict[str, Any] = {}
            while not self.accept("}"):
                if self.tok.kind not in ("STR", "QID"):
                    raise _malformed("map keys are quoted strings")
                key = self.tok.text
                self.pos += 1
                self.expect(":")
                members[key] = self.value("root" if path is None else f"{path}.{key}")
                if not self.accept(","):
                    self.expect("}")
                    break
            return {"M": members}
        if self.accept("["):
            elements = self._sequence("]", path or "root")
            return {"L": elements}
        if self.accept("<<"):
            elements = self._sequence(">>", path or "root")
            if not elements:
                raise ValidationException("Empty bags are not supported")
            kinds = {av.value_type(e) for e in elements}
            if len(kinds) != 1 or not kinds <= {"S", "N", "B"}:
                raise _malformed("a set holds strings, numbers or binaries of one type")
            kind = kinds.pop()
            return av.check_value({kind + "S": [e[kind] for e in elements]})
        raise self.unexpected()

    def _sequence(self, close: str, path: str) -> list[Item]:
        elements: list[Item] = []
        while not self.accept(close):
            elements.append(self.value(f"{path}[{len(elements)}]"))
            if not self.accept(","):
                self.expect(close)
                break
        return elements

    def unexpected(self) -> Exception:
        """How DynamoDB's parser words a token where a term should start."""
        if self.word(*_KEYWORDS):
            return _malformed("Unexpected keyword")
        if self.word(*_OPERATOR_WORDS) or (self.tok.kind == "OP" and self.tok.text not in "();"):
            return _malformed("Unexpected operator")
        return _malformed("Unexpected term")

    def operand(self) -> ast.Operand:
        if self.word(*_KEYWORDS, *_OPERATOR_WORDS):
            raise self.unexpected()
        if self.tok.kind in ("ID", "QID") and not self.word("TRUE", "FALSE", "NULL"):
            if self.toks[self.pos + 1].text == "(" and self.tok.kind == "ID":
                return self.call()
            return self.path()
        return ast.ValueRef("?", self.value())

    def call(self) -> ast.Call:
        name = self.name().lower()
        self.expect("(")
        self.enter()
        args: list[ast.Operand] = []
        while not self.accept(")"):
            args.append(self.operand())
            if not self.accept(","):
                self.expect(")")
                break
        self.depth -= 1
        return ast.Call(name, args)

    def set_value(self) -> ast.Operand:
        left = self.operand()
        if self.tok.kind == "OP" and self.tok.text in ("+", "-"):
            op = self.tok.text
            self.pos += 1
            return ast.Arith(op, left, self.operand())
        return left

    # -- conditions ---------------------------------------------------------------------------

    def condition(self) -> ast.Condition:
        left = self.conjunction()
        while self.word("OR"):
            self.pos += 1
            self.right_hand_side()
            left = ast.Or(left, self.conjunction())
        return left

    def right_hand_side(self) -> None:
        if self.tok.kind == "EOF":
            raise _malformed("Missing right-hand side expression of infix operator")

    def conjunction(self) -> ast.Condition:
        left = self.negation()
        while self.word("AND"):
            self.pos += 1
            self.right_hand_side()
            left = ast.And(left, self.negation())
        return left

    def negation(self) -> ast.Condition:
        if self.word("NOT"):
            self.pos += 1
            self.enter()
            negated = ast.Not(self.negation())
            self.depth -= 1
            return negated
        if self.accept("("):
            self.enter()
            inner = self.condition()
            self.expect(")")
            self.depth -= 1
            return inner
        return self.predicate()

    def predicate(self) -> ast.Condition:
        left = self.operand()
        if isinstance(left, ast.Call) and left.name != "size":
            return self.function_condition(left)
        tok = self.tok
        if tok.kind == "OP" and tok.text in ("=", "<>", "!=", "<", "<=", ">", ">="):
            self.pos += 1
            op = "<>" if tok.text == "!=" else tok.text
            right = self.operand()
            if op not in ("=", "<>"):
                _check_ordered(op, left, right)
            return ast.Compare(op, left, right)
        if self.word("BETWEEN"):
            self.pos += 1
            low = self.operand()
            self.take_word("AND")
            high = self.operand()
            _check_ordered("BETWEEN", left, low, high)
            return ast.Between(left, low, high)
        if self.word("IN"):
            self.pos += 1
            close = "]" if self.accept("[") else ")"
            if close == ")":
                self.expect("(")
            options = [self.operand()]
            while self.accept(","):
                options.append(self.operand())
            self.expect(close)
            return ast.In(left, options)
        if self.word("IS"):
            self.pos += 1
            negate = self.word("NOT")
            if negate:
                self.pos += 1
            if self.word("MISSING"):
                self.pos += 1
                name = "attribute_exists" if negate else "attribute_not_exists"
                return ast.FunctionCondition(ast.Call(name, [left]))
            kind = "NULL" if self.word("NULL") else _TYPE_NAMES.get(self.tok.text.upper())
            if kind is None:
                raise _malformed("Expected type name")
            self.pos += 1
            typed: ast.Condition = ast.FunctionCondition(
                ast.Call("attribute_type", [left, ast.ValueRef("?", {"S": kind})])
            )
            if kind == "NULL":  # as in PartiQL, an absent attribute IS NULL too
                absent = ast.FunctionCondition(ast.Call("attribute_not_exists", [left]))
                typed = ast.Or(typed, absent)
            return ast.Not(typed) if negate else typed
        raise _malformed(f"unexpected {tok.text or 'end of statement'}")

    def function_condition(self, call: ast.Call) -> ast.Condition:
        if call.name in ("attribute_exists", "attribute_not_exists"):
            if len(call.args) != 1:
                raise ValidationException(
                    "Incorrect number of operands for operator or function; operator or "
                    f"function: {call.name}, number of operands: {len(call.args)}"
                )
            if not isinstance(call.args[0], ast.Path):
                raise ValidationException(
                    "Operator or function requires a document path; operator or function: "
                    f"{call.name}"
                )
        condition: ast.Condition = ast.FunctionCondition(call)
        # A function may be compared with a boolean: f(x) = true, f(x) <> false...
        if (
            self.tok.kind == "OP"
            and self.tok.text in ("=", "<>", "!=")
            and self.toks[self.pos + 1].text.upper() in ("TRUE", "FALSE")
        ):
            equal = self.tok.text == "="
            wanted = self.toks[self.pos + 1].text.upper() == "TRUE"
            self.pos += 2
            if equal != wanted:
                condition = ast.Not(condition)
        return condition


def _number(text: str, path: str | None) -> str:
    mantissa, _, exponent = text.lower().partition("e")
    scale = len(mantissa.partition(".")[2]) - int(exponent or 0)
    if not (-_INT32 <= int(exponent or 0) < _INT32 and -_INT32 <= scale < _INT32):
        raise _malformed()  # beyond what DynamoDB's parser reads: it says nothing more
    try:
        return av.normal_number(text)
    except ServiceError as exc:
        raise ValidationException(f"{exc.message} under {path or 'root'}") from None


def _check_ordered(op: str, *operands: ast.Operand) -> None:
    """<, <=, >, >= and BETWEEN take strings, numbers and binaries only."""
    for operand in operands:
        if isinstance(operand, ast.ValueRef):
            kind = av.value_type(operand.value)
            if kind not in _ORDERED:
                raise ValidationException(
                    "Incorrect operand type for operator or function; operator or function: "
                    f"{op}, operand type: {kind}"
                )


def parse(text: str, parameters: list[Any] | None) -> Statement:
    return Parser(text, parameters or []).statement()


# --- execution -------------------------------------------------------------------------------


def _key_terms(where: ast.Condition | None) -> dict[str, Item]:
    """``attr = value`` terms joined by AND at the top of the WHERE clause."""
    terms: dict[str, Item] = {}
    for node in _leaves(where):
        if (
            isinstance(node, ast.Compare)
            and node.op == "="
            and isinstance(node.left, ast.Path)
            and isinstance(node.right, ast.ValueRef)
            and len(node.left.parts) == 1
        ):
            terms[str(node.left.elements()[0])] = node.right.value
    return terms


def _leaves(where: ast.Condition | None) -> list[ast.Condition]:
    """The conditions joined by AND at the top of a WHERE clause."""
    if where is None:
        return []
    if isinstance(where, ast.And):
        return _leaves(where.left) + _leaves(where.right)
    return [where]


def _full_key(table: Table, where: ast.Condition | None) -> Item:
    terms = _key_terms(where)
    key = {name: terms[name] for name in table.key_names if name in terms}
    if len(key) != len(table.key_names):
        raise ValidationException(
            "Where clause does not contain a mandatory equality on all key attributes"
        )
    return table.check_key(key)


def _select(
    provider: DynamoDBProvider, table: Table, statement: Statement, req: dict[str, Any]
) -> dict[str, Any]:
    index = table.indexes.get(statement.index) if statement.index else None
    if statement.index and index is None:
        raise ValidationException("The table does not have the specified index")
    if index is not None and index.is_global and req.get("ConsistentRead"):
        raise ValidationException(
            "Strongly consistent read is not supported on Global Secondary Indexes"
        )
    if index is not None and index.is_global and statement.projection is not None:
        _check_projected(table, index, statement.projection)
    schema = index or table
    start = None
    if req.get("NextToken"):
        try:
            start = av.loads(av.dumps(decode_token(req["NextToken"])))
        except (InvalidToken, TypeError, ValueError):
            raise ValidationException("Invalid NextToken") from None
    terms = _key_terms(statement.where)
    limit = req.get("Limit")
    hash_values = [terms.get(name) for name, _ in schema.hash_keys]
    if all(
        value is not None and av.value_type(value) == kind
        for value, (_, kind) in zip(hash_values, schema.hash_keys, strict=True)
    ):
        if index is not None:
            _check_filter_projected(table, index, statement.where)
        forward = not statement.descending
        stored = schema.hash_storage([v for v in hash_values if v is not None])
        page = provider.items.query(
            table, index, stored, range_condition(None, ()), forward, start, limit
        )
    elif statement.ordered:
        raise ValidationException(
            "Must have WHERE clause in the statement when using ORDER BY clause."
        )
    else:
        page = provider.items.scan(table, index, None, start, limit)
    items = page.items
    if index is not None and not index.is_global and statement.projection is not None:
        # Attributes named from a local index are read from its table's items.
        fetched = [provider.items.get(table, table.key_of(i)) for i in items]
        items = [i for i in fetched if i is not None]
    items = [i for i in items if statement.where is None or matches(statement.where, i)]
    if statement.projection is not None:
        items = [project(i, statement.projection) for i in items]
    out: dict[str, Any] = {"Items": items}
    if page.last_key is not None:
        out["NextToken"] = encode_token(_plain(page.last_key))
    return out


def _projected(table: Table, index: Index) -> set[str] | None:
    """The attributes an index holds (None: all of them)."""
    kind = index.projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return None
    projected = set(table.key_names) | set(index.key_names)
    projected.update(index.projection.get("NonKeyAttributes", []) if kind == "INCLUDE" else [])
    return projected


def _check_filter_projected(table: Table, index: Index, where: ast.Condition | None) -> None:
    """A keyed read of an index may filter only on what the index holds (OR branches aside)."""
    projected = _projected(table, index)
    if projected is None:
        return
    missing: list[str] = []
    for leaf in _leaves(where):
        if not isinstance(leaf, ast.Or):
            missing += sorted(ast.attributes(leaf) - projected)
    if missing:
        raise ValidationException(
            f"One or more parameter values were invalid: Secondary index {index.name} does not "
            f"project one or more filter attributes: [{', '.join(dict.fromkeys(missing))}]"
        )


def _check_projected(table: Table, index: Index, paths: list[tuple[str | int, ...]]) -> None:
    """A global index answers only for what it projects."""
    projected = _projected(table, index)
    if projected is None:
        return
    missing = [str(p[0]) for p in paths if p[0] not in projected]
    if missing:
        raise ValidationException(
            f"One or more parameter values were invalid: Global secondary index {index.name} "
            f"does not project [{', '.join(dict.fromkeys(missing))}]"
        )


def _plain(key: Item) -> Any:
    return json.loads(av.dumps(key))


def _write(
    provider: DynamoDBProvider, table: Table, statement: Statement, on_fail: str | None
) -> dict[str, Any]:
    if statement.kind == "INSERT":
        assert statement.item is not None
        item = av.check_item(statement.item)
        table.check_item_keys(item)
        key = table.key_of(item)
        if provider.items.get(table, key) is not None:
            raise errors.DuplicateItemException("Duplicate primary key exists in table")
        provider.apply_write(Write(table, key, None, item))
        return {}
    key = _full_key(table, statement.where)
    old = provider.items.get(table, key)
    assert statement.where is not None
    if old is None or not matches(statement.where, old):
        if statement.kind == "DELETE" and old is None:
            return {}
        fields = {"Item": old} if on_fail == "ALL_OLD" and old is not None else {}
        raise errors.ConditionalCheckFailedException("The conditional request failed", **fields)
    if statement.kind == "DELETE":
        provider.apply_write(Write(table, key, old, None))
        return {"Items": [old]} if statement.returning == "ALL_OLD" else {}
    for action in statement.actions:
        if action.path.elements()[0] in table.key_names:
            raise ValidationException(
                "One or more parameter values were invalid: Cannot update attribute "
                f"{action.path.elements()[0]}. This attribute is part of the key"
            )
    new = apply_update(ast.Update(statement.actions), old)
    table.check_item_keys(new)
    provider.apply_write(Write(table, key, old, new))
    if statement.returning in ("ALL_NEW", "ALL_OLD"):
        return {"Items": [new if statement.returning == "ALL_NEW" else old]}
    if statement.returning in ("MODIFIED_NEW", "MODIFIED_OLD"):
        source = new if statement.returning == "MODIFIED_NEW" else old
        modified = project(source, [a.path.elements() for a in statement.actions])
        return {"Items": [modified] if modified else []}
    return {}


def _run(
    provider: DynamoDBProvider,
    ctx: RequestContext,
    spec: dict[str, Any],
    statement: Statement | None = None,
) -> dict[str, Any]:
    statement = statement or parse(spec["Statement"], spec.get("Parameters"))
    table = provider.tables.get(ctx.account_id, ctx.region, statement.table)
    if statement.kind == "SELECT":
        return _select(provider, table, statement, spec)
    return _write(provider, table, statement, spec.get("ReturnValuesOnConditionCheckFailure"))


def execute(provider: DynamoDBProvider, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
    statement = parse(req["Statement"], req.get("Parameters"))
    out = _run(provider, ctx, req, statement)
    out.setdefault("Items", [])  # a write answers with an empty list
    capacity = Capacity(req.get("ReturnConsumedCapacity"))
    if capacity.wanted:
        table = provider.tables.get(ctx.account_id, ctx.region, statement.table)
        if statement.kind == "SELECT":
            size = sum(av.item_size(i) for i in out["Items"])
            capacity.add(table, read=read_units(size, bool(req.get("ConsistentRead"))))
        else:
            capacity.add(table, write=1.0)
        out["ConsumedCapacity"] = capacity.single(table)
    return out


# How BatchExecuteStatement names the errors of its statements.
_BATCH_CODES = {
    "ValidationException": "ValidationError",
    "ConditionalCheckFailedException": "ConditionalCheckFailed",
    "DuplicateItemException": "DuplicateItem",
    "ResourceNotFoundException": "ResourceNotFound",
}


def _keyed_select(table: Table, statement: Statement, operation: str) -> Item:
    """The key a SELECT of a batch or transaction reads: its WHERE is the key's equalities
    and nothing else."""
    try:
        if statement.index:
            raise ValidationException("a secondary index")
        key = _full_key(table, statement.where)
        if len(_leaves(statement.where)) != len(key):
            raise ValidationException("more than the key")
        return key
    except ServiceError:
        raise ValidationException(
            f"Select statements within {operation} must specify the primary key in the where "
            "clause."
        ) from None


def batch(provider: DynamoDBProvider, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
    """Each statement on its own: a failure is that statement's error, named with its table
    when the statement got as far as running."""
    responses: list[dict[str, Any]] = []
    capacity = Capacity(req.get("ReturnConsumedCapacity"))
    for spec in req["Statements"]:
        ran: Table | None = None
        try:
            statement = parse(spec["Statement"], spec.get("Parameters"))
            table = provider.tables.get(ctx.account_id, ctx.region, statement.table)
            response: dict[str, Any] = {"TableName": table.name}
            if statement.kind == "SELECT":
                key = _keyed_select(table, statement, "BatchExecuteStatement")
                item = provider.items.get(table, key)
                size = av.item_size(item) if item is not None else 0
                capacity.add(table, read=read_units(size, bool(spec.get("ConsistentRead"))))
                where = statement.where
                if item is not None and (where is None or matches(where, item)):
                    response["Item"] = (
                        project(item, statement.projection) if statement.projection else item
                    )
            else:
                ran = table
                # A batch member never hands back the item its condition failed on.
                items = _write(provider, table, statement, None).get("Items")
                capacity.add(table, write=1.0)
                if items and items[0]:
                    response["Item"] = items[0]
        except ServiceError as exc:
            code = _BATCH_CODES.get(exc.code, exc.code.removesuffix("Exception"))
            response = {"Error": {"Code": code, "Message": exc.message}}
            if ran is not None and code in ("ConditionalCheckFailed", "DuplicateItem"):
                response["TableName"] = ran.name
        responses.append(response)
    out: dict[str, Any] = {"Responses": responses}
    if capacity.wanted:
        out["ConsumedCapacity"] = capacity.report()
    return out


def transaction(
    provider: DynamoDBProvider, ctx: RequestContext, req: dict[str, Any]
) -> dict[str, Any]:
    """All statements or none: a failure cancels the request, whose store transaction then
    rolls back what earlier statements wrote."""
    reasons: list[dict[str, Any]] = []
    responses: list[dict[str, Any]] = []
    failed = False
    token = req.get("ClientRequestToken")
    digest = hashlib.sha256(
        json.dumps(req["TransactStatements"], sort_keys=True, default=repr).encode()
    ).hexdigest()
    if token:
        seen = provider.tokens.seen(ctx.account_id, ctx.region, token)
        if seen is not None:
            if seen != digest:
                raise errors.IdempotentParameterMismatchException(
                    "Request with the same client token was used with different parameters"
                )
            return {"Responses": []}  # a replay changes nothing again
    statements = []
    for position, spec in enumerate(req["TransactStatements"]):
        try:
            statements.append(parse(spec["Statement"], spec.get("Parameters")))
        except ServiceError as exc:
            raise ValidationException(
                f"Validation failed in TransactStatements[{position}]: {exc.message}"
            ) from None
    for position, statement in enumerate(statements):
        if statement.returning is not None:
            raise ValidationException(
                f"Validation failed in TransactStatements[{position}]: RETURNING clause is not "
                "supported in ExecuteTransaction."
            )
        if statement.kind == "SELECT":
            table = provider.tables.get(ctx.account_id, ctx.region, statement.table)
            try:
                _keyed_select(table, statement, "ExecuteTransaction")
            except ServiceError as exc:
                raise ValidationException(
                    f"Validation failed in TransactStatements[{position}]: {exc.message}"
                ) from None
    for spec, statement in zip(req["TransactStatements"], statements, strict=True):
        try:
            result = _run(provider, ctx, spec, statement)
            reasons.append({"Code": "None"})
            items = result.get("Items")
            responses.append({"Item": items[0]} if items else {})
        except ServiceError as exc:
            if exc.code != "ConditionalCheckFailedException":
                raise
            failed = True
            reason: dict[str, Any] = {"Code": "ConditionalCheckFailed", "Message": exc.message}
            if "Item" in exc.fields:
                reason["Item"] = exc.fields["Item"]
            reasons.append(reason)
    if failed:
        codes = ", ".join(r["Code"] for r in reasons)
        raise errors.TransactionCanceledException(
            "Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{codes}]",
            CancellationReasons=reasons,
        )
    reads = all(s.kind == "SELECT" for s in statements)
    if token:
        provider.tokens.remember(ctx.account_id, ctx.region, token, digest)
    out: dict[str, Any] = {"Responses": responses if reads else []}
    capacity = Capacity(req.get("ReturnConsumedCapacity"))
    if capacity.wanted:
        for statement in statements:
            table = provider.tables.get(ctx.account_id, ctx.region, statement.table)
            if statement.kind == "SELECT":
                capacity.add(table, read=2.0)
            else:
                capacity.add(table, write=2.0)
        out["ConsumedCapacity"] = capacity.report()
    return out
