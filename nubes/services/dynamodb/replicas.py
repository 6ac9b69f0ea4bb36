"""Global tables, version 2019.11.21: UpdateTable's ReplicaUpdates put a table of the same name
in other regions of the account, and every write to one replica is applied to the others.

Each member's spec keeps the group as ``_replicas`` ({region: when that replica was added}).
nubes applies a write to every replica in the request that made it, so the last writer wins as
it does on AWS (ReplicationLatency, published per receiving region, is the time applying it
took); a new replica is filled with the table's items at once and reports CREATING for
a while (by the clock), then ACTIVE. Streams: a replica gets a NEW_AND_OLD_IMAGES stream when its
table has none (an existing stream keeps its view type), and it cannot be disabled while the
table is global.
"""

from __future__ import annotations

import copy
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import arn
from nubes.services.dynamodb import values as av
from nubes.services.dynamodb.errors import ValidationException, errors
from nubes.services.dynamodb.metrics import NAMESPACE
from nubes.services.dynamodb.models import Item, Table

if TYPE_CHECKING:
    from nubes.core.context import RequestContext
    from nubes.services.dynamodb.provider import DynamoDBProvider

VERSION = "2019.11.21"
# How long a new replica reports CREATING (by the clock) before it is ACTIVE.
CREATING_SECONDS = 5.0
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
NOT_FOUND = (
    "Replica specified in the Replica Update or Replica Delete action of the request was not found."
)


def group(table: Table) -> dict[str, float]:
    return dict(table.spec.get("_replicas") or {})


def describe(spec: dict[str, Any], region: str, out: dict[str, Any]) -> None:
    """GlobalTableVersion and Replicas in a member's description (regional tables have
    neither); a replica still being created is a CREATING table in its own region."""
    members = spec.get("_replicas") or {}
    if len(members) < 2:
        return
    now = clock.now()
    out["GlobalTableVersion"] = VERSION
    overrides = spec.get("_replica_overrides") or {}
    out["Replicas"] = [
        {
            "RegionName": member,
            "ReplicaStatus": "CREATING" if now < added + CREATING_SECONDS else "ACTIVE",
            **_shown_overrides(overrides.get(member) or {}),
        }
        for member, added in sorted(members.items())
    ]
    if now < members.get(region, 0.0) + CREATING_SECONDS and out["TableStatus"] == "ACTIVE":
        out["TableStatus"] = "CREATING"


def _shown_overrides(settings: dict[str, Any]) -> dict[str, Any]:
    """A replica's own settings as its ReplicaDescription shows them."""
    out = {k: v for k, v in settings.items() if k != "TableClassOverride"}
    if "TableClassOverride" in settings:
        out["ReplicaTableClassSummary"] = {"TableClass": settings["TableClassOverride"]}
    return out


# What a replica may set for itself (CreateReplicationGroupMemberAction and the Update one).
OVERRIDES = (
    "KMSMasterKeyId",
    "ProvisionedThroughputOverride",
    "OnDemandThroughputOverride",
    "GlobalSecondaryIndexes",
    "TableClassOverride",
)

# The settings a change to one replica makes to all (the others are each replica's own).
SHARED_SETTINGS = (
    "AttributeDefinitions",
    "BillingMode",
    "ProvisionedThroughput",
    "OnDemandThroughput",
    "GlobalSecondaryIndexUpdates",
    "WarmThroughput",
    "TimeToLiveSpecification",
)


