"""boto3 against the XML-family protocols, without a server: boto3 builds the request, our parser
reads it, a stand-in provider answers, our serializer writes the response and boto3 (with all its
customizations, such as S3's GetBucketLocation handler) reads it back."""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError

from nubes.gateway.rest_routes import match_request_uri
from nubes.protocol import get_protocol
from nubes.protocol.base import HttpRequest, ResponseContext, ServiceError

Handler = Callable[[str, dict[str, Any]], Any]


class _Raw:
    """What botocore expects of urllib3's response: ``stream()`` and ``read()``."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._data = io.BytesIO(b"".join(chunks))

    def stream(self, amt: int = 1024, decode_content: bool = True) -> Iterator[bytes]:
        while chunk := self._data.read(amt):
            yield chunk

    def read(self, amt: int | None = None) -> bytes:
        return self._data.read(amt)


def _client(service: str, handler: Handler, seen: list[dict[str, Any]] | None = None) -> Any:
    client = boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:4566",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 1},
        ),
    )
    # The server's own copy of the model: botocore edits the client's (S3 drops {Bucket}).
    model = botocore.session.get_session().get_service_model(service)
    proto = get_protocol(model.protocol)

    def send(request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse:
        op = model.operation_model(kwargs["event_name"].rpartition(".")[2])
        parts = urlsplit(request.url)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode("utf-8")
        req = HttpRequest(
            method=request.method,
            path=parts.path or "/",
            query_string=parts.query,
            headers={k.lower(): _text(v) for k, v in request.headers.items()},
            body=body or b"",
        )
        uri_params: dict[str, str] = {}
        if model.protocol.startswith("rest"):
            found = match_request_uri(op.http["requestUri"], req.path)
            assert found is not None
            uri_params = found
        ctx = ResponseContext(request_id="req-1", service=model, operation=op)
        try:
            params = proto.parse(op, req, uri_params)
            if seen is not None:
                seen.append(params)
            resp = proto.serialize(handler(op.name, params) or {}, ctx)
        except ServiceError as err:
            resp = proto.serialize_error(err, ctx)
        chunks = iter([resp.body]) if isinstance(resp.body, bytes) else resp.body
        return AWSResponse(request.url, resp.status, resp.headers, _Raw(chunks))  # type: ignore[arg-type]

    client.meta.events.register("before-send", send)
    return client


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _error(service: str, code: str, message: str, **fields: Any) -> ServiceError:
    model = botocore.session.get_session().get_service_model(service)
    return ServiceError.from_shape(model.shape_for(code), message, **fields)


# --- S3 ----------------------------------------------------------------------------------------


def test_s3_list_objects_v2_with_common_prefixes() -> None:
    modified = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)

    def handler(op: str, params: dict[str, Any]) -> dict[str, Any]:
        assert op == "ListObjectsV2"
        assert params == {
            "Bucket": "bkt",
            "Prefix": "a/",
            "Delimiter": "/",
            "MaxKeys": 2,
            "EncodingType": "url",
        }
        return {
            "Name": "bkt",
            "Prefix": "a/",
            "Delimiter": "/",
            "MaxKeys": 2,
            "KeyCount": 3,
            "IsTruncated": True,
            "NextContinuationToken": "tok&<en>",
            "Contents": [
                {
                    "Key": "a/x & y.txt",
                    "Size": 5,
                    "ETag": '"abc"',
                    "LastModified": modified,
                    "StorageClass": "STANDARD",
                },
            ],
            "CommonPrefixes": [{"Prefix": "a/b/"}, {"Prefix": "a/c/"}],
        }

    s3 = _client("s3", handler)
    out = s3.list_objects_v2(Bucket="bkt", Prefix="a/", Delimiter="/", MaxKeys=2)
    assert out["Contents"] == [
        {
            "Key": "a/x & y.txt",
            "Size": 5,
            "ETag": '"abc"',
            "LastModified": modified,
            "StorageClass": "STANDARD",
        }
    ]
    assert out["CommonPrefixes"] == [{"Prefix": "a/b/"}, {"Prefix": "a/c/"}]
    assert (out["KeyCount"], out["IsTruncated"]) == (3, True)
    assert out["NextContinuationToken"] == "tok&<en>"


@pytest.mark.parametrize("region", ["us-west-2", None])
def test_s3_get_bucket_location(region: str | None) -> None:
    s3 = _client("s3", lambda op, params: {"LocationConstraint": region})
    assert s3.get_bucket_location(Bucket="bkt")["LocationConstraint"] == region


def test_s3_put_object_body_is_a_stream_and_metadata_headers_are_read() -> None:
    seen: list[dict[str, Any]] = []
    s3 = _client("s3", lambda op, params: {"ETag": '"e"', "VersionId": "v1"}, seen)
    out = s3.put_object(
        Bucket="bkt",
        Key="dir/k ey",
        Body=b"payload",
        Metadata={"color": "blue"},
        ContentType="text/plain",
    )
    assert (out["ETag"], out["VersionId"]) == ('"e"', "v1")
    params = seen[0]
    assert params["Key"] == "dir/k ey"
    assert params["Body"].read() == b"payload"
    assert params["Metadata"] == {"color": "blue"}
    assert params["ContentType"] == "text/plain"


def test_s3_get_object_streams_an_iterator_body() -> None:
    def handler(op: str, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "Body": iter([b"hello ", b"world"]),
            "ContentLength": 11,
            "Metadata": {"color": "blue"},
            "LastModified": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        }

    s3 = _client("s3", handler)
    out = s3.get_object(Bucket="bkt", Key="k")
    assert out["Body"].read() == b"hello world"
    assert out["Metadata"] == {"color": "blue"}
    assert out["LastModified"] == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def test_s3_head_object_has_no_body() -> None:
    proto = get_protocol("rest-xml")
    model = botocore.session.get_session().get_service_model("s3")
    ctx = ResponseContext("req-1", model, model.operation_model("HeadObject"))
    resp = proto.serialize({"ContentLength": 3, "ETag": '"e"'}, ctx)
    assert resp.body == b""
    assert {k.lower(): v for k, v in resp.headers.items()}["content-length"] == "3"
    err = proto.serialize_error(ServiceError("NoSuchKey", "nope", status=404), ctx)
    assert (err.status, err.body) == (404, b"")


def test_s3_errors_use_the_bare_error_document() -> None:
    def handler(op: str, params: dict[str, Any]) -> None:
        raise ServiceError(
            "NoSuchBucket",
            "The specified bucket does not exist",
            status=404,
            fields={"BucketName": "bkt"},
        )

    s3 = _client("s3", handler)
    with pytest.raises(ClientError) as info:
        s3.list_objects_v2(Bucket="bkt")
    error = info.value.response["Error"]
    assert error["Code"] == "NoSuchBucket"
    assert error["BucketName"] == "bkt"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert info.value.response["ResponseMetadata"]["RequestId"] == "req-1"


def test_s3_structure_payload_is_read() -> None:
    seen: list[dict[str, Any]] = []
    s3 = _client("s3", lambda op, params: {}, seen)
    s3.put_bucket_tagging(
        Bucket="bkt", Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "<"}]}
    )
    assert seen[0]["Tagging"] == {
        "TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "<"}]
    }


def test_s3_malformed_xml_is_a_client_error() -> None:
    proto = get_protocol("rest-xml")
    model = botocore.session.get_session().get_service_model("s3")
    op = model.operation_model("PutBucketTagging")
    req = HttpRequest("PUT", "/bkt", "tagging", {"host": "localhost"}, b"<Tagging><TagSet>")
    with pytest.raises(ServiceError) as info:
        proto.parse(op, req, {"Bucket": "bkt"})
    assert (info.value.code, info.value.status) == ("MalformedXML", 400)


# --- query: STS, IAM, SNS ----------------------------------------------------------------------


def test_sts_get_caller_identity() -> None:
    def handler(op: str, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "UserId": "AIDA",
            "Account": "000000000000",
            "Arn": "arn:aws:iam::000000000000:root",
        }

    out = _client("sts", handler).get_caller_identity()
    assert out["Account"] == "000000000000"
    assert out["Arn"] == "arn:aws:iam::000000000000:root"
    assert out["ResponseMetadata"]["RequestId"] == "req-1"


def test_iam_create_user_with_tags_and_list_users() -> None:
    created = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    seen: list[dict[str, Any]] = []

    def handler(op: str, params: dict[str, Any]) -> dict[str, Any]:
        user = {
            "UserName": "bob",
            "UserId": "AIDB",
            "Path": "/",
            "CreateDate": created,
            "Arn": "arn:aws:iam::000000000000:user/bob",
        }
        if op == "CreateUser":
            return {"User": {**user, "Tags": params["Tags"]}}
        return {"Users": [user], "IsTruncated": False}

    iam = _client("iam", handler, seen)
    out = iam.create_user(UserName="bob", Tags=[{"Key": "team", "Value": "a&b"}])
    assert seen[0] == {"UserName": "bob", "Tags": [{"Key": "team", "Value": "a&b"}]}
    assert out["User"]["Tags"] == [{"Key": "team", "Value": "a&b"}]
    assert out["User"]["CreateDate"] == created
    listed = iam.list_users()
    assert [u["UserName"] for u in listed["Users"]] == ["bob"]
    assert listed["IsTruncated"] is False


def test_iam_modeled_error() -> None:
    def handler(op: str, params: dict[str, Any]) -> None:
        raise _error("iam", "NoSuchEntityException", "The user with name x cannot be found.")

    with pytest.raises(ClientError) as info:
        _client("iam", handler).get_user(UserName="x")
    assert info.value.response["Error"]["Code"] == "NoSuchEntity"
    assert info.value.response["Error"]["Type"] == "Sender"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_sns_publish_message_attributes_map() -> None:
    seen: list[dict[str, Any]] = []
    sns = _client("sns", lambda op, params: {"MessageId": "m-1"}, seen)
    out = sns.publish(
        TopicArn="arn:aws:sns:us-east-1:000000000000:t",
        Message="hi",
        MessageAttributes={
            "a": {"DataType": "String", "StringValue": "x"},
            "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    assert out["MessageId"] == "m-1"
    assert seen[0]["MessageAttributes"] == {
        "a": {"DataType": "String", "StringValue": "x"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }


# --- ec2 ---------------------------------------------------------------------------------------


def test_ec2_describe_vpcs_filters_and_item_lists() -> None:
    seen: list[dict[str, Any]] = []

    def handler(op: str, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "Vpcs": [
                {
                    "VpcId": "vpc-1",
                    "CidrBlock": "10.0.0.0/16",
                    "IsDefault": True,
                    "Tags": [{"Key": "Name", "Value": "main"}],
                }
            ]
        }

    ec2 = _client("ec2", handler, seen)
    out = ec2.describe_vpcs(
        VpcIds=["vpc-1", "vpc-2"], Filters=[{"Name": "tag:Name", "Values": ["main", "x"]}]
    )
    assert seen[0] == {
        "VpcIds": ["vpc-1", "vpc-2"],
        "Filters": [{"Name": "tag:Name", "Values": ["main", "x"]}],
    }
    assert out["Vpcs"] == [
        {
            "VpcId": "vpc-1",
            "CidrBlock": "10.0.0.0/16",
            "IsDefault": True,
            "Tags": [{"Key": "Name", "Value": "main"}],
        }
    ]
    assert out["ResponseMetadata"]["RequestId"] == "req-1"


def test_ec2_error() -> None:
    def handler(op: str, params: dict[str, Any]) -> None:
        raise ServiceError("InvalidVpcID.NotFound", "The vpc ID 'vpc-9' does not exist")

    with pytest.raises(ClientError) as info:
        _client("ec2", handler).describe_vpcs(VpcIds=["vpc-9"])
    assert info.value.response["Error"]["Code"] == "InvalidVpcID.NotFound"
    assert info.value.response["ResponseMetadata"]["RequestId"] == "req-1"


def test_s3_acl_grantee_xsi_type_attribute_both_ways() -> None:
    grants = [
        {
            "Grantee": {"Type": "CanonicalUser", "ID": "abc", "DisplayName": "me"},
            "Permission": "FULL_CONTROL",
        },
        {
            "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
            "Permission": "READ",
        },
    ]
    owner = {"ID": "abc", "DisplayName": "me"}
    seen: list[dict[str, Any]] = []
    s3 = _client("s3", lambda op, params: {"Owner": owner, "Grants": grants}, seen)
    s3.put_bucket_acl(Bucket="bkt", AccessControlPolicy={"Grants": grants, "Owner": owner})
    assert seen[0]["AccessControlPolicy"] == {"Grants": grants, "Owner": owner}
    out = s3.get_bucket_acl(Bucket="bkt")
    assert out["Grants"] == grants
    assert out["Owner"] == owner


@pytest.mark.parametrize(
    ("operation", "result", "root"),
    [
        ("ListObjectsV2", {"Name": "bkt", "KeyCount": 0}, "ListBucketResult"),
        ("ListBuckets", {"Buckets": [{"Name": "bkt"}]}, "ListAllMyBucketsResult"),
        ("CreateMultipartUpload", {"UploadId": "u"}, "InitiateMultipartUploadResult"),
    ],
)
def test_s3_documents_carry_s3s_own_root_names(
    operation: str, result: dict[str, Any], root: str
) -> None:
    model = botocore.session.get_session().get_service_model("s3")
    ctx = ResponseContext("req-1", model, model.operation_model(operation))
    body = get_protocol("rest-xml").serialize(result, ctx).body
    assert isinstance(body, bytes)
    assert ElementTree.fromstring(body).tag == "{http://s3.amazonaws.com/doc/2006-03-01/}" + root


def test_query_ignores_nested_keys_under_a_scalar_and_rejects_bad_values() -> None:
    model = botocore.session.get_session().get_service_model("iam")
    op = model.operation_model("ListUsers")
    proto = get_protocol("query")
    body = b"Action=ListUsers&Version=2010-05-08&PathPrefix.x=1&MaxItems=5"
    assert proto.parse(op, HttpRequest("POST", "/", "", {}, body), {}) == {"MaxItems": 5}
    with pytest.raises(ServiceError) as info:
        proto.parse(op, HttpRequest("POST", "/", "", {}, b"Action=ListUsers&MaxItems=five"), {})
    assert info.value.status == 400


def test_s3_xml_inputs_with_flattened_lists() -> None:
    seen: list[dict[str, Any]] = []

    def handler(op: str, params: dict[str, Any]) -> dict[str, Any]:
        if op == "DeleteObjects":
            return {
                "Deleted": [{"Key": o["Key"]} for o in params["Delete"]["Objects"]],
                "Errors": [{"Key": "locked", "Code": "AccessDenied", "Message": "no"}],
            }
        return {}

    s3 = _client("s3", handler, seen)
    s3.create_bucket(Bucket="bkt", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert seen[-1]["CreateBucketConfiguration"] == {"LocationConstraint": "eu-west-1"}
    out = s3.delete_objects(
        Bucket="bkt",
        Delete={"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "v"}], "Quiet": False},
    )
    assert seen[-1]["Delete"] == {
        "Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "v"}],
        "Quiet": False,
    }
    assert out["Deleted"] == [{"Key": "a"}, {"Key": "b"}]
    assert out["Errors"] == [{"Key": "locked", "Code": "AccessDenied", "Message": "no"}]
    s3.complete_multipart_upload(
        Bucket="bkt",
        Key="k",
        UploadId="u",
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": '"e1"'}, {"PartNumber": 2, "ETag": '"e2"'}]
        },
    )
    assert seen[-1]["MultipartUpload"] == {
        "Parts": [{"PartNumber": 1, "ETag": '"e1"'}, {"PartNumber": 2, "ETag": '"e2"'}]
    }
    assert seen[-1]["UploadId"] == "u"
