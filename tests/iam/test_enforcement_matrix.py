"""Under ``NUBES_ENFORCE_IAM=1`` nothing AWS would refuse is served: every principal x
credential form x service in the registry (``nubes.services.PROVIDERS``, so a service added
later is covered too), and every entry point that answers before the gateway's chain."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.exceptions
import botocore.session
import pytest
import requests
from botocore import UNSIGNED, xform_name
from botocore.config import Config

from nubes.gateway import sigv4a
from nubes.gateway.admission import signed_headers
from nubes.services import PROVIDERS
from nubes.services.registry import implemented_operations
from tests.server import NubesProcess

ACCOUNT = "000000000000"
PREFERRED = {
    "s3": "ListBuckets",
    "sqs": "ListQueues",
    "sns": "ListTopics",
    "dynamodb": "ListTables",
    "dynamodbstreams": "ListStreams",
    "iam": "ListUsers",
    "sts": "GetCallerIdentity",
    "logs": "DescribeLogGroups",
    "lambda": "ListFunctions",
    "cloudformation": "ListStacks",
    "kinesis": "ListStreams",
    "application-autoscaling": "DescribeScalableTargets",
}
"""A cheap read each service answers without any resource; other services get one chosen
from their model (a List/Describe operation with no required input)."""
READ_PARAMS = {"DescribeScalableTargets": {"ServiceNamespace": "ecs"}}
"""Input for probing reads that cannot go without any."""
FREE = {("sts", "GetCallerIdentity"), ("sts", "GetSessionToken")}
"""Operations AWS asks no permission for."""

DENIED = {"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation"}
SIGNATURE = {"SignatureDoesNotMatch", "InvalidSignatureException"}
INVALID_KEY = {"InvalidAccessKeyId", "InvalidClientTokenId", "UnrecognizedClientException"}
MISSING = {"AccessDenied", "MissingAuthenticationToken", "MissingAuthenticationTokenException"}
UNSUPPORTED = {"InvalidRequest", "IncompleteSignature", "IncompleteSignatureException"}
SWAPPED = SIGNATURE | {"XAmzContentSHA256Mismatch"}
EXPIRED = SIGNATURE | {"AccessDenied", "RequestExpired"}


def read_operation(service: str) -> str:
    if service in PREFERRED:
        return PREFERRED[service]
    shapes = botocore.session.get_session().get_service_model(service)
    implemented = set(implemented_operations()[service])
    for prefix in ("List", "Describe", "Get"):
        for name in sorted(implemented):
            op = shapes.operation_model(name)
            required = op.input_shape.required_members if op.input_shape else []
            if name.startswith(prefix) and not required:
                return name
    pytest.skip(f"{service}: no read operation without required input to probe with")


SERVICES = sorted(PROVIDERS)


@dataclass
class Keys:
    root: tuple[str, str, str | None]
    allowed: tuple[str, str, str | None]
    denied: tuple[str, str, str | None]
    role: tuple[str, str, str | None]
    inactive: tuple[str, str, str | None]


@pytest.fixture(scope="module")
def server() -> Iterator[NubesProcess]:
    process = NubesProcess(env={"NUBES_ENFORCE_IAM": "1"}).start()
    yield process
    process.stop()


def make(server: NubesProcess, service: str, creds: tuple[str, str, str | None], **cfg: Any) -> Any:
    key, secret, token = creds
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}, **cfg),
    )


@pytest.fixture(scope="module")
def keys(server: NubesProcess) -> Keys:
    root = ("test", "test", None)
    iam = make(server, "iam", root)
    everything = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )
    created = {}
    for name in ("matrix-allowed", "matrix-denied"):
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        created[name] = (key["AccessKeyId"], key["SecretAccessKey"], None)
    iam.put_user_policy(UserName="matrix-allowed", PolicyName="all", PolicyDocument=everything)
    old = iam.create_access_key(UserName="matrix-allowed")["AccessKey"]
    iam.update_access_key(
        UserName="matrix-allowed", AccessKeyId=old["AccessKeyId"], Status="Inactive"
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="matrix-role", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="matrix-role", PolicyName="all", PolicyDocument=everything)
    assumed = make(server, "sts", created["matrix-allowed"]).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/matrix-role", RoleSessionName="matrix"
    )["Credentials"]
    return Keys(
        root,
        created["matrix-allowed"],
        created["matrix-denied"],
        (assumed["AccessKeyId"], assumed["SecretAccessKey"], assumed["SessionToken"]),
        (old["AccessKeyId"], old["SecretAccessKey"], None),
    )


# -- sending prepared requests ----------------------------------------------------------------


class Captured(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


def prepare(client: Any, operation: str, params: dict[str, Any] | None = None) -> Any:
    """The request botocore would send (signed), without sending it."""

    def capture(request: Any, **_: Any) -> None:
        raise Captured(request)

    client.meta.events.register_first("before-send", capture)
    try:
        getattr(client, xform_name(operation))(**(params or READ_PARAMS.get(operation, {})))
    except Captured as done:
        return done.request
    finally:
        client.meta.events.unregister("before-send", capture)
    raise AssertionError("the request was not captured")


def send(method: str, url: str, headers: Any, body: Any) -> requests.Response:
    data = body if isinstance(body, bytes) else (body or b"")
    if isinstance(data, str):
        data = data.encode()
    clean = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in dict(headers).items()}
    return requests.request(method, url, headers=clean, data=data, timeout=20)


def error_code(resp: requests.Response) -> str:
    if resp.headers.get("x-amzn-errortype"):
        return resp.headers["x-amzn-errortype"].split(":")[0]
    text = resp.text
    found = re.search(r"<Code>([^<]+)</Code>", text)
    if found:
        return found.group(1)
    try:
        data = resp.json()
    except ValueError:
        return ""
    return str(data.get("__type", data.get("code", ""))).rsplit("#", 1)[-1]


def outcome(resp: requests.Response) -> str:
    return "ok" if resp.status_code < 300 else f"{resp.status_code} {error_code(resp)}"


def assert_refused(resp: requests.Response, codes: set[str]) -> None:
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
    assert error_code(resp) in codes, (resp.status_code, resp.text[:300])


def advance(server: NubesProcess, seconds: float) -> None:
    url = f"{server.endpoint}/_nubes/clock"
    body = json.dumps({"advance": seconds}).encode()
    headers = signed_headers("POST", url, body, "test", "test", "us-east-1")
    assert requests.post(url, data=body, headers=headers, timeout=10).ok


# -- principals x credential forms x services ---------------------------------------------------

PRINCIPALS = ("root", "allowed", "denied", "role", "wrong_secret", "unknown", "inactive")


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("service", SERVICES)
def test_principals(server: NubesProcess, keys: Keys, service: str, principal: str) -> None:
    op = read_operation(service)
    creds = {
        "root": keys.root,
        "allowed": keys.allowed,
        "denied": keys.denied,
        "role": keys.role,
        "wrong_secret": (keys.allowed[0], "not-the-secret", None),
        "unknown": ("AKIAUNKNOWNUNKNOWN00", "whatever", None),
        "inactive": keys.inactive,
    }[principal]
    request = prepare(make(server, service, creds), op)
    resp = send(request.method, request.url, request.headers, request.body)
    if principal in ("root", "allowed", "role") or (
        principal == "denied" and (service, op) in FREE
    ):
        assert resp.status_code < 300, outcome(resp)
    elif principal == "denied":
        assert_refused(resp, DENIED)
    elif principal == "wrong_secret":
        assert_refused(resp, SIGNATURE)
    else:
        assert_refused(resp, INVALID_KEY)


FORMS = ("anonymous", "other_algorithm", "sigv4a", "swapped_body", "sigv2_header", "garbage")
ALGORITHMS = (
    "AWS4-HMAC-SHA512",
    "AWS4-ECDSA-P256-SHA256",
    "aws4-hmac-sha256",
    "AWS4-HMAC-SHA256-PAYLOAD",
    "AWS4",
    "AWS3-HTTPS",
    "HMAC-SHA256",
)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("service", SERVICES)
def test_other_algorithms(server: NubesProcess, keys: Keys, service: str, algorithm: str) -> None:
    """The right key and signature under any other algorithm name is refused, not taken."""
    request = prepare(make(server, service, keys.root), read_operation(service))
    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    headers["Authorization"] = headers["Authorization"].replace("AWS4-HMAC-SHA256", algorithm, 1)
    expected = UNSUPPORTED
    if algorithm == sigv4a.ALGORITHM and service in sigv4a.SERVICES:
        expected = SIGNATURE
    assert_refused(send(request.method, request.url, headers, request.body), expected)


@pytest.mark.parametrize("service", SERVICES)
def test_sigv4a(server: NubesProcess, keys: Keys, service: str) -> None:
    """SigV4A (signed by the SDK through the CRT) is verified where AWS takes it, refused
    elsewhere."""
    op = read_operation(service)
    version = "s3v4a" if service == "s3" else "v4a"
    request = prepare(make(server, service, keys.allowed, signature_version=version), op)
    resp = send(request.method, request.url, request.headers, request.body)
    if service not in sigv4a.SERVICES:
        assert_refused(resp, UNSUPPORTED)
        return
    assert resp.status_code < 300, outcome(resp)
    wrong = (keys.allowed[0], "wrong", None)
    request = prepare(make(server, service, wrong, signature_version=version), op)
    assert_refused(send(request.method, request.url, request.headers, request.body), SIGNATURE)
    request = prepare(make(server, service, keys.denied, signature_version=version), op)
    assert_refused(send(request.method, request.url, request.headers, request.body), DENIED)
    request = prepare(make(server, service, keys.allowed, signature_version=version), op)
    body = request.body or b""
    swapped = (body.encode() if isinstance(body, str) else body) + b" "
    assert_refused(send(request.method, request.url, request.headers, swapped), SWAPPED)


WRITES: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "s3": ("CreateBucket", lambda name: {"Bucket": name}),
    "sqs": ("CreateQueue", lambda name: {"QueueName": name}),
    "sns": ("CreateTopic", lambda name: {"Name": name}),
    "iam": ("CreateGroup", lambda name: {"GroupName": name}),
    "logs": ("CreateLogGroup", lambda name: {"logGroupName": name}),
    "dynamodb": (
        "CreateTable",
        lambda name: {
            "TableName": name,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    ),
}
"""A write per service that needs no other resource: principals x actions."""


@pytest.mark.parametrize("principal", ("root", "allowed", "denied", "role", "inactive"))
@pytest.mark.parametrize("service", sorted(set(WRITES) & set(SERVICES)))
def test_writes(server: NubesProcess, keys: Keys, service: str, principal: str) -> None:
    op, params = WRITES[service]
    creds = getattr(keys, principal)
    name = f"matrix-{principal}-{service}-w"
    request = prepare(make(server, service, creds), op, params(name))
    resp = send(request.method, request.url, request.headers, request.body)
    if principal in ("root", "allowed", "role"):
        assert resp.status_code < 300, outcome(resp)
    elif principal == "denied":
        assert_refused(resp, DENIED)
    else:
        assert_refused(resp, INVALID_KEY)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("service", SERVICES)
def test_credential_forms(server: NubesProcess, keys: Keys, service: str, form: str) -> None:
    op = read_operation(service)
    request = prepare(make(server, service, keys.root), op)
    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    body = request.body or b""
    body = body.encode() if isinstance(body, str) else body
    auth = headers.get("Authorization", "")
    if form == "anonymous":
        unsigned = prepare(make(server, service, keys.root, signature_version=UNSIGNED), op)
        resp = send(unsigned.method, unsigned.url, unsigned.headers, unsigned.body)
        assert_refused(resp, MISSING)
        return
    if form == "other_algorithm":
        headers["Authorization"] = auth.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1)
        expected = UNSUPPORTED
    elif form == "sigv4a":
        # A SigV4 signature relabelled: refused where SigV4A is not taken, fails where it is.
        headers["Authorization"] = auth.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1)
        headers["X-Amz-Region-Set"] = "*"
        expected = SIGNATURE if service in sigv4a.SERVICES else UNSUPPORTED
    elif form == "swapped_body":
        # The payload hash the client signed is sent along, but the body is another one.
        headers.setdefault("X-Amz-Content-SHA256", hashlib.sha256(body).hexdigest())
        body = body + b" "
        expected = SWAPPED
    elif form == "sigv2_header":
        headers["Authorization"] = "AWS test:" + base64.b64encode(b"x" * 20).decode()
        headers.pop("X-Amz-Date", None)
        headers["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
        # Other services never took SigV2; without a SigV4 scope naming the service, a REST
        # path may be taken as S3's, which refuses it as S3 would.
        expected = SIGNATURE if service == "s3" else UNSUPPORTED | SIGNATURE | {"AccessDenied"}
    else:
        headers["Authorization"] = "Bearer something"
        expected = UNSUPPORTED
    assert_refused(send(request.method, request.url, headers, body), expected)


def test_sigv2_header_verifies_for_s3(server: NubesProcess, keys: Keys) -> None:
    right = make(server, "s3", keys.allowed, signature_version="s3")
    assert right.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    wrong = make(server, "s3", (keys.allowed[0], "wrong", None), signature_version="s3")
    request = prepare(wrong, "ListBuckets")
    assert_refused(send("GET", request.url, request.headers, b""), SIGNATURE)
    denied = prepare(make(server, "s3", keys.denied, signature_version="s3"), "ListBuckets")
    assert_refused(send("GET", denied.url, denied.headers, b""), DENIED)
    for header in ("AWS HAHAHA", "AWS test:%ff"):
        resp = requests.get(
            f"{server.endpoint}/",
            headers={"Authorization": header, "Date": "Mon, 01 Jan 2024 00:00:00 GMT"},
            timeout=10,
        )
        assert resp.status_code in (400, 403), resp.text


PRESIGNABLE = [s for s in SERVICES if s in ("s3", "iam", "sts", "sns", "lambda")]


@pytest.mark.parametrize("version", ["v4", "v2"])
@pytest.mark.parametrize("service", PRESIGNABLE)
def test_presigned_urls(server: NubesProcess, keys: Keys, service: str, version: str) -> None:
    """Presigned URLs: the right one is served; tampered, other keys' and expired ones not."""
    op = read_operation(service)
    signature = {"v4": "s3v4" if service == "s3" else "v4", "v2": "s3" if service == "s3" else "v2"}
    if version == "v2" and service != "s3":
        pytest.skip("SDKs presign SigV2 URLs for S3 only (query SigV2: test_query_sigv2_...)")
    client = make(server, service, keys.allowed, signature_version=signature[version])
    url = client.generate_presigned_url(xform_name(op), ExpiresIn=300)
    assert requests.get(url, timeout=10).status_code == 200
    name = "X-Amz-Signature" if "X-Amz-Signature=" in url else "Signature"
    tampered = re.sub(rf"{name}=[^&]+", f"{name}=%ff", url)
    assert 400 <= requests.get(tampered, timeout=10).status_code < 500
    other = make(server, service, keys.denied, signature_version=signature[version])
    denied = requests.get(other.generate_presigned_url(xform_name(op), ExpiresIn=300), timeout=10)
    if (service, op) not in FREE:
        assert_refused(denied, DENIED)
    if version == "v4":
        other_algorithm = url.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1)
        refused = requests.get(other_algorithm, timeout=10)
        assert_refused(refused, UNSUPPORTED | {"AuthorizationQueryParametersError"})
    short = client.generate_presigned_url(xform_name(op), ExpiresIn=1)
    advance(server, 5)
    assert_refused(requests.get(short, timeout=10), EXPIRED)


