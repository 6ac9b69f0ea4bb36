"""IAM enforcement (``NUBES_ENFORCE_IAM=1``): what AWS would deny, nubes denies.

A gateway check, run after parsing and before dispatch:

1. authenticate: the access key must be known and active (the account root key pair from the
   settings, or a key IAM or STS issued), temporary credentials must come with their session
   token and not be expired, and the signature, in whichever form it comes (SigV4 header or
   presigned URL, SigV4A header where the service takes it, S3's SigV2 header and presigned
   URL, the query APIs' SigV2), must match the key's secret, over the body that was sent;
   any other form is refused, never taken unverified;
2. authorize: every action the operation needs, on the resource ARN it touches, is evaluated
   by the policy engine against the caller's identity policies, permissions boundary and
   session policies, and the resource's own policy where its service registered a lookup.

Refusals are the service's own errors in its own protocol. ``NUBES_IAM_EXPLAIN=1`` logs every
decision and why. Entry points that answer before the chain (browser POST, website, function
URLs, nubes' own endpoints) call ``running_enforcer`` and the same methods.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from nubes.core import accounts, clock, ids
from nubes.core.accounts import root_principal
from nubes.core.arns import in_partition
from nubes.core.context import Principal, RequestContext
from nubes.gateway import sigv2, sigv4, sigv4a
from nubes.gateway.auth import read_credentials
from nubes.gateway.router import s3_virtual_host_bucket
from nubes.protocol.base import HttpRequest, ServiceError
from nubes.services.iam import actions
from nubes.services.iam.identity import Identities, KeyRecord, PolicySet
from nubes.services.iam.policy import Caller, Request, evaluate, parse_policy

if TYPE_CHECKING:
    from botocore.model import OperationModel

    from nubes.app import Environment

log = logging.getLogger("nubes.iam")

MAX_SKEW = 15 * 60
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
TOKEN_OPERATIONS = {("sns", "ConfirmSubscription"), ("sns", "Unsubscribe")}
"""Called unsigned from the SubscribeURL and UnsubscribeURL SNS sends an endpoint (the token,
the subscription ARN, is the proof; nubes has no AuthenticateOnUnsubscribe); signed, they are
authenticated and authorized like any call."""

CACHE_SECONDS = 2.0
"""How long a resource policy or tag set read from its service is reused. Writes that come
through the API drop it at once; this only bounds what in-process writes can leave stale."""
_WRITES: dict[str, frozenset[str]] = {
    "sqs": frozenset(
        ("SetQueueAttributes", "CreateQueue", "DeleteQueue", "AddPermission", "RemovePermission")
    ),
    "sns": frozenset(
        ("SetTopicAttributes", "CreateTopic", "DeleteTopic", "AddPermission", "RemovePermission")
    ),
    "s3": frozenset(
        (
            "PutBucketPolicy",
            "DeleteBucketPolicy",
            "CreateBucket",
            "DeleteBucket",
            "PutBucketTagging",
            "DeleteBucketTagging",
        )
    ),
    "lambda": frozenset(("AddPermission", "RemovePermission", "CreateFunction", "DeleteFunction")),
}
_POLICY_PARAMS = ("QueueUrl", "TopicArn", "TargetArn", "Bucket", "Key", "FunctionName", "Qualifier")

_NAMED_BY_REFERENCE = frozenset(("kms", "secretsmanager"))
"""Services whose requests may name a resource by something other than its ARN (a KMS alias, a
secret's name): the resource policy lookup answers the ARN it stands for."""

ResourcePolicyLookup = Callable[[RequestContext, dict[str, Any]], tuple[str, str | None]]
_lookups: dict[str, ResourcePolicyLookup] = {}


def register_resource_policy_lookup(service: str, fn: ResourcePolicyLookup) -> None:
    """How enforcement finds a service's resource policy: ``fn(ctx, params)`` returns the
    resource ARN and its policy document (None when it has none). Services plug theirs in."""
    _lookups[service] = fn


# -- errors in each service's own words --------------------------------------------------------


def _family(ctx: RequestContext) -> str:
    if ctx.service == "s3":
        return "s3"
    if ctx.protocol in ("json", "rest-json", "smithy-rpc-v2-cbor"):
        return "json"
    return "query"


_UNSUPPORTED = (
    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
)
_ERRORS: dict[str, dict[str, tuple[str, int, str]]] = {
    "invalid_key": {
        "s3": (
            "InvalidAccessKeyId",
            403,
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        "json": (
            "UnrecognizedClientException",
            400,
            "The security token included in the request is invalid.",
        ),
        "query": (
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid.",
        ),
    },
    "expired": {
        "s3": ("ExpiredToken", 400, "The provided token has expired."),
        "json": (
            "ExpiredTokenException",
            400,
            "The security token included in the request is expired",
        ),
        "query": ("ExpiredToken", 400, "The security token included in the request is expired"),
    },
    "signature": {
        "s3": (
            "SignatureDoesNotMatch",
            403,
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        ),
        "json": (
            "InvalidSignatureException",
            400,
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
        ),
        "query": (
            "SignatureDoesNotMatch",
            403,
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
        ),
    },
    "unsupported": {
        "s3": ("InvalidRequest", 400, _UNSUPPORTED),
        "json": ("IncompleteSignatureException", 400, _UNSUPPORTED),
        "query": ("IncompleteSignature", 400, _UNSUPPORTED),
    },
    "missing": {
        "s3": ("AccessDenied", 403, "Access Denied"),
        "json": ("MissingAuthenticationTokenException", 400, "Missing Authentication Token"),
        "query": ("MissingAuthenticationToken", 403, "Request is missing Authentication Token"),
    },
}


def _error(ctx: RequestContext | None, kind: str, message: str | None = None) -> ServiceError:
    code, status, default = _ERRORS[kind][_family(ctx) if ctx else "s3"]
    if ctx is not None and ctx.protocol == "rest-json":
        # REST-JSON services answer a refused authentication with a 403.
        status = 403
    return ServiceError(code, message or default, status)


def access_denied(ctx: RequestContext, message: str) -> ServiceError:
    if ctx.service == "ec2":
        return ServiceError("UnauthorizedOperation", message, 403)
    if ctx.service == "sns":
        return ServiceError("AuthorizationError", message, 403, query_code="AuthorizationError")
    family = _family(ctx)
    if family == "json":
        status = 403 if ctx.protocol == "rest-json" else 400
        return ServiceError("AccessDeniedException", message, status)
    return ServiceError("AccessDenied", message, 403)


# -- signatures ---------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    return sigv4.signing_key(secret, date, region, service)


_S3_PAYLOAD_FORMS = (
    sigv4.UNSIGNED_PAYLOAD,
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    STREAMING_SIGNED,
    STREAMING_SIGNED + "-TRAILER",
)
_S3_STREAMED = frozenset(("PutObject", "UploadPart"))
"""S3 operations whose body S3 itself hashes as it stores it (``XAmzContentSHA256Mismatch``):
enforcement does not read those bodies a second time."""
_HEX = frozenset("0123456789abcdefABCDEF")


def _body_hash(req: HttpRequest) -> str:
    if req.body_file is not None:
        digest = hashlib.sha256()
        req.body_file.seek(0)
        for chunk in iter(lambda: req.body_file.read(1 << 20), b""):  # type: ignore[union-attr]
            digest.update(chunk)
        req.body_file.seek(0)
        return digest.hexdigest()
    return hashlib.sha256(req.body).hexdigest()


def _payload_hash(ctx: RequestContext, op: OperationModel | None) -> str:
    """The payload hash the signature covers. S3 signs the ``x-amz-content-sha256`` it is sent,
    and the body must hash to it; other services sign the hash of the body itself, unless the
    operation is modelled with an unsigned body."""
    req = ctx.request
    given = req.headers.get("x-amz-content-sha256")
    if ctx.service != "s3":
        if (
            given == sigv4.UNSIGNED_PAYLOAD
            and op is not None
            and op.auth_type == "v4-unsigned-body"
        ):
            return given
        return _body_hash(req)
    if given is None:
        raise ServiceError(
            "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"
        )
    if given in _S3_PAYLOAD_FORMS:
        return given
    if len(given) != 64 or not _HEX.issuperset(given):
        raise ServiceError(
            "InvalidArgument",
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or "
            "a valid sha256 value.",
            fields={"ArgumentName": "x-amz-content-sha256", "ArgumentValue": given},
        )
    if op is None or op.name not in _S3_STREAMED:
        computed = _body_hash(req)
        if computed != given.lower():
            raise ServiceError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                fields={
                    "ClientComputedContentSHA256": given,
                    "S3ComputedContentSHA256": computed,
                },
            )
    return given


def _signed_path(ctx: RequestContext) -> str:
    req = ctx.request
    if ctx.service == "s3":
        bucket = s3_virtual_host_bucket(req.host)
        if bucket is not None and req.path.startswith(f"/{bucket}"):
            return req.path[len(bucket) + 1 :] or "/"
    return req.path


@lru_cache(maxsize=64)
def _amz_time(text: str) -> float | None:
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


@lru_cache(maxsize=4)
def _time_keys(second: int) -> tuple[str, str]:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), str(second)


