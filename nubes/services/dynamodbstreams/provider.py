"""Amazon DynamoDB Streams: reading the change records the dynamodb provider appends."""

from __future__ import annotations

from typing import Any

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.services.base import ServiceProvider
from nubes.services.dynamodb.streams import Stream, Streams, sequence_number, sequence_of
from nubes.services.dynamodbstreams.errors import errors

ITERATOR_LIFETIME = 15 * 60.0
MAX_RECORDS = 1000
MAX_SHARDS = 100
MAX_STREAMS = 100


def _limit(req: dict[str, Any], most: int, default: int) -> int:
    """The request's Limit; the model gives no upper bound, the API reference does."""
    limit = int(req.get("Limit", default))
    if limit > most:
        raise errors.ValidationException(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            f"constraint: Member must have value less than or equal to {most}"
        )
    return limit


class DynamoDBStreamsProvider(ServiceProvider):
    service = "dynamodbstreams"

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        # The stream tables are the dynamodb provider's (its migrations make them): with
        # providers made on first use, a ListStreams may come before any DynamoDB call.
        env.providers.get("dynamodb")
        self.streams = Streams(self.store)

    def _stream(self, ctx: RequestContext, arn: str) -> Stream:
        stream = self.streams.by_arn(arn)
        if stream is None or stream.account != ctx.account_id or stream.region != ctx.region:
            raise errors.ResourceNotFoundException(
                f"Requested resource not found: Stream: {arn} not found"
            )
        return stream

    def list_streams(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        limit = _limit(req, MAX_STREAMS, MAX_STREAMS)
        found = self.streams.listing(
            ctx.account_id,
            ctx.region,
            req.get("TableName"),
            req.get("ExclusiveStartStreamArn"),
            limit + 1,
        )
        out: dict[str, Any] = {
            "Streams": [
                {"StreamArn": s.arn, "TableName": s.table_name, "StreamLabel": s.label}
                for s in found[:limit]
            ]
        }
        if len(found) > limit:
            out["LastEvaluatedStreamArn"] = found[limit - 1].arn
        return out

    def describe_stream(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        _limit(req, MAX_SHARDS, MAX_SHARDS)
        shard_filter = req.get("ShardFilter")
        if shard_filter is not None and not shard_filter.get("ShardId"):
            raise errors.ValidationException(
                "ShardFilter.ShardId must be provided when ShardFilter.Type is CHILD_SHARDS"
            )
        stream = self._stream(ctx, req["StreamArn"])
        first, last = self.streams.bounds(stream)
        shard: dict[str, Any] = {
            "ShardId": stream.shard_id,
            "SequenceNumberRange": {"StartingSequenceNumber": sequence_number(first or 1)},
        }
        if stream.disabled is not None:
            shard["SequenceNumberRange"]["EndingSequenceNumber"] = sequence_number(last or 1)
        return {
            "StreamDescription": {
                "StreamArn": stream.arn,
                "StreamLabel": stream.label,
                "StreamStatus": "DISABLED" if stream.disabled is not None else "ENABLED",
                "StreamViewType": stream.view_type,
                "CreationRequestDateTime": stream.created,
                "TableName": stream.table_name,
                "KeySchema": stream.key_schema,
                # One shard per stream: paging past it leaves nothing, and it has no children
                # for a CHILD_SHARDS filter to find.
                "Shards": []
                if shard_filter is not None or req.get("ExclusiveStartShardId") == stream.shard_id
                else [shard],
            }
        }

    def get_shard_iterator(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(ctx, req["StreamArn"])
        if req["ShardId"] != stream.shard_id:
            raise errors.ResourceNotFoundException(
                f"Requested resource not found: Shard: {req['ShardId']} in Stream: "
                f"{stream.arn} not found"
            )
        kind = req["ShardIteratorType"]
        if kind == "TRIM_HORIZON":
            after = 0
        elif kind == "LATEST":
            after = self.streams.latest(stream)
        else:
            number = req.get("SequenceNumber")
            if number is None:
                raise errors.ValidationException(
                    "SequenceNumber is required for ShardIteratorType " + kind
                )
            try:
                seq = sequence_of(number)
            except ValueError:
                raise errors.ValidationException(f"Invalid SequenceNumber: {number}") from None
            if seq > self.streams.latest(stream):
                raise errors.ValidationException(
                    f"Invalid SequenceNumber {number} for ShardIteratorType {kind}: it is beyond "
                    f"the last record of shard {stream.shard_id}"
                )
            after = seq - 1 if kind == "AT_SEQUENCE_NUMBER" else seq
        return {"ShardIterator": self._iterator(stream, after)}

    @staticmethod
    def _iterator(stream: Stream, after: int) -> str:
        return encode_token({"s": stream.arn, "a": after, "t": clock.now()})

    def get_records(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        try:
            position = decode_token(req["ShardIterator"])
            arn, after, issued = position["s"], int(position["a"]), float(position["t"])
        except (InvalidToken, KeyError, TypeError, ValueError):
            raise errors.ValidationException("Invalid ShardIterator") from None
        if clock.now() - issued > ITERATOR_LIFETIME:
            raise errors.ExpiredIteratorException("Iterator expired")
        stream = self._stream(ctx, arn)
        limit = _limit(req, MAX_RECORDS, MAX_RECORDS)
        records = self.streams.records(stream, after, limit)
        if records:
            after = records[-1][0]
        out: dict[str, Any] = {"Records": [r for _, r in records]}
        closed = stream.disabled is not None and after >= self.streams.latest(stream)
        if not closed:
            out["NextShardIterator"] = self._iterator(stream, after)
        return out
