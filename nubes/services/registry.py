"""The providers of one running nubes, and dispatch of an operation to its method."""

from __future__ import annotations

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


class Providers:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.instances: dict[str, ServiceProvider] = {}
        self._methods: dict[str, dict[str, tuple[str, bool]]] = {}
        for service, spec in PROVIDERS.items():
            cls = load_provider_class(spec)
            env.state.store.migrate(service, cls.migrations)
            self.instances[service] = cls(env)
            info = env.catalog.services[service]
            self._methods[service] = cls.implemented(sorted(info.operation_names))

    def get(self, service: str) -> ServiceProvider:
        """The provider of ``service`` (what other services and runtimes call into)."""
        return self.instances[service]

    def implemented_operations(self) -> dict[str, list[str]]:
        return {service: sorted(ops) for service, ops in self._methods.items()}

    async def dispatch(self, ctx: RequestContext, operation: str, params: dict[str, Any]) -> Any:
        found = self._methods.get(ctx.service, {}).get(operation)
        if found is None:
            raise not_implemented(ctx.service, operation)
        name, is_async = found
        method = getattr(self.instances[ctx.service], name)
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

        found = self._methods.get(service, {}).get(operation)
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
            result = getattr(self.instances[service], found[0])(ctx, params)
            return _without_waiting(result, service, operation) if found[1] else result

    async def start(self) -> None:
        for provider in self.instances.values():
            await provider.start()

    async def stop(self) -> None:
        for provider in reversed(list(self.instances.values())):
            await provider.stop()

    def reset(self) -> None:
        for provider in self.instances.values():
            provider.reset()


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
