"""What a service provider is: one method per implemented operation, named after it in
snake_case, taking the request context and the parsed input and returning the output dict
(or raising an error from the service's catalogue)."""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from botocore import xform_name

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.core.context import RequestContext

Handler = Callable[["RequestContext", dict[str, Any]], dict[str, Any] | Awaitable[dict[str, Any]]]


class ServiceProvider:
    service: ClassVar[str]
    """botocore's name of the service this provider implements."""
    migrations: ClassVar[Sequence[str]] = ()
    """The service's schema, one SQL script per version, applied in order (never edit one
    that has shipped: add a new one)."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.store = env.state.store
        self.blobs = env.state.blobs

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        """True when the provider must run from server start, before any request names its
        service: it has durable work to resume (queued invocations, running instances, alarms)
        or serves something of its own (a DNS port). Others are loaded on first use."""
        return False

    @staticmethod
    def has_rows(env: Environment, sql: str) -> bool:
        """Whether the query ``sql`` finds a row: what ``wants_start`` asks the store (False
        while the tables it names do not exist yet)."""
        try:
            return env.state.store.query_one(sql) is not None
        except sqlite3.OperationalError:
            return False

    async def start(self) -> None:
        """Called once the server runs: start background work here (timers, workers)."""

    async def stop(self) -> None:
        """Called on shutdown: stop background work, leave state consistent."""

    def reset(self) -> None:
        """Forget in-memory caches after the store was cleared (``POST /_nubes/reset``)."""

    @classmethod
    def implemented(cls, operation_names: Sequence[str]) -> dict[str, tuple[str, bool]]:
        """Operation name -> (method name, is coroutine) for the operations this class has."""
        found: dict[str, tuple[str, bool]] = {}
        for op in operation_names:
            method = getattr(cls, xform_name(op), None)
            if method is not None and callable(method):
                found[op] = (xform_name(op), inspect.iscoroutinefunction(method))
        return found
