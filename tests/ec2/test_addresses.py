"""Elastic IP addresses and interfaces."""

from __future__ import annotations

from typing import Any

from tests.ec2.conftest import error_code, instance, wait_state


def test_allocate_associate_reassociate_release(ec2: Any, image: str) -> None:
    run = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2)
    first, second = (i["InstanceId"] for i in run["Instances"])
    wait_state(ec2, first, "running")
    wait_state(ec2, second, "running")
    address = ec2.allocate_address(Domain="vpc")
    ip, allocation = address["PublicIp"], address["AllocationId"]
    assert ip.startswith("127.") and allocation.startswith("eipalloc-")
    association = ec2.associate_address(AllocationId=allocation, InstanceId=first)
    assert association["AssociationId"].startswith("eipassoc-")
    assert instance(ec2, first)["PublicIpAddress"] == ip
    assert error_code(lambda: ec2.associate_address(AllocationId=allocation,
                                                    InstanceId=second,
                                                    AllowReassociation=False)) == (
        "Resource.AlreadyAssociated"
    )  # fmt: skip
    ec2.associate_address(AllocationId=allocation, InstanceId=second, AllowReassociation=True)
    assert instance(ec2, second)["PublicIpAddress"] == ip
    assert instance(ec2, first)["PublicIpAddress"] != ip
    ec2.stop_instances(InstanceIds=[second])
    stopped = wait_state(ec2, second, "stopped")
    assert stopped["PublicIpAddress"] == ip
    described = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"][0]
    assert described["InstanceId"] == second
    assert error_code(lambda: ec2.release_address(AllocationId=allocation)) == (
        "InvalidIPAddress.InUse"
    )
    ec2.disassociate_address(AssociationId=described["AssociationId"])
    assert "PublicIpAddress" not in instance(ec2, second)
    ec2.release_address(AllocationId=allocation)
    assert error_code(lambda: ec2.describe_addresses(AllocationIds=[allocation])) == (
        "InvalidAllocationID.NotFound"
    )
    ec2.terminate_instances(InstanceIds=[first, second])


def test_network_interfaces(ec2: Any, image: str) -> None:
    subnet = ec2.describe_subnets(
        Filters=[{"Name": "availability-zone", "Values": ["us-east-1a"]}]
    )["Subnets"][0]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet, Description="extra")["NetworkInterface"]
    assert eni["Status"] == "available" and eni["PrivateIpAddress"].startswith("172.31.")
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0][
        "InstanceId"
    ]
    wait_state(ec2, iid, "running")
    attached = ec2.attach_network_interface(
        NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=iid, DeviceIndex=1
    )
    assert (
        error_code(
            lambda: ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
        )
        == "InvalidNetworkInterface.InUse"
    )
    assert len(instance(ec2, iid)["NetworkInterfaces"]) == 2
    ec2.detach_network_interface(AttachmentId=attached["AttachmentId"])
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    ec2.terminate_instances(InstanceIds=[iid])
