"""The event pattern language, with the examples of AWS's "Content filtering in Amazon
EventBridge event patterns", "Arrays in event patterns" and "Null values and empty strings"
pages; then the same language through TestEventPattern and PutRule on a live server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nubes.services.events.patterns import PatternError, parse

EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {
        "instance-id": "i-1234567890abcdef0",
        "state": "terminated",
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.123",
    },
}


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return parse(json.dumps(pattern)).matches(event)


def detail(**fields: Any) -> dict[str, Any]:
    return {**EC2_EVENT, "detail": fields}


# -- the docs' examples -------------------------------------------------------------------------


def test_prefix_and_prefix_ignoring_case() -> None:
    assert matches({"time": [{"prefix": "2017-12-22"}]}, EC2_EVENT)
    assert not matches({"time": [{"prefix": "2017-10-02"}]}, EC2_EVENT)
    pattern = {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}
    for value in ("EventBridge", "EVENTBRIDGE", "eventbridge"):
        assert matches(pattern, detail(service=value))
    assert not matches(pattern, detail(service="SQS"))


def test_suffix_and_suffix_ignoring_case() -> None:
    assert matches({"detail": {"FileName": [{"suffix": ".png"}]}}, detail(FileName="image.png"))
    assert not matches({"detail": {"FileName": [{"suffix": ".png"}]}}, detail(FileName="a.PNG"))
    pattern = {"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}
    assert matches(pattern, detail(FileName="image.PNG"))
    assert not matches(pattern, detail(FileName="image.jpg"))


def test_anything_but_strings_numbers_and_lists() -> None:
    assert matches({"detail": {"state": [{"anything-but": "initializing"}]}}, EC2_EVENT)
    assert not matches(
        {"detail": {"state": [{"anything-but": "initializing"}]}}, detail(state="initializing")
    )
    assert matches({"detail": {"x-limit": [{"anything-but": 123}]}}, EC2_EVENT)
    assert not matches({"detail": {"x-limit": [{"anything-but": 123}]}}, detail(**{"x-limit": 123}))
    listed = {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}
    assert matches(listed, detail(state="running"))
    assert not matches(listed, detail(state="stopped"))
    numbers = {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}
    assert matches(numbers, detail(**{"x-limit": 150}))
    assert not matches(numbers, detail(**{"x-limit": 200.0}))
    # anything-but needs the field to be there
    assert not matches({"detail": {"absent": [{"anything-but": "x"}]}}, EC2_EVENT)


def test_anything_but_prefix_suffix_ignore_case_wildcard() -> None:
    prefix = {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}
    assert matches(prefix, detail(state="running"))
    assert not matches(prefix, detail(state="initializing"))
    suffix = {"detail": {"FileName": [{"anything-but": {"suffix": ".txt"}}]}}
    assert matches(suffix, detail(FileName="notes.md"))
    assert not matches(suffix, detail(FileName="notes.txt"))
    ignore = {
        "detail": {"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]}
    }
    assert matches(ignore, detail(state="running"))
    assert not matches(ignore, detail(state="STOPPED"))
    assert not matches(ignore, detail(state="overloaded"))
    wildcard = {"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}}
    assert matches(wildcard, detail(FilePath="/usr/bin/python"))
    assert not matches(wildcard, detail(FilePath="/usr/lib/python"))
    several = {"detail": {"FilePath": [{"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}]}}
    assert not matches(several, detail(FilePath="/usr/bin/python"))
    assert matches(several, detail(FilePath="/etc/hosts"))


def test_numeric_ranges() -> None:
    pattern = {
        "detail": {
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"numeric": ["=", 3.018e2]}],
        }
    }
    assert matches(pattern, EC2_EVENT)
    assert not matches(pattern, detail(**{**EC2_EVENT["detail"], "c-count": 6}))
    assert not matches(pattern, detail(**{**EC2_EVENT["detail"], "c-count": 0}))
    # numeric matching is for JSON numbers only
    assert not matches(pattern, detail(**{**EC2_EVENT["detail"], "d-count": "3"}))
    # exact numbers compare as numbers
    assert matches({"detail": {"x-limit": [301.8]}}, EC2_EVENT)
    assert matches({"detail": {"c-count": [5.0]}}, EC2_EVENT)
    assert not matches({"detail": {"c-count": ["5"]}}, EC2_EVENT)
    assert matches({"n": [123456789012]}, {"n": 123456789012})


def test_ip_address_matching() -> None:
    assert matches({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, EC2_EVENT)
    assert not matches({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, EC2_EVENT)
    v6 = {"detail": {"sourceIPAddress": [{"cidr": "2001:db8::/32"}]}}
    assert matches(v6, detail(sourceIPAddress="2001:db8::ff00:42:8329"))
    assert not matches(v6, detail(sourceIPAddress="2001:db9::1"))


def test_exists_only_on_leaves() -> None:
    absent = {"detail": {"c-count": [{"exists": False}]}}
    assert matches(absent, detail(state=["initializing", "running"]))
    # c-count is an object here, not a leaf: as far as exists goes it is absent
    assert matches(absent, detail(state="running", **{"c-count": {"c1": 100}}))
    assert not matches(absent, EC2_EVENT)
    present = {"detail": {"c-count": [{"exists": True}]}}
    assert matches(present, EC2_EVENT)
    assert not matches(present, detail(state="running"))
    # exists: false matches when the parent object is missing altogether
    assert matches({"detail": {"nested": {"x": [{"exists": False}]}}}, EC2_EVENT)


def test_equals_ignore_case_and_wildcard() -> None:
    assert matches(
        {"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]},
        EC2_EVENT,
    )
    pattern = {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}
    assert matches(pattern, {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/x"})
    assert not matches(pattern, {"EventBusArn": "arn:aws:events:us-west-2:1:event-bus/x"})
    assert matches({"f": [{"wildcard": "dir/*.png"}]}, {"f": "dir/share/image.png"})
    assert not matches({"f": [{"wildcard": "dir/*.png"}]}, {"f": "dir/image.jpg"})
    # an escaped star is a star
    assert matches({"f": [{"wildcard": "a\\*b"}]}, {"f": "a*b"})
    assert not matches({"f": [{"wildcard": "a\\*b"}]}, {"f": "axb"})


def test_or_inside_detail_and_at_the_top() -> None:
    inner = {
        "detail": {
            "$or": [
                {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                {"d-count": [{"numeric": ["<", 10]}]},
                {"x-limit": [{"numeric": ["=", 3.018e2]}]},
            ]
        }
    }
    assert matches(inner, detail(**{"c-count": 99, "d-count": 3}))
    assert not matches(inner, detail(**{"c-count": 99, "d-count": 30}))
    top = {
        "source": ["aws.cloudwatch"],
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency"]},
            {"namespace": ["AWS/EC2", "AWS/ES"]},
        ],
    }
    assert matches(top, {"source": "aws.cloudwatch", "metricName": "ReadLatency"})
    assert matches(top, {"source": "aws.cloudwatch", "namespace": "AWS/ES"})
    assert not matches(top, {"source": "aws.cloudwatch", "namespace": "AWS/S3"})
    assert not matches(top, {"source": "aws.ec2", "metricName": "CPUUtilization"})


def test_arrays_match_when_any_element_does() -> None:
    pattern = {
        "resources": [
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f",
        ]
    }
    event = {
        "resources": [
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:000000000000:instance/i-b188560f",
        ]
    }
    assert matches(pattern, event)
    assert not matches(pattern, {"resources": ["arn:aws:ec2:us-east-1:0:instance/i-1"]})
    # fields of one pattern object must match within the same array element
    people = {"people": [{"name": "a", "age": 1}, {"name": "b", "age": 2}]}
    assert matches({"people": {"name": ["a"], "age": [1]}}, people)
    assert not matches({"people": {"name": ["a"], "age": [2]}}, people)


def test_null_and_empty_strings() -> None:
    event = {"responseElements": None, "eventVersion": "", "x": "value"}
    assert matches({"responseElements": [None]}, event)
    assert matches({"eventVersion": [""]}, event)
    assert not matches({"x": [None]}, event)
    # a missing field is not null
    assert not matches({"missing": [None]}, event)


def test_complex_example_with_multiple_matching() -> None:
    pattern = {
        "time": [{"prefix": "2017-12-22"}],
        "detail": {
            "state": [{"anything-but": "initializing"}],
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"anything-but": [100, 200, 300]}],
        },
    }
    assert matches(pattern, EC2_EVENT)
    assert not matches(pattern, {**EC2_EVENT, "time": "2018-01-01T00:00:00Z"})


def test_exact_values_and_types() -> None:
    assert matches({"source": ["aws.ec2", "aws.s3"]}, EC2_EVENT)
    assert matches({"source": [{"exact": "aws.ec2"}]}, EC2_EVENT)
    assert not matches({"source": [{"exact": "aws"}]}, EC2_EVENT)
    assert not matches({"source": ["aws.ec2x"]}, EC2_EVENT)
    assert matches({"flag": [True]}, {"flag": True})
    assert not matches({"flag": [True]}, {"flag": 1})
    assert not matches({"n": [1]}, {"n": True})


# -- what AWS refuses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ('{"source": "aws.ec2"}', '"source" must be an object or an array'),
        ('{"source": []}', "Empty arrays are not allowed"),
        ('{"source": [["a"]]}', "Match value must be String, number, true, false, or null"),
        ('{"a": [{"foo": 1}]}', "Unrecognized match type foo"),
        ('{"a": [{"prefix": 1}]}', "prefix match pattern must be a string"),
        ('{"a": [{"suffix": true}]}', "suffix match pattern must be a string"),
        ('{"a": [{"exists": "yes"}]}', "exists match pattern must be either true or false."),
        ('{"a": [{"numeric": 5}]}', "Value of numeric must be an array."),
        ('{"a": [{"numeric": [">", "x"]}]}', "Value of > must be numeric"),
        ('{"a": [{"numeric": [">", 10, "<", 5]}]}', "Bottom must be less than top"),
        ('{"a": [{"numeric": ["<", 6e9]}]}', "out of range"),
        ('{"a": [{"wildcard": "a**b"}]}', "Consecutive wildcard characters at pos 2"),
        ('{"a": [{"cidr": "10.0.0.300/24"}]}', "Nonstandard IP address: 10.0.0.300/24"),
        (
            '{"a": [{"anything-but": [true]}]}',
            "Inside anything but list, start|null|boolean is not supported.",
        ),
        (
            '{"a": [{"anything-but": {"x": 1}}]}',
            "Unsupported anything-but pattern: x",
        ),
        ('{"$or": [{"a": ["b"]}]}', "There must have at least 2 Objects in $or relationship."),
        ('{"$or": {"a": ["b"]}}', "It must be an Array followed with $or."),
        (
            '{"$or": [{"a": ["b"]}, "c"]}',
            "Only JSON object is allowed in array of $or relationship.",
        ),
        ("{}", "Empty objects are not allowed"),
        ('{"a": {}}', "Empty objects are not allowed"),
        ('{"a": [{}]}', "Match expression name not found"),
        ('{"a": [{"prefix": "x", "suffix": "y"}]}', "Only one key allowed in match expression"),
        ('{"a": [{"exact": 5}]}', "exact match pattern must be a string"),
        ('{"a": [{"numeric": [5]}]}', "Invalid member in numeric match: 5"),
        ('{"a": [{"numeric": ["!", 5]}]}', "Unrecognized numeric range operator: !"),
        ('{"a": [{"numeric": ["=", "5"]}]}', "Value of equals must be numeric"),
        ('{"a": [{"numeric": ["<", 5, ">", 1]}]}', "Too many elements in numeric expression"),
        ('{"a": [{"numeric": [">", 1, ">", 5]}]}', "Bad numeric range operator: >"),
        ('{"a": [{"numeric": [">", 1, "<", 5, 6]}]}', "Too many terms in numeric range expression"),
        (
            '{"a": [{"anything-but": ["a", 1]}]}',
            "Inside anything but list, either all values are number or string, mixed type is "
            "not supported",
        ),
        (
            '{"a": [{"anything-but": {"prefix": 1}}]}',
            "prefix/suffix match pattern must be a string",
        ),
        ('{"a": [{"anything-but": {"suffix": ""}}]}', "Null prefix/suffix not allowed"),
        ('["a"]', "Filter is not an object"),
        ('{"a": ', "Invalid JSON"),
        ('{"a": [NaN]}', "Invalid JSON"),
    ],
)
def test_refused_patterns(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError) as exc:
        parse(pattern)
    assert reason in str(exc.value)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        # as a CloudFormation stack reported it from PutRule
        (
            '{"source":["test.event-pattern"],"detail":{"lenderId":"LenderA"}}',
            '"lenderId" must be an object or an array\n at [Source: (String)'
            '"{"source":["test.event-pattern"],"detail":{"lenderId":"LenderA"}}"; line: 1, '
            "column: 56]",
        ),
        # as the rule compiler's own tests give it
        (
            '{"key": [{"wildcard": "abc**def"}]}',
            "Consecutive wildcard characters at pos 4\n at [Source: (String)"
            '"{"key": [{"wildcard": "abc**def"}]}"; line: 1, column: 33]',
        ),
        (
            '{\n  "a": [],\n  "b": ["c"]\n}',
            'Empty arrays are not allowed\n at [Source: (String)"{\n  "a": [],\n  "b": ["c"]\n}"; '
            "line: 2, column: 10]",
        ),
    ],
)
def test_refusals_say_where(pattern: str, message: str) -> None:
    with pytest.raises(PatternError) as exc:
        parse(pattern)
    assert str(exc.value) == message


def test_long_patterns_are_quoted_in_part() -> None:
    pattern = '{"a": [' + ", ".join(f'"{i}"' for i in range(200)) + '], "b": 1}'
    with pytest.raises(PatternError) as exc:
        parse(pattern)
    assert f"[truncated {len(pattern) - 500} chars]; line: 1, column: {len(pattern)}]" in str(
        exc.value
    )


# -- on the wire --------------------------------------------------------------------------------


def test_test_event_pattern(events: Any) -> None:
    event = json.dumps(EC2_EVENT)
    ok = events.test_event_pattern(
        EventPattern=json.dumps(
            {"source": ["aws.ec2"], "detail": {"c-count": [{"numeric": [">", 1]}]}}
        ),
        Event=event,
    )
    assert ok["Result"] is True
    no = events.test_event_pattern(EventPattern='{"source": ["aws.s3"]}', Event=event)
    assert no["Result"] is False
    with pytest.raises(ClientError) as exc:
        events.test_event_pattern(EventPattern='{"source": "aws.s3"}', Event=event)
    assert exc.value.response["Error"]["Code"] == "InvalidEventPatternException"
    assert exc.value.response["Error"]["Message"] == (
        'Event pattern is not valid. Reason: "source" must be an object or an array\n'
        ' at [Source: (String)"{"source": "aws.s3"}"; line: 1, column: 13]'
    )
    with pytest.raises(ClientError) as exc:
        events.test_event_pattern(EventPattern='{"source": ["x"]}', Event='{"source": "x"}')
    assert exc.value.response["Error"]["Code"] == "ValidationException"


def test_put_rule_refuses_a_bad_pattern(events: Any) -> None:
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name="bad-pattern", EventPattern='{"a": [{"wildcard": "**"}]}')
    assert exc.value.response["Error"]["Code"] == "InvalidEventPatternException"
    assert "Consecutive wildcard characters" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        events.describe_rule(Name="bad-pattern")
