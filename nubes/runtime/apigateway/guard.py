"""What stands before an integration: usage plans (API keys, throttle and quota, enforced on
the one clock) and Lambda authorizers (policy documents, results cached for their TTL)."""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

from nubes.core import clock
from nubes.core.arns import PARTITION, in_partition, partition_of
from nubes.protocol.base import HttpResponse
from nubes.runtime.apigateway.proxy import call_function, json_reply

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.services.iam.provider import IamProvider

QUOTA_PERIODS = {"DAY": 86_400.0, "WEEK": 7 * 86_400.0, "MONTH": 30 * 86_400.0}
DEFAULT_AUTHORIZER_TTL = 300

EXPLICIT_DENY = {"Message": "User is not authorized to access this resource with an explicit deny"}
NOT_ALLOWED = {"Message": "User is not authorized to access this resource"}


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class UsagePlans:
    """Token buckets (burst, then rate per second) and quota counters per (plan, key)."""

    buckets: dict[tuple[str, ...], _Bucket] = field(default_factory=dict)
    used: dict[tuple[str, str, int], int] = field(default_factory=dict)

    def admit(self, plan: dict[str, Any], key_id: str) -> HttpResponse | None:
        now = clock.now()
        throttle = plan.get("throttle") or {}
        if not self.take(
            ("plan", plan["id"], key_id), throttle.get("rateLimit"), throttle.get("burstLimit")
        ):
            return json_reply(429, {"message": "Too Many Requests"})
        quota = plan.get("quota") or {}
        if quota.get("limit") is not None:
            period = QUOTA_PERIODS.get(quota.get("period", "DAY"), 86_400.0)
            window = math.floor((now - (quota.get("offset") or 0) * 86_400.0) / period)
            counter = (plan["id"], key_id, window)
            if self.used.get(counter, 0) >= int(quota["limit"]):
                return json_reply(429, {"message": "Limit Exceeded"})
            self.used[counter] = self.used.get(counter, 0) + 1
        return None

    def take(self, key: tuple[str, ...], rate: Any, burst: Any) -> bool:
        """One request from the token bucket ``key`` (``burst`` tokens, refilled at ``rate``
        per second on the one clock); False when it is empty. No limits: always True."""
        if rate is None and burst is None:
            return True
        now = clock.now()
        rate = float(rate if rate is not None else 10_000)
        size = float(burst if burst is not None else max(rate, 1.0))
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = _Bucket(size, now)
        bucket.tokens = min(size, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def remaining(self, plan: dict[str, Any], key_id: str) -> tuple[int, int] | None:
        """(used, remaining) of the key's quota in the current period (GetUsage)."""
        quota = plan.get("quota") or {}
        if quota.get("limit") is None:
            return None
        period = QUOTA_PERIODS.get(quota.get("period", "DAY"), 86_400.0)
        window = math.floor((clock.now() - (quota.get("offset") or 0) * 86_400.0) / period)
        used = self.used.get((plan["id"], key_id, window), 0)
        return used, max(int(quota["limit"]) - used, 0)


@dataclass
class Verdict:
    response: HttpResponse | None
    """Set when the request is refused."""
    context: dict[str, Any] | None = None
    """What the integration sees as requestContext.authorizer."""


@dataclass
class Authorizers:
    """Lambda authorizers, with their results cached per identity for the authorizer's TTL."""

    env: Environment
    cache: dict[tuple[str, str, str], tuple[float, Any]] = field(default_factory=dict)

    async def decide(
        self,
        authorizer: dict[str, Any],
        cache_key: str,
        event: Callable[[], dict[str, Any]],
        account: str,
        region: str,
        resource_arn: str,
        simple: bool = False,
    ) -> Verdict:
        """Run (or recall) the authorizer and judge its answer for ``resource_arn``: an IAM
        policy (REST APIs, HTTP APIs' 1.0 format) or ``{"isAuthorized": ...}`` when simple."""
        ttl = authorizer.get("authorizerResultTtlInSeconds")
        ttl = DEFAULT_AUTHORIZER_TTL if ttl is None else int(ttl)
        key = (authorizer["api"], authorizer["id"], cache_key)
        cached = self.cache.get(key)
        result: Any
        if cached is not None and cached[0] > clock.now():
            result = cached[1]
        else:
            answer = await call_function(
                self.env, authorizer["authorizerUri"], event(), account, region
            )
            if answer is None:
                return Verdict(json_reply(500, {"message": None}))
            if answer.error:
                try:
                    message = json.loads(answer.payload).get("errorMessage")
                except (ValueError, AttributeError):
                    message = None
                if message == "Unauthorized":
                    return Verdict(json_reply(401, {"message": "Unauthorized"}))
                return Verdict(json_reply(500, {"message": None}))
            try:
                result = json.loads(answer.payload)
            except ValueError:
                return Verdict(json_reply(500, {"message": None}))
            if ttl > 0 and cache_key:
                self.cache[key] = (clock.now() + ttl, result)
        if not isinstance(result, dict):
            return Verdict(json_reply(500, {"message": None}))
        context = dict(result.get("context") or {})
        if simple:
            if result.get("isAuthorized") is True:
                return Verdict(None, {"lambda": context})
            return Verdict(json_reply(403, {"message": "Forbidden"}))
        effect = policy_effect(result.get("policyDocument"), resource_arn)
        if effect == "Deny":
            return Verdict(json_reply(403, EXPLICIT_DENY))
        if effect != "Allow":
            return Verdict(json_reply(403, NOT_ALLOWED))
        if "principalId" in result:
            context["principalId"] = result["principalId"]
        if result.get("usageIdentifierKey"):
            context["usageIdentifierKey"] = result["usageIdentifierKey"]
        return Verdict(None, context)

    def forget(self) -> None:
        self.cache.clear()


def policy_effect(policy: Any, resource_arn: str) -> str | None:
    """ "Deny" when a statement denies execute-api:Invoke on the ARN, else "Allow" when one
    allows it, else None."""
    if not isinstance(policy, dict):
        return None
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    found = None
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        actions = _listed(statement.get("Action"))
        resources = _listed(statement.get("Resource"))
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(resource_arn, r) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        if statement.get("Effect") == "Allow":
            found = "Allow"
    return found


def _listed(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value or []]


def iam_caller(env: Environment, call: Any) -> tuple[dict[str, Any], HttpResponse | None]:
    """AWS_IAM methods, as AWS runs them whether IAM enforcement is on or off: the SigV4
    signature (scoped to ``execute-api``) verified against the caller's secret, then the
    caller's IAM policies asked for ``execute-api:Invoke`` on the method's ARN. Returns the
    caller as ``requestContext.identity`` shows it, or the refusal."""
    from nubes.core import accounts
    from nubes.gateway.auth import read_credentials
    from nubes.gateway.enforce import anonymous_context, running_enforcer
    from nubes.protocol.base import ServiceError
    from nubes.services.iam.policy.engine import Request, evaluate

    ctx = anonymous_context(env, "apigatewaymanagementapi", "Invoke", call.req)
    ctx.account_id, ctx.region = call.account, call.region
    creds = read_credentials(call.req)
    if creds is not None:
        ctx.principal = accounts.resolve(creds.access_key_id, env.settings.account_id)
    iam = cast("IamProvider", env.providers.get("iam"))
    enforcer = running_enforcer(env) or iam.verifier()
    try:
        record = enforcer.authenticate(ctx, None)
    except ServiceError as err:
        return {}, json_reply(403, {"message": err.message})
    caller, principal = record.caller, record.principal
    partition = partition_of(call.region)
    if partition != PARTITION:
        # The key's record is cached per key: its caller is named in the API's partition.
        caller = replace(caller, arn=in_partition(caller.arn, partition))
        principal = replace(principal, arn=in_partition(principal.arn, partition))
    resource = call.method_arn()
    if not (caller.kind == "root" and caller.account == call.account):
        policies = enforcer.identities.policies(principal.access_key_id, record)
        request = Request("execute-api:Invoke", resource, caller, {}, call.account)
        decision = evaluate(request, policies.identity, (), policies.boundary, policies.session)
        if not decision.allowed:
            message = (
                f"User: {caller.arn} is not authorized to perform: execute-api:Invoke "
                f"on resource: {resource}"
            )
            return {}, json_reply(403, {"Message": message})
    identity = {
        "accessKey": principal.access_key_id,
        "accountId": principal.account_id,
        "caller": principal.arn.rpartition("/")[2] or principal.account_id,
        "user": principal.arn.rpartition("/")[2] or principal.account_id,
        "userArn": principal.arn,
    }
    return identity, None
