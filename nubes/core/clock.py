"""The one clock every timer reads: real time plus an offset tests can advance."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

_offset = 0.0


def now() -> float:
    """Seconds since the epoch, as the emulated world sees them."""
    return time.time() + _offset


def utcnow() -> datetime:
    return datetime.fromtimestamp(now(), UTC)


MAX_OFFSET = 1000 * 365.25 * 86400
"""How far ahead the clock may run: every date it gives (plus retention periods and expiries
added to it) stays within what datetimes and AWS's timestamp formats can hold."""


def advance(seconds: float) -> float:
    """Move the clock forward (tests use ``POST /_nubes/clock``); returns the new time.

    Anything but a finite, non-negative number of seconds that keeps the clock within
    :data:`MAX_OFFSET` raises ValueError and leaves the clock where it was: one NaN would
    otherwise poison every timestamp until restart."""
    global _offset
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError("the advance must be a number of seconds")
    if not math.isfinite(seconds):
        raise ValueError("the advance must be a finite number of seconds")
    if seconds < 0:
        raise ValueError("the clock only moves forward")
    if _offset + seconds > MAX_OFFSET:
        raise ValueError(f"the clock may run at most {MAX_OFFSET:.0f} seconds ahead")
    _offset += seconds
    return now()


def offset() -> float:
    return _offset


def reset() -> None:
    global _offset
    _offset = 0.0
