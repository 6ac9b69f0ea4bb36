"""VPCs: IPv4 CIDRs from /16 to /28 (a primary and up to four more), attributes, DHCP
options, and what AWS creates with each VPC (main route table, default security group,
default network ACL); the default VPC of every account and region."""

from __future__ import annotations

import ipaddress
from typing import Any

from nubes.core.context import RequestContext
from nubes.services.ec2.common import Ec2Base, network
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.model import Record, Scope
from nubes.services.ec2.network_acls import new_acl
from nubes.services.ec2.route_tables import local_route, new_route_table
from nubes.services.ec2.security_groups import new_group

VPCS_PER_REGION = 5
CIDRS_PER_VPC = 5
PRIVATE_RANGES = [
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
]

VPC_FILTERS = Filters(
    {
        "cidr": "CidrBlock",
        "cidr-block-association.cidr-block": "CidrBlockAssociationSet.CidrBlock",
        "cidr-block-association.association-id": "CidrBlockAssociationSet.AssociationId",
        "cidr-block-association.state": "CidrBlockAssociationSet.CidrBlockState.State",
        "dhcp-options-id": "DhcpOptionsId",
        "ipv6-cidr-block-association.ipv6-cidr-block": "Ipv6CidrBlockAssociationSet.Ipv6CidrBlock",
        "is-default": "IsDefault",
        "owner-id": "OwnerId",
        "state": "State",
        "vpc-id": "VpcId",
    }
)
DHCP_FILTERS = Filters(
    {
        "dhcp-options-id": "DhcpOptionsId",
        "key": "DhcpConfigurations.Key",
        "value": "DhcpConfigurations.Values.Value",
        "owner-id": "OwnerId",
    }
)


def check_vpc_cidr(cidr: str) -> ipaddress.IPv4Network:
    net = network(cidr)
    if net is None:
        raise errors(
            "InvalidParameterValue",
            f"Value ({cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block.",
        )
    if not 16 <= net.prefixlen <= 28:
        raise errors("InvalidVpc.Range", f"The CIDR '{cidr}' is invalid.")
    return net


