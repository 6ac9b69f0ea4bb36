"""Instance profile associations, CPU credits, launch template data, account attributes,
security-group rule edits, volume modifications and prefix lists."""

from __future__ import annotations

import json
from typing import Any

from tests.ec2.conftest import error_code, instance


def _profile(client: Any, account: str, name: str) -> str:
    iam = client("iam", aws_access_key_id=account)
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}  # fmt: skip
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    arn: str = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return arn


def test_instance_profile_associations(ec2: Any, client: Any, account: str, image: str) -> None:
    first = _profile(client, account, "app")
    second = _profile(client, account, "app2")
    assert error_code(lambda: ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": "missing"}
    )) == "InvalidParameterValue"  # fmt: skip
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    made = ec2.associate_iam_instance_profile(InstanceId=iid, IamInstanceProfile={"Name": "app"})
    association = made["IamInstanceProfileAssociation"]
    assert association["IamInstanceProfile"]["Arn"] == first
    assert instance(ec2, iid)["IamInstanceProfile"]["Arn"] == first
    assert (
        error_code(
            lambda: ec2.associate_iam_instance_profile(
                InstanceId=iid, IamInstanceProfile={"Arn": second}
            )
        )
        == "IncorrectState"
    )
    replaced = ec2.replace_iam_instance_profile_association(
        AssociationId=association["AssociationId"], IamInstanceProfile={"Arn": second}
    )["IamInstanceProfileAssociation"]
    listed = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [iid]}]
    )["IamInstanceProfileAssociations"]
    assert [a["AssociationId"] for a in listed] == [replaced["AssociationId"]]
    assert listed[0]["IamInstanceProfile"]["Arn"] == second
    ec2.disassociate_iam_instance_profile(AssociationId=replaced["AssociationId"])
    assert "IamInstanceProfile" not in instance(ec2, iid)
    ec2.terminate_instances(InstanceIds=[iid])


def test_cpu_credits_and_template_data(ec2: Any, image: str) -> None:
    t3 = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        UserData="#!/bin/sh\ntrue\n",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "t"}]}],
    )
    t2 = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.micro")
    m5 = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m5.large")
    ids = [r["Instances"][0]["InstanceId"] for r in (t3, t2, m5)]
    specs = ec2.describe_instance_credit_specifications()["InstanceCreditSpecifications"]
    assert {s["InstanceId"]: s["CpuCredits"] for s in specs} == {
        ids[0]: "unlimited",
        ids[1]: "standard",
    }
    assert (
        error_code(lambda: ec2.describe_instance_credit_specifications(InstanceIds=[ids[2]]))
        == "UnsupportedOperation"
    )
    changed = ec2.modify_instance_credit_specification(InstanceCreditSpecifications=[
        {"InstanceId": ids[1], "CpuCredits": "unlimited"},
        {"InstanceId": ids[2], "CpuCredits": "unlimited"}])  # fmt: skip
    assert [s["InstanceId"] for s in changed["SuccessfulInstanceCreditSpecifications"]] == [ids[1]]
    data = ec2.get_launch_template_data(InstanceId=ids[0])["LaunchTemplateData"]
    assert data["InstanceType"] == "t3.micro" and data["ImageId"] == image
    assert data["CreditSpecification"] == {"CpuCredits": "unlimited"}
    assert data["TagSpecifications"][0]["Tags"] == [{"Key": "Name", "Value": "t"}]
    assert data["BlockDeviceMappings"][0]["DeviceName"] == "/dev/xvda"
    template = ec2.create_launch_template(LaunchTemplateName="copy", LaunchTemplateData=data)
    assert template["LaunchTemplate"]["LatestVersionNumber"] == 1
    ec2.terminate_instances(InstanceIds=ids)


def test_maintenance_options(ec2: Any, image: str) -> None:
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    assert instance(ec2, iid)["MaintenanceOptions"]["AutoRecovery"] == "default"
    changed = ec2.modify_instance_maintenance_options(InstanceId=iid, AutoRecovery="disabled")
    assert changed["AutoRecovery"] == "disabled"
    assert instance(ec2, iid)["MaintenanceOptions"]["AutoRecovery"] == "disabled"
    ec2.terminate_instances(InstanceIds=[iid])


def test_account_attributes(ec2: Any) -> None:
    found = ec2.describe_account_attributes(AttributeNames=["default-vpc", "supported-platforms"])
    values = {a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
              for a in found["AccountAttributes"]}  # fmt: skip
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    assert values == {"default-vpc": [vpc["VpcId"]], "supported-platforms": ["VPC"]}


def test_rule_edits(ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    rule = ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    ])["SecurityGroupRules"][0]["SecurityGroupRuleId"]  # fmt: skip
    ec2.update_security_group_rule_descriptions_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "office"}]}])  # fmt: skip
    perms = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]
    assert perms[0]["IpRanges"] == [{"CidrIp": "10.0.0.0/8", "Description": "office"}]
    ec2.modify_security_group_rules(GroupId=gid, SecurityGroupRules=[{
        "SecurityGroupRuleId": rule, "SecurityGroupRule": {
            "IpProtocol": "tcp", "FromPort": 2222, "ToPort": 2222, "CidrIpv4": "192.168.0.0/16"}
    }])  # fmt: skip
    found = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule])["SecurityGroupRules"]
    assert (found[0]["FromPort"], found[0]["CidrIpv4"]) == (2222, "192.168.0.0/16")


def test_volume_modifications_and_prefix_lists(ec2: Any) -> None:
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"]
    ec2.modify_volume(VolumeId=volume, Size=20, VolumeType="io2", Iops=2000)
    found = ec2.describe_volumes_modifications(VolumeIds=[volume])["VolumesModifications"][0]
    assert (found["OriginalSize"], found["TargetSize"]) == (10, 20)
    assert found["TargetVolumeType"] == "io2" and found["ModificationState"] == "completed"
    lists = ec2.describe_prefix_lists()["PrefixLists"]
    assert sorted(p["PrefixListName"] for p in lists) == [
        "com.amazonaws.us-east-1.dynamodb",
        "com.amazonaws.us-east-1.s3",
    ]
