"""AMIs: a small catalogue of public images per region (Amazon Linux 2023 and 2, Ubuntu,
Debian) with the SSM public parameters that name them, and the account's own images
(CreateImage from an instance's volumes, CopyImage, DeregisterImage)."""

from __future__ import annotations

import hashlib
import re
from functools import cache
from typing import Any

from nubes.core.context import RequestContext
from nubes.services.ec2.common import now_iso
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.model import Record, Scope
from nubes.services.ec2.volumes import VolumeMixin

AMAZON = "137112412989"
CANONICAL = "099720109477"
DEBIAN = "136693071363"
_NAME = re.compile(r"^[A-Za-z0-9()\[\] ./\-'@_]{3,128}$")

# (name, owner, alias, description, architecture, root device, volume type, SSM parameters)
_PUBLIC = (
    (
        "al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64",
        AMAZON,
        "amazon",
        "Amazon Linux 2023 AMI 2023.6.20241212.0 x86_64 HVM kernel-6.1",
        "x86_64",
        "/dev/xvda",
        "gp3",
        (
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64",
        ),
    ),
    (
        "al2023-ami-2023.6.20241212.0-kernel-6.1-arm64",
        AMAZON,
        "amazon",
        "Amazon Linux 2023 AMI 2023.6.20241212.0 arm64 HVM kernel-6.1",
        "arm64",
        "/dev/xvda",
        "gp3",
        (
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-arm64",
        ),
    ),
    (
        "al2023-ami-minimal-2023.6.20241212.0-kernel-6.1-x86_64",
        AMAZON,
        "amazon",
        "Amazon Linux 2023 AMI 2023.6.20241212.0 x86_64 Minimal HVM kernel-6.1",
        "x86_64",
        "/dev/xvda",
        "gp3",
        ("/aws/service/ami-amazon-linux-latest/al2023-ami-minimal-kernel-default-x86_64",),
    ),
    (
        "amzn2-ami-kernel-5.10-hvm-2.0.20241217.0-x86_64-gp2",
        AMAZON,
        "amazon",
        "Amazon Linux 2 Kernel 5.10 AMI 2.0.20241217.0 x86_64 HVM gp2",
        "x86_64",
        "/dev/xvda",
        "gp2",
        (
            "/aws/service/ami-amazon-linux-latest/amzn2-ami-kernel-5.10-hvm-x86_64-gp2",
            "/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2",
        ),
    ),
    (
        "amzn2-ami-kernel-5.10-hvm-2.0.20241217.0-arm64-gp2",
        AMAZON,
        "amazon",
        "Amazon Linux 2 Kernel 5.10 AMI 2.0.20241217.0 arm64 HVM gp2",
        "arm64",
        "/dev/xvda",
        "gp2",
        ("/aws/service/ami-amazon-linux-latest/amzn2-ami-kernel-5.10-hvm-arm64-gp2",),
    ),
    (
        "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20241206",
        CANONICAL,
        None,
        "Canonical, Ubuntu, 24.04, amd64 noble image",
        "x86_64",
        "/dev/sda1",
        "gp3",
        ("/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id",),
    ),
    (
        "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20241206",
        CANONICAL,
        None,
        "Canonical, Ubuntu, 24.04, arm64 noble image",
        "arm64",
        "/dev/sda1",
        "gp3",
        ("/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id",),
    ),
    (
        "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20241206",
        CANONICAL,
        None,
        "Canonical, Ubuntu, 22.04 LTS, amd64 jammy image",
        "x86_64",
        "/dev/sda1",
        "gp2",
        ("/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id",),
    ),
    (
        "debian-12-amd64-20241201-1948",
        DEBIAN,
        None,
        "Debian 12 (20241201-1948)",
        "x86_64",
        "/dev/xvda",
        "gp2",
        (),
    ),
)

IMAGE_FILTERS = Filters(
    {
        "architecture": "Architecture",
        "block-device-mapping.delete-on-termination": "BlockDeviceMappings.Ebs.DeleteOnTermination",
        "block-device-mapping.device-name": "BlockDeviceMappings.DeviceName",
        "block-device-mapping.snapshot-id": "BlockDeviceMappings.Ebs.SnapshotId",
        "block-device-mapping.volume-size": "BlockDeviceMappings.Ebs.VolumeSize",
        "block-device-mapping.volume-type": "BlockDeviceMappings.Ebs.VolumeType",
        "block-device-mapping.encrypted": "BlockDeviceMappings.Ebs.Encrypted",
        "creation-date": "CreationDate",
        "description": "Description",
        "ena-support": "EnaSupport",
        "hypervisor": "Hypervisor",
        "image-id": "ImageId",
        "image-type": "ImageType",
        "is-public": "Public",
        "manifest-location": "ImageLocation",
        "name": "Name",
        "owner-alias": "ImageOwnerAlias",
        "owner-id": "OwnerId",
        "platform": "Platform",
        "platform-details": "PlatformDetails",
        "root-device-name": "RootDeviceName",
        "root-device-type": "RootDeviceType",
        "state": "State",
        "virtualization-type": "VirtualizationType",
        "boot-mode": "BootMode",
    }
)


