"""Route tables, internet gateways and network ACLs."""

from __future__ import annotations

from typing import Any

from tests.ec2.conftest import error_code


def _network(ec2: Any) -> tuple[str, str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    return vpc, subnet, table


def test_routes_to_gateways(ec2: Any) -> None:
    vpc, _, table = _network(ec2)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    create = ec2.create_route
    assert error_code(lambda: create(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0",
                                     GatewayId=igw)) == "InvalidParameterValue"  # fmt: skip
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    assert error_code(lambda: ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)) == (
        "Resource.AlreadyAssociated"
    )
    create(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    assert error_code(lambda: create(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0",
                                     GatewayId=igw)) == "RouteAlreadyExists"  # fmt: skip
    assert error_code(lambda: create(RouteTableId=table, DestinationCidrBlock="10.0.5.0/24",
                                     GatewayId=igw)) == "InvalidParameterValue"  # fmt: skip
    assert error_code(lambda: ec2.delete_route(
        RouteTableId=table, DestinationCidrBlock="10.0.0.0/16"
    )) == "InvalidParameterValue"  # fmt: skip
    assert error_code(lambda: ec2.delete_internet_gateway(InternetGatewayId=igw)) == (
        "DependencyViolation"
    )
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    state = {r["DestinationCidrBlock"]: r["State"] for r in routes}
    assert state == {"10.0.0.0/16": "active", "0.0.0.0/0": "blackhole"}
    blackholes = ec2.describe_route_tables(
        Filters=[{"Name": "route.state", "Values": ["blackhole"]}]
    )["RouteTables"]
    assert [t["RouteTableId"] for t in blackholes] == [table]
    ec2.delete_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0")
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    assert error_code(lambda: ec2.describe_internet_gateways(InternetGatewayIds=[igw])) == (
        "InvalidInternetGatewayID.NotFound"
    )


def test_associations(ec2: Any) -> None:
    vpc, subnet, table = _network(ec2)
    assoc = ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)["AssociationId"]
    other = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    assert error_code(lambda: ec2.associate_route_table(RouteTableId=other, SubnetId=subnet)) == (
        "Resource.AlreadyAssociated"
    )
    assert error_code(lambda: ec2.delete_route_table(RouteTableId=table)) == "DependencyViolation"
    moved = ec2.replace_route_table_association(AssociationId=assoc, RouteTableId=other)
    found = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet]}]
    )["RouteTables"]
    assert [t["RouteTableId"] for t in found] == [other]
    ec2.disassociate_route_table(AssociationId=moved["NewAssociationId"])
    ec2.delete_route_table(RouteTableId=table)
    main = ec2.describe_route_tables(Filters=[
        {"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}
    ])["RouteTables"][0]  # fmt: skip
    main_assoc = main["Associations"][0]["RouteTableAssociationId"]
    assert error_code(lambda: ec2.disassociate_route_table(AssociationId=main_assoc)) == (
        "InvalidParameterValue"
    )
    assert error_code(lambda: ec2.delete_route_table(RouteTableId=main["RouteTableId"])) == (
        "DependencyViolation"
    )


def test_nat_gateway_routes(ec2: Any) -> None:
    _, subnet, table = _network(ec2)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]
    assert nat["State"] == "pending"
    nat_id = nat["NatGatewayId"]
    found = ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"][0]
    assert found["State"] == "available"
    assert found["NatGatewayAddresses"][0]["PublicIp"].startswith("127.")
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    assert error_code(lambda: ec2.release_address(AllocationId=allocation)) == (
        "InvalidIPAddress.InUse"
    )
    ec2.delete_nat_gateway(NatGatewayId=nat_id)
    found = ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"][0]
    assert found["State"] == "deleted"
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert [r["State"] for r in routes if r.get("NatGatewayId")] == ["blackhole"]
    ec2.release_address(AllocationId=allocation)


def test_network_acl_entries(ec2: Any) -> None:
    vpc, subnet, _ = _network(ec2)
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]
    acl_id = acl["NetworkAclId"]
    assert [e["RuleNumber"] for e in acl["Entries"]] == [32767, 32767]
    entry = dict(
        NetworkAclId=acl_id,
        RuleNumber=100,
        Protocol="6",
        RuleAction="allow",
        Egress=False,
        CidrBlock="0.0.0.0/0",
        PortRange={"From": 80, "To": 80},
    )
    ec2.create_network_acl_entry(**entry)
    assert error_code(lambda: ec2.create_network_acl_entry(**entry)) == (
        "NetworkAclEntryAlreadyExists"
    )
    ec2.create_network_acl_entry(**{**entry, "Egress": True})
    assert error_code(lambda: ec2.create_network_acl_entry(**{**entry, "RuleNumber": 32767})) == (
        "InvalidParameterValue"
    )
    no_ports = {k: v for k, v in entry.items() if k != "PortRange"}
    assert error_code(lambda: ec2.create_network_acl_entry(**{**no_ports, "RuleNumber": 5})) == (
        "InvalidParameterValue"
    )
    assert error_code(lambda: ec2.replace_network_acl_entry(**{**entry, "RuleNumber": 7})) == (
        "InvalidNetworkAclEntry.NotFound"
    )
    ec2.replace_network_acl_entry(**{**entry, "RuleAction": "deny"})
    for number in range(1, 20):
        ec2.create_network_acl_entry(**{**entry, "RuleNumber": 200 + number})
    assert error_code(lambda: ec2.create_network_acl_entry(**{**entry, "RuleNumber": 300})) == (
        "NetworkAclEntryLimitExceeded"
    )
    found = ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]
    ingress = [e for e in found["Entries"] if not e["Egress"]]
    assert [e["RuleNumber"] for e in ingress] == sorted(e["RuleNumber"] for e in ingress)
    assert ingress[0]["RuleAction"] == "deny"
    default = ec2.describe_network_acls(Filters=[
        {"Name": "vpc-id", "Values": [vpc]}, {"Name": "default", "Values": ["true"]}
    ])["NetworkAcls"][0]  # fmt: skip
    association = next(a for a in default["Associations"] if a["SubnetId"] == subnet)
    ec2.replace_network_acl_association(
        AssociationId=association["NetworkAclAssociationId"], NetworkAclId=acl_id
    )
    assert error_code(lambda: ec2.delete_network_acl(NetworkAclId=acl_id)) == (
        "DependencyViolation"
    )
    assert error_code(lambda: ec2.delete_network_acl(NetworkAclId=default["NetworkAclId"])) == (
        "InvalidParameterValue"
    )
