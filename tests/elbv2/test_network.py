"""Network load balancers relay TCP; load balancer metrics reach CloudWatch."""

from __future__ import annotations

import datetime
import json
import socket
import socketserver
import threading
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import dns.message
import dns.query
import pytest

from tests.elbv2.conftest import Reply, Site, eventually, settle
from tests.route53.helpers import dns_port

pytestmark = pytest.mark.clock


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(b"echo:" + data)


@pytest.fixture
def echo() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.9.250", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_network_load_balancer_relays_tcp(
    client: Callable[..., Any],
    network: dict[str, Any],
    unique: Callable[[str], str],
    echo: socketserver.ThreadingTCPServer,
    advance: Callable[[float], None],
    endpoint: str,
) -> None:
    elb = client("elbv2")
    lb = elb.create_load_balancer(
        Name=unique("nlb"), Type="network", Subnets=network["subnets"][:1]
    )["LoadBalancers"][0]
    assert lb["Type"] == "network"
    assert lb["CanonicalHostedZoneId"] == "Z26RNL4JYFTOTI"
    port = echo.server_address[1]
    tg = elb.create_target_group(
        Name=unique("tg"),
        Protocol="TCP",
        Port=port,
        VpcId=network["vpc"],
        TargetType="ip",
        HealthCheckIntervalSeconds=10,
        HealthCheckTimeoutSeconds=5,
        HealthyThresholdCount=2,
    )["TargetGroups"][0]
    assert tg["HealthCheckProtocol"] == "TCP"
    arn = tg["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.9.250"}])
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="TCP",
        Port=9099,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
    )
    settle(elb, arn, advance)
    answer = dns.query.udp(
        dns.message.make_query(lb["DNSName"], "A"), "127.0.0.1", port=dns_port(endpoint), timeout=5
    )
    address = answer.answer[0][0].address

    def talk() -> bytes | None:
        try:
            with socket.create_connection((address, 9099), timeout=5) as conn:
                conn.sendall(b"ping")
                conn.shutdown(socket.SHUT_WR)
                data = b""
                while chunk := conn.recv(100):
                    data += chunk
                return data
        except OSError:
            return None

    assert eventually(talk) == b"echo:ping"


def test_metrics_reach_cloudwatch(
    client: Callable[..., Any],
    endpoint: str,
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
    through: Callable[..., Reply],
) -> None:
    elb, cloudwatch = client("elbv2"), client("cloudwatch")
    made = balancer([sites("a")])
    settle(elb, made["tg"]["TargetGroupArn"], advance)
    for _ in range(3):
        assert through(made["lb"]["DNSName"]).status == 200
    assert through(made["lb"]["DNSName"], "/status/503").status == 503
    dimension = made["lb"]["LoadBalancerArn"].split(":loadbalancer/")[1]
    advance(120)

    def total(name: str, by_group: bool = False) -> float:
        dims = [{"Name": "LoadBalancer", "Value": dimension}]
        if by_group:
            group = made["tg"]["TargetGroupArn"].split(":")[5]
            dims.append({"Name": "TargetGroup", "Value": group})
        # The window around the server's clock, which other tests on this server move ahead.
        with urllib.request.urlopen(f"{endpoint}/_nubes/clock") as resp:
            server_now = json.load(resp)["now"]
        now = datetime.datetime.fromtimestamp(server_now, datetime.UTC) + datetime.timedelta(
            hours=1
        )
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/ApplicationELB",
            MetricName=name,
            Dimensions=dims,
            StartTime=now - datetime.timedelta(hours=23),
            EndTime=now,
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return float(sum(p["Sum"] for p in points))

    assert eventually(lambda: total("RequestCount") >= 4)
    assert total("HTTPCode_Target_2XX_Count") == 3
    assert total("HTTPCode_Target_5XX_Count") == 1
    # Host counts are per target group, as AWS publishes them.
    healthy = eventually(lambda: total("HealthyHostCount", by_group=True))
    assert healthy >= 1


class _UdpEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(b"udp:" + data, self.client_address)


def test_tcp_udp_listener_relays_datagrams(
    client: Callable[..., Any],
    network: dict[str, Any],
    unique: Callable[[str], str],
    advance: Callable[[float], None],
    endpoint: str,
) -> None:
    # One port number for both: the TCP echo answers the health check, the UDP echo the flows.
    udp = socketserver.ThreadingUDPServer(("127.0.9.251", 0), _UdpEcho)
    port = udp.server_address[1]
    tcp = socketserver.ThreadingTCPServer(("127.0.9.251", port), _Echo)
    for server in (udp, tcp):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        elb = client("elbv2")
        lb = elb.create_load_balancer(
            Name=unique("nlb"), Type="network", Subnets=network["subnets"][:1]
        )["LoadBalancers"][0]
        arn = elb.create_target_group(
            Name=unique("tg"),
            Protocol="TCP_UDP",
            Port=port,
            VpcId=network["vpc"],
            TargetType="ip",
            HealthCheckProtocol="TCP",
            HealthCheckIntervalSeconds=10,
            HealthCheckTimeoutSeconds=5,
            HealthyThresholdCount=2,
        )["TargetGroups"][0]["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.9.251"}])
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TCP_UDP",
            Port=9053,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
        )
        settle(elb, arn, advance)
        answer = dns.query.udp(
            dns.message.make_query(lb["DNSName"], "A"),
            "127.0.0.1",
            port=dns_port(endpoint),
            timeout=5,
        )
        address = answer.answer[0][0].address

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(1)

            def ask(data: bytes) -> bytes | None:
                sock.sendto(data, (address, 9053))
                try:
                    reply, source = sock.recvfrom(100)
                except OSError:
                    return None
                assert source == (address, 9053)
                return reply

            assert eventually(lambda: ask(b"one")) == b"udp:one"
            # The same client's next datagram goes through its flow.
            assert ask(b"two") == b"udp:two"
    finally:
        for server in (udp, tcp):
            server.shutdown()
            server.server_close()
