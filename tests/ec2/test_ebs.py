"""EBS volumes and snapshots with the limits of each volume type."""

from __future__ import annotations

from typing import Any

from tests.ec2.conftest import error_code, instance, wait_state

ZONE = "us-east-1a"


def test_limits_per_volume_type(ec2: Any) -> None:
    def make(**kwargs: Any) -> str:
        return error_code(lambda: ec2.create_volume(AvailabilityZone=ZONE, **kwargs))

    assert make(Size=16385, VolumeType="gp3") == "InvalidParameterValue"
    assert make(Size=0, VolumeType="gp2") == "InvalidParameterValue"
    assert make(Size=100, VolumeType="gp3", Iops=2000) == "InvalidParameterValue"
    assert make(Size=10, VolumeType="gp3", Iops=16000) == "InvalidParameterValue"
    assert make(Size=100, VolumeType="gp3", Throughput=1001) == "InvalidParameterValue"
    assert make(Size=100, VolumeType="gp2", Iops=3000) == "InvalidParameterCombination"
    assert make(Size=100, VolumeType="io1") == "MissingParameter"
    assert make(Size=10, VolumeType="io1", Iops=1000) == "InvalidParameterValue"
    assert make(Size=100, VolumeType="st1") == "InvalidParameterValue"
    assert make(Size=100, VolumeType="io2", Iops=1000, Throughput=200) == (
        "InvalidParameterCombination"
    )
    assert make(Size=100, VolumeType="gp3", MultiAttachEnabled=True) == (
        "InvalidParameterCombination"
    )
    assert error_code(lambda: ec2.create_volume(AvailabilityZone="us-east-1z", Size=1)) == (
        "InvalidZone.NotFound"
    )
    gp3 = ec2.create_volume(AvailabilityZone=ZONE, Size=100, VolumeType="gp3")
    assert gp3["State"] == "creating"
    assert (gp3["Iops"], gp3["Throughput"]) == (3000, 125)
    gp2 = ec2.create_volume(AvailabilityZone=ZONE, Size=100, VolumeType="gp2")
    assert gp2["Iops"] == 300
    io2 = ec2.create_volume(AvailabilityZone=ZONE, Size=100, VolumeType="io2", Iops=50000)
    assert io2["Iops"] == 50000
    found = ec2.describe_volumes(VolumeIds=[gp3["VolumeId"]])["Volumes"][0]
    assert found["State"] == "available"
    grown = ec2.modify_volume(VolumeId=gp3["VolumeId"], Size=200, Iops=6000)
    assert grown["VolumeModification"]["TargetSize"] == 200
    assert error_code(lambda: ec2.modify_volume(VolumeId=gp3["VolumeId"], Size=50)) == (
        "InvalidParameterValue"
    )


def test_attach_detach_and_delete_on_termination(ec2: Any, image: str) -> None:
    run = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                            Placement={"AvailabilityZone": ZONE})  # fmt: skip
    iid = run["Instances"][0]["InstanceId"]
    wait_state(ec2, iid, "running")
    volume = ec2.create_volume(AvailabilityZone=ZONE, Size=10)["VolumeId"]
    elsewhere = ec2.create_volume(AvailabilityZone="us-east-1b", Size=10)["VolumeId"]
    assert (
        error_code(lambda: ec2.attach_volume(VolumeId=elsewhere, InstanceId=iid, Device="/dev/sdf"))
        == "InvalidVolume.ZoneMismatch"
    )
    assert (
        error_code(lambda: ec2.attach_volume(VolumeId=volume, InstanceId=iid, Device="/dev/xvda"))
        == "InvalidParameterValue"
    )
    assert (
        error_code(lambda: ec2.attach_volume(VolumeId=volume, InstanceId=iid, Device="sdf"))
        == "InvalidParameterValue"
    )
    attached = ec2.attach_volume(VolumeId=volume, InstanceId=iid, Device="/dev/sdf")
    assert attached["State"] == "attaching"
    found = ec2.describe_volumes(VolumeIds=[volume])["Volumes"][0]
    assert found["State"] == "in-use" and found["Attachments"][0]["Device"] == "/dev/sdf"
    assert error_code(lambda: ec2.delete_volume(VolumeId=volume)) == "VolumeInUse"
    devices = [m["DeviceName"] for m in instance(ec2, iid)["BlockDeviceMappings"]]
    assert devices == ["/dev/xvda", "/dev/sdf"]
    by_instance = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [iid]}]
    )["Volumes"]
    assert len(by_instance) == 2
    root = instance(ec2, iid)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    assert error_code(lambda: ec2.detach_volume(VolumeId=root)) == "OperationNotPermitted"
    ec2.detach_volume(VolumeId=volume)
    assert error_code(lambda: ec2.detach_volume(VolumeId=volume)) == "IncorrectState"
    ec2.attach_volume(VolumeId=volume, InstanceId=iid, Device="/dev/sdg")
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    left = ec2.describe_volumes(VolumeIds=[volume])["Volumes"][0]
    assert left["State"] == "available" and left["Attachments"] == []
    assert error_code(lambda: ec2.describe_volumes(VolumeIds=[root])) == "InvalidVolume.NotFound"


