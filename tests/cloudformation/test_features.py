"""Exports and imports across stacks, change sets (sam deploy's way), SAM, custom resources,
wait conditions, nested stacks, termination protection."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nubes.core.resources import find_type
from tests.cloudformation.conftest import outputs, reasons, settle

EXPORTER = """
Resources:
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  Arn:
    Value: !GetAtt Queue.Arn
    Export:
      Name: !Sub "${AWS::StackName}-arn"
"""
IMPORTER = """
Parameters:
  Source:
    Type: String
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !Select [5, !Split [":", !ImportValue {"Fn::Sub": "${Source}-arn"}]]
Outputs:
  Imported:
    Value: !ImportValue {"Fn::Sub": "${Source}-arn"}
"""


def test_exports_and_imports(cfn: Any, deploy: Any) -> None:
    exporter = deploy(EXPORTER)
    source = exporter["StackName"]
    arn = outputs(exporter)["Arn"]
    importer = deploy(IMPORTER, Parameters=[{"ParameterKey": "Source", "ParameterValue": source}])
    assert importer["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(importer)["Imported"] == arn
    assert cfn.list_imports(ExportName=f"{source}-arn")["Imports"] == [importer["StackName"]]

    # The exporter cannot go while its export is imported.
    cfn.delete_stack(StackName=source)
    blocked = settle(cfn, source)
    assert blocked["StackStatus"] == "DELETE_FAILED"
    assert blocked["StackStatusReason"] == (
        f"Export {source}-arn cannot be deleted as it is in use by {importer['StackName']}"
    )
    # A second stack may not export the same name.
    clash = deploy(EXPORTER.replace("${AWS::StackName}", source))
    assert clash["StackStatus"] == "ROLLBACK_COMPLETE"
    assert (
        clash["StackName"],
        "ROLLBACK_IN_PROGRESS",
        f"Export with name {source}-arn is already exported by stack {source}",
    ) in reasons(cfn, clash["StackName"])

    cfn.delete_stack(StackName=importer["StackName"])
    settle(cfn, importer["StackId"])
    cfn.delete_stack(StackName=source)
    assert settle(cfn, exporter["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    names = [e["Name"] for e in cfn.list_exports()["Exports"]]
    assert f"{source}-arn" not in names
    missing = deploy(IMPORTER, Parameters=[{"ParameterKey": "Source", "ParameterValue": source}])
    assert missing["StackStatus"] == "ROLLBACK_COMPLETE"


def test_change_sets(cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]) -> None:
    name = unique("cs")
    created = cfn.create_change_set(
        StackName=name, ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=EXPORTER
    )
    review = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert review["StackStatus"] == "REVIEW_IN_PROGRESS"
    described = cfn.describe_change_set(ChangeSetName=created["Id"])
    assert described["Status"] == "CREATE_COMPLETE"
    assert described["ExecutionStatus"] == "AVAILABLE"
    assert [c["ResourceChange"]["Action"] for c in described["Changes"]] == ["Add"]
    cfn.execute_change_set(ChangeSetName="first", StackName=name)
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    queue_url = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Queue")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]

    renamed = EXPORTER.replace(
        "    Type: AWS::SQS::Queue",
        f"    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: {name}-q\n"
        "  Extra:\n    Type: AWS::SQS::Queue\n    Properties:\n      DelaySeconds: 5",
    )
    cfn.create_change_set(StackName=name, ChangeSetName="second", TemplateBody=renamed)
    changes = {
        c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]
        for c in cfn.describe_change_set(StackName=name, ChangeSetName="second")["Changes"]
    }
    assert changes["Extra"]["Action"] == "Add"
    assert changes["Queue"]["Action"] == "Modify"
    assert changes["Queue"]["Replacement"] == "True"
    assert changes["Queue"]["PhysicalResourceId"] == queue_url
    assert changes["Queue"]["Details"][0]["Target"] == {
        "Attribute": "Properties",
        "Name": "QueueName",
        "RequiresRecreation": "Always",
    }
    summaries = cfn.list_change_sets(StackName=name)["Summaries"]
    assert [s["ChangeSetName"] for s in summaries] == ["second"]

    cfn.create_change_set(StackName=name, ChangeSetName="same", TemplateBody=EXPORTER)
    same = cfn.describe_change_set(StackName=name, ChangeSetName="same")
    assert same["Status"] == "FAILED"
    assert same["StatusReason"].startswith("The submitted information didn't contain changes.")
    cfn.delete_change_set(StackName=name, ChangeSetName="same")

    cfn.execute_change_set(StackName=name, ChangeSetName="second")
    assert settle(cfn, name)["StackStatus"] == "UPDATE_COMPLETE"
    urls = client("sqs").list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    assert queue_url not in urls and any(u.endswith(f"/{name}-q") for u in urls)
    with pytest.raises(ClientError) as err:
        cfn.describe_change_set(StackName=name, ChangeSetName="second-gone")
    assert err.value.response["Error"]["Code"] == "ChangeSetNotFound"
    cfn.delete_stack(StackName=name)
    settle(cfn, stack["StackId"])


SAM_APP = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Items:
    Type: AWS::Serverless::SimpleTable
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Environment:
        Variables:
          TABLE: !Ref Items
      Policies:
        - DynamoDBCrudPolicy:
            TableName: !Ref Items
      InlineCode: |
        import os
        def handler(event, context):
            return {"table": os.environ["TABLE"], "got": event}
Outputs:
  Function:
    Value: !Ref Reader
  Table:
    Value: !Ref Items
"""