def test_query_sigv2_is_verified(server: NubesProcess, keys: Keys) -> None:
    iam = make(server, "iam", keys.allowed, signature_version="v2")
    assert iam.list_users()["ResponseMetadata"]["HTTPStatusCode"] == 200
    request = prepare(iam, "ListUsers")
    body = request.body if isinstance(request.body, str) else request.body.decode()
    tampered = re.sub(r"Signature=[^&]+", "Signature=%ff", body)
    resp = send("POST", request.url, request.headers, tampered.encode())
    assert_refused(resp, SIGNATURE)
    stale = re.sub(r"Timestamp=[^&]+", "Timestamp=2020-01-01T00%3A00%3A00Z", body)
    assert_refused(send("POST", request.url, request.headers, stale.encode()), EXPIRED)


# -- entry points before the chain --------------------------------------------------------------

INTERNAL = [
    ("POST", "/_nubes/reset"),
    ("POST", "/_nubes/clock"),
    ("GET", "/_nubes/clock"),
    ("POST", "/moto-api/reset"),
    ("POST", "/_localstack/state/reset"),
    ("GET", "/_localstack/info"),
    ("GET", "/_aws/sqs/messages"),
    ("GET", "/_aws/sns/sms-messages"),
    ("GET", "/_nubes/anything-added-later"),
]


