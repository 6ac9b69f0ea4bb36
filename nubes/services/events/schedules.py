"""Schedule expressions of EventBridge rules and EventBridge Scheduler: ``rate(...)``,
``cron(...)`` (AWS's six fields: minutes hours day-of-month month day-of-week year) and, for
Scheduler, one-time ``at(...)``. Each parses into a schedule that answers "the first fire time
after t"; times are epoch seconds, cron fields are read in the schedule's time zone."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
MIN_YEAR, MAX_YEAR = 1970, 2199
MAX_CATCH_UP = 1440
"""Firings of one schedule a single clock jump replays (a day of minutes); a longer jump
resumes at the first boundary after it, so no jump costs more than this."""


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Rate:
    seconds: int

    def next_after(self, t: float, start: float) -> float:
        """The first ``start + k * seconds`` (k >= 1) strictly after ``t``."""
        if t < start:
            return start + self.seconds
        k = int((t - start) // self.seconds) + 1
        return start + k * self.seconds


@dataclass(frozen=True)
class At:
    when: datetime

    def next_after(self, t: float) -> float | None:
        at = self.when.timestamp()
        return at if at > t else None


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: str
    """The day-of-month field as written (``?``, ``L``, ``15W``, lists and ranges)."""
    months: frozenset[int]
    dow: str
    years: frozenset[int]
    tz: ZoneInfo | None = None

    def next_after(self, t: float) -> float | None:
        tz = self.tz or UTC
        local = datetime.fromtimestamp(t, tz).replace(second=0, microsecond=0)
        day = local.date()
        hours = sorted(self.hours)
        minutes = sorted(self.minutes)
        while day.year <= MAX_YEAR:
            if day.year not in self.years:
                day = date(day.year + 1, 1, 1)
                continue
            if day.month not in self.months:
                day = _first_of_next_month(day)
                continue
            if self._day_matches(day):
                for hour in hours:
                    for minute in minutes:
                        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                        stamp = candidate.timestamp()
                        if stamp > t and _exists(candidate, stamp):
                            return stamp
            day += timedelta(days=1)
        return None

    def _day_matches(self, day: date) -> bool:
        if self.dom != "?":
            return _dom_matches(self.dom, day)
        return _dow_matches(self.dow, day)


def _exists(local: datetime, stamp: float) -> bool:
    """Whether a wall-clock time happens in its zone. As AWS does, a time in the spring-forward
    gap is skipped; a repeated autumn time runs once (the first, ``fold=0``)."""
    back = datetime.fromtimestamp(stamp, local.tzinfo)
    return (back.hour, back.minute) == (local.hour, local.minute)


def _first_of_next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _aws_dow(day: date) -> int:
    """AWS numbers days of the week 1 (Sunday) to 7 (Saturday)."""
    return (day.weekday() + 1) % 7 + 1


def _dom_matches(field: str, day: date) -> bool:
    if field == "*":
        return True
    last = _last_day(day)
    for part in field.split(","):
        if part == "L":
            if day.day == last:
                return True
        elif part == "LW":
            target = _nearest_weekday(day, last)
            if day.day == target:
                return True
        elif part.endswith("W"):
            if day.day == _nearest_weekday(day, min(int(part[:-1]), last)):
                return True
        elif day.day in _expand(part, 1, 31, {}):
            return True
    return False


def _nearest_weekday(day: date, target: int) -> int:
    """The weekday (Mon-Fri) nearest ``target`` within the month, as cron's ``W``."""
    wanted = day.replace(day=target)
    weekday = wanted.weekday()
    if weekday < 5:
        return target
    if weekday == 5:  # Saturday: Friday before, unless that leaves the month
        return target - 1 if target > 1 else target + 2
    last = _last_day(day)
    return target + 1 if target < last else target - 2


