"""Unit tests of S3 object keys: prefix expressions, defaults and the validation rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from nubes.services.firehose import prefixes

WHEN = datetime(2018, 8, 27, 10, 30, 5, tzinfo=UTC)


def test_default_prefix_is_the_hour() -> None:
    assert prefixes.object_prefix("", WHEN) == "2018/08/27/10/"
    assert prefixes.object_prefix("myFirehosePrefix/", WHEN) == "myFirehosePrefix/2018/08/27/10/"


def test_timestamp_patterns_and_quoted_text() -> None:
    prefix = "myPrefix/!{timestamp:'year='yyyy'/month='MM'/day='dd'/hour='HH}/"
    assert prefixes.object_prefix(prefix, WHEN) == "myPrefix/year=2018/month=08/day=27/hour=10/"
    assert prefixes.evaluate("!{timestamp:yy-M-d H:mm:ss}", WHEN) == "18-8-27 10:30:05"


def test_random_string_is_new_each_time() -> None:
    out = prefixes.object_prefix("a/!{firehose:random-string}/!{firehose:random-string}/", WHEN)
    first, second = re.fullmatch(r"a/([a-z0-9]{11})/([a-z0-9]{11})/2018/08/27/10/", out).groups()  # type: ignore[union-attr]
    assert first != second


def test_error_prefixes() -> None:
    assert (
        prefixes.error_prefix("myFirehosePrefix/", None, WHEN, "processing-failed")
        == "myFirehosePrefix/processing-failed/2018/08/27/10/"
    )
    assert (
        prefixes.error_prefix(
            "x/", "fail/!{firehose:error-output-type}/!{timestamp:yyyy}/", WHEN, "processing-failed"
        )
        == "fail/processing-failed/2018/"
    )


def test_suffix() -> None:
    out = prefixes.suffix("hose", 3, WHEN, ".gz")
    assert re.fullmatch(r"hose-3-2018-08-27-10-30-05-[0-9a-f-]{36}\.gz", out)


@pytest.mark.parametrize(
    ("prefix", "error_prefix"),
    [
        ("!{timestamp:yyyy}/", None),
        ("!{firehose:error-output-type}/", "e/!{firehose:error-output-type}/"),
        ("ok/", "e/!{timestamp:yyyy}/"),
        ("!{partitionKeyFromQuery:id}/", "e/!{firehose:error-output-type}/"),
        ("a/!{/", None),
        ("!{timestamp:qqq}/", "e/!{firehose:error-output-type}/"),
    ],
)
def test_rules(prefix: str, error_prefix: str | None) -> None:
    with pytest.raises(prefixes.PrefixError):
        prefixes.validate(prefix, error_prefix)


def test_valid_pairs() -> None:
    prefixes.validate("plain/", None)
    prefixes.validate(None, "e/!{firehose:error-output-type}/")
    prefixes.validate("d=!{timestamp:yyyy-MM-dd}/", "e/!{firehose:error-output-type}/")
