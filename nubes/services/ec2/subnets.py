"""Subnets: inside one of their VPC's CIDRs, /16 to /28, never overlapping another; AWS keeps
the first four addresses and the last, so ``AvailableIpAddressCount`` starts at size - 5 and
drops with each private address handed out."""

from __future__ import annotations

import ipaddress
from typing import Any

from nubes.core import arns
from nubes.core.context import RequestContext
from nubes.services.ec2 import regions
from nubes.services.ec2.common import Ec2Base, network
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.model import Record, Scope
from nubes.services.ec2.network_acls import NetworkAclMixin
from nubes.services.ec2.route_tables import RouteTableMixin

RESERVED = 5

SUBNET_FILTERS = Filters(
    {
        "availability-zone": "AvailabilityZone",
        "availabilityZone": "AvailabilityZone",
        "availability-zone-id": "AvailabilityZoneId",
        "available-ip-address-count": "AvailableIpAddressCount",
        "cidr-block": "CidrBlock",
        "cidr": "CidrBlock",
        "cidrBlock": "CidrBlock",
        "default-for-az": "DefaultForAz",
        "defaultForAz": "DefaultForAz",
        "map-public-ip-on-launch": "MapPublicIpOnLaunch",
        "owner-id": "OwnerId",
        "state": "State",
        "subnet-arn": "SubnetArn",
        "subnet-id": "SubnetId",
        "vpc-id": "VpcId",
        "ipv6-cidr-block-association.ipv6-cidr-block": "Ipv6CidrBlockAssociationSet.Ipv6CidrBlock",
        "ipv6-native": "Ipv6Native",
    }
)

_BOOL_ATTRIBUTES = (
    "MapPublicIpOnLaunch",
    "AssignIpv6AddressOnCreation",
    "EnableDns64",
    "MapCustomerOwnedIpOnLaunch",
)


