"""Instances through the EC2 API, as users drive them: RunInstances boots real process trees
that serve on their public addresses, gated by security groups, recovered by alarms."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nubes.testing.server import NubesProcess
from tests.instances.conftest import command_lines

WEB = """#!/bin/sh
ID=$(curl -s http://169.254.169.254/latest/meta-data/instance-id)
mkdir -p /tmp/www && echo "I am $ID" > /tmp/www/index.html
cd /tmp/www && exec python3 -u -m http.server {port}
"""


def fetch(url: str, timeout: float = 20.0) -> bytes:
    """GET that waits for the instance's server to come up, until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return bytes(resp.read())
        except (OSError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def unreachable(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=3):
            return False
    except (OSError, urllib.error.URLError):
        return True


def image(ec2: Any) -> str:
    return str(ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"])


def web_group(ec2: Any, unique: Callable[[str], str], *ports: int) -> str:
    group = ec2.create_security_group(GroupName=unique("web"), Description="web")["GroupId"]
    if ports:
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": p,
                    "ToPort": p,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
                for p in ports
            ],
        )
    return str(group)


@pytest.fixture
def launched(client: Callable[..., Any]) -> Iterator[list[str]]:
    """Instance ids a test launched: terminated (their processes ended) after it."""
    ids: list[str] = []
    yield ids
    if ids:
        client("ec2").terminate_instances(InstanceIds=ids)


def running(ec2: Any, ids: list[str]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while True:
        found = [
            i
            for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
            for i in r["Instances"]
        ]
        if all(i["State"]["Name"] == "running" for i in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_two_instances_from_one_user_data_serve_port_80_in_their_own_networks(
    client: Callable[..., Any], unique: Callable[[str], str], launched: list[str]
) -> None:
    ec2 = client("ec2")
    reservation = ec2.run_instances(
        ImageId=image(ec2),
        InstanceType="t3.micro",
        MinCount=2,
        MaxCount=2,
        UserData=WEB.format(port=80),
        SecurityGroupIds=[web_group(ec2, unique, 80)],
    )
    launched += [i["InstanceId"] for i in reservation["Instances"]]
    instances = running(ec2, launched)
    assert {i["State"]["Name"] for i in instances} == {"running"}
    addresses = {i["PublicIpAddress"] for i in instances}
    assert len(addresses) == 2
    for instance in instances:
        body = fetch(f"http://{instance['PublicIpAddress']}/")
        assert body == f"I am {instance['InstanceId']}\n".encode()
    console = ec2.get_console_output(InstanceId=launched[0])["Output"]
    assert '"GET / HTTP/1.1" 200' in console
    statuses = ec2.describe_instance_status(InstanceIds=launched)["InstanceStatuses"]
    assert {s["SystemStatus"]["Status"] for s in statuses} == {"ok"}


def test_a_port_opens_when_its_ingress_rule_is_added_without_a_restart(
    client: Callable[..., Any], unique: Callable[[str], str], launched: list[str]
) -> None:
    ec2 = client("ec2")
    group = web_group(ec2, unique)
    reservation = ec2.run_instances(
        ImageId=image(ec2),
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        UserData=WEB.format(port=8080),
        SecurityGroupIds=[group],
    )
    instance_id = reservation["Instances"][0]["InstanceId"]
    launched.append(instance_id)
    address = running(ec2, launched)[0]["PublicIpAddress"]
    # The server is up (it printed its banner to the console), yet the port stays shut.
    deadline = time.monotonic() + 60
    while "Serving HTTP" not in ec2.get_console_output(InstanceId=instance_id).get("Output", ""):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert unreachable(address, 8080)
    permission = {
        "IpProtocol": "tcp",
        "FromPort": 8080,
        "ToPort": 8080,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
    }
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[permission])
    assert fetch(f"http://{address}:8080/") == f"I am {instance_id}\n".encode()
    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[permission])
    assert unreachable(address, 8080)
    assert running(ec2, launched)[0]["State"]["Name"] == "running"


DURABLE = """#!/bin/sh
echo boot >> /mnt/sdf/boots
ID=$(curl -s http://169.254.169.254/latest/meta-data/instance-id)
IP=$(curl -s http://169.254.169.254/latest/meta-data/local-ipv4)
mkdir -p /tmp/www
echo "$ID $IP boots=$(wc -l < /mnt/sdf/boots)" > /tmp/www/index.html
cd /tmp/www && exec python3 -m http.server 80
"""


def internal(endpoint: str, path: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(f"{endpoint}{path}", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.mark.clock
def test_recovery_story(
    client: Callable[..., Any], endpoint: str, unique: Callable[[str], str], launched: list[str]
) -> None:
    """A host fails under an instance with a volume and an Elastic IP; an alarm on
    StatusCheckFailed_System recovers it: same id, private IP, Elastic IP and volume data."""
    ec2, cloudwatch = client("ec2"), client("cloudwatch")
    reservation = ec2.run_instances(
        ImageId=image(ec2),
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        UserData=DURABLE,
        SecurityGroupIds=[web_group(ec2, unique, 80)],
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}}],
    )
    instance_id = reservation["Instances"][0]["InstanceId"]
    launched.append(instance_id)
    private_ip = running(ec2, launched)[0]["PrivateIpAddress"]
    allocation = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(InstanceId=instance_id, AllocationId=allocation["AllocationId"])
    eip = allocation["PublicIp"]
    assert fetch(f"http://{eip}/") == f"{instance_id} {private_ip} boots=1\n".encode()

    alarm = unique("recover")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/EC2",
        MetricName="StatusCheckFailed_System",
        Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=2,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=["arn:aws:automate:us-east-1:ec2:recover"],
    )
    fault = internal(
        endpoint, "/_nubes/faults", {"fault": "ec2:host-failure", "instance_id": instance_id}
    )
    assert fault["fault"] == "ec2:host-failure"
    assert unreachable(eip, 80)
    status = ec2.describe_instance_status(InstanceIds=[instance_id])["InstanceStatuses"][0]
    assert status["SystemStatus"]["Status"] == "impaired"

    internal(endpoint, "/_nubes/clock", {"advance": 180})
    history = cloudwatch.describe_alarm_history(AlarmName=alarm, HistoryItemType="Action")
    assert any(
        "recover" in item["HistorySummary"].lower() for item in history["AlarmHistoryItems"]
    ), history
    assert fetch(f"http://{eip}/") == f"{instance_id} {private_ip} boots=2\n".encode()
    after = running(ec2, [instance_id])[0]
    assert (after["PrivateIpAddress"], after["PublicIpAddress"]) == (private_ip, eip)
    status = ec2.describe_instance_status(InstanceIds=[instance_id])["InstanceStatuses"][0]
    assert status["SystemStatus"]["Status"] in ("ok", "initializing")


