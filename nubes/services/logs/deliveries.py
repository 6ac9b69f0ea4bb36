"""Vended-log deliveries (the "V2" logging infrastructure): delivery sources (a resource of
another service and one of its log types), delivery destinations (a log group, an S3 bucket or
a Firehose delivery stream; X-Ray does not exist in nubes), deliveries pairing the two, the
destination policies that allow cross-account deliveries, and the configuration templates that
say which fields, formats and delimiters each source allows.

The sources nubes knows are the resources AWS documents as vending logs this way among the
services nubes has: EventBridge event buses (ERROR_LOGS, INFO_LOGS, TRACE_LOGS) and Network Load
Balancers (NLB_ACCESS_LOGS). The records are kept and checked as AWS checks them; neither
service writes log records through a delivery yet.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nubes.core import safejson
from nubes.core.arns import arn, parse_arn, root_arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.protocol.base import ServiceError
from nubes.services.iam.policy import Caller, PolicyError, Request, evaluate, parse_policy
from nubes.services.logs.errors import errors
from nubes.services.logs.models import Scope

if TYPE_CHECKING:
    from nubes.services.logs.models import DocumentsModel, LogsModel

SOURCE, DESTINATION, DELIVERY, POLICY = (
    "delivery-source",
    "delivery-destination",
    "delivery",
    "delivery-destination-policy",
)
DEFAULT_LIMIT = 50
OUTPUT_FORMATS = {
    "CWL": ("json", "plain", "raw"),
    "S3": ("json", "plain", "w3c", "raw", "parquet"),
    "FH": ("json", "plain", "w3c", "raw"),
}
"""What each destination type takes; ``json`` is the default."""
DELIMITED = frozenset({"plain", "w3c", "raw"})
FIELD_DELIMITERS = [",", " ", "\t", "|"]
SUFFIX_FIELDS = ["{account-id}", "{region}", "{resource-id}", "{yyyy}", "{MM}", "{dd}", "{HH}"]
SUFFIX_VARIABLE = re.compile(r"\{[^{}]*\}")
DELIVERY_ID = string.ascii_letters + string.digits


@dataclass(frozen=True)
class LogSource:
    service: str
    resource_type: str
    log_types: tuple[str, ...]
    fields: tuple[str, ...]
    mandatory: tuple[str, ...]
    destinations: tuple[str, ...] = ("CWL", "S3", "FH")


EVENT_BUS = LogSource(
    "events",
    "event-bus",
    ("ERROR_LOGS", "INFO_LOGS", "TRACE_LOGS"),
    # The event bus log schema of the EventBridge user guide.
    (
        "resource_arn",
        "request_id",
        "event_id",
        "invocation_id",
        "message_timestamp_ms",
        "message_type",
        "log_level",
        "details",
        "error",
    ),
    ("resource_arn", "message_timestamp_ms", "message_type", "log_level"),
)
NETWORK_LOAD_BALANCER = LogSource(
    "elasticloadbalancing",
    "loadbalancer",
    ("NLB_ACCESS_LOGS",),
    # The fields of a Network Load Balancer access log entry, in their order.
    (
        "type",
        "version",
        "time",
        "elb",
        "listener",
        "client_port",
        "destination_port",
        "connection_time",
        "tls_handshake_time",
        "received_bytes",
        "sent_bytes",
        "incoming_tls_alert",
        "chosen_cert_arn",
        "chosen_cert_serial",
        "tls_cipher",
        "tls_protocol_version",
        "tls_named_group",
        "domain_name",
        "alpn_fe_protocol",
        "alpn_be_protocol",
        "alpn_client_preference_list",
        "tls_connection_creation_time",
    ),
    ("time", "elb", "listener"),
)
LOG_SOURCES = (EVENT_BUS, NETWORK_LOAD_BALANCER)


def _scope(ctx: RequestContext) -> Scope:
    return Scope(ctx.account_id, ctx.region)


def _source_kind(resource_arn: str) -> LogSource:
    """Which known log source a resource ARN names (a Network Load Balancer, not an
    Application one; an event bus)."""
    try:
        parsed = parse_arn(resource_arn)
    except ValueError:
        raise errors.ValidationException(f"Invalid resource ARN: {resource_arn}") from None
    if parsed.service == "events" and parsed.resource.startswith("event-bus/"):
        return EVENT_BUS
    if parsed.service == "elasticloadbalancing" and parsed.resource.startswith("loadbalancer/net/"):
        return NETWORK_LOAD_BALANCER
    raise errors.ValidationException(
        f"The resource {resource_arn} cannot be a delivery source: its service does not vend "
        "logs through CloudWatch Logs deliveries."
    )


def _destination_type(resource_arn: str) -> str:
    try:
        parsed = parse_arn(resource_arn)
    except ValueError:
        raise errors.ValidationException(
            f"Invalid destination resource ARN: {resource_arn}"
        ) from None
    if parsed.service == "logs" and parsed.resource.startswith("log-group:"):
        return "CWL"
    if parsed.service == "s3" and parsed.resource:
        return "S3"
    if parsed.service == "firehose":
        return "FH"
    raise errors.ValidationException(
        f"The destination resource {resource_arn} must be a log group, an S3 bucket or a "
        "Firehose delivery stream."
    )


class Deliveries:
    """Mixed into the Logs provider."""

    documents: DocumentsModel
    model: LogsModel
    env: Any

    # -- sources ----------------------------------------------------------------------------

    def put_delivery_source(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = _scope(ctx)
        name, resource, log_type = req["name"], req["resourceArn"], req["logType"]
        kind = _source_kind(resource)
        if log_type not in kind.log_types:
            raise errors.ValidationException(
                f"Log type {log_type} is not supported for {kind.service} {kind.resource_type} "
                f"(supported: {', '.join(kind.log_types)})."
            )
        if req.get("deliverySourceConfiguration"):
            key = next(iter(req["deliverySourceConfiguration"]))
            raise errors.ValidationException(
                f"Delivery source configuration key {key} is not supported for log type {log_type}."
            )
        parsed = parse_arn(resource)
        if (parsed.account, parsed.region) != (scope.account, scope.region):
            raise errors.ValidationException(
                "A delivery source must be in the account and Region of its resource."
            )
        self._require_resource(ctx, kind, resource)
        existing = self.documents.get(scope, SOURCE, name)
        if (
            existing is not None
            and (existing["resourceArns"] != [resource] or existing["logType"] != log_type)
            and self._deliveries_of_source(scope, name)
        ):
            raise errors.ConflictException(
                f"Delivery source {name} has deliveries: its resource and log type cannot change."
            )
        source = {
            "name": name,
            "arn": arn("logs", scope.region, scope.account, f"delivery-source:{name}"),
            "resourceArns": [resource],
            "service": kind.service,
            "logType": log_type,
        }
        self.documents.put(scope, SOURCE, name, source)
        self._tag(source["arn"], req.get("tags"))
        return {"deliverySource": self._with_tags(source)}

    def get_delivery_source(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return {"deliverySource": self._with_tags(self._source(_scope(ctx), req["name"]))}

    def describe_delivery_sources(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        items = self.documents.listing(_scope(ctx), SOURCE)
        page, token = _page(items, req)
        return _listing("deliverySources", [self._with_tags(s) for s in page], token)

    def delete_delivery_source(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = _scope(ctx)
        source = self._source(scope, req["name"])
        if self._deliveries_of_source(scope, source["name"]):
            raise errors.ConflictException(
                f"Delivery source {source['name']} has deliveries; delete them first."
            )
        self.documents.delete(scope, SOURCE, source["name"])
        self.env.tags.drop(source["arn"])
        return {}

    # -- destinations -----------------------------------------------------------------------

    def put_delivery_destination(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = _scope(ctx)
        name = req["name"]
        wanted = req.get("deliveryDestinationType")
        if wanted == "XRAY":
            raise errors.ValidationException(
                "X-Ray does not exist in nubes: a delivery destination can be a log group or "
                "an S3 bucket."
            )
        config = req.get("deliveryDestinationConfiguration")
        if not config:
            raise errors.ValidationException(
                "deliveryDestinationConfiguration is required for this destination type."
            )
        target = config["destinationResourceArn"]
        kind = _destination_type(target)
        if wanted is not None and wanted != kind:
            raise errors.ValidationException(
                f"The destination resource {target} is not of the type {wanted}."
            )
        output = req.get("outputFormat") or "json"
        if output not in OUTPUT_FORMATS[kind]:
            raise errors.ValidationException(
                f"Output format {output} is not supported for {kind} destinations."
            )
        self._require_target(scope, kind, target)
        existing = self.documents.get(scope, DESTINATION, name)
        destination_arn = arn("logs", scope.region, scope.account, f"delivery-destination:{name}")
        changed = existing is not None and (
            existing["deliveryDestinationConfiguration"]["destinationResourceArn"] != target
            or existing["outputFormat"] != output
        )
        if changed and self._deliveries_to(destination_arn):
            raise errors.ConflictException(
                f"Delivery destination {name} has deliveries: its destination and output "
                "format cannot change."
            )
        destination = {
            "name": name,
            "arn": destination_arn,
            "deliveryDestinationType": kind,
            "outputFormat": output,
            "deliveryDestinationConfiguration": {"destinationResourceArn": target},
        }
        self.documents.put(scope, DESTINATION, name, destination)
        self._tag(destination_arn, req.get("tags"))
        return {"deliveryDestination": self._with_tags(destination)}

    def get_delivery_destination(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return {"deliveryDestination": self._with_tags(self._destination(_scope(ctx), req["name"]))}

    def describe_delivery_destinations(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        items = self.documents.listing(_scope(ctx), DESTINATION)
        page, token = _page(items, req)
        return _listing("deliveryDestinations", [self._with_tags(d) for d in page], token)

    def delete_delivery_destination(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope = _scope(ctx)
        destination = self._destination(scope, req["name"])
        if self._deliveries_to(destination["arn"]):
            raise errors.ConflictException(
                f"Delivery destination {destination['name']} has deliveries; delete them first."
            )
        self.documents.delete(scope, DESTINATION, destination["name"])
        self.documents.delete(scope, POLICY, destination["name"])
        self.env.tags.drop(destination["arn"])
        return {}

    def put_delivery_destination_policy(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope = _scope(ctx)
        destination = self._destination(scope, req["deliveryDestinationName"])
        text = req["deliveryDestinationPolicy"]
        try:
            safejson.loads(text)
            parse_policy(text, "resource")
        except (ValueError, PolicyError) as exc:
            raise errors.ValidationException(
                f"Invalid delivery destination policy: {exc}"
            ) from None
        policy = {"deliveryDestinationPolicy": text}
        self.documents.put(scope, POLICY, destination["name"], policy)
        return {"policy": policy}

    def get_delivery_destination_policy(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope = _scope(ctx)
        destination = self._destination(scope, req["deliveryDestinationName"])
        return {"policy": self.documents.get(scope, POLICY, destination["name"]) or {}}

    def delete_delivery_destination_policy(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope = _scope(ctx)
        destination = self._destination(scope, req["deliveryDestinationName"])
        if not self.documents.delete(scope, POLICY, destination["name"]):
            raise errors.ResourceNotFoundException(
                f"Delivery destination {destination['name']} has no policy."
            )
        return {}

    # -- deliveries -------------------------------------------------------------------------

    def create_delivery(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = _scope(ctx)
        source = self._source(scope, req["deliverySourceName"])
        destination_arn = req["deliveryDestinationArn"]
        destination = self._destination_by_arn(ctx, destination_arn)
        kind = destination["deliveryDestinationType"]
        log_source = _source_kind(source["resourceArns"][0])
        if any(
            d["deliveryDestinationArn"] == destination["arn"]
            for d in self._deliveries_of_source(scope, source["name"])
        ):
            raise errors.ConflictException(
                f"A delivery from {source['name']} to {destination['arn']} already exists."
            )
        delivery_id = "".join(secrets.choice(DELIVERY_ID) for _ in range(16))
        delivery: dict[str, Any] = {
            "id": delivery_id,
            "arn": arn("logs", scope.region, scope.account, f"delivery:{delivery_id}"),
            "deliverySourceName": source["name"],
            "deliveryDestinationArn": destination["arn"],
            "deliveryDestinationType": kind,
        }
        delivery |= _configuration(log_source, destination, req, None)
        self.documents.put(scope, DELIVERY, delivery_id, delivery)
        self._tag(delivery["arn"], req.get("tags"))
        return {"delivery": self._with_tags(delivery)}

    def get_delivery(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return {"delivery": self._with_tags(self._delivery(_scope(ctx), req["id"]))}

    def describe_deliveries(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        items = self.documents.listing(_scope(ctx), DELIVERY)
        page, token = _page(items, req)
        return _listing("deliveries", [self._with_tags(d) for d in page], token)

    def delete_delivery(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = _scope(ctx)
        delivery = self._delivery(scope, req["id"])
        self.documents.delete(scope, DELIVERY, delivery["id"])
        self.env.tags.drop(delivery["arn"])
        return {}

    def update_delivery_configuration(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope = _scope(ctx)
        delivery = self._delivery(scope, req["id"])
        source = self._source(scope, delivery["deliverySourceName"])
        destination = self._destination_by_arn(ctx, delivery["deliveryDestinationArn"])
        delivery |= _configuration(
            _source_kind(source["resourceArns"][0]), destination, req, delivery
        )
        self.documents.put(scope, DELIVERY, delivery["id"], delivery)
        return {}

    def describe_configuration_templates(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        templates = [
            _template(source, log_type, kind)
            for source in LOG_SOURCES
            for log_type in source.log_types
            for kind in source.destinations
            if req.get("service") in (None, source.service)
            and log_type in (req.get("logTypes") or [log_type])
            and source.resource_type in (req.get("resourceTypes") or [source.resource_type])
            and kind in (req.get("deliveryDestinationTypes") or [kind])
        ]
        page, token = _page(templates, req)
        return _listing("configurationTemplates", page, token)

    # -- helpers ----------------------------------------------------------------------------

    def _source(self, scope: Scope, name: str) -> dict[str, Any]:
        found = self.documents.get(scope, SOURCE, name)
        if found is None:
            raise errors.ResourceNotFoundException(f"Delivery source {name} does not exist.")
        return found

    def _destination(self, scope: Scope, name: str) -> dict[str, Any]:
        found = self.documents.get(scope, DESTINATION, name)
        if found is None:
            raise errors.ResourceNotFoundException(f"Delivery destination {name} does not exist.")
        return found

    def _delivery(self, scope: Scope, delivery_id: str) -> dict[str, Any]:
        found = self.documents.get(scope, DELIVERY, delivery_id)
        if found is None:
            raise errors.ResourceNotFoundException(f"Delivery {delivery_id} does not exist.")
        return found

    def _destination_by_arn(self, ctx: RequestContext, destination_arn: str) -> dict[str, Any]:
        """The destination an ARN names, in whichever account; one in another account takes a
        destination policy allowing this account logs:CreateDelivery, and only S3 (and
        Firehose) destinations take cross-account deliveries."""
        try:
            parsed = parse_arn(destination_arn)
        except ValueError:
            raise errors.ValidationException(
                f"Invalid delivery destination ARN: {destination_arn}"
            ) from None
        if parsed.service != "logs" or not parsed.resource.startswith("delivery-destination:"):
            raise errors.ValidationException(f"Invalid delivery destination ARN: {destination_arn}")
        owner = Scope(parsed.account, parsed.region)
        destination = self._destination(owner, parsed.resource.split(":", 1)[1])
        if parsed.account == ctx.account_id:
            return destination
        if destination["deliveryDestinationType"] == "CWL":
            raise errors.ValidationException(
                "Cross-account deliveries can only go to S3 or Firehose destinations."
            )
        policy = self.documents.get(owner, POLICY, destination["name"])
        caller = Caller(root_arn(ctx.account_id, ctx.partition), ctx.account_id, "root")
        request = Request("logs:CreateDelivery", destination_arn, caller, {}, parsed.account)
        allowed = (
            policy is not None
            and evaluate(
                request,
                [],
                [("destination", parse_policy(policy["deliveryDestinationPolicy"], "resource"))],
            ).allowed
        )
        if not allowed:
            raise errors.AccessDeniedException(
                f"The delivery destination policy of {destination_arn} does not allow account "
                f"{ctx.account_id} to create deliveries to it."
            )
        return destination

    def _deliveries_of_source(self, scope: Scope, name: str) -> list[dict[str, Any]]:
        return [
            d for d in self.documents.listing(scope, DELIVERY) if d["deliverySourceName"] == name
        ]

    def _deliveries_to(self, destination_arn: str) -> list[Any]:
        # Deliveries from other accounts count too.
        return self.documents.everywhere(DELIVERY, "$.deliveryDestinationArn", [destination_arn])

    def _require_resource(self, ctx: RequestContext, kind: LogSource, resource: str) -> None:
        params: dict[str, Any]
        if kind is EVENT_BUS:
            service, operation, params = "events", "DescribeEventBus", {"Name": resource}
        else:
            service, operation = "elbv2", "DescribeLoadBalancers"
            params = {"LoadBalancerArns": [resource]}
        try:
            self.env.providers.invoke(service, operation, params, ctx.account_id, ctx.region)
        except ServiceError:
            raise errors.ResourceNotFoundException(
                f"The resource {resource} does not exist."
            ) from None

    def _require_target(self, scope: Scope, kind: str, target: str) -> None:
        parsed = parse_arn(target)
        if kind == "CWL":
            if parsed.account != scope.account:
                raise errors.ValidationException(
                    "A delivery destination must be in the account of its log group."
                )
            group = parsed.resource.split(":", 1)[1].removesuffix(":*")
            if self.model.group(Scope(parsed.account, parsed.region), group) is None:
                raise errors.ResourceNotFoundException(f"Log group {group} does not exist.")
            return
        if kind == "FH":
            name = parsed.resource.split("/", 1)[-1]
            try:
                self.env.providers.invoke(
                    "firehose",
                    "DescribeDeliveryStream",
                    {"DeliveryStreamName": name},
                    parsed.account,
                    parsed.region,
                )
            except ServiceError:
                raise errors.ResourceNotFoundException(
                    f"Firehose delivery stream {name} does not exist."
                ) from None
            return
        bucket = parsed.resource.split("/", 1)[0]
        try:
            self.env.providers.invoke(
                "s3", "HeadBucket", {"Bucket": bucket}, scope.account, scope.region
            )
        except ServiceError:
            raise errors.ResourceNotFoundException(f"Bucket {bucket} does not exist.") from None

    def _tag(self, resource_arn: str, tags: dict[str, str] | None) -> None:
        if tags:
            self.env.tags.set(resource_arn, tags)

    def _with_tags(self, doc: dict[str, Any]) -> dict[str, Any]:
        tags = self.env.tags.get(doc["arn"])
        return doc | {"tags": tags} if tags else doc


def _configuration(
    source: LogSource,
    destination: dict[str, Any],
    req: dict[str, Any],
    current: dict[str, Any] | None,
) -> dict[str, Any]:
    """A delivery's record fields, delimiter and S3 settings from a CreateDelivery or
    UpdateDeliveryConfiguration request, checked against the source's template; what the
    request leaves out stays as it was (or takes the template's default)."""
    kind = destination["deliveryDestinationType"]
    output = destination["outputFormat"]
    out: dict[str, Any] = {}
    fields = req.get("recordFields")
    if fields is not None:
        unknown = [f for f in fields if f not in source.fields]
        if unknown:
            raise errors.ValidationException(
                f"Record field {unknown[0]} is not allowed for {source.service} logs (allowed: "
                f"{', '.join(source.fields)})."
            )
        missing = [f for f in source.mandatory if f not in fields]
        if missing:
            raise errors.ValidationException(f"Record field {missing[0]} is mandatory.")
        out["recordFields"] = list(fields)
    elif current is None:
        out["recordFields"] = list(source.fields)
    delimiter = req.get("fieldDelimiter")
    if delimiter is not None:
        if output not in DELIMITED:
            raise errors.ValidationException(
                f"A field delimiter applies to plain, w3c and raw output, not {output}."
            )
        if delimiter and delimiter not in FIELD_DELIMITERS:
            raise errors.ValidationException(f"Field delimiter {delimiter!r} is not allowed.")
        out["fieldDelimiter"] = delimiter
    elif current is None:
        out["fieldDelimiter"] = ""
    s3 = req.get("s3DeliveryConfiguration")
    if s3 is not None:
        if kind != "S3":
            raise errors.ValidationException(
                "s3DeliveryConfiguration applies to deliveries to S3 destinations only."
            )
        for variable in SUFFIX_VARIABLE.findall(s3.get("suffixPath") or ""):
            if variable not in SUFFIX_FIELDS:
                raise errors.ValidationException(
                    f"The suffix path variable {variable} is not allowed (allowed: "
                    f"{', '.join(SUFFIX_FIELDS)})."
                )
        out["s3DeliveryConfiguration"] = {"enableHiveCompatiblePath": False} | s3
    elif current is None and kind == "S3":
        out["s3DeliveryConfiguration"] = {"enableHiveCompatiblePath": False}
    return out


def _template(source: LogSource, log_type: str, kind: str) -> dict[str, Any]:
    template: dict[str, Any] = {
        "service": source.service,
        "logType": log_type,
        "resourceType": source.resource_type,
        "deliveryDestinationType": kind,
        "defaultDeliveryConfigValues": {"recordFields": list(source.fields), "fieldDelimiter": ""},
        "allowedFields": [{"name": f, "mandatory": f in source.mandatory} for f in source.fields],
        "allowedOutputFormats": list(OUTPUT_FORMATS[kind]),
        "allowedActionForAllowVendedLogsDeliveryForResource": (
            f"{source.service}:AllowVendedLogDeliveryForResource"
        ),
        "allowedFieldDelimiters": FIELD_DELIMITERS,
    }
    if kind == "S3":
        template["defaultDeliveryConfigValues"]["s3DeliveryConfiguration"] = {
            "enableHiveCompatiblePath": False
        }
        template["allowedSuffixPathFields"] = SUFFIX_FIELDS
    return template


def _page(items: list[Any], req: dict[str, Any]) -> tuple[list[Any], str | None]:
    start = 0
    if req.get("nextToken"):
        try:
            start = int(decode_token(req["nextToken"]))
        except (InvalidToken, TypeError, ValueError):
            raise errors.ValidationException("The specified nextToken is invalid.") from None
    limit = req.get("limit") or DEFAULT_LIMIT
    token = encode_token(start + limit) if start + limit < len(items) else None
    return items[start : start + limit], token


def _listing(key: str, items: list[Any], token: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {key: items}
    if token:
        out["nextToken"] = token
    return out