@pytest.mark.parametrize(("method", "path"), INTERNAL)
def test_internal_endpoints_need_the_root(
    server: NubesProcess, keys: Keys, method: str, path: str
) -> None:
    url = server.endpoint + path
    body = b'{"advance": 0}' if path == "/_nubes/clock" else b""
    assert requests.request(method, url, data=body, timeout=10).status_code == 403
    for key, secret, _ in (keys.allowed, (keys.root[0], "wrong", None)):
        headers = signed_headers(method, url, body, key, secret, "us-east-1")
        assert (
            requests.request(method, url, data=body, headers=headers, timeout=10).status_code == 403
        )
    headers = signed_headers(method, url, body, "test", "test", "us-east-1")
    headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    swapped = requests.request(method, url, data=body + b" ", headers=headers, timeout=10)
    assert swapped.status_code == 403
    if "reset" not in path:
        signed = requests.request(method, url, data=body, headers=headers, timeout=10)
        assert signed.status_code != 403, signed.text
    assert requests.get(f"{server.endpoint}/_nubes/health", timeout=10).ok


def post_form(bucket: str, key: str, secret: str, policy: dict[str, Any]) -> dict[str, str]:
    encoded = base64.b64encode(json.dumps(policy).encode()).decode()
    signature = base64.b64encode(
        hmac.new(secret.encode(), encoded.encode(), hashlib.sha1).digest()
    ).decode()
    return {"key": "up.txt", "AWSAccessKeyId": key, "policy": encoded, "signature": signature}


