"""The pre-expression parameters (Expected, AttributeUpdates, KeyConditions, QueryFilter,
ScanFilter, AttributesToGet) translated into expression trees, so one evaluator serves both."""

from __future__ import annotations

from typing import Any

from nubes.services.dynamodb import values as av
from nubes.services.dynamodb.errors import ValidationException
from nubes.services.dynamodb.expressions import KeyCondition, ast

EXPRESSION_OF = {
    "Expected": "ConditionExpression",
    "AttributeUpdates": "UpdateExpression",
    "KeyConditions": "KeyConditionExpression",
    "QueryFilter": "FilterExpression",
    "ScanFilter": "FilterExpression",
    "AttributesToGet": "ProjectionExpression",
}

_OPERANDS = {
    "EQ": 1,
    "NE": 1,
    "LE": 1,
    "LT": 1,
    "GE": 1,
    "GT": 1,
    "NOT_NULL": 0,
    "NULL": 0,
    "CONTAINS": 1,
    "NOT_CONTAINS": 1,
    "BEGINS_WITH": 1,
    "BETWEEN": 2,
}
_COMPARATORS = {"EQ": "=", "NE": "<>", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}


def check_mixing(req: dict[str, Any]) -> None:
    """Expression and non-expression parameters may not meet in one request."""
    legacy = [k for k in EXPRESSION_OF if k in req]
    modern = [
        k
        for k in (
            "ConditionExpression",
            "UpdateExpression",
            "KeyConditionExpression",
            "FilterExpression",
            "ProjectionExpression",
        )
        if k in req
    ]
    if "KeyConditions" in legacy and "KeyConditionExpression" not in modern:
        # DynamoDB lets the legacy key conditions stand beside a FilterExpression or a
        # ProjectionExpression: only their own counterpart conflicts with them.
        legacy.remove("KeyConditions")
    if legacy and modern:
        raise ValidationException(
            "Can not use both expression and non-expression parameters in the same request: "
            f"Non-expression parameters: {{{', '.join(legacy)}}} "
            f"Expression parameters: {{{', '.join(modern)}}}"
        )


def _path(name: str) -> ast.Path:
    return ast.Path([ast.Name(name, resolved=name)])


def _value(value: Any) -> ast.ValueRef:
    return ast.ValueRef(":legacy", av.check_value(value))


def condition(conditions: dict[str, Any], operator: str | None) -> ast.Condition | None:
    """Expected / QueryFilter / ScanFilter as one condition tree."""
    parts = [_one(name, spec) for name, spec in conditions.items()]
    if not parts:
        return None
    tree = parts[0]
    for part in parts[1:]:
        tree = ast.Or(tree, part) if operator == "OR" else ast.And(tree, part)
    return tree


def _one(name: str, spec: dict[str, Any]) -> ast.Condition:
    path = _path(name)
    operator = spec.get("ComparisonOperator")
    if operator is None:
        exists = spec.get("Exists", True)
        if "Value" in spec:
            if not exists:
                raise av.request_error(
                    "One or more parameter values were invalid: Value cannot be used when Exists "
                    "is false for Attribute: " + name
                )
            return ast.Compare("=", path, _value(spec["Value"]))
        if exists:
            raise av.request_error(
                "One or more parameter values were invalid: Value must be provided when Exists "
                f"is true for Attribute: {name}"
            )
        return ast.FunctionCondition(ast.Call("attribute_not_exists", [path]))
    if "Value" in spec and "AttributeValueList" in spec:
        raise av.request_error(
            "One or more parameter values were invalid: Value and AttributeValueList cannot be "
            f"used together for Attribute: {name}"
        )
    values = [_value(v) for v in spec.get("AttributeValueList", [])]
    if "Value" in spec and not values:
        values = [_value(spec["Value"])]
    if (
        not values
        and "Value" not in spec
        and "AttributeValueList" not in spec
        and (operator not in ("NULL", "NOT_NULL"))
    ):
        raise av.request_error(
            "One or more parameter values were invalid: Value or AttributeValueList must be used "
            f"with ComparisonOperator: {operator} for Attribute: {name}"
        )
    for value in values:
        _check_operand_type(operator, av.value_type(value.value))
    expected = _OPERANDS.get(operator)
    if operator == "IN":
        if not values:
            raise _operand_count(operator)
        return ast.In(path, list(values))
    if expected is None or len(values) != expected:
        raise _operand_count(operator)
    if operator in _COMPARATORS:
        return ast.Compare(_COMPARATORS[operator], path, values[0])
    if operator == "NOT_NULL":
        return ast.FunctionCondition(ast.Call("attribute_exists", [path]))
    if operator == "NULL":
        return ast.FunctionCondition(ast.Call("attribute_not_exists", [path]))
    if operator == "CONTAINS":
        return ast.FunctionCondition(ast.Call("contains", [path, values[0]]))
    if operator == "NOT_CONTAINS":
        return ast.Not(ast.FunctionCondition(ast.Call("contains", [path, values[0]])))
    if operator == "BEGINS_WITH":
        return ast.FunctionCondition(ast.Call("begins_with", [path, values[0]]))
    return ast.Between(path, values[0], values[1])


