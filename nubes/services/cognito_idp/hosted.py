"""The OAuth 2.0 authorization code grant of a pool's managed login: ``/oauth2/authorize``
shows a sign-in form, ``/login`` checks the password and sends the browser back to the client's
callback URL with a code, the token endpoint trades the code (with its PKCE verifier) for
tokens, ``/oauth2/userInfo`` answers the signed-in user's attributes. Paths live under
``/<poolId>`` on nubes' port, or at the root for the pool domain's host."""

from __future__ import annotations

import base64
import hashlib
import html
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from nubes.protocol.base import HttpResponse, ServiceError

if TYPE_CHECKING:
    from nubes.services.cognito_idp.provider import CognitoIdpProvider

Json = dict[str, Any]
CODE = "AUTHORIZATION_CODE"
FIELDS = (
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "response_type",
)


def _json(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(data).encode())


def _redirect(url: str, params: dict[str, str]) -> HttpResponse:
    sep = "&" if "?" in url else "?"
    return HttpResponse(302, {"location": f"{url}{sep}{urlencode(params)}"}, b"")


def _page(action: str, params: dict[str, str], error: str = "") -> HttpResponse:
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k in FIELDS
    )
    shown = f'<p class="error">{html.escape(error)}</p>' if error else ""
    body = (
        "<!doctype html><html><head><title>Sign in</title></head><body>"
        f'<form method="post" action="{html.escape(action)}">{shown}{hidden}'
        '<label>Username <input name="username" autocomplete="username"></label>'
        '<label>Password <input name="password" type="password"></label>'
        '<button type="submit">Sign in</button></form></body></html>'
    )
    return HttpResponse(200, {"content-type": "text/html; charset=utf-8"}, body.encode())


def _pool(provider: CognitoIdpProvider, pool_id: str) -> Json:
    row = provider._pool_row(pool_id)
    if row is None:
        raise ServiceError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
    found: Json = json.loads(row["doc"])
    return found


def _client_for(
    provider: CognitoIdpProvider, pool_id: str, params: dict[str, str]
) -> tuple[Json | None, HttpResponse | None]:
    """The client an authorization request names, or the answer refusing it."""
    try:
        client = provider._client(params.get("client_id", ""), pool_id)
    except ServiceError:
        return None, _json({"error": "invalid_request"}, 400)
    redirect = params.get("redirect_uri", "")
    if redirect not in (client.get("CallbackURLs") or []):
        return None, _json({"error": "redirect_mismatch"}, 400)
    flows = client.get("AllowedOAuthFlows") or []
    if not client.get("AllowedOAuthFlowsUserPoolClient") or "code" not in flows:
        return None, _redirect(redirect, {"error": "unauthorized_client"})
    if params.get("response_type") != "code":
        return None, _redirect(redirect, {"error": "unsupported_response_type"})
    allowed = client.get("AllowedOAuthScopes") or []
    if any(s not in allowed for s in params.get("scope", "").split()):
        return None, _redirect(redirect, {"error": "invalid_scope"})
    return client, None


def authorize(
    provider: CognitoIdpProvider, pool_id: str, base: str, params: dict[str, str]
) -> HttpResponse:
    with provider.store.transaction():
        _, refused = _client_for(provider, pool_id, params)
    return refused or _page(f"{base}/login", params)


def login(
    provider: CognitoIdpProvider, pool_id: str, base: str, form: dict[str, str]
) -> HttpResponse:
    with provider.store.transaction():
        client, refused = _client_for(provider, pool_id, form)
        if client is None:
            assert refused is not None
            return refused
        pool = _pool(provider, pool_id)
        user = provider._find_user(pool, form.get("username", ""))
        good = (
            user is not None
            and user["Enabled"]
            and user["UserStatus"] == "CONFIRMED"
            and provider._password_ok(pool, user, form.get("password", ""))
        )
        if not good or user is None:
            return _page(f"{base}/login", form, "Incorrect username or password.")
        scope = form.get("scope") or " ".join(client.get("AllowedOAuthScopes") or [])
        code = provider._new_session(
            pool,
            client,
            user,
            CODE,
            redirect=form["redirect_uri"],
            scope=scope,
            pkce=form.get("code_challenge"),
            method=form.get("code_challenge_method") or "plain",
            nonce=form.get("nonce"),
        )
    params = {"code": code}
    if form.get("state"):
        params["state"] = form["state"]
    return _redirect(form["redirect_uri"], params)


def _verifier_ok(session: Json, verifier: str) -> bool:
    challenge = session.get("pkce")
    if not challenge:
        return True
    if session.get("method") == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        verifier = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return verifier == challenge


async def exchange_code(
    provider: CognitoIdpProvider, pool_id: str, form: dict[str, str], client_id: str, secret: str
) -> HttpResponse:
    with provider.store.transaction():
        try:
            client = provider._client(client_id, pool_id)
        except ServiceError:
            return _json({"error": "invalid_client"}, 400)
        own = client.get("ClientSecret")
        if own and own != secret:
            return _json({"error": "invalid_client"}, 400)
        try:
            session = provider._take_session(form.get("code", ""), client, CODE)
            pool = _pool(provider, pool_id)
            user = provider._session_user(pool, session)
        except ServiceError:
            return _json({"error": "invalid_grant"}, 400)
        if session["redirect"] != form.get("redirect_uri") or not _verifier_ok(
            session, form.get("code_verifier", "")
        ):
            return _json({"error": "invalid_grant"}, 400)
    scope = session["scope"]
    result = await provider._with_tokens(
        lambda: {
            "AuthenticationResult": provider._issue(
                pool, client, user, scope=scope, nonce=session.get("nonce")
            )
        },
        {},
    )
    tokens = result["AuthenticationResult"]
    out = {
        "access_token": tokens["AccessToken"],
        "refresh_token": tokens["RefreshToken"],
        "expires_in": tokens["ExpiresIn"],
        "token_type": "Bearer",
    }
    if "openid" in scope.split():
        out["id_token"] = tokens["IdToken"]
    return _json(out)


def user_info(provider: CognitoIdpProvider, authorization: str) -> HttpResponse:
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    with provider.store.transaction():
        try:
            _, user, _ = provider._token_user(token)
        except ServiceError:
            return HttpResponse(401, {"www-authenticate": 'Bearer error="invalid_token"'}, b"")
    return _json({**user["Attributes"], "username": user["Username"]})
