"""The Route 53 API through boto3: hosted zones, record sets, changes, delegation sets, private
zones, tags and limits, with AWS's errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.route53.helpers import change, record


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_hosted_zone_is_created_with_ns_and_soa(
    client: Callable[..., Any], zone: dict[str, Any]
) -> None:
    r53 = client("route53")
    made = zone["made"]
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert made["Location"].endswith(zone["Id"].split("/")[-1])
    assert made["HostedZone"]["Name"] == zone["Name"] + "."
    assert made["ChangeInfo"]["Status"] == "PENDING"
    servers = made["DelegationSet"]["NameServers"]
    assert len(servers) == 4
    assert [s.rsplit(".awsdns-", 1)[1].split(".", 1)[1] for s in servers] == [
        "com",
        "net",
        "org",
        "co.uk",
    ]
    listed = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    assert [(r["Type"], r["TTL"]) for r in listed] == [("NS", 172800), ("SOA", 900)]
    assert [v["Value"] for v in listed[0]["ResourceRecords"]] == [s + "." for s in servers]
    assert listed[1]["ResourceRecords"][0]["Value"] == (
        f"{servers[0]}. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"
    )
    got = r53.get_hosted_zone(Id=zone["Id"])
    assert got["HostedZone"]["ResourceRecordSetCount"] == 2
    assert got["DelegationSet"]["NameServers"] == servers


def test_hosted_zone_errors(client: Callable[..., Any], unique: Callable[[str], str]) -> None:
    r53 = client("route53")
    reference = unique("ref")
    r53.create_hosted_zone(Name=f"{unique('z')}.example", CallerReference=reference)
    code, _ = error_of(
        r53.create_hosted_zone, Name=f"{unique('z')}.example", CallerReference=reference
    )
    assert code == "HostedZoneAlreadyExists"
    code, message = error_of(r53.get_hosted_zone, Id="ZNOSUCHZONE123")
    assert (code, message) == ("NoSuchHostedZone", "No hosted zone found with ID: ZNOSUCHZONE123")
    code, _ = error_of(r53.create_hosted_zone, Name="bad..name", CallerReference=unique("r"))
    assert code == "InvalidDomainName"


def test_delete_zone_only_when_empty(client: Callable[..., Any], zone: dict[str, Any]) -> None:
    r53 = client("route53")
    www = record(f"www.{zone['Name']}", "A", "127.0.0.1")
    change(client, zone["Id"], ("CREATE", www))
    code, message = error_of(r53.delete_hosted_zone, Id=zone["Id"])
    assert code == "HostedZoneNotEmpty"
    assert "non-required resource record sets" in message
    change(client, zone["Id"], ("DELETE", www))
    assert r53.delete_hosted_zone(Id=zone["Id"])["ChangeInfo"]["Status"] == "PENDING"
    assert error_of(r53.get_hosted_zone, Id=zone["Id"])[0] == "NoSuchHostedZone"


def test_change_batch_errors_are_listed_as_aws_words_them(
    client: Callable[..., Any], zone: dict[str, Any]
) -> None:
    z = zone["Name"]
    www = record(f"www.{z}", "A", "127.0.0.1")
    change(client, zone["Id"], ("CREATE", www))

    def failure(*changes: tuple[str, dict[str, Any]]) -> str:
        with pytest.raises(ClientError) as caught:
            change(client, zone["Id"], *changes)
        assert caught.value.response["Error"]["Code"] == "InvalidChangeBatch"
        return str(caught.value.response["Error"]["Message"])

    assert failure(("CREATE", www)) == (
        f"[Tried to create resource record set [name='www.{z}.', type='A'] but it already exists]"
    )
    assert failure(("DELETE", record(f"nope.{z}", "A", "127.0.0.1"))) == (
        f"[Tried to delete resource record set [name='nope.{z}.', type='A'] but it was not found]"
    )
    assert failure(("DELETE", record(f"www.{z}", "A", "127.0.0.2"))) == (
        f"[Tried to delete resource record set [name='www.{z}.', type='A'] but the values "
        "provided do not match the current values]"
    )
    assert failure(("CREATE", record("www.other.example", "A", "127.0.0.1"))) == (
        f"[RRSet with DNS name www.other.example. is not permitted in zone {z}.]"
    )
    assert "conflicts with other records" in failure(
        ("CREATE", record(f"www.{z}", "CNAME", "target.example"))
    )
    change(client, zone["Id"], ("CREATE", record(f"alias.{z}", "CNAME", f"www.{z}")))
    assert failure(("CREATE", record(f"alias.{z}", "TXT", '"x"'))) == (
        f"[RRSet of type TXT with DNS name alias.{z}. is not permitted because a conflicting "
        f"RRSet of type  CNAME with the same DNS name already exists in zone {z}.]"
    )
    assert failure(("CREATE", record(f"www.{z}", "A", "127.0.0.2", SetIdentifier="s",
                                     MultiValueAnswer=True))) == (
        f'[RRSet with DNS name www.{z}., type A, SetIdentifier "s" cannot be created because a '
        "non multivalue answer rrset exists with the same name and type.]"
    )  # fmt: skip
    assert "not available for records of type CNAME" in failure(
        (
            "CREATE",
            record(f"mv.{z}", "CNAME", "a.example", SetIdentifier="m", MultiValueAnswer=True),
        )
    )
    assert "ARRDATAIllegalIPv4Address" in failure(("CREATE", record(f"bad.{z}", "A", "1.2.3")))
    assert "FATAL problem: TXTRDATATooLong encountered with" in failure(
        ("CREATE", record(f"long.{z}", "TXT", '"' + "a" * 256 + '"'))
    )
    assert "Expected exactly one of [AliasTarget" in failure(
        ("CREATE", {"Name": f"x.{z}", "Type": "A"})
    )
    soa = client("route53").list_resource_record_sets(HostedZoneId=zone["Id"])[
        "ResourceRecordSets"
    ][1]
    assert failure(("DELETE", soa)) == "[A HostedZone must contain exactly one SOA record.]"
    # Two problems in one batch: both are reported, and nothing of the batch is applied.
    both = failure(
        ("CREATE", record(f"fine.{z}", "A", "127.0.0.9")),
        ("CREATE", www),
        ("DELETE", record(f"gone.{z}", "A", "127.0.0.1")),
    )
    assert both.count("Tried to") == 2
    names = [
        r["Name"]
        for r in client("route53").list_resource_record_sets(HostedZoneId=zone["Id"])[
            "ResourceRecordSets"
        ]
    ]
    assert f"fine.{z}." not in names


def test_upsert_and_delete(client: Callable[..., Any], zone: dict[str, Any]) -> None:
    z = zone["Name"]
    r53 = client("route53")
    change(client, zone["Id"], ("UPSERT", record(f"u.{z}", "A", "127.0.0.1")))
    change(client, zone["Id"], ("UPSERT", record(f"u.{z}", "A", "127.0.0.2", "127.0.0.3")))
    found = r53.list_resource_record_sets(
        HostedZoneId=zone["Id"], StartRecordName=f"u.{z}", StartRecordType="A", MaxItems="1"
    )["ResourceRecordSets"][0]
    assert [v["Value"] for v in found["ResourceRecords"]] == ["127.0.0.2", "127.0.0.3"]
    # Values in another order still match for a DELETE.
    change(client, zone["Id"], ("DELETE", record(f"u.{z}", "A", "127.0.0.3", "127.0.0.2")))
    assert r53.get_hosted_zone(Id=zone["Id"])["HostedZone"]["ResourceRecordSetCount"] == 2


def test_list_order_and_paging(client: Callable[..., Any], zone: dict[str, Any]) -> None:
    z = zone["Name"]
    r53 = client("route53")
    change(
        client,
        zone["Id"],
        ("CREATE", record(f"b.{z}", "A", "127.0.0.1")),
        ("CREATE", record(f"a.b.{z}", "TXT", '"t"')),
        ("CREATE", record(f"a.{z}", "MX", "10 mail.example.")),
        ("CREATE", record(f"a.{z}", "A", "127.0.0.1")),
        ("CREATE", record(f"w.{z}", "A", "127.0.0.1", SetIdentifier="2", Weight=1)),
        ("CREATE", record(f"w.{z}", "A", "127.0.0.2", SetIdentifier="1", Weight=1)),
    )
    everything = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    order = [(r["Name"], r["Type"], r.get("SetIdentifier")) for r in everything]
    # Sorted by name with the labels reversed, then type, then set identifier.
    assert order == [
        (f"{z}.", "NS", None),
        (f"{z}.", "SOA", None),
        (f"a.{z}.", "A", None),
        (f"a.{z}.", "MX", None),
        (f"b.{z}.", "A", None),
        (f"a.b.{z}.", "TXT", None),
        (f"w.{z}.", "A", "1"),
        (f"w.{z}.", "A", "2"),
    ]
    page = r53.list_resource_record_sets(HostedZoneId=zone["Id"], MaxItems="3")
    assert page["IsTruncated"] is True
    assert (page["NextRecordName"], page["NextRecordType"]) == (f"a.{z}.", "MX")
    pages = [page["ResourceRecordSets"]]
    while page["IsTruncated"]:
        more: dict[str, Any] = {
            "StartRecordName": page["NextRecordName"],
            "StartRecordType": page["NextRecordType"],
        }
        if "NextRecordIdentifier" in page:
            more["StartRecordIdentifier"] = page["NextRecordIdentifier"]
        page = r53.list_resource_record_sets(HostedZoneId=zone["Id"], MaxItems="3", **more)
        pages.append(page["ResourceRecordSets"])
    assert [r for p in pages for r in p] == everything
    paginator = r53.get_paginator("list_resource_record_sets")
    listed = [
        r
        for p in paginator.paginate(HostedZoneId=zone["Id"], PaginationConfig={"PageSize": 2})
        for r in p["ResourceRecordSets"]
    ]
    assert listed == everything


def test_get_change_is_insync_after_the_sync_delay(
    nubes_factory: Callable[..., Any],
) -> None:
    server = nubes_factory(persistent=False, env={"NUBES_ROUTE53_SYNC_SECONDS": "60"})
    r53 = server.client("route53")
    made = r53.create_hosted_zone(Name="sync.example", CallerReference="r")
    change_id = made["ChangeInfo"]["Id"]
    assert r53.get_change(Id=change_id)["ChangeInfo"]["Status"] == "PENDING"
    import json
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(
            server.endpoint + "/_nubes/clock",
            data=json.dumps({"advance": 61}).encode(),
            method="POST",
        )
    ).close()
    assert r53.get_change(Id=change_id)["ChangeInfo"]["Status"] == "INSYNC"
    assert error_of(r53.get_change, Id="CNOSUCHCHANGE")[0] == "NoSuchChange"


def test_zone_listings_counts_and_limits(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    r53 = client("route53")
    base = unique("list")
    ids = {}
    for label in ("b", "a", "c"):
        made = r53.create_hosted_zone(Name=f"{label}.{base}.example", CallerReference=unique("r"))
        ids[label] = made["HostedZone"]["Id"].split("/")[-1]
    by_name = r53.list_hosted_zones_by_name(DNSName=f"a.{base}.example", MaxItems="2")
    assert [z["Name"] for z in by_name["HostedZones"]] == [
        f"a.{base}.example.",
        f"b.{base}.example.",
    ]
    assert by_name["IsTruncated"] is True
    assert by_name["NextDNSName"] == f"c.{base}.example."
    assert by_name["NextHostedZoneId"] == ids["c"]
    assert r53.get_hosted_zone_count()["HostedZoneCount"] >= 3
    listed = [z["Id"] for p in r53.get_paginator("list_hosted_zones").paginate() for z in p[
        "HostedZones"]]  # fmt: skip
    assert {f"/hostedzone/{i}" for i in ids.values()} <= set(listed)
    limit = r53.get_account_limit(Type="MAX_HOSTED_ZONES_BY_OWNER")
    assert limit["Limit"]["Value"] == 500 and limit["Count"] >= 3
    zone_limit = r53.get_hosted_zone_limit(HostedZoneId=ids["a"], Type="MAX_RRSETS_BY_ZONE")
    assert zone_limit["Limit"]["Value"] == 10000 and zone_limit["Count"] == 2
    assert (
        error_of(
            r53.get_hosted_zone_limit, HostedZoneId=ids["a"], Type="MAX_VPCS_ASSOCIATED_BY_ZONE"
        )[0]
        == "HostedZoneNotPrivate"
    )


def test_reusable_delegation_set(client: Callable[..., Any], unique: Callable[[str], str]) -> None:
    r53 = client("route53")
    made = r53.create_reusable_delegation_set(CallerReference=unique("ds"))
    set_id = made["DelegationSet"]["Id"]
    servers = made["DelegationSet"]["NameServers"]
    zone = r53.create_hosted_zone(
        Name=f"{unique('z')}.example", CallerReference=unique("r"), DelegationSetId=set_id
    )
    assert zone["DelegationSet"]["NameServers"] == servers
    assert zone["DelegationSet"]["Id"] == set_id
    assert r53.get_reusable_delegation_set(Id=set_id)["DelegationSet"]["NameServers"] == servers
    assert error_of(r53.delete_reusable_delegation_set, Id=set_id)[0] == "DelegationSetInUse"
    r53.delete_hosted_zone(Id=zone["HostedZone"]["Id"])
    r53.delete_reusable_delegation_set(Id=set_id)
    assert error_of(r53.get_reusable_delegation_set, Id=set_id)[0] == "NoSuchDelegationSet"


def test_private_zone_and_vpc_associations(
    account_client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    r53 = account_client("route53")
    ec2 = account_client("ec2")
    try:
        vpc_a = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        vpc_b = ec2.create_vpc(CidrBlock="10.21.0.0/16")["Vpc"]["VpcId"]
    except ClientError:  # no EC2 in this nubes: Route 53 takes VPC ids as given
        vpc_a, vpc_b = f"vpc-{unique('a')[-8:]}", f"vpc-{unique('b')[-8:]}"
    name = f"{unique('internal')}.corp"
    made = r53.create_hosted_zone(
        Name=name,
        CallerReference=unique("r"),
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc_a},
        HostedZoneConfig={"Comment": "inside", "PrivateZone": True},
    )
    zone_id = made["HostedZone"]["Id"]
    assert made["HostedZone"]["Config"] == {"Comment": "inside", "PrivateZone": True}
    assert made["VPC"] == {"VPCRegion": "us-east-1", "VPCId": vpc_a}
    assert "DelegationSet" not in made
    apex = r53.list_resource_record_sets(HostedZoneId=made["HostedZone"]["Id"])
    ns, soa = apex["ResourceRecordSets"]
    assert [v["Value"] for v in ns["ResourceRecords"]] == [
        "ns-0.awsdns-00.com.",
        "ns-512.awsdns-00.net.",
        "ns-1024.awsdns-00.org.",
        "ns-1536.awsdns-00.co.uk.",
    ]
    assert soa["ResourceRecords"][0]["Value"].startswith("ns-1536.awsdns-00.co.uk. ")
    code, _ = error_of(
        r53.create_hosted_zone,
        Name=name,
        CallerReference=unique("r"),
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc_a},
    )
    assert code == "ConflictingDomainExists"
    r53.associate_vpc_with_hosted_zone(
        HostedZoneId=zone_id, VPC={"VPCRegion": "us-east-1", "VPCId": vpc_b}
    )
    got = r53.get_hosted_zone(Id=zone_id)
    assert sorted(v["VPCId"] for v in got["VPCs"]) == sorted([vpc_a, vpc_b])
    by_vpc = r53.list_hosted_zones_by_vpc(VPCId=vpc_b, VPCRegion="us-east-1")
    assert [z["HostedZoneId"] for z in by_vpc["HostedZoneSummaries"]] == [zone_id.split("/")[-1]]
    r53.disassociate_vpc_from_hosted_zone(
        HostedZoneId=zone_id, VPC={"VPCRegion": "us-east-1", "VPCId": vpc_b}
    )
    code, _ = error_of(
        r53.disassociate_vpc_from_hosted_zone,
        HostedZoneId=zone_id,
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc_a},
    )
    assert code == "LastVPCAssociation"
    assert r53.list_hosted_zones(HostedZoneType="PrivateHostedZone")["HostedZones"]


def test_tags_on_zones_and_health_checks(
    client: Callable[..., Any], zone: dict[str, Any], unique: Callable[[str], str]
) -> None:
    r53 = client("route53")
    zone_id = zone["Id"].split("/")[-1]
    r53.change_tags_for_resource(
        ResourceType="hostedzone",
        ResourceId=zone_id,
        AddTags=[{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "dns"}],
    )
    r53.change_tags_for_resource(
        ResourceType="hostedzone", ResourceId=zone_id, RemoveTagKeys=["team"]
    )
    tags = r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)
    assert tags["ResourceTagSet"]["Tags"] == [{"Key": "env", "Value": "test"}]
    check = r53.create_health_check(
        CallerReference=unique("hc"),
        HealthCheckConfig={"Type": "TCP", "IPAddress": "127.0.0.1", "Port": 9},
    )["HealthCheck"]["Id"]
    r53.change_tags_for_resource(
        ResourceType="healthcheck", ResourceId=check, AddTags=[{"Key": "k", "Value": "v"}]
    )
    many = r53.list_tags_for_resources(ResourceType="healthcheck", ResourceIds=[check])
    assert many["ResourceTagSets"][0]["Tags"] == [{"Key": "k", "Value": "v"}]
    code, _ = error_of(
        r53.change_tags_for_resource,
        ResourceType="hostedzone",
        ResourceId=zone_id,
        AddTags=[{"Key": f"k{i}", "Value": "v"} for i in range(10)],
    )
    assert code == "InvalidInput"
    assert (
        error_of(r53.list_tags_for_resource, ResourceType="hostedzone", ResourceId="ZNOPE")[0]
        == "NoSuchHostedZone"
    )


def test_zones_are_not_signed(client: Callable[..., Any], zone: dict[str, Any]) -> None:
    found = client("route53").get_dnssec(HostedZoneId=zone["Id"])
    assert found["Status"]["ServeSignature"] == "NOT_SIGNING"
    assert found["KeySigningKeys"] == []


def test_test_dns_answer(client: Callable[..., Any], zone: dict[str, Any]) -> None:
    z = zone["Name"]
    change(client, zone["Id"], ("CREATE", record(f"t.{z}", "A", "127.0.0.1", "127.0.0.2")))
    r53 = client("route53")
    found = r53.test_dns_answer(HostedZoneId=zone["Id"], RecordName=f"t.{z}", RecordType="A")
    assert found["ResponseCode"] == "NOERROR"
    assert sorted(found["RecordData"]) == ["127.0.0.1", "127.0.0.2"]
    assert found["Protocol"] == "UDP"
    missing = r53.test_dns_answer(HostedZoneId=zone["Id"], RecordName=f"n.{z}", RecordType="A")
    assert (missing["ResponseCode"], missing["RecordData"]) == ("NXDOMAIN", [])


def test_zones_survive_a_kill(nubes_factory: Callable[..., Any]) -> None:
    import dns.message
    import dns.query

    from tests.route53.helpers import dns_port, values

    server = nubes_factory()
    r53 = server.client("route53")
    zone_id = r53.create_hosted_zone(Name="kept.example", CallerReference="k")["HostedZone"]["Id"]
    change(lambda _service: r53, zone_id, ("CREATE", record("www.kept.example", "A", "127.0.0.8")))
    server.kill()
    server.start()
    query = dns.message.make_query("www.kept.example", "A")
    answer = dns.query.udp(query, "127.0.0.1", port=dns_port(server.endpoint), timeout=5)
    assert values(answer) == ["127.0.0.8"]
    assert server.client("route53").get_hosted_zone(Id=zone_id)["HostedZone"]["Name"] == (
        "kept.example."
    )
