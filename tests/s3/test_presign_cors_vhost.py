"""Presigned URLs (expiry on the nubes clock, signature), CORS preflight and headers, and
virtual-host addressing."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from botocore.config import Config

from tests.server import make_client


def advance_clock(endpoint: str, seconds: float) -> None:
    requests.post(
        f"{endpoint}/_nubes/clock", json={"advance": seconds}, timeout=10
    ).raise_for_status()


@pytest.fixture(params=["s3", "s3v4"])
def signer(request: Any, endpoint: str) -> Any:
    """A client presigning with signature version 2 (botocore's default for S3) or 4."""
    return make_client(endpoint, "s3", config=Config(signature_version=request.param))


def test_presigned_get_put_delete(signer: Any, bucket: str) -> None:
    s3 = signer
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=300
    )
    assert requests.put(put_url, data=b"via url", timeout=10).status_code == 200
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=300
    )
    resp = requests.get(get_url, timeout=10)
    assert resp.status_code == 200 and resp.content == b"via url"
    head_url = s3.generate_presigned_url("head_object", Params={"Bucket": bucket, "Key": "p"})
    assert requests.head(head_url, timeout=10).headers["content-length"] == "7"
    delete_url = s3.generate_presigned_url("delete_object", Params={"Bucket": bucket, "Key": "p"})
    assert requests.delete(delete_url, timeout=10).status_code == 204
    assert requests.get(get_url, timeout=10).status_code == 404


def test_presigned_tampered_signature(signer: Any, bucket: str) -> None:
    s3 = signer
    s3.put_object(Bucket=bucket, Key="p", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"})
    tampered = url.replace("/p?", "/q?")
    resp = requests.get(tampered, timeout=10)
    assert resp.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in resp.content
    wrong_secret = make_client(
        s3.meta.endpoint_url, "s3", aws_secret_access_key="other", config=s3.meta.config
    )
    bad = wrong_secret.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"})
    assert requests.get(bad, timeout=10).status_code == 403


def test_presigned_with_credentials_nubes_does_not_know(signer: Any, bucket: str) -> None:
    """With IAM enforcement off any credentials work: a key whose secret nubes cannot know
    is not refused for its signature (expiry still counts)."""
    signer.put_object(Bucket=bucket, Key="k", Body=b"hello")
    stranger = make_client(
        signer.meta.endpoint_url,
        "s3",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        config=signer.meta.config,
    )
    url = stranger.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200 and resp.content == b"hello"


def test_presigned_expiry_follows_nubes_clock(nubes_factory: Any) -> None:
    server = nubes_factory(persistent=False)
    s3 = server.client("s3", config=Config(signature_version="s3v4"))
    s3.create_bucket(Bucket="expiry-bucket")
    s3.put_object(Bucket="expiry-bucket", Key="k", Body=b"x")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "expiry-bucket", "Key": "k"}, ExpiresIn=60
    )
    v2_url = server.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": "expiry-bucket", "Key": "k"}, ExpiresIn=60
    )
    assert requests.get(url, timeout=10).status_code == 200
    assert requests.get(v2_url, timeout=10).status_code == 200
    advance_clock(server.endpoint, 120)
    assert requests.get(v2_url, timeout=10).status_code == 403
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 403
    assert b"<Code>AccessDenied</Code>" in resp.content
    assert b"Request has expired" in resp.content
    too_long = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "expiry-bucket", "Key": "k"}, ExpiresIn=700000
    )
    resp = requests.get(too_long, timeout=10)
    assert resp.status_code == 400
    assert b"AuthorizationQueryParametersError" in resp.content


