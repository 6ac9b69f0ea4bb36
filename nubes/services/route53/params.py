"""Request parameters every Route 53 operation reads the same way."""

from __future__ import annotations

from typing import Any

from nubes.core.context import RequestContext
from nubes.services.route53.errors import invalid_input


def bare_id(value: str) -> str:
    """``/hostedzone/Z123`` -> ``Z123`` (botocore strips the prefix; raw callers may not)."""
    return value.rsplit("/", 1)[-1]


def resource_arn(ctx: RequestContext, resource: str) -> str:
    """Route 53 is global: its ARNs have no region but carry the partition the caller signs
    for (``arn:aws-cn:route53:::hostedzone/Z123`` from ``cn-north-1``)."""
    return f"arn:{ctx.partition}:route53:::{resource}"


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
