"""Which instance a shrinking group terminates, by the termination policies AWS documents.

Auto Scaling first picks the Availability Zone with the most instances among those holding an
unprotected one (balancing the zones), then applies the group's policies in order within it:
each narrows the candidates, and whatever is still tied after the last one goes through
``Default``; a final tie is broken at random."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

POLICIES = (
    "Default",
    "AllocationStrategy",
    "OldestLaunchTemplate",
    "OldestLaunchConfiguration",
    "ClosestToNextInstanceHour",
    "NewestInstance",
    "OldestInstance",
)


@dataclass(frozen=True)
class Candidate:
    instance_id: str
    zone: str
    launched: float
    """Launch time, seconds since the epoch."""
    config: str
    """The launch configuration name or ``<template id>:<version>`` it was launched from."""
    version: int
    """The launch template version (0 for a launch configuration)."""
    current: bool
    """Launched from what the group launches from now."""


Rule = Callable[[list[Candidate], float], list[Candidate]]


def _lowest(cands: list[Candidate], key: Callable[[Candidate], float]) -> list[Candidate]:
    best = min(key(c) for c in cands)
    return [c for c in cands if key(c) == best]


def _oldest_config(cands: list[Candidate], now: float) -> list[Candidate]:
    """Instances not launched from the group's current configuration first, oldest of those."""
    stale = [c for c in cands if not c.current]
    if not stale:
        return cands
    return _lowest(stale, lambda c: c.version)


def _oldest_template(cands: list[Candidate], now: float) -> list[Candidate]:
    stale = [c for c in cands if not c.current and c.version]
    return _lowest(stale, lambda c: c.version) if stale else cands


def _oldest_launch_configuration(cands: list[Candidate], now: float) -> list[Candidate]:
    stale = [c for c in cands if not c.current and not c.version]
    return stale or cands


def _next_hour(cands: list[Candidate], now: float) -> list[Candidate]:
    return _lowest(cands, lambda c: 3600 - (now - c.launched) % 3600)


RULES: dict[str, Rule] = {
    "AllocationStrategy": lambda cands, now: cands,
    "OldestLaunchTemplate": _oldest_template,
    "OldestLaunchConfiguration": _oldest_launch_configuration,
    "ClosestToNextInstanceHour": _next_hour,
    "NewestInstance": lambda cands, now: _lowest(cands, lambda c: -c.launched),
    "OldestInstance": lambda cands, now: _lowest(cands, lambda c: c.launched),
}
DEFAULT: tuple[Rule, ...] = (_oldest_config, _next_hour)


def choose(
    candidates: Sequence[Candidate],
    policies: Sequence[str],
    now: float,
    zones: Counter[str] | None = None,
    rng: random.Random | None = None,
) -> Candidate | None:
    """The instance to terminate next among ``candidates`` (unprotected, in service);
    ``zones`` counts every instance of the group by zone, protected ones included."""
    if not candidates:
        return None
    counts = zones or Counter(c.zone for c in candidates)
    eligible = {c.zone for c in candidates}
    most = max(counts[z] for z in eligible)
    zone = min(z for z in eligible if counts[z] == most)
    cands = [c for c in candidates if c.zone == zone]
    for name in policies:
        if len(cands) == 1:
            break
        if name == "Default":
            break
        cands = RULES[name](cands, now)
    for rule in DEFAULT:
        if len(cands) == 1:
            break
        cands = rule(cands, now)
    cands.sort(key=lambda c: c.instance_id)
    return (rng or random).choice(cands)
