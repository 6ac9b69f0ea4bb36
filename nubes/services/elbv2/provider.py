"""Elastic Load Balancing v2: application and network load balancers, listeners, rules,
target groups, targets and their health, tags and attributes. The records live here; the
traffic is served by the proxy runtime (``nubes/runtime/proxy``), which this provider feeds
with a snapshot of the records and which reports health check outcomes back."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import re
import secrets
from collections.abc import Callable, Container
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, paginate
from nubes.core.tags import from_list, to_list
from nubes.protocol.base import ServiceError
from nubes.runtime.proxy import config
from nubes.services.elbv2 import certificates as listener_certificates
from nubes.services.elbv2 import checks, defaults
from nubes.services.elbv2.balancing import DNS_SUFFIX, BalancingProvider
from nubes.services.elbv2.errors import errors
from nubes.store import Row

if TYPE_CHECKING:
    from nubes.app import Environment

log = logging.getLogger("nubes.elbv2")

Json = dict[str, Any]

MIGRATIONS = (
    """
    CREATE TABLE elbv2_items (
        arn TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        parent TEXT NOT NULL,
        created REAL NOT NULL,
        doc TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX elbv2_items_scope ON elbv2_items (account, region, kind, name);
    CREATE INDEX elbv2_items_parent ON elbv2_items (parent);
    CREATE TABLE elbv2_targets (
        tg TEXT NOT NULL,
        id TEXT NOT NULL,
        port INTEGER NOT NULL,
        az TEXT,
        registered REAL NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,
        description TEXT,
        ok INTEGER NOT NULL DEFAULT 0,
        fail INTEGER NOT NULL DEFAULT 0,
        due REAL NOT NULL,
        drain_until REAL,
        PRIMARY KEY (tg, id, port)
    ) WITHOUT ROWID;
    """,
    """
    ALTER TABLE elbv2_targets ADD COLUMN healthy_since REAL;
    """,
)

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
ADDRESS_POOL = int(ipaddress.IPv4Address("127.15.0.1"))
"""Load balancers listen on 127.15.0.0/16 (EC2's public addresses start at 127.16.0.1)."""
ADDRESS_POOL_SIZE = 65_534
CATCH_UP = 12
"""Missed health check intervals replayed at most (more than any threshold needs)."""
MAX_PAGE = 400

REASONS = {
    "Elb.RegistrationInProgress": "Target registration is in progress",
    "Elb.InitialHealthChecking": "Initial health checks in progress",
    "Target.NotInUse": "Target group is not configured to receive traffic from the load balancer",
    "Target.NotRegistered": "Target is not registered to the target group",
    "Target.DeregistrationInProgress": "Target deregistration is in progress",
    "Target.HealthCheckDisabled": "Health checks are disabled",
    "Target.FailedHealthChecks": "Health checks failed",
    "Target.Timeout": "Request timed out",
}


class Elbv2Provider(BalancingProvider[tuple[str, str, int]]):
    service = "elbv2"
    migrations = MIGRATIONS
    tick_name = "elbv2-targets"

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        return cls.has_rows(env, "SELECT 1 FROM elbv2_items WHERE kind = 'lb' LIMIT 1")

    # -- records --------------------------------------------------------------------------

    def _get(self, kind: str, item_arn: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM elbv2_items WHERE arn = ? AND kind = ?", (item_arn, kind)
        )

    def _doc(self, kind: str, item_arn: str, missing: Callable[[], ServiceError]) -> Json:
        row = self._get(kind, item_arn)
        if row is None:
            raise missing()
        doc: Json = json.loads(row["doc"])
        return doc

    def _lb(self, ctx: RequestContext, lb_arn: str) -> Json:
        return self._doc(
            "lb",
            lb_arn,
            lambda: errors.LoadBalancerNotFoundException(f"Load balancer '{lb_arn}' not found"),
        )

    def _tg(self, tg_arn: str) -> Json:
        return self._doc(
            "tg",
            tg_arn,
            lambda: errors.TargetGroupNotFoundException(f"Target groups '{tg_arn}' not found"),
        )

    def _listener(self, listener_arn: str) -> Json:
        return self._doc(
            "listener",
            listener_arn,
            lambda: errors.ListenerNotFoundException(f"Listener '{listener_arn}' not found"),
        )

    def _rule(self, rule_arn: str) -> Json:
        return self._doc(
            "rule", rule_arn, lambda: errors.RuleNotFoundException(f"Rule '{rule_arn}' not found")
        )

    def _put(
        self, ctx: RequestContext, kind: str, item_arn: str, name: str, parent: str, doc: Json
    ) -> None:
        self.store.execute(
            "INSERT INTO elbv2_items (arn, account, region, kind, name, parent, created, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(arn) DO UPDATE SET doc = excluded.doc",
            (
                item_arn,
                ctx.account_id,
                ctx.region,
                kind,
                name,
                parent,
                clock.now(),
                json.dumps(doc),
            ),
        )
        self.plane.changed()

    def _update(self, item_arn: str, doc: Json) -> None:
        self.store.execute(
            "UPDATE elbv2_items SET doc = ? WHERE arn = ?", (json.dumps(doc), item_arn)
        )
        self.plane.changed()

    def _delete(self, item_arn: str) -> None:
        self.store.execute("DELETE FROM elbv2_items WHERE arn = ?", (item_arn,))
        self.env.tags.drop(item_arn)
        self.plane.changed()

    def _scope(self, ctx: RequestContext, kind: str, parent: str | None = None) -> list[Row]:
        sql = "SELECT * FROM elbv2_items WHERE account = ? AND region = ? AND kind = ?"
        params: list[Any] = [ctx.account_id, ctx.region, kind]
        if parent is not None:
            sql += " AND parent = ?"
            params.append(parent)
        return self.store.query(sql + " ORDER BY created, arn", params)

    def _all_lbs(self) -> list[Row]:
        return self.store.query("SELECT * FROM elbv2_items WHERE kind = 'lb'")

    @staticmethod
    def _page(items: list[Json], req: Json) -> tuple[list[Json], str | None]:
        size = req.get("PageSize") or MAX_PAGE
        if not 1 <= size <= MAX_PAGE:
            raise errors.ValidationError(
                f"1 validation error detected: Value '{size}' at 'pageSize' failed to satisfy "
                f"constraint: Member must have value less than or equal to {MAX_PAGE}"
            )
        indexed = [(i, item) for i, item in enumerate(items)]
        try:
            page, token = paginate(indexed, size, req.get("Marker"), key=lambda p: p[0])
        except (InvalidToken, TypeError):
            raise errors.ValidationError("Invalid marker") from None
        return [item for _, item in page], token

    # -- EC2 look-ups ---------------------------------------------------------------------

    def _subnets(self, ctx: RequestContext, ids: list[str]) -> list[Json]:
        return self._named_subnets(ctx, ids, errors.SubnetNotFoundException)

    def _security_groups(self, ctx: RequestContext, ids: list[str], vpc: str) -> list[str]:
        try:
            found = self._ec2(ctx, "DescribeSecurityGroups", {"GroupIds": ids})["SecurityGroups"]
        except ServiceError:
            raise errors.InvalidSecurityGroupException(
                "One or more security groups are invalid"
            ) from None
        if len(found) != len(set(ids)) or any(g["VpcId"] != vpc for g in found):
            raise errors.InvalidSecurityGroupException("One or more security groups are invalid")
        return ids

    def _default_group(self, ctx: RequestContext, vpc: str) -> list[str]:
        groups = self._ec2(
            ctx,
            "DescribeSecurityGroups",
            {
                "Filters": [
                    {"Name": "vpc-id", "Values": [vpc]},
                    {"Name": "group-name", "Values": ["default"]},
                ]
            },
        )["SecurityGroups"]
        return [g["GroupId"] for g in groups[:1]]

    # -- load balancers -------------------------------------------------------------------

    def create_load_balancer(self, ctx: RequestContext, req: Json) -> Json:
        name = req["Name"]
        if len(name) > 32:
            raise errors.ValidationError("LoadBalancer name cannot be longer than '32' characters")
        if not _NAME.match(name):
            raise errors.ValidationError(
                "LoadBalancer name must have only alphanumeric characters and hyphens, and "
                "must not begin or end with a hyphen"
            )
        if name.lower().startswith("internal-"):
            raise errors.ValidationError("LoadBalancer name cannot begin with 'internal-'")
        lb_type = req.get("Type") or "application"
        if lb_type not in ("application", "network"):
            raise errors.ValidationError(
                f"Load balancer type '{lb_type}' is not supported by nubes; "
                "use 'application' or 'network'"
            )
        scheme = req.get("Scheme") or "internet-facing"
        if scheme not in ("internet-facing", "internal"):
            raise errors.InvalidSchemeException(f"Scheme '{scheme}' is not valid")
        mappings = req.get("SubnetMappings") or []
        if req.get("Subnets") and mappings:
            raise errors.ValidationError("You can specify subnets or subnet mappings, not both")
        subnet_ids = list(req.get("Subnets") or [m["SubnetId"] for m in mappings])
        if not subnet_ids:
            raise errors.ValidationError("At least one subnet must be specified")
        subnets = self._subnets(ctx, subnet_ids)
        vpcs = {s["VpcId"] for s in subnets}
        if len(vpcs) > 1:
            raise errors.InvalidSubnetException("The subnets must all belong to the same VPC")
        zones: dict[str, str] = {}
        for s in subnets:
            if s["AvailabilityZone"] in zones:
                raise errors.InvalidConfigurationRequestException(
                    "A load balancer cannot be attached to multiple subnets in the same "
                    "Availability Zone"
                )
            zones[s["AvailabilityZone"]] = s["SubnetId"]
        if lb_type == "application" and len(zones) < 2:
            raise errors.ValidationError(
                "At least two subnets in two different Availability Zones must be specified"
            )
        vpc = vpcs.pop()
        groups = req.get("SecurityGroups")
        if groups:
            self._security_groups(ctx, groups, vpc)
        elif lb_type == "application":
            groups = self._default_group(ctx, vpc)
        existing = self.store.query_one(
            "SELECT doc FROM elbv2_items WHERE account = ? AND region = ? AND kind = 'lb' "
            "AND name = ?",
            (ctx.account_id, ctx.region, name),
        )
        if existing is not None:
            doc = json.loads(existing["doc"])
            same = (
                doc["Type"] == lb_type
                and doc["Scheme"] == scheme
                and sorted(z["SubnetId"] for z in doc["AvailabilityZones"]) == sorted(subnet_ids)
            )
            if not same:
                raise errors.DuplicateLoadBalancerNameException(
                    f"A load balancer with the same name '{name}' exists, but with "
                    "different settings"
                )
            return {"LoadBalancers": [self._lb_out(doc)]}
        ident = secrets.token_hex(8)
        short = "app" if lb_type == "application" else "net"
        lb_arn = arn(
            "elasticloadbalancing",
            ctx.region,
            ctx.account_id,
            f"loadbalancer/{short}/{name}/{ident}",
        )
        host = f"{name}-{int(ident[:8], 16) % 10**10}"
        if scheme == "internal":
            host = "internal-" + host
        dns = f"{host}.{ctx.region}.{DNS_SUFFIX}"
        doc = {
            "LoadBalancerArn": lb_arn,
            "DNSName": dns,
            "CanonicalHostedZoneId": defaults.hosted_zone(ctx.region, lb_type),
            "CreatedTime": clock.now(),
            "LoadBalancerName": name,
            "Scheme": scheme,
            "VpcId": vpc,
            "State": {"Code": "active"},
            "Type": lb_type,
            "AvailabilityZones": [
                {"ZoneName": z, "SubnetId": sid, "LoadBalancerAddresses": []}
                for z, sid in sorted(zones.items())
            ],
            "IpAddressType": req.get("IpAddressType") or "ipv4",
            "Address": self._allocate_address(),
            "Attributes": dict(defaults.LB_ATTRIBUTES[lb_type]),
        }
        if groups:
            doc["SecurityGroups"] = list(groups)
        doc["Interfaces"] = self._interfaces(
            ctx, subnets, groups or [], f"ELB {short}/{name}/{ident}"
        )
        self._set_tags(lb_arn, req.get("Tags") or [])
        self._put(ctx, "lb", lb_arn, name, "", doc)
        return {"LoadBalancers": [self._lb_out(doc)]}

    def _interfaces(
        self, ctx: RequestContext, subnets: list[Json], groups: list[str], description: str
    ) -> dict[str, Json]:
        """One network interface per subnet, as AWS makes them: their private IPs are the
        source addresses targets see, which the targets' security groups judge."""
        out: dict[str, Json] = {}
        for subnet in subnets:
            params: Json = {"SubnetId": subnet["SubnetId"], "Description": description}
            if groups:
                params["Groups"] = groups
            eni = self._ec2(ctx, "CreateNetworkInterface", params)["NetworkInterface"]
            out[subnet["AvailabilityZone"]] = {
                "Id": eni["NetworkInterfaceId"],
                "Ip": eni["PrivateIpAddress"],
            }
        return out

    def _drop_interfaces(self, ctx: RequestContext, doc: Json) -> None:
        for eni in doc.get("Interfaces", {}).values():
            with contextlib.suppress(ServiceError):
                self._ec2(ctx, "DeleteNetworkInterface", {"NetworkInterfaceId": eni["Id"]})

    def _allocate_address(self) -> str:
        # Chosen at random: several nubes servers on one machine rarely pick the same address
        # (whose ports only one of them could bind).
        used = {json.loads(r["doc"]).get("Address") for r in self._all_lbs()}
        if len(used) < ADDRESS_POOL_SIZE:
            while True:
                candidate = str(
                    ipaddress.IPv4Address(ADDRESS_POOL + secrets.randbelow(ADDRESS_POOL_SIZE))
                )
                if candidate not in used:
                    return candidate
        raise errors.TooManyLoadBalancersException("The quota of load balancers has been reached")

    @staticmethod
    def _lb_out(doc: Json) -> Json:
        return {k: v for k, v in doc.items() if k not in ("Address", "Attributes", "Interfaces")}

    def describe_load_balancers(self, ctx: RequestContext, req: Json) -> Json:
        arns = req.get("LoadBalancerArns")
        names = req.get("Names")
        if arns and names:
            raise errors.ValidationError(
                "Load balancer names and load balancer ARNs cannot be specified at the same time"
            )
        docs = [json.loads(r["doc"]) for r in self._scope(ctx, "lb")]
        if arns:
            by_arn = {d["LoadBalancerArn"]: d for d in docs}
            for a in arns:
                if a not in by_arn:
                    raise errors.LoadBalancerNotFoundException(f"Load balancers '[{a}]' not found")
            docs = [by_arn[a] for a in dict.fromkeys(arns)]
        elif names:
            by_name = {d["LoadBalancerName"]: d for d in docs}
            for n in names:
                if n not in by_name:
                    raise errors.LoadBalancerNotFoundException(f"Load balancers '[{n}]' not found")
            docs = [by_name[n] for n in dict.fromkeys(names)]
        page, marker = self._page(docs, req)
        out: Json = {"LoadBalancers": [self._lb_out(d) for d in page]}
        if marker:
            out["NextMarker"] = marker
        return out

    def delete_load_balancer(self, ctx: RequestContext, req: Json) -> Json:
        lb_arn = req["LoadBalancerArn"]
        row = self._get("lb", lb_arn)
        if row is None:
            return {}  # AWS: deleting a load balancer that is gone succeeds
        doc = json.loads(row["doc"])
        if doc["Attributes"].get("deletion_protection.enabled") == "true":
            raise errors.OperationNotPermittedException(
                f"Load balancer '{lb_arn}' cannot be deleted because deletion protection is enabled"
            )
        for listener in self.store.query(
            "SELECT arn FROM elbv2_items WHERE kind = 'listener' AND parent = ?", (lb_arn,)
        ):
            self._drop_listener(listener["arn"])
        self._delete(lb_arn)
        self._drop_interfaces(ctx, doc)
        return {}

    def describe_load_balancer_attributes(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._lb(ctx, req["LoadBalancerArn"])
        return {"Attributes": _attributes_out(doc["Attributes"])}

    def modify_load_balancer_attributes(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._lb(ctx, req["LoadBalancerArn"])
        allowed = defaults.LB_ATTRIBUTES[doc["Type"]]
        return self._set_attributes(doc, doc["LoadBalancerArn"], req, allowed, "Load balancer")

    def set_security_groups(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._lb(ctx, req["LoadBalancerArn"])
        if doc["Type"] == "network" and not doc.get("SecurityGroups"):
            raise errors.InvalidConfigurationRequestException(
                "You cannot set security groups on a Network Load Balancer which was "
                "created without any security groups"
            )
        doc["SecurityGroups"] = self._security_groups(ctx, req["SecurityGroups"], doc["VpcId"])
        for eni in doc.get("Interfaces", {}).values():
            self._ec2(
                ctx,
                "ModifyNetworkInterfaceAttribute",
                {"NetworkInterfaceId": eni["Id"], "Groups": doc["SecurityGroups"]},
            )
        self._update(doc["LoadBalancerArn"], doc)
        return {"SecurityGroupIds": doc["SecurityGroups"]}

    def set_subnets(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._lb(ctx, req["LoadBalancerArn"])
        ids = list(req.get("Subnets") or [m["SubnetId"] for m in req.get("SubnetMappings") or []])
        subnets = self._subnets(ctx, ids)
        zones: dict[str, str] = {}
        for s in subnets:
            if s["VpcId"] != doc["VpcId"]:
                raise errors.InvalidSubnetException(
                    "The subnets must all belong to the load balancer's VPC"
                )
            if s["AvailabilityZone"] in zones:
                raise errors.InvalidConfigurationRequestException(
                    "A load balancer cannot be attached to multiple subnets in the same "
                    "Availability Zone"
                )
            zones[s["AvailabilityZone"]] = s["SubnetId"]
        if doc["Type"] == "application" and len(zones) < 2:
            raise errors.ValidationError(
                "At least two subnets in two different Availability Zones must be specified"
            )
        doc["AvailabilityZones"] = [
            {"ZoneName": z, "SubnetId": sid, "LoadBalancerAddresses": []}
            for z, sid in sorted(zones.items())
        ]
        self._drop_interfaces(ctx, doc)
        description = "ELB " + doc["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
        doc["Interfaces"] = self._interfaces(
            ctx, subnets, doc.get("SecurityGroups") or [], description
        )
        self._update(doc["LoadBalancerArn"], doc)
        return {
            "AvailabilityZones": doc["AvailabilityZones"],
            "IpAddressType": doc["IpAddressType"],
        }

    # -- target groups --------------------------------------------------------------------

    def create_target_group(self, ctx: RequestContext, req: Json) -> Json:
        name = req["Name"]
        if len(name) > 32:
            raise errors.ValidationError("Target group name cannot be longer than '32' characters")
        if not _NAME.match(name):
            raise errors.ValidationError(
                "Target group name must have only alphanumeric characters and hyphens, and "
                "must not begin or end with a hyphen"
            )
        target_type = req.get("TargetType") or "instance"
        if target_type not in ("instance", "ip", "lambda"):
            raise errors.ValidationError(
                f"Target type '{target_type}' is not supported by nubes; "
                "use 'instance', 'ip' or 'lambda'"
            )
        protocol = req.get("Protocol")
        port = req.get("Port")
        vpc = req.get("VpcId")
        if target_type == "lambda":
            for key in ("Protocol", "Port", "VpcId"):
                if key in req:
                    raise errors.ValidationError(
                        f"{key} cannot be specified for target groups with target type 'lambda'"
                    )
        else:
            for key, value in (("Protocol", protocol), ("Port", port), ("VpcId", vpc)):
                if value is None:
                    raise errors.ValidationError(
                        f"{key} must be specified for target groups with target type "
                        f"'{target_type}'"
                    )
            if protocol not in defaults.HTTP_PROTOCOLS + defaults.NETWORK_PROTOCOLS:
                raise errors.ValidationError(f"Protocol '{protocol}' is not supported")
            try:
                self._ec2(ctx, "DescribeVpcs", {"VpcIds": [vpc]})
            except ServiceError:
                raise errors.ValidationError(f"The VPC ID '{vpc}' is not found") from None
        health = defaults.health_check(target_type, protocol)
        for key in (
            "HealthCheckProtocol",
            "HealthCheckPort",
            "HealthCheckEnabled",
            "HealthCheckPath",
            "HealthCheckIntervalSeconds",
            "HealthCheckTimeoutSeconds",
            "HealthyThresholdCount",
            "UnhealthyThresholdCount",
            "Matcher",
        ):
            if key in req:
                health[key] = req[key]
        _check_health(target_type, protocol, health)
        existing = self.store.query_one(
            "SELECT doc FROM elbv2_items WHERE account = ? AND region = ? AND kind = 'tg' "
            "AND name = ?",
            (ctx.account_id, ctx.region, name),
        )
        if existing is not None:
            old = json.loads(existing["doc"])
            if (old.get("Protocol"), old.get("Port"), old.get("VpcId"), old["TargetType"]) != (
                protocol,
                port,
                vpc,
                target_type,
            ):
                raise errors.DuplicateTargetGroupNameException(
                    "A target group with the same name "
                    f"'{name}' exists, but with different settings"
                )
            return {"TargetGroups": [self._tg_out(old)]}
        tg_arn = arn(
            "elasticloadbalancing",
            ctx.region,
            ctx.account_id,
            f"targetgroup/{name}/{secrets.token_hex(8)}",
        )
        doc: Json = {
            "TargetGroupArn": tg_arn,
            "TargetGroupName": name,
            "TargetType": target_type,
            **health,
            "Attributes": defaults.target_group_attributes(target_type, protocol),
        }
        if target_type != "lambda":
            doc.update(Protocol=protocol, Port=port, VpcId=vpc, IpAddressType="ipv4")
            if protocol in defaults.HTTP_PROTOCOLS:
                doc["ProtocolVersion"] = req.get("ProtocolVersion") or "HTTP1"
        self._set_tags(tg_arn, req.get("Tags") or [])
        self._put(ctx, "tg", tg_arn, name, "", doc)
        return {"TargetGroups": [self._tg_out(doc)]}

    def _tg_users(self, tg_arn: str) -> list[str]:
        """The load balancers whose listeners or rules forward to the target group."""
        rows = self.store.query(
            "SELECT kind, parent, doc FROM elbv2_items WHERE kind IN ('listener', 'rule') "
            "AND instr(doc, ?) > 0",
            (tg_arn,),
        )
        found: list[str] = []
        for row in rows:
            doc = json.loads(row["doc"])
            kept = doc.get("DefaultActions") if row["kind"] == "listener" else doc.get("Actions")
            if tg_arn not in checks.target_group_arns(kept or []):
                continue
            lb_arn = doc["LoadBalancerArn"] if row["kind"] == "listener" else doc["_lb"]
            if lb_arn not in found:
                found.append(lb_arn)
        return found

    def _tg_out(self, doc: Json) -> Json:
        out = {k: v for k, v in doc.items() if k != "Attributes"}
        out["LoadBalancerArns"] = self._tg_users(doc["TargetGroupArn"])
        return out

    def describe_target_groups(self, ctx: RequestContext, req: Json) -> Json:
        docs = [json.loads(r["doc"]) for r in self._scope(ctx, "tg")]
        arns, names, lb_arn = (
            req.get("TargetGroupArns"),
            req.get("Names"),
            req.get("LoadBalancerArn"),
        )
        if sum(bool(x) for x in (arns, names, lb_arn)) > 1:
            raise errors.ValidationError(
                "Only one of load balancer ARN, target group ARNs or names can be specified"
            )
        if arns:
            by_arn = {d["TargetGroupArn"]: d for d in docs}
            missing = [a for a in arns if a not in by_arn]
            if missing:
                raise errors.TargetGroupNotFoundException(f"Target groups '{missing}' not found")
            docs = [by_arn[a] for a in dict.fromkeys(arns)]
        elif names:
            by_name = {d["TargetGroupName"]: d for d in docs}
            missing = [n for n in names if n not in by_name]
            if missing:
                raise errors.TargetGroupNotFoundException(
                    f"One or more target groups not found: {missing}"
                )
            docs = [by_name[n] for n in dict.fromkeys(names)]
        elif lb_arn:
            self._lb(ctx, lb_arn)
            docs = [d for d in docs if lb_arn in self._tg_users(d["TargetGroupArn"])]
        page, marker = self._page(docs, req)
        out: Json = {"TargetGroups": [self._tg_out(d) for d in page]}
        if marker:
            out["NextMarker"] = marker
        return out

    def modify_target_group(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._tg(req["TargetGroupArn"])
        for key, value in req.items():
            if key != "TargetGroupArn":
                doc[key] = value
        _check_health(doc["TargetType"], doc.get("Protocol"), doc)
        self._update(doc["TargetGroupArn"], doc)
        return {"TargetGroups": [self._tg_out(doc)]}

    def delete_target_group(self, ctx: RequestContext, req: Json) -> Json:
        tg_arn = req["TargetGroupArn"]
        if self._get("tg", tg_arn) is None:
            return {}
        if self._tg_users(tg_arn):
            raise errors.ResourceInUseException(
                f"Target group '{tg_arn}' is currently in use by a listener or a rule"
            )
        self.store.execute("DELETE FROM elbv2_targets WHERE tg = ?", (tg_arn,))
        self._delete(tg_arn)
        return {}

    def describe_target_group_attributes(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._tg(req["TargetGroupArn"])
        return {"Attributes": _attributes_out(doc["Attributes"])}

    def modify_target_group_attributes(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._tg(req["TargetGroupArn"])
        allowed = defaults.target_group_attributes(doc["TargetType"], doc.get("Protocol"))
        return self._set_attributes(doc, doc["TargetGroupArn"], req, allowed, "Target group")

    def _set_attributes(
        self, doc: Json, item_arn: str, req: Json, allowed: Container[str], what: str
    ) -> Json:
        """ModifyLoadBalancerAttributes and ModifyTargetGroupAttributes: every key must be one
        the load balancer or target group accepts."""
        for attr in req["Attributes"]:
            key, value = attr.get("Key", ""), attr.get("Value", "")
            if key not in allowed:
                raise errors.InvalidConfigurationRequestException(
                    f"{what} attribute key '{key}' is not recognized"
                )
            _check_attribute(key, value)
            doc["Attributes"][key] = value
        self._update(item_arn, doc)
        return {"Attributes": _attributes_out(doc["Attributes"])}

    # -- targets --------------------------------------------------------------------------

    def register_targets(self, ctx: RequestContext, req: Json) -> Json:
        tg = self._tg(req["TargetGroupArn"])
        targets = [self._target(ctx, tg, t) for t in req["Targets"]]
        if tg["TargetType"] == "lambda":
            already = self.store.query(
                "SELECT id FROM elbv2_targets WHERE tg = ?", (tg["TargetGroupArn"],)
            )
            ids = {t[0] for t in targets} | {r["id"] for r in already}
            if len(ids) > 1:
                raise errors.TooManyTargetsException(
                    "A target group with target type 'lambda' can have only one target"
                )
            self._allow_lambda(ctx, targets[0][0], tg["TargetGroupArn"])
        now = clock.now()
        for target_id, port, az in targets:
            row = self.store.query_one(
                "SELECT state FROM elbv2_targets WHERE tg = ? AND id = ? AND port = ?",
                (tg["TargetGroupArn"], target_id, port),
            )
            if row is not None and row["state"] != "draining":
                continue  # registering a registered target changes nothing
            self.store.execute(
                "INSERT OR REPLACE INTO elbv2_targets (tg, id, port, az, registered, state, "
                "reason, description, ok, fail, due, drain_until) "
                "VALUES (?, ?, ?, ?, ?, 'initial', 'Elb.RegistrationInProgress', ?, 0, 0, ?, NULL)",
                (
                    tg["TargetGroupArn"],
                    target_id,
                    port,
                    az,
                    now,
                    REASONS["Elb.RegistrationInProgress"],
                    now,
                ),
            )
        self.plane.changed()
        self.env.scheduler.poke()
        return {}

    def _target(self, ctx: RequestContext, tg: Json, target: Json) -> tuple[str, int, str | None]:
        target_id = target["Id"]
        kind = tg["TargetType"]
        if kind == "lambda":
            if "Port" in target:
                raise errors.ValidationError(
                    "A port cannot be specified for targets of type 'lambda'"
                )
            return target_id, 0, None
        port = int(target.get("Port") or tg["Port"])
        if not 1 <= port <= 65535:
            raise errors.ValidationError(
                f"Port '{port}' is not valid: it must be between 1 and 65535"
            )
        az = target.get("AvailabilityZone")
        if kind == "ip":
            try:
                ipaddress.IPv4Address(target_id)
            except ValueError:
                raise errors.InvalidTargetException(
                    f"The IP address '{target_id}' is not a valid IPv4 address"
                ) from None
            return target_id, port, az
        try:
            found = self._ec2(ctx, "DescribeInstances", {"InstanceIds": [target_id]})
        except ServiceError:
            raise errors.InvalidTargetException(
                f"The following targets are not valid instances: '{target_id}'"
            ) from None
        instances = [i for r in found["Reservations"] for i in r["Instances"]]
        # Auto Scaling registers its instances as they launch: pending ones are accepted.
        if not instances or instances[0]["State"]["Name"] not in ("pending", "running"):
            raise errors.InvalidTargetException(
                "The following targets are not in a running state and cannot be registered: "
                f"'{target_id}'"
            )
        if instances[0].get("VpcId") != tg["VpcId"]:
            raise errors.InvalidTargetException(
                f"The following targets are not in the target group VPC '{tg['VpcId']}': "
                f"'{target_id}'"
            )
        return target_id, port, instances[0]["Placement"]["AvailabilityZone"]

    def _allow_lambda(self, ctx: RequestContext, function_arn: str, tg_arn: str) -> None:
        """AWS asks for a resource policy letting elasticloadbalancing invoke the function."""
        try:
            policy = self.env.providers.invoke(
                "lambda", "GetPolicy", {"FunctionName": function_arn}, ctx.account_id, ctx.region
            )
        except ServiceError:
            policy = {}
        if "elasticloadbalancing.amazonaws.com" not in (policy.get("Policy") or ""):
            raise errors.AccessDenied(
                "elasticloadbalancing principal does not have permission to invoke "
                f"{function_arn} from target group {tg_arn}"
            )

    def deregister_targets(self, ctx: RequestContext, req: Json) -> Json:
        tg = self._tg(req["TargetGroupArn"])
        delay = int(tg["Attributes"].get("deregistration_delay.timeout_seconds", "300"))
        now = clock.now()
        for target in req["Targets"]:
            port = 0 if tg["TargetType"] == "lambda" else int(target.get("Port") or tg["Port"])
            key = (tg["TargetGroupArn"], target["Id"], port)
            row = self.store.query_one(
                "SELECT state FROM elbv2_targets WHERE tg = ? AND id = ? AND port = ?", key
            )
            if row is None:
                raise errors.InvalidTargetException(
                    f"The following targets are not registered in target group: '{target['Id']}'"
                )
            if row["state"] == "draining":
                continue
            if not self._tg_users(tg["TargetGroupArn"]):
                self.store.execute(
                    "DELETE FROM elbv2_targets WHERE tg = ? AND id = ? AND port = ?", key
                )
                continue
            self.store.execute(
                "UPDATE elbv2_targets SET state = 'draining', reason = "
                "'Target.DeregistrationInProgress', description = ?, drain_until = ? "
                "WHERE tg = ? AND id = ? AND port = ?",
                (REASONS["Target.DeregistrationInProgress"], now + delay, *key),
            )
        self.plane.changed()
        return {}

    def describe_target_health(self, ctx: RequestContext, req: Json) -> Json:
        tg = self._tg(req["TargetGroupArn"])
        in_use = bool(self._tg_users(tg["TargetGroupArn"]))
        rows = self.store.query(
            "SELECT * FROM elbv2_targets WHERE tg = ? ORDER BY registered, id, port",
            (tg["TargetGroupArn"],),
        )
        asked = req.get("Targets")
        out: list[Json] = []
        if asked:
            for target in asked:
                port = 0 if tg["TargetType"] == "lambda" else int(target.get("Port") or tg["Port"])
                row = next((r for r in rows if r["id"] == target["Id"] and r["port"] == port), None)
                if row is None:
                    if tg["TargetType"] == "instance" and not target["Id"].startswith("i-"):
                        raise errors.InvalidTargetException(
                            f"The following targets are not valid instances: '{target['Id']}'"
                        )
                    out.append(
                        {
                            "Target": _target_out(tg, target["Id"], port, None),
                            "TargetHealth": {
                                "State": "unused",
                                "Reason": "Target.NotRegistered",
                                "Description": REASONS["Target.NotRegistered"],
                            },
                        }
                    )
                else:
                    out.append(self._health_out(tg, row, in_use))
        else:
            out = [self._health_out(tg, r, in_use) for r in rows]
        return {"TargetHealthDescriptions": out}

    @staticmethod
    def _health_out(tg: Json, row: Row, in_use: bool) -> Json:
        item: Json = {"Target": _target_out(tg, row["id"], row["port"], row["az"])}
        if tg["TargetType"] != "lambda":
            item["HealthCheckPort"] = (
                str(row["port"])
                if tg.get("HealthCheckPort", "traffic-port") == "traffic-port"
                else tg["HealthCheckPort"]
            )
        state, reason = row["state"], row["reason"]
        if state != "draining" and not in_use:
            state, reason = "unused", "Target.NotInUse"
        elif state != "draining" and not tg.get("HealthCheckEnabled", True):
            state, reason = "unavailable", "Target.HealthCheckDisabled"
        health: Json = {"State": state}
        if reason:
            health["Reason"] = reason
            health["Description"] = (
                row["description"]
                if reason == row["reason"] and row["description"]
                else REASONS.get(reason, "")
            )
        item["TargetHealth"] = health
        return item

    # -- listeners ------------------------------------------------------------------------

    def create_listener(self, ctx: RequestContext, req: Json) -> Json:
        lb = self._lb(ctx, req["LoadBalancerArn"])
        protocol, port = self._listener_protocol(lb, req)
        clash = [json.loads(r["doc"]) for r in self._scope(ctx, "listener", lb["LoadBalancerArn"])]
        for other in clash:
            if other["Port"] == port:
                if other["Protocol"] == protocol:
                    return {"Listeners": [_listener_out(other)]}
                raise errors.DuplicateListenerException(
                    "A listener already exists on this port for this load balancer"
                )
        default_actions = self._actions(lb, req["DefaultActions"])
        self._one_lb_per_group(lb["LoadBalancerArn"], default_actions)
        ident = secrets.token_hex(8)
        lb_path = lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
        listener_arn = arn(
            "elasticloadbalancing", ctx.region, ctx.account_id, f"listener/{lb_path}/{ident}"
        )
        doc: Json = {
            "ListenerArn": listener_arn,
            "LoadBalancerArn": lb["LoadBalancerArn"],
            "Port": port,
            "Protocol": protocol,
            "DefaultActions": default_actions,
        }
        self._tls(ctx, req, protocol, doc)
        self._set_tags(listener_arn, req.get("Tags") or [])
        self._put(ctx, "listener", listener_arn, str(port), lb["LoadBalancerArn"], doc)
        self._start_health_checks(default_actions)
        return {"Listeners": [_listener_out(doc)]}

    @staticmethod
    def _listener_protocol(lb: Json, req: Json) -> tuple[str, int]:
        protocol = req.get("Protocol") or ("HTTP" if lb["Type"] == "application" else "TCP")
        port = req.get("Port") or (80 if protocol in ("HTTP", "TCP") else 443)
        allowed = (
            defaults.HTTP_PROTOCOLS if lb["Type"] == "application" else defaults.NETWORK_PROTOCOLS
        )
        if protocol not in allowed:
            raise errors.UnsupportedProtocolException(
                f"Protocol '{protocol}' is not supported by '{lb['Type']}' load balancers"
            )
        if not 1 <= port <= 65535:
            raise errors.ValidationError(f"Port '{port}' must be between 1 and 65535")
        return protocol, port

    def _tls(self, ctx: RequestContext, req: Json, protocol: str, doc: Json) -> None:
        if protocol in ("HTTPS", "TLS"):
            certificates = req.get("Certificates") or doc.get("Certificates")
            if not certificates:
                raise errors.CertificateNotFoundException(
                    f"A certificate must be specified for {protocol} listeners"
                )
            if req.get("Certificates"):
                self._check_certificates(ctx, req["Certificates"])
            doc["Certificates"] = [{"CertificateArn": c["CertificateArn"]} for c in certificates]
            doc["SslPolicy"] = (
                req.get("SslPolicy") or doc.get("SslPolicy") or "ELBSecurityPolicy-2016-08"
            )
        else:
            doc.pop("Certificates", None)
            doc.pop("SslPolicy", None)

    def _actions(self, lb: Json, given: list[Json]) -> list[Json]:
        def target_group(tg_arn: str) -> Json:
            return self._tg(tg_arn)

        return checks.actions(given, lb["Type"], target_group)

    def _one_lb_per_group(self, lb_arn: str, actions: list[Json]) -> None:
        for tg_arn in checks.target_group_arns(actions):
            others = [a for a in self._tg_users(tg_arn) if a != lb_arn]
            if others:
                raise errors.TargetGroupAssociationLimitException(
                    "The following target groups cannot be associated with more than one "
                    f"load balancer: {tg_arn}"
                )

    def _start_health_checks(self, actions: list[Json]) -> None:
        """Targets of a group that just got its first user begin their initial checks now."""
        now = clock.now()
        for tg_arn in checks.target_group_arns(actions):
            self.store.execute(
                "UPDATE elbv2_targets SET due = ? WHERE tg = ? AND state != 'draining' AND ok = 0 "
                "AND fail = 0",
                (now, tg_arn),
            )
        self.env.scheduler.poke()

    def describe_listeners(self, ctx: RequestContext, req: Json) -> Json:
        lb_arn, arns = req.get("LoadBalancerArn"), req.get("ListenerArns")
        if not lb_arn and not arns:
            raise errors.ValidationError(
                "You must specify either listener ARNs or a load balancer ARN"
            )
        if lb_arn:
            self._lb(ctx, lb_arn)
            docs = [json.loads(r["doc"]) for r in self._scope(ctx, "listener", lb_arn)]
            docs.sort(key=lambda d: d["Port"])
        else:
            docs = [self._listener(a) for a in dict.fromkeys(arns or [])]
        page, marker = self._page(docs, req)
        out: Json = {"Listeners": [_listener_out(d) for d in page]}
        if marker:
            out["NextMarker"] = marker
        return out

    def modify_listener(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._listener(req["ListenerArn"])
        lb = self._lb(ctx, doc["LoadBalancerArn"])
        merged = {
            "Protocol": req.get("Protocol") or doc["Protocol"],
            "Port": req.get("Port") or doc["Port"],
        }
        protocol, port = self._listener_protocol(lb, merged)
        if port != doc["Port"]:
            for other in self._scope(ctx, "listener", lb["LoadBalancerArn"]):
                if json.loads(other["doc"])["Port"] == port:
                    raise errors.DuplicateListenerException(
                        "A listener already exists on this port for this load balancer"
                    )
        doc["Protocol"], doc["Port"] = protocol, port
        if "DefaultActions" in req:
            doc["DefaultActions"] = self._actions(lb, req["DefaultActions"])
            self._one_lb_per_group(lb["LoadBalancerArn"], doc["DefaultActions"])
            self._start_health_checks(doc["DefaultActions"])
        self._tls(ctx, req, protocol, doc)
        self._update(doc["ListenerArn"], doc)
        self.store.execute(
            "UPDATE elbv2_items SET name = ? WHERE arn = ?", (str(port), doc["ListenerArn"])
        )
        return {"Listeners": [_listener_out(doc)]}

    def delete_listener(self, ctx: RequestContext, req: Json) -> Json:
        self._listener(req["ListenerArn"])
        self._drop_listener(req["ListenerArn"])
        return {}

    def _drop_listener(self, listener_arn: str) -> None:
        for rule in self.store.query(
            "SELECT arn FROM elbv2_items WHERE kind = 'rule' AND parent = ?", (listener_arn,)
        ):
            self._delete(rule["arn"])
        self._delete(listener_arn)

    # -- rules ----------------------------------------------------------------------------

    def create_rule(self, ctx: RequestContext, req: Json) -> Json:
        listener = self._listener(req["ListenerArn"])
        lb = self._lb(ctx, listener["LoadBalancerArn"])
        if lb["Type"] != "application":
            raise errors.ValidationError("Rules are only supported by Application Load Balancers")
        priority = req["Priority"]
        if not 1 <= priority <= 50000:
            raise errors.ValidationError("Priority must be between 1 and 50000")
        rules = self._scope(ctx, "rule", listener["ListenerArn"])
        if any(json.loads(r["doc"])["Priority"] == str(priority) for r in rules):
            raise errors.PriorityInUseException(f"Priority '{priority}' is currently in use")
        if len(rules) >= 100:
            raise errors.TooManyRulesException(
                "The maximum number of rules per listener has been reached"
            )
        conditions = checks.conditions(req["Conditions"])
        actions = self._actions(lb, req["Actions"])
        self._one_lb_per_group(lb["LoadBalancerArn"], actions)
        listener_path = listener["ListenerArn"].split(":listener/", 1)[1]
        rule_arn = arn(
            "elasticloadbalancing",
            ctx.region,
            ctx.account_id,
            f"listener-rule/{listener_path}/{secrets.token_hex(8)}",
        )
        doc: Json = {
            "RuleArn": rule_arn,
            "Priority": str(priority),
            "Conditions": conditions,
            "Actions": actions,
            "IsDefault": False,
            "_lb": lb["LoadBalancerArn"],
        }
        self._set_tags(rule_arn, req.get("Tags") or [])
        self._put(ctx, "rule", rule_arn, str(priority), listener["ListenerArn"], doc)
        self._start_health_checks(actions)
        return {"Rules": [_rule_out(doc)]}

    def _default_rule(self, listener: Json) -> Json:
        return {
            "RuleArn": listener["ListenerArn"].replace(":listener/", ":listener-rule/", 1)
            + "/default",
            "Priority": "default",
            "Conditions": [],
            "Actions": listener["DefaultActions"],
            "IsDefault": True,
        }

    def describe_rules(self, ctx: RequestContext, req: Json) -> Json:
        listener_arn, arns = req.get("ListenerArn"), req.get("RuleArns")
        if not listener_arn and not arns:
            raise errors.ValidationError("You must specify either listener ARN or rule ARNs")
        if listener_arn:
            listener = self._listener(listener_arn)
            docs = [json.loads(r["doc"]) for r in self._scope(ctx, "rule", listener_arn)]
            docs.sort(key=lambda d: int(d["Priority"]))
            docs.append(self._default_rule(listener))
        else:
            docs = [self._any_rule(a) for a in dict.fromkeys(arns or [])]
        page, marker = self._page(docs, req)
        out: Json = {"Rules": [_rule_out(d) for d in page]}
        if marker:
            out["NextMarker"] = marker
        return out

    def _any_rule(self, rule_arn: str) -> Json:
        if rule_arn.endswith("/default"):
            listener_arn = rule_arn[: -len("/default")].replace(":listener-rule/", ":listener/", 1)
            row = self._get("listener", listener_arn)
            if row is not None:
                return self._default_rule(json.loads(row["doc"]))
        return self._rule(rule_arn)

    def modify_rule(self, ctx: RequestContext, req: Json) -> Json:
        rule_arn = req["RuleArn"]
        doc = self._any_rule(rule_arn)
        if doc["IsDefault"]:
            if "Conditions" in req:
                raise errors.OperationNotPermittedException(
                    "Conditions cannot be set on the default rule"
                )
            listener_arn = rule_arn[: -len("/default")].replace(":listener-rule/", ":listener/", 1)
            return {
                "Rules": [
                    _rule_out(
                        self._default_rule(
                            self.modify_listener(
                                ctx,
                                {
                                    "ListenerArn": listener_arn,
                                    "DefaultActions": req.get("Actions") or doc["Actions"],
                                },
                            )["Listeners"][0]
                        )
                    )
                ]
            }
        lb = self._lb(ctx, doc["_lb"])
        if "Conditions" in req:
            doc["Conditions"] = checks.conditions(req["Conditions"])
        if "Actions" in req:
            doc["Actions"] = self._actions(lb, req["Actions"])
            self._one_lb_per_group(lb["LoadBalancerArn"], doc["Actions"])
            self._start_health_checks(doc["Actions"])
        self._update(rule_arn, doc)
        return {"Rules": [_rule_out(doc)]}

    def delete_rule(self, ctx: RequestContext, req: Json) -> Json:
        rule_arn = req["RuleArn"]
        if rule_arn.endswith("/default") and self._get("rule", rule_arn) is None:
            self._any_rule(rule_arn)
            raise errors.OperationNotPermittedException("Default rule cannot be deleted")
        self._rule(rule_arn)
        self._delete(rule_arn)
        return {}

    def set_rule_priorities(self, ctx: RequestContext, req: Json) -> Json:
        changed: list[Json] = []
        wanted: dict[str, int] = {}
        for item in req["RulePriorities"]:
            doc = self._any_rule(item["RuleArn"])
            if doc["IsDefault"]:
                raise errors.OperationNotPermittedException(
                    "Default rule priority cannot be modified"
                )
            if not 1 <= item["Priority"] <= 50000:
                raise errors.ValidationError("Priority must be between 1 and 50000")
            wanted[item["RuleArn"]] = item["Priority"]
            changed.append(doc)
        if len(set(wanted.values())) != len(wanted):
            raise errors.PriorityInUseException("Priorities in the request must be unique")
        for doc in changed:
            listener_arn = self.store.scalar(
                "SELECT parent FROM elbv2_items WHERE arn = ?", (doc["RuleArn"],)
            )
            for row in self._scope(ctx, "rule", listener_arn):
                other = json.loads(row["doc"])
                if other["RuleArn"] not in wanted and other["Priority"] == str(
                    wanted[doc["RuleArn"]]
                ):
                    raise errors.PriorityInUseException(
                        f"Priority '{wanted[doc['RuleArn']]}' is currently in use"
                    )
        for doc in changed:
            doc["Priority"] = str(wanted[doc["RuleArn"]])
            self._update(doc["RuleArn"], doc)
            self.store.execute(
                "UPDATE elbv2_items SET name = ? WHERE arn = ?", (doc["Priority"], doc["RuleArn"])
            )
        return {"Rules": [_rule_out(d) for d in changed]}

    # -- tags -----------------------------------------------------------------------------

    def _set_tags(self, resource_arn: str, tags: list[Json]) -> None:
        keys = [t["Key"] for t in tags]
        if len(keys) != len(set(keys)):
            raise errors.DuplicateTagKeysException("Tag keys must be unique")
        self.env.tags.add(
            resource_arn,
            from_list(tags),
            errors.ValidationError,
            too_many=errors.TooManyTagsException(
                "The quota for the number of tags has been reached"
            ),
        )

    def _any(self, resource_arn: str) -> None:
        row = self.store.query_one("SELECT kind FROM elbv2_items WHERE arn = ?", (resource_arn,))
        if row is not None:
            return
        if ":loadbalancer/" in resource_arn:
            raise errors.LoadBalancerNotFoundException(f"Load balancer '{resource_arn}' not found")
        if ":targetgroup/" in resource_arn:
            raise errors.TargetGroupNotFoundException(f"Target groups '{resource_arn}' not found")
        if ":listener/" in resource_arn:
            raise errors.ListenerNotFoundException(f"Listener '{resource_arn}' not found")
        if ":listener-rule/" in resource_arn:
            raise errors.RuleNotFoundException(f"Rule '{resource_arn}' not found")
        raise errors.ValidationError(f"'{resource_arn}' is not a valid resource ARN")

    def add_tags(self, ctx: RequestContext, req: Json) -> Json:
        for resource_arn in req["ResourceArns"]:
            self._any(resource_arn)
            self._set_tags(resource_arn, req["Tags"])
        return {}

    def remove_tags(self, ctx: RequestContext, req: Json) -> Json:
        for resource_arn in req["ResourceArns"]:
            self._any(resource_arn)
            self.env.tags.remove(resource_arn, req["TagKeys"])
        return {}

    def describe_tags(self, ctx: RequestContext, req: Json) -> Json:
        out = []
        for resource_arn in req["ResourceArns"]:
            self._any(resource_arn)
            tags = self.env.tags.get(resource_arn)
            out.append(
                {
                    "ResourceArn": resource_arn,
                    "Tags": to_list(tags),
                }
            )
        return {"TagDescriptions": out}

    # -- limits and policies --------------------------------------------------------------

    def describe_account_limits(self, ctx: RequestContext, req: Json) -> Json:
        limits = {
            "application-load-balancers": 50,
            "network-load-balancers": 50,
            "target-groups": 3000,
            "targets-per-application-load-balancer": 1000,
            "listeners-per-application-load-balancer": 50,
            "listeners-per-network-load-balancer": 50,
            "rules-per-application-load-balancer": 100,
            "certificates-per-application-load-balancer": 25,
            "targets-per-network-load-balancer": 3000,
            "target-groups-per-application-load-balancer": 100,
        }
        return {"Limits": [{"Name": k, "Max": str(v)} for k, v in limits.items()]}

    def describe_ssl_policies(self, ctx: RequestContext, req: Json) -> Json:
        names = req.get("Names") or [
            "ELBSecurityPolicy-2016-08",
            "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "ELBSecurityPolicy-TLS-1-2-2017-01",
        ]
        policies = []
        for name in names:
            if not name.startswith("ELBSecurityPolicy-"):
                raise errors.SSLPolicyNotFoundException(f"SSL policy '{name}' not found")
            tls13 = "TLS13" in name
            protocols = ["TLSv1.2", "TLSv1.3"] if tls13 else ["TLSv1.2"]
            if name == "ELBSecurityPolicy-2016-08":
                protocols = ["TLSv1", "TLSv1.1", "TLSv1.2"]
            policies.append(
                {
                    "Name": name,
                    "SslProtocols": protocols,
                    "Ciphers": [{"Name": "ECDHE-RSA-AES128-GCM-SHA256", "Priority": 1}],
                    "SupportedLoadBalancerTypes": ["application", "network"],
                }
            )
        return {"SslPolicies": policies}

    # -- certificates ---------------------------------------------------------------------

    def _check_certificates(self, ctx: RequestContext, certificates: list[Json]) -> None:
        for item in certificates:
            certificate_arn = item.get("CertificateArn", "")
            if not listener_certificates.usable(self.env, ctx, certificate_arn):
                raise errors.CertificateNotFoundException(
                    f"Certificate '{certificate_arn}' not found"
                )

    def certificate_users(self, certificate_arn: str) -> list[str]:
        """The load balancers whose listeners serve the certificate (ACM's InUseBy)."""
        rows = self.store.query(
            "SELECT doc FROM elbv2_items WHERE kind = 'listener' AND instr(doc, ?) > 0",
            (certificate_arn,),
        )
        found: list[str] = []
        for row in rows:
            doc = json.loads(row["doc"])
            arns = [c["CertificateArn"] for c in doc.get("Certificates") or []]
            arns += doc.get("_extra_certificates", [])
            if certificate_arn in arns and doc["LoadBalancerArn"] not in found:
                found.append(doc["LoadBalancerArn"])
        return found

    def add_listener_certificates(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._listener(req["ListenerArn"])
        if doc["Protocol"] not in ("HTTPS", "TLS"):
            raise errors.ValidationError("Certificates can only be added to HTTPS or TLS listeners")
        self._check_certificates(ctx, req["Certificates"])
        extra = doc.setdefault("_extra_certificates", [])
        for item in req["Certificates"]:
            if item["CertificateArn"] not in extra:
                extra.append(item["CertificateArn"])
        self._update(doc["ListenerArn"], doc)
        return {"Certificates": [{"CertificateArn": a, "IsDefault": False} for a in extra]}

    def remove_listener_certificates(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._listener(req["ListenerArn"])
        extra = doc.get("_extra_certificates", [])
        for item in req["Certificates"]:
            if item["CertificateArn"] in [
                c["CertificateArn"] for c in doc.get("Certificates") or []
            ]:
                raise errors.OperationNotPermittedException(
                    "The default certificate cannot be removed from a listener"
                )
            if item["CertificateArn"] in extra:
                extra.remove(item["CertificateArn"])
        self._update(doc["ListenerArn"], doc)
        return {}

    def describe_listener_certificates(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._listener(req["ListenerArn"])
        out = [
            {"CertificateArn": c["CertificateArn"], "IsDefault": True}
            for c in doc.get("Certificates") or []
        ]
        out += [
            {"CertificateArn": a, "IsDefault": False} for a in doc.get("_extra_certificates", [])
        ]
        return {"Certificates": out}

    # -- health (the proxy runtime's side) ------------------------------------------------

    def _snapshot(self) -> config.Snapshot:
        """The records as the data plane sees them (read after each change)."""
        snapshot = config.Snapshot()
        groups: dict[str, config.TargetGroup] = {}
        for row in self.store.query("SELECT * FROM elbv2_items WHERE kind = 'tg'"):
            doc = json.loads(row["doc"])
            groups[doc["TargetGroupArn"]] = config.TargetGroup(
                arn=doc["TargetGroupArn"],
                name=doc["TargetGroupName"],
                target_type=doc["TargetType"],
                protocol=doc.get("Protocol") or "",
                port=doc.get("Port") or 0,
                health=doc,
                attributes=doc["Attributes"],
                account=row["account"],
                region=row["region"],
            )
        for row in self.store.query("SELECT * FROM elbv2_targets ORDER BY registered, id, port"):
            group = groups.get(row["tg"])
            if group is not None:
                group.targets.append(
                    config.Target(
                        row["id"],
                        row["port"],
                        row["state"],
                        row["az"] or "",
                        row["healthy_since"],
                    )
                )
        snapshot.groups = groups
        listeners: dict[str, list[Json]] = {}
        rules: dict[str, list[Json]] = {}
        for row in self.store.query("SELECT * FROM elbv2_items WHERE kind IN ('listener', 'rule')"):
            target = listeners if row["kind"] == "listener" else rules
            target.setdefault(row["parent"], []).append(json.loads(row["doc"]))
        for row in self._all_lbs():
            doc = json.loads(row["doc"])
            lb = config.LoadBalancer(
                arn=doc["LoadBalancerArn"],
                name=doc["LoadBalancerName"],
                dns=doc["DNSName"].lower(),
                address=doc["Address"],
                type=doc["Type"],
                attributes=doc["Attributes"],
                security_groups=doc.get("SecurityGroups") or [],
                account=row["account"],
                region=row["region"],
                interfaces={z: i["Ip"] for z, i in doc.get("Interfaces", {}).items()},
            )
            for ldoc in listeners.get(lb.arn, []):
                ordered = sorted(
                    rules.get(ldoc["ListenerArn"], []), key=lambda d: int(d["Priority"])
                )
                lb.listeners[ldoc["Port"]] = config.Listener(
                    arn=ldoc["ListenerArn"],
                    port=ldoc["Port"],
                    protocol=ldoc["Protocol"],
                    rules=[
                        config.Rule(d["RuleArn"], d["Conditions"], d["Actions"]) for d in ordered
                    ]
                    + [config.Rule(ldoc["ListenerArn"], [], ldoc["DefaultActions"])],
                    certificates=[c["CertificateArn"] for c in ldoc.get("Certificates") or []]
                    + ldoc.get("_extra_certificates", []),
                )
            snapshot.balancers[lb.arn] = lb
        return snapshot

    def _tick(self) -> None:
        """Ends drains that are over and starts the health checks that fell due."""
        now = clock.now()
        draining = self.store.query(
            "SELECT tg, id, port, drain_until FROM elbv2_targets WHERE state = 'draining'"
        )
        ended = False
        for row in draining:
            if row["drain_until"] <= now or not self.plane.in_flight(
                row["tg"], row["id"], row["port"]
            ):
                self.store.execute(
                    "DELETE FROM elbv2_targets WHERE tg = ? AND id = ? AND port = ?",
                    (row["tg"], row["id"], row["port"]),
                )
                ended = True
        if ended:
            self.plane.changed()
        due = self.store.query(
            "SELECT tg, id, port FROM elbv2_targets WHERE state != 'draining' AND due <= ?",
            (now,),
        )
        for row in due:
            key = (row["tg"], row["id"], row["port"])
            if key in self._probing:
                continue
            tg_row = self._get("tg", row["tg"])
            if tg_row is None or not json.loads(tg_row["doc"]).get("HealthCheckEnabled", True):
                continue
            if self._tg_users(row["tg"]):
                self._probe(key)

    async def _probe_until_current(self, key: tuple[str, str, int]) -> None:
        """Probe the target once for each interval that fell due (the clock may have jumped
        over several), applying each outcome to the thresholds in turn."""
        while True:
            with self.store.transaction():
                tg_row = self._get("tg", key[0])
                row = self.store.query_one(
                    "SELECT * FROM elbv2_targets WHERE tg = ? AND id = ? AND port = ?", key
                )
            if (
                tg_row is None
                or row is None
                or row["state"] == "draining"
                or row["due"] > clock.now()
            ):
                return
            tg = json.loads(tg_row["doc"])
            if tg["TargetType"] == "instance" and not self._instance_checkable(
                tg_row["account"], tg_row["region"], key, tg
            ):
                continue
            outcome = await self.plane.probe(
                self._snapshot_group(tg),
                config.Target(key[1], key[2], row["state"], row["az"] or ""),
            )
            self._health_outcome(key, tg, outcome)

    def _instance_checkable(
        self, account: str, region: str, key: tuple[str, str, int], tg: Json
    ) -> bool:
        """Whether the instance runs, so that a health check means something. A terminated
        instance is deregistered, as AWS does; a stopped one is ``unused`` with
        ``Target.InvalidState``; a pending one waits (no check counted) until it runs."""
        try:
            found = self.env.providers.invoke(
                "ec2", "DescribeInstances", {"InstanceIds": [key[1]]}, account, region
            )
            instances = [i for r in found["Reservations"] for i in r["Instances"]]
            state = instances[0]["State"]["Name"] if instances else "terminated"
        except ServiceError:
            state = "terminated"
        if state == "running":
            with self.store.transaction():
                self.store.execute(
                    "UPDATE elbv2_targets SET state = 'initial', reason = "
                    "'Elb.InitialHealthChecking', description = ?, ok = 0, fail = 0 "
                    "WHERE tg = ? AND id = ? AND port = ? AND state = 'unused'",
                    (REASONS["Elb.InitialHealthChecking"], *key),
                )
            return True
        interval = tg.get("HealthCheckIntervalSeconds", 30)
        with self.store.transaction():
            if state in ("terminated", "shutting-down"):
                self.store.execute(
                    "DELETE FROM elbv2_targets WHERE tg = ? AND id = ? AND port = ?", key
                )
            elif state == "pending":
                self.store.execute(
                    "UPDATE elbv2_targets SET due = ? WHERE tg = ? AND id = ? AND port = ?",
                    (clock.now() + interval, *key),
                )
            else:
                self.store.execute(
                    "UPDATE elbv2_targets SET state = 'unused', reason = 'Target.InvalidState', "
                    "description = ?, ok = 0, fail = 0, due = ? "
                    "WHERE tg = ? AND id = ? AND port = ?",
                    (f"Target is in the {state} state", clock.now() + interval, *key),
                )
        self.plane.changed()
        return False

    def _snapshot_group(self, tg: Json) -> config.TargetGroup:
        row = self._get("tg", tg["TargetGroupArn"])
        assert row is not None
        return config.TargetGroup(
            arn=tg["TargetGroupArn"],
            name=tg["TargetGroupName"],
            target_type=tg["TargetType"],
            protocol=tg.get("Protocol") or "",
            port=tg.get("Port") or 0,
            health=tg,
            attributes=tg["Attributes"],
            account=row["account"],
            region=row["region"],
        )

    def _health_outcome(self, key: tuple[str, str, int], tg: Json, outcome: config.Outcome) -> None:
        with self.store.transaction():
            row = self.store.query_one(
                "SELECT * FROM elbv2_targets WHERE tg = ? AND id = ? AND port = ?", key
            )
            if row is None or row["state"] == "draining":
                return
            interval = tg.get("HealthCheckIntervalSeconds", 30)
            # A clock moved far ahead (or a long stop) replays at most a few intervals.
            due = max(row["due"] + interval, clock.now() - interval * CATCH_UP)
            ok, fail = (row["ok"] + 1, 0) if outcome.healthy else (0, row["fail"] + 1)
            state, reason, description = row["state"], row["reason"], row["description"]
            if outcome.healthy and ok >= tg.get("HealthyThresholdCount", 5):
                state, reason, description = "healthy", None, None
            elif not outcome.healthy and fail >= tg.get("UnhealthyThresholdCount", 2):
                state, reason, description = "unhealthy", outcome.reason, outcome.description
            elif state == "initial":
                reason, description = (
                    "Elb.InitialHealthChecking",
                    REASONS["Elb.InitialHealthChecking"],
                )
            self.store.execute(
                "UPDATE elbv2_targets SET ok = ?, fail = ?, state = ?, reason = ?, "
                "description = ?, due = ? WHERE tg = ? AND id = ? AND port = ?",
                (ok, fail, state, reason, description, due, *key),
            )
            if state == "healthy" and row["state"] != "healthy":
                # Slow start counts from here, when other targets were already healthy.
                others = self.store.scalar(
                    "SELECT count(*) FROM elbv2_targets WHERE tg = ? AND state = 'healthy' "
                    "AND NOT (id = ? AND port = ?)",
                    key,
                )
                self.store.execute(
                    "UPDATE elbv2_targets SET healthy_since = ? WHERE tg = ? AND id = ? "
                    "AND port = ?",
                    (clock.now() if others else None, *key),
                )
        if state != row["state"]:
            self.plane.changed()


def _target_out(tg: Json, target_id: str, port: int, az: str | None) -> Json:
    out: Json = {"Id": target_id}
    if tg["TargetType"] != "lambda":
        out["Port"] = port
    if az:
        out["AvailabilityZone"] = az
    return out


def _listener_out(doc: Json) -> Json:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def _rule_out(doc: Json) -> Json:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def _attributes_out(attributes: dict[str, str]) -> list[Json]:
    return [{"Key": k, "Value": v} for k, v in sorted(attributes.items())]


_BOOLEAN_SUFFIX = ".enabled"
_SECONDS = {
    "idle_timeout.timeout_seconds": (1, 4000),
    "deregistration_delay.timeout_seconds": (0, 3600),
    "stickiness.lb_cookie.duration_seconds": (1, 604800),
    "stickiness.app_cookie.duration_seconds": (1, 604800),
    "slow_start.duration_seconds": (0, 900),
    "client_keep_alive.seconds": (60, 604800),
}
_CHOICES = {
    "load_balancing.algorithm.type": (
        "round_robin",
        "least_outstanding_requests",
        "weighted_random",
    ),
    "stickiness.type": ("lb_cookie", "app_cookie", "source_ip"),
    "routing.http.xff_header_processing.mode": ("append", "preserve", "remove"),
    "routing.http.desync_mitigation_mode": ("monitor", "defensive", "strictest"),
}


def _check_attribute(key: str, value: str) -> None:
    if key.endswith(_BOOLEAN_SUFFIX) and key != "load_balancing.cross_zone.enabled":
        if value not in ("true", "false"):
            raise errors.InvalidConfigurationRequestException(
                f"The value of '{key}' must be 'true' or 'false'"
            )
    elif key in _SECONDS:
        low, high = _SECONDS[key]
        if not value.isdigit() or not low <= int(value) <= high:
            raise errors.InvalidConfigurationRequestException(
                f"The value of '{key}' must be an integer between {low} and {high}"
            )
    elif key in _CHOICES and value not in _CHOICES[key]:
        raise errors.InvalidConfigurationRequestException(
            f"The value of '{key}' must be one of {', '.join(_CHOICES[key])}"
        )
    if key == "stickiness.app_cookie.cookie_name" and value.lower().startswith(
        ("awsalb", "awsalbapp", "awsalbtg")
    ):
        raise errors.InvalidConfigurationRequestException(
            "App cookie names cannot start with 'AWSALB'"
        )


def _check_health(target_type: str, protocol: str | None, health: Json) -> None:
    if not health.get("HealthCheckEnabled", True) and target_type != "lambda":
        raise errors.InvalidConfigurationRequestException(
            f"Health checks cannot be disabled for target groups with target type '{target_type}'"
        )
    interval = health.get("HealthCheckIntervalSeconds", 30)
    timeout = health.get("HealthCheckTimeoutSeconds", 5)
    if not 5 <= interval <= 300:
        raise errors.ValidationError("Health check interval must be between 5 and 300 seconds")
    if not 2 <= timeout <= 120:
        raise errors.ValidationError("Health check timeout must be between 2 and 120 seconds")
    if timeout >= interval:
        raise errors.ValidationError("Health check interval must be greater than the timeout.")
    for key in ("HealthyThresholdCount", "UnhealthyThresholdCount"):
        if not 2 <= health.get(key, 2) <= 10:
            raise errors.ValidationError(f"{key} must be between 2 and 10")
    port = health.get("HealthCheckPort", "traffic-port")
    if port != "traffic-port" and not (str(port).isdigit() and 1 <= int(port) <= 65535):
        raise errors.ValidationError(
            "Health check port must be 'traffic-port' or between 1 and 65535"
        )
    hc_protocol = health.get("HealthCheckProtocol")
    if (
        hc_protocol
        and protocol in defaults.HTTP_PROTOCOLS
        and hc_protocol not in defaults.HTTP_PROTOCOLS
    ):
        raise errors.ValidationError(
            f"Health check protocol '{hc_protocol}' is not supported for target groups with the "
            f"'{protocol}' protocol"
        )
    path = health.get("HealthCheckPath")
    if path is not None and not path.startswith("/"):
        raise errors.ValidationError("Health check path must begin with a '/' character")
    codes = (health.get("Matcher") or {}).get("HttpCode")
    if codes is not None and not re.fullmatch(r"\d{3}(?:-\d{3})?(?:,\d{3}(?:-\d{3})?)*", codes):
        raise errors.ValidationError(f"Health check matcher HTTP code '{codes}' is not valid")
