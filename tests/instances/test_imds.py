"""The metadata service's answers, from a fake provider's records (no processes)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nubes.core import clock
from nubes.runtime.instances.imds import Imds, Response
from nubes.runtime.instances.spec import InstanceSpec
from tests.instances.conftest import FakeHost, record

SPEC = InstanceSpec(
    "i-0123456789abcdef0", "111122223333", "us-east-1", "10.0.1.5", None, b"", {}, ""
)


@pytest.fixture
def host() -> FakeHost:
    fake = FakeHost()
    fake.records[SPEC.instance_id] = record(SPEC.instance_id, SPEC.private_ip)
    return fake


def ask(imds: Imds, path: str, method: str = "GET", **headers: str) -> Response:
    return imds.respond(SPEC, method, path, {k.replace("_", "-"): v for k, v in headers.items()})


def text(resp: Response) -> str:
    assert resp.status == 200, resp
    return resp.body.decode()


def test_categories(host: FakeHost) -> None:
    imds = Imds(host)
    host.records[SPEC.instance_id]["PublicIpAddress"] = "127.16.0.9"
    listing = text(ask(imds, "/latest/meta-data/")).splitlines()
    for entry in (
        "ami-id",
        "instance-id",
        "instance-type",
        "local-ipv4",
        "mac",
        "placement/",
        "network/",
        "security-groups",
        "public-ipv4",
    ):
        assert entry in listing
    assert text(ask(imds, "/latest/meta-data/instance-id")) == SPEC.instance_id
    assert text(ask(imds, "/latest/meta-data/ami-id")) == "ami-0abcdef1234567890"
    assert text(ask(imds, "/latest/meta-data/local-ipv4")) == "10.0.1.5"
    assert text(ask(imds, "/latest/meta-data/public-ipv4")) == "127.16.0.9"
    assert text(ask(imds, "/latest/meta-data/placement/availability-zone")) == "us-east-1a"
    assert text(ask(imds, "/latest/meta-data/placement/region")) == "us-east-1"
    assert text(ask(imds, "/latest/meta-data/security-groups")) == "default"
    mac = text(ask(imds, "/latest/meta-data/mac"))
    assert text(ask(imds, "/latest/meta-data/network/interfaces/macs/")) == f"{mac}/"
    base = f"/latest/meta-data/network/interfaces/macs/{mac}"
    assert text(ask(imds, f"{base}/security-group-ids")) == "sg-1"
    assert text(ask(imds, f"{base}/subnet-id")) == "subnet-1"
    assert ask(imds, "/latest/meta-data/nothing-here").status == 404
    assert "latest" in text(ask(imds, "/"))
    document = json.loads(text(ask(imds, "/latest/dynamic/instance-identity/document")))
    assert document["instanceId"] == SPEC.instance_id
    assert document["accountId"] == "111122223333"
    assert document["region"] == "us-east-1"
    # No user data: 404, as on AWS.
    assert ask(imds, "/latest/user-data").status == 404
    host.data = b"#!/bin/sh\necho hi\n"
    assert ask(imds, "/latest/user-data").body == host.data


def test_tags_only_when_enabled(host: FakeHost) -> None:
    imds = Imds(host)
    rec = host.records[SPEC.instance_id]
    rec["Tags"] = [{"Key": "Name", "Value": "web"}]
    assert ask(imds, "/latest/meta-data/tags/instance/Name").status == 404
    rec["MetadataOptions"]["InstanceMetadataTags"] = "enabled"
    assert text(ask(imds, "/latest/meta-data/tags/instance/")) == "Name"
    assert text(ask(imds, "/latest/meta-data/tags/instance/Name")) == "web"


def test_v2_tokens(host: FakeHost) -> None:
    imds = Imds(host)
    assert ask(imds, "/latest/api/token", "PUT").status == 400
    assert (
        ask(imds, "/latest/api/token", "PUT", x_aws_ec2_metadata_token_ttl_seconds="0").status
        == 400
    )
    assert (
        ask(imds, "/latest/api/token", "PUT", x_aws_ec2_metadata_token_ttl_seconds="21601").status
        == 400
    )
    forwarded = ask(
        imds,
        "/latest/api/token",
        "PUT",
        x_aws_ec2_metadata_token_ttl_seconds="60",
        x_forwarded_for="10.0.0.1",
    )
    assert forwarded.status == 403
    token = text(ask(imds, "/latest/api/token", "PUT", x_aws_ec2_metadata_token_ttl_seconds="60"))
    assert text(ask(imds, "/latest/meta-data/instance-id", x_aws_ec2_metadata_token=token))
    assert ask(imds, "/latest/meta-data/instance-id", x_aws_ec2_metadata_token="bad").status == 401
    # v1 works while tokens are optional, and is refused once they are required.
    assert ask(imds, "/latest/meta-data/instance-id").status == 200
    host.records[SPEC.instance_id]["MetadataOptions"]["HttpTokens"] = "required"
    assert ask(imds, "/latest/meta-data/instance-id").status == 401
    assert ask(imds, "/latest/meta-data/instance-id", x_aws_ec2_metadata_token=token).status == 200
    base = clock.offset()
    try:
        clock.advance(61)
        assert (
            ask(imds, "/latest/meta-data/instance-id", x_aws_ec2_metadata_token=token).status == 401
        )
    finally:
        clock._offset = base
    host.records[SPEC.instance_id]["MetadataOptions"]["HttpEndpoint"] = "disabled"
    assert ask(imds, "/latest/meta-data/instance-id").status == 403


def test_role_credentials_are_rotated_before_they_expire(host: FakeHost) -> None:
    imds = Imds(host)
    issued: list[str] = []

    def credentials() -> dict[str, Any]:
        key = f"ASIA{len(issued):016d}"
        issued.append(key)
        return {
            "RoleName": "web-role",
            "AccessKeyId": key,
            "SecretAccessKey": "secret",
            "Token": "token",
            "Expiration": clock.now() + 3600,
        }

    host.role_credentials = lambda instance_id: credentials()  # type: ignore[method-assign]
    assert ask(imds, "/latest/meta-data/iam/").status == 404
    host.records[SPEC.instance_id]["IamInstanceProfile"] = {
        "Arn": "arn:aws:iam::111122223333:instance-profile/web",
        "Id": "AIPAEXAMPLE",
    }
    info = json.loads(text(ask(imds, "/latest/meta-data/iam/info")))
    assert info["InstanceProfileArn"].endswith("instance-profile/web")
    assert text(ask(imds, "/latest/meta-data/iam/security-credentials/")) == "web-role"
    path = "/latest/meta-data/iam/security-credentials/web-role"
    first = json.loads(text(ask(imds, path)))
    assert first["Code"] == "Success" and first["Type"] == "AWS-HMAC"
    assert first["Expiration"].endswith("Z")
    assert json.loads(text(ask(imds, path)))["AccessKeyId"] == first["AccessKeyId"]
    base = clock.offset()
    try:
        clock.advance(50 * 60)
        assert json.loads(text(ask(imds, path)))["AccessKeyId"] != first["AccessKeyId"]
    finally:
        clock._offset = base
