"""Routing: every request form real clients send finds its service, protocol and operation."""

from __future__ import annotations

import pytest

from nubes.gateway.auth import read_credentials
from nubes.gateway.catalog import catalog
from nubes.gateway.router import Router, s3_virtual_host_bucket
from nubes.protocol.base import HttpRequest


def _auth(service: str, region: str = "us-east-1", key: str = "AKIDEXAMPLE") -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential={key}/20261123/{region}/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )


def route(method: str, path: str, headers: dict[str, str], body: bytes = b"", query: str = ""):  # type: ignore[no-untyped-def]
    req = HttpRequest(method, path, query, {k.lower(): v for k, v in headers.items()}, body)
    target = Router(catalog()).identify(req, read_credentials(req))
    assert target is not None
    return target.service.name, target.protocol, target.operation, target.uri_params


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"X-Amz-Target": "DynamoDB_20120810.PutItem", "Authorization": _auth("dynamodb")},
            ("dynamodb", "json", "PutItem"),
        ),
        (
            {
                "X-Amz-Target": "DynamoDBStreams_20120810.GetRecords",
                "Authorization": _auth("dynamodb"),
            },
            ("dynamodbstreams", "json", "GetRecords"),
        ),
        (
            {"X-Amz-Target": "AmazonSQS.SendMessage", "Authorization": _auth("sqs")},
            ("sqs", "json", "SendMessage"),
        ),
        (
            {"X-Amz-Target": "Logs_20140328.PutLogEvents", "Authorization": _auth("logs")},
            ("logs", "json", "PutLogEvents"),
        ),
    ],
)
def test_x_amz_target(headers: dict[str, str], expected: tuple[str, str, str]) -> None:
    assert route("POST", "/", headers)[:3] == expected


def test_smithy_rpc_v2_cbor_path() -> None:
    headers = {"smithy-protocol": "rpc-v2-cbor", "Authorization": _auth("monitoring")}
    path = "/service/GraniteServiceVersion20100801/operation/PutMetricData"
    assert route("POST", path, headers)[:3] == ("cloudwatch", "smithy-rpc-v2-cbor", "PutMetricData")


def test_query_action_in_form_body_uses_signing_name() -> None:
    headers = {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Authorization": _auth("sqs"),
    }
    body = b"Action=SendMessage&Version=2012-11-05&QueueUrl=x&MessageBody=y"
    assert route("POST", "/", headers, body)[:3] == ("sqs", "query", "SendMessage")
    cw = {**headers, "Authorization": _auth("monitoring")}
    assert route("POST", "/", cw, b"Action=ListMetrics&Version=2010-08-01")[:3] == (
        "cloudwatch",
        "query",
        "ListMetrics",
    )


def test_query_action_in_query_string_and_unsigned() -> None:
    assert route("GET", "/", {}, query="Action=AssumeRoleWithWebIdentity&Version=2011-06-15")[
        :3
    ] == ("sts", "query", "AssumeRoleWithWebIdentity")


def test_ec2_protocol() -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": _auth("ec2")}
    body = b"Action=DescribeVpcs&Version=2016-11-15"
    assert route("POST", "/", headers, body)[:3] == ("ec2", "ec2", "DescribeVpcs")


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "operation", "params"),
    [
        ("GET", "/", "", {}, "ListBuckets", {}),
        ("PUT", "/b", "", {}, "CreateBucket", {"Bucket": "b"}),
        ("GET", "/b", "list-type=2&prefix=a", {}, "ListObjectsV2", {"Bucket": "b"}),
        ("GET", "/b", "", {}, "ListObjects", {"Bucket": "b"}),
        ("GET", "/b", "tagging", {}, "GetBucketTagging", {"Bucket": "b"}),
        ("PUT", "/b/a/b%20c.txt", "", {}, "PutObject", {"Bucket": "b", "Key": "a/b c.txt"}),
        (
            "PUT",
            "/b/k",
            "",
            {"x-amz-copy-source": "/o/k"},
            "CopyObject",
            {"Bucket": "b", "Key": "k"},
        ),
        ("PUT", "/b/k", "partNumber=1&uploadId=u", {}, "UploadPart", {"Bucket": "b", "Key": "k"}),
        (
            "PUT",
            "/b/k",
            "partNumber=1&uploadId=u",
            {"x-amz-copy-source": "/o/k"},
            "UploadPartCopy",
            {"Bucket": "b", "Key": "k"},
        ),
        ("POST", "/b/k", "uploads", {}, "CreateMultipartUpload", {"Bucket": "b", "Key": "k"}),
        ("POST", "/b/k", "uploadId=u", {}, "CompleteMultipartUpload", {"Bucket": "b", "Key": "k"}),
        ("GET", "/b/k", "uploadId=u", {}, "ListParts", {"Bucket": "b", "Key": "k"}),
        ("DELETE", "/b/k", "uploadId=u", {}, "AbortMultipartUpload", {"Bucket": "b", "Key": "k"}),
        ("POST", "/b", "delete", {}, "DeleteObjects", {"Bucket": "b"}),
        ("HEAD", "/b/k", "", {}, "HeadObject", {"Bucket": "b", "Key": "k"}),
    ],
)
def test_s3_rest_templates(
    method: str, path: str, query: str, headers: dict[str, str], operation: str, params: dict
) -> None:
    headers = {**headers, "Authorization": _auth("s3")}
    assert route(method, path, headers, query=query) == ("s3", "rest-xml", operation, params)


@pytest.mark.parametrize(
    ("host", "bucket"),
    [
        ("mybucket.s3.localhost.localstack.cloud:4566", "mybucket"),
        ("my.dotted.bucket.s3.localhost.localstack.cloud", "my.dotted.bucket"),
        ("mybucket.localhost:4566", "mybucket"),
        ("mybucket.s3.amazonaws.com", "mybucket"),
        ("mybucket.s3.eu-west-1.amazonaws.com", "mybucket"),
        ("s3.localhost.localstack.cloud:4566", None),
        ("localhost:4566", None),
        ("127.0.0.1:4566", None),
        ("sqs.us-east-1.localhost.localstack.cloud:4566", None),
    ],
)
def test_s3_virtual_host_bucket(host: str, bucket: str | None) -> None:
    assert s3_virtual_host_bucket(host) == bucket


def test_s3_virtual_host_request_is_rewritten_to_path_style() -> None:
    headers = {"Host": "photos.s3.localhost.localstack.cloud:4566", "Authorization": _auth("s3")}
    assert route("GET", "/cat.jpg", headers) == (
        "s3",
        "rest-xml",
        "GetObject",
        {"Bucket": "photos", "Key": "cat.jpg"},
    )
    assert route("GET", "/", headers, query="list-type=2")[2] == "ListObjectsV2"


def test_unsigned_request_goes_to_s3() -> None:
    assert route("GET", "/b/k", {})[:3] == ("s3", "rest-xml", "GetObject")


def test_rest_json_labels_and_signing_name() -> None:
    headers = {"Authorization": _auth("lambda")}
    path = "/2015-03-31/functions/my-fn/invocations"
    assert route("POST", path, headers) == (
        "lambda",
        "rest-json",
        "Invoke",
        {"FunctionName": "my-fn"},
    )


def test_unknown_operation_names_the_service() -> None:
    headers = {"X-Amz-Target": "DynamoDB_20120810.NoSuchThing", "Authorization": _auth("dynamodb")}
    service, protocol, operation, _ = route("POST", "/", headers)
    assert (service, protocol, operation) == ("dynamodb", "json", None)
