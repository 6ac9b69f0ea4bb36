"""The States Language run by nubes: Pass, Choice, Fail, Parallel, Map, paths and intrinsics."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Run = Callable[..., dict[str, Any]]


def test_pass_paths_and_intrinsics(run: Run) -> None:
    definition = {
        "StartAt": "Shape",
        "States": {
            "Shape": {
                "Type": "Pass",
                "InputPath": "$.order",
                "Parameters": {
                    "id.$": "$.id",
                    "greeting.$": (
                        "States.Format('Hello {}, {} items', $.who, States.ArrayLength($.items))"
                    ),
                    "parts.$": "States.ArrayPartition($.items, 2)",
                    "range.$": "States.ArrayRange(1, 5, 2)",
                    "sum.$": "States.MathAdd($.id, 10)",
                    "encoded.$": "States.Base64Encode($.who)",
                    "split.$": "States.StringSplit('a,b,,c', ',')",
                    "unique.$": "States.ArrayUnique(States.Array(1, 1, 2))",
                    "merged.$": (
                        "States.JsonMerge($.extra, States.StringToJson('{\"b\": 3}'), false)"
                    ),
                    "hash.$": "States.Hash('abc', 'SHA-256')",
                    "execution.$": "$$.Execution.Name",
                },
                "ResultPath": "$.shaped",
                "Next": "Out",
            },
            "Out": {"Type": "Pass", "OutputPath": "$.shaped", "End": True},
        },
    }
    data = {"order": {"id": 5, "who": "Ana", "items": [1, 2, 3], "extra": {"a": 1, "b": 2}}}
    done = run(definition, data)
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    out = json.loads(done["output"])
    assert out["id"] == 5
    assert out["greeting"] == "Hello Ana, 3 items"
    assert out["parts"] == [[1, 2], [3]]
    assert out["range"] == [1, 3, 5]
    assert out["sum"] == 15
    assert out["encoded"] == "QW5h"
    assert out["split"] == ["a", "b", "c"]
    assert out["unique"] == [1, 2]
    assert out["merged"] == {"a": 1, "b": 3}
    assert out["hash"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert out["execution"] == done["name"]


def test_choice_operators(run: Run) -> None:
    definition = {
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.n", "NumericGreaterThanEquals": 10},
                            {"Variable": "$.name", "StringMatches": "ord*-?"},
                            {"Not": {"Variable": "$.missing", "IsPresent": True}},
                            {"Variable": "$.when", "TimestampLessThan": "2030-01-01T00:00:00Z"},
                        ],
                        "Next": "Big",
                    },
                    {
                        "Or": [
                            {"Variable": "$.flag", "BooleanEquals": True},
                            {"Variable": "$.n", "NumericLessThanPath": "$.limit"},
                        ],
                        "Next": "Small",
                    },
                ],
                "Default": "Other",
            },
            "Big": {"Type": "Pass", "Result": "big", "End": True},
            "Small": {"Type": "Pass", "Result": "small", "End": True},
            "Other": {"Type": "Fail", "Error": "NoMatch", "Cause": "nothing matched"},
        },
    }
    big = {"n": 12, "name": "order-?", "when": "2026-01-01T00:00:00Z"}
    assert json.loads(run(definition, big)["output"]) == "big"
    assert json.loads(run(definition, {"n": 1, "limit": 5, "flag": False})["output"]) == "small"
    other = run(definition, {"n": 7, "limit": 5, "flag": False})
    assert (other["status"], other["error"], other["cause"]) == (
        "FAILED",
        "NoMatch",
        "nothing matched",
    )


def test_parallel_and_map(run: Run) -> None:
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": True}}},
                    {
                        "StartAt": "Each",
                        "States": {
                            "Each": {
                                "Type": "Map",
                                "ItemsPath": "$.items",
                                "MaxConcurrency": 2,
                                "ItemSelector": {
                                    "value.$": "$$.Map.Item.Value",
                                    "index.$": "$$.Map.Item.Index",
                                },
                                "ItemProcessor": {
                                    "StartAt": "Double",
                                    "States": {
                                        "Double": {
                                            "Type": "Pass",
                                            "Parameters": {
                                                "v.$": "States.MathAdd($.value, $.value)",
                                                "i.$": "$.index",
                                            },
                                            "End": True,
                                        }
                                    },
                                },
                                "End": True,
                            }
                        },
                    },
                ],
                "ResultSelector": {"one.$": "$[0]", "doubled.$": "$[1][*].v"},
                "End": True,
            }
        },
    }
    done = run(definition, {"items": [1, 2, 3]})
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    assert json.loads(done["output"]) == {"one": 1, "doubled": [2, 4, 6]}


def test_failure_in_branch_is_caught(run: Run) -> None:
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Boom",
                        "States": {"Boom": {"Type": "Fail", "Error": "Custom.Boom", "Cause": "x"}},
                    }
                ],
                "Catch": [{"ErrorEquals": ["Custom.Boom"], "ResultPath": "$.err", "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    }
    done = run(definition, {"keep": True})
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    assert json.loads(done["output"]) == {
        "keep": True,
        "err": {"Error": "Custom.Boom", "Cause": "x"},
    }


def test_runtime_error_for_missing_path(run: Run) -> None:
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "InputPath": "$.nope", "End": True}},
    }
    done = run(definition, {})
    assert done["status"] == "FAILED"
    assert done["error"] == "States.Runtime"
    assert "$.nope" in done["cause"]


def test_choice_on_a_missing_variable_and_rule_assign(run: Run) -> None:
    definition = {
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$.n",
                        "NumericGreaterThan": 1,
                        "Assign": {"picked": "big"},
                        "Next": "Show",
                    }
                ],
                "Default": "Show",
            },
            "Show": {"Type": "Pass", "Parameters": {"picked.$": "$picked"}, "End": True},
        },
    }
    assert json.loads(run(definition, {"n": 2})["output"]) == {"picked": "big"}
    missing = run(definition, {})
    assert missing["status"] == "FAILED"
    assert (missing["error"], "'$.n'" in missing["cause"]) == ("States.Runtime", True)