def _check_skew(ctx: RequestContext, amz_date: str) -> None:
    signed_at = _amz_time(amz_date)
    if signed_at is None:
        raise _error(ctx, "signature")
    # Clients sign with the real wall clock, not the emulated one tests move forward.
    real_now = clock.now() - clock.offset()
    if abs(real_now - signed_at) > MAX_SKEW:
        if ctx.service == "s3":
            raise ServiceError(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                403,
            )
        now_text = datetime.fromtimestamp(real_now, UTC).strftime("%Y%m%dT%H%M%SZ")
        earliest = datetime.fromtimestamp(real_now - MAX_SKEW, UTC).strftime("%Y%m%dT%H%M%SZ")
        raise _error(
            ctx,
            "signature",
            f"Signature expired: {amz_date} is now earlier than {earliest} ({now_text} - 15 min.)",
        )


def verify_header_signature(ctx: RequestContext, secret: str, op: OperationModel | None) -> None:
    """The ``Authorization`` header's SigV4 signature against ``secret``; raises the service's
    error for a skewed clock, a body that does not hash to what was signed, or a wrong
    signature."""
    req = ctx.request
    auth = sigv4.Authorization.parse(req.headers.get("authorization", ""))
    amz_date = req.headers.get("x-amz-date", "")
    if auth is None or not amz_date:
        raise _error(ctx, "signature")
    _check_skew(ctx, amz_date)
    scope = auth.scope
    payload = _payload_hash(ctx, op)
    request = sigv4.canonical_request(
        req.method,
        _signed_path(ctx),
        req.query_string,
        req.headers,
        auth.signed_headers,
        payload,
        double_encode=ctx.service != "s3",
    )
    key = _signing_key(secret, scope.date, scope.region, scope.service)
    expected = sigv4.sign(key, sigv4.string_to_sign(amz_date, str(scope), request))
    if not sigv4.matches(expected, auth.signature):
        raise _error(ctx, "signature")
    if payload == STREAMING_SIGNED or payload == STREAMING_SIGNED + "-TRAILER":
        # S3 checks each chunk's signature, chained from this one, as it reads the body.
        ctx.extras["chunk_signer"] = sigv4.ChunkSigner(key, scope, amz_date, expected)


