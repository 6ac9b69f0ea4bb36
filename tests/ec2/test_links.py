"""VPC peering, VPC endpoints and placement groups."""

from __future__ import annotations

from typing import Any

from tests.ec2.conftest import error_code


def test_peering_states(ec2: Any) -> None:
    a = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    b = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    overlapping = ec2.create_vpc(CidrBlock="10.0.0.0/20")["Vpc"]["VpcId"]
    made = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]
    assert made["Status"]["Code"] == "initiating-request"
    pcx = made["VpcPeeringConnectionId"]
    found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
    assert found["VpcPeeringConnections"][0]["Status"]["Code"] == "pending-acceptance"
    accepted = ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    assert accepted["VpcPeeringConnection"]["Status"]["Code"] == "active"
    assert error_code(lambda: ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)) == (
        "InvalidStateTransition"
    )
    table = ec2.create_route_table(VpcId=a)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.1.0.0/16",
                     VpcPeeringConnectionId=pcx)  # fmt: skip
    ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert [r["State"] for r in routes if r.get("VpcPeeringConnectionId")] == ["blackhole"]
    failed = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=overlapping)
    pcx2 = failed["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    found = ec2.describe_vpc_peering_connections(
        Filters=[{"Name": "status-code", "Values": ["failed"]}]
    )["VpcPeeringConnections"]
    assert [p["VpcPeeringConnectionId"] for p in found] == [pcx2]


def test_endpoints(ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    gateway = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3",
                                      RouteTableIds=[table])["VpcEndpoint"]  # fmt: skip
    assert gateway["VpcEndpointType"] == "Gateway" and gateway["State"] == "available"
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert any(r.get("GatewayId") == gateway["VpcEndpointId"] and
               r["DestinationPrefixListId"].startswith("pl-") for r in routes)  # fmt: skip
    interface = ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName="com.amazonaws.us-east-1.sqs", VpcEndpointType="Interface",
        SubnetIds=[subnet],
    )["VpcEndpoint"]  # fmt: skip
    assert len(interface["NetworkInterfaceIds"]) == 1
    assert error_code(lambda: ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName="com.amazonaws.us-east-1.nothing", RouteTableIds=[table]
    )) == "InvalidServiceName"  # fmt: skip
    assert error_code(lambda: ec2.delete_vpc(VpcId=vpc)) == "DependencyViolation"
    ids = [gateway["VpcEndpointId"], interface["VpcEndpointId"]]
    assert ec2.delete_vpc_endpoints(VpcEndpointIds=ids)["Unsuccessful"] == []
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert len(routes) == 1
    assert (
        ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])[
            "NetworkInterfaces"
        ]
        == []
    )


def test_placement_groups(ec2: Any, image: str) -> None:
    ec2.create_placement_group(GroupName="tight", Strategy="cluster")
    ec2.create_placement_group(GroupName="parts", Strategy="partition", PartitionCount=3)
    assert error_code(lambda: ec2.create_placement_group(GroupName="tight",
                                                         Strategy="spread")) == (
        "InvalidPlacementGroup.Duplicate"
    )  # fmt: skip
    assert (
        error_code(
            lambda: ec2.create_placement_group(
                GroupName="x", Strategy="partition", PartitionCount=8
            )
        )
        == "InvalidParameterValue"
    )
    groups = ec2.describe_placement_groups(GroupNames=["parts"])["PlacementGroups"]
    assert groups[0]["PartitionCount"] == 3 and groups[0]["GroupId"].startswith("pg-")
    iid = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        InstanceType="c5.large",
        Placement={"GroupName": "tight"},
    )["Instances"][0]["InstanceId"]
    assert error_code(lambda: ec2.delete_placement_group(GroupName="tight")) == (
        "InvalidPlacementGroup.InUse"
    )
    assert error_code(lambda: ec2.describe_placement_groups(GroupNames=["nope"])) == (
        "InvalidPlacementGroup.Unknown"
    )
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.delete_placement_group(GroupName="parts")


def test_peering_across_accounts(ec2: Any, client: Any) -> None:
    other_account = "888877776666"
    other = client("ec2", aws_access_key_id=other_account)
    mine = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]
    theirs = other.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    pcx = ec2.create_vpc_peering_connection(
        VpcId=mine["VpcId"], PeerVpcId=theirs, PeerOwnerId=other_account
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    seen = other.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
    info = seen["VpcPeeringConnections"][0]
    assert info["Status"]["Code"] == "pending-acceptance"
    assert info["RequesterVpcInfo"]["OwnerId"] == mine["OwnerId"]
    assert info["AccepterVpcInfo"]["OwnerId"] == other_account
    other.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
    assert found["VpcPeeringConnections"][0]["Status"]["Code"] == "active"
    other.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    other.delete_vpc(VpcId=theirs)
