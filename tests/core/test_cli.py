"""The nubes command as a person meets it: help, version, banner, and `nubes aws`."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

from nubes import __version__
from tests.server import NubesProcess


def _nubes(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nubes.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_version_and_help_describe_every_command() -> None:
    assert _nubes("--version").stdout.strip() == f"nubes {__version__}"
    helped = _nubes("--help")
    assert helped.returncode == 0
    for command in ("start", "status", "reset", "implemented", "aws"):
        assert f"    {command}" in helped.stdout
    assert "__" not in helped.stdout


def test_banner_comes_before_ready(nubes_factory: Callable[..., NubesProcess]) -> None:
    server = nubes_factory(persistent=False)
    text = "".join(server.output)
    head = text[: text.index("Ready.")]
    assert f"nubes {__version__} listening on http://127.0.0.1:{server.port}" in head
    assert "state: in memory" in head
    assert "IAM enforcement: off" in head


def test_nubes_aws_runs_the_cli_against_this_nubes(endpoint: str, client: Any) -> None:
    bucket, queue = f"cli-{uuid.uuid4().hex[:8]}", f"cli-{uuid.uuid4().hex[:8]}"
    client("s3").create_bucket(Bucket=bucket)
    client("sqs").create_queue(QueueName=queue)
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_CONFIG_FILE": os.devnull}
    listed = _nubes("aws", "s3", "ls", env=env)
    assert listed.returncode == 0, listed.stderr
    assert bucket in listed.stdout
    queues = _nubes("aws", "sqs", "list-queues", env=env)
    assert queues.returncode == 0, queues.stderr
    assert queue in queues.stdout


def test_failed_requests_are_logged_with_code_and_account(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    server = nubes_factory(persistent=False, env={"NUBES_LOG_LEVEL": "info"})
    s3 = server.client("s3")
    with contextlib.suppress(Exception):
        s3.head_bucket(Bucket="no-such-bucket-here")
    with contextlib.suppress(Exception):
        server.client("sqs").get_queue_url(QueueName="no-such-queue")
    server.stop()
    text = "".join(server.output)
    assert "nubes.request: sqs.GetQueueUrl 400 QueueDoesNotExist" in text
    assert "(account 000000000000)" in text
    # One format for every line, uvicorn's included; no botocore chatter at info.
    lines = [line for line in text.splitlines() if " INFO " in line or " WARNING " in line]
    assert lines and all(line[:4].isdigit() for line in lines)
    assert "botocore" not in text
