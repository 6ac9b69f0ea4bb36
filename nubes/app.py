"""The ASGI application: reads requests, hands them to the internal endpoints or the gateway,
writes responses; starts and stops the background runtimes with the server's lifespan."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from nubes.config import Settings
from nubes.core.events import Events
from nubes.core.metrics import Metrics
from nubes.core.names import Names
from nubes.core.tags import Tags
from nubes.gateway import admission
from nubes.gateway.catalog import Catalog, catalog
from nubes.gateway.handler import Gateway
from nubes.gateway.internal import internal_endpoint
from nubes.init_hooks import InitHooks
from nubes.protocol.base import HttpRequest, HttpResponse
from nubes.runtime.scheduler import Scheduler
from nubes.services.registry import Providers
from nubes.store import State

if TYPE_CHECKING:
    from nubes.console import Console

log = logging.getLogger("nubes")

SPOOL_LIMIT = 8 * 1024 * 1024
"""Bodies larger than this go to a temporary file instead of memory."""


class Environment:
    """Everything a running nubes has: settings, state, catalog, providers, the gateway."""

    def __init__(self, settings: Settings, init_hooks: InitHooks | None = None) -> None:
        self.settings = settings
        self.init = init_hooks or InitHooks(settings)
        self.started = time.monotonic()
        self.session_id = uuid.uuid4().hex
        self.state = State(None if settings.ephemeral else settings.data_dir, fsync=settings.fsync)
        self.catalog: Catalog = catalog()
        self.scheduler = Scheduler(self._in_transaction)
        self.tags = Tags(self.state.store)
        self.metrics = Metrics(lambda: self.providers.get("cloudwatch"))
        self.names = Names()
        self.events = Events(self._events_sink)
        self.providers = Providers(self)
        self.gateway = Gateway(self)
        self._console: Console | None = None

    def console(self) -> Console:
        """The web console, made when first opened (it costs nothing until then)."""
        if self._console is None:
            from nubes.console import Console

            self._console = Console(self)
        return self._console

    def _events_sink(self) -> object | None:
        """EventBridge, loaded for an AWS event once it has been used (its schema exists):
        before that no rule or archive could take the event, and nothing is made inside the
        emitter's transaction."""
        if "events" in self.providers.instances or self.state.store.scalar(
            "SELECT 1 FROM schema_versions WHERE component = 'events'"
        ):
            return self.providers.get("events")
        return None

    def _in_transaction(self, fn: Any) -> None:
        with self.state.store.transaction():
            fn()

    def reset(self) -> None:
        from nubes.core import clock

        self.state.reset()
        self.providers.reset()
        clock.reset()

    async def start(self) -> None:
        await self.scheduler.start()
        await self.providers.start()

    async def stop(self) -> None:
        await self.providers.stop()
        await self.scheduler.stop()
        self.state.close()


class App:
    def __init__(self, settings: Settings, init_hooks: InitHooks | None = None) -> None:
        self.settings = settings
        self.init_hooks = init_hooks
        self.env: Environment | None = None

    def environment(self) -> Environment:
        if self.env is None:
            self.env = Environment(self.settings, self.init_hooks)
        return self.env

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            # Only API Gateway's WebSocket APIs speak WebSocket among the endpoints nubes serves.
            from nubes.runtime.apigateway.websocket import accept

            await accept(self.environment(), scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.environment().start()
                    await self.environment().init.run("START")
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.env is not None:
                    await self.env.init.run("SHUTDOWN")
                    await self.env.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        env = self.environment()
        req = await self._read(scope, receive, env)
        try:
            try:
                resp = admission.refusal(env, req) or await internal_endpoint(env, req)
            except Exception:
                # Never the server's plain-text 500: the gateway's well-formed InternalFailure.
                log.exception("%s %s failed", req.method, req.path)
                resp = env.gateway.internal_failure(req)
            if resp is None:
                resp = await env.gateway.handle(req)
            await _write(resp, send, head=req.method == "HEAD")
        finally:
            if req.body_file is not None:
                # A provider may have renamed the spooled file into the blob store.
                with contextlib.suppress(FileNotFoundError):
                    req.body_file.close()

    async def _read(self, scope: dict[str, Any], receive: Any, env: Environment) -> HttpRequest:
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        req = HttpRequest(
            method=scope["method"],
            path=path.split("?", 1)[0] or "/",
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            scheme=scope.get("scheme", "http"),
            client_ip=(scope.get("client") or ("",))[0],
        )
        declared = headers.get("content-length")
        spool = declared is not None and declared.isdigit() and int(declared) > SPOOL_LIMIT
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if not chunk:
                continue
            if req.body_file is None and (spool or size + len(chunk) > SPOOL_LIMIT):
                req.body_file = env.state.blobs.temp_file()
                for held in chunks:
                    req.body_file.write(held)
                chunks = []
            if req.body_file is not None:
                req.body_file.write(chunk)
            else:
                chunks.append(chunk)
            size += len(chunk)
        if req.body_file is not None:
            req.body_file.flush()
            req.body_file.seek(0)
        else:
            req.body = b"".join(chunks) if len(chunks) != 1 else chunks[0]
        return req


async def _write(resp: HttpResponse, send: Any, head: bool) -> None:
    body = resp.body
    headers = [
        (k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in resp.headers.items()
    ]
    has_length = "content-length" in (k.lower() for k in resp.headers)
    if isinstance(body, bytes | bytearray):
        if not has_length:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else bytes(body)})
        return
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    if head:
        await send({"type": "http.response.body", "body": b""})
        return
    if isinstance(body, Iterator):
        for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    elif isinstance(body, AsyncIterator):
        async for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
