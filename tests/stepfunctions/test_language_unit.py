"""Pure logic of the States Language: JSONPath, ResultPath, intrinsic functions, definition
diagnostics."""

from __future__ import annotations

import json

import pytest

from nubes.runtime.stepfunctions import paths, validate
from nubes.runtime.stepfunctions.paths import StatesError

DATA = {"a": {"b": [1, 2, {"c": "x"}]}, "items": [{"n": 1}, {"n": 5}], "odd key": 7}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DATA),
        ("$.a.b[0]", 1),
        ("$.a.b[-1].c", "x"),
        ("$['odd key']", 7),
        ("$.items[*].n", [1, 5]),
        ("$.items[?(@.n > 2)]", [{"n": 5}]),
        ("$..c", ["x"]),
        ("$.a.b[0:2]", [1, 2]),
    ],
)
def test_select(path: str, expected: object) -> None:
    assert paths.select(path, DATA, {}) == expected


def test_missing_path_is_a_runtime_error() -> None:
    with pytest.raises(StatesError) as caught:
        paths.select("$.nope", DATA, {})
    assert caught.value.error == "States.Runtime"


def test_result_path_merges_into_a_copy() -> None:
    data = {"keep": 1}
    assert paths.put("$.x.y", data, 2) == {"keep": 1, "x": {"y": 2}}
    assert data == {"keep": 1}
    assert paths.put(None, data, 2) == data
    assert paths.put("$", data, 2) == 2


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("States.Format('{} and \\{literal\\}', $.n)", "3 and {literal}"),
        ("States.JsonToString($.o)", '{"k":[1]}'),
        ("States.StringToJson('[1,2]')", [1, 2]),
        ("States.ArrayContains($.l, 2)", True),
        ("States.ArrayGetItem($.l, 1)", 2),
        ("States.ArrayLength($.l)", 3),
        ("States.Base64Decode('aGk=')", "hi"),
        ("States.Hash('abc', 'MD5')", "900150983cd24fb0d6963f7d28e17f72"),
        ("States.MathAdd(-1, $.n)", 2),
    ],
)
def test_intrinsics(expression: str, expected: object) -> None:
    data = {"n": 3, "o": {"k": [1]}, "l": [1, 2, 3]}
    assert paths.evaluate(expression, data, {}) == expected


def test_intrinsic_failures() -> None:
    with pytest.raises(StatesError) as caught:
        paths.evaluate("States.ArrayGetItem($.l, 9)", {"l": [1]}, {})
    assert caught.value.error == "States.IntrinsicFailure"
    with pytest.raises(paths.IntrinsicError):
        paths.parse_intrinsic("States.Format('x'")
    random_value = paths.evaluate("States.MathRandom(1, 3)", {}, {})
    assert 1 <= random_value <= 3
    assert len(paths.evaluate("States.UUID()", {}, {})) == 36


def _codes(definition: object) -> list[str]:
    _, found = validate.parse(json.dumps(definition))
    return [d.code for d in found]


def test_diagnostics() -> None:
    assert _codes({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}) == []
    assert _codes({"StartAt": "A", "States": {"A": {"Type": "Nope", "End": True}}}) == [
        "SCHEMA_VALIDATION_FAILED"
    ]
    task_without_resource = {"StartAt": "A", "States": {"A": {"Type": "Task", "End": True}}}
    assert _codes(task_without_resource) == ["SCHEMA_VALIDATION_FAILED"]
    all_not_last = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}],
                "End": True,
            }
        },
    }
    assert _codes(all_not_last) == ["SCHEMA_VALIDATION_FAILED"]
    wait_twice = {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}},
    }
    assert _codes(wait_twice) == ["SCHEMA_VALIDATION_FAILED"]
    _, found = validate.parse(
        json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}})
    )
    assert validate.invalid_definition_message(found) == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: "
        "B at /States/A/Next'"
    )
