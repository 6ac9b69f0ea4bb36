"""The server as users meet it: start, identity, health, reset, clock, unimplemented calls."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    EndpointResolutionError,
    NoAuthTokenError,
)

from tests.server import NubesProcess, make_client

CLIENT_SIDE = (EndpointResolutionError, NoAuthTokenError)


def _get(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read() or b"null")


def test_get_caller_identity_default_account(client: Any) -> None:
    ident = client("sts").get_caller_identity()
    assert ident["Account"] == "000000000000"
    assert ident["Arn"] == "arn:aws:iam::000000000000:root"
    assert (
        ident["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        == (ident["ResponseMetadata"]["RequestId"])
    )


def test_twelve_digit_access_key_is_the_account(endpoint: str) -> None:
    sts = make_client(endpoint, "sts", aws_access_key_id="111122223333")
    assert sts.get_caller_identity()["Account"] == "111122223333"


def test_aws_cli_get_caller_identity(endpoint: str) -> None:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    out = subprocess.run(
        ["aws", "sts", "get-caller-identity", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(out.stdout)["Account"] == "000000000000"


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("textract", "detect_document_text", {"Document": {"Bytes": b"x"}}),
        ("cloudwatch", "describe_anomaly_detectors", {}),
        ("rds", "describe_db_clusters", {}),
        ("ec2", "describe_capacity_reservations", {}),
        ("apigatewayv2", "get_vpc_links", {}),
        ("cloudfront", "list_distributions", {}),
    ],
)
def test_unimplemented_operation_is_a_clean_501(
    client: Any, service: str, operation: str, params: dict[str, Any]
) -> None:
    with pytest.raises(ClientError) as info:
        getattr(client(service), operation)(**params)
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert err["Error"]["Code"] == "NotImplemented"
    op_name = info.value.operation_name
    assert op_name in err["Error"]["Message"]


def _required_params(shape: Any, depth: int = 0) -> Any:
    """The smallest input a client will send: every required member with a plain value."""
    if shape is None:
        return {}
    kind = shape.type_name
    if kind == "structure":
        if depth > 5:
            return {}
        return {
            name: _required_params(shape.members[name], depth + 1)
            for name in shape.required_members
        }
    return {
        "string": "x1",
        "integer": 1,
        "long": 1,
        "boolean": True,
        "double": 1.0,
        "float": 1.0,
        "blob": b"x",
        "timestamp": 0,
        "list": [],
        "map": {},
    }.get(kind, "x1")


def test_every_service_answers_in_its_own_protocol(endpoint: str) -> None:
    """One operation of every botocore service: a well-formed answer, never a parse failure."""
    session = botocore.session.get_session()
    config = Config(
        parameter_validation=False, inject_host_prefix=False, retries={"max_attempts": 1}
    )
    failures = []
    services = session.get_available_services()
    for name in services:
        try:
            c = session.create_client(
                name,
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
                config=config,
            )
        except Exception:  # services botocore cannot build a client for without extra config
            continue
        model = c.meta.service_model
        op = sorted(model.operation_names)[0]
        method = getattr(c, botocore.xform_name(op))
        try:
            method(**_required_params(model.operation_model(op).input_shape))
        except ClientError as exc:
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            if status >= 500 and status != 501:
                failures.append((name, op, exc.response["Error"]))
        except CLIENT_SIDE:
            continue  # the client refused before sending (endpoint rules, bearer tokens)
        except EndpointConnectionError as exc:
            if "//127.0.0.1:" not in str(exc):
                continue  # endpoint rules moved the host (s3control's account prefix)
            failures.append((name, op, repr(exc)))
        except Exception as exc:  # a parse failure or anything not ClientError
            failures.append((name, op, repr(exc)))
    assert failures == [], failures
    assert len(services) > 400


def test_health_endpoints(endpoint: str) -> None:
    for path in ("/_nubes/health", "/_localstack/health"):
        status, body = _get(endpoint + path)
        assert status == 200
        assert body["services"]["sts"] == "running"
        assert "version" in body


def test_clock_advances(nubes_factory: Any) -> None:
    server: NubesProcess = nubes_factory(persistent=False)
    _, before = _get(server.endpoint + "/_nubes/clock")
    _, after = _get(
        server.endpoint + "/_nubes/clock", "POST", json.dumps({"advance": 3600}).encode()
    )
    assert after["offset"] == pytest.approx(3600)
    assert after["now"] - before["now"] >= 3600
    status, _ = _get(server.endpoint + "/_nubes/reset", "POST", b"")
    assert status == 200
    _, reset = _get(server.endpoint + "/_nubes/clock")
    assert reset["offset"] == 0


def test_reset_endpoints_answer(nubes_factory: Any) -> None:
    server: NubesProcess = nubes_factory(persistent=False)
    for path in ("/_nubes/reset", "/moto-api/reset"):
        status, body = _get(server.endpoint + path, "POST", b"")
        assert status == 200 and body == {"reset": True}


def test_sigterm_shuts_down_cleanly(nubes_factory: Any) -> None:
    server: NubesProcess = nubes_factory(persistent=True)
    assert server.client("sts").get_caller_identity()["Account"]
    # uvicorn re-raises the signal once shut down, as a process killed by it would report.
    assert server.stop() in (0, -signal.SIGTERM)
    assert server.data_dir is not None and (server.data_dir / "nubes.db").exists()
    # A clean stop checkpoints the WAL into the database file.
    wal = server.data_dir / "nubes.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_status_command(nubes: NubesProcess) -> None:
    nubes.client("sts").get_caller_identity()  # a provider runs once its service is used
    out = subprocess.run(
        ["python", "-m", "nubes.cli", "status", "--endpoint", nubes.endpoint],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0
    assert json.loads(out.stdout)["services"]["sts"] == "running"
