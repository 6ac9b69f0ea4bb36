"""Lifecycle rules applied on the nubes clock: expiration of current objects (by days or date),
of noncurrent versions (keeping the newest ``NewerNoncurrentVersions``), of lone delete
markers, abort of stale multipart uploads, and transitions of current and noncurrent versions
to colder storage classes.

Like S3, an object becomes eligible at the first midnight UTC after its age reaches the rule's
days. The sweep runs every simulated hour, so advancing the clock past a day applies it.
Transitions only go down S3's waterfall (STANDARD -> INTELLIGENT_TIERING -> STANDARD_IA ->
ONEZONE_IA -> GLACIER_IR -> GLACIER -> DEEP_ARCHIVE), never to the infrequent-access classes
before an object is 30 days old, and not for objects under 128 KiB unless the configuration's
``TransitionDefaultMinimumObjectSize`` (GLACIER and DEEP_ARCHIVE only) or the rule's own size
filter lets them.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.protocol.base import ServiceError
from nubes.services.s3.errors import errors
from nubes.services.s3.models import load_attrs
from nubes.services.s3.storage import body_ledger

if TYPE_CHECKING:
    from nubes.services.s3.provider import S3Provider
    from nubes.store import Row

log = logging.getLogger("nubes.s3")

DAY = 86400
SWEEP_INTERVAL = 3600.0
WATERFALL = {
    "STANDARD": 0,
    "REDUCED_REDUNDANCY": 0,
    "INTELLIGENT_TIERING": 1,
    "STANDARD_IA": 2,
    "ONEZONE_IA": 3,
    "GLACIER_IR": 4,
    "GLACIER": 5,
    "DEEP_ARCHIVE": 6,
}
"""How far down S3's transition waterfall each storage class is: transitions only go down."""
INFREQUENT = {"STANDARD_IA", "ONEZONE_IA"}
INFREQUENT_MIN_DAYS = 30
SMALL_OBJECT = 128 * 1024
DEFAULT_MINIMUM_SIZE = "all_storage_classes_128K"


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


def _filter_text(rule: dict[str, Any]) -> str:
    """How S3's validation messages name a rule's filter."""
    return f"(prefix={rule_filter(rule)[0]})"


def _invalid(message: str, name: str, value: Any) -> ServiceError:
    return errors.InvalidArgument(message, ArgumentName=name, ArgumentValue=str(value))


def _check_date(date: Any) -> None:
    if isinstance(date, datetime) and date.timestamp() % DAY:
        raise _invalid("'Date' must be at midnight GMT", "Date", date.isoformat())


_ACTIONS = (
    "Expiration",
    "Transitions",
    "NoncurrentVersionExpiration",
    "NoncurrentVersionTransitions",
    "AbortIncompleteMultipartUpload",
)


def validate(rules: list[dict[str, Any]]) -> None:
    """The checks PutBucketLifecycleConfiguration makes of expiration and transition actions."""
    for rule in rules:
        if len(rule.get("ID") or "") > 255:
            raise errors.InvalidArgument(
                "ID length should not exceed allowed limit of 255", ArgumentName="ID"
            )
        if not any(rule.get(action) for action in _ACTIONS):
            raise errors.InvalidRequest("At least one action needs to be specified in a rule")
        expiration = rule.get("Expiration") or {}
        if rule_filter(rule)[1]:
            # These act on uploads and markers, which carry no tags.
            if rule.get("AbortIncompleteMultipartUpload"):
                raise errors.InvalidRequest(
                    "AbortIncompleteMultipartUpload cannot be specified with Tags."
                )
            if expiration.get("ExpiredObjectDeleteMarker"):
                raise errors.InvalidRequest(
                    "ExpiredObjectDeleteMarker cannot be specified with Tags."
                )
        days = expiration.get("Days")
        if expiration.get("ExpiredObjectDeleteMarker") and (
            days is not None or expiration.get("Date") is not None
        ):
            # The delete-marker flag is an expiration of its own, not a modifier of one.
            raise errors.MalformedXML(
                "The XML you provided was not well-formed or did not validate against our "
                "published schema"
            )
        if days is not None and days <= 0:
            raise _invalid("'Days' for Expiration action must be a positive integer", "Days", days)
        _check_date(expiration.get("Date"))
        _check_transitions(rule, rule.get("Transitions") or [], days)
        noncurrent = rule.get("NoncurrentVersionExpiration") or {}
        _check_newer(noncurrent)
        _check_noncurrent_transitions(
            rule, rule.get("NoncurrentVersionTransitions") or [], noncurrent.get("NoncurrentDays")
        )


