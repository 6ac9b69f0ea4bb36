"""The serverless guides' shape end to end: a SAM template with a user pool, its client, and a
function behind an API whose default authorizer is the pool; a user signed in through the
stack's client calls it, a caller without a token is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from tests.cloudformation.conftest import outputs, reasons, settle

SAM = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Pool:
    Type: AWS::Cognito::UserPool
    Properties:
      AutoVerifiedAttributes: [email]
  Client:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref Pool
      ExplicitAuthFlows: [ALLOW_ADMIN_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        DefaultAuthorizer: Users
        Authorizers:
          Users:
            UserPoolArn: !GetAtt Pool.Arn
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        import json
        def handler(event, context):
            claims = event["requestContext"]["authorizer"]["claims"]
            return {"statusCode": 200, "body": json.dumps({"user": claims["cognito:username"]})}
      Events:
        Hello:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /hello, Method: get}
Outputs:
  Pool: {Value: !Ref Pool}
  Client: {Value: !Ref Client}
  Api: {Value: !Ref Api}
"""


def test_sam_api_behind_a_user_pool(
    client: Callable[..., Any], unique: Callable[[str], str], endpoint: str
) -> None:
    cfn = client("cloudformation")
    name = unique("sam-auth")
    stack_id = cfn.create_stack(
        StackName=name, TemplateBody=SAM, Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    )["StackId"]
    stack = settle(cfn, stack_id)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, stack_id)
    out = outputs(stack)
    idp = client("cognito-idp")
    idp.admin_create_user(UserPoolId=out["Pool"], Username="ann", MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=out["Pool"], Username="ann", Password="Passw0rd!", Permanent=True
    )
    tokens = idp.admin_initiate_auth(
        UserPoolId=out["Pool"],
        ClientId=out["Client"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann", "PASSWORD": "Passw0rd!"},
    )["AuthenticationResult"]
    url = f"{endpoint}/_aws/execute-api/{out['Api']}/Prod/hello"
    assert requests.get(url, timeout=60).status_code == 401
    answer = requests.get(url, headers={"Authorization": tokens["IdToken"]}, timeout=60)
    assert answer.status_code == 200 and answer.json() == {"user": "ann"}
    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
