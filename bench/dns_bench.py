"""DNS server: queries per second and server CPU per query, and what the DNS port costs at start.

Starts nubes (ephemeral) with its DNS server on a fixed port, makes a hosted zone with a simple,
a weighted and a wildcard record, then sends pre-built queries over UDP with a window of
outstanding queries (so the client's cost stays small) and reads the server's CPU time from
/proc before and after.

    python bench/dns_bench.py [--queries 20000] [--window 16]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

import boto3
import dns.message
from botocore.config import Config

sys.path.insert(0, os.path.dirname(__file__))
from request_path import cpu_seconds, wait_ready

HTTP_PORT = 4612
DNS_PORT = 5398


def blast(wires: list[bytes], count: int, window: int) -> float:
    """Send ``count`` queries (cycling through ``wires``) keeping ``window`` in flight; returns
    the seconds taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.connect(("127.0.0.1", DNS_PORT))
        sent = received = 0
        start = time.perf_counter()
        while received < count:
            while sent < count and sent - received < window:
                ident = (sent & 0xFFFF).to_bytes(2, "big")
                sock.send(ident + wires[sent % len(wires)][2:])
                sent += 1
            try:
                sock.recv(4096)
            except TimeoutError:
                sent = received  # a lost datagram: send the rest again
                continue
            received += 1
        return time.perf_counter() - start


def start_server(address: str) -> tuple[subprocess.Popen[bytes], float]:
    env = {**os.environ, "NUBES_DNS_ADDRESS": address, "NUBES_LOG_LEVEL": "warning"}
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nubes.cli", "start", "--port", str(HTTP_PORT), "--ephemeral"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == b"Ready.":
            break
    return proc, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=20000)
    parser.add_argument("--window", type=int, default=16)
    args = parser.parse_args()

    starts = {}
    for label, address in (("off", "off"), ("on", f"127.0.0.1:{DNS_PORT}")):
        times = []
        for _ in range(3):
            proc, took = start_server(address)
            times.append(took)
            proc.terminate()
            proc.wait()
        starts[label] = min(times)

    proc, _ = start_server(f"127.0.0.1:{DNS_PORT}")
    try:
        wait_ready(f"http://127.0.0.1:{HTTP_PORT}/_nubes/health")
        r53 = boto3.client(
            "route53",
            endpoint_url=f"http://127.0.0.1:{HTTP_PORT}",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )
        zone = r53.create_hosted_zone(Name="bench.example", CallerReference="bench")
        zone_id = zone["HostedZone"]["Id"]

        def rr(name: str, value: str, **extra: object) -> dict[str, object]:
            return {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": name,
                    "Type": "A",
                    "TTL": 60,
                    "ResourceRecords": [{"Value": value}],
                    **extra,
                },
            }

        r53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={
                "Changes": [
                    rr("www.bench.example", "127.0.0.1"),
                    rr("w.bench.example", "127.0.0.2", SetIdentifier="a", Weight=1),
                    rr("w.bench.example", "127.0.0.3", SetIdentifier="b", Weight=3),
                    rr("*.wild.bench.example", "127.0.0.4"),
                ]
            },
        )
        cases = {
            "simple A": ("www.bench.example", "A"),
            "weighted A (1:3)": ("w.bench.example", "A"),
            "wildcard A": ("x.wild.bench.example", "A"),
            "NXDOMAIN": ("nope.bench.example", "A"),
            "nubes name (S3 host)": ("b.s3.localhost.localstack.cloud", "A"),
            "wildcard, a new name each": ("", "A"),
        }
        print(f"DNS server, {args.queries} UDP queries per case, window {args.window}")
        print(f"{'query':24s} {'queries/s':>10s} {'server CPU ms/query':>20s}")
        fresh = [
            dns.message.make_query(f"n{i}.wild.bench.example", "A").to_wire()
            for i in range(args.queries)
        ]
        for label, (name, rtype) in cases.items():
            wires = [dns.message.make_query(name, rtype).to_wire()]
            if label.startswith("wildcard, a new name"):
                wires = fresh
            else:
                blast(wires, 500, args.window)  # warm up (first query imports dnspython)
            before = cpu_seconds(proc.pid)
            took = blast(wires, args.queries, args.window)
            cpu = (cpu_seconds(proc.pid) - before) / args.queries * 1000
            print(f"{label:24s} {args.queries / took:10.0f} {cpu:20.4f}")
        print(
            f"time to Ready: DNS off {starts['off']:.3f} s, DNS on {starts['on']:.3f} s (best of 3)"
        )
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
