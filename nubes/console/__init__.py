"""A local web console at ``/_nubes/console``: every implemented service's resources per account
and region, read through nubes' own API with the signed-in credentials.

The console is an API client like any other: its pages call nubes over HTTP with boto3 (in a
worker thread, so the server's loop keeps serving those calls), signed with the credentials of
the person signed in. With IAM enforcement on, it asks for an access key pair and shows only
what those credentials may read; with it off, it signs in as the account root by itself.
Sessions live in memory: a restart signs everyone out.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from nubes.protocol.base import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from nubes.app import Environment

PREFIX = "/_nubes/console"
COOKIE = "nubes_console"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


class Console:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.sessions: dict[str, Credentials] = {}
        self._views: Any = None

    def endpoint(self) -> str:
        s = self.env.settings
        host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
        return f"http://{host}:{s.port}"

    async def serve(self, req: HttpRequest) -> HttpResponse:
        path = req.path[len(PREFIX) :].rstrip("/") or "/"
        if path == "/login":
            return await self._login(req)
        if path == "/logout":
            self.sessions.pop(self._token(req) or "", None)
            return _redirect(f"{PREFIX}/login", clear=True)
        creds = self._credentials(req)
        if creds is None:
            return _redirect(f"{PREFIX}/login")
        if self._views is None:
            from nubes.console.views import Views

            self._views = Views(self)
        query = {k: v[-1] for k, v in parse_qs(req.query_string, keep_blank_values=True).items()}
        form: dict[str, str] = {}
        if req.method == "POST":
            raw = req.read_body().decode("utf-8", "replace")
            form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        return await asyncio.to_thread(self._views.render, creds, unquote(path), query, form)

    def _token(self, req: HttpRequest) -> str | None:
        for part in req.headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                return value
        return None

    def _credentials(self, req: HttpRequest) -> Credentials | None:
        found = self.sessions.get(self._token(req) or "")
        if found is not None:
            return found
        s = self.env.settings
        if not s.enforce_iam:
            return Credentials(s.root_access_key, s.root_secret_key)
        return None

    async def _login(self, req: HttpRequest) -> HttpResponse:
        message = ""
        if req.method == "POST":
            raw = req.read_body().decode("utf-8", "replace")
            form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            creds = Credentials(
                form.get("access_key_id", "").strip(),
                form.get("secret_access_key", "").strip(),
                form.get("session_token", "").strip() or None,
            )
            # The check calls this server: off the loop, which must keep serving.
            accepted = bool(creds.access_key_id) and await asyncio.to_thread(self._verify, creds)
            if accepted:
                token = secrets.token_urlsafe(24)
                self.sessions[token] = creds
                return _redirect(PREFIX, cookie=token)
            message = "Those credentials were not accepted."
        return _login_page(message, enforcing=self.env.settings.enforce_iam)

    def _verify(self, creds: Credentials) -> bool:
        """Signing in checks the key pair with sts:GetCallerIdentity, which any valid
        credentials may call."""
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        sts = boto3.client(
            "sts",
            endpoint_url=self.endpoint(),
            region_name=self.env.settings.region,
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            aws_session_token=creds.session_token,
        )
        try:
            sts.get_caller_identity()
        except (ClientError, BotoCoreError):
            return False
        return True


def _redirect(location: str, cookie: str | None = None, clear: bool = False) -> HttpResponse:
    headers = {"location": location, "content-type": "text/plain"}
    if cookie is not None:
        headers["set-cookie"] = f"{COOKIE}={cookie}; Path={PREFIX}; HttpOnly; SameSite=Strict"
    elif clear:
        headers["set-cookie"] = f"{COOKIE}=; Path={PREFIX}; Max-Age=0"
    return HttpResponse(303, headers, b"")


def _login_page(message: str, enforcing: bool) -> HttpResponse:
    from nubes.console.html import STYLE

    hint = (
        "IAM enforcement is on: sign in with an access key pair (an IAM user's, temporary "
        "credentials with their session token, or the root pair)."
        if enforcing
        else "Enforcement is off: any key pair works; a 12-digit access key id picks that account."
    )
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Sign in · nubes console"
        f"</title><style>{STYLE}</style></head><body><header>nubes console</header><main>"
        f"<h1>Sign in</h1><p class='muted'>{escape(hint)}</p>"
        f"<p class='error'>{escape(message)}</p>"
        f"<form method='post' action='{PREFIX}/login'>"
        "<p><label>Access key id<br><input name='access_key_id' autocomplete='off'></label></p>"
        "<p><label>Secret access key<br><input name='secret_access_key' type='password'>"
        "</label></p><p><label>Session token (optional)<br><input name='session_token'>"
        "</label></p><p><button type='submit'>Sign in</button></p></form></main></body></html>"
    )
    return HttpResponse(200, {"content-type": "text/html; charset=utf-8"}, body.encode())
