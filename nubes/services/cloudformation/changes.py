"""What a change set would do: each resource added, modified (with or without replacement) or
removed, as DescribeChangeSet lists it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nubes.core.resources import find_type
from nubes.protocol.base import ServiceError
from nubes.services.cloudformation import template as tpl
from nubes.services.cloudformation.intrinsics import NotReady, Scope

if TYPE_CHECKING:
    from nubes.services.cloudformation.models import Stack
    from nubes.services.cloudformation.provider import CloudFormationProvider

Json = dict[str, Any]


def describe_changes(
    provider: CloudFormationProvider, stack: Stack, doc: Json, change_set_id: str
) -> list[Json]:
    template = doc["template"]
    rows = {
        k: r
        for k, r in provider.stacks.resources(stack.stack_id).items()
        if r.provisioned is not None and r.status not in ("DELETE_COMPLETE", "CREATE_FAILED")
    }
    probe = type(stack)(
        stack.stack_id,
        stack.account,
        stack.region,
        stack.name,
        stack.status,
        None,
        0.0,
        None,
        None,
        doc,
    )
    scope: Scope = provider.engine.scope(probe, template, doc["parameters"])
    for logical_id, row in rows.items():
        scope.resources[logical_id] = row.provisioned  # type: ignore[assignment]
    changes: list[Json] = []
    kept: set[str] = set()
    replaced: set[str] = set()
    for logical_id in tpl.order(template):
        if not scope.included(logical_id):
            continue
        kept.add(logical_id)
        definition = template["Resources"][logical_id]
        type_name = definition["Type"]
        found = rows.get(logical_id)
        if found is None:
            changes.append(_change("Add", logical_id, type_name, change_set_id))
            continue
        row = found
        handler = find_type(type_name)
        old_props = row.props or {}
        try:
            props = _resolve(scope, definition.get("Properties") or {}, replaced)
            dynamic: set[str] = set()
        except (NotReady, ServiceError):
            props, dynamic = {}, set((definition.get("Properties") or {}).keys())
        changed = sorted(
            {k for k in set(props) | set(old_props) if props.get(k) != old_props.get(k)} | dynamic
        )
        if type_name != row.type:
            changed = sorted(set(changed) | {"Type"})
        if not changed:
            continue
        details = []
        replacement = "False"
        for name in changed:
            recreate = (
                "Always"
                if type_name != row.type or (handler is not None and name in handler.replace_on)
                else "Never"
            )
            if recreate == "Always":
                replacement = "Conditional" if name in dynamic else "True"
            details.append(
                {
                    "Target": {
                        "Attribute": "Properties",
                        "Name": name,
                        "RequiresRecreation": recreate,
                    },
                    "Evaluation": "Dynamic" if name in dynamic else "Static",
                    "ChangeSource": "DirectModification",
                }
            )
        if replacement == "True":
            replaced.add(logical_id)
        change = _change("Modify", logical_id, type_name, change_set_id)
        rc = change["ResourceChange"]
        rc.update(
            {
                "PhysicalResourceId": row.provisioned.physical_id,  # type: ignore[union-attr]
                "Replacement": replacement,
                "Scope": ["Properties"],
                "Details": details,
            }
        )
        changes.append(change)
    old_resources = (stack.template.get("Resources") or {}) if stack.template else {}
    for logical_id, row in rows.items():
        if logical_id in kept:
            continue
        change = _change("Remove", logical_id, row.type, change_set_id)
        policy = (old_resources.get(logical_id) or {}).get("DeletionPolicy")
        change["ResourceChange"]["PhysicalResourceId"] = row.provisioned.physical_id  # type: ignore[union-attr]
        change["ResourceChange"]["PolicyAction"] = "Retain" if policy == "Retain" else "Delete"
        changes.append(change)
    return changes


def _resolve(scope: Scope, props: Any, replaced: set[str]) -> Any:
    """Properties as they would be, where values of replaced resources are not known yet."""
    for kind, name in tpl.references(props):
        if kind in ("Ref", "GetAtt") and name in replaced:
            raise NotReady(name)
    return scope.resolve(props)


def _change(action: str, logical_id: str, type_name: str, change_set_id: str) -> Json:
    del change_set_id
    return {
        "Type": "Resource",
        "ResourceChange": {
            "Action": action,
            "LogicalResourceId": logical_id,
            "ResourceType": type_name,
            "Scope": [],
            "Details": [],
        },
    }
