"""Lambda authorizers and usage plans in front of REST and HTTP APIs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.apigateway.conftest import ECHO, api_url, lambda_uri, signed_headers

TOKEN_AUTHORIZER = """
def handler(event, context):
    token = event["authorizationToken"]
    if token == "bad":
        raise Exception("Unauthorized")
    effect = "Allow" if token == "allow" else "Deny"
    return {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
            ],
        },
        "context": {"tier": "gold", "n": 3},
    }
"""

SIMPLE_AUTHORIZER = """
def handler(event, context):
    ok = event["headers"].get("x-pass") == "yes"
    return {"isAuthorized": ok, "context": {"who": "tester"}}
"""


def _rest_api(
    apigw: Any, unique: Callable[[str], str], function_arn: str, **method: Any
) -> tuple[str, str]:
    api = apigw.create_rest_api(name=unique("api"))
    resource = apigw.create_resource(
        restApiId=api["id"], parentId=api["rootResourceId"], pathPart="thing"
    )
    authorizer = method.pop("authorizer_arn", None)
    if authorizer is not None:
        made = apigw.create_authorizer(
            restApiId=api["id"],
            name="tok",
            type="TOKEN",
            authorizerUri=lambda_uri(authorizer),
            identitySource="method.request.header.Authorization",
        )
        method.update(authorizationType="CUSTOM", authorizerId=made["id"])
    method.setdefault("authorizationType", "NONE")
    apigw.put_method(restApiId=api["id"], resourceId=resource["id"], httpMethod="GET", **method)
    apigw.put_integration(
        restApiId=api["id"],
        resourceId=resource["id"],
        httpMethod="GET",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=lambda_uri(function_arn),
    )
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    return api["id"], f"{api_url('', api['id'], 'prod')}/thing"


def test_token_authorizer_allows_denies_and_refuses(
    apigw: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    _, path = _rest_api(
        apigw, unique, make_function(ECHO), authorizer_arn=make_function(TOKEN_AUTHORIZER)
    )
    url = endpoint + path
    allowed = requests.get(url, headers={"Authorization": "allow"}, timeout=60)
    assert allowed.status_code == 201
    authorizer = allowed.json()["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "user-1"
    assert authorizer["tier"] == "gold"
    denied = requests.get(url, headers={"Authorization": "deny"}, timeout=60)
    assert denied.status_code == 403
    assert denied.json() == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }
    unauthorized = requests.get(url, headers={"Authorization": "bad"}, timeout=60)
    assert unauthorized.status_code == 401
    assert unauthorized.json() == {"message": "Unauthorized"}
    missing = requests.get(url, timeout=60)
    assert missing.status_code == 401


def test_usage_plan_throttle_and_quota(
    apigw: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    api_id, path = _rest_api(apigw, unique, make_function(ECHO), apiKeyRequired=True)
    url = endpoint + path
    assert requests.get(url, timeout=60).json() == {"message": "Forbidden"}
    throttled_key = apigw.create_api_key(name=unique("k"), enabled=True)
    throttled = apigw.create_usage_plan(
        name=unique("plan"),
        apiStages=[{"apiId": api_id, "stage": "prod"}],
        throttle={"burstLimit": 1, "rateLimit": 0.001},
    )
    apigw.create_usage_plan_key(
        usagePlanId=throttled["id"], keyId=throttled_key["id"], keyType="API_KEY"
    )
    headers = {"x-api-key": throttled_key["value"]}
    assert requests.get(url, headers=headers, timeout=60).status_code == 201
    second = requests.get(url, headers=headers, timeout=60)
    assert second.status_code == 429
    assert second.json() == {"message": "Too Many Requests"}

    quota_key = apigw.create_api_key(name=unique("k"), enabled=True)
    quota = apigw.create_usage_plan(
        name=unique("plan"),
        apiStages=[{"apiId": api_id, "stage": "prod"}],
        quota={"limit": 2, "period": "DAY"},
    )
    apigw.create_usage_plan_key(usagePlanId=quota["id"], keyId=quota_key["id"], keyType="API_KEY")
    headers = {"x-api-key": quota_key["value"]}
    assert [requests.get(url, headers=headers, timeout=60).status_code for _ in range(2)] == [
        201,
        201,
    ]
    over = requests.get(url, headers=headers, timeout=60)
    assert over.status_code == 429
    assert over.json() == {"message": "Limit Exceeded"}
    keys = apigw.get_usage_plan_keys(usagePlanId=quota["id"])["items"]
    assert [k["id"] for k in keys] == [quota_key["id"]]
    usage = apigw.get_usage(usagePlanId=quota["id"], startDate="2026-01-01", endDate="2026-12-31")
    assert usage["items"] == {quota_key["id"]: [[2, 0]]}


def test_http_api_simple_lambda_authorizer(
    apigw2: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    api_id = apigw2.create_api(Name=unique("auth"), ProtocolType="HTTP")["ApiId"]
    integration = apigw2.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=make_function(ECHO),
        PayloadFormatVersion="2.0",
    )
    authorizer = apigw2.create_authorizer(
        ApiId=api_id,
        Name="simple",
        AuthorizerType="REQUEST",
        AuthorizerUri=lambda_uri(make_function(SIMPLE_AUTHORIZER)),
        AuthorizerPayloadFormatVersion="2.0",
        EnableSimpleResponses=True,
        IdentitySource=["$request.header.x-pass"],
    )
    apigw2.create_route(
        ApiId=api_id,
        RouteKey="GET /secret",
        AuthorizationType="CUSTOM",
        AuthorizerId=authorizer["AuthorizerId"],
        Target=f"integrations/{integration['IntegrationId']}",
    )
    apigw2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    url = f"{api_url(endpoint, api_id)}/secret"
    assert requests.get(url, timeout=60).status_code == 401
    refused = requests.get(url, headers={"x-pass": "no"}, timeout=60)
    assert refused.status_code == 403
    assert refused.json() == {"message": "Forbidden"}
    ok = requests.get(url, headers={"x-pass": "yes"}, timeout=60)
    assert ok.status_code == 201
    assert ok.json()["requestContext"]["authorizer"] == {"lambda": {"who": "tester"}}


def test_aws_iam_method_wants_a_signature(
    apigw: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    _, path = _rest_api(apigw, unique, make_function(ECHO), authorizationType="AWS_IAM")
    url = endpoint + path
    unsigned = requests.get(url, timeout=60)
    assert unsigned.status_code == 403
    assert unsigned.json() == {"message": "Missing Authentication Token"}
    forged = requests.get(url, headers=signed_headers(url, "test", "not-the-secret"), timeout=60)
    assert forged.status_code == 403
    assert forged.json()["message"].startswith("The request signature we calculated does not")
    signed = requests.get(url, headers=signed_headers(url, "test", "test"), timeout=60)
    assert signed.status_code == 201
    identity = signed.json()["requestContext"]["identity"]
    assert identity["accessKey"] == "test"
    assert identity["accountId"] == "000000000000"


def test_aws_iam_method_asks_the_callers_policies(
    apigw: Any,
    client: Callable[..., Any],
    endpoint: str,
    unique: Callable[[str], str],
    make_function: Callable[..., str],
) -> None:
    function = make_function(ECHO)
    open_id, open_path = _rest_api(apigw, unique, function, authorizationType="AWS_IAM")
    closed_id, closed_path = _rest_api(apigw, unique, function, authorizationType="AWS_IAM")
    iam = client("iam")
    user = unique("caller")
    user_arn = iam.create_user(UserName=user)["User"]["Arn"]
    allowed = f"arn:aws:execute-api:us-east-1:000000000000:{open_id}/prod/GET/thing"
    iam.put_user_policy(
        UserName=user,
        PolicyName="invoke",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": allowed}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    key_id, secret = key["AccessKeyId"], key["SecretAccessKey"]
    ok = requests.get(
        endpoint + open_path,
        headers=signed_headers(endpoint + open_path, key_id, secret),
        timeout=60,
    )
    assert ok.status_code == 201
    assert ok.json()["requestContext"]["identity"]["userArn"] == user_arn
    url = endpoint + closed_path
    denied = requests.get(url, headers=signed_headers(url, key_id, secret), timeout=60)
    assert denied.status_code == 403
    closed_arn = allowed.replace(open_id, closed_id)
    assert denied.json() == {
        "Message": f"User: {user_arn} is not authorized to perform: execute-api:Invoke "
        f"on resource: {closed_arn}"
    }


def test_stage_and_route_throttling(
    apigw: Any,
    apigw2: Any,
    endpoint: str,
    unique: Callable[[str], str],
    make_function: Callable[..., str],
) -> None:
    function = make_function(ECHO)
    api_id, path = _rest_api(apigw, unique, function)
    stage = apigw.update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "1"},
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "0.001"},
        ],
    )
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 1
    assert requests.get(endpoint + path, timeout=60).status_code == 201
    second = requests.get(endpoint + path, timeout=60)
    assert second.status_code == 429
    assert second.json() == {"message": "Too Many Requests"}

    http_id = apigw2.create_api(Name=unique("t"), ProtocolType="HTTP", Target=function)["ApiId"]
    apigw2.update_stage(
        ApiId=http_id,
        StageName="$default",
        DefaultRouteSettings={"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0.001},
    )
    url = f"{api_url(endpoint, http_id)}/x"
    assert requests.get(url, timeout=60).status_code == 201
    assert requests.get(url, timeout=60).status_code == 429


REQUEST_AUTHORIZER = """
import os, time
def handler(event, context):
    calls = "/tmp/authorizer-calls"
    with open(calls, "a") as f:
        f.write("x")
    allowed = event["headers"].get("x-team") == "blue"
    return {
        "principalId": "team-" + event["headers"].get("x-team", ""),
        "policyDocument": {"Version": "2012-10-17", "Statement": [{
            "Action": "execute-api:Invoke",
            "Effect": "Allow" if allowed else "Deny",
            "Resource": event["methodArn"].rsplit("/", 2)[0] + "/*",
        }]},
        "context": {"calls": len(open(calls).read()),
                    "method": event["requestContext"]["httpMethod"]},
    }
