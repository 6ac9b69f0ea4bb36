"""The one way a service emits an AWS event to EventBridge.

``env.events.emit(Event(...))`` hands an event in AWS's shape (source, detail-type, detail,
resources) to the account and region's default event bus. The EventBridge provider is the sink;
until it is attached, events wait in a small bounded buffer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Event:
    account_id: str
    region: str
    source: str
    """e.g. ``aws.cloudwatch``, ``aws.s3``, ``aws.ec2``, ``aws.autoscaling``."""
    detail_type: str
    """e.g. ``CloudWatch Alarm State Change``, ``Object Created``."""
    detail: Mapping[str, Any]
    resources: Sequence[str] = field(default_factory=tuple)
    time: float | None = None
    """Seconds since the epoch on the one clock; None means now."""


class Sink(Protocol):
    def deliver_service_event(self, event: Event) -> None: ...


class Events:
    BUFFER = 10_000

    def __init__(self) -> None:
        self._sink: Sink | None = None
        self._pending: deque[Event] = deque(maxlen=self.BUFFER)

    def attach(self, sink: Sink) -> None:
        self._sink = sink
        while self._pending:
            sink.deliver_service_event(self._pending.popleft())

    def emit(self, event: Event) -> None:
        if self._sink is None:
            self._pending.append(event)
        else:
            self._sink.deliver_service_event(event)
