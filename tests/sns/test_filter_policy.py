"""Filter policies, as pure logic: every documented operator, on attributes and on bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nubes.services.sns.filter_policy import (
    BODY,
    FilterPolicyError,
    matches_attributes,
    matches_body,
    parse,
)


def s(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def n(value: float) -> dict[str, str]:
    return {"DataType": "Number", "StringValue": str(value)}


def arr(values: list[Any]) -> dict[str, str]:
    return {"DataType": "String.Array", "StringValue": json.dumps(values)}


def attrs(policy: dict[str, Any], attributes: dict[str, Any]) -> bool:
    return matches_attributes(parse(json.dumps(policy)), attributes)


def body(policy: dict[str, Any], doc: Any) -> bool:
    return matches_body(parse(json.dumps(policy), BODY), json.dumps(doc))


@pytest.mark.parametrize(
    ("policy", "attributes", "expected"),
    [
        ({"color": ["red"]}, {"color": s("red")}, True),
        ({"color": ["red"]}, {"color": s("blue")}, False),
        ({"color": ["red", "blue"]}, {"color": s("blue")}, True),
        ({"color": ["red"]}, {}, False),
        ({"color": ["red"], "size": ["L"]}, {"color": s("red"), "size": s("M")}, False),
        ({"color": ["red"], "size": ["L"]}, {"color": s("red"), "size": s("L")}, True),
        ({"color": ["red"]}, {"color": arr(["blue", "red"])}, True),
        ({"count": [5]}, {"count": n(5)}, True),
        ({"count": [5]}, {"count": s("5")}, False),
        ({"color": [{"prefix": "re"}]}, {"color": s("red")}, True),
        ({"color": [{"prefix": "bl"}]}, {"color": s("red")}, False),
        ({"file": [{"suffix": ".png"}]}, {"file": s("a.png")}, True),
        ({"file": [{"suffix": ".png"}]}, {"file": s("a.jpg")}, False),
        ({"color": [{"equals-ignore-case": "RED"}]}, {"color": s("rEd")}, True),
        ({"color": [{"anything-but": "red"}]}, {"color": s("blue")}, True),
        ({"color": [{"anything-but": "red"}]}, {"color": s("red")}, False),
        ({"color": [{"anything-but": ["red", "blue"]}]}, {"color": s("blue")}, False),
        ({"color": [{"anything-but": "red"}]}, {}, False),
        ({"count": [{"anything-but": [1, 2]}]}, {"count": n(3)}, True),
        ({"count": [{"anything-but": [1, 2]}]}, {"count": n(2)}, False),
        ({"color": [{"anything-but": {"prefix": "re"}}]}, {"color": s("red")}, False),
        ({"color": [{"anything-but": {"prefix": "re"}}]}, {"color": s("blue")}, True),
        ({"file": [{"anything-but": {"suffix": ".tmp"}}]}, {"file": s("x.tmp")}, False),
        ({"file": [{"anything-but": {"suffix": ".tmp"}}]}, {"file": s("x.txt")}, True),
        ({"price": [{"numeric": [">", 0, "<=", 100]}]}, {"price": n(100)}, True),
        ({"price": [{"numeric": [">", 0, "<=", 100]}]}, {"price": n(0)}, False),
        ({"price": [{"numeric": ["=", 3.5]}]}, {"price": n(3.5)}, True),
        ({"price": [{"numeric": [">=", 10]}]}, {"price": s("20")}, False),
        ({"color": [{"exists": True}]}, {"color": s("x")}, True),
        ({"color": [{"exists": True}]}, {}, False),
        ({"color": [{"exists": False}]}, {}, True),
        ({"color": [{"exists": False}]}, {"color": s("x")}, False),
        ({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": s("10.0.0.42")}, True),
        ({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": s("10.0.1.1")}, False),
        ({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": s("2001:db8::1")}, True),
        (
            {"$or": [{"color": ["red"]}, {"size": ["L"]}]},
            {"size": s("L")},
            True,
        ),
        (
            {"kind": ["a"], "$or": [{"color": ["red"]}, {"size": ["L"]}]},
            {"kind": s("b"), "size": s("L")},
            False,
        ),
        ({"blob": [{"exists": True}]}, {"blob": {"DataType": "Binary", "BinaryValue": b"x"}}, True),
    ],
)
def test_attribute_policies(
    policy: dict[str, Any], attributes: dict[str, Any], expected: bool
) -> None:
    assert attrs(policy, attributes) is expected


@pytest.mark.parametrize(
    ("policy", "doc", "expected"),
    [
        ({"order": {"status": ["paid"]}}, {"order": {"status": "paid"}}, True),
        ({"order": {"status": ["paid"]}}, {"order": {"status": "open"}}, False),
        ({"order": {"total": [{"numeric": [">", 10]}]}}, {"order": {"total": 11}}, True),
        ({"tags": ["x"]}, {"tags": ["a", "x"]}, True),
        ({"flag": [True]}, {"flag": True}, True),
        ({"flag": [True]}, {"flag": "true"}, False),
        ({"gone": [None]}, {"gone": None}, True),
        ({"items": {"sku": ["A1"]}}, {"items": [{"sku": "B"}, {"sku": "A1"}]}, True),
        ({"order": {"coupon": [{"exists": False}]}}, {"order": {"total": 1}}, True),
        ({"order": {"coupon": [{"exists": False}]}}, {"other": 1}, True),
        ({"a": {"b": {"c": [{"prefix": "x"}]}}}, {"a": {"b": {"c": "xyz"}}}, True),
        (
            {"$or": [{"a": ["1"]}, {"b": {"c": ["2"]}}]},
            {"b": {"c": "2"}},
            True,
        ),
    ],
)
def test_body_policies(policy: dict[str, Any], doc: Any, expected: bool) -> None:
    assert body(policy, doc) is expected


def test_body_that_is_not_json_matches_nothing() -> None:
    assert matches_body({"a": ["b"]}, "plain text") is False


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"a": "b"}',
        '{"a": []}',
        '{"a": [{"nope": 1}]}',
        '{"a": [{"numeric": [">", "x"]}]}',
        '{"a": [{"numeric": ["<", 1, ">", 0]}]}',
        '{"a": [{"exists": "yes"}]}',
        '{"a": [{"cidr": "not-a-network"}]}',
        '{"a": [{"anything-but": {"contains": "x"}}]}',
        '{"$or": [{"a": ["b"]}]}',
        '{"a": {"b": ["c"]}}',
        '{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}',
    ],
)
def test_invalid_policies(text: str) -> None:
    with pytest.raises(FilterPolicyError):
        parse(text)


def test_nested_keys_allowed_in_body_scope() -> None:
    assert parse('{"a": {"b": ["c"]}}', BODY) == {"a": {"b": ["c"]}}


def test_too_many_combinations() -> None:
    policy = {k: [str(i) for i in range(10)] for k in "abc"}
    with pytest.raises(FilterPolicyError):
        parse(json.dumps(policy))
