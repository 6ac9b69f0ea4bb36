"""Request parameters every Route 53 operation reads the same way."""

from __future__ import annotations

from typing import Any

from nubes.services.route53.errors import invalid_input


def bare_id(value: str) -> str:
    """``/hostedzone/Z123`` -> ``Z123`` (botocore strips the prefix; raw callers may not)."""
    return value.rsplit("/", 1)[-1]


def max_items(params: dict[str, Any], default: int, top: int | None = None) -> int:
    raw = params.get("MaxItems")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_input(f"MaxItems '{raw}' is not a number") from None
    if value < 1:
        raise invalid_input("MaxItems must be at least 1")
    return min(value, top or default)
