"""HTTP APIs made with boto3 and called over plain HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from tests.apigateway.conftest import ECHO, api_url

V2_ECHO = """
import json
def handler(event, context):
    return {
        "statusCode": 202,
        "headers": {"x-echo": "v2"},
        "cookies": ["a=1", "b=2"],
        "body": json.dumps(event),
    }
"""


def test_payload_2_0_and_1_0_routes(
    apigw2: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    api = apigw2.create_api(Name=unique("http"), ProtocolType="HTTP")
    api_id = api["ApiId"]
    assert api["ApiEndpoint"].startswith(f"http://{api_id}.execute-api.")
    v2 = apigw2.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=make_function(V2_ECHO),
        PayloadFormatVersion="2.0",
    )
    v1 = apigw2.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=make_function(ECHO),
        PayloadFormatVersion="1.0",
    )
    apigw2.create_route(
        ApiId=api_id, RouteKey="ANY /{proxy+}", Target=f"integrations/{v2['IntegrationId']}"
    )
    apigw2.create_route(
        ApiId=api_id, RouteKey="GET /items/{id}", Target=f"integrations/{v1['IntegrationId']}"
    )
    apigw2.create_stage(
        ApiId=api_id, StageName="$default", AutoDeploy=True, StageVariables={"s": "v"}
    )

    resp = requests.post(
        f"{api_url(endpoint, api_id)}/some/where?a=1&a=2&b=3",
        headers={"X-Custom": "hi", "Cookie": "c1=x; c2=y"},
        data=b"hello",
        timeout=60,
    )
    assert resp.status_code == 202
    assert resp.headers["x-echo"] == "v2"
    event = resp.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /{proxy+}"
    assert event["rawPath"] == "/some/where"
    assert event["rawQueryString"] == "a=1&a=2&b=3"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "3"}
    assert event["pathParameters"] == {"proxy": "some/where"}
    assert event["headers"]["x-custom"] == "hi"
    assert event["cookies"] == ["c1=x", "c2=y"]
    assert event["stageVariables"] == {"s": "v"}
    assert event["body"] == "hello"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["apiId"] == api_id

    one = requests.get(f"{api_url(endpoint, api_id)}/items/9?x=1", timeout=60)
    assert one.status_code == 201
    event = one.json()
    assert event["version"] == "1.0"
    assert event["resource"] == "/items/{id}"
    assert event["pathParameters"] == {"id": "9"}
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["requestContext"]["routeKey"] == "GET /items/{id}"


def test_quick_create_plain_json_answer_and_stage_prefix(
    apigw2: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    function = make_function("def handler(event, context):\n    return {'hello': 'world'}\n")
    api = apigw2.create_api(Name=unique("quick"), ProtocolType="HTTP", Target=function)
    api_id = api["ApiId"]
    stages = apigw2.get_stages(ApiId=api_id)["Items"]
    assert [s["StageName"] for s in stages] == ["$default"]
    assert stages[0]["AutoDeploy"] is True
    routes = apigw2.get_routes(ApiId=api_id)["Items"]
    assert [r["RouteKey"] for r in routes] == ["$default"]
    resp = requests.get(f"{api_url(endpoint, api_id)}/anything", timeout=60)
    assert resp.status_code == 200
    assert resp.json() == {"hello": "world"}

    # A stage without auto-deploy serves its deployment, under its name.
    apigw2.create_stage(ApiId=api_id, StageName="prod")
    undeployed = requests.get(f"{api_url(endpoint, api_id)}/prod/x", timeout=60)
    assert undeployed.status_code == 404
    deployment = apigw2.create_deployment(ApiId=api_id, StageName="prod")
    assert (
        apigw2.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"]
        == (deployment["DeploymentId"])
    )
    assert requests.get(f"{api_url(endpoint, api_id)}/prod/x", timeout=60).status_code == 200


def test_not_found_and_cors(
    apigw2: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    api = apigw2.create_api(
        Name=unique("cors"),
        ProtocolType="HTTP",
        CorsConfiguration={
            "AllowOrigins": ["https://example.com"],
            "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["content-type"],
            "MaxAge": 60,
        },
    )
    api_id = api["ApiId"]
    integration = apigw2.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=make_function(V2_ECHO)
    )
    apigw2.create_route(
        ApiId=api_id, RouteKey="GET /only", Target=f"integrations/{integration['IntegrationId']}"
    )
    apigw2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    missing = requests.get(f"{api_url(endpoint, api_id)}/other", timeout=30)
    assert missing.status_code == 404
    assert missing.json() == {"message": "Not Found"}
    pre = requests.options(
        f"{api_url(endpoint, api_id)}/only",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "GET"},
        timeout=30,
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "https://example.com"
    assert pre.headers["access-control-allow-methods"] == "GET,POST"
    assert pre.headers["access-control-max-age"] == "60"
    got = requests.get(
        f"{api_url(endpoint, api_id)}/only", headers={"Origin": "https://example.com"}, timeout=60
    )
    assert got.status_code == 202
    assert got.headers["access-control-allow-origin"] == "https://example.com"


def test_control_plane(apigw2: Any, unique: Callable[[str], str]) -> None:
    api = apigw2.create_api(Name=unique("cp"), ProtocolType="HTTP", Tags={"k": "v"})
    api_id = api["ApiId"]
    assert any(a["ApiId"] == api_id for a in apigw2.get_apis()["Items"])
    with pytest.raises(ClientError) as err:
        apigw2.create_route(ApiId=api_id, RouteKey="FETCH /x")
    assert err.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError) as err:
        apigw2.get_route(ApiId=api_id, RouteId="nope123")
    assert err.value.response["Error"]["Code"] == "NotFoundException"
    arn = f"arn:aws:apigateway:us-east-1::/apis/{api_id}"
    apigw2.tag_resource(ResourceArn=arn, Tags={"t": "1"})
    assert apigw2.get_tags(ResourceArn=arn)["Tags"] == {"k": "v", "t": "1"}
    assert apigw2.update_api(ApiId=api_id, Name="renamed")["Name"] == "renamed"
    apigw2.delete_api(ApiId=api_id)
    with pytest.raises(ClientError):
        apigw2.get_api(ApiId=api_id)
    with pytest.raises(ClientError) as err:
        json.dumps(apigw2.get_api(ApiId="abcdefghij"))
    assert err.value.response["Error"]["Code"] == "NotFoundException"


def test_access_logs_reach_cloudwatch_logs(
    client: Callable[..., Any],
    apigw: Any,
    apigw2: Any,
    endpoint: str,
    unique: Callable[[str], str],
    make_function: Callable[..., str],
) -> None:
    logs = client("logs")
    group = unique("/apigw/access")
    logs.create_log_group(logGroupName=group)
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    api_id = apigw2.create_api(
        Name=unique("logged"), ProtocolType="HTTP", Target=make_function(V2_ECHO)
    )["ApiId"]
    apigw2.update_stage(
        ApiId=api_id,
        StageName="$default",
        AccessLogSettings={
            "DestinationArn": arn,
            "Format": '{"id":"$context.requestId","status":"$context.status",'
            '"route":"$context.routeKey","method":"$context.httpMethod"}',
        },
    )
    assert requests.get(f"{api_url(endpoint, api_id)}/x", timeout=60).status_code == 202
    events = logs.filter_log_events(logGroupName=group)["events"]
    line = json.loads(events[0]["message"])
    assert line["status"] == "202"
    assert line["route"] == "$default"
    assert line["method"] == "GET"

    # A REST API stage's access log settings come through UpdateStage patches.
    rest = apigw.create_rest_api(name=unique("logged"))
    apigw.put_method(
        restApiId=rest["id"],
        resourceId=rest["rootResourceId"],
        httpMethod="GET",
        authorizationType="NONE",
    )
    apigw.put_integration(
        restApiId=rest["id"], resourceId=rest["rootResourceId"], httpMethod="GET", type="MOCK"
    )
    apigw.put_integration_response(
        restApiId=rest["id"], resourceId=rest["rootResourceId"], httpMethod="GET", statusCode="200"
    )
    apigw.create_deployment(restApiId=rest["id"], stageName="s")
    apigw.update_stage(
        restApiId=rest["id"],
        stageName="s",
        patchOperations=[
            {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": arn},
            {
                "op": "replace",
                "path": "/accessLogSettings/format",
                "value": "$context.resourcePath $context.status",
            },
        ],
    )
    assert requests.get(f"{api_url(endpoint, rest['id'], 's')}/", timeout=60).status_code == 200
    messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    assert "/ 200" in messages

    # Execution logs, in the group API Gateway makes for the stage.
    apigw.update_stage(
        restApiId=rest["id"],
        stageName="s",
        patchOperations=[{"op": "replace", "path": "/*/*/logging/loglevel", "value": "INFO"}],
    )
    assert requests.get(f"{api_url(endpoint, rest['id'], 's')}/", timeout=60).status_code == 200
    execution = f"API-Gateway-Execution-Logs_{rest['id']}/s"
    lines = [e["message"] for e in logs.filter_log_events(logGroupName=execution)["events"]]
    assert any(line.endswith("Method completed with status: 200") for line in lines)


def test_aws_iam_route(
    apigw2: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    api_id = apigw2.create_api(Name=unique("iam"), ProtocolType="HTTP")["ApiId"]
    integration = apigw2.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=make_function(V2_ECHO)
    )
    apigw2.create_route(
        ApiId=api_id,
        RouteKey="GET /private",
        AuthorizationType="AWS_IAM",
        Target=f"integrations/{integration['IntegrationId']}",
    )
    apigw2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    url = f"{api_url(endpoint, api_id)}/private"
    assert requests.get(url, timeout=60).status_code == 403
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("test", "test"), "execute-api", "us-east-1").add_auth(request)
    signed = requests.get(url, headers=dict(request.headers.items()), timeout=60)
    assert signed.status_code == 202
    assert signed.json()["requestContext"]["authorizer"]["iam"]["accessKey"] == "test"


def test_custom_domain_api_mappings(
    apigw2: Any, endpoint: str, unique: Callable[[str], str], make_function: Callable[..., str]
) -> None:
    api_id = apigw2.create_api(
        Name=unique("dom"), ProtocolType="HTTP", Target=make_function(V2_ECHO)
    )["ApiId"]
    domain = f"{unique('h')}.example.test".lower()
    made = apigw2.create_domain_name(
        DomainName=domain,
        DomainNameConfigurations=[
            {"CertificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/x"}
        ],
    )
    assert made["DomainNameConfigurations"][0]["ApiGatewayDomainName"].startswith("d-")
    mapping = apigw2.create_api_mapping(
        DomainName=domain, ApiId=api_id, Stage="$default", ApiMappingKey="shop"
    )
    port = urlsplit(endpoint).port
    resp = requests.get(f"{endpoint}/shop/cart", headers={"Host": f"{domain}:{port}"}, timeout=60)
    assert resp.status_code == 202
    assert resp.json()["rawPath"] == "/cart"
    other = requests.get(f"{endpoint}/elsewhere", headers={"Host": f"{domain}:{port}"}, timeout=60)
    assert other.status_code == 404
    apigw2.delete_api_mapping(DomainName=domain, ApiMappingId=mapping["ApiMappingId"])
    apigw2.delete_domain_name(DomainName=domain)
    assert domain not in [d["DomainName"] for d in apigw2.get_domain_names()["Items"]]
