"""Background work driven by the one clock: periodic sweeps (TTL, lifecycle, retention) and
wake-ups for anything waiting on time. Advancing the clock runs what became due at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from nubes.core import clock

log = logging.getLogger("nubes.scheduler")


@dataclass
class _Periodic:
    name: str
    interval: float
    fn: Callable[[], None]
    due: float


class Scheduler:
    def __init__(self, run_in_transaction: Callable[[Callable[[], None]], None]) -> None:
        self._periodic: list[_Periodic] = []
        self._on_advance: list[Callable[[], None]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._run_in_transaction = run_in_transaction

    def every(self, name: str, interval: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` (in a store transaction) every ``interval`` seconds of clock time."""
        self._periodic.append(_Periodic(name, interval, fn, clock.now() + interval))
        self.poke()

    def on_advance(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` whenever the clock is moved forward (waiters re-check their deadlines)."""
        self._on_advance.append(fn)

    def advanced(self) -> None:
        for fn in self._on_advance:
            fn()
        self.poke()

    def poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="nubes-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            now = clock.now()
            for task in self._periodic:
                if task.due <= now:
                    try:
                        self._run_in_transaction(task.fn)
                    except Exception:
                        log.exception("periodic task %s failed", task.name)
                    task.due = now + task.interval
            delay = min((t.due - clock.now() for t in self._periodic), default=3600.0)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(delay, 0.01))
