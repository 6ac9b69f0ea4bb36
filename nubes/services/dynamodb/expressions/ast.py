"""The expression tree the parser builds and the evaluator walks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Name:
    """One map key of a document path: written plainly, or as a ``#ref``."""

    text: str
    ref: bool = False
    resolved: str = ""


@dataclass(slots=True)
class Path:
    parts: list[Name | int]

    def elements(self) -> tuple[str | int, ...]:
        return tuple(p.resolved if isinstance(p, Name) else p for p in self.parts)


@dataclass(slots=True)
class ValueRef:
    name: str
    value: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Call:
    name: str
    args: list[Operand]


@dataclass(slots=True)
class Arith:
    op: str
    left: Operand
    right: Operand


Operand = Path | ValueRef | Call | Arith


@dataclass(slots=True)
class Compare:
    op: str
    left: Operand
    right: Operand


@dataclass(slots=True)
class Between:
    operand: Operand
    low: Operand
    high: Operand


@dataclass(slots=True)
class In:
    operand: Operand
    options: list[Operand]


@dataclass(slots=True)
class And:
    left: Condition
    right: Condition


@dataclass(slots=True)
class Or:
    left: Condition
    right: Condition


@dataclass(slots=True)
class Not:
    operand: Condition


@dataclass(slots=True)
class FunctionCondition:
    call: Call


Condition = Compare | Between | In | And | Or | Not | FunctionCondition


@dataclass(slots=True)
class Action:
    """One action of an update: SET path = value, REMOVE path, ADD path :v, DELETE path :v."""

    clause: str
    path: Path
    value: Operand | None = None


@dataclass(slots=True)
class Update:
    actions: list[Action]
    sections: list[str] = field(default_factory=list)
    """The clause keywords in the order written (a clause may appear only once)."""
    legacy: bool = False
    """Built from AttributeUpdates, whose type errors DynamoDB words differently."""


def attributes(node: Any) -> set[str]:
    """The top-level attribute names a tree reads (the first element of each document path)."""
    if isinstance(node, Path):
        first = node.elements()[0]
        return {first} if isinstance(first, str) else set()
    if isinstance(node, list):
        return set().union(*(attributes(n) for n in node))
    if not hasattr(node, "__dataclass_fields__"):
        return set()
    return set().union(*(attributes(getattr(node, f)) for f in node.__dataclass_fields__))
