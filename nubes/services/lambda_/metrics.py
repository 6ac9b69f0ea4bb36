"""What Lambda publishes to CloudWatch (namespace ``AWS/Lambda``): per function (dimension
``FunctionName``) and for the whole account and region (no dimension), Invocations, Errors,
Duration, Throttles, ConcurrentExecutions (the concurrency at each admission, so its Maximum is
the peak) and AsyncEventAge; counted in memory, handed over per minute."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.services.lambda_.invoker import Target

NAMESPACE = "AWS/Lambda"


def record(
    env: Environment,
    target: Target,
    name: str,
    value: float,
    unit: str = "Count",
    account_value: float | None = None,
) -> None:
    """``value`` for the function, and ``account_value`` (default: the same) for the region."""
    scope = target.scope
    env.metrics.record(
        scope.account, scope.region, NAMESPACE, name, value, unit, {"FunctionName": target.name}
    )
    whole = value if account_value is None else account_value
    env.metrics.record(scope.account, scope.region, NAMESPACE, name, whole, unit)


def invoked(env: Environment, target: Target, failed: bool, duration_ms: float) -> None:
    record(env, target, "Invocations", 1.0)
    record(env, target, "Errors", 1.0 if failed else 0.0)
    record(env, target, "Duration", round(duration_ms, 2), "Milliseconds")