def test_browser_post(server: NubesProcess, keys: Keys) -> None:
    s3 = make(server, "s3", keys.root)
    bucket = "matrix-post"
    s3.create_bucket(Bucket=bucket)
    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = {"expiration": expires, "conditions": [{"bucket": bucket}, ["eq", "$key", "up.txt"]]}
    url = f"{server.endpoint}/{bucket}"
    files = {"file": ("up.txt", b"data")}

    def post(fields: dict[str, str]) -> requests.Response:
        return requests.post(url, data=fields, files=files, timeout=10)

    assert post(post_form(bucket, *keys.allowed[:2], policy)).status_code == 204
    assert post(post_form(bucket, *keys.denied[:2], policy)).status_code == 403
    assert_refused(post(post_form(bucket, keys.allowed[0], "wrong", policy)), SIGNATURE)
    assert_refused(post(post_form(bucket, "AKIAUNKNOWNUNKNOWN00", "x", policy)), INVALID_KEY)
    assert_refused(post(post_form(bucket, *keys.inactive[:2], policy)), INVALID_KEY)
    unsigned = post({"key": "up.txt"})
    assert_refused(unsigned, DENIED)
    missing = post_form(bucket, *keys.allowed[:2], policy)
    del missing["signature"]
    assert post(missing).status_code == 400
    v4 = make(server, "s3", keys.allowed, signature_version="s3v4")
    presigned = v4.generate_presigned_post(bucket, "v4.txt")
    assert requests.post(presigned["url"], data=presigned["fields"], files=files, timeout=10).ok
    fields = dict(presigned["fields"])
    fields["x-amz-signature"] = "0" * 64
    tampered = requests.post(presigned["url"], data=fields, files=files, timeout=10)
    assert_refused(tampered, SIGNATURE)


