"""Network ACLs: numbered rules per direction, evaluated lowest number first, the final
``*`` (32767) deny; the VPC's default ACL allows everything and holds subnets no other ACL
does."""

from __future__ import annotations

import ipaddress
from typing import Any

from nubes.core.context import RequestContext
from nubes.services.ec2.common import Ec2Base, network
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.model import Record, Scope

LAST_RULE = 32767
ENTRIES_PER_DIRECTION = 20
PROTOCOLS = {"tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58", "all": "-1"}

ACL_FILTERS = Filters(
    {
        "association.association-id": "Associations.NetworkAclAssociationId",
        "association.network-acl-id": "Associations.NetworkAclId",
        "association.subnet-id": "Associations.SubnetId",
        "default": "IsDefault",
        "entry.cidr": "Entries.CidrBlock",
        "entry.egress": "Entries.Egress",
        "entry.icmp.code": "Entries.IcmpTypeCode.Code",
        "entry.icmp.type": "Entries.IcmpTypeCode.Type",
        "entry.ipv6-cidr": "Entries.Ipv6CidrBlock",
        "entry.port-range.from": "Entries.PortRange.From",
        "entry.port-range.to": "Entries.PortRange.To",
        "entry.protocol": "Entries.Protocol",
        "entry.rule-action": "Entries.RuleAction",
        "entry.rule-number": "Entries.RuleNumber",
        "network-acl-id": "NetworkAclId",
        "owner-id": "OwnerId",
        "vpc-id": "VpcId",
    }
)


def _entry(number: int, action: str, egress: bool) -> dict[str, Any]:
    return {
        "RuleNumber": number,
        "Protocol": "-1",
        "RuleAction": action,
        "Egress": egress,
        "CidrBlock": "0.0.0.0/0",
    }


def new_acl(base: Ec2Base, scope: Scope, vpc_id: str, default: bool) -> Record:
    aid = base.new_id("acl")
    entries = [_entry(LAST_RULE, "deny", egress) for egress in (True, False)]
    if default:
        entries = [_entry(100, "allow", True), _entry(100, "allow", False), *entries]
    doc = {
        "NetworkAclId": aid,
        "VpcId": vpc_id,
        "IsDefault": default,
        "Entries": entries,
        "Associations": [],
        "OwnerId": scope.account,
    }
    record = Record("acl", aid, doc, {})
    base.save(scope, record)
    return record


def acl_allows(acl: dict[str, Any], egress: bool, protocol: str, port: int, ip: str) -> bool:
    """The first matching entry of the direction decides."""
    number = PROTOCOLS.get(protocol, protocol)
    address = ipaddress.ip_address(ip)
    for entry in sorted(acl["Entries"], key=lambda e: e["RuleNumber"]):
        if entry["Egress"] != egress or "CidrBlock" not in entry:
            continue
        if address not in ipaddress.ip_network(entry["CidrBlock"], strict=False):
            continue
        if entry["Protocol"] not in ("-1", number):
            continue
        if entry["Protocol"] in ("6", "17"):
            ports = entry.get("PortRange") or {}
            if not ports.get("From", 0) <= port <= ports.get("To", 65535):
                continue
        return bool(entry["RuleAction"] == "allow")
    return False


