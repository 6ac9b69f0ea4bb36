"""Malformed requests in every protocol to the operations nubes implements: never a 5xx, always
a well-formed error in the service's own protocol, the server still up, and state already there
untouched.

Targets come from the registry and the catalog (every implemented operation of every provider,
in every protocol its service speaks), so a new service is fuzzed as soon as it is registered.
Each example starts from a request botocore would send for parameters drawn from the input
shape (adversarial but well-typed values), then may break it on the wire: a body that is not
the protocol's format, nested past any limit, cut short, members of the wrong type, keys
without values, headers and query values that do not parse.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import cbor2
import pytest
import requests
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.model import OperationModel, Shape
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nubes.gateway.catalog import catalog
from nubes.services.registry import implemented_operations
from tests.robustness.wire import CREDENTIALS, error_code
from tests.server import NubesProcess

SKIPPED = {
    # Operations that start processes or wait on purpose: they are exercised by their own
    # service's tests, and a fuzzer would only make them slow.
    "lambda": {"Invoke", "InvokeAsync", "InvokeWithResponseStream"},
    "ec2": {"RunInstances", "StartInstances", "RebootInstances"},
}
PROTOCOLS = ("query", "ec2", "json", "rest-json", "rest-xml", "smithy-rpc-v2-cbor")


@dataclass(frozen=True)
class Target:
    service: str
    protocol: str
    operation: OperationModel
    signing_name: str


def _targets() -> dict[str, list[Target]]:
    found: dict[str, list[Target]] = {p: [] for p in PROTOCOLS}
    services = catalog().services
    for service, operations in sorted(implemented_operations().items()):
        info = services[service]
        for protocol in info.protocols:
            if protocol not in found:
                continue
            for name in operations:
                if name in SKIPPED.get(service, ()):
                    continue
                found[protocol].append(
                    Target(service, protocol, info.model.operation_model(name), info.signing_name)
                )
    return found


TARGETS = _targets()

# -- values: well-typed, adversarial ------------------------------------------------------------

# Names that recur across examples, so that one example's create meets another's read,
# update or delete and the fuzzer gets past "no such resource".
_NAMES = st.sampled_from(
    [
        "fuzz",
        "fuzz-2",
        "arn:aws:sqs:us-east-1:000000000000:fuzz",
        "http://localhost/000000000000/fuzz",
        "arn:aws:sns:us-east-1:000000000000:fuzz",
        "arn:aws:iam::000000000000:role/fuzz",
        "arn:aws:iam::000000000000:policy/fuzz",
        "arn:aws:lambda:us-east-1:000000000000:function:fuzz",
        "arn:aws:dynamodb:us-east-1:000000000000:table/fuzz",
        "arn:aws:logs:us-east-1:000000000000:log-group:fuzz",
        "arn:aws:s3:::fuzz",
    ]
)
_STRINGS = st.one_of(
    _NAMES,
    st.text(max_size=24),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a" * 3000,
            "../../etc/passwd",
            "%ff%00",
            "arn:aws:iam::000000000000:role/x",
            "1e999999999",
            "NaN",
            "-1",
            "<a>&amp;</a>",
            '{"a":' * 50,
            "(" * 600,
            "\u202e\ufeff\U0001f600",
            "s3://b/k",
            "http://127.0.0.1:1/x",
        ]
    ),
)
_INTS = st.one_of(
    st.integers(-10, 10),
    st.sampled_from([2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**30]),
)
_FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([math.inf, -math.inf, 1e308, -0.0]),
)
_TIMES = st.sampled_from(
    [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2000, 2, 29, tzinfo=UTC),
        datetime(9999, 12, 31, tzinfo=UTC),
        datetime(2030, 1, 1, tzinfo=UTC),
    ]
)


def _value(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        if depth > 4 or shape.is_document_type:
            return st.just({})
        # Required members mostly present (or validation stops every example early), a few
        # of the others.
        required = set(shape.required_members)
        optional = [(n, m) for n, m in shape.members.items() if n not in required]
        needed = st.fixed_dictionaries(
            {n: _value(m, depth + 1) for n, m in shape.members.items() if n in required}
        )
        others = (
            st.lists(st.sampled_from(optional), max_size=4, unique_by=lambda m: m[0]).flatmap(
                lambda chosen: st.fixed_dictionaries({n: _value(m, depth + 1) for n, m in chosen})
            )
            if optional
            else st.just({})
        )
        return st.tuples(needed, others, st.integers(0, 9)).map(
            lambda drawn: {**(drawn[0] if drawn[2] else {}), **drawn[1]}
        )
    if kind == "list":
        if depth > 4:
            return st.just([])
        return st.lists(_value(shape.member, depth + 1), max_size=3)
    if kind == "map":
        if depth > 4:
            return st.just({})
        return st.dictionaries(_STRINGS, _value(shape.value, depth + 1), max_size=3)
    if kind == "string":
        if shape.enum and depth % 2 == 0:
            return st.sampled_from(shape.enum)
        return _STRINGS
    if kind in ("integer", "long", "short", "byte"):
        return _INTS
    if kind in ("float", "double"):
        return _FLOATS
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.binary(max_size=64)
    if kind == "timestamp":
        return _TIMES
    return st.none()


# -- breaking the wire ----------------------------------------------------------------------------

_DEEP_JSON = [b"[" * 2000, b'{"a":' * 2000 + b"1" + b"}" * 2000, b"[" * 90 + b"]" * 90]
_JSON_JUNK = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"x"',
    b"\xff\xfe",
    b'{"a":NaN}',
    b'{"a":1e999999999}',
    b'{"a":"\\ud800"}',
    b'{"\\udfff":1}',
    b"{" + b'"k":1,' * 5000 + b'"k":2}',
]
_WRONG_TYPES: list[Any] = [
    None,
    "x",
    "\ud800",
    -1,
    10**40,
    1.5,
    True,
    [],
    [None],
    {},
    {"a": None},
    [[[]]],
]


def _json_mutations(body: bytes) -> st.SearchStrategy[bytes]:
    @st.composite
    def retyped(draw: st.DrawFn) -> bytes:
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            doc = {}
        if not isinstance(doc, dict) or not doc:
            doc = {"Unknown": 1}
        key = draw(st.sampled_from(sorted(doc)))
        doc[key] = draw(st.sampled_from(_WRONG_TYPES))
        return json.dumps(doc).encode("utf-8", "surrogatepass")

    return st.one_of(
        st.sampled_from(_DEEP_JSON + _JSON_JUNK),
        st.binary(max_size=64),
        st.integers(0, max(len(body) - 1, 0)).map(lambda cut: body[:cut]),
        retyped(),
    )


_DEEP_CBOR = [b"\x81" * 1000 + b"\x01", b"\xa1\x61a" * 500 + b"\x01"]
_CBOR_JUNK = [
    b"",
    b"\xff",
    b"\xbf",
    b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\xc1\x63abc",
    b"\xa1\x61a\xc2\x41\x01",
    b"\xa1\x63abc\xf9\x7e\x00",
    b"\x9f" * 50,
]


def _cbor_mutations(body: bytes) -> st.SearchStrategy[bytes]:
    @st.composite
    def retyped(draw: st.DrawFn) -> bytes:
        try:
            doc = cbor2.loads(body) if body else {}
        except (cbor2.CBORDecodeError, ValueError, EOFError):
            doc = {}
        if not isinstance(doc, dict) or not doc:
            doc = {"Unknown": 1}
        key = draw(st.sampled_from(sorted(doc, key=str)))
        replacement = draw(st.sampled_from([*_WRONG_TYPES, b"\x00", cbor2.CBORTag(99, 1)]))
        if replacement == "\ud800":
            replacement = "x"  # CBOR text is UTF-8: no lone surrogates on its wire
        doc[key] = replacement
        return bytes(cbor2.dumps(doc))

    return st.one_of(
        st.sampled_from(_DEEP_CBOR + _CBOR_JUNK),
        st.binary(max_size=64),
        st.integers(0, max(len(body) - 1, 0)).map(lambda cut: body[:cut]),
        retyped(),
    )


_DEEP_XML = [b"<a>" * 3000 + b"</a>" * 3000, b"<a>" * 150 + b"</a>" * 150]
_XML_JUNK = [
    b"",
    b"<",
    b"<a></b>",
    b"\xff\xfe<a/>",
    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx"><!ENTITY y "&x;&x;&x;&x;">]><a>&y;</a>',
    b'<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
    b"<a>&#xD800;</a>",
    b"<a>" + b"<b>1</b>" * 5000 + b"</a>",
]


def _xml_mutations(body: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.sampled_from(_DEEP_XML + _XML_JUNK),
        st.binary(max_size=64),
        st.integers(0, max(len(body) - 1, 0)).map(lambda cut: body[:cut]),
    )


def _form_mutations(form: dict[str, Any]) -> st.SearchStrategy[bytes]:
    @st.composite
    def broken(draw: st.DrawFn) -> bytes:
        pairs = [(str(k), str(v)) for k, v in form.items()]
        extra = draw(
            st.sampled_from(
                [
                    [("Attribute.1.Name", "Policy")],
                    [("MessageAttribute.1.Name", "a")],
                    [("Tags.member.1.Key", "k")],
                    [("A." * 400 + "B", "1")],
                    [(k, "x") for k, _ in pairs if k not in ("Action", "Version")][:3],
                    [(k, "") for k, _ in pairs if k not in ("Action", "Version")][:3],
                    [(k, "1e999999999") for k, _ in pairs if k not in ("Action", "Version")][:3],
                    [("Filter.1.Name", "x"), ("Filter.1.Value.1", "%")],
                ]
            )
        )
        text = urlencode(pairs + extra)
        tail = draw(st.sampled_from(["", "&%ff=%fe", "&=&&", "&a=%zz"]))
        return (text + tail).encode()

    return st.one_of(
        broken(),
        st.binary(max_size=64),
        st.sampled_from([b"", b"Action=", b"%", b"Action=" + b"x" * 3000]),
    )


_FRAMING = {"content-length", "transfer-encoding", "expect", "host", "connection"}
_BAD_HEADER_VALUES = ["", "abc", "-1", "1e999999999", "99999999999999999999", "\xff", "a,b,,"]
_BAD_QUERY_VALUES = ["", "abc", "-1", "%ff", "99999999999999999999", "1.5"]


@dataclass
class Wire:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


def _serialize(target: Target, params: dict[str, Any]) -> Wire | None:
    serializer = create_serializer(target.protocol, include_validation=False)
    try:
        out = serializer.serialize_to_request(params, target.operation)
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeError, OverflowError):
        return None  # values botocore itself cannot put on the wire
    body = out["body"]
    # The body's length is the HTTP client's to state (a ContentLength member drawn at random
    # would only leave the server waiting for bytes that never come).
    headers = {k: str(v) for k, v in out["headers"].items() if k.lower() not in _FRAMING}
    if isinstance(body, dict):
        body = urlencode(body).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
    elif isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    elif not isinstance(body, bytes | bytearray):
        body = b""  # a streaming payload botocore would read from a file
    query = out["query_string"]
    if isinstance(query, dict):
        query = urlencode(query, doseq=True)
    return Wire(out["method"], out["url_path"], query, headers, bytes(body))


def _break(target: Target, wire: Wire, data: st.DataObject) -> Wire:
    """Leave the request as botocore wrote it, or break one thing about it."""
    how = data.draw(st.sampled_from(["as is", "body", "headers", "query"]))
    if how == "body":
        if target.protocol in ("json", "rest-json"):
            wire.body = data.draw(_json_mutations(wire.body))
        elif target.protocol == "smithy-rpc-v2-cbor":
            wire.body = data.draw(_cbor_mutations(wire.body))
        elif target.protocol == "rest-xml":
            wire.body = data.draw(_xml_mutations(wire.body))
        else:
            try:
                form = dict(
                    pair.split("=", 1) if "=" in pair else (pair, "")
                    for pair in wire.body.decode().split("&")
                )
            except UnicodeDecodeError:
                form = {}
            wire.body = data.draw(_form_mutations(form))
    elif how == "headers":
        members = target.operation.input_shape.members if target.operation.input_shape else {}
        names = [
            m.serialization.get("name", n)
            for n, m in members.items()
            if m.serialization.get("location") == "header"
        ] or ["x-amz-meta-a", "Content-MD5", "x-amz-checksum-crc32"]
        # Framing headers that lie about the body only make the server wait for more of it.
        names = [n for n in names if n.lower() not in _FRAMING] or ["x-amz-meta-a"]
        name = data.draw(st.sampled_from(names))
        wire.headers[name] = data.draw(st.sampled_from(_BAD_HEADER_VALUES))
    elif how == "query":
        members = target.operation.input_shape.members if target.operation.input_shape else {}
        names = [
            m.serialization.get("name", n)
            for n, m in members.items()
            if m.serialization.get("location") == "querystring"
        ] or ["max-keys", "partNumber", "versionId"]
        name = data.draw(st.sampled_from(names))
        value = data.draw(st.sampled_from(_BAD_QUERY_VALUES))
        wire.query = f"{wire.query}&{name}={value}".lstrip("&")
    return wire


# A header name is an HTTP token (RFC 9110): a metadata key such as "a:b" cannot be sent.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _sendable(value: str) -> bool:
    """Header values the HTTP layer (in front of nubes, as in front of AWS) lets through:
    clients refuse surrounding whitespace, the server's parser control and non-ASCII bytes."""
    if value != value.strip():
        return False
    return all(ch == "\t" or " " <= ch <= "~" for ch in value)


