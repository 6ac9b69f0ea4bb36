"""EC2: server CPU per DescribeInstances page when the account holds 1,000 stopped instances
(instances as records, ``NUBES_EC2_RUNTIME=off``: the figure is the API's, not the runtime's).

    python bench/ec2_describe.py [--instances 1000] [--pages 50]
"""

from __future__ import annotations

import argparse
import os
import time

from nubes.testing.server import NubesProcess


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=50)
    args = parser.parse_args()
    server = NubesProcess(env={"NUBES_EC2_RUNTIME": "off", "NUBES_LOG_LEVEL": "warning"}).start()
    try:
        ec2 = server.client("ec2")
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        ids: list[str] = []
        while len(ids) < args.instances:
            count = min(1000, args.instances - len(ids))
            run = ec2.run_instances(ImageId=image, MinCount=count, MaxCount=count,
                                    TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                        {"Key": "Name", "Value": "bench"}]}])  # fmt: skip
            ids += [i["InstanceId"] for i in run["Instances"]]
        for start in range(0, len(ids), 1000):
            ec2.stop_instances(InstanceIds=ids[start : start + 1000])
        stopped = ec2.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": ["stopped"]}], MaxResults=1000
        )
        assert sum(len(r["Instances"]) for r in stopped["Reservations"]) == min(1000, len(ids))
        pid = server.proc.pid if server.proc else 0
        before, wall = cpu_seconds(pid), time.perf_counter()
        for _ in range(args.pages):
            page = ec2.describe_instances(MaxResults=1000)
            assert sum(len(r["Instances"]) for r in page["Reservations"]) == min(1000, len(ids))
        cpu = (cpu_seconds(pid) - before) / args.pages * 1000
        elapsed = (time.perf_counter() - wall) / args.pages * 1000
        print(
            f"DescribeInstances, 1,000-instance page of {len(ids)} stopped instances: "
            f"server CPU {cpu:.1f} ms/page, {elapsed:.1f} ms/page wall (client included)"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
