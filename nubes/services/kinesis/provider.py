"""Amazon Kinesis Data Streams: streams of shards over the 128-bit hash key space, records
placed by the MD5 of their partition key (or an explicit hash key), read through shard
iterators; resharding (split, merge, uniform scaling) closes shards and opens children;
enhanced fan-out consumers, whose SubscribeToShard pushes records as they come for five
minutes; retention, encryption, tags and resource policies; On-demand Advantage (the
account's minimum throughput billing commitment, the warm throughput of on-demand streams).
Provisioned shards take 1,000 records and 1 MiB a second, as on AWS; on-demand streams are not
throttled.

Streams, shards and records are rows in the store, written before the answer (records survive
``kill -9``). Status changes AWS makes in the background (CREATING, UPDATING -> ACTIVE, DELETING
-> gone, consumers CREATING -> ACTIVE) settle by the one clock, looked at when read.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from nubes.core import clock
from nubes.core.arns import arn as make_arn
from nubes.core.arns import parse_arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.core.tags import tag_problems
from nubes.protocol.base import ServiceError
from nubes.services.base import ServiceProvider
from nubes.services.kinesis.errors import errors
from nubes.services.kinesis.models import (
    HASH_SPACE,
    MIGRATIONS,
    Commitment,
    Consumer,
    Shard,
    StoredRecord,
    Stream,
    Streams,
    even_ranges,
    parse_sequence,
    sequence_number,
    sequence_prefix,
    shard_id,
    shard_index,
)

Json = dict[str, Any]

TRANSITION_SECONDS = 1.0
"""How long CREATING, UPDATING and DELETING last (AWS: seconds), on the one clock."""
CONSUMER_TRANSITION_SECONDS = 1.0
ITERATOR_LIFETIME = 300.0
NEXT_TOKEN_LIFETIME = 300.0
DEFAULT_RETENTION = 24
MAX_RETENTION = 8760
ON_DEMAND_SHARDS = 4
ON_DEMAND_STREAM_LIMIT = 50
LARGE_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
"""Regions where an account's default shard quota is 500 (200 elsewhere)."""
MAX_PUT_RECORDS_BYTES = 5 * 1024 * 1024
MAX_GET_RECORDS_BYTES = 10 * 1024 * 1024
SHARD_WRITE_RECORDS = 1000
SHARD_WRITE_BYTES = 1024 * 1024
"""Per shard and second, for provisioned streams (on-demand ones scale instead)."""
MAX_CONSUMERS = 20
MAX_SCALINGS = 10
SCALING_WINDOW = 24 * 3600.0
MAX_TAGS = 50
COMMITMENT_SECONDS = 24 * 3600.0
"""The shortest a minimum throughput billing commitment lasts."""
MAX_WARM_MIBPS = 10 * 1024
"""An on-demand stream warms to at most 10 GiB/s of writes."""
ON_DEMAND_MIBPS = ON_DEMAND_SHARDS
"""The write capacity an on-demand stream starts with: 1 MiB/s for each of its shards."""
SHARD_METRICS = (
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
)
NAMESPACE = "AWS/Kinesis"
SWEEP_SECONDS = 60.0
SUBSCRIPTION_SECONDS = 300.0
"""How long a SubscribeToShard call streams before the client has to subscribe again."""
HEARTBEAT_SECONDS = 5.0
"""Longest quiet time on a subscription before an event without records is sent."""
MAX_SUBSCRIBE_RECORDS = 10_000


def stream_arn(region: str, account: str, name: str) -> str:
    return make_arn("kinesis", region, account, f"stream/{name}")


def _hash_of(key: str) -> int:
    return int.from_bytes(hashlib.md5(key.encode()).digest(), "big")


def _not_found(name: str, account: str) -> ServiceError:
    return errors.ResourceNotFoundException(f"Stream {name} under account {account} not found.")


