"""ChangeResourceRecordSets: a change batch is checked as a whole and applied all or nothing.

Each change is checked on its own (name in the zone, record shape, values), then applied in
order to a working copy of the zone's record sets (CREATE / DELETE / UPSERT), then the result is
checked as a zone (CNAME conflicts, mixed routing policies, the apex SOA and NS, alias targets).
Every problem found becomes one message of the ``InvalidChangeBatch`` error, as AWS lists them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from nubes.services.route53.params import bare_id
from nubes.services.route53.records import BadName, check, describe, in_zone, presentation

Key = tuple[str, str, str]
"""(plain name, type, set identifier or '')."""

POLICY_FIELDS = (
    "Weight",
    "Region",
    "GeoLocation",
    "Failover",
    "MultiValueAnswer",
    "CidrRoutingConfig",
    "GeoProximityLocation",
)
MAX_VALUES_PER_CHANGE_BATCH = 1000
MAX_RRSETS_PER_ZONE = 10_000
CONTINENTS = frozenset(("AF", "AN", "AS", "EU", "OC", "NA", "SA"))


def key_of(record: dict[str, Any]) -> Key:
    return record["Name"], record["Type"], record.get("SetIdentifier") or ""


def policy_of(record: dict[str, Any]) -> str:
    for name in POLICY_FIELDS:
        if name in record:
            return name
    return "Simple"


def normalise(record: dict[str, Any]) -> dict[str, Any]:
    """The record as kept: plain names, AWS's defaults, nothing the request left out added."""
    out = {k: v for k, v in record.items() if v is not None}
    out["Name"] = check(record["Name"])
    alias = out.get("AliasTarget")
    if alias is not None:
        out["AliasTarget"] = {
            "HostedZoneId": bare_id(alias["HostedZoneId"]),
            "DNSName": check(alias["DNSName"]),
            "EvaluateTargetHealth": bool(alias.get("EvaluateTargetHealth", False)),
        }
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def canon(r: dict[str, Any]) -> dict[str, Any]:
        c = dict(r)
        if "ResourceRecords" in c:
            c["ResourceRecords"] = sorted(v["Value"] for v in c["ResourceRecords"])
        return c

    return canon(a) == canon(b)


def _shape_problem(change: dict[str, Any], record: dict[str, Any]) -> str | None:
    has_alias = "AliasTarget" in record
    has_values = "ResourceRecords" in record or "TTL" in record
    has_policy_instance = "TrafficPolicyInstanceId" in record
    found = sum((has_alias, has_values, has_policy_instance))
    if found != 1 or (has_values and not ("ResourceRecords" in record and "TTL" in record)):
        which = "none" if found == 0 else "more than one"
        if found == 1:
            missing = "ResourceRecords" if "TTL" in record else "TTL"
            return f"Invalid request: Expected {missing} to be present along with the other"
        set_id = record.get("SetIdentifier")
        return (
            "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and "
            f"ResourceRecords], or TrafficPolicyInstanceId], but found {which} in Change with "
            f"[Action={change['Action']}, Name={presentation(record['Name'])}, "
            f"Type={record['Type']}, SetIdentifier={set_id if set_id is not None else 'null'}]"
        )
    policy = [f for f in POLICY_FIELDS if f in record]
    if len(policy) > 1:
        return (
            f"Invalid request: a record set can use one routing policy, found {', '.join(policy)} "
            f"in {describe(record)}"
        )
    if policy and record.get("SetIdentifier") is None:
        return f"Invalid request: Missing field 'SetIdentifier' in Change with {describe(record)}"
    if not policy and record.get("SetIdentifier") is not None:
        return (
            "Invalid request: Missing field 'Weight', 'Region', 'GeoLocation', 'Failover', "
            f"'MultiValueAnswer' or 'CidrRoutingConfig' in Change with {describe(record)}"
        )
    geo = record.get("GeoLocation")
    if geo is not None:
        problem = _geo_problem(geo)
        if problem:
            return problem
    if record.get("MultiValueAnswer") is False:
        return f"Invalid request: MultiValueAnswer must be true in {describe(record)}"
    if record.get("MultiValueAnswer") and (has_alias or record["Type"] in ("NS", "CNAME")):
        what = "alias records" if has_alias else f"records of type {record['Type']}"
        return f"Invalid request: multivalue answer routing is not available for {what}"
    if has_values:
        from nubes.services.route53.values import values_problem

        if not record["ResourceRecords"]:
            return f"Invalid request: ResourceRecords is empty in {describe(record)}"
        return values_problem(record["Type"], [v["Value"] for v in record["ResourceRecords"]])
    return None


