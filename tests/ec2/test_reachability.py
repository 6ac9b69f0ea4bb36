"""What reaches an instance's public address: its security groups (stateful) and its subnet's
network ACL (stateless: the answer needs an outbound rule too), applied per connection."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

from tests.ec2.conftest import wait_state

SERVE = "#!/bin/sh\nmkdir -p /tmp/www && echo hello > /tmp/www/index.html\n" \
        "cd /tmp/www && exec python3 -m http.server 8080\n"  # fmt: skip


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            body: bytes = resp.read()
            return body
    except OSError:
        return None


def _eventually(url: str, expected: bytes | None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _get(url) != expected:
        assert time.monotonic() < deadline, f"{url} never answered {expected!r}"
        time.sleep(0.2)


def test_security_group_and_network_acl_gate_the_public_address(ec2: Any, image: str) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    launched = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, UserData=SERVE,
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": [group],
                            "AssociatePublicIpAddress": True}],
    )["Instances"][0]  # fmt: skip
    iid, url = launched["InstanceId"], f"http://{launched['PublicIpAddress']}:8080/"
    try:
        wait_state(ec2, iid, "running")
        time.sleep(1)
        assert _get(url) is None
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
             "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])  # fmt: skip
        _eventually(url, b"hello\n")
        acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="6",
                                     RuleAction="allow", Egress=False, CidrBlock="0.0.0.0/0",
                                     PortRange={"From": 8080, "To": 8080})  # fmt: skip
        default = ec2.describe_network_acls(
            Filters=[{"Name": "association.subnet-id", "Values": [subnet]}]
        )["NetworkAcls"][0]
        association = next(a["NetworkAclAssociationId"] for a in default["Associations"]
                           if a["SubnetId"] == subnet)  # fmt: skip
        ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
        # Inbound allowed, but no outbound rule for the answer: stateless, so nothing gets in.
        assert _get(url) is None
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="6",
                                     RuleAction="allow", Egress=True, CidrBlock="0.0.0.0/0",
                                     PortRange={"From": 1024, "To": 65535})  # fmt: skip
        _eventually(url, b"hello\n")
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=50, Protocol="-1",
                                     RuleAction="deny", Egress=False,
                                     CidrBlock="127.0.0.0/8")  # fmt: skip
        assert _get(url) is None
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
