"""Semantic checks of a parsed expression: names and values resolved (and their use recorded),
reserved words, functions allowed where they are used, key conditions, overlapping update paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from nubes.protocol.base import ServiceError
from nubes.services.dynamodb import values as av
from nubes.services.dynamodb.errors import RequestValidationException, ValidationException
from nubes.services.dynamodb.expressions import ast
from nubes.services.dynamodb.expressions.reserved import RESERVED_WORDS

# name -> (operands, yields a condition, allowed in: condition / update)
FUNCTIONS: dict[str, tuple[int, bool, str]] = {
    "attribute_exists": (1, True, "condition"),
    "attribute_not_exists": (1, True, "condition"),
    "attribute_type": (2, True, "condition"),
    "begins_with": (2, True, "condition"),
    "contains": (2, True, "condition"),
    "size": (1, False, "condition"),
    "if_not_exists": (2, False, "update"),
    "list_append": (2, False, "update"),
}
TYPE_NAMES = ("B", "NULL", "SS", "BOOL", "L", "BS", "N", "NS", "S", "M")


class Resolver:
    """The ExpressionAttributeNames / Values of one request, and which of them got used."""

    def __init__(
        self, names: dict[str, str] | None, values: dict[str, Any] | None, expressions: bool
    ) -> None:
        if names is not None and not expressions:
            raise RequestValidationException(
                "ExpressionAttributeNames can only be specified when using expressions"
            )
        if values is not None and not expressions:
            raise RequestValidationException(
                "ExpressionAttributeValues can only be specified when using expressions"
            )
        if names is not None and not names:
            raise av.request_error("ExpressionAttributeNames must not be empty")
        if values is not None and not values:
            raise av.request_error("ExpressionAttributeValues must not be empty")
        for key in names or {}:
            if not key.startswith("#") or len(key) < 2:
                raise ValidationException(
                    f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{key}"'
                )
        for key in values or {}:
            if not key.startswith(":") or len(key) < 2:
                raise ValidationException(
                    f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{key}"'
                )
        self.names = names or {}
        self.values = {k: _checked_value(k, v) for k, v in (values or {}).items()}
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()

    def finish(self) -> None:
        """After every expression of the request: nothing given may go unused."""
        unused = [k for k in self.names if k not in self.used_names]
        if unused:
            raise ValidationException(
                "Value provided in ExpressionAttributeNames unused in expressions: "
                f"keys: {{{', '.join(unused)}}}"
            )
        unused = [k for k in self.values if k not in self.used_values]
        if unused:
            raise ValidationException(
                "Value provided in ExpressionAttributeValues unused in expressions: "
                f"keys: {{{', '.join(unused)}}}"
            )


def _checked_value(key: str, value: Any) -> dict[str, Any]:
    if av.current_layer():
        return av.check_value(value)  # the current layer names no key
    try:
        return av.check_value(value)
    except ServiceError as exc:
        raise ValidationException(
            f"ExpressionAttributeValues contains invalid value: {exc.message} for key {key}"
        ) from None


class Validator:
    def __init__(self, resolver: Resolver, kind: str) -> None:
        self.resolver = resolver
        self.kind = kind

    def error(self, message: str) -> Exception:
        return ValidationException(f"Invalid {self.kind}: {message}")

    # -- names, values, paths ---------------------------------------------------------------

    def path(self, path: ast.Path) -> ast.Path:
        for part in path.parts:
            if isinstance(part, ast.Name):
                part.resolved = self.name(part)
        return path

    def name(self, name: ast.Name) -> str:
        if name.ref:
            resolved = self.resolver.names.get(name.text)
            if resolved is None:
                raise self.error(
                    "An expression attribute name used in the document path is not defined; "
                    f"attribute name: {name.text}"
                )
            self.resolver.used_names.add(name.text)
            return resolved
        if name.text.upper() in RESERVED_WORDS:
            raise self.error(f"Attribute name is a reserved keyword; reserved keyword: {name.text}")
        return name.text

    def value(self, ref: ast.ValueRef) -> ast.ValueRef:
        found = self.resolver.values.get(ref.name)
        if found is None:
            # Reported by DynamoDB's request validation, in its envelope.
            raise RequestValidationException(
                f"Invalid {self.kind}: An expression attribute value used in expression is not "
                f"defined; attribute value: {ref.name}"
            )
        self.resolver.used_values.add(ref.name)
        ref.value = found
        return ref

    # -- conditions -------------------------------------------------------------------------

    def condition(self, node: ast.Condition) -> None:
        if isinstance(node, ast.And | ast.Or):
            self.condition(node.left)
            self.condition(node.right)
        elif isinstance(node, ast.Not):
            self.condition(node.operand)
        elif isinstance(node, ast.Compare):
            self.operand(node.left)
            self.operand(node.right)
            self._distinct(node.op, node.left, [node.right])
            if node.op not in ("=", "<>"):
                self._ordered_literals(node.op, [node.left, node.right])
        elif isinstance(node, ast.Between):
            for operand in (node.operand, node.low, node.high):
                self.operand(operand)
            self._distinct("BETWEEN", node.operand, [node.low, node.high])
            self._ordered_literals("BETWEEN", [node.operand, node.low, node.high])
            self._between_bounds(node)
        elif isinstance(node, ast.In):
            self.operand(node.operand)
            for option in node.options:
                self.operand(option)
        else:
            self.call(node.call, want_condition=True)

    def _ordered_literals(self, op: str, operands: list[ast.Operand]) -> None:
        """Only strings, numbers and binaries have an order: a value of any other type given
        to an ordering operator is refused, not compared as false."""
        for side in operands:
            if isinstance(side, ast.ValueRef):
                kind = av.value_type(side.value)
                if kind not in ("S", "N", "B"):
                    raise self.error(
                        "Incorrect operand type for operator or function; operator or function: "
                        f"{op}, operand type: {kind}"
                    )

    def _between_bounds(self, node: ast.Between) -> None:
        low, high = node.low, node.high
        if isinstance(low, ast.ValueRef) and isinstance(high, ast.ValueRef):
            shown = (
                f"lower bound operand: AttributeValue: {_show(low.value)}, "
                f"upper bound operand: AttributeValue: {_show(high.value)}"
            )
            if av.value_type(low.value) != av.value_type(high.value):
                raise self.error(
                    "The BETWEEN operator requires same data type for lower and upper bounds; "
                    + shown
                )
            order = av.compare(low.value, high.value)
            if order is not None and order > 0:
                raise self.error(
                    "The BETWEEN operator requires upper bound to be greater than or equal to "
                    f"lower bound; {shown}"
                )

    def operand(self, node: ast.Operand, context: str = "condition") -> None:
        if isinstance(node, ast.Path):
            self.path(node)
        elif isinstance(node, ast.ValueRef):
            self.value(node)
        elif isinstance(node, ast.Call):
            self.call(node, want_condition=False, context=context)
        else:
            self.operand(node.left, context)
            self.operand(node.right, context)
            for side in (node.left, node.right):
                if isinstance(side, ast.ValueRef) and "N" not in side.value:
                    raise self.error(
                        "Incorrect operand type for operator or function; operator or function: "
                        f"{node.op}, operand type: {av.value_type(side.value)}"
                    )

    def call(self, call: ast.Call, want_condition: bool, context: str = "condition") -> None:
        spec = FUNCTIONS.get(call.name)
        if spec is None:
            raise self.error(f"Invalid function name; function: {call.name}")
        arity, is_condition, allowed = spec
        if allowed != context:
            where = "an update expression" if context == "update" else "a condition expression"
            raise self.error(f"The function is not allowed in {where}; function: {call.name}")
        if is_condition != want_condition:
            raise self.error(
                "The function is not allowed to be used this way in an expression; "
                f"function: {call.name}"
            )
        if len(call.args) != arity:
            raise self.error(
                "Incorrect number of operands for operator or function; operator or function: "
                f"{call.name}, number of operands: {len(call.args)}"
            )
        for arg in call.args:
            self.operand(arg, context)
        needs_path = call.name in (
            "attribute_exists",
            "attribute_not_exists",
            "attribute_type",
            "size",
            "if_not_exists",
        )
        if needs_path and not isinstance(call.args[0], ast.Path):
            raise self.error(
                f"Operator or function requires a document path; operator or function: {call.name}"
            )
        self._operand_types(call)
        if call.name in ("begins_with", "contains"):
            self._distinct(call.name, call.args[0], call.args[1:])

    def _distinct(self, op: str, first: ast.Operand, rest: list[ast.Operand]) -> None:
        """A path compared with itself is refused, however the names were written."""
        if isinstance(first, ast.Path) and any(
            isinstance(other, ast.Path) and other.elements() == first.elements() for other in rest
        ):
            shown = ", ".join(str(e) for e in first.elements())
            raise self.error(
                "The first operand must be distinct from the remaining operands for this operator "
                f"or function; operator: {op}, first operand: [{shown}]"
            )

    def _operand_types(self, call: ast.Call) -> None:
        literal = [a.value for a in call.args if isinstance(a, ast.ValueRef)]
        if call.name == "attribute_type":
            kind = av.value_type(literal[0]) if literal else ""
            if kind != "S":
                raise self.error(
                    "Incorrect operand type for operator or function; operator or function: "
                    f"attribute_type, operand type: {kind}"
                )
            if literal[0]["S"] not in TYPE_NAMES:
                raise self.error(
                    f"Invalid attribute type name found; type: {literal[0]['S']}, "
                    "valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }"
                )
        elif call.name == "begins_with":
            for value in literal:
                kind = av.value_type(value)
                if kind not in ("S", "B"):
                    raise self.error(
                        "Incorrect operand type for operator or function; operator or "
                        f"function: begins_with, operand type: {kind}"
                    )
        elif call.name == "list_append":
            for value in literal:
                kind = av.value_type(value)
                if kind != "L":
                    raise self.error(
                        "Incorrect operand type for operator or function; operator or "
                        f"function: list_append, operand type: {kind}"
                    )

    # -- updates ----------------------------------------------------------------------------

    def update(self, update: ast.Update) -> None:
        seen: set[str] = set()
        for section in update.sections:
            if section in seen:
                raise self.error(
                    f'The "{section}" section can only be used once in an update expression;'
                )
            seen.add(section)
        for action in update.actions:
            self.path(action.path)
            if action.value is not None:
                self.operand(action.value, "update")
            if action.clause in ("ADD", "DELETE") and isinstance(action.value, ast.ValueRef):
                self._add_delete_operand(action.clause, action.value.value)
        check_overlaps([a.path.elements() for a in update.actions], self.error)

    def _add_delete_operand(self, clause: str, value: dict[str, Any]) -> None:
        kind = av.value_type(value)
        allowed = ("N", "SS", "NS", "BS") if clause == "ADD" else ("SS", "NS", "BS")
        if kind not in allowed:
            raise self.error(
                "Incorrect operand type for operator or function; operator: "
                f"{clause}, operand type: {_type_word(kind)}"
            )


def _type_word(kind: str) -> str:
    return {
        "S": "STRING",
        "N": "NUMBER",
        "B": "BINARY",
        "BOOL": "BOOLEAN",
        "NULL": "NULL",
        "M": "MAP",
        "L": "LIST",
        "SS": "STRING_SET",
        "NS": "NUMBER_SET",
        "BS": "BINARY_SET",
    }[kind]


def _show(value: dict[str, Any]) -> str:
    kind = av.value_type(value)
    return f"{{{kind}:{value[kind]}}}"


def render_path(elements: Iterable[str | int]) -> str:
    return "[" + ", ".join(f"[{e}]" if isinstance(e, int) else e for e in elements) + "]"


def check_overlaps(paths: list[tuple[str | int, ...]], error: Any) -> None:
    """No path may be a prefix of another (overlap), nor differ from another only in map-vs-list
    access at one position (conflict). Overlaps are reported before conflicts, each pair in
    the order written."""
    conflict = None
    for i, one in enumerate(paths):
        for two in paths[i + 1 :]:
            for a, b in _zip_common(one, two):
                if a == b:
                    continue
                if isinstance(a, int) != isinstance(b, int) and conflict is None:
                    conflict = (one, two)
                break
            else:
                raise error(
                    "Two document paths overlap with each other; must remove or rewrite one of "
                    f"these paths; path one: {render_path(one)}, path two: {render_path(two)}"
                )
    if conflict is not None:
        raise error(
            "Two document paths conflict with each other; must remove or rewrite one of these "
            f"paths; path one: {render_path(conflict[0])}, path two: {render_path(conflict[1])}"
        )


def _zip_common(
    one: tuple[str | int, ...], two: tuple[str | int, ...]
) -> Iterator[tuple[str | int, str | int]]:
    return zip(one, two, strict=False)


# --- key conditions --------------------------------------------------------------------------


@dataclass
class KeyCondition:
    hash_name: str
    hash_value: dict[str, Any]
    range_name: str | None = None
    op: str | None = None
    """=, <, <=, >, >=, BETWEEN or begins_with."""
    operands: tuple[dict[str, Any], ...] = ()
    hash_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Every partition key attribute's value (one unless the index has a multi-attribute key)."""
    range_equal: list[dict[str, Any]] = field(default_factory=list)
    """Values of the leading sort key attributes compared for equality, before the one
    ``op`` applies to (multi-attribute sort keys only)."""


