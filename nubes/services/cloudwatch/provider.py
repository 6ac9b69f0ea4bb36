"""Amazon CloudWatch: metrics (stored, queried, with metric math), alarms evaluated on the one
clock that really act on their transitions, composite alarms, dashboards. Spoken in Smithy RPC v2
CBOR (current SDKs), JSON and query (older ones); the protocol layer picks per request.

The provider is the sink of the metrics hub (``env.metrics``): services' datapoints land in its
metric store, and its clockwork samples the hub's gauges and evaluates alarms at each boundary.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.core.events import Event
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.core.tags import from_list, to_list
from nubes.runtime.alarms import rules
from nubes.runtime.alarms.clockwork import STEP, Clockwork
from nubes.runtime.alarms.evaluate import BAND_OPERATORS, OPERATORS, aws_time
from nubes.runtime.alarms.metricstore import MetricStore, canonical_dims
from nubes.runtime.alarms.query import Reader
from nubes.runtime.alarms.stats import STANDARD, parse_extended
from nubes.services.base import ServiceProvider
from nubes.services.cloudwatch.actions import (
    ActionFailed,
    Change,
    change_from,
    change_record,
    event_detail,
    run_action,
)
from nubes.services.cloudwatch.errors import combination, errors, invalid, missing
from nubes.services.cloudwatch.metric_ops import MetricOps, timestamp, validate_queries
from nubes.services.cloudwatch.storage import (
    COMPOSITE,
    METRIC,
    MIGRATIONS,
    Alarm,
    Alarms,
    Dashboards,
    alarm_arn,
    dashboard_arn,
)

if TYPE_CHECKING:
    from nubes.app import Environment

log = logging.getLogger("nubes.cloudwatch")

Json = dict[str, Any]
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
ACTION_KEYS = {
    "OK": "OKActions",
    "ALARM": "AlarmActions",
    "INSUFFICIENT_DATA": "InsufficientDataActions",
}
TREATMENTS = ("breaching", "notBreaching", "ignore", "missing")
ALARM_PERIODS = (10, 20, 30)
DASHBOARD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
ACTION_SERVICES = ("sns", "lambda", "autoscaling", "automate", "ssm", "ssm-incidents", "swf")
INITIAL_REASON = "Unchecked: Initial alarm creation"
MAX_COMPOSITE_DEPTH = 10
METRIC_KEYS = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)
COMPOSITE_KEYS = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "AlarmRule",
    "ActionsSuppressor",
    "ActionsSuppressorWaitPeriod",
    "ActionsSuppressorExtensionPeriod",
)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class CloudWatchProvider(MetricOps, ServiceProvider):
    service = "cloudwatch"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.metric_store = MetricStore(self.store)
        self.reader = Reader(self.metric_store)
        self.alarms = Alarms(self.store)
        self.dashboards = Dashboards(self.store)
        self.clockwork = Clockwork(self.reader, env.metrics, self.store_datapoints)
        env.metrics.attach(self)
        # Evaluation starts from the boundary reached when CloudWatch first ran (or from where
        # it stopped, so a restart catches up on the time it was down).
        with self.store.transaction():
            if self.alarms.last_boundary() is None:
                self.alarms.set_last_boundary(math.floor(clock.now() / STEP) * STEP)

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        """Alarms must keep being evaluated (and act) from server start, requests or not."""
        try:
            return env.state.store.query_one("SELECT 1 FROM cw_alarms LIMIT 1") is not None
        except sqlite3.OperationalError:
            return False

    async def start(self) -> None:
        self.env.scheduler.every("cloudwatch-alarms", float(STEP), self._tick)
        self.env.scheduler.every("cloudwatch-retention", 3600.0, self._retention)
        self.env.scheduler.on_advance(self._advanced)

    def reset(self) -> None:
        self.metric_store.forget()
        self.env.metrics.reset()

    # -- the clock --------------------------------------------------------------------------------

    def _advanced(self) -> None:
        with self.store.transaction():
            self._tick()

    def _retention(self) -> None:
        now = clock.now()
        self.metric_store.roll_up(now)
        self.alarms.expire_history(now)

    def _tick(self) -> None:
        now = clock.now()
        last = self.alarms.last_boundary()
        if last is None:
            last = math.floor(now / STEP) * STEP
        alarms = self.alarms.all()
        reached, transitions = self.clockwork.catch_up(last, now, alarms)
        touched: set[tuple[str, str]] = set()
        moved: set[tuple[str, str, str]] = set()
        boundary = None
        for t in transitions:
            if boundary is not None and t.boundary != boundary:
                self._composites(touched, boundary)
                touched = set()
            boundary = t.boundary
            current = self.alarms.get(t.alarm.account, t.alarm.region, t.alarm.name)
            if current is None or current.state == t.decision.state:
                continue
            self._transition(
                current,
                t.decision.state,
                t.decision.reason,
                json.dumps(t.decision.reason_data, separators=(",", ":")),
                t.boundary,
            )
            touched.add((current.account, current.region))
            moved.add((current.account, current.region, current.name))
        if boundary is not None:
            self._composites(touched, boundary)
        self._release_waiting(now)
        if reached != last:
            self.alarms.set_last_boundary(reached)
            if reached // 60 > last // 60:
                self._repeat_scaling(moved, reached)

    # -- transitions ------------------------------------------------------------------------------

    def _transition(
        self, alarm: Alarm, state: str, reason: str, reason_data: str | None, when: float
    ) -> None:
        change = Change(
            Alarm(**vars(alarm)),
            alarm.state,
            alarm.reason,
            alarm.reason_data,
            alarm.state_updated,
            when,
        )
        old = alarm.state
        alarm.state, alarm.reason, alarm.reason_data = state, reason, reason_data
        alarm.state_updated = alarm.state_transitioned = when
        if old == "ALARM":
            alarm.left_alarm = when
        suppressed = self._suppression(alarm, when) if alarm.kind == COMPOSITE else None
        alarm.suppressed_by, alarm.suppressed_reason = suppressed or (None, None)
        change.alarm = alarm
        self.alarms.save(alarm)
        new_state: Json = {"stateValue": state, "stateReason": reason}
        if reason_data:
            new_state["stateReasonData"] = json.loads(reason_data)
        old_state: Json = {"stateValue": old, "stateReason": change.old_reason}
        self.alarms.add_history(
            alarm,
            when,
            "StateUpdate",
            f"Alarm updated from {old} to {state}",
            {"version": "1.0", "oldState": old_state, "newState": new_state},
        )
        self.env.events.emit(
            Event(
                alarm.account,
                alarm.region,
                "aws.cloudwatch",
                "CloudWatch Alarm State Change",
                event_detail(change),
                (alarm.arn,),
                when,
            )
        )
        if suppressed is not None and suppressed[0] == "WaitPeriod":
            wait = float(alarm.config.get("ActionsSuppressorWaitPeriod") or 0)
            self.alarms.defer(alarm, state, when + wait, change_record(change))
            return
        if not alarm.config.get("ActionsEnabled", True) or suppressed:
            return
        self._act(alarm, change, when)

    def _repeat_scaling(self, moved: set[tuple[str, str, str]], when: float) -> None:
        """AWS invokes an alarm's Auto Scaling actions once a minute for as long as the alarm
        stays in the state (other actions only on a change of state)."""
        for alarm in self.alarms.all():
            if (alarm.account, alarm.region, alarm.name) in moved:
                continue
            if not alarm.config.get("ActionsEnabled", True) or alarm.kind == COMPOSITE:
                continue
            scaling = [
                arn
                for arn in alarm.config.get(ACTION_KEYS[alarm.state]) or ()
                if arn.split(":")[2:3] == ["autoscaling"]
            ]
            if not scaling:
                continue
            change = Change(
                alarm, alarm.state, alarm.reason, alarm.reason_data, alarm.state_updated, when
            )
            for arn in scaling:
                try:
                    run_action(self.env, arn, change)
                except ActionFailed as exc:
                    log.debug("alarm %s: repeated action %s: %s", alarm.name, arn, exc)

    def _act(self, alarm: Alarm, change: Change, when: float) -> None:
        for arn in alarm.config.get(ACTION_KEYS[alarm.state]) or ():
            stamp = aws_time(when)
            try:
                done = run_action(self.env, arn, change)
            except ActionFailed as exc:
                self.alarms.add_history(
                    alarm,
                    when,
                    "Action",
                    f'Failed to execute action {arn}. Received error: "{exc}"',
                    {"actionState": "Failed", "stateUpdateTimestamp": stamp, "error": str(exc)},
                )
                continue
            self.alarms.add_history(
                alarm,
                when,
                "Action",
                f"Successfully executed action {arn}",
                {"actionState": "Succeeded", "stateUpdateTimestamp": stamp, **done},
            )

    def _suppression(self, alarm: Alarm, when: float) -> tuple[str, str] | None:
        name = alarm.config.get("ActionsSuppressor")
        if not name:
            return None
        suppressor = self._find(alarm.account, alarm.region, name)
        if suppressor is None:
            return None
        if suppressor.state == "ALARM":
            return "Alarm", f"Alarm {suppressor.name} is in ALARM state."
        extension = float(alarm.config.get("ActionsSuppressorExtensionPeriod") or 0)
        if suppressor.left_alarm is not None and when - suppressor.left_alarm < extension:
            return (
                "ExtensionPeriod",
                f"Alarm {suppressor.name} left ALARM less than {extension:g} seconds ago.",
            )
        if float(alarm.config.get("ActionsSuppressorWaitPeriod") or 0) > 0:
            return (
                "WaitPeriod",
                f"Actions wait for alarm {suppressor.name} to go into ALARM state.",
            )
        return None

    def _release_waiting(self, now: float) -> None:
        """Composite alarms whose actions wait on their suppressor: suppressed when it went into
        ALARM meanwhile, run once the wait period is over (at its end, as AWS would)."""
        for pending in self.alarms.waiting():
            alarm = self.alarms.get(pending["account"], pending["region"], pending["name"])
            if alarm is None or alarm.state != pending["state"]:
                self.alarms.undefer(pending["account"], pending["region"], pending["name"])
                continue
            suppressor = self._find(alarm.account, alarm.region, alarm.config["ActionsSuppressor"])
            entered = suppressor is not None and (
                (suppressor.state == "ALARM" and suppressor.state_transitioned <= pending["due"])
                or (suppressor.left_alarm or 0) > alarm.state_transitioned
            )
            if entered:
                assert suppressor is not None
                alarm.suppressed_by = "Alarm"
                alarm.suppressed_reason = f"Alarm {suppressor.name} went into ALARM state."
            elif pending["due"] > now:
                continue
            else:
                alarm.suppressed_by = alarm.suppressed_reason = None
                if alarm.config.get("ActionsEnabled", True):
                    change = change_from(alarm, json.loads(pending["change"]))
                    self._act(alarm, change, pending["due"])
            self.alarms.save(alarm)
            self.alarms.undefer(alarm.account, alarm.region, alarm.name)

    def _find(self, account: str, region: str, ref: str) -> Alarm | None:
        name = ref.split(":alarm:", 1)[1] if ref.startswith("arn:") and ":alarm:" in ref else ref
        return self.alarms.get(account, region, name)

    def _composites(self, regions: set[tuple[str, str]], when: float) -> None:
        for _ in range(MAX_COMPOSITE_DEPTH):
            changed = False
            for account, region in regions:
                for alarm in self.alarms.in_region(account, region):
                    if alarm.kind == COMPOSITE:
                        changed = self._evaluate_composite(alarm, when) or changed
            if not changed:
                return

    def _evaluate_composite(self, alarm: Alarm, when: float) -> bool:
        try:
            rule = rules.parse(alarm.config["AlarmRule"])
        except rules.RuleError:
            return False
        children: dict[str, Alarm] = {}
        for ref in rules.referenced(rule):
            found = self._find(alarm.account, alarm.region, ref)
            if found is not None:
                children[ref] = found
        holds = rules.holds(rule, lambda ref: children[ref].state if ref in children else None)
        state = "ALARM" if holds else "OK"
        if state == alarm.state:
            return False
        trigger = max(children.values(), key=lambda a: a.state_updated, default=None)
        if trigger is not None:
            reason = (
                f"{trigger.arn} transitioned to {trigger.state} at "
                f"{_dt(trigger.state_updated).strftime('%A %d %B, %Y %H:%M:%S UTC')}"
            )
            data = {
                "triggeringAlarms": [
                    {
                        "arn": trigger.arn,
                        "state": {
                            "value": trigger.state,
                            "timestamp": aws_time(trigger.state_updated),
                        },
                    }
                ]
            }
        else:
            reason, data = "The alarm rule evaluated without any alarm.", {"triggeringAlarms": []}
        self._transition(alarm, state, reason, json.dumps(data, separators=(",", ":")), when)
        return True

    # -- alarms -----------------------------------------------------------------------------------

    def put_metric_alarm(self, ctx: RequestContext, params: Json) -> Json:
        config = {k: params[k] for k in METRIC_KEYS if params.get(k) is not None}
        self._check_actions(config)
        self._check_metric_alarm(config)
        config.setdefault("ActionsEnabled", True)
        config.setdefault("Dimensions", [])
        if config.get("Dimensions"):
            config["Dimensions"] = [
                {"Name": k, "Value": v}
                for k, v in canonical_dims((d["Name"], d["Value"]) for d in config["Dimensions"])
            ]
        self._save_alarm(ctx, METRIC, config, params.get("Tags"))
        return {}

    def put_composite_alarm(self, ctx: RequestContext, params: Json) -> Json:
        config = {k: params[k] for k in COMPOSITE_KEYS if params.get(k) is not None}
        self._check_actions(config)
        config.setdefault("ActionsEnabled", True)
        try:
            rule = rules.parse(config["AlarmRule"])
        except rules.RuleError as exc:
            raise errors.ValidationError(str(exc)) from None
        absent = [
            ref
            for ref in rules.referenced(rule)
            if self._find(ctx.account_id, ctx.region, ref) is None
        ]
        if absent:
            raise errors.ValidationError(
                f"Could not save the composite alarm as alarms [{', '.join(absent)}] in the alarm "
                "rule do not exist"
            )
        if config["AlarmName"] in {
            r.split(":alarm:", 1)[-1] for r in rules.referenced(rule)
        } or self._cycles(ctx, config["AlarmName"], rule):
            raise errors.ValidationError(
                "The composite alarm rule would create a cycle of alarms referencing each other."
            )
        alarm = self._save_alarm(ctx, COMPOSITE, config, params.get("Tags"))
        self._evaluate_composite(alarm, clock.now())
        self._composites({(ctx.account_id, ctx.region)}, clock.now())
        return {}

    def _cycles(self, ctx: RequestContext, name: str, rule: rules.Rule) -> bool:
        seen: set[str] = set()
        stack = list(rules.referenced(rule))
        while stack:
            found = self._find(ctx.account_id, ctx.region, stack.pop())
            if found is None or found.kind != COMPOSITE or found.name in seen:
                continue
            if found.name == name:
                return True
            seen.add(found.name)
            try:
                stack.extend(rules.referenced(rules.parse(found.config["AlarmRule"])))
            except rules.RuleError:
                continue
        return False

    def _save_alarm(
        self, ctx: RequestContext, kind: str, config: Json, tags: list[Json] | None
    ) -> Alarm:
        now = clock.now()
        name = config["AlarmName"]
        existing = self.alarms.get(ctx.account_id, ctx.region, name)
        if existing is not None and existing.kind != kind:
            raise errors.ValidationError(
                f"The alarm {name} already exists as a "
                f"{'metric' if existing.kind == METRIC else 'composite'} alarm."
            )
        if existing is None:
            alarm = Alarm(
                ctx.account_id,
                ctx.region,
                name,
                kind,
                config,
                "INSUFFICIENT_DATA",
                INITIAL_REASON,
                None,
                now,
                now,
                now,
            )
            if tags:
                self.env.tags.add(alarm.arn, from_list(tags), invalid)
            self.alarms.save(alarm)
            self.alarms.add_history(
                alarm,
                now,
                "ConfigurationUpdate",
                f'Alarm "{name}" created',
                {"version": "1.0", "type": "Create", "createdAlarm": self._history_view(alarm)},
            )
            return alarm
        before = self._history_view(existing)
        existing.config = config
        existing.config_updated = now
        self.alarms.save(existing)
        self.alarms.add_history(
            existing,
            now,
            "ConfigurationUpdate",
            f'Alarm "{name}" updated',
            {
                "version": "1.0",
                "type": "Update",
                "originalAlarm": before,
                "updatedAlarm": self._history_view(existing),
            },
        )
        return existing

    def _check_actions(self, config: Json) -> None:
        for key in ACTION_KEYS.values():
            for arn in config.get(key) or ():
                parts = arn.split(":")
                if len(parts) < 6 or parts[0] != "arn" or parts[2] not in ACTION_SERVICES:
                    raise errors.ValidationError(f"Invalid arn syntax: {arn}")

    def _check_metric_alarm(self, config: Json) -> None:
        op = config.get("ComparisonOperator")
        if op is None:
            raise missing("The parameter ComparisonOperator is required.")
        if op not in OPERATORS:
            raise invalid(f"The value {op} for parameter ComparisonOperator is invalid.")
        if "EvaluationPeriods" not in config:
            raise missing("The parameter EvaluationPeriods is required.")
        n = int(config["EvaluationPeriods"])
        m = config.get("DatapointsToAlarm")
        if m is not None and not 1 <= m <= n:
            raise invalid(
                "DatapointsToAlarm must be greater than 0 and less than or equal to "
                "EvaluationPeriods."
            )
        treat = config.get("TreatMissingData")
        if treat is not None and treat not in TREATMENTS:
            raise invalid(
                f"The value {treat} for parameter TreatMissingData is invalid. Valid values are "
                "breaching, notBreaching, ignore, missing."
            )
        low_count = config.get("EvaluateLowSampleCountPercentile")
        if low_count is not None and low_count not in ("evaluate", "ignore"):
            raise invalid(
                f"The value {low_count} for parameter EvaluateLowSampleCountPercentile is invalid."
            )
        single: list[str] = [
            k
            for k in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Period", "Unit")
            if k in config
        ]
        if config.get("Dimensions"):
            single.append("Dimensions")
        if "Metrics" in config:
            if single:
                raise combination(
                    "The parameters MetricName, Namespace, Statistic, ExtendedStatistic, "
                    "Dimensions, Period and Unit must not be used with the Metrics parameter."
                )
            queries = config["Metrics"]
            threshold_id = config.get("ThresholdMetricId")
            validate_queries(
                [q for q in queries if q["Id"] != threshold_id] if threshold_id else queries,
                "Metrics",
                alarm=True,
            )
            if threshold_id:
                validate_queries(queries, "Metrics")
                if threshold_id not in {q["Id"] for q in queries}:
                    raise invalid(f"ThresholdMetricId {threshold_id} is not in the Metrics list.")
            periods = {int(q["MetricStat"]["Period"]) for q in queries if "MetricStat" in q}
            for p in periods:
                self._check_alarm_period(p, n)
        else:
            if "MetricName" not in config or "Namespace" not in config:
                raise missing(
                    "The parameters MetricName and Namespace are required when Metrics is not used."
                )
            stat, ext = config.get("Statistic"), config.get("ExtendedStatistic")
            if stat and ext:
                raise combination(
                    "The parameters Statistic and ExtendedStatistic are mutually exclusive and "
                    "you have specified both."
                )
            if not stat and not ext:
                raise missing(
                    "One of the parameters Statistic or ExtendedStatistic must be specified."
                )
            if stat and stat not in STANDARD:
                raise invalid(f"The value {stat} for parameter Statistic is invalid.")
            if ext and parse_extended(ext) is None:
                raise invalid(f"The value {ext} for parameter ExtendedStatistic is not supported.")
            if low_count is not None and not (ext and ext.lower().startswith("p")):
                raise combination(
                    "EvaluateLowSampleCountPercentile can only be used with a percentile "
                    "ExtendedStatistic."
                )
            if "Period" not in config:
                raise missing("The parameter Period is required.")
            self._check_alarm_period(int(config["Period"]), n)
        if op in BAND_OPERATORS:
            if not config.get("ThresholdMetricId"):
                raise combination(f"ComparisonOperator {op} requires ThresholdMetricId.")
        elif config.get("ThresholdMetricId"):
            raise combination(f"ThresholdMetricId can not be used with ComparisonOperator {op}.")
        elif "Threshold" not in config:
            raise missing("The parameter Threshold is required.")

    @staticmethod
    def _check_alarm_period(period: int, n: int) -> None:
        if period not in ALARM_PERIODS and period % 60:
            raise invalid("The parameter Period must be 10, 20, 30 or a multiple of 60.")
        limit = 7 * 86400 if period >= 3600 else 86400
        if period * n > limit:
            raise invalid(
                "The evaluation period (EvaluationPeriods * Period) must not exceed "
                f"{limit} seconds."
            )

    def _describe(self, alarm: Alarm) -> Json:
        keys = METRIC_KEYS if alarm.kind == METRIC else COMPOSITE_KEYS
        out: Json = {k: alarm.config[k] for k in keys if k in alarm.config}
        out["AlarmArn"] = alarm.arn
        out["AlarmConfigurationUpdatedTimestamp"] = _dt(alarm.config_updated)
        out.setdefault("ActionsEnabled", True)
        for key in ACTION_KEYS.values():
            out.setdefault(key, [])
        out["StateValue"] = alarm.state
        out["StateReason"] = alarm.reason
        if alarm.reason_data:
            out["StateReasonData"] = alarm.reason_data
        out["StateUpdatedTimestamp"] = _dt(alarm.state_updated)
        out["StateTransitionedTimestamp"] = _dt(alarm.state_transitioned)
        if alarm.kind == COMPOSITE and alarm.suppressed_by:
            out["ActionsSuppressedBy"] = alarm.suppressed_by
            out["ActionsSuppressedReason"] = alarm.suppressed_reason
        return out

    def _history_view(self, alarm: Alarm) -> Json:
        """Alarm descriptions inside history data use JSON-friendly timestamps."""
        out = self._describe(alarm)
        for key in (
            "AlarmConfigurationUpdatedTimestamp",
            "StateUpdatedTimestamp",
            "StateTransitionedTimestamp",
        ):
            out[key] = aws_time(out[key].timestamp())
        return out

    def describe_alarms(self, ctx: RequestContext, params: Json) -> Json:
        names = params.get("AlarmNames")
        prefix = params.get("AlarmNamePrefix")
        if names and prefix:
            raise combination("AlarmNames and AlarmNamePrefix are mutually exclusive.")
        children_of = params.get("ChildrenOfAlarmName")
        parents_of = params.get("ParentsOfAlarmName")
        types = params.get("AlarmTypes") or [METRIC]
        if (children_of or parents_of) and (
            names or prefix or params.get("StateValue") or params.get("ActionPrefix")
        ):
            raise combination(
                "ChildrenOfAlarmName and ParentsOfAlarmName can only be used with AlarmTypes, "
                "MaxRecords and NextToken."
            )
        alarms = self.alarms.in_region(ctx.account_id, ctx.region)
        if children_of:
            parent = next(
                (a for a in alarms if a.name == children_of and a.kind == COMPOSITE), None
            )
            refs = (
                set(rules.referenced(rules.parse(parent.config["AlarmRule"]))) if parent else set()
            )
            alarms = [a for a in alarms if a.name in refs or a.arn in refs]
            types = params.get("AlarmTypes") or [METRIC, COMPOSITE]
        if parents_of:
            target = alarm_arn(ctx.account_id, ctx.region, parents_of)
            alarms = [
                a
                for a in alarms
                if a.kind == COMPOSITE
                and {parents_of, target} & set(rules.referenced(rules.parse(a.config["AlarmRule"])))
            ]
            types = params.get("AlarmTypes") or [METRIC, COMPOSITE]
        alarms = [a for a in alarms if a.kind in types]
        if names:
            wanted = set(names)
            alarms = [a for a in alarms if a.name in wanted]
        if prefix:
            alarms = [a for a in alarms if a.name.startswith(prefix)]
        if params.get("StateValue"):
            alarms = [a for a in alarms if a.state == params["StateValue"]]
        if params.get("ActionPrefix"):
            ap = params["ActionPrefix"]
            alarms = [
                a
                for a in alarms
                if any(
                    arn.startswith(ap)
                    for key in ACTION_KEYS.values()
                    for arn in a.config.get(key) or ()
                )
            ]
        page, token = self._page(alarms, params.get("MaxRecords") or 50, params.get("NextToken"))
        out: Json = {
            "MetricAlarms": [self._describe(a) for a in page if a.kind == METRIC],
            "CompositeAlarms": [self._describe(a) for a in page if a.kind == COMPOSITE],
        }
        if token:
            out["NextToken"] = token
        return out

    @staticmethod
    def _page(items: list[Any], limit: int, token: str | None) -> tuple[list[Any], str | None]:
        start = 0
        if token:
            try:
                start = int(decode_token(token)["o"])
            except (InvalidToken, KeyError, TypeError, ValueError):
                raise errors.InvalidNextToken("The service couldn't process the token.") from None
        page = items[start : start + limit]
        more = start + limit < len(items)
        return page, encode_token({"o": start + limit}) if more else None

    def describe_alarms_for_metric(self, ctx: RequestContext, params: Json) -> Json:
        dims = canonical_dims((d["Name"], d["Value"]) for d in params.get("Dimensions") or ())
        found = []
        for alarm in self.alarms.in_region(ctx.account_id, ctx.region):
            c = alarm.config
            if alarm.kind != METRIC or c.get("MetricName") != params["MetricName"]:
                continue
            if c.get("Namespace") != params["Namespace"]:
                continue
            if (
                params.get("Dimensions") is not None
                and canonical_dims((d["Name"], d["Value"]) for d in c.get("Dimensions") or ())
                != dims
            ):
                continue
            if any(
                params.get(k) is not None and c.get(k) != params[k]
                for k in ("Statistic", "ExtendedStatistic", "Period", "Unit")
            ):
                continue
            found.append(self._describe(alarm))
        return {"MetricAlarms": found}

    def describe_alarm_history(self, ctx: RequestContext, params: Json) -> Json:
        types = params.get("AlarmTypes") or [METRIC]
        kind = params.get("HistoryItemType")
        start = timestamp(params["StartDate"]) if params.get("StartDate") else None
        end = timestamp(params["EndDate"]) if params.get("EndDate") else None
        newest_first = (params.get("ScanBy") or "TimestampDescending") == "TimestampDescending"
        rows = self.alarms.history(
            ctx.account_id, ctx.region, params.get("AlarmName"), start, end, newest_first
        )
        items = [
            {
                "AlarmName": r["name"],
                "AlarmType": r["kind"],
                "Timestamp": _dt(r["ts"]),
                "HistoryItemType": r["type"],
                "HistorySummary": r["summary"],
                "HistoryData": r["data"],
            }
            for r in rows
            if r["kind"] in types and (kind is None or r["type"] == kind)
        ]
        page, token = self._page(items, params.get("MaxRecords") or 100, params.get("NextToken"))
        out: Json = {"AlarmHistoryItems": page}
        if token:
            out["NextToken"] = token
        return out

    def set_alarm_state(self, ctx: RequestContext, params: Json) -> Json:
        alarm = self.alarms.get(ctx.account_id, ctx.region, params["AlarmName"])
        if alarm is None:
            raise errors.ResourceNotFound(f"Alarm {params['AlarmName']} not found")
        state = params["StateValue"]
        data = params.get("StateReasonData")
        if data is not None:
            try:
                json.loads(data)
            except ValueError:
                raise errors.InvalidFormatFault("The StateReasonData must be valid JSON.") from None
        now = clock.now()
        if state == alarm.state:
            alarm.reason, alarm.reason_data, alarm.state_updated = params["StateReason"], data, now
            self.alarms.save(alarm)
            return {}
        self._transition(alarm, state, params["StateReason"], data, now)
        self._composites({(ctx.account_id, ctx.region)}, now)
        return {}

    def _set_actions(self, ctx: RequestContext, names: list[str], enabled: bool) -> None:
        now = clock.now()
        for name in names:
            alarm = self.alarms.get(ctx.account_id, ctx.region, name)
            if alarm is None or alarm.config.get("ActionsEnabled", True) == enabled:
                continue
            alarm.config["ActionsEnabled"] = enabled
            alarm.config_updated = now
            self.alarms.save(alarm)
            self.alarms.add_history(
                alarm,
                now,
                "ConfigurationUpdate",
                f'Alarm "{name}" updated',
                {"version": "1.0", "type": "Update", "updatedAlarm": self._history_view(alarm)},
            )

    def enable_alarm_actions(self, ctx: RequestContext, params: Json) -> Json:
        self._set_actions(ctx, params.get("AlarmNames") or [], True)
        return {}

    def disable_alarm_actions(self, ctx: RequestContext, params: Json) -> Json:
        self._set_actions(ctx, params.get("AlarmNames") or [], False)
        return {}

    def delete_alarms(self, ctx: RequestContext, params: Json) -> Json:
        names = params.get("AlarmNames") or []
        found = {n: self.alarms.get(ctx.account_id, ctx.region, n) for n in names}
        absent = [n for n, a in found.items() if a is None]
        if absent:
            raise errors.ResourceNotFound(
                f"The following alarms were not found: {', '.join(absent)}"
            )
        now = clock.now()
        for alarm in found.values():
            assert alarm is not None
            self.alarms.add_history(
                alarm,
                now,
                "ConfigurationUpdate",
                f'Alarm "{alarm.name}" deleted',
                {"version": "1.0", "type": "Delete", "deletedAlarm": self._history_view(alarm)},
            )
            self.env.tags.drop(alarm.arn)
        self.alarms.delete(ctx.account_id, ctx.region, names)
        return {}

    # -- tags -------------------------------------------------------------------------------------

    def _taggable(self, ctx: RequestContext, arn: str) -> str:
        if ":alarm:" in arn:
            name = arn.split(":alarm:", 1)[1]
            if self.alarms.get(ctx.account_id, ctx.region, name) is not None and arn == alarm_arn(
                ctx.account_id, ctx.region, name
            ):
                return arn
        elif ":dashboard/" in arn:
            name = arn.split(":dashboard/", 1)[1]
            if self.dashboards.get(ctx.account_id, name) is not None:
                return arn
        raise errors.ResourceNotFoundException(f"The resource {arn} does not exist.")

    def tag_resource(self, ctx: RequestContext, params: Json) -> Json:
        arn = self._taggable(ctx, params["ResourceARN"])
        self.env.tags.add(arn, from_list(params.get("Tags") or ()), invalid)
        return {}

    def untag_resource(self, ctx: RequestContext, params: Json) -> Json:
        arn = self._taggable(ctx, params["ResourceARN"])
        self.env.tags.remove(arn, params.get("TagKeys") or ())
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, params: Json) -> Json:
        arn = self._taggable(ctx, params["ResourceARN"])
        return {"Tags": to_list(self.env.tags.get(arn))}

    # -- dashboards -------------------------------------------------------------------------------

    def put_dashboard(self, ctx: RequestContext, params: Json) -> Json:
        name = params["DashboardName"]
        if not DASHBOARD_NAME.match(name):
            raise errors.DashboardInvalidInputError(
                "The value for field DashboardName contains invalid characters. It can only "
                "contain alphanumerics, dash (-) and underscore (_).",
            )
        body = params["DashboardBody"]
        problems = _dashboard_problems(body)
        if problems:
            raise errors.DashboardInvalidInputError(
                "The input for the dashboard body is invalid.",
                dashboardValidationMessages=problems,
            )
        self.dashboards.put(ctx.account_id, name, body, clock.now())
        return {"DashboardValidationMessages": []}

    def get_dashboard(self, ctx: RequestContext, params: Json) -> Json:
        name = params["DashboardName"]
        row = self.dashboards.get(ctx.account_id, name)
        if row is None:
            raise errors.DashboardNotFoundError(f"Dashboard {name} does not exist")
        return {
            "DashboardArn": dashboard_arn(ctx.account_id, name, ctx.partition),
            "DashboardBody": row["body"],
            "DashboardName": name,
        }

    def list_dashboards(self, ctx: RequestContext, params: Json) -> Json:
        rows = self.dashboards.named(ctx.account_id, params.get("DashboardNamePrefix") or "")
        page, token = self._page(rows, 1000, params.get("NextToken"))
        out: Json = {
            "DashboardEntries": [
                {
                    "DashboardName": r["name"],
                    "DashboardArn": dashboard_arn(ctx.account_id, r["name"], ctx.partition),
                    "LastModified": _dt(r["updated"]),
                    "Size": len(r["body"].encode()),
                }
                for r in page
            ]
        }
        if token:
            out["NextToken"] = token
        return out

    def delete_dashboards(self, ctx: RequestContext, params: Json) -> Json:
        names = params.get("DashboardNames") or []
        if not names:
            raise missing("The parameter DashboardNames is required.")
        for name in names:
            if self.dashboards.get(ctx.account_id, name) is None:
                raise errors.DashboardNotFoundError(f"Dashboard {name} does not exist")
        for name in names:
            self.env.tags.drop(dashboard_arn(ctx.account_id, name, ctx.partition))
        self.dashboards.delete(ctx.account_id, names)
        return {}


def _dashboard_problems(body: str) -> list[Json]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return [{"DataPath": "", "Message": "Should be a valid JSON object"}]
    if not isinstance(parsed, dict):
        return [{"DataPath": "", "Message": "Should be object"}]
    widgets = parsed.get("widgets")
    if widgets is None:
        return [{"DataPath": "", "Message": "Should have required property 'widgets'"}]
    if not isinstance(widgets, list):
        return [{"DataPath": "/widgets", "Message": "Should be array"}]
    problems = []
    for i, w in enumerate(widgets):
        if not isinstance(w, dict):
            problems.append({"DataPath": f"/widgets/{i}", "Message": "Should be object"})
        elif "type" not in w:
            problems.append(
                {"DataPath": f"/widgets/{i}", "Message": "Should have required property 'type'"}
            )
    return problems
