"""Every protocol vector, in reverse: parse what clients send, serialize what clients read."""

from __future__ import annotations

import pytest

from nubes.protocol import get_protocol
from nubes.protocol.base import ResponseContext, ServiceError
from tests.protocol.vectors import (
    MISSING,
    Case,
    available,
    botocore_parse,
    http_request,
    load,
    normalize,
)

if not available():
    pytest.skip(MISSING, allow_module_level=True)

INPUT = list(load("input"))
OUTPUT = list(load("output"))


# Cases that test what a client adds on its own, which no server can read back. Each still
# runs and must fail (strict xfail), so a change in the vectors or in our parser shows up.
CLIENT_ONLY = {
    "input:rest-json:RestJsonQueryParamsStringListMap": (
        "contradicts RestJsonAllQueryStringTypes for a server: there the query-params map holds "
        "keys also bound to other members, here it must not; we follow AllQueryStringTypes"
    ),
    "input:legacy/rest-json:Content-Type and JSON body#7": (
        "botocore adds a default Content-Type header for blob payloads; the model binds that "
        "header to a member, so a server reads a value the caller never set"
    ),
}


def _run(case: Case, check, request: pytest.FixtureRequest) -> None:  # type: ignore[no-untyped-def]
    # The tally is printed by tests/conftest.py from these properties (works under xdist too).
    request.node.user_properties.append(("protocol_vector", f"{case.direction}:{case.file}"))
    if case.ignored:
        pytest.skip("in botocore's protocol-tests ignore list")
    reason = CLIENT_ONLY.get(f"{case.direction}:{case.id}")
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    check(case)


def _check_input(case: Case) -> None:
    c = case.case
    serialized = dict(c["serialized"], protocol=case.protocol)
    request = http_request(serialized)
    proto = get_protocol(case.protocol)
    uri_params = _uri_params(case, request.path)
    parsed = proto.parse(case.operation, request, uri_params)
    shape = case.operation.input_shape
    got = normalize(parsed, shape)
    expected = normalize(c.get("params", {}), shape)
    # Clients leave empty lists and maps off the wire (the case then sends nothing for them):
    # a server can only read those back as absent.
    for key in [k for k, v in expected.items() if v in ([], {}) and k not in got]:
        del expected[key]
    assert got == expected


def _uri_params(case: Case, path: str) -> dict[str, str]:
    from nubes.gateway.rest_routes import match_request_uri

    if case.protocol not in ("rest-json", "rest-xml"):
        return {}
    found = match_request_uri(case.operation.http["requestUri"], path)
    assert found is not None, "request path does not match the operation's requestUri"
    return found


def _check_output(case: Case) -> None:
    c = case.case
    proto = get_protocol(case.protocol)
    ctx = ResponseContext(request_id="req-1", service=case.service, operation=case.operation)
    if "error" in c or "errorCode" in c:
        shape = next(
            (
                s
                for s in case.operation.error_shapes
                if s.name == c["errorCode"]
                or s.metadata.get("error", {}).get("code") == c["errorCode"]
            ),
            None,
        )
        fields = {k: v for k, v in c.get("error", {}).items() if k.lower() != "message"}
        if shape is None:  # an error the operation does not declare (legacy vectors have some)
            err = ServiceError(c["errorCode"], c.get("errorMessage", ""), fields=fields)
        else:
            err = ServiceError.from_shape(shape, c.get("errorMessage", ""), **fields)
        resp = proto.serialize_error(err, ctx)
    else:
        resp = proto.serialize(c.get("result", {}), ctx)
    body = resp.body if isinstance(resp.body, bytes) else b"".join(resp.body)  # type: ignore[arg-type]
    headers = dict(resp.headers)
    parsed = botocore_parse(case.protocol, case.operation, resp.status, headers, body)
    parsed.pop("ResponseMetadata", None)
    if "error" in c or "errorCode" in c:
        error = parsed.get("Error", {})
        assert error.get("Code") == c["errorCode"]
        if c.get("errorMessage"):
            assert error.get("Message") == c["errorMessage"]
        for key, value in c.get("error", {}).items():
            if key.lower() == "message":
                continue
            assert parsed.get(key) == value or error.get(key) == value, key
        return
    shape = case.operation.output_shape
    assert normalize(parsed, shape) == normalize(c.get("result", {}), shape)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in INPUT])
def test_input(case: Case, request: pytest.FixtureRequest) -> None:
    _run(case, _check_input, request)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in OUTPUT])
def test_output(case: Case, request: pytest.FixtureRequest) -> None:
    _run(case, _check_output, request)
