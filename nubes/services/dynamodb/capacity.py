"""ConsumedCapacity as DynamoDB rounds it: one write unit per started KB written, one read unit
per started 4 KB read strongly consistently (half that for eventually consistent reads);
transactions cost double.

Every request's units also go to CloudWatch (``AWS/DynamoDB`` ConsumedReadCapacityUnits and
ConsumedWriteCapacityUnits), whether or not it asked for ReturnConsumedCapacity, through the
publisher the provider sets: with one set, units are always computed and only reported when
asked for."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

from nubes.services.dynamodb.models import Table


def write_units(size: int) -> float:
    return float(max(1, math.ceil(size / 1024)))


def read_units(size: int, consistent: bool) -> float:
    units = float(max(1, math.ceil(size / 4096)))
    return units if consistent else units / 2


class Capacity:
    """Units consumed by one request, per table (and per index when asked for INDEXES)."""

    publisher: ClassVar[Callable[[Table, float, float, str | None], None] | None] = None
    """Where consumed units are counted for CloudWatch (set by the DynamoDB provider)."""

    def __init__(self, mode: str | None) -> None:
        self.mode = mode or "NONE"
        self.tables: dict[str, dict[str, Any]] = {}

    @property
    def wanted(self) -> bool:
        """Whether units must be computed (for the response or for CloudWatch)."""
        return self.reported or Capacity.publisher is not None

    @property
    def reported(self) -> bool:
        return self.mode != "NONE"

    def add(
        self, table: Table, read: float = 0.0, write: float = 0.0, index: str | None = None
    ) -> None:
        if Capacity.publisher is not None:
            Capacity.publisher(table, read, write, index)
        if not self.reported:
            return
        entry = self.tables.setdefault(
            table.name, {"read": 0.0, "write": 0.0, "table": [0.0, 0.0], "indexes": {}}
        )
        entry["read"] += read
        entry["write"] += write
        if index is None:
            entry["table"][0] += read
            entry["table"][1] += write
        else:
            per = entry["indexes"].setdefault(index, [0.0, 0.0, table.indexes[index].is_global])
            per[0] += read
            per[1] += write

    def report(self) -> list[dict[str, Any]] | None:
        """The response's ConsumedCapacity; None (left out) when the request did not ask."""
        if not self.reported:
            return None
        return self._entries()

    def _entries(self) -> list[dict[str, Any]]:
        out = []
        for name, entry in self.tables.items():
            item: dict[str, Any] = {"TableName": name, **_units(entry["read"], entry["write"])}
            if self.mode == "INDEXES":
                item["Table"] = _units(*entry["table"])
                for index, (read, write, is_global) in entry["indexes"].items():
                    kind = "GlobalSecondaryIndexes" if is_global else "LocalSecondaryIndexes"
                    item.setdefault(kind, {})[index] = _units(read, write)
            out.append(item)
        return out

    def single(self, table: Table) -> dict[str, Any] | None:
        """The one table's figures (Get/Put/Update/Delete/Query/Scan answer a single one)."""
        if not self.reported:
            return None
        self.tables.setdefault(
            table.name, {"read": 0.0, "write": 0.0, "table": [0.0, 0.0], "indexes": {}}
        )
        return self._entries()[list(self.tables).index(table.name)]


def _units(read: float, write: float) -> dict[str, Any]:
    # DynamoDB reports the combined figure only (no Read/WriteCapacityUnits split).
    return {"CapacityUnits": read + write}
