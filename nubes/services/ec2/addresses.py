"""Elastic IP addresses, and the public addresses of instances. A public address here is a
loopback address (127.16.0.0 upwards) unique across the server, so that the instance runtime
can forward it into the instance; an Elastic IP is one that an account holds until released."""

from __future__ import annotations

import ipaddress
from typing import Any

from nubes.core.context import RequestContext
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.interfaces import InterfaceMixin
from nubes.services.ec2.model import Record, Scope

POOL_START = int(ipaddress.IPv4Address("127.16.0.1"))
POOL_END = int(ipaddress.IPv4Address("127.254.255.254"))
ADDRESSES_PER_REGION = 5

ADDRESS_FILTERS = Filters(
    {
        "allocation-id": "AllocationId",
        "association-id": "AssociationId",
        "domain": "Domain",
        "instance-id": "InstanceId",
        "network-border-group": "NetworkBorderGroup",
        "network-interface-id": "NetworkInterfaceId",
        "network-interface-owner-id": "NetworkInterfaceOwnerId",
        "private-ip-address": "PrivateIpAddress",
        "public-ip": "PublicIp",
    }
)


def public_dns(region: str, ip: str) -> str:
    if region == "us-east-1":
        return f"ec2-{ip.replace('.', '-')}.compute-1.amazonaws.com"
    return f"ec2-{ip.replace('.', '-')}.{region}.compute.amazonaws.com"


