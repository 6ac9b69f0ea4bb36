"""The one way a service publishes CloudWatch metrics.

A service calls ``env.metrics.publish(...)`` for datapoints it produces as things happen, or
``env.metrics.record(...)`` on hot paths (a message sent, a request served): recorded values are
only counted in memory and handed over once per minute, as one datapoint per metric and minute
carrying every value with its count (what ``PutMetricData`` with ``Values``/``Counts`` stores).
Gauges (SQS's ApproximateNumberOfMessagesVisible, EC2's CPUUtilization) come from collectors
registered with ``env.metrics.collector(fn)``, sampled at each minute boundary of the one clock;
a collected point without a timestamp describes the minute that just ended.

The CloudWatch provider is the sink: it stores the datapoints and evaluates alarms over them,
and at each minute boundary it takes :meth:`Metrics.flush` and :meth:`Metrics.collect` (when the
clock jumps, collectors are sampled once and their gauges repeated over the minutes alarms look
at). The first datapoint published or recorded loads it (through the loader the environment
gives); until a sink is attached, published points wait in a small bounded buffer.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from nubes.core import clock


@dataclass(frozen=True, slots=True)
class Datapoint:
    account_id: str
    region: str
    namespace: str
    name: str
    value: float
    unit: str = "None"
    dimensions: Mapping[str, str] = field(default_factory=dict)
    timestamp: float | None = None
    """Seconds since the epoch on the one clock; None means now."""
    resolution: int = 60
    """StorageResolution: 60 (standard) or 1 (high resolution)."""
    samples: tuple[tuple[float, float], ...] = ()
    """(value, count) pairs when the point stands for many values (then ``value`` is unused)."""


Collector = Callable[[float], Iterable[Datapoint]]
"""Called with the minute boundary just reached; returns the gauges sampled at that time."""


class Sink(Protocol):
    def store_datapoints(self, points: Iterable[Datapoint]) -> None: ...


_Key = tuple[float, str, str, str, str, str, tuple[tuple[str, str], ...]]


class Metrics:
    BUFFER = 100_000
    MAX_KEYS = 100_000
    """Recorded series held between flushes; beyond this, new ones are dropped until the next."""

    def __init__(self, loader: Callable[[], object] | None = None) -> None:
        self._sink: Sink | None = None
        self._loader = loader
        self._loading = False
        self._pending: deque[Datapoint] = deque(maxlen=self.BUFFER)
        self._recorded: dict[_Key, dict[float, float]] = {}
        self.collectors: list[Collector] = []

    def attach(self, sink: Sink) -> None:
        self._sink = sink
        if self._pending:
            points = list(self._pending)
            self._pending.clear()
            sink.store_datapoints(points)

    def _ensure_sink(self) -> None:
        """Load the sink: right after the current request when one runs (a provider made
        inside a request's transaction would lose its tables if that request failed)."""
        if self._sink is not None or self._loader is None or self._loading:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._load()
            return
        self._loading = True
        loop.call_soon(self._load)

    def _load(self) -> None:
        self._loading = True
        try:
            if self._sink is None and self._loader is not None:
                self._loader()
        finally:
            self._loading = False

    def publish(self, point: Datapoint) -> None:
        self.publish_many((point,))

    def publish_many(self, points: Iterable[Datapoint]) -> None:
        self._ensure_sink()
        if self._sink is None:
            self._pending.extend(points)
        else:
            self._sink.store_datapoints(points)

    def record(
        self,
        account_id: str,
        region: str,
        namespace: str,
        name: str,
        value: float = 1.0,
        unit: str = "Count",
        dimensions: Mapping[str, str] | None = None,
    ) -> None:
        """Count ``value`` towards this minute's datapoint of the metric (cheap: a dict update)."""
        minute = math.floor(clock.now() / 60) * 60.0
        dims = tuple(sorted(dimensions.items())) if dimensions else ()
        key = (minute, account_id, region, namespace, name, unit, dims)
        values = self._recorded.get(key)
        if values is None:
            if not self._recorded:
                self._ensure_sink()
            if len(self._recorded) >= self.MAX_KEYS:
                return
            values = self._recorded[key] = {}
        values[value] = values.get(value, 0.0) + 1.0

    def collector(self, fn: Collector) -> None:
        if fn not in self.collectors:
            self.collectors.append(fn)

    def collect(self, boundary: float) -> list[Datapoint]:
        """What every collector samples at ``boundary`` (the sink calls this each minute);
        points without a timestamp are stamped with the start of the minute that just ended."""
        points: list[Datapoint] = []
        for fn in self.collectors:
            for point in fn(boundary):
                points.append(
                    point
                    if point.timestamp is not None
                    else replace(point, timestamp=boundary - 60)
                )
        return points

    def flush(self, boundary: float) -> list[Datapoint]:
        """The recorded values of every minute before ``boundary``, one datapoint per metric and
        minute; they are forgotten here (the sink stores what this returns)."""
        due = [key for key in self._recorded if key[0] < boundary]
        points = []
        for key in due:
            values = self._recorded.pop(key)
            minute, account, region, namespace, name, unit, dims = key
            points.append(
                Datapoint(
                    account,
                    region,
                    namespace,
                    name,
                    0.0,
                    unit,
                    dict(dims),
                    minute,
                    samples=tuple(sorted(values.items())),
                )
            )
        return points

    def reset(self) -> None:
        self._pending.clear()
        self._recorded.clear()
