"""Domain names and record values as Route 53 takes and gives them back.

Route 53 keeps names lower-case with a trailing dot and shows any character outside
``a-z 0-9 - _ .`` as a three-digit octal escape (``*`` is ``\\052``). Internally a name is kept
*plain* (escapes decoded, lower-case, trailing dot); :func:`presentation` gives AWS's form.
Record values are checked in :mod:`values` (dnspython, imported only when needed).
"""

from __future__ import annotations

import re
from typing import Any

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")
_OCTAL = re.compile(r"\\([0-7]{3})")
MAX_NAME = 255
MAX_LABEL = 63


class BadName(ValueError):
    """A domain name Route 53 would not take."""


def plain(name: str) -> str:
    """``WWW.Example.com`` or ``\\052.example.com.`` -> ``www.example.com.`` / ``*.example.com.``"""
    text = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), name.strip()).lower()
    if not text.endswith("."):
        text += "."
    return text


def check(name: str) -> str:
    """The plain form of ``name``, or :class:`BadName` when it is no domain name."""
    text = plain(name)
    if text == ".":
        return text
    labels = text[:-1].split(".")
    if len(text) > MAX_NAME or any(not label or len(label) > MAX_LABEL for label in labels):
        raise BadName(name)
    return text


def presentation(name: str) -> str:
    """AWS's form of a plain name: characters outside its safe set as octal escapes."""
    if all(ch in _SAFE for ch in name):
        return name
    return "".join(ch if ch in _SAFE else f"\\{ord(ch):03o}" for ch in name)


def labels(name: str) -> list[str]:
    return [] if name == "." else name[:-1].split(".")


def sort_key(name: str) -> str:
    """ListResourceRecordSets order: labels reversed (``com.example.www``)."""
    return ".".join(reversed(labels(presentation(name))))


def in_zone(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone) or zone == "."


def describe(record: dict[str, Any]) -> str:
    """``[name='www.example.com.', type='A', set-identifier='a']`` as AWS names a record set."""
    out = f"[name='{presentation(plain(record['Name']))}', type='{record['Type']}'"
    if record.get("SetIdentifier") is not None:
        out += f", set-identifier='{record['SetIdentifier']}'"
    return out + "]"
