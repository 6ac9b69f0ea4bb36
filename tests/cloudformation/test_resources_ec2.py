"""Issue 17's must-show: the RegionMap template with an EC2 instance. Without an InstanceType
parameter it is refused as AWS refuses it; with the parameter (default t2.micro) it deploys and
the instance runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudformation.conftest import outputs, reasons, settle
from tests.ec2.conftest import wait_state

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Mappings:
  RegionMap:
    us-east-1:
      HVM64: {us_east_1}
    eu-west-1:
      HVM64: {eu_west_1}
Resources:
  EC2Instance:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: !FindInMap [RegionMap, !Ref "AWS::Region", HVM64]
      InstanceType: !Ref InstanceType
Outputs:
  InstanceId:
    Value: !Ref EC2Instance
  Zone:
    Value: !GetAtt EC2Instance.AvailabilityZone
"""
PARAMETER = "Parameters:\n  InstanceType:\n    Type: String\n    Default: t2.micro\nResources:"


def catalogue_image(client: Callable[..., Any], region: str) -> str:
    """The region's Amazon Linux 2 image, as a RegionMap names one AMI per region."""
    found = client("ec2", region).describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-kernel-5.10-hvm-*"]}]
    )
    image = next(i for i in found["Images"] if i["Architecture"] == "x86_64")
    return str(image["ImageId"])


def test_region_map_instance_fails_without_the_parameter_and_runs_with_it(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    body = TEMPLATE.format(
        us_east_1=catalogue_image(client, "us-east-1"),
        eu_west_1=catalogue_image(client, "eu-west-1"),
    )
    name = unique("regionmap")
    with pytest.raises(ClientError) as err:
        cfn.create_stack(StackName=name, TemplateBody=body)
    assert err.value.response["Error"] == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": "Template format error: Unresolved resource dependencies [InstanceType] in "
        "the Resources block of the template",
    }

    cfn.create_stack(StackName=name, TemplateBody=body.replace("Resources:", PARAMETER, 1))
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, name)
    ec2 = client("ec2")
    server = wait_state(ec2, outputs(stack)["InstanceId"], "running")
    assert server["InstanceType"] == "t2.micro"
    assert server["ImageId"] == catalogue_image(client, cfn.meta.region_name)
    assert server["Placement"]["AvailabilityZone"] == outputs(stack)["Zone"]

    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert wait_state(ec2, server["InstanceId"], "terminated")["State"]["Name"] == "terminated"


def test_an_image_outside_the_catalogue_fails_the_instance_as_ec2_does(
    cfn: Any, unique: Callable[[str], str]
) -> None:
    body = TEMPLATE.format(us_east_1="ami-0ff8a91507f77f867", eu_west_1="ami-047bb4163c506cd98")
    name = unique("regionmap")
    cfn.create_stack(StackName=name, TemplateBody=body.replace("Resources:", PARAMETER, 1))
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [r for r in reasons(cfn, name) if r[1] == "CREATE_FAILED"]
    assert failed[0][0] == "EC2Instance"
    assert "The image id '[ami-0ff8a91507f77f867]' does not exist" in failed[0][2]


NETWORK = """
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.40.0.0/16}
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.40.1.0/24}
  Table:
    Type: AWS::EC2::RouteTable
    Properties: {VpcId: !Ref Vpc}
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties: {VpcId: !Ref Vpc, GroupDescription: eni}
  Gateway:
    Type: AWS::EC2::InternetGateway
  Attach:
    Type: AWS::EC2::VPCGatewayAttachment
    Properties: {VpcId: !Ref Vpc, InternetGatewayId: !Ref Gateway}
  Interface:
    Type: AWS::EC2::NetworkInterface
    Properties:
      SubnetId: !Ref Subnet
      Description: DESCRIPTION
      GroupSet: [!Ref Group]
      SourceDestCheck: false
  Address:
    Type: AWS::EC2::EIP
    DependsOn: Attach
  Association:
    Type: AWS::EC2::EIPAssociation
    Properties:
      AllocationId: !GetAtt Address.AllocationId
      NetworkInterfaceId: !Ref Interface
  Endpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcId: !Ref Vpc
      ServiceName: com.amazonaws.us-east-1.s3
      VpcEndpointType: Gateway
      RouteTableIds: [!Ref Table]
Outputs:
  Interface:
    Value: !Ref Interface
  Primary:
    Value: !GetAtt Interface.PrimaryPrivateIpAddress
  Secondary:
    Value: !Join [",", !GetAtt Interface.SecondaryPrivateIpAddresses]
  Association:
    Value: !Ref Association
  PublicIp:
    Value: !Ref Address
  Endpoint:
    Value: !GetAtt Endpoint.Id
"""


def test_interface_address_association_and_endpoint(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    ec2 = client("ec2")
    name = unique("network")
    cfn.create_stack(StackName=name, TemplateBody=NETWORK.replace("DESCRIPTION", "first"))
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, name)
    out = outputs(stack)
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[out["Interface"]])[
        "NetworkInterfaces"
    ][0]
    assert (eni["Description"], eni["SourceDestCheck"]) == ("first", False)
    assert eni["PrivateIpAddress"] == out["Primary"]
    assert [a["PrivateIpAddress"] for a in eni["PrivateIpAddresses"] if not a["Primary"]] == []
    assert out["Secondary"] == ""
    assert eni["Association"]["PublicIp"] == out["PublicIp"]
    address = ec2.describe_addresses(PublicIps=[out["PublicIp"]])["Addresses"][0]
    assert address["AssociationId"] == out["Association"]
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[out["Endpoint"]])["VpcEndpoints"][0]
    assert endpoint["ServiceName"] == "com.amazonaws.us-east-1.s3"

    cfn.update_stack(StackName=name, TemplateBody=NETWORK.replace("DESCRIPTION", "second"))
    updated = settle(cfn, name)
    assert updated["StackStatus"] == "UPDATE_COMPLETE", reasons(cfn, name)
    assert outputs(updated)["Interface"] == out["Interface"]
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[out["Interface"]])[
        "NetworkInterfaces"
    ][0]
    assert eni["Description"] == "second"

    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE", reasons(
        cfn, stack["StackId"]
    )
    assert (
        ec2.describe_addresses(Filters=[{"Name": "public-ip", "Values": [out["PublicIp"]]}])[
            "Addresses"
        ]
        == []
    )