def _image_id(region: str, name: str) -> str:
    return "ami-" + hashlib.sha256(f"{region}/{name}".encode()).hexdigest()[:17]


@cache
def public_images(region: str) -> dict[str, dict[str, Any]]:
    out = {}
    for name, owner, alias, description, arch, root, vtype, _ in _PUBLIC:
        iid = _image_id(region, name)
        snap = "snap-" + hashlib.sha256(f"{region}/{name}/root".encode()).hexdigest()[:17]
        doc = {
            "ImageId": iid,
            "ImageLocation": f"{alias or owner}/{name}",
            "State": "available",
            "OwnerId": owner,
            "CreationDate": "2024-12-12T00:00:00.000Z",
            "Public": True,
            "Architecture": arch,
            "ImageType": "machine",
            "Name": name,
            "Description": description,
            "RootDeviceType": "ebs",
            "RootDeviceName": root,
            "BlockDeviceMappings": [
                {
                    "DeviceName": root,
                    "Ebs": {
                        "DeleteOnTermination": True,
                        "SnapshotId": snap,
                        "VolumeSize": 8,
                        "VolumeType": vtype,
                        "Encrypted": False,
                    },
                }
            ],
            "VirtualizationType": "hvm",
            "Hypervisor": "xen",
            "EnaSupport": True,
            "SriovNetSupport": "simple",
            "PlatformDetails": "Linux/UNIX",
            "UsageOperation": "RunInstances",
            "BootMode": "uefi-preferred",
            "DeprecationTime": "2026-12-12T00:00:00.000Z",
            "Tags": [],
        }
        if alias:
            doc["ImageOwnerAlias"] = alias
        out[iid] = doc
    return out


def public_parameters(region: str) -> dict[str, str]:
    """SSM public parameter name -> the AMI id it resolves to in ``region``."""
    out = {}
    for entry in _PUBLIC:
        for parameter in entry[7]:
            out[parameter] = _image_id(region, entry[0])
    return out


