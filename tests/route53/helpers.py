"""Helpers of the Route 53 tests: DNS port of a server, clock moves, change batches, answers."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import dns.message
import dns.rdatatype


def dns_port(endpoint: str) -> int:
    with urllib.request.urlopen(endpoint + "/_nubes/health", timeout=5) as resp:
        return int(json.load(resp)["dns"]["port"])


def advance_clock(endpoint: str, seconds: float) -> None:
    req = urllib.request.Request(
        endpoint + "/_nubes/clock",
        data=json.dumps({"advance": seconds}).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    urllib.request.urlopen(req, timeout=5).close()


def change(client: Callable[..., Any], zone_id: str, *changes: tuple[str, dict[str, Any]]) -> Any:
    return client("route53").change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": a, "ResourceRecordSet": r} for a, r in changes]},
    )


def values(message: dns.message.Message, rtype: str = "A") -> list[str]:
    wanted = dns.rdatatype.from_text(rtype)
    return sorted(r.to_text() for rrset in message.answer if rrset.rdtype == wanted for r in rrset)


def record(name: str, rtype: str, *vals: str, ttl: int = 60, **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": rtype,
        "TTL": ttl,
        "ResourceRecords": [{"Value": v} for v in vals],
        **extra,
    }
