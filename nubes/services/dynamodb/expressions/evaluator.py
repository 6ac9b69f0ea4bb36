"""Evaluating validated expressions against items: conditions, projections, updates."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from nubes.services.dynamodb import values as av
from nubes.services.dynamodb.errors import ValidationException
from nubes.services.dynamodb.expressions import ast

Item = dict[str, Any]
Element = str | int


# --- paths -----------------------------------------------------------------------------------


def get_path(item: Item, elements: Sequence[Element]) -> dict[str, Any] | None:
    first = elements[0]
    if not isinstance(first, str):
        return None
    current: Any = item.get(first)
    for element in elements[1:]:
        if current is None:
            return None
        if isinstance(element, int):
            items = current.get("L")
            if items is None or element >= len(items):
                return None
            current = items[element]
        else:
            members = current.get("M")
            if members is None:
                return None
            current = members.get(element)
    return current


# --- conditions ------------------------------------------------------------------------------


def matches(node: ast.Condition, item: Item) -> bool:
    if isinstance(node, ast.And):
        return matches(node.left, item) and matches(node.right, item)
    if isinstance(node, ast.Or):
        return matches(node.left, item) or matches(node.right, item)
    if isinstance(node, ast.Not):
        return not matches(node.operand, item)
    if isinstance(node, ast.Compare):
        return _compare(node.op, operand(node.left, item), operand(node.right, item))
    if isinstance(node, ast.Between):
        value = operand(node.operand, item)
        low, high = operand(node.low, item), operand(node.high, item)
        return _compare(">=", value, low) and _compare("<=", value, high)
    if isinstance(node, ast.In):
        value = operand(node.operand, item)
        return value is not None and any(
            (option := operand(o, item)) is not None and av.equal(value, option)
            for o in node.options
        )
    return _function(node.call, item)


def _compare(op: str, left: dict[str, Any] | None, right: dict[str, Any] | None) -> bool:
    if left is None or right is None:
        return op == "<>" and (left is None) != (right is None)
    if op == "=":
        return av.equal(left, right)
    if op == "<>":
        return not av.equal(left, right)
    order = av.compare(left, right)
    if order is None:
        return False
    return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[op]


def _function(call: ast.Call, item: Item) -> bool:
    name = call.name
    if name == "attribute_exists":
        return operand(call.args[0], item) is not None
    if name == "attribute_not_exists":
        return operand(call.args[0], item) is None
    if name == "attribute_type":
        value, wanted = operand(call.args[0], item), operand(call.args[1], item)
        return value is not None and wanted is not None and av.value_type(value) == wanted["S"]
    value, arg = operand(call.args[0], item), operand(call.args[1], item)
    if value is None or arg is None:
        return False
    kind, arg_kind = av.value_type(value), av.value_type(arg)
    if name == "begins_with":
        return kind == arg_kind and kind in ("S", "B") and value[kind].startswith(arg[kind])
    # contains
    if kind in ("S", "B"):
        return arg_kind == kind and arg[kind] in value[kind]
    if kind in ("SS", "NS", "BS"):
        if arg_kind != kind[0]:
            return False
        if kind == "NS":
            return Decimal(arg["N"]) in {Decimal(n) for n in value["NS"]}
        return arg[arg_kind] in value[kind]
    if kind == "L":
        return any(av.equal(member, arg) for member in value["L"])
    return False


def operand(node: ast.Operand, item: Item) -> dict[str, Any] | None:
    if isinstance(node, ast.Path):
        return get_path(item, node.elements())
    if isinstance(node, ast.ValueRef):
        return node.value
    if isinstance(node, ast.Call) and node.name == "size":
        value = operand(node.args[0], item)
        return None if value is None else _size(value)
    raise AssertionError(node)


def _size(value: dict[str, Any]) -> dict[str, Any] | None:
    kind = av.value_type(value)
    if kind == "S":  # in UTF-16 code units, as DynamoDB counts a string's length
        return {"N": str(len(value["S"].encode("utf-16-le")) // 2)}
    if kind in ("B", "SS", "NS", "BS", "L"):
        return {"N": str(len(value[kind]))}
    if kind == "M":
        return {"N": str(len(value["M"]))}
    return None


# --- projections -----------------------------------------------------------------------------


def project(item: Item, paths: Sequence[Sequence[Element]]) -> Item:
    """The parts of ``item`` the paths name, nested as they were (list elements compacted in
    index order)."""
    tree: dict[Element, Any] = {}
    for elements in paths:
        node = tree
        for element in elements[:-1]:
            node = node.setdefault(element, {})
        node[elements[-1]] = True
    out: Item = {}
    for name, wanted in tree.items():
        if isinstance(name, str) and name in item:
            value = _pick(item[name], wanted)
            if value is not None:
                out[name] = value
    return out


def _pick(value: dict[str, Any], wanted: Any) -> dict[str, Any] | None:
    if wanted is True:
        return copy.deepcopy(value)
    if "M" in value:
        members = {
            k: picked
            for k, sub in wanted.items()
            if isinstance(k, str) and k in value["M"]
            if (picked := _pick(value["M"][k], sub)) is not None
        }
        return {"M": members} if members else None
    if "L" in value:
        elements = value["L"]
        picked_list = [
            picked
            for k in sorted(i for i in wanted if isinstance(i, int) and i < len(elements))
            if (picked := _pick(elements[k], wanted[k])) is not None
        ]
        return {"L": picked_list} if picked_list else None
    return None


# --- updates ---------------------------------------------------------------------------------


def apply_update(update: ast.Update, item: Item) -> Item:
    """The item after the update; every operand reads the item as it was before it."""
    before = item
    after = copy.deepcopy(item)
    mismatch = _LEGACY_MISMATCH if update.legacy else _MISMATCH
    removals: list[tuple[Element, ...]] = []
    for action in update.actions:
        elements = action.path.elements()
        if action.clause == "SET":
            assert action.value is not None
            _set(after, elements, _update_value(action.value, before))
        elif action.clause == "REMOVE":
            removals.append(elements)
        elif action.clause == "ADD":
            assert isinstance(action.value, ast.ValueRef)
            _add(after, elements, action.value.value, mismatch)
        else:
            assert isinstance(action.value, ast.ValueRef)
            _delete(after, elements, action.value.value, mismatch)
    # Later list indexes first, so earlier removals do not shift them.
    for elements in sorted(removals, key=_removal_order, reverse=True):
        _remove(after, elements)
    return after


def _removal_order(elements: tuple[Element, ...]) -> tuple[Any, ...]:
    return tuple((1, e) if isinstance(e, int) else (0, e) for e in elements)


def _update_value(node: ast.Operand, item: Item) -> dict[str, Any]:
    if isinstance(node, ast.ValueRef):
        return node.value
    if isinstance(node, ast.Path):
        value = get_path(item, node.elements())
        if value is None:
            raise ValidationException(
                "The provided expression refers to an attribute that does not exist in the item"
            )
        return value
    if isinstance(node, ast.Arith):
        left, right = _update_value(node.left, item), _update_value(node.right, item)
        if "N" not in left or "N" not in right:
            raise ValidationException(
                "An operand in the update expression has an incorrect data type"
            )
        return {"N": av.number_arith(left["N"], right["N"], node.op == "-")}
    assert isinstance(node, ast.Call)
    if node.name == "if_not_exists":
        path = node.args[0]
        assert isinstance(path, ast.Path)
        existing = get_path(item, path.elements())
        return existing if existing is not None else _update_value(node.args[1], item)
    # list_append (literal operands were type-checked by the validator)
    first, second = (_update_value(a, item) for a in node.args)
    if "L" not in first or "L" not in second:
        raise ValidationException("An operand in the update expression has an incorrect data type")
    return {"L": first["L"] + second["L"]}


def _invalid_path() -> Exception:
    return ValidationException(
        "The document path provided in the update expression is invalid for update"
    )


def _parent(item: Item, elements: Sequence[Element]) -> dict[str, Any] | None:
    """The map or list holding the last element (None when a step is missing or wrong)."""
    if len(elements) == 1:
        return {"M": item}
    return get_path(item, elements[:-1])


def _set(item: Item, elements: Sequence[Element], value: dict[str, Any]) -> None:
    parent = _parent(item, elements)
    last = elements[-1]
    if parent is None:
        raise _invalid_path()
    value = copy.deepcopy(value)
    if isinstance(last, int):
        members = parent.get("L")
        if members is None:
            raise _invalid_path()
        if last < len(members):
            members[last] = value
        else:
            members.append(value)
    else:
        if "M" not in parent:
            raise _invalid_path()
        parent["M"][last] = value


def _container(item: Item, elements: Sequence[Element]) -> dict[str, Any]:
    """The map or list a nested path's last element lives in; it must exist and be of the
    kind the element asks for (a missing top-level attribute is fine)."""
    parent = _parent(item, elements)
    wanted = "L" if isinstance(elements[-1], int) else "M"
    if parent is None or wanted not in parent:
        raise _invalid_path()
    return parent


def _remove(item: Item, elements: Sequence[Element]) -> None:
    parent = _container(item, elements)
    last = elements[-1]
    if isinstance(last, int):
        members = parent["L"]
        if last < len(members):
            del members[last]
    else:
        parent["M"].pop(last, None)


_MISMATCH = "An operand in the update expression has an incorrect data type"
_LEGACY_MISMATCH = "Type mismatch for attribute to update"


def _add(item: Item, elements: Sequence[Element], value: dict[str, Any], mismatch: str) -> None:
    existing = get_path(item, elements)
    kind = av.value_type(value)
    if existing is None:
        _set(item, elements, value)
        return
    if av.value_type(existing) != kind:
        raise ValidationException(mismatch)
    if kind == "N":
        _set(item, elements, {"N": av.number_arith(existing["N"], value["N"], False)})
        return
    if kind == "L":  # only the legacy AttributeUpdates ADD takes lists: it appends
        _set(item, elements, {"L": existing["L"] + value["L"]})
        return
    _set(item, elements, {kind: _union(kind, existing[kind], value[kind])})


def _union(kind: str, left: list[Any], right: list[Any]) -> list[Any]:
    out = list(left)
    if kind == "NS":
        seen = {Decimal(n) for n in left}
        out.extend(n for n in right if Decimal(n) not in seen)
    else:
        present = set(left)
        out.extend(m for m in right if m not in present)
    return out


def _delete(item: Item, elements: Sequence[Element], value: dict[str, Any], mismatch: str) -> None:
    _container(item, elements)
    existing = get_path(item, elements)
    if existing is None:
        return
    kind = av.value_type(value)
    if av.value_type(existing) != kind:
        raise ValidationException(mismatch)
    if kind == "NS":
        drop = {Decimal(n) for n in value["NS"]}
        remaining = [n for n in existing["NS"] if Decimal(n) not in drop]
    else:
        gone = set(value[kind])
        remaining = [m for m in existing[kind] if m not in gone]
    if remaining:
        _set(item, elements, {kind: remaining})
    else:
        _remove(item, elements)


def updated_paths(update: ast.Update) -> list[tuple[Element, ...]]:
    return [a.path.elements() for a in update.actions]