class AddressMixin(InterfaceMixin):
    def allocate_public_ip(self, scope: Scope, owner: str) -> str:
        used = self.res.public_ips_in_use()
        # Each server starts at its own place in the pool (by its port), so that servers side
        # by side on one machine (a test suite's) do not hand out the same loopback addresses.
        span = POOL_END - POOL_START
        start = self.env.settings.port * 2048 % span
        for step in range(span):
            value = POOL_START + (start + step) % span
            if value & 0xFF in (0, 255):
                continue
            text = str(ipaddress.IPv4Address(value))
            if text not in used:
                self.res.hold_public_ip(scope, text, owner)
                return text
        raise errors("AddressLimitExceeded", "No public address is left in the loopback pool.")

    def allocate_address(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        domain = params.get("Domain") or "vpc"
        if domain not in ("vpc", "standard"):
            raise errors(
                "InvalidParameterValue", f"Value ({domain}) for parameter domain is invalid."
            )
        if params.get("Address"):
            raise errors(
                "InvalidAddress.NotFound",
                f"Address {params['Address']} is not in a pool you own (BYOIP)",
            )
        if self.res.count(scope, "eipalloc") >= ADDRESSES_PER_REGION:
            raise errors(
                "AddressLimitExceeded", "The maximum number of addresses has been reached."
            )
        tags = self.tag_specs(params, "elastic-ip")
        self.dry_run(params)
        aid = self.new_id("eipalloc")
        ip = self.allocate_public_ip(scope, aid)
        doc = {
            "AllocationId": aid,
            "PublicIp": ip,
            "Domain": "vpc",
            "PublicIpv4Pool": "amazon",
            "NetworkBorderGroup": scope.region,
        }
        self.save(scope, Record("eipalloc", aid, doc, {}))
        self.tag(scope, aid, tags)
        return {**doc}

    def _address(self, scope: Scope, params: dict[str, Any]) -> Record:
        if params.get("AllocationId"):
            return self.find(scope, "eipalloc", params["AllocationId"])
        ip = params.get("PublicIp")
        if not ip:
            raise errors("MissingParameter", "Either AllocationId or PublicIp must be given")
        for record in self.res.all(scope, "eipalloc"):
            if record.doc["PublicIp"] == ip:
                return record
        raise errors("InvalidAddress.NotFound", f"Address '{ip}' not found.")

    def associate_address(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        address = self._address(scope, params)
        instance_id, eni_id = params.get("InstanceId"), params.get("NetworkInterfaceId")
        if not instance_id and not eni_id:
            raise errors(
                "MissingParameter", "Either instance ID or network interface ID must be specified"
            )
        if instance_id:
            instance = self.find(scope, "i", instance_id)
            if instance.doc["State"]["Name"] not in ("running", "stopped", "pending"):
                raise errors(
                    "IncorrectInstanceState",
                    f"The instance '{instance_id}' is not in a valid state for this operation.",
                )
            eni_id = instance.doc["NetworkInterfaces"][0]["NetworkInterfaceId"]
        eni = self.find(scope, "eni", eni_id or "")
        holder = address.doc.get("NetworkInterfaceId")
        if (
            address.doc.get("AssociationId")
            and holder != eni.id
            and not params.get("AllowReassociation")
        ):
            raise errors(
                "Resource.AlreadyAssociated",
                f"resource {address.id} is already associated with associate-id "
                f"{address.doc['AssociationId']}",
            )
        if (
            params.get("PrivateIpAddress")
            and params["PrivateIpAddress"] != eni.doc["PrivateIpAddress"]
        ):
            raise errors(
                "InvalidParameterValue",
                f"Address {params['PrivateIpAddress']} is not on the interface",
            )
        self.dry_run(params)
        if address.doc.get("AssociationId"):
            self.unbind_address(scope, address.id)
        other = (eni.doc.get("Association") or {}).get("AllocationId")
        if other and other != address.id:
            self.unbind_address(scope, other)
        association = self.bind_address(scope, address.id, eni.id, None)
        return {"AssociationId": association}

    def bind_address(
        self, scope: Scope, allocation_id: str, eni_id: str, service_owner: str | None
    ) -> str:
        """Point an Elastic IP at an interface (and its instance, whose auto-assigned public
        address it replaces)."""
        address = self.find(scope, "eipalloc", allocation_id)
        eni = self.find(scope, "eni", eni_id)
        association = self.new_id("eipassoc")
        ip = address.doc["PublicIp"]
        address.doc.update(
            AssociationId=association,
            NetworkInterfaceId=eni.id,
            NetworkInterfaceOwnerId=scope.account,
            PrivateIpAddress=eni.doc["PrivateIpAddress"],
        )
        instance_id = (eni.doc.get("Attachment") or {}).get("InstanceId")
        if instance_id:
            address.doc["InstanceId"] = instance_id
        if service_owner:
            address.meta["service_owner"] = service_owner
        self.save(scope, address)
        self._set_public(
            scope,
            eni,
            {
                "PublicIp": ip,
                "PublicDnsName": public_dns(scope.region, ip),
                "IpOwnerId": scope.account,
                "AllocationId": address.id,
                "AssociationId": association,
            },
        )
        return association

    def unbind_address(self, scope: Scope, allocation_id: str) -> None:
        address = self.find(scope, "eipalloc", allocation_id)
        eni_id = address.doc.get("NetworkInterfaceId")
        for key in (
            "AssociationId",
            "NetworkInterfaceId",
            "NetworkInterfaceOwnerId",
            "PrivateIpAddress",
            "InstanceId",
        ):
            address.doc.pop(key, None)
        address.meta.pop("service_owner", None)
        self.save(scope, address)
        eni = self.res.get(scope, "eni", eni_id) if eni_id else None
        if eni is not None:
            self._set_public(scope, eni, self.auto_public(scope, eni))

    def auto_public(self, scope: Scope, eni: Record) -> dict[str, Any] | None:
        """What an interface falls back to without an Elastic IP: a fresh public address if its
        instance runs with one (as AWS gives a new one), else none."""
        instance_id = (eni.doc.get("Attachment") or {}).get("InstanceId")
        instance = self.res.get(scope, "i", instance_id) if instance_id else None
        if instance is None or not instance.meta.get("wants_public"):
            return None
        if instance.doc["State"]["Name"] not in ("pending", "running"):
            return None
        ip = self.allocate_public_ip(scope, instance.id)
        return {
            "PublicIp": ip,
            "PublicDnsName": public_dns(scope.region, ip),
            "IpOwnerId": "amazon",
        }

    def _set_public(self, scope: Scope, eni: Record, association: dict[str, Any] | None) -> None:
        old = eni.doc.get("Association") or {}
        if old.get("PublicIp") and not old.get("AllocationId"):
            self.res.release_public_ip(old["PublicIp"])
        if association:
            eni.doc["Association"] = association
        else:
            eni.doc.pop("Association", None)
        for private in eni.doc["PrivateIpAddresses"]:
            if private.get("Primary"):
                if association:
                    private["Association"] = association
                else:
                    private.pop("Association", None)
        self.save(scope, eni)
        instance_id = (eni.doc.get("Attachment") or {}).get("InstanceId")
        instance = self.res.get(scope, "i", instance_id) if instance_id else None
        if instance is None:
            return
        for nic in instance.doc["NetworkInterfaces"]:
            if nic["NetworkInterfaceId"] == eni.id:
                nic.update(self.instance_nic(eni.doc))
                if not association:
                    nic.pop("Association", None)
        if eni.doc.get("Attachment", {}).get("DeviceIndex") == 0:
            if association:
                instance.doc["PublicIpAddress"] = association["PublicIp"]
                instance.doc["PublicDnsName"] = association["PublicDnsName"]
            else:
                instance.doc.pop("PublicIpAddress", None)
                instance.doc["PublicDnsName"] = ""
        self.save(scope, instance)
        self.public_address_changed(scope, instance)

    def public_address_changed(self, scope: Scope, instance: Record) -> None:
        """The instance runtime forwards the public address: tell it when it moves."""

    def disassociate_address(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        wanted = params.get("AssociationId")
        found = None
        for record in self.res.all(scope, "eipalloc"):
            if (wanted and record.doc.get("AssociationId") == wanted) or (
                not wanted and params.get("PublicIp") == record.doc["PublicIp"]
            ):
                found = record
        if found is None or not found.doc.get("AssociationId"):
            raise errors(
                "InvalidAssociationID.NotFound", f"The association ID '{wanted}' does not exist"
            )
        if found.meta.get("service_owner"):
            raise errors(
                "InvalidIPAddress.InUse",
                f"The address {found.doc['PublicIp']} is in use by {found.meta['service_owner']}",
            )
        self.dry_run(params)
        self.unbind_address(scope, found.id)
        return {}

    def release_address(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        address = self._address(scope, params)
        if address.doc.get("AssociationId"):
            raise errors("InvalidIPAddress.InUse", "Address is in use.")
        self.dry_run(params)
        self.res.release_public_ip(address.doc["PublicIp"])
        self.res.delete(scope, "eipalloc", address.id)
        return {}

    def describe_addresses(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        records = None
        if params.get("PublicIps"):
            records = [self._address(scope, {"PublicIp": ip}) for ip in params["PublicIps"]]
        docs, _ = self.describe_kind(
            scope, "eipalloc", params, ADDRESS_FILTERS, "AllocationIds", records, page=False
        )
        return {"Addresses": docs}
