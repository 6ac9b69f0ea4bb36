"""Launch templates, their versions, and RunInstances from them."""

from __future__ import annotations

from typing import Any

from tests.ec2.conftest import error_code


def test_versions_and_launch(ec2: Any, image: str) -> None:
    made = ec2.create_launch_template(
        LaunchTemplateName="web", VersionDescription="first",
        LaunchTemplateData={"ImageId": image, "InstanceType": "t3.small",
                            "TagSpecifications": [{"ResourceType": "instance",
                                                   "Tags": [{"Key": "role", "Value": "web"}]}]},
    )["LaunchTemplate"]  # fmt: skip
    tid = made["LaunchTemplateId"]
    assert (made["DefaultVersionNumber"], made["LatestVersionNumber"]) == (1, 1)
    assert error_code(lambda: ec2.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"InstanceType": "t3.micro"}
    )) == "InvalidLaunchTemplateName.AlreadyExistsException"  # fmt: skip
    second = ec2.create_launch_template_version(
        LaunchTemplateId=tid, SourceVersion="1", LaunchTemplateData={"InstanceType": "t3.large"}
    )["LaunchTemplateVersion"]
    assert second["VersionNumber"] == 2 and not second["DefaultVersion"]
    assert second["LaunchTemplateData"]["ImageId"] == image
    latest = ec2.describe_launch_template_versions(LaunchTemplateId=tid, Versions=["$Latest"])
    assert latest["LaunchTemplateVersions"][0]["VersionNumber"] == 2
    default = ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": tid})[
        "Instances"
    ][0]
    assert default["InstanceType"] == "t3.small"
    tags = {t["Key"]: t["Value"] for t in default["Tags"]}
    assert tags == {"role": "web", "aws:ec2launchtemplate:id": tid,
                    "aws:ec2launchtemplate:version": "1"}  # fmt: skip
    newest = ec2.run_instances(
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.medium",
        LaunchTemplate={"LaunchTemplateName": "web", "Version": "$Latest"},
    )["Instances"][0]
    assert newest["InstanceType"] == "t3.medium"
    ec2.modify_launch_template(LaunchTemplateId=tid, DefaultVersion="2")
    third = ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateName": "web"})[
        "Instances"
    ][0]
    assert third["InstanceType"] == "t3.large"
    assert (
        error_code(
            lambda: ec2.run_instances(
                MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": tid, "Version": "9"}
            )
        )
        == "InvalidLaunchTemplateId.VersionNotFound"
    )
    gone = ec2.delete_launch_template_versions(LaunchTemplateId=tid, Versions=["1", "2"])
    assert [v["VersionNumber"] for v in gone["SuccessfullyDeletedLaunchTemplateVersions"]] == [1]
    failed = gone["UnsuccessfullyDeletedLaunchTemplateVersions"][0]
    assert failed["ResponseError"]["Code"] == "launchTemplateVersionIsDefaultVersion"
    ec2.terminate_instances(InstanceIds=[default["InstanceId"], newest["InstanceId"],
                                         third["InstanceId"]])  # fmt: skip
    ec2.delete_launch_template(LaunchTemplateName="web")
    assert error_code(lambda: ec2.describe_launch_templates(LaunchTemplateNames=["web"])) == (
        "InvalidLaunchTemplateName.NotFoundException"
    )
