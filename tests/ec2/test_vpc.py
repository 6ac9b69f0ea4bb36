"""VPCs and the default network, with the rules of the VPC user guide."""

from __future__ import annotations

from typing import Any

from tests.ec2.conftest import error_code


def test_default_network_is_made_as_aws_makes_it(ec2: Any) -> None:
    vpcs = ec2.describe_vpcs()["Vpcs"]
    assert len(vpcs) == 1
    vpc = vpcs[0]
    assert vpc["IsDefault"] and vpc["CidrBlock"] == "172.31.0.0/16"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "Subnets"
    ]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    assert sorted(s["AvailabilityZone"] for s in subnets) == sorted(zones)
    for subnet in subnets:
        assert subnet["CidrBlock"].endswith("/20")
        assert subnet["DefaultForAz"] and subnet["MapPublicIpOnLaunch"]
        assert subnet["AvailableIpAddressCount"] == 4096 - 5
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])
    default = groups["SecurityGroups"][0]
    assert default["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert default["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == default["GroupId"]
    acl = ec2.describe_network_acls()["NetworkAcls"][0]
    assert acl["IsDefault"]
    assert sorted((e["RuleNumber"], e["RuleAction"]) for e in acl["Entries"]) == [
        (100, "allow"), (100, "allow"), (32767, "deny"), (32767, "deny")
    ]  # fmt: skip
    assert len(acl["Associations"]) == len(subnets)
    gateway = ec2.describe_internet_gateways()["InternetGateways"][0]
    assert gateway["Attachments"] == [{"State": "available", "VpcId": vpc["VpcId"]}]
    table = ec2.describe_route_tables()["RouteTables"][0]
    assert table["Associations"][0]["Main"]
    routes = {r["DestinationCidrBlock"]: r for r in table["Routes"]}
    assert routes["172.31.0.0/16"]["GatewayId"] == "local"
    assert routes["0.0.0.0/0"]["GatewayId"] == gateway["InternetGatewayId"]


def test_cidr_block_size_and_format(ec2: Any) -> None:
    assert error_code(lambda: ec2.create_vpc(CidrBlock="10.0.0.0/15")) == "InvalidVpc.Range"
    assert error_code(lambda: ec2.create_vpc(CidrBlock="10.0.0.0/29")) == "InvalidVpc.Range"
    assert error_code(lambda: ec2.create_vpc(CidrBlock="10.0.0.300/16")) == "InvalidParameterValue"
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/28")["Vpc"]
    assert vpc["State"] == "available" and not vpc["IsDefault"]


def test_new_vpc_gets_main_table_default_group_and_acl(ec2: Any) -> None:
    vpc_id = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    tables = ec2.describe_route_tables(Filters=by_vpc)["RouteTables"]
    assert len(tables) == 1 and tables[0]["Associations"][0]["Main"]
    assert tables[0]["Routes"] == [
        {"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "local",
         "Origin": "CreateRouteTable", "State": "active"}
    ]  # fmt: skip
    groups = ec2.describe_security_groups(Filters=by_vpc)["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == ["default"]
    acls = ec2.describe_network_acls(Filters=by_vpc)["NetworkAcls"]
    assert len(acls) == 1 and acls[0]["IsDefault"]


def test_five_vpcs_per_region(ec2: Any) -> None:
    for i in range(4):
        ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")
    assert error_code(lambda: ec2.create_vpc(CidrBlock="10.9.0.0/16")) == "VpcLimitExceeded"


def test_secondary_cidrs(ec2: Any) -> None:
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    added = ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock="10.1.0.0/16")
    assert added["CidrBlockAssociation"]["CidrBlockState"]["State"] == "associated"
    assert (
        error_code(lambda: ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock="10.0.128.0/17"))
        == "InvalidVpc.Range"
    )
    # A VPC whose primary CIDR is in 10.0.0.0/8 cannot add 192.168.0.0/16 blocks.
    assert (
        error_code(lambda: ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock="192.168.0.0/16"))
        == "InvalidVpc.Range"
    )
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    locals_ = {r["DestinationCidrBlock"] for r in table["RouteTables"][0]["Routes"]}
    assert locals_ == {"10.0.0.0/16", "10.1.0.0/16"}
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.0.0/24")["Subnet"]
    association = added["CidrBlockAssociation"]["AssociationId"]
    assert (
        error_code(lambda: ec2.disassociate_vpc_cidr_block(AssociationId=association))
        == "DependencyViolation"
    )
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.disassociate_vpc_cidr_block(AssociationId=association)
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    assert [a["CidrBlock"] for a in vpc["CidrBlockAssociationSet"]] == ["10.0.0.0/16"]
    primary = vpc["CidrBlockAssociationSet"][0]["AssociationId"]
    assert (
        error_code(lambda: ec2.disassociate_vpc_cidr_block(AssociationId=primary))
        == "OperationNotPermitted"
    )


def test_delete_refuses_while_dependencies_remain(ec2: Any) -> None:
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    assert error_code(lambda: ec2.delete_vpc(VpcId=vpc_id)) == "DependencyViolation"
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc_id)
    assert error_code(lambda: ec2.describe_vpcs(VpcIds=[vpc_id])) == "InvalidVpcID.NotFound"
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    assert groups["SecurityGroups"] == []


def test_ids_not_found_and_malformed(ec2: Any) -> None:
    assert (
        error_code(lambda: ec2.describe_vpcs(VpcIds=["vpc-0123456789abcdef0"]))
        == "InvalidVpcID.NotFound"
    )
    assert error_code(lambda: ec2.describe_subnets(SubnetIds=["subnet-0123456789abcdef0"])) == (
        "InvalidSubnetID.NotFound"
    )


def test_attributes(ec2: Any) -> None:
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    got = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    assert got["EnableDnsHostnames"] == {"Value": False}
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    got = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    assert got["EnableDnsHostnames"] == {"Value": True}
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    got = ec2.describe_vpc_attribute(VpcId=default[0]["VpcId"], Attribute="enableDnsSupport")
    assert got["EnableDnsSupport"] == {"Value": True}


def test_dry_run(ec2: Any) -> None:
    assert error_code(lambda: ec2.create_vpc(CidrBlock="10.0.0.0/16", DryRun=True)) == (
        "DryRunOperation"
    )
    assert len(ec2.describe_vpcs()["Vpcs"]) == 1
    assert error_code(lambda: ec2.describe_vpcs(DryRun=True)) == "DryRunOperation"
    # A request that would fail reports its error, not DryRunOperation.
    assert error_code(lambda: ec2.create_vpc(CidrBlock="10.0.0.0/8", DryRun=True)) == (
        "InvalidVpc.Range"
    )


def test_default_vpc_deleted_and_made_again(ec2: Any) -> None:
    assert error_code(lambda: ec2.create_default_vpc()) == "DefaultVpcAlreadyExists"
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    for subnet in ec2.describe_subnets()["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    gateway = ec2.describe_internet_gateways()["InternetGateways"][0]["InternetGatewayId"]
    ec2.detach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    ec2.delete_internet_gateway(InternetGatewayId=gateway)
    ec2.delete_vpc(VpcId=vpc)
    assert ec2.describe_vpcs()["Vpcs"] == []
    assert error_code(lambda: ec2.create_security_group(GroupName="g", Description="g")) == (
        "VPCIdNotSpecified"
    )
    made = ec2.create_default_vpc()["Vpc"]
    assert made["IsDefault"] and made["CidrBlock"] == "172.31.0.0/16"
    assert len(ec2.describe_subnets()["Subnets"]) == 6
