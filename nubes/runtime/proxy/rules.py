"""Whether a request meets a listener rule's conditions, as ALB evaluates them: values of one
condition are alternatives, conditions of a rule must all hold; ``*`` and ``?`` are wildcards;
host names, header values and query strings compare case-insensitively, paths and methods
exactly."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Facts:
    """What conditions look at in a request."""

    method: str
    path: str
    query: str
    host: str
    headers: dict[str, list[str]]
    """Lower-cased names."""
    source_ip: str


@lru_cache(maxsize=4096)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _any(globs: list[str], value: str, ignore_case: bool) -> bool:
    return any(_pattern(g, ignore_case).match(value) for g in globs)


def matches(conditions: list[dict[str, Any]], facts: Facts) -> bool:
    return all(_holds(c, facts) for c in conditions)


def _holds(condition: dict[str, Any], facts: Facts) -> bool:
    field = condition["Field"]
    if field == "host-header":
        host = facts.host.rsplit(":", 1)[0] if not facts.host.endswith("]") else facts.host
        return _any(condition["HostHeaderConfig"]["Values"], host, True)
    if field == "path-pattern":
        return _any(condition["PathPatternConfig"]["Values"], facts.path, False)
    if field == "http-header":
        config = condition["HttpHeaderConfig"]
        values = facts.headers.get(config["HttpHeaderName"].lower(), [])
        return any(_any(config["Values"], v, True) for v in values)
    if field == "http-request-method":
        return facts.method in condition["HttpRequestMethodConfig"]["Values"]
    if field == "query-string":
        pairs = parse_qsl(facts.query, keep_blank_values=True)
        for wanted in condition["QueryStringConfig"]["Values"]:
            for key, value in pairs:
                if "Key" in wanted and not _pattern(wanted["Key"], True).match(key):
                    continue
                if _pattern(wanted["Value"], True).match(value):
                    return True
        return False
    if field == "source-ip":
        try:
            address = ipaddress.ip_address(facts.source_ip)
        except ValueError:
            return False
        return any(
            address in ipaddress.ip_network(cidr, strict=False)
            for cidr in condition["SourceIpConfig"]["Values"]
        )
    return False
