"""Who may reach nubes' own endpoints while IAM enforcement is on.

``/_nubes/*``, the LocalStack (``/_localstack/*``) and moto (``/moto-api/*``) compatibility ones
and the ``/_aws/*`` developer endpoints (SQS's message peek, SNS's sent messages) reset, move or
reveal every account's state: with enforcement on, only a request signed (SigV4) with an account
root's credentials reaches them. The check is by path, in this one place, before any handler
sees the request, so every endpoint added under these prefixes inherits it; an endpoint that
must stay open is named here on purpose.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from nubes.protocol.base import HttpRequest, HttpResponse, ServiceError

if TYPE_CHECKING:
    from nubes.app import Environment

INTERNAL_PREFIXES = ("/_nubes/", "/_localstack/", "/moto-api/", "/_aws/")
OPEN_TO_READ = frozenset(("/_nubes/health", "/_localstack/health"))
"""Health answers anyone (GET/HEAD): it tells only that nubes runs and which services."""
OPEN_PREFIXES = (
    # Function URLs decide by the function's own auth type and resource policy.
    "/_aws/lambda-url/",
    # The certificate SNS signs messages with: AWS publishes it for anyone to verify them.
    "/_aws/sns/SimpleNotificationService-",
    # The console signs people in itself and reads through the API with their credentials.
    "/_nubes/console",
    # API Gateway APIs decide by their own authorizers, resource policies and API keys.
    "/_aws/execute-api/",
)


def is_internal(req: HttpRequest) -> bool:
    path = req.path
    if not path.startswith(INTERNAL_PREFIXES) or path.startswith(OPEN_PREFIXES):
        return False
    return not (path in OPEN_TO_READ and req.method in ("GET", "HEAD"))


def refusal(env: Environment, req: HttpRequest) -> HttpResponse | None:
    """None when the request may go on; else the answer that refuses it."""
    if not env.settings.enforce_iam or not is_internal(req):
        return None
    from nubes.gateway.enforce import running_enforcer

    try:
        enforcer = running_enforcer(env)
        if enforcer is not None:
            enforcer.admit_root(req)
    except ServiceError as err:
        status = err.status if err.status >= 500 else 403
        body = json.dumps({"__type": err.code, "message": err.message}).encode()
        return HttpResponse(
            status, {"content-type": "application/json", "x-amzn-errortype": err.code}, body
        )
    return None


def signed_headers(
    method: str, url: str, body: bytes, access_key: str, secret_key: str, region: str
) -> dict[str, str]:
    """Headers that sign a call to an internal endpoint (SigV4, as the account root), for the
    CLI and scripts: ``curl --aws-sigv4 aws:amz:<region>:nubes --user <key>:<secret>`` does the
    same."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(access_key, secret_key), "nubes", region).add_auth(request)
    return dict(request.headers.items())
