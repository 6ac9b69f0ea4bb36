"""Stack policies: which updates (Update:Modify, Update:Replace, Update:Delete) a stack's
policy lets happen to each resource. With a policy set, an action no statement allows is
refused; an explicit Deny wins over any Allow."""

from __future__ import annotations

import fnmatch
import json
from typing import Any


def refusal(policy: str | None, action: str, logical_id: str, type_name: str) -> str | None:
    """Why ``policy`` refuses ``action`` on the resource, or None when it allows it."""
    if not policy:
        return None
    try:
        statements = json.loads(policy).get("Statement") or []
    except (ValueError, AttributeError):
        return None
    if isinstance(statements, dict):
        statements = [statements]
    resource = f"LogicalResourceId/{logical_id}"
    allowed = False
    for number, statement in enumerate(statements, 1):
        if not isinstance(statement, dict) or not _applies(statement, action, resource, type_name):
            continue
        if statement.get("Effect") == "Deny":
            return (
                f"Action denied by stack policy: Statement [#{number}] does not allow [{action}] "
                f"for resource [{resource}]"
            )
        if statement.get("Effect") == "Allow":
            allowed = True
    if allowed:
        return None
    return f"Action not allowed by stack policy: [{action}] for resource [{resource}]"


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _applies(statement: dict[str, Any], action: str, resource: str, type_name: str) -> bool:
    if "Action" in statement:
        if not any(fnmatch.fnmatchcase(action, a) for a in _listed(statement["Action"])):
            return False
    elif any(fnmatch.fnmatchcase(action, a) for a in _listed(statement.get("NotAction"))):
        return False
    if "Resource" in statement:
        if not any(fnmatch.fnmatchcase(resource, r) for r in _listed(statement["Resource"])):
            return False
    elif any(fnmatch.fnmatchcase(resource, r) for r in _listed(statement.get("NotResource"))):
        return False
    for test, values in (statement.get("Condition") or {}).items():
        wanted = _listed((values or {}).get("ResourceType"))
        if not wanted:
            continue
        if test == "StringEquals" and type_name not in wanted:
            return False
        if test == "StringLike" and not any(fnmatch.fnmatchcase(type_name, w) for w in wanted):
            return False
    return True
