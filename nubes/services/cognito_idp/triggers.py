"""A user pool's Lambda triggers (PreSignUp, PostConfirmation, PreTokenGeneration): the event
Cognito sends each, the function called synchronously through the Lambda provider, and its
answer or AWS's error when it fails."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nubes.core import accounts, ids
from nubes.core.context import RequestContext
from nubes.protocol.base import HttpRequest, ServiceError
from nubes.services.cognito_idp.errors import errors

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]


@dataclass
class TokensWanted(Exception):
    """Raised where tokens are about to be issued for a pool with a PreTokenGeneration trigger:
    the caller commits what came before, calls the function outside the transaction, then
    issues the tokens with its answer."""

    pool: Json
    client: Json
    user: Json
    source: str
    origin_jti: str | None
    auth_time: float | None
    options: dict[str, Any] = field(default_factory=dict)
    """The rest of what the tokens are issued with (scope, nonce)."""


def event(pool: Json, client_id: str | None, user: Json, source: str, request: Json) -> Json:
    return {
        "version": "1",
        "region": pool["Id"].split("_", 1)[0],
        "userPoolId": pool["Id"],
        "userName": user["Username"],
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client_id},
        "triggerSource": source,
        "request": request,
        "response": {},
    }


def user_attributes(user: Json) -> dict[str, str]:
    return {
        **user["Attributes"],
        "cognito:user_status": user["UserStatus"],
        "cognito:email_alias": user["Attributes"].get("email", ""),
    }


async def call(env: Environment, pool: Json, account: str, trigger: str, payload: Json) -> Json:
    """The function's answer (the event it returns); UserLambdaValidationException as AWS
    reports a trigger that raised or could not run."""
    function = (pool.get("LambdaConfig") or {}).get(trigger)
    region = pool["Id"].split("_", 1)[0]
    ctx = RequestContext(
        account_id=account,
        region=region,
        request_id=ids.request_id(),
        service="lambda",
        operation="Invoke",
        principal=accounts.root_principal(account, account),
        request=HttpRequest("POST", "/", headers={"host": f"localhost:{env.settings.port}"}),
        protocol="cognito-idp",
    )
    lam = await env.providers.ready("lambda")
    try:
        out = await lam.invoke(  # type: ignore[attr-defined]
            ctx, {"FunctionName": function, "Payload": json.dumps(payload).encode()}
        )
    except ServiceError as err:
        raise errors.UnexpectedLambdaException(
            f"{trigger} invocation failed due to error {err.code}."
        ) from err
    raw = bytes(out.get("Payload") or b"")
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        answer = None
    if out.get("FunctionError"):
        message = answer.get("errorMessage") if isinstance(answer, dict) else None
        raise errors.UserLambdaValidationException(f"{trigger} failed with error {message}.")
    if not isinstance(answer, dict):
        raise errors.InvalidLambdaResponseException("Unrecognizable lambda output")
    return answer
