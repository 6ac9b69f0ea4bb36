"""The ``nubes`` command: start, status, reset, implemented, aws."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from nubes.config import Settings, from_environment


def banner(settings: Settings, dns: tuple[str, int] | None = None) -> str:
    """What a person sees before Ready.: where nubes listens and how it is set up."""
    from nubes import __version__
    from nubes.services import PROVIDERS

    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    data = "in memory" if settings.ephemeral else str(settings.data_dir)
    lines = [
        f"nubes {__version__} listening on http://{host}:{settings.port}",
        f"  state: {data}",
        f"  IAM enforcement: {'on' if settings.enforce_iam else 'off'}",
        f"  services: {len(PROVIDERS)} implemented (`nubes implemented` lists their operations)",
    ]
    if dns is not None:
        lines.append(f"  DNS: {dns[0]}:{dns[1]} (UDP and TCP)")
    return "\n".join(lines)


def _serve(settings: Settings) -> int:
    import uvicorn

    _import_botocore_without_crt()
    from nubes.app import App
    from nubes.init_hooks import InitHooks

    # Whatever nubes writes (database, WAL, blobs, unpacked code) is its user's alone.
    os.umask(0o077)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if settings.log_level.lower() != "debug":
        # Libraries' chatter (botocore loading models, asyncio) is for debugging nubes itself.
        for noisy in ("botocore", "urllib3", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.WARNING)

    hooks = InitHooks(settings)
    hooks.run_blocking("BOOT")
    app = App(settings, hooks)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[Any] | None = None) -> None:
            await super().startup(sockets)
            if not self.should_exit:
                # READY scripts call the server, which serves while they run; what they create
                # exists once Ready. is printed.
                await app.environment().init.run("READY")
                from nubes.runtime.dns import listening

                print(banner(settings, listening(app.environment())), flush=True)
                print("Ready.", flush=True)

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http="httptools",
        # API Gateway's WebSocket APIs: the handshake and frames are the websockets library's,
        # imported on the first upgrade rather than at start.
        ws=_websocket_protocol,  # type: ignore[arg-type]
        lifespan="on",
        access_log=False,
        # uvicorn's own lines go through the root logger above: one format for every line.
        log_config=None,
        log_level="warning" if settings.log_level.lower() != "debug" else "debug",
        server_header=False,
        date_header=True,
        timeout_keep_alive=30,
        # Long polls and function invokes can hold a request for up to 20 s or more; a stop
        # (Ctrl-C, docker stop) must not wait for them, so they are cut after a short grace.
        timeout_graceful_shutdown=3,
    )
    server = Server(config)
    server.run()
    return 0 if server.started else 1


def _websocket_protocol(**kwargs: Any) -> Any:
    """uvicorn's WebSocket protocol over the websockets library (sans-I/O), made for a
    connection that asks to upgrade; its import (some 40 ms) waits for the first one."""
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    return WebSocketsSansIOProtocol(**kwargs)


def _import_botocore_without_crt() -> None:
    """botocore imports the AWS CRT when first imported, to sign its clients' requests with it;
    the server only reads botocore's models, and that import is the largest of a cold start
    (S3 checksums import the CRT's checksums module when first needed)."""
    if "botocore" in sys.modules:
        return
    sys.modules["awscrt.auth"] = None  # type: ignore[assignment]
    try:
        import botocore.compat  # noqa: F401
    finally:
        del sys.modules["awscrt.auth"]


def _endpoint(args: argparse.Namespace) -> str:
    if args.endpoint:
        return str(args.endpoint).rstrip("/")
    settings = from_environment()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}"


def _status(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    url = _endpoint(args) + "/_nubes/health"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            data = json.load(resp)
    except (urllib.error.URLError, OSError) as exc:
        print(f"nubes is not answering at {url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(data, indent=2))
    return 0


def _reset(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    from nubes.gateway.admission import signed_headers

    url = _endpoint(args) + "/_nubes/reset"
    settings = from_environment()
    # Signed as the account root: under IAM enforcement the internal endpoints take no less.
    headers = signed_headers(
        "POST", url, b"", settings.root_access_key, settings.root_secret_key, settings.region
    )
    try:
        request = urllib.request.Request(url, data=b"", method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=10):
            pass
    except (urllib.error.URLError, OSError) as exc:
        print(f"nubes is not answering at {url}: {exc}", file=sys.stderr)
        return 1
    print("State cleared.")
    return 0


DESCRIPTION = """AWS on your own machine, in one Python process. Point boto3, the AWS CLI or
any SDK at http://localhost:4566 (AWS_ENDPOINT_URL) with any credentials."""

COMMANDS = {
    "start": "serve the AWS APIs on one port until stopped (Ctrl-C); prints Ready. once serving",
    "status": "ask a running nubes for its health and print it as JSON",
    "reset": "clear all state of a running nubes (every account, region and service)",
    "implemented": "print the table of implemented operations per service (markdown)",
    "aws": "run the AWS CLI against this nubes: endpoint, dummy credentials and region filled "
    "in (nubes aws s3 ls); works with CLI v1 and v2",
}


def _aws(rest: list[str]) -> int:
    """``nubes aws <args>``: the AWS CLI pointed at this nubes, whatever the CLI's version
    (v1 ignores AWS_ENDPOINT_URL for some services, so the endpoint goes on the command line)."""
    import shutil
    import subprocess

    endpoint = os.environ.get("AWS_ENDPOINT_URL") or _endpoint(argparse.Namespace(endpoint=None))
    env = dict(os.environ)
    env.setdefault("AWS_ACCESS_KEY_ID", "test")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    env.setdefault("AWS_DEFAULT_REGION", from_environment().region)
    found = shutil.which("aws")
    command = [found] if found else [sys.executable, "-m", "awscli"]
    return subprocess.call([*command, "--endpoint-url", endpoint, *rest], env=env)


def main(argv: list[str] | None = None) -> int:
    from nubes import __version__

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["aws"]:
        return _aws(argv[1:])
    parser = argparse.ArgumentParser(prog="nubes", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"nubes {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    start = sub.add_parser("start", help=COMMANDS["start"], description=COMMANDS["start"])
    start.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    start.add_argument("--port", type=int, help="port to listen on (default 4566)")
    start.add_argument("--data-dir", type=Path, help="where state lives (default ./.nubes-data)")
    start.add_argument(
        "--ephemeral", action="store_true", default=None, help="keep all state in memory"
    )
    start.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    start.add_argument(
        "--fsync", action="store_true", default=None, help="fsync every commit (power-loss safe)"
    )
    sub.add_parser("implemented", help=COMMANDS["implemented"], description=COMMANDS["implemented"])
    for name in ("status", "reset"):
        cmd = sub.add_parser(name, help=COMMANDS[name], description=COMMANDS[name])
        cmd.add_argument("--endpoint", help="default: http://127.0.0.1:4566 or NUBES_HOST/PORT")
    sub.add_parser("aws", help=COMMANDS["aws"], description=COMMANDS["aws"], add_help=False)
    args = parser.parse_args(argv)
    if args.command == "start":
        settings = from_environment(
            os.environ,
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            ephemeral=args.ephemeral,
            log_level=args.log_level,
            fsync=args.fsync,
        )
        return _serve(settings)
    if args.command == "implemented":
        from nubes.services.registry import implemented_markdown

        print(implemented_markdown())
        return 0
    if args.command == "status":
        return _status(args)
    return _reset(args)


if __name__ == "__main__":
    sys.exit(main())