def _cidr_problem(
    record: dict[str, Any], cidr_locations: Callable[[str], set[str] | None]
) -> str | None:
    config = record.get("CidrRoutingConfig")
    if config is None:
        return None
    locations = cidr_locations(config["CollectionId"])
    if locations is None:
        return f"Invalid request: the CIDR collection {config['CollectionId']} does not exist"
    if config["LocationName"] != "*" and config["LocationName"] not in locations:
        return (
            f"Invalid request: the CIDR collection {config['CollectionId']} has no location "
            f"{config['LocationName']}"
        )
    return None


def _geo_problem(geo: dict[str, Any]) -> str | None:
    continent, country = geo.get("ContinentCode"), geo.get("CountryCode")
    subdivision = geo.get("SubdivisionCode")
    if continent is not None and (country is not None or subdivision is not None):
        return "Invalid request: specify either ContinentCode or CountryCode, not both"
    if continent is None and country is None:
        return "Invalid request: GeoLocation needs a ContinentCode or a CountryCode"
    if continent is not None and continent not in CONTINENTS:
        return f"Value '{continent}' at 'continentCode' failed to satisfy constraint"
    if subdivision is not None and country != "US" and country != "UA":
        return "Invalid request: SubdivisionCode is only valid with CountryCode US or UA"
    return None


POLICY_WORDS = {
    "Simple": "simple",
    "Weight": "weighted",
    "Region": "latency",
    "GeoLocation": "geolocation",
    "Failover": "failover",
    "MultiValueAnswer": "multivalue answer",
    "CidrRoutingConfig": "IP-based",
    "GeoProximityLocation": "geoproximity",
}


def _policy_problems(
    shown: str, rtype: str, sets: list[dict[str, Any]], before: dict[Key, dict[str, Any]]
) -> list[str]:
    """Record sets of one name and type must share a routing policy (one simple set at most)."""
    policies = {policy_of(r) for r in sets}
    if len(policies) == 1 and not ("Simple" in policies and len(sets) > 1):
        return []
    kept = [r for r in sets if before.get(key_of(r)) is r]
    new = [r for r in sets if before.get(key_of(r)) is not r]
    other = kept[0] if kept else sets[0]
    out = []
    for record in new or sets[1:]:
        if record is other:
            continue
        words = POLICY_WORDS[policy_of(record)]
        if record.get("SetIdentifier") is not None:
            out.append(
                f"RRSet with DNS name {shown}, type {rtype}, SetIdentifier "
                f'"{record["SetIdentifier"]}" cannot be created because a non {words} rrset '
                "exists with the same name and type."
            )
        else:
            out.append(
                f"RRSet with DNS name {shown}, type {rtype} cannot be created because a "
                f"{POLICY_WORDS[policy_of(other)]} rrset exists with the same name and type."
            )
    return out


def apply_batch(
    zone_name: str,
    zone_id: str,
    current: list[dict[str, Any]],
    changes: list[dict[str, Any]],
    other_zone_records: Any,
    cidr_locations: Callable[[str], set[str] | None],
) -> tuple[dict[Key, dict[str, Any]], list[str]]:
    """The zone's record sets after ``changes``, and the problems found (empty: all good).

    ``other_zone_records(zone_id, name)`` says, for another zone of the account (alias targets
    may live there), whether ``name`` lies within it and its record sets of that name; None when
    ``zone_id`` is no zone of the account. ``cidr_locations(collection id)`` gives the locations
    of a CIDR collection of the account (None: no such collection)."""
    records = {key_of(r): r for r in current}
    problems: list[str] = []
    values = 0
    for change in changes:
        raw = change["ResourceRecordSet"]
        try:
            record = normalise(raw)
        except BadName:
            problems.append(f"Invalid request: the name '{raw['Name']}' is not a valid DNS name")
            continue
        name = record["Name"]
        if not in_zone(name, zone_name):
            problems.append(
                f"RRSet with DNS name {presentation(name)} is not permitted in zone "
                f"{presentation(zone_name)}"
            )
            continue
        problem = _shape_problem(change, record) or _cidr_problem(record, cidr_locations)
        if problem:
            problems.append(problem)
            continue
        values += len(record.get("ResourceRecords", ()))
        key = key_of(record)
        existing = records.get(key)
        action = change["Action"]
        if action == "CREATE":
            if existing is not None:
                problems.append(
                    f"Tried to create resource record set {describe(record)} but it already exists"
                )
                continue
            records[key] = record
        elif action == "DELETE":
            if existing is None:
                problems.append(
                    f"Tried to delete resource record set {describe(record)} but it was not found"
                )
                continue
            if not _same(existing, record):
                problems.append(
                    f"Tried to delete resource record set {describe(record)} but the values "
                    "provided do not match the current values"
                )
                continue
            del records[key]
        else:
            records[key] = record
    if values > MAX_VALUES_PER_CHANGE_BATCH:
        problems.append(
            f"Number of records in the change batch exceeds the limit of "
            f"{MAX_VALUES_PER_CHANGE_BATCH}"
        )
    if not problems:
        before = {key_of(r): r for r in current}
        problems.extend(_zone_problems(zone_name, zone_id, records, before, other_zone_records))
    return records, problems


