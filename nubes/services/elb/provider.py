"""Classic Elastic Load Balancing: load balancers with listeners, registered instances, one
health check, attributes and tags. Traffic goes through the same data plane as ELBv2
(``nubes/runtime/proxy``): each listener forwards to the registered instances that are
InService on its instance port."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import secrets
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, paginate
from nubes.core.tags import from_list, to_list
from nubes.protocol.base import ServiceError
from nubes.runtime.proxy import config
from nubes.services.elb.errors import errors
from nubes.services.elbv2 import certificates as listener_certificates
from nubes.services.elbv2.balancing import DNS_SUFFIX, BalancingProvider
from nubes.services.elbv2.defaults import hosted_zone

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]

MIGRATIONS = (
    """
    CREATE TABLE elb_balancers (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE TABLE elb_instances (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        lb TEXT NOT NULL,
        instance TEXT NOT NULL,
        az TEXT NOT NULL,
        registered REAL NOT NULL,
        state TEXT NOT NULL,
        reason TEXT NOT NULL,
        description TEXT NOT NULL,
        ok INTEGER NOT NULL DEFAULT 0,
        fail INTEGER NOT NULL DEFAULT 0,
        due REAL NOT NULL,
        PRIMARY KEY (account, region, lb, instance)
    ) WITHOUT ROWID;
    """,
)

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
_TARGET = re.compile(r"^(HTTP|HTTPS|TCP|SSL):(\d{1,5})(/.*)?$")
ADDRESS_POOL = int(ipaddress.IPv4Address("127.14.0.1"))
"""Classic load balancers listen on 127.14.0.0/16 (ELBv2 on 127.15, instances from 127.16)."""
ADDRESS_POOL_SIZE = 65_534
CATCH_UP = 12
PROTOCOLS = ("HTTP", "HTTPS", "TCP", "SSL")
ATTRIBUTES = {
    "CrossZoneLoadBalancing": {"Enabled": False},
    "AccessLog": {"Enabled": False},
    "ConnectionDraining": {"Enabled": False, "Timeout": 300},
    "ConnectionSettings": {"IdleTimeout": 60},
}
REGISTERING = ("OutOfService", "ELB", "Instance registration is still in progress.")
FAILED = (
    "OutOfService",
    "Instance",
    "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.",
)
IN_SERVICE = ("InService", "N/A", "N/A")


class ElbProvider(BalancingProvider[tuple[str, str, str, str]]):
    service = "elb"
    migrations = MIGRATIONS
    tick_name = "elb-instances"

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        return cls.has_rows(env, "SELECT 1 FROM elb_balancers LIMIT 1")

    # -- records --------------------------------------------------------------------------

    def _get(self, ctx: RequestContext, name: str) -> Json:
        row = self.store.query_one(
            "SELECT doc FROM elb_balancers WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, name),
        )
        if row is None:
            raise errors.AccessPointNotFoundException(
                f"There is no ACTIVE Load Balancer named '{name}'"
            )
        doc: Json = json.loads(row["doc"])
        return doc

    def _save(self, ctx: RequestContext, doc: Json) -> None:
        self.store.execute(
            "INSERT INTO elb_balancers (account, region, name, created, doc) VALUES "
            "(?, ?, ?, ?, ?) ON CONFLICT(account, region, name) DO UPDATE SET doc = excluded.doc",
            (
                ctx.account_id,
                ctx.region,
                doc["LoadBalancerName"],
                doc["CreatedTime"],
                json.dumps(doc),
            ),
        )
        self.plane.changed()

    # -- load balancers -------------------------------------------------------------------

    def create_load_balancer(self, ctx: RequestContext, req: Json) -> Json:
        name = req["LoadBalancerName"]
        if not _NAME.match(name):
            raise errors.ValidationError(
                "LoadBalancerName must contain only alphanumeric characters or hyphens, be at "
                "most 32 characters long and not begin or end with a hyphen"
            )
        scheme = req.get("Scheme") or "internet-facing"
        if scheme not in ("internet-facing", "internal"):
            raise errors.InvalidSchemeException(f"Invalid scheme: {scheme}")
        subnets = self._subnets(ctx, req)
        vpc = subnets[0]["VpcId"]
        if any(s["VpcId"] != vpc for s in subnets):
            raise errors.InvalidSubnetException("All subnets must belong to the same VPC")
        listeners = [self._listener(ctx, item) for item in req["Listeners"]]
        _unique_ports(listeners)
        existing = self.store.query_one(
            "SELECT doc FROM elb_balancers WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, name),
        )
        if existing is not None:
            doc = json.loads(existing["doc"])
            if [d["Listener"] for d in doc["ListenerDescriptions"]] != listeners:
                raise errors.DuplicateAccessPointNameException(
                    f"Load Balancer named '{name}' already exists and it is configured with "
                    "different parameters."
                )
            return {"DNSName": doc["DNSName"]}
        groups = req.get("SecurityGroups")
        if groups:
            try:
                found = self._ec2(ctx, "DescribeSecurityGroups", {"GroupIds": groups})
            except ServiceError:
                found = {"SecurityGroups": []}
            if len(found["SecurityGroups"]) != len(set(groups)):
                raise errors.InvalidSecurityGroupException(
                    "One or more security groups are invalid"
                )
        else:
            groups = [
                g["GroupId"]
                for g in self._ec2(
                    ctx,
                    "DescribeSecurityGroups",
                    {
                        "Filters": [
                            {"Name": "vpc-id", "Values": [vpc]},
                            {"Name": "group-name", "Values": ["default"]},
                        ]
                    },
                )["SecurityGroups"][:1]
            ]
        host = f"{name}-{secrets.randbelow(10**10)}"
        if scheme == "internal":
            host = "internal-" + host
        dns = f"{host}.{ctx.region}.{DNS_SUFFIX}"
        interfaces: Json = {}
        for subnet in subnets:
            params: Json = {"SubnetId": subnet["SubnetId"], "Description": f"ELB {name}"}
            if groups:
                params["Groups"] = groups
            eni = self._ec2(ctx, "CreateNetworkInterface", params)["NetworkInterface"]
            interfaces[subnet["AvailabilityZone"]] = {
                "Id": eni["NetworkInterfaceId"],
                "Ip": eni["PrivateIpAddress"],
            }
        doc = {
            "LoadBalancerName": name,
            "DNSName": dns,
            "CanonicalHostedZoneName": dns,
            "CanonicalHostedZoneNameID": hosted_zone(ctx.region, "classic"),
            "ListenerDescriptions": [{"Listener": item, "PolicyNames": []} for item in listeners],
            "Policies": {
                "AppCookieStickinessPolicies": [],
                "LBCookieStickinessPolicies": [],
                "OtherPolicies": [],
            },
            "BackendServerDescriptions": [],
            "AvailabilityZones": sorted(s["AvailabilityZone"] for s in subnets),
            "Subnets": sorted(s["SubnetId"] for s in subnets),
            "VPCId": vpc,
            "Instances": [],
            "HealthCheck": {
                "Target": f"TCP:{listeners[0]['InstancePort']}",
                "Interval": 30,
                "Timeout": 5,
                "UnhealthyThreshold": 2,
                "HealthyThreshold": 10,
            },
            "SourceSecurityGroup": {"OwnerAlias": ctx.account_id, "GroupName": "default"},
            "SecurityGroups": groups,
            "CreatedTime": clock.now(),
            "Scheme": scheme,
            "_attributes": json.loads(json.dumps(ATTRIBUTES)),
            "_address": self._address(),
            "_interfaces": interfaces,
        }
        self._set_tags(self._arn(ctx, name), req.get("Tags") or [])
        self._save(ctx, doc)
        return {"DNSName": dns}

    def _subnets(self, ctx: RequestContext, req: Json) -> list[Json]:
        ids = req.get("Subnets") or []
        zones = req.get("AvailabilityZones") or []
        if not ids and not zones:
            raise errors.ValidationError("Either AvailabilityZones or Subnets must be specified")
        if ids:
            return self._named_subnets(ctx, ids, errors.SubnetNotFoundException)
        found = self._ec2(
            ctx,
            "DescribeSubnets",
            {
                "Filters": [
                    {"Name": "default-for-az", "Values": ["true"]},
                    {"Name": "availability-zone", "Values": zones},
                ]
            },
        )["Subnets"]
        if not found:
            raise errors.InvalidConfigurationRequestException(
                "No default subnets in the requested Availability Zones"
            )
        return list(found)

    def _listener(self, ctx: RequestContext, item: Json) -> Json:
        protocol = item["Protocol"].upper()
        instance_protocol = (item.get("InstanceProtocol") or protocol).upper()
        if protocol not in PROTOCOLS or instance_protocol not in PROTOCOLS:
            raise errors.UnsupportedProtocolException(
                f"Protocol {item['Protocol']} is not supported"
            )
        if (protocol in ("HTTP", "HTTPS")) != (instance_protocol in ("HTTP", "HTTPS")):
            raise errors.InvalidConfigurationRequestException(
                f"Instance protocol '{instance_protocol}' is not compatible with listener "
                f"protocol '{protocol}'"
            )
        for key in ("LoadBalancerPort", "InstancePort"):
            if not 1 <= item[key] <= 65535:
                raise errors.ValidationError(f"{key} must be between 1 and 65535")
        out: Json = {
            "Protocol": protocol,
            "LoadBalancerPort": item["LoadBalancerPort"],
            "InstanceProtocol": instance_protocol,
            "InstancePort": item["InstancePort"],
        }
        if protocol in ("HTTPS", "SSL"):
            certificate = item.get("SSLCertificateId")
            if not certificate:
                raise errors.CertificateNotFoundException(
                    "A certificate must be specified for HTTPS and SSL listeners"
                )
            if not listener_certificates.usable(self.env, ctx, certificate):
                raise errors.CertificateNotFoundException(
                    f"Server Certificate not found for the key: {certificate}"
                )
            out["SSLCertificateId"] = certificate
        return out

    def _address(self) -> str:
        used = {
            json.loads(r["doc"])["_address"]
            for r in self.store.query("SELECT doc FROM elb_balancers")
        }
        while True:
            candidate = str(
                ipaddress.IPv4Address(ADDRESS_POOL + secrets.randbelow(ADDRESS_POOL_SIZE))
            )
            if candidate not in used:
                return candidate

    @staticmethod
    def _arn(ctx: RequestContext, name: str) -> str:
        return arn("elasticloadbalancing", ctx.region, ctx.account_id, f"loadbalancer/{name}")

    @staticmethod
    def _out(doc: Json) -> Json:
        return {k: v for k, v in doc.items() if not k.startswith("_")}

    def describe_load_balancers(self, ctx: RequestContext, req: Json) -> Json:
        names = req.get("LoadBalancerNames")
        if names:
            docs = [self._get(ctx, n) for n in dict.fromkeys(names)]
        else:
            docs = [
                json.loads(r["doc"])
                for r in self.store.query(
                    "SELECT doc FROM elb_balancers WHERE account = ? AND region = ? ORDER BY name",
                    (ctx.account_id, ctx.region),
                )
            ]
        size = req.get("PageSize") or 400
        if not 1 <= size <= 400:
            raise errors.ValidationError("PageSize must be between 1 and 400")
        try:
            page, marker = paginate(
                docs, size, req.get("Marker"), key=lambda d: d["LoadBalancerName"]
            )
        except InvalidToken:
            raise errors.ValidationError("Invalid Marker") from None
        out: Json = {"LoadBalancerDescriptions": [self._out(d) for d in page]}
        if marker:
            out["NextMarker"] = marker
        return out

    def delete_load_balancer(self, ctx: RequestContext, req: Json) -> Json:
        name = req["LoadBalancerName"]
        row = self.store.query_one(
            "SELECT doc FROM elb_balancers WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, name),
        )
        if row is None:
            return {}
        doc = json.loads(row["doc"])
        key = (ctx.account_id, ctx.region, name)
        self.store.execute(
            "DELETE FROM elb_balancers WHERE account = ? AND region = ? AND name = ?", key
        )
        self.store.execute(
            "DELETE FROM elb_instances WHERE account = ? AND region = ? AND lb = ?", key
        )
        for eni in doc["_interfaces"].values():
            with contextlib.suppress(ServiceError):
                self._ec2(ctx, "DeleteNetworkInterface", {"NetworkInterfaceId": eni["Id"]})
        self.env.tags.drop(self._arn(ctx, name))
        self.plane.changed()
        return {}

    def create_load_balancer_listeners(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._get(ctx, req["LoadBalancerName"])
        current = [d["Listener"] for d in doc["ListenerDescriptions"]]
        for item in req["Listeners"]:
            listener = self._listener(ctx, item)
            same = next(
                (c for c in current if c["LoadBalancerPort"] == listener["LoadBalancerPort"]), None
            )
            if same == listener:
                continue
            if same is not None:
                raise errors.DuplicateListenerException(
                    "A listener already exists for " + doc["LoadBalancerName"] + " with "
                    f"LoadBalancerPort {listener['LoadBalancerPort']}, but with a different "
                    "InstancePort, Protocol, or SSLCertificateId"
                )
            current.append(listener)
        doc["ListenerDescriptions"] = [{"Listener": c, "PolicyNames": []} for c in current]
        self._save(ctx, doc)
        return {}

    def delete_load_balancer_listeners(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._get(ctx, req["LoadBalancerName"])
        ports = set(req["LoadBalancerPorts"])
        doc["ListenerDescriptions"] = [
            d for d in doc["ListenerDescriptions"] if d["Listener"]["LoadBalancerPort"] not in ports
        ]
        self._save(ctx, doc)
        return {}

    def configure_health_check(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._get(ctx, req["LoadBalancerName"])
        check = dict(req["HealthCheck"])
        found = _TARGET.match(check["Target"])
        if found is None or not 1 <= int(found.group(2)) <= 65535:
            raise errors.ValidationError(f"Invalid health check target: {check['Target']}")
        if found.group(1) in ("HTTP", "HTTPS") and not found.group(3):
            raise errors.ValidationError("An HTTP or HTTPS health check target must include a path")
        if check["Timeout"] >= check["Interval"]:
            raise errors.ValidationError("Interval must be greater than Timeout")
        doc["HealthCheck"] = check
        self._save(ctx, doc)
        return {"HealthCheck": check}

    def describe_load_balancer_attributes(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._get(ctx, req["LoadBalancerName"])
        return {"LoadBalancerAttributes": doc["_attributes"]}

    def modify_load_balancer_attributes(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._get(ctx, req["LoadBalancerName"])
        for key, value in req["LoadBalancerAttributes"].items():
            if key == "AdditionalAttributes":
                continue
            if key == "ConnectionSettings" and not 1 <= value.get("IdleTimeout", 60) <= 4000:
                raise errors.ValidationError("IdleTimeout must be between 1 and 4000 seconds")
            doc["_attributes"][key] = {**doc["_attributes"].get(key, {}), **value}
        self._save(ctx, doc)
        return {
            "LoadBalancerName": doc["LoadBalancerName"],
            "LoadBalancerAttributes": doc["_attributes"],
        }

    def apply_security_groups_to_load_balancer(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._get(ctx, req["LoadBalancerName"])
        groups = req["SecurityGroups"]
        try:
            found = self._ec2(ctx, "DescribeSecurityGroups", {"GroupIds": groups})["SecurityGroups"]
        except ServiceError:
            found = []
        if len(found) != len(set(groups)) or any(g["VpcId"] != doc["VPCId"] for g in found):
            raise errors.InvalidSecurityGroupException("One or more security groups are invalid")
        for eni in doc["_interfaces"].values():
            self._ec2(
                ctx,
                "ModifyNetworkInterfaceAttribute",
                {"NetworkInterfaceId": eni["Id"], "Groups": groups},
            )
        doc["SecurityGroups"] = list(groups)
        self._save(ctx, doc)
        return {"SecurityGroups": doc["SecurityGroups"]}

    def describe_account_limits(self, ctx: RequestContext, req: Json) -> Json:
        return {
            "Limits": [
                {"Name": "classic-load-balancers", "Max": "20"},
                {"Name": "classic-listeners", "Max": "100"},
                {"Name": "classic-registered-instances", "Max": "1000"},
            ]
        }

    # -- stickiness policies --------------------------------------------------------------

    def _new_policy(self, ctx: RequestContext, req: Json, kind: str, policy: Json) -> Json:
        doc = self._get(ctx, req["LoadBalancerName"])
        if req["PolicyName"] in _policy_names(doc):
            raise errors.DuplicatePolicyNameException(
                f"Policy {req['PolicyName']} already exists for {doc['LoadBalancerName']}"
            )
        doc["Policies"][kind].append({"PolicyName": req["PolicyName"], **policy})
        self._save(ctx, doc)
        return {}

    def create_lb_cookie_stickiness_policy(self, ctx: RequestContext, req: Json) -> Json:
        policy = {}
        if req.get("CookieExpirationPeriod") is not None:
            policy["CookieExpirationPeriod"] = req["CookieExpirationPeriod"]
        return self._new_policy(ctx, req, "LBCookieStickinessPolicies", policy)

    def create_app_cookie_stickiness_policy(self, ctx: RequestContext, req: Json) -> Json:
        policy = {"CookieName": req["CookieName"]}
        return self._new_policy(ctx, req, "AppCookieStickinessPolicies", policy)

    def set_load_balancer_policies_of_listener(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._get(ctx, req["LoadBalancerName"])
        known = _policy_names(doc)
        for name in req["PolicyNames"]:
            if name not in known:
                raise errors.PolicyNotFoundException(f"There is no policy with name {name}")
        for description in doc["ListenerDescriptions"]:
            if description["Listener"]["LoadBalancerPort"] == req["LoadBalancerPort"]:
                description["PolicyNames"] = list(req["PolicyNames"])
                self._save(ctx, doc)
                return {}
        raise errors.ListenerNotFoundException(
            f"There is no listener on port {req['LoadBalancerPort']}"
        )

    def delete_load_balancer_policy(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._get(ctx, req["LoadBalancerName"])
        name = req["PolicyName"]
        if any(name in d["PolicyNames"] for d in doc["ListenerDescriptions"]):
            raise errors.InvalidConfigurationRequestException(
                f"Policy {name} is in use by a listener"
            )
        for kind in ("LBCookieStickinessPolicies", "AppCookieStickinessPolicies"):
            doc["Policies"][kind] = [p for p in doc["Policies"][kind] if p["PolicyName"] != name]
        self._save(ctx, doc)
        return {}

    # -- instances ------------------------------------------------------------------------

    def register_instances_with_load_balancer(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._get(ctx, req["LoadBalancerName"])
        ids = [i["InstanceId"] for i in req["Instances"]]
        try:
            found = self._ec2(ctx, "DescribeInstances", {"InstanceIds": ids})
        except ServiceError:
            raise errors.InvalidEndPointException(
                f"The requested instance(s) are not valid: {ids}"
            ) from None
        now = clock.now()
        for instance in (i for r in found["Reservations"] for i in r["Instances"]):
            if instance.get("VpcId") != doc["VPCId"]:
                raise errors.InvalidEndPointException(
                    f"The instance {instance['InstanceId']} is not in the load balancer's VPC"
                )
            self.store.execute(
                "INSERT OR IGNORE INTO elb_instances (account, region, lb, instance, az, "
                "registered, state, reason, description, due) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ctx.account_id,
                    ctx.region,
                    doc["LoadBalancerName"],
                    instance["InstanceId"],
                    instance["Placement"]["AvailabilityZone"],
                    now,
                    *REGISTERING,
                    now,
                ),
            )
        self.plane.changed()
        self.env.scheduler.poke()
        return {"Instances": self._instances(ctx, doc["LoadBalancerName"])}

    def _instances(self, ctx: RequestContext, name: str) -> list[Json]:
        rows = self.store.query(
            "SELECT instance FROM elb_instances WHERE account = ? AND region = ? AND lb = ? "
            "ORDER BY registered, instance",
            (ctx.account_id, ctx.region, name),
        )
        return [{"InstanceId": r["instance"]} for r in rows]

    def deregister_instances_from_load_balancer(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._get(ctx, req["LoadBalancerName"])
        registered = {i["InstanceId"] for i in self._instances(ctx, doc["LoadBalancerName"])}
        for item in req["Instances"]:
            if item["InstanceId"] not in registered:
                raise errors.InvalidEndPointException(
                    f"The specified instance {item['InstanceId']} is not registered with the "
                    "load balancer"
                )
            self.store.execute(
                "DELETE FROM elb_instances WHERE account = ? AND region = ? AND lb = ? "
                "AND instance = ?",
                (ctx.account_id, ctx.region, doc["LoadBalancerName"], item["InstanceId"]),
            )
        self.plane.changed()
        return {"Instances": self._instances(ctx, doc["LoadBalancerName"])}

    def describe_instance_health(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._get(ctx, req["LoadBalancerName"])
        rows = {
            r["instance"]: r
            for r in self.store.query(
                "SELECT * FROM elb_instances WHERE account = ? AND region = ? AND lb = ? "
                "ORDER BY registered, instance",
                (ctx.account_id, ctx.region, doc["LoadBalancerName"]),
            )
        }
        asked = [i["InstanceId"] for i in req.get("Instances") or []] or list(rows)
        out = []
        for instance_id in asked:
            row = rows.get(instance_id)
            if row is None:
                raise errors.InvalidEndPointException(f"Could not find EC2 instance {instance_id}.")
            out.append(
                {
                    "InstanceId": instance_id,
                    "State": row["state"],
                    "ReasonCode": row["reason"],
                    "Description": row["description"],
                }
            )
        return {"InstanceStates": out}

    # -- tags -----------------------------------------------------------------------------

    def _set_tags(self, resource: str, tags: list[Json]) -> None:
        keys = [t["Key"] for t in tags]
        if len(keys) != len(set(keys)):
            raise errors.DuplicateTagKeysException("Tag keys must be unique")
        self.env.tags.add(resource, from_list(tags), errors.TooManyTagsException)

    def add_tags(self, ctx: RequestContext, req: Json) -> Json:
        for name in req["LoadBalancerNames"]:
            self._get(ctx, name)
            self._set_tags(self._arn(ctx, name), req["Tags"])
        return {}

    def remove_tags(self, ctx: RequestContext, req: Json) -> Json:
        for name in req["LoadBalancerNames"]:
            self._get(ctx, name)
            self.env.tags.remove(self._arn(ctx, name), [t["Key"] for t in req["Tags"]])
        return {}

    def describe_tags(self, ctx: RequestContext, req: Json) -> Json:
        out = []
        for name in req["LoadBalancerNames"]:
            self._get(ctx, name)
            tags = self.env.tags.get(self._arn(ctx, name))
            out.append(
                {
                    "LoadBalancerName": name,
                    "Tags": to_list(tags),
                }
            )
        return {"TagDescriptions": out}

    # -- the data plane's side ------------------------------------------------------------

    @staticmethod
    def _health(doc: Json) -> Json:
        found = _TARGET.match(doc["HealthCheck"]["Target"])
        assert found is not None
        check = doc["HealthCheck"]
        return {
            "HealthCheckEnabled": True,
            "HealthCheckProtocol": found.group(1),
            "HealthCheckPort": found.group(2),
            "HealthCheckPath": found.group(3) or "/",
            "HealthCheckIntervalSeconds": check["Interval"],
            "HealthCheckTimeoutSeconds": check["Timeout"],
            "HealthyThresholdCount": check["HealthyThreshold"],
            "UnhealthyThresholdCount": check["UnhealthyThreshold"],
            "Matcher": {"HttpCode": "200"},
        }

    def _snapshot(self) -> config.Snapshot:
        snapshot = config.Snapshot()
        states = {"InService": "healthy", "OutOfService": "unhealthy"}
        for row in self.store.query("SELECT * FROM elb_balancers"):
            doc = json.loads(row["doc"])
            lb_arn = arn(
                "elasticloadbalancing", row["region"], row["account"], f"loadbalancer/{row['name']}"
            )
            attributes = doc["_attributes"]
            lb = config.LoadBalancer(
                arn=lb_arn,
                name=row["name"],
                dns=doc["DNSName"].lower(),
                address=doc["_address"],
                type="classic",
                attributes={
                    "idle_timeout.timeout_seconds": str(
                        attributes["ConnectionSettings"]["IdleTimeout"]
                    ),
                },
                security_groups=doc["SecurityGroups"],
                account=row["account"],
                region=row["region"],
                interfaces={z: i["Ip"] for z, i in doc["_interfaces"].items()},
            )
            instances = self.store.query(
                "SELECT instance, az, state, reason FROM elb_instances WHERE account = ? AND "
                "region = ? AND lb = ? ORDER BY registered, instance",
                (row["account"], row["region"], row["name"]),
            )
            for description in doc["ListenerDescriptions"]:
                listener = description["Listener"]
                port = listener["InstancePort"]
                group = config.TargetGroup(
                    arn=f"{lb_arn}/{listener['LoadBalancerPort']}",
                    name=row["name"],
                    target_type="instance",
                    protocol=listener["InstanceProtocol"],
                    port=port,
                    health=self._health(doc),
                    attributes=_stickiness(doc, description["PolicyNames"]),
                    sticky_cookie="AWSELB",
                    account=row["account"],
                    region=row["region"],
                    targets=[
                        config.Target(
                            i["instance"],
                            port,
                            "initial" if i["reason"] == "ELB" else states[i["state"]],
                            i["az"],
                        )
                        for i in instances
                    ],
                )
                snapshot.groups[group.arn] = group
                forward = {
                    "Type": "forward",
                    "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": group.arn, "Weight": 1}]},
                }
                lb.listeners[listener["LoadBalancerPort"]] = config.Listener(
                    arn=f"{lb_arn}/listener/{listener['LoadBalancerPort']}",
                    port=listener["LoadBalancerPort"],
                    protocol=listener["Protocol"],
                    rules=[config.Rule(lb_arn, [], [forward])],
                    certificates=[listener["SSLCertificateId"]]
                    if "SSLCertificateId" in listener
                    else [],
                )
            snapshot.balancers[lb_arn] = lb
        return snapshot

    def _tick(self) -> None:
        due = self.store.query(
            "SELECT account, region, lb, instance FROM elb_instances WHERE due <= ?", (clock.now(),)
        )
        for row in due:
            self._probe((row["account"], row["region"], row["lb"], row["instance"]))

    async def _probe_until_current(self, key: tuple[str, str, str, str]) -> None:
        while True:
            with self.store.transaction():
                lb_row = self.store.query_one(
                    "SELECT doc FROM elb_balancers WHERE account = ? AND region = ? AND name = ?",
                    key[:3],
                )
                row = self.store.query_one(
                    "SELECT * FROM elb_instances WHERE account = ? AND region = ? AND lb = ? "
                    "AND instance = ?",
                    key,
                )
            if lb_row is None or row is None or row["due"] > clock.now():
                return
            doc = json.loads(lb_row["doc"])
            health = self._health(doc)
            snapshot = self.plane.snapshot
            lb_arn = arn("elasticloadbalancing", key[1], key[0], f"loadbalancer/{key[2]}")
            group = config.TargetGroup(
                arn=f"{lb_arn}/health",
                name=key[2],
                target_type="instance",
                protocol=health["HealthCheckProtocol"],
                port=int(health["HealthCheckPort"]),
                health=health,
                attributes={},
                account=key[0],
                region=key[1],
            )
            lb = snapshot.balancers.get(lb_arn)
            target = config.Target(key[3], int(health["HealthCheckPort"]), row["state"], row["az"])
            outcome = await self.plane.probe(group, target, lb)
            self._apply(key, doc["HealthCheck"], outcome.healthy)

    def _apply(self, key: tuple[str, str, str, str], check: Json, healthy: bool) -> None:
        with self.store.transaction():
            row = self.store.query_one(
                "SELECT * FROM elb_instances WHERE account = ? AND region = ? AND lb = ? "
                "AND instance = ?",
                key,
            )
            if row is None:
                return
            ok, fail = (row["ok"] + 1, 0) if healthy else (0, row["fail"] + 1)
            state = (row["state"], row["reason"], row["description"])
            if healthy and ok >= check["HealthyThreshold"]:
                state = IN_SERVICE
            elif not healthy and fail >= check["UnhealthyThreshold"]:
                state = FAILED
            due = max(row["due"] + check["Interval"], clock.now() - check["Interval"] * CATCH_UP)
            self.store.execute(
                "UPDATE elb_instances SET ok = ?, fail = ?, state = ?, reason = ?, "
                "description = ?, due = ? "
                "WHERE account = ? AND region = ? AND lb = ? AND instance = ?",
                (ok, fail, *state, due, *key),
            )
        if state[0] != row["state"] or state[1] != row["reason"]:
            self.plane.changed()


def _policy_names(doc: Json) -> set[str]:
    policies = doc["Policies"]
    return {
        p["PolicyName"]
        for kind in ("LBCookieStickinessPolicies", "AppCookieStickinessPolicies")
        for p in policies[kind]
    }


def _stickiness(doc: Json, names: list[str]) -> dict[str, str]:
    """A listener's stickiness policy as the data plane's target group attributes (duration 0:
    a session cookie)."""
    policies = doc["Policies"]
    for policy in policies["LBCookieStickinessPolicies"]:
        if policy["PolicyName"] in names:
            return {
                "stickiness.enabled": "true",
                "stickiness.type": "lb_cookie",
                "stickiness.lb_cookie.duration_seconds": str(
                    policy.get("CookieExpirationPeriod") or 0
                ),
            }
    for policy in policies["AppCookieStickinessPolicies"]:
        if policy["PolicyName"] in names:
            return {
                "stickiness.enabled": "true",
                "stickiness.type": "app_cookie",
                "stickiness.app_cookie.cookie_name": policy["CookieName"],
                "stickiness.app_cookie.duration_seconds": "0",
            }
    return {}


def _unique_ports(listeners: list[Json]) -> None:
    ports = [item["LoadBalancerPort"] for item in listeners]
    if len(ports) != len(set(ports)):
        raise errors.DuplicateListenerException("Listeners must have distinct LoadBalancerPorts")
