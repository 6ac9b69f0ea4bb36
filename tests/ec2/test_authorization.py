"""Dry runs and IAM under enforcement: EC2 answers UnauthorizedOperation when a policy does not
allow the call, DryRunOperation when it would have succeeded."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.ec2.conftest import error_code
from tests.server import NubesProcess


def test_dry_run_and_unauthorized_operation(nubes_factory: Callable[..., NubesProcess]) -> None:
    server = nubes_factory(persistent=False, env={"NUBES_ENFORCE_IAM": "1"})
    iam = server.client("iam")
    iam.create_user(UserName="viewer")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:CreateVpc"], "Resource": "*"}
    ]}  # fmt: skip
    iam.put_user_policy(UserName="viewer", PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="viewer")["AccessKey"]
    ec2 = server.client("ec2", aws_access_key_id=key["AccessKeyId"],
                        aws_secret_access_key=key["SecretAccessKey"])  # fmt: skip
    assert len(ec2.describe_vpcs()["Vpcs"]) == 1
    assert error_code(lambda: ec2.create_vpc(CidrBlock="10.0.0.0/16", DryRun=True)) == (
        "DryRunOperation"
    )
    assert error_code(lambda: ec2.create_key_pair(KeyName="k", DryRun=True)) == (
        "UnauthorizedOperation"
    )
    assert error_code(lambda: ec2.create_key_pair(KeyName="k")) == "UnauthorizedOperation"
    assert error_code(lambda: ec2.describe_instances(DryRun=True)) == "DryRunOperation"
