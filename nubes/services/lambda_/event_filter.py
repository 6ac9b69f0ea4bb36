"""Event filtering for event source mappings (``FilterCriteria``): the EventBridge-style
patterns Lambda applies to each record before it reaches the function.

A pattern is a JSON object mirroring the record: an object recurses, an array lists what the
value may be: literals (``null`` included) or matchers ``{"prefix": ..}``, ``{"suffix": ..}``,
``{"anything-but": ..}``, ``{"numeric": [">", 0, "<=", 5]}``, ``{"exists": bool}``,
``{"equals-ignore-case": ..}``, ``{"wildcard": ..}``. A record passes when any filter matches.
"""

from __future__ import annotations

import fnmatch
import json
import operator
from collections.abc import Callable
from typing import Any

from nubes.core import safejson

_MISSING = object()
_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class FilterError(ValueError):
    pass


def parse_filters(criteria: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The patterns of ``FilterCriteria``; raises :class:`FilterError` for invalid ones."""
    patterns = []
    for entry in (criteria or {}).get("Filters") or []:
        try:
            pattern = safejson.loads(entry.get("Pattern") or "{}")
        except ValueError as exc:
            raise FilterError(f"Invalid filter pattern definition: {exc}") from None
        if not isinstance(pattern, dict):
            raise FilterError("Invalid filter pattern definition: not a JSON object")
        _check(pattern)
        patterns.append(pattern)
    return patterns


_RULES = frozenset(
    ("prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists")
)


def _check(pattern: dict[str, Any]) -> None:
    for key, expected in pattern.items():
        if isinstance(expected, dict):
            _check(expected)
        elif not isinstance(expected, list) or not expected:
            raise FilterError(f"Invalid filter pattern definition at {key!r}: expected an array")
        else:
            for rule in expected:
                if isinstance(rule, dict) and (len(rule) != 1 or not set(rule) <= _RULES):
                    raise FilterError(f"Unsupported filter rule: {json.dumps(rule)}")
                if isinstance(rule, dict) and "numeric" in rule:
                    _numeric(rule["numeric"], 0)


def passes(patterns: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    return not patterns or any(_object(p, record) for p in patterns)


def _object(pattern: dict[str, Any], value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    for key, expected in pattern.items():
        actual = value.get(key, _MISSING)
        if isinstance(expected, dict):
            if not _object(expected, actual):
                return False
        elif isinstance(expected, list):
            if not _any_of(expected, actual):
                return False
        else:
            raise FilterError(f"Invalid filter pattern definition at {key!r}")
    return True


def _any_of(allowed: list[Any], actual: Any) -> bool:
    candidates = actual if isinstance(actual, list) else [actual]
    return any(_leaf(rule, value) for rule in allowed for value in candidates) or (
        isinstance(actual, list) is False and any(_missing_rule(r, actual) for r in allowed)
    )


def _missing_rule(rule: Any, actual: Any) -> bool:
    return isinstance(rule, dict) and rule.get("exists") is False and actual is _MISSING


def _leaf(rule: Any, value: Any) -> bool:
    if not isinstance(rule, dict):
        return value is not _MISSING and rule == value
    if "exists" in rule:
        return (value is not _MISSING) is bool(rule["exists"])
    if value is _MISSING:
        return False
    if "prefix" in rule:
        return isinstance(value, str) and value.startswith(rule["prefix"])
    if "suffix" in rule:
        return isinstance(value, str) and value.endswith(rule["suffix"])
    if "equals-ignore-case" in rule:
        return isinstance(value, str) and value.lower() == str(rule["equals-ignore-case"]).lower()
    if "wildcard" in rule:
        return isinstance(value, str) and fnmatch.fnmatchcase(value, rule["wildcard"])
    if "anything-but" in rule:
        excluded = rule["anything-but"]
        if isinstance(excluded, dict):
            return not _leaf(excluded, value)
        return value not in (excluded if isinstance(excluded, list) else [excluded])
    if "numeric" in rule:
        return _numeric(rule["numeric"], value)
    raise FilterError(f"Unsupported filter rule: {json.dumps(rule)}")


def _numeric(conditions: list[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if len(conditions) % 2:
        raise FilterError("Numeric filter needs operator/value pairs")
    for op, bound in zip(conditions[::2], conditions[1::2], strict=True):
        compare = _NUMERIC.get(op)
        if compare is None or not isinstance(bound, int | float):
            raise FilterError(f"Invalid numeric filter: {op} {bound}")
        if not compare(float(value), float(bound)):
            return False
    return True


def sqs_view(record: dict[str, Any]) -> dict[str, Any]:
    """What SQS patterns see: the record with its body parsed when it is JSON."""
    try:
        body = safejson.loads(record["body"])
    except (ValueError, TypeError):
        return record
    return {**record, "body": body} if isinstance(body, dict) else record
