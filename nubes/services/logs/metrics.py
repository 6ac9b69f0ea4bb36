"""Metric filters turning log events into CloudWatch metrics: each event a filter's pattern
matches publishes its transformations' value (a number, ``$field`` of a space-delimited pattern
or ``$.path`` of a JSON event) at the event's time, with dimensions taken from the event the
same way; events it does not match publish the ``defaultValue`` when one is set."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from nubes.core.metrics import Datapoint
from nubes.services.logs.filter_pattern import FilterPattern, PatternError, compile_pattern

if TYPE_CHECKING:
    from nubes.app import Environment


def _field(token: str, extracted: Mapping[str, str], message: str) -> Any:
    """The value ``token`` names in an event, or the token itself when it names none."""
    token = token.strip()
    if token.startswith("$."):
        try:
            document = json.loads(message)
        except ValueError:
            return None
        for part in token[2:].split("."):
            if not isinstance(document, dict) or part not in document:
                return None
            document = document[part]
        return document
    if token.startswith("$"):
        return extracted.get(token)
    return token


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def publish(
    env: Environment,
    account: str,
    region: str,
    filters: Iterable[Mapping[str, Any]],
    events: list[tuple[int, str]],
) -> None:
    points: list[Datapoint] = []
    for doc in filters:
        try:
            pattern: FilterPattern = compile_pattern(doc.get("filterPattern") or "")
        except PatternError:
            continue
        for ts, message in events:
            matched = pattern.matches(message)
            extracted = pattern.extract(message) if matched else {}
            for t in doc.get("metricTransformations") or ():
                if matched:
                    value = _number(_field(t["metricValue"], extracted, message))
                elif t.get("defaultValue") is not None:
                    value = float(t["defaultValue"])
                else:
                    continue
                if value is None:
                    continue
                dims: dict[str, str] = {}
                if matched:
                    for name, token in (t.get("dimensions") or {}).items():
                        found = _field(token, extracted, message)
                        if found is not None:
                            dims[name] = str(found)
                points.append(
                    Datapoint(
                        account,
                        region,
                        t["metricNamespace"],
                        t["metricName"],
                        value,
                        t.get("unit") or "None",
                        dims,
                        ts / 1000,
                    )
                )
    if points:
        env.metrics.publish_many(points)