class Replicas:
    def __init__(self, provider: DynamoDBProvider) -> None:
        self.provider = provider

    def update(self, table: Table, updates: list[dict[str, Any]]) -> None:
        """Apply UpdateTable's ReplicaUpdates to ``table`` (a spec being edited) and to the
        tables of the group in the other regions."""
        for update in updates:
            if len(update) != 1:
                raise ValidationException(
                    "One or more parameter values were invalid: Only one of Create, Update or "
                    "Delete can be specified in a ReplicationGroupUpdate"
                )
            ((action, spec),) = update.items()
            region = spec["RegionName"]
            if region == table.region and action in ("Create", "Delete"):
                raise ValidationException(
                    "Cannot add or delete the local region through ReplicaUpdates. Use "
                    "CreateTable, DeleteTable, or UpdateTable as required."
                )
            members = group(table)
            overrides = dict(table.spec.get("_replica_overrides") or {})
            if action == "Create":
                self._create(table, region, members)
                members = group(table)
            elif region not in members:
                raise ValidationException(NOT_FOUND)
            elif action == "Delete":
                other = self.provider.tables.find(table.account, region, table.name)
                if other is not None:
                    self.provider.drop_table(other)
                overrides.pop(region, None)
                self._regroup(table, {r: t for r, t in members.items() if r != region}, overrides)
                continue
            settings = {k: v for k, v in spec.items() if k in OVERRIDES}
            if settings:
                overrides[region] = {**overrides.get(region, {}), **settings}
                self._apply_overrides(table, region, settings)
                self._regroup(table, members, overrides)

    def _create(self, table: Table, region: str, members: dict[str, float]) -> None:
        if not _REGION.fullmatch(region):
            raise ValidationException(f"Provided region_name '{region}' is not a valid region")
        if region in members or self.provider.tables.find(table.account, region, table.name):
            raise ValidationException(
                f"Failed to create a the new replica of table with name: '{table.name}' because "
                "one or more replicas already existed as tables."
            )
        if not table.stream_view:
            self.provider.enable_stream(table, "NEW_AND_OLD_IMAGES")
        now = clock.now()
        spec = _replica_spec(table, region, now)
        replica = self.provider.tables.create(table.account, region, table.name, spec)
        self.provider.enable_stream(replica, str(table.stream_view))
        for item in self.provider.items.every(table):
            self.provider.items.put(replica, item, None, av.item_size(item))
        # The table made global was a replica from the start.
        members = members or {table.region: 0.0}
        self._regroup(
            table, {**members, region: now}, dict(table.spec.get("_replica_overrides") or {})
        )

    def _apply_overrides(self, table: Table, region: str, settings: dict[str, Any]) -> None:
        """What a replica's own settings change in its table: its table class, its read
        capacity (a provisioned table's writes are the same everywhere)."""
        target = (
            table
            if region == table.region
            else self.provider.tables.editable(table.account, region, table.name)
        )
        if "TableClassOverride" in settings:
            target.spec["TableClassSummary"] = {"TableClass": settings["TableClassOverride"]}
        reads = (settings.get("ProvisionedThroughputOverride") or {}).get("ReadCapacityUnits")
        if reads is not None:
            target.spec["ProvisionedThroughput"]["ReadCapacityUnits"] = reads
        if target is not table:
            self.provider.tables.save(target)

    def _regroup(self, table: Table, members: dict[str, float], overrides: dict[str, Any]) -> None:
        """Record the group and each replica's own settings in every member (the table being
        edited is saved by its caller)."""
        for region in members:
            if region == table.region:
                continue
            other = self.provider.tables.editable(table.account, region, table.name)
            _set_group(other, members, overrides)
            self.provider.tables.save(other)
        _set_group(table, members, overrides)

    def drop(self, table: Table) -> None:
        """A replica deleted by DeleteTable leaves the group; the others stay replicas."""
        members = group(table)
        if not members:
            return
        rest = {r: t for r, t in members.items() if r != table.region}
        overrides = {
            r: v
            for r, v in (table.spec.get("_replica_overrides") or {}).items()
            if r != table.region
        }
        for region in rest:
            other = self.provider.tables.editable(table.account, region, table.name)
            _set_group(other, rest, overrides)
            self.provider.tables.save(other)

    def replicate(self, table: Table, key: Item, new: Item | None) -> None:
        """Apply a write made to ``table`` to the other replicas (each streams it as its own
        change)."""
        for region in group(table):
            if region == table.region:
                continue
            other = self.provider.tables.find(table.account, region, table.name)
            if other is None:
                continue
            started = time.perf_counter()
            old = self.provider.items.get(other, key)
            if new is None:
                if old is not None:
                    self.provider.items.delete(other, key, old)
            else:
                self.provider.items.put(other, new, old, av.item_size(new))
            self.provider.record(other, key, old, new)
            # The source region reports how long each write took to reach the other replicas.
            self.provider.env.metrics.record(
                table.account,
                table.region,
                NAMESPACE,
                "ReplicationLatency",
                round((time.perf_counter() - started) * 1000, 3),
                "Milliseconds",
                {"TableName": table.name, "ReceivingRegion": region},
            )

    def propagate(
        self,
        ctx: RequestContext,
        req: dict[str, Any],
        apply: Callable[[RequestContext, dict[str, Any]], Any],
    ) -> None:
        """Make the shared settings of an UpdateTable or UpdateTimeToLive on one replica to
        the others, as DynamoDB keeps a global table's replicas alike."""
        shared = {k: v for k, v in req.items() if k in SHARED_SETTINGS}
        if not shared:
            return
        table = self.provider.tables.get(ctx.account_id, ctx.region, req["TableName"])
        overrides = table.spec.get("_replica_overrides") or {}
        for region in group(table):
            if region == table.region:
                continue
            change = dict(shared)
            reads = ((overrides.get(region) or {}).get("ProvisionedThroughputOverride") or {}).get(
                "ReadCapacityUnits"
            )
            if "ProvisionedThroughput" in change and reads is not None:
                # A replica's own read capacity stays; an unchanged one is no change to it.
                change["ProvisionedThroughput"] = {
                    **change["ProvisionedThroughput"],
                    "ReadCapacityUnits": reads,
                }
                there = self.provider.tables.get(table.account, region, table.name)
                current = there.spec["ProvisionedThroughput"]
                if "BillingMode" not in change and all(
                    change["ProvisionedThroughput"][u] == current.get(u)
                    for u in ("ReadCapacityUnits", "WriteCapacityUnits")
                ):
                    del change["ProvisionedThroughput"]
            if change:
                apply(replace(ctx, region=region), {"TableName": table.name, **change})

    def check_stream_change(self, table: Table, spec: dict[str, Any]) -> None:
        if group(table) and not spec.get("StreamEnabled"):
            raise ValidationException(
                "One or more parameter values were invalid: Disabling Stream is not allowed for "
                "a Global Table replica."
            )