def test_sam_application_deploys_like_sam_deploy(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    name = unique("sam")
    # Without CAPABILITY_AUTO_EXPAND a stack with a transform is refused.
    with pytest.raises(ClientError) as err:
        cfn.create_stack(StackName=name, TemplateBody=SAM_APP, Capabilities=["CAPABILITY_IAM"])
    assert err.value.response["Error"]["Code"] == "InsufficientCapabilitiesException"
    cfn.create_change_set(
        StackName=name,
        ChangeSetName="samcli-deploy1",
        ChangeSetType="CREATE",
        TemplateBody=SAM_APP,
        Capabilities=["CAPABILITY_IAM"],
    )
    described = cfn.describe_change_set(StackName=name, ChangeSetName="samcli-deploy1")
    types = {c["ResourceChange"]["ResourceType"] for c in described["Changes"]}
    assert {"AWS::Lambda::Function", "AWS::IAM::Role", "AWS::DynamoDB::Table"} <= types
    cfn.execute_change_set(StackName=name, ChangeSetName="samcli-deploy1")
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, name)
    out = outputs(stack)
    client("dynamodb").put_item(TableName=out["Table"], Item={"id": {"S": "1"}})
    answer = client("lambda").invoke(FunctionName=out["Function"], Payload=b'{"x": 1}')
    assert json.loads(answer["Payload"].read()) == {"table": out["Table"], "got": {"x": 1}}
    template = cfn.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
    assert "AWS::Serverless::Function" in str(template)
    assert cfn.get_template(StackName=name)["StagesAvailable"] == ["Original", "Processed"]
    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"


CUSTOM = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
  Provider:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
          import cfnresponse
          def handler(event, context):
              props = event["ResourceProperties"]
              if event["RequestType"] == "Delete":
                  cfnresponse.send(event, context, cfnresponse.SUCCESS, {})
                  return
              if props.get("Fail") == "yes":
                  cfnresponse.send(event, context, cfnresponse.FAILED, {}, reason="told to fail")
                  return
              number = int(props["Number"])
              cfnresponse.send(event, context, cfnresponse.SUCCESS, {"Doubled": number * 2},
                               "custom-" + props["Number"])
  Doubler:
    Type: Custom::Doubler
    Properties:
      ServiceToken: !GetAtt Provider.Arn
      Number: NUMBER
      Fail: SHOULDFAIL
Outputs:
  Doubled:
    Value: !GetAtt Doubler.Doubled
  Id:
    Value: !Ref Doubler
"""


def test_lambda_backed_custom_resource(cfn: Any, deploy: Any) -> None:
    stack = deploy(
        CUSTOM.replace("NUMBER", "21").replace("SHOULDFAIL", "'no'"),
        Capabilities=["CAPABILITY_IAM"],
    )
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, stack["StackName"])
    assert outputs(stack) == {"Doubled": "42", "Id": "custom-21"}
    name = stack["StackName"]
    cfn.update_stack(
        StackName=name,
        TemplateBody=CUSTOM.replace("NUMBER", "5").replace("SHOULDFAIL", "'no'"),
        Capabilities=["CAPABILITY_IAM"],
    )
    assert outputs(settle(cfn, name)) == {"Doubled": "10", "Id": "custom-5"}
    cfn.update_stack(
        StackName=name,
        TemplateBody=CUSTOM.replace("NUMBER", "6").replace("SHOULDFAIL", "'yes'"),
        Capabilities=["CAPABILITY_IAM"],
    )
    rolled = settle(cfn, name)
    assert rolled["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    failed = [r for r in reasons(cfn, name) if r[1] == "UPDATE_FAILED"]
    assert failed[0][0] == "Doubler"
    assert "Message returned: told to fail" in failed[0][2]
    assert outputs(rolled) == {"Doubled": "10", "Id": "custom-5"}
    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"


WAIT = """
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
  Wait:
    Type: AWS::CloudFormation::WaitCondition
    Properties:
      Handle: !Ref Handle
      Timeout: "600"
  Signalled:
    Type: AWS::CloudFormation::WaitCondition
    CreationPolicy:
      ResourceSignal:
        Count: 1
        Timeout: PT10M
