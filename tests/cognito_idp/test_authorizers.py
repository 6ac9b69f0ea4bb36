"""A Cognito user pool in front of API Gateway: a REST API's COGNITO_USER_POOLS authorizer and an
HTTP API's JWT authorizer accept the pool's tokens and refuse requests without one."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

PASSWORD = "Passw0rd!"
ADMIN_SCOPE = "aws.cognito.signin.user.admin"


@pytest.fixture
def signed_in(client: Callable[..., Any], unique: Callable[[str], str]) -> dict[str, Any]:
    idp = client("cognito-idp")
    pool = idp.create_user_pool(PoolName=unique("api"))["UserPool"]
    app = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(
        UserPoolId=pool["Id"],
        Username="ann",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "ann@example.com"}],
    )
    idp.admin_set_user_password(
        UserPoolId=pool["Id"], Username="ann", Password=PASSWORD, Permanent=True
    )
    tokens = idp.admin_initiate_auth(
        UserPoolId=pool["Id"],
        ClientId=app,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return {"pool": pool, "client": app, **tokens}


def test_rest_api_cognito_authorizer(
    client: Callable[..., Any],
    endpoint: str,
    unique: Callable[[str], str],
    signed_in: dict[str, Any],
) -> None:
    apigw = client("apigateway")
    api = apigw.create_rest_api(name=unique("cognito"))
    authorizer = apigw.create_authorizer(
        restApiId=api["id"],
        name="pool",
        type="COGNITO_USER_POOLS",
        providerARNs=[signed_in["pool"]["Arn"]],
        identitySource="method.request.header.Authorization",
    )
    scoped_id = apigw.create_resource(
        restApiId=api["id"], parentId=api["rootResourceId"], pathPart="scoped"
    )["id"]
    for resource_id, scopes in ((api["rootResourceId"], []), (scoped_id, [ADMIN_SCOPE])):
        ids = {"restApiId": api["id"], "resourceId": resource_id, "httpMethod": "GET"}
        apigw.put_method(
            **ids,
            authorizationType="COGNITO_USER_POOLS",
            authorizerId=authorizer["id"],
            authorizationScopes=scopes,
        )
        apigw.put_integration(
            **ids, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'}
        )
        apigw.put_method_response(**ids, statusCode="200")
        apigw.put_integration_response(
            **ids,
            statusCode="200",
            responseTemplates={"application/json": '{"email": "$context.authorizer.claims.email"}'},
        )
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    url = f"{endpoint}/_aws/execute-api/{api['id']}/prod/"

    good = requests.get(url, headers={"Authorization": signed_in["IdToken"]}, timeout=30)
    assert good.status_code == 200
    assert good.json() == {"email": "ann@example.com"}
    missing = requests.get(url, timeout=30)
    assert missing.status_code == 401 and missing.json() == {"message": "Unauthorized"}
    forged = signed_in["IdToken"][:-4] + (
        "AAAA" if not signed_in["IdToken"].endswith("AAAA") else "BBBB"
    )
    assert requests.get(url, headers={"Authorization": forged}, timeout=30).status_code == 401
    # Without scopes on the method, only an ID token is accepted.
    access = requests.get(url, headers={"Authorization": signed_in["AccessToken"]}, timeout=30)
    assert access.status_code == 401
    # A method with authorization scopes wants an access token granting one of them.
    scoped = requests.get(
        url + "scoped", headers={"Authorization": signed_in["AccessToken"]}, timeout=30
    )
    assert scoped.status_code == 200
    by_id = requests.get(
        url + "scoped", headers={"Authorization": signed_in["IdToken"]}, timeout=30
    )
    assert by_id.status_code == 401


def test_http_api_jwt_authorizer(
    client: Callable[..., Any],
    endpoint: str,
    unique: Callable[[str], str],
    signed_in: dict[str, Any],
) -> None:
    apigw2 = client("apigatewayv2")
    pool_id = signed_in["pool"]["Id"]
    api_id = apigw2.create_api(Name=unique("jwt"), ProtocolType="HTTP")["ApiId"]
    integration = apigw2.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationMethod="GET",
        IntegrationUri=f"{endpoint}/_nubes/health",
        PayloadFormatVersion="1.0",
    )
    authorizer = apigw2.create_authorizer(
        ApiId=api_id,
        Name="pool",
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={
            "Issuer": f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}",
            "Audience": [signed_in["client"]],
        },
    )
    apigw2.create_route(
        ApiId=api_id,
        RouteKey="GET /me",
        AuthorizationType="JWT",
        AuthorizerId=authorizer["AuthorizerId"],
        Target=f"integrations/{integration['IntegrationId']}",
    )
    apigw2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    url = f"{endpoint}/_aws/execute-api/{api_id}/me"

    good = requests.get(
        url, headers={"Authorization": f"Bearer {signed_in['IdToken']}"}, timeout=30
    )
    assert good.status_code == 200
    # The access token carries the client in client_id, which API Gateway takes as audience.
    access = requests.get(
        url, headers={"Authorization": f"Bearer {signed_in['AccessToken']}"}, timeout=30
    )
    assert access.status_code == 200
    assert requests.get(url, timeout=30).status_code == 401
    bad = requests.get(url, headers={"Authorization": "Bearer x.y.z"}, timeout=30)
    assert bad.status_code == 401


def test_openapi_cognito_authorizer(
    client: Callable[..., Any],
    endpoint: str,
    unique: Callable[[str], str],
    signed_in: dict[str, Any],
) -> None:
    """The definition SAM writes for ``Auth: Authorizers: ... UserPoolArn``."""
    apigw = client("apigateway")
    mock = {
        "type": "mock",
        "requestTemplates": {"application/json": '{"statusCode": 200}'},
        "responses": {
            "default": {
                "statusCode": "200",
                "responseTemplates": {
                    "application/json": '{"user": "$context.authorizer.claims.sub"}'
                },
            }
        },
    }
    definition = {
        "swagger": "2.0",
        "info": {"title": unique("sam"), "version": "1"},
        "paths": {
            "/me": {
                "get": {
                    "security": [{"Pool": []}],
                    "responses": {"200": {"description": "ok"}},
                    "x-amazon-apigateway-integration": mock,
                }
            },
            "/admin": {
                "get": {
                    "security": [{"Pool": [ADMIN_SCOPE]}],
                    "responses": {"200": {"description": "ok"}},
                    "x-amazon-apigateway-integration": mock,
                }
            },
        },
        "securityDefinitions": {
            "Pool": {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "x-amazon-apigateway-authtype": "cognito_user_pools",
                "x-amazon-apigateway-authorizer": {
                    "type": "cognito_user_pools",
                    "providerARNs": [signed_in["pool"]["Arn"]],
                },
            }
        },
    }
    api = apigw.import_rest_api(body=json.dumps(definition).encode())
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    url = f"{endpoint}/_aws/execute-api/{api['id']}/prod"

    def call(path: str, token: str | None) -> requests.Response:
        headers = {"Authorization": token} if token else {}
        return requests.get(url + path, headers=headers, timeout=30)

    assert call("/me", None).status_code == 401
    me = call("/me", signed_in["IdToken"])
    assert me.status_code == 200 and len(me.json()["user"]) == 36
    assert call("/admin", signed_in["IdToken"]).status_code == 401
    assert call("/admin", signed_in["AccessToken"]).status_code == 200
