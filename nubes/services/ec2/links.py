"""VPC peering connections (pending-acceptance → active, rejected, deleted, failed on
overlapping CIDRs; the record lives in both VPCs' account and region) and VPC endpoints
(gateway endpoints add a prefix-list route to their route tables, interface endpoints put an
interface in each subnet)."""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.services.ec2.common import stamp
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.gateways import GatewayMixin
from nubes.services.ec2.model import Record, Scope

PEERING_EXPIRES = 7 * 86400.0
GATEWAY_SERVICES = ("s3", "dynamodb")
INTERFACE_SERVICES = (
    "sqs",
    "sns",
    "sts",
    "logs",
    "lambda",
    "ec2",
    "ssm",
    "secretsmanager",
    "kms",
    "monitoring",
    "events",
    "ecr.api",
    "ecr.dkr",
    "elasticloadbalancing",
    "s3",
    "dynamodb",
    "execute-api",
    "ssmmessages",
    "ec2messages",
)

_VPC_INFO = {"cidr-block": "CidrBlock", "owner-id": "OwnerId", "vpc-id": "VpcId"}
PEERING_FILTERS = Filters(
    {
        **{f"accepter-vpc-info.{k}": f"AccepterVpcInfo.{v}" for k, v in _VPC_INFO.items()},
        **{f"requester-vpc-info.{k}": f"RequesterVpcInfo.{v}" for k, v in _VPC_INFO.items()},
        "expiration-time": "@ExpirationTime",
        "status-code": "Status.Code",
        "status-message": "Status.Message",
        "vpc-peering-connection-id": "VpcPeeringConnectionId",
    }
)
PREFIX_LIST_FILTERS = Filters(
    {"prefix-list-id": "PrefixListId", "prefix-list-name": "PrefixListName"}, tags=False
)
ENDPOINT_FILTERS = Filters(
    {
        "ip-address-type": "IpAddressType",
        "service-name": "ServiceName",
        "vpc-id": "VpcId",
        "vpc-endpoint-id": "VpcEndpointId",
        "vpc-endpoint-state": "State",
        "vpc-endpoint-type": "VpcEndpointType",
    }
)


def prefix_list_id(region: str, service: str) -> str:
    return "pl-" + hashlib.sha256(f"{region}/{service}".encode()).hexdigest()[:8]


