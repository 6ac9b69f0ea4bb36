"""Elastic network interfaces: a private address from their subnet, security groups of their
VPC, attachment to an instance by device index; an instance's primary interface is one."""

from __future__ import annotations

import secrets
from typing import Any

from nubes.core.context import RequestContext
from nubes.services.ec2.common import stamp
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.model import Record, Scope
from nubes.services.ec2.security_groups import SecurityGroupMixin
from nubes.services.ec2.subnets import SubnetMixin

GROUPS_PER_INTERFACE = 5

ENI_FILTERS = Filters(
    {
        "addresses.private-ip-address": "PrivateIpAddresses.PrivateIpAddress",
        "addresses.primary": "PrivateIpAddresses.Primary",
        "association.allocation-id": "Association.AllocationId",
        "association.association-id": "Association.AssociationId",
        "association.public-ip": "Association.PublicIp",
        "association.ip-owner-id": "Association.IpOwnerId",
        "attachment.attachment-id": "Attachment.AttachmentId",
        "attachment.instance-id": "Attachment.InstanceId",
        "attachment.instance-owner-id": "Attachment.InstanceOwnerId",
        "attachment.device-index": "Attachment.DeviceIndex",
        "attachment.status": "Attachment.Status",
        "attachment.delete-on-termination": "Attachment.DeleteOnTermination",
        "availability-zone": "AvailabilityZone",
        "description": "Description",
        "group-id": "Groups.GroupId",
        "group-name": "Groups.GroupName",
        "interface-type": "InterfaceType",
        "mac-address": "MacAddress",
        "network-interface-id": "NetworkInterfaceId",
        "owner-id": "OwnerId",
        "private-ip-address": "PrivateIpAddress",
        "private-dns-name": "PrivateDnsName",
        "requester-managed": "RequesterManaged",
        "source-dest-check": "SourceDestCheck",
        "status": "Status",
        "subnet-id": "SubnetId",
        "vpc-id": "VpcId",
    }
)


def private_dns(region: str, ip: str) -> str:
    domain = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
    return f"ip-{ip.replace('.', '-')}.{domain}"


