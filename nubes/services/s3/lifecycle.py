"""Lifecycle rules applied on the nubes clock: expiration of current objects (by days or date),
of noncurrent versions, of lone delete markers, and abort of stale multipart uploads.

Like S3, an object becomes eligible at the first midnight UTC after its age reaches the rule's
days. The sweep runs every simulated hour, so advancing the clock past a day applies it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.protocol.base import ServiceError
from nubes.services.s3.models import load_attrs
from nubes.services.s3.storage import body_ledger

if TYPE_CHECKING:
    from nubes.services.s3.provider import S3Provider
    from nubes.store import Row

log = logging.getLogger("nubes.s3")

DAY = 86400
SWEEP_INTERVAL = 3600.0


def due_at(start: float, days: int) -> float:
    """When an object made at ``start`` expires after ``days``: the following midnight UTC."""
    return math.ceil((start + days * DAY) / DAY) * DAY


def rule_filter(rule: dict[str, Any]) -> tuple[str, dict[str, str], int | None, int | None]:
    """(prefix, tags, size greater than, size less than) of a rule's filter."""
    filt = rule.get("Filter") or {}
    combined = filt.get("And") or {}
    prefix = rule.get("Prefix") or filt.get("Prefix") or combined.get("Prefix") or ""
    tags = {t["Key"]: t["Value"] for t in combined.get("Tags") or []}
    if filt.get("Tag"):
        tags[filt["Tag"]["Key"]] = filt["Tag"]["Value"]
    greater = filt.get("ObjectSizeGreaterThan", combined.get("ObjectSizeGreaterThan"))
    less = filt.get("ObjectSizeLessThan", combined.get("ObjectSizeLessThan"))
    return prefix, tags, greater, less


def applies(rule: dict[str, Any], key: str, size: int, tags: dict[str, str]) -> bool:
    prefix, wanted, greater, less = rule_filter(rule)
    if not key.startswith(prefix):
        return False
    if greater is not None and size <= greater:
        return False
    if less is not None and size >= less:
        return False
    return all(tags.get(k) == v for k, v in wanted.items())


def _row_applies(rule: dict[str, Any], row: Row) -> bool:
    tags: dict[str, str] = {}
    if rule_filter(rule)[1]:
        tags = load_attrs(row["attrs"]).get("Tags") or {}
    return applies(rule, row["key"], row["size"], tags)


def expiration(
    document: dict[str, Any] | None, key: str, made: float, size: int, tags: dict[str, str]
) -> tuple[float, str] | None:
    """When the first enabled expiration rule matching an object expires it, and the rule's
    id (what ``x-amz-expiration`` reports)."""
    for rule in (document or {}).get("Rules") or []:
        days = (rule.get("Expiration") or {}).get("Days")
        date = (rule.get("Expiration") or {}).get("Date")
        if rule.get("Status") != "Enabled" or not applies(rule, key, size, tags):
            continue
        if days is not None:
            return due_at(made, days), rule.get("ID", "")
        if isinstance(date, datetime):
            return date.timestamp(), rule.get("ID", "")
    return None


class Lifecycle:
    def __init__(self, provider: S3Provider) -> None:
        self.provider = provider

    def start(self) -> None:
        self.provider.env.scheduler.every("s3-lifecycle", SWEEP_INTERVAL, self.sweep)

    def sweep(self) -> None:
        """Runs in the scheduler's transaction; bodies are deleted once it has committed."""
        provider = self.provider
        now = clock.now()
        # The scheduler commits after this returns: bodies go once the loop runs again.
        with body_ledger(provider.blobs, settle=False) as bodies:
            for name, document in provider.db.configs("lifecycle"):
                bucket = provider.db.bucket(name)
                if bucket is None:
                    continue
                for rule in document.get("Rules") or []:
                    if rule.get("Status") == "Enabled":
                        self.apply(bucket, rule, now)
        if bodies.dropped:
            asyncio.get_running_loop().call_soon(self._delete_blobs, bodies.dropped)

    def _delete_blobs(self, blob_ids: list[str]) -> None:
        for blob_id in blob_ids:
            self.provider.blobs.delete(blob_id)

    def apply(self, bucket: Any, rule: dict[str, Any], now: float) -> None:
        provider = self.provider
        prefix = rule_filter(rule)[0]
        expiration = rule.get("Expiration") or {}
        days, date = expiration.get("Days"), expiration.get("Date")
        if days is not None or date is not None:
            for row in provider.db.under_prefix(bucket.name, prefix, latest=True):
                if row["delete_marker"] or not _row_applies(rule, row):
                    continue
                expired = (
                    now >= due_at(row["last_modified"], days)
                    if days is not None
                    else isinstance(date, datetime) and now >= date.timestamp()
                )
                if expired:
                    self._expire(bucket, row["key"], None)
        noncurrent = rule.get("NoncurrentVersionExpiration") or {}
        if noncurrent.get("NoncurrentDays") is not None:
            for row in provider.db.under_prefix(bucket.name, prefix, latest=False):
                since = row["superseded"] or row["last_modified"]
                if _row_applies(rule, row) and now >= due_at(since, noncurrent["NoncurrentDays"]):
                    self._expire(bucket, row["key"], row["version_id"])
        if expiration.get("ExpiredObjectDeleteMarker"):
            for row in provider.db.under_prefix(bucket.name, prefix, latest=True):
                if row["delete_marker"] and provider.db.version_count(bucket.name, row["key"]) == 1:
                    self._expire(bucket, row["key"], row["version_id"])
        abort = rule.get("AbortIncompleteMultipartUpload") or {}
        if abort.get("DaysAfterInitiation") is not None:
            cutoff = now - abort["DaysAfterInitiation"] * DAY
            for upload in provider.db.stale_uploads(bucket.name, prefix, cutoff):
                parts = provider.db.delete_upload(upload["upload_id"])
                provider.dropped.extend(p["blob_id"] for p in parts)

    def _expire(self, bucket: Any, key: str, version_id: str | None) -> None:
        try:
            self.provider.delete_key(None, bucket, key, version_id, bypass=False)
        except ServiceError:
            # Object lock keeps a protected version past its lifecycle expiry.
            log.debug("lifecycle left %s/%s (locked)", bucket.name, key)