_SCALARS = ("S", "N", "B")
_ALLOWED_TYPES = {
    "LT": _SCALARS,
    "LE": _SCALARS,
    "GT": _SCALARS,
    "GE": _SCALARS,
    "IN": _SCALARS,
    "BETWEEN": _SCALARS,
    "BEGINS_WITH": ("S", "B"),
    "CONTAINS": ("S", "N", "B", "BOOL", "NULL"),
    "NOT_CONTAINS": ("S", "N", "B", "BOOL", "NULL"),
}


def _check_operand_type(operator: str, kind: str) -> None:
    allowed = _ALLOWED_TYPES.get(operator)
    if allowed is not None and kind not in allowed:
        raise ValidationException(
            f"One or more parameter values were invalid: ComparisonOperator {operator} is not "
            f"valid for {kind} AttributeValue type"
        )


def _operand_count(operator: str) -> Exception:
    return av.request_error(
        "One or more parameter values were invalid: Invalid number of argument(s) for the "
        f"{operator} ComparisonOperator"
    )


def update(updates: dict[str, Any]) -> ast.Update:
    actions: list[ast.Action] = []
    for name, spec in updates.items():
        action = spec.get("Action", "PUT")
        value = spec.get("Value")
        if action == "PUT":
            if value is None:
                raise ValidationException(
                    "One or more parameter values were invalid: Only DELETE action is allowed "
                    "when no attribute value is specified"
                )
            actions.append(ast.Action("SET", _path(name), _value(value)))
        elif action == "DELETE":
            if value is None:
                actions.append(ast.Action("REMOVE", _path(name)))
            else:
                _check_action_type("DELETE action with value", value, ("SS", "NS", "BS"))
                actions.append(ast.Action("DELETE", _path(name), _value(value)))
        else:
            if value is None:
                raise ValidationException(
                    "One or more parameter values were invalid: Only DELETE action is allowed "
                    "when no attribute value is specified"
                )
            _check_action_type("ADD action", value, ("N", "SS", "NS", "BS", "L"))
            actions.append(ast.Action("ADD", _path(name), _value(value)))
    return ast.Update(actions, legacy=True)


def _check_action_type(what: str, value: dict[str, Any], allowed: tuple[str, ...]) -> None:
    kind = av.value_type(av.check_value(value))
    if kind not in allowed:
        raise ValidationException(
            f"One or more parameter values were invalid: {what} is not supported for the type "
            f"{kind}"
        )


def key_condition(
    conditions: dict[str, Any], hash_key: tuple[str, str], range_key: tuple[str, str] | None
) -> KeyCondition:
    if not 1 <= len(conditions) <= 2:
        raise ValidationException("Conditions can be of length 1 or 2 only")
    for spec in conditions.values():
        count = len(spec.get("AttributeValueList", []))
        if count != _OPERANDS.get(spec.get("ComparisonOperator", ""), count):
            raise ValidationException(
                "The attempted filter operation is not supported for the provided filter "
                "argument count"
            )
    hash_name = hash_key[0]
    if hash_name not in conditions:
        raise ValidationException(f"Query condition missed key schema element: {hash_name}")
    if range_key and any(n not in (hash_name, range_key[0]) for n in conditions):
        # The second condition is taken to be the sort key's: its name is the one missed.
        raise ValidationException(f"Query condition missed key schema element: {range_key[0]}")
    if len(conditions) > (2 if range_key else 1):
        raise ValidationException("Query key condition not supported")
    hash_spec = conditions[hash_name]
    values = [av.check_value(v) for v in hash_spec.get("AttributeValueList", [])]
    if hash_spec.get("ComparisonOperator") != "EQ" or len(values) != 1:
        raise ValidationException("Query key condition not supported")
    _check_types(values, hash_key[1])
    result = KeyCondition(hash_name, values[0])
    if range_key and range_key[0] in conditions:
        spec = conditions[range_key[0]]
        operator = spec.get("ComparisonOperator", "")
        values = [av.check_value(v) for v in spec.get("AttributeValueList", [])]
        ops = {**_COMPARATORS, "BETWEEN": "BETWEEN", "BEGINS_WITH": "begins_with"}
        if operator not in ops or operator == "NE":
            raise ValidationException(f"Unsupported operator on KeyConditions: {operator}")
        _check_types(values, range_key[1])
        if operator == "BEGINS_WITH" and range_key[1] == "N":
            raise ValidationException(
                "One or more parameter values were invalid: ComparisonOperator BEGINS_WITH is "
                "not valid for N AttributeValue type"
            )
        result.range_name, result.op, result.operands = range_key[0], ops[operator], tuple(values)
    return result


def _check_types(values: list[dict[str, Any]], expected: str) -> None:
    for value in values:
        if av.value_type(value) != expected:
            raise ValidationException(
                "One or more parameter values were invalid: Condition parameter type does not "
                "match schema type"
            )
