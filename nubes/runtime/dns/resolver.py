"""Answers to DNS queries: authoritative for every hosted zone, per routing policy and health.

Built on dnspython for the wire format. A :class:`View` is a snapshot of the stored zones
(rebuilt when Route 53 changes them); each query walks it as an authoritative server does
(RFC 1034 4.3.2): delegations below the apex are referrals, CNAMEs are followed within the zone,
wildcards are synthesised, missing names are NXDOMAIN and missing types NODATA, both with the
zone's SOA in the authority section (TTL the smaller of the SOA's TTL and its minimum).

Which record of a name and type answers (routing policies):

* weighted: a random pick in proportion to the weights of the healthy records;
* failover: the primary while it is healthy, else the secondary;
* multivalue answer: up to eight healthy records, in random order;
* latency: the record of the query's region, else the nearest one (same area, then any). The
  query's region is the EDNS option :data:`REGION_OPTION` (a private-use code carrying a region
  name such as ``eu-west-1``) when present, the VPC's region for queries from inside a VPC, else
  nubes' default region;
* geolocation: by the EDNS client subnet when present (see :data:`TEST_LOCATIONS`), most
  specific match first (subdivision, country, continent), else the default (``*``) record.

As on AWS, when every candidate record is unhealthy they are all taken as healthy.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from nubes.core.names import private_ec2_name
from nubes.services.route53.values import parse_value, to_dns

if TYPE_CHECKING:
    from nubes.core.names import Names
    from nubes.services.route53.models import Zone

REGION_OPTION = 65001
"""EDNS option (local/experimental range) whose data is the region a query comes from."""
TEST_LOCATIONS: tuple[tuple[str, tuple[str, str | None, str | None]], ...] = (
    ("192.0.2.0/24", ("NA", "US", "WA")),
    ("198.51.100.0/24", ("EU", "DE", None)),
    ("203.0.113.0/24", ("AS", "JP", None)),
    ("2001:db8::/32", ("OC", "AU", None)),
)
"""Client subnets (the documentation ranges) mapped to (continent, country, subdivision):
a geolocation query names one of them in its EDNS client-subnet option."""
_LOCATIONS = [(ipaddress.ip_network(net), where) for net, where in TEST_LOCATIONS]
MAX_MULTIVALUE = 8
MAX_CHAIN = 8
NAMES_TTL = 60
"""TTL of nubes' own names and of alias answers that point at AWS resources (as ELB's 60 s)."""
UDP_DEFAULT = 512
A, AAAA, CNAME, NS, SOA, ANY, DS = (
    dns.rdatatype.A,
    dns.rdatatype.AAAA,
    dns.rdatatype.CNAME,
    dns.rdatatype.NS,
    dns.rdatatype.SOA,
    dns.rdatatype.ANY,
    dns.rdatatype.DS,
)


@dataclass(frozen=True)
class Where:
    """Where a query comes from, as far as routing cares."""

    region: str
    subnet: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    vpc: tuple[str, str] | None = None
    client: str | None = None
    """The address the query came from (IP-based routing without a client subnet)."""


@dataclass
class RecordSet:
    rtype: int
    ttl: int
    rdatas: list[dns.rdata.Rdata]
    policy: str
    set_id: str = ""
    weight: int = 0
    region: str = ""
    failover: str = ""
    geo: tuple[str | None, str | None, str | None] | None = None
    health_check: str | None = None
    alias: tuple[str, str, bool] | None = None
    """(target zone id, target plain name, evaluate target health)."""
    cidr: tuple[str, str] | None = None
    """(CIDR collection id, location name) of IP-based routing."""


@dataclass
class ZoneData:
    id: str
    account: str
    name: str
    origin: dns.name.Name
    private: bool
    nodes: dict[dns.name.Name, dict[int, list[RecordSet]]] = field(default_factory=dict)
    names: set[dns.name.Name] = field(default_factory=set)
    """Every owner name and every name between one and the apex (empty non-terminals)."""
    cuts: set[dns.name.Name] = field(default_factory=set)
    """Names below the apex that have NS records: delegations."""
    soa: dns.rrset.RRset | None = None


def _record(raw: dict[str, Any]) -> RecordSet:
    rtype = dns.rdatatype.from_text(raw["Type"])
    policy = next(
        (
            p
            for p in ("Weight", "Region", "GeoLocation", "Failover", "MultiValueAnswer",
                      "CidrRoutingConfig", "GeoProximityLocation")
            if p in raw
        ),
        "Simple",
    )  # fmt: skip
    geo = raw.get("GeoLocation")
    alias = raw.get("AliasTarget")
    region = raw.get("Region") or (raw.get("GeoProximityLocation") or {}).get("AWSRegion", "")
    return RecordSet(
        rtype=rtype,
        ttl=int(raw.get("TTL", NAMES_TTL)),
        rdatas=[parse_value(raw["Type"], v["Value"]) for v in raw.get("ResourceRecords", ())],
        policy=policy,
        set_id=raw.get("SetIdentifier") or "",
        weight=int(raw.get("Weight", 0)),
        region=region,
        failover=raw.get("Failover", ""),
        geo=None
        if geo is None
        else (geo.get("ContinentCode"), geo.get("CountryCode"), geo.get("SubdivisionCode")),
        health_check=raw.get("HealthCheckId"),
        cidr=None
        if "CidrRoutingConfig" not in raw
        else (raw["CidrRoutingConfig"]["CollectionId"], raw["CidrRoutingConfig"]["LocationName"]),
        alias=None
        if alias is None
        else (alias["HostedZoneId"], alias["DNSName"], bool(alias.get("EvaluateTargetHealth"))),
    )


def build_zone(zone: Zone, records: list[dict[str, Any]]) -> ZoneData:
    data = ZoneData(zone.id, zone.account, zone.name, to_dns(zone.name), zone.private)
    for raw in records:
        owner = to_dns(raw["Name"])
        record = _record(raw)
        data.nodes.setdefault(owner, {}).setdefault(record.rtype, []).append(record)
        name = owner
        while name != data.origin and name not in data.names:
            data.names.add(name)
            name = name.parent()
        if record.rtype == NS and owner != data.origin:
            data.cuts.add(owner)
        if record.rtype == SOA and owner == data.origin:
            data.soa = dns.rrset.from_rdata_list(owner, record.ttl, record.rdatas)
    data.names.add(data.origin)
    return data


class View:
    """The zones of every account, indexed for lookups."""

    def __init__(
        self, zones: list[ZoneData], cidr: dict[str, list[tuple[str, str]]] | None = None
    ) -> None:
        self.by_id = {z.id: z for z in zones}
        self.cidr = {
            collection: sorted(
                ((ipaddress.ip_network(block), location) for block, location in blocks),
                key=lambda item: -item[0].prefixlen,
            )
            for collection, blocks in (cidr or {}).items()
        }
        """CIDR collection id -> (network, location), most specific first."""
        self.public: dict[dns.name.Name, ZoneData] = {}
        self.private: dict[tuple[str, str], dict[dns.name.Name, ZoneData]] = {}
        for zone in zones:  # oldest first: the first public zone of a name answers for it
            if not zone.private:
                self.public.setdefault(zone.origin, zone)

    def add_vpc(self, zone: ZoneData, vpc: tuple[str, str]) -> None:
        self.private.setdefault(vpc, {})[zone.origin] = zone

    def find(self, qname: dns.name.Name, vpc: tuple[str, str] | None) -> ZoneData | None:
        """The closest enclosing zone: a private zone of the VPC first, then a public one."""
        tables = [self.private.get(vpc, {})] if vpc is not None else []
        tables.append(self.public)
        for table in tables:
            if not table:
                continue
            name = qname
            while True:
                zone = table.get(name)
                if zone is not None:
                    return zone
                if name == dns.name.root:
                    break
                name = name.parent()
        return None


@dataclass
class Outcome:
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    authoritative: bool = True
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    additional: list[dns.rrset.RRset] = field(default_factory=list)


class Resolver:
    def __init__(
        self,
        view: Callable[[], View],
        healthy: Callable[[str], bool],
        names: Names,
        default_region: str,
        volatile: Callable[[str], bool] = lambda check_id: False,
    ) -> None:
        self._view = view
        self._healthy = healthy
        self._volatile = volatile
        self._names = names
        self.default_region = default_region
        self.repeatable = True
        """Whether the last answer would be given again to the same query as long as zones,
        names and health statuses stay as they are (no random pick, no alarm-driven health)."""
        self.picks: list[tuple[int, list[RecordSet], list[float]]] = []
        """The weighted picks the last answer made: (id of the record list, pool, weights)."""
        self.forced: dict[int, RecordSet] = {}
        self.last_zone: str | None = None
        """The hosted zone that answered the last query (None: no zone did)."""
        """Weighted picks to make instead of drawing (to render each possible answer once)."""

    # -- wire ------------------------------------------------------------------------------

    def where(
        self,
        query: dns.message.Message,
        vpc: tuple[str, str] | None = None,
        client: str | None = None,
    ) -> Where:
        region = vpc[1] if vpc is not None else self.default_region
        subnet = None
        for option in query.options:
            if option.otype == REGION_OPTION:
                region = option.to_wire().decode("ascii", "replace").strip() or region
            elif isinstance(option, dns.edns.ECSOption):
                subnet = ipaddress.ip_network(f"{option.address}/{option.srclen}", strict=False)
        return Where(region, subnet, vpc, client)

    def respond(
        self,
        wire: bytes,
        tcp: bool = False,
        vpc: tuple[str, str] | None = None,
        client: str | None = None,
    ) -> tuple[bytes | None, dns.message.Message | None]:
        """The answer to a query, or (None, query) when it is for no name nubes knows (the
        caller refuses or forwards it); (None, None) for garbage not worth an answer."""
        self.repeatable = True
        self.picks = []
        self.last_zone = None
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return _formerr(wire), None
        if query.flags & dns.flags.QR:
            return None, None  # a response, not a query: never answered (no loops)
        response = dns.message.make_response(query)
        response.flags &= ~dns.flags.RA
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
            response.set_rcode(
                dns.rcode.NOTIMP if query.opcode() != dns.opcode.QUERY else dns.rcode.FORMERR
            )
            return response.to_wire(), None
        question = query.question[0]
        if question.rdclass not in (dns.rdataclass.IN, dns.rdataclass.ANY):
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire(), None
        where = self.where(query, vpc, client)
        outcome = self.lookup(question.name, question.rdtype, where)
        if outcome is None:
            return None, query
        _fill(response, outcome)
        for option in query.options:
            if isinstance(option, dns.edns.ECSOption):
                response.use_edns(
                    0, payload=query.payload, options=[
                        dns.edns.ECSOption(option.address, option.srclen, option.srclen)
                    ],
                )  # fmt: skip
        limit = 65535 if tcp else max(UDP_DEFAULT, query.payload if query.edns >= 0 else 0)
        return response.to_wire(max_size=limit, prefer_truncation=True), query

    def refuse(self, query: dns.message.Message) -> bytes:
        response = dns.message.make_response(query)
        response.flags &= ~dns.flags.RA
        response.set_rcode(dns.rcode.REFUSED)
        return response.to_wire()

    # -- lookups ----------------------------------------------------------------------------

    def lookup(self, qname: dns.name.Name, qtype: int, where: Where) -> Outcome | None:
        zone = self._view().find(qname, where.vpc)
        self.last_zone = None if zone is None else zone.id
        if zone is None:
            return self._own_name(qname, qtype, where)
        return self.in_zone(zone, qname, qtype, where)

    def _own_name(self, qname: dns.name.Name, qtype: int, where: Where) -> Outcome | None:
        text = qname.to_text(omit_final_dot=True)
        addresses = self._names.resolve(text)
        if addresses is None and where.vpc is not None:
            addresses = private_ec2_name(text)
        if addresses is None:
            return None
        outcome = Outcome()
        rrset = _address_rrset(qname, qtype, addresses, NAMES_TTL)
        if rrset is not None:
            outcome.answer.append(rrset)
        return outcome

    def in_zone(self, zone: ZoneData, qname: dns.name.Name, qtype: int, where: Where) -> Outcome:
        outcome = Outcome()
        name = qname
        for _ in range(MAX_CHAIN):
            cut = _cut(zone, name)
            if cut == name and qtype == DS:
                cut = None  # a delegation's DS records are the parent's to answer
            if cut is not None:
                ns = self.select(zone, cut, zone.nodes[cut][NS], NS, where, 0)
                if ns is not None:
                    outcome.authoritative = bool(outcome.answer)
                    outcome.authority.append(ns)
                    outcome.additional.extend(self._glue(zone, ns, where))
                return outcome
            node, owner = zone.nodes.get(name), name
            if node is None and name not in zone.names:
                node = _wildcard(zone, name)
            if node is None:
                if name not in zone.names:
                    outcome.rcode = dns.rcode.NXDOMAIN
                _add_soa(zone, outcome)
                return outcome
            if qtype != CNAME and CNAME in node:
                cname = self.select(zone, owner, node[CNAME], CNAME, where, 0)
                if cname is None:
                    _add_soa(zone, outcome)
                    return outcome
                outcome.answer.append(cname)
                target = cname[0].target
                if not target.is_subdomain(zone.origin):
                    return outcome
                name = target
                continue
            types = list(node) if qtype == ANY else [qtype]
            found = False
            for rtype in types:
                rrset = self.select(zone, owner, node.get(rtype, []), rtype, where, 0)
                if rrset is not None:
                    outcome.answer.append(rrset)
                    found = True
            if not found:
                _add_soa(zone, outcome)
            return outcome
        return outcome

    def _glue(self, zone: ZoneData, ns: dns.rrset.RRset, where: Where) -> list[dns.rrset.RRset]:
        out = []
        for rdata in ns:
            node = zone.nodes.get(rdata.target)
            if node is None:
                continue
            for rtype in (A, AAAA):
                rrset = self.select(zone, rdata.target, node.get(rtype, []), rtype, where, 0)
                if rrset is not None:
                    out.append(rrset)
        return out

    # -- routing ----------------------------------------------------------------------------

    def select(
        self,
        zone: ZoneData,
        owner: dns.name.Name,
        sets: list[RecordSet],
        rtype: int,
        where: Where,
        depth: int,
    ) -> dns.rrset.RRset | None:
        """The answer for one name and type after routing: an RRset owned by ``owner``."""
        chosen = self.choose(sets, rtype, where, depth)
        if not chosen:
            return None
        rdatas: list[dns.rdata.Rdata] = []
        ttl = None
        for record in chosen:
            values, record_ttl = self.values(record, rtype, where, depth)
            rdatas.extend(v for v in values if v not in rdatas)
            ttl = record_ttl if ttl is None else min(ttl, record_ttl)
        if not rdatas:
            return None
        return dns.rrset.from_rdata_list(owner, ttl or 0, rdatas)

    def choose(
        self, sets: list[RecordSet], rtype: int, where: Where, depth: int
    ) -> list[RecordSet]:
        if not sets:
            return []
        policy = sets[0].policy
        if policy == "Simple":
            return sets[:1]
        healthy = [s for s in sets if self.healthy(s, rtype, where, depth)]
        if policy == "Failover":
            primary = [s for s in sets if s.failover == "PRIMARY"]
            secondary = [s for s in sets if s.failover == "SECONDARY"]
            if primary and primary[0] in healthy:
                return primary
            if secondary and secondary[0] in healthy:
                return secondary
            return primary or secondary
        if policy == "MultiValueAnswer":
            pool = healthy or sets
            self.repeatable = self.repeatable and len(pool) <= 1
            return random.sample(pool, min(len(pool), MAX_MULTIVALUE))
        if policy == "Weight":
            pool = [s for s in healthy if s.weight > 0] or healthy or sets
            weights: list[float] = [s.weight for s in pool]
            if sum(weights) == 0:
                weights = [1.0] * len(pool)
            forced = self.forced.get(id(sets))
            if forced is not None:
                return [forced]
            if len(pool) > 1:
                self.picks.append((id(sets), pool, weights))
            return random.choices(pool, weights=weights)
        if policy in ("Region", "GeoProximityLocation"):
            pool = healthy or sets
            return [min(pool, key=lambda s: _distance(where.region, s.region))]
        if policy == "GeoLocation":
            return self._geo(sets, healthy, where)
        if policy == "CidrRoutingConfig":
            return self._by_cidr(sets, healthy, where)
        return [next((s for s in healthy), sets[0])]

    def _geo(
        self, sets: list[RecordSet], healthy: list[RecordSet], where: Where
    ) -> list[RecordSet]:
        location = _location(where.subnet)
        wanted: list[tuple[str | None, str | None, str | None]] = []
        if location is not None:
            continent, country, subdivision = location
            if subdivision:
                wanted.append((None, country, subdivision))
            wanted += [(None, country, None), (continent, None, None)]
        wanted.append((None, "*", None))
        for key in wanted:
            match = [s for s in sets if s.geo == key]
            if match and match[0] in healthy:
                return match
        default = [s for s in sets if s.geo == (None, "*", None)]
        return default

    def _by_cidr(
        self, sets: list[RecordSet], healthy: list[RecordSet], where: Where
    ) -> list[RecordSet]:
        """IP-based routing: the record of the most specific location that holds the client's
        address (its EDNS client subnet, else where the query came from), else ``*``."""
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
        if where.subnet is not None:
            address = where.subnet.network_address
        elif where.client:
            self.repeatable = False  # the answer depends on who asks, which the key omits
            try:
                address = ipaddress.ip_address(where.client)
            except ValueError:
                address = None
        collection = sets[0].cidr[0] if sets[0].cidr else ""
        wanted = []
        if address is not None:
            wanted = [
                location
                for network, location in self._view().cidr.get(collection, [])
                if network.version == address.version and address in network
            ]
        for location in [*wanted, "*"]:
            match = [s for s in sets if s.cidr is not None and s.cidr[1] == location]
            if match and match[0] in healthy:
                return match[:1]
        return [s for s in sets if s.cidr is not None and s.cidr[1] == "*"][:1]

    def healthy(self, record: RecordSet, rtype: int, where: Where, depth: int) -> bool:
        if record.health_check:
            if self._volatile(record.health_check):
                self.repeatable = False
            if not self._healthy(record.health_check):
                return False
        if record.alias is not None and record.alias[2]:
            return self._target_healthy(record.alias, rtype, where, depth)
        return True

    def _target_healthy(
        self, alias: tuple[str, str, bool], rtype: int, where: Where, depth: int
    ) -> bool:
        """EvaluateTargetHealth: the target has at least one healthy record (an AWS resource:
        it resolves)."""
        zone = self._view().by_id.get(alias[0])
        if zone is None:
            return bool(self._service_addresses(alias[1]))
        node = zone.nodes.get(to_dns(alias[1]))
        if node is None or depth >= MAX_CHAIN:
            return False
        return any(self.healthy(s, rtype, where, depth + 1) for s in node.get(rtype, []))

    def values(
        self, record: RecordSet, rtype: int, where: Where, depth: int
    ) -> tuple[list[dns.rdata.Rdata], int]:
        """The rdatas a record stands for (an alias: what its target answers) and their TTL."""
        if record.alias is None:
            return record.rdatas, record.ttl
        zone_id, target, _ = record.alias
        target_name = to_dns(target)
        zone = self._view().by_id.get(zone_id)
        if zone is not None:
            node = zone.nodes.get(target_name) if depth < MAX_CHAIN else None
            if node is None:
                return [], 0
            rrset = self.select(zone, target_name, node.get(rtype, []), rtype, where, depth + 1)
            return ([], 0) if rrset is None else (list(rrset), rrset.ttl)
        rrset = _address_rrset(target_name, rtype, self._service_addresses(target), NAMES_TTL)
        return ([], 0) if rrset is None else (list(rrset), NAMES_TTL)

    def _service_addresses(self, target: str) -> tuple[str, ...]:
        """Where an alias to an AWS resource (load balancer, S3 website, API Gateway,
        CloudFront) points: nubes' own names, else the gateway for the services it serves."""
        addresses = self._names.resolve(target)
        if addresses is None and target.startswith("dualstack."):
            # Aliases to load balancers name them with ELB's dual-stack prefix.
            addresses = self._names.resolve(target.removeprefix("dualstack."))
        if addresses is None and ("amazonaws.com" in target or target.endswith("cloudfront.net.")):
            return ("127.0.0.1",)
        return addresses or ()

    def addresses(self, name: str) -> list[str]:
        """IPv4 addresses of a name in the public zones (health checks by domain name)."""
        qname = dns.name.from_text(name)
        outcome = self.lookup(qname, A, Where(self.default_region))
        if outcome is None:
            return []
        return [r.address for rrset in outcome.answer if rrset.rdtype == A for r in rrset]