def _check_transitions(
    rule: dict[str, Any], transitions: list[dict[str, Any]], expiry_days: int | None
) -> None:
    seen: set[str] = set()
    for transition in transitions:
        days, date = transition.get("Days"), transition.get("Date")
        storage_class = transition.get("StorageClass") or ""
        if (days is None) == (date is None):
            raise errors.MalformedXML(
                "The XML you provided was not well-formed or did not validate against our "
                "published schema"
            )
        _check_date(date)
        if days is not None and days < 0:
            raise _invalid("'Days' in Transition action must be nonnegative", "Days", days)
        if days is not None and storage_class in INFREQUENT and days < INFREQUENT_MIN_DAYS:
            raise _invalid(
                "'Days' in Transition action must be greater than or equal to 30 for "
                f"storageClass '{storage_class}'",
                "Days",
                days,
            )
        if storage_class in seen:
            raise errors.InvalidRequest(
                "'StorageClass' must be different for 'Transition' actions in same 'Rule' with "
                f"filter '{_filter_text(rule)}'"
            )
        seen.add(storage_class)
        if expiry_days is not None and days is not None and expiry_days <= days:
            raise _invalid(
                f"'Days' in the Expiration action for filter '{_filter_text(rule)}' must be "
                "greater than 'Days' in the Transition action",
                "Days",
                expiry_days,
            )


def _check_noncurrent_transitions(
    rule: dict[str, Any], transitions: list[dict[str, Any]], expiry_days: int | None
) -> None:
    seen: set[str] = set()
    for transition in transitions:
        days = transition.get("NoncurrentDays")
        storage_class = transition.get("StorageClass") or ""
        _check_newer(transition)
        if days is None or days < 0:
            raise _invalid(
                "'NoncurrentDays' for NoncurrentVersionTransition action must be a nonnegative "
                "integer",
                "NoncurrentDays",
                days,
            )
        if storage_class in INFREQUENT and days < INFREQUENT_MIN_DAYS:
            raise _invalid(
                "'NoncurrentDays' in NoncurrentVersionTransition action must be greater than or "
                f"equal to 30 for storageClass '{storage_class}'",
                "NoncurrentDays",
                days,
            )
        if storage_class in seen:
            raise errors.InvalidRequest(
                "'StorageClass' must be different for 'NoncurrentVersionTransition' actions in "
                f"same 'Rule' with filter '{_filter_text(rule)}'"
            )
        seen.add(storage_class)
        if expiry_days is not None and expiry_days <= days:
            raise _invalid(
                "'NoncurrentDays' in the NoncurrentVersionExpiration action for filter "
                f"'{_filter_text(rule)}' must be greater than 'NoncurrentDays' in the "
                "NoncurrentVersionTransition action",
                "NoncurrentDays",
                expiry_days,
            )


def _check_newer(action: dict[str, Any]) -> None:
    newer = action.get("NewerNoncurrentVersions")
    if newer is not None and not 1 <= newer <= 100:
        raise _invalid(
            "'NewerNoncurrentVersions' must be between 1 and 100",
            "NewerNoncurrentVersions",
            newer,
        )


