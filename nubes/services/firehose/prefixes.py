"""S3 object keys as Firehose writes them: ``<evaluated prefix><suffix>``, the prefix's
``!{timestamp:...}`` (Java DateTimeFormatter patterns) and ``!{firehose:...}`` expressions,
and the rules AWS checks when a destination is configured."""

from __future__ import annotations

import re
import secrets
import string
import uuid
from datetime import datetime

DEFAULT_TIME = "yyyy/MM/dd/HH/"
MAX_EVALUATED = 512
ERROR_TYPES = ("processing-failed",)
_EXPRESSION = re.compile(r"!\{([^{}:]*):([^{}]*)\}")
_RANDOM_ALPHABET = string.ascii_lowercase + string.digits
_FIELDS = {
    "y": "%Y",
    "u": "%Y",
    "M": "%m",
    "d": "%d",
    "H": "%H",
    "m": "%M",
    "s": "%S",
    "D": "%j",
    "a": "%p",
    "h": "%I",
}


class PrefixError(ValueError):
    """A prefix AWS refuses (the message is InvalidArgumentException's)."""


def _pattern_parts(pattern: str) -> list[tuple[str, str]]:
    """A DateTimeFormatter pattern as (letter run or ``''`` for literal text, text)."""
    parts: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            if end < 0:
                raise PrefixError(f"Unterminated quote in timestamp pattern '{pattern}'.")
            parts.append(("", "'" if end == i + 1 else pattern[i + 1 : end]))
            i = end + 1
        elif ch.isascii() and ch.isalpha():
            if ch not in _FIELDS:
                raise PrefixError(f"Unsupported letter '{ch}' in timestamp pattern '{pattern}'.")
            j = i
            while j < len(pattern) and pattern[j] == ch:
                j += 1
            parts.append((ch, pattern[i:j]))
            i = j
        else:
            parts.append(("", ch))
            i += 1
    return parts


def _format_time(pattern: str, when: datetime) -> str:
    out = []
    for letter, text in _pattern_parts(pattern):
        if not letter:
            out.append(text)
        elif letter in "yu" and len(text) == 2:
            out.append(when.strftime("%y"))
        elif letter == "M" and len(text) >= 3:
            out.append(when.strftime("%b" if len(text) == 3 else "%B"))
        elif letter in "Mdhms" and len(text) == 1:
            out.append(str(int(when.strftime(_FIELDS[letter]))))
        elif letter == "H" and len(text) == 1:
            out.append(str(when.hour))
        else:
            out.append(when.strftime(_FIELDS[letter]))
    return "".join(out)


def _expressions(prefix: str) -> list[tuple[str, str]]:
    found = [(m.group(1), m.group(2)) for m in _EXPRESSION.finditer(prefix)]
    if prefix.count("!{") != len(found):
        raise PrefixError("The sequence '!{' can only appear in !{namespace:value} expressions.")
    return found


PARTITION_NAMESPACES = ("partitionKeyFromQuery", "partitionKeyFromLambda")


def partition_keys(prefix: str) -> list[tuple[str, str]]:
    """The dynamic partitioning keys a prefix uses: (namespace, key name)."""
    return [(ns, v) for ns, v in _expressions(prefix) if ns in PARTITION_NAMESPACES]


def validate(prefix: str | None, error_prefix: str | None, dynamic: bool = False) -> None:
    """Raise PrefixError when the pair breaks one of Firehose's rules for S3 prefixes
    (``dynamic``: the destination partitions its data dynamically)."""
    main = _expressions(prefix or "")
    errors = _expressions(error_prefix or "")
    for which, found in (("Prefix", main), ("ErrorOutputPrefix", errors)):
        for namespace, value in found:
            if namespace == "timestamp":
                _pattern_parts(value)
            elif namespace == "firehose":
                if value not in ("random-string", "error-output-type"):
                    raise PrefixError(
                        f"The expression !{{firehose:{value}}} in {which} is not supported."
                    )
            elif namespace in PARTITION_NAMESPACES:
                if dynamic and which == "Prefix":
                    continue
                raise PrefixError(
                    f"{which} uses !{{{namespace}:...}} but dynamic partitioning is not enabled."
                )
            else:
                raise PrefixError(f"The namespace '{namespace}' in {which} is not supported.")
    if ("firehose", "error-output-type") in main:
        raise PrefixError("Prefix cannot contain !{firehose:error-output-type}.")
    if main and not error_prefix:
        raise PrefixError(
            "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions."
        )
    if dynamic and not partition_keys(prefix or ""):
        raise PrefixError(
            "Prefix must contain at least one !{partitionKeyFromQuery:...} or "
            "!{partitionKeyFromLambda:...} expression when dynamic partitioning is enabled."
        )
    if dynamic and not error_prefix:
        raise PrefixError("ErrorOutputPrefix is required when dynamic partitioning is enabled.")
    if errors and ("firehose", "error-output-type") not in errors:
        raise PrefixError(
            "ErrorOutputPrefix must contain !{firehose:error-output-type} when it contains "
            "expressions."
        )


def random_string() -> str:
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(11))


def evaluate(
    prefix: str,
    when: datetime,
    error_type: str | None = None,
    keys: dict[str, str] | None = None,
) -> str:
    """The prefix with its expressions replaced: timestamps from ``when`` (the oldest record
    in the object), a new random string for each ``random-string``, partitioning keys from
    ``keys``."""

    def replace(match: re.Match[str]) -> str:
        namespace, value = match.group(1), match.group(2)
        if namespace == "timestamp":
            return _format_time(value, when)
        if namespace in PARTITION_NAMESPACES:
            return (keys or {}).get(f"{namespace}:{value}", "")
        if value == "random-string":
            return random_string()
        return error_type or ""

    evaluated = _EXPRESSION.sub(replace, prefix)
    if len(evaluated) > MAX_EVALUATED:
        raise PrefixError(f"The evaluated prefix is longer than {MAX_EVALUATED} characters.")
    return evaluated


def object_prefix(prefix: str, when: datetime, keys: dict[str, str] | None = None) -> str:
    """Where delivered data goes: a prefix without a timestamp (or partitioning) expression
    gets AWS's ``yyyy/MM/dd/HH/`` appended."""
    used = {ns for ns, _ in _expressions(prefix)}
    if "timestamp" not in used and not used & set(PARTITION_NAMESPACES):
        prefix += f"!{{timestamp:{DEFAULT_TIME}}}"
    return evaluate(prefix, when, keys=keys)


def error_prefix(prefix: str, error_output: str | None, when: datetime, error_type: str) -> str:
    """Where failed records go: the ErrorOutputPrefix, or ``<prefix><type>/yyyy/MM/dd/HH/``."""
    if error_output:
        return evaluate(error_output, when, error_type)
    return evaluate(prefix, when) + f"{error_type}/" + _format_time(DEFAULT_TIME, when)


def suffix(stream: str, version: int, when: datetime, extension: str) -> str:
    stamp = when.strftime("%Y-%m-%d-%H-%M-%S")
    return f"{stream}-{version}-{stamp}-{uuid.uuid4()}{extension}"
