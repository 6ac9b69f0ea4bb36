"""ARNs carry the partition of the request's region (issue 16): ``aws-cn`` for ``cn-*``,
``aws-us-gov`` for ``us-gov-*`` (AWS General Reference, "Amazon Resource Names")."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from nubes.core.arns import arn, partition_of
from tests.lambda_.conftest import zipped
from tests.server import NubesProcess

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-west-1", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("", "aws"),
    ],
)
def test_partition_of_region(region: str, partition: str) -> None:
    assert partition_of(region) == partition
    assert arn("logs", region, "1", "x").startswith(f"arn:{partition}:logs:")


@pytest.mark.parametrize(
    ("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]
)
def test_regional_and_session_arns_use_the_partition(
    client: Callable[..., Any], unique: Callable[[str], str], region: str, partition: str
) -> None:
    logs = client("logs", region=region)
    group = unique("g")
    logs.create_log_group(logGroupName=group)
    found = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert found["arn"].startswith(f"arn:{partition}:logs:{region}:")
    role = client("iam").create_role(RoleName=unique("r"), AssumeRolePolicyDocument=TRUST)["Role"]
    out = client("sts", region=region).assume_role(
        RoleArn=role["Arn"], RoleSessionName="cn-session"
    )
    assert out["AssumedRoleUser"]["Arn"].startswith(f"arn:{partition}:sts::")


@pytest.mark.parametrize(
    ("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]
)
def test_every_service_mints_arns_in_the_partition_of_the_region(
    client: Callable[..., Any], unique: Callable[[str], str], region: str, partition: str
) -> None:
    me = client("sts", region=region).get_caller_identity()
    assert me["Arn"] == f"arn:{partition}:iam::{me['Account']}:root"
    # IAM is global: its endpoint in these partitions is signed for cn-north-1 / us-gov-west-1.
    iam = client("iam", region=region)
    trust = TRUST.replace("arn:aws:", f"arn:{partition}:")
    role = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust)["Role"]
    assert role["Arn"] == f"arn:{partition}:iam::{me['Account']}:role/{role['RoleName']}"
    assert iam.get_role(RoleName=role["RoleName"])["Role"]["Arn"] == role["Arn"]
    managed = f"arn:{partition}:iam::aws:policy/ReadOnlyAccess"
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=managed)
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [managed]
    assert iam.get_policy(PolicyArn=managed)["Policy"]["Arn"] == managed

    sqs = client("sqs", region=region)
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert queue_arn.startswith(f"arn:{partition}:sqs:{region}:")

    topic = client("sns", region=region).create_topic(Name=unique("t"))["TopicArn"]
    assert topic.startswith(f"arn:{partition}:sns:{region}:")
    sub = client("sns", region=region).subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    assert sub["SubscriptionArn"].startswith(f"{topic}:")

    events = client("events", region=region)
    rule = events.put_rule(Name=unique("rule"), EventPattern='{"source": ["aws.s3"]}')
    assert rule["RuleArn"].startswith(f"arn:{partition}:events:{region}:")
    events.put_targets(
        Rule=rule["RuleArn"].rsplit("/", 1)[1], Targets=[{"Id": "q", "Arn": queue_arn}]
    )

    s3 = client("s3", region=region)
    bucket = unique("b").lower()
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}],
            "EventBridgeConfiguration": {},
        },
    )
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    bodies: list[dict[str, Any]] = []
    for _ in range(10):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies += [json.loads(m["Body"]) for m in got.get("Messages", [])]
        if len(bodies) >= 2:
            break
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    records = [r for b in bodies for r in b.get("Records", [])]
    assert [r["s3"]["bucket"]["arn"] for r in records] == [bucket_arn]
    assert [b["resources"] for b in bodies if "detail-type" in b] == [[bucket_arn]]


def test_ec2_and_cloudwatch_arns_in_china(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    region = "cn-northwest-1"
    ec2 = client("ec2", region=region)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName=unique("group"), Description="d", VpcId=vpc)
    found = ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"][0]
    assert found["SecurityGroupArn"].startswith(f"arn:aws-cn:ec2:{region}:")
    cloudwatch = client("cloudwatch", region=region)
    name = unique("alarm")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="m",
        Namespace="n",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["AlarmArn"].startswith(f"arn:aws-cn:cloudwatch:{region}:")


CHINA = "cn-north-1"


def _own_account() -> str:
    return f"{random.randrange(10**11, 10**12)}"


def test_dashboard_arn_and_default_key_policy_in_china(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    account = client("sts", region=CHINA).get_caller_identity()["Account"]
    cloudwatch = client("cloudwatch", region=CHINA)
    name = unique("board")
    cloudwatch.put_dashboard(DashboardName=name, DashboardBody='{"widgets": []}')
    board = f"arn:aws-cn:cloudwatch::{account}:dashboard/{name}"
    assert cloudwatch.get_dashboard(DashboardName=name)["DashboardArn"] == board
    listed = cloudwatch.list_dashboards(DashboardNamePrefix=name)["DashboardEntries"]
    assert [d["DashboardArn"] for d in listed] == [board]
    cloudwatch.delete_dashboards(DashboardNames=[name])

    kms = client("kms", region=CHINA)
    key = kms.create_key()["KeyMetadata"]
    assert key["Arn"].startswith(f"arn:aws-cn:kms:{CHINA}:")
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws-cn:iam::{account}:root"}
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)


def test_lambda_policies_runtime_and_url_in_china(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    lam = client("lambda", region=CHINA)
    name = unique("fn")
    made = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role="arn:aws-cn:iam::000000000000:role/lambda-role",
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": "def handler(event, context):\n    return event\n"})},
    )
    try:
        assert made["FunctionArn"].startswith(f"arn:aws-cn:lambda:{CHINA}:")
        runtime = made["RuntimeVersionConfig"]["RuntimeVersionArn"]
        assert runtime.startswith(f"arn:aws-cn:lambda:{CHINA}::runtime:")
        lam.add_permission(
            FunctionName=name,
            StatementId="other-account",
            Action="lambda:InvokeFunction",
            Principal="111122223333",
        )
        statement = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"][0]
        assert statement["Principal"] == {"AWS": "arn:aws-cn:iam::111122223333:root"}
        url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")
        assert url["FunctionArn"] == made["FunctionArn"]
    finally:
        lam.delete_function(FunctionName=name)

    layer = lam.publish_layer_version(
        LayerName=unique("layer"), Content={"ZipFile": zipped({"python/x.py": "X = 1\n"})}
    )
    assert layer["LayerVersionArn"].startswith(f"arn:aws-cn:lambda:{CHINA}:")
    lam.add_layer_version_permission(
        LayerName=layer["LayerArn"],
        VersionNumber=layer["Version"],
        StatementId="share",
        Action="lambda:GetLayerVersion",
        Principal="111122223333",
    )
    shared = lam.get_layer_version_policy(LayerName=layer["LayerArn"], VersionNumber=1)
    statement = json.loads(shared["Policy"])["Statement"][0]
    assert statement["Principal"] == {"AWS": "arn:aws-cn:iam::111122223333:root"}
    lam.delete_layer_version(LayerName=layer["LayerArn"], VersionNumber=layer["Version"])


def test_route53_arns_follow_the_signing_partition(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    route53 = client("route53", region=CHINA, aws_access_key_id=_own_account())
    made = route53.create_cidr_collection(Name=unique("cidrs"), CallerReference=unique("ref"))
    collection = made["Collection"]
    assert collection["Arn"] == f"arn:aws-cn:route53:::cidrcollection/{collection['Id']}"
    listed = route53.list_cidr_collections()["CidrCollections"]
    assert [c["Arn"] for c in listed] == [collection["Arn"]]
    route53.delete_cidr_collection(Id=collection["Id"])

    check = route53.create_health_check(
        CallerReference=unique("hc"),
        HealthCheckConfig={"Type": "TCP", "IPAddress": "127.0.0.1", "Port": 9},
    )["HealthCheck"]["Id"]
    route53.change_tags_for_resource(
        ResourceType="healthcheck", ResourceId=check, AddTags=[{"Key": "team", "Value": "cn"}]
    )
    tags = route53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=check)
    assert tags["ResourceTagSet"]["Tags"] == [{"Key": "team", "Value": "cn"}]
    route53.delete_health_check(HealthCheckId=check)


def test_logs_export_to_a_china_bucket(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    account = _own_account()
    logs = client("logs", region=CHINA, aws_access_key_id=account)
    s3 = client("s3", region=CHINA, aws_access_key_id=account)
    bucket = unique("export").lower()
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": CHINA})
    # The export bucket's policy as a China-region user writes it: resources in aws-cn.
    principal = {"Service": f"logs.{CHINA}.amazonaws.com"}
    statements = [
        {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource}
        for action, resource in (
            ("s3:GetBucketAcl", f"arn:aws-cn:s3:::{bucket}"),
            ("s3:PutObject", f"arn:aws-cn:s3:::{bucket}/*"),
        )
    ]
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "k", "Value": "v"}]
    group = unique("/export/g")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": "hi"}]
    )
    task = logs.create_export_task(
        logGroupName=group, fromTime=now - 1000, to=now + 1000, destination=bucket
    )["taskId"]
    deadline = time.monotonic() + 60
    while True:
        found = logs.describe_export_tasks(taskId=task)["exportTasks"][0]
        if found["status"]["code"] not in ("PENDING", "RUNNING") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert found["status"]["code"] == "COMPLETED", found["status"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.startswith(f"exportedlogs/{task}/s/") for k in keys), keys


def test_step_functions_integrations_in_the_china_partition(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sqs = client("sqs", region=CHINA)
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    sfn = client("stepfunctions", region=CHINA)
    definition = {
        "StartAt": "Send",
        "States": {
            "Send": {
                "Type": "Task",
                "Resource": "arn:aws-cn:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": url, "MessageBody": "from china"},
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=unique("sm"),
        definition=json.dumps(definition),
        roleArn="arn:aws-cn:iam::000000000000:role/sfn-role",
    )["stateMachineArn"]
    assert machine.startswith(f"arn:aws-cn:states:{CHINA}:")
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    deadline = time.monotonic() + 60
    while True:
        out = sfn.describe_execution(executionArn=execution)
        if out["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert out["status"] == "SUCCEEDED", out
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in got] == ["from china"]


@pytest.fixture(scope="module")
def enforcing() -> Iterator[NubesProcess]:
    process = NubesProcess(env={"NUBES_ENFORCE_IAM": "1"}).start()
    yield process
    process.stop()


def test_access_denied_names_the_root_in_its_partition(
    enforcing: NubesProcess, unique: Callable[[str], str]
) -> None:
    """Root keys are looked up once per key; the ARN a denial names is the one of the
    partition the request is signed for."""
    sqs = enforcing.client("sqs", region=CHINA)
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    deny = {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": queue}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [deny]})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    message = exc.value.response["Error"]["Message"]
    assert message.startswith("User: arn:aws-cn:iam::000000000000:root is not authorized"), message


def test_api_gateway_names_an_iam_caller_in_the_apis_partition(
    client: Callable[..., Any], endpoint: str, unique: Callable[[str], str]
) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    apigw = client("apigateway", region=CHINA)
    api = apigw.create_rest_api(name=unique("api"))["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="AWS_IAM")
    apigw.put_integration(
        restApiId=api,
        resourceId=root,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigw.put_method_response(restApiId=api, resourceId=root, httpMethod="GET", statusCode="200")
    apigw.put_integration_response(
        restApiId=api,
        resourceId=root,
        httpMethod="GET",
        statusCode="200",
        responseTemplates={"application/json": '{"user": "$context.identity.userArn"}'},
    )
    apigw.create_deployment(restApiId=api, stageName="prod")
    url = f"{endpoint}/_aws/execute-api/{api}/prod/"
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("test", "test"), "execute-api", CHINA).add_auth(request)
    got = requests.get(url, headers=dict(request.headers.items()), timeout=60)
    assert got.status_code == 200, got.text
    assert got.json() == {"user": "arn:aws-cn:iam::000000000000:root"}