def _fill(response: dns.message.Message, outcome: Outcome) -> None:
    response.set_rcode(outcome.rcode)
    if outcome.authoritative:
        response.flags |= dns.flags.AA
    response.answer.extend(outcome.answer)
    response.authority.extend(outcome.authority)
    response.additional.extend(outcome.additional)


def _formerr(wire: bytes) -> bytes | None:
    if len(wire) < 12:
        return None
    # Just the header back, with QR set: the query could not be parsed at all. Opcodes other
    # than QUERY (UPDATE, NOTIFY) are not implemented, whatever their content.
    flags = int.from_bytes(wire[2:4], "big")
    rcode = dns.rcode.FORMERR if (flags >> 11) & 0xF == dns.opcode.QUERY else dns.rcode.NOTIMP
    flags = (flags | 0x8000) & ~0x000F | rcode
    return wire[:2] + flags.to_bytes(2, "big") + bytes(8)


def _cut(zone: ZoneData, name: dns.name.Name) -> dns.name.Name | None:
    """The delegation point at or above ``name`` (below the apex), if any."""
    if not zone.cuts:
        return None
    while name != zone.origin:
        if name in zone.cuts:
            return name
        name = name.parent()
    return None


def _wildcard(zone: ZoneData, name: dns.name.Name) -> dict[int, list[RecordSet]] | None:
    """The records of the wildcard that covers ``name`` (RFC 4592): ``*`` under its closest
    encloser."""
    encloser = name.parent()
    while encloser not in zone.names:
        encloser = encloser.parent()
    return zone.nodes.get(dns.name.Name((b"*", *encloser.labels)))


