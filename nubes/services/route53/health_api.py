"""Route 53 health check operations. The checks run in ``nubes/runtime/healthchecks``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.runtime.healthchecks import (
    CHECKER_IP,
    CHECKER_REGION,
    ENDPOINT_TYPES,
    HealthChecker,
    alarm_configuration,
)
from nubes.services.route53.errors import errors, invalid_input
from nubes.services.route53.models import HealthCheckRow, Route53Model
from nubes.services.route53.params import max_items, resource_arn

if TYPE_CHECKING:
    from nubes.app import Environment

MAX_HEALTH_CHECKS = 200
MAX_CHILDREN = 256
MIN_REGIONS = 3
RESETTABLE = {
    "FullyQualifiedDomainName": "FullyQualifiedDomainName",
    "Regions": "Regions",
    "ResourcePath": "ResourcePath",
    "ChildHealthChecks": "ChildHealthChecks",
}
UPDATABLE = (
    "IPAddress",
    "Port",
    "ResourcePath",
    "FullyQualifiedDomainName",
    "SearchString",
    "FailureThreshold",
    "Inverted",
    "Disabled",
    "HealthThreshold",
    "ChildHealthChecks",
    "EnableSNI",
    "Regions",
    "AlarmIdentifier",
    "InsufficientDataHealthStatus",
)


def _with_defaults(config: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in config.items() if v is not None}
    kind = out["Type"]
    if kind in ENDPOINT_TYPES:
        if "Port" not in out and kind != "TCP":
            out["Port"] = 443 if kind.startswith("HTTPS") else 80
        out.setdefault("RequestInterval", 30)
        out.setdefault("FailureThreshold", 3)
        out.setdefault("MeasureLatency", False)
        if kind.startswith("HTTPS"):
            out.setdefault("EnableSNI", True)
        else:
            out.setdefault("EnableSNI", False)
    out.setdefault("Inverted", False)
    out.setdefault("Disabled", False)
    return out


def _problem(config: dict[str, Any], known: set[str]) -> str | None:
    kind = config["Type"]
    if kind == "RECOVERY_CONTROL":
        return None if config.get("RoutingControlArn") else "RoutingControlArn is required."
    if kind in ENDPOINT_TYPES:
        if not config.get("IPAddress") and not config.get("FullyQualifiedDomainName"):
            return "Invalid parameter: you must specify IPAddress or FullyQualifiedDomainName."
        if kind == "TCP" and not config.get("Port"):
            return "Invalid parameter: Port is required for a TCP health check."
        if kind.endswith("STR_MATCH") and not config.get("SearchString"):
            return f"Invalid parameter: SearchString is required for a {kind} health check."
        if config.get("RequestInterval", 30) not in (10, 30):
            return "Invalid parameter: RequestInterval must be 10 or 30."
        if not 1 <= int(config.get("FailureThreshold", 3)) <= 10:
            return "Invalid parameter: FailureThreshold must be between 1 and 10."
        regions = config.get("Regions")
        if regions is not None and len(set(regions)) < MIN_REGIONS:
            return f"Invalid parameter: specify at least {MIN_REGIONS} regions."
    elif kind == "CALCULATED":
        children = config.get("ChildHealthChecks") or []
        if len(children) > MAX_CHILDREN:
            return f"Invalid parameter: at most {MAX_CHILDREN} child health checks."
        missing = [c for c in children if c not in known]
        if missing:
            return f"Invalid parameter: the child health check {missing[0]} does not exist."
        threshold = config.get("HealthThreshold")
        if threshold is not None and not 0 <= int(threshold) <= MAX_CHILDREN:
            return f"Invalid parameter: HealthThreshold must be between 0 and {MAX_CHILDREN}."
    elif kind == "CLOUDWATCH_METRIC":
        alarm = config.get("AlarmIdentifier")
        if not alarm or not alarm.get("Name") or not alarm.get("Region"):
            return "Invalid parameter: AlarmIdentifier is required for a CLOUDWATCH_METRIC check."
    return None


class HealthCheckOperations:
    """The health check half of the Route 53 provider."""

    env: Environment
    model: Route53Model
    health: HealthChecker

    def init_health_checks(self) -> None:
        self.health = HealthChecker(self.env, lambda: self.model.health_checks(), self._resolve)

    def _resolve(self, name: str) -> list[str]:
        """Addresses of a health check's domain name: nubes' own names, then hosted zones."""
        found = self.env.names.resolve(name)
        if found:
            return list(found)
        dns = getattr(self, "_dns", None)
        return [] if dns is None else dns.addresses(name)

    async def start_health_checks(self) -> None:
        await self.health.start()

    async def stop_health_checks(self) -> None:
        await self.health.stop()

    def reset_health_checks(self) -> None:
        self.health.reset()

    def health_check_row(self, ctx: RequestContext, check_id: str) -> HealthCheckRow:
        found = next(
            (c for c in self.model.health_checks(ctx.account_id) if c.id == check_id), None
        )
        if found is None:
            raise errors.NoSuchHealthCheck(f"No health check exists with the ID {check_id}")
        return found

    def _check_out(self, check: HealthCheckRow) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Id": check.id,
            "CallerReference": check.caller_reference,
            "HealthCheckConfig": check.config,
            "HealthCheckVersion": check.version,
        }
        alarm = check.config.get("AlarmIdentifier")
        if check.config["Type"] == "CLOUDWATCH_METRIC" and alarm:
            found = alarm_configuration(self.env, check.account, alarm["Region"], alarm["Name"])
            if found is not None:
                out["CloudWatchAlarmConfiguration"] = found
        return out

    def create_health_check(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        reference = params["CallerReference"]
        config = _with_defaults(params["HealthCheckConfig"])
        checks = self.model.health_checks(ctx.account_id)
        for existing in checks:
            if existing.caller_reference == reference:
                if existing.config == config:
                    return {
                        "HealthCheck": self._check_out(existing),
                        "Location": _location(existing.id),
                    }
                raise errors.HealthCheckAlreadyExists(
                    "A health check with the same caller reference already exists but its "
                    "settings differ."
                )
        problem = _problem(config, {c.id for c in checks})
        if problem:
            raise invalid_input(problem)
        if len(checks) >= MAX_HEALTH_CHECKS:
            raise errors.TooManyHealthChecks(
                f"Limits Exceeded: MAX_HEALTH_CHECKS_BY_OWNER - Cannot create more than "
                f"{MAX_HEALTH_CHECKS} health checks."
            )
        check = HealthCheckRow(str(uuid.uuid4()), ctx.account_id, reference, config, 1, clock.now())
        self.model.add_health_check(check)
        self.health.reload()
        return {"HealthCheck": self._check_out(check), "Location": _location(check.id)}

    def get_health_check(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"HealthCheck": self._check_out(self.health_check_row(ctx, params["HealthCheckId"]))}

    def list_health_checks(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        limit = max_items(params, 1000)
        checks = self.model.health_checks(ctx.account_id)
        marker = params.get("Marker")
        start = 0
        if marker:
            start = next((i for i, c in enumerate(checks) if c.id == marker), len(checks))
        page = checks[start : start + limit]
        out: dict[str, Any] = {
            "HealthChecks": [self._check_out(c) for c in page],
            "Marker": marker or "",
            "IsTruncated": start + limit < len(checks),
            "MaxItems": str(limit),
        }
        if out["IsTruncated"]:
            out["NextMarker"] = checks[start + limit].id
        return out

    def get_health_check_count(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"HealthCheckCount": len(self.model.health_checks(ctx.account_id))}

    def delete_health_check(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        check = self.health_check_row(ctx, params["HealthCheckId"])
        parents = [
            c.id
            for c in self.model.health_checks(ctx.account_id)
            if check.id in (c.config.get("ChildHealthChecks") or ())
        ]
        if parents or self.model.records_using_health_check(check.id):
            raise errors.HealthCheckInUse(
                f"The health check with ID {check.id} is still referenced from parent health "
                "check(s) or record set(s)."
            )
        self.model.delete_health_check(check.id)
        self.env.tags.drop(resource_arn(ctx, f"healthcheck/{check.id}"))
        self.health.reload()
        return {}

    def update_health_check(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        check = self.health_check_row(ctx, params["HealthCheckId"])
        version = params.get("HealthCheckVersion")
        if version is not None and int(version) != check.version:
            raise errors.HealthCheckVersionMismatch(
                "The value of HealthCheckVersion in the request doesn't match the value of "
                "HealthCheckVersion in the health check."
            )
        config = dict(check.config)
        for element in params.get("ResetElements") or ():
            config.pop(RESETTABLE.get(element, element), None)
        for name in UPDATABLE:
            if params.get(name) is not None:
                config[name] = params[name]
        config = _with_defaults(config)
        problem = _problem(
            config, {c.id for c in self.model.health_checks(ctx.account_id)} - {check.id}
        )
        if problem:
            raise invalid_input(problem)
        check.config = config
        check.version += 1
        self.model.update_health_check(check)
        self.health.reload()
        return {"HealthCheck": self._check_out(check)}

    def get_health_check_status(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        check = self.health_check_row(ctx, params["HealthCheckId"])
        if check.config["Type"] == "CALCULATED":
            raise invalid_input("GetHealthCheckStatus doesn't support calculated health checks.")
        if check.config["Type"] == "CLOUDWATCH_METRIC":
            healthy = self.health.healthy(check.id)
            report = "Success: Healthy" if healthy else "Failure: The alarm is in ALARM state"
            return {"HealthCheckObservations": [_observation(report, clock.now())]}
        return {
            "HealthCheckObservations": [
                _observation(o.report, o.at) for o in self.health.observations(check.id)
            ]
        }

    def get_health_check_last_failure_reason(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        check = self.health_check_row(ctx, params["HealthCheckId"])
        if check.config["Type"] == "CALCULATED":
            raise invalid_input(
                "GetHealthCheckLastFailureReason doesn't support calculated health checks."
            )
        failure = self.health.last_failure(check.id)
        return {
            "HealthCheckObservations": []
            if failure is None
            else [_observation(failure.report, failure.at)]
        }

    def get_checker_ip_ranges(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"CheckerIpRanges": [f"{CHECKER_IP}/32"]}


def _observation(report: str, at: float) -> dict[str, Any]:
    return {
        "Region": CHECKER_REGION,
        "IPAddress": CHECKER_IP,
        "StatusReport": {"Status": report, "CheckedTime": datetime.fromtimestamp(at, UTC)},
    }


def _location(check_id: str) -> str:
    return f"https://route53.amazonaws.com/2013-04-01/healthcheck/{check_id}"
