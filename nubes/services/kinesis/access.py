"""What a Kinesis request is authorized against: the stream's ARN (named by StreamARN, by
StreamName in the caller's account and region, or by the shard iterator a GetRecords reads), a
consumer's ARN for the operations on one, or the ResourceARN of tagging and policy calls; the
account-wide operations ask for ``*``."""

from __future__ import annotations

from typing import Any

from nubes.core.arns import arn as make_arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token

ACCOUNT_WIDE = frozenset(
    ("ListStreams", "DescribeLimits", "DescribeAccountSettings", "UpdateAccountSettings")
)
CONSUMER_OPERATIONS = frozenset(
    ("DescribeStreamConsumer", "DeregisterStreamConsumer", "SubscribeToShard")
)


def resource_arn(ctx: RequestContext, operation: str, params: dict[str, Any]) -> str:
    """The ARN a request acts on, ``*`` when it names none."""
    if operation in ACCOUNT_WIDE:
        return "*"
    if operation in CONSUMER_OPERATIONS and params.get("ConsumerARN"):
        return str(params["ConsumerARN"])
    for member in ("ResourceARN", "StreamARN"):
        if params.get(member):
            return str(params[member])
    if params.get("StreamName"):
        return make_arn("kinesis", ctx.region, ctx.account_id, f"stream/{params['StreamName']}")
    for member in ("ShardIterator", "NextToken"):
        found = _token_stream(params.get(member))
        if found:
            return found
    return "*"


def _token_stream(token: Any) -> str | None:
    """The stream a shard iterator or ListShards' NextToken is for (both carry its ARN)."""
    if not isinstance(token, str):
        return None
    try:
        found = decode_token(token)
    except InvalidToken:
        return None
    if not isinstance(found, dict):
        return None
    value = found.get("n") or found.get("arn")
    return str(value) if isinstance(value, str) and value.startswith("arn:") else None