def _dow_matches(field: str, day: date) -> bool:
    if field == "*":
        return True
    dow = _aws_dow(day)
    for part in field.split(","):
        if "#" in part:
            name, nth = part.split("#")
            if dow == _day_value(name) and (day.day - 1) // 7 + 1 == int(nth):
                return True
        elif part.endswith("L") and part != "L":
            if dow == _day_value(part[:-1]) and day.day + 7 > _last_day(day):
                return True
        elif part == "L":
            if dow == 7:
                return True
        elif dow in _expand(part, 1, 7, _DAYS):
            return True
    return False


def _day_value(text: str) -> int:
    return _DAYS[text.upper()] if text.upper() in _DAYS else int(text)


def _value(text: str, names: dict[str, int]) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not text.isdigit():
        raise ScheduleError(text)
    return int(text)


def _expand(part: str, lo: int, hi: int, names: dict[str, int]) -> set[int]:
    step = 1
    if "/" in part:
        part, step_text = part.split("/", 1)
        if not step_text.isdigit() or int(step_text) == 0:
            raise ScheduleError(part)
        step = int(step_text)
    if part in ("*", "?"):
        start, end = lo, hi
    elif "-" in part:
        a, b = part.split("-", 1)
        start, end = _value(a, names), _value(b, names)
    else:
        start = _value(part, names)
        end = hi if step > 1 else start
    if not (lo <= start <= hi and lo <= end <= hi):
        raise ScheduleError(part)
    if start <= end:
        return set(range(start, end + 1, step))
    # A wrapping range (FRI-MON, NOV-FEB).
    values = list(range(start, hi + 1)) + list(range(lo, end + 1))
    return set(values[::step])


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ScheduleError(text)
        out |= _expand(part, lo, hi, names or {})
    return frozenset(out)


_DOM_PART = re.compile(r"^(\*|\?|L|LW|\d{1,2}W|[\d,\-/*]+)$")
_DOW_PART = re.compile(r"^(\*|\?|L|[1-7A-Za-z]{1,3}L|[1-7A-Za-z]{1,3}#[1-5]|[\dA-Za-z,\-/*]+)$")


def parse_cron(body: str, tz: ZoneInfo | None = None) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ScheduleError(body)
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        # AWS: exactly one of day-of-month and day-of-week is '?'.
        raise ScheduleError(body)
    if not _DOM_PART.match(dom) or not _DOW_PART.match(dow):
        raise ScheduleError(body)
    cron = Cron(
        minutes=_field(minute, 0, 59),
        hours=_field(hour, 0, 23),
        dom=dom.upper(),
        months=_field(month, 1, 12, _MONTHS),
        dow=dow.upper(),
        years=_field(year, MIN_YEAR, MAX_YEAR),
        tz=tz,
    )
    # Check the day fields parse (they are evaluated per day).
    cron._day_matches(date(2024, 1, 1))
    return cron


def parse_rate(text: str) -> Rate:
    found = _RATE.match(text.strip())
    if not found:
        raise ScheduleError(text)
    value, unit = int(found.group(1)), found.group(2)
    if value <= 0 or (value == 1) != (not unit.endswith("s")):
        raise ScheduleError(text)
    return Rate(value * _UNIT_SECONDS[unit.rstrip("s")])


Schedule = Rate | Cron | At


def zone(name: str) -> ZoneInfo:
    """An IANA time zone by name; raises :class:`ScheduleError` for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"Invalid time zone {name}") from None


def parse(text: str, tz_name: str | None = None, allow_at: bool = False) -> Schedule:
    """Parse a schedule expression; raises :class:`ScheduleError` when AWS would refuse it."""
    text = text.strip()
    tz = zone(tz_name) if tz_name else None
    if text.startswith("rate("):
        return parse_rate(text)
    found = _CRON.match(text)
    if found:
        try:
            return parse_cron(found.group(1), tz)
        except (ValueError, KeyError) as exc:
            raise ScheduleError(text) from exc
    found = _AT.match(text)
    if found and allow_at:
        local = datetime.fromisoformat(found.group(1))
        return At(local.replace(tzinfo=tz or UTC))
    raise ScheduleError(text)
