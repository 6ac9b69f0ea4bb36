"""Describe* filters, implemented once: each call names its filters and where in the
resource's document each one looks (a dotted path that walks through lists); ``tag:<key>``,
``tag-key`` and ``tag-value`` work everywhere a resource has tags. Values match exactly or
with the ``*`` and ``?`` wildcards, as EC2 documents."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from nubes.protocol import timestamps
from nubes.services.ec2.errors import errors

Path = str | Callable[[dict[str, Any]], list[Any]]


def values_at(doc: Any, path: str) -> list[Any]:
    found = [doc]
    for part in path.split("."):
        step: list[Any] = []
        for item in found:
            if isinstance(item, list):
                item_list: list[Any] = item
            else:
                item_list = [item]
            for element in item_list:
                if isinstance(element, dict) and part in element:
                    value = element[part]
                    if isinstance(value, list):
                        step.extend(value)
                    else:
                        step.append(value)
        found = step
    return found


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=1024)
def _pattern(value: str) -> re.Pattern[str] | None:
    if "*" not in value and "?" not in value:
        return None
    # A backslash escapes a literal * or ? as EC2 documents.
    out = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            out.append(re.escape(value[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def matches_any(found: Sequence[Any], wanted: Sequence[str]) -> bool:
    texts = [as_text(v) for v in found]
    for value in wanted:
        pattern = _pattern(value)
        if pattern is None:
            if value in texts:
                return True
        elif any(pattern.fullmatch(t) for t in texts):
            return True
    return False


class Filters:
    """The filters one Describe call accepts."""

    def __init__(self, paths: Mapping[str, Path], tags: bool = True) -> None:
        self.paths = dict(paths)
        self.tags = tags

    def compile(
        self, filters: Sequence[Mapping[str, Any]] | None
    ) -> Callable[[dict[str, Any]], bool]:
        checks: list[Callable[[dict[str, Any]], bool]] = []
        for f in filters or ():
            name = f.get("Name") or ""
            wanted = [str(v) for v in f.get("Values") or ()]
            checks.append(self._check(name, wanted))
        if not checks:
            return lambda doc: True
        return lambda doc: all(check(doc) for check in checks)

    def _check(self, name: str, wanted: list[str]) -> Callable[[dict[str, Any]], bool]:
        if self.tags and name.startswith("tag:"):
            key = name[4:]
            return lambda doc: matches_any(
                [t["Value"] for t in doc.get("Tags") or () if t["Key"] == key], wanted
            )
        if self.tags and name == "tag-key":
            return lambda doc: matches_any([t["Key"] for t in doc.get("Tags") or ()], wanted)
        if self.tags and name == "tag-value":
            return lambda doc: matches_any([t["Value"] for t in doc.get("Tags") or ()], wanted)
        path = self.paths.get(name)
        if path is None:
            raise errors("InvalidParameterValue", f"The filter '{name}' is invalid")
        if callable(path):
            fn = path
            return lambda doc: matches_any(fn(doc), wanted)
        if path.startswith("@"):
            # A timestamp field (kept as epoch seconds) is matched as AWS shows it.
            moment = path[1:]
            return lambda doc: matches_any(
                [timestamps.iso8601(v) for v in values_at(doc, moment)], wanted
            )
        text = path
        return lambda doc: matches_any(values_at(doc, text), wanted)
