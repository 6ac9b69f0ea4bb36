"""Policy documents: JSON in, validated as IAM validates them, compiled for evaluation."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from nubes.core import safejson
from nubes.services.iam.policy import conditions
from nubes.services.iam.policy.patterns import Matcher, glob

Kind = Literal["identity", "resource", "trust"]
_SID = re.compile(r"^[0-9A-Za-z]*$")
"""Identity policies name no principal; resource and trust policies must."""

VERSIONS = ("2008-10-17", "2012-10-17")
_TOP = {"Version", "Id", "Statement"}
_STATEMENT = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}
SYNTAX = "Syntax errors in policy."
NO_PRINCIPALS = (
    "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in "
    "policy has a statement with no principals!"
)
# What an "AWS" principal may name: everyone, an account, or an IAM/STS identity by ARN.
_AWS_PRINCIPAL = re.compile(r"^(\*|\d{12}|arn:aws[a-z-]*:(iam|sts)::(\d{12}|aws)?:.+)$")
# A service principal names a service under one of the partitions' service domains.
_SERVICE_PRINCIPAL = re.compile(
    r"^[a-z0-9*-]+(\.[a-z0-9*-]+)*\.(amazonaws\.com(\.cn)?|c2s\.ic\.gov|sc2s\.sgov\.gov)$",
    re.IGNORECASE,
)


class PolicyError(ValueError):
    """The document is not a policy IAM accepts; the message is AWS's."""


@dataclass(frozen=True)
class Statement:
    index: int
    sid: str | None
    allow: bool
    actions: tuple[Matcher, ...] | None
    not_actions: tuple[Matcher, ...] | None
    resources: tuple[Matcher, ...] | None
    not_resources: tuple[Matcher, ...] | None
    principal: dict[str, tuple[str, ...]] | None
    not_principal: dict[str, tuple[str, ...]] | None
    condition: tuple[conditions.Condition, ...]
    source: dict[str, Any]


@dataclass(frozen=True)
class Policy:
    statements: tuple[Statement, ...]
    version: str
    id: str | None
    text: str


Position = tuple[int, int]
"""(line, column), both counted from 1, as the policy simulator reports them."""


def statement_positions(text: str) -> list[tuple[Position, Position]]:
    """Where each statement starts and ends in the document's text."""
    decoder = json.JSONDecoder()
    spans: list[tuple[int, int]] = []

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n,:":
            i += 1
        return i

    try:
        i = skip(text.index("{") + 1)
        while i < len(text) and text[i] != "}":
            key, i = decoder.raw_decode(text, i)
            i = skip(i)
            if key != "Statement":
                _, i = decoder.raw_decode(text, i)
                i = skip(i)
                continue
            if text[i] == "[":
                i = skip(i + 1)
                while text[i] != "]":
                    _, end = decoder.raw_decode(text, i)
                    spans.append((i, end))
                    i = skip(end)
            else:
                _, end = decoder.raw_decode(text, i)
                spans.append((i, end))
            break
    except (ValueError, IndexError):
        return []
    return [(_position(text, a), _position(text, b)) for a, b in spans]


def _position(text: str, offset: int) -> Position:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def policy_size(text: str) -> int:
    """Characters IAM counts against a policy quota: whitespace does not count."""
    return sum(1 for ch in text if not ch.isspace())


def parse_policy(
    document: str | dict[str, Any], kind: Kind = "identity", validate: bool = True
) -> Policy:
    """Compile a policy (``validate``: refuse what IAM refuses, with its messages)."""
    text = document if isinstance(document, str) else json.dumps(document)
    if validate:
        return _parse(text, kind, True)
    return _parse_cached(text, kind)


@lru_cache(maxsize=4096)
def _parse_cached(text: str, kind: Kind) -> Policy:
    return _parse(text, kind, False)


def _parse(text: str, kind: Kind, validate: bool) -> Policy:
    try:
        doc = safejson.loads(text)
    except ValueError:
        raise PolicyError(SYNTAX) from None
    if not isinstance(doc, dict):
        raise PolicyError(SYNTAX)
    version = doc.get("Version", "2008-10-17")
    if validate:
        if set(doc) - _TOP or "Statement" not in doc:
            raise PolicyError(SYNTAX)
        if version not in VERSIONS:
            raise PolicyError("The policy failed legacy parsing")
    raw = doc.get("Statement", [])
    items = raw if isinstance(raw, list) else [raw]
    variables = version == "2012-10-17"
    statements = tuple(
        _statement(i, item, kind, validate, variables) for i, item in enumerate(items)
    )
    if validate:
        sids = [s.sid for s in statements if s.sid]
        # IAM's own documents (identity and trust policies) take alphanumeric Sids only;
        # resource policies of other services allow any string.
        if kind != "resource" and not all(isinstance(s, str) and _SID.match(s) for s in sids):
            raise PolicyError(
                "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
                "regular expression [0-9A-Za-z]*"
            )
        if len(sids) != len(set(sids)):
            raise PolicyError("Statement IDs (SID) in a single policy must be unique.")
    return Policy(statements, str(version), doc.get("Id"), text)


