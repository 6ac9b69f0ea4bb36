"""Warm pools: instances launched ahead of need and kept stopped (or running, or hibernated)
beside the group, so a scale-out starts one of them instead of launching from nothing; the
pool holds enough to reach the group's prepared capacity, at least its own minimum."""

from __future__ import annotations

import logging

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.services.autoscaling.errors import errors
from nubes.services.autoscaling.groups import GroupParts
from nubes.services.autoscaling.models import Json, stamp

log = logging.getLogger("nubes.autoscaling")

POOL_STATES = {
    "Stopped": "Warmed:Stopped",
    "Running": "Warmed:Running",
    "Hibernated": "Warmed:Hibernated",
}


class WarmPools(GroupParts):
    # -- the API --------------------------------------------------------------------------

    def put_warm_pool(self, ctx: RequestContext, req: Json) -> Json:
        group = self.group(ctx, req["AutoScalingGroupName"])
        state = req.get("PoolState") or "Stopped"
        if state not in POOL_STATES:
            raise errors.ValidationError(f"Invalid PoolState {state}.")
        config: Json = {"MinSize": req.get("MinSize") or 0, "PoolState": state}
        if req.get("MaxGroupPreparedCapacity") is not None:
            prepared = req["MaxGroupPreparedCapacity"]
            if prepared != -1 and prepared < group["DesiredCapacity"]:
                raise errors.ValidationError(
                    "MaxGroupPreparedCapacity must be at least the group's desired capacity."
                )
            config["MaxGroupPreparedCapacity"] = prepared
        if req.get("InstanceReusePolicy"):
            config["InstanceReusePolicy"] = req["InstanceReusePolicy"]
        group["WarmPoolConfiguration"] = config
        self.groups.put(ctx.account_id, ctx.region, (group["AutoScalingGroupName"],), group)
        return {}

    def describe_warm_pool(self, ctx: RequestContext, req: Json) -> Json:
        group = self.group(ctx, req["AutoScalingGroupName"])
        warm = [
            {k: v for k, v in m.items() if not k.startswith("_")}
            for m in self.members.all(ctx.account_id, ctx.region, group["AutoScalingGroupName"])
            if m["LifecycleState"].startswith("Warmed:")
        ]
        out: Json = {"Instances": warm}
        if group.get("WarmPoolConfiguration"):
            out["WarmPoolConfiguration"] = group["WarmPoolConfiguration"]
        return out

    def delete_warm_pool(self, ctx: RequestContext, req: Json) -> Json:
        group = self.group(ctx, req["AutoScalingGroupName"])
        if not group.get("WarmPoolConfiguration"):
            raise errors.ValidationError(
                f"No warm pool found for Auto Scaling group {group['AutoScalingGroupName']}."
            )
        warm = [
            m
            for m in self.members.all(ctx.account_id, ctx.region, group["AutoScalingGroupName"])
            if m["LifecycleState"].startswith("Warmed:")
        ]
        if warm and not req.get("ForceDelete"):
            group["WarmPoolConfiguration"] = {
                **group["WarmPoolConfiguration"],
                "Status": "PendingDelete",
            }
        else:
            group.pop("WarmPoolConfiguration", None)
        self.groups.put(ctx.account_id, ctx.region, (group["AutoScalingGroupName"],), group)
        for m in warm:
            self.terminate_member(
                ctx.account_id,
                ctx.region,
                group,
                m["InstanceId"],
                f"At {stamp(clock.now())} an instance was taken out of the warm pool in "
                "response to a user request to delete the warm pool.",
                hooks=False,
            )
        return {}

    # -- on the clock ---------------------------------------------------------------------

    def _wanted(self, group: Json) -> int:
        config = group.get("WarmPoolConfiguration")
        if not config or config.get("Status") == "PendingDelete":
            return 0
        prepared = config.get("MaxGroupPreparedCapacity")
        if prepared is None or prepared == -1:
            prepared = group["MaxSize"]
        return max(int(config.get("MinSize") or 0), prepared - group["DesiredCapacity"])

    def keep_warm(self, account: str, region: str, group: Json, found: dict[str, Json]) -> None:
        """Warm instances settle into the pool's state; the pool is filled to its size."""
        name = group["AutoScalingGroupName"]
        config = group.get("WarmPoolConfiguration") or {}
        warm = [
            m
            for m in self.members.all(account, region, name)
            if m["LifecycleState"].startswith("Warmed:")
        ]
        target = POOL_STATES.get(config.get("PoolState") or "Stopped", "Warmed:Stopped")
        for m in warm:
            inst = found.get(m["InstanceId"])
            if inst is None or m["LifecycleState"] != "Warmed:Pending":
                continue
            state = inst["State"]["Name"]
            if state == "running" and target == "Warmed:Running":
                m["LifecycleState"] = target
            elif state == "running":
                self._ec2(account, region, "StopInstances", m["InstanceId"])
            elif state == "stopped":
                m["LifecycleState"] = target
            else:
                continue
            if m["LifecycleState"] != "Warmed:Pending" and m.get("_activity"):
                self.activities.finish(account, region, m.pop("_activity"))
            self.members.put(account, region, (name, m["InstanceId"]), m)
        if config.get("Status") == "PendingDelete" and not warm:
            group.pop("WarmPoolConfiguration", None)
            self.groups.put(account, region, (name,), group)
            return
        wanted = self._wanted(group)
        have = len(warm)
        while have < wanted:
            if not self._launch(account, region, group, have, wanted, warm=True):
                break
            have += 1

    def take_warm(self, account: str, region: str, group: Json, have: int, desired: int) -> bool:
        """Bring a warm instance into the group (True), or False when the pool has none
        ready."""
        name = group["AutoScalingGroupName"]
        ready = [
            m
            for m in self.members.all(account, region, name)
            if m["LifecycleState"] in POOL_STATES.values()
        ]
        if not ready:
            return False
        m = min(ready, key=lambda m: m.get("_launched", 0.0))
        if m["LifecycleState"] != "Warmed:Running":
            self._ec2(account, region, "StartInstances", m["InstanceId"])
        now = clock.now()
        m["LifecycleState"] = "Pending"
        m["_activity"] = self.activities.add(
            account,
            region,
            group,
            f"Launching a new EC2 instance from warm pool: {m['InstanceId']}",
            f"{group.get('_cause') or ''}  At {stamp(now)} an instance was started from the "
            "warm pool in response to a difference between desired and actual capacity, "
            f"increasing the capacity from {have} to {desired}.".lstrip(),
            status="InProgress",
            details={"Availability Zone": m["AvailabilityZone"]},
        )
        self.members.put(account, region, (name, m["InstanceId"]), m)
        return True

    def _ec2(self, account: str, region: str, operation: str, instance_id: str) -> None:
        try:
            self.env.providers.invoke(
                "ec2", operation, {"InstanceIds": [instance_id]}, account, region
            )
        except Exception as exc:
            log.info("%s %s: %s", operation, instance_id, exc)
