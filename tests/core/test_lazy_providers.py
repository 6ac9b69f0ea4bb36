"""Providers are made on first use: a fresh server has made none it need not, the first request
of a service makes its provider (interceptors included), and at a restart the providers with
durable work to resume start before any request."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from nubes.app import Environment
from nubes.config import from_environment
from tests.server import NubesProcess


def _services(endpoint: str) -> dict[str, str]:
    with urllib.request.urlopen(f"{endpoint}/_nubes/health", timeout=10) as resp:
        services: dict[str, str] = json.load(resp)["services"]
    return services


def test_a_fresh_server_makes_providers_on_first_use(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    server = nubes_factory(persistent=False)
    before = _services(server.endpoint)
    assert before["sqs"] == before["dynamodb"] == before["lambda"] == "available"
    server.client("sqs").list_queues()
    after = _services(server.endpoint)
    assert after["sqs"] == "running"
    assert after["dynamodb"] == "available"


def test_the_first_request_may_be_for_an_interceptor(
    nubes_factory: Callable[..., NubesProcess], unique: Callable[[str], str]
) -> None:
    server = nubes_factory()
    bucket = unique("cors")
    s3: Any = server.client("s3")
    s3.create_bucket(Bucket=bucket)
    rule = {"AllowedOrigins": ["http://example.com"], "AllowedMethods": ["GET"]}
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    server.stop()
    restarted = NubesProcess(server.data_dir).start()
    try:
        # A browser's CORS preflight (an interceptor of the S3 provider answers it) as the very
        # first request after a restart: routing names S3, the provider is made, it answers.
        preflight = urllib.request.Request(
            f"{restarted.endpoint}/{bucket}/key",
            method="OPTIONS",
            headers={"Origin": "http://example.com", "Access-Control-Request-Method": "GET"},
        )
        with urllib.request.urlopen(preflight, timeout=10) as resp:
            assert resp.headers["Access-Control-Allow-Origin"] == "http://example.com"
    finally:
        restarted.stop()
    # A developer endpoint no route names (SQS's message inspection): every provider is made,
    # then SQS's interceptor answers it in SQS's words, not with nubes' "unknown service".
    other = nubes_factory(persistent=False)
    inspect = urllib.request.Request(
        f"{other.endpoint}/_aws/sqs/messages?QueueUrl=http://localhost/000000000000/missing"
    )
    try:
        urllib.request.urlopen(inspect, timeout=10)
    except urllib.error.HTTPError as err:
        body = err.read().decode()
        assert "UnknownServiceException" not in body and "NonExistentQueue" in body, body


def test_providers_with_work_to_resume_start_with_the_server(
    nubes_factory: Callable[..., NubesProcess], unique: Callable[[str], str]
) -> None:
    server = nubes_factory()
    s3: Any = server.client("s3")
    bucket = unique("lifecycle")
    s3.create_bucket(Bucket=bucket)
    server.client("sqs").create_queue(QueueName=unique("idle"))
    server.stop()
    restarted = NubesProcess(server.data_dir).start()
    try:
        # S3 has no lifecycle rule: it waits for its first request, as SQS (only a queue).
        services = _services(restarted.endpoint)
        assert services["s3"] == services["sqs"] == "available"
        restarted.client("s3").put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [{"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]
            },
        )
    finally:
        restarted.stop()
    again = NubesProcess(server.data_dir).start()
    try:
        # Objects now expire without any request: S3 runs from the start.
        assert _services(again.endpoint)["s3"] == "running"
    finally:
        again.stop()


def _timers(env: Environment) -> set[str]:
    return {periodic.name for periodic in env.scheduler._periodic}


def test_a_provider_is_started_however_it_is_first_used() -> None:
    env = Environment(from_environment({}, ephemeral=True))
    # Made before the server runs (an init hook's call): it starts when the server does.
    env.providers.get("sqs")
    assert "sqs-retention" not in _timers(env)

    async def serve() -> None:
        await env.start()
        try:
            assert "sqs-retention" in _timers(env)
            # Made on the server's loop: its timers are in place when get() returns.
            env.providers.get("dynamodb")
            assert "dynamodb-ttl" in _timers(env)
            # Made from a worker thread (a provider's blocking work): it starts on the loop.
            await asyncio.to_thread(env.providers.get, "logs")
            await env.providers.ready("logs")
            assert "logs-retention" in _timers(env)
        finally:
            await env.stop()

    asyncio.run(serve())
