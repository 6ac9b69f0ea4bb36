"""Amazon Data Firehose: delivery streams fed by PutRecord/PutRecordBatch (DirectPut; also
CloudWatch Logs subscriptions and EventBridge targets) or read from a Kinesis data stream,
buffered and delivered to S3.

Records are rows in the store before PutRecord answers. The delivery task wakes on each tick of
the one clock (and whenever it is advanced or a buffer may be full): a stream's buffer is
delivered when it holds SizeInMBs or its oldest record is IntervalInSeconds old. Processors run
in order (``processing``; Lambda through the lambda provider, awaited), then the objects are
written through the S3 provider, with the destination role's permissions under IAM enforcement,
in the transaction that deletes the records they hold: delivery is exactly once unless a Lambda
processor ran and the process died before the write. A failed write is retried every 5 seconds
for 24 hours, as AWS does; records processing failed are written under the error prefix.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nubes.core import accounts, clock, ids
from nubes.core.arns import arn as make_arn
from nubes.core.arns import parse_arn
from nubes.core.context import RequestContext
from nubes.core.metrics import Datapoint
from nubes.core.tags import tag_problems
from nubes.gateway.enforce import KeyRecord, running_enforcer
from nubes.protocol.base import HttpRequest, ServiceError
from nubes.services.base import ServiceProvider
from nubes.services.firehose import codecs, prefixes, processing
from nubes.services.firehose.errors import errors
from nubes.services.firehose.models import MIGRATIONS, Buffered, DeliveryStream, Streams

log = logging.getLogger("nubes.firehose")

Json = dict[str, Any]

DESTINATION_ID = "destinationId-000000000001"
TRANSITION_SECONDS = 1.0
"""How long CREATING, DELETING, ENABLING and DISABLING last on the one clock."""
TICK_SECONDS = 1.0
MiB = 1024 * 1024
MAX_BATCH_BYTES = 4 * MiB
DEFAULT_SIZE_MB = 5
DEFAULT_INTERVAL = 300
S3_RETRY_SECONDS = 5.0
S3_RETRY_WINDOW = 24 * 3600.0
"""AWS retries a failing S3 delivery every 5 seconds for 24 hours, then drops the data."""
DEFAULT_LAMBDA_RETRIES = 3
DEFAULT_LAMBDA_BUFFER_MB = 1
MAX_STREAMS = 5000
MAX_TAGS = 50
NAMESPACE = "AWS/Firehose"
SUPPORTED_PROCESSORS = (
    "Lambda",
    "AppendDelimiterToRecord",
    "Decompression",
    "CloudWatchLogProcessing",
    "MetadataExtraction",
)
MIN_DYNAMIC_SIZE_MB = 64
OTHER_DESTINATIONS = (
    "RedshiftDestinationConfiguration",
    "ElasticsearchDestinationConfiguration",
    "AmazonopensearchserviceDestinationConfiguration",
    "SplunkDestinationConfiguration",
    "HttpEndpointDestinationConfiguration",
    "AmazonOpenSearchServerlessDestinationConfiguration",
    "SnowflakeDestinationConfiguration",
    "IcebergDestinationConfiguration",
)


def stream_arn(region: str, account: str, name: str) -> str:
    return make_arn("firehose", region, account, f"deliverystream/{name}")


def _record_id() -> str:
    return secrets.token_urlsafe(96)


def _not_found(name: str, account: str) -> ServiceError:
    return errors.ResourceNotFoundException(f"Firehose {name} under account {account} not found.")


def _millis(seconds: float) -> int:
    return int(seconds * 1000)


def _parameters(processor: Json) -> dict[str, str]:
    return {p["ParameterName"]: p["ParameterValue"] for p in processor.get("Parameters") or []}


def _processors(dest: Json) -> list[Json]:
    config = dest.get("ProcessingConfiguration") or {}
    return list(config.get("Processors") or []) if config.get("Enabled") else []


class ProcessingFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FirehoseProvider(ServiceProvider):
    service = "firehose"
    migrations = MIGRATIONS

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.streams = Streams(self.store)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._retry_at: dict[int, float] = {}
        self._sessions: dict[str, KeyRecord] = {}
        self._arrived: dict[int, int] = {}
        """Bytes put since the stream's last delivery (in this process)."""

    @classmethod
    def wants_start(cls, env: Any) -> bool:
        # Buffered records must be delivered and Kinesis sources read without a request.
        return cls.has_rows(env, "SELECT 1 FROM firehose_streams LIMIT 1")

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="nubes-firehose")
        self.env.scheduler.every("firehose-delivery", TICK_SECONDS, self._poke)
        self.env.scheduler.on_advance(self._poke)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def reset(self) -> None:
        self._retry_at.clear()
        self._sessions.clear()
        self._arrived.clear()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # -- finding streams ----------------------------------------------------------------------

    def _settle(self, stream: DeliveryStream) -> DeliveryStream | None:
        """The stream with the transitions the clock has finished applied (None once a
        DELETING stream is gone)."""
        now = clock.now()
        changed = False
        if stream.status == "CREATING" and now >= stream.settles_at:
            stream.status, changed = "ACTIVE", True
        if stream.status == "DELETING" and now >= stream.settles_at:
            self.env.tags.drop(stream.arn)
            self.streams.delete(stream)
            return None
        enc = stream.encryption
        if enc and enc.get("Status") in ("ENABLING", "DISABLING") and now >= enc["settles_at"]:
            enc["Status"] = "ENABLED" if enc["Status"] == "ENABLING" else "DISABLED"
            changed = True
        if changed:
            self.streams.save(stream)
        return stream

    def _find(self, ctx: RequestContext, name: str) -> DeliveryStream:
        stream = self.streams.get(ctx.account_id, ctx.region, name)
        found = self._settle(stream) if stream is not None else None
        if found is None:
            raise _not_found(name, ctx.account_id)
        return found

    # -- configuration ------------------------------------------------------------------------

    def _s3_destination(self, config: Json, extended: bool, previous: Json | None = None) -> Json:
        """The description of an S3 destination from a configuration (or an update merged
        onto ``previous``), checked as AWS checks it."""
        dest: Json = dict(previous or {})
        for key, value in config.items():
            if key == "BufferingHints":
                dest[key] = {**dest.get(key, {}), **value}
            elif key in ("S3BackupConfiguration", "S3BackupUpdate"):
                dest["S3BackupDescription"] = self._s3_destination(
                    value, False, dest.get("S3BackupDescription")
                )
            else:
                dest[key] = value
        dest.setdefault("BufferingHints", {})
        dest["BufferingHints"].setdefault("SizeInMBs", DEFAULT_SIZE_MB)
        dest["BufferingHints"].setdefault("IntervalInSeconds", DEFAULT_INTERVAL)
        dest.setdefault("CompressionFormat", "UNCOMPRESSED")
        dest.setdefault("EncryptionConfiguration", {"NoEncryptionConfig": "NoEncryption"})
        dest.setdefault("CloudWatchLoggingOptions", {"Enabled": False})
        if extended:
            dest.setdefault("S3BackupMode", "Disabled")
            dest.setdefault("ProcessingConfiguration", {"Enabled": False, "Processors": []})
        dynamic = bool((dest.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))
        try:
            prefixes.validate(dest.get("Prefix"), dest.get("ErrorOutputPrefix"), dynamic)
        except prefixes.PrefixError as err:
            raise errors.InvalidArgumentException(str(err)) from None
        if dynamic and dest["BufferingHints"]["SizeInMBs"] < MIN_DYNAMIC_SIZE_MB:
            raise errors.InvalidArgumentException(
                f"BufferingHints.SizeInMBs must be at least {MIN_DYNAMIC_SIZE_MB} when dynamic "
                "partitioning is enabled."
            )
        if dest.get("S3BackupMode") == "Enabled" and "S3BackupDescription" not in dest:
            raise errors.InvalidArgumentException(
                "S3BackupConfiguration is required when S3BackupMode is Enabled."
            )
        if (dest.get("DataFormatConversionConfiguration") or {}).get("Enabled"):
            raise errors.InvalidArgumentException(
                "DataFormatConversionConfiguration is not supported by nubes' Firehose."
            )
        zone = dest.get("CustomTimeZone")
        if zone:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise errors.InvalidArgumentException(
                    f"CustomTimeZone {zone} is not a supported time zone."
                ) from None
        kms = dest["EncryptionConfiguration"]
        if kms.get("NoEncryptionConfig") and kms.get("KMSEncryptionConfig"):
            raise errors.InvalidArgumentException(
                "Only one of NoEncryptionConfig and KMSEncryptionConfig may be specified."
            )
        for processor in _processors(dest):
            kind = processor["Type"]
            if kind not in SUPPORTED_PROCESSORS:
                raise errors.InvalidArgumentException(
                    f"Processor type {kind} is not supported by nubes' Firehose."
                )
            if kind == "Lambda" and "LambdaArn" not in _parameters(processor):
                raise errors.InvalidArgumentException(
                    "LambdaArn must be specified for a Lambda processor."
                )
            if kind == "MetadataExtraction":
                query = _parameters(processor).get("MetadataExtractionQuery", "")
                if processing.extraction_paths(query) is None:
                    raise errors.InvalidArgumentException(
                        f"MetadataExtractionQuery {query!r} is not supported: nubes takes "
                        "queries of the form {name: .field.path, ...}."
                    )
        return dest

    def _check_kinesis_source(self, ctx: RequestContext, source: Json) -> None:
        parsed = parse_arn(source["KinesisStreamARN"])
        if parsed is None:
            raise errors.InvalidArgumentException("KinesisStreamARN is not a valid ARN.")
        try:
            self.env.providers.invoke(
                "kinesis",
                "DescribeStreamSummary",
                {"StreamARN": source["KinesisStreamARN"]},
                parsed.account,
                parsed.region,
            )
        except ServiceError:
            raise errors.InvalidArgumentException(
                f"Kinesis stream {source['KinesisStreamARN']} does not exist or is not accessible."
            ) from None

    def create_delivery_stream(self, ctx: RequestContext, req: Json) -> Json:
        name = req["DeliveryStreamName"]
        kind = req.get("DeliveryStreamType") or "DirectPut"
        if kind not in ("DirectPut", "KinesisStreamAsSource"):
            raise errors.InvalidArgumentException(
                f"DeliveryStreamType {kind} is not supported by nubes' Firehose."
            )
        source = req.get("KinesisStreamSourceConfiguration")
        if kind == "KinesisStreamAsSource" and not source:
            raise errors.InvalidArgumentException(
                "KinesisStreamSourceConfiguration is required when DeliveryStreamType is "
                "KinesisStreamAsSource."
            )
        if kind == "DirectPut" and source:
            raise errors.InvalidArgumentException(
                "KinesisStreamSourceConfiguration is only allowed when DeliveryStreamType is "
                "KinesisStreamAsSource."
            )
        encryption_input = req.get("DeliveryStreamEncryptionConfigurationInput")
        if encryption_input and kind != "DirectPut":
            raise errors.InvalidArgumentException(
                "Server-side encryption is only supported for DirectPut delivery streams."
            )
        s3_configs = ("S3DestinationConfiguration", "ExtendedS3DestinationConfiguration")
        given = [k for k in s3_configs if req.get(k)]
        others = [k for k in OTHER_DESTINATIONS if req.get(k)]
        if others:
            raise errors.InvalidArgumentException(
                f"{others[0]} is not supported by nubes' Firehose: deliver to S3."
            )
        if len(given) != 1:
            raise errors.InvalidArgumentException(
                "Exactly one destination configuration must be specified."
            )
        extended = given[0] == "ExtendedS3DestinationConfiguration"
        dest = self._s3_destination(req[given[0]], extended)
        if source:
            self._check_kinesis_source(ctx, source)
        existing = self.streams.get(ctx.account_id, ctx.region, name)
        # A DELETING stream whose time is up is gone, and its name free again.
        if existing is not None and self._settle(existing) is not None:
            raise errors.ResourceInUseException(
                f"Firehose {name} under accountId {ctx.account_id} already exists"
            )
        if len(self.streams.names(ctx.account_id, ctx.region, None, None)) >= MAX_STREAMS:
            raise errors.LimitExceededException(
                f"You have already consumed your firehose quota of {MAX_STREAMS} hoses. "
                f"Firehose names: {name}"
            )
        tags = {t["Key"]: t.get("Value", "") for t in req.get("Tags") or []}
        problems = tag_problems({}, tags)
        if problems:
            raise errors.InvalidArgumentException(problems[0])
        now = clock.now()
        arn = stream_arn(ctx.region, ctx.account_id, name)
        stream = DeliveryStream(
            id=0,
            account=ctx.account_id,
            region=ctx.region,
            name=name,
            arn=arn,
            type=kind,
            status="CREATING",
            settles_at=now + TRANSITION_SECONDS,
            created=now,
            updated=None,
            version=1,
            source={**source, "DeliveryStartTimestamp": now} if source else None,
            destination={"extended": extended, "config": dest},
            encryption=self._encryption(encryption_input, now) if encryption_input else None,
        )
        self.streams.create(stream)
        if tags:
            self.env.tags.set(arn, tags)
        return {"DeliveryStreamARN": arn}

    def _check_key(self, key_arn: str) -> None:
        parsed = parse_arn(key_arn)
        try:
            found = self.env.providers.invoke(
                "kms", "DescribeKey", {"KeyId": key_arn}, parsed.account, parsed.region
            )["KeyMetadata"]
        except ServiceError:
            raise errors.InvalidKMSResourceException(
                f"KMS key {key_arn} does not exist or is not accessible.",
                code="NotFoundException",
            ) from None
        if found.get("KeyState") != "Enabled":
            raise errors.InvalidKMSResourceException(
                f"KMS key {key_arn} is not enabled.", code="DisabledException"
            )

    def _encryption(self, given: Json, now: float) -> Json:
        key_type = given["KeyType"]
        key_arn = given.get("KeyARN")
        if key_arn:
            self._check_key(key_arn)
        if key_type == "CUSTOMER_MANAGED_CMK" and not key_arn:
            raise errors.InvalidArgumentException(
                "KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK."
            )
        if key_type == "AWS_OWNED_CMK" and key_arn:
            raise errors.InvalidArgumentException(
                "KeyARN must not be specified when KeyType is AWS_OWNED_CMK."
            )
        out: Json = {"KeyType": key_type, "Status": "ENABLING", "settles_at": now}
        if key_arn:
            out["KeyARN"] = key_arn
        return out

    def _describe(self, stream: DeliveryStream) -> Json:
        dest = stream.destination["config"]
        basic = {
            k: v
            for k, v in dest.items()
            if k
            in (
                "RoleARN",
                "BucketARN",
                "Prefix",
                "ErrorOutputPrefix",
                "BufferingHints",
                "CompressionFormat",
                "EncryptionConfiguration",
                "CloudWatchLoggingOptions",
            )
        }
        destination: Json = {"DestinationId": DESTINATION_ID, "S3DestinationDescription": basic}
        if stream.destination["extended"]:
            destination["ExtendedS3DestinationDescription"] = dest
        out: Json = {
            "DeliveryStreamName": stream.name,
            "DeliveryStreamARN": stream.arn,
            "DeliveryStreamStatus": stream.status,
            "DeliveryStreamType": stream.type,
            "VersionId": str(stream.version),
            "CreateTimestamp": stream.created,
            "Destinations": [destination],
            "HasMoreDestinations": False,
        }
        enc = stream.encryption
        if enc:
            out["DeliveryStreamEncryptionConfiguration"] = {
                k: v for k, v in enc.items() if k in ("KeyARN", "KeyType", "Status")
            }
        else:
            out["DeliveryStreamEncryptionConfiguration"] = {"Status": "DISABLED"}
        if stream.updated is not None:
            out["LastUpdateTimestamp"] = stream.updated
        if stream.source:
            out["Source"] = {"KinesisStreamSourceDescription": stream.source}
        return out

    def describe_delivery_stream(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._find(ctx, req["DeliveryStreamName"])
        return {"DeliveryStreamDescription": self._describe(stream)}

    def list_delivery_streams(self, ctx: RequestContext, req: Json) -> Json:
        limit = req.get("Limit") or 10
        names = self.streams.names(
            ctx.account_id,
            ctx.region,
            req.get("DeliveryStreamType"),
            req.get("ExclusiveStartDeliveryStreamName"),
        )
        return {
            "DeliveryStreamNames": names[:limit],
            "HasMoreDeliveryStreams": len(names) > limit,
        }

    def delete_delivery_stream(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._find(ctx, req["DeliveryStreamName"])
        if stream.status == "CREATING" and not req.get("AllowForceDelete"):
            raise errors.ResourceInUseException(
                f"Firehose {stream.name} is in CREATING state and cannot be deleted."
            )
        if stream.status != "DELETING":
            stream.status = "DELETING"
            stream.settles_at = clock.now() + TRANSITION_SECONDS
            self.streams.save(stream)
        return {}

    def update_destination(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._find(ctx, req["DeliveryStreamName"])
        if stream.status != "ACTIVE":
            raise errors.ResourceInUseException(
                f"Firehose {stream.name} is not in the ACTIVE state (it is {stream.status})."
            )
        given = req["CurrentDeliveryStreamVersionId"]
        if given != str(stream.version):
            raise errors.ConcurrentModificationException(
                f"Cannot update firehose: {stream.name} since the current version id: "
                f"{stream.version} and specified version id: {given} do not match"
            )
        if req["DestinationId"] != DESTINATION_ID:
            raise errors.InvalidArgumentException(
                f"Destination Id {req['DestinationId']} not found."
            )
        others = [
            k
            for k in req
            if k.endswith("DestinationUpdate") and not k.endswith("S3DestinationUpdate")
        ]
        if others:
            raise errors.InvalidArgumentException(
                f"{others[0]} is not supported by nubes' Firehose: deliver to S3."
            )
        update = req.get("ExtendedS3DestinationUpdate")
        extended = stream.destination["extended"]
        if update is not None:
            extended = True
        else:
            update = req.get("S3DestinationUpdate")
        if update is None:
            raise errors.InvalidArgumentException("A destination update must be specified.")
        dest = self._s3_destination(update, extended, stream.destination["config"])
        stream.destination = {"extended": extended, "config": dest}
        stream.version += 1
        stream.updated = clock.now()
        self.streams.save(stream)
        return {}

    # -- encryption ---------------------------------------------------------------------------

    def start_delivery_stream_encryption(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._find(ctx, req["DeliveryStreamName"])
        if stream.type != "DirectPut":
            raise errors.InvalidArgumentException(
                "Server-side encryption is only supported for DirectPut delivery streams."
            )
        if stream.status != "ACTIVE":
            raise errors.ResourceInUseException(f"Firehose {stream.name} is not ACTIVE.")
        given = req.get("DeliveryStreamEncryptionConfigurationInput") or {
            "KeyType": "AWS_OWNED_CMK"
        }
        now = clock.now()
        stream.encryption = self._encryption(given, now + TRANSITION_SECONDS)
        self.streams.save(stream)
        return {}

    def stop_delivery_stream_encryption(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._find(ctx, req["DeliveryStreamName"])
        if stream.type != "DirectPut":
            raise errors.InvalidArgumentException(
                "Server-side encryption is only supported for DirectPut delivery streams."
            )
        if stream.encryption and stream.encryption.get("Status") in ("ENABLED", "ENABLING"):
            stream.encryption = {
                "Status": "DISABLING",
                "settles_at": clock.now() + TRANSITION_SECONDS,
            }
            self.streams.save(stream)
        return {}

    # -- tags ---------------------------------------------------------------------------------

    def tag_delivery_stream(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._find(ctx, req["DeliveryStreamName"])
        tags = {t["Key"]: t.get("Value", "") for t in req["Tags"]}
        existing = self.env.tags.get(stream.arn)
        if len({**existing, **tags}) > MAX_TAGS:
            raise errors.LimitExceededException(
                f"A delivery stream cannot have more than {MAX_TAGS} tags."
            )
        problems = tag_problems(existing, tags)
        if problems:
            raise errors.InvalidArgumentException(problems[0])
        self.env.tags.set(stream.arn, tags)
        return {}

    def untag_delivery_stream(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._find(ctx, req["DeliveryStreamName"])
        self.env.tags.remove(stream.arn, req["TagKeys"])
        return {}

    def list_tags_for_delivery_stream(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._find(ctx, req["DeliveryStreamName"])
        tags = sorted(self.env.tags.get(stream.arn).items())
        after = req.get("ExclusiveStartTagKey")
        if after:
            tags = [t for t in tags if t[0] > after]
        limit = req.get("Limit") or 50
        return {
            "Tags": [{"Key": k, "Value": v} for k, v in tags[:limit]],
            "HasMoreTags": len(tags) > limit,
        }

    # -- records ------------------------------------------------------------------------------

    def _accepting(self, ctx: RequestContext, name: str) -> DeliveryStream:
        stream = self._find(ctx, name)
        if stream.type != "DirectPut":
            raise errors.InvalidArgumentException(
                f"This operation is not permitted on {stream.type} delivery stream type."
            )
        if stream.status != "ACTIVE":
            # AWS: "Attempts to send data to a delivery stream that is not in the ACTIVE state
            # cause an exception."
            raise _not_found(name, ctx.account_id)
        return stream

    def _accept(self, stream: DeliveryStream, records: list[bytes]) -> list[str]:
        ids_ = [_record_id() for _ in records]
        now = clock.now()
        self.streams.append(stream, now, list(zip(ids_, records, strict=True)))
        self._publish(stream, now, "IncomingRecords", len(records), "Count")
        size = sum(map(len, records))
        self._publish(stream, now, "IncomingBytes", size, "Bytes")
        # Only a buffer that may be full wakes the delivery task early (its look at every
        # buffer costs more than a put); the others wait for the next tick of the clock.
        self._arrived[stream.id] = self._arrived.get(stream.id, 0) + size
        hints = stream.destination["config"]["BufferingHints"]
        if self._arrived[stream.id] >= hints["SizeInMBs"] * MiB or not hints["IntervalInSeconds"]:
            self._poke()
        return ids_

    def _encrypted(self, stream: DeliveryStream) -> bool:
        return bool(stream.encryption and stream.encryption.get("Status") == "ENABLED")

    def put_record(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._accepting(ctx, req["DeliveryStreamName"])
        [record_id] = self._accept(stream, [bytes(req["Record"]["Data"])])
        return {"RecordId": record_id, "Encrypted": self._encrypted(stream)}

    def put_record_batch(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._accepting(ctx, req["DeliveryStreamName"])
        records = [bytes(r["Data"]) for r in req["Records"]]
        if sum(map(len, records)) > MAX_BATCH_BYTES:
            raise errors.InvalidArgumentException("Records size exceeds 4 MB limit")
        record_ids = self._accept(stream, records)
        return {
            "FailedPutCount": 0,
            "Encrypted": self._encrypted(stream),
            "RequestResponses": [{"RecordId": rid} for rid in record_ids],
        }

    def _publish(
        self, stream: DeliveryStream, at: float, name: str, value: float, unit: str
    ) -> None:
        self.env.metrics.publish(
            Datapoint(
                account_id=stream.account,
                region=stream.region,
                namespace=NAMESPACE,
                name=name,
                value=value,
                unit=unit,
                dimensions={"DeliveryStreamName": stream.name},
                timestamp=at,
            )
        )

    # -- delivery -----------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                await self._deliver_due()
            except Exception:
                log.exception("firehose delivery failed")
            await self._wake.wait()

    def _due(self) -> list[DeliveryStream]:
        """Streams whose buffer is full or old enough, after reading Kinesis sources."""
        now = clock.now()
        due = []
        with self.store.transaction():
            for stream in self.streams.all():
                settled = self._settle(stream)
                if settled is not None and settled.status == "ACTIVE" and settled.source:
                    self._read_kinesis(settled)
            for row in self.streams.buffer_state():
                found = self.streams.by_id(row["stream_id"])
                if found is None or found.status not in ("ACTIVE", "DELETING"):
                    continue
                if self._retry_at.get(found.id, 0.0) > now:
                    continue
                hints = found.destination["config"]["BufferingHints"]
                full = row["size"] >= hints["SizeInMBs"] * MiB
                if full or now >= row["oldest"] + hints["IntervalInSeconds"]:
                    due.append(found)
        return due

    async def _deliver_due(self) -> None:
        for stream in self._due():
            while True:
                with self.store.transaction():
                    current = self.streams.by_id(stream.id)
                    if current is None:
                        break
                    hints = current.destination["config"]["BufferingHints"]
                    batch = self.streams.take(current.id, hints["SizeInMBs"] * MiB)
                if not batch:
                    break
                await self._deliver(current, batch)
                if self._retry_at.get(current.id, 0.0) > clock.now():
                    break
                with self.store.transaction():
                    left = [r for r in self.streams.buffer_state() if r["stream_id"] == current.id]
                if not left or left[0]["size"] < hints["SizeInMBs"] * MiB:
                    break

    async def _deliver(self, stream: DeliveryStream, batch: list[Buffered]) -> None:
        dest = stream.destination["config"]
        outputs: list[tuple[Buffered, bytes]] = [(r, r.data) for r in batch]
        failed: list[tuple[Buffered, str, str, str]] = []
        # Each record's dynamic partitioning keys (``namespace:name`` -> value), by seq.
        keys: dict[int, dict[str, str]] = {}
        for processor in _processors(dest):
            kind = processor["Type"]
            params = _parameters(processor)
            if kind == "Decompression":
                outputs, bad = processing.decompress(outputs)
                failed += bad
            elif kind == "CloudWatchLogProcessing":
                if params.get("DataMessageExtraction", "false").lower() == "true":
                    outputs = processing.log_messages(outputs)
            elif kind == "Lambda":
                outputs, bad = await self._transform(stream, outputs, params, keys)
                failed += bad
            elif kind == "MetadataExtraction":
                outputs, bad = processing.extract(
                    outputs, params.get("MetadataExtractionQuery", ""), keys
                )
                failed += bad
            elif kind == "AppendDelimiterToRecord":
                delimiter = params.get("Delimiter", "\\n").encode().decode("unicode_escape")
                outputs = [(r, data + delimiter.encode()) for r, data in outputs]
        now = clock.now()
        # Prefix and suffix times are in the destination's time zone (UTC unless it says).
        zone = ZoneInfo(dest["CustomTimeZone"]) if dest.get("CustomTimeZone") else UTC
        oldest = datetime.fromtimestamp(min(r.arrival for r in batch), zone)
        fmt = dest.get("CompressionFormat", "UNCOMPRESSED")
        extension = dest.get("FileExtension") or codecs.EXTENSIONS.get(fmt, "")
        groups, missing = processing.partitions(dest, outputs, keys)
        failed += missing
        objects = []
        for group_keys, members in groups.items():
            name = prefixes.suffix(stream.name, stream.version, oldest, "")
            body = codecs.compress(b"".join(data for _, data in members), fmt, name)
            where = prefixes.object_prefix(dest.get("Prefix") or "", oldest, dict(group_keys))
            objects.append((where + name + extension, body))
        bucket = dest["BucketARN"].split(":::", 1)[1]
        try:
            with self.store.transaction():
                for key, body in objects:
                    self._put(stream, bucket, key, body)
                if failed:
                    self._write_failed(stream, dest, bucket, failed, oldest, now)
                if dest.get("S3BackupMode") == "Enabled":
                    self._back_up(stream, dest["S3BackupDescription"], batch, oldest)
                self.streams.remove(stream.id, [r.seq for r in batch])
        except (ServiceError, prefixes.PrefixError) as err:
            log.warning("Firehose %s could not deliver to %s: %s", stream.name, bucket, err)
            if now - min(r.arrival for r in batch) >= S3_RETRY_WINDOW:
                with self.store.transaction():
                    self.streams.remove(stream.id, [r.seq for r in batch])
                self._publish(stream, now, "DeliveryToS3.Success", 0, "Count")
            else:
                self._retry_at[stream.id] = now + S3_RETRY_SECONDS
                self._publish(stream, now, "DeliveryToS3.Success", 0, "Count")
            return
        self._retry_at.pop(stream.id, None)
        self._arrived.pop(stream.id, None)
        self._publish(stream, now, "DeliveryToS3.Records", len(outputs), "Count")
        self._publish(stream, now, "DeliveryToS3.Bytes", sum(len(b) for _, b in objects), "Bytes")
        self._publish(stream, now, "DeliveryToS3.Success", 1, "Count")

    def _put(self, stream: DeliveryStream, bucket: str, key: str, body: bytes) -> None:
        params: Json = {"Bucket": bucket, "Key": key, "Body": body}
        kms = stream.destination["config"]["EncryptionConfiguration"].get("KMSEncryptionConfig")
        if kms:
            params["ServerSideEncryption"] = "aws:kms"
            params["SSEKMSKeyId"] = kms["AWSKMSKeyARN"]
        self._as_role(stream, "s3", "PutObject", params, stream.account, stream.region)
        self.env.providers.invoke("s3", "PutObject", params, stream.account, stream.region)

    def _as_role(
        self, stream: DeliveryStream, service: str, operation: str, params: Json, *where: str
    ) -> None:
        """With IAM enforcement on, refuse what the destination's role may not do: Firehose
        writes to the bucket and invokes the function with that role's session."""
        enforcer = running_enforcer(self.env)
        if enforcer is None:
            return
        role = stream.destination["config"]["RoleARN"]
        record = self._sessions.get(role)
        if record is None or record.expired:
            creds = self.env.providers.invoke(
                "sts",
                "AssumeRole",
                {"RoleArn": role, "RoleSessionName": "AWSFirehoseToS3"},
                stream.account,
                stream.region,
            )["Credentials"]
            record = enforcer.key_record(creds["AccessKeyId"], creds["SessionToken"])
            self._sessions[role] = record
        account, region = where
        ctx = RequestContext(
            account_id=account,
            region=region,
            request_id=ids.request_id(),
            service=service,
            operation=operation,
            principal=record.principal,
            request=HttpRequest("POST", "/", headers={"host": "firehose.amazonaws.com"}),
            protocol="json",
        )
        enforcer.authorize(ctx, operation, params, record)

    def _back_up(
        self, stream: DeliveryStream, backup: Json, batch: list[Buffered], oldest: datetime
    ) -> None:
        """The source records as they arrived, before any processing, to the backup bucket."""
        fmt = backup.get("CompressionFormat", "UNCOMPRESSED")
        name = prefixes.suffix(stream.name, stream.version, oldest, "")
        body = codecs.compress(b"".join(r.data for r in batch), fmt, name)
        key = prefixes.object_prefix(backup.get("Prefix") or "", oldest) + name
        bucket = backup["BucketARN"].split(":::", 1)[1]
        self._put(stream, bucket, key + codecs.EXTENSIONS.get(fmt, ""), body)

    def _write_failed(
        self,
        stream: DeliveryStream,
        dest: Json,
        bucket: str,
        failed: list[tuple[Buffered, str, str, str]],
        oldest: datetime,
        now: float,
    ) -> None:
        lines = []
        for record, code, message, lambda_arn in failed:
            entry: Json = {
                "attemptsMade": 1,
                "arrivalTimestamp": _millis(record.arrival),
                "errorCode": code,
                "errorMessage": message,
                "attemptEndingTimestamp": _millis(now),
                "rawData": base64.b64encode(record.data).decode(),
            }
            if lambda_arn:
                entry["lambdaArn"] = lambda_arn
            lines.append(json.dumps(entry) + "\n")
        prefix = prefixes.error_prefix(
            dest.get("Prefix") or "", dest.get("ErrorOutputPrefix"), oldest, "processing-failed"
        )
        name = prefixes.suffix(stream.name, stream.version, oldest, "")
        self._put(stream, bucket, prefix + name, "".join(lines).encode())

    async def _transform(
        self,
        stream: DeliveryStream,
        outputs: list[tuple[Buffered, bytes]],
        params: dict[str, str],
        keys: dict[int, dict[str, str]],
    ) -> tuple[list[tuple[Buffered, bytes]], list[tuple[Buffered, str, str, str]]]:
        """Run the Lambda processor over the records, in invocations of at most
        BufferSizeInMBs, each retried NumberOfRetries times before its records fail."""
        function = params["LambdaArn"]
        retries = int(params.get("NumberOfRetries", DEFAULT_LAMBDA_RETRIES))
        limit = int(float(params.get("BufferSizeInMBs", DEFAULT_LAMBDA_BUFFER_MB)) * MiB)
        kept: list[tuple[Buffered, bytes]] = []
        failed: list[tuple[Buffered, str, str, str]] = []
        chunk: list[tuple[Buffered, bytes]] = []
        chunks = []
        size = 0
        for item in outputs:
            if chunk and size + len(item[1]) > limit:
                chunks.append(chunk)
                chunk, size = [], 0
            chunk.append(item)
            size += len(item[1])
        if chunk:
            chunks.append(chunk)
        for part in chunks:
            last: ProcessingFailed | None = None
            for _ in range(retries + 1):
                try:
                    results = await self._invoke(stream, function, part)
                    break
                except ProcessingFailed as err:
                    last = err
            else:
                assert last is not None
                failed += [(r, last.code, last.message, function) for r, _ in part]
                continue
            for record, _ in part:
                result = results.get(record.record_id)
                if result is None:
                    failed.append(
                        (record, "Lambda.MissingRecordId", "The record was not returned.", function)
                    )
                elif result.get("result") == "Ok":
                    found = (result.get("metadata") or {}).get("partitionKeys") or {}
                    keys.setdefault(record.seq, {}).update(
                        {f"partitionKeyFromLambda:{k}": str(v) for k, v in found.items()}
                    )
                    try:
                        kept.append((record, base64.b64decode(result.get("data") or "")))
                    except ValueError:
                        failed.append(
                            (record, "Lambda.InvalidData", "The data is not base64.", function)
                        )
                elif result.get("result") == "Dropped":
                    continue
                else:
                    failed.append(
                        (record, "Lambda.ProcessingFailedStatus", "ProcessingFailed", function)
                    )
        return kept, failed

    async def _invoke(
        self, stream: DeliveryStream, function: str, part: list[tuple[Buffered, bytes]]
    ) -> dict[str, Json]:
        records = []
        for record, data in part:
            entry: Json = {
                "recordId": record.record_id,
                "approximateArrivalTimestamp": _millis(record.arrival),
                "data": base64.b64encode(data).decode(),
            }
            if record.metadata:
                entry["kinesisRecordMetadata"] = record.metadata
            records.append(entry)
        event = {
            "invocationId": str(uuid.uuid4()),
            "deliveryStreamArn": stream.arn,
            "region": stream.region,
            "records": records,
        }
        parsed = parse_arn(function)
        account = parsed.account if parsed else stream.account
        region = parsed.region if parsed else stream.region
        ctx = RequestContext(
            account_id=account,
            region=region,
            request_id=ids.request_id(),
            service="lambda",
            operation="Invoke",
            principal=accounts.root_principal(account, account),
            request=HttpRequest("POST", "/", headers={"host": "firehose.amazonaws.com"}),
            # Not "internal": Firehose waits for the function's answer (RequestResponse).
            protocol="firehose",
        )
        params = {"FunctionName": function, "Payload": json.dumps(event).encode()}
        try:
            with self.store.transaction():
                self._as_role(stream, "lambda", "Invoke", params, account, region)
            out = await self.env.providers.dispatch(ctx, "Invoke", params)
        except ServiceError as err:
            raise ProcessingFailed(f"Lambda.{err.code}", err.message) from None
        payload = out.get("Payload") or b""
        if not isinstance(payload, bytes | bytearray):
            payload = b"".join(payload)
        if out.get("FunctionError"):
            raise ProcessingFailed("Lambda.FunctionError", payload.decode(errors="replace"))
        try:
            answer = json.loads(payload)
            return {r["recordId"]: r for r in answer["records"]}
        except (ValueError, KeyError, TypeError):
            raise ProcessingFailed(
                "Lambda.InvalidReturn", "The Lambda function's response is not valid."
            ) from None

    # -- Kinesis sources ----------------------------------------------------------------------

    def _read_kinesis(self, stream: DeliveryStream) -> None:
        assert stream.source is not None
        source_arn = stream.source["KinesisStreamARN"]
        parsed = parse_arn(source_arn)
        if parsed is None:
            return
        account, region = parsed.account, parsed.region

        def call(op: str, params: Json) -> Json:
            result: Json = self.env.providers.invoke("kinesis", op, params, account, region)
            return result

        try:
            shards = call("ListShards", {"StreamARN": source_arn})["Shards"]
        except ServiceError:
            return
        positions = self.streams.positions(stream.id)
        for shard in shards:
            shard_id = shard["ShardId"]
            at = positions.get(shard_id)
            request: Json = {"StreamARN": source_arn, "ShardId": shard_id}
            if at:
                request |= {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "StartingSequenceNumber": at,
                }
            else:
                request |= {
                    "ShardIteratorType": "AT_TIMESTAMP",
                    "Timestamp": stream.source["DeliveryStartTimestamp"],
                }
            try:
                iterator = call("GetShardIterator", request)["ShardIterator"]
                got = call("GetRecords", {"StreamARN": source_arn, "ShardIterator": iterator})
            except ServiceError:
                continue
            found = got.get("Records") or []
            if not found:
                continue
            now = clock.now()
            rows = []
            for record in found:
                arrival = record.get("ApproximateArrivalTimestamp")
                meta = {
                    "shardId": shard_id,
                    "partitionKey": record["PartitionKey"],
                    "sequenceNumber": record["SequenceNumber"],
                    "approximateArrivalTimestamp": _millis(
                        arrival.timestamp() if isinstance(arrival, datetime) else arrival or now
                    ),
                    "subsequenceNumber": "",
                }
                rows.append((now, _record_id(), bytes(record["Data"]), meta))
            self.streams.append_with_metadata(stream, rows)
            self.streams.set_position(stream.id, shard_id, found[-1]["SequenceNumber"])
            self._publish(stream, now, "IncomingRecords", len(rows), "Count")
