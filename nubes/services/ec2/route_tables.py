"""Route tables: the local route of each VPC CIDR, the main table, subnet and gateway
associations, routes to internet / NAT gateways, peering connections, endpoints, interfaces
and instances; a route whose target is gone shows ``blackhole``."""

from __future__ import annotations

from typing import Any

from nubes.core.context import RequestContext
from nubes.services.ec2.common import Ec2Base, network
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.model import Record, Scope

RTB_FILTERS = Filters(
    {
        "association.gateway-id": "Associations.GatewayId",
        "association.route-table-association-id": "Associations.RouteTableAssociationId",
        "association.route-table-id": "Associations.RouteTableId",
        "association.subnet-id": "Associations.SubnetId",
        "association.main": "Associations.Main",
        "owner-id": "OwnerId",
        "route-table-id": "RouteTableId",
        "route.destination-cidr-block": "Routes.DestinationCidrBlock",
        "route.destination-ipv6-cidr-block": "Routes.DestinationIpv6CidrBlock",
        "route.destination-prefix-list-id": "Routes.DestinationPrefixListId",
        "route.gateway-id": "Routes.GatewayId",
        "route.instance-id": "Routes.InstanceId",
        "route.nat-gateway-id": "Routes.NatGatewayId",
        "route.origin": "Routes.Origin",
        "route.state": "Routes.State",
        "route.vpc-peering-connection-id": "Routes.VpcPeeringConnectionId",
        "route.transit-gateway-id": "Routes.TransitGatewayId",
        "vpc-id": "VpcId",
    }
)

# Route target parameter -> kind of the resource it names.
TARGETS = {
    "GatewayId": "igw",
    "NatGatewayId": "nat",
    "VpcPeeringConnectionId": "pcx",
    "NetworkInterfaceId": "eni",
    "InstanceId": "i",
    "VpcEndpointId": "vpce",
}
_PASSTHROUGH = (
    "TransitGatewayId",
    "EgressOnlyInternetGatewayId",
    "CarrierGatewayId",
    "LocalGatewayId",
    "CoreNetworkArn",
)
_DESTINATIONS = ("DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId")


def new_route_table(
    base: Ec2Base, scope: Scope, vpc_id: str, cidrs: list[str], main: bool
) -> Record:
    rid = base.new_id("rtb")
    doc: dict[str, Any] = {
        "RouteTableId": rid,
        "VpcId": vpc_id,
        "OwnerId": scope.account,
        "Routes": [local_route(c) for c in cidrs],
        "Associations": [],
        "PropagatingVgws": [],
    }
    if main:
        doc["Associations"].append(
            {
                "Main": True,
                "RouteTableAssociationId": base.new_id("rtbassoc"),
                "RouteTableId": rid,
                "AssociationState": {"State": "associated"},
            }
        )
    record = Record("rtb", rid, doc, {})
    base.save(scope, record)
    return record


def local_route(cidr: str) -> dict[str, Any]:
    return {
        "DestinationCidrBlock": cidr,
        "GatewayId": "local",
        "Origin": "CreateRouteTable",
        "State": "active",
    }


