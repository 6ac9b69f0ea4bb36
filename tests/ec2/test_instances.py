"""The instance lifecycle as the EC2 user guide describes it, on real process trees."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from tests.ec2.conftest import error_code, instance, wait_state


def _run(ec2: Any, image: str, **extra: Any) -> dict[str, Any]:
    params = {"ImageId": image, "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro", **extra}
    found: dict[str, Any] = ec2.run_instances(**params)["Instances"][0]
    return found


def test_run_places_and_addresses_the_instance(ec2: Any, image: str) -> None:
    launched = _run(ec2, image, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]},
        {"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "web-root"}]},
    ])  # fmt: skip
    assert launched["State"] == {"Code": 0, "Name": "pending"}
    iid = launched["InstanceId"]
    assert iid.startswith("i-") and launched["InstanceType"] == "t3.micro"
    assert launched["PublicIpAddress"].startswith("127.")
    assert launched["Placement"]["AvailabilityZone"] == "us-east-1a"
    assert launched["PrivateIpAddress"].startswith("172.31.")
    assert launched["PrivateDnsName"] == (
        f"ip-{launched['PrivateIpAddress'].replace('.', '-')}.ec2.internal"
    )
    assert [g["GroupName"] for g in launched["SecurityGroups"]] == ["default"]
    assert launched["Tags"] == [{"Key": "Name", "Value": "web"}]
    root = launched["BlockDeviceMappings"][0]
    assert root["DeviceName"] == launched["RootDeviceName"] == "/dev/xvda"
    volume = ec2.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])["Volumes"][0]
    assert volume["Size"] == 8 and volume["VolumeType"] == "gp3"
    assert volume["Tags"] == [{"Key": "Name", "Value": "web-root"}]
    running = wait_state(ec2, iid, "running")
    assert "StateReason" not in running
    events = ec2.describe_instances(
        Filters=[{"Name": "tag:Name", "Values": ["web"]},
                 {"Name": "instance-state-name", "Values": ["running"]}]
    )["Reservations"]  # fmt: skip
    assert [i["InstanceId"] for r in events for i in r["Instances"]] == [iid]
    ec2.terminate_instances(InstanceIds=[iid])


def test_stop_start_keeps_identity_and_volumes(ec2: Any, image: str) -> None:
    iid = _run(ec2, image)["InstanceId"]
    first = wait_state(ec2, iid, "running")
    stopping = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
    assert stopping["PreviousState"]["Name"] == "running"
    assert stopping["CurrentState"]["Name"] == "stopping"
    stopped = wait_state(ec2, iid, "stopped")
    assert stopped["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
    assert stopped["StateTransitionReason"].startswith("User initiated (")
    assert "PublicIpAddress" not in stopped
    assert stopped["PrivateIpAddress"] == first["PrivateIpAddress"]
    started = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
    assert started["CurrentState"]["Name"] == "pending"
    again = wait_state(ec2, iid, "running")
    assert again["PrivateIpAddress"] == first["PrivateIpAddress"]
    assert again["BlockDeviceMappings"] == first["BlockDeviceMappings"]
    assert again["PublicIpAddress"].startswith("127.")
    ec2.terminate_instances(InstanceIds=[iid])
    ended = wait_state(ec2, iid, "terminated")
    assert ended["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
    assert "PrivateIpAddress" not in ended
    root = first["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    assert error_code(lambda: ec2.describe_volumes(VolumeIds=[root])) == "InvalidVolume.NotFound"
    assert error_code(lambda: ec2.start_instances(InstanceIds=[iid])) == "IncorrectInstanceState"


def test_termination_protection_and_attributes(ec2: Any, image: str) -> None:
    iid = _run(ec2, image, DisableApiTermination=True)["InstanceId"]
    assert error_code(lambda: ec2.terminate_instances(InstanceIds=[iid])) == (
        "OperationNotPermitted"
    )
    got = ec2.describe_instance_attribute(InstanceId=iid, Attribute="disableApiTermination")
    assert got["DisableApiTermination"] == {"Value": True}
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": False})
    ec2.modify_instance_attribute(
        InstanceId=iid, InstanceInitiatedShutdownBehavior={"Value": "terminate"}
    )
    got = ec2.describe_instance_attribute(
        InstanceId=iid, Attribute="instanceInitiatedShutdownBehavior"
    )
    assert got["InstanceInitiatedShutdownBehavior"] == {"Value": "terminate"}
    wait_state(ec2, iid, "running")
    assert error_code(lambda: ec2.modify_instance_attribute(
        InstanceId=iid, InstanceType={"Value": "t3.large"}
    )) == "IncorrectInstanceState"  # fmt: skip
    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped")
    ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.large"})
    assert instance(ec2, iid)["InstanceType"] == "t3.large"
    ec2.terminate_instances(InstanceIds=[iid])


def test_shutdown_from_inside_follows_the_behaviour(ec2: Any, image: str) -> None:
    iid = _run(ec2, image, UserData="#!/bin/sh\npoweroff\n",
               InstanceInitiatedShutdownBehavior="terminate")["InstanceId"]  # fmt: skip
    ended = wait_state(ec2, iid, "terminated")
    assert ended["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"


def test_user_data_console_and_status(ec2: Any, image: str) -> None:
    script = "#!/bin/sh\necho booted-$(cat /proc/sys/kernel/hostname)\n"
    iid = _run(ec2, image, UserData=script)["InstanceId"]
    running = wait_state(ec2, iid, "running")
    attr = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")
    assert base64.b64decode(attr["UserData"]["Value"]).decode() == script
    statuses = ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"]
    assert statuses[0]["InstanceState"]["Name"] == "running"
    assert statuses[0]["SystemStatus"]["Status"] in ("ok", "initializing")
    for _ in range(100):
        output = ec2.get_console_output(InstanceId=iid).get("Output", "")
        if "booted-" in output:
            break
    assert f"booted-{running['PrivateDnsName']}" in output
    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped")
    assert ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"] == []
    everyone = ec2.describe_instance_status(InstanceIds=[iid], IncludeAllInstances=True)
    assert everyone["InstanceStatuses"][0]["SystemStatus"]["Status"] == "not-applicable"
    ec2.terminate_instances(InstanceIds=[iid])


def test_run_validation(ec2: Any, image: str) -> None:
    too_big = "#!/bin/sh\n" + "x" * 16400
    assert error_code(lambda: _run(ec2, image, UserData=too_big)) == "InvalidParameterValue"
    assert error_code(lambda: _run(ec2, image, InstanceType="t9.huge")) == "InvalidParameterValue"
    assert error_code(lambda: _run(ec2, "ami-0123456789abcdef0")) == "InvalidAMIID.NotFound"
    assert error_code(lambda: _run(ec2, image, KeyName="nope")) == "InvalidKeyPair.NotFound"
    assert error_code(lambda: _run(ec2, image, InstanceType="t4g.micro")) == (
        "InvalidParameterValue"
    )
    assert error_code(lambda: ec2.run_instances(ImageId=image, MinCount=3, MaxCount=2)) == (
        "InvalidParameterValue"
    )
    assert error_code(lambda: _run(ec2, image, BlockDeviceMappings=[
        {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 4}}
    ])) == "InvalidBlockDeviceMapping"  # fmt: skip
    assert error_code(lambda: _run(ec2, image, DryRun=True)) == "DryRunOperation"
    assert ec2.describe_instances()["Reservations"] == []


def test_many_at_once_and_paging(ec2: Any, image: str) -> None:
    run = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=7, InstanceType="t2.nano",
                            UserData="#!/bin/sh\ntrue\n")  # fmt: skip
    ids = [i["InstanceId"] for i in run["Instances"]]
    assert len(ids) == 7
    assert sorted(i["AmiLaunchIndex"] for i in run["Instances"]) == list(range(7))
    seen: list[str] = []
    token = None
    while True:
        kwargs = {"MaxResults": 5, **({"NextToken": token} if token else {})}
        page = ec2.describe_instances(**kwargs)
        seen += [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    assert error_code(lambda: ec2.describe_instances(MaxResults=2)) == "InvalidParameterValue"
    by_type = ec2.describe_instances(Filters=[{"Name": "instance-type", "Values": ["t2.*"]}])
    assert len(by_type["Reservations"][0]["Instances"]) == 7
    ec2.terminate_instances(InstanceIds=ids)
    for iid in ids:
        wait_state(ec2, iid, "terminated")


def test_reboot_and_unknown_ids(ec2: Any, image: str) -> None:
    iid = _run(ec2, image)["InstanceId"]
    wait_state(ec2, iid, "running")
    ec2.reboot_instances(InstanceIds=[iid])
    assert instance(ec2, iid)["State"]["Name"] == "running"
    assert error_code(lambda: ec2.stop_instances(InstanceIds=["i-0123456789abcdef0"])) == (
        "InvalidInstanceID.NotFound"
    )
    ec2.terminate_instances(InstanceIds=[iid])


@pytest.mark.clock
def test_terminated_instances_are_gone_after_an_hour(ec2: Any, image: str, endpoint: str) -> None:
    iid = _run(ec2, image)["InstanceId"]
    wait_state(ec2, iid, "running")
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 1800}, timeout=10)
    assert instance(ec2, iid)["State"]["Name"] == "terminated"
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 1900}, timeout=10)
    assert error_code(lambda: ec2.describe_instances(InstanceIds=[iid])) == (
        "InvalidInstanceID.NotFound"
    )
    assert ec2.describe_instances()["Reservations"] == []