def verify_v4a_header_signature(
    ctx: RequestContext, secret: str, op: OperationModel | None, auth: sigv4a.Authorization
) -> None:
    """A SigV4A ``Authorization`` header: dated like SigV4, its region set signed, the body
    hashing to what was signed, the ECDSA signature made with the key derived from ``secret``."""
    req = ctx.request
    amz_date = req.headers.get("x-amz-date", "")
    if not amz_date or "x-amz-region-set" not in auth.signed_headers:
        raise _error(ctx, "signature")
    _check_skew(ctx, amz_date)
    payload = _payload_hash(ctx, op)
    if payload.startswith(STREAMING_SIGNED):
        # Chunks signed with SigV4A's own scheme are not verified here: refused, not trusted.
        raise _error(ctx, "unsupported")
    request = sigv4.canonical_request(
        req.method,
        _signed_path(ctx),
        req.query_string,
        req.headers,
        auth.signed_headers,
        payload,
        double_encode=ctx.service != "s3",
    )
    text = sigv4a.string_to_sign(amz_date, auth.scope, request)
    if not sigv4a.verify(auth.access_key_id, secret, text, auth.signature):
        raise _error(ctx, "signature")


def verify_query_signature(ctx: RequestContext, secret: str, op: OperationModel | None) -> None:
    """A presigned request to a service other than S3 (an EKS token is a presigned STS
    GetCallerIdentity): its expiry on the nubes clock, then its signature."""
    query = ctx.request.query

    def first(name: str) -> str:
        return query.get(name, [""])[0]

    scope = sigv4.Scope.parse(first("X-Amz-Credential"))
    amz_date, expires = first("X-Amz-Date"), first("X-Amz-Expires")
    signed_at = _amz_time(amz_date)
    if scope is None or signed_at is None or not expires.isdigit():
        raise _error(ctx, "signature")
    if int(expires) > MAX_PRESIGN_SECONDS or first("X-Amz-Algorithm") != sigv4.ALGORITHM:
        # A week at most, and no other algorithm, as for S3's presigned URLs.
        raise _error(ctx, "unsupported" if int(expires) <= MAX_PRESIGN_SECONDS else "signature")
    if clock.now() > signed_at + int(expires):
        now_text = datetime.fromtimestamp(clock.now(), UTC).strftime("%Y%m%dT%H%M%SZ")
        raise _error(
            ctx, "signature", f"Signature expired: {amz_date} is now earlier than {now_text}"
        )
    key = _signing_key(secret, scope.date, scope.region, scope.service)
    payload = _payload_hash(ctx, op)
    # SDKs presign query-protocol calls with the operation's POST, and the URL is then fetched
    # with a GET: either method is taken.
    for method in dict.fromkeys((ctx.request.method, "POST")):
        request = sigv4.canonical_request(
            method,
            ctx.request.path,
            ctx.request.query_string,
            ctx.request.headers,
            first("X-Amz-SignedHeaders").split(";"),
            payload,
            double_encode=True,
            exclude_query=("X-Amz-Signature",),
        )
        expected = sigv4.sign(key, sigv4.string_to_sign(amz_date, str(scope), request))
        if sigv4.matches(expected, first("X-Amz-Signature")):
            return
    raise _error(ctx, "signature")


def carries_credentials(req: HttpRequest) -> bool:
    """Whether a request carries any signature at all (else it is anonymous)."""
    if req.headers.get("authorization"):
        return True
    query = req.query_string
    return (
        "Signature=" in query
        or "X-Amz-Credential=" in query
        or "X-Amz-Algorithm=" in query
        or "AWSAccessKeyId=" in query
    )


def _query_form(req: HttpRequest) -> str | None:
    """The signature a request to a service other than S3 carries outside the header: SigV4
    presigned (``v4-query``) or the query APIs' SigV2 parameters (``v2-query``), which a
    form-encoded body may hold too."""
    query_string = req.query_string
    if "X-Amz-Signature=" in query_string or "X-Amz-Credential=" in query_string:
        return "v4-query"
    if "Signature=" in query_string or "AWSAccessKeyId=" in query_string:
        return "v2-query"
    if (
        not req.headers.get("authorization")
        and req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        and b"AWSAccessKeyId=" in req.read_body()
    ):
        return "v2-query"
    return None