def key_condition(
    validator: Validator,
    tree: ast.Condition,
    hash_key: tuple[str, str],
    range_key: tuple[str, str] | None,
) -> KeyCondition:
    """Check a KeyConditionExpression against the key schema (names and types)."""
    validator.condition(tree)
    parts: list[ast.Condition] = []
    _flatten_and(tree, parts)
    found: dict[str, tuple[str, tuple[dict[str, Any], ...]]] = {}
    for part in parts:
        name, op, operands = _key_part(part)
        if name in found:
            raise ValidationException(
                "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one "
                "condition per key"
            )
        found[name] = (op, operands)
    if len(found) > 2:
        raise ValidationException(
            f"The number of query conditions ({len(found)}) exceeds the number of key "
            f"attributes defined in the schema ({2 if range_key else 1})"
        )
    hash_name, hash_type = hash_key
    if hash_name not in found:
        raise ValidationException(f"Query condition missed key schema element: {hash_name}")
    op, operands = found.pop(hash_name)
    if op != "=":
        raise ValidationException("Query key condition not supported")
    _check_type(operands, hash_type)
    result = KeyCondition(hash_name, operands[0], hash_values={hash_name: operands[0]})
    if found:
        name = next(iter(found))
        if range_key is None or name != range_key[0]:
            # The second condition is taken to be the sort key's: its name is the one missed.
            missed = range_key[0] if range_key else name
            raise ValidationException(f"Query condition missed key schema element: {missed}")
        op, operands = found[name]
        _check_type(operands, range_key[1])
        result.range_name, result.op, result.operands = name, op, operands
    return result


