"""Helpers of the Route 53 tests: DNS port of a server, clock moves, change batches, answers."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import dns.message
import dns.rdatatype

from tests.server import free_port


def dns_port(endpoint: str) -> int:
    with urllib.request.urlopen(endpoint + "/_nubes/health", timeout=5) as resp:
        return int(json.load(resp)["dns"]["port"])


def advance_clock(endpoint: str, seconds: float) -> None:
    req = urllib.request.Request(
        endpoint + "/_nubes/clock",
        data=json.dumps({"advance": seconds}).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    urllib.request.urlopen(req, timeout=5).close()


def change(client: Callable[..., Any], zone_id: str, *changes: tuple[str, dict[str, Any]]) -> Any:
    return client("route53").change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": a, "ResourceRecordSet": r} for a, r in changes]},
    )


def values(message: dns.message.Message, rtype: str = "A") -> list[str]:
    wanted = dns.rdatatype.from_text(rtype)
    return sorted(r.to_text() for rrset in message.answer if rrset.rdtype == wanted for r in rrset)


def record(name: str, rtype: str, *vals: str, ttl: int = 60, **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": rtype,
        "TTL": ttl,
        "ResourceRecords": [{"Value": v} for v in vals],
        **extra,
    }


class Site:
    """A small HTTP server on a loopback address of its own, that can stop and come back."""

    def __init__(self, address: str, port: int, body: bytes = b"ok") -> None:
        self.address, self.port, self.body = address, port, body
        self.server: http.server.HTTPServer | None = None

    def start(self) -> Site:
        body = self.body

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.HTTPServer((self.address, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def eventually(probe: Callable[[], Any], wanted: Any, seconds: float = 15.0) -> Any:
    """Ask again until ``probe()`` gives ``wanted`` (health checks run in the background)."""
    deadline = time.monotonic() + seconds
    while True:
        got = probe()
        if got == wanted or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def health_check(client: Callable[..., Any], unique: Callable[[str], str], **config: Any) -> str:
    made = client("route53").create_health_check(
        CallerReference=unique("hc"), HealthCheckConfig=config
    )
    return str(made["HealthCheck"]["Id"])


def closed_port() -> int:
    port = free_port()
    with socket.socket() as s:  # nothing listens there once this is closed
        s.bind(("127.0.0.1", port))
    return port
