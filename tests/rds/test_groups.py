"""DB subnet groups (real EC2 subnets in two zones or more) and DB parameter groups whose
values the PostgreSQL server applies: dynamic ones at once, static ones at the next reboot."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.rds.pg import PASSWORD, create, needs_postgres, psql, wait_for


def _code(call: Callable[..., Any], **params: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**params)
    return str(info.value.response["Error"]["Code"])


def test_subnet_groups_need_two_zones_of_one_vpc(
    account_client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    ec2, rds = account_client("ec2"), account_client("rds")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"), (3, "a"))
    ]
    name = unique("Subnets")
    one_zone = [subnets[0], subnets[2]]
    assert (
        _code(
            rds.create_db_subnet_group,
            DBSubnetGroupName=name,
            DBSubnetGroupDescription="d",
            SubnetIds=one_zone,
        )
        == "DBSubnetGroupDoesNotCoverEnoughAZs"
    )
    assert (
        _code(
            rds.create_db_subnet_group,
            DBSubnetGroupName=name,
            DBSubnetGroupDescription="d",
            SubnetIds=["subnet-00000000"],
        )
        == "InvalidSubnet"
    )
    made = rds.create_db_subnet_group(
        DBSubnetGroupName=name, DBSubnetGroupDescription="d", SubnetIds=subnets[:2]
    )["DBSubnetGroup"]
    assert made["DBSubnetGroupName"] == name.lower() and made["VpcId"] == vpc
    assert {s["SubnetAvailabilityZone"]["Name"] for s in made["Subnets"]} == {
        "us-east-1a",
        "us-east-1b",
    }
    found = rds.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"][0]
    assert found["DBSubnetGroupArn"] == made["DBSubnetGroupArn"]
    rds.modify_db_subnet_group(DBSubnetGroupName=name, SubnetIds=subnets)
    found = rds.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"][0]
    assert len(found["Subnets"]) == 3
    other_vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    foreign = ec2.create_security_group(GroupName=unique("group"), Description="d", VpcId=other_vpc)
    assert (
        _code(
            rds.create_db_instance,
            DBInstanceIdentifier=unique("db"),
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="master",
            MasterUserPassword=PASSWORD,
            DBSubnetGroupName=name,
            VpcSecurityGroupIds=[foreign["GroupId"]],
        )
        == "InvalidParameterCombination"
    )
    rds.delete_db_subnet_group(DBSubnetGroupName=name)
    assert (
        _code(rds.describe_db_subnet_groups, DBSubnetGroupName=name) == "DBSubnetGroupNotFoundFault"
    )


@needs_postgres
def test_parameter_groups_are_applied_by_the_server(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    rds = client("rds")
    group = unique("params")
    rds.create_db_parameter_group(
        DBParameterGroupName=group, DBParameterGroupFamily="postgres15", Description="d"
    )
    defaults = rds.describe_db_parameters(DBParameterGroupName="default.postgres15")
    assert len(defaults["Parameters"]) == 100 and defaults["Marker"]
    assert (
        _code(
            rds.modify_db_parameter_group,
            DBParameterGroupName=group,
            Parameters=[{"ParameterName": "work_mem", "ParameterValue": "-5"}],
        )
        == "InvalidParameterValue"
    )
    assert (
        _code(
            rds.modify_db_parameter_group,
            DBParameterGroupName=group,
            Parameters=[
                {
                    "ParameterName": "max_connections",
                    "ParameterValue": "50",
                    "ApplyMethod": "immediate",
                }
            ],
        )
        == "InvalidParameterCombination"
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName=group,
        Parameters=[
            {"ParameterName": "work_mem", "ParameterValue": "8192", "ApplyMethod": "immediate"},
            {
                "ParameterName": "max_connections",
                "ParameterValue": "50",
                "ApplyMethod": "pending-reboot",
            },
        ],
    )
    user = rds.describe_db_parameters(DBParameterGroupName=group, Source="user")["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in user} == {
        "max_connections": "50",
        "work_mem": "8192",
    }
    ident = unique("pgdb")
    create(rds, ident, DBParameterGroupName=group, BackupRetentionPeriod=0)
    endpoint = wait_for(rds, ident)["Endpoint"]
    assert psql(endpoint, PASSWORD, "SHOW work_mem") == "8MB"
    assert psql(endpoint, PASSWORD, "SHOW max_connections") == "50"

    rds.modify_db_parameter_group(
        DBParameterGroupName=group,
        Parameters=[
            {"ParameterName": "work_mem", "ParameterValue": "16384", "ApplyMethod": "immediate"},
            {
                "ParameterName": "max_connections",
                "ParameterValue": "60",
                "ApplyMethod": "pending-reboot",
            },
        ],
    )
    deadline = time.monotonic() + 30
    while psql(endpoint, PASSWORD, "SHOW work_mem") != "16MB":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    found = wait_for(rds, ident)
    assert found["DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot"
    assert psql(endpoint, PASSWORD, "SHOW max_connections") == "50"
    rds.reboot_db_instance(DBInstanceIdentifier=ident)
    found = wait_for(rds, ident)
    assert found["DBParameterGroups"][0]["ParameterApplyStatus"] == "in-sync"
    assert psql(found["Endpoint"], PASSWORD, "SHOW max_connections") == "60"
    assert (
        _code(rds.delete_db_parameter_group, DBParameterGroupName=group)
        == "InvalidDBParameterGroupState"
    )
    rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
    deadline = time.monotonic() + 30
    while rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [ident]}])[
        "DBInstances"
    ]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    rds.delete_db_parameter_group(DBParameterGroupName=group)