def test_multi_attach_io2(ec2: Any, image: str) -> None:
    run = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, InstanceType="m5.large",
                            Placement={"AvailabilityZone": ZONE})  # fmt: skip
    ids = [i["InstanceId"] for i in run["Instances"]]
    for iid in ids:
        wait_state(ec2, iid, "running")
    shared = ec2.create_volume(AvailabilityZone=ZONE, Size=10, VolumeType="io2", Iops=1000,
                               MultiAttachEnabled=True)["VolumeId"]  # fmt: skip
    plain = ec2.create_volume(AvailabilityZone=ZONE, Size=10)["VolumeId"]
    for iid in ids:
        ec2.attach_volume(VolumeId=shared, InstanceId=iid, Device="/dev/sdf")
    ec2.attach_volume(VolumeId=plain, InstanceId=ids[0], Device="/dev/sdh")
    assert (
        error_code(lambda: ec2.attach_volume(VolumeId=plain, InstanceId=ids[1], Device="/dev/sdh"))
        == "VolumeInUse"
    )
    found = ec2.describe_volumes(VolumeIds=[shared])["Volumes"][0]
    assert sorted(a["InstanceId"] for a in found["Attachments"]) == sorted(ids)
    assert error_code(lambda: ec2.detach_volume(VolumeId=shared)) == ("InvalidParameterCombination")
    ec2.detach_volume(VolumeId=shared, InstanceId=ids[0])
    ec2.terminate_instances(InstanceIds=ids)


def test_snapshots_copy_and_restore(ec2: Any, client: Any, account: str) -> None:
    volume = ec2.create_volume(AvailabilityZone=ZONE, Size=20, VolumeType="gp2")["VolumeId"]
    snap = ec2.create_snapshot(VolumeId=volume, Description="nightly")
    assert snap["State"] == "pending" and snap["VolumeSize"] == 20
    sid = snap["SnapshotId"]
    found = ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]
    assert found["State"] == "completed" and found["Progress"] == "100%"
    mine = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    assert [s["SnapshotId"] for s in mine] == [sid]
    assert (
        error_code(lambda: ec2.create_volume(AvailabilityZone=ZONE, SnapshotId=sid, Size=10))
        == "InvalidParameterValue"
    )
    restored = ec2.create_volume(AvailabilityZone=ZONE, SnapshotId=sid)
    assert restored["Size"] == 20 and restored["SnapshotId"] == sid
    west = client("ec2", region="us-west-2", aws_access_key_id=account)
    copied = west.copy_snapshot(SourceRegion="us-east-1", SourceSnapshotId=sid)["SnapshotId"]
    assert west.describe_snapshots(SnapshotIds=[copied])["Snapshots"][0]["VolumeSize"] == 20
    ec2.delete_snapshot(SnapshotId=sid)
    assert error_code(lambda: ec2.describe_snapshots(SnapshotIds=[sid])) == (
        "InvalidSnapshot.NotFound"
    )
