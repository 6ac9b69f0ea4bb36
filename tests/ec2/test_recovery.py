"""Automatic recovery: an instance whose host failed (and whose AutoRecovery is on, the
default) comes back on a new host some minutes later, without an alarm."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.ec2.conftest import wait_state


def _statuses(ec2: Any, instance_id: str) -> tuple[str, str]:
    found = ec2.describe_instance_status(InstanceIds=[instance_id])["InstanceStatuses"][0]
    return found["SystemStatus"]["Status"], found["InstanceStatus"]["Status"]


@pytest.mark.clock
def test_host_failure_recovers_on_its_own(ec2: Any, image: str, endpoint: str) -> None:
    script = "#!/bin/sh\necho booted\n"
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, UserData=script)["Instances"][0][
        "InstanceId"
    ]
    try:
        before = wait_state(ec2, iid, "running")
        faulted = requests.post(
            f"{endpoint}/_nubes/faults",
            timeout=10,
            json={"fault": "ec2:host-failure", "instance_id": iid},
        )
        assert faulted.status_code == 200, faulted.text
        assert _statuses(ec2, iid)[0] == "impaired"
        requests.post(f"{endpoint}/_nubes/clock", json={"advance": 120}, timeout=10)
        assert _statuses(ec2, iid)[0] == "impaired"
        requests.post(f"{endpoint}/_nubes/clock", json={"advance": 300}, timeout=10)
        deadline = time.monotonic() + 60
        while _statuses(ec2, iid) != ("ok", "ok"):
            assert time.monotonic() < deadline, _statuses(ec2, iid)
            time.sleep(0.1)
        after = wait_state(ec2, iid, "running")
        assert after["PrivateIpAddress"] == before["PrivateIpAddress"]
        assert after["PublicIpAddress"] == before["PublicIpAddress"]
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
