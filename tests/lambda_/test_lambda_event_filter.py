"""Event source mapping filters (EventBridge-style patterns), unit-tested."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nubes.services.lambda_.event_filter import FilterError, parse_filters, passes, sqs_view

RECORD = {
    "eventName": "INSERT",
    "body": {"type": "order", "total": 42, "tags": ["a", "b"], "customer": {"tier": "Gold"}},
}


def check(pattern: dict[str, Any]) -> bool:
    return passes(parse_filters({"Filters": [{"Pattern": json.dumps(pattern)}]}), RECORD)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"eventName": ["INSERT"]}, True),
        ({"eventName": ["MODIFY", "REMOVE"]}, False),
        ({"body": {"type": ["order"]}}, True),
        ({"body": {"type": [{"prefix": "ord"}]}}, True),
        ({"body": {"type": [{"suffix": "der"}]}}, True),
        ({"body": {"type": [{"anything-but": ["order"]}]}}, False),
        ({"body": {"type": [{"anything-but": {"prefix": "x"}}]}}, True),
        ({"body": {"total": [{"numeric": [">", 40, "<=", 42]}]}}, True),
        ({"body": {"total": [{"numeric": ["<", 10]}]}}, False),
        ({"body": {"tags": ["b"]}}, True),
        ({"body": {"missing": [{"exists": False}]}}, True),
        ({"body": {"type": [{"exists": False}]}}, False),
        ({"body": {"customer": {"tier": [{"equals-ignore-case": "gold"}]}}}, True),
        ({"body": {"type": [{"wildcard": "o*r"}]}}, True),
        ({"body": {"type": ["order"]}, "eventName": ["REMOVE"]}, False),
    ],
)
def test_patterns(pattern: dict[str, Any], expected: bool) -> None:
    assert check(pattern) is expected


def test_any_filter_may_match_and_no_filters_pass_everything() -> None:
    filters = parse_filters(
        {"Filters": [{"Pattern": '{"eventName": ["X"]}'}, {"Pattern": '{"eventName": ["INSERT"]}'}]}
    )
    assert passes(filters, RECORD)
    assert passes([], RECORD)


def test_sqs_bodies_are_parsed_when_json() -> None:
    record = {"body": '{"kind": "a"}', "messageId": "1"}
    assert sqs_view(record)["body"] == {"kind": "a"}
    assert sqs_view({"body": "plain"})["body"] == "plain"


@pytest.mark.parametrize(
    "pattern",
    ["not json", '["a"]', '{"a": "b"}', '{"a": [{"nope": 1}]}', '{"a": [{"numeric": [">"]}]}'],
)
def test_invalid_filters(pattern: str) -> None:
    with pytest.raises(FilterError):
        parse_filters({"Filters": [{"Pattern": pattern}]})
