"""Amazon Route 53: hosted zones (public, and private ones associated with VPCs), record sets
with every routing policy, reusable delegation sets, health checks that run, tags and limits.

The DNS server (``nubes/runtime/dns``) answers the zones as they are stored; the health checker
(``nubes/runtime/healthchecks``) probes the endpoints of the health checks. Both start with the
server (``wants_start``)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock, ids
from nubes.core.context import RequestContext
from nubes.protocol.base import ServiceError
from nubes.services.base import ServiceProvider
from nubes.services.route53.changes import MAX_RRSETS_PER_ZONE, apply_batch, key_of
from nubes.services.route53.cidr import CidrOperations
from nubes.services.route53.errors import errors, invalid_input
from nubes.services.route53.health_api import MAX_HEALTH_CHECKS, HealthCheckOperations
from nubes.services.route53.models import MIGRATIONS, Route53Model, Zone
from nubes.services.route53.params import bare_id, max_items, resource_arn
from nubes.services.route53.query_logging import QueryLoggingOperations
from nubes.services.route53.records import BadName, check, in_zone, presentation, sort_key

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.runtime.dns.server import DnsServer

API = "https://route53.amazonaws.com/2013-04-01"
MAX_ZONES = 500
MAX_DELEGATION_SETS = 100
MAX_ZONES_PER_DELEGATION_SET = 100
MAX_VPCS_PER_ZONE = 300
MAX_TAGS = 10
NS_TTL = 172800
SOA_TTL = 900
SOA_TAIL = "awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"
TLDS = ("com", "net", "org", "co.uk")
PRIVATE_NAME_SERVERS = (
    "ns-0.awsdns-00.com",
    "ns-512.awsdns-00.net",
    "ns-1024.awsdns-00.org",
    "ns-1536.awsdns-00.co.uk",
)
"""The name servers every private hosted zone shows (its SOA names the last one)."""


def name_servers() -> list[str]:
    """Four awsdns-style name servers, one per top-level domain, as Route 53 assigns them."""
    out = []
    for i, tld in enumerate(TLDS):
        n = random.randrange(512) + 512 * i
        out.append(f"ns-{n}.awsdns-{n // 32:02d}.{tld}")
    return out


class Route53Provider(
    HealthCheckOperations, QueryLoggingOperations, CidrOperations, ServiceProvider
):
    service = "route53"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.model = Route53Model(self.store)
        self.generation = 0
        """Bumped at each change of zones or records, so the DNS server rebuilds its view."""
        self.zone_changed_at: dict[str, int] = {}
        self.all_changed_at = 0
        self._dns: DnsServer | None = None
        self.init_health_checks()

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        return True  # the DNS port and the health checks run from server start

    async def start(self) -> None:
        from nubes.runtime.dns.server import DnsServer

        self._dns = DnsServer(self.env, self)
        await self._dns.start()
        await self.start_health_checks()

    async def stop(self) -> None:
        await self.stop_health_checks()
        if self._dns is not None:
            await self._dns.stop()

    def reset(self) -> None:
        self.reset_health_checks()
        self.zones_changed()

    def zones_changed(self, zone_id: str | None = None) -> None:
        """Say a zone (None: any zone) changed, so the DNS server rebuilds what it holds of it."""
        self.generation += 1
        if zone_id is None:
            self.all_changed_at = self.generation
        else:
            self.zone_changed_at[zone_id] = self.generation

    @property
    def dns_address(self) -> tuple[str, int] | None:
        """Where the DNS server listens, when it does."""
        return None if self._dns is None else self._dns.address

    def resolver_for_vpc(self) -> Any:
        """What the EC2 runtime calls to answer a query inside a VPC (its ``.2`` resolver):
        ``answer_for_vpc(wire, vpc_id, region) -> bytes``, private hosted zones included."""
        if self._dns is None:
            return None
        return self._dns.answer_for_vpc

    # -- zones ------------------------------------------------------------------------------

    def _zone(self, ctx: RequestContext, zone_id: str) -> Zone:
        zone = self.model.zone(ctx.account_id, bare_id(zone_id))
        if zone is None:
            raise errors.NoSuchHostedZone(f"No hosted zone found with ID: {bare_id(zone_id)}")
        return zone

    def _change(self, ctx: RequestContext, comment: str | None = None) -> dict[str, Any]:
        change_id = ids.unique_id("C", 21)
        now = clock.now()
        self.model.add_change(change_id, ctx.account_id, now, comment)
        info: dict[str, Any] = {"Id": f"/change/{change_id}", "Status": "PENDING"}
        info["SubmittedAt"] = clock.utcnow()
        if comment is not None:
            info["Comment"] = comment
        return info

    def _zone_out(self, zone: Zone) -> dict[str, Any]:
        config: dict[str, Any] = {"PrivateZone": zone.private}
        if zone.comment is not None:
            config["Comment"] = zone.comment
        return {
            "Id": f"/hostedzone/{zone.id}",
            "Name": presentation(zone.name),
            "CallerReference": zone.caller_reference,
            "Config": config,
            "ResourceRecordSetCount": zone.record_count,
        }

    def _delegation_out(self, zone: Zone) -> dict[str, Any]:
        out: dict[str, Any] = {"NameServers": list(zone.name_servers)}
        if zone.delegation_set:
            out["Id"] = f"/delegationset/{zone.delegation_set}"
            found = next(
                (
                    s
                    for s in self.model.delegation_sets(zone.account)
                    if s["Id"] == zone.delegation_set
                ),
                None,
            )
            if found is not None:
                out["CallerReference"] = found["CallerReference"]
        return out

    def _check_vpc(self, ctx: RequestContext, vpc: dict[str, Any]) -> tuple[str, str]:
        vpc_id = vpc.get("VPCId")
        region = vpc.get("VPCRegion") or ctx.region
        if not vpc_id:
            raise invalid_input("The VPC ID is required for a private hosted zone.")
        try:
            self.env.providers.invoke(
                "ec2", "DescribeVpcs", {"VpcIds": [vpc_id]}, ctx.account_id, region
            )
        except ServiceError as exc:
            if exc.code != "NotImplemented":
                raise errors.InvalidVPCId(
                    f"The VPC ID '{vpc_id}' is not valid: {exc.message}"
                ) from None
        except KeyError:
            pass  # no EC2 provider in this nubes: any VPC id is taken as given
        return vpc_id, region

    def create_hosted_zone(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            name = check(params["Name"])
        except BadName:
            raise errors.InvalidDomainName(
                f"{params['Name']} is not a valid domain name."
            ) from None
        if name == ".":
            raise errors.InvalidDomainName(". is reserved by AWS!")
        reference = params["CallerReference"]
        if self.model.zone_by_reference(ctx.account_id, reference) is not None:
            raise errors.HostedZoneAlreadyExists(
                f"A hosted zone has already been created with the specified caller reference: "
                f"{reference}",
            )
        config = params.get("HostedZoneConfig") or {}
        vpc = params.get("VPC")
        private = vpc is not None
        if config.get("PrivateZone") and not private:
            raise invalid_input("A private hosted zone needs a VPC (VPCId and VPCRegion).")
        if self.model.count_zones(ctx.account_id) >= MAX_ZONES:
            raise errors.TooManyHostedZones(
                f"Limits Exceeded: MAX_HOSTED_ZONES_BY_OWNER - Cannot create more than {MAX_ZONES} "
                "hosted zones."
            )
        vpc_ref: tuple[str, str] | None = None
        if vpc is not None:
            vpc_ref = self._check_vpc(ctx, vpc)
            self._refuse_conflicting(name, *vpc_ref)
        delegation = params.get("DelegationSetId")
        servers = list(PRIVATE_NAME_SERVERS) if private else name_servers()
        set_id = None
        if delegation:
            if private:
                raise errors.InvalidInput("A private hosted zone cannot use a delegation set.")
            set_id = bare_id(delegation)
            found = next(
                (s for s in self.model.delegation_sets(ctx.account_id) if s["Id"] == set_id), None
            )
            if found is None:
                raise errors.NoSuchDelegationSet(f"Delegation set {set_id} does not exist.")
            in_set = [z for z in self.model.zones(ctx.account_id) if z.delegation_set == set_id]
            if any(z.name == name for z in in_set):
                raise errors.DelegationSetNotAvailable(
                    f"The delegation set {set_id} already serves a hosted zone named "
                    f"{presentation(name)}."
                )
            if len(in_set) >= MAX_ZONES_PER_DELEGATION_SET:
                raise errors.TooManyHostedZones(
                    "Limits Exceeded: MAX_ZONES_BY_REUSABLE_DELEGATION_SET"
                )
            servers = list(found["NameServers"])
        zone = Zone(
            id=ids.unique_id("Z", 21),
            account=ctx.account_id,
            name=name,
            caller_reference=reference,
            comment=config.get("Comment"),
            private=private,
            delegation_set=set_id,
            name_servers=servers,
            created=clock.now(),
        )
        self.model.add_zone(zone)
        if vpc_ref is not None:
            self.model.associate(zone.id, *vpc_ref)
        self.model.put_rrsets(
            zone.id,
            [
                {
                    "Name": name,
                    "Type": "NS",
                    "TTL": NS_TTL,
                    "ResourceRecords": [{"Value": f"{s}."} for s in servers],
                },
                {
                    "Name": name,
                    "Type": "SOA",
                    "TTL": SOA_TTL,
                    "ResourceRecords": [{"Value": f"{servers[-1 if private else 0]}. {SOA_TAIL}"}],
                },
            ],
        )
        self.zones_changed(zone.id)
        zone = self._zone(ctx, zone.id)
        out: dict[str, Any] = {
            "HostedZone": self._zone_out(zone),
            "ChangeInfo": self._change(ctx),
            "Location": f"{API}/hostedzone/{zone.id}",
        }
        if vpc_ref is not None:
            out["VPC"] = {"VPCId": vpc_ref[0], "VPCRegion": vpc_ref[1]}
        else:
            out["DelegationSet"] = self._delegation_out(zone)
        return out

    def _refuse_conflicting(self, name: str, vpc_id: str, region: str) -> None:
        for other in self.model.zones_of_vpc(vpc_id, region):
            row = self.store.query_one("SELECT name FROM r53_zones WHERE id = ?", (other,))
            if row is not None and row[0] == name:
                raise errors.ConflictingDomainExists(
                    f"The VPC {vpc_id} in {region} region is already associated with another "
                    f"private hosted zone that has the same name {presentation(name)}."
                )

    def get_hosted_zone(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone(ctx, params["Id"])
        out: dict[str, Any] = {"HostedZone": self._zone_out(zone)}
        if zone.private:
            out["VPCs"] = [{"VPCRegion": r, "VPCId": v} for v, r in zone.vpcs]
        else:
            out["DelegationSet"] = self._delegation_out(zone)
        return out

    def delete_hosted_zone(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone(ctx, params["Id"])
        for record in self.model.rrsets(zone.id):
            if record["Name"] != zone.name or record["Type"] not in ("SOA", "NS"):
                raise errors.HostedZoneNotEmpty(
                    "The specified hosted zone contains non-required resource record sets and "
                    "so cannot be deleted."
                )
        self.model.delete_zone(zone.id)
        self.env.tags.drop(resource_arn(ctx, f"hostedzone/{zone.id}"))
        self.zones_changed(zone.id)
        return {"ChangeInfo": self._change(ctx)}

    def update_hosted_zone_comment(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        zone = self._zone(ctx, params["Id"])
        self.model.set_comment(zone.id, params.get("Comment"))
        return {"HostedZone": self._zone_out(self._zone(ctx, zone.id))}

    def get_hosted_zone_count(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"HostedZoneCount": self.model.count_zones(ctx.account_id)}

    def list_hosted_zones(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        limit = max_items(params, 100)
        zones = self.model.zones(ctx.account_id)
        if params.get("DelegationSetId"):
            set_id = bare_id(params["DelegationSetId"])
            if not any(s["Id"] == set_id for s in self.model.delegation_sets(ctx.account_id)):
                raise errors.NoSuchDelegationSet(f"Delegation set {set_id} does not exist.")
            zones = [z for z in zones if z.delegation_set == set_id]
        if params.get("HostedZoneType") == "PrivateHostedZone":
            zones = [z for z in zones if z.private]
        start = 0
        marker = params.get("Marker")
        if marker:
            found = [i for i, z in enumerate(zones) if z.id == bare_id(marker)]
            if not found:
                raise errors.InvalidInput(f"The marker {marker} is not valid.")
            start = found[0]
        page = zones[start : start + limit]
        out: dict[str, Any] = {
            "HostedZones": [self._zone_out(z) for z in page],
            "IsTruncated": start + limit < len(zones),
            "MaxItems": str(limit),
            "Marker": marker or "",
        }
        if out["IsTruncated"]:
            out["NextMarker"] = zones[start + limit].id
        return out

    def list_hosted_zones_by_name(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        limit = max_items(params, 100)
        zones = sorted(self.model.zones(ctx.account_id), key=lambda z: (sort_key(z.name), z.id))
        start_name = params.get("DNSName")
        start_id = params.get("HostedZoneId")
        if start_id and not start_name:
            raise invalid_input("The input is not valid: HostedZoneId requires DNSName")
        out: dict[str, Any] = {"MaxItems": str(limit)}
        if start_name:
            try:
                name = check(start_name)
            except BadName:
                raise errors.InvalidDomainName(
                    f"{start_name} is not a valid domain name."
                ) from None
            position = (sort_key(name), bare_id(start_id) if start_id else "")
            zones = [z for z in zones if (sort_key(z.name), z.id) >= position]
            out["DNSName"] = presentation(name)
            if start_id:
                out["HostedZoneId"] = bare_id(start_id)
        page = zones[:limit]
        out["HostedZones"] = [self._zone_out(z) for z in page]
        out["IsTruncated"] = len(zones) > limit
        if out["IsTruncated"]:
            out["NextDNSName"] = presentation(zones[limit].name)
            out["NextHostedZoneId"] = zones[limit].id
        return out

    def list_hosted_zones_by_vpc(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        limit = max_items(params, 100)
        wanted = set(self.model.zones_of_vpc(params["VPCId"], params["VPCRegion"]))
        zones = [z for z in self.model.zones() if z.id in wanted]
        start = (
            int(params.get("NextToken") or 0)
            if str(params.get("NextToken") or "0").isdigit()
            else 0
        )
        page = zones[start : start + limit]
        out: dict[str, Any] = {
            "HostedZoneSummaries": [
                {
                    "HostedZoneId": z.id,
                    "Name": presentation(z.name),
                    "Owner": {"OwningAccount": z.account},
                }
                for z in page
            ],
            "MaxItems": str(limit),
        }
        if start + limit < len(zones):
            out["NextToken"] = str(start + limit)
        return out

    # -- VPC associations -------------------------------------------------------------------

    def associate_vpc_with_hosted_zone(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        zone_id = bare_id(params["HostedZoneId"])
        zone = self.model.zone(ctx.account_id, zone_id)
        vpc_id, region = params["VPC"].get("VPCId"), params["VPC"].get("VPCRegion") or ctx.region
        if zone is None:
            # Another account's zone may be associated once its owner authorized this VPC.
            owner = self.store.query_one("SELECT account FROM r53_zones WHERE id = ?", (zone_id,))
            if owner is None or (vpc_id, region) not in self.model.authorizations(zone_id):
                if owner is None:
                    raise errors.NoSuchHostedZone(f"No hosted zone found with ID: {zone_id}")
                raise errors.NotAuthorizedException(
                    f"The VPC {vpc_id} is not authorized to associate with hosted zone {zone_id}."
                )
            zone = self.model.zone(owner[0], zone_id)
            assert zone is not None
        else:
            self._check_vpc(ctx, params["VPC"])
        if not zone.private:
            raise errors.PublicZoneVPCAssociation(
                "You're trying to associate a VPC with a public hosted zone. Amazon Route 53 "
                "doesn't support associating a VPC with a public hosted zone."
            )
        if (vpc_id, region) in zone.vpcs:
            raise errors.ConflictingDomainExists(
                f"The VPC {vpc_id} in {region} region has already been associated with the "
                f"hosted zone {zone_id} with the same domain name."
            )
        if len(zone.vpcs) >= MAX_VPCS_PER_ZONE:
            raise errors.LimitsExceeded("Limits Exceeded: MAX_VPCS_ASSOCIATED_BY_ZONE")
        self._refuse_conflicting(zone.name, vpc_id, region)
        self.model.associate(zone.id, vpc_id, region)
        self.zones_changed(zone.id)
        return {"ChangeInfo": self._change(ctx, params.get("Comment"))}

    def disassociate_vpc_from_hosted_zone(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        zone = self._zone(ctx, params["HostedZoneId"])
        vpc_id, region = params["VPC"].get("VPCId"), params["VPC"].get("VPCRegion") or ctx.region
        if not zone.private:
            raise errors.VPCAssociationNotFound(
                f"The specified VPC {vpc_id} and hosted zone {zone.id} are not currently "
                "associated."
            )
        if (vpc_id, region) not in zone.vpcs:
            raise errors.VPCAssociationNotFound(
                f"The specified VPC {vpc_id} and hosted zone {zone.id} are not currently "
                "associated."
            )
        if len(zone.vpcs) == 1:
            raise errors.LastVPCAssociation(
                "The VPC that you're trying to disassociate from the private hosted zone is the "
                "last VPC that is associated with the hosted zone. Amazon Route 53 doesn't "
                "support disassociating the last VPC from a hosted zone."
            )
        self.model.disassociate(zone.id, vpc_id)
        self.zones_changed(zone.id)
        return {"ChangeInfo": self._change(ctx, params.get("Comment"))}

    def create_vpc_association_authorization(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        zone = self._zone(ctx, params["HostedZoneId"])
        vpc = params["VPC"]
        self.model.authorize(zone.id, vpc["VPCId"], vpc.get("VPCRegion") or ctx.region, True)
        return {"HostedZoneId": zone.id, "VPC": vpc}

    def delete_vpc_association_authorization(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        zone = self._zone(ctx, params["HostedZoneId"])
        vpc = params["VPC"]
        region = vpc.get("VPCRegion") or ctx.region
        if (vpc["VPCId"], region) not in self.model.authorizations(zone.id):
            raise errors.VPCAssociationAuthorizationNotFound(
                f"The VPC {vpc['VPCId']} is not authorized to associate with hosted zone {zone.id}."
            )
        self.model.authorize(zone.id, vpc["VPCId"], region, False)
        return {}

    def list_vpc_association_authorizations(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        zone = self._zone(ctx, params["HostedZoneId"])
        return {
            "HostedZoneId": zone.id,
            "VPCs": [{"VPCId": v, "VPCRegion": r} for v, r in self.model.authorizations(zone.id)],
        }

    # -- record sets ------------------------------------------------------------------------

    def _other_zone_records(self, account: str) -> Any:
        def lookup(zone_id: str, name: str) -> tuple[bool, list[dict[str, Any]]] | None:
            zone = self.model.zone(account, zone_id)
            if zone is None:
                return None
            return in_zone(name, zone.name), self.model.rrsets_named(zone.id, name)

        return lookup

    def change_resource_record_sets(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        zone = self._zone(ctx, params["HostedZoneId"])
        batch = params["ChangeBatch"]
        current = self.model.rrsets(zone.id)
        records, problems = apply_batch(
            zone.name,
            zone.id,
            current,
            batch["Changes"],
            self._other_zone_records(ctx.account_id),
            lambda collection: self.model.cidr_locations(ctx.account_id, collection),
        )
        if problems:
            raise errors.InvalidChangeBatch(f"[{', '.join(problems)}]")
        checks = {str(r["HealthCheckId"]) for r in records.values() if r.get("HealthCheckId")}
        known = {c.id for c in self.model.health_checks(ctx.account_id)}
        for check_id in sorted(checks - known):
            raise errors.InvalidChangeBatch(
                f"[Invalid request: the health check {check_id} does not exist]"
            )
        before = {key_of(r): r for r in current}
        for key, record in before.items():
            if records.get(key) is not record:
                self.model.delete_rrset(zone.id, record)
        self.model.put_rrsets(zone.id, [r for k, r in records.items() if before.get(k) is not r])
        self.zones_changed(zone.id)
        return {"ChangeInfo": self._change(ctx, batch.get("Comment"))}

    def _record_out(self, record: dict[str, Any]) -> dict[str, Any]:
        out = dict(record)
        out["Name"] = presentation(record["Name"])
        if "AliasTarget" in out:
            out["AliasTarget"] = {
                **out["AliasTarget"],
                "DNSName": presentation(out["AliasTarget"]["DNSName"]),
            }
        return out

    def list_resource_record_sets(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        zone = self._zone(ctx, params["HostedZoneId"])
        limit = max_items(params, 300)
        start_name, start_type = params.get("StartRecordName"), params.get("StartRecordType")
        start_set = params.get("StartRecordIdentifier")
        if start_type and not start_name:
            raise invalid_input("The input is not valid: StartRecordType requires StartRecordName")
        if start_set and not start_type:
            raise invalid_input(
                "The input is not valid: StartRecordIdentifier requires StartRecordType"
            )
        position = ("", "", "")
        if start_name:
            try:
                position = (sort_key(check(start_name)), start_type or "", start_set or "")
            except BadName:
                raise invalid_input(f"{start_name} is not a valid DNS name") from None
        found = self.model.rrsets_from(zone.id, position, limit + 1)
        out: dict[str, Any] = {
            "ResourceRecordSets": [self._record_out(r) for r in found[:limit]],
            "IsTruncated": len(found) > limit,
            "MaxItems": str(limit),
        }
        if len(found) > limit:
            following = found[limit]
            out["NextRecordName"] = presentation(following["Name"])
            out["NextRecordType"] = following["Type"]
            if following.get("SetIdentifier") is not None:
                out["NextRecordIdentifier"] = following["SetIdentifier"]
        return out

    def get_change(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        change_id = bare_id(params["Id"])
        row = self.model.change(change_id)
        if row is None or row["account"] != ctx.account_id:
            raise errors.NoSuchChange(
                f"A change with the specified change ID does not exist: {change_id}"
            )
        synced = clock.now() >= row["submitted"] + self.env.settings.route53_sync_seconds
        info: dict[str, Any] = {
            "Id": f"/change/{change_id}",
            "Status": "INSYNC" if synced else "PENDING",
            "SubmittedAt": datetime.fromtimestamp(row["submitted"], UTC),
        }
        if row["comment"] is not None:
            info["Comment"] = row["comment"]
        return {"ChangeInfo": info}

    def test_dns_answer(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone(ctx, params["HostedZoneId"])
        if self._dns is None:
            raise errors.InvalidInput("The DNS server is off (NUBES_DNS_ADDRESS=off).")
        code, data = self._dns.test_answer(
            zone.id,
            params["RecordName"],
            params["RecordType"],
            params.get("ResolverIP"),
            params.get("EDNS0ClientSubnetIP"),
            params.get("EDNS0ClientSubnetMask"),
        )
        return {
            "Nameserver": zone.name_servers[0],
            "RecordName": params["RecordName"],
            "RecordType": params["RecordType"],
            "RecordData": data,
            "ResponseCode": code,
            "Protocol": "UDP",
        }

    def get_dnssec(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """nubes does not sign zones: every zone says so (as a zone never signed does)."""
        zone = self._zone(ctx, params["HostedZoneId"])
        if zone.private:
            raise errors.InvalidArgument("DNSSEC signing is not supported for private zones.")
        return {"Status": {"ServeSignature": "NOT_SIGNING"}, "KeySigningKeys": []}

    # -- reusable delegation sets -----------------------------------------------------------

    def create_reusable_delegation_set(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        reference = params["CallerReference"]
        existing = self.model.delegation_sets(ctx.account_id)
        if any(s["CallerReference"] == reference for s in existing):
            raise errors.DelegationSetAlreadyCreated(
                "A delegation set with the same owner and caller reference already exists."
            )
        if len(existing) >= MAX_DELEGATION_SETS:
            raise errors.LimitsExceeded("Limits Exceeded: MAX_REUSABLE_DELEGATION_SETS_BY_OWNER")
        servers = name_servers()
        if params.get("HostedZoneId"):
            zone = self._zone(ctx, params["HostedZoneId"])
            if zone.private:
                raise errors.HostedZoneNotFound(
                    f"The hosted zone {zone.id} is private and has no name servers to reuse."
                )
            if zone.delegation_set:
                raise errors.DelegationSetAlreadyReusable(
                    "The specified delegation set has already been marked as reusable."
                )
            servers = list(zone.name_servers)
        set_id = ids.unique_id("N", 21)
        self.model.add_delegation_set(set_id, ctx.account_id, reference, servers)
        return {
            "DelegationSet": {
                "Id": f"/delegationset/{set_id}",
                "CallerReference": reference,
                "NameServers": servers,
            },
            "Location": f"{API}/delegationset/{set_id}",
        }

    def _delegation_set(self, ctx: RequestContext, set_id: str) -> dict[str, Any]:
        found = next(
            (s for s in self.model.delegation_sets(ctx.account_id) if s["Id"] == bare_id(set_id)),
            None,
        )
        if found is None:
            raise errors.NoSuchDelegationSet(f"Delegation set {bare_id(set_id)} does not exist.")
        return found

    def get_reusable_delegation_set(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        found = self._delegation_set(ctx, params["Id"])
        return {"DelegationSet": {**found, "Id": f"/delegationset/{found['Id']}"}}

    def list_reusable_delegation_sets(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        limit = max_items(params, 100)
        sets = self.model.delegation_sets(ctx.account_id)
        marker = params.get("Marker")
        start = 0
        if marker:
            start = next((i for i, s in enumerate(sets) if s["Id"] == bare_id(marker)), len(sets))
        page = sets[start : start + limit]
        out: dict[str, Any] = {
            "DelegationSets": [{**s, "Id": f"/delegationset/{s['Id']}"} for s in page],
            "Marker": marker or "",
            "IsTruncated": start + limit < len(sets),
            "MaxItems": str(limit),
        }
        if out["IsTruncated"]:
            out["NextMarker"] = sets[start + limit]["Id"]
        return out

    def delete_reusable_delegation_set(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        found = self._delegation_set(ctx, params["Id"])
        if any(z.delegation_set == found["Id"] for z in self.model.zones(ctx.account_id)):
            raise errors.DelegationSetInUse(
                "The specified delegation contains associated hosted zones which must be deleted "
                "before the reusable delegation set can be deleted."
            )
        self.model.delete_delegation_set(found["Id"])
        return {}

    def get_reusable_delegation_set_limit(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        found = self._delegation_set(ctx, params["DelegationSetId"])
        count = sum(1 for z in self.model.zones(ctx.account_id) if z.delegation_set == found["Id"])
        return {
            "Limit": {"Type": params["Type"], "Value": MAX_ZONES_PER_DELEGATION_SET},
            "Count": count,
        }

    # -- limits -----------------------------------------------------------------------------

    def get_account_limit(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kind = params["Type"]
        counts = {
            "MAX_HEALTH_CHECKS_BY_OWNER": (
                MAX_HEALTH_CHECKS,
                lambda: len(self.model.health_checks(ctx.account_id)),
            ),
            "MAX_HOSTED_ZONES_BY_OWNER": (
                MAX_ZONES,
                lambda: self.model.count_zones(ctx.account_id),
            ),
            "MAX_REUSABLE_DELEGATION_SETS_BY_OWNER": (
                MAX_DELEGATION_SETS,
                lambda: len(self.model.delegation_sets(ctx.account_id)),
            ),
            "MAX_TRAFFIC_POLICIES_BY_OWNER": (50, lambda: 0),
            "MAX_TRAFFIC_POLICY_INSTANCES_BY_OWNER": (5, lambda: 0),
        }
        value, count = counts[kind]
        return {"Limit": {"Type": kind, "Value": value}, "Count": count()}

    def get_hosted_zone_limit(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone(ctx, params["HostedZoneId"])
        if params["Type"] == "MAX_RRSETS_BY_ZONE":
            value, count = MAX_RRSETS_PER_ZONE, zone.record_count
        else:
            if not zone.private:
                raise errors.HostedZoneNotPrivate(f"The hosted zone {zone.id} is not private.")
            value, count = MAX_VPCS_PER_ZONE, len(zone.vpcs)
        return {"Limit": {"Type": params["Type"], "Value": value}, "Count": count}

    # -- tags -------------------------------------------------------------------------------

    def _tag_target(self, ctx: RequestContext, kind: str, resource_id: str) -> str:
        resource_id = bare_id(resource_id)
        if kind == "hostedzone":
            self._zone(ctx, resource_id)
        elif kind == "healthcheck":
            self.health_check_row(ctx, resource_id)
        else:
            raise invalid_input(f"The resource type {kind} cannot be tagged.")
        return resource_arn(ctx, f"{kind}/{resource_id}")

    def change_tags_for_resource(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        arn = self._tag_target(ctx, params["ResourceType"], params["ResourceId"])
        add = {t["Key"]: t.get("Value", "") for t in params.get("AddTags") or ()}
        remove = list(params.get("RemoveTagKeys") or ())
        existing = self.env.tags.get(arn)
        kept = {k: v for k, v in existing.items() if k not in remove}
        if len({**kept, **add}) > MAX_TAGS:
            raise errors.InvalidInput(
                f"The number of tags on the resource would exceed the limit of {MAX_TAGS}."
            )
        self.env.tags.remove(arn, remove)
        self.env.tags.set(arn, add)
        return {}

    def _tag_set(self, ctx: RequestContext, kind: str, resource_id: str) -> dict[str, Any]:
        arn = self._tag_target(ctx, kind, resource_id)
        return {
            "ResourceType": kind,
            "ResourceId": bare_id(resource_id),
            "Tags": [{"Key": k, "Value": v} for k, v in self.env.tags.get(arn).items()],
        }

    def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"ResourceTagSet": self._tag_set(ctx, params["ResourceType"], params["ResourceId"])}

    def list_tags_for_resources(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "ResourceTagSets": [
                self._tag_set(ctx, params["ResourceType"], rid) for rid in params["ResourceIds"]
            ]
        }
