"""Condition operators: String*, Numeric*, Date*, Bool, BinaryEquals, IpAddress, Arn*, Null,
their ``...IfExists`` forms and the ``ForAllValues:`` / ``ForAnyValue:`` set qualifiers."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from nubes.services.iam.policy.patterns import Context, arn_like, like, resolve

Compare = Callable[[str, str, Context], bool]
"""(policy value, request value, context) -> match, for the positive form of an operator."""

SYNTAX = "Syntax errors in policy."


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _date(text: str) -> float | None:
    number = _number(text)
    if number is not None:
        return number
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@lru_cache(maxsize=4096)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _ip_in(policy: str, value: str, ctx: Context) -> bool:
    network = _network(policy)
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return network is not None and address.version == network.version and address in network


def _binary(policy: str, value: str, ctx: Context) -> bool:
    try:
        return base64.b64decode(policy) == base64.b64decode(value)
    except (binascii.Error, ValueError):
        return policy == value


def _ordered(test: Callable[[float, float], bool], parse: Callable[[str], float | None]) -> Compare:
    def compare(policy: str, value: str, ctx: Context) -> bool:
        resolved = resolve(policy, ctx)
        left, right = parse(value), parse(resolved) if resolved is not None else None
        return left is not None and right is not None and test(left, right)

    return compare


def _equals(policy: str, value: str, ctx: Context) -> bool:
    return resolve(policy, ctx) == value


def _equals_ignore_case(policy: str, value: str, ctx: Context) -> bool:
    resolved = resolve(policy, ctx)
    return resolved is not None and resolved.lower() == value.lower()


def _bool(policy: str, value: str, ctx: Context) -> bool:
    resolved = resolve(policy, ctx)
    return resolved is not None and resolved.lower() == value.lower()


_EQ: Callable[[float, float], bool] = lambda a, b: a == b  # noqa: E731
_ORDER: dict[str, Callable[[float, float], bool]] = {
    "Equals": _EQ,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}

# operator -> (positive comparison, negated)
OPERATORS: dict[str, tuple[Compare, bool]] = {
    "StringEquals": (_equals, False),
    "StringNotEquals": (_equals, True),
    "StringEqualsIgnoreCase": (_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_equals_ignore_case, True),
    "StringLike": (lambda p, v, c: like(p, v, c), False),
    "StringNotLike": (lambda p, v, c: like(p, v, c), True),
    "Bool": (_bool, False),
    "BinaryEquals": (_binary, False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
    "ArnEquals": (lambda p, v, c: arn_like(p, v, c), False),
    "ArnLike": (lambda p, v, c: arn_like(p, v, c), False),
    "ArnNotEquals": (lambda p, v, c: arn_like(p, v, c), True),
    "ArnNotLike": (lambda p, v, c: arn_like(p, v, c), True),
    "NumericNotEquals": (_ordered(_EQ, _number), True),
    "DateNotEquals": (_ordered(_EQ, _date), True),
}
for _suffix, _test in _ORDER.items():
    OPERATORS[f"Numeric{_suffix}"] = (_ordered(_test, _number), False)
    OPERATORS[f"Date{_suffix}"] = (_ordered(_test, _date), False)


@dataclass(frozen=True)
class Condition:
    operator: str
    """As written in the policy (``ForAnyValue:StringLikeIfExists``)."""
    key: str
    """Lower-cased: condition keys are not case-sensitive."""
    values: tuple[str, ...]
    compare: Compare | None
    """None for ``Null``."""
    negated: bool
    qualifier: str | None
    """``all``, ``any`` or None."""
    if_exists: bool

    def holds(self, context: Context) -> bool:
        present = context.get(self.key)
        if self.compare is None:
            wants_absent = any(v.lower() == "true" for v in self.values)
            return (not present) == wants_absent
        if present is None:
            if self.if_exists:
                return True
            if self.qualifier == "all":
                return True
            return self.negated and self.qualifier is None
        hits = [self._hit(v, context) for v in present]
        if self.qualifier == "all":
            return all(not h for h in hits) if self.negated else all(hits)
        if self.qualifier == "any":
            return any(not h for h in hits) if self.negated else any(hits)
        return not any(hits) if self.negated else any(hits)

    def _hit(self, value: str, context: Context) -> bool:
        compare = self.compare
        assert compare is not None
        return any(compare(p, value, context) for p in self.values)


GLOBAL_KEYS = frozenset(
    k.lower()
    for k in [
        "CalledVia",
        "CalledViaFirst",
        "CalledViaLast",
        "CurrentTime",
        "EpochTime",
        "FederatedProvider",
        "MultiFactorAuthAge",
        "MultiFactorAuthPresent",
        "PrincipalAccount",
        "PrincipalArn",
        "PrincipalIsAWSService",
        "PrincipalOrgID",
        "PrincipalOrgPaths",
        "PrincipalServiceName",
        "PrincipalServiceNamesList",
        "PrincipalTag",
        "PrincipalType",
        "Referer",
        "RequestedRegion",
        "RequestTag",
        "ResourceAccount",
        "ResourceOrgID",
        "ResourceOrgPaths",
        "ResourceTag",
        "SecureTransport",
        "SourceAccount",
        "SourceArn",
        "SourceIdentity",
        "SourceIp",
        "SourceOrgID",
        "SourceOrgPaths",
        "SourceVpc",
        "SourceVpce",
        "SourceVpcArn",
        "TagKeys",
        "TokenIssueTime",
        "UserAgent",
        "userid",
        "username",
        "ViaAWSService",
        "VpcSourceIp",
        "Ec2InstanceSourceVpc",
        "Ec2InstanceSourcePrivateIPv4",
    ]
)
"""The global condition keys (``aws:`` keys), which IAM also accepts without their prefix and
evaluates as the ``aws:`` key: ``{"IpAddress": {"SourceIp": ...}}`` is ``aws:SourceIp``."""


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def compile_one(operator: str, key: str, values: Any, validate: bool = True) -> Condition:
    qualifier: str | None = None
    base = operator
    if base.startswith("ForAllValues:"):
        qualifier, base = "all", base[len("ForAllValues:") :]
    elif base.startswith("ForAnyValue:"):
        qualifier, base = "any", base[len("ForAnyValue:") :]
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    if base == "Null":
        compare: Compare | None = None
        negated = False
    elif base in OPERATORS:
        compare, negated = OPERATORS[base]
    else:
        raise ValueError(operator)
    items: Sequence[Any] = values if isinstance(values, list) else [values]
    if validate and (not items or any(isinstance(v, dict | list) for v in items)):
        raise ValueError(operator)
    return Condition(
        operator=operator,
        key=key.lower(),
        values=tuple(_value_text(v) for v in items),
        compare=compare,
        negated=negated,
        qualifier=qualifier,
        if_exists=if_exists,
    )


def compile_block(block: Any, validate: bool) -> tuple[Condition, ...]:
    from nubes.services.iam.policy.document import PolicyError

    if not isinstance(block, dict):
        raise PolicyError(SYNTAX)
    out = []
    for operator, tests in block.items():
        if not isinstance(tests, dict):
            raise PolicyError(SYNTAX)
        for key, values in tests.items():
            if ":" not in key and key.split("/", 1)[0].lower() in GLOBAL_KEYS:
                key = "aws:" + key
            elif validate and ":" not in key:
                raise PolicyError(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
                )
            try:
                out.append(compile_one(operator, key, values, validate))
            except ValueError:
                if validate:
                    raise PolicyError(SYNTAX) from None
                # An operator IAM would have refused never matches.
                out.append(Condition(operator, key.lower(), (), _never, False, None, False))
    return tuple(out)


def _never(policy: str, value: str, ctx: Context) -> bool:
    return False
