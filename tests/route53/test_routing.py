"""Routing policies answered by the DNS server: failover on real health checks, weighted,
multivalue, latency (EDNS region option), geolocation (EDNS client subnet), alias records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import dns.edns
import dns.rcode
import pytest

from nubes.runtime.dns.resolver import REGION_OPTION
from tests.route53.helpers import (
    Site,
    advance_clock,
    change,
    closed_port,
    eventually,
    health_check,
    record,
    values,
)
from tests.server import free_port


@pytest.mark.clock
def test_failover_follows_the_primary_health_check(
    client: Callable[..., Any],
    zone: dict[str, Any],
    ask: Any,
    endpoint: str,
    unique: Callable[[str], str],
    sites: Callable[..., Site],
) -> None:
    port = free_port()
    primary = sites("127.0.0.61", port, b"primary")
    sites("127.0.0.62", port, b"secondary")
    interval, threshold = 10, 2
    check = health_check(
        client,
        unique,
        Type="HTTP",
        IPAddress="127.0.0.61",
        Port=port,
        ResourcePath="/health",
        RequestInterval=interval,
        FailureThreshold=threshold,
    )
    name = f"app.{zone['Name']}"
    change(
        client,
        zone["Id"],
        ("CREATE", record(name, "A", "127.0.0.61", SetIdentifier="one", Failover="PRIMARY",
                          HealthCheckId=check)),
        ("CREATE", record(name, "A", "127.0.0.62", SetIdentifier="two", Failover="SECONDARY")),
    )  # fmt: skip
    route53 = client("route53")

    def answered() -> list[str]:
        return values(ask(name, "A"))

    def checked_ok() -> bool:
        found = route53.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"]
        return bool(found) and found[0]["StatusReport"]["Status"].startswith("Success")

    assert eventually(checked_ok, True)
    assert answered() == ["127.0.0.61"]

    primary.stop()
    advance_clock(endpoint, interval * threshold)
    assert eventually(answered, ["127.0.0.62"]) == ["127.0.0.62"]
    reason = route53.get_health_check_last_failure_reason(HealthCheckId=check)
    assert reason["HealthCheckObservations"][0]["StatusReport"]["Status"].startswith("Failure")

    sites("127.0.0.61", port, b"primary")
    advance_clock(endpoint, interval * threshold)
    assert eventually(answered, ["127.0.0.61"]) == ["127.0.0.61"]


def test_weighted_records_answer_in_proportion(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    name = f"w.{zone['Name']}"
    change(
        client,
        zone["Id"],
        ("CREATE", record(name, "A", "127.0.0.71", SetIdentifier="light", Weight=1)),
        ("CREATE", record(name, "A", "127.0.0.72", SetIdentifier="heavy", Weight=3)),
    )
    counts = Counter(values(ask(name, "A"))[0] for _ in range(1000))
    assert abs(counts["127.0.0.71"] - 250) <= 50
    assert counts["127.0.0.71"] + counts["127.0.0.72"] == 1000


def test_zero_weight_answers_only_when_nothing_else_can(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    name = f"w0.{zone['Name']}"
    change(
        client,
        zone["Id"],
        ("CREATE", record(name, "A", "127.0.0.73", SetIdentifier="off", Weight=0)),
        ("CREATE", record(name, "A", "127.0.0.74", SetIdentifier="on", Weight=5)),
    )
    assert {values(ask(name, "A"))[0] for _ in range(50)} == {"127.0.0.74"}


def test_multivalue_answers_only_healthy_values(
    client: Callable[..., Any],
    zone: dict[str, Any],
    ask: Any,
    unique: Callable[[str], str],
    sites: Callable[..., Site],
) -> None:
    up = sites("127.0.0.81", free_port())
    down_port = closed_port()
    healthy = health_check(
        client, unique, Type="TCP", IPAddress="127.0.0.81", Port=up.port, FailureThreshold=1
    )
    broken = health_check(
        client, unique, Type="TCP", IPAddress="127.0.0.82", Port=down_port, FailureThreshold=1
    )
    name = f"mv.{zone['Name']}"
    change(
        client,
        zone["Id"],
        ("CREATE", record(name, "A", "127.0.0.81", SetIdentifier="a", MultiValueAnswer=True,
                          HealthCheckId=healthy)),
        ("CREATE", record(name, "A", "127.0.0.82", SetIdentifier="b", MultiValueAnswer=True,
                          HealthCheckId=broken)),
        ("CREATE", record(name, "A", "127.0.0.83", SetIdentifier="c", MultiValueAnswer=True)),
    )  # fmt: skip
    wanted = ["127.0.0.81", "127.0.0.83"]
    assert eventually(lambda: values(ask(name, "A")), wanted) == wanted
    for _ in range(20):
        assert values(ask(name, "A")) == wanted


def test_multivalue_answers_at_most_eight(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    name = f"mv8.{zone['Name']}"
    change(
        client,
        zone["Id"],
        *(
            ("CREATE", record(name, "A", f"127.0.1.{i}", SetIdentifier=f"s{i}",
                              MultiValueAnswer=True))
            for i in range(12)
        ),
    )  # fmt: skip
    seen: set[str] = set()
    for _ in range(30):
        got = values(ask(name, "A"))
        assert len(got) == 8
        seen.update(got)
    assert len(seen) > 8


def test_latency_record_of_the_query_region(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    name = f"lat.{zone['Name']}"
    change(
        client,
        zone["Id"],
        ("CREATE", record(name, "A", "127.0.0.91", SetIdentifier="use1", Region="us-east-1")),
        ("CREATE", record(name, "A", "127.0.0.92", SetIdentifier="euw1", Region="eu-west-1")),
        ("CREATE", record(name, "A", "127.0.0.93", SetIdentifier="apne1",
                          Region="ap-northeast-1")),
    )  # fmt: skip

    def from_region(region: str) -> list[str]:
        option = dns.edns.GenericOption(REGION_OPTION, region.encode())
        return values(ask(name, "A", options=[option]))

    assert values(ask(name, "A")) == ["127.0.0.91"]  # the server's default region
    assert from_region("eu-west-1") == ["127.0.0.92"]
    assert from_region("eu-central-1") == ["127.0.0.92"]  # nearest: same area
    assert from_region("ap-northeast-1") == ["127.0.0.93"]


def test_geolocation_by_client_subnet(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    name = f"geo.{zone['Name']}"
    change(
        client,
        zone["Id"],
        ("CREATE", record(name, "A", "127.0.2.1", SetIdentifier="eu",
                          GeoLocation={"ContinentCode": "EU"})),
        ("CREATE", record(name, "A", "127.0.2.2", SetIdentifier="us",
                          GeoLocation={"CountryCode": "US"})),
        ("CREATE", record(name, "A", "127.0.2.3", SetIdentifier="wa",
                          GeoLocation={"CountryCode": "US", "SubdivisionCode": "WA"})),
        ("CREATE", record(name, "A", "127.0.2.4", SetIdentifier="default",
                          GeoLocation={"CountryCode": "*"})),
    )  # fmt: skip

    def from_subnet(address: str) -> list[str]:
        return values(ask(name, "A", options=[dns.edns.ECSOption(address, 24)]))

    assert from_subnet("198.51.100.7") == ["127.0.2.1"]  # Germany: Europe
    assert from_subnet("192.0.2.7") == ["127.0.2.3"]  # Washington, US
    assert from_subnet("203.0.113.7") == ["127.0.2.4"]  # Japan: only the default covers it
    assert values(ask(name, "A")) == ["127.0.2.4"]  # no client subnet


def test_alias_to_a_record_in_the_zone_and_evaluate_target_health(
    client: Callable[..., Any],
    zone: dict[str, Any],
    ask: Any,
    unique: Callable[[str], str],
) -> None:
    z, zone_id = zone["Name"], zone["Id"].split("/")[-1]
    broken = health_check(
        client, unique, Type="TCP", IPAddress="127.0.0.1", Port=closed_port(), FailureThreshold=1
    )
    change(
        client,
        zone["Id"],
        ("CREATE", record(f"target.{z}", "A", "127.0.3.1", ttl=77)),
        ("CREATE", record(f"sick.{z}", "A", "127.0.3.2", HealthCheckId=broken,
                          SetIdentifier="p", Failover="PRIMARY")),
        ("CREATE", {"Name": f"alias.{z}", "Type": "A", "AliasTarget": {
            "HostedZoneId": zone_id, "DNSName": f"target.{z}", "EvaluateTargetHealth": False}}),
        ("CREATE", {"Name": f"fo.{z}", "Type": "A", "SetIdentifier": "p", "Failover": "PRIMARY",
                    "AliasTarget": {"HostedZoneId": zone_id, "DNSName": f"sick.{z}",
                                    "EvaluateTargetHealth": True}}),
        ("CREATE", record(f"fo.{z}", "A", "127.0.3.3", SetIdentifier="s", Failover="SECONDARY")),
    )  # fmt: skip
    alias = ask(f"alias.{z}", "A")
    assert values(alias) == ["127.0.3.1"]
    assert alias.answer[0].name.to_text() == f"alias.{z}."
    assert alias.answer[0].ttl == 77  # an alias answers with its target's TTL
    # The primary aliases a record whose health check fails: the secondary answers.
    assert eventually(lambda: values(ask(f"fo.{z}", "A")), ["127.0.3.3"]) == ["127.0.3.3"]


def test_alias_to_an_s3_website_endpoint(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    z = zone["Name"]
    change(
        client,
        zone["Id"],
        ("CREATE", {"Name": f"www.{z}", "Type": "A", "AliasTarget": {
            "HostedZoneId": "Z3AQBSTGFYJSTF", "DNSName": "s3-website-us-east-1.amazonaws.com",
            "EvaluateTargetHealth": False}}),
    )  # fmt: skip
    assert values(ask(f"www.{z}", "A")) == ["127.0.0.1"]


def test_alias_to_an_application_load_balancer(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    elb = client("elbv2")
    ec2 = client("ec2")
    # The default VPC's subnets: a VPC of the test's own would count against the shared
    # server's five per region.
    defaults = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    by_zone = sorted(defaults["Subnets"], key=lambda s: str(s["AvailabilityZone"]))
    subnets = [s["SubnetId"] for s in by_zone[:2]]
    lb = elb.create_load_balancer(Name=f"lb-{zone['Name'][:8]}", Subnets=subnets)["LoadBalancers"][
        0
    ]
    change(
        client,
        zone["Id"],
        ("CREATE", {"Name": f"app.{zone['Name']}", "Type": "A", "AliasTarget": {
            "HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": lb["DNSName"],
            "EvaluateTargetHealth": True}}),
    )  # fmt: skip
    assert values(ask(f"app.{zone['Name']}", "A"))
    assert values(ask(f"app.{zone['Name']}", "A")) == values(ask(lb["DNSName"], "A"))
    assert ask(lb["DNSName"], "A").rcode() == dns.rcode.NOERROR
