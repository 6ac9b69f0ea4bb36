"""ELBv2 fixtures: a VPC with subnets in two zones, local HTTP servers as IP targets, the
clock, and requests through a load balancer (nubes' port with its DNS name as Host)."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

_networks: dict[str, dict[str, Any]] = {}
BIG = 3 * 1024 * 1024
"""The size of ``/big``'s answer: large enough to be streamed through the proxy."""


@pytest.fixture
def network(client: Callable[..., Any], endpoint: str) -> dict[str, Any]:
    """{"vpc", "subnets" (zones a and b)}: one VPC per server, shared by its tests (an account
    has five VPCs per region)."""
    if endpoint not in _networks:
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"us-east-1{z}"
            )["Subnet"]["SubnetId"]
            for i, z in ((1, "a"), (2, "b"))
        ]
        _networks[endpoint] = {"vpc": vpc, "subnets": subnets}
    return _networks[endpoint]


@dataclass
class Site:
    """An HTTP server standing in for a target: answers JSON naming itself, the path and the
    headers it got; ``/status/<code>`` answers that code, ``/slow`` waits for ``release``,
    ``/close`` drops the connection; ``health`` is the code ``/health`` answers."""

    name: str
    address: str
    health: int = 200
    hits: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None
    tls: bool = False
    """Serve HTTPS (a self-signed certificate, which load balancers do not verify)."""

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def start(self) -> Site:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                received = len(self._body())
                path = self.path.split("?")[0]
                if path == "/big":
                    body = b"x" * BIG
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if path == "/health":
                    self._answer(site.health, {"health": site.health})
                    return
                site.hits += 1
                if path == "/close":
                    self.close_connection = True
                    self.wfile.write(b"not http at all\r\n\r\n")
                    return
                if path == "/slow":
                    site.release.wait(30)
                code = int(path.rsplit("/", 1)[1]) if path.startswith("/status/") else 200
                extra = [("Set-Cookie", "session=abc; Path=/")] if path == "/login" else []
                self._answer(
                    code,
                    {
                        "site": site.name,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "received": received,
                    },
                    extra,
                )

            do_POST = do_GET

            def _body(self) -> bytes:
                if "chunked" not in self.headers.get("Transfer-Encoding", ""):
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                data = b""
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    data += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return data

            def _answer(
                self, code: int, doc: dict[str, Any], extra: list[tuple[str, str]] | None = None
            ) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in extra or []:
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((self.address, 0), Handler)
        self.server.daemon_threads = True
        if self.tls:
            self.server.socket = _tls_context().wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _tls_context() -> ssl.SSLContext:
    from tests.acm.test_acm import self_signed

    cert, key = self_signed("target.internal")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        paths = [os.path.join(folder, "cert"), os.path.join(folder, "key")]
        for path, data in zip(paths, (cert, key), strict=True):
            with open(path, "wb") as out:
                out.write(data)
        context.load_cert_chain(*paths)
    return context


@pytest.fixture
def sites() -> Iterator[Callable[..., Site]]:
    started: list[Site] = []
    counter = iter(range(10, 250))

    def make(name: str, tls: bool = False) -> Site:
        site = Site(name, f"127.0.9.{next(counter)}", tls=tls).start()
        started.append(site)
        return site

    yield make
    for site in started:
        site.stop()


@pytest.fixture
def advance(endpoint: str) -> Callable[[float], None]:
    def move(seconds: float) -> None:
        req = urllib.request.Request(
            endpoint + "/_nubes/clock",
            data=json.dumps({"advance": seconds}).encode(),
            method="POST",
            headers={"content-type": "application/json"},
        )
        urllib.request.urlopen(req).read()

    return move


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture
def through(endpoint: str) -> Callable[..., Reply]:
    """``through(dns_name, "/path", port=80, method="GET", headers={...})``: a request to the
    load balancer through nubes' port, with the DNS name (and port) as Host."""
    netloc = urlsplit(endpoint).netloc

    def send(
        dns: str,
        path: str = "/",
        port: int = 80,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        conn = http.client.HTTPConnection(netloc, timeout=30)
        try:
            host = dns if port == 80 else f"{dns}:{port}"
            conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
            resp = conn.getresponse()
            return Reply(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    return send


def eventually(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Wait (real time) until ``check()`` returns something true: health probes run in the
    server once the clock has been advanced."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture
def balancer(
    client: Callable[..., Any], network: dict[str, Any], unique: Callable[[str], str]
) -> Callable[..., dict[str, Any]]:
    """``balancer(sites, **target_group_settings)``: an ALB with an HTTP:80 listener forwarding
    to a new IP target group of the given sites: {"lb", "tg", "listener"}."""
    elb = client("elbv2")

    def make(targets: list[Site], **settings: Any) -> dict[str, Any]:
        lb = elb.create_load_balancer(Name=unique("lb"), Subnets=network["subnets"])[
            "LoadBalancers"
        ][0]
        tg = target_group(elb, network, unique, targets, **settings)
        listener = elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
        )["Listeners"][0]
        return {"lb": lb, "tg": tg, "listener": listener}

    return make


def target_group(
    elb: Any,
    network: dict[str, Any],
    unique: Callable[[str], str],
    targets: list[Site],
    **settings: Any,
) -> dict[str, Any]:
    params = {
        "Name": unique("tg"),
        "Protocol": "HTTP",
        "Port": 80,
        "VpcId": network["vpc"],
        "TargetType": "ip",
        "HealthCheckPath": "/health",
        "HealthCheckIntervalSeconds": 5,
        "HealthCheckTimeoutSeconds": 2,
        "HealthyThresholdCount": 2,
        "UnhealthyThresholdCount": 2,
        **settings,
    }
    tg = elb.create_target_group(**params)["TargetGroups"][0]
    if targets:
        elb.register_targets(
            TargetGroupArn=tg["TargetGroupArn"],
            Targets=[{"Id": s.address, "Port": s.port} for s in targets],
        )
    return dict(tg)


def states(elb: Any, tg_arn: str) -> dict[str, str]:
    """Target "address:port" -> its health state."""
    found = elb.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
    return {
        f"{d['Target']['Id']}:{d['Target'].get('Port')}": d["TargetHealth"]["State"] for d in found
    }


def settle(elb: Any, tg_arn: str, advance: Callable[[float], None], want: str = "healthy") -> None:
    """Advance the clock an interval at a time until every target is in state ``want``."""
    # Health checks are real requests: on a loaded machine they need more intervals.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        advance(5)
        if eventually(lambda: set(states(elb, tg_arn).values()) == {want}, timeout=2):
            return
    raise AssertionError(f"targets never became {want}: {states(elb, tg_arn)}")
