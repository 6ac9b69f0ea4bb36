"""Alarm state decisions as AWS documents them ("Configuring how CloudWatch alarms treat missing
data": an alarm with 3 datapoints to alarm out of 5 evaluation periods, rows of datapoints with
0 = not breaching, X = breaching, - = missing, and the state for each TreatMissingData), M-of-N,
every comparison operator, composite alarm rules, and extended statistic names."""

from __future__ import annotations

import pytest

from nubes.runtime.alarms import rules
from nubes.runtime.alarms.evaluate import Point, decide
from nubes.runtime.alarms.stats import parse_extended

RETAIN = "retain"

# Rows of the documentation's table: datapoints (oldest first) -> missing, ignore, breaching,
# notBreaching.
DOC_TABLE = [
    ("0 - X - X", "OK", "OK", "ALARM", "OK"),
    ("- - - - -", "INSUFFICIENT_DATA", RETAIN, "ALARM", "OK"),
    ("0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("- - X - -", "ALARM", RETAIN, "ALARM", "OK"),
    ("0 0 X 0 0", "OK", "OK", "OK", "OK"),
]


def _window(row: str, threshold: float = 10.0) -> list[Point]:
    values = {"0": threshold - 1, "X": threshold + 1, "-": None}
    return [Point(60.0 * i, values[c], 1.0 if c != "-" else 0.0) for i, c in enumerate(row.split())]


def _alarm(
    treat: str, n: int = 5, m: int = 3, op: str = "GreaterThanThreshold"
) -> dict[str, object]:
    return {
        "EvaluationPeriods": n,
        "DatapointsToAlarm": m,
        "ComparisonOperator": op,
        "Threshold": 10.0,
        "TreatMissingData": treat,
        "Statistic": "Average",
        "Period": 60,
        "Namespace": "Custom",
    }


@pytest.mark.parametrize(("row", "missing", "ignore", "breaching", "not_breaching"), DOC_TABLE)
def test_treat_missing_data_table(
    row: str, missing: str, ignore: str, breaching: str, not_breaching: str
) -> None:
    for treat, expected in (
        ("missing", missing),
        ("ignore", ignore),
        ("breaching", breaching),
        ("notBreaching", not_breaching),
    ):
        for current in ("OK", "ALARM", "INSUFFICIENT_DATA"):
            decision = decide(_alarm(treat), _window(row), current, 300.0)
            got = RETAIN if decision is None else decision.state
            assert got == expected, (row, treat, current)


@pytest.mark.parametrize(
    ("row", "missing", "ignore", "breaching", "not_breaching"),
    [
        ("0 0 X", "OK", "OK", "OK", "OK"),
        ("0 - X", "OK", "OK", "OK", "OK"),
        ("- - 0", "OK", "OK", "OK", "OK"),
        ("- - X", "ALARM", RETAIN, "ALARM", "OK"),
    ],
)
def test_three_of_three_with_missing_points(
    row: str, missing: str, ignore: str, breaching: str, not_breaching: str
) -> None:
    """Few datapoints, all breaching: ``missing`` alarms, ``ignore`` keeps the state."""
    for treat, expected in (
        ("missing", missing),
        ("ignore", ignore),
        ("breaching", breaching),
        ("notBreaching", not_breaching),
    ):
        decision = decide(_alarm(treat, n=3, m=3), _window(row), "OK", 180.0)
        assert (RETAIN if decision is None else decision.state) == expected, (row, treat)


def test_m_of_n() -> None:
    alarm = _alarm("missing", n=3, m=2)
    assert decide(alarm, _window("X 0 X"), "OK", 0).state == "ALARM"  # type: ignore[union-attr]
    assert decide(alarm, _window("X 0 0"), "ALARM", 0).state == "OK"  # type: ignore[union-attr]
    single = _alarm("missing", n=3, m=3)
    assert decide(single, _window("X 0 X"), "OK", 0).state == "OK"  # type: ignore[union-attr]


def test_dynamodb_alarms_always_ignore_missing_data() -> None:
    alarm = {**_alarm("breaching"), "Namespace": "AWS/DynamoDB"}
    assert decide(alarm, _window("- - - - -"), "OK", 0) is None


@pytest.mark.parametrize(
    ("op", "value", "breaches"),
    [
        ("GreaterThanOrEqualToThreshold", 10.0, True),
        ("GreaterThanOrEqualToThreshold", 9.0, False),
        ("GreaterThanThreshold", 10.0, False),
        ("LessThanThreshold", 9.0, True),
        ("LessThanThreshold", 10.0, False),
        ("LessThanOrEqualToThreshold", 10.0, True),
        ("LessThanOrEqualToThreshold", 11.0, False),
    ],
)
def test_comparison_operators(op: str, value: float, breaches: bool) -> None:
    alarm = _alarm("missing", n=1, m=1, op=op)
    decision = decide(alarm, [Point(0.0, value, 1.0)], "INSUFFICIENT_DATA", 60.0)
    assert decision is not None
    assert decision.state == ("ALARM" if breaches else "OK")


def test_band_operators_use_the_threshold_of_each_point() -> None:
    alarm = {**_alarm("missing", n=1, m=1, op="LessThanLowerOrGreaterThanUpperThreshold")}
    alarm.pop("Threshold")
    inside = decide(alarm, [Point(0.0, 5.0, 1.0, (1.0, 9.0))], "OK", 60.0)
    outside = decide(alarm, [Point(0.0, 15.0, 1.0, (1.0, 9.0))], "OK", 60.0)
    assert (inside.state, outside.state) == ("OK", "ALARM")  # type: ignore[union-attr]


def test_reason_and_reason_data_as_aws_writes_them() -> None:
    alarm = _alarm("missing", n=1, m=1, op="GreaterThanOrEqualToThreshold")
    decision = decide(alarm, [Point(1796659200.0, 15.0, 3.0)], "OK", 1796659260.0)
    assert decision is not None
    assert decision.reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [15.0 (07/12/26 16:00:00)] was "
        "greater than or equal to the threshold (10.0) (minimum 1 datapoint for OK -> ALARM "
        "transition)."
    )
    assert decision.reason_data == {
        "version": "1.0",
        "queryDate": "2026-12-07T16:01:00.000+0000",
        "startDate": "2026-12-07T16:00:00.000+0000",
        "statistic": "Average",
        "period": 60,
        "recentDatapoints": [15.0],
        "threshold": 10.0,
        "evaluatedDatapoints": [
            {"timestamp": "2026-12-07T16:00:00.000+0000", "sampleCount": 3.0, "value": 15.0}
        ],
    }
    empty = decide(_alarm("missing", n=2, m=1), _window("- -"), "OK", 0)
    assert empty is not None and empty.reason == "Insufficient Data: 2 datapoints were unknown."
    filled = decide(_alarm("breaching", n=2, m=2), _window("- -"), "OK", 0)
    assert filled is not None and filled.reason == (
        "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints "
        "were treated as [Breaching]."
    )


