"""Templates: reading JSON and YAML (with the short-form tags), checking them as AWS checks them
before anything is created, and the dependencies between resources."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from nubes.core import safejson, safeyaml
from nubes.core.resources import find_type
from nubes.services.cloudformation.errors import validation

Template = dict[str, Any]

SECTIONS = frozenset(
    {
        "AWSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Rules",
        "Mappings",
        "Conditions",
        "Transform",
        "Resources",
        "Outputs",
        "Hooks",
    }
)
RESOURCE_KEYS = frozenset(
    {
        "Type",
        "Properties",
        "DependsOn",
        "Condition",
        "Metadata",
        "DeletionPolicy",
        "UpdateReplacePolicy",
        "CreationPolicy",
        "UpdatePolicy",
        "Version",
        "Description",
    }
)
PSEUDO = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)
SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


# -- reading -------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """YAML as CloudFormation reads it: short-form function tags, and dates left as text
    (``AWSTemplateFormatVersion: 2010-09-09`` is a string to AWS)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _short_form)


def parse(body: str) -> Template:
    """A template body, JSON or YAML, as AWS refuses a malformed one."""
    text = body.strip()
    if text.startswith("{"):
        try:
            loaded = safejson.loads(text)
        except ValueError:
            raise validation("Template format error: JSON not well-formed.") from None
    else:
        try:
            loaded = safeyaml.load(text, _Loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise validation(f"Template format error: YAML not well-formed.{where}") from None
        except yaml.YAMLError:
            raise validation("Template format error: YAML not well-formed.") from None
    if not isinstance(loaded, dict):
        raise validation("Template format error: unsupported structure.")
    return loaded


def transforms(template: Template) -> list[str]:
    declared = template.get("Transform")
    if declared is None:
        return []
    items = declared if isinstance(declared, list) else [declared]
    return [t for t in items if isinstance(t, str)]


# -- walking -------------------------------------------------------------------------------------


def references(value: Any) -> Iterator[tuple[str, str]]:
    """Every (kind, name) a value refers to: ("Ref", name), ("GetAtt", resource),
    ("Condition", name), ("Sub", name) for ``${name}`` or ``${name.attr}`` in Fn::Sub."""
    if isinstance(value, dict):
        if len(value) == 1:
            key, arg = next(iter(value.items()))
            if key == "Ref" and isinstance(arg, str):
                yield ("Ref", arg)
                return
            if key == "Fn::GetAtt":
                if isinstance(arg, str):
                    arg = arg.split(".", 1)
                if isinstance(arg, list) and arg and isinstance(arg[0], str):
                    yield ("GetAtt", arg[0])
                    yield from references(arg[1:])
                return
            if key == "Condition" and isinstance(arg, str):
                yield ("Condition", arg)
                return
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                if isinstance(text, str) and isinstance(variables, dict):
                    for name in SUB_VARIABLE.findall(text):
                        name = name.strip()
                        if name not in variables:
                            yield ("Sub", name)
                yield from references(variables)
                return
            if key == "Fn::If" and isinstance(arg, list) and arg and isinstance(arg[0], str):
                yield ("Condition", arg[0])
                yield from references(arg[1:])
                return
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def dependencies(template: Template, logical_id: str) -> set[str]:
    """The resources ``logical_id`` needs before it: what it refers to and its DependsOn."""
    resources = template.get("Resources") or {}
    resource = resources[logical_id]
    found: set[str] = set()
    for kind, name in references(
        {k: v for k, v in resource.items() if k in ("Properties", "Metadata", "CreationPolicy")}
    ):
        if kind in ("Ref", "GetAtt") and name in resources:
            found.add(name)
        elif kind == "Sub":
            base = name.split(".", 1)[0]
            if base in resources:
                found.add(base)
    depends = resource.get("DependsOn") or []
    found.update([depends] if isinstance(depends, str) else depends)
    found.discard(logical_id)
    return found


def order(template: Template, logical_ids: list[str] | None = None) -> list[str]:
    """The resources in an order where each comes after what it needs (template order among
    those free to go), refusing a cycle as AWS words it."""
    resources = template.get("Resources") or {}
    names = list(resources) if logical_ids is None else logical_ids
    needs = {name: dependencies(template, name) & set(names) for name in names}
    done: list[str] = []
    placed: set[str] = set()
    while len(done) < len(names):
        ready = [n for n in names if n not in placed and needs[n] <= placed]
        if not ready:
            stuck = [n for n in names if n not in placed]
            raise validation(f"Circular dependency between resources: [{', '.join(stuck)}]")
        for name in ready:
            done.append(name)
            placed.add(name)
    return done


# -- checking ------------------------------------------------------------------------------------


def check(template: Template) -> None:
    """What AWS refuses before creating anything, with AWS's messages."""
    unknown = sorted(set(template) - SECTIONS)
    if unknown:
        raise validation(
            f"Template format error: Invalid template property or properties [{', '.join(unknown)}]"
        )
    version = template.get("AWSTemplateFormatVersion")
    if version is not None and str(version) != "2010-09-09":
        raise validation(
            f"Template format error: '{version}' is not a valid AWSTemplateFormatVersion value"
        )
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise validation("Template format error: At least one Resources member must be defined.")
    parameters = template.get("Parameters") or {}
    conditions = template.get("Conditions") or {}
    for section in ("Parameters", "Mappings", "Conditions", "Outputs"):
        if section in template and not isinstance(template[section], dict):
            raise validation(f"Template format error: {section} must be an object.")
    for param in parameters.values():
        if not isinstance(param, dict) or "Type" not in param:
            raise validation(
                "Template format error: Every Parameters object must contain a Type member."
            )
    for output in (template.get("Outputs") or {}).values():
        if not isinstance(output, dict) or "Value" not in output:
            raise validation(
                "Template format error: Every Outputs member must contain a Value object"
            )
    for definition in conditions.values():
        if isinstance(definition, dict) and len(definition) == 1:
            continue
        raise validation(
            "Template format error: Every Condition member must be an object with one function"
        )
    unrecognized: list[str] = []
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict):
            raise validation(
                f"Template format error: [/Resources/{logical_id}] resource definition is malformed"
            )
        if "Type" not in resource:
            raise validation(
                "Template format error: [/Resources/"
                f"{logical_id}] Every Resources object must contain a Type member."
            )
        extra = sorted(set(resource) - RESOURCE_KEYS)
        if extra:
            raise validation(
                f"Invalid template resource property '{extra[0]}'"
                if len(extra) == 1
                else f"Invalid template resource properties [{', '.join(extra)}]"
            )
        type_name = resource["Type"]
        if not isinstance(type_name, str) or (
            find_type(type_name) is None and type_name not in unrecognized
        ):
            unrecognized.append(str(type_name))
        depends = resource.get("DependsOn", [])
        if not isinstance(depends, str) and not (
            isinstance(depends, list) and all(isinstance(d, str) for d in depends)
        ):
            raise validation(
                "Template format error: DependsOn must be a string or list of strings."
            )
        condition = resource.get("Condition")
        if condition is not None and condition not in conditions:
            raise validation(
                f"Template error: unresolved condition dependency {condition} in resource "
                f"{logical_id}"
            )
    if unrecognized:
        raise validation(
            f"Template format error: Unrecognized resource types: [{', '.join(unrecognized)}]"
        )
    known = set(parameters) | set(resources) | PSEUDO
    _check_block(template, resources, known, conditions, "Resources")
    for resource in resources.values():
        depends = resource.get("DependsOn") or []
        for name in [depends] if isinstance(depends, str) else depends:
            if name not in resources:
                raise validation(
                    f"Template format error: Unresolved resource dependencies [{name}] "
                    "in the Resources block of the template"
                )
        _check_get_atts(resource, resources)
    _check_block(template, template.get("Outputs") or {}, known, conditions, "Outputs")
    _check_get_atts(template.get("Outputs") or {}, resources)
    for definition in conditions.values():
        for kind, target in references(definition):
            if kind == "Ref" and target not in set(parameters) | PSEUDO:
                raise validation(
                    f"Template format error: Unresolved dependencies [{target}]. "
                    "Cannot reference resources in the Conditions block of the template"
                )
            if kind == "Condition" and target not in conditions:
                raise validation(
                    f"Template error: unresolved condition dependency {target} in Fn::If"
                )
    order(template)