"""


def test_request_authorizer_is_cached_by_identity(
    apigw: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    api = apigw.create_rest_api(name=unique("req"))
    api_id, root = api["id"], api["rootResourceId"]
    authorizer = apigw.create_authorizer(
        restApiId=api_id,
        name="req",
        type="REQUEST",
        authorizerUri=lambda_uri(make_function(REQUEST_AUTHORIZER)),
        identitySource="method.request.header.x-team",
        authorizerResultTtlInSeconds=300,
    )
    apigw.put_method(
        restApiId=api_id,
        resourceId=root,
        httpMethod="GET",
        authorizationType="CUSTOM",
        authorizerId=authorizer["id"],
    )
    apigw.put_integration(
        restApiId=api_id,
        resourceId=root,
        httpMethod="GET",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=lambda_uri(make_function(ECHO)),
    )
    apigw.create_deployment(restApiId=api_id, stageName="s")
    url = f"{api_url(endpoint, api_id, 's')}/"
    assert requests.get(url, timeout=60).status_code == 401  # no identity source
    first = requests.get(url, headers={"x-team": "blue"}, timeout=60)
    assert first.status_code == 201
    context = first.json()["requestContext"]["authorizer"]
    assert context["principalId"] == "team-blue"
    assert context["method"] == "GET"
    again = requests.get(url, headers={"x-team": "blue"}, timeout=60)
    # The cached policy answers: the authorizer ran once for this identity.
    assert again.json()["requestContext"]["authorizer"]["calls"] == context["calls"]
    denied = requests.get(url, headers={"x-team": "red"}, timeout=60)
    assert denied.status_code == 403
    assert denied.json() == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }


def test_a_usage_plan_stage_without_an_api_is_not_found(apigw: Any) -> None:
    unchecked = apigw.meta.config.merge(Config(parameter_validation=False))
    plain = boto3.client(
        "apigateway",
        endpoint_url=apigw.meta.endpoint_url,
        region_name=apigw.meta.region_name,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=unchecked,
    )
    with pytest.raises(ClientError) as err:
        plain.create_usage_plan(name="p", apiStages=[{}])
    assert err.value.response["Error"]["Code"] == "NotFoundException"


def test_an_api_key_stage_key_without_its_api_is_a_bad_request(apigw: Any) -> None:
    plain = boto3.client(
        "apigateway",
        endpoint_url=apigw.meta.endpoint_url,
        region_name=apigw.meta.region_name,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False),
    )
    with pytest.raises(ClientError) as err:
        plain.create_api_key(name="k", stageKeys=[{}])
    assert err.value.response["Error"]["Code"] == "BadRequestException"
    assert not [k for k in apigw.get_api_keys()["items"] if k["name"] == "k"]
