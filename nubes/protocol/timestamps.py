"""Timestamps in the three wire formats AWS uses: iso8601, rfc822 (HTTP date) and epoch seconds."""

from __future__ import annotations

import calendar
import math
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from botocore.utils import parse_timestamp as _botocore_parse


def to_datetime(value: object) -> datetime:
    """Any timestamp a service or client might hand us, as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return _from_epoch(value)
    if isinstance(value, str):
        return parse(value)
    raise ValueError(f"not a timestamp: {value!r}")


def parse(text: str) -> datetime:
    """Parse any of the wire formats (and the numeric epoch form as a string)."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return _from_epoch(seconds)
    if text[:3].isalpha():
        return parsedate_to_datetime(text).astimezone(UTC)
    dt = _botocore_parse(text)
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


def _from_epoch(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError) as exc:
        # Past what a datetime holds (year 1 to 9999): the client's mistake like any other.
        raise ValueError(f"timestamp out of range: {seconds!r}") from exc


def iso8601(value: object) -> str:
    """``2014-04-29T18:30:38Z``, with milliseconds only when there are any."""
    dt = to_datetime(value).astimezone(UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc822(value: object) -> str:
    """``Tue, 29 Apr 2014 18:30:38 GMT``."""
    return format_datetime(to_datetime(value).astimezone(UTC), usegmt=True)


def epoch_seconds(value: object) -> int | float:
    """Seconds since the epoch: an int when whole, else a float with millisecond precision."""
    if type(value) is float or type(value) is int:
        return _epoch_of_number(value)
    dt = to_datetime(value)
    whole = calendar.timegm(dt.utctimetuple())
    if dt.microsecond:
        return round(whole + dt.microsecond / 1_000_000, 3)
    return whole


_FIRST_SECOND = -62135596800
_LAST_SECOND = 253402300799
"""Year 1 and year 9999, what a datetime holds."""


def _epoch_of_number(seconds: float) -> int | float:
    """``epoch_seconds`` of a number without building a datetime (a GetRecords of thousands of
    records spent a quarter of its time there): the same microsecond rounding (half even) and
    the same range as ``datetime.fromtimestamp``."""
    if type(seconds) is int:
        whole, micros = seconds, 0
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"timestamp out of range: {seconds!r}")
        fraction, integral = math.modf(seconds)
        whole, micros = int(integral), round(fraction * 1_000_000)
        if micros >= 1_000_000:
            whole, micros = whole + 1, micros - 1_000_000
        elif micros < 0:
            whole, micros = whole - 1, micros + 1_000_000
    if not _FIRST_SECOND <= whole <= _LAST_SECOND:
        raise ValueError(f"timestamp out of range: {seconds!r}")
    if micros:
        return round(whole + micros / 1_000_000, 3)
    return whole


def format(value: object, fmt: str) -> str | int | float:
    """Format for a shape's ``timestampFormat`` ('iso8601', 'rfc822', 'unixTimestamp')."""
    if fmt == "rfc822":
        return rfc822(value)
    if fmt == "unixTimestamp":
        return epoch_seconds(value)
    return iso8601(value)
