"""The providers of one running nubes, and dispatch of an operation to its method."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine, Generator
from importlib import import_module
from typing import TYPE_CHECKING, Any

from nubes.protocol.base import ServiceError
from nubes.services import PROVIDERS
from nubes.services.base import ServiceProvider

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.core.context import RequestContext


def load_provider_class(spec: str) -> type[ServiceProvider]:
    module, _, cls = spec.partition(":")
    provider: type[ServiceProvider] = getattr(import_module(module), cls)
    return provider


def not_implemented(service: str, operation: str) -> ServiceError:
    return ServiceError(
        "NotImplemented",
        f"The operation {operation} of service {service} is not implemented in nubes yet.",
        501,
        sender_fault=False,
    )


def implemented_operations() -> dict[str, list[str]]:
    """Service -> the operations its provider implements, without starting anything."""
    from nubes.gateway.catalog import catalog

    found: dict[str, list[str]] = {}
    for service, spec in PROVIDERS.items():
        names = sorted(catalog().services[service].operation_names)
        found[service] = sorted(load_provider_class(spec).implemented(names))
    return found


def implemented_markdown() -> str:
    """The README's table of what is implemented."""
    from nubes.gateway.catalog import catalog

    lines = ["| service | operations | implemented |", "| --- | --- | --- |"]
    for service, ops in sorted(implemented_operations().items()):
        total = len(catalog().services[service].operation_names)
        lines.append(f"| {service} | {len(ops)} of {total} | {', '.join(ops)} |")
    return "\n".join(lines)


ASKED_AT_START: dict[str, str | None] = {"iam": "enforce_iam", "route53": None}
"""Services whose ``wants_start`` may say yes with no state of theirs in the data dir, and the
setting that makes asking worthwhile (None: always): IAM's enforcement must stand before the
first request, the DNS port serves from the start. Any other provider is asked only when the
data dir holds state of its service (it ran its migrations there), since durable work to resume
needs state; importing every provider to ask would cost most of a cold start."""