def _strings(value: Any, validate: bool) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if validate and (not items or not all(isinstance(v, str) for v in items)):
        raise PolicyError(SYNTAX)
    return [str(v) for v in items]


def _statement(index: int, item: Any, kind: Kind, validate: bool, variables: bool) -> Statement:
    if not isinstance(item, dict):
        raise PolicyError(SYNTAX)
    if validate:
        _check_statement(item, kind)
    effect = item.get("Effect")
    actions = not_actions = resources = not_resources = None
    if "Action" in item:
        actions = _action_matchers(_strings(item["Action"], validate), validate)
    if "NotAction" in item:
        not_actions = _action_matchers(_strings(item["NotAction"], validate), validate)
    if "Resource" in item:
        resources = _resource_matchers(_strings(item["Resource"], validate), validate, variables)
    if "NotResource" in item:
        not_resources = _resource_matchers(
            _strings(item["NotResource"], validate), validate, variables
        )
    return Statement(
        index=index,
        sid=item.get("Sid"),
        allow=effect == "Allow",
        actions=actions,
        not_actions=not_actions,
        resources=resources,
        not_resources=not_resources,
        principal=_principal(item["Principal"], validate) if "Principal" in item else None,
        not_principal=(
            _principal(item["NotPrincipal"], validate) if "NotPrincipal" in item else None
        ),
        condition=conditions.compile_block(item.get("Condition", {}), validate),
        source=item,
    )


def _check_statement(item: dict[str, Any], kind: Kind) -> None:
    if set(item) - _STATEMENT:
        raise PolicyError(SYNTAX)
    if item.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(SYNTAX)
    if "Sid" in item and not isinstance(item["Sid"], str):
        raise PolicyError(SYNTAX)
    has_principal = "Principal" in item or "NotPrincipal" in item
    if kind == "identity" and has_principal:
        raise PolicyError("Policy document should not specify a principal.")
    if kind != "identity" and not has_principal:
        raise PolicyError("Missing required field Principal")
    if ("Action" in item) == ("NotAction" in item):
        if "Action" in item:
            raise PolicyError(SYNTAX)
        raise PolicyError("Policy statement must contain actions.")
    if ("Resource" in item) and ("NotResource" in item):
        raise PolicyError(SYNTAX)
    if kind == "trust":
        if "Resource" in item or "NotResource" in item:
            raise PolicyError("Has prohibited field Resource.")
        actions = item.get("Action", item.get("NotAction"))
        for action in actions if isinstance(actions, list) else [actions]:
            if isinstance(action, str) and not (action == "*" or action.lower().startswith("sts:")):
                raise PolicyError("AssumeRole policy may only specify STS AssumeRole actions.")
    elif "Resource" not in item and "NotResource" not in item:
        raise PolicyError("Policy statement must contain resources.")


def _action_matchers(actions: list[str], validate: bool) -> tuple[Matcher, ...]:
    if validate:
        for action in actions:
            if action != "*" and (":" not in action or action.startswith(":")):
                raise PolicyError(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
                )
    return tuple(glob(a, ignore_case=True) for a in actions)


def _resource_matchers(
    resources: list[str], validate: bool, variables: bool
) -> tuple[Matcher, ...]:
    if validate:
        for resource in resources:
            if resource != "*" and not (
                resource.startswith("arn:") and len(resource.split(":")) >= 6
            ):
                raise PolicyError(f'Resource {resource} must be in ARN format or "*".')
    return tuple(glob(r, variables=variables) for r in resources)


def _principal(value: Any, validate: bool) -> dict[str, tuple[str, ...]]:
    if value == "*":
        return {"*": ("*",)}
    if not isinstance(value, dict):
        raise PolicyError(SYNTAX)
    if validate and not any(value.values()):
        raise PolicyError(NO_PRINCIPALS)
    out: dict[str, tuple[str, ...]] = {}
    for kind, ids in value.items():
        if validate and kind not in ("AWS", "Service", "Federated", "CanonicalUser"):
            raise PolicyError(SYNTAX)
        out[kind] = tuple(_strings(ids, validate))
        if validate and kind in ("AWS", "Service"):
            pattern = _AWS_PRINCIPAL if kind == "AWS" else _SERVICE_PRINCIPAL
            for name in out[kind]:
                if not pattern.match(name):
                    raise PolicyError(f'Invalid principal in policy: "{kind.upper()}":"{name}"')
    return out