def test_low_sample_count_percentiles_can_be_ignored() -> None:
    alarm = {
        **_alarm("missing", n=1, m=1),
        "ExtendedStatistic": "p99",
        "EvaluateLowSampleCountPercentile": "ignore",
    }
    # p99 needs 10 / (1 - 0.99) = 1000 samples to be significant.
    assert decide(alarm, [Point(0.0, 50.0, 20.0)], "OK", 60.0) is None
    alarm["EvaluateLowSampleCountPercentile"] = "evaluate"
    assert decide(alarm, [Point(0.0, 50.0, 20.0)], "OK", 60.0).state == "ALARM"  # type: ignore[union-attr]


def test_composite_rules() -> None:
    rule = rules.parse(
        'ALARM(a) AND NOT (OK("b c") OR INSUFFICIENT_DATA(arn:aws:cloudwatch:us-east-1:1:alarm:d))'
    )
    assert rules.referenced(rule) == ["a", "b c", "arn:aws:cloudwatch:us-east-1:1:alarm:d"]
    states = {"a": "ALARM", "b c": "ALARM", "arn:aws:cloudwatch:us-east-1:1:alarm:d": "OK"}
    assert rules.holds(rule, states.get)
    states["b c"] = "OK"
    assert not rules.holds(rule, states.get)
    assert rules.holds(rules.parse("TRUE OR FALSE"), states.get)
    for broken in ("ALARM(a) AND", "ALARM(a) OR (OK(b)", "ALARMS(a)", ""):
        with pytest.raises(rules.RuleError):
            rules.parse(broken)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("p90", True),
        ("p99.9", True),
        ("p100", True),
        ("p101", False),
        ("tm99", True),
        ("TM(10%:90%)", True),
        ("tm(:95%)", True),
        ("WM(1:10)", True),
        ("PR(100:2000)", True),
        ("PR(10%:20%)", False),
        ("TC(90%:10%)", False),
        ("Average", False),
    ],
)
def test_extended_statistic_names(name: str, valid: bool) -> None:
    assert (parse_extended(name) is not None) is valid
