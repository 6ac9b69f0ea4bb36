"""CloudWatch statistics over the samples of one period.

A period's data is a list of stored rows (sample count, sum, minimum, maximum, and the raw values
with their counts when the publisher sent them). Standard statistics come from the aggregates;
extended ones (``p90``, ``tm99``, ``TM(10%:90%)``, ``wm``, ``tc``, ``ts``, ``PR(100:2000)``) need
the raw values, which AWS only has when they were published as values or as a statistic set whose
minimum equals its maximum.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

STANDARD = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^[pP](\d{1,2}(?:\.\d{1,10})?|100(?:\.0{1,10})?)$")
_SHORT = re.compile(r"^(tm|wm|tc|ts|TM|WM|TC|TS)(\d{1,2}(?:\.\d{1,10})?|100(?:\.0{1,10})?)$")
_RANGE = re.compile(
    r"^(tm|wm|tc|ts|pr|TM|WM|TC|TS|PR)\(\s*([-+0-9.eE]*)(%?)\s*:\s*([-+0-9.eE]*)(%?)\s*\)$"
)


@dataclass(slots=True)
class Sample:
    """One stored row: aggregates plus (value, count) pairs when the raw values are known."""

    count: float
    total: float
    low: float
    high: float
    values: Sequence[tuple[float, float]] | None


@dataclass(frozen=True, slots=True)
class Extended:
    """A parsed extended statistic: ``kind`` is p, tm, wm, tc, ts or pr; bounds are either
    percentiles (``percent``) or absolute values."""

    kind: str
    low: float | None
    high: float | None
    percent: bool


def parse_extended(name: str) -> Extended | None:
    """The extended statistic ``name`` names, or None when it is not one AWS accepts."""
    m = _PERCENTILE.match(name)
    if m:
        return Extended("p", None, float(m.group(1)), True)
    m = _SHORT.match(name)
    if m:
        return Extended(m.group(1).lower(), 0.0, float(m.group(2)), True)
    m = _RANGE.match(name)
    if m:
        kind, lo, lo_pct, hi, hi_pct = m.groups()
        if (lo and hi and lo_pct != hi_pct) or (not lo and not hi):
            return None
        try:
            low = float(lo) if lo else None
            high = float(hi) if hi else None
        except ValueError:
            return None
        percent = bool(lo_pct or hi_pct)
        if kind.lower() == "pr" and percent:
            return None
        if percent and any(b is not None and not 0 <= b <= 100 for b in (low, high)):
            return None
        if low is not None and high is not None and low > high:
            return None
        return Extended(kind.lower(), low, high, percent)
    return None


@dataclass(slots=True)
class Aggregate:
    count: float
    total: float
    low: float
    high: float
    values: list[tuple[float, float]] | None
    """Sorted (value, count) pairs, or None when some sample has no raw values."""

    @property
    def average(self) -> float:
        return self.total / self.count if self.count else 0.0

    def standard(self, name: str) -> float:
        if name == "SampleCount":
            return self.count
        if name == "Sum":
            return self.total
        if name == "Minimum":
            return self.low
        if name == "Maximum":
            return self.high
        return self.average

    def statistic(self, name: str) -> float | None:
        """Any statistic by name; None when it cannot be computed from this data."""
        if name in STANDARD:
            return self.standard(name)
        ext = parse_extended(name)
        return None if ext is None else self.extended(ext)

    def extended(self, ext: Extended) -> float | None:
        if self.values is None or not self.values:
            return None
        if ext.kind == "p":
            assert ext.high is not None
            return _percentile(self.values, self.count, ext.high)
        low, high = self._bounds(ext)
        if ext.kind == "pr":
            inside = sum(c for v, c in self.values if _within(v, low, high, ext))
            return 100.0 * inside / self.count
        kept = [(v, c) for v, c in self.values if _within(v, low, high, ext)]
        if ext.kind == "tc":
            return float(sum(c for _, c in kept))
        if ext.kind == "ts":
            return float(sum(v * c for v, c in kept))
        if ext.kind == "tm":
            n = sum(c for _, c in kept)
            return sum(v * c for v, c in kept) / n if n else None
        # wm: values outside the bounds are counted at the bound instead of dropped.
        lo_v = min((v for v, _ in kept), default=None)
        hi_v = max((v for v, _ in kept), default=None)
        if lo_v is None or hi_v is None:
            return None
        total = sum(min(max(v, lo_v), hi_v) * c for v, c in self.values)
        return total / self.count

    def _bounds(self, ext: Extended) -> tuple[float, float]:
        assert self.values is not None
        if not ext.percent:
            return (
                -math.inf if ext.low is None else ext.low,
                math.inf if ext.high is None else ext.high,
            )
        low = -math.inf if not ext.low else _percentile(self.values, self.count, ext.low)
        high = (
            math.inf
            if ext.high is None or ext.high >= 100
            else _percentile(self.values, self.count, ext.high)
        )
        return low, high


def _within(value: float, low: float, high: float, ext: Extended) -> bool:
    # Percentile bounds: lower exclusive, upper inclusive (TM(10%:90%) drops the lowest 10%);
    # absolute bounds include both ends except PR's lower one, as AWS documents.
    if ext.percent or ext.kind == "pr":
        return low < value <= high if low != -math.inf else value <= high
    return low <= value <= high


def _percentile(values: Sequence[tuple[float, float]], count: float, pct: float) -> float:
    """Nearest-rank percentile over sorted (value, count) pairs."""
    if pct <= 0:
        return values[0][0]
    rank = max(1.0, math.ceil(pct / 100.0 * count - 1e-9))
    seen = 0.0
    for value, c in values:
        seen += c
        if seen >= rank:
            return value
    return values[-1][0]


def aggregate(samples: Sequence[Sample]) -> Aggregate | None:
    if len(samples) == 1:
        # The usual period of a metric published once a minute: no merging needed.
        s = samples[0]
        if not s.count:
            return None
        values: list[tuple[float, float]] | None
        if s.values is not None:
            values = list(s.values)
        elif s.count == 1 or s.low == s.high:
            values = [(s.low, s.count)]
        else:
            values = None
        if values is not None and values and values[0][0] < 0:
            values = None
        return Aggregate(s.count, s.total, s.low, s.high, values)
    count = total = 0.0
    low, high = math.inf, -math.inf
    for s in samples:
        count += s.count
        total += s.total
        low = min(low, s.low)
        high = max(high, s.high)
    if count == 0:
        return None
    raw = raw_values(samples)
    merged = sorted(raw.items()) if raw is not None else None
    if merged is not None and merged and merged[0][0] < 0:
        # AWS offers no percentiles for data with negative values.
        merged = None
    return Aggregate(count, total, low, high, merged)


def raw_values(samples: Iterable[Sample]) -> dict[float, float] | None:
    """How many data points had each value, across the samples; None once a sample keeps only
    aggregates (a statistic set of several different values)."""
    raw: dict[float, float] = {}
    for s in samples:
        if s.values is not None:
            for v, c in s.values:
                raw[v] = raw.get(v, 0.0) + c
        elif s.count == 1 or s.low == s.high:
            raw[s.low] = raw.get(s.low, 0.0) + s.count
        else:
            return None
    return raw
