"""AWS::ECR::Repository: a stack makes a repository with CDK bootstrap's settings, changes them
in place, and removes it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.cloudformation.conftest import outputs, reasons, settle

LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "untagged images",
            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan",
                          "countNumber": 5},
            "action": {"type": "expire"},
        }
    ]
}  # fmt: skip


def _template(mutability: str, lifecycle: bool) -> str:
    repo: dict[str, Any] = {
        "ImageTagMutability": mutability,
        "ImageScanningConfiguration": {"ScanOnPush": "true"},
        "Tags": [{"Key": "team", "Value": "build"}],
        "EmptyOnDelete": True,
    }
    if lifecycle:
        repo["LifecyclePolicy"] = {"LifecyclePolicyText": json.dumps(LIFECYCLE)}
    return json.dumps(
        {
            "Resources": {"Repo": {"Type": "AWS::ECR::Repository", "Properties": repo}},
            "Outputs": {
                "Name": {"Value": {"Ref": "Repo"}},
                "Arn": {"Value": {"Fn::GetAtt": ["Repo", "Arn"]}},
                "Uri": {"Value": {"Fn::GetAtt": ["Repo", "RepositoryUri"]}},
            },
        }
    )


def test_repository_stack(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    ecr = client("ecr")
    name = unique("ecr")
    cfn.create_stack(StackName=name, TemplateBody=_template("IMMUTABLE", True))
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, name)
    out = outputs(stack)
    assert out["Name"] == out["Name"].lower() and out["Name"].startswith(name.lower())
    repo = ecr.describe_repositories(repositoryNames=[out["Name"]])["repositories"][0]
    assert (repo["repositoryArn"], repo["repositoryUri"]) == (out["Arn"], out["Uri"])
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    policy = ecr.get_lifecycle_policy(repositoryName=out["Name"])["lifecyclePolicyText"]
    assert json.loads(policy) == LIFECYCLE
    tags = {
        t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=out["Arn"])["tags"]
    }
    assert tags["team"] == "build" and tags["aws:cloudformation:logical-id"] == "Repo"

    cfn.update_stack(StackName=name, TemplateBody=_template("MUTABLE", False))
    updated = settle(cfn, name)
    assert updated["StackStatus"] == "UPDATE_COMPLETE", reasons(cfn, name)
    assert outputs(updated)["Arn"] == out["Arn"]
    repo = ecr.describe_repositories(repositoryNames=[out["Name"]])["repositories"][0]
    assert repo["imageTagMutability"] == "MUTABLE"
    try:
        ecr.get_lifecycle_policy(repositoryName=out["Name"])
    except ecr.exceptions.LifecyclePolicyNotFoundException:
        pass
    else:
        raise AssertionError("the lifecycle policy was kept")

    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    listed = ecr.describe_repositories()["repositories"]
    assert out["Name"] not in [r["repositoryName"] for r in listed]
