"""Instance refresh: replace a group's instances a few at a time, never letting healthy,
warmed-up capacity fall under ``MinHealthyPercentage`` of the desired capacity, pausing at
checkpoints, until every instance runs the group's (possibly new, ``DesiredConfiguration``)
launch template or configuration; cancel stops it, rollback brings the old one back the same
way."""

from __future__ import annotations

import math
import uuid

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.services.autoscaling.errors import errors
from nubes.services.autoscaling.groups import GroupParts
from nubes.services.autoscaling.models import Json, stamp

ACTIVE = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")
DEFAULTS: Json = {
    "MinHealthyPercentage": 90,
    "MaxHealthyPercentage": 100,
    "CheckpointDelay": 3600,
    "SkipMatching": False,
    "AutoRollback": False,
    "ScaleInProtectedInstances": "Ignore",
    "StandbyInstances": "Ignore",
}
CONFIG_KEYS = ("LaunchTemplate", "MixedInstancesPolicy", "LaunchConfigurationName")
HISTORY = 50


class InstanceRefreshes(GroupParts):
    # -- the API --------------------------------------------------------------------------

    def start_instance_refresh(self, ctx: RequestContext, req: Json) -> Json:
        group = self.group(ctx, req["AutoScalingGroupName"])
        refreshes = list(group.get("_refreshes") or [])
        if refreshes and refreshes[0]["Status"] in ACTIVE:
            raise errors.InstanceRefreshInProgressFault(
                "An Instance Refresh is already in progress and blocks the execution of this "
                "Instance Refresh."
            )
        strategy = req.get("Strategy") or "Rolling"
        if strategy != "Rolling":
            raise errors.ValidationError(f"Strategy {strategy} is not supported.")
        prefs = {**DEFAULTS, **(req.get("Preferences") or {})}
        prefs.setdefault(
            "InstanceWarmup",
            group.get("DefaultInstanceWarmup") or group.get("HealthCheckGracePeriod") or 0,
        )
        low, high = prefs["MinHealthyPercentage"], prefs["MaxHealthyPercentage"]
        if not 0 <= low <= 100 or not 100 <= high <= 200 or high - low > 100:
            raise errors.ValidationError(
                "MinHealthyPercentage must be 0-100, MaxHealthyPercentage 100-200, and they "
                "must be at most 100 apart."
            )
        if low == 100 and high == 100:
            raise errors.ValidationError(
                "MaxHealthyPercentage must be greater than 100 when MinHealthyPercentage is 100."
            )
        checkpoints = prefs.get("CheckpointPercentages") or []
        if checkpoints and (checkpoints != sorted(checkpoints) or checkpoints[-1] > 100):
            raise errors.ValidationError(
                "CheckpointPercentages must be in ascending order and at most 100."
            )
        old = {k: group[k] for k in CONFIG_KEYS if k in group}
        wanted = req.get("DesiredConfiguration") or {}
        if wanted:
            for key in CONFIG_KEYS:
                group.pop(key, None)
            group.update({k: v for k, v in wanted.items() if k in CONFIG_KEYS})
        refresh: Json = {
            "InstanceRefreshId": str(uuid.uuid4()),
            "AutoScalingGroupName": group["AutoScalingGroupName"],
            "Status": "InProgress",
            "StartTime": clock.now(),
            "PercentageComplete": 0,
            "Preferences": prefs,
            "Strategy": strategy,
            "_old": old,
            "_done": [],
        }
        if wanted:
            refresh["DesiredConfiguration"] = wanted
        self._plan(ctx.account_id, ctx.region, group, refresh)
        group["_refreshes"] = [refresh, *refreshes][:HISTORY]
        self.groups.put(ctx.account_id, ctx.region, (group["AutoScalingGroupName"],), group)
        return {"InstanceRefreshId": refresh["InstanceRefreshId"]}

    def _plan(self, account: str, region: str, group: Json, refresh: Json) -> None:
        """Which instances the refresh (or its rollback) replaces."""
        prefs = refresh["Preferences"]
        current = self.current_config(account, region, group)
        todo = []
        for m in self.members.all(account, region, group["AutoScalingGroupName"]):
            if m["LifecycleState"] == "Standby" and prefs["StandbyInstances"] == "Ignore":
                continue
            if m.get("ProtectedFromScaleIn") and prefs["ScaleInProtectedInstances"] == "Ignore":
                continue
            if m["LifecycleState"] not in ("InService", "Pending", "Pending:Wait"):
                continue
            if prefs.get("SkipMatching") and m.get("_config") == current:
                continue
            todo.append(m["InstanceId"])
        refresh["_todo"] = todo
        refresh["InstancesToUpdate"] = len(todo)
        refresh["_total"] = len(todo)

    def describe_instance_refreshes(self, ctx: RequestContext, req: Json) -> Json:
        group = self.group(ctx, req["AutoScalingGroupName"])
        ids = req.get("InstanceRefreshIds") or []
        out = []
        for refresh in group.get("_refreshes") or ():
            if ids and refresh["InstanceRefreshId"] not in ids:
                continue
            doc = {k: v for k, v in refresh.items() if not k.startswith("_")}
            doc["ProgressDetails"] = {
                "LivePoolProgress": {
                    "PercentageComplete": refresh["PercentageComplete"],
                    "InstancesToUpdate": refresh["InstancesToUpdate"],
                }
            }
            out.append(doc)
        return {"InstanceRefreshes": out}

    def _active(self, ctx: RequestContext, name: str) -> tuple[Json, Json]:
        group = self.group(ctx, name)
        refreshes = group.get("_refreshes") or []
        if not refreshes or refreshes[0]["Status"] not in ACTIVE:
            raise errors.ActiveInstanceRefreshNotFoundFault(
                "No in progress or pending Instance Refresh found for Auto Scaling group " + name
            )
        return group, refreshes[0]

    def cancel_instance_refresh(self, ctx: RequestContext, req: Json) -> Json:
        group, refresh = self._active(ctx, req["AutoScalingGroupName"])
        refresh.update(
            Status="Cancelled",
            EndTime=clock.now(),
            StatusReason="The instance refresh was cancelled by a user request.",
        )
        self.groups.put(ctx.account_id, ctx.region, (group["AutoScalingGroupName"],), group)
        return {"InstanceRefreshId": refresh["InstanceRefreshId"]}

    def rollback_instance_refresh(self, ctx: RequestContext, req: Json) -> Json:
        group, refresh = self._active(ctx, req["AutoScalingGroupName"])
        if "DesiredConfiguration" not in refresh:
            raise errors.IrreversibleInstanceRefreshFault(
                "The instance refresh cannot be rolled back: it was started without a "
                "DesiredConfiguration."
            )
        self._roll_back(
            ctx.account_id,
            ctx.region,
            group,
            refresh,
            "The rollback was started by a user request.",
        )
        self.groups.put(ctx.account_id, ctx.region, (group["AutoScalingGroupName"],), group)
        return {"InstanceRefreshId": refresh["InstanceRefreshId"]}

    def _roll_back(
        self, account: str, region: str, group: Json, refresh: Json, reason: str
    ) -> None:
        for key in CONFIG_KEYS:
            group.pop(key, None)
        group.update(refresh["_old"])
        refresh.update(
            Status="RollbackInProgress",
            StatusReason=reason,
            RollbackDetails={
                "RollbackReason": reason,
                "RollbackStartTime": clock.now(),
                "PercentageCompleteOnRollback": refresh["PercentageComplete"],
                "InstancesToUpdateOnRollback": refresh["InstancesToUpdate"],
            },
        )
        refresh["Preferences"] = {**refresh["Preferences"], "SkipMatching": True}
        refresh["_checkpoint_until"] = 0
        self._plan(account, region, group, refresh)

    # -- on the clock ---------------------------------------------------------------------

    def refresh_step(self, account: str, region: str, group: Json) -> None:
        """Replace the next instances of the active refresh when healthy capacity allows."""
        refreshes = group.get("_refreshes") or []
        if not refreshes or refreshes[0]["Status"] not in ("InProgress", "RollbackInProgress"):
            return
        refresh = refreshes[0]
        now = clock.now()
        name = group["AutoScalingGroupName"]
        prefs = refresh["Preferences"]
        members = {m["InstanceId"]: m for m in self.members.all(account, region, name)}
        todo = [
            i
            for i in refresh["_todo"]
            if i in members
            and members[i]["LifecycleState"] in ("InService", "Pending", "Pending:Wait")
        ]
        done = refresh["_total"] - len(todo)
        refresh["PercentageComplete"] = (
            100 if not refresh["_total"] else math.floor(100 * done / refresh["_total"])
        )
        refresh["InstancesToUpdate"] = len(todo)
        warmup = float(prefs.get("InstanceWarmup") or 0)
        ready = [
            m
            for m in members.values()
            if m["LifecycleState"] == "InService"
            and m["HealthStatus"] == "Healthy"
            and now >= m.get("_in_service_at", now) + warmup
        ]
        counted = [
            m
            for m in members.values()
            if m["LifecycleState"] in ("InService", "Pending", "Pending:Wait")
        ]
        settled = len(ready) >= group["DesiredCapacity"] and len(counted) == len(ready)
        if not todo:
            if settled:
                final = (
                    "Successful" if refresh["Status"] == "InProgress" else ("RollbackSuccessful")
                )
                refresh.update(
                    Status=final, EndTime=now, PercentageComplete=100, InstancesToUpdate=0
                )
            self.groups.put(account, region, (name,), group)
            return
        checkpoints = [
            p
            for p in prefs.get("CheckpointPercentages") or ()
            if p <= refresh["PercentageComplete"]
        ]
        passed = refresh.get("_checkpoints_passed", 0)
        if len(checkpoints) > passed and settled:
            refresh["_checkpoints_passed"] = len(checkpoints)
            refresh["_checkpoint_until"] = now + float(prefs["CheckpointDelay"])
            refresh["StatusReason"] = (
                f"Waiting for checkpoint at {checkpoints[-1]}% to be completed."
            )
        if refresh.get("_checkpoint_until", 0) > now:
            self.groups.put(account, region, (name,), group)
            return
        refresh.pop("StatusReason", None)
        floor = math.ceil(group["DesiredCapacity"] * prefs["MinHealthyPercentage"] / 100)
        waiting = len(counted) - len(ready)
        # Instances not yet in service (or not warm) count against the room there is; with
        # nothing to give, one at a time once all are ready (MinHealthyPercentage 100).
        batch = min(max(len(ready) - floor - waiting, 0), len(todo))
        if batch == 0 and waiting == 0 and floor >= len(ready):
            batch = 1
        for instance_id in todo[:batch]:
            self.terminate_member(
                account,
                region,
                group,
                instance_id,
                f"At {stamp(now)} an instance was taken out of service in response to an "
                f"instance refresh.  At {stamp(now)} instance {instance_id} was selected for "
                "termination.",
            )
        self.groups.put(account, region, (name,), group)