def test_aws_cli_presign(bucket: str, s3: Any, endpoint: str) -> None:
    import os
    import subprocess

    s3.put_object(Bucket=bucket, Key="cli.txt", Body=b"from cli")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    url = subprocess.run(
        ["aws", "s3", "presign", f"s3://{bucket}/cli.txt", "--expires-in", "120"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200 and resp.content == b"from cli"


CORS = {
    "CORSRules": [
        {
            "AllowedOrigins": ["https://app.example.com"],
            "AllowedMethods": ["PUT", "GET"],
            "AllowedHeaders": ["content-type", "x-amz-*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 600,
        }
    ]
}


def test_cors_config_round_trip(s3: Any, bucket: str) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == CORS["CORSRules"]
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket=bucket)


def test_browser_preflight_then_presigned_put(s3: Any, bucket: str, endpoint: str) -> None:
    origin = "https://app.example.com"
    preflight = {
        "Origin": origin,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type",
    }
    resp = requests.options(f"{endpoint}/{bucket}/upload.txt", headers=preflight, timeout=10)
    assert resp.status_code == 403  # no CORS configuration yet
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS)
    resp = requests.options(f"{endpoint}/{bucket}/upload.txt", headers=preflight, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == origin
    assert "PUT" in resp.headers["Access-Control-Allow-Methods"]
    assert resp.headers["Access-Control-Allow-Headers"] == "content-type"
    assert resp.headers["Access-Control-Max-Age"] == "600"
    refused = requests.options(
        f"{endpoint}/{bucket}/upload.txt",
        headers={**preflight, "Origin": "https://evil.example.com"},
        timeout=10,
    )
    assert refused.status_code == 403
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "upload.txt", "ContentType": "text/plain"}
    )
    resp = requests.put(
        url,
        data=b"from browser",
        headers={"Origin": origin, "Content-Type": "text/plain"},
        timeout=10,
    )
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == origin
    assert resp.headers["Access-Control-Expose-Headers"] == "ETag"
    assert s3.get_object(Bucket=bucket, Key="upload.txt")["Body"].read() == b"from browser"


def test_virtual_host_addressing(s3: Any, bucket: str, endpoint: str) -> None:
    port = endpoint.rsplit(":", 1)[1]
    s3.put_object(Bucket=bucket, Key="dir/v.txt", Body=b"vhost")
    for host in (f"{bucket}.s3.localhost.localstack.cloud:{port}", f"{bucket}.localhost:{port}"):
        resp = requests.get(f"{endpoint}/dir/v.txt", headers={"Host": host}, timeout=10)
        assert resp.status_code == 200 and resp.content == b"vhost"
        listing = requests.get(f"{endpoint}/?list-type=2", headers={"Host": host}, timeout=10)
        assert b"<Key>dir/v.txt</Key>" in listing.content


@pytest.mark.parametrize("version", ["s3", "s3v4"])
def test_presigned_virtual_host_url(s3: Any, bucket: str, endpoint: str, version: str) -> None:
    port = endpoint.rsplit(":", 1)[1]
    s3.put_object(Bucket=bucket, Key="dir/p.txt", Body=b"presigned vhost")
    vs3 = make_client(
        f"http://s3.localhost.localstack.cloud:{port}",
        "s3",
        config=Config(s3={"addressing_style": "virtual"}, signature_version=version),
    )
    url = vs3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir/p.txt"})
    host, _, rest = url.removeprefix("http://").partition("/")
    assert host == f"{bucket}.s3.localhost.localstack.cloud:{port}"
    resp = requests.get(f"{endpoint}/{rest}", headers={"Host": host}, timeout=10)
    assert resp.status_code == 200, resp.content
    assert resp.content == b"presigned vhost"


def test_virtual_host_with_boto3(s3: Any, bucket: str, endpoint: str) -> None:
    import socket

    port = endpoint.rsplit(":", 1)[1]
    try:
        socket.gethostbyname(f"{bucket}.s3.localhost.localstack.cloud")
    except OSError:
        pytest.skip("*.localhost.localstack.cloud does not resolve in this sandbox")
    vs3 = make_client(
        f"http://s3.localhost.localstack.cloud:{port}",
        "s3",
        config=Config(s3={"addressing_style": "virtual"}),
    )
    vs3.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert vs3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    url = vs3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    assert requests.get(url, timeout=10).content == b"v"


@pytest.mark.parametrize("key", ["a b.txt", "ü/ñ+x", "x%2Fy", "~tilde"])
def test_presigned_keys_needing_encoding(signer: Any, bucket: str, key: str) -> None:
    signer.put_object(Bucket=bucket, Key=key, Body=b"encoded")
    url = signer.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key, "ResponseContentType": "text/a b"}
    )
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200, resp.content
    assert resp.content == b"encoded"
    assert resp.headers["Content-Type"] == "text/a b"
