"""JSONata workflows and variables: Arguments, Output, Assign, Condition, Items, Catch with
$states.errorOutput, Step Functions' own functions; variables in JSONPath states too."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

Run = Callable[..., dict[str, Any]]


def test_jsonata_workflow(run: Run) -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Start",
        "States": {
            "Start": {
                "Type": "Pass",
                "Assign": {
                    "total": "{% $sum($states.input.prices) %}",
                    "who": "{% $states.input.who %}",
                },
                "Output": {"count": "{% $count($states.input.prices) %}"},
                "Next": "Big?",
            },
            "Big?": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": "{% $total > 10 %}",
                        "Assign": {"size": "big"},
                        "Next": "Each",
                    }
                ],
                "Default": "Each",
                "Assign": {"size": "small"},
            },
            "Each": {
                "Type": "Map",
                "Items": "{% $range(1, $states.input.count, 1) %}",
                "ItemSelector": {
                    "n": "{% $states.context.Map.Item.Value %}",
                    "who": "{% $who %}",
                },
                "ItemProcessor": {
                    "StartAt": "Square",
                    "States": {
                        "Square": {
                            "Type": "Pass",
                            "Output": "{% $states.input.n * $states.input.n %}",
                            "End": True,
                        }
                    },
                },
                "Output": {
                    "squares": "{% $states.result %}",
                    "size": "{% $size %}",
                    "total": "{% $total %}",
                    "greeting": "{% 'hi ' & $who %}",
                    "parts": "{% $partition([1, 2, 3], 2) %}",
                    "parsed": "{% $parse('{\\\"a\\\": 1}') %}",
                },
                "Next": "Boom",
            },
            "Boom": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sqs:getQueueUrl",
                "Arguments": {"QueueName": "{% 'missing-' & $who %}"},
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Assign": {"failure": "{% $states.errorOutput.Error %}"},
                        "Output": (
                            "{% $merge([$states.input, {'caught': $states.errorOutput.Error}]) %}"
                        ),
                        "Next": "Done",
                    }
                ],
                "End": True,
            },
            "Done": {
                "Type": "Pass",
                "Output": "{% $merge([$states.input, {'remembered': $failure}]) %}",
                "End": True,
            },
        },
    }
    done = run(definition, {"prices": [4, 5, 6], "who": "ana"})
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    out = json.loads(done["output"])
    assert out["squares"] == [1, 4, 9]
    assert (out["size"], out["total"], out["greeting"]) == ("big", 15, "hi ana")
    assert out["parts"] == [[1, 2], [3]]
    assert out["parsed"] == {"a": 1}
    assert out["caught"] == "Sqs.QueueDoesNotExistException"
    # Assign takes effect after the state: the next state reads the variable.
    assert out["remembered"] == "Sqs.QueueDoesNotExistException"


def test_jsonata_fail_and_query_errors(run: Run) -> None:
    failing = {
        "QueryLanguage": "JSONata",
        "StartAt": "F",
        "States": {
            "F": {
                "Type": "Fail",
                "Error": "{% 'Bad.' & $states.input.kind %}",
                "Cause": "{% $string($states.input.n) %}",
            }
        },
    }
    done = run(failing, {"kind": "Input", "n": 3})
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Bad.Input", "3")
    broken = {
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": "{% $number('x') + $error() %}", "End": True}},
    }
    done = run(broken, {})
    assert (done["status"], done["error"]) == ("FAILED", "States.QueryEvaluationError")


def test_variables_in_jsonpath_states(run: Run) -> None:
    definition = {
        "StartAt": "Remember",
        "States": {
            "Remember": {
                "Type": "Pass",
                "Assign": {"order.$": "$.order", "fixed": 7},
                "Next": "Use",
            },
            "Use": {
                "Type": "Pass",
                "Parameters": {"id.$": "$order.id", "fixed.$": "$fixed"},
                "End": True,
            },
        },
    }
    done = run(definition, {"order": {"id": "o-1"}})
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    assert json.loads(done["output"]) == {"id": "o-1", "fixed": 7}


@pytest.mark.parametrize(
    "state",
    [
        {"Type": "Pass", "InputPath": "$.a", "End": True},
        {"Type": "Pass", "Output": "{% $states.input.( %}", "End": True},
        {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": True, "Next": "P"}]},
    ],
)
def test_jsonata_definitions_checked(sfn: Any, state: dict[str, Any]) -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "S",
        "States": {"S": state, "P": {"Type": "Succeed"}}
        if state["Type"] == "Choice"
        else {"S": state},
    }
    out = sfn.validate_state_machine_definition(definition=json.dumps(definition))
    assert out["result"] == "FAIL"
    assert out["diagnostics"][0]["code"] == "SCHEMA_VALIDATION_FAILED"
