"""Event source mappings (filled in below)."""

from __future__ import annotations


class EventSourceMappings:
    def start_pollers(self) -> None:
        pass

    async def stop_pollers(self) -> None:
        pass
