"""The one way a service publishes CloudWatch metrics.

A service calls ``env.metrics.publish(...)`` for datapoints it produces as things happen
(Lambda's Duration, an ALB's RequestCount), or registers a collector with
``env.metrics.collector(fn)`` for gauges sampled at each minute boundary of the one clock
(SQS's ApproximateNumberOfMessagesVisible, EC2's CPUUtilization). The CloudWatch provider is the
sink: it stores the datapoints and evaluates alarms over them. Until a sink is attached (or when
CloudWatch is not loaded yet), published points wait in a small bounded buffer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


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


Collector = Callable[[float], Iterable[Datapoint]]
"""Called with the minute boundary just reached; returns the gauges sampled at that time."""


class Sink(Protocol):
    def store_datapoints(self, points: Iterable[Datapoint]) -> None: ...


class Metrics:
    BUFFER = 100_000

    def __init__(self) -> None:
        self._sink: Sink | None = None
        self._pending: deque[Datapoint] = deque(maxlen=self.BUFFER)
        self.collectors: list[Collector] = []

    def attach(self, sink: Sink) -> None:
        self._sink = sink
        if self._pending:
            points = list(self._pending)
            self._pending.clear()
            sink.store_datapoints(points)

    def publish(self, point: Datapoint) -> None:
        self.publish_many((point,))

    def publish_many(self, points: Iterable[Datapoint]) -> None:
        if self._sink is None:
            self._pending.extend(points)
        else:
            self._sink.store_datapoints(points)

    def collector(self, fn: Collector) -> None:
        if fn not in self.collectors:
            self.collectors.append(fn)

    def collect(self, boundary: float) -> list[Datapoint]:
        """What every collector samples at ``boundary`` (the sink calls this each minute)."""
        points: list[Datapoint] = []
        for fn in self.collectors:
            points.extend(fn(boundary))
        return points