def _send(endpoint: str, target: Target, wire: Wire) -> requests.Response:
    url = endpoint + wire.path + (f"?{wire.query}" if wire.query else "")
    request = AWSRequest(method=wire.method, url=url, data=wire.body, headers=wire.headers)
    auth = S3SigV4Auth if target.signing_name == "s3" else SigV4Auth
    # A header botocore cannot sign goes unsigned: enforcement is off here.
    with contextlib.suppress(ValueError, UnicodeError):
        auth(CREDENTIALS, target.signing_name, "us-east-1").add_auth(request)
    prepared = request.prepare()
    return requests.request(
        wire.method, prepared.url, data=wire.body, headers=dict(prepared.headers), timeout=60
    )


# -- the server and what must survive ------------------------------------------------------------


@dataclass
class Markers:
    """Resources created before the fuzzing, and how they read back."""

    read: Callable[[], Any]
    expected: Any


def _fuzzed_server(env: dict[str, str] | None = None) -> Iterator[tuple[NubesProcess, Markers]]:
    server = NubesProcess(env=env).start()
    tag = uuid.uuid4().hex[:12]
    s3, sqs, ddb, iam = (server.client(s) for s in ("s3", "sqs", "dynamodb", "iam"))
    bucket, table, user = f"marker-{tag}", f"marker-{tag}", f"marker-{tag}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"marker", Metadata={"m": tag})
    queue = sqs.create_queue(QueueName=f"marker-{tag}", tags={"t": tag})["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=tag)
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=table, Item={"k": {"S": tag}, "n": {"N": "1.5"}, "b": {"B": b"\x00"}})
    iam.create_user(UserName=user, Tags=[{"Key": "t", "Value": tag}])

    def read() -> Any:
        obj = s3.get_object(Bucket=bucket, Key="k")
        return (
            obj["Body"].read(),
            obj["Metadata"],
            sqs.get_queue_attributes(
                QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"],
            sqs.list_queue_tags(QueueUrl=queue)["Tags"],
            ddb.get_item(TableName=table, Key={"k": {"S": tag}})["Item"],
            iam.get_user(UserName=user)["User"]["Tags"],
        )

    markers = Markers(read, read())
    yield server, markers
    server.stop()


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[NubesProcess, Markers]]:
    yield from _fuzzed_server()