class VpcMixin(Ec2Base):
    def new_vpc(
        self, scope: Scope, cidr: str, default: bool = False, tenancy: str = "default"
    ) -> Record:
        vid = self.new_id("vpc")
        doc = {
            "VpcId": vid,
            "OwnerId": scope.account,
            "InstanceTenancy": tenancy,
            "CidrBlock": cidr,
            "CidrBlockAssociationSet": [
                {
                    "AssociationId": self.new_id("vpc-cidr-assoc"),
                    "CidrBlock": cidr,
                    "CidrBlockState": {"State": "associated"},
                }
            ],
            "Ipv6CidrBlockAssociationSet": [],
            "IsDefault": default,
            "State": "available",
            "DhcpOptionsId": self.dhcp_options(scope),
            "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
        }
        meta = {
            "EnableDnsSupport": True,
            "EnableDnsHostnames": default,
            "EnableNetworkAddressUsageMetrics": False,
        }
        record = Record("vpc", vid, doc, meta)
        self.save(scope, record)
        new_route_table(self, scope, vid, [cidr], main=True)
        new_group(self, scope, vid, "default", "default VPC security group")
        new_acl(self, scope, vid, default=True)
        return record

    def dhcp_options(self, scope: Scope) -> str:
        """The region's default DHCP option set, made with its first VPC."""
        for record in self.res.all(scope, "dopt"):
            return record.id
        did = self.new_id("dopt")
        domain = (
            "ec2.internal" if scope.region == "us-east-1" else (f"{scope.region}.compute.internal")
        )
        doc = {
            "DhcpOptionsId": did,
            "OwnerId": scope.account,
            "DhcpConfigurations": [
                {"Key": "domain-name", "Values": [{"Value": domain}]},
                {"Key": "domain-name-servers", "Values": [{"Value": "AmazonProvidedDNS"}]},
            ],
        }
        self.save(scope, Record("dopt", did, doc, {}))
        return did

    def create_vpc(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        cidr = params.get("CidrBlock")
        if not cidr:
            raise errors(
                "MissingParameter",
                "The request must contain the parameter cidrBlock or ipv4IpamPoolId",
            )
        check_vpc_cidr(cidr)
        tenancy = params.get("InstanceTenancy") or "default"
        if tenancy not in ("default", "dedicated"):
            raise errors(
                "InvalidParameterValue",
                f"Value ({tenancy}) for parameter instanceTenancy is invalid.",
            )
        if self.res.count(scope, "vpc") >= VPCS_PER_REGION:
            raise errors("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
        tags = self.tag_specs(params, "vpc")
        self.dry_run(params)
        vpc = self.new_vpc(scope, cidr, tenancy=tenancy)
        self.tag(scope, vpc.id, tags)
        return {"Vpc": self.with_tags(scope, [vpc])[0]}

    def delete_vpc(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        vpc = self.find(scope, "vpc", params["VpcId"])
        blocking = [
            any(s.doc["VpcId"] == vpc.id for s in self.res.all(scope, "subnet")),
            any(
                g.doc["VpcId"] == vpc.id and g.doc["GroupName"] != "default"
                for g in self.res.all(scope, "sg")
            ),
            any(
                t.doc["VpcId"] == vpc.id and not any(a.get("Main") for a in t.doc["Associations"])
                for t in self.res.all(scope, "rtb")
            ),
            any(
                a.doc["VpcId"] == vpc.id and not a.doc["IsDefault"]
                for a in self.res.all(scope, "acl")
            ),
            any(
                any(x["VpcId"] == vpc.id for x in g.doc["Attachments"])
                for g in self.res.all(scope, "igw")
            ),
            any(e.doc["VpcId"] == vpc.id for e in self.res.all(scope, "vpce")),
        ]
        if any(blocking):
            raise errors(
                "DependencyViolation", f"The vpc '{vpc.id}' has dependencies and cannot be deleted."
            )
        self.dry_run(params)
        for kind in ("rtb", "sg", "acl"):
            for record in self.res.all(scope, kind):
                if record.doc["VpcId"] == vpc.id:
                    self.res.delete(scope, kind, record.id)
        self.res.delete(scope, "vpc", vpc.id)
        return {}

    def describe_vpcs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        docs, token = self.describe_kind(scope, "vpc", params, VPC_FILTERS, "VpcIds")
        return {"Vpcs": docs, **({"NextToken": token} if token else {})}

    def modify_vpc_attribute(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        vpc = self.find(scope, "vpc", params["VpcId"])
        names = [
            n
            for n in ("EnableDnsSupport", "EnableDnsHostnames", "EnableNetworkAddressUsageMetrics")
            if params.get(n)
        ]
        if len(names) != 1:
            raise errors(
                "InvalidParameterCombination", "Only one attribute can be modified at a time"
            )
        value = bool(params[names[0]].get("Value"))
        if names[0] == "EnableDnsHostnames" and value and not vpc.meta["EnableDnsSupport"]:
            raise errors(
                "InvalidParameterValue",
                "DNS hostnames need DNS support (enableDnsSupport) on the VPC",
            )
        self.dry_run(params)
        vpc.meta[names[0]] = value
        self.save(scope, vpc)
        return {}

    def describe_vpc_attribute(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        vpc = self.find(scope, "vpc", params["VpcId"])
        attribute = params["Attribute"]
        name = attribute[:1].upper() + attribute[1:]
        if name not in vpc.meta:
            raise errors(
                "InvalidParameterValue", f"Value ({attribute}) for parameter attribute is invalid."
            )
        self.dry_run(params)
        return {"VpcId": vpc.id, name: {"Value": vpc.meta[name]}}

    def associate_vpc_cidr_block(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        vpc = self.find(scope, "vpc", params["VpcId"])
        cidr = params.get("CidrBlock")
        if not cidr:
            raise errors("MissingParameter", "The request must contain the parameter cidrBlock")
        net = check_vpc_cidr(cidr)
        current = [
            a
            for a in vpc.doc["CidrBlockAssociationSet"]
            if a["CidrBlockState"]["State"] == "associated"
        ]
        if len(current) >= CIDRS_PER_VPC:
            raise errors(
                "CidrLimitExceeded",
                f"This network '{vpc.id}' has met its maximum number of allowed CIDRs: "
                f"{CIDRS_PER_VPC}",
            )
        for assoc in current:
            if net.overlaps(ipaddress.IPv4Network(assoc["CidrBlock"])):
                raise errors(
                    "InvalidVpc.Range",
                    f"The CIDR '{cidr}' conflicts with another CIDR block of the VPC.",
                )
        primary = ipaddress.IPv4Network(vpc.doc["CidrBlock"])
        home = next((r for r in PRIVATE_RANGES if primary.subnet_of(r)), None)
        other = next((r for r in PRIVATE_RANGES if net.subnet_of(r)), None)
        if home is not None and other is not None and home != other:
            raise errors(
                "InvalidVpc.Range",
                f"The CIDR '{cidr}' is restricted: a VPC whose primary CIDR is in "
                f"{home} cannot add a CIDR from {other}.",
            )
        self.dry_run(params)
        assoc = {
            "AssociationId": self.new_id("vpc-cidr-assoc"),
            "CidrBlock": cidr,
            "CidrBlockState": {"State": "associated"},
        }
        vpc.doc["CidrBlockAssociationSet"].append(assoc)
        self.save(scope, vpc)
        for table in self.res.all(scope, "rtb"):
            if table.doc["VpcId"] == vpc.id:
                table.doc["Routes"].append(local_route(cidr))
                self.save(scope, table)
        return {"VpcId": vpc.id, "CidrBlockAssociation": assoc}

    def disassociate_vpc_cidr_block(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        wanted = params["AssociationId"]
        for vpc in self.res.all(scope, "vpc"):
            for assoc in vpc.doc["CidrBlockAssociationSet"]:
                if assoc["AssociationId"] != wanted:
                    continue
                cidr = assoc["CidrBlock"]
                if cidr == vpc.doc["CidrBlock"]:
                    raise errors(
                        "OperationNotPermitted",
                        f"The vpc CIDR block with association ID {wanted} may not be "
                        "disassociated. It is the primary IPv4 CIDR block of the VPC",
                    )
                net = ipaddress.IPv4Network(cidr)
                if any(
                    s.doc["VpcId"] == vpc.id
                    and ipaddress.IPv4Network(s.doc["CidrBlock"]).subnet_of(net)
                    for s in self.res.all(scope, "subnet")
                ):
                    raise errors(
                        "DependencyViolation",
                        f"The vpc CIDR block {cidr} has dependencies (subnets)",
                    )
                self.dry_run(params)
                vpc.doc["CidrBlockAssociationSet"].remove(assoc)
                self.save(scope, vpc)
                for table in self.res.all(scope, "rtb"):
                    if table.doc["VpcId"] == vpc.id:
                        table.doc["Routes"] = [
                            r
                            for r in table.doc["Routes"]
                            if not (
                                r.get("GatewayId") == "local"
                                and r.get("DestinationCidrBlock") == cidr
                            )
                        ]
                        self.save(scope, table)
                gone = {**assoc, "CidrBlockState": {"State": "disassociated"}}
                return {"VpcId": vpc.id, "CidrBlockAssociation": gone}
        raise errors(
            "InvalidVpcCidrBlockAssociationID.NotFound",
            f"The vpc CIDR block association ID '{wanted}' does not exist",
        )

    def describe_dhcp_options(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        docs, token = self.describe_kind(scope, "dopt", params, DHCP_FILTERS, "DhcpOptionsIds")
        return {"DhcpOptions": docs, **({"NextToken": token} if token else {})}
