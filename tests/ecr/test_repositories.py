"""ECR repositories through boto3: create, describe (paged), settings, lifecycle and repository
policies, tags, delete; and the errors ECR answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 365,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "pull",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": ["ecr:BatchGetImage"],
            }
        ],
    }
)


def _error(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_repository_lifecycle(client: Callable[..., Any], unique: Callable[[str], str]) -> None:
    ecr = client("ecr")
    name = f"team/{unique('repo').lower()}"
    made = ecr.create_repository(
        repositoryName=name,
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        tags=[{"Key": "team", "Value": "a"}],
    )["repository"]
    account = made["registryId"]
    assert made["repositoryArn"] == f"arn:aws:ecr:us-east-1:{account}:repository/{name}"
    assert made["repositoryUri"] == f"{account}.dkr.ecr.us-east-1.amazonaws.com/{name}"
    assert made["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert _error(lambda: ecr.create_repository(repositoryName=name)) == (
        "RepositoryAlreadyExistsException",
        f"The repository with name '{name}' already exists in the registry with id '{account}'",
    )
    found = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert found["imageTagMutability"] == "IMMUTABLE"
    assert found["imageScanningConfiguration"] == {"scanOnPush": True}

    ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="MUTABLE")
    ecr.put_image_scanning_configuration(
        repositoryName=name, imageScanningConfiguration={"scanOnPush": False}
    )
    found = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert (found["imageTagMutability"], found["imageScanningConfiguration"]) == (
        "MUTABLE",
        {"scanOnPush": False},
    )

    assert _error(lambda: ecr.get_lifecycle_policy(repositoryName=name))[0] == (
        "LifecyclePolicyNotFoundException"
    )
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=LIFECYCLE)
    assert ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"] == LIFECYCLE
    bad = LIFECYCLE.replace("untagged", "sometimes")
    code, message = _error(
        lambda: ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=bad)
    )
    assert code == "InvalidParameterException" and "Lifecycle policy validation failure" in message
    ecr.delete_lifecycle_policy(repositoryName=name)

    ecr.set_repository_policy(repositoryName=name, policyText=POLICY)
    assert ecr.get_repository_policy(repositoryName=name)["policyText"] == POLICY
    assert _error(lambda: ecr.set_repository_policy(repositoryName=name, policyText="{}"))[0] == (
        "InvalidParameterException"
    )
    ecr.delete_repository_policy(repositoryName=name)
    assert _error(lambda: ecr.get_repository_policy(repositoryName=name))[0] == (
        "RepositoryPolicyNotFoundException"
    )

    arn = made["repositoryArn"]
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "stage", "Value": "dev"}])
    ecr.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "stage", "Value": "dev"}]
    assert _error(lambda: ecr.tag_resource(resourceArn=arn, tags=[{"Key": "aws:x", "Value": "y"}]))[
        0
    ] == ("InvalidTagParameterException")

    assert ecr.delete_repository(repositoryName=name)["repository"]["repositoryName"] == name
    assert _error(lambda: ecr.describe_repositories(repositoryNames=[name])) == (
        "RepositoryNotFoundException",
        f"The repository with name '{name}' does not exist in the registry with id '{account}'",
    )


def test_describe_repositories_pages(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    ecr = client("ecr", "eu-west-3")
    names = sorted(f"{unique('page').lower()}-{i}" for i in range(3))
    for name in names:
        ecr.create_repository(repositoryName=name)
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = ecr.describe_repositories(maxResults=2, **token)
        seen += [r["repositoryName"] for r in page["repositories"]]
        if "nextToken" not in page:
            break
        token = {"nextToken": page["nextToken"]}
    assert [n for n in seen if n in names] == names
    for name in names:
        ecr.delete_repository(repositoryName=name)
