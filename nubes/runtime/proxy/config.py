"""What the data plane knows of the load balancers: a snapshot of the records, rebuilt by the
owning provider after each change (the plane never reads another service's tables)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


@dataclass
class Target:
    id: str
    port: int
    state: str
    """initial, healthy, unhealthy, draining (as DescribeTargetHealth stores it)."""
    az: str = ""
    healthy_since: float | None = None
    """When it became healthy while others already were (its slow start begins then)."""


@dataclass
class TargetGroup:
    arn: str
    name: str
    target_type: str
    """instance, ip or lambda."""
    protocol: str
    port: int
    health: Json
    """The health check settings (HealthCheckPath, Matcher, HealthCheckTimeoutSeconds, ...)."""
    attributes: dict[str, str]
    account: str
    region: str
    targets: list[Target] = field(default_factory=list)
    sticky_cookie: str = ""
    """The stickiness cookie's name when not ALB's (classic load balancers use AWSELB)."""

    @property
    def checked(self) -> bool:
        return bool(self.health.get("HealthCheckEnabled", True))


@dataclass
class Rule:
    arn: str
    conditions: list[Json]
    actions: list[Json]


@dataclass
class Listener:
    arn: str
    port: int
    protocol: str
    rules: list[Rule]
    """In priority order, the default rule last."""
    certificates: list[str] = field(default_factory=list)


@dataclass
class LoadBalancer:
    arn: str
    name: str
    dns: str
    address: str
    type: str
    """application or network."""
    attributes: dict[str, str]
    security_groups: list[str]
    account: str
    region: str
    listeners: dict[int, Listener] = field(default_factory=dict)
    interfaces: dict[str, str] = field(default_factory=dict)
    """Availability zone -> the private IP of the load balancer's interface there: the source
    address instance targets see (their security groups judge it)."""

    @property
    def dimensions(self) -> dict[str, str]:
        """How CloudWatch names the load balancer: ``LoadBalancer`` = ``app/<name>/<id>``, or
        ``LoadBalancerName`` for a classic one."""
        if self.type == "classic":
            return {"LoadBalancerName": self.name}
        return {"LoadBalancer": self.arn.split(":loadbalancer/", 1)[1]}


@dataclass
class Snapshot:
    balancers: dict[str, LoadBalancer] = field(default_factory=dict)
    groups: dict[str, TargetGroup] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """One health check's result."""

    healthy: bool
    reason: str | None = None
    description: str | None = None