@pytest.fixture(scope="module")
def fuzzed_enforcing() -> Iterator[tuple[NubesProcess, Markers]]:
    """Requests signed with the account root's keys: every one goes through authorization."""
    yield from _fuzzed_server({"NUBES_ENFORCE_IAM": "1"})


def _check(target: Target, resp: requests.Response) -> None:
    if resp.status_code == 501 and target.protocol == "rest-xml":
        # S3 answers 501 NotImplemented itself for headers it does not support (an
        # If-None-Match other than "*" on PutObject): AWS's answer, not a crash.
        assert error_code(resp, target.protocol) == "NotImplemented", resp.content[:400]
        return
    assert resp.status_code < 500, (
        f"{target.service}.{target.operation.name} ({target.protocol}) answered "
        f"{resp.status_code}: {resp.content[:400]!r}"
    )
    if resp.status_code >= 400:
        wire_protocol = target.protocol
        if wire_protocol == "ec2" or (
            wire_protocol == "query" and "json" in catalog().services[target.service].protocols
        ):
            wire_protocol = "query"
        code = error_code(resp, wire_protocol)
        assert code or resp.request.method == "HEAD"


def _fuzz(endpoint: str, protocol: str, data: st.DataObject) -> None:
    targets = TARGETS[protocol]
    if not targets:
        pytest.skip(f"no implemented service speaks {protocol}")
    target = data.draw(st.sampled_from(targets), label="target")
    shape = target.operation.input_shape
    params = data.draw(_value(shape) if shape is not None else st.just({}), label="params")
    wire = _serialize(target, params)
    if wire is None:
        return
    wire = _break(target, wire, data)
    if not all(_sendable(v) for v in wire.headers.values()) or not all(
        _TOKEN.fullmatch(k) for k in wire.headers
    ):
        return  # not HTTP: the server's HTTP layer refuses it before nubes sees it
    _check(target, _send(endpoint, target, wire))


