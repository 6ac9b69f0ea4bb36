"""The DNS server answers hosted zones as an authoritative server must (dnspython as the client,
and ``dig`` too when it is installed)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

from nubes.services.route53.values import parse_value
from tests.route53.helpers import change, dns_port, record, values


def test_answer_is_authoritative_with_the_record_ttl(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    name = f"www.{zone['Name']}"
    change(client, zone["Id"], ("CREATE", record(name, "A", "127.0.0.10", ttl=123)))
    answer = ask(name, "A")
    assert answer.rcode() == dns.rcode.NOERROR
    assert answer.flags & dns.flags.AA
    assert not answer.flags & dns.flags.RA
    assert values(answer) == ["127.0.0.10"]
    assert answer.answer[0].ttl == 123


def test_nxdomain_and_nodata_carry_the_soa(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    name = f"www.{zone['Name']}"
    change(client, zone["Id"], ("CREATE", record(name, "A", "127.0.0.10")))
    missing = ask(f"nope.{zone['Name']}", "A")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.flags & dns.flags.AA
    assert not missing.answer
    soa = missing.authority[0]
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.name.to_text() == zone["Name"] + "."
    # Negative answers are cached for the smaller of the SOA's TTL and its minimum field.
    assert soa.ttl == min(900, soa[0].minimum)

    nodata = ask(name, "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR
    assert not nodata.answer
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA


def test_empty_non_terminal_is_nodata_not_nxdomain(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    change(client, zone["Id"], ("CREATE", record(f"a.b.{zone['Name']}", "A", "127.0.0.11")))
    between = ask(f"b.{zone['Name']}", "A")
    assert between.rcode() == dns.rcode.NOERROR
    assert not between.answer


def test_wildcard_is_synthesised_for_missing_names_only(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    z = zone["Name"]
    change(
        client,
        zone["Id"],
        ("CREATE", record(f"*.{z}", "A", "127.0.0.20")),
        ("CREATE", record(f"real.{z}", "A", "127.0.0.21")),
        ("CREATE", record(f"x.sub.{z}", "TXT", '"deep"')),
    )
    synthesised = ask(f"anything.{z}", "A")
    assert values(synthesised) == ["127.0.0.20"]
    assert synthesised.answer[0].name.to_text() == f"anything.{z}."
    assert values(ask(f"two.levels.{z}", "A")) == ["127.0.0.20"]
    assert values(ask(f"real.{z}", "A")) == ["127.0.0.21"]
    # A name that exists is never covered by the wildcard, even for another type.
    exists = ask(f"real.{z}", "TXT")
    assert exists.rcode() == dns.rcode.NOERROR and not exists.answer
    # "sub" exists (as an empty non-terminal), so *.{z} does not cover names under it.
    assert ask(f"other.sub.{z}", "A").rcode() == dns.rcode.NXDOMAIN
    # The wildcard record itself is listed as AWS shows it.
    names = [
        r["Name"]
        for r in client("route53").list_resource_record_sets(HostedZoneId=zone["Id"])[
            "ResourceRecordSets"
        ]
    ]
    assert f"\\052.{z}." in names


def test_cname_chain_is_followed_within_the_zone(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    z = zone["Name"]
    change(
        client,
        zone["Id"],
        ("CREATE", record(f"a.{z}", "CNAME", f"b.{z}")),
        ("CREATE", record(f"b.{z}", "CNAME", f"c.{z}")),
        ("CREATE", record(f"c.{z}", "A", "127.0.0.30")),
        ("CREATE", record(f"out.{z}", "CNAME", "elsewhere.invalid")),
    )
    answer = ask(f"a.{z}", "A")
    assert [r.rdtype for r in answer.answer] == [dns.rdatatype.CNAME] * 2 + [dns.rdatatype.A]
    assert values(answer) == ["127.0.0.30"]
    # Asking for the CNAME itself answers it without following.
    assert values(ask(f"a.{z}", "CNAME"), "CNAME") == [f"b.{z}."]
    # A target outside the zone ends the answer at the CNAME.
    outside = ask(f"out.{z}", "A")
    assert values(outside, "CNAME") == ["elsewhere.invalid."]
    assert outside.rcode() == dns.rcode.NOERROR


def test_delegation_below_the_apex_is_a_referral(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    z = zone["Name"]
    change(
        client,
        zone["Id"],
        ("CREATE", record(f"child.{z}", "NS", f"ns1.child.{z}")),
        ("CREATE", record(f"ns1.child.{z}", "A", "127.0.0.40")),
        (
            "CREATE",
            record(f"child.{z}", "DS", "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
        ),
    )
    referral = ask(f"host.child.{z}", "A")
    assert referral.rcode() == dns.rcode.NOERROR
    assert not referral.flags & dns.flags.AA
    assert not referral.answer
    assert referral.authority[0].rdtype == dns.rdatatype.NS
    assert values_of(referral.additional) == ["127.0.0.40"]
    # The DS records of the delegation are answered by the parent, authoritatively.
    ds = ask(f"child.{z}", "DS")
    assert ds.flags & dns.flags.AA
    assert len(values(ds, "DS")) == 1


def values_of(section: list[Any]) -> list[str]:
    return sorted(r.to_text() for rrset in section for r in rrset)


def test_large_answer_is_truncated_over_udp_and_complete_over_tcp(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    name = f"big.{zone['Name']}"
    many = [f'"{i:03d} {"x" * 200}"' for i in range(30)]
    change(client, zone["Id"], ("CREATE", record(name, "TXT", *many)))
    udp = ask(name, "TXT")
    assert udp.flags & dns.flags.TC
    tcp = ask(name, "TXT", tcp=True)
    assert not tcp.flags & dns.flags.TC
    assert len(values(tcp, "TXT")) == 30
    # A client announcing a large EDNS buffer gets it all over UDP.
    assert len(values(ask(name, "TXT", payload=65000), "TXT")) == 30


def test_nubes_own_names_and_other_names(ask: Any) -> None:
    s3 = ask("my-bucket.s3.localhost.localstack.cloud", "A")
    assert values(s3) == ["127.0.0.1"]
    assert s3.flags & dns.flags.AA
    assert values(ask("my-bucket.localhost", "A")) == ["127.0.0.1"]
    # Instances' public DNS names carry the loopback address nubes gave them.
    assert values(ask("ec2-127-0-3-4.compute-1.amazonaws.com", "A")) == ["127.0.3.4"]
    assert values(ask("ec2-127-1-2-3.eu-west-1.compute.amazonaws.com", "A")) == ["127.1.2.3"]
    # Private names are for the VPC's resolver only.
    assert ask("ip-10-0-1-5.ec2.internal", "A").rcode() == dns.rcode.REFUSED
    assert ask("example.org.invalid", "A").rcode() == dns.rcode.REFUSED


def test_every_record_type_is_answered(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any
) -> None:
    z = zone["Name"]
    samples = {
        "AAAA": "::1",
        "MX": f"10 mail.{z}.",
        "TXT": '"v=spf1 -all"',
        "SPF": '"v=spf1 -all"',
        "SRV": f"1 10 5269 xmpp.{z}.",
        "PTR": f"host.{z}.",
        "CAA": '0 issue "amazon.com"',
        "NAPTR": '100 10 "S" "SIP+D2U" "" _sip._udp.example.com.',
        "DS": "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
        "HTTPS": "1 . alpn=h2",
        "SVCB": "1 svc.example.com. port=8443",
        "SSHFP": "1 1 123456789abcdef67890123456789abcdef67890",
        "TLSA": "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    }
    change(
        client,
        zone["Id"],
        *(("CREATE", record(f"{t.lower()}.{z}", t, v)) for t, v in samples.items()),
    )
    for rtype, value in samples.items():
        got = values(ask(f"{rtype.lower()}.{z}", rtype), rtype)
        assert len(got) == 1, rtype
        assert got[0] == parse_value(rtype, value).to_text(), rtype


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig is not installed")
def test_dig_sees_what_an_authoritative_server_answers(
    client: Callable[..., Any], zone: dict[str, Any], endpoint: str
) -> None:
    z = zone["Name"]
    change(
        client,
        zone["Id"],
        ("CREATE", record(f"www.{z}", "A", "127.0.0.50")),
        ("CREATE", record(f"*.w.{z}", "A", "127.0.0.51")),
        ("CREATE", record(f"c.{z}", "CNAME", f"www.{z}")),
        ("CREATE", record(f"big.{z}", "TXT", *(f'"{i:03d} {"y" * 200}"' for i in range(20)))),
    )
    port = str(dns_port(endpoint))

    def dig(name: str, rtype: str = "A") -> str:
        return subprocess.run(
            ["dig", "@127.0.0.1", "-p", port, name, rtype, "+norec"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout

    found = dig(f"www.{z}")
    assert "status: NOERROR" in found and "127.0.0.50" in found and " aa" in found
    assert "status: NXDOMAIN" in dig(f"nope.{z}")
    nodata = dig(f"www.{z}", "MX")
    assert "status: NOERROR" in nodata and "ANSWER: 0" in nodata and "SOA" in nodata
    assert "127.0.0.51" in dig(f"any.w.{z}")
    chained = dig(f"c.{z}")
    assert "CNAME" in chained and "127.0.0.50" in chained
    # dig retries over TCP when the UDP answer comes back truncated.
    big = dig(f"big.{z}", "TXT")
    assert "Truncated, retrying in TCP mode" in big and "ANSWER: 20" in big


def test_zones_of_every_account_are_answered(
    endpoint: str, ask: Any, unique: Callable[[str], str]
) -> None:
    from tests.server import make_client

    name = f"{unique('shared')}.example"
    for account, address in (("111111111111", "127.0.8.1"), ("222222222222", "127.0.8.2")):
        r53 = make_client(endpoint, "route53", aws_access_key_id=account)
        own = r53.create_hosted_zone(Name=f"{account}.{name}", CallerReference=unique("r"))
        same = r53.create_hosted_zone(Name=name, CallerReference=unique("r"))
        for zone_id, owner in ((own["HostedZone"]["Id"], f"www.{account}.{name}"),
                               (same["HostedZone"]["Id"], f"www.{name}")):  # fmt: skip
            r53.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={"Changes": [
                    {"Action": "CREATE", "ResourceRecordSet": record(owner, "A", address)}
                ]},
            )  # fmt: skip
    assert values(ask(f"www.111111111111.{name}", "A")) == ["127.0.8.1"]
    assert values(ask(f"www.222222222222.{name}", "A")) == ["127.0.8.2"]
    # Two public zones of one name: the older one answers.
    assert values(ask(f"www.{name}", "A")) == ["127.0.8.1"]
