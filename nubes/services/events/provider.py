"""Amazon EventBridge: event buses (default, custom, cross-account through bus policies), rules
with event patterns and schedules on the one clock, targets (through ``targets``), PutEvents,
TestEventPattern, archives and replays. The sink of ``env.events``: AWS service events arrive on
each account and region's default bus."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import arn_service, parse_arn, partition_of, root_arn
from nubes.core.context import RequestContext
from nubes.core.events import Event
from nubes.core.metrics import Datapoint
from nubes.core.pagination import InvalidToken, paginate
from nubes.core.tags import from_list, to_list
from nubes.protocol.timestamps import to_datetime
from nubes.services.base import ServiceProvider
from nubes.services.events import patterns, schedules, transform
from nubes.services.events.api_destinations import ApiDestinations
from nubes.services.events.errors import DeliveryFailed, errors
from nubes.services.events.models import MIGRATIONS, Bus, Model, Rule, Scope
from nubes.services.events.targets import Delivery, Targets, has_pending

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]

MAX_TARGETS_PER_RULE = 5
MAX_ENTRIES_SIZE = 256 * 1024
MAX_HOPS = 5
"""Bus-to-bus forwarding depth: a loop of rules between buses stops here."""
TICK = 1.0
DEFAULT_BUS = "default"


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(
    scope: Scope,
    source: str,
    detail_type: str,
    detail: Any,
    resources: list[str],
    at: float,
    event_id: str | None = None,
) -> Json:
    """An event as EventBridge hands it to rules and targets."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": scope.account,
        "time": iso(at),
        "region": scope.region,
        "resources": resources,
        "detail": detail,
    }


def _event_time(event: Json) -> float:
    try:
        return (
            datetime.strptime(str(event.get("time")), "%Y-%m-%dT%H:%M:%SZ")
            .replace(tzinfo=UTC)
            .timestamp()
        )
    except ValueError:
        return clock.now()


