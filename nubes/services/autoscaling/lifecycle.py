"""Lifecycle hooks: an instance launching or terminating waits (``Pending:Wait``,
``Terminating:Wait``) until every hook of that transition is completed, or its heartbeat
timeout runs out on the one clock and the hook's default result applies. Each wait is told to
the hook's notification target (SQS queue or SNS topic) and to EventBridge."""

from __future__ import annotations

import json
import logging
import uuid

from nubes.core import clock
from nubes.core.arns import parse_arn
from nubes.core.context import RequestContext
from nubes.core.events import Event
from nubes.services.autoscaling.errors import errors
from nubes.services.autoscaling.groups import GroupParts
from nubes.services.autoscaling.models import Json, stamp

log = logging.getLogger("nubes.autoscaling")

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
DETAIL_TYPES = {
    LAUNCHING: "EC2 Instance-launch Lifecycle Action",
    TERMINATING: "EC2 Instance-terminate Lifecycle Action",
}
DEFAULT_HEARTBEAT = 3600
MAX_GLOBAL = 172_800
"""A wait lasts at most 48 hours (or 100 heartbeat timeouts, whichever is less)."""


class LifecycleHooks(GroupParts):
    # -- the API --------------------------------------------------------------------------

    def put_lifecycle_hook(self, ctx: RequestContext, req: Json) -> Json:
        group = self.group(ctx, req["AutoScalingGroupName"])
        hooks = dict(group.get("_hooks") or {})
        name = req["LifecycleHookName"]
        existing = hooks.get(name) or {}
        transition = req.get("LifecycleTransition") or existing.get("LifecycleTransition")
        if transition not in (LAUNCHING, TERMINATING):
            raise errors.ValidationError(
                f"Invalid Lifecycle Transition. Valid values are {LAUNCHING} and {TERMINATING}"
                if transition
                else "LifecycleTransition must be specified when creating a lifecycle hook."
            )
        if name not in hooks and len(hooks) >= 50:
            raise errors.LimitExceededFault("Maximum number of lifecycle hooks reached (50).")
        heartbeat = int(
            req.get("HeartbeatTimeout") or existing.get("HeartbeatTimeout") or DEFAULT_HEARTBEAT
        )
        if not 30 <= heartbeat <= 7200:
            raise errors.ValidationError("Heartbeat timeout must be between 30 and 7200 seconds.")
        result = req.get("DefaultResult") or existing.get("DefaultResult") or "ABANDON"
        if result not in ("CONTINUE", "ABANDON"):
            raise errors.ValidationError("DefaultResult must be CONTINUE or ABANDON.")
        hook: Json = {
            "LifecycleHookName": name,
            "AutoScalingGroupName": group["AutoScalingGroupName"],
            "LifecycleTransition": transition,
            "HeartbeatTimeout": heartbeat,
            "GlobalTimeout": min(100 * heartbeat, MAX_GLOBAL),
            "DefaultResult": result,
        }
        for key in ("NotificationTargetARN", "RoleARN", "NotificationMetadata"):
            value = req.get(key, existing.get(key))
            if value:
                hook[key] = value
        hooks[name] = hook
        group["_hooks"] = hooks
        self.groups.put(ctx.account_id, ctx.region, (group["AutoScalingGroupName"],), group)
        if hook.get("NotificationTargetARN") and not existing:
            self._tell(
                ctx.account_id,
                ctx.region,
                hook,
                {
                    "AccountId": ctx.account_id,
                    "RequestId": str(uuid.uuid4()),
                    "AutoScalingGroupARN": group["AutoScalingGroupARN"],
                    "AutoScalingGroupName": group["AutoScalingGroupName"],
                    "Service": "AWS Auto Scaling",
                    "Event": "autoscaling:TEST_NOTIFICATION",
                    "Time": stamp(clock.now()),
                },
            )
        return {}

    def describe_lifecycle_hooks(self, ctx: RequestContext, req: Json) -> Json:
        group = self.group(ctx, req["AutoScalingGroupName"])
        names = req.get("LifecycleHookNames") or []
        hooks = [
            h for n, h in sorted((group.get("_hooks") or {}).items()) if not names or n in names
        ]
        return {"LifecycleHooks": hooks}

    def delete_lifecycle_hook(self, ctx: RequestContext, req: Json) -> Json:
        group = self.group(ctx, req["AutoScalingGroupName"])
        hooks = dict(group.get("_hooks") or {})
        if hooks.pop(req["LifecycleHookName"], None) is None:
            raise errors.ValidationError(
                f"No Lifecycle Hook found with name {req['LifecycleHookName']} for group "
                f"{group['AutoScalingGroupName']}"
            )
        group["_hooks"] = hooks
        self.groups.put(ctx.account_id, ctx.region, (group["AutoScalingGroupName"],), group)
        return {}

    def describe_lifecycle_hook_types(self, ctx: RequestContext, req: Json) -> Json:
        return {"LifecycleHookTypes": [LAUNCHING, TERMINATING]}

    def _waiting(self, ctx: RequestContext, req: Json) -> tuple[Json, Json, Json]:
        group = self.group(ctx, req["AutoScalingGroupName"])
        name = req["LifecycleHookName"]
        token = req.get("LifecycleActionToken")
        instance_id = req.get("InstanceId")
        if not token and not instance_id:
            raise errors.ValidationError(
                "Either LifecycleActionToken or InstanceId must be specified."
            )
        for m in self.members.all(ctx.account_id, ctx.region, group["AutoScalingGroupName"]):
            action = (m.get("_waits") or {}).get(name)
            if action is None or action.get("result"):
                continue
            if (token and action["token"] == token) or (
                not token and m["InstanceId"] == instance_id
            ):
                return group, m, action
        raise errors.ValidationError(
            "No active Lifecycle Action found with "
            + (f"token {token}" if token else f"instance ID {instance_id}")
        )

    def complete_lifecycle_action(self, ctx: RequestContext, req: Json) -> Json:
        result = req["LifecycleActionResult"]
        if result not in ("CONTINUE", "ABANDON"):
            raise errors.ValidationError("LifecycleActionResult must be CONTINUE or ABANDON.")
        group, m, action = self._waiting(ctx, req)
        action["result"] = result
        self.members.put(
            ctx.account_id, ctx.region, (group["AutoScalingGroupName"], m["InstanceId"]), m
        )
        self.hooks_advanced(ctx.account_id, ctx.region, group)
        return {}

    def record_lifecycle_action_heartbeat(self, ctx: RequestContext, req: Json) -> Json:
        group, m, action = self._waiting(ctx, req)
        hook = (group.get("_hooks") or {}).get(req["LifecycleHookName"]) or {}
        action["deadline"] = min(
            clock.now() + float(hook.get("HeartbeatTimeout") or DEFAULT_HEARTBEAT),
            action["global"],
        )
        self.members.put(
            ctx.account_id, ctx.region, (group["AutoScalingGroupName"], m["InstanceId"]), m
        )
        return {}

    def hooks_advanced(self, account: str, region: str, group: Json) -> None:
        """A wait may be over: the group looks at its instances now."""
        raise NotImplementedError

    # -- waits ----------------------------------------------------------------------------

    def begin_wait(self, account: str, region: str, group: Json, m: Json, transition: str) -> bool:
        """Put the instance in the transition's wait state when the group has hooks for it
        (True), telling each hook's target; False when there is nothing to wait for."""
        hooks = [
            h
            for h in (group.get("_hooks") or {}).values()
            if h["LifecycleTransition"] == transition
        ]
        if not hooks:
            return False
        now = clock.now()
        waits = {}
        for hook in hooks:
            token = str(uuid.uuid4())
            waits[hook["LifecycleHookName"]] = {
                "token": token,
                "deadline": now + float(hook["HeartbeatTimeout"]),
                "global": now + float(hook["GlobalTimeout"]),
                "default": hook["DefaultResult"],
            }
            message: Json = {
                "Origin": "EC2" if transition == LAUNCHING else "AutoScalingGroup",
                "Destination": "AutoScalingGroup" if transition == LAUNCHING else "EC2",
                "Service": "AWS Auto Scaling",
                "Time": stamp(now),
                "AccountId": account,
                "LifecycleTransition": transition,
                "RequestId": str(uuid.uuid4()),
                "LifecycleActionToken": token,
                "EC2InstanceId": m["InstanceId"],
                "LifecycleHookName": hook["LifecycleHookName"],
                "AutoScalingGroupName": group["AutoScalingGroupName"],
            }
            if hook.get("NotificationMetadata"):
                message["NotificationMetadata"] = hook["NotificationMetadata"]
            self._tell(account, region, hook, message)
            detail = {
                k: v
                for k, v in message.items()
                if k not in ("Service", "Time", "AccountId", "RequestId")
            }
            self.env.events.emit(
                Event(
                    account,
                    region,
                    "aws.autoscaling",
                    DETAIL_TYPES[transition],
                    detail,
                    (group["AutoScalingGroupARN"],),
                )
            )
        m["_waits"] = waits
        m["LifecycleState"] = "Pending:Wait" if transition == LAUNCHING else "Terminating:Wait"
        return True

    @staticmethod
    def wait_result(m: Json, now: float) -> str | None:
        """CONTINUE or ABANDON once every hook has its result (given, or its default after a
        timeout); None while any is still waiting."""
        results = []
        for action in (m.get("_waits") or {}).values():
            result = action.get("result")
            if result is None and now >= min(action["deadline"], action["global"]):
                result = action["result"] = action["default"]
            if result is None:
                return None
            results.append(result)
        return "ABANDON" if "ABANDON" in results else "CONTINUE"

    def _tell(self, account: str, region: str, hook: Json, message: Json) -> None:
        target = hook.get("NotificationTargetARN")
        if not target:
            return
        try:
            service = parse_arn(target).service
            body = json.dumps(message)
            if service == "sqs":
                url = self.env.providers.invoke(
                    "sqs",
                    "GetQueueUrl",
                    {
                        "QueueName": target.rsplit(":", 1)[1],
                        "QueueOwnerAWSAccountId": target.split(":")[4],
                    },
                    account,
                    region,
                )["QueueUrl"]
                self.env.providers.invoke(
                    "sqs", "SendMessage", {"QueueUrl": url, "MessageBody": body}, account, region
                )
            elif service == "sns":
                self.env.providers.invoke(
                    "sns",
                    "Publish",
                    {
                        "TopicArn": target,
                        "Message": body,
                        "Subject": f"Auto Scaling:  Lifecycle action "
                        f"'{message.get('LifecycleTransition', 'TEST')}'",
                    },
                    account,
                    region,
                )
        except Exception as exc:
            log.info("lifecycle notification to %s: %s", target, exc)
