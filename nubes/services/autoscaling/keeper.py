"""What a group does on its own, on the one clock: instances come in service once EC2 runs
them, unhealthy ones (status checks, stopped or terminated outside the group, failing ELB health
when the group asks for it) are replaced, capacity follows the desired capacity (launching into
the zone with the fewest instances, terminating by the termination policies), scheduled actions
fire, and scaling policies change the desired capacity. Instances are launched and ended only
through EC2's provider, load balancer targets through ELB's."""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import TYPE_CHECKING

from nubes.core import clock
from nubes.core.arns import arn
from nubes.core.events import Event
from nubes.core.metrics import Datapoint
from nubes.services import PROVIDERS
from nubes.services.autoscaling import scaling, termination
from nubes.services.autoscaling.errors import errors
from nubes.services.autoscaling.lifecycle import LAUNCHING, TERMINATING, LifecycleHooks
from nubes.services.autoscaling.models import Activities, Json, Records, stamp
from nubes.services.autoscaling.refresh import InstanceRefreshes
from nubes.services.autoscaling.schedule import next_run
from nubes.services.autoscaling.warmpool import WarmPools

if TYPE_CHECKING:
    from nubes.app import Environment

log = logging.getLogger("nubes.autoscaling")

ASG_TAG = "aws:autoscaling:groupName"
COUNTED = ("Pending", "Pending:Wait", "InService")
ENDED = ("stopping", "stopped", "shutting-down", "terminated")


