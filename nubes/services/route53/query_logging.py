"""DNS query logging: the queries the DNS server answers for a public hosted zone, written to a
CloudWatch Logs group in us-east-1 (one line per query, in Route 53's format). As on AWS, the
group must exist and a Logs resource policy must let ``route53.amazonaws.com`` write to it."""

from __future__ import annotations

import fnmatch
import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nubes.core.context import RequestContext
from nubes.protocol.base import ServiceError
from nubes.services.route53.errors import errors, invalid_input
from nubes.services.route53.params import bare_id

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.services.route53.models import Route53Model, Zone

LOGS_REGION = "us-east-1"
MAX_RESULTS = 100


def _logs_call(env: Environment, account: str, operation: str, params: dict[str, Any]) -> Any:
    return env.providers.invoke("logs", operation, params, account, LOGS_REGION)


def _policy_allows(document: str, group_arn: str) -> bool:
    """Whether a Logs resource policy lets Route 53 put events into the group."""
    try:
        statements = json.loads(document).get("Statement", [])
    except (ValueError, AttributeError):
        return False
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal") or {}
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        if "route53.amazonaws.com" not in ([services] if isinstance(services, str) else services):
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(fnmatch.fnmatchcase("logs:PutLogEvents", a) for a in actions):
            continue
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        for resource in resources:
            if fnmatch.fnmatchcase(group_arn, resource) or fnmatch.fnmatchcase(
                group_arn + ":*", resource
            ):
                return True
    return False


class QueryLoggingOperations:
    """The query logging half of the Route 53 provider."""

    env: Environment
    model: Route53Model
    zones_changed: Callable[..., None]
    _zone: Callable[[RequestContext, str], Zone]

    def _config_out(self, row: Any) -> dict[str, Any]:
        return {
            "Id": row["id"],
            "HostedZoneId": row["zone_id"],
            "CloudWatchLogsLogGroupArn": row["group_arn"],
        }

    def create_query_logging_config(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        zone = self._zone(ctx, params["HostedZoneId"])
        arn = params["CloudWatchLogsLogGroupArn"]
        if zone.private:
            raise invalid_input("Query logging is available for public hosted zones only.")
        if self.model.query_logging_of_zone(zone.id) is not None:
            raise errors.QueryLoggingConfigAlreadyExists(
                f"A query logging configuration already exists for hosted zone {zone.id}."
            )
        parts = arn.split(":")
        if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
            raise invalid_input(f"{arn} is not the ARN of a CloudWatch Logs log group.")
        if parts[3] != LOGS_REGION:
            raise invalid_input(f"The log group must be in {LOGS_REGION}, not {parts[3]}.")
        group = parts[6]
        group_arn = ":".join(parts[:7])
        try:
            found = _logs_call(
                self.env, ctx.account_id, "DescribeLogGroups", {"logGroupNamePrefix": group}
            )
            policies = _logs_call(self.env, ctx.account_id, "DescribeResourcePolicies", {})
        except (ServiceError, KeyError):
            found, policies = {}, {}
        if not any(g.get("logGroupName") == group for g in found.get("logGroups", ())):
            raise errors.NoSuchCloudWatchLogsLogGroup(
                f"There is no CloudWatch Logs log group with the ARN {arn}."
            )
        if not any(
            _policy_allows(p.get("policyDocument", ""), group_arn)
            for p in policies.get("resourcePolicies", ())
        ):
            raise errors.InsufficientCloudWatchLogsResourcePolicy(
                "Amazon Route 53 doesn't have the permissions required to create log streams and "
                f"send query logs to log streams in {arn}."
            )
        config_id = str(uuid.uuid4())
        self.model.add_query_logging(config_id, ctx.account_id, zone.id, group_arn, group)
        self.zones_changed(zone.id)
        row = self.model.query_logging(config_id)
        return {
            "QueryLoggingConfig": self._config_out(row),
            "Location": f"https://route53.amazonaws.com/2013-04-01/queryloggingconfig/{config_id}",
        }

    def _query_logging(self, ctx: RequestContext, config_id: str) -> Any:
        row = self.model.query_logging(bare_id(config_id))
        if row is None or row["account"] != ctx.account_id:
            raise errors.NoSuchQueryLoggingConfig(
                f"There is no DNS query logging configuration with the ID {bare_id(config_id)}."
            )
        return row

    def get_query_logging_config(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return {"QueryLoggingConfig": self._config_out(self._query_logging(ctx, params["Id"]))}

    def delete_query_logging_config(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        row = self._query_logging(ctx, params["Id"])
        self.model.delete_query_logging(row["id"])
        self.zones_changed(row["zone_id"])
        return {}

    def list_query_logging_configs(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        zone_id = params.get("HostedZoneId")
        if zone_id:
            self._zone(ctx, zone_id)
        rows = self.model.query_loggings(ctx.account_id, bare_id(zone_id) if zone_id else None)
        raw_limit = str(params.get("MaxResults") or MAX_RESULTS)
        if not raw_limit.isdigit():
            raise invalid_input(f"MaxResults '{raw_limit}' is not a number")
        limit = max(1, min(int(raw_limit), MAX_RESULTS))
        token = params.get("NextToken")
        start = int(token) if token and str(token).isdigit() else 0
        if token and not str(token).isdigit():
            raise errors.InvalidPaginationToken("The pagination token is not valid.")
        out: dict[str, Any] = {
            "QueryLoggingConfigs": [self._config_out(r) for r in rows[start : start + limit]]
        }
        if start + limit < len(rows):
            out["NextToken"] = str(start + limit)
        return out