class ImageMixin(VolumeMixin):
    def image_record(self, scope: Scope, image_id: str) -> Any:
        """An image this account can launch: its own or a public one."""
        own = self.res.get(scope, "ami", image_id)
        if own is not None:
            return own.doc
        found = public_images(scope.region).get(image_id)
        if found is None:
            if not re.match(r"^ami-[0-9a-f]{8,17}$", image_id):
                raise errors(
                    "InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")'
                )
            raise errors("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")
        return found

    def describe_images(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        owners = list(params.get("Owners") or ())
        own = self.with_tags(scope, self.res.all(scope, "ami"))
        public = [dict(d) for d in public_images(scope.region).values()]
        docs = own + public
        wanted = params.get("ImageIds") or []
        if wanted:
            by_id = {d["ImageId"]: d for d in docs}
            missing = [i for i in wanted if i not in by_id]
            if missing:
                for image_id in missing:
                    self.image_record(scope, image_id)
            docs = [by_id[i] for i in dict.fromkeys(wanted)]
        if owners:
            keep = []
            for doc in docs:
                for owner in owners:
                    if owner == "self" and doc["OwnerId"] == scope.account:
                        keep.append(doc)
                        break
                    if owner in (doc["OwnerId"], doc.get("ImageOwnerAlias")):
                        keep.append(doc)
                        break
            docs = keep
        executable = params.get("ExecutableUsers")
        if executable:
            docs = [
                d
                for d in docs
                if d["Public"] or "self" in executable or scope.account in executable
            ]
        check = IMAGE_FILTERS.compile(params.get("Filters"))
        self.dry_run(params)
        docs = [d for d in docs if check(d)]
        return {"Images": docs}

    def create_image(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        instance = self.find(scope, "i", params["InstanceId"])
        name = params["Name"]
        self._check_image_name(scope, name)
        if instance.doc["State"]["Name"] not in ("running", "stopped"):
            raise errors(
                "IncorrectInstanceState",
                f"The instance '{instance.id}' is not in a state from which it can be imaged.",
            )
        tags = self.tag_specs(params, "image")
        snapshot_tags = self.tag_specs(params, "snapshot")
        self.dry_run(params)
        source = self.image_record(scope, instance.doc["ImageId"])
        iid = self.new_id("ami")
        mappings = []
        for mapping in instance.doc["BlockDeviceMappings"]:
            volume = self.res.get(scope, "vol", mapping["Ebs"]["VolumeId"])
            if volume is None:
                continue
            snapshot = self.new_snapshot(
                scope, volume, f"Created by CreateImage({instance.id}) for {iid}"
            )
            self.tag(scope, snapshot.id, snapshot_tags)
            mappings.append(
                {
                    "DeviceName": mapping["DeviceName"],
                    "Ebs": {
                        "DeleteOnTermination": mapping["Ebs"]["DeleteOnTermination"],
                        "SnapshotId": snapshot.id,
                        "VolumeSize": volume.doc["Size"],
                        "VolumeType": volume.doc["VolumeType"],
                        "Encrypted": volume.doc["Encrypted"],
                        **({"Iops": volume.doc["Iops"]} if "Iops" in volume.doc else {}),
                    },
                }
            )
        doc = {
            "ImageId": iid,
            "ImageLocation": f"{scope.account}/{name}",
            "State": "available",
            "OwnerId": scope.account,
            "CreationDate": now_iso(),
            "Public": False,
            "Architecture": source["Architecture"],
            "ImageType": "machine",
            "Name": name,
            "Description": params.get("Description") or "",
            "RootDeviceType": "ebs",
            "RootDeviceName": instance.doc["RootDeviceName"],
            "BlockDeviceMappings": mappings,
            "VirtualizationType": "hvm",
            "Hypervisor": "xen",
            "EnaSupport": True,
            "SriovNetSupport": "simple",
            "PlatformDetails": "Linux/UNIX",
            "UsageOperation": "RunInstances",
            "SourceInstanceId": instance.id,
        }
        self.save(scope, Record("ami", iid, doc, {}))
        self.tag(scope, iid, tags)
        return {"ImageId": iid}

    def _check_image_name(self, scope: Scope, name: str) -> None:
        if not _NAME.match(name):
            raise errors(
                "InvalidAMIName.Malformed",
                f"AMI names must be between 3 and 128 characters long, and may "
                f"contain letters, numbers, '(', ')', '.', '-', '/' and '_': {name}",
            )
        for image in self.res.all(scope, "ami"):
            if image.doc["Name"] == name:
                raise errors(
                    "InvalidAMIName.Duplicate",
                    f"AMI name {name} is already in use by AMI {image.id}",
                )

    def copy_image(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        source_scope = self.scope_of(ctx.account_id, params["SourceRegion"])
        source = self.image_record(source_scope, params["SourceImageId"])
        name = params["Name"]
        self._check_image_name(scope, name)
        tags = self.tag_specs(params, "image")
        self.dry_run(params)
        iid = self.new_id("ami")
        mappings = []
        for mapping in source["BlockDeviceMappings"]:
            ebs = dict(mapping.get("Ebs") or {})
            snap = self.res.get(source_scope, "snap", ebs.get("SnapshotId") or "")
            if snap is not None:
                sid = self.new_id("snap")
                copy = {
                    **snap.doc,
                    "SnapshotId": sid,
                    "StartTime": now_iso(),
                    "Description": f"Copied for DestinationAmi {iid} from SourceAmi "
                    f"{source['ImageId']}",
                }
                self.save(scope, Record("snap", sid, copy, {}))
                self._copy_data(
                    self.data_dir("snapshots", snap.id), self.data_dir("snapshots", sid)
                )
                ebs["SnapshotId"] = sid
            mappings.append({**mapping, "Ebs": ebs})
        doc = {
            **{
                k: v
                for k, v in source.items()
                if k not in ("Tags", "ImageOwnerAlias", "DeprecationTime")
            },
            "ImageId": iid,
            "ImageLocation": f"{scope.account}/{name}",
            "Name": name,
            "OwnerId": scope.account,
            "Public": False,
            "CreationDate": now_iso(),
            "Description": params.get("Description") or source.get("Description", ""),
            "BlockDeviceMappings": mappings,
        }
        self.save(scope, Record("ami", iid, doc, {}))
        self.tag(scope, iid, tags)
        return {"ImageId": iid}

    def deregister_image(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        image_id = params["ImageId"]
        own = self.res.get(scope, "ami", image_id)
        if own is None:
            self.image_record(scope, image_id)
            raise errors("AuthFailure", f"Not authorized for image:{image_id}")
        self.dry_run(params)
        self.res.delete(scope, "ami", image_id)
        deleted = []
        if params.get("DeleteAssociatedSnapshots"):
            for mapping in own.doc["BlockDeviceMappings"]:
                sid = (mapping.get("Ebs") or {}).get("SnapshotId")
                if sid and self.res.get(scope, "snap", sid):
                    self.res.delete(scope, "snap", sid)
                    deleted.append({"SnapshotId": sid, "ReturnCode": "success"})
        return {"Return": True, "DeleteSnapshotResults": deleted}
