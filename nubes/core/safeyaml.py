"""YAML from clients (templates, OpenAPI definitions), read with the bounds JSON gets.

PyYAML's composer and constructor recurse once per nesting level, so a document of a few
thousand ``[`` ends in RecursionError rather than a parse error; the readers of the result
recurse too. :func:`load` turns both into :class:`yaml.YAMLError`, which callers already
refuse as malformed input.
"""

from __future__ import annotations

from typing import Any

import yaml

from nubes.core.safejson import MAX_DEPTH, depth_exceeds


class TooDeep(yaml.YAMLError):
    """Well-formed YAML nested deeper than nubes reads."""


def load(text: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> Any:
    """The parsed document; malformed or too deeply nested YAML raises yaml.YAMLError."""
    try:
        value = yaml.load(text, Loader=loader)
    except RecursionError:
        raise TooDeep(f"YAML nested deeper than {MAX_DEPTH} levels") from None
    if depth_exceeds(value, MAX_DEPTH):
        raise TooDeep(f"YAML nested deeper than {MAX_DEPTH} levels")
    return value
