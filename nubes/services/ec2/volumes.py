"""EBS volumes and snapshots. A volume's data is a directory of its own under the data
directory (the instance sees it at ``/mnt/<device>``); a snapshot copies it, a volume made
from a snapshot copies it back. Sizes, IOPS and throughput are checked against each volume
type's limits as the EBS documentation gives them."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nubes.core import arns
from nubes.core.context import RequestContext
from nubes.services.ec2 import regions
from nubes.services.ec2.common import Ec2Base, stamp
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.model import Record, Scope

MULTI_ATTACH_MAX = 16
_DEVICE = re.compile(r"^/dev/(sd[a-z][1-9]?|xvd[a-z]{1,2}[1-9]?|sd[a-z]{2})$")


@dataclass(frozen=True)
class VolumeType:
    min_size: int
    max_size: int
    iops: tuple[int, int] | None = None
    """Allowed provisioned IOPS (None: not settable)."""
    iops_per_gib: int = 0
    default_iops: int | None = None
    throughput: tuple[int, int] | None = None
    default_throughput: int | None = None


VOLUME_TYPES = {
    "gp2": VolumeType(1, 16384),
    "gp3": VolumeType(1, 16384, (3000, 16000), 500, 3000, (125, 1000), 125),
    "io1": VolumeType(4, 16384, (100, 64000), 50),
    "io2": VolumeType(4, 65536, (100, 256000), 1000),
    "st1": VolumeType(125, 16384),
    "sc1": VolumeType(125, 16384),
    "standard": VolumeType(1, 1024),
}

VOLUME_FILTERS = Filters(
    {
        "attachment.attach-time": "@Attachments.AttachTime",
        "attachment.delete-on-termination": "Attachments.DeleteOnTermination",
        "attachment.device": "Attachments.Device",
        "attachment.instance-id": "Attachments.InstanceId",
        "attachment.status": "Attachments.State",
        "availability-zone": "AvailabilityZone",
        "create-time": "@CreateTime",
        "encrypted": "Encrypted",
        "multi-attach-enabled": "MultiAttachEnabled",
        "size": "Size",
        "snapshot-id": "SnapshotId",
        "status": "State",
        "volume-id": "VolumeId",
        "volume-type": "VolumeType",
        "iops": "Iops",
        "throughput": "Throughput",
    }
)
MODIFICATION_FILTERS = Filters(
    {
        "modification-state": "ModificationState",
        "original-size": "OriginalSize",
        "original-volume-type": "OriginalVolumeType",
        "target-size": "TargetSize",
        "target-volume-type": "TargetVolumeType",
        "target-iops": "TargetIops",
        "volume-id": "VolumeId",
        "start-time": "@StartTime",
    },
    tags=False,
)
SNAPSHOT_FILTERS = Filters(
    {
        "description": "Description",
        "encrypted": "Encrypted",
        "owner-alias": "OwnerAlias",
        "owner-id": "OwnerId",
        "progress": "Progress",
        "snapshot-id": "SnapshotId",
        "start-time": "@StartTime",
        "status": "State",
        "storage-tier": "StorageTier",
        "volume-id": "VolumeId",
        "volume-size": "VolumeSize",
    }
)


def gp2_iops(size: int) -> int:
    return min(16000, max(100, 3 * size))


def check_volume(
    volume_type: str, size: int, iops: int | None, throughput: int | None
) -> tuple[int | None, int | None]:
    """The IOPS and throughput a volume gets, or AWS's error for what it may not have."""
    spec = VOLUME_TYPES.get(volume_type)
    if spec is None:
        raise errors(
            "InvalidParameterValue",
            f"Value ({volume_type}) for parameter volumeType is invalid. Valid types: "
            f"{', '.join(VOLUME_TYPES)}.",
        )
    if size < spec.min_size:
        raise errors(
            "InvalidParameterValue",
            f"Volume of {size}GiB is too small; minimum is {spec.min_size}GiB.",
        )
    if size > spec.max_size:
        raise errors(
            "InvalidParameterValue",
            f"Volume of {size}GiB is too large; maximum is {spec.max_size}GiB.",
        )
    if spec.iops is None:
        if iops is not None:
            raise errors(
                "InvalidParameterCombination",
                f"The parameter iops is not supported for {volume_type} volumes.",
            )
        out_iops = gp2_iops(size) if volume_type == "gp2" else None
    else:
        if iops is None:
            if spec.default_iops is None:
                raise errors(
                    "MissingParameter",
                    f"The request must contain the parameter iops for {volume_type} volumes.",
                )
            iops = spec.default_iops
        lo, hi = spec.iops
        if iops < lo:
            raise errors(
                "InvalidParameterValue", f"Volume iops of {iops} is too low; minimum is {lo}."
            )
        if iops > hi:
            raise errors(
                "InvalidParameterValue", f"Volume iops of {iops} is too high; maximum is {hi}."
            )
        if iops > size * spec.iops_per_gib and iops > (spec.default_iops or 0):
            raise errors(
                "InvalidParameterValue",
                f"Iops to volume size ratio of {iops / size:g} is too high; maximum is "
                f"{spec.iops_per_gib}.",
            )
        out_iops = iops
    if spec.throughput is None:
        if throughput is not None:
            raise errors(
                "InvalidParameterCombination",
                f"The parameter throughput is not supported for {volume_type} volumes.",
            )
        return out_iops, None
    throughput = spec.default_throughput if throughput is None else throughput
    assert throughput is not None and out_iops is not None
    lo, hi = spec.throughput
    if not lo <= throughput <= hi:
        raise errors(
            "InvalidParameterValue",
            f"Throughput ({throughput}) must be between {lo} and {hi} MiB/s.",
        )
    if throughput > out_iops / 4:
        raise errors(
            "InvalidParameterValue",
            f"Throughput ({throughput} MiB/s) is too high for {out_iops} IOPS; the "
            "maximum is 0.25 MiB/s per provisioned IOPS.",
        )
    return out_iops, throughput


