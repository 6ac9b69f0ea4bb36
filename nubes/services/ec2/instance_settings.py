"""Settings of a launched instance with calls of their own: the instance profile association,
the CPU credit option of burstable (T) instances, and the launch template data an instance
would make."""

from __future__ import annotations

from typing import Any

from nubes.core.context import RequestContext
from nubes.services.ec2 import instance_types
from nubes.services.ec2.common import stamp
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.instances import InstanceMixin
from nubes.services.ec2.model import Record, Scope

ASSOCIATION_FILTERS = Filters({"instance-id": "InstanceId", "state": "State"}, tags=False)
CREDIT_FILTERS = Filters({"instance-id": "InstanceId"}, tags=False)


def default_credits(instance_type: str) -> str:
    """T2 instances launch as standard, later T families as unlimited."""
    return "standard" if instance_type.startswith("t2.") else "unlimited"


def burstable(instance_type: str) -> bool:
    info = instance_types.catalogue().get(instance_type)
    return bool(info and info["BurstablePerformanceSupported"])


class InstanceSettingsMixin(InstanceMixin):
    # -- instance profile associations --------------------------------------------------

    def _association_doc(self, record: Record) -> dict[str, Any] | None:
        association = record.meta.get("profile_association")
        profile = record.doc.get("IamInstanceProfile")
        if not association or not profile:
            return None
        return {"AssociationId": association["AssociationId"], "InstanceId": record.id,
                "IamInstanceProfile": profile, "State": association["State"],
                "Timestamp": association["Timestamp"]}  # fmt: skip

    def _associate(self, scope: Scope, record: Record, given: dict[str, Any]) -> dict[str, Any]:
        profile = self._instance_profile(scope, given)
        if profile is None:
            raise errors("InvalidParameterValue", "An instance profile Arn or Name is required")
        record.doc["IamInstanceProfile"] = {"Arn": profile["Arn"], "Id": profile["Id"]}
        record.meta["profile"] = profile["Name"]
        record.meta["profile_association"] = {
            "AssociationId": self.new_id("iip-assoc"), "State": "associated", "Timestamp": stamp()
        }  # fmt: skip
        self.save(scope, record)
        doc = self._association_doc(record)
        assert doc is not None
        return doc

    def _by_association(self, scope: Scope, association_id: str) -> Record:
        for record in self.res.all(scope, "i"):
            found = record.meta.get("profile_association") or {}
            if found.get("AssociationId") == association_id:
                return record
        raise errors(
            "InvalidAssociationID.NotFound",
            f"An association with ID {association_id} does not exist",
        )

    def associate_iam_instance_profile(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        record = self.find(scope, "i", params["InstanceId"])
        if record.doc.get("IamInstanceProfile"):
            raise errors(
                "IncorrectState", f"There is an existing association for instance {record.id}"
            )
        if record.doc["State"]["Name"] not in ("pending", "running", "stopping", "stopped"):
            raise errors(
                "IncorrectInstanceState",
                f"The instance '{record.id}' is not in a valid state for this operation.",
            )
        return {"IamInstanceProfileAssociation": self._associate(
            scope, record, params["IamInstanceProfile"])}  # fmt: skip

    def replace_iam_instance_profile_association(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        record = self._by_association(scope, params["AssociationId"])
        return {"IamInstanceProfileAssociation": self._associate(
            scope, record, params["IamInstanceProfile"])}  # fmt: skip

    def disassociate_iam_instance_profile(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        record = self._by_association(scope, params["AssociationId"])
        doc = self._association_doc(record)
        assert doc is not None
        record.doc.pop("IamInstanceProfile", None)
        record.meta["profile"] = None
        record.meta.pop("profile_association", None)
        self.save(scope, record)
        return {"IamInstanceProfileAssociation": {**doc, "State": "disassociating"}}

    def describe_iam_instance_profile_associations(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        wanted = set(params.get("AssociationIds") or ())
        docs = []
        for record in self.res.all(scope, "i"):
            doc = self._association_doc(record)
            if doc and (not wanted or doc["AssociationId"] in wanted):
                docs.append(doc)
        missing = wanted - {d["AssociationId"] for d in docs}
        if missing:
            raise errors(
                "InvalidAssociationID.NotFound",
                f"An association with ID {sorted(missing)[0]} does not exist",
            )
        check = ASSOCIATION_FILTERS.compile(params.get("Filters"))
        return {"IamInstanceProfileAssociations": [d for d in docs if check(d)]}

    # -- maintenance --------------------------------------------------------------------

    def modify_instance_maintenance_options(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        record = self.find(scope, "i", params["InstanceId"])
        recovery = params.get("AutoRecovery")
        if recovery not in (None, "default", "disabled"):
            raise errors(
                "InvalidParameterValue",
                f"Value ({recovery}) for parameter AutoRecovery is invalid.",
            )
        self.dry_run(params)
        if recovery:
            record.doc["MaintenanceOptions"]["AutoRecovery"] = recovery
            self.save(scope, record)
        return {
            "InstanceId": record.id,
            "AutoRecovery": record.doc["MaintenanceOptions"]["AutoRecovery"],
        }

    # -- CPU credits --------------------------------------------------------------------

    def describe_instance_credit_specifications(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        ids = params.get("InstanceIds") or []
        records = [self.find(scope, "i", i) for i in ids] if ids else self.res.all(scope, "i")
        docs = []
        for record in records:
            itype = record.doc["InstanceType"]
            if not burstable(itype):
                if ids:
                    raise errors(
                        "UnsupportedOperation",
                        f"The instance type {itype} does not support the CPU credit option.",
                    )
                continue
            credits = record.meta.get("cpu_credits") or default_credits(itype)
            docs.append({"InstanceId": record.id, "CpuCredits": credits})
        check = CREDIT_FILTERS.compile(params.get("Filters"))
        self.dry_run(params)
        return {"InstanceCreditSpecifications": [d for d in docs if check(d)]}

    def modify_instance_credit_specification(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        done, failed = [], []
        self.dry_run(params)
        for spec in params.get("InstanceCreditSpecifications") or ():
            iid = spec.get("InstanceId") or ""
            credits = spec.get("CpuCredits") or ""
            record = self.res.get(scope, "i", iid)
            if record is None:
                failed.append({"InstanceId": iid, "Error": {
                    "Code": "InvalidInstanceID.NotFound",
                    "Message": f"The instance ID '{iid}' does not exist"}})  # fmt: skip
            elif credits not in ("standard", "unlimited") or not burstable(
                record.doc["InstanceType"]
            ):
                failed.append(
                    {
                        "InstanceId": iid,
                        "Error": {
                            "Code": "InvalidParameterValue",
                            "Message": f"The CPU credit option '{credits}' is not valid for {iid}",
                        },
                    }
                )
            else:
                record.meta["cpu_credits"] = credits
                self.save(scope, record)
                done.append({"InstanceId": iid})
        return {"SuccessfulInstanceCreditSpecifications": done,
                "UnsuccessfulInstanceCreditSpecifications": failed}  # fmt: skip

    # -- launch template data -----------------------------------------------------------

    def get_launch_template_data(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        record = self.find(scope, "i", params["InstanceId"])
        self.dry_run(params)
        doc, meta = record.doc, record.meta
        data: dict[str, Any] = {
            "ImageId": doc["ImageId"], "InstanceType": doc["InstanceType"],
            "EbsOptimized": doc["EbsOptimized"],
            "Monitoring": {"Enabled": doc["Monitoring"]["State"] == "enabled"},
            "Placement": {"AvailabilityZone": doc["Placement"]["AvailabilityZone"],
                          "GroupName": doc["Placement"]["GroupName"],
                          "Tenancy": doc["Placement"]["Tenancy"]},
            "DisableApiTermination": meta["disable_api_termination"],
            "InstanceInitiatedShutdownBehavior": meta["shutdown_behavior"],
            "MetadataOptions": {k: v for k, v in doc["MetadataOptions"].items() if k != "State"},
            "NetworkInterfaces": [{
                "DeviceIndex": n["Attachment"]["DeviceIndex"], "SubnetId": n.get("SubnetId"),
                "Groups": [g["GroupId"] for g in n.get("Groups", ())],
                "PrivateIpAddress": n.get("PrivateIpAddress"),
                "DeleteOnTermination": n["Attachment"].get("DeleteOnTermination", False),
                "AssociatePublicIpAddress": bool(meta.get("wants_public")),
            } for n in doc["NetworkInterfaces"]],
            "BlockDeviceMappings": [],
        }  # fmt: skip
        for mapping in doc["BlockDeviceMappings"]:
            volume = self.res.get(scope, "vol", mapping["Ebs"]["VolumeId"])
            if volume is None:
                continue
            ebs = {"VolumeSize": volume.doc["Size"], "VolumeType": volume.doc["VolumeType"],
                   "DeleteOnTermination": mapping["Ebs"]["DeleteOnTermination"],
                   "Encrypted": volume.doc["Encrypted"]}  # fmt: skip
            for key in ("Iops", "Throughput"):
                if key in volume.doc:
                    ebs[key] = volume.doc[key]
            data["BlockDeviceMappings"].append({"DeviceName": mapping["DeviceName"], "Ebs": ebs})
        if doc.get("KeyName"):
            data["KeyName"] = doc["KeyName"]
        if meta.get("user_data"):
            data["UserData"] = meta["user_data"]
        if doc.get("IamInstanceProfile"):
            data["IamInstanceProfile"] = {"Arn": doc["IamInstanceProfile"]["Arn"]}
        if burstable(doc["InstanceType"]):
            data["CreditSpecification"] = {
                "CpuCredits": meta.get("cpu_credits") or default_credits(doc["InstanceType"])
            }
        tags = [t for t in self.tag_list(scope, record.id) if not t["Key"].startswith("aws:")]
        if tags:
            data["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tags}]
        return {"LaunchTemplateData": data}