INSIDE = f"""#!{sys.executable}
import boto3, botocore.exceptions
print("caller", boto3.client("sts").get_caller_identity()["Arn"], flush=True)
print("buckets", len(boto3.client("s3").list_buckets()["Buckets"]), flush=True)
try:
    boto3.client("sqs").list_queues()
    print("sqs allowed", flush=True)
except botocore.exceptions.ClientError as exc:
    print("sqs", exc.response["Error"]["Code"], flush=True)
"""


def test_boto3_inside_an_instance_uses_its_profile_role_under_enforcement(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    server = nubes_factory(persistent=False, env={"NUBES_ENFORCE_IAM": "1"})
    iam, ec2 = server.client("iam"), server.client("ec2")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="web", AssumeRolePolicyDocument=json.dumps(trust))
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="web", PolicyName="list", PolicyDocument=json.dumps(policy))
    iam.create_instance_profile(InstanceProfileName="web")
    iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="web")
    reservation = ec2.run_instances(
        ImageId=image(ec2),
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        UserData=INSIDE,
        IamInstanceProfile={"Name": "web"},
    )
    instance_id = reservation["Instances"][0]["InstanceId"]
    try:
        deadline = time.monotonic() + 60
        console = ""
        while "sqs " not in console and "Traceback" not in console:
            assert time.monotonic() < deadline, console
            time.sleep(0.1)
            console = ec2.get_console_output(InstanceId=instance_id).get("Output", "")
        assert f"caller arn:aws:sts::000000000000:assumed-role/web/{instance_id}" in console
        assert "buckets 0" in console
        assert "sqs AccessDenied" in console
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])


