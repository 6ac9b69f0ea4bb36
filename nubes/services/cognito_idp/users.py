"""What a user pool knows about attributes, passwords and codes: the standard schema, the
password policy with AWS's messages, ListUsers filters, and the masked destinations Cognito
reports when it sends a code."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from nubes.services.cognito_idp.errors import errors

STANDARD = (
    ("sub", "String", False, True),
    ("name", "String", True, False),
    ("given_name", "String", True, False),
    ("family_name", "String", True, False),
    ("middle_name", "String", True, False),
    ("nickname", "String", True, False),
    ("preferred_username", "String", True, False),
    ("profile", "String", True, False),
    ("picture", "String", True, False),
    ("website", "String", True, False),
    ("email", "String", True, False),
    ("email_verified", "Boolean", True, False),
    ("gender", "String", True, False),
    ("birthdate", "String", True, False),
    ("zoneinfo", "String", True, False),
    ("locale", "String", True, False),
    ("phone_number", "String", True, False),
    ("phone_number_verified", "Boolean", True, False),
    ("address", "String", True, False),
    ("updated_at", "Number", True, False),
    ("identities", "String", True, False),
)
"""(name, type, mutable, required) of the attributes every pool has."""

DEFAULT_PASSWORD_POLICY = {
    "MinimumLength": 8,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": 7,
}
SYMBOLS = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-"

FILTERABLE = {
    "username": "username",
    "email": "email",
    "phone_number": "phone_number",
    "name": "name",
    "given_name": "given_name",
    "family_name": "family_name",
    "preferred_username": "preferred_username",
    "cognito:user_status": "status",
    "status": "enabled",
    "sub": "sub",
}
_FILTER = re.compile(r'^\s*([\w:]+)\s*(=|\^=)\s*"((?:[^"\\]|\\.)*)"\s*$')


def schema(custom: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The pool's SchemaAttributes: the standard ones, then the request's (custom ones named
    ``custom:``), a standard one given again taking the request's settings."""
    out: dict[str, dict[str, Any]] = {}
    for name, kind, mutable, required in STANDARD:
        entry: dict[str, Any] = {
            "Name": name,
            "AttributeDataType": kind,
            "DeveloperOnlyAttribute": False,
            "Mutable": mutable,
            "Required": required,
        }
        if kind == "String":
            entry["StringAttributeConstraints"] = {
                "MinLength": "1" if name == "sub" else "0",
                "MaxLength": "2048",
            }
        out[name] = entry
    for given in custom or []:
        asked = given.get("Name") or ""
        standard = asked in out
        if asked == "sub":
            raise errors.InvalidParameterException("sub is a reserved attribute name.")
        if not standard and given.get("Required"):
            raise errors.InvalidParameterException(
                "Required custom attributes are not supported currently."
            )
        full = asked if standard else f"custom:{asked.removeprefix('custom:')}"
        entry = {
            **(out.get(full) or {}),
            "Name": full,
            "AttributeDataType": given.get("AttributeDataType")
            or (out[full]["AttributeDataType"] if standard else "String"),
            "DeveloperOnlyAttribute": bool(given.get("DeveloperOnlyAttribute", False)),
            "Mutable": bool(given.get("Mutable", True)),
            "Required": bool(given.get("Required", False)),
        }
        for constraint in ("StringAttributeConstraints", "NumberAttributeConstraints"):
            if given.get(constraint):
                entry[constraint] = given[constraint]
        out[full] = entry
    return list(out.values())


def check_password(policy: dict[str, Any], password: str) -> None:
    wanted = {**DEFAULT_PASSWORD_POLICY, **policy}
    problem = None
    if len(password) < int(wanted["MinimumLength"]):
        problem = "Password not long enough"
    elif wanted["RequireLowercase"] and not any(c.islower() for c in password):
        problem = "Password must have lowercase characters"
    elif wanted["RequireUppercase"] and not any(c.isupper() for c in password):
        problem = "Password must have uppercase characters"
    elif wanted["RequireNumbers"] and not any(c.isdigit() for c in password):
        problem = "Password must have numeric characters"
    elif wanted["RequireSymbols"] and not any(c in SYMBOLS for c in password):
        problem = "Password must have symbol characters"
    if problem:
        raise errors.InvalidPasswordException(f"Password did not conform with policy: {problem}")


def temporary_password(policy: dict[str, Any]) -> str:
    """A password the policy accepts, as Cognito makes one when the admin gives none."""
    length = max(int({**DEFAULT_PASSWORD_POLICY, **policy}["MinimumLength"]), 12)
    picks = [
        secrets.choice(string.ascii_lowercase),
        secrets.choice(string.ascii_uppercase),
        secrets.choice(string.digits),
        secrets.choice("!#%^*"),
    ]
    alphabet = string.ascii_letters + string.digits
    picks += [secrets.choice(alphabet) for _ in range(length - len(picks))]
    secrets.SystemRandom().shuffle(picks)
    return "".join(picks)


def code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def masked(attribute: str, value: str) -> str:
    """How Cognito shows where it sent a code: ``a***@e***`` or ``+*******1234``."""
    if attribute == "email" and "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain[:1]}***"
    return "+" + "*" * max(len(value) - 5, 0) + value[-4:]


def parse_filter(text: str) -> tuple[str, str, str] | None:
    """(field, operator, value) of a ListUsers filter; None for no filter."""
    if not text.strip():
        return None
    found = _FILTER.match(text)
    if found is None or found.group(1) not in FILTERABLE:
        raise errors.InvalidParameterException("Error while parsing filter.")
    value = re.sub(r"\\(.)", r"\1", found.group(3))
    return FILTERABLE[found.group(1)], found.group(2), value


def matches(wanted: tuple[str, str, str] | None, values: dict[str, str]) -> bool:
    if wanted is None:
        return True
    field, op, value = wanted
    have = values.get(field)
    if have is None:
        return False
    return have == value if op == "=" else have.startswith(value)