def _v2_params(req: HttpRequest) -> dict[str, str]:
    params = dict(parse_qsl(req.query_string, keep_blank_values=True))
    if req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl(req.read_body().decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _iso_time(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


_V2_DIGESTS = {"HmacSHA256": "sha256", "HmacSHA1": "sha1"}


def verify_v2_query_signature(ctx: RequestContext, secret: str) -> None:
    """The query APIs' signature version 2 (``SignatureVersion=2`` with ``HmacSHA256`` or
    ``HmacSHA1``): dated by ``Timestamp`` (within 15 minutes) or ``Expires``, then verified."""
    req = ctx.request
    params = _v2_params(req)
    digest = _V2_DIGESTS.get(params.get("SignatureMethod", ""))
    if params.get("SignatureVersion") != "2" or digest is None:
        raise _error(ctx, "unsupported")
    expires, stamp = params.get("Expires"), params.get("Timestamp")
    if expires is not None:
        limit = _iso_time(expires)
        if limit is None or clock.now() > limit:
            raise ServiceError("RequestExpired", f"Request has expired. Expires date is {expires}")
    elif stamp is not None:
        signed_at = _iso_time(stamp)
        real_now = clock.now() - clock.offset()
        if signed_at is None or abs(real_now - signed_at) > MAX_SKEW:
            raise ServiceError("RequestExpired", f"Request has expired. Timestamp date is {stamp}")
    else:
        raise ServiceError(
            "MissingParameter", "The request must contain the parameter Timestamp or Expires."
        )
    text = sigv2.query_string_to_sign(req.method, req.host, req.path, params)
    if not sigv2.matches(sigv2.sign(secret, text, digest), params.get("Signature", "")):
        raise _error(ctx, "signature")


_EQUALS = re.compile(r"(#?[\w.\-]+|:[\w\-]+)\s*=\s*(#?[\w.\-]+|:[\w\-]+)")


def _queried_partition(params: dict[str, Any], attribute: str) -> str | None:
    """The partition key value a Query names, from ``KeyConditionExpression`` (``pk = :v``,
    ``#p = :v``) or the legacy ``KeyConditions``."""
    legacy = params.get("KeyConditions")
    if isinstance(legacy, dict):
        condition = legacy.get(attribute)
        if isinstance(condition, dict) and condition.get("ComparisonOperator") == "EQ":
            values = condition.get("AttributeValueList") or []
            if values and isinstance(values[0], dict) and values[0]:
                return str(next(iter(values[0].values())))
        return None
    expression = params.get("KeyConditionExpression")
    if not isinstance(expression, str):
        return None
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    for left, right in _EQUALS.findall(expression):
        name, placeholder = (left, right) if right.startswith(":") else (right, left)
        if not placeholder.startswith(":"):
            continue
        if names.get(name, name) == attribute:
            value = values.get(placeholder)
            if isinstance(value, dict) and value:
                return str(next(iter(value.values())))
    return None


def _account_of(arn: str) -> str | None:
    parts = arn.split(":", 5)
    if len(parts) == 6 and len(parts[4]) == 12 and parts[4].isdigit():
        return parts[4]
    return None


def chunk_signature(
    secret: str, scope: sigv4.Scope, amz_date: str, previous: str, chunk: bytes
) -> str:
    """The signature of one chunk of an S3 ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` upload,
    chained from the previous chunk's (the seed is the request's own signature)."""
    key = _signing_key(secret, scope.date, scope.region, scope.service)
    signer = sigv4.ChunkSigner(key, scope, amz_date, previous)
    return signer.next(hashlib.sha256(chunk).hexdigest())


def running_enforcer(env: Environment) -> Enforcer | None:
    """The enforcer when IAM enforcement is on (None when off), for the entry points that answer
    before the gateway's chain. Configured but not running yet: refused, never let through."""
    if not env.settings.enforce_iam:
        return None
    found: Enforcer | None = getattr(env.providers.get("iam"), "enforcer", None)
    if found is None:
        raise ServiceError("ServiceUnavailable", "IAM enforcement is starting.", 503)
    return found


def anonymous_context(env: Environment, service: str, operation: str, req: HttpRequest) -> Any:
    """A request context for an unsigned caller (website visitors, function URL callers)."""
    return RequestContext(
        account_id=env.settings.account_id,
        region=env.settings.region,
        request_id=ids.request_id(),
        service=service,
        operation=operation,
        principal=accounts.resolve("", env.settings.account_id),
        request=req,
        protocol="rest-xml" if service == "s3" else "rest-json",
    )


# -- the check ------------------------------------------------------------------------------------


class Enforcer:
    def __init__(self, env: Environment, identities: Identities, *, install: bool = True) -> None:
        """``install`` False: a verifier that answers only those who ask it (API Gateway's
        AWS_IAM methods with enforcement off), leaving nubes' other signature checks alone."""
        self.env = env
        self.identities = identities
        settings = env.settings
        self.root_key = settings.root_access_key
        self.root_secret = settings.root_secret_key
        self.explain = settings.iam_explain
        self._roots: dict[str, KeyRecord] = {}
        self.anonymous = KeyRecord(
            Principal("", "", "*", "", "anonymous"), Caller("*", "", "anonymous"), ""
        )
        if install:
            sigv4.register_secret_resolver(self.secret_for)
            register_resource_policy_lookup("sts", self._trust_policy)
        self._hash_keys: dict[tuple[str, str, str, str], str | None] = {}
        self._policies: dict[tuple[Any, ...], tuple[float, tuple[str, Any] | None]] = {}
        self._tags: dict[str, tuple[float, dict[str, str]]] = {}
        self._fresh = False
        self._key_used: dict[str, float] = {}
        for service, fn in (
            ("lambda", self._lambda_policy),
            ("sqs", self._sqs_policy),
            ("sns", self._sns_policy),
            ("s3", self._s3_policy),
            ("kms", self._kms_policy),
            ("secretsmanager", self._secret_policy),
            ("kinesis", self._kinesis_policy),
        ):
            if install:
                _lookups.setdefault(service, fn)

    def secret_for(self, access_key_id: str) -> str | None:
        record = self.record(access_key_id)
        return record.secret if record else None

    def record(self, access_key_id: str) -> KeyRecord | None:
        found = self.identities.record(access_key_id)
        if found is not None:
            return found
        if access_key_id == self.root_key or (len(access_key_id) == 12 and access_key_id.isdigit()):
            root = self._roots.get(access_key_id)
            if root is None:
                account = access_key_id if access_key_id.isdigit() else self.env.settings.account_id
                arn = f"arn:aws:iam::{account}:root"
                root = KeyRecord(
                    root_principal(account, access_key_id),
                    Caller(arn, account, "root", account),
                    self.root_secret,
                )
                self._roots[access_key_id] = root
            return root
        return None

    def __call__(self, ctx: RequestContext, op: OperationModel, params: dict[str, Any]) -> None:
        if ctx.protocol == "internal" or op.auth_type == "none":
            # Operations AWS models without auth (STS web identity, Cognito sign-in and the
            # calls a user pool's access token authorizes) are not IAM's to judge.
            return
        if (ctx.service, op.name) in TOKEN_OPERATIONS and not carries_credentials(ctx.request):
            return
        # A write that changes policies or tags: forget what was read, and read afresh without
        # keeping it (what this request reads is the state before its own write).
        self._fresh = op.name in _WRITES.get(ctx.service, ()) or op.name.startswith(
            ("Tag", "Untag")
        )
        if self._fresh:
            self._policies.clear()
            self._tags.clear()
        if ctx.service == "s3" and not carries_credentials(ctx.request):
            # Anonymous S3 requests get what bucket policies grant to everyone.
            self.authorize(ctx, op.name, params, self.anonymous)
            return
        record = self.authenticate(ctx, op)
        ctx.extras["caller_record"] = record
        self.authorize(ctx, op.name, params, record)

    def authorize_also(
        self, ctx: RequestContext, service: str, operation: str, params: dict[str, Any]
    ) -> None:
        """Check that the signed caller of ``ctx`` may also call ``service``'s ``operation``
        (S3 reading an SSE-KMS object needs kms:Decrypt on its key); refused in ``service``'s
        words, which the calling service rewords as it must."""
        record = ctx.extras.get("caller_record")
        if record is None:
            return
        via = f"{ctx.service}.{ctx.region}.amazonaws.com"
        other = dataclasses.replace(
            ctx, service=service, operation=operation, extras={**ctx.extras, "via_service": via}
        )
        self.authorize(other, operation, params, record)

    def _check_scope(self, ctx: RequestContext, service: str) -> None:
        """A SigV4 signature is scoped to one service: the one the request is for (nubes' own
        endpoints take any)."""
        info = self.env.catalog.services.get(ctx.service)
        if info is not None and service != info.signing_name:
            raise _error(
                ctx,
                "signature",
                f"Credential should be scoped to correct service: '{info.signing_name}'.",
            )

    def key_record(self, key_id: str, token: str, ctx: RequestContext | None = None) -> KeyRecord:
        """The record of an active key, with its session token when it is temporary and not
        expired; raises the error of ``ctx``'s service (S3's without one)."""
        record = self.record(key_id)
        if record is None or not record.active:
            raise _error(ctx, "invalid_key")
        if record.principal.session_token is not None:
            if token != record.principal.session_token:
                raise _error(ctx, "invalid_key")
            if record.expired:
                raise _error(ctx, "expired")
        return record

    def admit_root(self, req: HttpRequest) -> None:
        """Raises unless ``req`` is signed with an account root's credentials (what nubes' own
        endpoints require under enforcement)."""
        creds = read_credentials(req)
        key_id = creds.access_key_id if creds else ""
        ctx = RequestContext(
            account_id=self.env.settings.account_id,
            region=self.env.settings.region,
            request_id=ids.request_id(),
            service="nubes",
            operation=req.path,
            principal=accounts.resolve(key_id, self.env.settings.account_id),
            request=req,
            protocol="json",
        )
        if not carries_credentials(req):
            raise _error(ctx, "missing")
        record = self.authenticate(ctx, None)
        if record.caller.kind != "root":
            raise ServiceError(
                "AccessDeniedException",
                f"User: {record.caller.arn} is not authorized to use nubes' internal endpoints: "
                "they take the account root's credentials while IAM enforcement is on",
                403,
            )

    def reset(self) -> None:
        self._hash_keys.clear()
        self._policies.clear()
        self._tags.clear()
        self._key_used.clear()

    def authenticate(self, ctx: RequestContext, op: OperationModel | None) -> KeyRecord:
        """The caller's key record, once the request's signature, in whichever form it comes,
        verifies against the key's secret; raises the service's error otherwise."""
        req = ctx.request
        header = req.headers.get("authorization", "")
        if ctx.service == "s3":
            from nubes.services.s3 import presign

            kind = presign.form(ctx)
        else:
            kind = _query_form(req)
        if header.startswith(sigv4.ALGORITHM + " "):
            kind = "v4"
        elif header.startswith(sigv4a.ALGORITHM + " ") and ctx.service in sigv4a.SERVICES:
            kind = "v4a"
        elif header and kind != "v2":
            # Any other algorithm (SigV4A where the service does not take it) is refused
            # rather than taken unverified.
            raise _error(ctx, "unsupported")
        elif kind is None:
            raise _error(ctx, "missing")
        key_id = ctx.principal.access_key_id
        if kind == "v2-query" and ctx.service != "s3":
            key_id = _v2_params(req).get("AWSAccessKeyId", "")
        if not key_id:
            raise _error(ctx, "missing" if kind != "v4" else "signature")
        token = (
            req.headers.get("x-amz-security-token")
            or req.query.get("X-Amz-Security-Token", [""])[0]
            or req.query.get("x-amz-security-token", [""])[0]
            or (_v2_params(req).get("SecurityToken", "") if kind == "v2-query" else "")
        )
        record = self.key_record(key_id, token, ctx)
        if ctx.principal.access_key_id != key_id:
            # The key came from a form body the gateway did not read: act as its owner.
            ctx.principal = record.principal
            ctx.account_id = record.principal.account_id
        if kind == "v4":
            auth = sigv4.Authorization.parse(header)
            if auth is None or auth.scope.access_key_id != key_id:
                # The key the secret was looked up for must be the one the signature names.
                raise _error(ctx, "signature")
            self._check_scope(ctx, auth.scope.service)
            verify_header_signature(ctx, record.secret, op)
        elif kind == "v4a":
            auth_a = sigv4a.Authorization.parse(header)
            if auth_a is None or auth_a.access_key_id != key_id:
                raise _error(ctx, "signature")
            self._check_scope(ctx, auth_a.service)
            verify_v4a_header_signature(ctx, record.secret, op, auth_a)
        elif kind == "v4-query":
            scope = sigv4.Scope.parse(req.query.get("X-Amz-Credential", [""])[0])
            self._check_scope(ctx, scope.service if scope else "")
            if ctx.service == "s3":
                presign.verify(ctx, record.secret)
            else:
                verify_query_signature(ctx, record.secret, op)
        elif ctx.service == "s3":
            presign.verify(ctx, record.secret)
        elif ctx.protocol == "query":
            verify_v2_query_signature(ctx, record.secret)
        else:
            raise _error(ctx, "unsupported")
        if key_id.startswith("AKIA"):
            self._note_use(ctx, key_id)
        return record

    def authorize(
        self, ctx: RequestContext, operation: str, params: dict[str, Any], record: KeyRecord
    ) -> None:
        # Keys are cached per key, not per partition: the same root key signing for cn-north-1
        # is arn:aws-cn:iam::<account>:root in policies and in AccessDenied messages.
        caller = record.caller
        mapped = in_partition(caller.arn, ctx.partition)
        if mapped != caller.arn:
            caller = dataclasses.replace(caller, arn=mapped)
        prefix = self.env.catalog.services[ctx.service].signing_name
        wanted = actions.needs(ctx, prefix, operation, params)
        if not wanted:
            return
        root = caller.kind == "root"
        resource_policy = (
            self._resource_policy(ctx, params) if root or ctx.service in _WRITES else None
        )
        if (
            root
            and resource_policy is None
            and all(_account_of(n.resource) in (None, caller.account) for n in wanted)
        ):
            # Nothing but a resource policy (an explicit deny, or a key policy that does not
            # let the account in) stops an account's root at home.
            return
        policies = (
            self.identities.policies(record.principal.access_key_id, record)
            if caller.kind not in ("anonymous", "root")
            else PolicySet([], None, None)
        )
        if resource_policy is None and not root and ctx.service not in _WRITES:
            resource_policy = self._resource_policy(ctx, params)
        if ctx.service in _NAMED_BY_REFERENCE and resource_policy and wanted[0].resource != "*":
            # An alias names its key, a name its secret: the resource is the ARN they stand for.
            first = wanted[0]
            wanted = [actions.Need(first.action, resource_policy[0], first.context), *wanted[1:]]
        base = self._request_context(ctx, record)
        if ctx.service == "iam":
            wanted = [self._iam_path(n) for n in wanted]
        leading: dict[str, list[str]] = {}
        if ctx.service == "dynamodb":
            leading = self._leading_keys(ctx, operation, params)
        for need in wanted:
            context = {**base, **need.context} if need.context else base
            if leading:
                table = need.resource.partition(":table/")[2].split("/", 1)[0]
                if table in leading:
                    context = {**context, "dynamodb:leadingkeys": leading[table]}
            tags = self._resource_tags(need.resource) if need.resource != "*" else {}
            if tags:
                context = {
                    **context,
                    **{f"aws:resourcetag/{k.lower()}": [v] for k, v in tags.items()},
                }
            owner = _account_of(need.resource)
            request = Request(need.action, need.resource, caller, context, owner)
            resource = (
                resource_policy if resource_policy and resource_policy[0] == need.resource else None
            )
            decision = evaluate(
                request,
                policies.identity,
                [("resource", resource[1])] if resource else (),
                policies.boundary,
                policies.session,
                # A role's trust policy has the last word on who assumes it, with what tags;
                # a key policy on the use of its key (IAM policies count only where it lets
                # the account's root delegate to them).
                resource_must_allow=(ctx.service == "sts" and need.resource != "*")
                or (ctx.service == "kms" and resource is not None),
            )
            if self.explain:
                log.info(
                    "%s %s on %s by %s: %s %s (matched %s)",
                    ctx.request_id,
                    need.action,
                    need.resource,
                    caller.arn,
                    decision.decision,
                    decision.reason,
                    [
                        f"{m.policy_type}:{m.policy_id}#{m.statement.index}"
                        for m in decision.matched
                    ],
                )
            if not decision.allowed:
                if caller.kind == "anonymous":
                    raise access_denied(ctx, "Access Denied")
                raise access_denied(
                    ctx,
                    f"User: {caller.arn} is not authorized to perform: {need.action} on "
                    f"resource: {need.resource} {decision.reason}",
                )

    def _request_context(self, ctx: RequestContext, record: KeyRecord) -> dict[str, list[str]]:
        current, epoch = _time_keys(int(clock.now()))
        client = ctx.request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        context = {
            "aws:currenttime": [current],
            "aws:epochtime": [epoch],
            "aws:securetransport": ["true" if ctx.request.scheme == "https" else "false"],
            "aws:requestedregion": [ctx.region],
            "aws:sourceip": [client or ctx.request.client_ip or "127.0.0.1"],
        }
        if ctx.extras.get("via_service"):
            # A call a service makes for its caller (S3 opening an SSE-KMS object's data key).
            context["kms:viaservice"] = [ctx.extras["via_service"]]
            context["kms:calleraccount"] = [record.caller.account]
        session = record.session or {}
        if session.get("source_identity"):
            context["aws:sourceidentity"] = [session["source_identity"]]
        return context

    def _resource_tags(self, arn: str) -> dict[str, str]:
        now = clock.now()
        cached = self._tags.get(arn)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        tags = self.env.tags.get(arn)
        if self._fresh:
            return tags
        if len(self._tags) > 10_000:
            self._tags.clear()
        self._tags[arn] = (now, tags)
        return tags

    def _resource_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> tuple[str, Any] | None:
        if ctx.service not in _WRITES:
            return self._read_resource_policy(ctx, params)
        key = (ctx.service, ctx.account_id, ctx.region, *(params.get(p) for p in _POLICY_PARAMS))
        now = clock.now()
        cached = self._policies.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        found = self._read_resource_policy(ctx, params)
        if self._fresh:
            return found
        if len(self._policies) > 10_000:
            self._policies.clear()
        self._policies[key] = (now, found)
        return found

    def _read_resource_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> tuple[str, Any] | None:
        lookup = _lookups.get(ctx.service)
        if lookup is None:
            return None
        try:
            arn, document = lookup(ctx, params)
        except ServiceError:
            return None
        if not document:
            return None
        try:
            return arn, parse_policy(document, "resource", validate=False)
        except ValueError:
            return None

    def _trust_policy(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[str, str | None]:
        arn = str(params.get("RoleArn") or "")
        parts = arn.split(":", 5)
        if len(parts) != 6 or not parts[5].startswith("role/"):
            return arn, None
        role = self.identities.iam.get(parts[4], "role", parts[5].rsplit("/", 1)[-1])
        return arn, (role.data["trust"] if role else None)

    # -- resource policies of the services that keep them -----------------------------------------

    # -- resource policies of the services that keep them ----------------------------------------

    def _invoke(
        self,
        service: str,
        operation: str,
        params: dict[str, Any],
        ctx: RequestContext,
        account: str,
    ) -> Any:
        if service not in self.env.providers:
            return None
        return self.env.providers.invoke(service, operation, params, account, ctx.region)

    def _sqs_policy(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[str, str | None]:
        url = params.get("QueueUrl")
        if not url:
            return "", None
        arn = actions.queue_arn(url, ctx.region, ctx.account_id)
        request = {"QueueUrl": url, "AttributeNames": ["Policy"]}
        out = self._invoke("sqs", "GetQueueAttributes", request, ctx, arn.split(":")[4])
        return arn, (out or {}).get("Attributes", {}).get("Policy")

    def _sns_policy(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[str, str | None]:
        arn = params.get("TopicArn") or params.get("TargetArn")
        parts = str(arn or "").split(":")
        if len(parts) < 6:
            return "", None  # not an ARN: no topic policy; SNS itself refuses the parameter
        out = self._invoke("sns", "GetTopicAttributes", {"TopicArn": arn}, ctx, parts[4])
        return str(arn), (out or {}).get("Attributes", {}).get("Policy")

    def _s3_policy(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[str, str | None]:
        bucket, key = params.get("Bucket"), params.get("Key")
        if not bucket:
            return "", None
        base = f"arn:{ctx.partition}:s3:::{bucket}"
        arn = f"{base}/{key}" if key else base
        out = self._invoke("s3", "GetBucketPolicy", {"Bucket": bucket}, ctx, ctx.account_id)
        return arn, (out or {}).get("Policy")

    def _kms_policy(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[str, str | None]:
        needs = actions.needs(ctx, "kms", ctx.operation, params)
        if not needs or needs[0].resource == "*" or "kms" not in self.env.providers:
            return "", None
        kms = self.env.providers.get("kms")
        return kms.enforcement_policy(ctx, needs[0].resource)  # type: ignore[attr-defined]

    def _secret_policy(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[str, str | None]:
        needs = actions.needs(ctx, "secretsmanager", ctx.operation, params)
        if not needs or needs[0].resource == "*" or "secretsmanager" not in self.env.providers:
            return "", None
        secrets = self.env.providers.get("secretsmanager")
        return secrets.enforcement_policy(ctx, needs[0].resource)  # type: ignore[attr-defined]

    def _lambda_policy(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[str, str | None]:
        name = params.get("FunctionName")
        if not name:
            return "", None
        needs = actions.needs(ctx, "lambda", "GetPolicy", params)
        out = self._invoke("lambda", "GetPolicy", {"FunctionName": name}, ctx, ctx.account_id)
        return needs[0].resource, (out or {}).get("Policy")

    def _kinesis_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        from nubes.services.kinesis.access import resource_arn

        arn = resource_arn(ctx, ctx.operation, params)
        if arn == "*":
            return "", None
        request = {"ResourceARN": arn}
        out = self._invoke("kinesis", "GetResourcePolicy", request, ctx, arn.split(":")[4])
        policy = (out or {}).get("Policy")
        return arn, None if policy in (None, "{}") else policy

    # -- request details only other services know ------------------------------------------------

    def _iam_path(self, need: actions.Need) -> actions.Need:
        """IAM ARNs carry the entity's path, which the request does not: look it up."""
        parts = need.resource.split(":", 5)
        if len(parts) != 6 or "/" not in parts[5]:
            return need
        kind, _, name = parts[5].partition("/")
        if kind not in ("user", "role", "group", "instance-profile"):
            return need
        entity = self.identities.iam.get(parts[4], kind, name)
        if entity is None or entity.arn == need.resource:
            return need
        return actions.Need(need.action, entity.arn, need.context)

    def _leading_keys(
        self, ctx: RequestContext, operation: str, params: dict[str, Any]
    ) -> dict[str, list[str]]:
        """``dynamodb:LeadingKeys`` per table: the partition key values an item operation, a
        query, a batch or a transaction touches. A value that cannot be read is one no policy
        names (the request then fails its condition rather than passing it unexamined)."""
        table = params.get("TableName")
        if operation in ("CreateTable", "DeleteTable"):
            stale = [k for k in self._hash_keys if k[:3] == (ctx.account_id, ctx.region, table)]
            for cached in stale:
                del self._hash_keys[cached]
        touched: list[tuple[str, Any]] = []
        if operation == "Query" and table:
            attribute = self._hash_key(ctx, str(table), params.get("IndexName"))
            found = _queried_partition(params, attribute) if attribute else None
            return {str(table): [found or ""]}
        if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem") and table:
            touched.append((str(table), params.get("Key") or params.get("Item")))
        elif operation == "BatchGetItem":
            for name, spec in (params.get("RequestItems") or {}).items():
                for key in (spec or {}).get("Keys") or []:
                    touched.append((name, key))
        elif operation == "BatchWriteItem":
            for name, writes in (params.get("RequestItems") or {}).items():
                for write in writes or []:
                    put, delete = write.get("PutRequest"), write.get("DeleteRequest")
                    touched.append((name, (put or {}).get("Item") or (delete or {}).get("Key")))
        elif operation in ("TransactGetItems", "TransactWriteItems"):
            for entry in params.get("TransactItems") or []:
                for body in entry.values():
                    if isinstance(body, dict) and body.get("TableName"):
                        touched.append((body["TableName"], body.get("Key") or body.get("Item")))
        leading: dict[str, list[str]] = {}
        for name, item in touched:
            attribute = self._hash_key(ctx, name, None)
            value = item.get(attribute) if isinstance(item, dict) and attribute else None
            found = str(next(iter(value.values()))) if isinstance(value, dict) and value else ""
            values = leading.setdefault(name, [])
            if found not in values:
                values.append(found)
        return leading

    def _hash_key(self, ctx: RequestContext, table: str, index: Any) -> str | None:
        """The partition key attribute of a table, or of its index (read once, then cached)."""
        cache_key = (ctx.account_id, ctx.region, table, str(index or ""))
        if cache_key not in self._hash_keys:
            try:
                out = self._invoke(
                    "dynamodb", "DescribeTable", {"TableName": table}, ctx, ctx.account_id
                )
            except ServiceError:
                return None
            described = (out or {}).get("Table", {})
            schema = described.get("KeySchema", [])
            for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                for found in described.get(kind) or []:
                    if index and found.get("IndexName") == index:
                        schema = found.get("KeySchema", [])
            self._hash_keys[cache_key] = next(
                (k["AttributeName"] for k in schema if k["KeyType"] == "HASH"), None
            )
        return self._hash_keys[cache_key]

    def _note_use(self, ctx: RequestContext, key_id: str) -> None:
        """GetAccessKeyLastUsed: written at most once a minute per key."""
        now = clock.now()
        if now - self._key_used.get(key_id, 0.0) < 60:
            return
        self._key_used[key_id] = now
        self.identities.iam.note_key_use(key_id, now, ctx.service, ctx.region)