def test_instances_that_were_running_boot_again_after_a_restart(
    nubes_factory: Callable[..., NubesProcess], unique: Callable[[str], str]
) -> None:
    server = nubes_factory()
    ec2 = server.client("ec2")
    reservation = ec2.run_instances(
        ImageId=image(ec2),
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        UserData=WEB.format(port=80),
        SecurityGroupIds=[web_group(ec2, unique, 80)],
    )
    instance_id = reservation["Instances"][0]["InstanceId"]
    address = running(ec2, [instance_id])[0]["PublicIpAddress"]
    assert fetch(f"http://{address}/") == f"I am {instance_id}\n".encode()
    server.stop()
    # A stopped nubes leaves nothing of its instances running.
    assert unreachable(address, 80)
    assert not _processes_in(server)
    server.start()
    try:
        assert fetch(f"http://{address}/") == f"I am {instance_id}\n".encode()
    finally:
        server.client("ec2").terminate_instances(InstanceIds=[instance_id])


def _processes_in(server: NubesProcess) -> list[list[bytes]]:
    """Processes whose command line names the server's data directory (its instances'
    agents do)."""
    return [cmd for cmd in command_lines() if str(server.data_dir).encode() in b" ".join(cmd)]


@pytest.mark.clock
def test_a_crash_fails_the_instance_check_until_a_reboot_and_metrics_follow(
    client: Callable[..., Any], endpoint: str, unique: Callable[[str], str], launched: list[str]
) -> None:
    ec2, cloudwatch = client("ec2"), client("cloudwatch")
    reservation = ec2.run_instances(
        ImageId=image(ec2),
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        UserData=WEB.format(port=80),
        SecurityGroupIds=[web_group(ec2, unique, 80)],
        Monitoring={"Enabled": True},
    )
    instance_id = reservation["Instances"][0]["InstanceId"]
    launched.append(instance_id)
    address = running(ec2, launched)[0]["PublicIpAddress"]
    assert fetch(f"http://{address}/") == f"I am {instance_id}\n".encode()
    internal(
        endpoint, "/_nubes/faults", {"fault": "ec2:instance-crash", "instance_id": instance_id}
    )
    active = json.loads(urllib.request.urlopen(f"{endpoint}/_nubes/faults", timeout=10).read())
    assert {"fault": "ec2:instance-crash", "instance_id": instance_id} in [
        {k: f[k] for k in ("fault", "instance_id")} for f in active["faults"]
    ]
    status = ec2.describe_instance_status(InstanceIds=[instance_id])["InstanceStatuses"][0]
    assert (status["SystemStatus"]["Status"], status["InstanceStatus"]["Status"]) == (
        "ok",
        "impaired",
    )
    assert unreachable(address, 80)
    now = internal(endpoint, "/_nubes/clock", {"advance": 120})["now"]
    dims = [{"Name": "InstanceId", "Value": instance_id}]

    def maximum(name: str) -> float:
        stats = cloudwatch.get_metric_statistics(
            Namespace="AWS/EC2",
            MetricName=name,
            Dimensions=dims,
            StartTime=now - 600,
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        assert stats, name
        return float(max(p["Maximum"] for p in stats))

    assert maximum("StatusCheckFailed_Instance") == 1
    assert maximum("StatusCheckFailed_System") == 0
    assert maximum("CPUUtilization") >= 0
    assert maximum("NetworkIn") > 0
    ec2.reboot_instances(InstanceIds=[instance_id])
    assert fetch(f"http://{address}/") == f"I am {instance_id}\n".encode()
    status = ec2.describe_instance_status(InstanceIds=[instance_id])["InstanceStatuses"][0]
    assert status["InstanceStatus"]["Status"] == "ok"


def test_a_volume_attached_to_a_running_instance_appears_in_it(
    client: Callable[..., Any], launched: list[str]
) -> None:
    ec2 = client("ec2")
    script = """#!/bin/sh
until [ -d /mnt/sdg ]; do sleep 0.05; done
echo "attached: $(cat /mnt/sdg/note 2>/dev/null || echo empty)"
echo "written by $(curl -s http://169.254.169.254/latest/meta-data/instance-id)" > /mnt/sdg/note
while [ -d /mnt/sdg ]; do sleep 0.05; done
echo detached
"""
    reservation = ec2.run_instances(
        ImageId=image(ec2), InstanceType="t3.micro", MinCount=1, MaxCount=1, UserData=script
    )
    instance_id = reservation["Instances"][0]["InstanceId"]
    launched.append(instance_id)
    zone = running(ec2, launched)[0]["Placement"]["AvailabilityZone"]
    volume = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=instance_id, Device="/dev/sdg")
    wait_console(ec2, instance_id, "attached: empty")
    ec2.detach_volume(VolumeId=volume)
    wait_console(ec2, instance_id, "detached")