class SubnetMixin(NetworkAclMixin, RouteTableMixin, Ec2Base):
    def new_subnet(
        self, scope: Scope, vpc_id: str, cidr: str, zone: str, default: bool = False
    ) -> Record:
        sid = self.new_id("subnet")
        doc: dict[str, Any] = {
            "SubnetId": sid,
            "SubnetArn": arns.arn("ec2", scope.region, scope.account, f"subnet/{sid}"),
            "VpcId": vpc_id,
            "CidrBlock": cidr,
            "AvailabilityZone": zone,
            "AvailabilityZoneId": regions.zone_id(scope.region, zone),
            "DefaultForAz": default,
            "MapPublicIpOnLaunch": default,
            "State": "available",
            "OwnerId": scope.account,
            "AssignIpv6AddressOnCreation": False,
            "Ipv6CidrBlockAssociationSet": [],
            "MapCustomerOwnedIpOnLaunch": False,
            "EnableDns64": False,
            "Ipv6Native": False,
            "PrivateDnsNameOptionsOnLaunch": {
                "HostnameType": "ip-name",
                "EnableResourceNameDnsARecord": False,
                "EnableResourceNameDnsAAAARecord": False,
            },
        }
        record = Record("subnet", sid, doc, {})
        self.save(scope, record)
        self.associate_default_acl(scope, vpc_id, sid)
        return record

    def _with_counts(self, scope: Scope, records: list[Record]) -> list[dict[str, Any]]:
        used = self.res.private_ip_counts(scope)
        docs = self.with_tags(scope, records)
        for doc in docs:
            size = ipaddress.IPv4Network(doc["CidrBlock"]).num_addresses
            doc["AvailableIpAddressCount"] = size - RESERVED - used.get(doc["SubnetId"], 0)
        return docs

    def subnet_doc(self, scope: Scope, subnet: Record) -> dict[str, Any]:
        return self._with_counts(scope, [subnet])[0]

    def allocate_private_ip(
        self, scope: Scope, subnet: Record, owner: str, wanted: str | None = None
    ) -> str:
        """A free address of the subnet (the one asked for, or the lowest)."""
        net = ipaddress.IPv4Network(subnet.doc["CidrBlock"])
        first, last = int(net.network_address) + 4, int(net.broadcast_address) - 1
        if wanted is not None:
            try:
                address = ipaddress.IPv4Address(wanted)
            except ValueError:
                raise errors("InvalidParameterValue", f"Invalid IPv4 address: {wanted}") from None
            if address not in net:
                raise errors(
                    "InvalidParameterValue",
                    f"Address {wanted} does not fall within the subnet's address range",
                )
            if not first <= int(address) <= last:
                raise errors(
                    "InvalidParameterValue",
                    f"Address {wanted} is in subnet's reserved address range",
                )
            if not self.res.hold_private_ip(scope, subnet.id, wanted, owner):
                raise errors("InvalidIPAddress.InUse", f"Address {wanted} is in use.")
            return wanted
        used = self.res.used_private_ips(scope, subnet.id)
        for value in range(first, last + 1):
            text = str(ipaddress.IPv4Address(value))
            if text not in used:
                self.res.hold_private_ip(scope, subnet.id, text, owner)
                return text
        raise errors(
            "InsufficientFreeAddressesInSubnet",
            f"There are not enough free addresses in subnet '{subnet.id}' to satisfy "
            "the requested number of instances.",
        )

    def create_subnet(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        vpc = self.find(scope, "vpc", params["VpcId"])
        cidr = params.get("CidrBlock")
        if not cidr:
            raise errors("MissingParameter", "The request must contain the parameter cidrBlock")
        net = network(cidr)
        if net is None:
            raise errors(
                "InvalidParameterValue",
                f"Value ({cidr}) for parameter cidrBlock is invalid. This is not a "
                "valid CIDR block.",
            )
        inside = any(
            net.subnet_of(ipaddress.IPv4Network(a["CidrBlock"]))
            for a in vpc.doc["CidrBlockAssociationSet"]
        )
        if not inside or not 16 <= net.prefixlen <= 28:
            raise errors("InvalidSubnet.Range", f"The CIDR '{cidr}' is invalid.")
        for other in self.res.all(scope, "subnet"):
            if other.doc["VpcId"] == vpc.id and net.overlaps(
                ipaddress.IPv4Network(other.doc["CidrBlock"])
            ):
                raise errors(
                    "InvalidSubnet.Conflict", f"The CIDR '{cidr}' conflicts with another subnet"
                )
        zone = self._zone(scope, params.get("AvailabilityZone"), params.get("AvailabilityZoneId"))
        tags = self.tag_specs(params, "subnet")
        self.dry_run(params)
        subnet = self.new_subnet(scope, vpc.id, cidr, zone)
        self.tag(scope, subnet.id, tags)
        return {"Subnet": self.subnet_doc(scope, subnet)}

    def _zone(self, scope: Scope, name: str | None, zid: str | None) -> str:
        zones = regions.zones(scope.region)
        if name:
            if name not in dict(zones):
                raise errors(
                    "InvalidParameterValue",
                    f"Value ({name}) for parameter availabilityZone is invalid. Subnets "
                    "can currently only be created in the following availability "
                    f"zones: {', '.join(z for z, _ in zones)}.",
                )
            return name
        if zid:
            for zone, found in zones:
                if found == zid:
                    return zone
            raise errors(
                "InvalidParameterValue",
                f"Value ({zid}) for parameter availabilityZoneId is invalid.",
            )
        return zones[0][0]

    def delete_subnet(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        subnet = self.find(scope, "subnet", params["SubnetId"])
        if self.res.used_private_ips(scope, subnet.id):
            raise errors(
                "DependencyViolation",
                f"The subnet '{subnet.id}' has dependencies and cannot be deleted.",
            )
        self.dry_run(params)
        self.forget_subnet_acl(scope, subnet.id)
        self.forget_subnet_routes(scope, subnet.id)
        self.res.delete(scope, "subnet", subnet.id)
        return {}

    def describe_subnets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        docs, token = self.describe_kind(
            scope, "subnet", params, SUBNET_FILTERS, "SubnetIds", render=self._with_counts
        )
        return {"Subnets": docs, **({"NextToken": token} if token else {})}

    def modify_subnet_attribute(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        subnet = self.find(scope, "subnet", params["SubnetId"])
        changed = False
        for name in _BOOL_ATTRIBUTES:
            if params.get(name) is not None:
                subnet.doc[name] = bool(params[name].get("Value"))
                changed = True
        if params.get("PrivateDnsHostnameTypeOnLaunch"):
            subnet.doc["PrivateDnsNameOptionsOnLaunch"]["HostnameType"] = params[
                "PrivateDnsHostnameTypeOnLaunch"
            ]
            changed = True
        if not changed:
            raise errors("MissingParameter", "The request must name an attribute to modify")
        self.dry_run(params)
        self.save(scope, subnet)
        return {}