def check_device(device: str) -> None:
    if not _DEVICE.match(device):
        raise errors(
            "InvalidParameterValue",
            f"Value ({device}) for parameter device is invalid. {device} is not a "
            "valid EBS device name.",
        )


class VolumeMixin(Ec2Base):
    # -- storage ------------------------------------------------------------------------

    def data_dir(self, kind: str, rid: str) -> Path:
        return Path(self.blobs.root) / "ec2" / kind / rid

    def _copy_data(self, source: Path, target: Path) -> None:
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            target.mkdir()

    # -- volumes ------------------------------------------------------------------------

    def new_volume(
        self,
        scope: Scope,
        zone: str,
        size: int | None,
        volume_type: str = "gp3",
        iops: int | None = None,
        throughput: int | None = None,
        snapshot_id: str | None = None,
        encrypted: bool = False,
        kms_key: str | None = None,
        multi_attach: bool = False,
    ) -> Record:
        snapshot = self.find(scope, "snap", snapshot_id) if snapshot_id else None
        if size is None:
            if snapshot is None:
                raise errors(
                    "MissingParameter", "The request must contain the parameter size or snapshotId"
                )
            size = int(snapshot.doc["VolumeSize"])
        elif snapshot is not None and size < snapshot.doc["VolumeSize"]:
            raise errors(
                "InvalidParameterValue",
                f"Volume of {size}GiB is smaller than snapshot '{snapshot.id}', expect "
                f"size >= {snapshot.doc['VolumeSize']}GiB",
            )
        out_iops, out_throughput = check_volume(volume_type, size, iops, throughput)
        if multi_attach and volume_type not in ("io1", "io2"):
            raise errors(
                "InvalidParameterCombination",
                f"Multi-Attach is not supported for {volume_type} volumes.",
            )
        vid = self.new_id("vol")
        doc: dict[str, Any] = {
            "VolumeId": vid,
            "Size": size,
            "SnapshotId": snapshot_id or "",
            "AvailabilityZone": zone,
            "State": "available",
            "CreateTime": stamp(),
            "Attachments": [],
            "VolumeType": volume_type,
            "Encrypted": bool(encrypted),
            "MultiAttachEnabled": bool(multi_attach),
        }
        if snapshot is not None:
            encrypted = encrypted or snapshot.doc["Encrypted"]
            doc["Encrypted"] = encrypted
        if encrypted:
            doc["KmsKeyId"] = kms_key or (
                arns.arn("kms", scope.region, scope.account, "alias/aws/ebs")
            )
        if out_iops is not None:
            doc["Iops"] = out_iops
        if out_throughput is not None:
            doc["Throughput"] = out_throughput
        record = Record("vol", vid, doc, {})
        self.save(scope, record)
        source = self.data_dir("snapshots", snapshot.id) if snapshot else Path("/nonexistent")
        self._copy_data(source, self.data_dir("volumes", vid))
        return record

    def _volume_zone(self, scope: Scope, zone: str | None) -> str:
        if not zone:
            raise errors(
                "MissingParameter", "The request must contain the parameter availabilityZone"
            )
        if regions.zone_id(scope.region, zone) is None:
            raise errors("InvalidZone.NotFound", f"The zone '{zone}' does not exist.")
        return zone

    def create_volume(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        zone = params.get("AvailabilityZone")
        if not zone and params.get("AvailabilityZoneId"):
            zone = next(
                (n for n, z in regions.zones(scope.region) if z == params["AvailabilityZoneId"]),
                None,
            )
        zone = self._volume_zone(scope, zone)
        tags = self.tag_specs(params, "volume")
        if params.get("DryRun"):
            check_volume(
                params.get("VolumeType") or "gp3",
                params.get("Size") or 8,
                params.get("Iops"),
                params.get("Throughput"),
            )
            self.dry_run(params)
        volume = self.new_volume(
            scope,
            zone,
            params.get("Size"),
            params.get("VolumeType") or "gp3",
            params.get("Iops"),
            params.get("Throughput"),
            params.get("SnapshotId"),
            bool(params.get("Encrypted")),
            params.get("KmsKeyId"),
            bool(params.get("MultiAttachEnabled")),
        )
        self.tag(scope, volume.id, tags)
        doc = self.with_tags(scope, [volume])[0]
        return {**doc, "State": "creating"}

    def delete_volume(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        volume = self.find(scope, "vol", params["VolumeId"])
        if volume.doc["Attachments"]:
            raise errors(
                "VolumeInUse",
                f"Volume {volume.id} is currently attached to "
                f"{volume.doc['Attachments'][0]['InstanceId']}",
            )
        self.dry_run(params)
        self.drop_volume(scope, volume.id)
        return {}

    def drop_volume(self, scope: Scope, volume_id: str) -> None:
        self.res.delete(scope, "vol", volume_id)
        shutil.rmtree(self.data_dir("volumes", volume_id), ignore_errors=True)

    def describe_volumes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        docs, token = self.describe_kind(
            scope, "vol", params, VOLUME_FILTERS, "VolumeIds", default_limit=500
        )
        return {"Volumes": docs, **({"NextToken": token} if token else {})}

    def modify_volume(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        volume = self.find(scope, "vol", params["VolumeId"])
        doc = volume.doc
        size = params.get("Size") or doc["Size"]
        if size < doc["Size"]:
            raise errors(
                "InvalidParameterValue",
                f"New size cannot be smaller than existing size ({doc['Size']}GiB)",
            )
        volume_type = params.get("VolumeType") or doc["VolumeType"]
        iops = params.get("Iops")
        if iops is None and volume_type == doc["VolumeType"]:
            iops = doc.get("Iops") if VOLUME_TYPES[volume_type].iops else None
        throughput = params.get("Throughput")
        if throughput is None and volume_type == doc["VolumeType"]:
            throughput = doc.get("Throughput")
        out_iops, out_throughput = check_volume(volume_type, size, iops, throughput)
        if params.get("MultiAttachEnabled") and volume_type not in ("io1", "io2"):
            raise errors(
                "InvalidParameterCombination",
                f"Multi-Attach is not supported for {volume_type} volumes.",
            )
        self.dry_run(params)
        original = {
            "OriginalSize": doc["Size"],
            "OriginalVolumeType": doc["VolumeType"],
            "OriginalIops": doc.get("Iops"),
            "OriginalThroughput": doc.get("Throughput"),
            "OriginalMultiAttachEnabled": doc["MultiAttachEnabled"],
        }
        doc.update(Size=size, VolumeType=volume_type)
        for key, value in (("Iops", out_iops), ("Throughput", out_throughput)):
            if value is None:
                doc.pop(key, None)
            else:
                doc[key] = value
        if params.get("MultiAttachEnabled") is not None:
            doc["MultiAttachEnabled"] = bool(params["MultiAttachEnabled"])
        self.save(scope, volume)
        modification = {
            "VolumeId": volume.id,
            "ModificationState": "optimizing",
            "StartTime": stamp(),
            "TargetSize": size,
            "TargetVolumeType": volume_type,
            "Progress": 0,
            "TargetMultiAttachEnabled": doc["MultiAttachEnabled"],
            **{k: v for k, v in original.items() if v is not None},
        }
        if out_iops is not None:
            modification["TargetIops"] = out_iops
        if out_throughput is not None:
            modification["TargetThroughput"] = out_throughput
        # EBS applies a change in the background; nubes has nothing to move, so it is done.
        volume.meta["modification"] = {
            **modification,
            "ModificationState": "completed",
            "Progress": 100,
            "EndTime": stamp(),
        }
        self.save(scope, volume)
        return {"VolumeModification": modification}

    def describe_volumes_modifications(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        ids = params.get("VolumeIds") or []
        records = [self.find(scope, "vol", v) for v in ids] if ids else self.res.all(scope, "vol")
        docs = [r.meta["modification"] for r in records if r.meta.get("modification")]
        check = MODIFICATION_FILTERS.compile(params.get("Filters"))
        self.dry_run(params)
        return {"VolumesModifications": [d for d in docs if check(d)]}

    # -- attachments --------------------------------------------------------------------

    def attach_volume(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        volume = self.find(scope, "vol", params["VolumeId"])
        instance = self.find(scope, "i", params["InstanceId"])
        device = params["Device"]
        check_device(device)
        state = instance.doc["State"]["Name"]
        if state not in ("running", "stopped"):
            raise errors(
                "IncorrectState", f"Instance '{instance.id}' is not 'running' or 'stopped'."
            )
        if volume.doc["AvailabilityZone"] != instance.doc["Placement"]["AvailabilityZone"]:
            raise errors(
                "InvalidVolume.ZoneMismatch",
                f"The volume '{volume.id}' is not in the same availability zone as "
                f"instance '{instance.id}'",
            )
        attached = volume.doc["Attachments"]
        if attached and not volume.doc["MultiAttachEnabled"]:
            raise errors("VolumeInUse", f"{volume.id} is already attached to an instance")
        if any(a["InstanceId"] == instance.id for a in attached):
            raise errors("VolumeInUse", f"{volume.id} is already attached to {instance.id}")
        if len(attached) >= MULTI_ATTACH_MAX:
            raise errors(
                "VolumeInUse",
                f"{volume.id} is attached to the maximum of {MULTI_ATTACH_MAX} instances",
            )
        if any(m["DeviceName"] == device for m in instance.doc["BlockDeviceMappings"]):
            raise errors("InvalidParameterValue", f"Attachment point {device} is already in use")
        self.dry_run(params)
        attachment = self.attach(scope, volume, instance, device, delete_on_termination=False)
        self.save(scope, instance)
        return {**attachment, "State": "attaching"}

    def attach(
        self,
        scope: Scope,
        volume: Record,
        instance: Record,
        device: str,
        delete_on_termination: bool,
    ) -> dict[str, Any]:
        """Record an attachment on both sides (the caller saves the instance)."""
        when = stamp()
        attachment = {
            "AttachTime": when,
            "Device": device,
            "InstanceId": instance.id,
            "State": "attached",
            "VolumeId": volume.id,
            "DeleteOnTermination": delete_on_termination,
        }
        volume.doc["Attachments"].append(attachment)
        volume.doc["State"] = "in-use"
        self.save(scope, volume)
        instance.doc["BlockDeviceMappings"].append(
            {
                "DeviceName": device,
                "Ebs": {
                    "AttachTime": when,
                    "DeleteOnTermination": delete_on_termination,
                    "Status": "attached",
                    "VolumeId": volume.id,
                },
            }
        )
        return attachment

    def detach_volume(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        volume = self.find(scope, "vol", params["VolumeId"])
        attachments = volume.doc["Attachments"]
        if params.get("InstanceId"):
            attachments = [a for a in attachments if a["InstanceId"] == params["InstanceId"]]
        if params.get("Device"):
            attachments = [a for a in attachments if a["Device"] == params["Device"]]
        if not attachments:
            if volume.doc["Attachments"]:
                raise errors(
                    "InvalidAttachment.NotFound",
                    f"Volume '{volume.id}' is not attached to that instance",
                )
            raise errors(
                "IncorrectState", f"Volume '{volume.id}' is in the '{volume.doc['State']}' state."
            )
        if len(attachments) > 1:
            raise errors(
                "InvalidParameterCombination",
                "The volume is attached to several instances: name the instance",
            )
        attachment = attachments[0]
        instance = self.res.get(scope, "i", attachment["InstanceId"])
        if (
            instance is not None
            and attachment["Device"] == instance.doc.get("RootDeviceName")
            and instance.doc["State"]["Name"] != "stopped"
            and not params.get("Force")
        ):
            raise errors(
                "OperationNotPermitted",
                f"Unable to detach root volume '{volume.id}' from instance '{instance.id}'",
            )
        self.dry_run(params)
        self.detach(scope, volume, attachment["InstanceId"])
        return {**attachment, "State": "detaching"}

    def detach(self, scope: Scope, volume: Record, instance_id: str) -> None:
        volume.doc["Attachments"] = [
            a for a in volume.doc["Attachments"] if a["InstanceId"] != instance_id
        ]
        volume.doc["State"] = "in-use" if volume.doc["Attachments"] else "available"
        self.save(scope, volume)
        instance = self.res.get(scope, "i", instance_id)
        if instance is not None:
            instance.doc["BlockDeviceMappings"] = [
                m for m in instance.doc["BlockDeviceMappings"] if m["Ebs"]["VolumeId"] != volume.id
            ]
            self.save(scope, instance)

    # -- snapshots ----------------------------------------------------------------------

    def new_snapshot(self, scope: Scope, volume: Record, description: str) -> Record:
        sid = self.new_id("snap")
        doc = {
            "SnapshotId": sid,
            "VolumeId": volume.id,
            "State": "completed",
            "StartTime": stamp(),
            "Progress": "100%",
            "OwnerId": scope.account,
            "Description": description,
            "VolumeSize": volume.doc["Size"],
            "Encrypted": volume.doc["Encrypted"],
            "StorageTier": "standard",
        }
        if volume.doc.get("KmsKeyId"):
            doc["KmsKeyId"] = volume.doc["KmsKeyId"]
        record = Record("snap", sid, doc, {})
        self.save(scope, record)
        self._copy_data(self.data_dir("volumes", volume.id), self.data_dir("snapshots", sid))
        return record

    def create_snapshot(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        volume = self.find(scope, "vol", params["VolumeId"])
        description = params.get("Description") or ""
        if len(description) > 255:
            raise errors("InvalidParameterValue", "The description can be at most 255 characters")
        tags = self.tag_specs(params, "snapshot")
        self.dry_run(params)
        snapshot = self.new_snapshot(scope, volume, description)
        self.tag(scope, snapshot.id, tags)
        doc = self.with_tags(scope, [snapshot])[0]
        return {**doc, "State": "pending", "Progress": ""}

    def copy_snapshot(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        source_scope = self.scope_of(ctx.account_id, params["SourceRegion"])
        source = self.find(source_scope, "snap", params["SourceSnapshotId"])
        tags = self.tag_specs(params, "snapshot")
        self.dry_run(params)
        sid = self.new_id("snap")
        doc = {
            **source.doc,
            "SnapshotId": sid,
            "StartTime": stamp(),
            "Description": params.get("Description") or source.doc["Description"],
            "VolumeId": "vol-ffffffff",
        }
        if params.get("Encrypted"):
            doc["Encrypted"] = True
            doc["KmsKeyId"] = params.get("KmsKeyId") or (
                arns.arn("kms", scope.region, scope.account, "alias/aws/ebs")
            )
        self.save(scope, Record("snap", sid, doc, {}))
        self.tag(scope, sid, tags)
        self._copy_data(self.data_dir("snapshots", source.id), self.data_dir("snapshots", sid))
        return {"SnapshotId": sid, "Tags": self.tag_list(scope, sid)}

    def delete_snapshot(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        snapshot = self.find(scope, "snap", params["SnapshotId"])
        for image in self.res.all(scope, "ami"):
            if any(
                (m.get("Ebs") or {}).get("SnapshotId") == snapshot.id
                for m in image.doc["BlockDeviceMappings"]
            ):
                raise errors(
                    "InvalidSnapshot.InUse",
                    f"The snapshot {snapshot.id} is currently in use by {image.id}",
                )
        self.dry_run(params)
        self.res.delete(scope, "snap", snapshot.id)
        shutil.rmtree(self.data_dir("snapshots", snapshot.id), ignore_errors=True)
        return {}

    def describe_snapshots(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        owners = set(params.get("OwnerIds") or ())
        if owners and not owners & {"self", scope.account}:
            self.dry_run(params)
            return {"Snapshots": []}
        docs, token = self.describe_kind(scope, "snap", params, SNAPSHOT_FILTERS, "SnapshotIds")
        return {"Snapshots": docs, **({"NextToken": token} if token else {})}