def wait_console(ec2: Any, instance_id: str, text: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        console = str(ec2.get_console_output(InstanceId=instance_id).get("Output", ""))
        if text in console:
            return console
        assert time.monotonic() < deadline, console
        time.sleep(0.1)


@pytest.mark.parametrize("behavior, final", [("stop", "stopped"), ("terminate", "terminated")])
def test_shutdown_inside_the_instance_follows_its_shutdown_behavior(
    client: Callable[..., Any], launched: list[str], behavior: str, final: str
) -> None:
    ec2 = client("ec2")
    reservation = ec2.run_instances(
        ImageId=image(ec2),
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        UserData="#!/bin/sh\necho going down\nshutdown -h now\n",
        InstanceInitiatedShutdownBehavior=behavior,
    )
    instance_id = reservation["Instances"][0]["InstanceId"]
    launched.append(instance_id)
    deadline = time.monotonic() + 60
    while True:
        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]
        state = instance["Instances"][0]["State"]["Name"]
        if state == final or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert state == final
    assert instance["Instances"][0]["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"
    assert "going down" in wait_console(ec2, instance_id, "going down")


def test_imds_v2_required_and_instance_tags_in_metadata(
    client: Callable[..., Any], launched: list[str]
) -> None:
    ec2 = client("ec2")
    script = """#!/bin/sh
M=http://169.254.169.254/latest
echo "v1: $(curl -s -o /dev/null -w '%{http_code}' $M/meta-data/instance-id)"
T=$(curl -s -X PUT $M/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
echo "v2: $(curl -s -H "X-aws-ec2-metadata-token: $T" $M/meta-data/instance-id)"
echo "tag: $(curl -s -H "X-aws-ec2-metadata-token: $T" $M/meta-data/tags/instance/Name)"
echo "az: $(curl -s -H "X-aws-ec2-metadata-token: $T" $M/meta-data/placement/availability-zone)"
"""
    reservation = ec2.run_instances(
        ImageId=image(ec2),
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        UserData=script,
        MetadataOptions={"HttpTokens": "required", "InstanceMetadataTags": "enabled"},
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web-1"}]}
        ],
    )
    instance = reservation["Instances"][0]
    launched.append(instance["InstanceId"])
    console = wait_console(ec2, instance["InstanceId"], "az: ")
    assert "v1: 401" in console
    assert f"v2: {instance['InstanceId']}" in console
    assert "tag: web-1" in console
    assert f"az: {instance['Placement']['AvailabilityZone']}" in console


