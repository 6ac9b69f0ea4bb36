"""EC2 instances: time from RunInstances to the user data's server answering on the public
address, and memory per idle running instance (the agent, its metadata relay and ``unshare``).

    python bench/ec2_instances.py [--instances 10]            # through a nubes server's API
    python bench/ec2_instances.py --runtime [--instances 10]  # the instance runtime alone
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import urllib.request
from typing import Any

from nubes.runtime.instances.runtime import InstanceRuntime
from nubes.runtime.instances.spec import InstanceSpec

WEB = b"#!/bin/sh\ncd /tmp && exec python3 -m http.server 80\n"


class Host:
    def describe(self, instance_id: str) -> dict[str, Any] | None:
        return {"InstanceId": instance_id, "MetadataOptions": {}}

    def user_data(self, instance_id: str) -> bytes:
        return b""

    def role_credentials(self, instance_id: str) -> dict[str, Any] | None:
        return None

    def ingress_allowed(self, instance_id: str, protocol: str, port: int, source_ip: str) -> bool:
        return True

    def exited(self, instance_id: str, reason: str) -> None:
        pass


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
                parents[int(entry)] = int(stat[stat.rindex(b")") + 2 :].split()[1])
            except OSError:
                continue
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(p for p, pp in parents.items() if pp == pid)
    return found


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


async def main(count: int) -> None:
    work = tempfile.mkdtemp(prefix="nubes-bench-ec2-")
    runtime = InstanceRuntime(Host(), api_port=4566)
    await runtime.start()
    print(f"isolation: {runtime.isolation}")
    times: list[float] = []
    try:
        for n in range(count):
            spec = InstanceSpec(
                f"i-{n:017x}",
                "000000000000",
                "us-east-1",
                "10.0.0.10",
                f"127.88.0.{n + 1}",
                WEB,
                {},
                f"{work}/i-{n}",
            )
            start = time.perf_counter()
            await runtime.boot(spec)
            url = f"http://{spec.public_ip}/"
            while True:
                try:
                    await asyncio.to_thread(_get, url)
                    break
                except OSError:
                    await asyncio.sleep(0.005)
            times.append(time.perf_counter() - start)
        median = statistics.median(times) * 1000
        print(
            f"boot -> user data's server answering: median {median:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms over {count}"
        )
        idle = [
            InstanceSpec(
                f"i-idle{n:013x}",
                "000000000000",
                "us-east-1",
                "10.0.0.11",
                None,
                b"",
                {},
                f"{work}/idle-{n}",
            )
            for n in range(count)
        ]
        for spec in idle:
            await runtime.boot(spec)
        await asyncio.sleep(1)
        pss = []
        rss = []
        for spec in idle:
            proc = runtime.instances[spec.instance_id].proc
            assert proc is not None
            pids = _tree(proc.pid)
            pss.append(sum(_pss_kib(p) for p in pids))
            rss.append(sum(_rss_kib(p) for p in pids))
        print(
            f"idle instance (no user data): PSS {statistics.mean(pss) / 1024:.1f} MiB, "
            f"RSS {statistics.mean(rss) / 1024:.1f} MiB, processes {len(pids)}"
        )
    finally:
        await runtime.stop()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return bytes(resp.read())


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def through_api(count: int) -> None:
    from nubes.testing.server import NubesProcess

    server = NubesProcess().start()
    try:
        ec2 = server.client("ec2")
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        group = ec2.create_security_group(GroupName="bench", Description="bench")["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 80,
                    "ToPort": 80,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
            ],
        )
        times = []
        ids = []
        for _ in range(count):
            start = time.perf_counter()
            instance = ec2.run_instances(
                ImageId=image,
                InstanceType="t3.micro",
                MinCount=1,
                MaxCount=1,
                UserData=WEB.decode(),
                SecurityGroupIds=[group],
            )["Instances"][0]
            ids.append(instance["InstanceId"])
            url = f"http://{instance['PublicIpAddress']}/"
            while True:
                try:
                    _get(url)
                    break
                except OSError:
                    time.sleep(0.005)
            times.append(time.perf_counter() - start)
        median = statistics.median(times) * 1000
        print(
            f"RunInstances -> user data's server answering: median {median:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms over {count}"
        )
        ec2.terminate_instances(InstanceIds=ids)
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--runtime", action="store_true", help="the runtime alone, no server")
    args = parser.parse_args()
    if args.runtime:
        asyncio.run(main(args.instances))
    else:
        through_api(args.instances)
