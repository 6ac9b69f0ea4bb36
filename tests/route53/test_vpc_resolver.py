"""The answers a VPC's resolver gives (what the EC2 runtime calls for queries from inside an
instance), names forwarded to an upstream resolver, and the DNS address setting."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable
from typing import Any

import dns.message
import dns.opcode
import dns.query
import dns.rcode

from nubes.protocol.base import ServiceError
from nubes.runtime.dns.server import parse_address
from tests.route53.helpers import change, dns_port, record, values


def _ask(answer: Callable[[bytes, str, str], bytes | None], name: str, vpc: str) -> Any:
    wire = answer(dns.message.make_query(name, "A").to_wire(), vpc, "us-east-1")
    assert wire is not None
    return dns.message.from_wire(wire)


def test_private_zone_answers_inside_its_vpc_only() -> None:
    from nubes.app import Environment
    from nubes.config import Settings

    async def scenario() -> None:
        env = Environment(Settings(ephemeral=True, port=1, dns_address="127.0.0.1:0"))
        await env.start()
        try:
            call = env.providers.invoke

            def vpc(made_up: str, cidr: str) -> str:
                try:
                    made = call(
                        "ec2", "CreateVpc", {"CidrBlock": cidr}, "000000000000", "us-east-1"
                    )
                except (ServiceError, KeyError):  # no EC2: Route 53 takes VPC ids as given
                    return made_up
                return str(made["Vpc"]["VpcId"])

            vpc_a, vpc_b = vpc("vpc-aaaa1111", "10.30.0.0/16"), vpc("vpc-bbbb2222", "10.31.0.0/16")

            def zone(name: str, vpc: str | None) -> str:
                params: dict[str, Any] = {"Name": name, "CallerReference": f"{name}-{vpc}"}
                if vpc:
                    params["VPC"] = {"VPCId": vpc, "VPCRegion": "us-east-1"}
                made = call("route53", "CreateHostedZone", params, "000000000000", "us-east-1")
                return str(made["HostedZone"]["Id"]).split("/")[-1]

            def add(zone_id: str, name: str, value: str) -> None:
                call(
                    "route53",
                    "ChangeResourceRecordSets",
                    {
                        "HostedZoneId": zone_id,
                        "ChangeBatch": {"Changes": [
                            {"Action": "CREATE", "ResourceRecordSet": record(name, "A", value)}
                        ]},
                    },
                    "000000000000",
                    "us-east-1",
                )  # fmt: skip

            add(zone("corp.internal", vpc_a), "db.corp.internal", "10.0.0.5")
            add(zone("shared.example", None), "www.shared.example", "127.0.9.1")
            add(zone("shared.example", vpc_a), "www.shared.example", "10.0.0.6")
            answer = env.providers.get("route53").resolver_for_vpc()  # type: ignore[attr-defined]

            inside = _ask(answer, "db.corp.internal", vpc_a)
            assert values(inside) == ["10.0.0.5"]
            # The private zone wins over the public one of the same name inside its VPC...
            assert values(_ask(answer, "www.shared.example", vpc_a)) == ["10.0.0.6"]
            # ...and a name it does not have is NXDOMAIN there, not looked up publicly.
            missing = _ask(answer, "api.shared.example", vpc_a)
            assert missing.rcode() == dns.rcode.NXDOMAIN
            # Another VPC sees the public zone only; private names are unknown there.
            assert values(_ask(answer, "www.shared.example", vpc_b)) == ["127.0.9.1"]
            elsewhere = _ask(answer, "db.corp.internal", vpc_b)
            assert elsewhere.rcode() == dns.rcode.REFUSED
            # Instances' private DNS names answer inside a VPC, as AmazonProvidedDNS does.
            assert values(_ask(answer, "ip-10-0-1-5.ec2.internal", vpc_b)) == ["10.0.1.5"]
        finally:
            await env.stop()

    asyncio.run(scenario())


def test_unknown_names_are_forwarded_when_configured(
    client: Callable[..., Any],
    zone: dict[str, Any],
    endpoint: str,
    nubes_factory: Callable[..., Any],
) -> None:
    change(client, zone["Id"], ("CREATE", record(f"up.{zone['Name']}", "A", "127.0.7.7")))
    upstream = f"127.0.0.1:{dns_port(endpoint)}"
    forwarding = nubes_factory(persistent=False, env={"NUBES_DNS_FORWARD": upstream})
    port = dns_port(forwarding.endpoint)
    assert f"DNS: 127.0.0.1:{port} (UDP and TCP)" in "".join(forwarding.output)

    query = dns.message.make_query(f"up.{zone['Name']}", "A")
    got = dns.query.udp(query, "127.0.0.1", port=port, timeout=5)
    assert values(got) == ["127.0.7.7"]
    over_tcp = dns.query.tcp(query, "127.0.0.1", port=port, timeout=5)
    assert values(over_tcp) == ["127.0.7.7"]
    refused = dns.query.udp(dns.message.make_query("nothing.invalid", "A"), "127.0.0.1", port=port)
    assert refused.rcode() == dns.rcode.REFUSED  # the upstream's answer, passed on


def test_dns_address_setting() -> None:
    assert parse_address("off") is None
    assert parse_address("") == ("127.0.0.1", [53, 5353])
    assert parse_address("127.0.0.1:0") == ("127.0.0.1", [0])
    assert parse_address("[::1]:5300") == ("::1", [5300])


def test_garbage_and_unsupported_queries(endpoint: str) -> None:
    port = dns_port(endpoint)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(
            b"\x12\x34" + b"\x01\x00" + b"\x00\x01" + b"\x00" * 6 + b"\xff", ("127.0.0.1", port)
        )
        reply, _ = sock.recvfrom(512)
    assert reply[:2] == b"\x12\x34"
    assert reply[3] & 0x0F == dns.rcode.FORMERR
    update = dns.message.make_query("x.example", "A")
    update.set_opcode(dns.opcode.UPDATE)
    got = dns.query.udp(update, "127.0.0.1", port=port, timeout=5)
    assert got.rcode() == dns.rcode.NOTIMP
    # Random bytes over UDP and TCP break nothing: the server answers properly afterwards.
    noise = random.Random(7)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(300):
            size = noise.randrange(0, 300)
            sock.sendto(bytes(noise.randrange(256) for _ in range(size)), ("127.0.0.1", port))
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            blob = bytes(noise.randrange(256) for _ in range(noise.randrange(0, 100)))
            conn.sendall(len(blob).to_bytes(2, "big") + blob)
    fine = dns.query.udp(dns.message.make_query("x.localhost", "A"), "127.0.0.1", port=port)
    assert fine.rcode() == dns.rcode.NOERROR


def test_system_resolver_is_read_from_resolv_conf(tmp_path: Any) -> None:
    from nubes.runtime.dns.server import system_resolver

    conf = tmp_path / "resolv.conf"
    conf.write_text("# generated\nsearch example\nnameserver 10.1.2.3\nnameserver 10.1.2.4\n")
    assert system_resolver(str(conf)) == "10.1.2.3"
    conf.write_text("nameserver fd00::53\n")
    assert system_resolver(str(conf)) == "[fd00::53]"
    assert system_resolver(str(tmp_path / "missing")) == "127.0.0.53"