def _check_block(
    template: Template, block: dict[str, Any], known: set[str], conditions: Any, section: str
) -> None:
    missing: list[str] = []
    resources = template.get("Resources") or {}
    for item in block.values():
        for kind, name in references(item):
            if kind == "Ref" and name not in known and name not in missing:
                missing.append(name)
            elif kind == "Sub":
                base = name.split(".", 1)[0]
                if "." in name and base not in resources and name not in known:
                    if base not in missing:
                        missing.append(base)
                elif "." not in name and name not in known and name not in missing:
                    missing.append(name)
            elif kind == "GetAtt" and name not in resources:
                raise validation(
                    f"Template error: instance of Fn::GetAtt references undefined resource {name}"
                )
            elif kind == "Condition" and name not in conditions:
                raise validation(
                    f"Template error: unresolved condition dependency {name} in Fn::If"
                )
    if missing:
        raise validation(
            f"Template format error: Unresolved resource dependencies [{', '.join(missing)}] "
            f"in the {section} block of the template"
        )


def _check_get_atts(value: Any, resources: dict[str, Any]) -> None:
    """A GetAtt of an attribute its type does not have is refused up front."""
    if isinstance(value, dict):
        if len(value) == 1 and "Fn::GetAtt" in value:
            arg = value["Fn::GetAtt"]
            if isinstance(arg, str):
                arg = arg.split(".", 1)
            if (
                isinstance(arg, list)
                and len(arg) == 2
                and all(isinstance(a, str) for a in arg)
                and arg[0] in resources
            ):
                type_name = resources[arg[0]].get("Type", "")
                handler = find_type(type_name)
                open_ended = type_name.startswith("Custom::") or type_name in (
                    "AWS::CloudFormation::CustomResource",
                    "AWS::CloudFormation::Stack",
                )
                if handler is not None and not open_ended and arg[1] not in handler.attributes:
                    raise validation(
                        f"Template error: resource {arg[0]} does not support attribute type "
                        f"{arg[1]} in Fn::GetAtt"
                    )
            return
        for item in value.values():
            _check_get_atts(item, resources)
    elif isinstance(value, list):
        for item in value:
            _check_get_atts(item, resources)
