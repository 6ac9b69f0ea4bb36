"""HTTPS listeners serve certificates from ACM on the load balancer's own address."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Callable
from typing import Any

import dns.message
import dns.query
import pytest
from botocore.exceptions import ClientError

from tests.elbv2.conftest import Site, eventually, settle
from tests.route53.helpers import dns_port

pytestmark = pytest.mark.clock


def test_https_listener_with_an_acm_certificate(
    client: Callable[..., Any],
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
    endpoint: str,
) -> None:
    elb, acm = client("elbv2"), client("acm")
    made = balancer([sites("a")])
    lb, tg = made["lb"], made["tg"]["TargetGroupArn"]
    settle(elb, tg, advance)
    forward = [{"Type": "forward", "TargetGroupArn": tg}]
    with pytest.raises(ClientError) as exc:
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=8443,
            Certificates=[{"CertificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/x"}],
            DefaultActions=forward,
        )
    assert exc.value.response["Error"]["Code"] == "CertificateNotFound"
    wildcard = "*." + lb["DNSName"].split(".", 1)[1]
    certificate = acm.request_certificate(DomainName=wildcard)["CertificateArn"]
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=8443,
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=forward,
    )["Listeners"][0]
    assert listener["SslPolicy"] == "ELBSecurityPolicy-2016-08"
    in_use = acm.describe_certificate(CertificateArn=certificate)["Certificate"]["InUseBy"]
    assert in_use == [lb["LoadBalancerArn"]]
    with pytest.raises(ClientError) as exc:
        acm.delete_certificate(CertificateArn=certificate)
    assert exc.value.response["Error"]["Code"] == "ResourceInUseException"

    context = ssl.create_default_context(
        cadata=acm.get_certificate(CertificateArn=certificate)["CertificateChain"]
    )
    # Clock tests share a server whose clock earlier tests moved ahead of this machine's: the
    # certificate is valid from then on, so only its chain and name are checked here
    # (OpenSSL's X509_V_FLAG_NO_CHECK_TIME, which the ssl module has no name for).
    context.verify_flags |= 0x200000
    query = dns.message.make_query(lb["DNSName"], "A")
    answer = dns.query.udp(query, "127.0.0.1", port=dns_port(endpoint), timeout=5)
    address = answer.answer[0][0].address

    def fetch() -> dict[str, Any] | None:
        try:
            raw = socket.create_connection((address, 8443), timeout=5)
            with context.wrap_socket(raw, server_hostname=lb["DNSName"]) as tls:
                tls.sendall(
                    f"GET /secure HTTP/1.1\r\nHost: {lb['DNSName']}\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                data = b""
                while chunk := tls.recv(65536):
                    data += chunk
        except OSError as exc:
            errors.append(repr(exc))
            return None
        return dict(json.loads(data.split(b"\r\n\r\n", 1)[1]))

    # The name the certificate is for is checked in the handshake.
    errors: list[str] = []
    seen = eventually(fetch)
    assert seen is not None, errors[-3:]
    assert seen["site"] == "a"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-port"] == "8443"


def test_https_targets(
    client: Callable[..., Any],
    sites: Callable[..., Site],
    balancer: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
    through: Callable[..., Any],
) -> None:
    elb = client("elbv2")
    made = balancer([sites("secure", tls=True)], Protocol="HTTPS", HealthCheckProtocol="HTTPS")
    settle(elb, made["tg"]["TargetGroupArn"], advance)
    assert through(made["lb"]["DNSName"], "/over-tls").json()["site"] == "secure"


def test_https_listener_with_an_iam_server_certificate(
    client: Callable[..., Any],
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
    endpoint: str,
    unique: Callable[..., str],
) -> None:
    from tests.acm.test_acm import self_signed

    elb, iam = client("elbv2"), client("iam")
    made = balancer([sites("a")])
    lb, tg = made["lb"], made["tg"]["TargetGroupArn"]
    settle(elb, tg, advance)
    body, key = self_signed("*." + lb["DNSName"].split(".", 1)[1])
    uploaded = iam.upload_server_certificate(
        ServerCertificateName=unique("cert"),
        CertificateBody=body.decode(),
        PrivateKey=key.decode(),
    )["ServerCertificateMetadata"]["Arn"]
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=8444,
        Certificates=[{"CertificateArn": uploaded}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    query = dns.message.make_query(lb["DNSName"], "A")
    answer = dns.query.udp(query, "127.0.0.1", port=dns_port(endpoint), timeout=5)
    address = answer.answer[0][0].address
    # Only the served certificate is compared: the shared clock server runs ahead of this
    # machine, so date checks would fail (see the ACM test).
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    def served() -> bytes | None:
        try:
            with (
                socket.create_connection((address, 8444), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname=lb["DNSName"]) as tls,
            ):
                return tls.getpeercert(binary_form=True)
        except OSError:
            return None

    assert eventually(served) == ssl.PEM_cert_to_DER_cert(body.decode())
