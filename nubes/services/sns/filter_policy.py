"""SNS subscription filter policies: validation and matching, on message attributes or on the
JSON message body (``FilterPolicyScope``). Pure logic, no state.

A policy is a JSON object; its keys must all match (AND), each key's list of conditions matches
if any condition does (OR); ``$or`` holds alternative sub-policies. Conditions: exact strings,
numbers, booleans and null; ``prefix``, ``suffix``, ``equals-ignore-case``, ``anything-but``
(values, or a ``prefix``/``suffix`` form), ``numeric`` ranges, ``exists`` and ``cidr``. An array
value matches when any of its elements does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from nubes.core import safejson

ATTRIBUTES = "MessageAttributes"
BODY = "MessageBody"
MAX_KEYS = 5
MAX_COMBINATIONS = 150
MAX_NESTING = 5
_NUMERIC_OPS = ("<", "<=", "=", ">", ">=")
_MISSING = object()


class FilterPolicyError(ValueError):
    """What is wrong with a policy, in the words SNS uses after ``FilterPolicy: ``."""


# -- validation ------------------------------------------------------------------------------


def parse(text: str, scope: str = ATTRIBUTES) -> dict[str, Any]:
    """The policy document, checked; raises :class:`FilterPolicyError`."""
    try:
        policy = safejson.loads(text)
    except ValueError:
        raise FilterPolicyError("failed to parse JSON.") from None
    if not isinstance(policy, dict):
        raise FilterPolicyError("Filter policy must be a JSON object")
    combinations = _check_object(policy, scope, depth=1)
    if combinations > MAX_COMBINATIONS:
        raise FilterPolicyError("Filter policy is too complex")
    return policy


def _check_object(node: Mapping[str, Any], scope: str, depth: int) -> int:
    if depth > MAX_NESTING:
        raise FilterPolicyError("Filter policy is too complex")
    keys = [k for k in node if k != "$or"]
    combinations = 1
    for key, value in node.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise FilterPolicyError("$or must be an array of at least two objects")
            total = 0
            for branch in value:
                if not isinstance(branch, dict):
                    raise FilterPolicyError("$or must be an array of at least two objects")
                total += _check_object(branch, scope, depth)
            combinations *= total
        elif isinstance(value, dict):
            if scope == ATTRIBUTES:
                raise FilterPolicyError(f'"{key}" must be an object or an array')
            combinations *= _check_object(value, scope, depth + 1)
        elif isinstance(value, list):
            if not value:
                raise FilterPolicyError(f'Empty arrays are not allowed for key "{key}"')
            for condition in value:
                _check_condition(key, condition)
            combinations *= len(value)
        else:
            raise FilterPolicyError(f'"{key}" must be an object or an array')
    if len(keys) > MAX_KEYS and scope == ATTRIBUTES:
        raise FilterPolicyError("Filter policy can not have more than 5 keys")
    return combinations


def _check_condition(key: str, condition: Any) -> None:
    if condition is None or isinstance(condition, str | int | float | bool):
        return
    if not isinstance(condition, dict) or len(condition) != 1:
        raise FilterPolicyError("Match value must be String, number, true, false, or null")
    ((op, arg),) = condition.items()
    if op in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(arg, str):
            raise FilterPolicyError(f"{op} match pattern must be a string")
    elif op == "exists":
        if not isinstance(arg, bool):
            raise FilterPolicyError("exists match pattern must be either true or false.")
    elif op == "numeric":
        _check_numeric(arg)
    elif op == "anything-but":
        _check_anything_but(arg)
    elif op == "cidr":
        try:
            ipaddress.ip_network(arg, strict=False)
        except (TypeError, ValueError):
            raise FilterPolicyError("Malformed CIDR, one '/' required") from None
    else:
        raise FilterPolicyError(f"Unrecognized match type {op}")


def _check_numeric(arg: Any) -> None:
    if not isinstance(arg, list) or not arg or len(arg) % 2:
        raise FilterPolicyError("Value of numeric must be an array.")
    for i in range(0, len(arg), 2):
        op, value = arg[i], arg[i + 1]
        if op not in _NUMERIC_OPS:
            raise FilterPolicyError(f"Unrecognized numeric range operator: {op}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FilterPolicyError(f"Value of {op} must be numeric")
    if len(arg) > 4 or (len(arg) == 4 and not (arg[0] in (">", ">=") and arg[2] in ("<", "<="))):
        raise FilterPolicyError("Too many elements in numeric expression")


def _check_anything_but(arg: Any) -> None:
    if isinstance(arg, dict):
        if len(arg) != 1 or next(iter(arg)) not in ("prefix", "suffix"):
            raise FilterPolicyError("Unsupported anything-but pattern: " + ", ".join(arg))
        if not isinstance(next(iter(arg.values())), str):
            raise FilterPolicyError("anything-but prefix/suffix must be a string")
    elif isinstance(arg, list):
        if not arg or any(isinstance(v, dict | list) for v in arg):
            raise FilterPolicyError("anything-but must be a value or a list of values")
    elif not isinstance(arg, str | int | float):
        raise FilterPolicyError("anything-but must be a value or a list of values")


# -- matching ------------------------------------------------------------------------------


def matches_attributes(
    policy: Mapping[str, Any], attributes: Mapping[str, Mapping[str, Any]]
) -> bool:
    """Whether SNS message attributes (``{name: {DataType, StringValue|BinaryValue}}``) pass."""
    return _match_object(policy, lambda key: _attribute_values(attributes.get(key)))


def matches_body(policy: Mapping[str, Any], body: str) -> bool:
    """Whether a message body passes; a body that is not a JSON object matches nothing."""
    try:
        doc = safejson.loads(body)
    except ValueError:
        return False
    if not isinstance(doc, dict):
        return False
    return _match_nested(policy, doc)


def _match_nested(policy: Mapping[str, Any], doc: Mapping[str, Any]) -> bool:
    for key, rule in policy.items():
        if key == "$or":
            if not any(_match_nested(branch, doc) for branch in rule):
                return False
            continue
        value = doc.get(key, _MISSING)
        if isinstance(rule, dict):
            children = value if isinstance(value, list) else [value]
            found = any(isinstance(c, dict) and _match_nested(rule, c) for c in children)
            # A nested rule that only asks for absence still matches a missing object.
            if not found and not (value is _MISSING and _only_absence(rule)):
                return False
            continue
        if not _match_conditions(rule, _body_values(value)):
            return False
    return True


def _only_absence(rule: Mapping[str, Any]) -> bool:
    for key, value in rule.items():
        if key == "$or":
            continue
        if isinstance(value, dict):
            if not _only_absence(value):
                return False
        elif {"exists": False} not in value:
            return False
    return True


def _match_object(policy: Mapping[str, Any], lookup: Any) -> bool:
    for key, rule in policy.items():
        if key == "$or":
            if not any(_match_object(branch, lookup) for branch in rule):
                return False
        elif not _match_conditions(rule, lookup(key)):
            return False
    return True


def _attribute_values(attr: Mapping[str, Any] | None) -> Any:
    if attr is None:
        return _MISSING
    data_type = str(attr.get("DataType", ""))
    if data_type.startswith("Binary"):
        return []
    text = attr.get("StringValue")
    if text is None:
        return []
    if data_type.startswith("Number"):
        try:
            return [float(text)]
        except ValueError:
            return []
    if data_type == "String.Array":
        try:
            items = safejson.loads(text)
        except ValueError:
            return [text]
        return items if isinstance(items, list) else [items]
    return [text]


def _body_values(value: Any) -> Any:
    if value is _MISSING:
        return _MISSING
    if isinstance(value, list):
        return [v for v in value if not isinstance(v, dict | list)]
    if isinstance(value, dict):
        return []
    return [value]


def _match_conditions(conditions: list[Any], values: Any) -> bool:
    if values is _MISSING:
        return any(isinstance(c, dict) and c.get("exists") is False for c in conditions)
    for condition in conditions:
        if isinstance(condition, dict) and "exists" in condition:
            if condition["exists"]:
                return True
            continue
        if any(_match_value(condition, v) for v in values):
            return True
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(condition: Any, value: Any) -> bool:
    if _is_number(condition):
        return _is_number(value) and float(value) == float(condition)
    if isinstance(condition, bool) or condition is None:
        return value is condition
    return isinstance(value, str) and value == condition


def _match_value(condition: Any, value: Any) -> bool:
    if not isinstance(condition, dict):
        return _equal(condition, value)
    ((op, arg),) = condition.items()
    if op == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if op == "suffix":
        return isinstance(value, str) and value.endswith(arg)
    if op == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == arg.lower()
    if op == "numeric":
        return _is_number(value) and _in_range(float(value), arg)
    if op == "cidr":
        return _in_network(value, arg)
    if op == "anything-but":
        return _anything_but(arg, value)
    return False


def _in_range(value: float, spec: list[Any]) -> bool:
    for i in range(0, len(spec), 2):
        op, bound = spec[i], float(spec[i + 1])
        ok = {
            "<": value < bound,
            "<=": value <= bound,
            "=": value == bound,
            ">": value > bound,
            ">=": value >= bound,
        }[op]
        if not ok:
            return False
    return True


def _in_network(value: Any, cidr: str) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _anything_but(arg: Any, value: Any) -> bool:
    if isinstance(arg, dict):
        ((op, text),) = arg.items()
        if not isinstance(value, str):
            return True
        return not (value.startswith(text) if op == "prefix" else value.endswith(text))
    excluded = arg if isinstance(arg, list) else [arg]
    return not any(_equal(e, value) for e in excluded)
