"""Amazon EC2 Auto Scaling: launch configurations, groups over subnets or zones with their load
balancers and target groups, scaling policies (simple, step, target tracking with the alarms it
manages), scheduled actions, suspended processes, standby, instance protection and the scaling
activities AWS words; the group keeping its capacity on the one clock lives in ``keeper``."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, paginate
from nubes.core.tags import reserved_allowed
from nubes.services.autoscaling import scaling, termination
from nubes.services.autoscaling.errors import errors
from nubes.services.autoscaling.keeper import Keeper
from nubes.services.autoscaling.models import MIGRATIONS, Json, group_arn, stamp
from nubes.services.autoscaling.schedule import next_run
from nubes.services.base import ServiceProvider

if TYPE_CHECKING:
    from nubes.app import Environment

PROCESSES = (
    "Launch",
    "Terminate",
    "AddToLoadBalancer",
    "AlarmNotification",
    "AZRebalance",
    "HealthCheck",
    "InstanceRefresh",
    "ReplaceUnhealthy",
    "ScheduledActions",
)
GROUP_METRICS = (
    "GroupMinSize",
    "GroupMaxSize",
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupPendingInstances",
    "GroupStandbyInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
)
PREDEFINED = {
    "ASGAverageCPUUtilization": ("AWS/EC2", "CPUUtilization", "Average"),
    "ASGAverageNetworkIn": ("AWS/EC2", "NetworkIn", "Average"),
    "ASGAverageNetworkOut": ("AWS/EC2", "NetworkOut", "Average"),
    "ALBRequestCountPerTarget": ("AWS/ApplicationELB", "RequestCountPerTarget", "Sum"),
}
DEFAULT_COOLDOWN = 300
LC_FIELDS = (
    "ImageId",
    "KeyName",
    "SecurityGroups",
    "ClassicLinkVPCId",
    "ClassicLinkVPCSecurityGroups",
    "UserData",
    "InstanceType",
    "KernelId",
    "RamdiskId",
    "BlockDeviceMappings",
    "InstanceMonitoring",
    "SpotPrice",
    "IamInstanceProfile",
    "EbsOptimized",
    "AssociatePublicIpAddress",
    "PlacementTenancy",
    "MetadataOptions",
)
GROUP_FIELDS = (
    "LaunchConfigurationName",
    "LaunchTemplate",
    "MixedInstancesPolicy",
    "MinSize",
    "MaxSize",
    "DesiredCapacity",
    "DefaultCooldown",
    "AvailabilityZones",
    "HealthCheckType",
    "HealthCheckGracePeriod",
    "PlacementGroup",
    "VPCZoneIdentifier",
    "TerminationPolicies",
    "NewInstancesProtectedFromScaleIn",
    "ServiceLinkedRoleARN",
    "MaxInstanceLifetime",
    "CapacityRebalance",
    "DefaultInstanceWarmup",
    "Context",
)


def _not_found(name: str) -> Exception:
    return errors.ValidationError(
        f"AutoScalingGroup name not found - AutoScalingGroup {name} not found"
    )


class AutoScalingProvider(Keeper, ServiceProvider):
    service = "autoscaling"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.setup()

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        """Groups keep their capacity (and scheduled actions fire) with no request coming."""
        return cls.has_rows(env, "SELECT 1 FROM asg_groups LIMIT 1")

    async def start(self) -> None:
        self.env.scheduler.every("autoscaling", self.TICK, self.tick)
        self.env.scheduler.on_advance(self.advanced)

    # -- launch configurations ------------------------------------------------------------

    def create_launch_configuration(self, ctx: RequestContext, req: Json) -> Json:
        name = req["LaunchConfigurationName"]
        if self.configs.get(ctx.account_id, ctx.region, name) is not None:
            raise errors.AlreadyExistsFault(
                "Launch Configuration by this name already exists - A launch configuration "
                f"already exists with the name {name}"
            )
        doc: Json = {k: req[k] for k in LC_FIELDS if req.get(k) is not None}
        if req.get("InstanceId"):
            doc = {**self._from_instance(ctx, req["InstanceId"]), **doc}
        for needed in ("ImageId", "InstanceType"):
            if not doc.get(needed):
                raise errors.ValidationError(
                    f"Invalid launch configuration: {needed} must be specified."
                )
        doc.update(
            LaunchConfigurationName=name,
            LaunchConfigurationARN=arn(
                "autoscaling",
                ctx.region,
                ctx.account_id,
                f"launchConfiguration:{uuid.uuid4()}:launchConfigurationName/{name}",
            ),
            CreatedTime=clock.now(),
        )
        doc.setdefault("InstanceMonitoring", {"Enabled": True})
        doc.setdefault("SecurityGroups", [])
        doc.setdefault("KernelId", "")
        doc.setdefault("RamdiskId", "")
        doc.setdefault("UserData", "")
        doc.setdefault("BlockDeviceMappings", [])
        doc.setdefault("EbsOptimized", False)
        doc.setdefault("ClassicLinkVPCSecurityGroups", [])
        self.configs.put(ctx.account_id, ctx.region, (name,), doc)
        return {}

    def _from_instance(self, ctx: RequestContext, instance_id: str) -> Json:
        found = self._instances_of(ctx.account_id, ctx.region, [instance_id]).get(instance_id)
        if found is None:
            raise errors.ValidationError(f"Invalid instance id: {instance_id}")
        return {
            "ImageId": found["ImageId"],
            "InstanceType": found["InstanceType"],
            "KeyName": found.get("KeyName"),
            "SecurityGroups": [g["GroupId"] for g in found.get("SecurityGroups") or ()],
        }

    def describe_launch_configurations(self, ctx: RequestContext, req: Json) -> Json:
        names = req.get("LaunchConfigurationNames") or []
        docs = self.configs.all(ctx.account_id, ctx.region)
        if names:
            docs = [d for d in docs if d["LaunchConfigurationName"] in names]
        page, token = self._page(docs, req, "LaunchConfigurationName")
        return {"LaunchConfigurations": page, **({"NextToken": token} if token else {})}

    def delete_launch_configuration(self, ctx: RequestContext, req: Json) -> Json:
        name = req["LaunchConfigurationName"]
        if self.configs.get(ctx.account_id, ctx.region, name) is None:
            raise errors.ValidationError("Launch configuration name not found - " + name)
        if any(
            g.get("LaunchConfigurationName") == name
            for g in self.groups.all(ctx.account_id, ctx.region)
        ):
            raise errors.ResourceInUseFault(
                f"Cannot delete launch configuration {name} because it is attached to "
                "AutoScalingGroup"
            )
        self.configs.delete(ctx.account_id, ctx.region, name)
        return {}

    @staticmethod
    def _page(docs: list[Json], req: Json, key: str, limit: int = 50) -> tuple[list[Json], Any]:
        try:
            return paginate(
                docs, req.get("MaxRecords") or limit, req.get("NextToken"), lambda d: d[key]
            )
        except (InvalidToken, TypeError):
            raise errors.InvalidNextToken("The token is invalid.") from None

    # -- groups ---------------------------------------------------------------------------

    def group(self, ctx: RequestContext, name: str) -> Json:
        doc = self.groups.get(ctx.account_id, ctx.region, name)
        if doc is None:
            raise _not_found(name)
        return doc

    def create_auto_scaling_group(self, ctx: RequestContext, req: Json) -> Json:
        name = req["AutoScalingGroupName"]
        if self.groups.get(ctx.account_id, ctx.region, name) is not None:
            raise errors.AlreadyExistsFault(
                f"AutoScalingGroup by this name already exists - "
                f"A group with the name {name} already exists"
            )
        doc: Json = {k: req[k] for k in GROUP_FIELDS if req.get(k) is not None}
        sources = [
            k
            for k in (
                "LaunchConfigurationName",
                "LaunchTemplate",
                "MixedInstancesPolicy",
                "InstanceId",
            )
            if req.get(k)
        ]
        if len(sources) != 1:
            raise errors.ValidationError(
                "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, "
                "InstanceId or MixedInstancesPolicy parameter."
            )
        if req.get("InstanceId"):
            doc["LaunchConfigurationName"] = name
            self.create_launch_configuration(
                ctx, {"LaunchConfigurationName": name, "InstanceId": req["InstanceId"]}
            )
        desired = req.get("DesiredCapacity")
        doc.update(
            AutoScalingGroupName=name,
            AutoScalingGroupARN=group_arn(ctx.account_id, ctx.region, name),
            DesiredCapacity=req["MinSize"] if desired is None else desired,
            DefaultCooldown=req.get("DefaultCooldown", DEFAULT_COOLDOWN),
            HealthCheckType=req.get("HealthCheckType") or "EC2",
            HealthCheckGracePeriod=req.get("HealthCheckGracePeriod") or 0,
            LoadBalancerNames=req.get("LoadBalancerNames") or [],
            TargetGroupARNs=req.get("TargetGroupARNs") or [],
            TerminationPolicies=req.get("TerminationPolicies") or ["Default"],
            NewInstancesProtectedFromScaleIn=bool(req.get("NewInstancesProtectedFromScaleIn")),
            CreatedTime=clock.now(),
            SuspendedProcesses=[],
            EnabledMetrics=[],
            ServiceLinkedRoleARN=arn(
                "iam",
                "",
                ctx.account_id,
                "role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
            ),
            Tags=[],
        )
        self._check_group(ctx, doc)
        doc["_cause"] = (
            f"At {stamp(clock.now())} a user request created an AutoScalingGroup changing the "
            f"desired capacity from 0 to {doc['DesiredCapacity']}."
        )
        self.groups.put(ctx.account_id, ctx.region, (name,), doc)
        if req.get("Tags"):
            self._put_tags(
                ctx,
                [
                    {**t, "ResourceId": name, "ResourceType": "auto-scaling-group"}
                    for t in req["Tags"]
                ],
            )
        self.keep(ctx.account_id, ctx.region, name)
        return {}

    def _check_group(self, ctx: RequestContext, doc: Json) -> None:
        low, high, desired = doc["MinSize"], doc["MaxSize"], doc["DesiredCapacity"]
        if low > high:
            raise errors.ValidationError(
                f"Max bound, {high}, must be greater than or equal to min bound, {low}"
            )
        if not low <= desired <= high:
            raise errors.ValidationError(
                f"Desired capacity:{desired} must be between the specified min size:{low} and "
                f"max size:{high}"
            )
        name = doc.get("LaunchConfigurationName")
        if name and self.configs.get(ctx.account_id, ctx.region, name) is None:
            raise errors.ValidationError(f"Launch configuration name not found - {name}")
        if (doc.get("LaunchTemplate") or doc.get("MixedInstancesPolicy")) and not (
            self.current_config(ctx.account_id, ctx.region, doc)
        ):
            spec = doc.get("LaunchTemplate") or doc["MixedInstancesPolicy"].get(
                "LaunchTemplate", {}
            ).get("LaunchTemplateSpecification", {})
            which = (
                f"template name {spec['LaunchTemplateName']}"
                if spec.get("LaunchTemplateName")
                else f"template ID {spec.get('LaunchTemplateId')}"
            )
            raise errors.ValidationError(
                "You must use a valid fully-formed launch template. The specified launch "
                f"template, with {which}, does not exist."
            )
        if doc.get("LaunchTemplate"):
            # AWS answers with both the template's id and name, whichever was given.
            template_id = self.current_config(ctx.account_id, ctx.region, doc).split(":")[0]
            doc["LaunchTemplate"] = {
                **doc["LaunchTemplate"],
                "LaunchTemplateId": template_id,
                "LaunchTemplateName": self._template_name(ctx.account_id, ctx.region, template_id),
            }
        for policy in doc.get("TerminationPolicies") or ():
            if policy not in termination.POLICIES and not policy.startswith("arn:"):
                raise errors.ValidationError(f"Termination policy {policy} is not supported.")
        self._placement(ctx, doc)

    def _placement(self, ctx: RequestContext, doc: Json) -> None:
        """Subnets by zone (VPCZoneIdentifier) or the zones alone, checked against EC2."""
        subnet_ids = [
            s.strip() for s in (doc.get("VPCZoneIdentifier") or "").split(",") if s.strip()
        ]
        if subnet_ids:
            try:
                found = self.env.providers.invoke(
                    "ec2",
                    "DescribeSubnets",
                    {"SubnetIds": subnet_ids},
                    ctx.account_id,
                    ctx.region,
                )["Subnets"]
            except Exception:
                raise errors.ValidationError(
                    f"The subnet ID '{subnet_ids[0]}' does not exist"
                ) from None
            doc["_subnets"] = {s["SubnetId"]: s["AvailabilityZone"] for s in found}
            doc["AvailabilityZones"] = sorted(set(doc["_subnets"].values()))
            return
        doc.pop("_subnets", None)
        if not doc.get("AvailabilityZones"):
            raise errors.ValidationError(
                "At least one Availability Zone or VPC Subnet is required."
            )

    def describe_auto_scaling_groups(self, ctx: RequestContext, req: Json) -> Json:
        names = req.get("AutoScalingGroupNames") or []
        docs = self.groups.all(ctx.account_id, ctx.region)
        if names:
            docs = [d for d in docs if d["AutoScalingGroupName"] in names]
        for f in req.get("Filters") or ():
            docs = [d for d in docs if self._group_matches(d, f)]
        page, token = self._page(docs, req, "AutoScalingGroupName")
        out = [self._group_out(ctx, d) for d in page]
        return {"AutoScalingGroups": out, **({"NextToken": token} if token else {})}

    @staticmethod
    def _group_matches(doc: Json, f: Json) -> bool:
        values = f.get("Values") or []
        name = f.get("Name") or ""
        tags = {t["Key"]: t["Value"] for t in doc.get("Tags") or ()}
        if name == "tag-key":
            return any(v in tags for v in values)
        if name == "tag-value":
            return any(v in tags.values() for v in values)
        if name.startswith("tag:"):
            return tags.get(name[4:]) in values
        return True

    def _group_out(self, ctx: RequestContext, doc: Json) -> Json:
        out = {k: v for k, v in doc.items() if not k.startswith("_")}
        members = self.members.all(ctx.account_id, ctx.region, doc["AutoScalingGroupName"])
        out["Instances"] = [
            self._member_out(m) for m in members if not m["LifecycleState"].startswith("Warmed:")
        ]
        if doc.get("WarmPoolConfiguration"):
            out["WarmPoolSize"] = len(members) - len(out["Instances"])
        return out

    @staticmethod
    def _member_out(m: Json) -> Json:
        return {k: v for k, v in m.items() if not k.startswith("_")}

    def update_auto_scaling_group(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        old = doc["DesiredCapacity"]
        for key in GROUP_FIELDS:
            if req.get(key) is not None:
                doc[key] = req[key]
        if req.get("LaunchConfigurationName"):
            doc.pop("LaunchTemplate", None)
            doc.pop("MixedInstancesPolicy", None)
        elif req.get("LaunchTemplate") or req.get("MixedInstancesPolicy"):
            doc.pop("LaunchConfigurationName", None)
            doc.pop("MixedInstancesPolicy" if req.get("LaunchTemplate") else "LaunchTemplate", None)
        if req.get("DesiredCapacity") is None:
            doc["DesiredCapacity"] = min(max(old, doc["MinSize"]), doc["MaxSize"])
        self._check_group(ctx, doc)
        if doc["DesiredCapacity"] != old:
            doc["_cause"] = (
                f"At {stamp(clock.now())} a user request update of AutoScalingGroup constraints "
                f"to min: {doc['MinSize']}, max: {doc['MaxSize']}, desired: "
                f"{doc['DesiredCapacity']} changing the desired capacity from {old} to "
                f"{doc['DesiredCapacity']}."
            )
        self.groups.put(ctx.account_id, ctx.region, (doc["AutoScalingGroupName"],), doc)
        self.keep(ctx.account_id, ctx.region, doc["AutoScalingGroupName"])
        return {}

    def delete_auto_scaling_group(self, ctx: RequestContext, req: Json) -> Json:
        name = req["AutoScalingGroupName"]
        doc = self.group(ctx, name)
        members = self.members.all(ctx.account_id, ctx.region, name)
        if members and not req.get("ForceDelete"):
            raise errors.ResourceInUseFault(
                "You cannot delete an AutoScalingGroup while there are instances or pending "
                "Spot instance request(s) still in the group."
            )
        if members:
            ids = [m["InstanceId"] for m in members]
            self._detach_from_balancers(ctx.account_id, ctx.region, doc, ids)
            self.env.providers.invoke(
                "ec2", "TerminateInstances", {"InstanceIds": ids}, ctx.account_id, ctx.region
            )
            self.members.delete(ctx.account_id, ctx.region, name)
        for policy in self.policies.all(ctx.account_id, ctx.region, name):
            self._drop_alarms(ctx.account_id, ctx.region, policy)
        self.policies.delete(ctx.account_id, ctx.region, name)
        self.scheduled.delete(ctx.account_id, ctx.region, name)
        self.activities.drop(ctx.account_id, ctx.region, name)
        self.groups.delete(ctx.account_id, ctx.region, name)
        return {}

    def set_desired_capacity(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        desired = req["DesiredCapacity"]
        if not doc["MinSize"] <= desired <= doc["MaxSize"]:
            raise errors.ValidationError(
                f"New SetDesiredCapacity value {desired} is "
                + (
                    "below min value " + str(doc["MinSize"])
                    if desired < doc["MinSize"]
                    else "above max value " + str(doc["MaxSize"])
                )
                + " for the AutoScalingGroup."
            )
        if req.get("HonorCooldown") and doc.get("_cooldown_until", 0) > clock.now():
            raise self.in_cooldown(ctx.account_id, ctx.region, doc["AutoScalingGroupName"])
        old = doc["DesiredCapacity"]
        if old != desired:
            doc["DesiredCapacity"] = desired
            doc["_cause"] = (
                f"At {stamp(clock.now())} a user request explicitly set group desired capacity "
                f"changing the desired capacity from {old} to {desired}."
            )
            self.groups.put(ctx.account_id, ctx.region, (doc["AutoScalingGroupName"],), doc)
            self.keep(ctx.account_id, ctx.region, doc["AutoScalingGroupName"])
        return {}

    # -- instances ------------------------------------------------------------------------

    def launch_instances(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        name = doc["AutoScalingGroupName"]
        token = req["ClientToken"]
        asked = {k: req.get(k) for k in ("RequestedCapacity", "AvailabilityZones", "SubnetIds")}
        earlier = (doc.get("_launch_tokens") or {}).get(token)
        if earlier is not None:
            if earlier["asked"] != asked:
                raise errors.IdempotentParameterMismatchError(
                    f"The client token {token} was used with different parameters."
                )
            return dict(earlier["answer"])
        count = req["RequestedCapacity"]
        old = doc["DesiredCapacity"]
        if count < 1 or old + count > doc["MaxSize"]:
            raise errors.ValidationError(
                f"Launching {count} instances would take the desired capacity above the max "
                f"size {doc['MaxSize']}."
            )
        view = dict(doc)
        zones = req.get("AvailabilityZones") or doc["AvailabilityZones"]
        view["AvailabilityZones"] = [z for z in doc["AvailabilityZones"] if z in zones]
        if doc.get("_subnets"):
            wanted = req.get("SubnetIds") or list(doc["_subnets"])
            view["_subnets"] = {s: z for s, z in doc["_subnets"].items() if s in wanted}
            view["AvailabilityZones"] = sorted(set(view["_subnets"].values()))
        if not view["AvailabilityZones"]:
            raise errors.ValidationError("None of the given zones or subnets is the group's.")
        before = {m["InstanceId"] for m in self.members.all(ctx.account_id, ctx.region, name)}
        doc["_cause"] = view["_cause"] = (
            f"At {stamp(clock.now())} a user request launched {count} instances changing the "
            f"desired capacity from {old} to {old + count}."
        )
        launched = 0
        for _ in range(count):
            if not self._launch(ctx.account_id, ctx.region, view, old + launched, old + count):
                break
            launched += 1
        made = [
            m
            for m in self.members.all(ctx.account_id, ctx.region, name)
            if m["InstanceId"] not in before
        ]
        doc["DesiredCapacity"] = old + launched
        groups: dict[tuple[str, str], list[str]] = {}
        for m in made:
            groups.setdefault((m["InstanceType"], m["AvailabilityZone"]), []).append(
                m["InstanceId"]
            )
        answer: Json = {
            "AutoScalingGroupName": name,
            "ClientToken": token,
            "Instances": [
                {
                    "InstanceType": t,
                    "MarketType": "on-demand",
                    "AvailabilityZone": z,
                    "InstanceIds": ids,
                }
                for (t, z), ids in sorted(groups.items())
            ],
            "Errors": [],
        }
        if launched < count:
            answer["Errors"].append(
                {
                    "ErrorCode": "InsufficientInstanceCapacity",
                    "ErrorMessage": view.get("_failing") or "The launch failed.",
                }
            )
        tokens = dict(doc.get("_launch_tokens") or {})
        tokens[token] = {"asked": asked, "answer": answer}
        doc["_launch_tokens"] = dict(list(tokens.items())[-20:])
        self.groups.put(ctx.account_id, ctx.region, (name,), doc)
        return answer

    def describe_auto_scaling_instances(self, ctx: RequestContext, req: Json) -> Json:
        ids = req.get("InstanceIds") or []
        out = []
        for row in self.store.query(
            "SELECT grp, doc FROM asg_instances WHERE account = ? AND region = ? ORDER BY id",
            (ctx.account_id, ctx.region),
        ):
            m = json.loads(row["doc"])
            if ids and m["InstanceId"] not in ids:
                continue
            out.append({**self._member_out(m), "AutoScalingGroupName": row["grp"]})
        page, token = self._page(out, req, "InstanceId")
        return {"AutoScalingInstances": page, **({"NextToken": token} if token else {})}

    def _member(self, ctx: RequestContext, group: str, instance_id: str) -> Json:
        m = self.members.get(ctx.account_id, ctx.region, group, instance_id)
        if m is None:
            raise errors.ValidationError(
                f"The instance {instance_id} is not part of Auto Scaling group {group}."
            )
        return m

    def _group_of(self, ctx: RequestContext, instance_id: str) -> str:
        found = self.store.scalar(
            "SELECT grp FROM asg_instances WHERE account = ? AND region = ? AND id = ?",
            (ctx.account_id, ctx.region, instance_id),
        )
        if found is None:
            raise errors.ValidationError(
                f"Instance Id not found - No managed instance found for instance ID: {instance_id}"
            )
        return str(found)

    def terminate_instance_in_auto_scaling_group(self, ctx: RequestContext, req: Json) -> Json:
        instance_id = req["InstanceId"]
        doc = self.group(ctx, self._group_of(ctx, instance_id))
        decrement = req["ShouldDecrementDesiredCapacity"]
        old = doc["DesiredCapacity"]
        if decrement:
            if old - 1 < doc["MinSize"]:
                raise errors.ValidationError(
                    f"Currently, desired capacity is {old} and min size is {doc['MinSize']}. "
                    "Terminating this instance with ShouldDecrementDesiredCapacity set to true "
                    "would make desired capacity less than min size."
                )
            doc["DesiredCapacity"] = old - 1
            self.groups.put(ctx.account_id, ctx.region, (doc["AutoScalingGroupName"],), doc)
        cause = (
            f"At {stamp(clock.now())} instance {instance_id} was taken out of service in "
            "response to a user request"
            + (f", shrinking the capacity from {old} to {old - 1}." if decrement else ".")
        )
        activity = self.terminate_member(ctx.account_id, ctx.region, doc, instance_id, cause)
        return {"Activity": activity}

    def set_instance_health(self, ctx: RequestContext, req: Json) -> Json:
        group = self._group_of(ctx, req["InstanceId"])
        m = self._member(ctx, group, req["InstanceId"])
        if req["HealthStatus"] not in ("Healthy", "Unhealthy"):
            raise errors.ValidationError("Valid health status values are Healthy or Unhealthy.")
        m["HealthStatus"] = req["HealthStatus"]
        m["_health_cause"] = "a user request to set the health status of the instance"
        self.members.put(ctx.account_id, ctx.region, (group, m["InstanceId"]), m)
        return {}

    def set_instance_protection(self, ctx: RequestContext, req: Json) -> Json:
        name = req["AutoScalingGroupName"]
        self.group(ctx, name)
        for instance_id in req["InstanceIds"]:
            m = self._member(ctx, name, instance_id)
            m["ProtectedFromScaleIn"] = bool(req["ProtectedFromScaleIn"])
            self.members.put(ctx.account_id, ctx.region, (name, instance_id), m)
        return {}

    def attach_instances(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        ids = req.get("InstanceIds") or []
        found = self._instances_of(ctx.account_id, ctx.region, ids)
        current = len(
            self._counted(self.members.all(ctx.account_id, ctx.region, doc["AutoScalingGroupName"]))
        )
        if current + len(ids) > doc["MaxSize"]:
            raise errors.ValidationError(
                f"Attempting to attach {len(ids)} instances to the AutoScalingGroup which "
                f"would exceed the max size of {doc['MaxSize']}."
            )
        for instance_id in ids:
            inst = found.get(instance_id)
            if inst is None or inst["State"]["Name"] != "running":
                raise errors.ValidationError(
                    f"Instance {instance_id} is not in correct state: it must be running."
                )
        old = doc["DesiredCapacity"]
        doc["DesiredCapacity"] = old + len(ids)
        self.groups.put(ctx.account_id, ctx.region, (doc["AutoScalingGroupName"],), doc)
        for instance_id in ids:
            inst = found[instance_id]
            self.adopt(ctx.account_id, ctx.region, doc, inst, "InService")
            self.activities.add(
                ctx.account_id,
                ctx.region,
                doc,
                f"Attaching an existing EC2 instance: {instance_id}",
                f"At {stamp(clock.now())} an instance was added in response "
                f"to a user request, increasing the capacity from {old} to "
                f"{doc['DesiredCapacity']}.",
            )
        return {}

    def detach_instances(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        name = doc["AutoScalingGroupName"]
        ids = req.get("InstanceIds") or []
        for instance_id in ids:
            self._member(ctx, name, instance_id)
        out = self._leave(
            ctx,
            req,
            doc,
            ids,
            f"Detaching {len(ids)} instances would make desired capacity less than "
            f"min size {doc['MinSize']}.",
            "Detaching EC2 instance: {}",
            "detached",
        )
        for instance_id in ids:
            self.members.delete(ctx.account_id, ctx.region, name, instance_id)
        return out

    def enter_standby(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        name = doc["AutoScalingGroupName"]
        ids = req.get("InstanceIds") or []
        members = [self._member(ctx, name, i) for i in ids]
        for m in members:
            if m["LifecycleState"] != "InService":
                raise errors.ValidationError(f"The instance {m['InstanceId']} is not in InService.")
        out = self._leave(
            ctx,
            req,
            doc,
            ids,
            "Standby would make desired capacity less than min size.",
            "Moving EC2 instance to Standby: {}",
            "moved to standby",
        )
        for m in members:
            m["LifecycleState"] = "Standby"
            self.members.put(ctx.account_id, ctx.region, (name, m["InstanceId"]), m)
        return out

    def _leave(
        self,
        ctx: RequestContext,
        req: Json,
        doc: Json,
        ids: list[str],
        too_few: str,
        description: str,
        done: str,
    ) -> Json:
        """DetachInstances and EnterStandby: the instances leave the group's load balancers,
        the desired capacity drops with them when asked (never below MinSize, else
        ``too_few``), and each gets an activity."""
        old = doc["DesiredCapacity"]
        if req["ShouldDecrementDesiredCapacity"]:
            if old - len(ids) < doc["MinSize"]:
                raise errors.ValidationError(too_few)
            doc["DesiredCapacity"] = old - len(ids)
            self.groups.put(ctx.account_id, ctx.region, (doc["AutoScalingGroupName"],), doc)
        self._detach_from_balancers(ctx.account_id, ctx.region, doc, ids)
        shrinking = (
            f", shrinking the capacity from {old} to {doc['DesiredCapacity']}."
            if doc["DesiredCapacity"] != old
            else "."
        )
        out = []
        for instance_id in ids:
            activity_id = self.activities.add(
                ctx.account_id,
                ctx.region,
                doc,
                description.format(instance_id),
                f"At {stamp(clock.now())} instance {instance_id} was {done} in response to a "
                f"user request{shrinking}",
            )
            out.append(self._activity_out(ctx, activity_id))
        return {"Activities": out}

    def exit_standby(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        name = doc["AutoScalingGroupName"]
        ids = req.get("InstanceIds") or []
        members = [self._member(ctx, name, i) for i in ids]
        for m in members:
            if m["LifecycleState"] != "Standby":
                raise errors.ValidationError(f"The instance {m['InstanceId']} is not in Standby.")
        old = doc["DesiredCapacity"]
        if old + len(ids) > doc["MaxSize"]:
            raise errors.ValidationError(
                "Exiting standby would make desired capacity greater than max size."
            )
        doc["DesiredCapacity"] = old + len(ids)
        self.groups.put(ctx.account_id, ctx.region, (name,), doc)
        self._attach_to_balancers(ctx.account_id, ctx.region, doc, ids)
        out = []
        for m in members:
            m["LifecycleState"] = "InService"
            self.members.put(ctx.account_id, ctx.region, (name, m["InstanceId"]), m)
            activity_id = self.activities.add(
                ctx.account_id,
                ctx.region,
                doc,
                f"Moving EC2 instance out of Standby: {m['InstanceId']}",
                f"At {stamp(clock.now())} instance {m['InstanceId']} was moved out of standby in "
                f"response to a user request, increasing the capacity from {old} to "
                f"{doc['DesiredCapacity']}.",
            )
            out.append(self._activity_out(ctx, activity_id))
        return {"Activities": out}

    # -- load balancers and target groups -------------------------------------------------

    def _set_balancers(
        self, ctx: RequestContext, name: str, key: str, items: list[str], attach: bool
    ) -> None:
        doc = self.group(ctx, name)
        current = list(doc.get(key) or [])
        ids = [
            m["InstanceId"]
            for m in self.members.all(ctx.account_id, ctx.region, name)
            if m["LifecycleState"] == "InService"
        ]
        changed = [i for i in items if (i not in current) == attach]
        if attach:
            doc[key] = current + changed
        else:
            doc[key] = [i for i in current if i not in items]
        self.groups.put(ctx.account_id, ctx.region, (name,), doc)
        only = {**doc, "TargetGroupARNs": [], "LoadBalancerNames": [], key: changed}
        if attach:
            self._attach_to_balancers(ctx.account_id, ctx.region, only, ids)
        else:
            self._detach_from_balancers(ctx.account_id, ctx.region, only, ids)

    def attach_load_balancer_target_groups(self, ctx: RequestContext, req: Json) -> Json:
        self._set_balancers(
            ctx, req["AutoScalingGroupName"], "TargetGroupARNs", req["TargetGroupARNs"], True
        )
        return {}

    def detach_load_balancer_target_groups(self, ctx: RequestContext, req: Json) -> Json:
        self._set_balancers(
            ctx, req["AutoScalingGroupName"], "TargetGroupARNs", req["TargetGroupARNs"], False
        )
        return {}

    def attach_load_balancers(self, ctx: RequestContext, req: Json) -> Json:
        self._set_balancers(
            ctx, req["AutoScalingGroupName"], "LoadBalancerNames", req["LoadBalancerNames"], True
        )
        return {}

    def detach_load_balancers(self, ctx: RequestContext, req: Json) -> Json:
        self._set_balancers(
            ctx, req["AutoScalingGroupName"], "LoadBalancerNames", req["LoadBalancerNames"], False
        )
        return {}

    def describe_load_balancer_target_groups(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        return {
            "LoadBalancerTargetGroups": [
                {"LoadBalancerTargetGroupARN": t, "State": "InService"}
                for t in doc.get("TargetGroupARNs") or ()
            ]
        }

    def describe_load_balancers(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        return {
            "LoadBalancers": [
                {"LoadBalancerName": n, "State": "InService"}
                for n in doc.get("LoadBalancerNames") or ()
            ]
        }

    @staticmethod
    def _source_kind(source: Json) -> str:
        """Which list of the group a traffic source belongs to (target group or classic)."""
        kind = source.get("Type") or ("elbv2" if source["Identifier"].startswith("arn:") else "elb")
        if kind not in ("elb", "elbv2"):
            raise errors.ValidationError(f"Traffic source type {kind} is not supported.")
        return "TargetGroupARNs" if kind == "elbv2" else "LoadBalancerNames"

    def _traffic(self, ctx: RequestContext, req: Json, attach: bool) -> None:
        for source in req["TrafficSources"]:
            self._set_balancers(
                ctx,
                req["AutoScalingGroupName"],
                self._source_kind(source),
                [source["Identifier"]],
                attach,
            )

    def attach_traffic_sources(self, ctx: RequestContext, req: Json) -> Json:
        self._traffic(ctx, req, True)
        return {}

    def detach_traffic_sources(self, ctx: RequestContext, req: Json) -> Json:
        self._traffic(ctx, req, False)
        return {}

    def describe_traffic_sources(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        found = [
            {"TrafficSource": i, "Identifier": i, "Type": kind, "State": "InService"}
            for kind, key in (("elb", "LoadBalancerNames"), ("elbv2", "TargetGroupARNs"))
            for i in doc.get(key) or ()
            if req.get("TrafficSourceType") in (None, kind)
        ]
        page, token = self._page(found, req, "Identifier")
        return {"TrafficSources": page, **({"NextToken": token} if token else {})}

    # -- scaling policies -----------------------------------------------------------------

    def put_scaling_policy(self, ctx: RequestContext, req: Json) -> Json:
        group = self.group(ctx, req["AutoScalingGroupName"])
        name = req["PolicyName"]
        kind = req.get("PolicyType") or "SimpleScaling"
        existing = self.policies.get(
            ctx.account_id, ctx.region, group["AutoScalingGroupName"], name
        )
        policy_arn = (
            existing["PolicyARN"]
            if existing
            else arn(
                "autoscaling",
                ctx.region,
                ctx.account_id,
                f"scalingPolicy:{uuid.uuid4()}:autoScalingGroupName/"
                f"{group['AutoScalingGroupName']}:policyName/{name}",
            )
        )
        doc: Json = {
            "AutoScalingGroupName": group["AutoScalingGroupName"],
            "PolicyName": name,
            "PolicyARN": policy_arn,
            "PolicyType": kind,
            "Enabled": req.get("Enabled", True),
            "Alarms": [],
        }
        if kind in ("SimpleScaling", "StepScaling"):
            adjustment = req.get("AdjustmentType")
            if adjustment not in scaling.ADJUSTMENT_TYPES:
                raise errors.ValidationError(
                    "AdjustmentType must be specified for SimpleScaling and StepScaling policies."
                    if adjustment is None
                    else f"Invalid adjustment type {adjustment}."
                )
            doc["AdjustmentType"] = adjustment
            for key in ("MinAdjustmentMagnitude", "MinAdjustmentStep"):
                if req.get(key) is not None:
                    doc[key] = req[key]
        if kind == "SimpleScaling":
            if req.get("ScalingAdjustment") is None:
                raise errors.ValidationError(
                    "ScalingAdjustment is required for SimpleScaling policy type."
                )
            doc["ScalingAdjustment"] = req["ScalingAdjustment"]
            if req.get("Cooldown") is not None:
                doc["Cooldown"] = req["Cooldown"]
        elif kind == "StepScaling":
            try:
                scaling.check_steps(req.get("StepAdjustments") or [])
            except scaling.PolicyError as exc:
                raise errors.ValidationError(str(exc)) from None
            doc["StepAdjustments"] = req["StepAdjustments"]
            doc["MetricAggregationType"] = req.get("MetricAggregationType") or "Average"
            if req.get("EstimatedInstanceWarmup") is not None:
                doc["EstimatedInstanceWarmup"] = req["EstimatedInstanceWarmup"]
        elif kind == "TargetTrackingScaling":
            config = req.get("TargetTrackingConfiguration")
            if not config:
                raise errors.ValidationError(
                    "TargetTrackingConfiguration is required for TargetTrackingScaling policy type."
                )
            doc["TargetTrackingConfiguration"] = {
                **config,
                "DisableScaleIn": bool(config.get("DisableScaleIn")),
            }
            if req.get("EstimatedInstanceWarmup") is not None:
                doc["EstimatedInstanceWarmup"] = req["EstimatedInstanceWarmup"]
            if existing:
                self._drop_alarms(ctx.account_id, ctx.region, existing)
            doc["Alarms"] = self._tracking_alarms(ctx, group, doc)
        else:
            raise errors.ValidationError(f"Unsupported policy type {kind}.")
        if existing:
            doc["Alarms"] = doc["Alarms"] or existing.get("Alarms") or []
        self.policies.put(
            ctx.account_id, ctx.region, (group["AutoScalingGroupName"], name), doc, arn=policy_arn
        )
        return {"PolicyARN": policy_arn, "Alarms": doc["Alarms"]}

    def _tracking_alarms(self, ctx: RequestContext, group: Json, doc: Json) -> list[Json]:
        config = doc["TargetTrackingConfiguration"]
        predefined = config.get("PredefinedMetricSpecification")
        if predefined:
            kind = predefined.get("PredefinedMetricType")
            if kind not in PREDEFINED:
                raise errors.ValidationError(f"Unsupported predefined metric type {kind}.")
            namespace, metric_name, stat = PREDEFINED[kind]
            dims = [{"Name": "AutoScalingGroupName", "Value": group["AutoScalingGroupName"]}]
            if kind == "ALBRequestCountPerTarget":
                label = predefined.get("ResourceLabel") or ""
                if "/targetgroup/" not in label:
                    raise errors.ValidationError(
                        "ResourceLabel must be specified for ALBRequestCountPerTarget."
                    )
                # app/<lb>/<id>/targetgroup/<tg>/<id>: the metric's TargetGroup is the tail.
                dims = [{"Name": "TargetGroup", "Value": label[label.index("targetgroup/") :]}]
            metric: Json = {
                "Namespace": namespace,
                "MetricName": metric_name,
                "Dimensions": dims,
                "Statistic": stat,
            }
        else:
            custom = config.get("CustomizedMetricSpecification") or {}
            if not custom.get("Metrics") and not custom.get("MetricName"):
                raise errors.ValidationError(
                    "Either PredefinedMetricSpecification or CustomizedMetricSpecification "
                    "must be specified."
                )
            metric = dict(custom)
            if custom.get("Metrics"):
                metric["Metrics"] = [self._query(q) for q in custom["Metrics"]]
        requests = scaling.tracking_alarms(
            f"TargetTracking-{group['AutoScalingGroupName']}",
            metric,
            float(config["TargetValue"]),
            doc["PolicyARN"],
            not config.get("DisableScaleIn"),
            f"Alarm for Auto Scaling policy {doc['PolicyName']} of group "
            f"{group['AutoScalingGroupName']}.",
        )
        made = []
        for request in requests:
            self.env.providers.invoke(
                "cloudwatch", "PutMetricAlarm", request, ctx.account_id, ctx.region
            )
            made.append(
                {
                    "AlarmName": request["AlarmName"],
                    "AlarmARN": arn(
                        "cloudwatch", ctx.region, ctx.account_id, f"alarm:{request['AlarmName']}"
                    ),
                }
            )
        return made

    @staticmethod
    def _query(q: Json) -> Json:
        """A target tracking metric query as PutMetricAlarm takes it (Period from the stat)."""
        out = {k: v for k, v in q.items() if k != "MetricStat"}
        if q.get("MetricStat"):
            stat = q["MetricStat"]
            out["MetricStat"] = {
                "Metric": stat["Metric"],
                "Stat": stat["Stat"],
                "Period": int(stat.get("Period") or 60),
            }
            if stat.get("Unit"):
                out["MetricStat"]["Unit"] = stat["Unit"]
        return out

    def _drop_alarms(self, account: str, region: str, policy: Json) -> None:
        names = [
            a["AlarmName"]
            for a in policy.get("Alarms") or ()
            if a["AlarmName"].startswith("TargetTracking-")
        ]
        if names:
            self.env.providers.invoke(
                "cloudwatch", "DeleteAlarms", {"AlarmNames": names}, account, region
            )

    def describe_policies(self, ctx: RequestContext, req: Json) -> Json:
        group = req.get("AutoScalingGroupName")
        docs = (
            self.policies.all(ctx.account_id, ctx.region, group)
            if group
            else self.policies.all(ctx.account_id, ctx.region)
        )
        names = req.get("PolicyNames") or []
        if names:
            docs = [d for d in docs if d["PolicyName"] in names or d["PolicyARN"] in names]
        kinds = req.get("PolicyTypes") or []
        if kinds:
            docs = [d for d in docs if d["PolicyType"] in kinds]
        page, token = self._page(docs, req, "PolicyARN", limit=50)
        out = [{k: v for k, v in d.items() if not k.startswith("_")} for d in page]
        for policy in out:
            if policy["PolicyType"] != "TargetTrackingScaling":
                policy["Alarms"] = self._alarms_naming(ctx, policy["PolicyARN"])
        return {"ScalingPolicies": out, **({"NextToken": token} if token else {})}

    def _alarms_naming(self, ctx: RequestContext, policy_arn: str) -> list[Json]:
        """The CloudWatch alarms whose actions run the policy (what AWS lists as its Alarms)."""
        try:
            found = self.env.providers.invoke(
                "cloudwatch",
                "DescribeAlarms",
                {"ActionPrefix": policy_arn},
                ctx.account_id,
                ctx.region,
            )
        except Exception:
            return []
        return [
            {"AlarmName": a["AlarmName"], "AlarmARN": a["AlarmArn"]}
            for a in found.get("MetricAlarms") or ()
        ]

    def delete_policy(self, ctx: RequestContext, req: Json) -> Json:
        policy = self.policy(
            ctx.account_id, ctx.region, req.get("AutoScalingGroupName"), req["PolicyName"]
        )
        self._drop_alarms(ctx.account_id, ctx.region, policy)
        self.policies.delete(
            ctx.account_id, ctx.region, policy["AutoScalingGroupName"], policy["PolicyName"]
        )
        return {}

    def policy(self, account: str, region: str, group: str | None, name: str) -> Json:
        if name.startswith("arn:"):
            row = self.store.query_one(
                "SELECT doc FROM asg_policies WHERE account = ? AND region = ? AND arn = ?",
                (account, region, name),
            )
            found = None if row is None else json.loads(row["doc"])
        else:
            found = self.policies.get(account, region, group or "", name)
        if found is None:
            raise errors.ValidationError(f"Policy {name} not found.")
        return dict(found)

    def execute_policy(self, ctx: RequestContext, req: Json) -> Json:
        policy = self.policy(
            ctx.account_id, ctx.region, req.get("AutoScalingGroupName"), req["PolicyName"]
        )
        group = self.group(ctx, policy["AutoScalingGroupName"])
        self.run_policy(
            ctx.account_id, ctx.region, group, policy, req, by_alarm=ctx.protocol == "internal"
        )
        return {}

    # -- scheduled actions ----------------------------------------------------------------

    def put_scheduled_update_group_action(self, ctx: RequestContext, req: Json) -> Json:
        group = self.group(ctx, req["AutoScalingGroupName"])
        self._put_scheduled(ctx, group, req)
        return {}

    def _put_scheduled(self, ctx: RequestContext, group: Json, req: Json) -> None:
        name = group["AutoScalingGroupName"]
        action = req["ScheduledActionName"]
        if all(req.get(k) is None for k in ("MinSize", "MaxSize", "DesiredCapacity")):
            raise errors.ValidationError(
                "At least one of MinSize, MaxSize and DesiredCapacity must be specified."
            )
        start = req.get("StartTime") or req.get("Time")
        doc: Json = {
            "AutoScalingGroupName": name,
            "ScheduledActionName": action,
            "ScheduledActionARN": arn(
                "autoscaling",
                ctx.region,
                ctx.account_id,
                f"scheduledUpdateGroupAction:{uuid.uuid4()}:autoScalingGroupName/{name}:"
                f"scheduledActionName/{action}",
            ),
        }
        for key in ("MinSize", "MaxSize", "DesiredCapacity", "Recurrence", "TimeZone"):
            if req.get(key) is not None:
                doc[key] = req[key]
        if start is not None:
            doc["StartTime"] = _epoch(start)
            doc["Time"] = doc["StartTime"]
        if req.get("EndTime") is not None:
            doc["EndTime"] = _epoch(req["EndTime"])
        try:
            due = next_run(doc, clock.now())
        except ValueError as exc:
            raise errors.ValidationError(str(exc)) from None
        if due is None and not doc.get("Recurrence"):
            raise errors.ValidationError("Given start time is in the past.")
        self.scheduled.put(ctx.account_id, ctx.region, (name, action), doc, due=due)

    def batch_put_scheduled_update_group_action(self, ctx: RequestContext, req: Json) -> Json:
        group = self.group(ctx, req["AutoScalingGroupName"])
        failed = []
        for action in req.get("ScheduledUpdateGroupActions") or ():
            try:
                self._put_scheduled(ctx, group, action)
            except Exception as exc:
                failed.append(
                    {
                        "ScheduledActionName": action["ScheduledActionName"],
                        "ErrorCode": getattr(exc, "code", "ValidationError"),
                        "ErrorMessage": str(getattr(exc, "message", exc)),
                    }
                )
        return {"FailedScheduledUpdateGroupActions": failed}

    def describe_scheduled_actions(self, ctx: RequestContext, req: Json) -> Json:
        group = req.get("AutoScalingGroupName")
        docs = (
            self.scheduled.all(ctx.account_id, ctx.region, group)
            if group
            else self.scheduled.all(ctx.account_id, ctx.region)
        )
        names = req.get("ScheduledActionNames") or []
        if names:
            docs = [d for d in docs if d["ScheduledActionName"] in names]
        page, token = self._page(docs, req, "ScheduledActionARN")
        return {"ScheduledUpdateGroupActions": page, **({"NextToken": token} if token else {})}

    def delete_scheduled_action(self, ctx: RequestContext, req: Json) -> Json:
        name, action = req["AutoScalingGroupName"], req["ScheduledActionName"]
        if self.scheduled.get(ctx.account_id, ctx.region, name, action) is None:
            raise errors.ValidationError(f"Scheduled action name not found - {action}")
        self.scheduled.delete(ctx.account_id, ctx.region, name, action)
        return {}

    def batch_delete_scheduled_action(self, ctx: RequestContext, req: Json) -> Json:
        name = req["AutoScalingGroupName"]
        failed = []
        for action in req.get("ScheduledActionNames") or ():
            if self.scheduled.get(ctx.account_id, ctx.region, name, action) is None:
                failed.append(
                    {
                        "ScheduledActionName": action,
                        "ErrorCode": "ValidationError",
                        "ErrorMessage": f"Scheduled action name not found - {action}",
                    }
                )
            else:
                self.scheduled.delete(ctx.account_id, ctx.region, name, action)
        return {"FailedScheduledActions": failed}

    # -- activities -----------------------------------------------------------------------

    def describe_scaling_activities(self, ctx: RequestContext, req: Json) -> Json:
        group = req.get("AutoScalingGroupName")
        docs = self.activities.list(ctx.account_id, ctx.region, group)
        ids = req.get("ActivityIds") or []
        if ids:
            docs = [d for d in docs if d["ActivityId"] in ids]
        try:
            page, token = paginate(
                docs,
                req.get("MaxRecords") or 100,
                req.get("NextToken"),
                lambda d: (-d["StartTime"], d["ActivityId"]),
            )
        except (InvalidToken, TypeError):
            raise errors.InvalidNextToken("The token is invalid.") from None
        return {"Activities": page, **({"NextToken": token} if token else {})}

    def _activity_out(self, ctx: RequestContext, activity_id: str) -> Json:
        row = self.store.query_one(
            "SELECT doc FROM asg_activities WHERE account = ? AND region = ? AND id = ?",
            (ctx.account_id, ctx.region, activity_id),
        )
        return dict(json.loads(row["doc"])) if row else {}

    # -- processes, metrics, tags, notifications ------------------------------------------

    def suspend_processes(self, ctx: RequestContext, req: Json) -> Json:
        self._processes(ctx, req, suspend=True)
        return {}

    def resume_processes(self, ctx: RequestContext, req: Json) -> Json:
        self._processes(ctx, req, suspend=False)
        return {}

    def _processes(self, ctx: RequestContext, req: Json, suspend: bool) -> None:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        names = req.get("ScalingProcesses") or list(PROCESSES)
        for n in names:
            if n not in PROCESSES:
                raise errors.ValidationError(f"Process {n} is not a valid scaling process.")
        current = {p["ProcessName"]: p for p in doc.get("SuspendedProcesses") or ()}
        for n in names:
            if suspend:
                current.setdefault(
                    n,
                    {
                        "ProcessName": n,
                        "SuspensionReason": "User suspended at " + stamp(clock.now()),
                    },
                )
            else:
                current.pop(n, None)
        doc["SuspendedProcesses"] = sorted(current.values(), key=lambda p: p["ProcessName"])
        self.groups.put(ctx.account_id, ctx.region, (doc["AutoScalingGroupName"],), doc)

    def describe_scaling_process_types(self, ctx: RequestContext, req: Json) -> Json:
        return {"Processes": [{"ProcessName": p} for p in PROCESSES]}

    def enable_metrics_collection(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        names = req.get("Metrics") or list(GROUP_METRICS)
        for n in names:
            if n not in GROUP_METRICS:
                raise errors.ValidationError(f"Metric {n} is not a valid group metric.")
        current = {m["Metric"] for m in doc.get("EnabledMetrics") or ()} | set(names)
        doc["EnabledMetrics"] = [
            {"Metric": m, "Granularity": req.get("Granularity") or "1Minute"}
            for m in sorted(current)
        ]
        self.groups.put(ctx.account_id, ctx.region, (doc["AutoScalingGroupName"],), doc)
        return {}

    def disable_metrics_collection(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        names = set(req.get("Metrics") or GROUP_METRICS)
        doc["EnabledMetrics"] = [
            m for m in doc.get("EnabledMetrics") or () if m["Metric"] not in names
        ]
        self.groups.put(ctx.account_id, ctx.region, (doc["AutoScalingGroupName"],), doc)
        return {}

    def describe_metric_collection_types(self, ctx: RequestContext, req: Json) -> Json:
        return {
            "Metrics": [{"Metric": m} for m in GROUP_METRICS],
            "Granularities": [{"Granularity": "1Minute"}],
        }

    def create_or_update_tags(self, ctx: RequestContext, req: Json) -> Json:
        self._put_tags(ctx, req["Tags"])
        return {}

    def _put_tags(self, ctx: RequestContext, tags: list[Json]) -> None:
        for tag in tags:
            doc = self.group(ctx, tag.get("ResourceId") or "")
            key = str(tag["Key"])
            if key.lower().startswith("aws:") and not reserved_allowed(key):
                raise errors.ValidationError("Tag keys starting with 'aws:' are reserved.")
            kept = [t for t in doc.get("Tags") or () if t["Key"] != tag["Key"]]
            kept.append(
                {
                    "ResourceId": doc["AutoScalingGroupName"],
                    "ResourceType": "auto-scaling-group",
                    "Key": tag["Key"],
                    "Value": tag.get("Value") or "",
                    "PropagateAtLaunch": bool(tag.get("PropagateAtLaunch")),
                }
            )
            if len(kept) > 50:
                raise errors.LimitExceededFault(
                    "The quota for tags per Auto Scaling group (50) has been reached."
                )
            doc["Tags"] = sorted(kept, key=lambda t: t["Key"])
            self.groups.put(ctx.account_id, ctx.region, (doc["AutoScalingGroupName"],), doc)

    def delete_tags(self, ctx: RequestContext, req: Json) -> Json:
        for tag in req["Tags"]:
            # ResourceId is optional in the model: a tag without one names no group.
            doc = self.group(ctx, tag.get("ResourceId") or "")
            doc["Tags"] = [t for t in doc.get("Tags") or () if t["Key"] != tag["Key"]]
            self.groups.put(ctx.account_id, ctx.region, (doc["AutoScalingGroupName"],), doc)
        return {}

    def describe_tags(self, ctx: RequestContext, req: Json) -> Json:
        tags = [t for d in self.groups.all(ctx.account_id, ctx.region) for t in d.get("Tags") or ()]
        for f in req.get("Filters") or ():
            field = {
                "auto-scaling-group": "ResourceId",
                "key": "Key",
                "value": "Value",
                "propagate-at-launch": "PropagateAtLaunch",
            }.get(f.get("Name") or "")
            if field is None:
                raise errors.ValidationError(f"Filter {f.get('Name')} is not supported.")
            values = f.get("Values") or []
            tags = [
                t
                for t in tags
                if str(t[field]).lower() in [v.lower() for v in values] or t[field] in values
            ]
        try:
            page, token = paginate(
                tags,
                req.get("MaxRecords") or 50,
                req.get("NextToken"),
                lambda t: (t["ResourceId"], t["Key"]),
            )
        except (InvalidToken, TypeError):
            raise errors.InvalidNextToken("The token is invalid.") from None
        return {"Tags": page, **({"NextToken": token} if token else {})}

    def put_notification_configuration(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        kept = {k: v for k, v in (doc.get("_notifications") or {}).items() if k != req["TopicARN"]}
        for kind in req["NotificationTypes"]:
            if kind not in NOTIFICATION_TYPES:
                raise errors.ValidationError(f"Notification type {kind} is not valid.")
        kept[req["TopicARN"]] = list(req["NotificationTypes"])
        doc["_notifications"] = kept
        self.groups.put(ctx.account_id, ctx.region, (doc["AutoScalingGroupName"],), doc)
        name = doc["AutoScalingGroupName"]
        test = {
            "AccountId": ctx.account_id,
            "RequestId": ctx.request_id,
            "AutoScalingGroupARN": doc["AutoScalingGroupARN"],
            "AutoScalingGroupName": name,
            "Service": "AWS Auto Scaling",
            "Event": "autoscaling:TEST_NOTIFICATION",
            "Time": stamp(clock.now()),
        }
        try:
            self.env.providers.invoke(
                "sns",
                "Publish",
                {
                    "TopicArn": req["TopicARN"],
                    "Subject": f'Auto Scaling: test notification for group "{name}"',
                    "Message": json.dumps(test),
                },
                ctx.account_id,
                ctx.region,
            )
        except Exception:
            raise errors.ValidationError(
                f"Topic {req['TopicARN']} does not exist or cannot be published to."
            ) from None
        return {}

    def delete_notification_configuration(self, ctx: RequestContext, req: Json) -> Json:
        doc = self.group(ctx, req["AutoScalingGroupName"])
        (doc.get("_notifications") or {}).pop(req["TopicARN"], None)
        self.groups.put(ctx.account_id, ctx.region, (doc["AutoScalingGroupName"],), doc)
        return {}

    def describe_notification_configurations(self, ctx: RequestContext, req: Json) -> Json:
        names = req.get("AutoScalingGroupNames") or []
        out: list[Json] = []
        for doc in self.groups.all(ctx.account_id, ctx.region):
            if names and doc["AutoScalingGroupName"] not in names:
                continue
            for topic, kinds in sorted((doc.get("_notifications") or {}).items()):
                out.extend(
                    {
                        "AutoScalingGroupName": doc["AutoScalingGroupName"],
                        "TopicARN": topic,
                        "NotificationType": k,
                    }
                    for k in kinds
                )
        return {"NotificationConfigurations": out}

    def describe_auto_scaling_notification_types(self, ctx: RequestContext, req: Json) -> Json:
        return {"AutoScalingNotificationTypes": list(NOTIFICATION_TYPES)}

    def describe_adjustment_types(self, ctx: RequestContext, req: Json) -> Json:
        return {"AdjustmentTypes": [{"AdjustmentType": t} for t in scaling.ADJUSTMENT_TYPES]}

    def describe_termination_policy_types(self, ctx: RequestContext, req: Json) -> Json:
        return {"TerminationPolicyTypes": list(termination.POLICIES)}

    def describe_account_limits(self, ctx: RequestContext, req: Json) -> Json:
        return {
            "MaxNumberOfAutoScalingGroups": 500,
            "MaxNumberOfLaunchConfigurations": 200,
            "NumberOfAutoScalingGroups": len(self.groups.all(ctx.account_id, ctx.region)),
            "NumberOfLaunchConfigurations": len(self.configs.all(ctx.account_id, ctx.region)),
        }


NOTIFICATION_TYPES = (
    "autoscaling:EC2_INSTANCE_LAUNCH",
    "autoscaling:EC2_INSTANCE_LAUNCH_ERROR",
    "autoscaling:EC2_INSTANCE_TERMINATE",
    "autoscaling:EC2_INSTANCE_TERMINATE_ERROR",
    "autoscaling:TEST_NOTIFICATION",
)


def _epoch(value: Any) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else float(value)
