"""The one clock every timer reads: real time plus an offset tests can advance."""

from __future__ import annotations

import time
from datetime import UTC, datetime

_offset = 0.0


def now() -> float:
    """Seconds since the epoch, as the emulated world sees them."""
    return time.time() + _offset


def utcnow() -> datetime:
    return datetime.fromtimestamp(now(), UTC)


def advance(seconds: float) -> float:
    """Move the clock forward (tests use ``POST /_nubes/clock``); returns the new time."""
    global _offset
    if seconds < 0:
        raise ValueError("the clock only moves forward")
    _offset += seconds
    return now()


def offset() -> float:
    return _offset


def reset() -> None:
    global _offset
    _offset = 0.0
