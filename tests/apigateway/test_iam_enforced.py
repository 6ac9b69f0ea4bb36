"""AWS_IAM methods under IAM enforcement: the same verification and policy check as with it
off (the enforcer the gateway runs is the one asked)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from tests.apigateway.conftest import api_url, signed_headers
from tests.server import NubesProcess


@pytest.fixture(scope="module")
def server() -> Iterator[NubesProcess]:
    process = NubesProcess(env={"NUBES_ENFORCE_IAM": "1"}).start()
    yield process
    process.stop()


def _mock_api(server: NubesProcess) -> str:
    apigw = server.client("apigateway")
    api = apigw.create_rest_api(name="iam-enforced")
    ids = {"restApiId": api["id"], "resourceId": api["rootResourceId"], "httpMethod": "GET"}
    apigw.put_method(**ids, authorizationType="AWS_IAM")
    apigw.put_integration(
        **ids, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'}
    )
    apigw.put_method_response(**ids, statusCode="200")
    apigw.put_integration_response(
        **ids, statusCode="200", responseTemplates={"application/json": '{"ok": true}'}
    )
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    return str(api["id"])


def test_signature_and_policy_under_enforcement(server: NubesProcess) -> None:
    api_id = _mock_api(server)
    url = api_url(server.endpoint, api_id, "prod") + "/"
    iam = server.client("iam")
    iam.create_user(UserName="no-invoke")
    iam.put_user_policy(
        UserName="no-invoke",
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="no-invoke")["AccessKey"]
    assert requests.get(url, timeout=60).json() == {"message": "Missing Authentication Token"}
    denied = requests.get(
        url, headers=signed_headers(url, key["AccessKeyId"], key["SecretAccessKey"]), timeout=60
    )
    assert denied.status_code == 403
    assert denied.json()["Message"].startswith(
        "User: arn:aws:iam::000000000000:user/no-invoke is not authorized to perform: "
        "execute-api:Invoke on resource: "
        f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/prod/GET/"
    )
    forged = requests.get(url, headers=signed_headers(url, key["AccessKeyId"], "wrong"), timeout=60)
    assert forged.status_code == 403
    root = requests.get(url, headers=signed_headers(url, "test", "test"), timeout=60)
    assert root.status_code == 200
    assert root.json() == {"ok": True}