class LinkMixin(GatewayMixin):
    # -- peering ------------------------------------------------------------------------

    def _vpc_info(self, scope: Scope, vpc: Record) -> dict[str, Any]:
        return {
            "CidrBlock": vpc.doc["CidrBlock"],
            "CidrBlockSet": [
                {"CidrBlock": a["CidrBlock"]} for a in vpc.doc["CidrBlockAssociationSet"]
            ],
            "OwnerId": scope.account,
            "VpcId": vpc.id,
            "Region": scope.region,
            "PeeringOptions": {
                "AllowDnsResolutionFromRemoteVpc": False,
                "AllowEgressFromLocalClassicLinkToRemoteVpc": False,
                "AllowEgressFromLocalVpcToRemoteClassicLink": False,
            },
        }

    def _peering_scopes(self, doc: dict[str, Any]) -> list[Scope]:
        found = []
        for side in ("RequesterVpcInfo", "AccepterVpcInfo"):
            info = doc[side]
            scope = Scope(info["OwnerId"], info["Region"])
            if scope not in found:
                found.append(scope)
        return found

    def _save_peering(self, record: Record) -> None:
        for scope in self._peering_scopes(record.doc):
            self.scope_of(scope.account, scope.region)
            self.save(scope, record)

    def create_vpc_peering_connection(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        vpc = self.find(scope, "vpc", params["VpcId"])
        peer_scope = self.scope_of(
            params.get("PeerOwnerId") or scope.account, params.get("PeerRegion") or scope.region
        )
        peer_id = params.get("PeerVpcId")
        if not peer_id:
            raise errors("MissingParameter", "The request must contain the parameter peerVpcId")
        peer = self.res.get(peer_scope, "vpc", peer_id)
        tags = self.tag_specs(params, "vpc-peering-connection")
        self.dry_run(params)
        pid = self.new_id("pcx")
        requester = self._vpc_info(scope, vpc)
        accepter = (
            self._vpc_info(peer_scope, peer)
            if peer
            else {"OwnerId": peer_scope.account, "VpcId": peer_id, "Region": peer_scope.region}
        )
        overlap = peer is not None and any(
            ipaddress.IPv4Network(a["CidrBlock"]).overlaps(ipaddress.IPv4Network(b["CidrBlock"]))
            for a in requester["CidrBlockSet"]
            for b in accepter["CidrBlockSet"]
        )
        if peer is None or overlap or peer.id == vpc.id:
            status = {
                "Code": "failed",
                "Message": "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range",
            }
        else:
            status = {
                "Code": "pending-acceptance",
                "Message": f"Pending Acceptance by {peer_scope.account}",
            }
        doc = {
            "VpcPeeringConnectionId": pid,
            "RequesterVpcInfo": requester,
            "AccepterVpcInfo": accepter,
            "Status": status,
            "ExpirationTime": clock.now() + PEERING_EXPIRES,
        }
        record = Record("pcx", pid, doc, {})
        self._save_peering(record)
        self.tag(scope, pid, tags)
        shown = self.with_tags(scope, [record])[0]
        return {
            "VpcPeeringConnection": {
                **shown,
                "Status": {
                    "Code": "initiating-request",
                    "Message": f"Initiating Request to {peer_scope.account}",
                },
            }
        }

    def _move_peering(
        self, ctx: RequestContext, params: dict[str, Any], code: str, allowed: tuple[str, ...]
    ) -> Record:
        scope = self.scope(ctx)
        record = self.find(scope, "pcx", params["VpcPeeringConnectionId"])
        current = record.doc["Status"]["Code"]
        if current not in allowed:
            raise errors(
                "InvalidStateTransition",
                f"Invalid state transition for {record.id}, attempted to transition "
                f"from {current} to {code}",
            )
        self.dry_run(params)
        messages = {
            "active": "Active",
            "rejected": f"Rejected by {scope.account}",
            "deleted": f"Deleted by {scope.account}",
        }
        record.doc["Status"] = {"Code": code, "Message": messages[code]}
        record.doc.pop("ExpirationTime", None) if code == "active" else None
        self._save_peering(record)
        return record

    def accept_vpc_peering_connection(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._move_peering(ctx, params, "active", ("pending-acceptance",))
        return {"VpcPeeringConnection": self.with_tags(self.scope(ctx), [record])[0]}

    def reject_vpc_peering_connection(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._move_peering(ctx, params, "rejected", ("pending-acceptance",))
        return {"Return": True}

    def delete_vpc_peering_connection(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._move_peering(ctx, params, "deleted", ("pending-acceptance", "active"))
        return {"Return": True}

    def describe_vpc_peering_connections(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        docs, token = self.describe_kind(
            scope, "pcx", params, PEERING_FILTERS, "VpcPeeringConnectionIds"
        )
        return {"VpcPeeringConnections": docs, **({"NextToken": token} if token else {})}

    # -- endpoints ----------------------------------------------------------------------

    def describe_prefix_lists(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The AWS-managed prefix lists of the gateway endpoint services."""
        scope = self.scope(ctx)
        docs = [
            {
                "PrefixListId": prefix_list_id(scope.region, service),
                "PrefixListName": f"com.amazonaws.{scope.region}.{service}",
                "Cidrs": [],
            }
            for service in GATEWAY_SERVICES
        ]
        wanted = params.get("PrefixListIds")
        if wanted:
            missing = set(wanted) - {d["PrefixListId"] for d in docs}
            if missing:
                raise errors(
                    "InvalidPrefixListID.NotFound",
                    f"The prefix list ID '{sorted(missing)[0]}' does not exist",
                )
            docs = [d for d in docs if d["PrefixListId"] in wanted]
        check = PREFIX_LIST_FILTERS.compile(params.get("Filters"))
        self.dry_run(params)
        return {"PrefixLists": [d for d in docs if check(d)]}

    def create_vpc_endpoint(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        vpc = self.find(scope, "vpc", params["VpcId"])
        service_name = params["ServiceName"]
        prefix = f"com.amazonaws.{scope.region}."
        service = service_name[len(prefix) :] if service_name.startswith(prefix) else ""
        kind = params.get("VpcEndpointType") or "Gateway"
        known = GATEWAY_SERVICES if kind == "Gateway" else INTERFACE_SERVICES
        if service not in known:
            raise errors(
                "InvalidServiceName", f"The Vpc Endpoint Service '{service_name}' does not exist"
            )
        tables = [self.find(scope, "rtb", t) for t in params.get("RouteTableIds") or ()]
        subnets = [self.find(scope, "subnet", s) for s in params.get("SubnetIds") or ()]
        for item in (*tables, *subnets):
            if item.doc["VpcId"] != vpc.id:
                raise errors("InvalidParameter", f"{item.id} does not belong to {vpc.id}")
        if kind == "Interface" and not subnets:
            raise errors("InvalidParameter", "An interface endpoint needs at least one subnet")
        groups = (
            self.resolve_groups(scope, vpc.id, params.get("SecurityGroupIds") or [])
            if kind == "Interface"
            else []
        )
        tags = self.tag_specs(params, "vpc-endpoint")
        self.dry_run(params)
        eid = self.new_id("vpce")
        enis = [
            self.new_interface(
                scope, s, groups, f"VPC Endpoint Interface {eid}", "vpc_endpoint", owner=eid
            ).id
            for s in subnets
        ]
        prefix_list = prefix_list_id(scope.region, service)
        for table in tables:
            table.doc["Routes"].append(
                {
                    "DestinationPrefixListId": prefix_list,
                    "GatewayId": eid,
                    "Origin": "CreateRoute",
                    "State": "active",
                }
            )
            self.save(scope, table)
        doc = {
            "VpcEndpointId": eid,
            "VpcEndpointType": kind,
            "VpcId": vpc.id,
            "ServiceName": service_name,
            "State": "available",
            "PolicyDocument": params.get("PolicyDocument")
            or (
                '{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
                '"Action":"*","Resource":"*"}]}'
            ),
            "RouteTableIds": [t.id for t in tables],
            "SubnetIds": [s.id for s in subnets],
            "Groups": groups,
            "PrivateDnsEnabled": bool(params.get("PrivateDnsEnabled")),
            "RequesterManaged": False,
            "NetworkInterfaceIds": enis,
            "DnsEntries": [],
            "CreationTimestamp": stamp(),
            "OwnerId": scope.account,
            "IpAddressType": "ipv4",
        }
        record = Record("vpce", eid, doc, {})
        self.save(scope, record)
        self.tag(scope, eid, tags)
        return {
            "VpcEndpoint": self.with_tags(scope, [record])[0],
            "ClientToken": params.get("ClientToken"),
        }

    def delete_vpc_endpoints(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        self.dry_run(params)
        failed = []
        for eid in params.get("VpcEndpointIds") or ():
            record = self.res.get(scope, "vpce", eid)
            if record is None:
                failed.append(
                    {
                        "ResourceId": eid,
                        "Error": {
                            "Code": "InvalidVpcEndpoint.NotFound",
                            "Message": f"The Vpc Endpoint Id '{eid}' does not exist",
                        },
                    }
                )
                continue
            for table in self.res.all(scope, "rtb"):
                kept = [r for r in table.doc["Routes"] if r.get("GatewayId") != eid]
                if len(kept) != len(table.doc["Routes"]):
                    table.doc["Routes"] = kept
                    self.save(scope, table)
            for eni in record.doc["NetworkInterfaceIds"]:
                self.delete_interface_record(scope, eni)
            self.res.delete(scope, "vpce", eid)
        return {"Unsuccessful": failed}

    def describe_vpc_endpoints(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        docs, token = self.describe_kind(scope, "vpce", params, ENDPOINT_FILTERS, "VpcEndpointIds")
        return {"VpcEndpoints": docs, **({"NextToken": token} if token else {})}
