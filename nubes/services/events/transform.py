"""What a target receives: the event, a constant ``Input``, the value at ``InputPath``, or an
``InputTransformer`` (variables from JSON paths into an ``InputTemplate``).

AWS's quoting rules for templates: a variable placed inside a JSON string is inserted as its raw
text (strings unquoted and unescaped); outside a string, in a JSON template, it is inserted as
JSON (strings quoted, objects and arrays as they are). A template that is plain text (not JSON)
gets raw text everywhere. A path missing from the event leaves an empty value (``null`` where a
JSON value is expected).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_MISSING = object()
RESERVED = (
    "aws.events.rule-arn",
    "aws.events.rule-name",
    "aws.events.event",
    "aws.events.event.ingestion-time",
    "aws.events.event.json",
)


class TransformError(ValueError):
    pass


def json_path(doc: Any, path: str) -> Any:
    """The value at a JSONPath of the forms EventBridge supports (``$.a.b``, ``$.a[0]``,
    ``$.a[*].b``, ``$.a.*``); a wildcard yields the list of matches. Missing: ``_MISSING``."""
    if not path.startswith("$"):
        raise TransformError(f"Invalid JSON path: {path}")
    tokens = re.findall(r"\.([^.\[\]]+)|\[(\d+|\*)\]|\['([^']*)'\]", path[1:])
    consumed = "".join(f".{a}" if a else (f"[{b}]" if b else f"['{c}']") for a, b, c in tokens)
    if consumed != path[1:]:
        raise TransformError(f"Invalid JSON path: {path}")
    values = [doc]
    wildcard = False
    for name, index, quoted in tokens:
        nxt: list[Any] = []
        key = name or quoted
        for value in values:
            if key == "*" or index == "*":
                wildcard = True
                if isinstance(value, dict):
                    nxt.extend(value.values())
                elif isinstance(value, list):
                    nxt.extend(value)
            elif key:
                if isinstance(value, dict) and key in value:
                    nxt.append(value[key])
            elif isinstance(value, list) and int(index) < len(value):
                nxt.append(value[int(index)])
        values = nxt
    if wildcard:
        return values
    return values[0] if values else _MISSING


def check_path(path: str) -> None:
    json_path({}, path)


def _template_is_json(template: str) -> bool:
    return template.lstrip()[:1] in ("{", "[", '"')


def _render(template: str, values: Mapping[str, Any]) -> str:
    as_json = _template_is_json(template)
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        ch = template[i]
        if as_json and ch == "\\" and in_string:
            out.append(template[i : i + 2])
            i += 2
            continue
        if as_json and ch == '"':
            in_string = not in_string
        elif ch == "<":
            found = _PLACEHOLDER.match(template, i)
            if found and found.group(1) in values:
                out.append(_text(values[found.group(1)], as_json and not in_string))
                i = found.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _text(value: Any, as_json_value: bool) -> str:
    if value is _MISSING:
        return "null" if as_json_value else ""
    if isinstance(value, str) and not as_json_value:
        return value
    if isinstance(value, _Raw):
        return value.text
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class _Raw:
    """Text inserted as it is (the original event's JSON, which AWS does not escape)."""

    def __init__(self, text: str) -> None:
        self.text = text


def check_transformer(paths: Mapping[str, str], template: str, target_id: str) -> None:
    """PutTargets' checks: valid paths, no reserved names, a JSON template stays JSON."""
    for name, path in paths.items():
        if name in RESERVED or name.upper().startswith("AWS."):
            raise TransformError(
                f"InputTransformer for target {target_id} uses the reserved name {name}."
            )
        try:
            check_path(path)
        except TransformError:
            raise TransformError(
                f"Invalid InputPathsMap for target {target_id}: invalid JSON path {path}"
            ) from None
    if template.lstrip()[:1] in ("{", "["):
        dummy = {name: "x" for name in (*paths, *RESERVED)}
        try:
            json.loads(_render(template, dummy))
        except ValueError as exc:
            raise TransformError(f"Invalid InputTemplate for target {target_id} : {exc}") from None


def payload(
    target: Mapping[str, Any], event: Mapping[str, Any], rule_name: str, rule_arn: str
) -> str:
    """The text a target receives for ``event``."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        value = json_path(event, target["InputPath"])
        return "null" if value is _MISSING else json.dumps(value, separators=(",", ":"))
    transformer = target.get("InputTransformer")
    if transformer:
        values: dict[str, Any] = {
            name: json_path(event, path)
            for name, path in (transformer.get("InputPathsMap") or {}).items()
        }
        without_detail = {k: v for k, v in event.items() if k != "detail"}
        values.update(
            {
                "aws.events.rule-arn": rule_arn,
                "aws.events.rule-name": rule_name,
                "aws.events.event.ingestion-time": event.get("time", ""),
                "aws.events.event": _Raw(json.dumps(without_detail, separators=(",", ":"))),
                "aws.events.event.json": _Raw(json.dumps(event, separators=(",", ":"))),
            }
        )
        return _render(transformer["InputTemplate"], values)
    return json.dumps(event, separators=(",", ":"))


def render_context(template: str, context: Mapping[str, str]) -> str:
    """Scheduler's context attributes (``<aws.scheduler.schedule-arn>`` ...) in a target's
    Input, inserted as raw text."""
    return _render(template, dict(context))