def _zone_problems(
    zone_name: str,
    zone_id: str,
    records: dict[Key, dict[str, Any]],
    before: dict[Key, dict[str, Any]],
    other_zone_records: Any,
) -> list[str]:
    problems: list[str] = []
    zone_shown = presentation(zone_name)
    by_name: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for (name, rtype, _), record in records.items():
        by_name[name][rtype].append(record)
    apex = by_name.get(zone_name, {})
    if len(apex.get("SOA", ())) != 1:
        problems.append("A HostedZone must contain exactly one SOA record.")
    if not apex.get("NS"):
        problems.append("A HostedZone must contain at least one NS record for the zone itself.")
    if "CNAME" in apex:
        problems.append(
            f"RRSet of type CNAME with DNS name {zone_shown} is not permitted at apex in zone "
            f"{zone_shown}"
        )
    for name, types in by_name.items():
        shown = presentation(name)
        if "CNAME" in types and len(types) > 1:
            cname_kept = any(before.get(key_of(r)) is r for r in types["CNAME"])
            if cname_kept:
                for rtype in sorted(set(types) - {"CNAME"}):
                    problems.append(
                        f"RRSet of type {rtype} with DNS name {shown} is not permitted because a "
                        f"conflicting RRSet of type  CNAME with the same DNS name already exists "
                        f"in zone {zone_shown}"
                    )
            else:
                problems.append(
                    f"RRSet of type CNAME with DNS name {shown} is not permitted as it conflicts "
                    f"with other records with the same DNS name in zone {zone_shown}"
                )
        for rtype, sets in types.items():
            problems.extend(_policy_problems(shown, rtype, sets, before))
            collections = {r["CidrRoutingConfig"]["CollectionId"] for r in sets
                           if "CidrRoutingConfig" in r}  # fmt: skip
            if len(collections) > 1:
                problems.append(
                    f"RRSet with DNS name {shown}, type {rtype} uses more than one CIDR "
                    "collection: all its IP-based records must use the same one."
                )
            failovers = [r["Failover"] for r in sets if "Failover" in r]
            for role in ("PRIMARY", "SECONDARY"):
                if failovers.count(role) > 1:
                    problems.append(
                        f"RRSet with DNS name {shown}, type {rtype} has more than one {role} "
                        "failover record set."
                    )
    if len(records) > MAX_RRSETS_PER_ZONE:
        problems.append(
            f"The hosted zone {zone_id} would exceed its limit of {MAX_RRSETS_PER_ZONE} record "
            "sets."
        )
    for record in records.values():
        alias = record.get("AliasTarget")
        if alias is None:
            continue
        target, target_zone = alias["DNSName"], alias["HostedZoneId"]
        if target_zone == zone_id:
            within = in_zone(target, zone_name)
            found = any(k[0] == target and k[1] == record["Type"] for k in records)
        else:
            in_account = other_zone_records(target_zone, target)
            if in_account is None:
                continue  # a zone of an AWS service (ELB, S3 website, API Gateway, CloudFront)
            within, targets = in_account
            found = any(r["Type"] == record["Type"] for r in targets)
        start = (
            f"Tried to create an alias that targets {presentation(target)}, type "
            f"{record['Type']} in zone {target_zone}, but "
        )
        if not within:
            problems.append(start + "the alias target name does not lie within the target zone")
        elif not found:
            problems.append(start + "that target was not found")
    return problems
