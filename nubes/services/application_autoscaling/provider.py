"""Application Auto Scaling for DynamoDB table/index capacity and Lambda provisioned
concurrency: scalable targets, step and target tracking policies (the engine EC2 Auto Scaling
uses, with the CloudWatch alarms target tracking manages), scheduled actions on the one clock,
and the scaling activities AWS words. Capacity changes go through the resource's own service."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, paginate
from nubes.services.application_autoscaling import resources
from nubes.services.application_autoscaling.errors import errors
from nubes.services.autoscaling import scaling
from nubes.services.autoscaling.models import Records, stamp
from nubes.services.base import ServiceProvider

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]

MIGRATIONS = (
    """
    CREATE TABLE aas_targets (
        account TEXT NOT NULL, region TEXT NOT NULL, ns TEXT NOT NULL, rid TEXT NOT NULL,
        dim TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (account, region, ns, rid, dim)
    ) WITHOUT ROWID;
    CREATE TABLE aas_policies (
        account TEXT NOT NULL, region TEXT NOT NULL, ns TEXT NOT NULL, rid TEXT NOT NULL,
        dim TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (account, region, ns, rid, dim, name)
    ) WITHOUT ROWID;
    CREATE TABLE aas_scheduled (
        account TEXT NOT NULL, region TEXT NOT NULL, ns TEXT NOT NULL, rid TEXT NOT NULL,
        dim TEXT NOT NULL, name TEXT NOT NULL, due REAL, doc TEXT NOT NULL,
        PRIMARY KEY (account, region, ns, rid, dim, name)
    ) WITHOUT ROWID;
    CREATE TABLE aas_activities (
        account TEXT NOT NULL, region TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL,
        start REAL NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (account, region, id)
    ) WITHOUT ROWID;
    """,
)
KEYS = ("ns", "rid", "dim")
TICK = 10.0


def _key(req: Json) -> tuple[str, str, str]:
    return req["ServiceNamespace"], req["ResourceId"], req["ScalableDimension"]


class ApplicationAutoScalingProvider(ServiceProvider):
    service = "application-autoscaling"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.targets = Records(self.store, "aas_targets", KEYS)
        self.policies = Records(self.store, "aas_policies", (*KEYS, "name"))
        self.scheduled = Records(self.store, "aas_scheduled", (*KEYS, "name"))

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        return cls.has_rows(env, "SELECT 1 FROM aas_scheduled WHERE due IS NOT NULL LIMIT 1")

    async def start(self) -> None:
        self.env.scheduler.every("application-autoscaling", TICK, self._tick)
        self.env.scheduler.on_advance(self._advanced)

    # -- scalable targets -----------------------------------------------------------------

    def _check(self, req: Json) -> None:
        namespace, resource_id, dimension = _key(req)
        if namespace not in resources.DIMENSIONS:
            raise errors.ValidationException(
                f"Unsupported service namespace {namespace} (nubes scales dynamodb and lambda)."
            )
        if dimension not in resources.DIMENSIONS[namespace]:
            raise errors.ValidationException(
                f"Unsupported scalable dimension {dimension} for service namespace {namespace}"
            )
        try:
            resources.check_id(namespace, dimension, resource_id)
        except resources.ResourceError as exc:
            raise errors.ValidationException(str(exc)) from None

    def target(self, account: str, region: str, key: tuple[str, str, str]) -> Json:
        found = self.targets.get(account, region, *key)
        if found is None:
            raise errors.ObjectNotFoundException(
                f"No scalable target registered for service namespace: {key[0]}, resource ID: "
                f"{key[1]}, scalable dimension: {key[2]}"
            )
        return found

    def register_scalable_target(self, ctx: RequestContext, req: Json) -> Json:
        self._check(req)
        key = _key(req)
        existing = self.targets.get(ctx.account_id, ctx.region, *key)
        if existing is None:
            for needed in ("MinCapacity", "MaxCapacity"):
                if req.get(needed) is None:
                    raise errors.ValidationException(
                        f"{needed} is required when registering a new scalable target."
                    )
            try:
                resources.capacity(self.env, ctx.account_id, ctx.region, key[2], key[1])
            except Exception:
                raise errors.ValidationException(f"Unable to find the resource {key[1]}.") from None
        doc: Json = dict(
            existing
            or {
                "ServiceNamespace": key[0],
                "ResourceId": key[1],
                "ScalableDimension": key[2],
                "CreationTime": clock.now(),
                "ScalableTargetARN": arn(
                    "application-autoscaling",
                    ctx.region,
                    ctx.account_id,
                    f"scalable-target/{uuid.uuid4().hex[:24]}",
                ),
                "RoleARN": arn(
                    "iam",
                    "",
                    ctx.account_id,
                    "role/aws-service-role/dynamodb.application-autoscaling.amazonaws.com/"
                    "AWSServiceRoleForApplicationAutoScaling_DynamoDBTable"
                    if key[0] == "dynamodb"
                    else "role/aws-service-role/lambda.application-autoscaling.amazonaws.com/"
                    "AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency",
                ),
                "SuspendedState": {
                    "DynamicScalingInSuspended": False,
                    "DynamicScalingOutSuspended": False,
                    "ScheduledScalingSuspended": False,
                },
            }
        )
        for field in ("MinCapacity", "MaxCapacity", "RoleARN"):
            if req.get(field) is not None:
                doc[field] = req[field]
        if req.get("SuspendedState"):
            doc["SuspendedState"] = {**doc["SuspendedState"], **req["SuspendedState"]}
        if doc["MinCapacity"] > doc["MaxCapacity"]:
            raise errors.ValidationException(
                "Minimum capacity cannot be greater than maximum capacity"
            )
        self.targets.put(ctx.account_id, ctx.region, key, doc)
        if req.get("Tags"):
            self.env.tags.set(doc["ScalableTargetARN"], req["Tags"])
        self._clamp(ctx.account_id, ctx.region, doc, "a user request to register the target")
        return {"ScalableTargetARN": doc["ScalableTargetARN"]}

    def describe_scalable_targets(self, ctx: RequestContext, req: Json) -> Json:
        docs = [
            d
            for d in self.targets.all(ctx.account_id, ctx.region, req["ServiceNamespace"])
            if (not req.get("ResourceIds") or d["ResourceId"] in req["ResourceIds"])
            and (
                not req.get("ScalableDimension")
                or d["ScalableDimension"] == req["ScalableDimension"]
            )
        ]
        return self._page(
            docs, req, "ScalableTargets", lambda d: (d["ResourceId"], d["ScalableDimension"])
        )

    def deregister_scalable_target(self, ctx: RequestContext, req: Json) -> Json:
        key = _key(req)
        doc = self.target(ctx.account_id, ctx.region, key)
        for policy in self.policies.all(ctx.account_id, ctx.region, *key):
            self._drop_alarms(ctx.account_id, ctx.region, policy)
        self.policies.delete(ctx.account_id, ctx.region, *key)
        self.scheduled.delete(ctx.account_id, ctx.region, *key)
        self.targets.delete(ctx.account_id, ctx.region, *key)
        self.env.tags.drop(doc["ScalableTargetARN"])
        return {}

    def _page(self, docs: list[Json], req: Json, field: str, key: Any) -> Json:
        try:
            page, token = paginate(docs, req.get("MaxResults") or 50, req.get("NextToken"), key)
        except (InvalidToken, TypeError):
            raise errors.InvalidNextTokenException("The next token is invalid.") from None
        return {field: page, **({"NextToken": token} if token else {})}

    # -- policies -------------------------------------------------------------------------

    def put_scaling_policy(self, ctx: RequestContext, req: Json) -> Json:
        self._check(req)
        key = _key(req)
        self.target(ctx.account_id, ctx.region, key)
        name = req["PolicyName"]
        kind = req.get("PolicyType") or "StepScaling"
        existing = self.policies.get(ctx.account_id, ctx.region, *key, name)
        if existing:
            self._drop_alarms(ctx.account_id, ctx.region, existing)
        policy_arn = (
            existing["PolicyARN"]
            if existing
            else arn(
                "autoscaling",
                ctx.region,
                ctx.account_id,
                f"scalingPolicy:{uuid.uuid4()}:resource/{key[0]}/{key[1]}:policyName/{name}",
            )
        )
        doc: Json = {
            "PolicyARN": policy_arn,
            "PolicyName": name,
            "ServiceNamespace": key[0],
            "ResourceId": key[1],
            "ScalableDimension": key[2],
            "PolicyType": kind,
            "CreationTime": existing["CreationTime"] if existing else clock.now(),
            "Alarms": [],
        }
        if kind == "StepScaling":
            config = req.get("StepScalingPolicyConfiguration")
            if not config:
                raise errors.ValidationException(
                    "StepScalingPolicyConfiguration is required for StepScaling policies."
                )
            try:
                scaling.check_steps(config.get("StepAdjustments") or [])
            except scaling.PolicyError as exc:
                raise errors.ValidationException(str(exc)) from None
            if config.get("AdjustmentType") not in scaling.ADJUSTMENT_TYPES:
                raise errors.ValidationException("AdjustmentType must be specified.")
            doc["StepScalingPolicyConfiguration"] = config
        elif kind == "TargetTrackingScaling":
            config = req.get("TargetTrackingScalingPolicyConfiguration")
            if not config:
                raise errors.ValidationException(
                    "TargetTrackingScalingPolicyConfiguration is required for "
                    "TargetTrackingScaling policies."
                )
            doc["TargetTrackingScalingPolicyConfiguration"] = config
            doc["Alarms"] = self._tracking_alarms(ctx.account_id, ctx.region, doc)
        else:
            raise errors.ValidationException(f"Unsupported policy type {kind}.")
        self.policies.put(ctx.account_id, ctx.region, (*key, name), doc, arn=policy_arn)
        return {"PolicyARN": policy_arn, "Alarms": doc["Alarms"]}

    def _tracking_alarms(self, account: str, region: str, doc: Json) -> list[Json]:
        config = doc["TargetTrackingScalingPolicyConfiguration"]
        predefined = config.get("PredefinedMetricSpecification")
        if predefined:
            kind = predefined.get("PredefinedMetricType")
            if kind not in resources.PREDEFINED:
                raise errors.ValidationException(f"Unsupported predefined metric type {kind}.")
            metric = resources.tracked_metric(kind, doc["ResourceId"])
        else:
            metric = dict(config.get("CustomizedMetricSpecification") or {})
            if not metric.get("MetricName") and not metric.get("Metrics"):
                raise errors.ValidationException(
                    "Either PredefinedMetricSpecification or CustomizedMetricSpecification "
                    "must be specified."
                )
        target = float(config["TargetValue"])
        threshold = target
        if metric.get("Namespace") == "AWS/DynamoDB":
            # Utilization of the provisioned capacity, as the per-minute sum of consumed units.
            provisioned = resources.capacity(
                self.env, account, region, doc["ScalableDimension"], doc["ResourceId"]
            )
            threshold = target / 100.0 * provisioned * 60
        made = []
        for request in scaling.tracking_alarms(
            f"TargetTracking-{doc['ResourceId']}",
            metric,
            threshold,
            doc["PolicyARN"],
            not config.get("DisableScaleIn"),
            f"Alarm for Application Auto Scaling policy {doc['PolicyName']} of "
            f"{doc['ResourceId']}.",
        ):
            self.env.providers.invoke("cloudwatch", "PutMetricAlarm", request, account, region)
            made.append(
                {
                    "AlarmName": request["AlarmName"],
                    "AlarmARN": arn("cloudwatch", region, account, f"alarm:{request['AlarmName']}"),
                }
            )
        return made

    def _drop_alarms(self, account: str, region: str, policy: Json) -> None:
        names = [a["AlarmName"] for a in policy.get("Alarms") or ()]
        if names:
            self.env.providers.invoke(
                "cloudwatch", "DeleteAlarms", {"AlarmNames": names}, account, region
            )

    def describe_scaling_policies(self, ctx: RequestContext, req: Json) -> Json:
        docs = [
            d
            for d in self.policies.all(ctx.account_id, ctx.region, req["ServiceNamespace"])
            if (not req.get("PolicyNames") or d["PolicyName"] in req["PolicyNames"])
            and (not req.get("ResourceId") or d["ResourceId"] == req["ResourceId"])
            and (
                not req.get("ScalableDimension")
                or d["ScalableDimension"] == req["ScalableDimension"]
            )
        ]
        docs = [{k: v for k, v in d.items() if not k.startswith("_")} for d in docs]
        return self._page(docs, req, "ScalingPolicies", lambda d: d["PolicyARN"])

    def delete_scaling_policy(self, ctx: RequestContext, req: Json) -> Json:
        key = _key(req)
        policy = self.policies.get(ctx.account_id, ctx.region, *key, req["PolicyName"])
        if policy is None:
            raise errors.ObjectNotFoundException(
                f"No scaling policy found for service namespace: {key[0]}, resource ID: "
                f"{key[1]}, scalable dimension: {key[2]}, policy name: {req['PolicyName']}"
            )
        self._drop_alarms(ctx.account_id, ctx.region, policy)
        self.policies.delete(ctx.account_id, ctx.region, *key, req["PolicyName"])
        return {}

    def alarm_triggered(
        self,
        account: str,
        region: str,
        policy_arn: str,
        alarm: str,
        value: float | None,
        threshold: float | None,
    ) -> None:
        """What CloudWatch calls when an alarm whose action is one of these policies goes
        into ALARM."""
        row = self.store.query_one(
            "SELECT doc FROM aas_policies WHERE account = ? AND region = ? AND arn = ?",
            (account, region, policy_arn),
        )
        if row is None:
            raise errors.ObjectNotFoundException(f"No scaling policy {policy_arn}.")
        policy = json.loads(row["doc"])
        key = (policy["ServiceNamespace"], policy["ResourceId"], policy["ScalableDimension"])
        target = self.target(account, region, key)
        current = resources.capacity(self.env, account, region, key[2], key[1])
        now = clock.now()
        if policy["PolicyType"] == "StepScaling":
            config = policy["StepScalingPolicyConfiguration"]
            breach = threshold if threshold is not None else 0.0
            step = scaling.step_for(
                config["StepAdjustments"], breach if value is None else value, breach
            )
            new = scaling.adjusted(
                current,
                config["AdjustmentType"],
                step["ScalingAdjustment"],
                config.get("MinAdjustmentMagnitude"),
            )
            if policy.get("_cool_until", 0) > now:
                return
            cooldown = float(config.get("Cooldown") or 0)
        else:
            config = policy["TargetTrackingScalingPolicyConfiguration"]
            if value is None:
                return
            utilization = value
            if policy["ServiceNamespace"] == "dynamodb":
                utilization = 100.0 * value / 60.0 / max(current, 1)
            new = scaling.target_capacity(current, utilization, float(config["TargetValue"]))
            if new < current and config.get("DisableScaleIn"):
                return
            key_cool = "_in_until" if new < current else "_out_until"
            if policy.get(key_cool, 0) > now:
                return
            cooldown = float(
                config.get("ScaleInCooldown" if new < current else "ScaleOutCooldown") or 0
            )
            policy[key_cool] = now + cooldown
        suspended = target["SuspendedState"]
        if (new > current and suspended.get("DynamicScalingOutSuspended")) or (
            new < current and suspended.get("DynamicScalingInSuspended")
        ):
            return
        new = min(max(new, target["MinCapacity"]), target["MaxCapacity"])
        if new == current:
            return
        if policy["PolicyType"] == "StepScaling":
            policy["_cool_until"] = now + cooldown
        self.policies.put(
            account, region, (*key, policy["PolicyName"]), policy, arn=policy["PolicyARN"]
        )
        self._scale(
            account,
            region,
            target,
            current,
            new,
            f"monitor alarm {alarm} in state ALARM triggered policy {policy['PolicyName']}",
        )
        if policy["PolicyType"] == "TargetTrackingScaling" and key[0] == "dynamodb":
            self._drop_alarms(account, region, policy)
            policy["Alarms"] = self._tracking_alarms(account, region, policy)
            self.policies.put(
                account, region, (*key, policy["PolicyName"]), policy, arn=policy["PolicyARN"]
            )

    # -- capacity -------------------------------------------------------------------------

    def _scale(self, account: str, region: str, target: Json, old: int, new: int, why: str) -> None:
        dimension, resource_id = target["ScalableDimension"], target["ResourceId"]
        status, message = (
            "Successful",
            "Successfully set "
            + _dimension_words(dimension)
            + (f" to {new}. Change successfully fulfilled by {target['ServiceNamespace']}."),
        )
        try:
            resources.set_capacity(self.env, account, region, dimension, resource_id, new)
        except Exception as exc:
            status = "Failed"
            message = f"Failed to set {_dimension_words(dimension)} to {new}. Reason: " + str(
                getattr(exc, "message", None) or exc
            )
        now = clock.now()
        doc = {
            "ActivityId": str(uuid.uuid4()),
            "ServiceNamespace": target["ServiceNamespace"],
            "ResourceId": resource_id,
            "ScalableDimension": dimension,
            "Description": f"Setting {_dimension_words(dimension)} to {new}.",
            "Cause": f"{why} changing the {_dimension_words(dimension)} from {old} to {new}",
            "StartTime": now,
            "EndTime": now,
            "StatusCode": status,
            "StatusMessage": message,
        }
        self.store.execute(
            "INSERT INTO aas_activities (account, region, ns, id, start, doc) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (account, region, target["ServiceNamespace"], doc["ActivityId"], now, json.dumps(doc)),
        )

    def _clamp(self, account: str, region: str, target: Json, why: str) -> None:
        current = resources.capacity(
            self.env, account, region, target["ScalableDimension"], target["ResourceId"]
        )
        wanted = min(max(current, target["MinCapacity"]), target["MaxCapacity"])
        if wanted != current:
            self._scale(account, region, target, current, wanted, why)

    def describe_scaling_activities(self, ctx: RequestContext, req: Json) -> Json:
        rows = self.store.query(
            "SELECT doc FROM aas_activities WHERE account = ? AND region = ? AND ns = ? "
            "ORDER BY start DESC, id",
            (ctx.account_id, ctx.region, req["ServiceNamespace"]),
        )
        docs = [
            d
            for d in (json.loads(r["doc"]) for r in rows)
            if (not req.get("ResourceId") or d["ResourceId"] == req["ResourceId"])
            and (
                not req.get("ScalableDimension")
                or d["ScalableDimension"] == req["ScalableDimension"]
            )
        ]
        return self._page(
            docs, req, "ScalingActivities", lambda d: (-d["StartTime"], d["ActivityId"])
        )

    # -- scheduled actions ----------------------------------------------------------------

    def put_scheduled_action(self, ctx: RequestContext, req: Json) -> Json:
        self._check(req)
        key = _key(req)
        self.target(ctx.account_id, ctx.region, key)
        name = req["ScheduledActionName"]
        existing = self.scheduled.get(ctx.account_id, ctx.region, *key, name) or {}
        expression = req.get("Schedule") or existing.get("Schedule")
        if not expression:
            raise errors.ValidationException("Schedule is required.")
        doc: Json = {
            **existing,
            "ScheduledActionName": name,
            "ScheduledActionARN": existing.get("ScheduledActionARN")
            or arn(
                "autoscaling",
                ctx.region,
                ctx.account_id,
                f"scheduledAction:{uuid.uuid4()}:resource/{key[0]}/{key[1]}:"
                f"scheduledActionName/{name}",
            ),
            "ServiceNamespace": key[0],
            "ResourceId": key[1],
            "ScalableDimension": key[2],
            "Schedule": expression,
            "CreationTime": existing.get("CreationTime") or clock.now(),
        }
        for field in ("Timezone", "ScalableTargetAction"):
            if req.get(field) is not None:
                doc[field] = req[field]
        for field in ("StartTime", "EndTime"):
            if req.get(field) is not None:
                value = req[field]
                doc[field] = value.timestamp() if hasattr(value, "timestamp") else float(value)
        try:
            due = _next(doc, clock.now())
        except ValueError as exc:
            raise errors.ValidationException(str(exc)) from None
        self.scheduled.put(ctx.account_id, ctx.region, (*key, name), doc, due=due)
        return {}

    def describe_scheduled_actions(self, ctx: RequestContext, req: Json) -> Json:
        docs = [
            d
            for d in self.scheduled.all(ctx.account_id, ctx.region, req["ServiceNamespace"])
            if (
                not req.get("ScheduledActionNames")
                or d["ScheduledActionName"] in req["ScheduledActionNames"]
            )
            and (not req.get("ResourceId") or d["ResourceId"] == req["ResourceId"])
        ]
        return self._page(docs, req, "ScheduledActions", lambda d: d["ScheduledActionARN"])

    def delete_scheduled_action(self, ctx: RequestContext, req: Json) -> Json:
        key = _key(req)
        if self.scheduled.get(ctx.account_id, ctx.region, *key, req["ScheduledActionName"]) is None:
            raise errors.ObjectNotFoundException(
                f"No scheduled action found for service namespace: {key[0]}, resource ID: "
                f"{key[1]}, scalable dimension: {key[2]}, scheduled action name: "
                f"{req['ScheduledActionName']}"
            )
        self.scheduled.delete(ctx.account_id, ctx.region, *key, req["ScheduledActionName"])
        return {}

    def _advanced(self) -> None:
        with self.store.transaction():
            self._tick()

    def _tick(self) -> None:
        now = clock.now()
        for row in self.store.query(
            "SELECT account, region, doc FROM aas_scheduled WHERE due IS NOT NULL AND due <= ? "
            "ORDER BY due",
            (now,),
        ):
            action = json.loads(row["doc"])
            account, region = row["account"], row["region"]
            key = (action["ServiceNamespace"], action["ResourceId"], action["ScalableDimension"])
            target = self.targets.get(account, region, *key)
            if target and not target["SuspendedState"].get("ScheduledScalingSuspended"):
                change = action.get("ScalableTargetAction") or {}
                for field in ("MinCapacity", "MaxCapacity"):
                    if change.get(field) is not None:
                        target[field] = change[field]
                self.targets.put(account, region, key, target)
                self._clamp(
                    account,
                    region,
                    target,
                    f"scheduled action name {action['ScheduledActionName']} was "
                    f"triggered at {stamp(now)}",
                )
            due = _next(action, now)
            if due is None:
                self.scheduled.delete(account, region, *key, action["ScheduledActionName"])
            else:
                self.scheduled.put(
                    account, region, (*key, action["ScheduledActionName"]), action, due=due
                )

    # -- tags -----------------------------------------------------------------------------

    def tag_resource(self, ctx: RequestContext, req: Json) -> Json:
        self._tagged(ctx, req["ResourceARN"])
        self.env.tags.set(req["ResourceARN"], req["Tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, req: Json) -> Json:
        self._tagged(ctx, req["ResourceARN"])
        self.env.tags.remove(req["ResourceARN"], req["TagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, req: Json) -> Json:
        self._tagged(ctx, req["ResourceARN"])
        return {"Tags": self.env.tags.get(req["ResourceARN"])}

    def _tagged(self, ctx: RequestContext, resource_arn: str) -> None:
        for doc in self.store.query(
            "SELECT doc FROM aas_targets WHERE account = ? AND region = ?",
            (ctx.account_id, ctx.region),
        ):
            if json.loads(doc["doc"])["ScalableTargetARN"] == resource_arn:
                return
        raise errors.ResourceNotFoundException(
            f"No scalable target {resource_arn}.", ResourceName=resource_arn
        )


def _dimension_words(dimension: str) -> str:
    return {
        "dynamodb:table:ReadCapacityUnits": "read capacity units",
        "dynamodb:table:WriteCapacityUnits": "write capacity units",
        "dynamodb:index:ReadCapacityUnits": "read capacity units",
        "dynamodb:index:WriteCapacityUnits": "write capacity units",
        "lambda:function:ProvisionedConcurrency": "provisioned concurrency",
    }[dimension]


def _next(action: Json, now: float) -> float | None:
    """at(...), rate(...) and cron(...) schedules (EventBridge's evaluator) in their time
    zone, between the action's start and end times."""
    from nubes.services.events.schedules import At, Rate, ScheduleError, parse

    try:
        schedule = parse(action["Schedule"], action.get("Timezone"), allow_at=True)
    except ScheduleError:
        raise ValueError(f"Invalid schedule expression: {action['Schedule']}") from None
    start, end = action.get("StartTime"), action.get("EndTime")
    if isinstance(schedule, At):
        due = schedule.next_after(now)
    elif isinstance(schedule, Rate):
        due = schedule.next_after(now, start if start is not None else action["CreationTime"])
    else:
        due = schedule.next_after(max(now, (start or now) - 1))
    if due is not None and end is not None and due > end:
        return None
    return due
