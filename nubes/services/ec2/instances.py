"""Instances as records: RunInstances (from parameters or a launch template), placement in a
subnet, addresses, volumes, security groups, instance profile, user data and metadata options;
the lifecycle pending → running → stopping → stopped → pending → shutting-down → terminated
with AWS's state reasons, termination protection, attributes, and DescribeInstances.

What makes the states move (the instance runtime booting and halting process trees) lives in
``machines.py``; this module decides what each call is allowed to do and records it."""

from __future__ import annotations

import base64
import binascii
import contextlib
import time
from typing import Any

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.services.ec2 import instance_types
from nubes.services.ec2.addresses import AddressMixin, public_dns
from nubes.services.ec2.common import Params, stamp
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.keypairs import KeyPairMixin
from nubes.services.ec2.launch_templates import LaunchTemplateMixin
from nubes.services.ec2.model import Record, Scope
from nubes.services.ec2.placement import PlacementMixin
from nubes.services.ec2.tagging import TaggingMixin

STATE_CODES = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}
USER_DATA_LIMIT = 16384
MAX_PER_CALL = 1000
TERMINATED_VISIBLE = 3600.0
"""Terminated instances stay in DescribeInstances for about an hour."""
DEFAULT_TYPE = "m1.small"

INSTANCE_FILTERS = Filters(
    {
        "affinity": "Placement.Affinity",
        "architecture": "Architecture",
        "availability-zone": "Placement.AvailabilityZone",
        "block-device-mapping.attach-time": "@BlockDeviceMappings.Ebs.AttachTime",
        "block-device-mapping.delete-on-termination": "BlockDeviceMappings.Ebs.DeleteOnTermination",
        "block-device-mapping.device-name": "BlockDeviceMappings.DeviceName",
        "block-device-mapping.status": "BlockDeviceMappings.Ebs.Status",
        "block-device-mapping.volume-id": "BlockDeviceMappings.Ebs.VolumeId",
        "client-token": "ClientToken",
        "dns-name": "PublicDnsName",
        "ebs-optimized": "EbsOptimized",
        "ena-support": "EnaSupport",
        "group-id": "SecurityGroups.GroupId",
        "group-name": "SecurityGroups.GroupName",
        "hypervisor": "Hypervisor",
        "iam-instance-profile.arn": "IamInstanceProfile.Arn",
        "iam-instance-profile.id": "IamInstanceProfile.Id",
        "image-id": "ImageId",
        "instance-id": "InstanceId",
        "instance-lifecycle": "InstanceLifecycle",
        "instance-state-code": "State.Code",
        "instance-state-name": "State.Name",
        "instance-type": "InstanceType",
        "instance.group-id": "SecurityGroups.GroupId",
        "instance.group-name": "SecurityGroups.GroupName",
        "ip-address": "PublicIpAddress",
        "kernel-id": "KernelId",
        "key-name": "KeyName",
        "launch-index": "AmiLaunchIndex",
        "launch-time": "@LaunchTime",
        "maintenance-options.auto-recovery": "MaintenanceOptions.AutoRecovery",
        "metadata-options.http-endpoint": "MetadataOptions.HttpEndpoint",
        "metadata-options.http-put-response-hop-limit": "MetadataOptions.HttpPutResponseHopLimit",
        "metadata-options.http-tokens": "MetadataOptions.HttpTokens",
        "metadata-options.instance-metadata-tags": "MetadataOptions.InstanceMetadataTags",
        "monitoring-state": "Monitoring.State",
        "network-interface.addresses.private-ip-address": (
            "NetworkInterfaces.PrivateIpAddresses.PrivateIpAddress"
        ),
        "network-interface.addresses.association.public-ip": (
            "NetworkInterfaces.PrivateIpAddresses.Association.PublicIp"
        ),
        "network-interface.association.public-ip": "NetworkInterfaces.Association.PublicIp",
        "network-interface.association.allocation-id": "NetworkInterfaces.Association.AllocationId",
        "network-interface.attachment.attachment-id": "NetworkInterfaces.Attachment.AttachmentId",
        "network-interface.attachment.device-index": "NetworkInterfaces.Attachment.DeviceIndex",
        "network-interface.description": "NetworkInterfaces.Description",
        "network-interface.group-id": "NetworkInterfaces.Groups.GroupId",
        "network-interface.group-name": "NetworkInterfaces.Groups.GroupName",
        "network-interface.mac-address": "NetworkInterfaces.MacAddress",
        "network-interface.network-interface-id": "NetworkInterfaces.NetworkInterfaceId",
        "network-interface.owner-id": "NetworkInterfaces.OwnerId",
        "network-interface.private-dns-name": "NetworkInterfaces.PrivateDnsName",
        "network-interface.source-dest-check": "NetworkInterfaces.SourceDestCheck",
        "network-interface.status": "NetworkInterfaces.Status",
        "network-interface.subnet-id": "NetworkInterfaces.SubnetId",
        "network-interface.vpc-id": "NetworkInterfaces.VpcId",
        "owner-id": "_OwnerId",
        "placement-group-name": "Placement.GroupName",
        "placement-partition-number": "Placement.PartitionNumber",
        "platform": "Platform",
        "platform-details": "PlatformDetails",
        "private-dns-name": "PrivateDnsName",
        "private-ip-address": "PrivateIpAddress",
        "product-code": "ProductCodes.ProductCodeId",
        "reason": "StateTransitionReason",
        "requester-id": "_RequesterId",
        "reservation-id": "_ReservationId",
        "root-device-name": "RootDeviceName",
        "root-device-type": "RootDeviceType",
        "source-dest-check": "SourceDestCheck",
        "state-reason-code": "StateReason.Code",
        "state-reason-message": "StateReason.Message",
        "subnet-id": "SubnetId",
        "tenancy": "Placement.Tenancy",
        "usage-operation": "UsageOperation",
        "virtualization-type": "VirtualizationType",
        "vpc-id": "VpcId",
    }
)


