"""JSON from clients, read with bounds: nesting depth and lone surrogates.

Python's parser recurses once per nesting level and gives up with RecursionError near a
thousand; everything that walks a parsed document afterwards (validation, policy engines,
attribute value conversion) recurses too, with several frames per level. Every JSON a client
sends (request bodies, and the documents carried inside string members: policies, filter
patterns, redrive settings) is therefore read through :func:`loads`, which refuses anything
nested deeper than :data:`MAX_DEPTH`: deeper than any AWS document needs (DynamoDB stops at 32
levels) and shallow enough for every recursive reader.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 100
"""The deepest nesting of arrays and objects a client's JSON may have."""

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class JsonError(json.JSONDecodeError):
    """Well-formed JSON that nubes will not read (too deep); a ValueError like every
    malformed document, so callers that refuse malformed JSON refuse this too."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "", 0)
        self.msg = message

    def __str__(self) -> str:
        return self.msg


def _refuse_constant(name: str) -> Any:
    # JSON has no NaN or Infinity literals; Python's reader would take them.
    raise ValueError(f"{name} is not valid JSON")


def loads(data: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed document; malformed or too deeply nested JSON raises ValueError."""
    if isinstance(data, str):
        containers = data.count("[") + data.count("{")
    else:
        containers = data.count(b"[") + data.count(b"{")
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        raise JsonError(f"JSON nested deeper than {max_depth} levels") from None
    # A document with fewer brackets than the limit cannot be deeper than it: most requests
    # stop here, after two C-speed counts.
    if containers > max_depth and depth_exceeds(value, max_depth):
        raise JsonError(f"JSON nested deeper than {max_depth} levels")
    return value


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """Whether lists and dicts in ``value`` nest deeper than ``max_depth``: a level at a time,
    so the work per container is one type test and one C-level extend (no recursion)."""
    level = [value] if type(value) is dict or type(value) is list else []
    for _ in range(max_depth):
        if not level:
            return False
        found: list[Any] = []
        for item in level:
            found.extend(item.values() if type(item) is dict else item)
        level = [x for x in found if type(x) is dict or type(x) is list]
    return bool(level)


def may_hold_surrogates(raw: bytes | str) -> bool:
    """Whether JSON text escapes a surrogate (the only way a lone one gets into a parsed str:
    raw surrogate bytes are not UTF-8 and fail decoding). A cheap test before a full search."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    return b"\\u" in raw and _SURROGATE_ESCAPE.search(raw) is not None


def lone_surrogate(value: Any) -> str | None:
    """The first string (value or key) in a parsed document that is not valid Unicode text
    (it holds an unpaired surrogate, which UTF-8 cannot carry), or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _encodable(item):
                return item
        elif isinstance(item, dict):
            for key, child in item.items():
                if not _encodable(key):
                    return str(key)
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
