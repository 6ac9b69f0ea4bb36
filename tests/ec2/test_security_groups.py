"""Security groups and rules as the EC2 docs define them."""

from __future__ import annotations

from typing import Any

from tests.ec2.conftest import error_code


def _group(ec2: Any, name: str = "web") -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName=name, Description="web", VpcId=vpc)["GroupId"]
    return vpc, gid


def _ssh(cidr: str = "0.0.0.0/0") -> list[dict[str, Any]]:
    return [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": cidr}]}]


def test_names(ec2: Any) -> None:
    vpc, gid = _group(ec2)
    assert gid.startswith("sg-")
    create = ec2.create_security_group
    assert error_code(lambda: create(GroupName="web", Description="d", VpcId=vpc)) == (
        "InvalidGroup.Duplicate"
    )
    assert error_code(lambda: create(GroupName="default", Description="d", VpcId=vpc)) == (
        "InvalidGroup.Reserved"
    )
    assert error_code(lambda: create(GroupName="sg-mine", Description="d", VpcId=vpc)) == (
        "InvalidParameterValue"
    )
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    assert group["IpPermissions"] == []
    assert group["IpPermissionsEgress"][0]["IpProtocol"] == "-1"


def test_rules_ids_duplicates_and_revoke(ec2: Any) -> None:
    _, gid = _group(ec2)
    added = ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=_ssh())
    rule = added["SecurityGroupRules"][0]
    assert rule["SecurityGroupRuleId"].startswith("sgr-") and not rule["IsEgress"]
    assert (rule["FromPort"], rule["ToPort"], rule["CidrIpv4"]) == (22, 22, "0.0.0.0/0")
    assert (
        error_code(lambda: ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=_ssh()))
        == "InvalidPermission.Duplicate"
    )
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=_ssh("10.0.0.0/8"))
    perms = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]
    assert len(perms) == 1
    assert sorted(r["CidrIp"] for r in perms[0]["IpRanges"]) == ["0.0.0.0/0", "10.0.0.0/8"]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [gid]}])
    assert len(rules["SecurityGroupRules"]) == 3
    ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=[
        rule["SecurityGroupRuleId"]
    ])  # fmt: skip
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=_ssh("10.0.0.0/8"))
    assert (
        error_code(lambda: ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=_ssh()))
        == "InvalidPermission.NotFound"
    )
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    assert group["IpPermissions"] == []


def test_protocols_and_ports(ec2: Any) -> None:
    _, gid = _group(ec2)
    auth = ec2.authorize_security_group_ingress

    def bad(perm: dict[str, Any]) -> str:
        return error_code(lambda: auth(GroupId=gid, IpPermissions=[
            {**perm, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ]))  # fmt: skip

    assert bad({"IpProtocol": "tcp"}) == "InvalidParameterValue"
    assert bad({"IpProtocol": "tcp", "FromPort": 80, "ToPort": 70000}) == "InvalidParameterValue"
    assert bad({"IpProtocol": "udp", "FromPort": 90, "ToPort": 80}) == "InvalidParameterValue"
    assert bad({"IpProtocol": "bogus", "FromPort": 1, "ToPort": 2}) == "InvalidParameterValue"
    assert error_code(lambda: auth(GroupId=gid, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "1.2.3.4/40"}]
    }])) == "InvalidParameterValue"  # fmt: skip
    auth(GroupId=gid, IpPermissions=[{"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1,
                                      "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])  # fmt: skip
    auth(GroupId=gid, IpPermissions=[{"IpProtocol": "6", "FromPort": 443, "ToPort": 443,
                                      "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])  # fmt: skip
    perms = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]
    assert {p["IpProtocol"] for p in perms} == {"icmp", "tcp"}
    found = ec2.describe_security_groups(
        Filters=[{"Name": "ip-permission.from-port", "Values": ["443"]}]
    )["SecurityGroups"]
    assert [g["GroupId"] for g in found] == [gid]


def test_rules_per_group_limit(ec2: Any) -> None:
    _, gid = _group(ec2)
    ranges = [{"CidrIp": f"10.0.{i}.0/24"} for i in range(60)]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": ranges}
    ])  # fmt: skip
    assert (
        error_code(lambda: ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=_ssh()))
        == "RulesPerSecurityGroupLimitExceeded"
    )


def test_group_references(ec2: Any) -> None:
    vpc, web = _group(ec2)
    db = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    pair = [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
             "UserIdGroupPairs": [{"GroupId": web}]}]  # fmt: skip
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=pair)
    perms = ec2.describe_security_groups(GroupIds=[db])["SecurityGroups"][0]["IpPermissions"]
    assert perms[0]["UserIdGroupPairs"][0]["GroupId"] == web
    assert error_code(lambda: ec2.delete_security_group(GroupId=web)) == "DependencyViolation"
    missing = [{**pair[0], "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0"}]}]
    assert (
        error_code(lambda: ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=missing))
        == "InvalidGroup.NotFound"
    )
    ec2.revoke_security_group_ingress(GroupId=db, IpPermissions=pair)
    ec2.delete_security_group(GroupId=web)
    default = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    assert error_code(lambda: ec2.delete_security_group(GroupId=default)) == "CannotDelete"


def test_group_names_in_the_default_vpc(ec2: Any) -> None:
    gid = ec2.create_security_group(GroupName="app", Description="app")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupName="app", IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="0.0.0.0/0"
    )
    found = ec2.describe_security_groups(GroupNames=["app"])["SecurityGroups"][0]
    assert found["GroupId"] == gid and found["IpPermissions"][0]["FromPort"] == 80
    ec2.delete_security_group(GroupName="app")
    assert error_code(lambda: ec2.describe_security_groups(GroupIds=[gid])) == (
        "InvalidGroup.NotFound"
    )


def test_egress_rules(ec2: Any) -> None:
    _, gid = _group(ec2)
    everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    assert (
        error_code(
            lambda: ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=everything)
        )
        == "InvalidPermission.Duplicate"
    )
    ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=everything)
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    assert group["IpPermissionsEgress"] == []
    ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ])  # fmt: skip
    found = ec2.describe_security_groups(
        Filters=[{"Name": "egress.ip-permission.to-port", "Values": ["443"]}]
    )["SecurityGroups"]
    assert [g["GroupId"] for g in found] == [gid]