def multi_key_condition(
    validator: Validator,
    tree: ast.Condition,
    hash_keys: list[tuple[str, str]],
    range_keys: list[tuple[str, str]],
) -> KeyCondition:
    """A KeyConditionExpression on an index with multi-attribute keys: every partition key
    attribute compared for equality; sort key attributes from the left without a gap, each
    compared for equality but the last, which may take any sort key condition."""
    validator.condition(tree)
    parts: list[ast.Condition] = []
    _flatten_and(tree, parts)
    found: dict[str, tuple[str, tuple[dict[str, Any], ...]]] = {}
    for part in parts:
        name, op, operands = _key_part(part)
        if name in found:
            raise ValidationException(
                "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one "
                "condition per key"
            )
        found[name] = (op, operands)
    total = len(hash_keys) + len(range_keys)
    if len(found) > total:
        raise ValidationException(
            f"The number of query conditions ({len(found)}) exceeds the number of key "
            f"attributes defined in the schema ({total})"
        )
    hash_values: dict[str, dict[str, Any]] = {}
    for name, kind in hash_keys:
        if name not in found:
            raise ValidationException(f"Query condition missed key schema element: {name}")
        op, operands = found.pop(name)
        if op != "=":
            raise ValidationException("Query key condition not supported")
        _check_type(operands, kind)
        hash_values[name] = operands[0]
    first, first_value = next(iter(hash_values.items()))
    result = KeyCondition(first, first_value, hash_values=hash_values)
    for position, (name, kind) in enumerate(range_keys):
        if not found:
            break
        if name not in found:
            raise ValidationException(f"Query condition missed key schema element: {name}")
        op, operands = found.pop(name)
        _check_type(operands, kind)
        if found and op != "=":
            # Only the last sort key attribute named may take a range condition.
            later = next(n for n, _ in range_keys[position + 1 :] if n in found)
            raise ValidationException(
                f"Query key condition not supported: a condition on sort key attribute {later} "
                f"follows a non-equality condition on {name}"
            )
        if found:
            result.range_equal.append(operands[0])
        else:
            result.range_name, result.op, result.operands = name, op, operands
    if found:
        raise ValidationException(f"Query condition missed key schema element: {next(iter(found))}")
    return result


