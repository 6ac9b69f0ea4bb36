"""CloudWatch Logs filter pattern syntax, unit-tested on the pure module."""

from __future__ import annotations

import json

import pytest

from nubes.services.logs.filter_pattern import PatternError, compile_pattern


def matches(pattern: str, message: str) -> bool:
    return compile_pattern(pattern).matches(message)


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("", "anything", True),
        ("ERROR", "an ERROR happened", True),
        ("ERROR", "an error happened", False),  # case-sensitive
        ("ERROR Exception", "ERROR: Exception in thread", True),
        ("ERROR Exception", "ERROR only", False),
        ('"Failed to connect"', "Failed to connect to db", True),
        ('"Failed to connect"', "Failed, to connect", False),
        ("?ERROR ?WARN", "a WARN line", True),
        ("?ERROR ?WARN", "an INFO line", False),
        ("ERROR -Exiting", "ERROR retrying", True),
        ("ERROR -Exiting", "ERROR Exiting now", False),
        ("?ERROR ?WARN -ignore", "WARN ignore me", False),
        ("%[0-9]{3}-[0-9]{4}%", "call 555-1234 now", True),
        ("%[0-9]{3}-[0-9]{4}%", "call me", False),
    ],
)
def test_terms(pattern: str, message: str, expected: bool) -> None:
    assert matches(pattern, message) is expected


EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "123.123.123.123",
        "latency": 62,
        "ok": True,
        "missing": None,
        "user": {"name": "alice", "roles": ["admin", "dev"]},
        "items": [{"id": 1}, {"id": 2}],
    }
)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.eventType = "UpdateTrail" }', True),
        ('{ $.eventType = "Update*" }', True),
        ('{ $.eventType != "UpdateTrail" }', False),
        ("{ $.latency > 50 }", True),
        ("{ $.latency >= 62 }", True),
        ("{ $.latency < 62 }", False),
        ("{ $.latency = 62 }", True),
        ('{ $.user.name = "alice" }', True),
        ('{ $.user.roles[1] = "dev" }', True),
        ("{ $.items[0].id = 1 }", True),
        ("{ $.ok IS TRUE }", True),
        ("{ $.ok IS FALSE }", False),
        ("{ $.missing IS NULL }", True),
        ("{ $.nothere NOT EXISTS }", True),
        ("{ $.latency NOT EXISTS }", False),
        ('{ ($.eventType = "UpdateTrail") && ($.latency > 100) }', False),
        ('{ ($.eventType = "UpdateTrail") || ($.latency > 100) }', True),
        ('{ $.eventType = "X" || $.latency > 50 && $.ok IS TRUE }', True),
        ('{ ($.eventType = "X" || $.latency > 50) && $.ok IS FALSE }', False),
    ],
)
def test_json_patterns(pattern: str, expected: bool) -> None:
    assert matches(pattern, EVENT) is expected


def test_json_pattern_ignores_non_json() -> None:
    assert not matches("{ $.latency > 1 }", "latency 5")


LINE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ip, user, username, timestamp, request, status_code, bytes]", True),
        ("[ip, user, username, timestamp, request, status_code = 404, bytes]", True),
        ("[ip, user, username, timestamp, request, status_code = 200, bytes]", False),
        ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", True),
        ('[ip, user, username, timestamp, request = "*html*", status_code, bytes]', True),
        ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", True),
        ("[ip, user, ..., status_code >= 400 && status_code < 500, bytes]", True),
        ("[ip, user, ..., status_code = 200 || status_code = 404, bytes]", True),
        ("[..., bytes < 1000]", False),
        ("[ip, user]", False),  # field count must match without ...
    ],
)
def test_space_delimited(pattern: str, expected: bool) -> None:
    assert matches(pattern, LINE) is expected


def test_extracted_values() -> None:
    pattern = compile_pattern("[ip, user, username, timestamp, request, status, size]")
    values = pattern.extract(LINE)
    assert values["$status"] == "404"
    assert values["$timestamp"] == "10/Oct/2000:13:25:15 -0700"
    assert values["$request"] == "GET /index.html HTTP/1.0"


@pytest.mark.parametrize(
    "pattern",
    ["{ $.x = ", "{ x = 1 }", "[a, b", '{ $.x > "text" }', "[a, ..., b, ..., c]", "%(%"],
)
def test_invalid_patterns(pattern: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(pattern)
