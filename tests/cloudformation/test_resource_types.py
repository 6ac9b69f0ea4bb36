"""One stack with a resource of most types nubes offers, checked through each service's own API,
then updated in place and deleted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudformation.conftest import outputs, settle

TEMPLATE = (Path(__file__).parent / "many_types.yaml").read_text()


def physical(cfn: Any, stack: str) -> dict[str, str]:
    rows = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in rows}


def test_every_type_through_its_service(cfn: Any, client: Callable[..., Any], deploy: Any) -> None:
    stack = deploy(TEMPLATE, Capabilities=["CAPABILITY_IAM"])
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    name = stack["StackName"]
    ids = physical(cfn, name)
    out = outputs(stack)

    s3 = client("s3")
    bucket = ids["Bucket"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    notification = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert notification["QueueConfigurations"][0]["Events"] == ["s3:ObjectCreated:*"]
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["MaxAgeSeconds"] == 300
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]
    assert lifecycle["Expiration"]["Days"] == 30

    sqs = client("sqs")
    queue_attrs = sqs.get_queue_attributes(QueueUrl=ids["Queue"], AttributeNames=["Policy"])
    assert "s3.amazonaws.com" in queue_attrs["Attributes"]["Policy"]

    sns = client("sns")
    topic = sns.get_topic_attributes(TopicArn=ids["Topic"])["Attributes"]
    assert topic["DisplayName"] == "hello"
    assert "events.amazonaws.com" in topic["Policy"]
    sub = sns.get_subscription_attributes(SubscriptionArn=ids["Sub"])["Attributes"]
    assert sub["RawMessageDelivery"] == "true"

    table = client("dynamodb").describe_table(TableName=ids["Table"])["Table"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "byg"
    assert table["LatestStreamArn"] == out["Stream"]
    ttl = client("dynamodb").describe_time_to_live(TableName=ids["Table"])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "ttl"

    iam = client("iam")
    role = ids["Role"]
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["inline"]
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [ids["Managed"]]
    profile = iam.get_instance_profile(InstanceProfileName=ids["Profile"])["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [role]
    user = ids["User"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [
        ids["Group"]
    ]
    keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [ids["Key"]]
    assert out["Secret"]
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == ["extra"]

    logs = client("logs")
    group = logs.describe_log_groups(logGroupNamePrefix=ids["Logs"])["logGroups"][0]
    assert group["retentionInDays"] == 7
    filters = logs.describe_metric_filters(logGroupName=ids["Logs"])["metricFilters"]
    assert filters[0]["filterPattern"] == "ERROR"

    param = client("ssm").get_parameter(Name=ids["Param"])["Parameter"]
    assert param["Value"] == table["TableArn"]

    lam = client("lambda")
    payload = lam.invoke(FunctionName=ids["Fn"], Qualifier="live")["Payload"].read()
    assert json.loads(payload) == {"table": ids["Table"]}
    assert ids["Version"].endswith(":1")
    policy = json.loads(lam.get_policy(FunctionName=ids["Fn"])["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "sns.amazonaws.com"}
    mapping = lam.get_event_source_mapping(UUID=ids["Mapping"])
    assert mapping["BatchSize"] == 5
    assert out["Url"] == lam.get_function_url_config(FunctionName=ids["Fn"])["FunctionUrl"]

    # In place: retention, display name, an environment variable.
    updated = (
        TEMPLATE.replace("RetentionInDays: 7", "RetentionInDays: 14")
        .replace("DisplayName: hello", "DisplayName: goodbye")
        .replace("TABLE: !Ref Table", "TABLE: !Ref Table\n          MODE: two")
    )
    cfn.update_stack(StackName=name, TemplateBody=updated, Capabilities=["CAPABILITY_IAM"])
    assert settle(cfn, name)["StackStatus"] == "UPDATE_COMPLETE"
    assert physical(cfn, name) == ids
    group = logs.describe_log_groups(logGroupNamePrefix=ids["Logs"])["logGroups"][0]
    assert group["retentionInDays"] == 14
    assert sns.get_topic_attributes(TopicArn=ids["Topic"])["Attributes"]["DisplayName"] == "goodbye"
    env = lam.get_function_configuration(FunctionName=ids["Fn"])["Environment"]["Variables"]
    assert env == {"TABLE": ids["Table"], "MODE": "two"}

    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=bucket)
    with pytest.raises(ClientError):
        iam.get_role(RoleName=role)
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=ids["Fn"])


def test_iam_needs_capabilities(cfn: Any, unique: Callable[[str], str]) -> None:
    body = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: named
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: []}
"""
    for given, needed in (
        ([], "CAPABILITY_NAMED_IAM"),
        (["CAPABILITY_IAM"], "CAPABILITY_NAMED_IAM"),
    ):
        with pytest.raises(ClientError) as err:
            cfn.create_stack(StackName=unique("caps"), TemplateBody=body, Capabilities=given)
        assert err.value.response["Error"]["Code"] == "InsufficientCapabilitiesException"
        assert err.value.response["Error"]["Message"] == f"Requires capabilities : [{needed}]"
    summary = cfn.get_template_summary(TemplateBody=body)
    assert summary["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert summary["CapabilitiesReason"] == (
        "The following resource(s) require capabilities: [AWS::IAM::Role]"
    )
