"""Record values, checked by parsing them as zone-file text with dnspython (the same rdata the
DNS server answers with). Imported on first use: dnspython costs tens of milliseconds to load."""

from __future__ import annotations

from functools import lru_cache

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from nubes.services.route53.records import labels


@lru_cache(maxsize=4096)
def to_dns(name: str) -> dns.name.Name:
    return dns.name.Name([label.encode("latin-1") for label in labels(name)] + [b""])


# -- values -------------------------------------------------------------------------------------

_IPV4_PROBLEM = "ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address)"
_IPV6_PROBLEM = "AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address)"


def parse_value(rtype: str, value: str) -> dns.rdata.Rdata:
    """The rdata of one ``ResourceRecords`` value; ValueError with AWS's wording otherwise."""
    try:
        rdtype = dns.rdatatype.from_text(rtype)
        rdata = dns.rdata.from_text(
            dns.rdataclass.IN, rdtype, value, origin=dns.name.root, relativize=False
        )
    except (dns.exception.DNSException, ValueError, UnicodeError) as exc:
        problem = {"A": _IPV4_PROBLEM, "AAAA": _IPV6_PROBLEM}.get(
            rtype, f"{rtype}RRDATAIllegalValue ({exc or 'Value is not valid'})"
        )
        if rtype in ("TXT", "SPF") and "too long" in str(exc):
            # A character-string holds at most 255 bytes: longer text is split into several.
            problem = "TXTRDATATooLong"
        raise ValueError(
            f"Invalid Resource Record: 'FATAL problem: {problem} encountered with '{value}''"
        ) from exc
    return rdata


def values_problem(rtype: str, values: list[str]) -> str | None:
    """What is wrong with a record set's values, if anything."""
    if not values:
        return None
    if rtype == "CNAME" and len(values) > 1:
        return (
            "Invalid Resource Record: 'FATAL problem: RRSet of type CNAME with more than one value'"
        )
    if rtype == "SOA" and len(values) > 1:
        return (
            "Invalid Resource Record: 'FATAL problem: RRSet of type SOA with more than one value'"
        )
    for value in values:
        try:
            parse_value(rtype, value)
        except ValueError as exc:
            return str(exc)
    return None