def user_reason(what: str) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S GMT", time.gmtime(clock.now()))
    return f"{what} ({stamp})"


def decode_user_data(text: str | None) -> bytes:
    if not text:
        return b""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise errors("InvalidUserData.Malformed", "Invalid BASE64 encoding of user data.") from None
    if len(raw) > USER_DATA_LIMIT:
        raise errors("InvalidParameterValue", f"User data is limited to {USER_DATA_LIMIT} bytes")
    return raw


class InstanceMixin(LaunchTemplateMixin, TaggingMixin, KeyPairMixin, PlacementMixin, AddressMixin):
    # -- what machines.py provides ------------------------------------------------------

    def schedule_launch(self, scope: Scope, instance_id: str) -> None:
        """Make a pending instance run (boot it, or settle it when nothing runs instances)."""
        raise NotImplementedError

    def schedule_halt(self, scope: Scope, instance_id: str, then: str) -> None:
        """End a stopping / shutting-down instance's processes, then record ``then``."""
        raise NotImplementedError

    def schedule_reboot(self, scope: Scope, instance_id: str) -> None:
        raise NotImplementedError

    def emit_state(self, scope: Scope, instance: Record) -> None:
        raise NotImplementedError

    # -- state --------------------------------------------------------------------------

    def set_state(
        self,
        scope: Scope,
        instance: Record,
        name: str,
        reason: tuple[str, str] | None = None,
        transition: str | None = None,
    ) -> None:
        doc = instance.doc
        doc["State"] = {"Code": STATE_CODES[name], "Name": name}
        if reason is not None:
            doc["StateReason"] = {"Code": reason[0], "Message": reason[1]}
        elif name == "running":
            doc.pop("StateReason", None)
        if transition is not None:
            doc["StateTransitionReason"] = transition
        elif name == "running":
            doc["StateTransitionReason"] = ""
        self.save(scope, instance)
        self.emit_state(scope, instance)

    # -- RunInstances -------------------------------------------------------------------

    def run_instances(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        token = params.get("ClientToken")
        if token:
            earlier = [i for i in self.res.all(scope, "i") if i.doc.get("ClientToken") == token]
            if earlier:
                return self._reservation(scope, earlier)
        template_tags: dict[str, str] = {}
        if params.get("LaunchTemplate"):
            merged, template_tags = self.launch_template_params(scope, params["LaunchTemplate"])
            combined = Params({**merged, **{k: v for k, v in params.items() if v is not None}})
            combined.internal = getattr(params, "internal", False)
            params = combined
        low, high = params.get("MinCount") or 1, params.get("MaxCount") or 1
        if low < 1 or high < low:
            raise errors(
                "InvalidParameterValue",
                f"Invalid value '{low}' for minCount. It must be at least 1 and at most maxCount.",
            )
        if low > MAX_PER_CALL:
            raise errors(
                "InstanceLimitExceeded",
                f"You have requested more instances ({low}) than your current "
                "instance limit allows for the specified instance type.",
            )
        count = min(high, MAX_PER_CALL)
        image_id = params.get("ImageId")
        if not image_id:
            raise errors("MissingParameter", "The request must contain the parameter ImageId")
        image = self.image_record(scope, image_id)
        itype = params.get("InstanceType") or DEFAULT_TYPE
        info = instance_types.catalogue().get(itype)
        if info is None:
            raise errors("InvalidParameterValue", f"Invalid value '{itype}' for InstanceType.")
        arch = image["Architecture"]
        if arch not in info["ProcessorInfo"]["SupportedArchitectures"]:
            raise errors(
                "InvalidParameterValue",
                f"The architecture '{info['ProcessorInfo']['SupportedArchitectures'][0]}'"
                f" of the specified instance type does not match the architecture "
                f"'{arch}' of the specified AMI.",
            )
        user_data = decode_user_data(params.get("UserData"))
        key_name = params.get("KeyName")
        if key_name and self.key_by_name(scope, key_name) is None:
            raise errors("InvalidKeyPair.NotFound", f"The key pair '{key_name}' does not exist")
        nic = (params.get("NetworkInterfaces") or [{}])[0]
        subnet = self._launch_subnet(scope, params, nic)
        groups = self._launch_groups(scope, subnet, params, nic)
        private_ip = params.get("PrivateIpAddress") or nic.get("PrivateIpAddress")
        if private_ip and count > 1:
            raise errors(
                "InvalidParameterCombination",
                "Cannot specify a private IP address when launching more than one instance.",
            )
        wants_public = nic.get("AssociatePublicIpAddress")
        if wants_public is None:
            wants_public = subnet.doc["MapPublicIpOnLaunch"]
        placement = dict(params.get("Placement") or {})
        if placement.get("GroupName"):
            self.placement_group(scope, placement["GroupName"])
        behaviour = params.get("InstanceInitiatedShutdownBehavior") or "stop"
        if behaviour not in ("stop", "terminate"):
            raise errors(
                "InvalidParameterValue",
                f"Value ({behaviour}) for parameter instanceInitiatedShutdownBehavior is invalid.",
            )
        metadata = self._metadata_options(params.get("MetadataOptions") or {})
        profile = self._instance_profile(scope, params.get("IamInstanceProfile"))
        mappings = self._block_devices(scope, image, params.get("BlockDeviceMappings") or [])
        tags = self.tag_specs(params, "instance")
        volume_tags = self.tag_specs(params, "volume")
        eni_tags = self.tag_specs(params, "network-interface")
        self.dry_run(params)
        reservation = self.new_id("r")
        made = []
        for index in range(count):
            made.append(
                self._launch_one(
                    scope,
                    reservation,
                    index,
                    image,
                    itype,
                    subnet,
                    groups,
                    private_ip,
                    bool(wants_public),
                    placement,
                    params,
                    user_data,
                    behaviour,
                    metadata,
                    profile,
                    mappings,
                    {**template_tags, **tags},
                    volume_tags,
                    eni_tags,
                )
            )
        for instance in made:
            self.emit_state(scope, instance)
            self.schedule_launch(scope, instance.id)
        return self._reservation(scope, made)

    def _launch_subnet(self, scope: Scope, params: dict[str, Any], nic: dict[str, Any]) -> Record:
        subnet_id = params.get("SubnetId") or nic.get("SubnetId")
        zone = (params.get("Placement") or {}).get("AvailabilityZone")
        if nic.get("NetworkInterfaceId"):
            raise errors(
                "UnsupportedOperation",
                "Launching with an existing network interface is not supported by "
                "nubes; attach it after launch instead",
            )
        if subnet_id:
            subnet = self.find(scope, "subnet", subnet_id)
            if zone and zone != subnet.doc["AvailabilityZone"]:
                raise errors(
                    "InvalidParameterValue",
                    f"Value ({zone}) for parameter availabilityZone is invalid. Subnet "
                    f"'{subnet_id}' is in the availability zone "
                    f"{subnet.doc['AvailabilityZone']}",
                )
            return subnet
        defaults = [s for s in self.res.all(scope, "subnet") if s.doc["DefaultForAz"]]
        if not defaults:
            raise errors("VPCIdNotSpecified", "No default VPC for this user")
        if zone:
            for subnet in defaults:
                if subnet.doc["AvailabilityZone"] == zone:
                    return subnet
            raise errors("InvalidParameterValue", f"Invalid availability zone: [{zone}]")
        return min(defaults, key=lambda s: s.doc["AvailabilityZone"])

    def _launch_groups(
        self, scope: Scope, subnet: Record, params: dict[str, Any], nic: dict[str, Any]
    ) -> list[dict[str, str]]:
        ids = list(params.get("SecurityGroupIds") or nic.get("Groups") or ())
        names = list(params.get("SecurityGroups") or ())
        vpc_id = subnet.doc["VpcId"]
        if names and params.get("SubnetId"):
            vpc = self.find(scope, "vpc", vpc_id)
            if not vpc.doc["IsDefault"]:
                raise errors(
                    "InvalidParameterCombination",
                    "The parameter groupName cannot be used with the parameter subnet",
                )
        return self.resolve_groups(scope, vpc_id, ids, names)

    @staticmethod
    def _metadata_options(given: dict[str, Any]) -> dict[str, Any]:
        tokens = given.get("HttpTokens") or "optional"
        if tokens not in ("optional", "required"):
            raise errors(
                "InvalidParameterValue", f"Value ({tokens}) for parameter HttpTokens is invalid."
            )
        hops = given.get("HttpPutResponseHopLimit") or 1
        if not 1 <= hops <= 64:
            raise errors(
                "InvalidParameterValue",
                f"Value ({hops}) for parameter HttpPutResponseHopLimit is invalid. "
                "It must be between 1 and 64.",
            )
        endpoint = given.get("HttpEndpoint") or "enabled"
        tags = given.get("InstanceMetadataTags") or "disabled"
        for name, value in (("HttpEndpoint", endpoint), ("InstanceMetadataTags", tags)):
            if value not in ("enabled", "disabled"):
                raise errors(
                    "InvalidParameterValue", f"Value ({value}) for parameter {name} is invalid."
                )
        return {
            "State": "applied",
            "HttpTokens": tokens,
            "HttpPutResponseHopLimit": hops,
            "HttpEndpoint": endpoint,
            "HttpProtocolIpv6": given.get("HttpProtocolIpv6") or "disabled",
            "InstanceMetadataTags": tags,
        }

    def _instance_profile(
        self, scope: Scope, given: dict[str, Any] | None
    ) -> dict[str, str] | None:
        if not given:
            return None
        arn, name = given.get("Arn"), given.get("Name")
        if arn and not name:
            name = arn.rsplit("/", 1)[-1]
        if not name:
            return None
        try:
            found = self.env.providers.invoke(
                "iam",
                "GetInstanceProfile",
                {"InstanceProfileName": name},
                scope.account,
                scope.region,
            )["InstanceProfile"]
        except Exception:
            field = "arn" if arn else "name"
            raise errors(
                "InvalidParameterValue",
                f"Value ({arn or name}) for parameter iamInstanceProfile.{field} is "
                f"invalid. Invalid IAM Instance Profile {field}",
            ) from None
        return {"Arn": found["Arn"], "Id": found["InstanceProfileId"], "Name": name}

    def _block_devices(
        self, scope: Scope, image: dict[str, Any], given: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The EBS volumes each instance gets: the image's, overridden by the request's."""
        from nubes.services.ec2.volumes import check_device, check_volume

        by_device: dict[str, dict[str, Any]] = {}
        for mapping in image["BlockDeviceMappings"]:
            if mapping.get("Ebs"):
                by_device[mapping["DeviceName"]] = dict(mapping["Ebs"])
        for mapping in given:
            device = mapping.get("DeviceName") or ""
            if mapping.get("NoDevice") is not None:
                by_device.pop(device, None)
                continue
            if mapping.get("VirtualName"):
                continue
            check_device(device)
            ebs = dict(mapping.get("Ebs") or {})
            base = by_device.get(device, {})
            merged = {**base, **{k: v for k, v in ebs.items() if v is not None}}
            if device not in by_device and "DeleteOnTermination" not in ebs:
                merged["DeleteOnTermination"] = True
            if ebs.get("VolumeType") not in (None, base.get("VolumeType")) and "Iops" not in ebs:
                merged.pop("Iops", None)
            if not merged.get("VolumeSize") and not merged.get("SnapshotId"):
                raise errors(
                    "InvalidBlockDeviceMapping",
                    f"The device '{device}' needs a volume size or a snapshot id",
                )
            smallest = base.get("VolumeSize")
            if smallest and merged.get("VolumeSize") and merged["VolumeSize"] < smallest:
                raise errors(
                    "InvalidBlockDeviceMapping",
                    f"Volume of size {merged['VolumeSize']}GB is smaller than snapshot "
                    f"'{base.get('SnapshotId')}', expect size >= {smallest}GB",
                )
            if merged.get("SnapshotId") and merged["SnapshotId"] != base.get("SnapshotId"):
                self.find(scope, "snap", merged["SnapshotId"])
            by_device[device] = merged
        for ebs in by_device.values():
            vtype = ebs.get("VolumeType") or "gp3"
            check_volume(
                vtype,
                int(ebs.get("VolumeSize") or 8),
                ebs.get("Iops") if vtype not in ("gp2",) else None,
                ebs.get("Throughput"),
            )
        root = image["RootDeviceName"]
        return [
            {"DeviceName": d, "Ebs": e}
            for d, e in sorted(by_device.items(), key=lambda x: x[0] != root)
        ]

    def _launch_one(
        self,
        scope: Scope,
        reservation: str,
        index: int,
        image: dict[str, Any],
        itype: str,
        subnet: Record,
        groups: list[dict[str, str]],
        private_ip: str | None,
        wants_public: bool,
        placement: dict[str, Any],
        params: dict[str, Any],
        user_data: bytes,
        behaviour: str,
        metadata: dict[str, Any],
        profile: dict[str, str] | None,
        mappings: list[dict[str, Any]],
        tags: dict[str, str],
        volume_tags: dict[str, str],
        eni_tags: dict[str, str],
    ) -> Record:
        iid = self.new_id("i")
        zone = subnet.doc["AvailabilityZone"]
        eni = self.new_interface(scope, subnet, groups, "", "interface", private_ip=private_ip)
        info = instance_types.catalogue()[itype]
        vcpu = info["VCpuInfo"]
        doc: dict[str, Any] = {
            "InstanceId": iid,
            "ImageId": image["ImageId"],
            "State": {"Code": 0, "Name": "pending"},
            "PrivateDnsName": eni.doc["PrivateDnsName"],
            "PublicDnsName": "",
            "StateTransitionReason": "",
            "AmiLaunchIndex": index,
            "ProductCodes": [],
            "InstanceType": itype,
            "LaunchTime": stamp(),
            "Placement": {
                "AvailabilityZone": zone,
                "GroupName": placement.get("GroupName", ""),
                "Tenancy": placement.get("Tenancy") or "default",
            },
            "Monitoring": {
                "State": "enabled"
                if (params.get("Monitoring") or {}).get("Enabled")
                else "disabled"
            },
            "SubnetId": subnet.id,
            "VpcId": subnet.doc["VpcId"],
            "PrivateIpAddress": eni.doc["PrivateIpAddress"],
            "Architecture": image["Architecture"],
            "BlockDeviceMappings": [],
            "ClientToken": params.get("ClientToken") or "",
            "EbsOptimized": bool(params.get("EbsOptimized")),
            "EnaSupport": True,
            "Hypervisor": "xen",
            "NetworkInterfaces": [],
            "RootDeviceName": image["RootDeviceName"],
            "RootDeviceType": "ebs",
            "SecurityGroups": groups,
            "SourceDestCheck": True,
            "StateReason": {"Code": "pending", "Message": "pending"},
            "VirtualizationType": "hvm",
            "CpuOptions": {
                "CoreCount": vcpu["DefaultCores"],
                "ThreadsPerCore": vcpu["DefaultThreadsPerCore"],
            },
            "CapacityReservationSpecification": {"CapacityReservationPreference": "open"},
            "HibernationOptions": {"Configured": False},
            "MetadataOptions": metadata,
            "EnclaveOptions": {"Enabled": False},
            "BootMode": "uefi" if image["Architecture"] == "arm64" else "legacy-bios",
            "PlatformDetails": image.get("PlatformDetails") or "Linux/UNIX",
            "UsageOperation": "RunInstances",
            "UsageOperationUpdateTime": stamp(),
            "PrivateDnsNameOptions": {
                "HostnameType": "ip-name",
                "EnableResourceNameDnsARecord": False,
                "EnableResourceNameDnsAAAARecord": False,
            },
            "MaintenanceOptions": {
                "AutoRecovery": (params.get("MaintenanceOptions") or {}).get("AutoRecovery")
                or "default"
            },
            "CurrentInstanceBootMode": "uefi"
            if image["Architecture"] == "arm64"
            else "legacy-bios",
            "_OwnerId": scope.account,
            "_ReservationId": reservation,
            "_RequesterId": "",
        }
        if params.get("KeyName"):
            doc["KeyName"] = params["KeyName"]
        if profile:
            doc["IamInstanceProfile"] = {"Arn": profile["Arn"], "Id": profile["Id"]}
        meta: dict[str, Any] = {
            "user_data": base64.b64encode(user_data).decode(),
            "disable_api_termination": bool(params.get("DisableApiTermination")),
            "disable_api_stop": bool(params.get("DisableApiStop")),
            "shutdown_behavior": behaviour,
            "wants_public": wants_public,
            "profile": profile["Name"] if profile else None,
            "cpu_credits": (params.get("CreditSpecification") or {}).get("CpuCredits"),
            "eni": eni.id,
        }
        if profile:
            meta["profile_association"] = {
                "AssociationId": self.new_id("iip-assoc"),
                "State": "associated",
                "Timestamp": stamp(),
            }
        instance = Record("i", iid, doc, meta)
        eni.doc["Attachment"] = {
            "AttachmentId": self.new_id("eni-attach"),
            "DeviceIndex": 0,
            "InstanceId": iid,
            "InstanceOwnerId": scope.account,
            "Status": "attached",
            "AttachTime": stamp(),
            "DeleteOnTermination": True,
            "NetworkCardIndex": 0,
        }
        eni.doc["Status"] = "in-use"
        eni.meta["ip_owner"] = eni.id
        self.save(scope, eni)
        self.tag(scope, eni.id, eni_tags)
        if wants_public:
            ip = self.allocate_public_ip(scope, iid)
            association = {
                "PublicIp": ip,
                "PublicDnsName": public_dns(scope.region, ip),
                "IpOwnerId": "amazon",
            }
            eni.doc["Association"] = association
            eni.doc["PrivateIpAddresses"][0]["Association"] = association
            self.save(scope, eni)
            doc["PublicIpAddress"] = ip
            doc["PublicDnsName"] = association["PublicDnsName"]
        doc["NetworkInterfaces"].append(self.instance_nic(eni.doc))
        for mapping in mappings:
            ebs = mapping["Ebs"]
            vtype = ebs.get("VolumeType") or "gp3"
            volume = self.new_volume(
                scope,
                zone,
                ebs.get("VolumeSize"),
                vtype,
                ebs.get("Iops") if vtype != "gp2" else None,
                ebs.get("Throughput"),
                ebs.get("SnapshotId")
                if self.res.get(scope, "snap", ebs.get("SnapshotId") or "")
                else None,
                bool(ebs.get("Encrypted")),
                ebs.get("KmsKeyId"),
            )
            self.tag(scope, volume.id, volume_tags)
            self.attach(
                scope,
                volume,
                instance,
                mapping["DeviceName"],
                bool(ebs.get("DeleteOnTermination", True)),
            )
        self.save(scope, instance)
        self.tag(scope, iid, tags)
        return instance

    def _reservation(self, scope: Scope, instances: list[Record]) -> dict[str, Any]:
        docs = self.instance_docs(scope, instances)
        return {
            "ReservationId": instances[0].doc["_ReservationId"],
            "OwnerId": scope.account,
            "Groups": [],
            "Instances": docs,
        }

    def instance_docs(self, scope: Scope, records: list[Record]) -> list[dict[str, Any]]:
        return self.with_tags(scope, records)

    # -- DescribeInstances --------------------------------------------------------------

    def forget_terminated(self, scope: Scope, records: list[Record]) -> list[Record]:
        """Terminated instances an hour old are gone."""
        now = clock.now()
        kept = []
        for record in records:
            ended = record.meta.get("terminated_at")
            if ended is not None and now - ended > TERMINATED_VISIBLE:
                self.res.delete(scope, "i", record.id)
                continue
            kept.append(record)
        return kept

    def describe_instances(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        remaining = self.forget_terminated(scope, self.res.all(scope, "i", shared=True))
        records = None if params.get("InstanceIds") else remaining
        docs, token = self.describe_kind(
            scope,
            "i",
            params,
            INSTANCE_FILTERS,
            "InstanceIds",
            records,
            render=self.instance_render,
        )
        reservations: dict[str, dict[str, Any]] = {}
        for doc in docs:
            rid = doc["_ReservationId"]
            found = reservations.get(rid)
            if found is None:
                found = reservations[rid] = {
                    "ReservationId": rid,
                    "OwnerId": scope.account,
                    "Groups": [],
                    "Instances": [],
                }
            found["Instances"].append(doc)
        out: dict[str, Any] = {"Reservations": list(reservations.values())}
        if token:
            out["NextToken"] = token
        return out

    def instance_render(self, scope: Scope, records: list[Record]) -> list[dict[str, Any]]:
        return self.instance_docs(scope, records)

    # -- lifecycle ----------------------------------------------------------------------

    def _instances(self, scope: Scope, ids: list[str]) -> list[Record]:
        return [self.find(scope, "i", iid) for iid in dict.fromkeys(ids)]

    @staticmethod
    def _change(instance: Record, previous: dict[str, Any]) -> dict[str, Any]:
        return {
            "InstanceId": instance.id,
            "CurrentState": dict(instance.doc["State"]),
            "PreviousState": previous,
        }

    def start_instances(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        instances = self._instances(scope, params["InstanceIds"])
        for instance in instances:
            state = instance.doc["State"]["Name"]
            if state in ("terminated", "shutting-down", "stopping"):
                raise errors(
                    "IncorrectInstanceState",
                    f"The instance '{instance.id}' is not in a state from which it can be started.",
                )
        self.dry_run(params)
        changes = []
        for instance in instances:
            previous = dict(instance.doc["State"])
            if previous["Name"] == "stopped":
                self.set_state(scope, instance, "pending", ("pending", "pending"), "")
                self._give_public_address(scope, instance)
                self.schedule_launch(scope, instance.id)
            changes.append(self._change(instance, previous))
        return {"StartingInstances": changes}

    def _give_public_address(self, scope: Scope, instance: Record) -> None:
        eni = self.res.get(scope, "eni", instance.meta["eni"])
        if eni is None or (eni.doc.get("Association") or {}).get("AllocationId"):
            return
        association = self.auto_public(scope, eni)
        if association:
            self._set_public(scope, eni, association)
            self._reload(scope, instance)

    def _drop_public_address(self, scope: Scope, instance: Record) -> None:
        """A stopped instance keeps an Elastic IP and loses any other public address."""
        eni = self.res.get(scope, "eni", instance.meta["eni"])
        if eni is None or not eni.doc.get("Association"):
            return
        if eni.doc["Association"].get("AllocationId"):
            return
        self._set_public(scope, eni, None)
        self._reload(scope, instance)

    def _reload(self, scope: Scope, instance: Record) -> None:
        """Take up what was saved to the instance's record behind this copy's back."""
        fresh = self.find(scope, "i", instance.id)
        instance.doc.clear()
        instance.doc.update(fresh.doc)
        instance.meta.clear()
        instance.meta.update(fresh.meta)

    def stop_instances(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        instances = self._instances(scope, params["InstanceIds"])
        for instance in instances:
            state = instance.doc["State"]["Name"]
            if state in ("terminated", "shutting-down"):
                raise errors(
                    "IncorrectInstanceState",
                    f"The instance '{instance.id}' is not in a state from which it can be stopped.",
                )
            if instance.meta.get("disable_api_stop"):
                raise errors(
                    "OperationNotPermitted",
                    f"The instance '{instance.id}' may not be stopped. Modify its "
                    "'disableApiStop' instance attribute and try again.",
                )
        self.dry_run(params)
        changes = []
        for instance in instances:
            previous = dict(instance.doc["State"])
            if previous["Name"] in ("pending", "running"):
                self.set_state(
                    scope,
                    instance,
                    "stopping",
                    (
                        "Client.UserInitiatedShutdown",
                        "Client.UserInitiatedShutdown: User initiated shutdown",
                    ),
                    user_reason("User initiated"),
                )
                self.schedule_halt(scope, instance.id, "stopped")
            changes.append(self._change(instance, previous))
        return {"StoppingInstances": changes}

    def terminate_instances(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        instances = self._instances(scope, params["InstanceIds"])
        for instance in instances:
            if instance.meta.get("disable_api_termination"):
                raise errors(
                    "OperationNotPermitted",
                    f"The instance '{instance.id}' may not be terminated. Modify its "
                    "'disableApiTermination' instance attribute and try again.",
                )
        self.dry_run(params)
        changes = []
        for instance in instances:
            previous = dict(instance.doc["State"])
            if previous["Name"] not in ("terminated", "shutting-down"):
                self.begin_termination(
                    scope,
                    instance,
                    (
                        "Client.UserInitiatedShutdown",
                        "Client.UserInitiatedShutdown: User initiated shutdown",
                    ),
                    user_reason("User initiated"),
                )
            changes.append(self._change(instance, previous))
        return {"TerminatingInstances": changes}

    def begin_termination(
        self, scope: Scope, instance: Record, reason: tuple[str, str], transition: str
    ) -> None:
        self.set_state(scope, instance, "shutting-down", reason, transition)
        self.schedule_halt(scope, instance.id, "terminated")

    def finish_stop(self, scope: Scope, instance: Record) -> None:
        self._drop_public_address(scope, instance)
        self.set_state(scope, instance, "stopped")

    def finish_termination(self, scope: Scope, instance: Record) -> None:
        """Release what a terminated instance held: addresses, its interface, the volumes
        that go with it."""
        eni = self.res.get(scope, "eni", instance.meta.get("eni") or "")
        if eni is not None:
            allocation = (eni.doc.get("Association") or {}).get("AllocationId")
            if allocation:
                self.unbind_address(scope, allocation)
            else:
                public = (eni.doc.get("Association") or {}).get("PublicIp")
                if public:
                    self.res.release_public_ip(public)
        instance = self.find(scope, "i", instance.id)
        for mapping in list(instance.doc["BlockDeviceMappings"]):
            volume = self.res.get(scope, "vol", mapping["Ebs"]["VolumeId"])
            if volume is None:
                continue
            self.detach(scope, volume, instance.id)
            if mapping["Ebs"].get("DeleteOnTermination"):
                self.drop_volume(scope, volume.id)
        instance = self.find(scope, "i", instance.id)
        for nic in instance.doc["NetworkInterfaces"]:
            other = self.res.get(scope, "eni", nic["NetworkInterfaceId"])
            if other is None:
                continue
            if other.id == instance.meta.get("eni") or (other.doc.get("Attachment") or {}).get(
                "DeleteOnTermination"
            ):
                self.delete_interface_record(scope, other.id)
            else:
                other.doc.pop("Attachment", None)
                other.doc["Status"] = "available"
                self.save(scope, other)
        instance.doc.update(
            NetworkInterfaces=[], PrivateDnsName="", PublicDnsName="", SecurityGroups=[]
        )
        for key in ("PrivateIpAddress", "PublicIpAddress", "SubnetId", "VpcId"):
            instance.doc.pop(key, None)
        instance.meta["terminated_at"] = clock.now()
        self.set_state(scope, instance, "terminated")

    def reboot_instances(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        instances = self._instances(scope, params["InstanceIds"])
        for instance in instances:
            if instance.doc["State"]["Name"] == "terminated":
                raise errors(
                    "IncorrectInstanceState",
                    f"The instance '{instance.id}' is not in a state from which it can "
                    "be rebooted.",
                )
        self.dry_run(params)
        for instance in instances:
            if instance.doc["State"]["Name"] == "running":
                self.schedule_reboot(scope, instance.id)
        return {}

    # -- attributes ---------------------------------------------------------------------

    def describe_instance_attribute(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        instance = self.find(scope, "i", params["InstanceId"])
        attribute = params["Attribute"]
        doc, meta = instance.doc, instance.meta
        values: dict[str, tuple[str, Any]] = {
            "instanceType": ("InstanceType", {"Value": doc["InstanceType"]}),
            "kernel": ("KernelId", {}),
            "ramdisk": ("RamdiskId", {}),
            "userData": ("UserData", {"Value": meta["user_data"]} if meta["user_data"] else {}),
            "disableApiTermination": (
                "DisableApiTermination",
                {"Value": meta["disable_api_termination"]},
            ),
            "disableApiStop": ("DisableApiStop", {"Value": meta.get("disable_api_stop", False)}),
            "instanceInitiatedShutdownBehavior": (
                "InstanceInitiatedShutdownBehavior",
                {"Value": meta["shutdown_behavior"]},
            ),
            "rootDeviceName": ("RootDeviceName", {"Value": doc["RootDeviceName"]}),
            "blockDeviceMapping": ("BlockDeviceMappings", doc["BlockDeviceMappings"]),
            "productCodes": ("ProductCodes", []),
            "sourceDestCheck": ("SourceDestCheck", {"Value": doc["SourceDestCheck"]}),
            "groupSet": ("Groups", doc["SecurityGroups"]),
            "ebsOptimized": ("EbsOptimized", {"Value": doc["EbsOptimized"]}),
            "sriovNetSupport": ("SriovNetSupport", {"Value": "simple"}),
            "enaSupport": ("EnaSupport", {"Value": doc["EnaSupport"]}),
            "enclaveOptions": ("EnclaveOptions", doc["EnclaveOptions"]),
        }
        if attribute not in values:
            raise errors(
                "InvalidParameterValue", f"Value ({attribute}) for parameter attribute is invalid."
            )
        self.dry_run(params)
        key, value = values[attribute]
        return {"InstanceId": instance.id, key: value}

    def modify_instance_attribute(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        instance = self.find(scope, "i", params["InstanceId"])
        doc, meta = instance.doc, instance.meta
        given = dict(params)
        if params.get("Attribute"):
            name = params["Attribute"]
            given[name[:1].upper() + name[1:]] = {"Value": params.get("Value")}
        stopped = doc["State"]["Name"] == "stopped"
        changes: list[Any] = []
        if given.get("InstanceType"):
            itype = given["InstanceType"]["Value"]
            if not stopped:
                raise errors(
                    "IncorrectInstanceState",
                    f"The instance '{instance.id}' is not in the 'stopped' state.",
                )
            if itype not in instance_types.catalogue():
                raise errors("InvalidParameterValue", f"Invalid value '{itype}' for InstanceType.")
            changes.append(lambda: doc.__setitem__("InstanceType", itype))
        if given.get("UserData"):
            if not stopped:
                raise errors(
                    "IncorrectInstanceState",
                    f"The instance '{instance.id}' is not in the 'stopped' state.",
                )
            raw = given["UserData"]["Value"] or b""
            raw = raw if isinstance(raw, bytes) else str(raw).encode()
            with contextlib.suppress(binascii.Error, ValueError):
                raw = base64.b64decode(raw, validate=True)
            if len(raw) > USER_DATA_LIMIT:
                raise errors(
                    "InvalidParameterValue", f"User data is limited to {USER_DATA_LIMIT} bytes"
                )
            encoded = base64.b64encode(raw).decode()
            changes.append(lambda: meta.__setitem__("user_data", encoded))
        for param, key in (
            ("DisableApiTermination", "disable_api_termination"),
            ("DisableApiStop", "disable_api_stop"),
        ):
            if given.get(param) is not None:
                value = str(given[param].get("Value")).lower() in ("true", "1")
                changes.append(lambda k=key, v=value: meta.__setitem__(k, v))
        if given.get("InstanceInitiatedShutdownBehavior"):
            behaviour = given["InstanceInitiatedShutdownBehavior"]["Value"]
            if behaviour not in ("stop", "terminate"):
                raise errors(
                    "InvalidParameterValue",
                    f"Value ({behaviour}) for parameter "
                    "instanceInitiatedShutdownBehavior is invalid.",
                )
            changes.append(lambda: meta.__setitem__("shutdown_behavior", behaviour))
        if given.get("EbsOptimized") is not None:
            value = str(given["EbsOptimized"].get("Value")).lower() in ("true", "1")
            changes.append(lambda: doc.__setitem__("EbsOptimized", value))
        eni_change: dict[str, Any] = {}
        if given.get("Groups"):
            eni_change["Groups"] = self.resolve_groups(scope, doc["VpcId"], given["Groups"])
        if given.get("SourceDestCheck") is not None:
            eni_change["SourceDestCheck"] = str(given["SourceDestCheck"].get("Value")).lower() in (
                "true",
                "1",
            )
        if not changes and not eni_change:
            raise errors("MissingParameter", "The request must name an attribute to modify")
        self.dry_run(params)
        for change in changes:
            change()
        self.save(scope, instance)
        if eni_change:
            eni = self.find(scope, "eni", meta["eni"])
            eni.doc.update(eni_change)
            self.save(scope, eni)
            self.interface_changed(scope, eni)
        return {}

    def modify_instance_metadata_options(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        instance = self.find(scope, "i", params["InstanceId"])
        current = instance.doc["MetadataOptions"]
        merged = {
            k: params.get(k) or current.get(k)
            for k in (
                "HttpTokens",
                "HttpPutResponseHopLimit",
                "HttpEndpoint",
                "HttpProtocolIpv6",
                "InstanceMetadataTags",
            )
        }
        options = self._metadata_options(merged)
        self.dry_run(params)
        instance.doc["MetadataOptions"] = options
        self.save(scope, instance)
        return {
            "InstanceId": instance.id,
            "InstanceMetadataOptions": {**options, "State": "pending"},
        }

    def monitor_instances(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._monitoring(ctx, params, "enabled")

    def unmonitor_instances(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._monitoring(ctx, params, "disabled")

    def _monitoring(
        self, ctx: RequestContext, params: dict[str, Any], state: str
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        instances = self._instances(scope, params["InstanceIds"])
        self.dry_run(params)
        for instance in instances:
            instance.doc["Monitoring"] = {"State": state}
            self.save(scope, instance)
        return {
            "InstanceMonitorings": [
                {"InstanceId": i.id, "Monitoring": {"State": state}} for i in instances
            ]
        }
