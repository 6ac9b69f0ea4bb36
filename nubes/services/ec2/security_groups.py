"""Security groups and their rules (sgr-), with AWS's validation: protocols and port ranges,
CIDR / IPv6 / prefix-list / group-reference peers, duplicates, the per-group rule limit, the
reserved ``default`` group. Rules are kept one by one (DescribeSecurityGroupRules) and as
``IpPermissions`` grouped the way DescribeSecurityGroups shows them."""

from __future__ import annotations

import ipaddress
from typing import Any

from nubes.core import arns
from nubes.core.context import RequestContext
from nubes.services.ec2.common import Ec2Base
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.model import Record, Scope

RULES_PER_DIRECTION = 60
GROUPS_PER_VPC = 2500
PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}

_PERMISSION_PATHS = {
    "cidr": "IpRanges.CidrIp",
    "from-port": "FromPort",
    "group-id": "UserIdGroupPairs.GroupId",
    "group-name": "UserIdGroupPairs.GroupName",
    "ipv6-cidr": "Ipv6Ranges.CidrIpv6",
    "prefix-list-id": "PrefixListIds.PrefixListId",
    "protocol": "IpProtocol",
    "to-port": "ToPort",
    "user-id": "UserIdGroupPairs.UserId",
}
SG_FILTERS = Filters(
    {
        "description": "Description",
        "group-id": "GroupId",
        "group-name": "GroupName",
        "owner-id": "OwnerId",
        "vpc-id": "VpcId",
        **{f"ip-permission.{k}": f"IpPermissions.{v}" for k, v in _PERMISSION_PATHS.items()},
        **{
            f"egress.ip-permission.{k}": f"IpPermissionsEgress.{v}"
            for k, v in _PERMISSION_PATHS.items()
        },
    }
)
RULE_FILTERS = Filters({"group-id": "GroupId", "security-group-rule-id": "SecurityGroupRuleId"})


def new_group(base: Ec2Base, scope: Scope, vpc_id: str, name: str, description: str) -> Record:
    gid = base.new_id("sg")
    doc = {
        "GroupId": gid,
        "GroupName": name,
        "Description": description,
        "OwnerId": scope.account,
        "VpcId": vpc_id,
        "SecurityGroupArn": arns.arn("ec2", scope.region, scope.account, f"security-group/{gid}"),
        "IpPermissions": [],
        "IpPermissionsEgress": [],
    }
    record = Record("sg", gid, doc, {"rules": []})
    egress = {
        "IsEgress": True,
        "IpProtocol": "-1",
        "FromPort": -1,
        "ToPort": -1,
        "CidrIpv4": "0.0.0.0/0",
    }
    add_rules(base, scope, record, [egress])
    if name == "default":
        ingress = {
            "IsEgress": False,
            "IpProtocol": "-1",
            "FromPort": -1,
            "ToPort": -1,
            "ReferencedGroupInfo": {"GroupId": gid, "UserId": scope.account},
        }
        add_rules(base, scope, record, [ingress])
    base.save(scope, record)
    return record


