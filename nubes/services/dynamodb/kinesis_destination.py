"""Kinesis Data Streams for DynamoDB: each item change of a table, sent to the Kinesis data
streams it is enabled for, as the JSON record DynamoDB writes there (``eventName``,
``dynamodb.Keys/NewImage/OldImage``, ``tableName``, ``recordFormat``, ``userIdentity``...).

A destination is kept in the table's spec (``_kinesis``: stream ARN, precision, status and when
it last changed). It reports ENABLING (or UPDATING, DISABLING) for a moment by the clock, then
ACTIVE (or DISABLED). Records go out from the Enable call on: nubes is ready at once, and
changes made while the status still says ENABLING are not lost.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.protocol.base import ServiceError
from nubes.services.dynamodb import values as av
from nubes.services.dynamodb.errors import ValidationException, errors
from nubes.services.dynamodb.models import Item, Table

if TYPE_CHECKING:
    from nubes.core.context import RequestContext
    from nubes.services.dynamodb.provider import DynamoDBProvider

# How long (by the clock) a destination reports the status of a change in progress.
SETTLE_SECONDS = 5.0
SETTLED = {"ENABLING": "ACTIVE", "UPDATING": "ACTIVE", "DISABLING": "DISABLED"}
SENDING = ("ENABLING", "ACTIVE", "UPDATING")


def _status(destination: dict[str, Any]) -> str:
    status = str(destination["Status"])
    if clock.now() >= destination["Since"] + SETTLE_SECONDS:
        return SETTLED.get(status, status)
    return status


class KinesisDestinations:
    def __init__(self, provider: DynamoDBProvider) -> None:
        self.provider = provider

    def _table(self, ctx: RequestContext, name: str) -> Table:
        return self.provider.tables.editable(ctx.account_id, ctx.region, name)

    def _stream(self, ctx: RequestContext, stream_arn: str) -> None:
        """The Kinesis data stream must exist (asked of Kinesis, as DynamoDB does)."""
        try:
            self.provider.env.providers.invoke(
                "kinesis",
                "DescribeStreamSummary",
                {"StreamARN": stream_arn},
                ctx.account_id,
                ctx.region,
            )
        except ServiceError:
            raise errors.ResourceNotFoundException(
                f"Requested resource not found: Stream: {stream_arn} not found"
            ) from None

    def enable(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self._table(ctx, req["TableName"])
        stream_arn = req["StreamArn"]
        precision = (req.get("EnableKinesisStreamingConfiguration") or {}).get(
            "ApproximateCreationDateTimePrecision", "MILLISECOND"
        )
        destinations = _destinations(table)
        current = destinations.get(stream_arn)
        if current is not None and _status(current) in SENDING:
            raise errors.ResourceInUseException(
                f"Table {table.name} is already streaming to the Kinesis data stream {stream_arn}"
            )
        self._stream(ctx, stream_arn)
        destinations[stream_arn] = {
            "Status": "ENABLING",
            "Since": clock.now(),
            "Precision": precision,
        }
        self._save(table, destinations)
        return {
            "TableName": table.name,
            "StreamArn": stream_arn,
            "DestinationStatus": "ENABLING",
            "EnableKinesisStreamingConfiguration": {
                "ApproximateCreationDateTimePrecision": precision
            },
        }

    def disable(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self._table(ctx, req["TableName"])
        stream_arn = req["StreamArn"]
        destinations = _destinations(table)
        current = destinations.get(stream_arn)
        if current is None or _status(current) not in SENDING:
            raise ValidationException(
                f"Table {table.name} is not streaming to the Kinesis data stream {stream_arn}"
            )
        current.update(Status="DISABLING", Since=clock.now())
        self._save(table, destinations)
        out: dict[str, Any] = {
            "TableName": table.name,
            "StreamArn": stream_arn,
            "DestinationStatus": "DISABLING",
        }
        if req.get("EnableKinesisStreamingConfiguration"):
            out["EnableKinesisStreamingConfiguration"] = req["EnableKinesisStreamingConfiguration"]
        return out

    def update(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self._table(ctx, req["TableName"])
        stream_arn = req["StreamArn"]
        destinations = _destinations(table)
        current = destinations.get(stream_arn)
        if current is None or _status(current) not in SENDING:
            raise errors.ResourceNotFoundException(
                f"Requested resource not found: Table {table.name} is not streaming to the "
                f"Kinesis data stream {stream_arn}"
            )
        config = req.get("UpdateKinesisStreamingConfiguration") or {}
        precision = config.get("ApproximateCreationDateTimePrecision")
        if precision is None:
            raise ValidationException(
                "Invalid Request: UpdateKinesisStreamingConfiguration must have at least one "
                "field set"
            )
        if _status(current) != "ACTIVE":
            raise errors.ResourceInUseException(
                f"Kinesis streaming destination {stream_arn} of table {table.name} is being "
                f"changed: {_status(current)}"
            )
        if precision == current["Precision"]:
            raise ValidationException(
                "Invalid Request: Precision is already set to the desired value of "
                f"{precision} for this Kinesis data stream destination"
            )
        current.update(Status="UPDATING", Since=clock.now(), Precision=precision)
        self._save(table, destinations)
        return {
            "TableName": table.name,
            "StreamArn": stream_arn,
            "DestinationStatus": "UPDATING",
            "UpdateKinesisStreamingConfiguration": {
                "ApproximateCreationDateTimePrecision": precision
            },
        }

    def describe(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        table = self.provider.tables.get(
            ctx.account_id, ctx.region, req["TableName"], describe=True
        )
        return {
            "TableName": table.name,
            "KinesisDataStreamDestinations": [
                {
                    "StreamArn": stream_arn,
                    "DestinationStatus": _status(destination),
                    "ApproximateCreationDateTimePrecision": destination["Precision"],
                }
                for stream_arn, destination in _destinations(table).items()
            ],
        }

    def _save(self, table: Table, destinations: dict[str, Any]) -> None:
        table.spec["_kinesis"] = destinations
        self.provider.tables.save(table)

    def send(
        self,
        table: Table,
        event: str,
        key: Item,
        old: Item | None,
        new: Item | None,
        identity: dict[str, str] | None,
    ) -> None:
        """Put the change on each Kinesis data stream the table streams to. A stream gone or
        over its throughput does not fail the table's write (DynamoDB retries on its side and
        reports the destination's trouble there, not to the writer)."""
        now = clock.now()
        for stream_arn, destination in _destinations(table).items():
            if _status(destination) not in SENDING:
                continue
            record = _record(table, event, key, old, new, identity, now, destination["Precision"])
            data = json.dumps(record, separators=(",", ":")).encode()
            try:
                self.provider.env.providers.invoke(
                    "kinesis",
                    "PutRecord",
                    {
                        "StreamARN": stream_arn,
                        "Data": data,
                        "PartitionKey": _partition_key(key),
                    },
                    table.account,
                    table.region,
                )
            except ServiceError:
                continue


