"""Validation and normal form of listener actions and rule conditions, as ELBv2 answers them
(AWS returns a forward action with both ``TargetGroupArn`` and ``ForwardConfig``, and a
path/host condition with both ``Values`` and its ``...Config``)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from nubes.services.elbv2.errors import errors

Json = dict[str, Any]

CONDITION_FIELDS = (
    "host-header",
    "path-pattern",
    "http-header",
    "http-request-method",
    "query-string",
    "source-ip",
)
MAX_CONDITION_VALUES = 5
MAX_WEIGHTED_GROUPS = 5
_FIXED_STATUS = re.compile(r"^[245]\d\d$")
_METHOD = re.compile(r"^[A-Za-z_-]{1,40}$")
CONTENT_TYPES = (
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
)


def actions(
    given: list[Json],
    lb_type: str,
    target_group: Callable[[str], Json],
) -> list[Json]:
    """The actions in the form AWS stores them; ``target_group(arn)`` raises TargetGroupNotFound."""
    if not given:
        raise errors.ValidationError("At least one action must be specified")
    out: list[Json] = []
    terminal = 0
    for index, action in enumerate(given, start=1):
        kind = action.get("Type")
        item: Json = {"Type": kind}
        if "Order" in action:
            item["Order"] = action["Order"]
        if kind == "forward":
            item.update(_forward(action, lb_type, target_group))
            terminal += 1
        elif kind == "redirect":
            if lb_type != "application":
                raise errors.InvalidLoadBalancerActionException(
                    "Redirect actions are only supported by Application Load Balancers"
                )
            item["RedirectConfig"] = _redirect(action.get("RedirectConfig"))
            terminal += 1
        elif kind == "fixed-response":
            if lb_type != "application":
                raise errors.InvalidLoadBalancerActionException(
                    "Fixed-response actions are only supported by Application Load Balancers"
                )
            item["FixedResponseConfig"] = _fixed(action.get("FixedResponseConfig"))
            terminal += 1
        else:
            raise errors.InvalidLoadBalancerActionException(
                f"Action type '{kind}' is not supported by nubes for action {index}"
            )
        out.append(item)
    if terminal != 1:
        raise errors.InvalidLoadBalancerActionException(
            "Exactly one of forward, redirect or fixed-response actions must be specified"
        )
    return out


def _forward(action: Json, lb_type: str, target_group: Callable[[str], Json]) -> Json:
    arn = action.get("TargetGroupArn")
    config = action.get("ForwardConfig")
    if arn and config and config.get("TargetGroups"):
        arns = [g.get("TargetGroupArn") for g in config["TargetGroups"]]
        if arns != [arn]:
            raise errors.ValidationError(
                "You cannot specify both a target group ARN and a forward config "
                "with different target groups"
            )
    if not arn and not (config and config.get("TargetGroups")):
        raise errors.ValidationError("A target group ARN must be specified")
    groups: list[Json] = (
        [{"TargetGroupArn": arn, "Weight": 1}]
        if not (config and config.get("TargetGroups"))
        else [
            {"TargetGroupArn": g["TargetGroupArn"], "Weight": int(g.get("Weight", 1))}
            for g in config["TargetGroups"]
        ]
    )
    if len(groups) > MAX_WEIGHTED_GROUPS:
        raise errors.TooManyTargetGroupsException(
            "You can specify at most 5 target groups in a forward action"
        )
    if len({g["TargetGroupArn"] for g in groups}) != len(groups):
        raise errors.ValidationError(
            "A target group can be specified only once in a forward action"
        )
    for g in groups:
        if not 0 <= g["Weight"] <= 999:
            raise errors.ValidationError("Target group weight must be between 0 and 999")
        tg = target_group(g["TargetGroupArn"])
        http = tg.get("Protocol") in ("HTTP", "HTTPS") or tg["TargetType"] == "lambda"
        if (lb_type == "application") != http:
            raise errors.IncompatibleProtocolsException(
                f"The target group '{g['TargetGroupArn']}' has a protocol that is not "
                f"compatible with the load balancer type '{lb_type}'"
            )
    stickiness = dict((config or {}).get("TargetGroupStickinessConfig") or {"Enabled": False})
    stickiness["Enabled"] = bool(stickiness.get("Enabled"))
    if stickiness["Enabled"]:
        duration = stickiness.get("DurationSeconds")
        if duration is None or not 1 <= int(duration) <= 604800:
            raise errors.ValidationError(
                "Target group stickiness duration must be between 1 and 604800 seconds"
            )
    out: Json = {
        "ForwardConfig": {"TargetGroups": groups, "TargetGroupStickinessConfig": stickiness}
    }
    if len(groups) == 1:
        out["TargetGroupArn"] = groups[0]["TargetGroupArn"]
    return out


def _redirect(config: Json | None) -> Json:
    if not config or "StatusCode" not in config:
        raise errors.ValidationError("A redirect status code must be specified")
    out = {
        "Protocol": config.get("Protocol", "#{protocol}"),
        "Port": config.get("Port", "#{port}"),
        "Host": config.get("Host", "#{host}"),
        "Path": config.get("Path", "/#{path}"),
        "Query": config.get("Query", "#{query}"),
        "StatusCode": config["StatusCode"],
    }
    if out["Protocol"] not in ("HTTP", "HTTPS", "#{protocol}"):
        raise errors.ValidationError(
            "Redirect protocol must be one of 'HTTP', 'HTTPS', '#{protocol}'"
        )
    if not out["Path"].startswith("/"):
        raise errors.ValidationError("Redirect path must start with a '/'")
    if out == {**out, "Protocol": "#{protocol}", "Port": "#{port}", "Host": "#{host}",
               "Path": "/#{path}", "Query": "#{query}"}:  # fmt: skip
        raise errors.ValidationError(
            "The redirect must modify at least one of protocol, port, host, path or query, "
            "to avoid a redirect loop"
        )
    return out


def _fixed(config: Json | None) -> Json:
    if not config or not _FIXED_STATUS.match(str(config.get("StatusCode", ""))):
        raise errors.ValidationError("Fixed-response status code must be 2XX, 4XX or 5XX")
    out: Json = {"StatusCode": config["StatusCode"]}
    if "ContentType" in config:
        if config["ContentType"] not in CONTENT_TYPES:
            raise errors.ValidationError(
                f"Fixed-response content type must be one of {', '.join(CONTENT_TYPES)}"
            )
        out["ContentType"] = config["ContentType"]
    if "MessageBody" in config:
        if len(config["MessageBody"].encode()) > 1024:
            raise errors.ValidationError("Fixed-response message body cannot exceed 1024 bytes")
        out["MessageBody"] = config["MessageBody"]
    return out


def target_group_arns(actions_: list[Json]) -> list[str]:
    return [
        g["TargetGroupArn"]
        for a in actions_
        if a.get("Type") == "forward"
        for g in a["ForwardConfig"]["TargetGroups"]
    ]


_CONFIG_KEYS = {
    "host-header": "HostHeaderConfig",
    "path-pattern": "PathPatternConfig",
    "http-header": "HttpHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "query-string": "QueryStringConfig",
    "source-ip": "SourceIpConfig",
}


def conditions(given: list[Json]) -> list[Json]:
    out: list[Json] = []
    total = 0
    seen: set[str] = set()
    for cond in given:
        field = cond.get("Field")
        if field not in CONDITION_FIELDS:
            raise errors.ValidationError(
                f"Condition field '{field}' must be one of [{', '.join(CONDITION_FIELDS)}]"
            )
        if field != "http-header" and field in seen:
            raise errors.ValidationError(f"A rule can only have one '{field}' condition")
        seen.add(field)
        key = _CONFIG_KEYS[field]
        config = cond.get(key) or {}
        values = cond.get("Values")
        item: Json = {"Field": field}
        if field in ("host-header", "path-pattern"):
            if values and config.get("Values"):
                raise errors.ValidationError(
                    f"You cannot specify both 'Values' and '{key}' for condition '{field}'"
                )
            found = list(values or config.get("Values") or [])
            if values:
                item["Values"] = found
            item[key] = {"Values": found}
        elif field == "http-header":
            name = config.get("HttpHeaderName")
            if not name:
                raise errors.ValidationError("An HTTP header name must be specified")
            found = list(config.get("Values") or [])
            item[key] = {"HttpHeaderName": name, "Values": found}
        elif field == "http-request-method":
            found = list(config.get("Values") or [])
            for method in found:
                if not _METHOD.match(method):
                    raise errors.ValidationError(f"HTTP request method '{method}' is not valid")
            item[key] = {"Values": found}
        elif field == "query-string":
            pairs = [
                {k: v for k, v in pair.items() if k in ("Key", "Value")}
                for pair in config.get("Values") or []
            ]
            for pair in pairs:
                if not pair.get("Value"):
                    raise errors.ValidationError("A query string condition value must be specified")
            found = pairs
            item[key] = {"Values": pairs}
        else:
            found = list(config.get("Values") or [])
            for cidr in found:
                try:
                    ipaddress.ip_network(cidr, strict=False)
                except ValueError:
                    raise errors.ValidationError(f"'{cidr}' is not a valid CIDR block") from None
            item[key] = {"Values": found}
        if not found:
            raise errors.ValidationError(f"A value must be specified for condition '{field}'")
        total += len(found)
        out.append(item)
    if total > MAX_CONDITION_VALUES:
        raise errors.ValidationError(
            f"A rule can only have '{MAX_CONDITION_VALUES}' condition values"
        )
    return out
