"""Internet gateways (attached to one VPC at a time) and NAT gateways (public ones hold an
Elastic IP; deleted ones stay visible as ``deleted`` for an hour, as AWS shows them)."""

from __future__ import annotations

from typing import Any

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.services.ec2.addresses import AddressMixin
from nubes.services.ec2.common import stamp
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.model import Record, Scope

DELETED_NAT_VISIBLE = 3600.0

IGW_FILTERS = Filters(
    {
        "attachment.state": "Attachments.State",
        "attachment.vpc-id": "Attachments.VpcId",
        "internet-gateway-id": "InternetGatewayId",
        "owner-id": "OwnerId",
    }
)
NAT_FILTERS = Filters(
    {
        "nat-gateway-id": "NatGatewayId",
        "state": "State",
        "subnet-id": "SubnetId",
        "vpc-id": "VpcId",
    }
)


class GatewayMixin(AddressMixin):
    def new_internet_gateway(self, scope: Scope) -> Record:
        gid = self.new_id("igw")
        doc = {"InternetGatewayId": gid, "OwnerId": scope.account, "Attachments": []}
        record = Record("igw", gid, doc, {})
        self.save(scope, record)
        return record

    def create_internet_gateway(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        tags = self.tag_specs(params, "internet-gateway")
        self.dry_run(params)
        gateway = self.new_internet_gateway(scope)
        self.tag(scope, gateway.id, tags)
        return {"InternetGateway": self.with_tags(scope, [gateway])[0]}

    def attach_internet_gateway(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        gateway = self.find(scope, "igw", params["InternetGatewayId"])
        vpc = self.find(scope, "vpc", params["VpcId"])
        if gateway.doc["Attachments"]:
            raise errors(
                "Resource.AlreadyAssociated",
                f"resource {gateway.id} is already attached to network "
                f"{gateway.doc['Attachments'][0]['VpcId']}",
            )
        for other in self.res.all(scope, "igw"):
            if any(a["VpcId"] == vpc.id for a in other.doc["Attachments"]):
                raise errors(
                    "Resource.AlreadyAssociated",
                    f"network {vpc.id} already has an internet gateway attached",
                )
        self.dry_run(params)
        gateway.doc["Attachments"] = [{"State": "available", "VpcId": vpc.id}]
        self.save(scope, gateway)
        return {}

    def detach_internet_gateway(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        gateway = self.find(scope, "igw", params["InternetGatewayId"])
        vpc_id = params["VpcId"]
        if not any(a["VpcId"] == vpc_id for a in gateway.doc["Attachments"]):
            raise errors(
                "Gateway.NotAttached", f"resource {gateway.id} is not attached to network {vpc_id}"
            )
        if any(
            a.doc.get("Domain") == "vpc"
            and a.doc.get("AssociationId")
            and self._address_vpc(scope, a) == vpc_id
            for a in self.res.all(scope, "eipalloc")
        ):
            raise errors(
                "DependencyViolation",
                f"Network {vpc_id} has some mapped public address(es). Please unmap "
                "those public address(es) before detaching the gateway.",
            )
        self.dry_run(params)
        gateway.doc["Attachments"] = []
        self.save(scope, gateway)
        return {}

    def _address_vpc(self, scope: Scope, address: Record) -> str | None:
        eni = address.doc.get("NetworkInterfaceId")
        found = self.res.get(scope, "eni", eni) if eni else None
        return found.doc.get("VpcId") if found else None

    def delete_internet_gateway(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        gateway = self.find(scope, "igw", params["InternetGatewayId"])
        if gateway.doc["Attachments"]:
            raise errors(
                "DependencyViolation",
                f"The internetGateway '{gateway.id}' has dependencies and cannot be deleted.",
            )
        self.dry_run(params)
        self.res.delete(scope, "igw", gateway.id)
        return {}

    def describe_internet_gateways(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        docs, token = self.describe_kind(scope, "igw", params, IGW_FILTERS, "InternetGatewayIds")
        return {"InternetGateways": docs, **({"NextToken": token} if token else {})}

    # -- NAT gateways -------------------------------------------------------------------

    def create_nat_gateway(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        if not params.get("SubnetId"):
            # Optional in the model (for regional NAT gateways); a zonal one needs its subnet.
            raise errors("MissingParameter", "The request must contain the parameter SubnetId")
        subnet = self.find(scope, "subnet", params["SubnetId"])
        connectivity = params.get("ConnectivityType") or "public"
        address: dict[str, Any] = {"IsPrimary": True, "Status": "succeeded"}
        allocation = params.get("AllocationId")
        if connectivity == "public":
            if not allocation:
                raise errors(
                    "MissingParameter",
                    "The request must contain the parameter AllocationId for a public NAT gateway",
                )
            eip = self.find(scope, "eipalloc", allocation)
            if eip.doc.get("AssociationId"):
                raise errors(
                    "Resource.AlreadyAssociated",
                    f"Elastic IP address [{allocation}] is already associated",
                )
            address.update(AllocationId=allocation, PublicIp=eip.doc["PublicIp"])
        elif allocation:
            raise errors(
                "InvalidParameterCombination",
                "A private NAT gateway cannot have an Elastic IP address",
            )
        tags = self.tag_specs(params, "natgateway")
        self.dry_run(params)
        gid = self.new_id("nat")
        eni = self.new_interface(
            scope,
            subnet,
            [],
            description=f"Interface for NAT Gateway {gid}",
            interface_type="nat_gateway",
            owner=gid,
        )
        address.update(NetworkInterfaceId=eni.id, PrivateIp=eni.doc["PrivateIpAddress"])
        doc = {
            "NatGatewayId": gid,
            "SubnetId": subnet.id,
            "VpcId": subnet.doc["VpcId"],
            "State": "available",
            "CreateTime": stamp(),
            "ConnectivityType": connectivity,
            "NatGatewayAddresses": [address],
        }
        if allocation:
            self.bind_address(scope, allocation, eni.id, gid)
        record = Record("nat", gid, doc, {})
        self.save(scope, record)
        self.tag(scope, gid, tags)
        created = self.with_tags(scope, [record])[0]
        return {
            "NatGateway": {**created, "State": "pending"},
            "ClientToken": params.get("ClientToken"),
        }

    def delete_nat_gateway(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        gateway = self.find(scope, "nat", params["NatGatewayId"])
        if gateway.doc["State"] == "deleted":
            raise errors("NatGatewayNotFound", f"The Nat Gateway {gateway.id} was not found")
        self.dry_run(params)
        for address in gateway.doc["NatGatewayAddresses"]:
            if address.get("AllocationId"):
                self.unbind_address(scope, address["AllocationId"])
            self.delete_interface_record(scope, address["NetworkInterfaceId"])
        gateway.doc["State"] = "deleted"
        gateway.doc["DeleteTime"] = stamp()
        gateway.meta["deleted_at"] = clock.now()
        self.save(scope, gateway)
        return {"NatGatewayId": gateway.id}

    def describe_nat_gateways(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        for record in self.res.all(scope, "nat"):
            gone = record.meta.get("deleted_at")
            if gone is not None and clock.now() - gone > DELETED_NAT_VISIBLE:
                self.res.delete(scope, "nat", record.id)
        params = {**params, "Filters": params.get("Filter")}
        docs, token = self.describe_kind(scope, "nat", params, NAT_FILTERS, "NatGatewayIds")
        return {"NatGateways": docs, **({"NextToken": token} if token else {})}
