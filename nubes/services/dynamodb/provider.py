"""Amazon DynamoDB: tables, items, queries and scans, batches, transactions, TTL, streams."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import parse_arn
from nubes.core.context import RequestContext
from nubes.protocol.base import ServiceError
from nubes.protocol.validate import validation_error
from nubes.services.base import ServiceProvider
from nubes.services.dynamodb import legacy, partiql, tables
from nubes.services.dynamodb import metrics as ddb_metrics
from nubes.services.dynamodb import values as av
from nubes.services.dynamodb.capacity import Capacity, read_units, write_units
from nubes.services.dynamodb.errors import RequestValidationException, ValidationException, errors
from nubes.services.dynamodb.expressions import (
    Expressions,
    KeyCondition,
    apply_update,
    ast,
    matches,
    project,
)
from nubes.services.dynamodb.kinesis_destination import KinesisDestinations
from nubes.services.dynamodb.models import (
    MIGRATIONS,
    Index,
    Items,
    Page,
    Table,
    Tables,
    Tokens,
    Write,
    composite_range_condition,
    range_condition,
    table_name,
)
from nubes.services.dynamodb.replicas import Replicas, unsupported_legacy
from nubes.services.dynamodb.streams import TTL_IDENTITY, Streams

if TYPE_CHECKING:
    from nubes.app import Environment

Item = dict[str, Any]
Paths = list[tuple[str | int, ...]]
TTL_SWEEP_SECONDS = 30.0
BATCH_GET_LIMIT = 100
BATCH_GET_BYTES = 16 * 1024 * 1024
TRANSACT_BYTES = 4 * 1024 * 1024
ITEM_KEY_ERRORS = (
    "One or more parameter values were invalid: Type mismatch for key",
    "One or more parameter values were invalid: Missing the key",
)
# Key errors a transaction reports as an action's cancellation reason (empty keys, by contrast,
# fail the whole request).
KEY_TYPE_ERRORS = (
    "The provided key element does not match the schema",
    "One or more parameter values were invalid: Type mismatch for key",
    "One or more parameter values were invalid: Type mismatch for Index Key",
)


Handler = Callable[[Any, RequestContext, dict[str, Any]], dict[str, Any]]


def _values_checked_as(layer: str) -> Callable[[Handler], Handler]:
    """Run an operation with its attribute values checked (and errors worded) as ``layer``."""

    def wrap(method: Handler) -> Handler:
        @functools.wraps(method)
        def run(self: Any, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
            with av.value_layer(layer):
                return method(self, ctx, req)

        return run

    return wrap


class DynamoDBProvider(ServiceProvider):
    service = "dynamodb"
    migrations = MIGRATIONS

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.tables = Tables(self.store)
        self.items = Items(self.store)
        self.streams = Streams(self.store)
        self.tokens = Tokens(self.store)
        self.replicas = Replicas(self)
        self.kinesis = KinesisDestinations(self)
        Capacity.publisher = ddb_metrics.consumed_units(env)
        ddb_metrics.instrument(self, env)

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        # Items whose TTL passes are deleted (and streamed) without a request.
        return cls.has_rows(env, "SELECT 1 FROM ddb_items WHERE ttl IS NOT NULL LIMIT 1")

    async def start(self) -> None:
        self.env.scheduler.every("dynamodb-ttl", TTL_SWEEP_SECONDS, self.sweep)
        # A clock moved forward by hand expires items before the clock endpoint answers.
        self.env.scheduler.on_advance(self._sweep_now)

    def _sweep_now(self) -> None:
        with self.store.transaction():
            self.sweep()

    def reset(self) -> None:
        self.tables.reset()

    # == tables ===================================================================================

    def _sse_key(self, ctx: RequestContext, sse: dict[str, Any] | None) -> None:
        """Encryption with KMS names its key by ARN, found through KMS (``aws/dynamodb``, made
        on first use, when none is given): an unknown or unusable key is refused."""
        if not sse or not sse.get("Enabled", True) or sse.get("SSEType", "KMS") != "KMS":
            return
        key = sse.get("KMSMasterKeyId") or "alias/aws/dynamodb"
        try:
            meta = self.env.providers.invoke(
                "kms", "DescribeKey", {"KeyId": key}, ctx.account_id, ctx.region
            )["KeyMetadata"]
        except ServiceError as exc:
            raise ValidationException(f"KMSMasterKeyId {key} is invalid: {exc}") from None
        if meta["KeyState"] != "Enabled":
            raise ValidationException(f"KMSMasterKeyId {key} is {meta['KeyState'].lower()}.")
        sse["KMSMasterKeyId"] = meta["Arn"]

    def create_table(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        name = req["TableName"] = table_name(req["TableName"])
        tables.check_create(req)
        if self.tables.find(ctx.account_id, ctx.region, name) is not None:
            raise errors.ResourceInUseException(f"Table already exists: {name}")
        self._sse_key(ctx, req.get("SSESpecification"))
        spec = tables.new_spec(req, ctx.account_id, ctx.region)
        table = self.tables.create(ctx.account_id, ctx.region, name, spec)
        if req.get("Tags"):
            self.env.tags.set(table.arn, {t["Key"]: t["Value"] for t in req["Tags"]})
        if table.stream_view:
            self.enable_stream(table, table.stream_view)
            table = self.tables.get(ctx.account_id, ctx.region, name)
        creating = {i: "CREATING" for i in table.indexes if table.indexes[i].is_global}
        return {"TableDescription": tables.describe(table, None, "CREATING", creating)}

    def describe_table(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self.tables.get(ctx.account_id, ctx.region, req["TableName"], describe=True)
        return {"Table": tables.describe(table, self.tables.stats(table))}

    def list_tables(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        limit = req.get("Limit", 100)
        names = self.tables.names(
            ctx.account_id, ctx.region, req.get("ExclusiveStartTableName"), limit + 1
        )
        out: dict[str, Any] = {"TableNames": names[:limit]}
        if len(names) > limit:
            out["LastEvaluatedTableName"] = names[limit - 1]
        return out

    def delete_table(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self.tables.get(ctx.account_id, ctx.region, req["TableName"], describe=True)
        if table.spec.get("DeletionProtectionEnabled"):
            raise errors.ResourceInUseException(
                "Resource cannot be deleted as it is currently protected against manual "
                "deletion. Disable deletion protection first."
            )
        description = tables.describe(table, self.tables.stats(table), "DELETING")
        self.replicas.drop(table)
        self.drop_table(table)
        return {"TableDescription": description}

    def drop_table(self, table: Table) -> None:
        """A table and its items gone (its stream disabled, readable for 24 hours)."""
        if table.stream_view:
            self.streams.disable(table.spec["LatestStreamArn"])
        self.env.tags.drop(table.arn)
        self.tables.delete(table)

    # The 2017.11.29 version of global tables: DynamoDB makes none any more.

    def create_global_table(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        raise unsupported_legacy()

    def describe_global_table(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        raise unsupported_legacy(req["GlobalTableName"])

    def update_global_table(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        raise unsupported_legacy(req["GlobalTableName"])

    def describe_global_table_settings(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        raise unsupported_legacy(req["GlobalTableName"])

    def update_global_table_settings(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        raise unsupported_legacy(req["GlobalTableName"])

    def list_global_tables(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return {"GlobalTables": []}

    def update_table(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        out = self._update_table(ctx, req)
        # Capacity and index changes apply to every replica of a global table.
        self.replicas.propagate(ctx, req, self._update_table)
        return out

    def _update_table(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self.tables.editable(ctx.account_id, ctx.region, req["TableName"])
        spec = table.spec
        definitions = {d["AttributeName"]: d for d in spec["AttributeDefinitions"]}
        for definition in req.get("AttributeDefinitions", []):
            # A redeclared attribute keeps the type it was stored with.
            definitions.setdefault(definition["AttributeName"], definition)
        billing = req.get("BillingMode") or tables.billing_mode(spec)
        if "BillingMode" in req:
            spec["BillingModeSummary"] = tables.billing_summary(
                billing, spec.get("BillingModeSummary"), clock.now()
            )
            if billing == "PAY_PER_REQUEST":
                spec["ProvisionedThroughput"] = tables.throughput(None)
        if "ProvisionedThroughput" in req:
            tables.check_throughput(billing, req["ProvisionedThroughput"])
            if "BillingMode" not in req:
                tables.check_throughput_changes(
                    spec["ProvisionedThroughput"], req["ProvisionedThroughput"]
                )
            spec["ProvisionedThroughput"] = tables.changed_throughput(
                spec["ProvisionedThroughput"], req["ProvisionedThroughput"]
            )
        requested = [d["AttributeName"] for d in req.get("AttributeDefinitions", [])]
        statuses, warming = self._index_updates(
            table, req.get("GlobalSecondaryIndexUpdates", []), definitions, requested
        )
        spec["AttributeDefinitions"] = self._used_definitions(spec, definitions)
        if "StreamSpecification" in req:
            self.replicas.check_stream_change(table, req["StreamSpecification"])
            self._update_stream(table, req["StreamSpecification"])
        if "ReplicaUpdates" in req:
            self.replicas.update(table, req["ReplicaUpdates"])
        if "SSESpecification" in req:
            sse = req["SSESpecification"]
            self._sse_key(ctx, sse)
            if sse.get("Enabled", True):
                spec["SSEDescription"] = tables.sse_description(sse, ctx.account_id, ctx.region)
            else:
                spec.pop("SSEDescription", None)
        if "TableClass" in req:
            spec["TableClassSummary"] = {"TableClass": req["TableClass"]}
        if "DeletionProtectionEnabled" in req:
            spec["DeletionProtectionEnabled"] = req["DeletionProtectionEnabled"]
        if "OnDemandThroughput" in req:
            spec["OnDemandThroughput"] = req["OnDemandThroughput"]
        if "WarmThroughput" in req:
            spec["WarmThroughput"] = tables.warm_throughput(
                req["WarmThroughput"], spec.get("WarmThroughput")
            )
        saved = self.tables.save(table)
        description = tables.describe(saved, self.tables.stats(saved), "UPDATING", statuses)
        # A raised warm throughput is UPDATING in the response (nubes is warm at once).
        if "WarmThroughput" in req:
            description["WarmThroughput"]["Status"] = "UPDATING"
        for index in description.get("GlobalSecondaryIndexes", []):
            if index["IndexName"] in warming:
                index["WarmThroughput"]["Status"] = "UPDATING"
        for name, status in statuses.items():
            if status == "DELETING":
                description.setdefault("GlobalSecondaryIndexes", []).append(
                    {"IndexName": name, "IndexStatus": "DELETING"}
                )
        return {"TableDescription": description}

    def _index_updates(
        self,
        table: Table,
        updates: list[dict[str, Any]],
        definitions: dict[str, Any],
        requested: list[str],
    ) -> tuple[dict[str, str], set[str]]:
        """Apply GlobalSecondaryIndexUpdates: the status each created or deleted index has in
        the response, and the indexes whose warm throughput is being raised."""
        creates = [u for u in updates if "Create" in u or "Delete" in u]
        if len(creates) > 1:
            raise errors.LimitExceededException(
                "Subscriber limit exceeded: Only 1 online index can be created or deleted "
                "simultaneously per table"
            )
        statuses: dict[str, str] = {}
        warming: set[str] = set()
        gsis: list[dict[str, Any]] = table.spec.setdefault("GlobalSecondaryIndexes", [])
        billing = tables.billing_mode(table.spec)
        for update in updates:
            if "Create" in update:
                create = update["Create"]
                name = create["IndexName"]
                if name in table.indexes:
                    raise ValidationException(
                        f"One or more parameter values were invalid: Index with name: {name} "
                        "already exists on table"
                    )
                tables.check_gsi_key_schema(create["KeySchema"], name)
                tables.check_projection(create["Projection"])
                tables.check_throughput(billing, create.get("ProvisionedThroughput"), name)
                # A new index's keys must be defined in this request, even ones the table has.
                for element in create["KeySchema"]:
                    if element["AttributeName"] not in requested:
                        raise ValidationException(
                            "One or more parameter values were invalid: Some index key attributes "
                            "are not defined in AttributeDefinitions. Keys: "
                            f"[{element['AttributeName']}], AttributeDefinitions: "
                            f"[{', '.join(requested)}]"
                        )
                gsis.append({**tables.gsi_spec(create, table.arn), "_created": clock.now()})
                table.spec["AttributeDefinitions"] = list(definitions.values())
                rebuilt = Table(table.id, table.account, table.region, table.name, table.spec)
                self.items.backfill(rebuilt, rebuilt.indexes[name])
                statuses[name] = "CREATING"
            elif "Delete" in update:
                name = update["Delete"]["IndexName"]
                if not any(g["IndexName"] == name for g in gsis):
                    raise errors.ResourceNotFoundException(
                        f"Requested resource not found: Index: {name} not found"
                    )
                gsis[:] = [g for g in gsis if g["IndexName"] != name]
                self.items.drop_index(table, name)
                statuses[name] = "DELETING"
            elif "Update" in update:
                name = update["Update"]["IndexName"]
                found = next((g for g in gsis if g["IndexName"] == name), None)
                if found is None:
                    raise errors.ResourceNotFoundException(
                        f"Requested resource not found: Index: {name} not found"
                    )
                if "ProvisionedThroughput" in update["Update"]:
                    found["ProvisionedThroughput"] = tables.throughput(
                        update["Update"]["ProvisionedThroughput"]
                    )
                if "OnDemandThroughput" in update["Update"]:
                    found["OnDemandThroughput"] = update["Update"]["OnDemandThroughput"]
                if "WarmThroughput" in update["Update"]:
                    found["WarmThroughput"] = tables.warm_throughput(
                        update["Update"]["WarmThroughput"], found.get("WarmThroughput")
                    )
                    warming.add(name)
        if not gsis:
            table.spec.pop("GlobalSecondaryIndexes")
        return statuses, warming

    @staticmethod
    def _used_definitions(spec: dict[str, Any], definitions: dict[str, Any]) -> list[Any]:
        used = {e["AttributeName"] for e in spec["KeySchema"]}
        for kind in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
            for index in spec.get(kind, []):
                used.update(e["AttributeName"] for e in index["KeySchema"])
        return [d for n, d in definitions.items() if n in used]

    def enable_stream(self, table: Table, view: str) -> None:
        stream = self.streams.enable(
            table.account, table.region, table.name, table.arn, view, table.spec["KeySchema"]
        )
        table.spec["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        table.spec["LatestStreamLabel"] = stream.label
        table.spec["LatestStreamArn"] = stream.arn
        self.tables.save(table)

    def _update_stream(self, table: Table, spec: dict[str, Any]) -> None:
        tables.check_stream(spec)
        if spec.get("StreamEnabled"):
            if table.stream_view:
                raise ValidationException(
                    f"Table already has an enabled stream: TableName: {table.name}"
                )
            self.enable_stream(table, spec["StreamViewType"])
        else:
            if not table.stream_view:
                raise ValidationException(
                    f"Table has no stream to disable: TableName: {table.name}"
                )
            # The specification goes; LatestStreamArn/Label stay, as DynamoDB keeps them.
            self.streams.disable(table.spec["LatestStreamArn"])
            table.spec.pop("StreamSpecification")

    # -- Kinesis streaming destinations ---------------------------------------------------

    def enable_kinesis_streaming_destination(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return self.kinesis.enable(ctx, req)

    def disable_kinesis_streaming_destination(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return self.kinesis.disable(ctx, req)

    def update_kinesis_streaming_destination(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return self.kinesis.update(ctx, req)

    def describe_kinesis_streaming_destination(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return self.kinesis.describe(ctx, req)

    # -- tags, TTL, backups, limits ---------------------------------------------------------

    def _table_by_arn(self, ctx: RequestContext, resource_arn: str) -> Table:
        try:
            parsed = parse_arn(resource_arn)
            kind, _, name = parsed.resource.partition("/")
        except ValueError:
            raise ValidationException(
                f"Invalid TableArn: Invalid ResourceArn provided as input {resource_arn}"
            ) from None
        table = None
        if kind == "table" and "/" not in name:
            table = self.tables.find(ctx.account_id, ctx.region, name)
        if table is None:
            raise errors.ResourceNotFoundException(
                f"Requested resource not found: ResourcearN: {resource_arn} not found"
            )
        return table

    def tag_resource(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self._table_by_arn(ctx, req["ResourceArn"])
        self.env.tags.set(table.arn, {t["Key"]: t["Value"] for t in req["Tags"]})
        return {}

    def untag_resource(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self._table_by_arn(ctx, req["ResourceArn"])
        self.env.tags.remove(table.arn, req["TagKeys"])
        return {}

    def list_tags_of_resource(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self._table_by_arn(ctx, req["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in self.env.tags.get(table.arn).items()]}

    def update_time_to_live(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        out = self._update_time_to_live(ctx, req)
        self.replicas.propagate(ctx, req, self._update_time_to_live)
        return out

    def _update_time_to_live(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self.tables.editable(ctx.account_id, ctx.region, req["TableName"])
        spec = req["TimeToLiveSpecification"]
        current = table.spec.get("_ttl") or {}
        if spec["Enabled"] and current.get("Enabled"):
            raise ValidationException("TimeToLive is already enabled")
        if not spec["Enabled"] and not current.get("Enabled"):
            raise ValidationException("TimeToLive is already disabled")
        if not spec["Enabled"] and current.get("AttributeName") != spec["AttributeName"]:
            raise ValidationException(
                f"TimeToLive is enabled on a different attribute: {current.get('AttributeName')}"
            )
        table.spec["_ttl"] = {"Enabled": spec["Enabled"], "AttributeName": spec["AttributeName"]}
        saved = self.tables.save(table)
        self.items.set_ttl_attribute(saved, saved.ttl_attribute)
        return {"TimeToLiveSpecification": spec}

    def describe_time_to_live(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self.tables.get(ctx.account_id, ctx.region, req["TableName"], describe=True)
        ttl = table.spec.get("_ttl") or {}
        if not ttl.get("Enabled"):
            return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        return {
            "TimeToLiveDescription": {
                "TimeToLiveStatus": "ENABLED",
                "AttributeName": ttl["AttributeName"],
            }
        }

    def _backup_table(self, ctx: RequestContext, name: str) -> Table:
        if self.tables.find(ctx.account_id, ctx.region, name) is None:
            raise errors.TableNotFoundException(f"Table not found: {name}")
        return self.tables.editable(ctx.account_id, ctx.region, name)

    def describe_continuous_backups(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        table = self._backup_table(ctx, req["TableName"])
        return {"ContinuousBackupsDescription": self._backups(table)}

    def update_continuous_backups(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self._backup_table(ctx, req["TableName"])
        pitr = req["PointInTimeRecoverySpecification"]
        table.spec["_pitr"] = {
            "Enabled": pitr["PointInTimeRecoveryEnabled"],
            "Days": pitr.get("RecoveryPeriodInDays", 35),
            "Since": clock.now(),
        }
        saved = self.tables.save(table)
        return {"ContinuousBackupsDescription": self._backups(saved)}

    @staticmethod
    def _backups(table: Table) -> dict[str, Any]:
        pitr = table.spec.get("_pitr") or {}
        description: dict[str, Any] = {"PointInTimeRecoveryStatus": "DISABLED"}
        if pitr.get("Enabled"):
            now = clock.now()
            description = {
                "PointInTimeRecoveryStatus": "ENABLED",
                "RecoveryPeriodInDays": pitr["Days"],
                "EarliestRestorableDateTime": max(pitr["Since"], now - pitr["Days"] * 86400),
                "LatestRestorableDateTime": now,
            }
        return {
            "ContinuousBackupsStatus": "ENABLED",
            "PointInTimeRecoveryDescription": description,
        }

    def describe_limits(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return {
            "AccountMaxReadCapacityUnits": 80000,
            "AccountMaxWriteCapacityUnits": 80000,
            "TableMaxReadCapacityUnits": 40000,
            "TableMaxWriteCapacityUnits": 40000,
        }

    def describe_endpoints(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        host = ctx.request.headers.get("host") or f"dynamodb.{ctx.region}.amazonaws.com"
        return {"Endpoints": [{"Address": host, "CachePeriodInMinutes": 1440}]}

    # -- the TTL sweep --------------------------------------------------------------------------

    def sweep(self) -> None:
        """Delete expired items of tables with TTL on (each a REMOVE stream record by the
        service), and stream records past retention."""
        now = clock.now()
        for table in self.tables.all():
            if table.ttl_attribute is None:
                continue
            for item in self.items.expired(table, now, 1000):
                key = table.key_of(item)
                self.items.delete(table, key, item)
                self.record(table, key, item, None, identity=TTL_IDENTITY)
                if "_replicas" in table.spec:
                    self.replicas.replicate(table, key, None)
        self.streams.trim()

    # == items ====================================================================================

    def _table(self, ctx: RequestContext, name: str) -> Table:
        return self.tables.get(ctx.account_id, ctx.region, name)

    def apply_write(self, write: Write) -> None:
        if write.new is None:
            if write.old is not None:
                self.items.delete(write.table, write.key, write.old)
        else:
            self.items.put(write.table, write.new, write.old, av.item_size(write.new))
        self.record(write.table, write.key, write.old, write.new)
        if "_replicas" in write.table.spec:
            self.replicas.replicate(write.table, write.key, write.new)

    def record(
        self,
        table: Table,
        key: Item,
        old: Item | None,
        new: Item | None,
        identity: dict[str, str] | None = None,
    ) -> None:
        """The change in the table's stream and on its Kinesis streaming destinations."""
        view = table.stream_view
        kinesis = "_kinesis" in table.spec
        if (view is None and not kinesis) or (old is None and new is None):
            return
        if old is not None and new is not None and av.equal({"M": old}, {"M": new}):
            # An unchanged item writes no stream record; "unchanged" is by value, as DynamoDB
            # compares: maps in another order, sets in another order, 1 and 1.0 are equal.
            return
        event = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        if view is not None:
            self.streams.append(
                table.spec["LatestStreamArn"], view, event, key, old, new, table.region, identity
            )
        if kinesis:
            self.kinesis.send(table, event, key, old, new, identity)

    @staticmethod
    def _condition(exprs: Expressions | None, req: dict[str, Any]) -> ast.Condition | None:
        if "ConditionExpression" in req:
            assert exprs is not None
            return exprs.condition(req["ConditionExpression"])
        if "Expected" in req:
            return legacy.condition(req["Expected"], req.get("ConditionalOperator"))
        return None

    @staticmethod
    def _expressions(req: dict[str, Any], *fields: str) -> Expressions:
        legacy.check_mixing(req)
        return Expressions(
            req.get("ExpressionAttributeNames"),
            req.get("ExpressionAttributeValues"),
            any(f in req for f in fields),
        )

    def _check(
        self, condition: ast.Condition | None, old: Item | None, on_fail: str | None
    ) -> None:
        if condition is not None and not matches(condition, old or {}):
            fields = {"Item": old} if on_fail == "ALL_OLD" and old is not None else {}
            raise errors.ConditionalCheckFailedException("The conditional request failed", **fields)

    @staticmethod
    def _check_size(item: Item, update: bool = False) -> None:
        if av.item_size(item) > av.MAX_ITEM_SIZE:
            raise ValidationException(
                "Item size to update has exceeded the maximum allowed size"
                if update
                else "Item size has exceeded the maximum allowed size"
            )

    # -- prepared writes (shared by single calls, batches and transactions) -------------------

    def _prepare_put(
        self, table: Table, req: dict[str, Any], exprs: Expressions
    ) -> tuple[Write, ast.Condition | None]:
        item = av.check_item(req["Item"])
        table.check_item_keys(item)
        self._check_size(item)
        key = table.key_of(item)
        condition = self._condition(exprs, req)
        return Write(table, key, self.items.get(table, key), item), condition

    def _prepare_delete(
        self, table: Table, req: dict[str, Any], exprs: Expressions
    ) -> tuple[Write, ast.Condition | None]:
        key = table.check_key(req["Key"])
        condition = self._condition(exprs, req)
        return Write(table, key, self.items.get(table, key), None), condition

    def _prepare_update(
        self, table: Table, req: dict[str, Any], exprs: Expressions
    ) -> tuple[Write, ast.Condition | None, ast.Update | None]:
        key = table.check_key(req["Key"])
        update: ast.Update | None = None
        if "UpdateExpression" in req:
            update = exprs.update(req["UpdateExpression"])
        elif "AttributeUpdates" in req:
            update = legacy.update(req["AttributeUpdates"])
        condition = self._condition(exprs, req)
        old = self.items.get(table, key)
        paths: Paths = []
        if update is not None:
            paths = [a.path.elements() for a in update.actions]
            for elements in paths:
                if elements[0] in table.key_names:
                    raise ValidationException(
                        "One or more parameter values were invalid: Cannot update attribute "
                        f"{elements[0]}. This attribute is part of the key"
                    )
        return Write(table, key, old, None, paths), condition, update

    def _finish_update(self, write: Write, update: ast.Update | None) -> None:
        base = write.old if write.old is not None else dict(write.key)
        new = apply_update(update, base) if update is not None else dict(base)
        write.table.check_item_keys(new, updated=True)
        self._check_size(new, update=True)
        actions = update.actions if update is not None else []
        if write.old is None and actions and all(a.clause in ("REMOVE", "DELETE") for a in actions):
            return  # removing from an item that does not exist does not create it
        write.new = new

    # -- single-item operations ------------------------------------------------------------

    @_values_checked_as("enveloped")
    def put_item(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self._table(ctx, req["TableName"])
        exprs = self._expressions(req, "ConditionExpression")
        write, condition = self._prepare_put(table, req, exprs)
        exprs.finish()
        _return_values(req, ("NONE", "ALL_OLD"))
        self._check(condition, write.old, req.get("ReturnValuesOnConditionCheckFailure"))
        self.apply_write(write)
        out: dict[str, Any] = {}
        if req.get("ReturnValues") == "ALL_OLD" and write.old is not None:
            out["Attributes"] = write.old
        return self._write_result(req, out, write)

    @_values_checked_as("enveloped")
    def delete_item(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self._table(ctx, req["TableName"])
        exprs = self._expressions(req, "ConditionExpression")
        write, condition = self._prepare_delete(table, req, exprs)
        exprs.finish()
        _return_values(req, ("NONE", "ALL_OLD"))
        self._check(condition, write.old, req.get("ReturnValuesOnConditionCheckFailure"))
        self.apply_write(write)
        out: dict[str, Any] = {}
        if req.get("ReturnValues") == "ALL_OLD" and write.old is not None:
            out["Attributes"] = write.old
        return self._write_result(req, out, write)

    @_values_checked_as("enveloped")
    def update_item(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self._table(ctx, req["TableName"])
        exprs = self._expressions(req, "ConditionExpression", "UpdateExpression")
        write, condition, update = self._prepare_update(table, req, exprs)
        exprs.finish()
        self._check(condition, write.old, req.get("ReturnValuesOnConditionCheckFailure"))
        self._finish_update(write, update)
        self.apply_write(write)
        out: dict[str, Any] = {}
        attributes = _updated_values(req.get("ReturnValues"), write)
        if attributes:
            out["Attributes"] = attributes
        return self._write_result(req, out, write)

    def _write_result(
        self, req: dict[str, Any], out: dict[str, Any], write: Write
    ) -> dict[str, Any]:
        capacity = Capacity(req.get("ReturnConsumedCapacity"))
        if capacity.wanted:
            self._write_capacity(capacity, write)
            out["ConsumedCapacity"] = capacity.single(write.table)
        if req.get("ReturnItemCollectionMetrics") == "SIZE":
            metrics = _collection_metrics(write)
            if metrics:
                out["ItemCollectionMetrics"] = metrics
        return out

    @staticmethod
    def _write_capacity(capacity: Capacity, write: Write, factor: float = 1.0) -> None:
        sizes = [av.item_size(i) for i in (write.old, write.new) if i is not None]
        capacity.add(write.table, write=write_units(max(sizes, default=0)) * factor)
        for index in write.table.indexes.values():
            units = _index_write_units(write, index)
            if units:
                capacity.add(write.table, write=units * factor, index=index.name)

    @_values_checked_as("current")
    def get_item(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self._table(ctx, req["TableName"])
        exprs = self._expressions(req, "ProjectionExpression")
        projection = self._projection(exprs, req)
        exprs.finish()
        key = table.check_key(req["Key"])
        item = self.items.get(table, key)
        out: dict[str, Any] = {}
        if item is not None:
            out["Item"] = project(item, projection) if projection is not None else item
        capacity = Capacity(req.get("ReturnConsumedCapacity"))
        if capacity.wanted:
            size = av.item_size(item) if item else 0
            capacity.add(table, read=read_units(size, bool(req.get("ConsistentRead"))))
            out["ConsumedCapacity"] = capacity.single(table)
        return out

    @staticmethod
    def _projection(exprs: Expressions, req: dict[str, Any]) -> Paths | None:
        if "ProjectionExpression" in req:
            return exprs.projection(req["ProjectionExpression"])
        if "AttributesToGet" in req:
            names = req["AttributesToGet"]
            for position, name in enumerate(names):
                if name in names[:position]:
                    raise ValidationException(
                        "One or more parameter values were invalid: Duplicate value in attribute "
                        f"name: {name}"
                    )
            return [(name,) for name in names]
        return None

    # -- query and scan -----------------------------------------------------------------------

    @_values_checked_as("current")
    def query(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self._table(ctx, req["TableName"])
        index = self._index(table, req)
        exprs = self._expressions(
            req, "KeyConditionExpression", "FilterExpression", "ProjectionExpression"
        )
        schema = index or table
        if "KeyConditionExpression" in req:
            key = exprs.key_condition(
                req["KeyConditionExpression"],
                index.hash_keys if index else [table.hash_key],
                index.range_keys if index else table.key_types()[1:],
            )
        elif "KeyConditions" in req and index is not None and index.multi:
            raise ValidationException(
                "KeyConditions cannot query an index with multi-attribute keys: use "
                "KeyConditionExpression"
            )
        elif "KeyConditions" in req:
            key = legacy.key_condition(req["KeyConditions"], schema.hash_key, schema.range_key)
        else:
            raise ValidationException(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified "
                "in the request."
            )
        filters = self._filter(exprs, req, "QueryFilter")
        if filters is not None:
            keys = [n for n in schema.key_names if n in ast.attributes(filters)]
            if keys:
                which = "Filter Expression" if "FilterExpression" in req else "QueryFilter"
                raise ValidationException(
                    f"{which} can only contain non-primary key attributes: Primary key "
                    f"attribute: {keys[0]}"
                )
        projection, select = self._select(exprs, req, index, query=True)
        exprs.finish()
        start = self._start_key(table, index, req.get("ExclusiveStartKey"), key)
        hash_values = key.hash_values or {key.hash_name: key.hash_value}
        if index is not None and len(index.range_keys) > 1:
            ranges = composite_range_condition(key.range_equal, key.op, key.operands)
        else:
            ranges = range_condition(key.op, key.operands)
        page = self.items.query(
            table,
            index,
            schema.hash_storage(list(hash_values.values())),
            ranges,
            req.get("ScanIndexForward", True),
            start,
            req.get("Limit"),
        )
        return self._page_result(req, table, index, page, filters, projection, select)

    def scan(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self._table(ctx, req["TableName"])
        index = self._index(table, req)
        exprs = self._expressions(req, "FilterExpression", "ProjectionExpression")
        filters = self._filter(exprs, req, "ScanFilter")
        projection, select = self._select(exprs, req, index, query=False)
        exprs.finish()
        segment = _segment(req)
        start = self._start_key(table, index, req.get("ExclusiveStartKey"), None)
        page = self.items.scan(table, index, segment, start, req.get("Limit"))
        return self._page_result(req, table, index, page, filters, projection, select)

    @staticmethod
    def _index(table: Table, req: dict[str, Any]) -> Index | None:
        name = req.get("IndexName")
        if name is None:
            return None
        index = table.indexes.get(name)
        if index is None:
            raise ValidationException(f"The table does not have the specified index: {name}")
        if index.is_global and req.get("ConsistentRead"):
            raise ValidationException(
                "Consistent reads are not supported on global secondary indexes"
            )
        return index

    @staticmethod
    def _filter(exprs: Expressions, req: dict[str, Any], legacy_name: str) -> ast.Condition | None:
        if "FilterExpression" in req:
            return exprs.condition(req["FilterExpression"], "FilterExpression")
        if legacy_name in req:
            return legacy.condition(req[legacy_name], req.get("ConditionalOperator"))
        return None

    def _select(
        self,
        exprs: Expressions,
        req: dict[str, Any],
        index: Index | None,
        query: bool,
    ) -> tuple[Paths | None, str]:
        projection = self._projection(exprs, req)
        select = req.get("Select")
        if select is None:
            select = (
                "SPECIFIC_ATTRIBUTES"
                if projection is not None
                else ("ALL_PROJECTED_ATTRIBUTES" if index is not None else "ALL_ATTRIBUTES")
            )
        elif projection is not None and select != "SPECIFIC_ATTRIBUTES":
            raise ValidationException(
                "Cannot specify the AttributesToGet when choosing to get only the Count"
                if select == "COUNT"
                else "One or more parameter values were invalid: Select type "
                f"{select} is not supported with ProjectionExpression"
            )
        if select == "SPECIFIC_ATTRIBUTES" and projection is None:
            message = (
                "Must specify the AttributesToGet or ProjectionExpression when choosing to get "
                "SPECIFIC_ATTRIBUTES"
            )
            # Query reports it in the Coral envelope, Scan bare, as DynamoDB does.
            if query:
                raise validation_error(self.env.catalog.services["dynamodb"].model, message)
            raise ValidationException(message)
        if select == "ALL_PROJECTED_ATTRIBUTES" and index is None:
            raise ValidationException(
                "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES "
                "is not supported for a table query or scan without an index"
            )
        if (
            select == "ALL_ATTRIBUTES"
            and index is not None
            and index.is_global
            and index.projection.get("ProjectionType") != "ALL"
        ):
            raise ValidationException(
                "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not "
                f"supported for global secondary index {index.name} because its projection type "
                "is not ALL"
            )
        return projection, select

    @staticmethod
    def _start_key(
        table: Table, index: Index | None, start: Item | None, key: KeyCondition | None
    ) -> Item | None:
        if start is None:
            return None
        try:
            start = av.check_item(start)
        except ServiceError as exc:
            if av.current_layer():
                raise  # the current layer says no more than what is wrong with the value
            raise ValidationException(
                f"The provided starting key is invalid: {exc.message}"
            ) from None
        schema = dict(table.key_types())
        if index is not None:
            schema.update(index.key_types())
        if set(start) != set(schema):
            # Query and Scan word this one differently.
            raise ValidationException(
                "The provided starting key is invalid"
                if key is not None
                else "The provided starting key is invalid: The provided key element does not "
                "match the schema"
            )
        if any(av.value_type(start[name]) != kind for name, kind in schema.items()):
            raise ValidationException(
                "The provided starting key is invalid: The provided key element does not match "
                "the schema"
            )
        hash_values = (key.hash_values or {key.hash_name: key.hash_value}) if key else {}
        if any(not av.equal(start[name], value) for name, value in hash_values.items()):
            raise ValidationException(
                "The provided starting key is invalid: Query hash key does not match"
            )
        return start

    def _page_result(
        self,
        req: dict[str, Any],
        table: Table,
        index: Index | None,
        page: Page,
        filters: ast.Condition | None,
        projection: Paths | None,
        select: str,
    ) -> dict[str, Any]:
        items = page.items
        if index is not None and not index.is_global and select == "ALL_ATTRIBUTES":
            fetched = [self.items.get(table, table.key_of(i)) for i in items]
            items = [i for i in fetched if i is not None]
        if filters is not None:
            items = [i for i in items if matches(filters, i)]
        out: dict[str, Any] = {"Count": len(items), "ScannedCount": page.scanned}
        if select != "COUNT":
            if projection is not None:
                items = [project(i, projection) for i in items]
            out["Items"] = items
        if page.last_key is not None:
            out["LastEvaluatedKey"] = page.last_key
        capacity = Capacity(req.get("ReturnConsumedCapacity"))
        if capacity.wanted:
            units = read_units(page.bytes_read, bool(req.get("ConsistentRead")))
            capacity.add(table, read=units, index=index.name if index else None)
            out["ConsumedCapacity"] = capacity.single(table)
        return out

    # -- batches ------------------------------------------------------------------------------

    @_values_checked_as("current")
    def batch_get_item(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        requests = req["RequestItems"]
        total = sum(len(r["Keys"]) for r in requests.values())
        if total > BATCH_GET_LIMIT:
            raise ValidationException("Too many items requested for the BatchGetItem call")
        # One request may not mix the styles, even across tables.
        legacy.check_mixing(
            {k: v for spec in requests.values() for k, v in spec.items() if k != "Keys"}
        )
        capacity = Capacity(req.get("ReturnConsumedCapacity"))
        responses: dict[str, list[Item]] = {}
        unprocessed: dict[str, Any] = {}
        read = 0
        for name, spec in requests.items():
            table = self._table(ctx, name)
            exprs = self._expressions(spec, "ProjectionExpression")
            projection = self._projection(exprs, spec)
            exprs.finish()
            keys = [table.check_key(k) for k in spec["Keys"]]
            _no_duplicates(keys)
            found = responses.setdefault(name, [])
            for position, key in enumerate(keys):
                if read >= BATCH_GET_BYTES:
                    rest = {k: v for k, v in spec.items() if k != "Keys"}
                    unprocessed[name] = {**rest, "Keys": keys[position:]}
                    break
                item = self.items.get(table, key)
                size = av.item_size(item) if item else 0
                read += size
                capacity.add(table, read=read_units(size, bool(spec.get("ConsistentRead"))))
                if item is not None:
                    found.append(project(item, projection) if projection is not None else item)
        out: dict[str, Any] = {"Responses": responses, "UnprocessedKeys": unprocessed}
        if capacity.wanted:
            out["ConsumedCapacity"] = capacity.report()
        return out

    def batch_write_item(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        requests = req["RequestItems"]
        if sum(len(r) for r in requests.values()) > 25:
            raise ValidationException("Too many items requested for the BatchWriteItem call")
        writes: list[Write] = []
        for name, entries in requests.items():
            table = self._table(ctx, name)
            keys = []
            for entry in entries:
                if len(entry) != 1:
                    raise ValidationException(
                        "Supplied AttributeValue has more than one datatypes set, must contain "
                        "exactly one of the supported datatypes"
                    )
                exprs = Expressions(None, None)
                if "PutRequest" in entry:
                    try:
                        write, _ = self._prepare_put(table, entry["PutRequest"], exprs)
                    except ServiceError as exc:
                        # BatchWriteItem words every item key that misses the schema alike.
                        if exc.message.startswith(ITEM_KEY_ERRORS):
                            raise ValidationException(
                                "The provided key element does not match the schema"
                            ) from None
                        raise
                else:
                    write, _ = self._prepare_delete(table, entry["DeleteRequest"], exprs)
                keys.append(write.key)
                writes.append(write)
            _no_duplicates(keys)
        capacity = Capacity(req.get("ReturnConsumedCapacity"))
        for write in writes:
            self.apply_write(write)
            self._write_capacity(capacity, write)
        out: dict[str, Any] = {"UnprocessedItems": {}}
        if capacity.wanted:
            out["ConsumedCapacity"] = capacity.report()
        return out

    # -- transactions -------------------------------------------------------------------------

    def transact_write_items(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        actions = req["TransactItems"]  # at most 100: the model's own limit
        token = req.get("ClientRequestToken")
        digest = hashlib.sha256(
            json.dumps(actions, sort_keys=True, default=repr).encode()
        ).hexdigest()
        if token:
            seen = self.tokens.seen(ctx.account_id, ctx.region, token)
            if seen is not None:
                if seen != digest:
                    raise errors.IdempotentParameterMismatchException(
                        "Request with the same client token was used with different parameters"
                    )
                return self._replayed(ctx, req)
        prepared, invalid = self._prepare_transaction(ctx, actions)
        reasons = [
            invalid[i] if i in invalid else self._cancellation_reason(*entry)
            for i, entry in enumerate(prepared)
        ]
        failed = any(r["Code"] != "None" for r in reasons)
        if failed:
            codes = ", ".join(r["Code"] for r in reasons)
            raise errors.TransactionCanceledException(
                f"Transaction cancelled, please refer cancellation reasons for specific reasons "
                f"[{codes}]",
                CancellationReasons=reasons,
            )
        capacity = Capacity(req.get("ReturnConsumedCapacity"))
        for kind, write, _, _, _ in prepared:
            if kind == "ConditionCheck":
                capacity.add(write.table, write=2.0)
                continue
            self.apply_write(write)
            self._write_capacity(capacity, write, factor=2.0)
        if token:
            self.tokens.remember(ctx.account_id, ctx.region, token, digest)
        out: dict[str, Any] = {}
        if capacity.wanted:
            out["ConsumedCapacity"] = capacity.report()
        return out

    def _replayed(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        """A replay under a known token writes nothing: it reads each item to answer."""
        capacity = Capacity(req.get("ReturnConsumedCapacity"))
        if not capacity.wanted:
            return {}
        for action in req["TransactItems"]:
            ((_, spec),) = action.items()
            capacity.add(self._table(ctx, spec["TableName"]), read=2.0)
        return {"ConsumedCapacity": capacity.report()}

    def _cancellation_reason(
        self,
        kind: str,
        write: Write,
        condition: ast.Condition | None,
        update: ast.Update | None,
        spec: dict[str, Any],
    ) -> dict[str, Any]:
        """Why this action would cancel the transaction (Code "None" when it would not)."""
        if condition is not None and not matches(condition, write.old or {}):
            reason: dict[str, Any] = {
                "Code": "ConditionalCheckFailed",
                "Message": "The conditional request failed",
            }
            if spec.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and write.old:
                reason["Item"] = write.old
            return reason
        if kind == "Update":
            try:
                self._finish_update(write, update)
            except ServiceError as exc:
                if "cannot contain an empty" in exc.message:
                    raise  # an empty key value fails the request, not just this action
                return {"Code": "ValidationError", "Message": exc.message}
        return {"Code": "None"}

    def _prepare_transaction(
        self, ctx: RequestContext, actions: list[dict[str, Any]]
    ) -> tuple[
        list[tuple[str, Write, ast.Condition | None, ast.Update | None, dict[str, Any]]],
        dict[int, dict[str, Any]],
    ]:
        """The actions checked and prepared, and the reasons of those whose key has the wrong
        type: DynamoDB cancels the transaction for those rather than refusing the request."""
        prepared: list[
            tuple[str, Write, ast.Condition | None, ast.Update | None, dict[str, Any]]
        ] = []
        invalid: dict[int, dict[str, Any]] = {}
        seen: set[tuple[str, str]] = set()
        total = 0
        for position, action in enumerate(actions):
            if len(action) != 1:
                raise ValidationException(
                    "TransactItems can only contain one of Check, Put, Update or Delete"
                )
            ((kind, spec),) = action.items()
            table = self._table(ctx, spec["TableName"])
            fields = ("ConditionExpression", "UpdateExpression")
            exprs = self._expressions(spec, *fields)
            update = None
            try:
                if kind == "Put":
                    write, condition = self._prepare_put(table, spec, exprs)
                    total += av.item_size(write.new or {})
                elif kind == "Update":
                    write, condition, update = self._prepare_update(table, spec, exprs)
                elif kind == "Delete":
                    write, condition = self._prepare_delete(table, spec, exprs)
                else:
                    key = table.check_key(spec["Key"])
                    condition = exprs.condition(spec["ConditionExpression"])
                    write = Write(table, key, self.items.get(table, key), None)
            except ServiceError as exc:
                if not exc.message.startswith(KEY_TYPE_ERRORS):
                    raise
                invalid[position] = {"Code": "ValidationError", "Message": exc.message}
                prepared.append((kind, Write(table, {}, None, None), None, None, spec))
                continue
            exprs.finish()
            identity = (table.name, av.dumps(_sorted(write.key)))
            if identity in seen:
                raise ValidationException(
                    "Transaction request cannot include multiple operations on one item"
                )
            seen.add(identity)
            prepared.append((kind, write, condition, update, spec))
        if total > TRANSACT_BYTES:
            raise ValidationException(
                "Transaction request has exceeded the maximum aggregated size of 4 MB"
            )
        return prepared, invalid

    def transact_get_items(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        capacity = Capacity(req.get("ReturnConsumedCapacity"))
        responses: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for action in req["TransactItems"]:
            spec = action["Get"]
            table = self._table(ctx, spec["TableName"])
            exprs = self._expressions(spec, "ProjectionExpression")
            projection = self._projection(exprs, spec)
            exprs.finish()
            key = table.check_key(spec["Key"])
            identity = (table.name, av.dumps(_sorted(key)))
            if identity in seen:
                raise ValidationException(
                    "Transaction request cannot include multiple operations on one item"
                )
            seen.add(identity)
            item = self.items.get(table, key)
            capacity.add(table, read=2 * read_units(av.item_size(item) if item else 0, True))
            shown = project(item, projection) if item is not None and projection else item
            # An item the projection leaves nothing of is reported as no item at all.
            responses.append({"Item": shown} if shown else {})
        out: dict[str, Any] = {"Responses": responses}
        if capacity.wanted:
            out["ConsumedCapacity"] = capacity.report()
        return out

    # == PartiQL ===================================================================================

    def execute_statement(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return partiql.execute(self, ctx, req)

    def batch_execute_statement(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return partiql.batch(self, ctx, req)

    def execute_transaction(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return partiql.transaction(self, ctx, req)


# --- helpers ---------------------------------------------------------------------------------


def _sorted(key: Item) -> Item:
    return dict(sorted(key.items()))


def _no_duplicates(keys: list[Item]) -> None:
    seen = {av.dumps(_sorted(k)) for k in keys}
    if len(seen) != len(keys):
        raise ValidationException("Provided list of item keys contains duplicates")


def _return_values(req: dict[str, Any], allowed: tuple[str, ...]) -> None:
    value = req.get("ReturnValues", "NONE")
    if value not in allowed:
        raise RequestValidationException("ReturnValues can only be ALL_OLD or NONE")


def _updated_values(mode: str | None, write: Write) -> Item | None:
    mode = mode or "NONE"
    if mode == "NONE":
        return None
    if mode == "ALL_OLD":
        return write.old
    if mode == "ALL_NEW":
        return write.new
    source = write.old if mode == "UPDATED_OLD" else write.new
    if source is None:
        return None
    return project(source, write.paths) or None


def _index_write_units(write: Write, index: Index) -> float:
    """What a write costs an index: its entry deleted, written, or both when the index key
    moves; nothing when the item is not in the index or its projection is unchanged."""
    table = write.table
    before, after = (
        index.project(i, table) if i is not None and all(n in i for n in index.key_names) else None
        for i in (write.old, write.new)
    )
    if before is None and after is None:
        return 0.0
    if before is None or after is None:
        return write_units(av.item_size(before or after or {}))
    if any(not av.equal(before[n], after[n]) for n in index.key_names):
        return write_units(av.item_size(before)) + write_units(av.item_size(after))
    if av.dumps(dict(sorted(before.items()))) == av.dumps(dict(sorted(after.items()))):
        return 0.0
    return write_units(av.item_size(after))


def _collection_metrics(write: Write) -> dict[str, Any] | None:
    table = write.table
    if not any(not i.is_global for i in table.indexes.values()):
        return None
    hash_name = table.hash_key[0]
    return {
        "ItemCollectionKey": {hash_name: write.key[hash_name]},
        "SizeEstimateRangeGB": [0.0, 1.0],
    }


def _segment(req: dict[str, Any]) -> tuple[int, int] | None:
    segment, total = req.get("Segment"), req.get("TotalSegments")
    if segment is None and total is None:
        return None
    if segment is None:
        raise ValidationException(
            "The Segment parameter is required but was not present in the request when "
            "parameter TotalSegments is present"
        )
    if total is None:
        raise ValidationException(
            "The TotalSegments parameter is required but was not present in the request when "
            "Segment parameter is present"
        )
    if segment >= total:
        raise ValidationException(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
            f"Segment: {segment} is not less than TotalSegments: {total}"
        )
    return segment, total
