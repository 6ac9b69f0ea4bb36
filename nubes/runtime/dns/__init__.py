"""nubes' DNS server (see :mod:`nubes.runtime.dns.server`), run by the Route 53 provider."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nubes.app import Environment


def listening(env: Environment) -> tuple[str, int] | None:
    """Where the DNS server answers (host, port), or None when it is off."""
    try:
        provider = env.providers.get("route53")
    except KeyError:
        return None
    address = getattr(provider, "dns_address", None)
    return address if isinstance(address, tuple) else None
