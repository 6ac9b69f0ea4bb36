"""EC2's CloudFormation resource types: a stack builds a public subnet with an instance behind
an Elastic IP, through EC2's own operations, and takes it all down again."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.ec2.conftest import error_code, instance, wait_state

TEMPLATE = {
    "Parameters": {"Image": {"Type": "AWS::EC2::Image::Id"}},
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {
            "CidrBlock": "10.20.0.0/16", "EnableDnsHostnames": True,
            "Tags": [{"Key": "Name", "Value": "stacked"}]}},
        "Gateway": {"Type": "AWS::EC2::InternetGateway"},
        "Attach": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Gateway"}}},
        "Public": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.20.1.0/24",
            "AvailabilityZone": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
            "MapPublicIpOnLaunch": "true"}},
        "Table": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Default": {"Type": "AWS::EC2::Route", "DependsOn": "Attach", "Properties": {
            "RouteTableId": {"Ref": "Table"}, "DestinationCidrBlock": "0.0.0.0/0",
            "GatewayId": {"Ref": "Gateway"}}},
        "Assoc": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
            "SubnetId": {"Ref": "Public"}, "RouteTableId": {"Ref": "Table"}}},
        "Web": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "web", "VpcId": {"Ref": "Vpc"},
            "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": "80",
                                      "CidrIp": "0.0.0.0/0"}]}},
        "Ssh": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": {"Ref": "Web"}, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
            "CidrIp": "10.0.0.0/8"}},
        "Server": {"Type": "AWS::EC2::Instance", "DependsOn": "Default", "Properties": {
            "ImageId": {"Ref": "Image"}, "InstanceType": "t3.micro",
            "SubnetId": {"Ref": "Public"}, "SecurityGroupIds": [{"Ref": "Web"}],
            "UserData": {"Fn::Base64": "#!/bin/sh\necho stacked\n"},
            "Tags": [{"Key": "Name", "Value": "server"}]}},
        "Address": {"Type": "AWS::EC2::EIP", "Properties": {"InstanceId": {"Ref": "Server"}}},
        "Data": {"Type": "AWS::EC2::Volume", "Properties": {
            "AvailabilityZone": {"Fn::GetAtt": ["Server", "AvailabilityZone"]}, "Size": "2"}},
    },
    "Outputs": {
        "VpcId": {"Value": {"Ref": "Vpc"}},
        "DefaultGroup": {"Value": {"Fn::GetAtt": ["Vpc", "DefaultSecurityGroup"]}},
        "InstanceId": {"Value": {"Ref": "Server"}},
        "PublicIp": {"Value": {"Ref": "Address"}},
        "SubnetZone": {"Value": {"Fn::GetAtt": ["Public", "AvailabilityZone"]}},
    },
}  # fmt: skip


def _settle(cfn: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        assert time.monotonic() < deadline, stack["StackStatus"]
        time.sleep(0.1)


def test_a_stack_builds_and_removes_a_public_subnet_with_an_instance(
    ec2: Any, client: Any, account: str, image: str
) -> None:
    cfn = client("cloudformation", aws_access_key_id=account)
    cfn.create_stack(
        StackName="net",
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=[{"ParameterKey": "Image", "ParameterValue": image}],
    )
    stack = _settle(cfn, "net")
    events = cfn.describe_stack_events(StackName="net")["StackEvents"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", [
        (e["LogicalResourceId"], e.get("ResourceStatusReason"))
        for e in events
        if "FAILED" in e["ResourceStatus"]
    ]
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    vpc = ec2.describe_vpcs(VpcIds=[out["VpcId"]])["Vpcs"][0]
    tags = {t["Key"]: t["Value"] for t in vpc["Tags"]}
    assert tags["Name"] == "stacked" and tags["aws:cloudformation:logical-id"] == "Vpc"
    assert ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsHostnames")[
        "EnableDnsHostnames"
    ] == {"Value": True}
    assert out["DefaultGroup"].startswith("sg-")
    server = wait_state(ec2, out["InstanceId"], "running")
    assert server["PublicIpAddress"] == out["PublicIp"]
    assert server["Placement"]["AvailabilityZone"] == out["SubnetZone"]
    group = ec2.describe_security_groups(GroupIds=[server["SecurityGroups"][0]["GroupId"]])
    ports = sorted(p["FromPort"] for p in group["SecurityGroups"][0]["IpPermissions"])
    assert ports == [22, 80]
    stack_id = stack["StackId"]
    cfn.delete_stack(StackName="net")
    gone = _settle(cfn, stack_id)
    assert gone["StackStatus"] == "DELETE_COMPLETE", [
        (e["LogicalResourceId"], e.get("ResourceStatusReason"))
        for e in cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
        if "FAILED" in e["ResourceStatus"]
    ]
    assert error_code(lambda: ec2.describe_vpcs(VpcIds=[out["VpcId"]])) == ("InvalidVpcID.NotFound")
    assert instance(ec2, out["InstanceId"])["State"]["Name"] == "terminated"
    assert ec2.describe_addresses()["Addresses"] == []
