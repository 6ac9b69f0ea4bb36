"""boto3 inside an instance, with no configuration, reads its role's credentials from IMDS and
calls nubes (reached at 127.0.0.1:<port> inside) under IAM enforcement."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nubes.testing.server import NubesProcess
from tests.instances.conftest import Lab, run

INSIDE = f"""#!{sys.executable}
import boto3, botocore.exceptions
print("caller", boto3.client("sts").get_caller_identity()["Arn"], flush=True)
print("buckets", len(boto3.client("s3").list_buckets()["Buckets"]), flush=True)
try:
    boto3.client("sqs").list_queues()
    print("sqs allowed", flush=True)
except botocore.exceptions.ClientError as exc:
    print("sqs", exc.response["Error"]["Code"], flush=True)
""".encode()


def test_boto3_inside_uses_the_instance_profile_role(
    tmp_path: Path, nubes_factory: Callable[..., NubesProcess]
) -> None:
    server = nubes_factory(persistent=False, env={"NUBES_ENFORCE_IAM": "1"})
    iam, sts = server.client("iam"), server.client("sts")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                "Action": "sts:AssumeRole",
            },
        ],
    }
    role = iam.create_role(RoleName="web-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(
        RoleName="web-role",
        PolicyName="s3-read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
                ],
            }
        ),
    )

    def credentials(instance_id: str) -> dict[str, Any]:
        issued = sts.assume_role(RoleArn=role["Arn"], RoleSessionName=instance_id)["Credentials"]
        return {"RoleName": "web-role", **issued}

    async def scenario(lab: Lab) -> None:
        lab.runtime.api_port = server.port
        lab.host.role_credentials = credentials  # type: ignore[method-assign]
        spec = lab.spec(INSIDE)
        lab.host.records[spec.instance_id]["IamInstanceProfile"] = {
            "Arn": "arn:aws:iam::000000000000:instance-profile/web",
            "Id": "AIPAEXAMPLE",
        }
        await lab.runtime.boot(spec)
        for _ in range(300):
            console = lab.runtime.console_output(spec.instance_id).decode()
            if "sqs " in console or "Traceback" in console:
                break
            await asyncio.sleep(0.05)
        assert (
            f"caller arn:aws:sts::000000000000:assumed-role/web-role/{spec.instance_id}" in console
        )
        assert "buckets 0" in console
        assert "sqs AccessDenied" in console

    run(tmp_path, scenario)