def _after(server: NubesProcess, markers: Markers) -> None:
    health = requests.get(f"{server.endpoint}/_nubes/health", timeout=30)
    assert health.status_code == 200
    assert markers.read() == markers.expected


FAST = settings(
    max_examples=100,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# CI runs the same 2,000 examples each time, so a red run names a regression rather than a new
# find of the dice; NUBES_FUZZ_EXPLORE=1 draws fresh examples to hunt for new ones.
SOAK = settings(FAST, max_examples=2000, derandomize=os.environ.get("NUBES_FUZZ_EXPLORE") != "1")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_malformed_requests(fuzzed: tuple[NubesProcess, Markers], protocol: str) -> None:
    server, markers = fuzzed

    @FAST
    @given(st.data())
    def run(data: st.DataObject) -> None:
        _fuzz(server.endpoint, protocol, data)

    run()
    _after(server, markers)


@pytest.mark.soak
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_malformed_requests_soak(fuzzed: tuple[NubesProcess, Markers], protocol: str) -> None:
    server, markers = fuzzed

    @SOAK
    @given(st.data())
    def run(data: st.DataObject) -> None:
        _fuzz(server.endpoint, protocol, data)

    run()
    _after(server, markers)


def test_the_fuzzer_reaches_the_main_protocols() -> None:
    covered = {p for p in PROTOCOLS if TARGETS[p]}
    assert covered >= {"query", "json", "rest-json", "rest-xml"}, covered


@pytest.mark.soak
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_malformed_requests_under_enforcement_soak(
    fuzzed_enforcing: tuple[NubesProcess, Markers], protocol: str
) -> None:
    server, markers = fuzzed_enforcing

    @SOAK
    @given(st.data())
    def run(data: st.DataObject) -> None:
        _fuzz(server.endpoint, protocol, data)

    run()
    _after(server, markers)
