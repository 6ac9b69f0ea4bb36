"""API Gateway from CloudFormation: plain AWS::ApiGateway resources and SAM's Api and HttpApi
events (which make APIs from OpenAPI bodies)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.apigateway.conftest import api_url
from tests.cloudformation.conftest import outputs, settle


@pytest.fixture
def cfn(client: Callable[..., Any]) -> Any:
    return client("cloudformation")


SAM = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        import json
        def handler(event, context):
            path = event.get("path") or event.get("rawPath")
            return {"statusCode": 200, "body": json.dumps({"path": path,
                    "params": event.get("pathParameters")})}
      Events:
        Rest:
          Type: Api
          Properties: {Path: "/hello/{name}", Method: get}
        Http:
          Type: HttpApi
Outputs:
  RestId: {Value: !Ref ServerlessRestApi}
  HttpId: {Value: !Ref ServerlessHttpApi}
"""

PLAIN = """
Resources:
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: plain-api}
  Things:
    Type: AWS::ApiGateway::Resource
    Properties:
      RestApiId: !Ref Api
      ParentId: !GetAtt Api.RootResourceId
      PathPart: things
  Get:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Things
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: MOCK
        RequestTemplates: {application/json: '{"statusCode": 200}'}
        IntegrationResponses:
          - StatusCode: 200
            ResponseTemplates: {application/json: '{"from": "$context.stage"}'}
      MethodResponses: [{StatusCode: 200}]
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: Get
    Properties: {RestApiId: !Ref Api}
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      DeploymentId: !Ref Deployment
      StageName: live
      Variables: {a: b}
Outputs:
  ApiId: {Value: !Ref Api}
"""


def test_sam_api_and_http_api(cfn: Any, endpoint: str, unique: Callable[[str], str]) -> None:
    name = unique("sam")
    stack_id = cfn.create_stack(
        StackName=name, TemplateBody=SAM, Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    )["StackId"]
    stack = settle(cfn, stack_id)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    out = outputs(stack)
    rest = requests.get(f"{api_url(endpoint, out['RestId'], 'Prod')}/hello/bob", timeout=60)
    assert rest.status_code == 200
    assert rest.json() == {"path": "/hello/bob", "params": {"name": "bob"}}
    http = requests.get(f"{api_url(endpoint, out['HttpId'])}/any/path", timeout=60)
    assert http.status_code == 200
    assert http.json()["path"] == "/any/path"
    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"


def test_plain_resources(cfn: Any, apigw: Any, endpoint: str, unique: Callable[[str], str]) -> None:
    name = unique("plain")
    stack_id = cfn.create_stack(StackName=name, TemplateBody=PLAIN)["StackId"]
    stack = settle(cfn, stack_id)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    api_id = outputs(stack)["ApiId"]
    resp = requests.get(f"{api_url(endpoint, api_id, 'live')}/things", timeout=60)
    assert resp.status_code == 200
    assert resp.json() == {"from": "live"}
    assert apigw.get_stage(restApiId=api_id, stageName="live")["variables"] == {"a": "b"}
    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert api_id not in [a["id"] for a in apigw.get_rest_apis(limit=500)["items"]]
