"""The template language evaluated: Ref, Fn::* functions, conditions and pseudo parameters."""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nubes.core.resources import Provisioned
from nubes.services.cloudformation.errors import validation
from nubes.services.cloudformation.template import SUB_VARIABLE


class _NoValue:
    """``Ref: AWS::NoValue``: the property (or list item) is left out."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class NotReady(Exception):
    """A value names a resource not provisioned yet (change sets show it as to be known later)."""

    def __init__(self, logical_id: str) -> None:
        super().__init__(logical_id)
        self.logical_id = logical_id


@dataclass
class Scope:
    """What a stack's template is evaluated against."""

    template: dict[str, Any]
    parameters: dict[str, Any]
    """Name -> resolved value (a list for List<...> and CommaDelimitedList)."""
    pseudo: dict[str, Any]
    resources: dict[str, Provisioned] = field(default_factory=dict)
    resource_types: dict[str, str] = field(default_factory=dict)
    import_value: Callable[[str], str] = lambda name: name
    azs: Callable[[str], list[str]] = lambda region: [region + s for s in "abc"]
    _conditions: dict[str, bool] = field(default_factory=dict)

    # -- conditions -------------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            definitions = self.template.get("Conditions") or {}
            if name not in definitions:
                raise validation(
                    f"Template error: unresolved condition dependency {name} in Fn::If"
                )
            self._conditions[name] = self._truth(self.resolve(definitions[name]), name)
        return self._conditions[name]

    @staticmethod
    def _truth(value: Any, where: str) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise validation(f"Template error: Condition {where} must evaluate to a boolean")

    def check_rules(self) -> None:
        """The template's Rules: each assertion must hold for the parameter values given (when
        its RuleCondition does), else the stack is refused with the assertion's description."""
        for name, rule in (self.template.get("Rules") or {}).items():
            if not isinstance(rule, dict):
                raise validation(f"Template format error: Rule {name} must be an object")
            if "RuleCondition" in rule and not self._truth(
                self.resolve(rule["RuleCondition"]), name
            ):
                continue
            for assertion in rule.get("Assertions") or []:
                if not self._truth(self.resolve(assertion.get("Assert")), name):
                    raise validation(
                        assertion.get("AssertDescription")
                        or f"Template error: Rule {name} assertion failed"
                    )

    def included(self, logical_id: str) -> bool:
        """Whether a resource's Condition (if any) holds."""
        resource = (self.template.get("Resources") or {}).get(logical_id) or {}
        name = resource.get("Condition")
        return True if name is None else self.condition(name)

    # -- values -----------------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                key, arg = next(iter(value.items()))
                if key == "Ref":
                    return self._ref(arg)
                if key == "Condition" and isinstance(arg, str):
                    return self.condition(arg)
                handler = _FUNCTIONS.get(key)
                if handler is not None:
                    return handler(self, arg)
            out = {}
            for key, item in value.items():
                resolved = self.resolve(item)
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(value, list):
            return [r for r in (self.resolve(item) for item in value) if r is not NO_VALUE]
        return value

    def text(self, value: Any, function: str) -> str:
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, int | float):
            return str(resolved)
        if not isinstance(resolved, str):
            raise validation(f"Template error: every {function} object must resolve to a string")
        return resolved

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise validation("Template error: every Ref object must have a single String value.")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in (self.template.get("Resources") or {}):
            provisioned = self.resources.get(name)
            if provisioned is None:
                raise NotReady(name)
            return provisioned.ref_value
        raise validation(
            f"Template format error: Unresolved resource dependencies [{name}] in the Resources "
            "block of the template"
        )

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in (self.template.get("Resources") or {}):
            raise validation(
                f"Template error: instance of Fn::GetAtt references undefined resource {logical_id}"
            )
        provisioned = self.resources.get(logical_id)
        if provisioned is None:
            raise NotReady(logical_id)
        if attribute not in provisioned.attributes:
            type_name = self.resource_types.get(logical_id, "")
            if type_name.startswith("Custom::") or type_name.endswith("CustomResource"):
                raise validation(
                    f"CustomResource attribute error: Vendor response doesn't contain {attribute} "
                    "key in object"
                )
            raise validation(
                f"Template error: resource {logical_id} does not support attribute type "
                f"{attribute} in Fn::GetAtt"
            )
        return provisioned.attributes[attribute]