def _add_soa(zone: ZoneData, outcome: Outcome) -> None:
    if zone.soa is None:
        return
    soa = zone.soa
    minimum = soa[0].minimum
    if soa.ttl > minimum:
        soa = dns.rrset.from_rdata_list(soa.name, minimum, list(soa))
    outcome.authority.append(soa)


def _address_rrset(
    owner: dns.name.Name, rtype: int, addresses: Any, ttl: int
) -> dns.rrset.RRset | None:
    if rtype not in (A, AAAA):
        return None
    family = 4 if rtype == A else 6
    wanted = [a for a in addresses if ipaddress.ip_address(a).version == family]
    if not wanted:
        return None
    text = "A" if rtype == A else "AAAA"
    return dns.rrset.from_rdata_list(owner, ttl, [parse_value(text, a) for a in wanted])


def _location(
    subnet: ipaddress.IPv4Network | ipaddress.IPv6Network | None,
) -> tuple[str, str | None, str | None] | None:
    if subnet is None:
        return None
    for network, where in _LOCATIONS:
        if network.version == subnet.version and subnet.network_address in network:
            return where
    return None


def _distance(origin: str, region: str) -> tuple[int, str]:
    """How far a record's region is from the query's: same region, same area, elsewhere."""
    if region == origin:
        return (0, region)
    if region.split("-")[0] == origin.split("-")[0]:
        return (1, region)
    return (2, region)