class Keeper(LifecycleHooks, InstanceRefreshes, WarmPools):
    env: Environment
    TICK = 2.0
    """Seconds of clock time between two looks at every group (EC2 runs instances in real time)."""

    def setup(self) -> None:
        store = self.env.state.store
        self.configs = Records(store, "asg_launch_configs", ("name",))
        self.groups = Records(store, "asg_groups", ("name",))
        self.members = Records(store, "asg_instances", ("grp", "id"))
        self.policies = Records(store, "asg_policies", ("grp", "name"))
        self.scheduled = Records(store, "asg_scheduled", ("grp", "name"))
        self.activities = Activities(store)
        self.env.metrics.collector(self._group_metrics)

    # -- the clock ------------------------------------------------------------------------

    def advanced(self) -> None:
        with self.env.state.store.transaction():
            self.tick()

    def tick(self) -> None:
        store = self.env.state.store
        for row in store.query("SELECT account, region, name FROM asg_groups"):
            try:
                with store.transaction():
                    self._scheduled_actions(row["account"], row["region"], row["name"])
                    self.keep(row["account"], row["region"], row["name"])
            except Exception:
                log.exception("auto scaling group %s", row["name"])

    def keep(self, account: str, region: str, name: str) -> None:
        group = self.groups.get(account, region, name)
        if group is None:
            return
        suspended = {p["ProcessName"] for p in group.get("SuspendedProcesses") or ()}
        members = self.members.all(account, region, name)
        found = self._instances_of(account, region, [m["InstanceId"] for m in members])
        statuses = self._statuses(
            account,
            region,
            [m["InstanceId"] for m in members if m["LifecycleState"] == "InService"],
        )
        now = clock.now()
        for m in members:
            inst = found.get(m["InstanceId"])
            state = inst["State"]["Name"] if inst else "terminated"
            if m["LifecycleState"].startswith("Warmed:"):
                continue
            if m["LifecycleState"] == "Terminating":
                if state == "terminated":
                    self._terminated(account, region, group, m)
                continue
            if m["LifecycleState"] == "Terminating:Wait":
                if self.wait_result(m, now) is not None:
                    self._end(account, region, m)
                self.members.put(account, region, (name, m["InstanceId"]), m)
                continue
            if m["LifecycleState"] == "Pending:Wait" and state not in ENDED:
                result = self.wait_result(m, now)
                self.members.put(account, region, (name, m["InstanceId"]), m)
                if result == "CONTINUE":
                    self._in_service(account, region, group, m)
                elif result == "ABANDON":
                    self.terminate_member(
                        account,
                        region,
                        group,
                        m["InstanceId"],
                        f"At {stamp(now)} an instance was taken out of service in response to "
                        "a launch lifecycle action that was abandoned.",
                        hooks=False,
                    )
                continue
            if m["LifecycleState"] in ("Pending", "Pending:Wait"):
                if state == "running":
                    if self.begin_wait(account, region, group, m, LAUNCHING):
                        self.members.put(account, region, (name, m["InstanceId"]), m)
                    else:
                        self._in_service(account, region, group, m)
                elif state in ENDED:
                    m["HealthStatus"] = "Unhealthy"
                    m["_health_cause"] = (
                        "an EC2 health check indicating it has been terminated or stopped"
                    )
                    self.members.put(account, region, (name, m["InstanceId"]), m)
                continue
            if m["LifecycleState"] != "InService" or "HealthCheck" in suspended:
                continue
            cause = self._health(account, region, group, m, state, statuses, now)
            if cause and m["HealthStatus"] == "Healthy":
                m["HealthStatus"] = "Unhealthy"
                m["_health_cause"] = cause
                self.members.put(account, region, (name, m["InstanceId"]), m)
        if "ReplaceUnhealthy" not in suspended:
            for m in self.members.all(account, region, name):
                if m["HealthStatus"] == "Unhealthy" and m["LifecycleState"] in COUNTED:
                    self.terminate_member(
                        account,
                        region,
                        group,
                        m["InstanceId"],
                        f"At {stamp(now)} an instance was taken out of service in response to "
                        f"{m.get('_health_cause') or 'a health check failure'}.",
                    )
        if "InstanceRefresh" not in suspended:
            self.refresh_step(account, region, group)
        self._converge(account, region, group, suspended)
        if not {"AZRebalance", "Launch", "Terminate"} & suspended:
            self._rebalance(account, region, group)
        if "Launch" not in suspended:
            self.keep_warm(account, region, group, found)

    def _health(
        self,
        account: str,
        region: str,
        group: Json,
        m: Json,
        state: str,
        statuses: dict[str, tuple[str, str]],
        now: float,
    ) -> str | None:
        if state in ENDED:
            return "an EC2 health check indicating it has been terminated or stopped"
        if now < m.get("_in_service_at", 0) + float(group.get("HealthCheckGracePeriod") or 0):
            return None
        system, instance = statuses.get(m["InstanceId"], ("ok", "ok"))
        if "impaired" in (system, instance):
            return "an EC2 instance status checks failure"
        if group.get("HealthCheckType") == "ELB" and self._elb_unhealthy(
            account, region, group, m["InstanceId"]
        ):
            return "an ELB system health check failure"
        return None

    def _converge(self, account: str, region: str, group: Json, suspended: set[str]) -> None:
        name = group["AutoScalingGroupName"]
        members = self._counted(self.members.all(account, region, name))
        desired = group["DesiredCapacity"]
        if len(members) < desired and "Launch" not in suspended:
            have = len(members)
            for _ in range(desired - have):
                if self.take_warm(account, region, group, have, desired):
                    continue
                if not self._launch(account, region, group, have, desired):
                    break
        elif len(members) > desired and "Terminate" not in suspended:
            if group.get("_rebalancing"):
                if any(m["LifecycleState"] != "InService" for m in members):
                    return  # the emptiest zone's new instance comes in service first
                group.pop("_rebalancing")
                self.groups.put(account, region, (name,), group)
            now = clock.now()
            current = self.current_config(account, region, group)
            have = len(members)
            while have > desired:
                candidates = [
                    termination.Candidate(
                        m["InstanceId"],
                        m["AvailabilityZone"],
                        m.get("_launched", 0.0),
                        m.get("_config", ""),
                        int(m.get("_version") or 0),
                        m.get("_config") == current,
                    )
                    for m in members
                    if not m.get("ProtectedFromScaleIn")
                ]
                victim = termination.choose(
                    candidates,
                    group.get("TerminationPolicies") or ["Default"],
                    now,
                    Counter(m["AvailabilityZone"] for m in members),
                )
                if victim is None:
                    break
                members = [m for m in members if m["InstanceId"] != victim.instance_id]
                self.terminate_member(
                    account,
                    region,
                    group,
                    victim.instance_id,
                    f"{group.get('_cause') or ''}  At {stamp(now)} an instance was taken out of "
                    "service in response to a difference between desired and actual capacity, "
                    f"shrinking the capacity from {have} to {desired}.  At {stamp(now)} instance "
                    f"{victim.instance_id} was selected for termination.".lstrip(),
                )
                have -= 1

    def _rebalance(self, account: str, region: str, group: Json) -> None:
        """Zones more than one instance apart: launch one into the emptiest zone first (the
        group goes one over its desired capacity), the next look terminates one from the
        fullest, as AWS rebalances without losing capacity."""
        members = self._counted(self.members.all(account, region, group["AutoScalingGroupName"]))
        if len(members) != group["DesiredCapacity"] or any(
            m["LifecycleState"] != "InService" for m in members
        ):
            return
        counts = Counter({z: 0 for z in group["AvailabilityZones"]})
        counts.update(m["AvailabilityZone"] for m in members if m["AvailabilityZone"] in counts)
        if not counts or max(counts.values()) - min(counts.values()) <= 1:
            return
        have = len(members)
        if self._launch(account, region, group, have, have + 1, rebalance=True):
            group["_cause"] = (
                f"At {stamp(clock.now())} an instance was launched to aid in balancing the "
                "group's zones."
            )
            group["_rebalancing"] = True
            self.groups.put(account, region, (group["AutoScalingGroupName"],), group)

    @staticmethod
    def _counted(members: list[Json]) -> list[Json]:
        return [m for m in members if m["LifecycleState"] in COUNTED]

    # -- launching ------------------------------------------------------------------------

    def _zone_for(self, account: str, region: str, group: Json) -> tuple[str, str | None]:
        """The zone with the fewest instances (and its subnet, in a VPC)."""
        members = self._counted(self.members.all(account, region, group["AutoScalingGroupName"]))
        counts = {z: 0 for z in group["AvailabilityZones"]}
        for m in members:
            if m["AvailabilityZone"] in counts:
                counts[m["AvailabilityZone"]] += 1
        zone = min(counts, key=lambda z: (counts[z], z))
        subnets = group.get("_subnets") or {}
        subnet = next((s for s, z in sorted(subnets.items()) if z == zone), None)
        return zone, subnet

    def _launch(
        self,
        account: str,
        region: str,
        group: Json,
        have: int,
        desired: int,
        warm: bool = False,
        rebalance: bool = False,
    ) -> bool:
        name = group["AutoScalingGroupName"]
        zone, subnet = self._zone_for(account, region, group)
        params = self._launch_params(account, region, group)
        params.update(MinCount=1, MaxCount=1)
        if subnet:
            params["SubnetId"] = subnet
        else:
            params["Placement"] = {**(params.get("Placement") or {}), "AvailabilityZone": zone}
        tags = [{"Key": ASG_TAG, "Value": name}] + [
            {"Key": t["Key"], "Value": t["Value"]}
            for t in group.get("Tags") or ()
            if t.get("PropagateAtLaunch")
        ]
        params["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tags}]
        now = clock.now()
        cause = (
            f"{group.get('_cause') or ''}  At {stamp(now)} an instance was started in response "
            "to a difference between desired and actual capacity, increasing the capacity from "
            f"{have} to {desired}."
        ).lstrip()
        if rebalance:
            cause = (
                f"At {stamp(now)} an instance was launched to aid in balancing the group's zones."
            )
        if warm:
            cause = (
                f"At {stamp(now)} an instance was launched into the warm pool in response to a "
                "difference between desired and actual warm pool capacity, increasing the "
                f"warm pool capacity from {have} to {desired}."
            )
        details = (
            {"Subnet ID": subnet, "Availability Zone": zone}
            if subnet
            else {"Availability Zone": zone}
        )
        try:
            out = self.env.providers.invoke("ec2", "RunInstances", params, account, region)
        except Exception as exc:
            message = getattr(exc, "message", None) or str(exc)
            self._failed_launch(account, region, group, cause, details, message)
            return False
        inst = out["Instances"][0]
        activity = self.activities.add(
            account,
            region,
            group,
            f"Launching a new EC2 instance{' into warm pool' if warm else ''}: "
            f"{inst['InstanceId']}",
            cause,
            status="InProgress",
            details=details,
        )
        self.adopt(account, region, group, inst, "Warmed:Pending" if warm else "Pending", activity)
        return True

    def _failed_launch(
        self, account: str, region: str, group: Json, cause: str, details: Json, message: str
    ) -> None:
        # One failed activity per failure streak, as AWS does not repeat it every few seconds.
        if group.get("_failing") == message:
            return
        group["_failing"] = message
        self.groups.put(account, region, (group["AutoScalingGroupName"],), group)
        activity = self.activities.add(
            account,
            region,
            group,
            "Launching a new EC2 instance.  Status Reason: " + message,
            cause,
            status="Failed",
            details=details,
            message=message,
        )
        self._notify(
            account,
            region,
            group,
            "autoscaling:EC2_INSTANCE_LAUNCH_ERROR",
            activity,
            "",
            "EC2 Instance Launch Unsuccessful",
        )

    def _launch_params(self, account: str, region: str, group: Json) -> Json:
        if group.get("LaunchConfigurationName"):
            lc = self.configs.get(account, region, group["LaunchConfigurationName"]) or {}
            params: Json = {"ImageId": lc["ImageId"], "InstanceType": lc["InstanceType"]}
            if lc.get("UserData"):
                params["UserData"] = lc["UserData"]
            if lc.get("KeyName"):
                params["KeyName"] = lc["KeyName"]
            groups = lc.get("SecurityGroups") or []
            if groups:
                key = "SecurityGroupIds" if groups[0].startswith("sg-") else "SecurityGroups"
                params[key] = groups
            params["Monitoring"] = {
                "Enabled": bool((lc.get("InstanceMonitoring") or {}).get("Enabled", True))
            }
            profile = lc.get("IamInstanceProfile")
            if profile:
                params["IamInstanceProfile"] = {
                    "Arn" if profile.startswith("arn:") else "Name": profile
                }
            for key in ("BlockDeviceMappings", "MetadataOptions"):
                if lc.get(key):
                    params[key] = lc[key]
            return params
        mixed = group.get("MixedInstancesPolicy")
        spec = group.get("LaunchTemplate") or (
            (mixed or {}).get("LaunchTemplate", {}).get("LaunchTemplateSpecification") or {}
        )
        template = {k: v for k, v in spec.items() if v}
        template.setdefault("Version", "$Default")
        params = {"LaunchTemplate": template}
        overrides = ((mixed or {}).get("LaunchTemplate") or {}).get("Overrides") or []
        types = [o["InstanceType"] for o in overrides if o.get("InstanceType")]
        if types:
            count = len(self.members.all(account, region, group["AutoScalingGroupName"]))
            params["InstanceType"] = types[count % len(types)]
        return params

    def current_config(self, account: str, region: str, group: Json) -> str:
        """What the group launches from now: ``lc:<name>`` or ``<template id>:<version>``."""
        if group.get("LaunchConfigurationName"):
            return "lc:" + group["LaunchConfigurationName"]
        mixed = group.get("MixedInstancesPolicy") or {}
        spec = group.get("LaunchTemplate") or (
            mixed.get("LaunchTemplate", {}).get("LaunchTemplateSpecification") or {}
        )
        query: Json = (
            {"LaunchTemplateIds": [spec["LaunchTemplateId"]]}
            if spec.get("LaunchTemplateId")
            else {"LaunchTemplateNames": [spec.get("LaunchTemplateName")]}
        )
        try:
            found = self.env.providers.invoke(
                "ec2", "DescribeLaunchTemplates", query, account, region
            )["LaunchTemplates"][0]
        except Exception:
            return ""
        version = spec.get("Version") or "$Default"
        if version == "$Latest":
            version = found["LatestVersionNumber"]
        elif version == "$Default":
            version = found["DefaultVersionNumber"]
        return f"{found['LaunchTemplateId']}:{version}"

    def adopt(
        self,
        account: str,
        region: str,
        group: Json,
        inst: Json,
        state: str,
        activity: str | None = None,
    ) -> None:
        """Make an EC2 instance a member of the group (just launched, or attached)."""
        tags = {t["Key"]: t["Value"] for t in inst.get("Tags") or ()}
        m: Json = {
            "InstanceId": inst["InstanceId"],
            "InstanceType": inst["InstanceType"],
            "AvailabilityZone": inst["Placement"]["AvailabilityZone"],
            "LifecycleState": state,
            "HealthStatus": "Healthy",
            "ProtectedFromScaleIn": bool(group.get("NewInstancesProtectedFromScaleIn")),
            "_launched": clock.now(),
        }
        if group.get("LaunchConfigurationName"):
            m["LaunchConfigurationName"] = group["LaunchConfigurationName"]
            m["_config"] = "lc:" + group["LaunchConfigurationName"]
        elif tags.get("aws:ec2launchtemplate:id"):
            template_id = tags["aws:ec2launchtemplate:id"]
            version = tags.get("aws:ec2launchtemplate:version", "1")
            spec = group.get("LaunchTemplate") or {}
            m["LaunchTemplate"] = {
                "LaunchTemplateId": template_id,
                "LaunchTemplateName": spec.get("LaunchTemplateName")
                or self._template_name(account, region, template_id),
                "Version": version,
            }
            m["_config"] = f"{template_id}:{version}"
            m["_version"] = int(version)
        if activity:
            m["_activity"] = activity
        if state == "InService":
            m["_in_service_at"] = clock.now()
            self._attach_to_balancers(account, region, group, [inst["InstanceId"]])
        self.members.put(account, region, (group["AutoScalingGroupName"], inst["InstanceId"]), m)

    def _template_name(self, account: str, region: str, template_id: str) -> str:
        try:
            found = self.env.providers.invoke(
                "ec2",
                "DescribeLaunchTemplates",
                {"LaunchTemplateIds": [template_id]},
                account,
                region,
            )["LaunchTemplates"]
        except Exception:
            return ""
        return str(found[0]["LaunchTemplateName"]) if found else ""

    def _in_service(self, account: str, region: str, group: Json, m: Json) -> None:
        m["LifecycleState"] = "InService"
        m["_in_service_at"] = clock.now()
        self.members.put(account, region, (group["AutoScalingGroupName"], m["InstanceId"]), m)
        self._attach_to_balancers(account, region, group, [m["InstanceId"]])
        if m.get("_activity"):
            self.activities.finish(account, region, m["_activity"])
            self._notify(
                account,
                region,
                group,
                "autoscaling:EC2_INSTANCE_LAUNCH",
                m["_activity"],
                m["InstanceId"],
                "EC2 Instance Launch Successful",
            )

    # -- terminating ----------------------------------------------------------------------

    def terminate_member(
        self,
        account: str,
        region: str,
        group: Json,
        instance_id: str,
        cause: str,
        hooks: bool = True,
    ) -> Json:
        name = group["AutoScalingGroupName"]
        m = self.members.get(account, region, name, instance_id)
        if m is None:
            raise errors.ValidationError(f"Instance {instance_id} is not part of group {name}.")
        self._detach_from_balancers(account, region, group, [instance_id])
        activity = self.activities.add(
            account,
            region,
            group,
            f"Terminating EC2 instance: {instance_id}",
            cause,
            status="InProgress",
            details={"Availability Zone": m["AvailabilityZone"]},
        )
        m["_activity"] = activity
        if not (hooks and self.begin_wait(account, region, group, m, TERMINATING)):
            self._end(account, region, m)
        self.members.put(account, region, (name, instance_id), m)
        row = self.env.state.store.query_one(
            "SELECT doc FROM asg_activities WHERE account = ? AND region = ? AND id = ?",
            (account, region, activity),
        )
        return dict(json.loads(row["doc"])) if row else {}

    def _end(self, account: str, region: str, m: Json) -> None:
        m["LifecycleState"] = "Terminating"
        try:
            self.env.providers.invoke(
                "ec2", "TerminateInstances", {"InstanceIds": [m["InstanceId"]]}, account, region
            )
        except Exception as exc:
            log.info("terminating %s: %s", m["InstanceId"], exc)

    def hooks_advanced(self, account: str, region: str, group: Json) -> None:
        self.keep(account, region, group["AutoScalingGroupName"])

    def _terminated(self, account: str, region: str, group: Json, m: Json) -> None:
        self.members.delete(account, region, group["AutoScalingGroupName"], m["InstanceId"])
        if m.get("_activity"):
            self.activities.finish(account, region, m["_activity"])
            self._notify(
                account,
                region,
                group,
                "autoscaling:EC2_INSTANCE_TERMINATE",
                m["_activity"],
                m["InstanceId"],
                "EC2 Instance Terminate Successful",
            )

    # -- EC2 and ELB ----------------------------------------------------------------------

    def _instances_of(self, account: str, region: str, ids: list[str]) -> dict[str, Json]:
        if not ids:
            return {}
        out = self.env.providers.invoke(
            "ec2",
            "DescribeInstances",
            {"Filters": [{"Name": "instance-id", "Values": ids}]},
            account,
            region,
        )
        return {i["InstanceId"]: i for r in out["Reservations"] for i in r["Instances"]}

    def _statuses(self, account: str, region: str, ids: list[str]) -> dict[str, tuple[str, str]]:
        if not ids:
            return {}
        try:
            out = self.env.providers.invoke(
                "ec2",
                "DescribeInstanceStatus",
                {"Filters": [{"Name": "instance-id", "Values": ids}]},
                account,
                region,
            )
        except Exception:
            return {}
        return {
            s["InstanceId"]: (s["SystemStatus"]["Status"], s["InstanceStatus"]["Status"])
            for s in out["InstanceStatuses"]
        }

    def _attach_to_balancers(self, account: str, region: str, group: Json, ids: list[str]) -> None:
        self._balancers(
            account, region, group, ids, "RegisterTargets", "RegisterInstancesWithLoadBalancer"
        )

    def _detach_from_balancers(
        self, account: str, region: str, group: Json, ids: list[str]
    ) -> None:
        self._balancers(
            account, region, group, ids, "DeregisterTargets", "DeregisterInstancesFromLoadBalancer"
        )

    def _balancers(
        self, account: str, region: str, group: Json, ids: list[str], v2: str, classic: str
    ) -> list[tuple[str, Json]]:
        """Calls operation ``v2`` on each of the group's target groups and ``classic`` on each
        of its Classic Load Balancers, for the instances: the (service, answer) of each call
        that succeeded."""
        calls = [
            ("elbv2", v2, {"TargetGroupArn": tg, "Targets": [{"Id": i} for i in ids]})
            for tg in group.get("TargetGroupARNs") or ()
        ] + [
            (
                "elb",
                classic,
                {"LoadBalancerName": lb, "Instances": [{"InstanceId": i} for i in ids]},
            )
            for lb in group.get("LoadBalancerNames") or ()
        ]
        answers: list[tuple[str, Json]] = []
        if not ids:
            return answers
        for service, operation, params in calls:
            if service in PROVIDERS:
                out = self._elb_call(service, operation, params, account, region)
                if out is not None:
                    answers.append((service, out))
        return answers

    def _elb_call(
        self, service: str, operation: str, params: Json, account: str, region: str
    ) -> Json | None:
        try:
            return dict(self.env.providers.invoke(service, operation, params, account, region))
        except Exception as exc:
            log.info("%s %s: %s", service, operation, exc)
            return None

    def _elb_unhealthy(self, account: str, region: str, group: Json, instance_id: str) -> bool:
        answers = self._balancers(
            account, region, group, [instance_id], "DescribeTargetHealth", "DescribeInstanceHealth"
        )
        for service, out in answers:
            if service == "elbv2" and any(
                (d.get("TargetHealth") or {}).get("State") == "unhealthy"
                for d in out.get("TargetHealthDescriptions") or ()
            ):
                return True
            if service == "elb" and any(
                s.get("State") == "OutOfService" and s.get("ReasonCode") == "Instance"
                for s in out.get("InstanceStates") or ()
            ):
                return True
        return False

    # -- policies -------------------------------------------------------------------------

    def run_policy(
        self,
        account: str,
        region: str,
        group: Json,
        policy: Json,
        req: Json,
        by_alarm: bool = False,
    ) -> None:
        name = group["AutoScalingGroupName"]
        now = clock.now()
        suspended = {p["ProcessName"] for p in group.get("SuspendedProcesses") or ()}
        if not policy.get("Enabled", True):
            raise errors.ValidationError(f"Policy {policy['PolicyName']} is disabled.")
        kind = policy["PolicyType"]
        old = group["DesiredCapacity"]
        value, threshold = req.get("MetricValue"), req.get("BreachThreshold")
        in_service = len(
            [
                m
                for m in self.members.all(account, region, name)
                if m["LifecycleState"] == "InService"
            ]
        )
        warm = policy.get("_warm") or {}
        warming = warm.get("until", 0) > now
        if kind == "SimpleScaling":
            if req.get("HonorCooldown") and group.get("_cooldown_until", 0) > now:
                raise self.in_cooldown(account, region, name)
            new = scaling.adjusted(
                old,
                policy["AdjustmentType"],
                policy["ScalingAdjustment"],
                policy.get("MinAdjustmentMagnitude"),
            )
        elif kind == "StepScaling":
            if value is None or threshold is None:
                raise errors.ValidationError(
                    "MetricValue and BreachThreshold are required for a StepScaling policy."
                )
            try:
                step = scaling.step_for(policy["StepAdjustments"], float(value), float(threshold))
            except scaling.PolicyError as exc:
                raise errors.ValidationError(str(exc)) from None
            base = warm["base"] if warming else old
            new = scaling.adjusted(
                base,
                policy["AdjustmentType"],
                step["ScalingAdjustment"],
                policy.get("MinAdjustmentMagnitude"),
            )
            if warming and old >= new >= base:
                new = old
        elif kind == "TargetTrackingScaling":
            if value is None:
                raise errors.ValidationError(
                    "MetricValue is required for a TargetTrackingScaling policy."
                )
            config = policy["TargetTrackingConfiguration"]
            capacity = in_service or old
            new = scaling.target_capacity(capacity, float(value), float(config["TargetValue"]))
            if new < old:
                if config.get("DisableScaleIn") or warming or policy.get("_in_until", 0) > now:
                    new = old
            elif warming:
                new = max(
                    old,
                    scaling.target_capacity(
                        warm["base"], float(value), float(config["TargetValue"])
                    ),
                )
        else:
            raise errors.ValidationError(f"Policy type {kind} cannot be executed.")
        new = min(max(new, group["MinSize"]), group["MaxSize"])
        triggered_by = (
            self._triggering_alarm(account, region, policy, new > old) if by_alarm else None
        )
        if new == old:
            return
        if "AlarmNotification" in suspended and by_alarm:
            return
        who = (
            f"a monitor alarm {triggered_by} in state ALARM triggered policy "
            if triggered_by
            else "a user request executed policy "
        )
        group["_cause"] = (
            f"At {stamp(now)} {who}{policy['PolicyName']} changing the desired "
            f"capacity from {old} to {new}."
        )
        group["DesiredCapacity"] = new
        if kind == "SimpleScaling":
            cooldown = policy.get("Cooldown")
            group["_cooldown_until"] = now + float(
                group["DefaultCooldown"] if cooldown is None else cooldown
            )
        elif new > old:
            warmup = (
                policy.get("EstimatedInstanceWarmup")
                or group.get("DefaultInstanceWarmup")
                or group["DefaultCooldown"]
            )
            policy["_warm"] = {
                "until": now + float(warmup),
                "base": warm.get("base", old) if warming else old,
            }
        else:
            policy["_in_until"] = now + float(group["DefaultCooldown"])
        self.groups.put(account, region, (name,), group)
        self.policies.put(
            account, region, (name, policy["PolicyName"]), policy, arn=policy["PolicyARN"]
        )
        self.keep(account, region, name)

    def in_cooldown(self, account: str, region: str, name: str) -> Exception:
        """AWS's refusal while the group's cooldown runs: it names the latest activity."""
        latest = self.activities.list(account, region, name)[:1]
        activity = latest[0]["ActivityId"] if latest else "unknown"
        return errors.ScalingActivityInProgressFault(
            f"Scaling activity {activity} is in progress and blocks this action"
        )

    def _triggering_alarm(self, account: str, region: str, policy: Json, up: bool) -> str | None:
        """The alarm in ALARM whose actions name the policy (the cause names it)."""
        try:
            out = self.env.providers.invoke(
                "cloudwatch",
                "DescribeAlarms",
                {"ActionPrefix": policy["PolicyARN"], "StateValue": "ALARM"},
                account,
                region,
            )
        except Exception:
            return None
        names = sorted(a["AlarmName"] for a in out.get("MetricAlarms") or ())
        if not names:
            return None
        preferred = [n for n in names if ("-AlarmHigh-" in n) == up]
        return (preferred or names)[0]

    # -- scheduled actions ----------------------------------------------------------------

    def _scheduled_actions(self, account: str, region: str, name: str) -> None:
        now = clock.now()
        rows = self.env.state.store.query(
            "SELECT doc FROM asg_scheduled WHERE account = ? AND region = ? AND grp = ? "
            "AND due IS NOT NULL AND due <= ? ORDER BY due",
            (account, region, name, now),
        )
        for row in rows:
            action = json.loads(row["doc"])
            group = self.groups.get(account, region, name)
            if group is None:
                return
            suspended = {p["ProcessName"] for p in group.get("SuspendedProcesses") or ()}
            if "ScheduledActions" not in suspended:
                self._apply_scheduled(account, region, group, action)
            due = next_run(action, now)
            if due is None:
                self.scheduled.delete(account, region, name, action["ScheduledActionName"])
            else:
                self.scheduled.put(
                    account, region, (name, action["ScheduledActionName"]), action, due=due
                )

    def _apply_scheduled(self, account: str, region: str, group: Json, action: Json) -> None:
        old = group["DesiredCapacity"]
        for key in ("MinSize", "MaxSize", "DesiredCapacity"):
            if action.get(key) is not None:
                group[key] = action[key]
        group["DesiredCapacity"] = min(
            max(group["DesiredCapacity"], group["MinSize"]), group["MaxSize"]
        )
        if group["DesiredCapacity"] != old:
            group["_cause"] = (
                f"At {stamp(clock.now())} a scheduled action update of AutoScalingGroup "
                f"constraints to min: {group['MinSize']}, max: {group['MaxSize']}, desired: "
                f"{group['DesiredCapacity']} changing the desired capacity from {old} to "
                f"{group['DesiredCapacity']}.  At {stamp(clock.now())} the scheduled action "
                f"{action['ScheduledActionName']} executed."
            )
        self.groups.put(account, region, (group["AutoScalingGroupName"],), group)

    # -- notifications, events, metrics ---------------------------------------------------

    def _notify(
        self,
        account: str,
        region: str,
        group: Json,
        kind: str,
        activity_id: str,
        instance_id: str,
        detail_type: str,
    ) -> None:
        row = self.env.state.store.query_one(
            "SELECT doc FROM asg_activities WHERE account = ? AND region = ? AND id = ?",
            (account, region, activity_id),
        )
        if row is None:
            return
        activity = json.loads(row["doc"])
        body: Json = {
            "Progress": activity.get("Progress", 100),
            "AccountId": account,
            "Description": activity["Description"],
            "RequestId": activity_id,
            "EndTime": stamp(activity.get("EndTime") or clock.now()),
            "AutoScalingGroupARN": group["AutoScalingGroupARN"],
            "ActivityId": activity_id,
            "StartTime": stamp(activity["StartTime"]),
            "Service": "AWS Auto Scaling",
            "Time": stamp(clock.now()),
            "EC2InstanceId": instance_id,
            "StatusCode": activity["StatusCode"],
            "StatusMessage": activity.get("StatusMessage", ""),
            "Details": json.loads(activity.get("Details") or "{}"),
            "AutoScalingGroupName": group["AutoScalingGroupName"],
            "Cause": activity["Cause"],
            "Event": kind,
        }
        resources = [group["AutoScalingGroupARN"]]
        if instance_id:
            resources.append(arn("ec2", region, account, f"instance/{instance_id}"))
        detail = {
            k: v for k, v in body.items() if k not in ("AccountId", "Service", "Time", "Event")
        }
        self.env.events.emit(
            Event(account, region, "aws.autoscaling", detail_type, detail, tuple(resources))
        )
        name = group["AutoScalingGroupName"]
        what = kind.split(":", 1)[1].lower().replace("ec2_instance_", "").replace("_", " ")
        for topic, kinds in (group.get("_notifications") or {}).items():
            if kind not in kinds:
                continue
            try:
                self.env.providers.invoke(
                    "sns",
                    "Publish",
                    {
                        "TopicArn": topic,
                        "Subject": f'Auto Scaling: {what} for group "{name}"',
                        "Message": json.dumps(body),
                    },
                    account,
                    region,
                )
            except Exception as exc:
                log.info("notification to %s: %s", topic, exc)

    def _group_metrics(self, boundary: float) -> list[Datapoint]:
        store = self.env.state.store
        try:
            rows = store.query("SELECT account, region, name, doc FROM asg_groups")
        except Exception:
            return []
        points = []
        for row in rows:
            group = json.loads(row["doc"])
            enabled = {m["Metric"] for m in group.get("EnabledMetrics") or ()}
            if not enabled:
                continue
            members = self.members.all(row["account"], row["region"], row["name"])
            states = [m["LifecycleState"] for m in members]
            values = {
                "GroupMinSize": group["MinSize"],
                "GroupMaxSize": group["MaxSize"],
                "GroupDesiredCapacity": group["DesiredCapacity"],
                "GroupInServiceInstances": states.count("InService"),
                "GroupPendingInstances": sum(s.startswith("Pending") for s in states),
                "GroupStandbyInstances": states.count("Standby"),
                "GroupTerminatingInstances": sum(s.startswith("Terminating") for s in states),
                "GroupTotalInstances": len(states),
            }
            for metric in sorted(enabled):
                points.append(
                    Datapoint(
                        row["account"],
                        row["region"],
                        "AWS/AutoScaling",
                        metric,
                        float(values[metric]),
                        "None",
                        {"AutoScalingGroupName": row["name"]},
                    )
                )
        return points
