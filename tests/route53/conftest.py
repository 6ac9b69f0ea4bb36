"""Route 53 fixtures: a hosted zone of its own per test, and DNS queries to the test server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dns.message
import dns.query
import pytest

from tests.route53.helpers import Site, dns_port


@pytest.fixture
def ask(endpoint: str) -> Callable[..., dns.message.Message]:
    """``ask("www.example.com", "A")``: the server's answer over UDP (``tcp=True`` for TCP;
    EDNS keywords such as ``options=[...]`` or ``payload=`` turn EDNS on)."""
    port = dns_port(endpoint)

    def query(name: str, rtype: str = "A", tcp: bool = False, **edns: Any) -> dns.message.Message:
        q = dns.message.make_query(name, rtype, use_edns=0 if edns else None, **edns)
        if tcp:
            return dns.query.tcp(q, "127.0.0.1", port=port, timeout=5)
        return dns.query.udp(q, "127.0.0.1", port=port, timeout=5)

    return query


@pytest.fixture
def zone(client: Callable[..., Any], unique: Callable[[str], str]) -> dict[str, Any]:
    """A fresh public hosted zone: {"Id", "Name", "made"} (Name without the trailing dot)."""
    name = f"{unique('zone')}.example"
    made = client("route53").create_hosted_zone(Name=name, CallerReference=unique("ref"))
    return {"Id": made["HostedZone"]["Id"], "Name": name, "made": made}


@pytest.fixture
def sites() -> Iterator[Callable[..., Site]]:
    started: list[Site] = []

    def make(address: str, port: int, body: bytes = b"ok") -> Site:
        site = Site(address, port, body).start()
        started.append(site)
        return site

    yield make
    for site in started:
        site.stop()