def test_website_serves_only_what_anyone_may_read(server: NubesProcess, keys: Keys) -> None:
    s3 = make(server, "s3", keys.root)
    port = server.endpoint.rsplit(":", 1)[1]
    for bucket, public in (("matrix-site-public", True), ("matrix-site-private", False)):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="index.html", Body=b"<p>hi</p>", ContentType="text/html")
        s3.put_bucket_website(
            Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
        )
        if public:
            s3.delete_public_access_block(Bucket=bucket)
            s3.put_bucket_policy(
                Bucket=bucket,
                Policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": "*",
                                "Action": "s3:GetObject",
                                "Resource": f"arn:aws:s3:::{bucket}/*",
                            }
                        ],
                    }
                ),
            )
        host = f"{bucket}.s3-website.us-east-1.localhost.localstack.cloud:{port}"
        resp = requests.get(f"http://127.0.0.1:{port}/", headers={"Host": host}, timeout=10)
        assert resp.status_code == (200 if public else 403), resp.text
        # Through the API too, anonymously (other query parameters carry no credentials).
        direct = requests.get(f"{server.endpoint}/{bucket}/index.html?X-Amz-Other=1", timeout=10)
        assert direct.status_code == (200 if public else 403), direct.text


def test_cors_preflight_is_answered_without_credentials(server: NubesProcess, keys: Keys) -> None:
    """Browsers send preflights without credentials; S3 answers them from the CORS rules alone,
    and they reveal or change nothing else."""
    s3 = make(server, "s3", keys.root)
    s3.create_bucket(Bucket="matrix-cors")
    s3.put_bucket_cors(
        Bucket="matrix-cors",
        CORSConfiguration={
            "CORSRules": [{"AllowedOrigins": ["https://a.example"], "AllowedMethods": ["GET"]}]
        },
    )
    resp = requests.options(
        f"{server.endpoint}/matrix-cors/k",
        headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert resp.status_code == 200
    assert requests.get(f"{server.endpoint}/matrix-cors/k", timeout=10).status_code == 403


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def test_function_urls(server: NubesProcess, keys: Keys) -> None:
    lam = make(server, "lambda", keys.root)
    code = 'def handler(event, context):\n    return {"statusCode": 200, "body": "ran"}\n'
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    make(server, "iam", keys.root).create_role(
        RoleName="matrix-lambda", AssumeRolePolicyDocument=json.dumps(trust)
    )
    urls = {}
    for name, auth in (("matrix-iam", "AWS_IAM"), ("matrix-open", "NONE"), ("matrix-shut", "NONE")):
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Handler="app.handler",
            Role=f"arn:aws:iam::{ACCOUNT}:role/matrix-lambda",
            Code={"ZipFile": zipped(code)},
        )
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        url = lam.create_function_url_config(FunctionName=name, AuthType=auth)["FunctionUrl"]
        urls[name] = f"{server.endpoint}/_aws/lambda-url/{url.split('//')[1].split('.')[0]}/"
    lam.add_permission(
        FunctionName="matrix-open",
        StatementId="public",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    opened = requests.get(urls["matrix-open"], timeout=30)
    assert opened.text == "ran", opened.text
    assert requests.get(urls["matrix-shut"], timeout=30).status_code == 403
    assert requests.get(urls["matrix-iam"], timeout=30).status_code == 403

    def signed(creds: tuple[str, str, str | None], service: str = "lambda") -> requests.Response:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest("GET", urls["matrix-iam"])
        SigV4Auth(Credentials(creds[0], creds[1]), service, "us-east-1").add_auth(request)
        return requests.get(urls["matrix-iam"], headers=dict(request.headers), timeout=30)

    assert signed(keys.root).text == "ran", signed(keys.root).text
    assert signed(keys.allowed).text == "ran", signed(keys.allowed).text
    assert signed(keys.denied).status_code == 403
    assert signed((keys.allowed[0], "wrong", None)).status_code == 403
    assert signed(keys.root, service="sts").status_code == 403


def test_query_honours_leading_keys(server: NubesProcess, keys: Keys) -> None:
    ddb = make(server, "dynamodb", keys.root)
    ddb.create_table(
        TableName="matrix-leading",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    iam = make(server, "iam", keys.root)
    iam.create_user(UserName="matrix-alice")
    statement = {
        "Effect": "Allow",
        "Action": [
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:BatchGetItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:PutItem",
        ],
        "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["alice"]}},
    }
    iam.put_user_policy(
        UserName="matrix-alice",
        PolicyName="own",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    key = iam.create_access_key(UserName="matrix-alice")["AccessKey"]
    alice = make(server, "dynamodb", (key["AccessKeyId"], key["SecretAccessKey"], None))

    def query(value: str, **extra: Any) -> Any:
        return alice.query(
            TableName="matrix-leading",
            KeyConditionExpression="#p = :v",
            ExpressionAttributeNames={"#p": "pk"},
            ExpressionAttributeValues={":v": {"S": value}},
            **extra,
        )

    assert query("alice")["Count"] == 0
    with pytest.raises(alice.exceptions.ClientError) as exc:
        query("bob")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(alice.exceptions.ClientError):
        alice.get_item(TableName="matrix-leading", Key={"pk": {"S": "bob"}})
    own, other = {"pk": {"S": "alice"}}, {"pk": {"S": "bob"}}
    alice.batch_get_item(RequestItems={"matrix-leading": {"Keys": [own]}})
    alice.batch_write_item(RequestItems={"matrix-leading": [{"PutRequest": {"Item": own}}]})
    alice.transact_get_items(TransactItems=[{"Get": {"TableName": "matrix-leading", "Key": own}}])
    for refused in (
        lambda: alice.batch_get_item(RequestItems={"matrix-leading": {"Keys": [own, other]}}),
        lambda: alice.batch_write_item(
            RequestItems={"matrix-leading": [{"PutRequest": {"Item": other}}]}
        ),
        lambda: alice.transact_get_items(
            TransactItems=[{"Get": {"TableName": "matrix-leading", "Key": other}}]
        ),
    ):
        with pytest.raises(alice.exceptions.ClientError) as exc:
            refused()
        assert exc.value.response["Error"]["Code"] == "AccessDeniedException"


def test_get_session_token_needs_no_permission(server: NubesProcess, keys: Keys) -> None:
    sts = make(server, "sts", keys.denied)
    assert sts.get_session_token()["Credentials"]["AccessKeyId"]


def test_a_signature_is_checked_for_the_key_it_names(server: NubesProcess, keys: Keys) -> None:
    """A header naming two credentials: the secret is looked up for the key that is checked."""
    request = prepare(make(server, "iam", keys.denied), "ListUsers")
    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    auth = headers["Authorization"]
    scope = auth.split("Credential=", 1)[1].split(",", 1)[0]
    victim = scope.replace(keys.denied[0], keys.allowed[0], 1)
    headers["Authorization"] = auth.replace("Credential=", f"Credential={victim}, Credential=", 1)
    assert_refused(send(request.method, request.url, headers, request.body), SIGNATURE)


def test_sns_confirmation_links_work_unsigned(server: NubesProcess, keys: Keys) -> None:
    """An HTTP endpoint confirms (and later cancels) its subscription by fetching the URLs SNS
    sent it, without any credentials, as on AWS; other calls still need a signature."""
    sns = make(server, "sns", keys.root)
    topic = sns.create_topic(Name="matrix-confirm")["TopicArn"]
    arn = sns.subscribe(
        TopicArn=topic,
        Protocol="http",
        Endpoint="http://127.0.0.1:9/hook",
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    url = f"{server.endpoint}/_aws/sns/subscription-tokens/{arn}"
    headers = signed_headers("GET", url, b"", "test", "test", "us-east-1")
    token = requests.get(url, headers=headers, timeout=10).json()["subscription_token"]
    confirm = {"Action": "ConfirmSubscription", "TopicArn": topic, "Token": token}
    assert requests.get(f"{server.endpoint}/", params=confirm, timeout=10).ok
    wrong = {**confirm, "Token": "0" * len(token)}
    assert not requests.get(f"{server.endpoint}/", params=wrong, timeout=10).ok
    publish = {"Action": "Publish", "TopicArn": topic, "Message": "x"}
    assert_refused(requests.get(f"{server.endpoint}/", params=publish, timeout=10), MISSING)
    cancel = {"Action": "Unsubscribe", "SubscriptionArn": arn}
    assert requests.get(f"{server.endpoint}/", params=cancel, timeout=10).ok
    assert not sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]


def streaming_upload(
    server: NubesProcess, path: str, chunks: list[bytes], tamper: bool = False
) -> requests.Response:
    """A ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` PUT signed by hand (SDKs send unsigned
    trailers instead): the seed signature, then each chunk's, chained."""
    from nubes.gateway import sigv4
    from nubes.gateway.enforce import chunk_signature

    now = datetime.now(UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = sigv4.Scope("test", amz_date[:8], "us-east-1", "s3")
    payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    headers = {
        "host": server.endpoint.removeprefix("http://"),
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload,
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(sum(len(c) for c in chunks)),
    }
    signed = sorted(headers)
    seed = sigv4.expected_signature(
        "test", scope, amz_date, "PUT", path, "", headers, signed, payload
    )
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential=test/{scope}, SignedHeaders={';'.join(signed)}, "
        f"Signature={seed}"
    )
    body, previous = b"", seed
    for chunk in [*chunks, b""]:
        previous = chunk_signature("test", scope, amz_date, previous, chunk)
        sent = chunk.replace(b"a", b"b") if tamper and chunk else chunk
        body += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + sent + b"\r\n"
    return requests.put(server.endpoint + path, data=body, headers=headers, timeout=10)


def test_signed_streaming_chunks_are_verified(server: NubesProcess, keys: Keys) -> None:
    s3 = make(server, "s3", keys.root)
    s3.create_bucket(Bucket="matrix-chunks")
    chunks = [b"a" * 8192, b"a" * 100]
    assert streaming_upload(server, "/matrix-chunks/k", chunks).status_code == 200
    assert s3.get_object(Bucket="matrix-chunks", Key="k")["Body"].read() == b"".join(chunks)
    refused = streaming_upload(server, "/matrix-chunks/k", chunks, tamper=True)
    assert_refused(refused, SIGNATURE)
    assert s3.get_object(Bucket="matrix-chunks", Key="k")["Body"].read() == b"".join(chunks)


@pytest.mark.parametrize("service", SERVICES)
def test_signature_scoped_to_another_service(
    server: NubesProcess, keys: Keys, service: str
) -> None:
    """A valid signature whose credential scope names another service is refused."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    prepared = prepare(make(server, service, keys.root), read_operation(service))
    headers = {
        k: v.decode() if isinstance(v, bytes) else v
        for k, v in prepared.headers.items()
        if k.lower() not in ("authorization", "x-amz-date")
    }
    request = AWSRequest(prepared.method, prepared.url, headers, prepared.body)
    other = "sts" if service != "sts" else "iam"
    SigV4Auth(Credentials("test", "test"), other, "us-east-1").add_auth(request)
    resp = send(request.method, request.url, request.headers, request.body)
    # Query APIs are routed by the scope's service, which then knows no such action.
    assert_refused(resp, SIGNATURE | {"InvalidAction"})


def test_a_malformed_delete_objects_is_refused_before_authorizing_nothing(
    server: NubesProcess, keys: Keys
) -> None:
    s3 = make(server, "s3", keys.root, parameter_validation=False)
    s3.create_bucket(Bucket="malformed-delete")
    s3.put_object(Bucket="malformed-delete", Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.delete_objects(Bucket="malformed-delete", Delete={"Objects": [{}]})
    assert err.value.response["Error"]["Code"] == "MalformedXML"
    assert s3.get_object(Bucket="malformed-delete", Key="k")["Body"].read() == b"x"


def test_a_resource_policy_deny_stops_the_account_root(server: NubesProcess, keys: Keys) -> None:
    """Outside the services whose policies are cached too: a KMS key policy and a secret's
    resource policy deny the root as they deny anyone."""
    root = f"arn:aws:iam::{make(server, 'sts', keys.root).get_caller_identity()['Account']}:root"
    kms = make(server, "kms", keys.root)
    key_id = kms.create_key(
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*",
                     "Resource": "*"},
                    {"Effect": "Deny", "Principal": {"AWS": root}, "Action": "kms:Encrypt",
                     "Resource": "*"},
                ],
            }
        )
    )["KeyMetadata"]["KeyId"]  # fmt: skip
    with pytest.raises(botocore.exceptions.ClientError) as err:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id

    sm = make(server, "secretsmanager", keys.root)
    arn = sm.create_secret(Name="denied-to-root", SecretString="s")["ARN"]
    sm.put_resource_policy(
        SecretId=arn,
        ResourcePolicy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Deny", "Principal": {"AWS": root},
                     "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
                ],
            }
        ),
    )  # fmt: skip
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sm.get_secret_value(SecretId=arn)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
