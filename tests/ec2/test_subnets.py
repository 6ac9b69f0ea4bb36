"""Subnets: inside the VPC, non-overlapping, /16 to /28, five reserved addresses."""

from __future__ import annotations

import functools
from typing import Any

from tests.ec2.conftest import error_code


def _vpc(ec2: Any, cidr: str = "10.0.0.0/16") -> str:
    return str(ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"])


def test_subnet_must_lie_in_the_vpc_and_not_overlap(ec2: Any) -> None:
    vpc = _vpc(ec2)
    assert error_code(lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.0.0/24")) == (
        "InvalidSubnet.Range"
    )
    assert error_code(lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/29")) == (
        "InvalidSubnet.Range"
    )
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")
    assert error_code(lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.128/25")) == (
        "InvalidSubnet.Conflict"
    )
    assert error_code(lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/16")) == (
        "InvalidSubnet.Conflict"
    )
    assert (
        error_code(
            lambda: ec2.create_subnet(VpcId="vpc-0123456789abcdef0", CidrBlock="10.0.1.0/24")
        )
        == "InvalidVpcID.NotFound"
    )


def test_available_addresses_leave_out_the_five_reserved(ec2: Any, image: str) -> None:
    vpc = _vpc(ec2)
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/28", AvailabilityZone="us-east-1b")
    subnet = subnet["Subnet"]
    assert subnet["AvailableIpAddressCount"] == 11
    assert subnet["AvailabilityZone"] == "us-east-1b" and subnet["AvailabilityZoneId"]
    assert not subnet["MapPublicIpOnLaunch"] and not subnet["DefaultForAz"]
    sid = subnet["SubnetId"]

    def launch_at(ip: str) -> Any:
        return ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, SubnetId=sid, PrivateIpAddress=ip
        )

    for reserved in ("10.0.1.0", "10.0.1.1", "10.0.1.3", "10.0.1.15"):
        assert error_code(functools.partial(launch_at, reserved)) == "InvalidParameterValue"
    run = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, SubnetId=sid)
    ips = sorted(i["PrivateIpAddress"] for i in run["Instances"])
    assert ips == ["10.0.1.4", "10.0.1.5"]
    assert all("PublicIpAddress" not in i for i in run["Instances"])
    found = ec2.describe_subnets(SubnetIds=[sid])["Subnets"][0]
    assert found["AvailableIpAddressCount"] == 9
    assert error_code(lambda: ec2.delete_subnet(SubnetId=sid)) == "DependencyViolation"
    assert error_code(lambda: ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, SubnetId=sid, PrivateIpAddress="10.0.1.4"
    )) == "InvalidIPAddress.InUse"  # fmt: skip
    ec2.terminate_instances(InstanceIds=[i["InstanceId"] for i in run["Instances"]])


def test_zone_must_exist(ec2: Any) -> None:
    vpc = _vpc(ec2)
    assert error_code(lambda: ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1z"
    )) == "InvalidParameterValue"  # fmt: skip


def test_modify_map_public_ip_and_filters(ec2: Any) -> None:
    vpc = _vpc(ec2)
    sid = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": True})
    found = ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]},
                 {"Name": "map-public-ip-on-launch", "Values": ["true"]}]
    )["Subnets"]  # fmt: skip
    assert [s["SubnetId"] for s in found] == [sid]
    found = ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": ["10.0.2.*"]}])
    assert [s["SubnetId"] for s in found["Subnets"]] == [sid]
    ec2.delete_subnet(SubnetId=sid)
    assert error_code(lambda: ec2.describe_subnets(SubnetIds=[sid])) == "InvalidSubnetID.NotFound"
