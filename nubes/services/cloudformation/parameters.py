"""Template parameters: the values a stack is given, checked against their declarations as AWS
checks them, with AWS-specific types looked up in their service."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nubes.protocol.base import ServiceError
from nubes.services.cloudformation.errors import validation

SSM_TYPE = re.compile(r"^AWS::SSM::Parameter::Value<(.+)>$")
LIST_TYPE = re.compile(r"^List<(.+)>$")
PLAIN_TYPES = frozenset({"String", "Number", "List<Number>", "CommaDelimitedList"})
# AWS-specific types whose values must exist: type -> (EC2 operation, filter of ids, what
# AWS calls the missing thing).
EC2_LOOKUPS: dict[str, tuple[str, str]] = {
    "AWS::EC2::KeyPair::KeyName": ("DescribeKeyPairs", "KeyNames"),
    "AWS::EC2::Image::Id": ("DescribeImages", "ImageIds"),
    "AWS::EC2::SecurityGroup::Id": ("DescribeSecurityGroups", "GroupIds"),
    "AWS::EC2::Subnet::Id": ("DescribeSubnets", "SubnetIds"),
    "AWS::EC2::VPC::Id": ("DescribeVpcs", "VpcIds"),
    "AWS::EC2::Instance::Id": ("DescribeInstances", "InstanceIds"),
    "AWS::EC2::Volume::Id": ("DescribeVolumes", "VolumeIds"),
}
OTHER_AWS_TYPES = frozenset(
    {
        "AWS::EC2::AvailabilityZone::Name",
        "AWS::EC2::SecurityGroup::GroupName",
        "AWS::Route53::HostedZone::Id",
    }
)
PROPERTIES = frozenset(
    {
        "Type",
        "Default",
        "AllowedValues",
        "AllowedPattern",
        "MinLength",
        "MaxLength",
        "MinValue",
        "MaxValue",
        "NoEcho",
        "Description",
        "ConstraintDescription",
    }
)

Lookup = Callable[[str, str, dict[str, Any]], Any]
"""(service, operation, params) -> output: how parameter types reach their services."""


def check_declarations(declared: Mapping[str, Any]) -> None:
    for spec in declared.values():
        extra = sorted(set(spec) - PROPERTIES)
        if extra:
            raise validation(f"Invalid template parameter property '{extra[0]}'")
        kind = spec["Type"]
        if not known_type(kind):
            raise validation(f"Template format error: Unrecognized parameter type: {kind}")


def known_type(kind: str) -> bool:
    if kind in PLAIN_TYPES or kind in EC2_LOOKUPS or kind in OTHER_AWS_TYPES:
        return True
    if SSM_TYPE.match(kind):
        return True
    inner = LIST_TYPE.match(kind)
    return bool(inner and (inner.group(1) in EC2_LOOKUPS or inner.group(1) in OTHER_AWS_TYPES))


def given_map(given: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {p["ParameterKey"]: p for p in given if "ParameterKey" in p}


def resolve(
    declared: Mapping[str, Any],
    given: Sequence[Mapping[str, Any]],
    previous: Mapping[str, str],
    lookup: Lookup,
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """(values the template sees, the raw values to keep and show, resolved SSM values)."""
    supplied = given_map(given)
    unknown = [k for k in supplied if k not in declared]
    if unknown:
        raise validation(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    raw: dict[str, str] = {}
    missing: list[str] = []
    for name, spec in declared.items():
        entry = supplied.get(name)
        if entry is not None and entry.get("UsePreviousValue"):
            if name not in previous:
                raise validation(
                    f"Invalid input for parameter key {name}. Cannot specify usePreviousValue "
                    "as true for a parameter key not in the previous template"
                )
            raw[name] = previous[name]
        elif entry is not None and "ParameterValue" in entry:
            raw[name] = str(entry["ParameterValue"])
        elif "Default" in spec:
            default = spec["Default"]
            raw[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
        else:
            missing.append(name)
    if missing:
        raise validation(f"Parameters: [{', '.join(missing)}] must have values")
    values: dict[str, Any] = {}
    resolved: dict[str, str] = {}
    for name, spec in declared.items():
        kind = spec["Type"]
        text = raw[name]
        _constraints(name, spec, text)
        ssm = SSM_TYPE.match(kind)
        if ssm:
            value = _ssm_value(text, lookup)
            resolved[name] = value
            values[name] = value.split(",") if ssm.group(1).startswith("List<") else value
            continue
        listed = LIST_TYPE.match(kind)
        if kind == "CommaDelimitedList" or listed:
            items = [v.strip() for v in text.split(",")] if text else []
            if listed:
                for item in items:
                    _typed(name, listed.group(1), item, lookup)
            values[name] = items
        else:
            _typed(name, kind, text, lookup)
            values[name] = text
    return values, raw, resolved


def _constraints(name: str, spec: Mapping[str, Any], text: str) -> None:
    reason = spec.get("ConstraintDescription")

    def fail(message: str) -> ServiceError:
        if reason:
            return validation(f"Parameter '{name}' failed to satisfy constraint: {reason}")
        return validation(message)

    allowed = spec.get("AllowedValues")
    values = text.split(",") if spec["Type"].startswith(("List<", "CommaDelimitedList")) else [text]
    if allowed is not None:
        choices = [str(a).lower() if isinstance(a, bool) else str(a) for a in allowed]
        if any(v not in choices for v in values):
            raise fail(f"Parameter '{name}' must be one of AllowedValues")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and any(re.fullmatch(str(pattern), v) is None for v in values):
        raise fail(f"Parameter '{name}' must match pattern {pattern}")
    if "MinLength" in spec and len(text) < int(spec["MinLength"]):
        raise fail(f"Parameter '{name}' must contain at least {spec['MinLength']} characters")
    if "MaxLength" in spec and len(text) > int(spec["MaxLength"]):
        raise fail(f"Parameter '{name}' must contain at most {spec['MaxLength']} characters")
    if spec["Type"] in ("Number", "List<Number>"):
        for value in values:
            try:
                number = float(value)
            except ValueError:
                raise fail(f"Parameter '{name}' must be a number.") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise fail(f"Parameter '{name}' must be a number not less than {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise fail(
                    f"Parameter '{name}' must be a number not greater than {spec['MaxValue']}"
                )


def _typed(name: str, kind: str, value: str, lookup: Lookup) -> None:
    """AWS-specific types name things that must exist in the account."""
    found = EC2_LOOKUPS.get(kind)
    if found is None:
        return
    operation, member = found
    try:
        lookup("ec2", operation, {member: [value]})
    except ServiceError as exc:
        if exc.code == "NotImplemented":
            return
        raise validation(
            f"Parameter validation failed: parameter value {value} for parameter name {name} "
            "does not exist."
        ) from None


def _ssm_value(parameter: str, lookup: Lookup) -> str:
    try:
        out = lookup("ssm", "GetParameter", {"Name": parameter, "WithDecryption": False})
    except ServiceError as exc:
        if exc.code == "NotImplemented":
            raise validation(
                f"Parameters [{parameter}] referenced by template have types not supported by "
                "CloudFormation."
            ) from None
        raise validation(
            f"Parameters [{parameter}] referenced by template have no values."
        ) from None
    return str(out["Parameter"]["Value"])


def shown(
    declared: Mapping[str, Any], raw: Mapping[str, str], resolved: Mapping[str, str]
) -> list[dict[str, str]]:
    """The Parameters DescribeStacks shows: NoEcho values masked, SSM values beside their names."""
    out: list[dict[str, str]] = []
    for name, spec in declared.items():
        if name not in raw:
            continue
        no_echo = str(spec.get("NoEcho", "false")).lower() == "true"
        entry = {"ParameterKey": name, "ParameterValue": "****" if no_echo else raw[name]}
        if name in resolved:
            entry["ResolvedValue"] = resolved[name]
        out.append(entry)
    return out
