"""ElastiCache events: what happened to clusters, groups and caches, kept 14 days for
DescribeEvents and published to a cluster's notification topic (SNS) when it has one."""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime
from typing import Any

from nubes.core import clock
from nubes.protocol.base import ServiceError
from nubes.services.elasticache.records import Records, Scope

Json = dict[str, Any]
KEEP = 14 * 86_400


def _seconds(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


class Events(Records):
    def _event(
        self, ctx: Scope, source_type: str, source: str, message: str, topic: str | None = None
    ) -> None:
        now = clock.now()
        key = f"{now:017.6f}-{uuid.uuid4().hex[:8]}"
        doc: Json = {
            "SourceIdentifier": source,
            "SourceType": source_type,
            "Message": message,
            "Date": now,
            "_key": key,
        }
        self._put(ctx, "event", key, doc)
        if topic:
            # A topic gone or closed to ElastiCache loses the notification, as on AWS.
            with contextlib.suppress(ServiceError):
                self.env.providers.invoke(
                    "sns",
                    "Publish",
                    {"TopicArn": topic, "Subject": "ElastiCache event", "Message": message},
                    ctx.account_id,
                    ctx.region,
                )
        self.store.execute(
            "DELETE FROM elasticache_records WHERE account = ? AND region = ? AND kind = 'event' "
            "AND name < ?",
            (ctx.account_id, ctx.region, f"{now - KEEP:017.6f}"),
        )

    def describe_events(self, ctx: Scope, req: Json) -> Json:
        end = _seconds(req.get("EndTime"), clock.now())
        start = _seconds(req.get("StartTime"), end - 60 * (req.get("Duration") or 60))
        events = [
            e
            for e in self._all(ctx, "event")
            if start <= e["Date"] <= end
            and (not req.get("SourceType") or e["SourceType"] == req["SourceType"])
            and (
                not req.get("SourceIdentifier") or e["SourceIdentifier"] == req["SourceIdentifier"]
            )
        ]
        page, marker = self._page(events, req, "_key")
        return {
            "Events": [{k: v for k, v in e.items() if k != "_key"} for e in page],
            **({"Marker": marker} if marker else {}),
        }