class RouteTableMixin(Ec2Base):
    def main_route_table(self, scope: Scope, vpc_id: str) -> Record | None:
        for record in self.res.all(scope, "rtb"):
            if record.doc["VpcId"] == vpc_id and any(
                a.get("Main") for a in record.doc["Associations"]
            ):
                return record
        return None

    def _route_states(self, scope: Scope, records: list[Record]) -> list[dict[str, Any]]:
        """A route to something deleted, detached or stopped is a blackhole."""
        docs = self.with_tags(scope, records)
        cache: dict[str, bool] = {}
        for doc in docs:
            for route in doc["Routes"]:
                if route.get("GatewayId") == "local":
                    continue
                for param, kind in TARGETS.items():
                    target = route.get(param)
                    if not target or (param == "GatewayId" and not target.startswith("igw-")):
                        continue
                    if target not in cache:
                        cache[target] = self._target_alive(scope, kind, target, doc["VpcId"])
                    route["State"] = "active" if cache[target] else "blackhole"
        return docs

    def _target_alive(self, scope: Scope, kind: str, target: str, vpc_id: str) -> bool:
        record = self.res.get(scope, kind, target)
        if record is None:
            return False
        doc = record.doc
        if kind == "igw":
            return any(a["VpcId"] == vpc_id for a in doc.get("Attachments", ()))
        if kind == "nat":
            return bool(doc["State"] in ("pending", "available"))
        if kind == "pcx":
            return bool(doc["Status"]["Code"] == "active")
        if kind == "i":
            return bool(doc["State"]["Name"] == "running")
        return True

    # -- tables -------------------------------------------------------------------------

    def create_route_table(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        vpc = self.find(scope, "vpc", params["VpcId"])
        tags = self.tag_specs(params, "route-table")
        self.dry_run(params)
        cidrs = [a["CidrBlock"] for a in vpc.doc["CidrBlockAssociationSet"]]
        table = new_route_table(self, scope, vpc.id, cidrs, main=False)
        self.tag(scope, table.id, tags)
        return {"RouteTable": self.with_tags(scope, [table])[0]}

    def delete_route_table(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        table = self.find(scope, "rtb", params["RouteTableId"])
        if table.doc["Associations"]:
            raise errors(
                "DependencyViolation",
                f"The routeTable '{table.id}' has dependencies and cannot be deleted.",
            )
        self.dry_run(params)
        self.res.delete(scope, "rtb", table.id)
        return {}

    def describe_route_tables(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        docs, token = self.describe_kind(
            scope,
            "rtb",
            params,
            RTB_FILTERS,
            "RouteTableIds",
            render=self._route_states,
            shared=False,
            default_limit=100,
        )
        return {"RouteTables": docs, **({"NextToken": token} if token else {})}

    # -- routes -------------------------------------------------------------------------

    def create_route(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_route(ctx, params, replace=False)

    def replace_route(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_route(ctx, params, replace=True)

    def _put_route(
        self, ctx: RequestContext, params: dict[str, Any], replace: bool
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        table = self.find(scope, "rtb", params["RouteTableId"])
        dest_keys = [k for k in _DESTINATIONS if params.get(k)]
        if len(dest_keys) != 1:
            raise errors(
                "InvalidParameterCombination" if dest_keys else "MissingParameter",
                "The request must contain exactly one of destinationCidrBlock, "
                "destinationIpv6CidrBlock or destinationPrefixListId",
            )
        dest_key = dest_keys[0]
        dest = params[dest_key]
        if dest_key == "DestinationCidrBlock":
            net = network(dest)
            if net is None:
                raise errors(
                    "InvalidParameterValue",
                    f"Value ({dest}) for parameter destinationCidrBlock is invalid. "
                    "This is not a valid CIDR block.",
                )
        targets = [k for k in (*TARGETS, *_PASSTHROUGH) if params.get(k)]
        if len(targets) != 1:
            raise errors(
                "InvalidParameterCombination" if targets else "MissingParameter",
                "The request must contain exactly one route target",
            )
        target_key = targets[0]
        target = params[target_key]
        route: dict[str, Any] = {dest_key: dest, "Origin": "CreateRoute", "State": "active"}
        if target_key in TARGETS:
            kind = TARGETS[target_key]
            if target_key == "GatewayId" and target.startswith("vgw-"):
                kind = ""
            if kind:
                found = self.find(scope, kind, target)
                self._check_target(scope, table, kind, found)
                if kind == "i":
                    route["InstanceOwnerId"] = scope.account
                    eni = found.doc["NetworkInterfaces"][0]["NetworkInterfaceId"]
                    route["NetworkInterfaceId"] = eni
        route[target_key] = target
        routes = table.doc["Routes"]
        existing = [r for r in routes if r.get(dest_key) == dest]
        local = bool(existing) and existing[0].get("GatewayId") == "local"
        if local and replace and target_key not in ("NetworkInterfaceId", "InstanceId"):
            raise errors(
                "InvalidParameterValue",
                f"The local route {dest} can only target an interface or an instance",
            )
        if dest_key == "DestinationCidrBlock" and not existing:
            net = network(dest)
            for local in (r for r in routes if r.get("GatewayId") == "local"):
                vpc_net = network(local["DestinationCidrBlock"])
                if (
                    net
                    and vpc_net
                    and net.subnet_of(vpc_net)
                    and target_key not in ("NetworkInterfaceId", "InstanceId")
                ):
                    raise errors(
                        "InvalidParameterValue",
                        f"The destination CIDR block {dest} is equal to or more "
                        "specific than one of this VPC's CIDR blocks. This route can "
                        "target only an interface or an instance.",
                    )
        if replace and not existing:
            raise errors(
                "InvalidParameterValue",
                f"There is no route defined for '{dest}' in the route table. Use "
                "CreateRoute instead.",
            )
        if not replace and existing:
            raise errors("RouteAlreadyExists", f"The route identified by {dest} already exists.")
        self.dry_run(params)
        if existing:
            routes.remove(existing[0])
            if existing[0].get("GatewayId") == "local":
                route["Origin"] = "CreateRouteTable"
        routes.append(route)
        self.save(scope, table)
        return {} if replace else {"Return": True}

    def _check_target(self, scope: Scope, table: Record, kind: str, found: Record) -> None:
        vpc_id = table.doc["VpcId"]
        if kind == "igw":
            if not any(a["VpcId"] == vpc_id for a in found.doc.get("Attachments", ())):
                raise errors(
                    "InvalidParameterValue",
                    f"route table {table.id} and network gateway {found.id} belong "
                    "to different networks",
                )
        elif kind == "pcx":
            peers = (found.doc["RequesterVpcInfo"]["VpcId"], found.doc["AccepterVpcInfo"]["VpcId"])
            if vpc_id not in peers:
                raise errors(
                    "InvalidParameterValue",
                    f"route table {table.id} and peering connection {found.id} "
                    "belong to different networks",
                )
        elif kind in ("nat", "eni", "i", "vpce") and found.doc.get("VpcId") not in (None, vpc_id):
            raise errors(
                "InvalidParameterValue",
                f"route table {table.id} and {found.id} belong to different networks",
            )

    def delete_route(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        table = self.find(scope, "rtb", params["RouteTableId"])
        dest_key = next((k for k in _DESTINATIONS if params.get(k)), None)
        if dest_key is None:
            raise errors("MissingParameter", "The request must contain the destination")
        dest = params[dest_key]
        found = [r for r in table.doc["Routes"] if r.get(dest_key) == dest]
        if not found:
            raise errors(
                "InvalidRoute.NotFound",
                f"no route with destination-cidr-block {dest} in route table {table.id}",
            )
        if found[0].get("GatewayId") == "local":
            raise errors(
                "InvalidParameterValue",
                f"cannot remove local route {dest} in route table {table.id}",
            )
        self.dry_run(params)
        table.doc["Routes"].remove(found[0])
        self.save(scope, table)
        return {}

    # -- associations -------------------------------------------------------------------

    def associate_route_table(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        table = self.find(scope, "rtb", params["RouteTableId"])
        subnet_id, gateway_id = params.get("SubnetId"), params.get("GatewayId")
        if bool(subnet_id) == bool(gateway_id):
            raise errors(
                "InvalidParameterCombination", "Exactly one of subnetId and gatewayId must be given"
            )
        assoc: dict[str, Any] = {
            "Main": False,
            "RouteTableId": table.id,
            "AssociationState": {"State": "associated"},
        }
        if subnet_id:
            subnet = self.find(scope, "subnet", subnet_id)
            if subnet.doc["VpcId"] != table.doc["VpcId"]:
                raise errors(
                    "InvalidParameterValue",
                    f"Route table {table.id} and subnet {subnet_id} belong to different networks",
                )
            field, value = "SubnetId", subnet_id
        else:
            self.find(scope, "igw", gateway_id or "")
            field, value = "GatewayId", gateway_id
        for other in self.res.all(scope, "rtb"):
            if any(a.get(field) == value for a in other.doc["Associations"]):
                raise errors(
                    "Resource.AlreadyAssociated",
                    f"the specified association for route table {other.id} conflicts "
                    "with an existing association",
                )
        self.dry_run(params)
        assoc[field] = value
        assoc["RouteTableAssociationId"] = self.new_id("rtbassoc")
        table.doc["Associations"].append(assoc)
        self.save(scope, table)
        return {
            "AssociationId": assoc["RouteTableAssociationId"],
            "AssociationState": {"State": "associated"},
        }

    def _association(self, scope: Scope, assoc_id: str) -> tuple[Record, dict[str, Any]]:
        for table in self.res.all(scope, "rtb"):
            for assoc in table.doc["Associations"]:
                if assoc["RouteTableAssociationId"] == assoc_id:
                    return table, assoc
        raise errors(
            "InvalidAssociationID.NotFound", f"The association ID '{assoc_id}' does not exist"
        )

    def disassociate_route_table(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        table, assoc = self._association(scope, params["AssociationId"])
        if assoc.get("Main"):
            raise errors(
                "InvalidParameterValue",
                f"cannot disassociate the main route table association "
                f"{assoc['RouteTableAssociationId']}",
            )
        self.dry_run(params)
        table.doc["Associations"].remove(assoc)
        self.save(scope, table)
        return {}

    def replace_route_table_association(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        old_table, assoc = self._association(scope, params["AssociationId"])
        new_table = self.find(scope, "rtb", params["RouteTableId"])
        if new_table.doc["VpcId"] != old_table.doc["VpcId"]:
            raise errors(
                "InvalidParameterValue",
                f"Route table {new_table.id} belongs to a different network",
            )
        self.dry_run(params)
        old_table.doc["Associations"].remove(assoc)
        self.save(scope, old_table)
        new_table = self.find(scope, "rtb", new_table.id)
        moved = {
            **assoc,
            "RouteTableId": new_table.id,
            "RouteTableAssociationId": self.new_id("rtbassoc"),
        }
        new_table.doc["Associations"].append(moved)
        self.save(scope, new_table)
        return {
            "NewAssociationId": moved["RouteTableAssociationId"],
            "AssociationState": {"State": "associated"},
        }

    def forget_subnet_routes(self, scope: Scope, subnet_id: str) -> None:
        for table in self.res.all(scope, "rtb"):
            kept = [a for a in table.doc["Associations"] if a.get("SubnetId") != subnet_id]
            if len(kept) != len(table.doc["Associations"]):
                table.doc["Associations"] = kept
                self.save(scope, table)
