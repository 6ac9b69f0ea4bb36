"""The in-worker side of an OS-only runtime (``provided``, ``provided.al2``, ``provided.al2023``)
and of Java runtimes: the function's own ``bootstrap`` executable (Go, Rust, a shell script...)
or nubes' Java client (``NubesJavaRuntime.java``) talks to the Lambda Runtime API over HTTP;
this adapter serves that API on a local port and turns it into the framed protocol nubes speaks
with every worker (the socket named by NUBES_LAMBDA_FD).

Run by nubes' own interpreter. The runtime process inherits stdout/stderr: its output is the log.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API = "/2018-06-01/runtime"
END_MARK = "\x00nubes-end "


class Bridge:
    """What the HTTP handlers and the main loop share."""

    def __init__(self) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.outcomes: queue.Queue[dict[str, Any]] = queue.Queue()
        self.ready = threading.Event()
        self.init_error: dict[str, Any] | None = None


def handler_class(bridge: Bridge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without TCP_NODELAY each response
        # waits for the client's delayed ACK (tens of milliseconds).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the function's log is its own output."""

        def _reply(
            self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            if self.path != f"{API}/invocation/next":
                self._reply(404)
                return
            bridge.ready.set()
            event = bridge.events.get()
            context = event["context"]
            headers = {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": context["aws_request_id"],
                "Lambda-Runtime-Deadline-Ms": str(int(event["deadline_ms"])),
                "Lambda-Runtime-Invoked-Function-Arn": context["invoked_function_arn"],
                "Lambda-Runtime-Trace-Id": event.get("trace_id", ""),
            }
            if context.get("client_context") is not None:
                headers["Lambda-Runtime-Client-Context"] = json.dumps(context["client_context"])
            self._reply(200, (event["payload"] or "{}").encode(), headers)

        def do_POST(self) -> None:
            body = self._body()
            parts = self.path[len(API) :].strip("/").split("/")
            if parts == ["init", "error"]:
                bridge.init_error = _error(
                    body, self.headers.get("Lambda-Runtime-Function-Error-Type")
                )
                bridge.ready.set()
                self._reply(202, b'{"status":"OK"}')
                return
            if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                if parts[2] == "response":
                    bridge.outcomes.put({"type": "result", "payload": body.decode() or "null"})
                else:
                    error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                    bridge.outcomes.put({"type": "result", "error": _error(body, error_type)})
                self._reply(202, b'{"status":"OK"}')
                return
            self._reply(404)

    return Handler


def _error(body: bytes, error_type: str | None) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        document = {"errorMessage": body.decode(errors="replace")}
    if not isinstance(document, dict):
        document = {"errorMessage": str(document)}
    document.setdefault("errorType", error_type or "Runtime.Unknown")
    document.setdefault("errorMessage", "")
    return document


class Channel:
    def __init__(self, fd: int) -> None:
        self.sock = socket.socket(fileno=fd)
        self.reader = self.sock.makefile("rb")

    def receive(self) -> dict[str, Any] | None:
        head = self.reader.read(4)
        if len(head) < 4:
            return None
        (size,) = struct.unpack(">I", head)
        message: dict[str, Any] = json.loads(self.reader.read(size).decode("utf-8"))
        return message

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode("utf-8")
        self.sock.sendall(struct.pack(">I", len(data)) + data)


JAVA_CLIENT = "NubesJavaRuntime"


def _command(bootstrap: str) -> list[str]:
    """The function's own bootstrap, or for Java functions nubes' Java runtime client
    (compiled once into NUBES_JAVA_CACHE)."""
    cache = os.environ.get("NUBES_JAVA_CACHE")
    if not cache:
        return [bootstrap]
    if not os.path.exists(os.path.join(cache, f"{JAVA_CLIENT}.class")):
        _compile_java_client(cache)
    options = os.environ.get("NUBES_JAVA_OPTIONS", "").split()
    return [os.environ["NUBES_JAVA"], *options, "-cp", cache, JAVA_CLIENT]


def _compile_java_client(cache: str) -> None:
    # Compiled aside and renamed into place: concurrent first starts never see half a build.
    staging = f"{cache}.{os.getpid()}"
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{JAVA_CLIENT}.java")
    javac = os.path.join(os.path.dirname(os.path.realpath(os.environ["NUBES_JAVA"])), "javac")
    subprocess.run(
        [javac if os.path.exists(javac) else "javac", "-d", staging, source],
        check=True,
        stdout=sys.stderr,
    )
    try:
        os.rename(staging, cache)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another worker got there first


def end_invocation(request_id: str) -> None:
    sys.stdout.flush()
    os.write(2, (END_MARK + request_id + "\n").encode())


def main() -> None:
    channel = Channel(int(os.environ.pop("NUBES_LAMBDA_FD")))
    bridge = Bridge()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class(bridge))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    started = time.time()
    executable = os.path.join(task_root, "bootstrap")
    try:
        child = subprocess.Popen(_command(executable), cwd=task_root, env=env)
    except (OSError, subprocess.CalledProcessError) as exc:
        end_invocation("init")
        channel.send(
            {
                "type": "ready",
                "init_ms": 0,
                "error": {
                    "errorType": "Runtime.InvalidEntrypoint",
                    "errorMessage": f"Couldn't find valid bootstrap(s): [{executable}]: {exc}",
                },
            }
        )
        return
    while not bridge.ready.wait(0.05):
        if child.poll() is not None:
            bridge.init_error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"Runtime exited with error: exit status {child.returncode}",
            }
            break
    end_invocation("init")
    channel.send(
        {"type": "ready", "init_ms": (time.time() - started) * 1000, "error": bridge.init_error}
    )
    while True:
        request = channel.receive()
        if request is None:
            child.kill()
            return
        bridge.events.put(request)
        reply = _await_outcome(bridge, child)
        end_invocation(request["context"]["aws_request_id"])
        channel.send(reply)


def _await_outcome(bridge: Bridge, child: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The bootstrap's answer; if it dies instead, this process ends the same way, so nubes
    reports the bootstrap's exit status or signal."""
    while True:
        try:
            return bridge.outcomes.get(timeout=0.05)
        except queue.Empty:
            code = child.poll()
            if code is None:
                continue
            sys.stdout.flush()
            if code < 0:
                signal.signal(-code, signal.SIG_DFL)
                os.kill(os.getpid(), -code)
            os._exit(code or 1)


if __name__ == "__main__":
    main()