def _destinations(table: Table) -> dict[str, Any]:
    return dict(table.spec.get("_kinesis") or {})


def _partition_key(key: Item) -> str:
    """The same for every change of one item, so an item's records stay in order in a shard."""
    return hashlib.md5(av.dumps(dict(sorted(key.items()))).encode()).hexdigest().upper()


def _record(
    table: Table,
    event: str,
    key: Item,
    old: Item | None,
    new: Item | None,
    identity: dict[str, str] | None,
    now: float,
    precision: str,
) -> dict[str, Any]:
    scale = 1_000_000 if precision == "MICROSECOND" else 1000
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": int(now * scale),
        "Keys": _wire(key),
    }
    if new is not None:
        change["NewImage"] = _wire(new)
    if old is not None:
        change["OldImage"] = _wire(old)
    change["SizeBytes"] = sum(av.item_size(i) for i in (key, new, old) if i is not None)
    change["ApproximateCreationDateTimePrecision"] = precision
    return {
        "awsRegion": table.region,
        "eventID": str(uuid.uuid4()),
        "eventName": event,
        "userIdentity": (
            {"type": identity["Type"], "principalId": identity["PrincipalId"]} if identity else None
        ),
        "recordFormat": "application/json",
        "tableName": table.name,
        "dynamodb": change,
        "eventSource": "aws:dynamodb",
    }


def _wire(item: Item) -> Item:
    """Attribute values as DynamoDB's JSON has them (binary base64-encoded)."""
    return {name: _wire_value(value) for name, value in item.items()}


def _wire_value(value: Item) -> Any:
    kind = av.value_type(value)
    inner = value[kind]
    if kind == "B":
        return {"B": base64.b64encode(bytes(inner)).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(bytes(b)).decode() for b in inner]}
    if kind == "M":
        return {"M": _wire(inner)}
    if kind == "L":
        return {"L": [_wire_value(v) for v in inner]}
    return {kind: inner}
