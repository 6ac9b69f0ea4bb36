"""What the two load balancer APIs (ELB and ELBv2) share on the provider's side: the proxy
plane (``nubes/runtime/proxy``) that serves their listeners, started and stopped with the
provider, taking requests whose Host names one of their balancers and answering their DNS
names; listener certificates; health checks started on the one clock, one probe at a time per
target."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from nubes.core.context import RequestContext
from nubes.protocol.base import ServiceError
from nubes.runtime.proxy import Plane, config
from nubes.services.base import ServiceProvider
from nubes.services.elbv2 import certificates

if TYPE_CHECKING:
    from nubes.app import Environment

DNS_SUFFIX = "elb.localhost.localstack.cloud"
TICK = 1.0
Json = dict[str, Any]

Key = TypeVar("Key", bound=Hashable)
"""What names one target's health checks (the balancer's or target group's, and the target)."""


class BalancingProvider(ServiceProvider, Generic[Key]):
    tick_name: str
    """The name of the periodic task that starts due health checks (``_tick``)."""

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.plane = Plane(env, self._snapshot, self._certificate)
        self.env.gateway.interceptors.append(self.plane.intercept)
        self._probing: set[Key] = set()
        env.names.register("." + DNS_SUFFIX, self.plane.resolve)

    async def start(self) -> None:
        self.env.scheduler.every(self.tick_name, TICK, self._tick)
        self.env.metrics.collector(self.plane.collect)
        await self.plane.start()

    async def stop(self) -> None:
        await self.plane.stop()

    def reset(self) -> None:
        self._probing.clear()
        self.plane.changed()

    def _ec2(self, ctx: RequestContext, operation: str, params: Json) -> Json:
        result: Json = self.env.providers.invoke(
            "ec2", operation, params, ctx.account_id, ctx.region
        )
        return result

    def _named_subnets(
        self, ctx: RequestContext, ids: list[str], missing: Callable[[str], Exception]
    ) -> list[Json]:
        """The subnets, each of which must exist (``missing`` is the service's error)."""
        try:
            found = self._ec2(ctx, "DescribeSubnets", {"SubnetIds": ids})["Subnets"]
        except ServiceError:
            found = []
        known = {s["SubnetId"] for s in found}
        for sid in ids:
            if sid not in known:
                raise missing(f"The subnet ID '{sid}' is not valid")
        return list(found)

    def _certificate(self, certificate_arn: str) -> tuple[bytes, bytes] | None:
        return certificates.material(self.env, certificate_arn)

    def _probe(self, key: Key) -> None:
        """Probe the target until its checks are current, unless a probe of it runs already."""
        if key in self._probing:
            return
        self._probing.add(key)
        task = asyncio.get_running_loop().create_task(self._probe_until_current(key))
        task.add_done_callback(lambda _: self._probing.discard(key))

    def _snapshot(self) -> config.Snapshot:
        raise NotImplementedError

    def _tick(self) -> None:
        raise NotImplementedError

    async def _probe_until_current(self, key: Key) -> None:
        raise NotImplementedError
