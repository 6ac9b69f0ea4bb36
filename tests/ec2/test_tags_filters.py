"""Tags on any resource, TagSpecifications, and Describe* filters."""

from __future__ import annotations

from typing import Any

from tests.ec2.conftest import error_code


def test_create_describe_delete_tags(ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "env", "Value": "prod"}]}
    ])["Vpc"]  # fmt: skip
    assert vpc["Tags"] == [{"Key": "env", "Value": "prod"}]
    vid = vpc["VpcId"]
    subnet = ec2.create_subnet(VpcId=vid, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    ec2.create_tags(Resources=[vid, subnet], Tags=[{"Key": "team", "Value": "blue"}])
    tags = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["team"]}])["Tags"]
    assert sorted((t["ResourceId"], t["ResourceType"]) for t in tags) == sorted(
        [(vid, "vpc"), (subnet, "subnet")]
    )
    only_vpcs = ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["vpc"]}])
    assert {t["Key"] for t in only_vpcs["Tags"]} == {"env", "team"}
    found = ec2.describe_vpcs(Filters=[{"Name": "tag:env", "Values": ["pr*"]}])["Vpcs"]
    assert [v["VpcId"] for v in found] == [vid]
    found = ec2.describe_vpcs(Filters=[{"Name": "tag-key", "Values": ["team"]}])["Vpcs"]
    assert [v["VpcId"] for v in found] == [vid]
    ec2.delete_tags(Resources=[vid], Tags=[{"Key": "env", "Value": "other"}])
    assert len(ec2.describe_vpcs(VpcIds=[vid])["Vpcs"][0]["Tags"]) == 2
    ec2.delete_tags(Resources=[vid], Tags=[{"Key": "env"}])
    assert ec2.describe_vpcs(VpcIds=[vid])["Vpcs"][0]["Tags"] == [{"Key": "team", "Value": "blue"}]
    ec2.delete_tags(Resources=[vid])
    assert ec2.describe_vpcs(VpcIds=[vid])["Vpcs"][0]["Tags"] == []


def test_tag_rules(ec2: Any) -> None:
    vid = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    create = ec2.create_tags
    assert error_code(lambda: create(Resources=[vid], Tags=[{"Key": "aws:x", "Value": "1"}])) == (
        "InvalidParameterValue"
    )
    assert (
        error_code(
            lambda: create(Resources=["vpc-0123456789abcdef0"], Tags=[{"Key": "a", "Value": "1"}])
        )
        == "InvalidVpcID.NotFound"
    )
    assert error_code(lambda: create(Resources=["zzz-123"], Tags=[{"Key": "a", "Value": "1"}])) == (
        "InvalidID"
    )
    create(Resources=[vid], Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error_code(
        lambda: create(Resources=[vid], Tags=[{"Key": "one-more", "Value": "v"}])
    ) == ("TagLimitExceeded")


def test_filters_are_checked_and_combined(ec2: Any) -> None:
    assert error_code(lambda: ec2.describe_vpcs(Filters=[{"Name": "bogus", "Values": ["x"]}])) == (
        "InvalidParameterValue"
    )
    a = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    b = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    either = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.0.0.0/16", "10.1.0.0/16"]}])
    assert sorted(v["VpcId"] for v in either["Vpcs"]) == sorted([a, b])
    both = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.?.0.0/16"]},
                                      {"Name": "is-default", "Values": ["false"]}])  # fmt: skip
    assert len(both["Vpcs"]) == 2
    none = ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [a]},
                                      {"Name": "cidr", "Values": ["10.1.0.0/16"]}])  # fmt: skip
    assert none["Vpcs"] == []


def test_paging_with_tokens(ec2: Any) -> None:
    for i in range(4):
        ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")
    first = ec2.describe_vpcs(MaxResults=5)
    assert len(first["Vpcs"]) == 5 and "NextToken" not in first
    subnets = ec2.describe_subnets(MaxResults=5)
    rest = ec2.describe_subnets(MaxResults=5, NextToken=subnets["NextToken"])
    ids = [s["SubnetId"] for s in subnets["Subnets"] + rest["Subnets"]]
    assert len(ids) == len(set(ids)) == 6
    assert error_code(lambda: ec2.describe_subnets(NextToken="garbage!")) == "InvalidNextToken"