class Providers:
    """The providers of one running nubes, each made (migrations, then ``start()`` once the
    server runs) the first time anything uses it: a request, an in-process call, ``get``. At
    server start only the providers whose ``wants_start`` says so are made."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.instances: dict[str, ServiceProvider] = {}
        """The providers made so far (read it; ``get`` makes one)."""
        self._methods: dict[str, dict[str, tuple[str, bool]]] = {}
        self._started: list[ServiceProvider] = []
        self._starting: dict[str, asyncio.Future[None] | concurrent.futures.Future[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.RLock()

    def __contains__(self, service: object) -> bool:
        """Whether nubes implements ``service`` (made yet or not)."""
        return service in PROVIDERS

    def get(self, service: str) -> ServiceProvider:
        """The provider of ``service`` (what other services and runtimes call into), made now
        when this is its first use; KeyError when nubes does not implement the service."""
        provider = self.instances.get(service)
        return provider if provider is not None else self._make(service)

    def load(self, service: str | None) -> bool:
        """Make the provider of ``service`` (every provider for None: a request nothing could
        route may be for an endpoint one of them serves); True when any was made now."""
        services = [service] if service is not None else list(PROVIDERS)
        missing = [s for s in services if s in PROVIDERS and s not in self.instances]
        for name in missing:
            self._make(name)
        return bool(missing)

    def _make(self, service: str) -> ServiceProvider:
        spec = PROVIDERS[service]
        # The store's lock first, as every transaction takes it: a thread inside a transaction
        # making a provider and a thread making one (whose migrations need the store) would
        # otherwise each hold the lock the other waits for.
        with self.env.state.store.transaction(), self._lock:
            made = self.instances.get(service)
            if made is not None:
                return made
            cls = load_provider_class(spec)
            self.env.state.store.migrate(service, cls.migrations)
            provider = cls(self.env)
            self._methods[service] = cls.implemented(
                sorted(self.env.catalog.services[service].operation_names)
            )
            self.instances[service] = provider
            if self._loop is not None:
                self._start(service, provider)
            return provider

    def _start(self, service: str, provider: ServiceProvider) -> None:
        """Start a provider made while the server runs: on the loop's thread what ``start()``
        does before its first wait happens now (timers, interceptors, checks are in place when
        the caller goes on), the rest in a task; from another thread it runs on the loop."""
        loop = self._loop
        assert loop is not None
        self._started.append(provider)
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if not on_loop:
            self._starting[service] = asyncio.run_coroutine_threadsafe(provider.start(), loop)
            return
        coroutine = provider.start()
        try:
            waiting_on = coroutine.send(None)
        except StopIteration:
            return
        except BaseException:
            self._started.remove(provider)
            del self.instances[service]
            raise
        self._starting[service] = loop.create_task(_Resumed(coroutine, waiting_on).wait())

    async def ready(self, service: str) -> ServiceProvider:
        """The provider of ``service`` once its ``start()`` has finished."""
        provider = self.get(service)
        starting = self._starting.get(service)
        if starting is not None:
            if isinstance(starting, concurrent.futures.Future):
                starting = asyncio.wrap_future(starting)
            await asyncio.shield(starting)
            self._starting.pop(service, None)
        return provider

    def implemented_operations(self) -> dict[str, list[str]]:
        return implemented_operations()

    async def dispatch(self, ctx: RequestContext, operation: str, params: dict[str, Any]) -> Any:
        if ctx.service not in PROVIDERS:
            raise not_implemented(ctx.service, operation)
        provider = await self.ready(ctx.service)
        found = self._methods[ctx.service].get(operation)
        if found is None:
            raise not_implemented(ctx.service, operation)
        name, is_async = found
        method = getattr(provider, name)
        if is_async:
            return await method(ctx, params)
        # One transaction per request: an operation that fails changes nothing.
        with self.env.state.store.transaction():
            return method(ctx, params)

    def invoke(
        self,
        service: str,
        operation: str,
        params: dict[str, Any],
        account_id: str,
        region: str,
        host: str = "",
    ) -> Any:
        """Call another service in-process, as that account's root, inside the caller's
        transaction (SNS delivering to SQS, S3 notifying, Lambda polling a queue)."""
        from nubes.core import accounts, ids
        from nubes.core.context import RequestContext
        from nubes.protocol.base import HttpRequest

        if service not in PROVIDERS:
            raise not_implemented(service, operation)
        provider = self.get(service)
        found = self._methods[service].get(operation)
        if found is None:
            raise not_implemented(service, operation)
        settings = self.env.settings
        ctx = RequestContext(
            account_id=account_id,
            region=region,
            request_id=ids.request_id(),
            service=service,
            operation=operation,
            principal=accounts.root_principal(account_id, account_id),
            request=HttpRequest(
                "POST", "/", headers={"host": host or f"localhost:{settings.port}"}
            ),
            protocol="internal",
        )
        with self.env.state.store.transaction():
            result = getattr(provider, found[0])(ctx, params)
            return _without_waiting(result, service, operation) if found[1] else result

    async def start(self) -> None:
        """Make and start the providers that must run from server start (``wants_start``)."""
        self._loop = asyncio.get_running_loop()
        # Providers made before the server ran (an init hook's call) start now.
        made_early = [s for s, p in self.instances.items() if p not in self._started]
        for service in made_early:
            self._start(service, self.instances[service])
            await self.ready(service)
        with_state = {
            row[0] for row in self.env.state.store.query("SELECT component FROM schema_versions")
        }
        settings = self.env.settings
        for service, setting in ASKED_AT_START.items():
            if setting is None or getattr(settings, setting):
                with_state.add(service)
        for service, spec in PROVIDERS.items():
            if service not in with_state:
                continue
            if load_provider_class(spec).wants_start(self.env):
                await self.ready(service)

    async def stop(self) -> None:
        for task in self._starting.values():
            task.cancel()
        for provider in reversed(self._started):
            await provider.stop()

    def reset(self) -> None:
        for provider in list(self.instances.values()):
            provider.reset()


class _Resumed:
    """A coroutine that already ran up to its first wait, finished as an awaitable a task can
    drive (what ``yield from`` would do, begun by hand)."""

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self.coroutine = coroutine
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        pending = self.waiting_on
        while True:
            try:
                sent = yield pending
            except BaseException as exc:  # cancellation and errors go to the coroutine
                try:
                    pending = self.coroutine.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    pending = self.coroutine.send(sent)
                except StopIteration:
                    return

    async def wait(self) -> None:
        await self


def _without_waiting(coroutine: Any, service: str, operation: str) -> Any:
    """Run an async operation called from synchronous code, which works as long as it finishes
    without waiting (Lambda's Invoke with InvocationType=Event queues and returns)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise ServiceError(
        "InvalidParameterValue",
        f"{service}.{operation} would have to wait, which an in-process call cannot do.",
        400,
    )