def _flatten_and(node: ast.Condition, out: list[ast.Condition]) -> None:
    if isinstance(node, ast.And):
        _flatten_and(node.left, out)
        _flatten_and(node.right, out)
    else:
        out.append(node)


def _key_part(node: ast.Condition) -> tuple[str, str, tuple[dict[str, Any], ...]]:
    def bad(op: str) -> Exception:
        return ValidationException(f"Invalid operator used in KeyConditionExpression: {op}")

    if isinstance(node, ast.Or):
        raise bad("OR")
    if isinstance(node, ast.Not):
        raise bad("NOT")
    if isinstance(node, ast.In):
        raise bad("IN")
    if isinstance(node, ast.FunctionCondition):
        if node.call.name != "begins_with":
            raise bad(node.call.name)
        path, value = node.call.args
        return _key_name(path), "begins_with", (_key_value(value),)
    if isinstance(node, ast.Between):
        _ordered_operands("BETWEEN", node.low, node.high)
        return _key_name(node.operand), "BETWEEN", (_key_value(node.low), _key_value(node.high))
    if isinstance(node, ast.Compare):
        if node.op == "<>":
            raise bad("<>")
        if node.op != "=":
            _ordered_operands(node.op, node.left, node.right)
        left, right, op = node.left, node.right, node.op
        if isinstance(left, ast.ValueRef) and isinstance(right, ast.Path):
            left, right = right, left
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        return _key_name(left), op, (_key_value(right),)
    raise ValidationException("Query key condition not supported")


def _ordered_operands(op: str, *operands: ast.Operand) -> None:
    """An ordering takes only values some key type could hold (checked before the schema)."""
    for operand in operands:
        if isinstance(operand, ast.ValueRef) and av.value_type(operand.value) not in (
            "S",
            "N",
            "B",
        ):
            raise ValidationException(
                "Invalid KeyConditionExpression: Incorrect operand type for operator or "
                f"function; operator or function: {op}, operand type: "
                f"{av.value_type(operand.value)}"
            )


def _key_name(node: ast.Operand) -> str:
    if not isinstance(node, ast.Path):
        raise ValidationException("Query key condition not supported")
    if len(node.parts) != 1:
        raise ValidationException(
            "KeyConditionExpressions cannot have conditions on nested attributes"
        )
    return str(node.elements()[0])


def _key_value(node: ast.Operand) -> dict[str, Any]:
    if not isinstance(node, ast.ValueRef):
        raise ValidationException("Query key condition not supported")
    return node.value


def _check_type(operands: tuple[dict[str, Any], ...], expected: str) -> None:
    for value in operands:
        if av.value_type(value) != expected:
            raise ValidationException(
                "One or more parameter values were invalid: Condition parameter type does not "
                "match schema type"
            )