def _args(arg: Any, function: str, count: int | tuple[int, ...]) -> list[Any]:
    counts = (count,) if isinstance(count, int) else count
    if not isinstance(arg, list) or len(arg) not in counts:
        raise validation(f"Template error: {function} requires {counts[0]} arguments")
    return arg


def _get_att(scope: Scope, arg: Any) -> Any:
    if isinstance(arg, str):
        arg = arg.split(".", 1)
    if not isinstance(arg, list) or len(arg) != 2:
        raise validation(
            "Template error: every Fn::GetAtt object requires two non-empty parameters"
        )
    logical_id, attribute = arg[0], scope.text(arg[1], "Fn::GetAtt")
    return scope.get_att(logical_id, attribute)


def _sub(scope: Scope, arg: Any) -> str:
    if isinstance(arg, str):
        text, variables = arg, {}
    elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
        text, variables = arg[0], {k: scope.resolve(v) for k, v in arg[1].items()}
    else:
        raise validation(
            "Template error: One or more Fn::Sub intrinsic functions don't specify expected "
            "arguments. Specify a string as first argument, and an optional second argument to "
            "specify a mapping of values to replace in the string"
        )
    if not isinstance(text, str):
        raise validation("Template error: Fn::Sub's first argument must be a string")

    def value(name: str) -> str:
        name = name.strip()
        if name in variables:
            found = variables[name]
        elif "." in name and name.split(".", 1)[0] in (scope.template.get("Resources") or {}):
            logical_id, attribute = name.split(".", 1)
            found = scope.get_att(logical_id, attribute)
        else:
            found = scope._ref(name)
        if isinstance(found, list):
            return ",".join(str(v) for v in found)
        if isinstance(found, bool):
            return "true" if found else "false"
        return str(found)

    replaced = SUB_VARIABLE.sub(lambda m: value(m.group(1)), text)
    return replaced.replace("${!", "${")


def _join(scope: Scope, arg: Any) -> str:
    separator, items = _args(arg, "Fn::Join", 2)
    values = scope.resolve(items)
    if not isinstance(values, list):
        raise validation(
            "Template error: every Fn::Join object requires two parameters, (1) a "
            "string delimiter and (2) a list of strings to be joined or a function "
            "that returns a list of strings (such as Fn::GetAZs) to be joined."
        )
    return str(separator).join(
        ("true" if v else "false") if isinstance(v, bool) else str(v) for v in values
    )


def _split(scope: Scope, arg: Any) -> list[str]:
    separator, source = _args(arg, "Fn::Split", 2)
    return scope.text(source, "Fn::Split").split(str(separator))


def _select(scope: Scope, arg: Any) -> Any:
    index, items = _args(arg, "Fn::Select", 2)
    values = scope.resolve(items)
    try:
        position = int(scope.resolve(index))
    except (TypeError, ValueError):
        raise validation("Template error: Fn::Select requires a numeric index") from None
    if not isinstance(values, list) or not 0 <= position < len(values):
        raise validation(
            f"Template error: Fn::Select cannot select nonexistent value at index {position}"
        )
    return values[position]


def _find_in_map(scope: Scope, arg: Any) -> Any:
    if not isinstance(arg, list) or len(arg) not in (3, 4):
        raise validation(
            "Template error: every Fn::FindInMap object requires three parameters, the map name, "
            "map key and the attribute for return value"
        )
    default = None
    if len(arg) == 4:
        option = arg[3]
        if not isinstance(option, dict) or "DefaultValue" not in option:
            raise validation("Template error: Fn::FindInMap's fourth argument takes DefaultValue")
        default = option["DefaultValue"]
    name, key, attribute = (scope.text(a, "Fn::FindInMap") for a in arg[:3])
    mappings = scope.template.get("Mappings") or {}
    if name not in mappings:
        if default is not None:
            return scope.resolve(default)
        raise validation(f"Template error: Unable to get mapping for {name}::{key}::{attribute}")
    found = (mappings[name].get(key) or {}).get(attribute)
    if found is None:
        if default is not None:
            return scope.resolve(default)
        raise validation(f"Template error: Unable to get mapping for {name}::{key}::{attribute}")
    return found