class KinesisProvider(ServiceProvider):
    service = "kinesis"
    migrations = MIGRATIONS

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.streams = Streams(self.store)
        # Writes per (stream id, shard index) in the current second: (second, records, bytes).
        self._writes: dict[tuple[int, int], tuple[int, int, int]] = {}
        self._arrivals: dict[int, asyncio.Event] = {}
        self._closing = False

    async def start(self) -> None:
        self.env.scheduler.every("kinesis-retention", SWEEP_SECONDS, self._sweep)
        self.env.scheduler.on_advance(self._wake_all)

    async def stop(self) -> None:
        self._closing = True
        self._wake_all()

    def reset(self) -> None:
        self._writes.clear()
        self._wake_all()

    def _sweep(self) -> None:
        now = clock.now()
        self.streams.expire(now)
        for stream in self.streams.all():
            if stream.gone_at(now):
                self._remove(stream)
            else:
                self.streams.forget_shards(stream, now - 3600 * stream.retention_hours)

    # -- finding streams ----------------------------------------------------------------------

    def _find(self, account: str, region: str, name: str) -> Stream | None:
        stream = self.streams.get(account, region, name)
        if stream is not None and stream.gone_at(clock.now()):
            self._remove(stream)
            return None
        return stream

    def _remove(self, stream: Stream) -> None:
        self.env.tags.drop(stream.arn)
        for consumer in self.streams.consumers(stream):
            self.env.tags.drop(consumer.arn)
        self.streams.drop_policies(stream.arn)
        self.streams.delete(stream)

    def _stream(self, ctx: RequestContext, req: Json, arn_member: str = "StreamARN") -> Stream:
        """The stream a request names by StreamName or its ARN (either, or both alike)."""
        name, given_arn = req.get("StreamName"), req.get(arn_member)
        account, region = ctx.account_id, ctx.region
        if given_arn:
            found = self._parse_stream_arn(given_arn)
            if name and name != found[2]:
                raise errors.InvalidArgumentException(
                    f"StreamName {name} does not match the stream of StreamARN {given_arn}."
                )
            account, region, name = found
        if not name:
            raise errors.ValidationException("Either StreamName or StreamARN should be provided.")
        stream = self._find(account, region, name)
        if stream is None:
            raise _not_found(name, account)
        return stream

    @staticmethod
    def _parse_stream_arn(text: str) -> tuple[str, str, str]:
        try:
            found = parse_arn(text)
        except ValueError:
            raise errors.InvalidArgumentException(f"Invalid StreamARN {text}.") from None
        kind, _, name = found.resource.partition("/")
        if found.service != "kinesis" or kind != "stream" or not name or "/" in name:
            raise errors.InvalidArgumentException(f"Invalid StreamARN {text}.")
        return found.account, found.region, name

    def _readable(self, ctx: RequestContext, req: Json) -> Stream:
        """A stream records go to or come from: ACTIVE or UPDATING (CREATING is not there yet)."""
        stream = self._stream(ctx, req)
        if stream.status_at(clock.now()) not in ("ACTIVE", "UPDATING"):
            raise _not_found(stream.name, stream.account)
        return stream

    def _active(self, ctx: RequestContext, req: Json) -> Stream:
        stream = self._stream(ctx, req)
        status = stream.status_at(clock.now())
        if status != "ACTIVE":
            raise errors.ResourceInUseException(
                f"Stream {stream.name} under account {stream.account} not ACTIVE, instead in "
                f"state {status}"
            )
        return stream

    def _shard(self, stream: Stream, text: str) -> Shard:
        idx = shard_index(text)
        for shard in self.streams.shards(stream):
            if shard.idx == idx:
                return shard
        raise errors.ResourceNotFoundException(
            f"Shard {text} in stream {stream.name} under account {stream.account} does not exist"
        )

    def _begin_update(self, stream: Stream) -> None:
        self.streams.update(stream, status="UPDATING", settles_at=clock.now() + TRANSITION_SECONDS)

    # -- streams ------------------------------------------------------------------------------

    def create_stream(self, ctx: RequestContext, req: Json) -> Json:
        name = req["StreamName"]
        mode = (req.get("StreamModeDetails") or {}).get("StreamMode")
        count = req.get("ShardCount")
        if mode is None:
            mode = "PROVISIONED" if count is not None else "ON_DEMAND"
        if mode == "PROVISIONED" and count is None:
            raise errors.InvalidArgumentException(
                "ShardCount must be specified for a stream in PROVISIONED mode."
            )
        if mode == "ON_DEMAND" and count is not None:
            raise errors.InvalidArgumentException(
                "ShardCount cannot be specified for a stream in ON_DEMAND mode."
            )
        shards = int(count) if count is not None else ON_DEMAND_SHARDS
        if shards < 1:
            raise errors.InvalidArgumentException(
                f"ShardCount {count} is invalid: a stream needs at least one shard."
            )
        if self._find(ctx.account_id, ctx.region, name) is not None:
            raise errors.ResourceInUseException(
                f"Stream {name} under account {ctx.account_id} already exists."
            )
        self._check_shard_quota(ctx.account_id, ctx.region, shards)
        if mode == "ON_DEMAND":
            self._check_on_demand_quota(ctx.account_id, ctx.region)
        warm = req.get("WarmThroughputMiBps")
        if warm is not None:
            self._check_warm(ctx.account_id, ctx.region, mode, warm)
        tags = req.get("Tags") or {}
        self._check_tags({}, tags)
        now = clock.now()
        stream = self.streams.create(
            ctx.account_id,
            ctx.region,
            name,
            stream_arn(ctx.region, ctx.account_id, name),
            now,
            now + TRANSITION_SECONDS,
            mode,
            DEFAULT_RETENTION,
            req.get("MaxRecordSizeInKiB") or 1024,
        )
        for start, end in even_ranges(shards):
            self.streams.add_shard(stream, start, end, now)
        if warm is not None:
            self.streams.update(stream, warm_target=warm, warm_current=ON_DEMAND_MIBPS)
        if tags:
            self.env.tags.set(stream.arn, tags)
        return {}

    def _check_shard_quota(self, account: str, region: str, more: int) -> None:
        limit = self._shard_limit(region)
        open_now = self.streams.open_shard_count(account, region)
        if open_now + more > limit:
            raise errors.LimitExceededException(
                f"This request would exceed the shard limit for the account {account} in "
                f"{region}. Current shard count for the account: {open_now}. Limit: {limit}. "
                f"Number of additional shards that would have resulted from this request: {more}."
            )

    def _check_on_demand_quota(self, account: str, region: str) -> None:
        count = sum(s.mode == "ON_DEMAND" for s in self.streams.listing(account, region))
        if count >= ON_DEMAND_STREAM_LIMIT:
            raise errors.LimitExceededException(
                f"This request would exceed the on-demand stream count limit of "
                f"{ON_DEMAND_STREAM_LIMIT} for the account {account} in {region}."
            )

    @staticmethod
    def _shard_limit(region: str) -> int:
        return 500 if region in LARGE_REGIONS else 200

    def delete_stream(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._stream(ctx, req)
        now = clock.now()
        status = stream.status_at(now)
        if status in ("CREATING", "DELETING"):
            raise errors.ResourceInUseException(
                f"Stream {stream.name} under account {stream.account} not ACTIVE, instead in "
                f"state {status}"
            )
        live = [c for c in self.streams.consumers(stream) if not c.gone_at(now)]
        if live and not req.get("EnforceConsumerDeletion"):
            raise errors.ResourceInUseException(
                f"Stream {stream.name} under account {stream.account} has registered consumers. "
                "Deregister them first or set EnforceConsumerDeletion."
            )
        self.streams.update(stream, status="DELETING", settles_at=now + TRANSITION_SECONDS)
        for consumer in live:
            self.streams.set_consumer_status(consumer, "DELETING", now + TRANSITION_SECONDS)
        return {}

    def describe_stream(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._stream(ctx, req)
        limit = req.get("Limit") or 100
        shards = self._retained_shards(stream)
        start = req.get("ExclusiveStartShardId")
        if start:
            after = shard_index(start)
            shards = [s for s in shards if after is None or s.idx > after]
        page = shards[:limit]
        summary = self._summary(stream)
        return {
            "StreamDescription": {
                "StreamName": stream.name,
                "StreamARN": stream.arn,
                "StreamStatus": summary["StreamStatus"],
                "StreamModeDetails": summary["StreamModeDetails"],
                "Shards": [s.describe(stream.created) for s in page],
                "HasMoreShards": len(shards) > limit,
                "RetentionPeriodHours": stream.retention_hours,
                "StreamCreationTimestamp": stream.created,
                "EnhancedMonitoring": summary["EnhancedMonitoring"],
                "EncryptionType": stream.encryption,
                **({"KeyId": stream.key_id} if stream.key_id else {}),
            }
        }

    def _retained_shards(self, stream: Stream) -> list[Shard]:
        horizon = clock.now() - 3600 * stream.retention_hours
        return [s for s in self.streams.shards(stream) if s.closed is None or s.closed >= horizon]

    def _summary(self, stream: Stream) -> Json:
        now = clock.now()
        out: Json = {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "StreamStatus": stream.status_at(now),
            "StreamModeDetails": {"StreamMode": stream.mode},
            "RetentionPeriodHours": stream.retention_hours,
            "StreamCreationTimestamp": stream.created,
            "EnhancedMonitoring": [{"ShardLevelMetrics": list(stream.metrics)}],
            "EncryptionType": stream.encryption,
            "OpenShardCount": len(self.streams.open_shards(stream)),
            "ConsumerCount": sum(not c.gone_at(now) for c in self.streams.consumers(stream)),
            "MaxRecordSizeInKiB": stream.max_record_kib,
        }
        if stream.key_id:
            out["KeyId"] = stream.key_id
        if stream.mode == "ON_DEMAND" and self._committed(stream.account, stream.region):
            out["WarmThroughput"] = self._warm_view(stream)
        return out

    def describe_stream_summary(self, ctx: RequestContext, req: Json) -> Json:
        return {"StreamDescriptionSummary": self._summary(self._stream(ctx, req))}

    def list_streams(self, ctx: RequestContext, req: Json) -> Json:
        limit = req.get("Limit") or 100
        after = req.get("ExclusiveStartStreamName")
        if req.get("NextToken"):
            if after:
                raise errors.InvalidArgumentException(
                    "NextToken and ExclusiveStartStreamName cannot be provided together."
                )
            after = self._read_token(req["NextToken"], "streams")["after"]
        now = clock.now()
        streams = [
            s
            for s in self.streams.listing(ctx.account_id, ctx.region)
            if not s.gone_at(now) and (after is None or s.name > after)
        ]
        page = streams[:limit]
        out: Json = {
            "StreamNames": [s.name for s in page],
            "HasMoreStreams": len(streams) > limit,
            "StreamSummaries": [
                {
                    "StreamName": s.name,
                    "StreamARN": s.arn,
                    "StreamStatus": s.status_at(now),
                    "StreamModeDetails": {"StreamMode": s.mode},
                    "StreamCreationTimestamp": s.created,
                }
                for s in page
            ],
        }
        if len(streams) > limit and page:
            out["NextToken"] = self._token("streams", after=page[-1].name)
        return out

    @staticmethod
    def _token(kind: str, **position: Any) -> str:
        return encode_token({"k": kind, "t": clock.now(), **position})

    @staticmethod
    def _read_token(token: str, kind: str) -> Json:
        try:
            found = decode_token(token)
            if not isinstance(found, dict) or found.get("k") != kind:
                raise InvalidToken(token)
            issued = float(found["t"])
        except (InvalidToken, KeyError, TypeError, ValueError):
            raise errors.InvalidArgumentException(f"Invalid NextToken {token}.") from None
        if clock.now() - issued > NEXT_TOKEN_LIFETIME:
            raise errors.ExpiredNextTokenException(
                f"The timestamp of the NextToken {token} has expired. Next tokens expire after "
                "300 seconds."
            )
        return found

    # -- retention, modes, monitoring ----------------------------------------------------------

    def increase_stream_retention_period(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._active(ctx, req)
        hours = req["RetentionPeriodHours"]
        self._check_retention(hours)
        if hours < stream.retention_hours:
            raise errors.InvalidArgumentException(
                f"Requested retention period ({hours} hours) for stream {stream.name} can not be "
                f"shorter than existing retention period ({stream.retention_hours} hours). Use "
                "DecreaseRetentionPeriod API."
            )
        self.streams.update(stream, retention_hours=hours)
        return {}

    def decrease_stream_retention_period(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._active(ctx, req)
        hours = req["RetentionPeriodHours"]
        self._check_retention(hours)
        if hours > stream.retention_hours:
            raise errors.InvalidArgumentException(
                f"Requested retention period ({hours} hours) for stream {stream.name} can not be "
                f"longer than existing retention period ({stream.retention_hours} hours). Use "
                "IncreaseRetentionPeriod API."
            )
        self.streams.update(stream, retention_hours=hours)
        return {}

    @staticmethod
    def _check_retention(hours: int) -> None:
        if hours < DEFAULT_RETENTION:
            raise errors.InvalidArgumentException(
                f"Minimum allowed retention period is {DEFAULT_RETENTION} hours. Requested "
                f"retention period ({hours} hours) is too short."
            )
        if hours > MAX_RETENTION:
            raise errors.InvalidArgumentException(
                f"Maximum allowed retention period is {MAX_RETENTION} hours. Requested retention "
                f"period ({hours} hours) is too long."
            )

    def update_stream_mode(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._active(ctx, {"StreamARN": req["StreamARN"]})
        mode = req["StreamModeDetails"]["StreamMode"]
        if mode == stream.mode:
            raise errors.InvalidArgumentException(
                f"Stream {stream.name} under account {stream.account} is already in {mode} mode."
            )
        if mode == "ON_DEMAND":
            self._check_on_demand_quota(stream.account, stream.region)
        warm = req.get("WarmThroughputMiBps")
        if warm is not None:
            if mode != "ON_DEMAND":
                raise errors.InvalidArgumentException(
                    "WarmThroughputMiBps can only be specified when the stream mode is updated "
                    "to ON_DEMAND."
                )
            self._check_warm(stream.account, stream.region, mode, warm)
        if mode == "ON_DEMAND":
            self.streams.update(stream, mode=mode, warm_target=warm, warm_current=ON_DEMAND_MIBPS)
        else:
            self.streams.update(stream, mode=mode, warm_target=None, warm_current=None)
        self._begin_update(stream)
        return {}

    # -- On-demand Advantage: the account's commitment and warm throughput ----------------------

    def _committed(self, account: str, region: str) -> bool:
        commitment = self.streams.commitment(account, region)
        return commitment is not None and commitment.status_at(clock.now()) != "DISABLED"

    def describe_account_settings(self, ctx: RequestContext, req: Json) -> Json:
        commitment = self.streams.commitment(ctx.account_id, ctx.region)
        view = commitment.view(clock.now()) if commitment else {"Status": "DISABLED"}
        return {"MinimumThroughputBillingCommitment": view}

    def update_account_settings(self, ctx: RequestContext, req: Json) -> Json:
        wanted = req["MinimumThroughputBillingCommitment"]["Status"]
        now = clock.now()
        account, region = ctx.account_id, ctx.region
        commitment = self.streams.commitment(account, region)
        status = commitment.status_at(now) if commitment else "DISABLED"
        if wanted == "ENABLED":
            if status == "DISABLED":
                commitment = Commitment(now, now + COMMITMENT_SECONDS, None)
                self.streams.clear_warm_throughput(account, region)
            elif commitment is not None:
                # Enabling before the earliest end cancels the pending disable.
                commitment.ended_at = None
        elif commitment is not None and status == "ENABLED":
            commitment.ended_at = max(now, commitment.earliest_end)
        if commitment is not None:
            self.streams.set_commitment(account, region, commitment)
            view = commitment.view(now)
        else:
            view = {"Status": "DISABLED"}
        return {"MinimumThroughputBillingCommitment": view}

    def _check_warm(self, account: str, region: str, mode: str, mibps: int) -> None:
        if mode != "ON_DEMAND":
            raise errors.InvalidArgumentException(
                "Warm throughput is only supported for streams in ON_DEMAND mode."
            )
        if not self._committed(account, region):
            raise errors.InvalidArgumentException(
                f"Warm throughput requires MinimumThroughputBillingCommitment to be enabled for "
                f"the account {account} in {region}."
            )
        if mibps > MAX_WARM_MIBPS:
            raise errors.LimitExceededException(
                f"Requested warm throughput of {mibps} MiBps exceeds the limit of "
                f"{MAX_WARM_MIBPS} MiBps for an on-demand stream."
            )

    def _warm_current(self, stream: Stream) -> int:
        if stream.warm_target is None:
            return ON_DEMAND_MIBPS
        if clock.now() >= stream.settles_at or stream.warm_current is None:
            return max(stream.warm_target, ON_DEMAND_MIBPS)
        return stream.warm_current

    def _warm_view(self, stream: Stream) -> Json:
        out: Json = {"CurrentMiBps": self._warm_current(stream)}
        if stream.warm_target is not None:
            out["TargetMiBps"] = stream.warm_target
        return out

    def update_stream_warm_throughput(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._active(ctx, req)
        mibps = req["WarmThroughputMiBps"]
        self._check_warm(stream.account, stream.region, stream.mode, mibps)
        self.streams.update(stream, warm_target=mibps, warm_current=self._warm_current(stream))
        self._begin_update(stream)
        return {
            "StreamARN": stream.arn,
            "StreamName": stream.name,
            "WarmThroughput": self._warm_view(stream),
        }

    def update_max_record_size(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._active(ctx, {"StreamARN": req["StreamARN"]})
        self.streams.update(stream, max_record_kib=req["MaxRecordSizeInKiB"])
        self._begin_update(stream)
        return {}

    def enable_enhanced_monitoring(self, ctx: RequestContext, req: Json) -> Json:
        return self._monitoring(ctx, req, enable=True)

    def disable_enhanced_monitoring(self, ctx: RequestContext, req: Json) -> Json:
        return self._monitoring(ctx, req, enable=False)

    def _monitoring(self, ctx: RequestContext, req: Json, enable: bool) -> Json:
        stream = self._active(ctx, req)
        asked = list(req["ShardLevelMetrics"])
        for name in asked:
            if name != "ALL" and name not in SHARD_METRICS:
                raise errors.InvalidArgumentException(f"Invalid shard level metric {name}.")
        chosen = set(SHARD_METRICS) if "ALL" in asked else set(asked)
        current = list(stream.metrics)
        if enable:
            desired = [m for m in SHARD_METRICS if m in chosen or m in current]
        else:
            desired = [m for m in current if m not in chosen]
        self.streams.update(stream, metrics=desired)
        return {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "CurrentShardLevelMetrics": current,
            "DesiredShardLevelMetrics": desired,
        }

    def describe_limits(self, ctx: RequestContext, req: Json) -> Json:
        streams = self.streams.listing(ctx.account_id, ctx.region)
        return {
            "ShardLimit": self._shard_limit(ctx.region),
            "OpenShardCount": self.streams.open_shard_count(ctx.account_id, ctx.region),
            "OnDemandStreamCount": sum(s.mode == "ON_DEMAND" for s in streams),
            "OnDemandStreamCountLimit": ON_DEMAND_STREAM_LIMIT,
        }

    # -- encryption ---------------------------------------------------------------------------

    def start_stream_encryption(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._active(ctx, req)
        key = req["KeyId"]
        self._check_key(ctx, stream, key)
        self.streams.update(stream, encryption="KMS", key_id=key)
        self._begin_update(stream)
        return {}

    def stop_stream_encryption(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._active(ctx, req)
        if stream.encryption != "KMS":
            raise errors.InvalidArgumentException(
                f"Stream {stream.name} under account {stream.account} is not encrypted."
            )
        self.streams.update(stream, encryption="NONE", key_id=None)
        self._begin_update(stream)
        return {}

    def _check_key(self, ctx: RequestContext, stream: Stream, key: str) -> None:
        """The key must exist and be enabled (the AWS managed ``alias/aws/kinesis`` always
        does)."""
        if key in (
            "alias/aws/kinesis",
            make_arn("kms", stream.region, stream.account, "alias/aws/kinesis"),
        ):
            return
        try:
            found = self.env.providers.invoke(
                "kms", "DescribeKey", {"KeyId": key}, stream.account, stream.region
            )["KeyMetadata"]
        except ServiceError as err:
            if err.code in ("NotFoundException", "ValidationException"):
                raise errors.KMSNotFoundException(f"Key '{key}' does not exist") from None
            raise
        if not found.get("Enabled", True):
            raise errors.KMSDisabledException(f"{found['Arn']} is disabled.")
        if found.get("KeyState") not in (None, "Enabled"):
            raise errors.KMSInvalidStateException(f"{found['Arn']} is {found.get('KeyState')}.")

    # -- resharding ---------------------------------------------------------------------------

    def update_shard_count(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._active(ctx, req)
        if stream.mode == "ON_DEMAND":
            raise errors.ValidationException(
                f"UpdateShardCount is not supported for stream {stream.name} under account "
                f"{stream.account} in ON_DEMAND mode."
            )
        target = req["TargetShardCount"]
        # In hash key order: a child's parent is the shard holding its starting hash key.
        current = sorted(self.streams.open_shards(stream), key=lambda s: s.start_hash)
        count = len(current)
        if target < 1:
            raise errors.InvalidArgumentException("TargetShardCount must be at least 1.")
        if target > 2 * count:
            raise errors.LimitExceededException(
                f"UpdateShardCount cannot scale up over double the current open shard count "
                f"({count}) for stream {stream.name} under account {stream.account}."
            )
        if 2 * target < count:
            raise errors.LimitExceededException(
                f"UpdateShardCount cannot scale down below half the current open shard count "
                f"({count}) for stream {stream.name} under account {stream.account}."
            )
        now = clock.now()
        recent = [t for t in stream.scalings if t > now - SCALING_WINDOW]
        if len(recent) >= MAX_SCALINGS:
            raise errors.LimitExceededException(
                f"Stream {stream.name} under account {stream.account} has already been scaled "
                f"{MAX_SCALINGS} times in the last 24 hours."
            )
        if target > count:
            self._check_shard_quota(stream.account, stream.region, target - count)
        if target != count:
            self.streams.update(stream, scalings=[*recent, now])
            for shard in current:
                self.streams.close_shard(stream, shard, now)
            for start, end in even_ranges(target):
                parents = [s.idx for s in current if s.start_hash <= end and s.end_hash >= start]
                self.streams.add_shard(
                    stream,
                    start,
                    end,
                    now,
                    parent=parents[0],
                    adjacent=parents[1] if len(parents) > 1 else None,
                )
        self._begin_update(stream)
        return {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "CurrentShardCount": count,
            "TargetShardCount": target,
        }

    def split_shard(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._active(ctx, req)
        parent = self._open_shard(stream, req["ShardToSplit"])
        try:
            new_start = int(req["NewStartingHashKey"])
        except ValueError:
            new_start = -1
        if not parent.start_hash < new_start <= parent.end_hash:
            raise errors.InvalidArgumentException(
                f"NewStartingHashKey {req['NewStartingHashKey']} used in SplitShard() on shard "
                f"{parent.id} in stream {stream.name} under account {stream.account} is not "
                f"both greater than one plus the shard's StartingHashKey {parent.start_hash} "
                f"and less than the shard's EndingHashKey {parent.end_hash}."
            )
        self._check_shard_quota(stream.account, stream.region, 1)
        now = clock.now()
        self.streams.close_shard(stream, parent, now)
        self.streams.add_shard(stream, parent.start_hash, new_start - 1, now, parent=parent.idx)
        self.streams.add_shard(stream, new_start, parent.end_hash, now, parent=parent.idx)
        self._begin_update(stream)
        return {}

    def merge_shards(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._active(ctx, req)
        first = self._open_shard(stream, req["ShardToMerge"])
        second = self._open_shard(stream, req["AdjacentShardToMerge"])
        if first.end_hash + 1 != second.start_hash and second.end_hash + 1 != first.start_hash:
            raise errors.InvalidArgumentException(
                f"Shards {first.id} and {second.id} in stream {stream.name} under account "
                f"{stream.account} are not an adjacent pair of shards eligible for merging"
            )
        now = clock.now()
        self.streams.close_shard(stream, first, now)
        self.streams.close_shard(stream, second, now)
        self.streams.add_shard(
            stream,
            min(first.start_hash, second.start_hash),
            max(first.end_hash, second.end_hash),
            now,
            parent=first.idx,
            adjacent=second.idx,
        )
        self._begin_update(stream)
        return {}

    def _open_shard(self, stream: Stream, text: str) -> Shard:
        shard = self._shard(stream, text)
        if shard.closed is not None:
            raise errors.ResourceInUseException(
                f"Shard {shard.id} in stream {stream.name} under account {stream.account} has "
                "already been merged or split, and thus is not eligible for merging or splitting."
            )
        return shard

    def list_shards(self, ctx: RequestContext, req: Json) -> Json:
        token = req.get("NextToken")
        if token:
            if req.get("StreamName") or req.get("StreamARN"):
                raise errors.InvalidArgumentException(
                    "NextToken and StreamName/StreamARN cannot be provided together."
                )
            for member in ("ExclusiveStartShardId", "StreamCreationTimestamp", "ShardFilter"):
                if req.get(member) is not None:
                    raise errors.InvalidArgumentException(
                        f"NextToken and {member} cannot be provided together."
                    )
            position = self._read_token(token, "shards")
            account, region, name = self._parse_stream_arn(position["arn"])
            stream = self._find(account, region, name)
            if stream is None or stream.created != position["created"]:
                raise _not_found(name, account)
            after: int | None = position["after"]
            kept = set(position["ids"])
            shards = [s for s in self._retained_shards(stream) if s.idx in kept]
        else:
            if not req.get("StreamName") and not req.get("StreamARN"):
                raise errors.InvalidArgumentException(
                    "Either NextToken or StreamName/StreamARN should be provided."
                )
            stream = self._stream(ctx, req)
            created = _seconds(req.get("StreamCreationTimestamp"))
            if created is not None and int(created) != int(stream.created):
                raise errors.ResourceNotFoundException(
                    f"Stream {stream.name} under account {stream.account} created at "
                    f"{int(created)} not found."
                )
            shards = self._filtered_shards(stream, req.get("ShardFilter"))
            start = req.get("ExclusiveStartShardId")
            after = shard_index(start) if start else None
        if after is not None:
            shards = [s for s in shards if s.idx > after]
        limit = req.get("MaxResults") or 1000
        page = shards[:limit]
        out: Json = {"Shards": [s.describe(stream.created) for s in page]}
        if len(shards) > limit and page:
            out["NextToken"] = self._token(
                "shards",
                arn=stream.arn,
                created=stream.created,
                after=page[-1].idx,
                ids=[s.idx for s in shards[limit:]],
            )
        return out

    def _filtered_shards(self, stream: Stream, spec: Json | None) -> list[Shard]:
        shards = self._retained_shards(stream)
        if not spec:
            return shards
        kind = spec["Type"]
        if kind == "AFTER_SHARD_ID":
            if not spec.get("ShardId"):
                raise errors.InvalidArgumentException(
                    "ShardId must be provided for ShardFilter type AFTER_SHARD_ID."
                )
            after = shard_index(spec["ShardId"])
            return [s for s in shards if after is None or s.idx > after]
        if kind == "AT_LATEST":
            return [s for s in shards if s.closed is None]
        if kind == "FROM_TRIM_HORIZON":
            return shards
        if kind == "AT_TRIM_HORIZON":
            horizon = max(clock.now() - 3600 * stream.retention_hours, stream.created)
            return [s for s in shards if _open_at(s, horizon)]
        stamp = _seconds(spec.get("Timestamp"))
        if stamp is None:
            raise errors.InvalidArgumentException(
                f"Timestamp must be provided for ShardFilter type {kind}."
            )
        if kind == "AT_TIMESTAMP":
            return [s for s in shards if _open_at(s, max(stamp, stream.created))]
        return [s for s in shards if s.closed is None or s.closed > stamp]

    # -- records ------------------------------------------------------------------------------

    def put_record(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._readable(ctx, req)
        shards = self.streams.open_shards(stream)
        data = bytes(req["Data"])
        self._check_size(stream, data, req["PartitionKey"])
        shard = self._place(stream, shards, req["PartitionKey"], req.get("ExplicitHashKey"))
        size = len(data) + len(req["PartitionKey"].encode())
        now = clock.now()
        if not self._take_throughput(stream, shard, now, 1, size):
            raise errors.ProvisionedThroughputExceededException(
                f"Rate exceeded for shard {shard.id} in stream {stream.name} under account "
                f"{stream.account}."
            )
        seq = self.streams.take_sequences(stream, 1)
        self.streams.append(stream, now, [(shard.idx, seq, req["PartitionKey"], data)])
        self._count_in(stream, 1, size)
        self._wake(stream.id)
        out: Json = {
            "ShardId": shard.id,
            "SequenceNumber": sequence_number(stream.created, shard.idx, seq),
        }
        if stream.encryption == "KMS":
            out["EncryptionType"] = "KMS"
        return out

    def put_records(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._readable(ctx, req)
        shards = self.streams.open_shards(stream)
        entries = req["Records"]
        total = 0
        placed: list[tuple[Shard, str, bytes, int]] = []
        for entry in entries:
            key = entry["PartitionKey"]
            data = bytes(entry["Data"])
            self._check_size(stream, data, key)
            size = len(data) + len(key.encode())
            total += size
            shard = self._place(stream, shards, key, entry.get("ExplicitHashKey"))
            placed.append((shard, key, data, size))
        if total > MAX_PUT_RECORDS_BYTES:
            raise errors.InvalidArgumentException(
                f"Records size exceeds {MAX_PUT_RECORDS_BYTES // (1024 * 1024)} MB limit"
            )
        now = clock.now()
        taken = [self._take_throughput(stream, shard, now, 1, size) for shard, _, _, size in placed]
        # One counter write and one batched insert for the whole request, not one per record.
        seq = self.streams.take_sequences(stream, sum(taken))
        rows: list[tuple[int, int, str, bytes]] = []
        results: list[Json] = []
        stored_bytes = 0
        prefixes = {s.idx: sequence_prefix(stream.created, s.idx) for s in shards}
        for (shard, key, data, size), ok in zip(placed, taken, strict=True):
            if not ok:
                results.append(
                    {
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": f"Rate exceeded for shard {shard.id} in stream "
                        f"{stream.name} under account {stream.account}.",
                    }
                )
                continue
            rows.append((shard.idx, seq, key, data))
            stored_bytes += size
            results.append(
                {"ShardId": shard.id, "SequenceNumber": f"{prefixes[shard.idx]}{seq:032d}"}
            )
            seq += 1
        self.streams.append(stream, now, rows)
        failed = len(entries) - len(rows)
        self._count_in(stream, len(rows), stored_bytes)
        self._wake(stream.id)
        out: Json = {"FailedRecordCount": failed, "Records": results}
        if stream.encryption == "KMS":
            out["EncryptionType"] = "KMS"
        return out

    @staticmethod
    def _check_size(stream: Stream, data: bytes, key: str) -> None:
        most = stream.max_record_kib * 1024
        size = len(data) + len(key.encode())
        if size > most:
            raise errors.ValidationException(
                f"1 validation error detected: Value at 'data' failed to satisfy constraint: "
                f"the record (data and partition key, {size} bytes) must be at most the stream's "
                f"maximum record size of {most} bytes"
            )

    @staticmethod
    def _place(stream: Stream, shards: list[Shard], key: str, explicit: str | None) -> Shard:
        if explicit is not None:
            value = int(explicit)
            if value >= HASH_SPACE:
                raise errors.InvalidArgumentException(
                    f"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                    f"Specified value was {explicit}"
                )
        else:
            value = _hash_of(key)
        for shard in shards:
            if shard.holds(value):
                return shard
        raise errors.InternalFailureException(
            f"No open shard of stream {stream.name} holds hash key {value}."
        )

    def _take_throughput(
        self, stream: Stream, shard: Shard, now: float, count: int, size: int
    ) -> bool:
        """Whether a provisioned shard can take this write in the current second."""
        if stream.mode != "PROVISIONED":
            return True
        second = int(now)
        key = (stream.id, shard.idx)
        at, records, used = self._writes.get(key, (second, 0, 0))
        if at != second:
            records, used = 0, 0
        if records + count > SHARD_WRITE_RECORDS or used + size > SHARD_WRITE_BYTES:
            self._writes[key] = (second, records, used)
            return False
        self._writes[key] = (second, records + count, used + size)
        return True

    def _count_in(self, stream: Stream, records: int, size: int) -> None:
        if not records:
            return
        dims = {"StreamName": stream.name}
        record = self.env.metrics.record
        record(stream.account, stream.region, NAMESPACE, "IncomingRecords", records, "Count", dims)
        record(stream.account, stream.region, NAMESPACE, "IncomingBytes", size, "Bytes", dims)

    def get_shard_iterator(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._readable(ctx, req)
        shard = self._shard(stream, req["ShardId"])
        after = self._start_position(
            stream,
            shard,
            req["ShardIteratorType"],
            req.get("StartingSequenceNumber"),
            req.get("Timestamp"),
        )
        return {"ShardIterator": self._iterator(stream, shard, after)}

    def _start_position(
        self, stream: Stream, shard: Shard, kind: str, number: str | None, timestamp: Any
    ) -> int:
        """The counter a new iterator reads after."""
        latest = shard.end_seq if shard.end_seq is not None else stream.next_seq - 1
        if kind == "TRIM_HORIZON":
            return shard.start_seq - 1
        if kind == "LATEST":
            return latest
        if kind == "AT_TIMESTAMP":
            when = _seconds(timestamp)
            if when is None:
                raise errors.InvalidArgumentException(
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                    "Current request has no timestamp parameter."
                )
            first = self.streams.first_at_or_after(stream, shard.idx, when)
            return latest if first is None else first - 1
        if number is None:
            raise errors.InvalidArgumentException(
                f"Must specify StartingSequenceNumber for iterator of type {kind}."
            )
        found = parse_sequence(number)
        if found is None or number[2:17] != sequence_number(stream.created, 0, 0)[2:17]:
            raise errors.InvalidArgumentException(
                f"StartingSequenceNumber {number} used in GetShardIterator on shard {shard.id} in "
                f"stream {stream.name} under account {stream.account} is invalid."
            )
        if found[0] != shard.idx:
            raise errors.InvalidArgumentException(
                f"Invalid StartingSequenceNumber. It encodes {shard_id(found[0])}, while it was "
                f"used in a call to a shard with {shard.id}"
            )
        counter = found[1]
        return counter - 1 if kind == "AT_SEQUENCE_NUMBER" else counter

    @staticmethod
    def _iterator(stream: Stream, shard: Shard, after: int) -> str:
        return encode_token(
            {
                "n": stream.arn,
                "c": stream.created,
                "h": shard.idx,
                "a": after,
                "t": clock.now(),
            }
        )

    def get_records(self, ctx: RequestContext, req: Json) -> Json:
        token = req["ShardIterator"]
        try:
            position = decode_token(token)
            arn, created = str(position["n"]), float(position["c"])
            idx, after, issued = int(position["h"]), int(position["a"]), float(position["t"])
        except (InvalidToken, KeyError, TypeError, ValueError):
            raise errors.InvalidArgumentException(f"Invalid ShardIterator: {token}") from None
        now = clock.now()
        if now - issued > ITERATOR_LIFETIME:
            raise errors.ExpiredIteratorException(
                f"Iterator expired. The iterator was created at time {_ms_text(issued)} while "
                f"right now it is {_ms_text(now)} which is further in the future than the "
                f"tolerated delay of {int(ITERATOR_LIFETIME * 1000)} milliseconds."
            )
        account, region, name = self._parse_stream_arn(arn)
        if req.get("StreamARN") and req["StreamARN"] != arn:
            raise errors.InvalidArgumentException(
                f"The ShardIterator does not belong to stream {req['StreamARN']}."
            )
        stream = self._find(account, region, name)
        if stream is None or stream.created != created:
            raise _not_found(name, account)
        shard = self._shard(stream, shard_id(idx))
        got, more = self._read(stream, shard, after, req.get("Limit") or 10000)
        if got:
            after = got[-1].seq
        out: Json = {
            "Records": self._records(stream, shard, got),
            "MillisBehindLatest": int(max(now - more.arrival, 0) * 1000) if more else 0,
        }
        if shard.closed is not None and more is None:
            out["ChildShards"] = self._children(stream, shard)
        else:
            out["NextShardIterator"] = self._iterator(stream, shard, after)
        dims = {"StreamName": stream.name}
        record = self.env.metrics.record
        record(account, region, NAMESPACE, "GetRecords.Success", 1, "Count", dims)
        record(
            account,
            region,
            NAMESPACE,
            "GetRecords.IteratorAgeMilliseconds",
            out["MillisBehindLatest"],
            "Milliseconds",
            dims,
        )
        if got:
            size = sum(len(r.data) for r in got)
            record(account, region, NAMESPACE, "GetRecords.Records", len(got), "Count", dims)
            record(account, region, NAMESPACE, "GetRecords.Bytes", size, "Bytes", dims)
        return out

    def _read(
        self, stream: Stream, shard: Shard, after: int, limit: int
    ) -> tuple[list[StoredRecord], StoredRecord | None]:
        """Up to ``limit`` records (and at most 10 MiB) after ``after``, and the next record
        not returned, if any."""
        since = clock.now() - 3600 * stream.retention_hours
        found = self.streams.records(stream, shard.idx, after, since, limit + 1)
        got: list[StoredRecord] = []
        size = 0
        for item in found[:limit]:
            size += len(item.data)
            if got and size > MAX_GET_RECORDS_BYTES:
                break
            got.append(item)
        rest = found[len(got) :]
        return got, rest[0] if rest else None

    @staticmethod
    def _records(stream: Stream, shard: Shard, items: list[StoredRecord]) -> list[Json]:
        """Records of one shard as the wire has them."""
        prefix = sequence_prefix(stream.created, shard.idx)
        out = [
            {
                "SequenceNumber": f"{prefix}{item.seq:032d}",
                "ApproximateArrivalTimestamp": item.arrival,
                "Data": item.data,
                "PartitionKey": item.partition_key,
            }
            for item in items
        ]
        if stream.encryption == "KMS":
            for record in out:
                record["EncryptionType"] = "KMS"
        return out

    def _children(self, stream: Stream, shard: Shard) -> list[Json]:
        out = []
        for child in self.streams.shards(stream):
            if shard.idx in (child.parent, child.adjacent):
                parents = [shard_id(p) for p in (child.parent, child.adjacent) if p is not None]
                out.append(
                    {
                        "ShardId": child.id,
                        "ParentShards": parents,
                        "HashKeyRange": {
                            "StartingHashKey": str(child.start_hash),
                            "EndingHashKey": str(child.end_hash),
                        },
                    }
                )
        return out

    # -- enhanced fan-out ---------------------------------------------------------------------

    def register_stream_consumer(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._stream(ctx, {"StreamARN": req["StreamARN"]})
        now = clock.now()
        name = req["ConsumerName"]
        existing = self._live_consumer(stream, name)
        if existing is not None:
            raise errors.ResourceInUseException(
                f"Consumer {existing.arn} under account {stream.account} already exists."
            )
        live = [c for c in self.streams.consumers(stream) if not c.gone_at(now)]
        if len(live) >= MAX_CONSUMERS:
            raise errors.LimitExceededException(
                f"Consumer limit of {MAX_CONSUMERS} exceeded for stream {stream.arn}."
            )
        tags = req.get("Tags") or {}
        self._check_tags({}, tags)
        consumer = Consumer(
            f"{stream.arn}/consumer/{name}:{int(now)}",
            stream.id,
            name,
            now,
            "CREATING",
            now + CONSUMER_TRANSITION_SECONDS,
        )
        self.streams.add_consumer(consumer)
        if tags:
            self.env.tags.set(consumer.arn, tags)
        return {"Consumer": self._consumer_view(consumer, with_stream=None)}

    def _live_consumer(self, stream: Stream, name: str) -> Consumer | None:
        consumer = self.streams.consumer_named(stream, name)
        if consumer is not None and consumer.gone_at(clock.now()):
            self._drop_consumer(consumer)
            return None
        return consumer

    def _drop_consumer(self, consumer: Consumer) -> None:
        self.env.tags.drop(consumer.arn)
        self.streams.set_policy(consumer.arn, None)
        self.streams.drop_consumer(consumer)

    def _consumer_view(self, consumer: Consumer, with_stream: Stream | None) -> Json:
        out: Json = {
            "ConsumerName": consumer.name,
            "ConsumerARN": consumer.arn,
            "ConsumerStatus": consumer.status_at(clock.now()),
            "ConsumerCreationTimestamp": consumer.created,
        }
        if with_stream is not None:
            out["StreamARN"] = with_stream.arn
        return out

    def _consumer(self, ctx: RequestContext, req: Json) -> tuple[Stream, Consumer]:
        arn = req.get("ConsumerARN")
        if arn:
            stream_part = arn.split("/consumer/", 1)[0]
            stream = self._stream(ctx, {"StreamARN": stream_part})
            consumer = self.streams.consumer(arn)
            if consumer is not None and consumer.gone_at(clock.now()):
                self._drop_consumer(consumer)
                consumer = None
            if consumer is None or consumer.stream_id != stream.id:
                raise errors.ResourceNotFoundException(
                    f"Consumer {arn} under account {stream.account} not found."
                )
            return stream, consumer
        if not req.get("StreamARN") or not req.get("ConsumerName"):
            raise errors.InvalidArgumentException(
                "Either ConsumerARN or both StreamARN and ConsumerName must be provided."
            )
        stream = self._stream(ctx, {"StreamARN": req["StreamARN"]})
        found = self._live_consumer(stream, req["ConsumerName"])
        if found is None:
            raise errors.ResourceNotFoundException(
                f"Consumer {req['ConsumerName']} under account {stream.account} not found."
            )
        return stream, found

    def describe_stream_consumer(self, ctx: RequestContext, req: Json) -> Json:
        stream, consumer = self._consumer(ctx, req)
        return {"ConsumerDescription": self._consumer_view(consumer, with_stream=stream)}

    def deregister_stream_consumer(self, ctx: RequestContext, req: Json) -> Json:
        _, consumer = self._consumer(ctx, req)
        if consumer.status_at(clock.now()) != "DELETING":
            self.streams.set_consumer_status(
                consumer, "DELETING", clock.now() + CONSUMER_TRANSITION_SECONDS
            )
        return {}

    def list_stream_consumers(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("NextToken"):
            position = self._read_token(req["NextToken"], "consumers")
            stream = self._stream(ctx, {"StreamARN": position["arn"]})
            after = position["after"]
        else:
            stream = self._stream(ctx, {"StreamARN": req["StreamARN"]})
            after = None
        now = clock.now()
        consumers = [c for c in self.streams.consumers(stream) if not c.gone_at(now)]
        when = _seconds(req.get("StreamCreationTimestamp"))
        if when is not None and int(when) != int(stream.created):
            raise errors.ResourceNotFoundException(
                f"Stream {stream.name} under account {stream.account} created at the given "
                "timestamp not found."
            )
        if after is not None:
            consumers = [c for c in consumers if c.arn > after]
        consumers.sort(key=lambda c: c.arn)
        limit = req.get("MaxResults") or 100
        page = consumers[:limit]
        out: Json = {"Consumers": [self._consumer_view(c, with_stream=None) for c in page]}
        if len(consumers) > limit and page:
            out["NextToken"] = self._token("consumers", arn=stream.arn, after=page[-1].arn)
        return out

    def subscribe_to_shard(self, ctx: RequestContext, req: Json) -> Json:
        stream, consumer = self._consumer(ctx, req)
        if consumer.status_at(clock.now()) != "ACTIVE":
            raise errors.ResourceInUseException(
                f"Consumer {consumer.arn} under account {stream.account} is not ACTIVE."
            )
        shard = self._shard(stream, req["ShardId"])
        start = req["StartingPosition"]
        after = self._start_position(
            stream, shard, start["Type"], start.get("SequenceNumber"), start.get("Timestamp")
        )
        return {"EventStream": self._subscription(stream, consumer.arn, shard.idx, after)}

    async def _subscription(
        self, stream: Stream, consumer_arn: str, shard: int, after: int
    ) -> AsyncIterator[Json]:
        """SubscribeToShardEvents for five minutes (by the clock): the records as they arrive,
        an empty event every few seconds while none do, and the end once the shard is closed
        and read through (its last event naming the children), the consumer or the stream
        gone, or the server stopping."""
        ends = clock.now() + SUBSCRIPTION_SECONDS
        sent_at: float | None = None
        while not self._closing:
            # Registered before reading: a put committing after the read still wakes us.
            arrived = self._arrivals.setdefault(stream.id, asyncio.Event())
            with self.store.transaction():
                event = self._next_event(stream, consumer_arn, shard, after)
            if event is None:
                return
            got, after, finished, more = event
            if (
                got["Records"]
                or finished
                or sent_at is None
                or (time.monotonic() - sent_at >= HEARTBEAT_SECONDS)
            ):
                yield {"SubscribeToShardEvent": got}
                sent_at = time.monotonic()
            if finished or clock.now() >= ends:
                return
            if not more:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrived.wait(), timeout=HEARTBEAT_SECONDS)

    def _next_event(
        self, stream: Stream, consumer_arn: str, shard_idx: int, after: int
    ) -> tuple[Json, int, bool, bool] | None:
        """The next SubscribeToShardEvent, the position after it, whether the shard has ended
        and whether more records wait; None when the subscription has lost its consumer, stream
        or shard."""
        now = clock.now()
        current = self.streams.by_id(stream.id)
        consumer = self.streams.consumer(consumer_arn)
        if (
            current is None
            or current.created != stream.created
            or current.gone_at(now)
            or consumer is None
            or consumer.gone_at(now)
        ):
            return None
        shard = next((s for s in self.streams.shards(current) if s.idx == shard_idx), None)
        if shard is None:
            return None
        got, more = self._read(current, shard, after, MAX_SUBSCRIBE_RECORDS)
        if got:
            after = got[-1].seq
        event: Json = {
            "Records": self._records(current, shard, got),
            "ContinuationSequenceNumber": sequence_number(current.created, shard.idx, after),
            "MillisBehindLatest": int(max(now - more.arrival, 0) * 1000) if more else 0,
        }
        finished = shard.closed is not None and more is None
        if finished:
            event["ChildShards"] = self._children(current, shard)
        return event, after, finished, more is not None

    def _wake(self, stream_id: int) -> None:
        """Subscriptions to the stream read again (after this request's transaction commits)."""
        arrived = self._arrivals.pop(stream_id, None)
        if arrived is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon(arrived.set)

    def _wake_all(self) -> None:
        arrivals, self._arrivals = self._arrivals, {}
        for arrived in arrivals.values():
            arrived.set()

    # -- tags ---------------------------------------------------------------------------------

    def _check_tags(self, existing: dict[str, str], new: dict[str, str]) -> None:
        problems = tag_problems(existing, new)
        if problems:
            if len({**existing, **new}) > MAX_TAGS:
                raise errors.LimitExceededException(problems[-1])
            raise errors.InvalidArgumentException(problems[0])

    def add_tags_to_stream(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._stream(ctx, req)
        self._tag(stream.arn, req["Tags"])
        return {}

    def _tag(self, arn: str, tags: dict[str, str]) -> None:
        self._check_tags(self.env.tags.get(arn), tags)
        self.env.tags.set(arn, tags)

    def remove_tags_from_stream(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._stream(ctx, req)
        self.env.tags.remove(stream.arn, req["TagKeys"])
        return {}

    def list_tags_for_stream(self, ctx: RequestContext, req: Json) -> Json:
        stream = self._stream(ctx, req)
        tags = sorted(self.env.tags.get(stream.arn).items())
        start = req.get("ExclusiveStartTagKey")
        if start:
            tags = [t for t in tags if t[0] > start]
        limit = req.get("Limit") or 50
        return {
            "Tags": [{"Key": k, "Value": v} for k, v in tags[:limit]],
            "HasMoreTags": len(tags) > limit,
        }

    def _resource(self, ctx: RequestContext, arn: str) -> str:
        """The ARN of an existing stream or consumer a request names."""
        if "/consumer/" in arn:
            return self._consumer(ctx, {"ConsumerARN": arn})[1].arn
        return self._stream(ctx, {"StreamARN": arn}).arn

    def tag_resource(self, ctx: RequestContext, req: Json) -> Json:
        self._tag(self._resource(ctx, req["ResourceARN"]), req["Tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, req: Json) -> Json:
        self.env.tags.remove(self._resource(ctx, req["ResourceARN"]), req["TagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, req: Json) -> Json:
        tags = self.env.tags.get(self._resource(ctx, req["ResourceARN"]))
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}

    # -- resource policies --------------------------------------------------------------------

    def put_resource_policy(self, ctx: RequestContext, req: Json) -> Json:
        arn = self._resource(ctx, req["ResourceARN"])
        try:
            document = json.loads(req["Policy"])
        except ValueError:
            document = None
        if not isinstance(document, dict) or not document.get("Statement"):
            raise errors.InvalidArgumentException("Invalid policy document: not a JSON policy.")
        self.streams.set_policy(arn, req["Policy"])
        return {}

    def get_resource_policy(self, ctx: RequestContext, req: Json) -> Json:
        arn = self._resource(ctx, req["ResourceARN"])
        return {"Policy": self.streams.policy(arn) or "{}"}

    def delete_resource_policy(self, ctx: RequestContext, req: Json) -> Json:
        arn = self._resource(ctx, req["ResourceARN"])
        if self.streams.policy(arn) is None:
            raise errors.ResourceNotFoundException(f"No resource policy found for {arn}.")
        self.streams.set_policy(arn, None)
        return {}

    def policy_of(self, arn: str) -> str | None:
        """A stream's or consumer's resource policy (IAM enforcement reads it)."""
        with self.store.transaction():
            return self.streams.policy(arn)


def _open_at(shard: Shard, when: float) -> bool:
    return shard.opened <= when and (shard.closed is None or shard.closed > when)


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def _ms_text(seconds: float) -> str:
    return str(int(seconds * 1000))