class EventsProvider(ApiDestinations, ServiceProvider):
    service = "events"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        ServiceProvider.__init__(self, env)
        ApiDestinations.__init__(self)
        self.model = Model(self.store)
        self.targets = Targets(env, "events", forward=self._forward, http=self.http_call)
        self._compiled: dict[str, patterns.Pattern] = {}
        self._bus_rules: dict[tuple[str, str, str], list[Rule]] = {}
        """Enabled pattern rules per (account, region, bus): only this provider writes rules,
        and every write forgets the cache, so routing an event reads no rule rows."""
        self._hops = 0
        env.events.attach(self)

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        return (
            has_pending(env.state.store, "events")
            or cls.has_rows(env, "SELECT 1 FROM events_rules WHERE next_fire IS NOT NULL LIMIT 1")
            or cls.has_rows(
                env,
                "SELECT 1 FROM events_replays WHERE json_extract(doc, '$.State') "
                "IN ('STARTING', 'CANCELLING') LIMIT 1",
            )
        )

    async def start(self) -> None:
        self.env.scheduler.every("events-tick", TICK, self._tick)
        self.env.scheduler.every("events-archive-retention", 3600.0, self._expire_archives)
        self.env.scheduler.on_advance(self._on_advance)

    async def stop(self) -> None:
        await self.targets.stop()

    def reset(self) -> None:
        self._compiled.clear()
        self._bus_rules.clear()
        self._tokens.clear()

    # -- the one clock --------------------------------------------------------------------

    def _on_advance(self) -> None:
        with self.store.transaction():
            self._tick()

    def _tick(self) -> None:
        now = clock.now()
        for rule in self.model.due_rules(now):
            self._fire(rule, now)
        self.targets.retry_due(now)
        self._run_replays()

    def _fire(self, rule: Rule, now: float) -> None:
        """Every firing of a scheduled rule up to ``now``, one event per boundary passed."""
        if rule.schedule is None or rule.next_fire is None:
            return
        schedule = schedules.parse(rule.schedule)
        at: float | None = rule.next_fire
        fired = 0
        while at is not None and at <= now:
            if fired == schedules.MAX_CATCH_UP:
                # A jump longer than the catch-up allows: resume at the next boundary.
                at = _next(schedule, now, rule.anchor)
                break
            event = envelope(rule.scope, "aws.events", "Scheduled Event", {}, [rule.arn], at)
            self._deliver_rule(rule, event)
            fired += 1
            at = _next(schedule, at, rule.anchor)
        self.model.set_next_fire(rule, at)

    def _expire_archives(self) -> None:
        now = clock.now()
        for row in self.store.query("SELECT * FROM events_archives WHERE retention > 0"):
            self.store.execute(
                "DELETE FROM events_archived WHERE account = ? AND region = ? AND archive = ? "
                "AND received < ?",
                (row["account"], row["region"], row["name"], now - row["retention"] * 86400),
            )

    # -- the events hub sink --------------------------------------------------------------

    def deliver_service_event(self, event: Event) -> None:
        scope = Scope(event.account_id, event.region)
        doc = envelope(
            scope,
            event.source,
            event.detail_type,
            dict(event.detail),
            list(event.resources),
            event.time if event.time is not None else clock.now(),
        )
        with self.store.transaction():
            self._ensure_default(scope)
            self._route(scope, DEFAULT_BUS, doc)

    # -- lookups --------------------------------------------------------------------------

    @staticmethod
    def _scope(ctx: RequestContext) -> Scope:
        return Scope(ctx.account_id, ctx.region)

    def _ensure_default(self, scope: Scope) -> Bus:
        bus = self.model.bus(scope, DEFAULT_BUS)
        if bus is None:
            now = clock.now()
            bus = Bus(scope, DEFAULT_BUS, now, now, None, {})
            self.model.put_bus(bus)
        return bus

    def _locate_bus(self, ctx: RequestContext, name_or_arn: str | None) -> tuple[Scope, str]:
        if name_or_arn and name_or_arn.startswith("arn:"):
            try:
                found = parse_arn(name_or_arn)
            except ValueError:
                raise errors.ValidationException(f"Invalid event bus {name_or_arn}.") from None
            if not found.resource.startswith("event-bus/"):
                raise errors.ValidationException(f"Invalid event bus ARN {name_or_arn}.")
            return Scope(found.account, found.region), found.resource.removeprefix("event-bus/")
        return self._scope(ctx), name_or_arn or DEFAULT_BUS

    def _bus(self, ctx: RequestContext, name_or_arn: str | None) -> Bus:
        scope, name = self._locate_bus(ctx, name_or_arn)
        if name == DEFAULT_BUS:
            return self._ensure_default(scope)
        bus = self.model.bus(scope, name)
        if bus is None:
            raise errors.ResourceNotFoundException(f"Event bus {name} does not exist.")
        return bus

    def _rule(self, ctx: RequestContext, name: str, bus_name: str | None) -> Rule:
        bus = self._bus(ctx, bus_name)
        rule = self.model.rule(bus.scope, bus.name, name)
        if rule is None:
            raise errors.ResourceNotFoundException(
                f"Rule {name} does not exist on EventBus {bus.name}."
            )
        return rule

    def _pattern(self, text: str) -> patterns.Pattern:
        compiled = self._compiled.get(text)
        if compiled is None:
            if len(self._compiled) > 10_000:
                self._compiled.clear()
            compiled = self._compiled[text] = patterns.parse(text)
        return compiled

    @staticmethod
    def _check_pattern(text: str) -> None:
        try:
            patterns.parse(text)
        except patterns.PatternError as exc:
            raise errors.InvalidEventPatternException(
                f"Event pattern is not valid. Reason: {exc}"
            ) from None

    # -- event buses ----------------------------------------------------------------------

    def create_event_bus(self, ctx: RequestContext, req: Json) -> Json:
        scope = self._scope(ctx)
        name = req["Name"]
        if name == DEFAULT_BUS or ("/" in name and not req.get("EventSourceName")):
            raise errors.ValidationException(f"Event bus name {name} is not valid.")
        if self.model.bus(scope, name) is not None:
            raise errors.ResourceAlreadyExistsException(f"Event bus {name} already exists.")
        now = clock.now()
        doc = {
            k: req[k]
            for k in ("Description", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig")
            if req.get(k) is not None
        }
        bus = Bus(scope, name, now, now, None, doc)
        self._set_tags(bus.arn, req.get("Tags") or [])
        self.model.put_bus(bus)
        return {"EventBusArn": bus.arn, **doc}

    def update_event_bus(self, ctx: RequestContext, req: Json) -> Json:
        bus = self._bus(ctx, req.get("Name"))
        for key in ("Description", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig"):
            if req.get(key) is not None:
                bus.doc[key] = req[key]
        bus.modified = clock.now()
        self.model.put_bus(bus)
        return {"Arn": bus.arn, "Name": bus.name, **bus.doc}

    def delete_event_bus(self, ctx: RequestContext, req: Json) -> Json:
        scope = self._scope(ctx)
        if req["Name"] == DEFAULT_BUS:
            raise errors.ValidationException("Cannot delete event bus default.")
        if self.model.bus(scope, req["Name"]) is not None:
            if self.model.rules(scope, req["Name"]):
                raise errors.ValidationException("EventBus can't be deleted since it has rules.")
            self.env.tags.drop(scope.bus_arn(req["Name"]))
            self.model.delete_bus(scope, req["Name"])
        return {}

    def _bus_out(self, bus: Bus) -> Json:
        out: Json = {"Name": bus.name, "Arn": bus.arn, **bus.doc}
        if bus.policy:
            out["Policy"] = bus.policy
        out["CreationTime"] = bus.created
        out["LastModifiedTime"] = bus.modified
        return out

    def describe_event_bus(self, ctx: RequestContext, req: Json) -> Json:
        return self._bus_out(self._bus(ctx, req.get("Name")))

    def list_event_buses(self, ctx: RequestContext, req: Json) -> Json:
        scope = self._scope(ctx)
        self._ensure_default(scope)
        prefix = req.get("NamePrefix") or ""
        names = [n for n in self.model.buses(scope) if n.startswith(prefix)]
        page, token = self._page(names, req, key=lambda n: n)
        buses = [self._bus_out(b) for n in page if (b := self.model.bus(scope, n)) is not None]
        out: Json = {"EventBuses": buses}
        if token:
            out["NextToken"] = token
        return out

    @staticmethod
    def _page(items: list[Any], req: Json, key: Any) -> tuple[list[Any], str | None]:
        limit = req.get("Limit") or 100
        try:
            return paginate(items, limit, req.get("NextToken"), key)
        except (InvalidToken, TypeError):
            raise errors.ValidationException("The NextToken provided is invalid.") from None

    # -- bus policies ---------------------------------------------------------------------

    def put_permission(self, ctx: RequestContext, req: Json) -> Json:
        bus = self._bus(ctx, req.get("EventBusName"))
        if req.get("Policy"):
            try:
                policy = json.loads(req["Policy"])
            except ValueError:
                raise errors.ValidationException("The policy is not valid JSON.") from None
            bus.policy = json.dumps(policy)
        else:
            for key in ("Action", "Principal", "StatementId"):
                if not req.get(key):
                    raise errors.ValidationException(f"Parameter {key} must be specified.")
            if req["Action"] != "events:PutEvents":
                raise errors.ValidationException(
                    "Provided value in parameter 'action' is not supported."
                )
            principal = req["Principal"]
            if principal != "*" and not (principal.isdigit() and len(principal) == 12):
                raise errors.ValidationException(
                    "Parameter Principal must be a 12-digit AWS account ID or '*'."
                )
            statement: Json = {
                "Sid": req["StatementId"],
                "Effect": "Allow",
                "Principal": "*"
                if principal == "*"
                else {"AWS": root_arn(principal, ctx.partition)},
                "Action": "events:PutEvents",
                "Resource": bus.arn,
            }
            condition = req.get("Condition")
            if condition:
                statement["Condition"] = {condition["Type"]: {condition["Key"]: condition["Value"]}}
            policy = json.loads(bus.policy) if bus.policy else {"Version": "2012-10-17"}
            kept = [s for s in policy.get("Statement", []) if s.get("Sid") != req["StatementId"]]
            policy["Statement"] = [*kept, statement]
            bus.policy = json.dumps(policy)
        bus.modified = clock.now()
        self.model.put_bus(bus)
        return {}

    def remove_permission(self, ctx: RequestContext, req: Json) -> Json:
        bus = self._bus(ctx, req.get("EventBusName"))
        if req.get("RemoveAllPermissions"):
            bus.policy = None
        else:
            policy = json.loads(bus.policy) if bus.policy else {}
            statements = policy.get("Statement", [])
            kept = [s for s in statements if s.get("Sid") != req.get("StatementId")]
            if len(kept) == len(statements):
                raise errors.ResourceNotFoundException(
                    "Statement with the provided id does not exist."
                )
            policy["Statement"] = kept
            bus.policy = json.dumps(policy) if kept else None
        bus.modified = clock.now()
        self.model.put_bus(bus)
        return {}

    @staticmethod
    def _allows(bus: Bus, account: str) -> bool:
        """Whether ``account`` may put events on ``bus`` (its own, or by the bus policy)."""
        if account == bus.scope.account:
            return True
        if not bus.policy:
            return False
        for statement in json.loads(bus.policy).get("Statement", []):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if not {"events:PutEvents", "events:*", "*"} & set(actions):
                continue
            principal = statement.get("Principal")
            if principal == "*":
                return True
            wanted = principal.get("AWS", []) if isinstance(principal, dict) else []
            wanted = [wanted] if isinstance(wanted, str) else wanted
            root = root_arn(account, partition_of(bus.scope.region))
            if {"*", account, root} & set(wanted):
                return True
        return False

    # -- rules ----------------------------------------------------------------------------

    def put_rule(self, ctx: RequestContext, req: Json) -> Json:
        bus = self._bus(ctx, req.get("EventBusName"))
        if bus.scope.account != ctx.account_id:
            raise errors.AccessDeniedException("Rules can only be put on your own event buses.")
        pattern = req.get("EventPattern")
        schedule = req.get("ScheduleExpression")
        if not pattern and not schedule:
            raise errors.ValidationException(
                "Parameter(s) EventPattern or ScheduleExpression must be specified."
            )
        if pattern:
            self._check_pattern(pattern)
        if schedule:
            if bus.name != DEFAULT_BUS:
                raise errors.ValidationException(
                    "ScheduleExpression is supported only on the default event bus."
                )
            try:
                schedules.parse(schedule)
            except schedules.ScheduleError:
                raise errors.ValidationException(
                    "Parameter ScheduleExpression is not valid."
                ) from None
        existing = self.model.rule(bus.scope, bus.name, req["Name"])
        doc = {k: req[k] for k in ("Description", "RoleArn") if req.get(k) is not None}
        now = clock.now()
        rule = Rule(
            bus.scope,
            bus.name,
            req["Name"],
            pattern or None,
            schedule or None,
            req.get("State") or (existing.state if existing else "ENABLED"),
            now,
            None,
            {**doc, "CreatedBy": ctx.account_id},
        )
        if existing is not None and existing.schedule == rule.schedule and existing.enabled:
            rule.anchor = existing.anchor
        rule.next_fire = self._first_fire(rule, now)
        tags = req.get("Tags") or []
        if tags:
            self._set_tags(rule.arn, tags)
        self.model.put_rule(rule)
        self._bus_rules.clear()
        return {"RuleArn": rule.arn}

    @staticmethod
    def _first_fire(rule: Rule, now: float) -> float | None:
        if rule.schedule is None or not rule.enabled:
            return None
        return _next(schedules.parse(rule.schedule), now, rule.anchor)

    def _rule_out(self, rule: Rule) -> Json:
        out: Json = {"Name": rule.name, "Arn": rule.arn}
        if rule.pattern:
            out["EventPattern"] = rule.pattern
        if rule.schedule:
            out["ScheduleExpression"] = rule.schedule
        out["State"] = rule.state
        for key in ("Description", "RoleArn", "ManagedBy"):
            if rule.doc.get(key):
                out[key] = rule.doc[key]
        out["EventBusName"] = rule.bus
        return out

    def describe_rule(self, ctx: RequestContext, req: Json) -> Json:
        rule = self._rule(ctx, req["Name"], req.get("EventBusName"))
        return {**self._rule_out(rule), "CreatedBy": rule.doc.get("CreatedBy", ctx.account_id)}

    def list_rules(self, ctx: RequestContext, req: Json) -> Json:
        bus = self._bus(ctx, req.get("EventBusName"))
        rules = self.model.rules(bus.scope, bus.name, req.get("NamePrefix") or "")
        page, token = self._page(rules, req, key=lambda r: r.name)
        out: Json = {"Rules": [self._rule_out(r) for r in page]}
        if token:
            out["NextToken"] = token
        return out

    def delete_rule(self, ctx: RequestContext, req: Json) -> Json:
        bus = self._bus(ctx, req.get("EventBusName"))
        rule = self.model.rule(bus.scope, bus.name, req["Name"])
        if rule is None:
            return {}
        if self.model.targets(rule):
            raise errors.ValidationException("Rule can't be deleted since it has targets.")
        self.env.tags.drop(rule.arn)
        self.model.delete_rule(rule)
        self._bus_rules.clear()
        return {}

    def _set_state(self, ctx: RequestContext, req: Json, state: str) -> Json:
        rule = self._rule(ctx, req["Name"], req.get("EventBusName"))
        if rule.state != state:
            now = clock.now()
            rule.state = state
            rule.anchor = now
            rule.next_fire = self._first_fire(rule, now)
            self.model.put_rule(rule)
            self._bus_rules.clear()
        return {}

    def enable_rule(self, ctx: RequestContext, req: Json) -> Json:
        return self._set_state(ctx, req, "ENABLED")

    def disable_rule(self, ctx: RequestContext, req: Json) -> Json:
        return self._set_state(ctx, req, "DISABLED")

    # -- targets --------------------------------------------------------------------------

    def put_targets(self, ctx: RequestContext, req: Json) -> Json:
        rule = self._rule(ctx, req["Rule"], req.get("EventBusName"))
        existing = {t["Id"]: t for t in self.model.targets(rule)}
        targets = req["Targets"]
        if len({*existing, *(t["Id"] for t in targets)}) > MAX_TARGETS_PER_RULE:
            raise errors.LimitExceededException(
                "The requested resource exceeds the maximum number allowed."
            )
        failed: list[Json] = []
        for target in targets:
            problem = self._target_problem(target)
            if problem:
                failed.append(
                    {
                        "TargetId": target["Id"],
                        "ErrorCode": "ValidationException",
                        "ErrorMessage": problem,
                    }
                )
                continue
            self.model.put_target(rule, target)
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    @staticmethod
    def _target_problem(target: Json) -> str | None:
        target_id = target["Id"]
        arn = target["Arn"]
        try:
            parsed = parse_arn(arn)
        except ValueError:
            return f"Parameter {arn} is not valid."
        given = [k for k in ("Input", "InputPath", "InputTransformer") if target.get(k)]
        if len(given) > 1:
            raise errors.ValidationException(
                f"Only one of Input, InputPath, or InputTransformer can be provided for target "
                f"{target_id}."
            )
        if target.get("Input"):
            try:
                json.loads(target["Input"])
            except ValueError:
                raise errors.ValidationException(
                    f"Input for target {target_id} is not valid JSON text."
                ) from None
        if target.get("InputPath"):
            try:
                transform.check_path(target["InputPath"])
            except transform.TransformError:
                raise errors.ValidationException(
                    f"InputPath for target {target_id} is invalid."
                ) from None
        transformer = target.get("InputTransformer")
        if transformer:
            try:
                transform.check_transformer(
                    transformer.get("InputPathsMap") or {},
                    transformer["InputTemplate"],
                    target_id,
                )
            except transform.TransformError as exc:
                raise errors.ValidationException(str(exc)) from None
        fifo_queue = parsed.service == "sqs" and parsed.resource.endswith(".fifo")
        if fifo_queue and not (target.get("SqsParameters") or {}).get("MessageGroupId"):
            raise errors.ValidationException(
                f"Parameter(s) SqsParameters must be specified for target: {target_id}."
            )
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dlq and (arn_service(dlq) != "sqs" or dlq.endswith(".fifo")):
            raise errors.ValidationException(
                f"Parameter DeadLetterConfig.Arn is not valid for target {target_id}: a "
                "standard SQS queue ARN is required."
            )
        return None

    def remove_targets(self, ctx: RequestContext, req: Json) -> Json:
        rule = self._rule(ctx, req["Rule"], req.get("EventBusName"))
        for target_id in req["Ids"]:
            self.model.remove_target(rule, target_id)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def list_targets_by_rule(self, ctx: RequestContext, req: Json) -> Json:
        rule = self._rule(ctx, req["Rule"], req.get("EventBusName"))
        page, token = self._page(self.model.targets(rule), req, key=lambda t: t["Id"])
        out: Json = {"Targets": page}
        if token:
            out["NextToken"] = token
        return out

    def list_rule_names_by_target(self, ctx: RequestContext, req: Json) -> Json:
        bus = self._bus(ctx, req.get("EventBusName"))
        names = self.model.rules_by_target(bus.scope, bus.name, req["TargetArn"])
        page, token = self._page(names, req, key=lambda n: n)
        out: Json = {"RuleNames": page}
        if token:
            out["NextToken"] = token
        return out

    # -- events ---------------------------------------------------------------------------

    def test_event_pattern(self, ctx: RequestContext, req: Json) -> Json:
        self._check_pattern(req["EventPattern"])
        try:
            event = json.loads(req["Event"])
        except ValueError:
            raise errors.ValidationException("Parameter Event is not valid.") from None
        required = ("id", "account", "source", "time", "region", "detail-type")
        if not isinstance(event, dict) or any(k not in event for k in required):
            raise errors.ValidationException("Parameter Event is not valid.")
        return {"Result": self._pattern(req["EventPattern"]).matches(event)}

    def put_events(self, ctx: RequestContext, req: Json) -> Json:
        entries = req["Entries"]
        if sum(_entry_size(e) for e in entries) > MAX_ENTRIES_SIZE:
            raise errors.ValidationException(
                "Total size of the entries in the request is over the limit."
            )
        results: list[Json] = []
        for entry in entries:
            try:
                results.append({"EventId": self._put_entry(ctx, entry)})
            except _EntryError as failed:
                results.append({"ErrorCode": failed.code, "ErrorMessage": failed.message})
        failed_count = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed_count, "Entries": results}

    def _put_entry(self, ctx: RequestContext, entry: Json) -> str:
        for field, name in (("Source", "Source"), ("DetailType", "DetailType")):
            if not entry.get(field):
                raise _EntryError(
                    "InvalidArgument",
                    f"Parameter {name} is not valid. Reason: {name} is a required argument.",
                )
        if entry.get("Detail") is None:
            raise _EntryError(
                "InvalidArgument",
                "Parameter Detail is not valid. Reason: Detail is a required argument.",
            )
        try:
            detail = json.loads(entry["Detail"])
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            raise _EntryError("MalformedDetail", "Detail is malformed.")
        if entry["Source"].startswith("aws.") and ctx.protocol != "internal":
            raise _EntryError("NotAuthorizedForSourceException", "Not authorized for the source.")
        scope, name = self._locate_bus(ctx, entry.get("EventBusName"))
        bus = self._ensure_default(scope) if name == DEFAULT_BUS else self.model.bus(scope, name)
        if bus is None:
            # AWS accepts an event for a bus that does not exist (an EventId, no error) and
            # drops it: clients see exactly that.
            return str(uuid.uuid4())
        if not self._allows(bus, ctx.account_id):
            raise _EntryError(
                "AccessDeniedException",
                f"User: {ctx.principal.arn} is not authorized to perform: "
                f"events:PutEvents on resource: {bus.arn}",
            )
        at = to_datetime(entry["Time"]).timestamp() if entry.get("Time") else clock.now()
        event = envelope(
            Scope(ctx.account_id, bus.scope.region),
            entry["Source"],
            entry["DetailType"],
            detail,
            list(entry.get("Resources") or []),
            at,
        )
        self._route(bus.scope, bus.name, event)
        return str(event["id"])

    # -- routing --------------------------------------------------------------------------

    def _route(
        self,
        scope: Scope,
        bus: str,
        event: Json,
        archive: bool = True,
        only: set[str] | None = None,
    ) -> None:
        if archive:
            self._archive(scope.bus_arn(bus), event)
        matched_any = False
        for rule in self._pattern_rules(scope, bus):
            if only is not None and rule.arn not in only:
                continue
            try:
                matched = self._pattern(rule.pattern or "").matches(event)
            except patterns.PatternError:
                continue
            if matched:
                matched_any = True
                self._deliver_rule(rule, event)
        if matched_any:
            self._count(scope, "MatchedEvents", {})

    def _pattern_rules(self, scope: Scope, bus: str) -> list[Rule]:
        key = (scope.account, scope.region, bus)
        found = self._bus_rules.get(key)
        if found is None:
            if len(self._bus_rules) > 10_000:
                self._bus_rules.clear()
            found = self._bus_rules[key] = self.model.pattern_rules(scope, bus)
        return found

    def _count(self, scope: Scope, name: str, dimensions: dict[str, str]) -> None:
        self.env.metrics.publish(
            Datapoint(scope.account, scope.region, "AWS/Events", name, 1.0, "Count", dimensions)
        )

    @staticmethod
    def _dimensions(rule: Rule) -> dict[str, str]:
        if rule.bus == DEFAULT_BUS:
            return {"RuleName": rule.name}
        return {"EventBusName": rule.bus, "RuleName": rule.name}

    def _deliver_rule(self, rule: Rule, event: Json) -> None:
        dimensions = self._dimensions(rule)
        self._count(rule.scope, "TriggeredRules", dimensions)
        for target in self.model.targets(rule):
            self.targets.deliver(
                Delivery(
                    account=rule.scope.account,
                    region=rule.scope.region,
                    target=target,
                    payload=transform.payload(target, event, rule.name, rule.arn),
                    dlq_body=json.dumps(event),
                    dlq_attributes={"RULE_ARN": rule.arn},
                    event=event,
                    dedup_id=str(event["id"]),
                    dimensions=dimensions,
                )
            )

    def _forward(self, delivery: Delivery, bus_arn: str) -> None:
        """A rule's event bus target: the same event arrives on the other bus."""
        found = parse_arn(bus_arn)
        scope, name = Scope(found.account, found.region), found.resource.split("/", 1)[1]
        bus = self._ensure_default(scope) if name == DEFAULT_BUS else self.model.bus(scope, name)
        if bus is None:
            raise DeliveryFailed(
                "ResourceNotFoundException", f"Event bus {name} does not exist.", False
            )
        if not self._allows(bus, delivery.account):
            raise DeliveryFailed(
                "AccessDeniedException", f"Not authorized to put events on {bus_arn}.", False
            )
        if self._hops >= MAX_HOPS or delivery.event is None:
            return
        self._hops += 1
        try:
            self._route(scope, name, delivery.event)
        finally:
            self._hops -= 1

    # -- archives and replays -------------------------------------------------------------

    def _archive(self, bus_arn: str, event: Json) -> None:
        for row in self.model.archives_of(bus_arn):
            if row["pattern"] and not self._pattern(row["pattern"]).matches(event):
                continue
            self.store.insert(
                "INSERT INTO events_archived (account, region, archive, at, received, event) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    row["account"],
                    row["region"],
                    row["name"],
                    _event_time(event),
                    clock.now(),
                    json.dumps(event),
                ),
            )

    def _archive_row(self, ctx: RequestContext, name: str) -> Any:
        row = self.model.archive(self._scope(ctx), name)
        if row is None:
            raise errors.ResourceNotFoundException(f"Archive {name} does not exist.")
        return row

    def create_archive(self, ctx: RequestContext, req: Json) -> Json:
        scope = self._scope(ctx)
        name = req["ArchiveName"]
        if self.model.archive(scope, name) is not None:
            raise errors.ResourceAlreadyExistsException(f"Archive {name} already exists.")
        bus = self._bus(ctx, req["EventSourceArn"])
        if req.get("EventPattern"):
            self._check_pattern(req["EventPattern"])
        now = clock.now()
        self.store.execute(
            "INSERT INTO events_archives (account, region, name, source_arn, pattern, state, "
            "retention, created, description) VALUES (?, ?, ?, ?, ?, 'ENABLED', ?, ?, ?)",
            (
                scope.account,
                scope.region,
                name,
                bus.arn,
                req.get("EventPattern") or None,
                req.get("RetentionDays") or 0,
                now,
                req.get("Description") or "",
            ),
        )
        return {"ArchiveArn": scope.archive_arn(name), "State": "ENABLED", "CreationTime": now}

    def _archive_out(self, row: Any, full: bool) -> Json:
        scope = Scope(row["account"], row["region"])
        count, size = self.model.archive_stats(scope, row["name"])
        out: Json = {"ArchiveName": row["name"], "EventSourceArn": row["source_arn"]}
        if full:
            out["ArchiveArn"] = scope.archive_arn(row["name"])
            if row["description"]:
                out["Description"] = row["description"]
            if row["pattern"]:
                out["EventPattern"] = row["pattern"]
        out.update(
            {
                "State": row["state"],
                "RetentionDays": row["retention"],
                "SizeBytes": size,
                "EventCount": count,
                "CreationTime": row["created"],
            }
        )
        return out

    def describe_archive(self, ctx: RequestContext, req: Json) -> Json:
        return self._archive_out(self._archive_row(ctx, req["ArchiveName"]), full=True)

    def list_archives(self, ctx: RequestContext, req: Json) -> Json:
        rows = [
            r
            for r in self.model.archives(self._scope(ctx))
            if r["name"].startswith(req.get("NamePrefix") or "")
            and (not req.get("EventSourceArn") or r["source_arn"] == req["EventSourceArn"])
            and (not req.get("State") or r["state"] == req["State"])
        ]
        page, token = self._page(rows, req, key=lambda r: r["name"])
        out: Json = {"Archives": [self._archive_out(r, full=False) for r in page]}
        if token:
            out["NextToken"] = token
        return out

    def update_archive(self, ctx: RequestContext, req: Json) -> Json:
        row = self._archive_row(ctx, req["ArchiveName"])
        if req.get("EventPattern"):
            self._check_pattern(req["EventPattern"])
        self.store.execute(
            "UPDATE events_archives SET pattern = ?, retention = ?, description = ? "
            "WHERE account = ? AND region = ? AND name = ?",
            (
                req.get("EventPattern") or row["pattern"],
                req["RetentionDays"] if req.get("RetentionDays") is not None else row["retention"],
                req["Description"] if req.get("Description") is not None else row["description"],
                row["account"],
                row["region"],
                row["name"],
            ),
        )
        return {
            "ArchiveArn": Scope(row["account"], row["region"]).archive_arn(row["name"]),
            "State": row["state"],
            "CreationTime": row["created"],
        }

    def delete_archive(self, ctx: RequestContext, req: Json) -> Json:
        row = self._archive_row(ctx, req["ArchiveName"])
        key = (row["account"], row["region"], row["name"])
        self.store.execute(
            "DELETE FROM events_archived WHERE account = ? AND region = ? AND archive = ?", key
        )
        self.store.execute(
            "DELETE FROM events_archives WHERE account = ? AND region = ? AND name = ?", key
        )
        return {}

    def start_replay(self, ctx: RequestContext, req: Json) -> Json:
        scope = self._scope(ctx)
        name = req["ReplayName"]
        if self.model.replay(scope, name) is not None:
            raise errors.ResourceAlreadyExistsException(f"Replay {name} already exists.")
        archive_name = req["EventSourceArn"].rsplit("/", 1)[-1]
        archive = self._archive_row(ctx, archive_name)
        start = to_datetime(req["EventStartTime"]).timestamp()
        end = to_datetime(req["EventEndTime"]).timestamp()
        if start >= end:
            raise errors.ValidationException(
                "Parameter EventStartTime is not valid. Reason: EventStartTime must be before "
                "EventEndTime."
            )
        if end > clock.now():
            raise errors.ValidationException(
                "Parameter EventEndTime is not valid. Reason: EventEndTime must be before the "
                "current time."
            )
        destination = req["Destination"]
        if destination["Arn"] != archive["source_arn"]:
            raise errors.ValidationException(
                "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not "
                "permitted."
            )
        now = clock.now()
        doc: Json = {
            "ReplayName": name,
            "ReplayArn": scope.replay_arn(name),
            "EventSourceArn": req["EventSourceArn"],
            "Destination": destination,
            "State": "STARTING",
            "EventStartTime": start,
            "EventEndTime": end,
            "ReplayStartTime": now,
            "Archive": archive_name,
        }
        if req.get("Description"):
            doc["Description"] = req["Description"]
        self.model.put_replay(scope, name, now, doc)
        self.env.scheduler.poke()
        return {
            "ReplayArn": doc["ReplayArn"],
            "State": "STARTING",
            "ReplayStartTime": now,
        }

    def _run_replays(self) -> None:
        rows = self.store.query(
            "SELECT account, region, doc FROM events_replays "
            "WHERE json_extract(doc, '$.State') IN ('STARTING', 'CANCELLING')"
        )
        for row in rows:
            scope = Scope(row["account"], row["region"])
            doc = json.loads(row["doc"])
            if doc["State"] == "CANCELLING":
                doc["State"] = "CANCELLED"
            else:
                self._replay(scope, doc)
            doc["ReplayEndTime"] = clock.now()
            self.model.put_replay(scope, doc["ReplayName"], doc["ReplayStartTime"], doc)

    def _replay(self, scope: Scope, doc: Json) -> None:
        bus_arn = doc["Destination"]["Arn"]
        found = parse_arn(bus_arn)
        bus_scope, bus = Scope(found.account, found.region), found.resource.split("/", 1)[1]
        only = set(doc["Destination"].get("FilterArns") or []) or None
        last = None
        for row in self.model.archived(
            scope, doc["Archive"], doc["EventStartTime"], doc["EventEndTime"]
        ):
            event = {**json.loads(row["event"]), "replay-name": doc["ReplayName"]}
            self._route(bus_scope, bus, event, archive=False, only=only)
            last = row["at"]
        if last is not None:
            doc["EventLastReplayedTime"] = last
        doc["State"] = "COMPLETED"

    def _replay_doc(self, ctx: RequestContext, name: str) -> Json:
        doc = self.model.replay(self._scope(ctx), name)
        if doc is None:
            raise errors.ResourceNotFoundException(f"Replay {name} does not exist.")
        return doc

    @staticmethod
    def _replay_out(doc: Json, full: bool) -> Json:
        keys = [
            "ReplayName",
            "EventSourceArn",
            "State",
            "StateReason",
            "EventStartTime",
            "EventEndTime",
            "EventLastReplayedTime",
            "ReplayStartTime",
            "ReplayEndTime",
        ]
        if full:
            keys += ["ReplayArn", "Description", "Destination"]
        return {k: doc[k] for k in keys if doc.get(k) is not None}

    def describe_replay(self, ctx: RequestContext, req: Json) -> Json:
        return self._replay_out(self._replay_doc(ctx, req["ReplayName"]), full=True)

    def list_replays(self, ctx: RequestContext, req: Json) -> Json:
        docs = [
            d
            for d in self.model.replays(self._scope(ctx))
            if d["ReplayName"].startswith(req.get("NamePrefix") or "")
            and (not req.get("State") or d["State"] == req["State"])
            and (not req.get("EventSourceArn") or d["EventSourceArn"] == req["EventSourceArn"])
        ]
        page, token = self._page(docs, req, key=lambda d: d["ReplayName"])
        out: Json = {"Replays": [self._replay_out(d, full=False) for d in page]}
        if token:
            out["NextToken"] = token
        return out

    def cancel_replay(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._replay_doc(ctx, req["ReplayName"])
        if doc["State"] not in ("STARTING", "RUNNING"):
            raise errors.IllegalStatusException(
                f"Replay {req['ReplayName']} is not in a valid state for this operation."
            )
        doc["State"] = "CANCELLING"
        self.model.put_replay(self._scope(ctx), doc["ReplayName"], doc["ReplayStartTime"], doc)
        return {"ReplayArn": doc["ReplayArn"], "State": "CANCELLING"}

    # -- tags -----------------------------------------------------------------------------

    def _tagged(self, ctx: RequestContext, resource_arn: str) -> str:
        try:
            found = parse_arn(resource_arn)
        except ValueError:
            raise errors.ValidationException(f"Invalid ARN {resource_arn}.") from None
        scope = Scope(found.account, found.region)
        kind, _, path = found.resource.partition("/")
        exists = False
        if kind == "event-bus":
            exists = path == DEFAULT_BUS or self.model.bus(scope, path) is not None
        elif kind == "rule":
            bus, _, name = path.rpartition("/")
            exists = self.model.rule(scope, bus or DEFAULT_BUS, name) is not None
        if not exists or found.account != ctx.account_id:
            raise errors.ResourceNotFoundException(f"Resource {resource_arn} does not exist.")
        return resource_arn

    def _set_tags(self, resource_arn: str, tags: list[Json]) -> None:
        self.env.tags.add(resource_arn, from_list(tags), errors.ValidationException)

    def tag_resource(self, ctx: RequestContext, req: Json) -> Json:
        self._set_tags(self._tagged(ctx, req["ResourceARN"]), req["Tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, req: Json) -> Json:
        self.env.tags.remove(self._tagged(ctx, req["ResourceARN"]), req["TagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, req: Json) -> Json:
        return {"Tags": to_list(self.env.tags.get(self._tagged(ctx, req["ResourceARN"])))}


class _EntryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _next(schedule: schedules.Schedule, after: float, anchor: float) -> float | None:
    if isinstance(schedule, schedules.Rate):
        return schedule.next_after(after, anchor)
    return schedule.next_after(after)


def _entry_size(entry: Json) -> int:
    """PutEvents entry size as AWS documents it."""
    size = 14 if entry.get("Time") else 0
    for key in ("Source", "DetailType", "Detail"):
        if entry.get(key):
            size += len(str(entry[key]).encode())
    for resource in entry.get("Resources") or []:
        size += len(resource.encode())
    return size
