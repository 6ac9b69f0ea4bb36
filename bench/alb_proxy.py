"""ALB data plane: requests per second and latency through an application load balancer
against the same target directly, and nubes' server CPU per proxied request.

The target is a minimal keep-alive HTTP server in a process of its own (its CPU is not
counted); clients are keep-alive connections, one thread each. Three paths: the target
directly, the listener bound on the load balancer's own address, and nubes' port with the
load balancer's DNS name as Host (the gateway's interceptor).

    python bench/alb_proxy.py [--requests 4000] [--connections 4]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import dns.message
import dns.query

from nubes.testing.server import NubesProcess, free_port

TARGET = r"""
import asyncio, sys
BODY = b"ok"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\n" + BODY
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(
    address: str, port: int, host: str, requests: int, connections: int
) -> tuple[float, list[float]]:
    """(requests per second, per-request latencies in ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    each = requests // connections

    def client() -> None:
        conn = http.client.HTTPConnection(address, port, timeout=30)
        mine: list[float] = []
        for _ in range(each):
            started = time.perf_counter()
            conn.request("GET", "/bench", headers={"Host": host})
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            mine.append((time.perf_counter() - started) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    wall = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.perf_counter() - wall), latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    target_port = free_port()
    target = subprocess.Popen(
        [sys.executable, "-c", TARGET, str(target_port)], stdout=subprocess.PIPE, text=True
    )
    server = NubesProcess(env={"NUBES_LOG_LEVEL": "warning"}).start()
    try:
        assert target.stdout is not None and target.stdout.readline().strip() == "ready"
        ec2, elb = server.client("ec2"), server.client("elbv2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}"
            )["Subnet"]["SubnetId"]
            for i, z in ((1, "a"), (2, "b"))
        ]
        lb = elb.create_load_balancer(Name="bench", Subnets=subnets)["LoadBalancers"][0]
        tg = elb.create_target_group(
            Name="bench", Protocol="HTTP", Port=target_port, VpcId=vpc, TargetType="ip",
            HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
        )["TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1"}])
        listener_port = free_port()
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=listener_port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
        )  # fmt: skip
        for _ in range(20):
            req = urllib.request.Request(
                server.endpoint + "/_nubes/clock", data=json.dumps({"advance": 5}).encode(),
                method="POST", headers={"content-type": "application/json"},
            )  # fmt: skip
            urllib.request.urlopen(req).read()
            time.sleep(0.2)
            health = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
            if health[0]["TargetHealth"]["State"] == "healthy":
                break
        address = _address(server.endpoint, str(lb["DNSName"]))
        pid = server.proc.pid if server.proc else 0
        gateway_port = int(server.endpoint.rsplit(":", 1)[1])
        named = f"{lb['DNSName']}:{listener_port}"
        paths = [
            ("target directly", "127.0.0.1", target_port, "127.0.0.1"),
            ("ALB listener (own address)", address, listener_port, lb["DNSName"]),
            ("ALB through nubes' port (Host)", "127.0.0.1", gateway_port, named),
        ]
        for name, host, port, host_header in paths:
            load(host, port, host_header, 200, args.connections)  # warm up
            before = cpu_seconds(pid)
            rps, latencies = load(host, port, host_header, args.requests, args.connections)
            cpu = (cpu_seconds(pid) - before) / len(latencies) * 1000
            print(
                f"{name:34s} {rps:8.0f} req/s  p50 {statistics.median(latencies):6.2f} ms  "
                f"p99 {statistics.quantiles(latencies, n=100)[98]:6.2f} ms  "
                f"nubes CPU {cpu:5.3f} ms/request"
            )
    finally:
        server.stop()
        target.terminate()
        target.wait()


def _address(endpoint: str, name: str) -> str:
    """The load balancer's own loopback address, as nubes' DNS server answers its name."""
    health = json.loads(urllib.request.urlopen(endpoint + "/_nubes/health").read())
    port = int(health["dns"]["port"])
    answer = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port)
    return str(answer.answer[0][0].address)


if __name__ == "__main__":
    main()
