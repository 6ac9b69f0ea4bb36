"""A stack's AWS::RDS::DBInstance is a PostgreSQL server its outputs point at."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from tests.rds.pg import PASSWORD, needs_postgres, psql

pytestmark = needs_postgres


def _settled(cfn: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            return dict(stack)
        assert time.monotonic() < deadline, stack
        time.sleep(0.5)


def test_stack_makes_a_database_it_names_in_outputs(
    account_client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    cfn, ec2, rds = account_client("cloudformation"), account_client("ec2"), account_client("rds")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.50.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    template = {
        "Resources": {
            "Subnets": {
                "Type": "AWS::RDS::DBSubnetGroup",
                "Properties": {"DBSubnetGroupDescription": "db", "SubnetIds": subnets},
            },
            "Params": {
                "Type": "AWS::RDS::DBParameterGroup",
                "Properties": {
                    "Family": "postgres15",
                    "Description": "app",
                    "Parameters": {"work_mem": "12288"},
                },
            },
            "Db": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "Engine": "postgres",
                    "DBInstanceClass": "db.t3.micro",
                    "AllocatedStorage": "20",
                    "MasterUsername": "master",
                    "MasterUserPassword": PASSWORD,
                    "DBName": "app",
                    "BackupRetentionPeriod": 0,
                    "DBSubnetGroupName": {"Ref": "Subnets"},
                    "DBParameterGroupName": {"Ref": "Params"},
                },
            },
        },
        "Outputs": {
            "Host": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}},
            "Port": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Port"]}},
        },
    }
    name = unique("rds-stack")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    stack = _settled(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    endpoint = {"Address": outputs["Host"], "Port": outputs["Port"]}
    assert psql(endpoint, PASSWORD, "SHOW work_mem") == "12MB"
    ident = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Db")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    found = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    assert found["DBSubnetGroup"]["VpcId"] == vpc
    default_group = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]["GroupId"]
    assert [g["VpcSecurityGroupId"] for g in found["VpcSecurityGroups"]] == [default_group]
    cfn.delete_stack(StackName=name)
    stack_id = stack["StackId"]  # a deleted stack is still described by its id
    deadline = time.monotonic() + 120
    while cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] != "DELETE_COMPLETE":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert not rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [ident]}])[
        "DBInstances"
    ]