def _set_group(table: Table, members: dict[str, float], overrides: dict[str, Any]) -> None:
    """A group of one is a regional table again: no group, no replica settings."""
    if len(members) > 1:
        table.spec["_replicas"] = members
        table.spec["_replica_overrides"] = overrides
    else:
        table.spec.pop("_replicas", None)
        table.spec.pop("_replica_overrides", None)


def _replica_spec(table: Table, region: str, now: float) -> dict[str, Any]:
    """The replica's description: the table's keys, indexes and settings, its own ARN and id."""
    spec = copy.deepcopy({k: v for k, v in table.spec.items() if not k.startswith("_")})
    for stream_field in ("StreamSpecification", "LatestStreamLabel", "LatestStreamArn"):
        spec.pop(stream_field, None)
    table_arn = arn("dynamodb", region, table.account, f"table/{table.name}")
    spec.update(TableArn=table_arn, TableId=str(uuid.uuid4()), CreationDateTime=now)
    for kind in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
        for index in spec.get(kind, []):
            index["IndexArn"] = f"{table_arn}/index/{index['IndexName']}"
            index.pop("_created", None)
    if "_ttl" in table.spec:
        spec["_ttl"] = copy.deepcopy(table.spec["_ttl"])
    return spec


def unsupported_legacy(name: str | None = None) -> Exception:
    """The 2017.11.29 global table operations: DynamoDB no longer makes such tables, so none
    exists to describe or update, and none can be created."""
    if name is None:
        return errors.ValidationException(
            "DynamoDB global tables version 2017.11.29 is not supported. We recommend using "
            "DynamoDB global tables version 2019.11.21, instead of version 2017.11.29 (Legacy)."
        )
    return errors.GlobalTableNotFoundException(f"Global table with name '{name}' does not exist.")