Outputs:
  Data:
    Value: !GetAtt Wait.Data
"""


def test_wait_condition_and_signal_resource(cfn: Any, unique: Callable[[str], str]) -> None:
    name = unique("wait")
    cfn.create_stack(StackName=name, TemplateBody=WAIT)
    handle = ""
    while not handle:
        rows = cfn.describe_stack_resources(StackName=name)["StackResources"]
        handle = next(
            (r.get("PhysicalResourceId", "") for r in rows if r["LogicalResourceId"] == "Handle"),
            "",
        )
    bad = urllib.request.Request(handle, data=b'{"Status": "MAYBE"}', method="PUT")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bad)
    assert refused.value.code == 400
    assert b"<Code>InvalidRequest</Code>" in refused.value.read()
    body = json.dumps({"Status": "SUCCESS", "UniqueId": "one", "Data": "ready", "Reason": "ok"})
    request = urllib.request.Request(handle, data=body.encode(), method="PUT")
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200
    while True:
        rows = cfn.describe_stack_resources(StackName=name)["StackResources"]
        status = {r["LogicalResourceId"]: r["ResourceStatus"] for r in rows}
        if status.get("Signalled") == "CREATE_IN_PROGRESS":
            break
    cfn.signal_resource(
        StackName=name, LogicalResourceId="Signalled", UniqueId="i-1", Status="SUCCESS"
    )
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert json.loads(outputs(stack)["Data"]) == {"one": "ready"}
    cfn.delete_stack(StackName=name)
    settle(cfn, stack["StackId"])


def test_nested_stack_and_termination_protection(
    cfn: Any, client: Callable[..., Any], deploy: Any, unique: Callable[[str], str]
) -> None:
    bucket = unique("templates")
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="child.yaml", Body=EXPORTER.encode())
    url = f"https://{bucket}.s3.amazonaws.com/child.yaml"
    parent = f"""
Resources:
  Child:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: {url}
Outputs:
  FromChild:
    Value: !GetAtt Child.Outputs.Arn
"""
    stack = deploy(parent, EnableTerminationProtection=True)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, stack["StackName"])
    assert ":sqs:" in outputs(stack)["FromChild"]
    child_id = cfn.describe_stack_resource(StackName=stack["StackName"], LogicalResourceId="Child")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    child = cfn.describe_stacks(StackName=child_id)["Stacks"][0]
    assert child["ParentId"] == stack["StackId"]
    with pytest.raises(ClientError) as err:
        cfn.delete_stack(StackName=stack["StackName"])
    assert err.value.response["Error"]["Message"] == (
        f"Stack [{stack['StackName']}] cannot be deleted while TerminationProtection is enabled"
    )
    cfn.update_termination_protection(
        StackName=stack["StackName"], EnableTerminationProtection=False
    )
    cfn.delete_stack(StackName=stack["StackName"])
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert cfn.describe_stacks(StackName=child_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"

    from_url = cfn.validate_template(TemplateURL=url)
    assert from_url["Parameters"] == []


SAM_API = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Items:
    Type: AWS::Serverless::SimpleTable
  Api:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Environment:
        Variables:
          TABLE: !Ref Items
      InlineCode: |
        import json, os
        def handler(event, context):
            return {"statusCode": 200,
                    "body": json.dumps({"table": os.environ["TABLE"], "path": event["path"]})}
      Events:
        Get:
          Type: Api
          Properties:
            Path: /items
            Method: get
Outputs:
  RestApi:
    Value: !Ref ServerlessRestApi
  Table:
    Value: !Ref Items
"""


def offered(type_name: str) -> bool:
    """Whether nubes offers the type in this tree (its module may be one not written yet)."""
    try:
        return find_type(type_name) is not None
    except ImportError:
        return False


