"""nubes' own endpoints, and the LocalStack and moto ones users' scripts already call."""

from __future__ import annotations

import json
import os
import platform
import time
from typing import TYPE_CHECKING, Any

from nubes import __version__
from nubes.core import clock
from nubes.protocol.base import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from nubes.app import Environment


def _json(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(data).encode())


def health(env: Environment) -> dict[str, Any]:
    from nubes.runtime.dns import listening
    from nubes.services import PROVIDERS

    # As LocalStack reports lazily loaded services: "available" until first used.
    made = env.providers.instances
    services = {name: "running" if name in made else "available" for name in PROVIDERS}
    out: dict[str, Any] = {"services": services, "edition": "community", "version": __version__}
    dns = listening(env)
    if dns is not None:
        out["dns"] = {"address": dns[0], "port": dns[1]}
    return out


def info(env: Environment) -> dict[str, Any]:
    """What LocalStack's ``/_localstack/info`` tells, as far as nubes has it."""
    return {
        "version": __version__,
        "edition": "community",
        "is_license_activated": False,
        "session_id": env.session_id,
        "machine_id": platform.node(),
        "system": platform.system().lower(),
        "is_docker": os.path.exists("/.dockerenv"),
        "server_time_utc": clock.utcnow().strftime("%Y-%m-%dT%H:%M:%S"),
        "uptime": int(time.monotonic() - env.started),
    }


def faults(env: Environment, req: HttpRequest) -> HttpResponse:
    """Fault injection: ``{"fault": "<service>:<kind>", ...}`` goes to that service's provider
    (``inject_fault(body)``, raising ValueError for a bad request and LookupError for a missing
    target); ``GET`` lists what the loaded providers report (``active_faults()``)."""
    if req.method == "GET":
        active: list[Any] = []
        for provider in list(env.providers.instances.values()):
            report = getattr(provider, "active_faults", None)
            if report is not None:
                active.extend(report())
        return _json({"faults": active})
    if req.method != "POST":
        return _json({"error": f"no internal endpoint {req.method} {req.path}"}, 405)
    try:
        body = json.loads(req.read_body() or b"{}")
        service = str(body["fault"]).split(":", 1)[0]
    except (ValueError, TypeError, KeyError) as exc:
        return _json({"error": f"expected {{'fault': 'service:kind', ...}}: {exc}"}, 400)
    try:
        inject = getattr(env.providers.get(service), "inject_fault", None)
    except KeyError:
        inject = None
    if inject is None:
        return _json({"error": f"no faults for {service!r}"}, 400)
    try:
        return _json(inject(body))
    except LookupError as exc:
        return _json({"error": str(exc.args[0] if exc.args else exc)}, 404)
    except ValueError as exc:
        return _json({"error": str(exc)}, 400)


async def internal_endpoint(env: Environment, req: HttpRequest) -> HttpResponse | None:
    path = req.path
    if not path.startswith(("/_nubes/", "/_localstack/", "/moto-api/")):
        return None
    method = req.method
    if path == "/_nubes/console" or path.startswith("/_nubes/console/"):
        return await env.console().serve(req)
    if path in ("/_nubes/health", "/_localstack/health") and method in ("GET", "HEAD"):
        return _json(health(env))
    if path in ("/_nubes/reset", "/moto-api/reset", "/_localstack/state/reset") and (
        method == "POST"
    ):
        env.reset()
        return _json({"reset": True})
    if path == "/_nubes/clock":
        if method == "POST":
            try:
                body = json.loads(req.read_body() or b"{}")
                seconds = float(body.get("advance", 0))
                clock.advance(seconds)
            except (ValueError, TypeError, AttributeError) as exc:
                return _json({"error": f"expected {{'advance': seconds >= 0}}: {exc}"}, 400)
            env.scheduler.advanced()
        return _json({"now": clock.now(), "offset": clock.offset()})
    if path == "/_nubes/faults":
        return faults(env, req)
    if path == "/_nubes/implemented" and method == "GET":
        return _json(env.providers.implemented_operations())
    if path == "/_localstack/info" and method in ("GET", "HEAD"):
        return _json(info(env))
    if path.startswith("/_localstack/init") and method in ("GET", "HEAD"):
        stage = path[len("/_localstack/init") :].strip("/") or None
        report = env.init.report(stage)
        if report is None:
            return _json({"error": f"no such stage {stage}"}, 404)
        return _json(report)
    if path.startswith("/moto-api/"):
        return None
    return _json({"error": f"no internal endpoint {method} {path}"}, 404)