def transition_target(
    transitions: list[dict[str, Any]],
    since: float,
    made: float,
    now: float,
    current: str,
    small_ok: Callable[[str], bool],
    days_field: str = "Days",
) -> str | None:
    """The coldest storage class among ``transitions`` due by ``now`` for a version that became
    eligible at ``since`` (made, or superseded) and was made at ``made``; None when none is."""
    best: str | None = None
    for transition in transitions:
        target = transition.get("StorageClass") or ""
        days, date = transition.get(days_field), transition.get("Date")
        if days is not None:
            due = due_at(since, days)
        elif isinstance(date, datetime):
            due = date.timestamp()
        else:
            continue
        if target in INFREQUENT:
            due = max(due, due_at(made, INFREQUENT_MIN_DAYS))
        rank = WATERFALL.get(target, -1)
        if now < due or rank <= WATERFALL.get(current, 0) or not small_ok(target):
            continue
        if best is None or rank > WATERFALL[best]:
            best = target
    return best


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
                minimum = document.get("TransitionDefaultMinimumObjectSize") or DEFAULT_MINIMUM_SIZE
                for rule in document.get("Rules") or []:
                    if rule.get("Status") == "Enabled":
                        self.apply(bucket, rule, now)
                        self.transition(bucket, rule, now, minimum)
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
            keep = noncurrent.get("NewerNoncurrentVersions") or 0
            for row, newer in self._noncurrent(bucket.name, rule):
                since = row["superseded"] or row["last_modified"]
                if newer >= keep and now >= due_at(since, noncurrent["NoncurrentDays"]):
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

    def _noncurrent(self, bucket: str, rule: dict[str, Any]) -> list[tuple[Row, int]]:
        """The noncurrent versions a rule applies to, each with how many noncurrent versions of
        its key are newer (what ``NewerNoncurrentVersions`` counts)."""
        rows = self.provider.db.under_prefix(bucket, rule_filter(rule)[0], latest=False)
        rows.sort(key=lambda r: (r["key"], -r["id"]))
        out: list[tuple[Row, int]] = []
        newer, key = 0, None
        for row in rows:
            newer = newer + 1 if row["key"] == key else 0
            key = row["key"]
            if _row_applies(rule, row):
                out.append((row, newer))
        return out

    def transition(self, bucket: Any, rule: dict[str, Any], now: float, minimum: str) -> None:
        """Move the versions a rule's transitions have come due for to their storage class."""
        transitions = rule.get("Transitions") or []
        noncurrent = rule.get("NoncurrentVersionTransitions") or []
        sized = any(v is not None for v in rule_filter(rule)[2:])

        def small_ok(target: str) -> bool:
            # A rule's own size filter takes precedence over the configuration's default.
            glacier = minimum == "varies_by_storage_class" and target in ("GLACIER", "DEEP_ARCHIVE")
            return sized or glacier

        if transitions:
            for row in self.provider.db.under_prefix(bucket.name, rule_filter(rule)[0], True):
                if row["delete_marker"] or not _row_applies(rule, row):
                    continue
                made = row["last_modified"]
                self._move(row, transitions, made, made, now, small_ok, "Days")
        for row, newer in self._noncurrent(bucket.name, rule) if noncurrent else []:
            if row["delete_marker"]:
                continue
            due = [t for t in noncurrent if newer >= (t.get("NewerNoncurrentVersions") or 0)]
            since = row["superseded"] or row["last_modified"]
            self._move(row, due, since, row["last_modified"], now, small_ok, "NoncurrentDays")

    def _move(
        self,
        row: Row,
        transitions: list[dict[str, Any]],
        since: float,
        made: float,
        now: float,
        small_ok: Callable[[str], bool],
        days_field: str,
    ) -> None:
        attrs = load_attrs(row["attrs"])
        current = attrs.get("StorageClass", "STANDARD")
        allowed = small_ok if row["size"] < SMALL_OBJECT else lambda target: True
        target = transition_target(transitions, since, made, now, current, allowed, days_field)
        if target is not None:
            attrs["StorageClass"] = target
            self.provider.db.update_attrs(row["id"], attrs)

    def _expire(self, bucket: Any, key: str, version_id: str | None) -> None:
        try:
            self.provider.delete_key(None, bucket, key, version_id, bypass=False)
        except ServiceError:
            # Object lock keeps a protected version past its lifecycle expiry.
            log.debug("lifecycle left %s/%s (locked)", bucket.name, key)
