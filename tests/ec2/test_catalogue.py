"""Images, instance types, regions and zones."""

from __future__ import annotations

from typing import Any

from tests.ec2.conftest import error_code, wait_state


def test_public_images_by_owner_and_name(ec2: Any) -> None:
    amazon = ec2.describe_images(Owners=["amazon"])["Images"]
    names = {i["Name"] for i in amazon}
    assert any(n.startswith("al2023-ami-") for n in names)
    assert any(n.startswith("amzn2-ami-") for n in names)
    assert all(i["OwnerId"] == "137112412989" and i["Public"] for i in amazon)
    ubuntu = ec2.describe_images(
        Owners=["099720109477"],
        Filters=[{"Name": "name", "Values": ["ubuntu/images/*ubuntu-noble-24.04-amd64-server-*"]},
                 {"Name": "architecture", "Values": ["x86_64"]}],
    )["Images"]  # fmt: skip
    assert len(ubuntu) == 1 and ubuntu[0]["RootDeviceName"] == "/dev/sda1"
    arm = ec2.describe_images(Filters=[{"Name": "architecture", "Values": ["arm64"]}])["Images"]
    assert arm and all(i["Architecture"] == "arm64" for i in arm)
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    assert error_code(lambda: ec2.describe_images(ImageIds=["ami-0123456789abcdef0"])) == (
        "InvalidAMIID.NotFound"
    )
    assert error_code(lambda: ec2.describe_images(ImageIds=["ami-nope"])) == (
        "InvalidAMIID.Malformed"
    )


def test_image_ids_differ_per_region(ec2: Any, client: Any, account: str) -> None:
    west = client("ec2", region="us-west-2", aws_access_key_id=account)
    name = [{"Name": "name", "Values": ["al2023-ami-2023.*-x86_64"]}]
    here = ec2.describe_images(Owners=["amazon"], Filters=name)["Images"][0]["ImageId"]
    there = west.describe_images(Owners=["amazon"], Filters=name)["Images"][0]["ImageId"]
    assert here != there


def test_create_copy_deregister_image(ec2: Any, client: Any, account: str, image: str) -> None:
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, BlockDeviceMappings=[
        {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 5, "VolumeType": "gp2"}}
    ])["Instances"][0]["InstanceId"]  # fmt: skip
    wait_state(ec2, iid, "running")
    made = ec2.create_image(InstanceId=iid, Name="golden-1", Description="baked")["ImageId"]
    assert error_code(lambda: ec2.create_image(InstanceId=iid, Name="golden-1")) == (
        "InvalidAMIName.Duplicate"
    )
    mine = ec2.describe_images(Owners=["self"])["Images"]
    assert [i["ImageId"] for i in mine] == [made]
    mappings = {m["DeviceName"]: m["Ebs"] for m in mine[0]["BlockDeviceMappings"]}
    assert set(mappings) == {"/dev/xvda", "/dev/sdf"}
    assert mappings["/dev/sdf"]["VolumeSize"] == 5
    snapshot = mappings["/dev/sdf"]["SnapshotId"]
    assert ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]["VolumeSize"] == 5
    assert error_code(lambda: ec2.delete_snapshot(SnapshotId=snapshot)) == ("InvalidSnapshot.InUse")
    child = ec2.run_instances(ImageId=made, MinCount=1, MaxCount=1)["Instances"][0]
    devices = {m["DeviceName"] for m in child["BlockDeviceMappings"]}
    assert devices == {"/dev/xvda", "/dev/sdf"}
    west = client("ec2", region="us-west-2", aws_access_key_id=account)
    copied = west.copy_image(SourceRegion="us-east-1", SourceImageId=made, Name="golden-west")
    found = west.describe_images(ImageIds=[copied["ImageId"]])["Images"][0]
    assert found["Name"] == "golden-west" and found["OwnerId"] == account
    ec2.deregister_image(ImageId=made)
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    ec2.terminate_instances(InstanceIds=[iid, child["InstanceId"]])


def test_instance_types_have_real_figures(ec2: Any) -> None:
    types = ec2.describe_instance_types(InstanceTypes=["t3.micro", "m5.xlarge", "c5.large",
                                                      "r5.large", "t4g.small", "c5.9xlarge",
                                                      "c6g.xlarge", "r6g.medium"])  # fmt: skip
    found = {t["InstanceType"]: t for t in types["InstanceTypes"]}
    figures = {n: (t["VCpuInfo"]["DefaultVCpus"], t["MemoryInfo"]["SizeInMiB"])
               for n, t in found.items()}  # fmt: skip
    assert figures == {"t3.micro": (2, 1024), "m5.xlarge": (4, 16384), "c5.large": (2, 4096),
                       "r5.large": (2, 16384), "t4g.small": (2, 2048), "c5.9xlarge": (36, 73728),
                       "c6g.xlarge": (4, 8192), "r6g.medium": (1, 8192)}  # fmt: skip
    assert found["t4g.small"]["ProcessorInfo"]["SupportedArchitectures"] == ["arm64"]
    assert error_code(lambda: ec2.describe_instance_types(InstanceTypes=["p4d.24xlarge"])) == (
        "InvalidInstanceType"
    )
    big = ec2.describe_instance_types(Filters=[
        {"Name": "vcpu-info.default-vcpus", "Values": ["96"]},
        {"Name": "processor-info.supported-architecture", "Values": ["x86_64"]},
    ])["InstanceTypes"]  # fmt: skip
    assert {"m5.24xlarge", "c5.24xlarge", "r5.24xlarge"} <= {t["InstanceType"] for t in big}
    offered = ec2.describe_instance_type_offerings(
        LocationType="availability-zone",
        Filters=[{"Name": "instance-type", "Values": ["t3.micro"]}],
    )["InstanceTypeOfferings"]
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert sorted(o["Location"] for o in offered) == sorted(z["ZoneName"] for z in zones)


def test_regions_and_zones(ec2: Any) -> None:
    regions = {r["RegionName"] for r in ec2.describe_regions()["Regions"]}
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= regions
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones][:2] == ["us-east-1a", "us-east-1b"]
    assert zones[0]["ZoneId"] == "use1-az1" and zones[0]["State"] == "available"
    one = ec2.describe_availability_zones(ZoneNames=["us-east-1c"])["AvailabilityZones"]
    assert [z["ZoneName"] for z in one] == ["us-east-1c"]