@pytest.mark.xfail(
    not offered("AWS::ApiGateway::RestApi"),
    reason="API Gateway's resource types are not offered yet (another helper adds them)",
    strict=True,
)
def test_sam_api_answers_over_http(cfn: Any, endpoint: str, deploy: Any) -> None:
    stack = deploy(SAM_API, Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, stack["StackName"])
    out = outputs(stack)
    url = f"{endpoint}/_aws/execute-api/{out['RestApi']}/Prod/items"
    with urllib.request.urlopen(url) as answer:
        assert json.loads(answer.read()) == {"table": out["Table"], "path": "/items"}
    cfn.delete_stack(StackName=stack["StackName"])
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_sns_backed_custom_resource_and_notifications(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    sqs, sns = client("sqs"), client("sns")
    inbox = sqs.create_queue(QueueName=unique("inbox"))["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    provider_topic = sns.create_topic(Name=unique("provider"))["TopicArn"]
    events_topic = sns.create_topic(Name=unique("events"))["TopicArn"]
    for topic in (provider_topic, events_topic):
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=inbox_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
    body = f"""
Resources:
  Thing:
    Type: AWS::CloudFormation::CustomResource
    Properties:
      ServiceToken: {provider_topic}
      Color: blue
Outputs:
  Answer:
    Value: !GetAtt Thing.Answer
"""
    name = unique("snscr")
    cfn.create_stack(StackName=name, TemplateBody=body, NotificationARNs=[events_topic])
    request: dict[str, Any] = {}
    notes: list[str] = []
    while not request:
        for message in sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])
            if message["Body"].startswith("{"):
                request = json.loads(message["Body"])
            else:
                notes.append(message["Body"])
    assert request["RequestType"] == "Create"
    assert request["ResourceProperties"]["Color"] == "blue"
    response = {
        "Status": "SUCCESS",
        "PhysicalResourceId": "thing-1",
        "StackId": request["StackId"],
        "RequestId": request["RequestId"],
        "LogicalResourceId": request["LogicalResourceId"],
        "Data": {"Answer": "42"},
    }
    put = urllib.request.Request(
        request["ResponseURL"], data=json.dumps(response).encode(), method="PUT"
    )
    with urllib.request.urlopen(put) as answer:
        assert answer.status == 200
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(stack) == {"Answer": "42"}
    while not any(
        "ResourceStatus='CREATE_COMPLETE'" in n and f"LogicalResourceId='{name}'" in n
        for n in notes
    ):
        for message in sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])
            notes.append(message["Body"])
    assert any("ResourceStatus='CREATE_IN_PROGRESS'" in n for n in notes)


def test_import_existing_resources(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    queue_name = unique("adopted")
    url = client("sqs").create_queue(QueueName=queue_name)["QueueUrl"]
    table = unique("adopted")
    client("dynamodb").create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    body = f"""
Resources:
  Queue:
    Type: AWS::SQS::Queue
    DeletionPolicy: Retain
    Properties:
      QueueName: {queue_name}
  Table:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    Properties:
      TableName: {table}
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
      KeySchema: [{{AttributeName: id, KeyType: HASH}}]
Outputs:
  QueueArn:
    Value: !GetAtt Queue.Arn
"""
    to_import = [
        {
            "ResourceType": "AWS::SQS::Queue",
            "LogicalResourceId": "Queue",
            "ResourceIdentifier": {"QueueUrl": url},
        },
        {
            "ResourceType": "AWS::DynamoDB::Table",
            "LogicalResourceId": "Table",
            "ResourceIdentifier": {"TableName": table},
        },
    ]
    name = unique("import")
    with pytest.raises(ClientError) as err:
        cfn.create_change_set(
            StackName=name,
            ChangeSetName="adopt",
            ChangeSetType="IMPORT",
            TemplateBody=body.replace("    DeletionPolicy: Retain\n", "", 1),
            ResourcesToImport=to_import,
        )
    assert err.value.response["Error"]["Message"] == (
        "The following resources to import [Queue] must have DeletionPolicy attribute specified "
        "in the template."
    )
    cfn.create_change_set(
        StackName=name,
        ChangeSetName="adopt",
        ChangeSetType="IMPORT",
        TemplateBody=body,
        ResourcesToImport=to_import,
    )
    changes = cfn.describe_change_set(StackName=name, ChangeSetName="adopt")["Changes"]
    assert {c["ResourceChange"]["Action"] for c in changes} == {"Import"}
    cfn.execute_change_set(StackName=name, ChangeSetName="adopt")
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "IMPORT_COMPLETE"
    assert outputs(stack)["QueueArn"].endswith(f":{queue_name}")
    rows = {
        r["LogicalResourceId"]: r
        for r in cfn.describe_stack_resources(StackName=name)["StackResources"]
    }
    assert rows["Queue"]["PhysicalResourceId"] == url
    assert rows["Table"]["ResourceStatus"] == "IMPORT_COMPLETE"
    cfn.delete_stack(StackName=name)
    settle(cfn, stack["StackId"])
    client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    client("dynamodb").describe_table(TableName=table)