class NetworkAclMixin(Ec2Base):
    def default_acl(self, scope: Scope, vpc_id: str) -> Record | None:
        for record in self.res.all(scope, "acl"):
            if record.doc["VpcId"] == vpc_id and record.doc["IsDefault"]:
                return record
        return None

    def acl_of_subnet(self, scope: Scope, subnet_id: str) -> Record | None:
        for record in self.res.all(scope, "acl"):
            if any(a["SubnetId"] == subnet_id for a in record.doc["Associations"]):
                return record
        return None

    def associate_default_acl(self, scope: Scope, vpc_id: str, subnet_id: str) -> None:
        acl = self.default_acl(scope, vpc_id)
        if acl is not None:
            acl.doc["Associations"].append(
                {
                    "NetworkAclAssociationId": self.new_id("aclassoc"),
                    "NetworkAclId": acl.id,
                    "SubnetId": subnet_id,
                }
            )
            self.save(scope, acl)

    def forget_subnet_acl(self, scope: Scope, subnet_id: str) -> None:
        acl = self.acl_of_subnet(scope, subnet_id)
        if acl is not None:
            acl.doc["Associations"] = [
                a for a in acl.doc["Associations"] if a["SubnetId"] != subnet_id
            ]
            self.save(scope, acl)

    def create_network_acl(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        self.find(scope, "vpc", params["VpcId"])
        tags = self.tag_specs(params, "network-acl")
        self.dry_run(params)
        acl = new_acl(self, scope, params["VpcId"], default=False)
        self.tag(scope, acl.id, tags)
        return {"NetworkAcl": self.with_tags(scope, [acl])[0]}

    def delete_network_acl(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        acl = self.find(scope, "acl", params["NetworkAclId"])
        if acl.doc["IsDefault"]:
            raise errors("InvalidParameterValue", f"cannot delete default network ACL {acl.id}")
        if acl.doc["Associations"]:
            raise errors(
                "DependencyViolation",
                f"The networkAcl '{acl.id}' has dependencies and cannot be deleted.",
            )
        self.dry_run(params)
        self.res.delete(scope, "acl", acl.id)
        return {}

    def describe_network_acls(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        docs, token = self.describe_kind(scope, "acl", params, ACL_FILTERS, "NetworkAclIds")
        return {"NetworkAcls": docs, **({"NextToken": token} if token else {})}

    def create_network_acl_entry(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._put_entry(ctx, params, replace=False)

    def replace_network_acl_entry(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._put_entry(ctx, params, replace=True)

    def _put_entry(
        self, ctx: RequestContext, params: dict[str, Any], replace: bool
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        acl = self.find(scope, "acl", params["NetworkAclId"])
        number = params["RuleNumber"]
        egress = bool(params["Egress"])
        if not 1 <= number <= LAST_RULE - 1:
            raise errors(
                "InvalidParameterValue",
                f"Value ( {number} ) for parameter ruleNumber is invalid. Rule number "
                "must be in the range 1 to 32766.",
            )
        action = str(params["RuleAction"]).lower()
        if action not in ("allow", "deny"):
            raise errors(
                "InvalidParameterValue",
                f"Value ( {params['RuleAction']} ) for parameter ruleAction is invalid.",
            )
        raw = str(params["Protocol"]).lower()
        protocol = PROTOCOLS.get(raw, raw)
        if protocol != "-1" and not (protocol.isdigit() and 0 <= int(protocol) <= 255):
            raise errors(
                "InvalidParameterValue", f"Invalid value '{params['Protocol']}' for protocol."
            )
        entry: dict[str, Any] = {
            "RuleNumber": number,
            "Protocol": protocol,
            "RuleAction": action,
            "Egress": egress,
        }
        if params.get("CidrBlock"):
            if network(params["CidrBlock"]) is None:
                raise errors(
                    "InvalidParameterValue",
                    f"Value ( {params['CidrBlock']} ) for parameter cidrBlock is "
                    "invalid. This is not a valid CIDR block.",
                )
            entry["CidrBlock"] = params["CidrBlock"]
        elif params.get("Ipv6CidrBlock"):
            entry["Ipv6CidrBlock"] = params["Ipv6CidrBlock"]
        else:
            raise errors("MissingParameter", "Either cidrBlock or ipv6CidrBlock must be given")
        if protocol in ("6", "17"):
            ports = params.get("PortRange")
            if not ports or ports.get("From") is None or ports.get("To") is None:
                raise errors(
                    "InvalidParameterValue", "TCP/UDP entries need a port range (PortRange)"
                )
            if not 0 <= ports["From"] <= ports["To"] <= 65535:
                raise errors("InvalidParameterValue", "Invalid port range")
            entry["PortRange"] = {"From": ports["From"], "To": ports["To"]}
        if protocol in ("1", "58"):
            icmp = params.get("IcmpTypeCode")
            if not icmp:
                raise errors("InvalidParameterValue", "ICMP entries need IcmpTypeCode")
            entry["IcmpTypeCode"] = {"Type": icmp.get("Type", -1), "Code": icmp.get("Code", -1)}
        same = [
            e for e in acl.doc["Entries"] if e["RuleNumber"] == number and e["Egress"] == egress
        ]
        if replace and not same:
            raise errors(
                "InvalidNetworkAclEntry.NotFound",
                f"The network acl entry identified by {number} does not exist.",
            )
        if not replace and same:
            raise errors(
                "NetworkAclEntryAlreadyExists",
                f"The network acl entry identified by {number} already exists.",
            )
        count = sum(
            1 for e in acl.doc["Entries"] if e["Egress"] == egress and e["RuleNumber"] != LAST_RULE
        )
        if not replace and count >= ENTRIES_PER_DIRECTION:
            raise errors(
                "NetworkAclEntryLimitExceeded",
                "The maximum number of network acl entries has been reached.",
            )
        self.dry_run(params)
        acl.doc["Entries"] = [e for e in acl.doc["Entries"] if e not in same] + [entry]
        acl.doc["Entries"].sort(key=lambda e: (e["RuleNumber"], e["Egress"]))
        self.save(scope, acl)
        return {}

    def delete_network_acl_entry(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        acl = self.find(scope, "acl", params["NetworkAclId"])
        number, egress = params["RuleNumber"], bool(params["Egress"])
        kept = [
            e
            for e in acl.doc["Entries"]
            if not (e["RuleNumber"] == number and e["Egress"] == egress)
        ]
        if len(kept) == len(acl.doc["Entries"]) or number == LAST_RULE:
            raise errors(
                "InvalidNetworkAclEntry.NotFound",
                f"The network acl entry identified by {number} does not exist.",
            )
        self.dry_run(params)
        acl.doc["Entries"] = kept
        self.save(scope, acl)
        return {}

    def replace_network_acl_association(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        target = self.find(scope, "acl", params["NetworkAclId"])
        wanted = params["AssociationId"]
        for acl in self.res.all(scope, "acl"):
            for assoc in acl.doc["Associations"]:
                if assoc["NetworkAclAssociationId"] != wanted:
                    continue
                subnet = self.find(scope, "subnet", assoc["SubnetId"])
                if subnet.doc["VpcId"] != target.doc["VpcId"]:
                    raise errors(
                        "InvalidParameterValue",
                        f"Network ACL {target.id} and subnet {subnet.id} belong to "
                        "different networks",
                    )
                self.dry_run(params)
                acl.doc["Associations"].remove(assoc)
                self.save(scope, acl)
                target = self.find(scope, "acl", target.id)
                new_id = self.new_id("aclassoc")
                target.doc["Associations"].append(
                    {
                        "NetworkAclAssociationId": new_id,
                        "NetworkAclId": target.id,
                        "SubnetId": subnet.id,
                    }
                )
                self.save(scope, target)
                return {"NewAssociationId": new_id}
        raise errors(
            "InvalidAssociationID.NotFound", f"The association ID '{wanted}' does not exist"
        )
