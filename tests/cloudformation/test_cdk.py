"""CDK's path: `npx cdk bootstrap` and `npx cdk deploy` of a small app (a bucket, a queue and a
Lambda function whose code is a file asset) against nubes with AWS_ENDPOINT_URL, then
`npx cdk destroy`. The CDK CLI and library are installed with npm into a temporary directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cloudformation.conftest import reasons

CDK_CLI = "aws-cdk@2.1149.0"
CDK_LIB = "aws-cdk-lib@2.278.0"
CONSTRUCTS = "constructs@10.8.1"

APP = """
const cdk = require("aws-cdk-lib");
const app = new cdk.App();
const stack = new cdk.Stack(app, process.env.STACK_NAME);
const bucket = new cdk.aws_s3.Bucket(stack, "Bucket");
const queue = new cdk.aws_sqs.Queue(stack, "Queue");
const handler = new cdk.aws_lambda.Function(stack, "Handler", {
  runtime: cdk.aws_lambda.Runtime.PYTHON_3_12,
  handler: "index.handler",
  code: cdk.aws_lambda.Code.fromAsset("handler"),
  environment: { QUEUE: queue.queueUrl, BUCKET: bucket.bucketName },
});
new cdk.CfnOutput(stack, "FunctionName", { value: handler.functionName });
"""
HANDLER = """
import os


def handler(event, context):
    return {"queue": os.environ["QUEUE"], "bucket": os.environ["BUCKET"]}
"""


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


# About a minute (npm downloads the CLI and library, then three CDK commands): a soak test.
@pytest.mark.soak
@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed on this machine")
def test_cdk_bootstrap_deploy_destroy(
    endpoint: str, client: Callable[..., Any], unique: Callable[[str], str], tmp_path: Path
) -> None:
    qualifier = unique("q").replace("-", "").lower()[-9:]
    stack_name = unique("CdkApp")
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "STACK_NAME": stack_name,
    }
    (tmp_path / "package.json").write_text('{"name": "app", "version": "1.0.0", "private": true}')
    _run(["npm", "install", "--no-audit", "--no-fund", CDK_CLI, CDK_LIB, CONSTRUCTS], tmp_path, env)
    (tmp_path / "app.js").write_text(APP)
    (tmp_path / "handler").mkdir()
    (tmp_path / "handler" / "index.py").write_text(HANDLER)
    (tmp_path / "cdk.json").write_text(
        json.dumps(
            {"app": "node app.js", "context": {"@aws-cdk/core:bootstrapQualifier": qualifier}}
        )
    )
    account = client("sts").get_caller_identity()["Account"]
    toolkit = unique("CDKToolkit")
    cdk = ["npx", "cdk", "--no-notices", "--toolkit-stack-name", toolkit]

    _run([*cdk, "bootstrap", f"aws://{account}/us-east-1", "--qualifier", qualifier], tmp_path, env)
    cfn = client("cloudformation")
    boot = cfn.describe_stacks(StackName=toolkit)["Stacks"][0]
    assert boot["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, toolkit)
    types = {
        r["ResourceType"] for r in cfn.describe_stack_resources(StackName=toolkit)["StackResources"]
    }
    assert {"AWS::S3::Bucket", "AWS::ECR::Repository", "AWS::IAM::Role", "AWS::SSM::Parameter"} <= (
        types
    )
    version = client("ssm").get_parameter(Name=f"/cdk-bootstrap/{qualifier}/version")
    assert int(version["Parameter"]["Value"]) >= 1
    repository = f"cdk-{qualifier}-container-assets-{account}-us-east-1"
    assert client("ecr").describe_repositories(repositoryNames=[repository])["repositories"]

    _run([*cdk, "deploy", "--require-approval", "never"], tmp_path, env)
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, stack_name)
    function = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "FunctionName")
    answer = json.loads(client("lambda").invoke(FunctionName=function)["Payload"].read())
    assert answer["queue"].startswith("http") and answer["bucket"]
    assert client("sqs").get_queue_url(QueueName=answer["queue"].rsplit("/", 1)[-1])
    client("s3").head_bucket(Bucket=answer["bucket"])

    _run([*cdk, "destroy", "--force"], tmp_path, env)
    gone = cfn.describe_stacks(StackName=stack["StackId"])["Stacks"][0]
    assert gone["StackStatus"] == "DELETE_COMPLETE", reasons(cfn, stack["StackId"])
