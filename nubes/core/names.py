"""nubes' own DNS names: which loopback addresses a name nubes hands out points at.

Services that give out host names (an ELB's ``DNSName``, an instance's public DNS name, S3's
virtual hosts) make them resolvable by registering with ``env.names``:

* ``env.names.set("my-lb-1234.us-east-1.elb.localhost.localstack.cloud", ["127.0.1.7"])`` for
  one name (``forget(name)`` when the resource goes away), or
* ``env.names.register(".compute.localhost.localstack.cloud", resolver)`` for every name under a
  suffix, where ``resolver(name)`` returns the addresses or None when the name is not one of its;
  call ``env.names.changed()`` when what it answers changes (answers are kept until then).

The DNS server (``nubes/runtime/dns``) answers these names, and Route 53 alias records to load
balancers resolve through them. Names are compared lower-case, without the trailing dot.
Everything under ``localhost.localstack.cloud`` and ``localhost`` that nobody registered points at
127.0.0.1, where nubes' gateway listens (S3 virtual hosts, Lambda function URLs, websites).
EC2's public DNS names carry their address (``ec2-127-0-3-4.compute-1.amazonaws.com``): those of
loopback addresses, the public addresses nubes hands out, answer that address; the private
names (``ip-10-0-1-5.ec2.internal``) are answered inside VPCs only (see :func:`private_ec2_name`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

LOOPBACK = ("127.0.0.1",)
GATEWAY_SUFFIXES = (".localhost.localstack.cloud", ".localhost")
_PUBLIC_EC2 = re.compile(
    r"^ec2-(127)-(\d{1,3})-(\d{1,3})-(\d{1,3})\.(?:compute-1|[a-z0-9-]+\.compute)\.amazonaws\.com$"
)
_PRIVATE_EC2 = re.compile(
    r"^ip-(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})\.(?:ec2|[a-z0-9-]+\.compute)\.internal$"
)
"""Names under these suffixes (and the bare suffixes) reach the gateway on 127.0.0.1."""


class NameResolver(Protocol):
    def __call__(self, name: str) -> Sequence[str] | None: ...


class Names:
    def __init__(self) -> None:
        self._exact: dict[str, tuple[str, ...]] = {}
        self._suffixes: list[tuple[str, NameResolver]] = []
        self.generation = 0
        """Bumped at each change, so that caches of answers know they are stale."""

    def set(self, name: str, addresses: Sequence[str]) -> None:
        self._exact[_key(name)] = tuple(addresses)
        self.generation += 1

    def forget(self, name: str) -> None:
        if self._exact.pop(_key(name), None) is not None:
            self.generation += 1

    def register(self, suffix: str, resolver: NameResolver) -> None:
        """Ask ``resolver`` about every name ending in ``suffix`` (longest suffix first)."""
        self._suffixes.append((_key(suffix), resolver))
        self._suffixes.sort(key=lambda item: -len(item[0]))
        self.generation += 1

    def changed(self) -> None:
        """Say that what a registered resolver answers has changed (the DNS server keeps
        answers until a registration or this call)."""
        self.generation += 1

    def resolve(self, name: str) -> tuple[str, ...] | None:
        """The addresses of ``name``, or None when it is not one of nubes' names."""
        key = _key(name)
        found = self._exact.get(key)
        if found is not None:
            return found
        for suffix, resolver in self._suffixes:
            if key.endswith(suffix):
                answer = resolver(key)
                if answer is not None:
                    return tuple(answer)
        for suffix in GATEWAY_SUFFIXES:
            if key.endswith(suffix) or key == suffix[1:]:
                return LOOPBACK
        return _address_in(_PUBLIC_EC2, key)


def private_ec2_name(name: str) -> tuple[str, ...] | None:
    """The address of an EC2 private DNS name (``ip-10-0-1-5.ec2.internal``), else None."""
    return _address_in(_PRIVATE_EC2, _key(name))


def _address_in(pattern: re.Pattern[str], key: str) -> tuple[str, ...] | None:
    found = pattern.match(key)
    if found is None or any(int(part) > 255 for part in found.groups()):
        return None
    return (".".join(found.groups()),)


def _key(name: str) -> str:
    return name.lower().rstrip(".")
