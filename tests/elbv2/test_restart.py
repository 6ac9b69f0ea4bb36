"""A load balancer outlives the server: records, target health, DNS name and listeners come
back after a restart (and after kill -9)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from typing import Any

from nubes.testing.server import NubesProcess
from tests.elbv2.conftest import Site, eventually, target_group


def _get(endpoint: str, host: str) -> dict[str, Any] | None:
    conn = http.client.HTTPConnection(endpoint.split("//", 1)[1], timeout=10)
    try:
        conn.request("GET", "/again", headers={"Host": host})
        response = conn.getresponse()
        body = response.read()
        return dict(json.loads(body)) if response.status == 200 else None
    finally:
        conn.close()


def _advance(server: NubesProcess, seconds: float) -> None:
    import urllib.request

    req = urllib.request.Request(
        server.endpoint + "/_nubes/clock",
        data=json.dumps({"advance": seconds}).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    urllib.request.urlopen(req).read()


def test_load_balancer_survives_a_restart(
    nubes_factory: Callable[..., NubesProcess],
    sites: Callable[[str], Site],
    unique: Callable[[str], str],
) -> None:
    server = nubes_factory()
    ec2, elb = server.client("ec2"), server.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    lb = elb.create_load_balancer(Name=unique("lb"), Subnets=subnets)["LoadBalancers"][0]
    tg = target_group(elb, {"vpc": vpc}, unique, [sites("a")])["TargetGroupArn"]
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )

    def healthy() -> bool:
        _advance(server, 5)
        found = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        return found[0]["TargetHealth"]["State"] == "healthy"

    assert eventually(healthy)
    assert _get(server.endpoint, lb["DNSName"]) is not None
    server.kill()  # kill -9: what was answered is committed
    server.start()
    elb = server.client("elbv2")
    found = elb.describe_load_balancers(Names=[lb["LoadBalancerName"]])["LoadBalancers"][0]
    assert found["DNSName"] == lb["DNSName"]
    health = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert health[0]["TargetHealth"]["State"] == "healthy"
    seen = eventually(lambda: _get(server.endpoint, lb["DNSName"]))
    assert seen is not None and seen["site"] == "a"


def test_reset_forgets_load_balancers_and_their_names(
    nubes_factory: Callable[..., NubesProcess], unique: Callable[[str], str]
) -> None:
    import urllib.request

    import dns.message
    import dns.query

    from tests.route53.helpers import dns_port

    server = nubes_factory(persistent=False)
    ec2, elb = server.client("ec2"), server.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.31.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    lb = elb.create_load_balancer(Name=unique("lb"), Subnets=subnets)["LoadBalancers"][0]

    def address() -> str:
        query = dns.message.make_query(lb["DNSName"], "A")
        answer = dns.query.udp(query, "127.0.0.1", port=dns_port(server.endpoint), timeout=5)
        return str(answer.answer[0][0].address)

    assert address().startswith("127.15.")
    urllib.request.urlopen(urllib.request.Request(server.endpoint + "/_nubes/reset", method="POST"))
    assert elb.describe_load_balancers()["LoadBalancers"] == []
    # Gone: the name falls back to what every name under localhost.localstack.cloud is.
    assert address() == "127.0.0.1"