def add_rules(
    base: Ec2Base, scope: Scope, group: Record, rules: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    added = []
    for rule in rules:
        rule = {
            "SecurityGroupRuleId": base.new_id("sgr"),
            "GroupId": group.id,
            "GroupOwnerId": scope.account,
            **rule,
            "SecurityGroupRuleArn": "",
        }
        rule["SecurityGroupRuleArn"] = arns.arn(
            "ec2", scope.region, scope.account, f"security-group-rule/{rule['SecurityGroupRuleId']}"
        )
        group.meta["rules"].append(rule)
        added.append(rule)
    regroup(group)
    return added


def _peer_key(rule: dict[str, Any]) -> tuple[str, str]:
    if "CidrIpv4" in rule:
        return ("v4", rule["CidrIpv4"])
    if "CidrIpv6" in rule:
        return ("v6", rule["CidrIpv6"])
    if "PrefixListId" in rule:
        return ("pl", rule["PrefixListId"])
    return ("sg", rule["ReferencedGroupInfo"]["GroupId"])


def _rule_key(rule: dict[str, Any]) -> tuple[Any, ...]:
    return (
        rule["IsEgress"],
        rule["IpProtocol"],
        rule["FromPort"],
        rule["ToPort"],
        *_peer_key(rule),
    )


def regroup(group: Record) -> None:
    """Rebuild the IpPermissions views from the rules."""
    for egress, field in ((False, "IpPermissions"), (True, "IpPermissionsEgress")):
        perms: dict[tuple[str, int, int], dict[str, Any]] = {}
        for rule in group.meta["rules"]:
            if rule["IsEgress"] != egress:
                continue
            key = (rule["IpProtocol"], rule["FromPort"], rule["ToPort"])
            perm = perms.get(key)
            if perm is None:
                perm = {
                    "IpProtocol": rule["IpProtocol"],
                    "IpRanges": [],
                    "Ipv6Ranges": [],
                    "PrefixListIds": [],
                    "UserIdGroupPairs": [],
                }
                if rule["IpProtocol"] != "-1":
                    perm["FromPort"] = rule["FromPort"]
                    perm["ToPort"] = rule["ToPort"]
                perms[key] = perm
            desc = {"Description": rule["Description"]} if rule.get("Description") else {}
            if "CidrIpv4" in rule:
                perm["IpRanges"].append({"CidrIp": rule["CidrIpv4"], **desc})
            elif "CidrIpv6" in rule:
                perm["Ipv6Ranges"].append({"CidrIpv6": rule["CidrIpv6"], **desc})
            elif "PrefixListId" in rule:
                perm["PrefixListIds"].append({"PrefixListId": rule["PrefixListId"], **desc})
            else:
                ref = rule["ReferencedGroupInfo"]
                perm["UserIdGroupPairs"].append(
                    {"GroupId": ref["GroupId"], "UserId": ref["UserId"], **desc}
                )
        group.doc[field] = list(perms.values())


def _describe_rule(rule: dict[str, Any]) -> str:
    peer = _peer_key(rule)[1]
    proto = rule["IpProtocol"]
    name = "ALL" if proto == "-1" else proto.upper()
    return f"peer: {peer}, {name}, from port: {rule['FromPort']}, to port: {rule['ToPort']}, ALLOW"


def rule_allows(rule: dict[str, Any], protocol: str, port: int) -> bool:
    proto = rule["IpProtocol"]
    if proto == "-1":
        return True
    if proto != protocol:
        return False
    if proto in ("tcp", "udp"):
        return bool(rule["FromPort"] <= port <= rule["ToPort"])
    return True


class SecurityGroupMixin(Ec2Base):
    # -- lookup -------------------------------------------------------------------------

    def group_by_name(self, scope: Scope, vpc_id: str, name: str) -> Record | None:
        for record in self.res.all(scope, "sg"):
            if record.doc["VpcId"] == vpc_id and record.doc["GroupName"] == name:
                return record
        return None

    def default_vpc_id(self, scope: Scope) -> str | None:
        for record in self.res.all(scope, "vpc"):
            if record.doc.get("IsDefault"):
                return record.id
        return None

    def _group(self, scope: Scope, params: dict[str, Any]) -> Record:
        gid = params.get("GroupId")
        if gid:
            return self.find(scope, "sg", gid)
        name = params.get("GroupName")
        if not name:
            raise errors("MissingParameter", "The request must contain the parameter groupId")
        vpc = self.default_vpc_id(scope)
        found = self.group_by_name(scope, vpc, name) if vpc else None
        if found is None:
            raise errors(
                "InvalidGroup.NotFound",
                f"The security group '{name}' does not exist in default VPC '{vpc or 'none'}'",
            )
        return found

    # -- groups -------------------------------------------------------------------------

    def create_security_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        name = params["GroupName"]
        description = params["Description"]
        if not name or len(name) > 255:
            raise errors(
                "InvalidParameterValue",
                "Value for parameter groupName is invalid: must be 1-255 characters",
            )
        if not description or len(description) > 255:
            raise errors("InvalidParameterValue", "Value for parameter groupDescription is invalid")
        if name.lower().startswith("sg-"):
            raise errors(
                "InvalidParameterValue",
                f"Value ({name}) for parameter GroupName is invalid. Group names may "
                "not be in the format sg-*.",
            )
        vpc_id = params.get("VpcId") or self.default_vpc_id(scope)
        if not vpc_id:
            raise errors("VPCIdNotSpecified", "No default VPC for this user")
        self.find(scope, "vpc", vpc_id)
        if name == "default":
            raise errors("InvalidGroup.Reserved", "The security group 'default' is reserved")
        if self.group_by_name(scope, vpc_id, name) is not None:
            raise errors(
                "InvalidGroup.Duplicate",
                f"The security group '{name}' already exists for VPC '{vpc_id}'",
            )
        in_vpc = sum(1 for g in self.res.all(scope, "sg") if g.doc["VpcId"] == vpc_id)
        if in_vpc >= GROUPS_PER_VPC:
            raise errors(
                "SecurityGroupLimitExceeded",
                "The maximum number of security groups has been reached.",
            )
        tags = self.tag_specs(params, "security-group")
        self.dry_run(params)
        group = new_group(self, scope, vpc_id, name, description)
        self.tag(scope, group.id, tags)
        return {
            "GroupId": group.id,
            "Tags": self.tag_list(scope, group.id),
            "SecurityGroupArn": group.doc["SecurityGroupArn"],
        }

    def delete_security_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        group = self._group(scope, params)
        if group.doc["GroupName"] == "default":
            raise errors(
                "CannotDelete",
                f'the specified group: "{group.id}" name: "default" cannot be deleted by a user',
            )
        for other in self.res.all(scope, "sg"):
            if other.id != group.id and any(
                r.get("ReferencedGroupInfo", {}).get("GroupId") == group.id
                for r in other.meta["rules"]
            ):
                raise errors("DependencyViolation", f"resource {group.id} has a dependent object")
        for eni in self.res.all(scope, "eni"):
            if any(g["GroupId"] == group.id for g in eni.doc.get("Groups", ())):
                raise errors("DependencyViolation", f"resource {group.id} has a dependent object")
        self.dry_run(params)
        self.res.delete(scope, "sg", group.id)
        return {"Return": True, "GroupId": group.id}

    def describe_security_groups(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        records = None
        names = params.get("GroupNames") or []
        if names:
            vpc = self.default_vpc_id(scope)
            records = []
            for name in names:
                found = self.group_by_name(scope, vpc, name) if vpc else None
                if found is None:
                    raise errors(
                        "InvalidGroup.NotFound",
                        f"The security group '{name}' does not exist in default VPC '{vpc}'",
                    )
                records.append(found)
            for gid in params.get("GroupIds") or ():
                records.append(self.find(scope, "sg", gid))
        docs, token = self.describe_kind(scope, "sg", params, SG_FILTERS, "GroupIds", records)
        out: dict[str, Any] = {"SecurityGroups": docs}
        if token:
            out["NextToken"] = token
        return out

    def describe_security_group_rules(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        rules: list[dict[str, Any]] = []
        for group in self.res.all(scope, "sg"):
            rules.extend(group.meta["rules"])
        wanted = set(params.get("SecurityGroupRuleIds") or ())
        if wanted:
            rules = [r for r in rules if r["SecurityGroupRuleId"] in wanted]
        tags = self.res.tags_of(scope, [r["SecurityGroupRuleId"] for r in rules])
        docs = [{**r, "Tags": tags.get(r["SecurityGroupRuleId"], [])} for r in rules]
        check = RULE_FILTERS.compile(params.get("Filters"))
        self.dry_run(params)
        docs = [d for d in docs if check(d)]
        return {"SecurityGroupRules": docs}

    # -- rules --------------------------------------------------------------------------

    def authorize_security_group_ingress(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._authorize(ctx, params, egress=False)

    def authorize_security_group_egress(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._authorize(ctx, params, egress=True)

    def revoke_security_group_ingress(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._revoke(ctx, params, egress=False)

    def revoke_security_group_egress(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._revoke(ctx, params, egress=True)

    def _authorize(
        self, ctx: RequestContext, params: dict[str, Any], egress: bool
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        group = self._group(scope, params)
        wanted = self._rules_of(scope, group, params, egress)
        existing = {_rule_key(r) for r in group.meta["rules"]}
        seen: set[tuple[Any, ...]] = set()
        for rule in wanted:
            key = _rule_key(rule)
            if key in existing or key in seen:
                raise errors(
                    "InvalidPermission.Duplicate",
                    f'the specified rule "{_describe_rule(rule)}" already exists',
                )
            seen.add(key)
        count = sum(1 for r in group.meta["rules"] if r["IsEgress"] == egress)
        if count + len(wanted) > RULES_PER_DIRECTION:
            raise errors(
                "RulesPerSecurityGroupLimitExceeded",
                "The maximum number of rules per security group has been reached.",
            )
        tags = self.tag_specs(params, "security-group-rule")
        self.dry_run(params)
        added = add_rules(self, scope, group, wanted)
        self.save(scope, group)
        for rule in added:
            self.tag(scope, rule["SecurityGroupRuleId"], tags)
        return {
            "Return": True,
            "SecurityGroupRules": [
                {**r, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} for r in added
            ],
        }

    def _revoke(self, ctx: RequestContext, params: dict[str, Any], egress: bool) -> dict[str, Any]:
        scope = self.scope(ctx)
        group = self._group(scope, params)
        rule_ids = params.get("SecurityGroupRuleIds") or []
        rules = group.meta["rules"]
        if rule_ids:
            by_id = {r["SecurityGroupRuleId"]: r for r in rules if r["IsEgress"] == egress}
            missing = [rid for rid in rule_ids if rid not in by_id]
            if missing:
                raise errors(
                    "InvalidSecurityGroupRuleId.NotFound",
                    f"The security group rule ID '{missing[0]}' does not exist",
                )
            gone = [by_id[rid] for rid in rule_ids]
        else:
            wanted = self._rules_of(scope, group, params, egress, check_peers=False)
            by_key = {_rule_key(r): r for r in rules}
            gone = []
            for rule in wanted:
                found = by_key.get(_rule_key(rule))
                if found is None:
                    raise errors(
                        "InvalidPermission.NotFound",
                        "The specified rule does not exist in this security group.",
                    )
                gone.append(found)
        self.dry_run(params)
        ids = {r["SecurityGroupRuleId"] for r in gone}
        group.meta["rules"] = [r for r in rules if r["SecurityGroupRuleId"] not in ids]
        regroup(group)
        self.save(scope, group)
        for rid in ids:
            self.res.remove_tags(scope, rid, {t["Key"]: None for t in self.tag_list(scope, rid)})
        return {
            "Return": True,
            "RevokedSecurityGroupRules": [
                {
                    "SecurityGroupRuleId": r["SecurityGroupRuleId"],
                    "GroupId": group.id,
                    "IsEgress": egress,
                    "IpProtocol": r["IpProtocol"],
                    "FromPort": r["FromPort"],
                    "ToPort": r["ToPort"],
                    **{k: r[k] for k in ("CidrIpv4", "CidrIpv6", "PrefixListId") if k in r},
                }
                for r in gone
            ],
        }

    def modify_security_group_rules(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        group = self.find(scope, "sg", params["GroupId"])
        by_id = {r["SecurityGroupRuleId"]: r for r in group.meta["rules"]}
        changes = []
        for update in params.get("SecurityGroupRules") or ():
            rid = update.get("SecurityGroupRuleId") or ""
            if rid not in by_id:
                raise errors(
                    "InvalidSecurityGroupRuleId.NotFound",
                    f"The security group rule ID '{rid}' does not exist",
                )
            request = update.get("SecurityGroupRule") or {}
            peer = {
                k: request[k] for k in ("CidrIpv4", "CidrIpv6", "PrefixListId") if request.get(k)
            }
            if request.get("ReferencedGroupId"):
                peer["UserIdGroupPairs"] = [{"GroupId": request["ReferencedGroupId"]}]
            perm: dict[str, Any] = {
                "IpProtocol": request.get("IpProtocol"),
                "FromPort": request.get("FromPort"),
                "ToPort": request.get("ToPort"),
            }
            if "CidrIpv4" in peer:
                perm["IpRanges"] = [{"CidrIp": peer["CidrIpv4"]}]
            if "CidrIpv6" in peer:
                perm["Ipv6Ranges"] = [{"CidrIpv6": peer["CidrIpv6"]}]
            if "PrefixListId" in peer:
                perm["PrefixListIds"] = [{"PrefixListId": peer["PrefixListId"]}]
            if "UserIdGroupPairs" in peer:
                perm["UserIdGroupPairs"] = peer["UserIdGroupPairs"]
            rule = self._rules_of(scope, group, {"IpPermissions": [perm]}, by_id[rid]["IsEgress"])[
                0
            ]
            if request.get("Description") is not None:
                rule["Description"] = request["Description"]
            changes.append((rid, rule))
        self.dry_run(params)
        for rid, rule in changes:
            current = by_id[rid]
            for key in (
                "CidrIpv4",
                "CidrIpv6",
                "PrefixListId",
                "ReferencedGroupInfo",
                "Description",
            ):
                current.pop(key, None)
            current.update(rule)
        regroup(group)
        self.save(scope, group)
        return {"Return": True}

    def update_security_group_rule_descriptions_ingress(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._describe_rules(ctx, params, egress=False)

    def update_security_group_rule_descriptions_egress(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._describe_rules(ctx, params, egress=True)

    def _describe_rules(
        self, ctx: RequestContext, params: dict[str, Any], egress: bool
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        group = self._group(scope, params)
        rules = group.meta["rules"]
        updates: list[tuple[dict[str, Any], str | None]] = []
        for item in params.get("SecurityGroupRuleDescriptions") or ():
            found = next(
                (r for r in rules if r["SecurityGroupRuleId"] == item.get("SecurityGroupRuleId")),
                None,
            )
            if found is None:
                raise errors(
                    "InvalidSecurityGroupRuleId.NotFound",
                    f"The security group rule ID '{item.get('SecurityGroupRuleId')}' "
                    "does not exist",
                )
            updates.append((found, item.get("Description")))
        if params.get("IpPermissions"):
            by_key = {_rule_key(r): r for r in rules}
            for rule in self._rules_of(scope, group, params, egress, check_peers=False):
                found = by_key.get(_rule_key(rule))
                if found is None:
                    raise errors(
                        "InvalidPermission.NotFound",
                        "The specified rule does not exist in this security group.",
                    )
                updates.append((found, rule.get("Description")))
        self.dry_run(params)
        for rule, description in updates:
            if description:
                rule["Description"] = description
            else:
                rule.pop("Description", None)
        regroup(group)
        self.save(scope, group)
        return {"Return": True}

    def _rules_of(
        self,
        scope: Scope,
        group: Record,
        params: dict[str, Any],
        egress: bool,
        check_peers: bool = True,
    ) -> list[dict[str, Any]]:
        """The rules a request names, through IpPermissions or the old flat parameters."""
        perms = list(params.get("IpPermissions") or ())
        if not perms:
            flat: dict[str, Any] = {"IpProtocol": params.get("IpProtocol") or "-1"}
            for key in ("FromPort", "ToPort"):
                if params.get(key) is not None:
                    flat[key] = params[key]
            if params.get("CidrIp"):
                flat["IpRanges"] = [{"CidrIp": params["CidrIp"]}]
            if params.get("SourceSecurityGroupName") or params.get("SourceSecurityGroupOwnerId"):
                flat["UserIdGroupPairs"] = [
                    {
                        "GroupName": params.get("SourceSecurityGroupName"),
                        "UserId": params.get("SourceSecurityGroupOwnerId"),
                    }
                ]
            if len(flat) == 1 and not params.get("IpProtocol"):
                raise errors(
                    "MissingParameter",
                    "Either IpPermissions or the rule's parameters must be given",
                )
            perms = [flat]
        rules: list[dict[str, Any]] = []
        for perm in perms:
            proto, lo, hi = _protocol_ports(perm)
            base = {"IsEgress": egress, "IpProtocol": proto, "FromPort": lo, "ToPort": hi}
            peers = 0
            for r in perm.get("IpRanges") or ():
                rules.append({**base, "CidrIpv4": _cidr(r.get("CidrIp") or "", 4), **_desc(r)})
                peers += 1
            for r in perm.get("Ipv6Ranges") or ():
                rules.append({**base, "CidrIpv6": _cidr(r.get("CidrIpv6") or "", 6), **_desc(r)})
                peers += 1
            for r in perm.get("PrefixListIds") or ():
                rules.append({**base, "PrefixListId": r.get("PrefixListId") or "", **_desc(r)})
                peers += 1
            for r in perm.get("UserIdGroupPairs") or ():
                ref = self._referenced(scope, group, r, check_peers)
                rules.append({**base, "ReferencedGroupInfo": ref, **_desc(r)})
                peers += 1
            if not peers:
                raise errors(
                    "InvalidParameterValue",
                    "The request must contain a source or destination for the rule",
                )
        return rules

    def _referenced(
        self, scope: Scope, group: Record, pair: dict[str, Any], check: bool
    ) -> dict[str, str]:
        gid = pair.get("GroupId")
        user = pair.get("UserId") or scope.account
        if not gid and pair.get("GroupName"):
            found = self.group_by_name(scope, group.doc["VpcId"], pair["GroupName"])
            if found is None:
                raise errors(
                    "InvalidGroup.NotFound",
                    f"The security group '{pair['GroupName']}' does not exist",
                )
            gid = found.id
        if not gid:
            raise errors("InvalidParameterValue", "A group reference needs a GroupId")
        if check and user == scope.account and self.res.get(scope, "sg", gid) is None:
            raise errors("InvalidGroup.NotFound", f"The security group '{gid}' does not exist")
        return {"GroupId": gid, "UserId": user}


def _desc(item: dict[str, Any]) -> dict[str, str]:
    desc = item.get("Description")
    if desc is None:
        return {}
    if len(desc) > 255:
        raise errors("InvalidParameterValue", "Rule descriptions can be at most 255 characters")
    return {"Description": desc}


def _protocol_ports(perm: dict[str, Any]) -> tuple[str, int, int]:
    raw = str(perm.get("IpProtocol") or "").lower()
    proto = PROTOCOL_NAMES.get(raw, raw)
    if proto == "-1":
        return "-1", -1, -1
    lo, hi = perm.get("FromPort"), perm.get("ToPort")
    if proto in ("tcp", "udp"):
        if lo is None or hi is None:
            raise errors(
                "InvalidParameterValue",
                "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.",
            )
        if not (0 <= lo <= 65535 and 0 <= hi <= 65535):
            raise errors(
                "InvalidParameterValue", "Invalid value for portRange. Must be between 0 and 65535."
            )
        if lo > hi:
            raise errors("InvalidParameterValue", f"Invalid TCP/UDP port range: {lo}, {hi}")
        return proto, lo, hi
    if proto in ("icmp", "icmpv6"):
        lo = -1 if lo is None else lo
        hi = -1 if hi is None else hi
        if not (-1 <= lo <= 255 and -1 <= hi <= 255):
            raise errors("InvalidParameterValue", f"Invalid ICMP type/code: {lo}, {hi}")
        return proto, lo, hi
    if not raw.isdigit() or not 0 <= int(raw) <= 255:
        raise errors(
            "InvalidParameterValue",
            f"Invalid value '{perm.get('IpProtocol')}' for IP protocol. Unknown protocol.",
        )
    return raw, -1 if lo is None else lo, -1 if hi is None else hi


def _cidr(text: str, version: int) -> str:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        net = None
    if net is None or net.version != version or "/" not in text:
        raise errors("InvalidParameterValue", f"CIDR block {text} is malformed")
    return text
