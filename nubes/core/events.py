"""The one way a service emits an AWS event to EventBridge.

``env.events.emit(Event(...))`` hands an event in AWS's shape (source, detail-type, detail,
resources) to the account and region's default event bus. The EventBridge provider is the sink:
an event loads it (it attaches itself when made) once EventBridge has state; before that no rule
or archive could take the event, so it goes nowhere, as on AWS. Should the sink fail to load,
events wait in a small bounded buffer until one attaches.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
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


log = logging.getLogger("nubes.events")


class Sink(Protocol):
    def deliver_service_event(self, event: Event) -> None: ...


class Events:
    BUFFER = 10_000

    def __init__(self, load: Callable[[], object | None] | None = None) -> None:
        self._sink: Sink | None = None
        self._pending: deque[Event] = deque(maxlen=self.BUFFER)
        self._loading = False
        self._load = load
        """Loads the sink's provider (which attaches itself), or answers None when nothing
        could receive an event yet: EventBridge comes on demand."""

    def attach(self, sink: Sink) -> None:
        self._sink = sink
        while self._pending:
            sink.deliver_service_event(self._pending.popleft())

    def emit(self, event: Event) -> None:
        if self._sink is None and self._load is not None and not self._loading:
            self._loading = True  # making the sink may emit events of its own
            try:
                loaded = self._load()
            except Exception:
                log.exception("the events sink could not be loaded")
                loaded = self  # keep the event for when a sink attaches
            finally:
                self._loading = False
            if loaded is None:
                return  # nothing could take the event yet
        if self._sink is None:
            self._pending.append(event)
        else:
            self._sink.deliver_service_event(event)
