"""nubes-side views of SNS: the signing certificate at ``SigningCertURL``, and LocalStack's
``/_aws/sns/sms-messages``, ``/_aws/sns/platform-endpoint-messages`` and
``/_aws/sns/subscription-tokens/<arn>`` (GET lists, DELETE clears)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from nubes.protocol.base import HttpRequest, HttpResponse
from nubes.services.sns.signing import CERT_PATH

if TYPE_CHECKING:
    from nubes.services.sns.provider import SnsProvider

TOKENS = "/_aws/sns/subscription-tokens/"
SENT = {
    "/_aws/sns/sms-messages": ("sms", "sms_messages", "phoneNumber"),
    "/_aws/sns/platform-endpoint-messages": (
        "application",
        "platform_endpoint_messages",
        "endpointArn",
    ),
}


def _json(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(data).encode())


def endpoints(provider: SnsProvider) -> Callable[[HttpRequest], Awaitable[HttpResponse | None]]:
    async def intercept(req: HttpRequest) -> HttpResponse | None:
        path = req.path
        if not path.startswith("/_aws/sns/"):
            return None
        if path == CERT_PATH and req.method == "GET":
            return HttpResponse(
                200, {"content-type": "application/x-pem-file"}, provider.signer.certificate()
            )
        if path.startswith(TOKENS) and req.method == "GET":
            return _token(provider, unquote(path[len(TOKENS) :]))
        if path in SENT and req.method in ("GET", "DELETE"):
            return _sent(provider, req, *SENT[path])
        return None

    return intercept


def _token(provider: SnsProvider, arn: str) -> HttpResponse:
    with provider.store.transaction():
        sub = provider.topics.subscription(arn)
    if sub is None:
        return _json({"error": "SubscriptionNotFound", "subscription_arn": arn}, 404)
    return _json({"subscription_token": sub.token, "subscription_arn": sub.arn})


def _sent(
    provider: SnsProvider, req: HttpRequest, kind: str, key: str, filter_name: str
) -> HttpResponse:
    env = provider.env
    params = dict(parse_qsl(req.query_string))
    account = params.get("accountId") or env.settings.account_id
    region = params.get("region") or env.settings.region
    with provider.store.transaction():
        if req.method == "DELETE":
            provider.sent.clear(kind, account, region)
            return HttpResponse(204, {}, b"")
        found = provider.sent.list(kind, account, region)
    grouped: dict[str, list[Any]] = {}
    for target, message in found:
        if filter_name in params and params[filter_name] != target:
            continue
        grouped.setdefault(target, []).append(message)
    return _json({key: grouped, "region": region})