def _if(scope: Scope, arg: Any) -> Any:
    name, when_true, when_false = _args(arg, "Fn::If", 3)
    if not isinstance(name, str):
        raise validation("Template error: Fn::If requires a condition name as its first argument")
    return scope.resolve(when_true if scope.condition(name) else when_false)


def _equals(scope: Scope, arg: Any) -> bool:
    left, right = _args(arg, "Fn::Equals", 2)

    def norm(value: Any) -> Any:
        value = scope.resolve(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if isinstance(value, int | float) else value

    return bool(norm(left) == norm(right))


def _booleans(scope: Scope, arg: Any, function: str) -> list[bool]:
    if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
        raise validation(
            f"Template error: every {function} object requires between 2 and 10 parameters"
        )
    return [Scope._truth(scope.resolve(a), function) for a in arg]


def _not(scope: Scope, arg: Any) -> bool:
    (inner,) = _args(arg, "Fn::Not", 1)
    return not Scope._truth(scope.resolve(inner), "Fn::Not")


def _base64(scope: Scope, arg: Any) -> str:
    return base64.b64encode(scope.text(arg, "Fn::Base64").encode()).decode()


def _get_azs(scope: Scope, arg: Any) -> list[str]:
    region = scope.resolve(arg) or scope.pseudo["AWS::Region"]
    return scope.azs(str(region))


def _cidr(scope: Scope, arg: Any) -> list[str]:
    block, count, bits = (scope.resolve(a) for a in _args(arg, "Fn::Cidr", 3))
    try:
        network = ipaddress.ip_network(str(block), strict=False)
        new_prefix = network.max_prefixlen - int(bits)
        subnets = network.subnets(new_prefix=new_prefix)
        found = [str(next(subnets)) for _ in range(int(count))]
    except (ValueError, StopIteration):
        raise validation("Template error: Fn::Cidr cannot split the block as asked") from None
    return found


def _import_value(scope: Scope, arg: Any) -> Any:
    return scope.import_value(scope.text(arg, "Fn::ImportValue"))


def _length(scope: Scope, arg: Any) -> int:
    values = scope.resolve(arg)
    if not isinstance(values, list):
        raise validation("Template error: Fn::Length requires a list")
    return len(values)


def _to_json_string(scope: Scope, arg: Any) -> str:
    return json.dumps(scope.resolve(arg), separators=(",", ":"))


def _listed(scope: Scope, value: Any, function: str) -> list[str]:
    resolved = scope.resolve(value)
    if not isinstance(resolved, list):
        raise validation(f"Template error: {function} requires a list of strings")
    return [str(v) for v in resolved]


def _contains(scope: Scope, arg: Any) -> bool:
    items, value = _args(arg, "Fn::Contains", 2)
    return scope.text(value, "Fn::Contains") in _listed(scope, items, "Fn::Contains")


def _each_member_equals(scope: Scope, arg: Any) -> bool:
    items, value = _args(arg, "Fn::EachMemberEquals", 2)
    wanted = scope.text(value, "Fn::EachMemberEquals")
    return all(v == wanted for v in _listed(scope, items, "Fn::EachMemberEquals"))


def _each_member_in(scope: Scope, arg: Any) -> bool:
    items, allowed = _args(arg, "Fn::EachMemberIn", 2)
    choices = set(_listed(scope, allowed, "Fn::EachMemberIn"))
    return all(v in choices for v in _listed(scope, items, "Fn::EachMemberIn"))


_FUNCTIONS: dict[str, Callable[[Scope, Any], Any]] = {
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Split": _split,
    "Fn::Select": _select,
    "Fn::FindInMap": _find_in_map,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::And": lambda scope, arg: all(_booleans(scope, arg, "Fn::And")),
    "Fn::Or": lambda scope, arg: any(_booleans(scope, arg, "Fn::Or")),
    "Fn::Not": _not,
    "Fn::Base64": _base64,
    "Fn::GetAZs": _get_azs,
    "Fn::Cidr": _cidr,
    "Fn::ImportValue": _import_value,
    "Fn::Length": _length,
    "Fn::ToJsonString": _to_json_string,
    "Fn::Contains": _contains,
    "Fn::EachMemberEquals": _each_member_equals,
    "Fn::EachMemberIn": _each_member_in,
}
