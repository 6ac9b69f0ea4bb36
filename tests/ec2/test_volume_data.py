"""EBS data is real: what an instance writes to its volume survives stop/start, goes into
snapshots, and a volume restored from one shows it to another instance."""

from __future__ import annotations

import time
from typing import Any

from tests.ec2.conftest import instance, wait_state

WRITER = """#!/bin/sh
n=$(( $(cat /mnt/sdf/boots 2>/dev/null || echo 0) + 1 ))
echo $n > /mnt/sdf/boots
echo "boot $n of $(curl -s http://169.254.169.254/latest/meta-data/instance-id)" > /mnt/sdf/note
echo "wrote boot $n"
"""
READER = """#!/bin/sh
until [ -f /mnt/sdg/note ]; do sleep 0.05; done
echo "read: $(cat /mnt/sdg/note)"
"""


def _console(ec2: Any, instance_id: str, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        output = str(ec2.get_console_output(InstanceId=instance_id).get("Output", ""))
        if text in output:
            return output
        assert time.monotonic() < deadline, output
        time.sleep(0.1)


def test_volume_data_outlives_processes_and_travels_in_snapshots(ec2: Any, image: str) -> None:
    zone = {"AvailabilityZone": "us-east-1a"}
    writer = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, UserData=WRITER, Placement=zone,
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}}],
    )["Instances"][0]["InstanceId"]  # fmt: skip
    reader = ""
    try:
        _console(ec2, writer, "wrote boot 1")
        ec2.stop_instances(InstanceIds=[writer])
        wait_state(ec2, writer, "stopped")
        ec2.start_instances(InstanceIds=[writer])
        _console(ec2, writer, "wrote boot 2")
        volume = next(m["Ebs"]["VolumeId"] for m in instance(ec2, writer)["BlockDeviceMappings"]
                      if m["DeviceName"] == "/dev/sdf")  # fmt: skip
        snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
        restored = ec2.create_volume(SnapshotId=snapshot, **zone)["VolumeId"]
        reader = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, UserData=READER,
                                   Placement=zone)["Instances"][0]["InstanceId"]  # fmt: skip
        wait_state(ec2, reader, "running")
        ec2.attach_volume(VolumeId=restored, InstanceId=reader, Device="/dev/sdg")
        _console(ec2, reader, f"read: boot 2 of {writer}")
    finally:
        ec2.terminate_instances(InstanceIds=[i for i in (writer, reader) if i])