class InterfaceMixin(SecurityGroupMixin, SubnetMixin):
    def resolve_groups(
        self, scope: Scope, vpc_id: str, ids: list[str], names: tuple[str, ...] | list[str] = ()
    ) -> list[dict[str, str]]:
        """The {GroupId, GroupName} of the groups asked for, all of the VPC (its default
        group when none is named)."""
        found: list[Record] = []
        for gid in ids:
            group = self.find(scope, "sg", gid)
            if group.doc["VpcId"] != vpc_id:
                raise errors(
                    "InvalidParameter",
                    f"Security group {gid} and subnet belong to different networks.",
                )
            found.append(group)
        for name in names:
            group_named = self.group_by_name(scope, vpc_id, name)
            if group_named is None:
                raise errors(
                    "InvalidGroup.NotFound",
                    f"The security group '{name}' does not exist in VPC '{vpc_id}'",
                )
            found.append(group_named)
        if not found:
            default = self.group_by_name(scope, vpc_id, "default")
            if default is not None:
                found.append(default)
        if len(found) > GROUPS_PER_INTERFACE:
            raise errors(
                "SecurityGroupsPerInterfaceLimitExceeded",
                "The maximum number of security groups per interface has been reached.",
            )
        unique = {g.id: g for g in found}
        return [{"GroupId": g.id, "GroupName": g.doc["GroupName"]} for g in unique.values()]

    def new_interface(
        self,
        scope: Scope,
        subnet: Record,
        groups: list[dict[str, str]],
        description: str = "",
        interface_type: str = "interface",
        owner: str | None = None,
        private_ip: str | None = None,
    ) -> Record:
        eid = self.new_id("eni")
        ip = self.allocate_private_ip(scope, subnet, owner or eid, private_ip)
        dns = private_dns(scope.region, ip)
        mac = "02:" + ":".join(f"{secrets.randbelow(256):02x}" for _ in range(5))
        doc: dict[str, Any] = {
            "NetworkInterfaceId": eid,
            "SubnetId": subnet.id,
            "VpcId": subnet.doc["VpcId"],
            "AvailabilityZone": subnet.doc["AvailabilityZone"],
            "Description": description,
            "Groups": groups,
            "InterfaceType": interface_type,
            "MacAddress": mac,
            "OwnerId": scope.account,
            "PrivateIpAddress": ip,
            "PrivateDnsName": dns,
            "PrivateIpAddresses": [
                {"Primary": True, "PrivateIpAddress": ip, "PrivateDnsName": dns}
            ],
            "Ipv6Addresses": [],
            "RequesterManaged": interface_type != "interface",
            "SourceDestCheck": True,
            "Status": "available",
        }
        record = Record("eni", eid, doc, {"ip_owner": owner or eid})
        self.save(scope, record)
        return record

    def delete_interface_record(self, scope: Scope, eni_id: str) -> None:
        record = self.res.get(scope, "eni", eni_id)
        if record is not None:
            self.res.release_private_ips(scope, record.meta.get("ip_owner") or eni_id)
            self.res.delete(scope, "eni", eni_id)

    def create_network_interface(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        subnet = self.find(scope, "subnet", params["SubnetId"])
        groups = self.resolve_groups(scope, subnet.doc["VpcId"], params.get("Groups") or [])
        tags = self.tag_specs(params, "network-interface")
        self.dry_run(params)
        eni = self.new_interface(
            scope,
            subnet,
            groups,
            params.get("Description") or "",
            private_ip=params.get("PrivateIpAddress"),
        )
        self.tag(scope, eni.id, tags)
        return {"NetworkInterface": self.with_tags(scope, [eni])[0]}

    def delete_network_interface(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        eni = self.find(scope, "eni", params["NetworkInterfaceId"])
        if eni.doc.get("Attachment") or eni.doc["RequesterManaged"]:
            raise errors(
                "InvalidNetworkInterface.InUse",
                f"The network interface '{eni.id}' is currently in use.",
            )
        self.dry_run(params)
        self.delete_interface_record(scope, eni.id)
        return {}

    def describe_network_interfaces(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        docs, token = self.describe_kind(scope, "eni", params, ENI_FILTERS, "NetworkInterfaceIds")
        return {"NetworkInterfaces": docs, **({"NextToken": token} if token else {})}

    def modify_network_interface_attribute(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        eni = self.find(scope, "eni", params["NetworkInterfaceId"])
        if params.get("Groups"):
            eni.doc["Groups"] = self.resolve_groups(scope, eni.doc["VpcId"], params["Groups"])
        if params.get("SourceDestCheck") is not None:
            eni.doc["SourceDestCheck"] = bool(params["SourceDestCheck"].get("Value"))
        if params.get("Description") is not None:
            eni.doc["Description"] = params["Description"].get("Value") or ""
        self.dry_run(params)
        self.save(scope, eni)
        self.interface_changed(scope, eni)
        return {}

    def interface_changed(self, scope: Scope, eni: Record) -> None:
        """The instance an interface belongs to shows its groups; keep them in step."""
        attachment = eni.doc.get("Attachment") or {}
        instance = self.res.get(scope, "i", attachment.get("InstanceId") or "")
        if instance is None:
            return
        for nic in instance.doc["NetworkInterfaces"]:
            if nic["NetworkInterfaceId"] == eni.id:
                nic["Groups"] = eni.doc["Groups"]
                nic["SourceDestCheck"] = eni.doc["SourceDestCheck"]
        if attachment.get("DeviceIndex") == 0:
            instance.doc["SecurityGroups"] = eni.doc["Groups"]
            instance.doc["SourceDestCheck"] = eni.doc["SourceDestCheck"]
        self.save(scope, instance)

    def attach_network_interface(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        eni = self.find(scope, "eni", params["NetworkInterfaceId"])
        instance = self.find(scope, "i", params["InstanceId"])
        if eni.doc.get("Attachment"):
            raise errors("InvalidNetworkInterface.InUse", f"Interface: [{eni.id}] in use.")
        if instance.doc["State"]["Name"] not in ("running", "stopped"):
            raise errors(
                "IncorrectState", f"Instance '{instance.id}' is not 'running' or 'stopped'."
            )
        if eni.doc["AvailabilityZone"] != instance.doc["Placement"]["AvailabilityZone"]:
            raise errors(
                "InvalidParameterValue",
                "The network interface and the instance must be in the same Availability Zone",
            )
        index = params["DeviceIndex"]
        if any(n["Attachment"]["DeviceIndex"] == index for n in instance.doc["NetworkInterfaces"]):
            raise errors(
                "InvalidParameterValue",
                f"Instance '{instance.id}' already has an interface attached at device "
                f"index '{index}'.",
            )
        self.dry_run(params)
        attachment = {
            "AttachmentId": self.new_id("eni-attach"),
            "DeviceIndex": index,
            "InstanceId": instance.id,
            "InstanceOwnerId": scope.account,
            "Status": "attached",
            "AttachTime": stamp(),
            "DeleteOnTermination": False,
            "NetworkCardIndex": 0,
        }
        eni.doc["Attachment"] = attachment
        eni.doc["Status"] = "in-use"
        self.save(scope, eni)
        instance.doc["NetworkInterfaces"].append(self.instance_nic(eni.doc))
        self.save(scope, instance)
        return {"AttachmentId": attachment["AttachmentId"], "NetworkCardIndex": 0}

    def detach_network_interface(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        wanted = params["AttachmentId"]
        for eni in self.res.all(scope, "eni"):
            attachment = eni.doc.get("Attachment")
            if not attachment or attachment["AttachmentId"] != wanted:
                continue
            if attachment["DeviceIndex"] == 0:
                raise errors(
                    "OperationNotPermitted",
                    "The network interface at device index 0 cannot be detached.",
                )
            self.dry_run(params)
            del eni.doc["Attachment"]
            eni.doc["Status"] = "available"
            self.save(scope, eni)
            instance = self.res.get(scope, "i", attachment["InstanceId"])
            if instance is not None:
                instance.doc["NetworkInterfaces"] = [
                    n
                    for n in instance.doc["NetworkInterfaces"]
                    if n["NetworkInterfaceId"] != eni.id
                ]
                self.save(scope, instance)
            return {}
        raise errors("InvalidAttachmentID.NotFound", f"The attachment ID '{wanted}' does not exist")

    @staticmethod
    def instance_nic(eni: dict[str, Any]) -> dict[str, Any]:
        """How DescribeInstances shows an attached interface."""
        keep = (
            "NetworkInterfaceId",
            "SubnetId",
            "VpcId",
            "Description",
            "Groups",
            "MacAddress",
            "OwnerId",
            "PrivateIpAddress",
            "PrivateDnsName",
            "PrivateIpAddresses",
            "Ipv6Addresses",
            "SourceDestCheck",
            "Status",
            "Attachment",
            "Association",
            "InterfaceType",
        )
        return {k: eni[k] for k in keep if k in eni}