def test_reset_ends_every_instance(nubes_factory: Callable[..., NubesProcess]) -> None:
    server = nubes_factory(persistent=False)
    ec2 = server.client("ec2")
    marker = f"{os.getpid()}{time.monotonic_ns() % 100000}"
    ec2.run_instances(
        ImageId=image(ec2),
        InstanceType="t3.micro",
        MinCount=2,
        MaxCount=2,
        UserData=f"#!/bin/sh\nexec sleep {marker}\n",
    )
    assert _count_sleeping(marker, 2) == 2
    internal(server.endpoint, "/_nubes/reset", {})
    assert _count_sleeping(marker, 0) == 0
    assert ec2.describe_instances()["Reservations"] == []


def _count_sleeping(marker: str, expected: int) -> int:
    """How many ``sleep <marker>`` processes run, once that settles on ``expected``."""
    deadline = time.monotonic() + 60
    while True:
        found = sum(cmd[:2] == [b"sleep", marker.encode()] for cmd in command_lines())
        if found == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_instances_reach_each_other_at_private_ips_as_security_groups_allow(
    client: Callable[..., Any], unique: Callable[[str], str], launched: list[str]
) -> None:
    """The default security group lets its members in; another group's instance stays out."""
    ec2 = client("ec2")
    server = ec2.run_instances(
        ImageId=image(ec2),
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        UserData=WEB.format(port=8080),
    )["Instances"][0]
    launched.append(server["InstanceId"])
    caller_script = f"""#!/bin/sh
until curl -s --max-time 2 http://{server["PrivateIpAddress"]}:8080/ > /tmp/a && [ -s /tmp/a ]
do
  [ -f /tmp/r ] || {{ echo "not reachable yet"; touch /tmp/r; }}
  sleep 0.1
done
echo "got: $(cat /tmp/a)"
"""
    member = ec2.run_instances(
        ImageId=image(ec2), InstanceType="t3.micro", MinCount=1, MaxCount=1, UserData=caller_script
    )["Instances"][0]
    stranger = ec2.run_instances(
        ImageId=image(ec2),
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        UserData=caller_script,
        SecurityGroupIds=[web_group(ec2, unique)],
    )["Instances"][0]
    launched += [member["InstanceId"], stranger["InstanceId"]]
    wait_console(ec2, member["InstanceId"], f"got: I am {server['InstanceId']}")
    console = wait_console(ec2, stranger["InstanceId"], "not reachable yet")
    assert "got:" not in console


def test_names_of_the_vpcs_private_hosted_zone_resolve_inside(
    client: Callable[..., Any], unique: Callable[[str], str], launched: list[str]
) -> None:
    ec2, route53 = client("ec2"), client("route53")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    zone_name = f"{unique('corp')}.internal"
    zone = route53.create_hosted_zone(
        Name=zone_name,
        CallerReference=unique("ref"),
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc["VpcId"]},
        HostedZoneConfig={"PrivateZone": True},
    )["HostedZone"]
    route53.change_resource_record_sets(
        HostedZoneId=zone["Id"],
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"db.{zone_name}",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "10.0.9.9"}],
                    },
                }
            ]
        },
    )
    script = f"""#!/bin/sh
python3 -c 'import socket; print("db is", socket.gethostbyname("db.{zone_name}"))'
"""
    reservation = ec2.run_instances(
        ImageId=image(ec2), InstanceType="t3.micro", MinCount=1, MaxCount=1, UserData=script
    )
    launched.append(reservation["Instances"][0]["InstanceId"])
    assert "db is 10.0.9.9" in wait_console(ec2, launched[0], "db is")
