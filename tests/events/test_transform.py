"""Input, InputPath and InputTransformer: the examples of AWS's "Amazon EventBridge input
transformation" page, each template with the output the page gives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nubes.services.events.transform import (
    TransformError,
    check_transformer,
    json_path,
    payload,
)

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
}
PATHS = {"timestamp": "$.time", "instance": "$.detail.instance-id", "state": "$.detail.state"}
RULE = "arn:aws:events:us-east-2:123456789012:rule/example"


def transformed(template: str, paths: dict[str, str] | None = None) -> str:
    target = {"InputTransformer": {"InputPathsMap": paths or PATHS, "InputTemplate": template}}
    return payload(target, EVENT, "example", RULE)


@pytest.mark.parametrize(
    ("template", "output"),
    [
        # Simple string
        ('"instance <instance> is in <state>"', '"instance i-0123456789 is in RUNNING"'),
        # String with escaped quotes
        (
            '"instance \\"<instance>\\" is in <state>"',
            '"instance \\"i-0123456789\\" is in RUNNING"',
        ),
        # Simple JSON
        (
            '{"instance" : <instance>, "state": <state>}',
            '{"instance" : "i-0123456789", "state": "RUNNING"}',
        ),
        # JSON with strings and variables
        (
            '{"instance" : <instance>, "state": "<state>", '
            '"instanceStatus": "instance \\"<instance>\\" is in <state>"}',
            '{"instance" : "i-0123456789", "state": "RUNNING", '
            '"instanceStatus": "instance \\"i-0123456789\\" is in RUNNING"}',
        ),
        # JSON with a mix of variables and static information
        (
            '{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}',
            '{"instance" : "i-0123456789", "state": [ 9, "RUNNING", true ], "Transformed" : "Yes"}',
        ),
        # Including reserved variables in a string
        ('"<aws.events.rule-name> triggered"', '"example triggered"'),
        # A plain-text template: values go in as they are
        ("<instance> is in state <state>", "i-0123456789 is in state RUNNING"),
    ],
)
def test_documented_templates(template: str, output: str) -> None:
    assert transformed(template) == output


def test_reserved_variables_in_json() -> None:
    out = json.loads(
        transformed(
            '{"instance" : <instance>, "state": <state>, "ruleArn" : <aws.events.rule-arn>, '
            '"ruleName" : <aws.events.rule-name>, "originalEvent" : <aws.events.event>, '
            '"json": <aws.events.event.json>, "at": <aws.events.event.ingestion-time>}'
        )
    )
    assert out["instance"] == "i-0123456789"
    assert out["ruleArn"] == RULE
    assert out["ruleName"] == "example"
    # aws.events.event is the event without its detail; .json is all of it
    assert out["originalEvent"] == {k: v for k, v in EVENT.items() if k != "detail"}
    assert out["json"] == EVENT
    assert out["at"] == EVENT["time"]


def test_objects_numbers_and_missing_paths() -> None:
    event_paths = {"detail": "$.detail", "res": "$.resources[0]", "gone": "$.detail.nope"}
    out = transformed('{"d": <detail>, "r": "<res>", "g": <gone>, "s": "x<gone>y"}', event_paths)
    assert json.loads(out) == {
        "d": EVENT["detail"],
        "r": "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111",
        "g": None,
        "s": "xy",
    }


def test_input_and_input_path() -> None:
    assert payload({"Input": '{"fixed": 1}'}, EVENT, "r", RULE) == '{"fixed": 1}'
    assert json.loads(payload({"InputPath": "$.detail"}, EVENT, "r", RULE)) == EVENT["detail"]
    assert json.loads(payload({}, EVENT, "r", RULE)) == EVENT


def test_json_paths() -> None:
    doc = {"a": {"b": [{"c": 1}, {"c": 2}]}, "x-y": 3}
    assert json_path(doc, "$.a.b[1].c") == 2
    assert json_path(doc, "$.a.b[*].c") == [1, 2]
    assert json_path(doc, "$.x-y") == 3
    assert json_path(doc, "$") == doc
    with pytest.raises(TransformError):
        json_path(doc, "a.b")


def test_transformer_checks() -> None:
    check_transformer(PATHS, '{"a": <instance>}', "t1")
    with pytest.raises(TransformError, match="Invalid InputTemplate for target t1"):
        check_transformer(PATHS, '{"a": <instance>,,}', "t1")
    with pytest.raises(TransformError, match="reserved"):
        check_transformer({"aws.events.rule-arn": "$.x"}, '"<x>"', "t1")
    with pytest.raises(TransformError, match="Invalid InputPathsMap"):
        check_transformer({"x": "detail"}, '"<x>"', "t1")
