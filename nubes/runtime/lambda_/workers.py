"""Warm worker processes for Lambda functions.

A worker is a child process of the function's interpreter running the bootstrap of its language
(``bootstrap.py`` / ``bootstrap.js``). It imports the handler once, then serves invocations one
at a time: requests and replies are length-prefixed JSON frames on a socket pair, and whatever
the function prints (stdout and stderr, one pipe) is its log. After each invocation the
bootstrap writes an end mark to that pipe, so the log lines of one invocation are known exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nubes.core import clock
from nubes.runtime.lambda_.sandbox import Sandbox

log = logging.getLogger("nubes.lambda.workers")

END_MARK = "\x00nubes-end "
INIT_TIMEOUT = 10.0
"""AWS gives the init phase 10 seconds."""
MEMORY_SAMPLE_SECONDS = 0.05
CREDENTIALS_MARGIN = 960.0
"""A worker whose credentials expire sooner than this (the longest Timeout and a minute) takes
no further invocation: a fresh worker with a fresh session does."""
HERE = Path(__file__).parent
BOOTSTRAPS = {
    "python": HERE / "bootstrap.py",
    "node": HERE / "bootstrap.js",
    "provided": HERE / "runtime_api.py",
    "java": HERE / "runtime_api.py",
}


@dataclass(frozen=True)
class Credentials:
    """What a worker gets to call AWS with: environment variables, when they expire (nubes
    clock; None: never), and a line for the function's log about them."""

    env: dict[str, str]
    expires: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class WorkerSpec:
    """How to start a worker: a version of a function with its code, configuration and layers."""

    key: str
    """Workers with the same key are interchangeable (function ARN, version, revision)."""
    function_key: str
    """Workers of one function (any version) share this: recycled together on delete."""
    language: str
    interpreter: str
    task_root: str
    env: dict[str, str]
    tmp_dir: str
    credentials: Callable[[], Credentials] | None = field(default=None, compare=False)
    """Called as each worker starts (its own session of the execution role)."""
    runtime_dir: str = str(HERE)
    """Where the worker finds the bootstraps (``/var/runtime`` in a sandbox)."""
    sandbox: Sandbox | None = field(default=None, compare=False)
    """The sandbox the worker runs in; None: a plain child process."""


@dataclass
class Outcome:
    """What one invocation produced."""

    payload: str | None = None
    error: dict[str, Any] | None = None
    timed_out: bool = False
    logs: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    max_memory_mb: int = 0
    init_ms: float | None = None
    """Set on the first invocation of a fresh worker (the cold start)."""
    notice: str | None = None
    """nubes' word about the worker (its credentials), logged by the platform."""


class Worker:
    def __init__(self, spec: WorkerSpec, stream_name: str) -> None:
        self.spec = spec
        self.stream_name = stream_name
        self.proc: asyncio.subprocess.Process | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.init_ms = 0.0
        self.init_error: dict[str, Any] | None = None
        self.init_logs: list[str] = []
        self.fresh = True
        self.pinned = False
        """Provisioned: kept however long it idles."""
        self.out_of_memory = False
        self.peak_mb = 0
        self.idle_since = time.monotonic()
        self.credentials_expire: float | None = None
        self.notice: str | None = None
        """For the log of the worker's first invocation."""
        self._inner_pid: int | None = None
        self._lines: list[str] = []
        self._marks: asyncio.Queue[str] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def credentials_expiring(self) -> bool:
        expires = self.credentials_expire
        return expires is not None and expires - clock.now() < CREDENTIALS_MARGIN

    async def start(self) -> None:
        credentials = self.spec.credentials() if self.spec.credentials else Credentials({})
        self.credentials_expire = credentials.expires
        self.notice = credentials.note
        parent, child = socket.socketpair()
        started = time.perf_counter()
        try:
            env = {
                **self.spec.env,
                **credentials.env,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.stream_name,
                "NUBES_LAMBDA_FD": str(child.fileno()),
            }
            command = self._command()
            if self.spec.sandbox is not None:
                command = self.spec.sandbox.command(command)
            self.proc = await asyncio.create_subprocess_exec(
                *command,
                cwd=self.spec.task_root,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                pass_fds=(child.fileno(),),
                start_new_session=True,
                limit=1 << 20,
            )
        except OSError as exc:
            parent.close()
            self.init_error = {
                "errorMessage": f"nubes could not start {self.spec.interpreter}: {exc}",
                "errorType": "Runtime.InvalidEntrypoint",
                "stackTrace": [],
            }
            return
        finally:
            child.close()
        self.reader, self.writer = await asyncio.open_connection(sock=parent)
        self._pump = asyncio.create_task(self._read_output())
        try:
            ready = await asyncio.wait_for(self._receive(), INIT_TIMEOUT)
            await asyncio.wait_for(self._marks.get(), INIT_TIMEOUT)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            self.init_logs = self._take_lines()
            self.kill()
            self.init_error = {
                "errorMessage": "The function's runtime exited or timed out during init.",
                "errorType": "Runtime.ExitError",
                "stackTrace": [],
            }
            self.init_ms = (time.perf_counter() - started) * 1000
            return
        self.init_ms = (time.perf_counter() - started) * 1000
        self.init_error = ready.get("error")
        self.init_logs = self._take_lines()

    def _command(self) -> list[str]:
        bootstrap = str(Path(self.spec.runtime_dir) / BOOTSTRAPS[self.spec.language].name)
        if self.spec.language == "python":
            return [self.spec.interpreter, "-u", "-X", "utf8", bootstrap]
        if self.spec.language in ("provided", "java"):
            return [self.spec.interpreter, "-u", bootstrap]
        return [self.spec.interpreter, bootstrap]

    async def invoke(self, request: dict[str, Any], timeout: float) -> Outcome:
        """Run one invocation; on timeout the worker is killed (AWS ends the sandbox too)."""
        assert self.writer is not None
        request_id = request["context"]["aws_request_id"]
        outcome = Outcome()
        if self.fresh:
            outcome.init_ms = self.init_ms
            self.fresh = False
        started = time.perf_counter()
        self.out_of_memory = False
        watchdog = asyncio.create_task(self._watch_memory(request["context"]["memory_limit_in_mb"]))
        try:
            self._send(request)
            reply = await asyncio.wait_for(self._finish(request_id), timeout)
        except TimeoutError:
            outcome.timed_out = True
            outcome.duration_ms = timeout * 1000
            outcome.max_memory_mb = self._peak_memory_mb()
            outcome.logs = self._take_lines()
            self.kill()
            return outcome
        except (asyncio.IncompleteReadError, ConnectionError):
            outcome.duration_ms = (time.perf_counter() - started) * 1000
            status = await self._exit_status()
            outcome.logs = self._take_lines()
            outcome.max_memory_mb = self.peak_mb
            outcome.error = {
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                f"{status}",
                "errorType": "Runtime.OutOfMemory" if self.out_of_memory else "Runtime.ExitError",
            }
            self.kill()
            return outcome
        finally:
            watchdog.cancel()
        outcome.duration_ms = (time.perf_counter() - started) * 1000
        outcome.max_memory_mb = self._peak_memory_mb()
        outcome.logs = self._take_lines()
        outcome.payload = reply.get("payload")
        outcome.error = reply.get("error")
        return outcome

    async def _watch_memory(self, limit_mb: int) -> None:
        """Kill the worker when its resident memory passes the function's memory size, as
        AWS does (sampled, so a short spike may pass)."""
        while True:
            await asyncio.sleep(MEMORY_SAMPLE_SECONDS)
            used = self._memory_mb("VmRSS:")
            if used > limit_mb:
                self.out_of_memory = True
                self.peak_mb = used
                self.kill_process()
                return

    async def _exit_status(self) -> str:
        """How the process ended, in the words the AWS runtime uses."""
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), 2.0)
        except TimeoutError:
            return "runtime stopped answering"
        if code < 0:
            described = signal.strsignal(-code) or signal.Signals(-code).name
            return f"signal: {described.lower()}"
        return f"exit status {code}"

    async def _finish(self, request_id: str) -> dict[str, Any]:
        reply = await self._receive()
        # The end mark follows the reply on the log pipe: wait for it so no line is missed.
        while await self._marks.get() != request_id:
            pass
        return reply

    def _send(self, message: dict[str, Any]) -> None:
        assert self.writer is not None
        data = json.dumps(message).encode()
        self.writer.write(struct.pack(">I", len(data)) + data)

    async def _receive(self) -> dict[str, Any]:
        assert self.reader is not None
        head = await self.reader.readexactly(4)
        (size,) = struct.unpack(">I", head)
        message: dict[str, Any] = json.loads(await self.reader.readexactly(size))
        return message

    async def _read_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        while True:
            try:
                raw = await stdout.readline()
            except ValueError:  # a line longer than the stream limit: take it in pieces
                raw = await stdout.read(64 * 1024)
            if not raw:
                break
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith(END_MARK):
                self._marks.put_nowait(line[len(END_MARK) :])
            else:
                self._lines.append(line)
        self._marks.put_nowait("")

    def _take_lines(self) -> list[str]:
        lines, self._lines = self._lines, []
        return lines

    def _peak_memory_mb(self) -> int:
        return self._memory_mb("VmHWM:")

    def _function_pid(self) -> int | None:
        """The function's own process: the worker's, or in a sandbox the child ``unshare``
        forked into the new namespaces."""
        if self.proc is None or self.spec.sandbox is None:
            return self.proc.pid if self.proc is not None else None
        if self._inner_pid is None:
            pid = self.proc.pid
            with contextlib.suppress(OSError, ValueError, IndexError):
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                self._inner_pid = int(children[0])
        return self._inner_pid

    def _memory_mb(self, field: str) -> int:
        """A memory figure of the worker from /proc (0 where there is no /proc)."""
        pid = self._function_pid()
        if pid is None:
            return 0
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith(field):
                return max(1, int(line.split()[1]) // 1024)
        return 0

    def kill(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.kill_process()

    def kill_process(self) -> None:
        if self.alive:
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 9)

    async def wait_closed(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                await self.proc.wait()
        if self._pump is not None:
            with contextlib.suppress(Exception):
                await self._pump


class WorkerPool:
    """Idle workers by spec key; a busy worker is out of the pool until released."""

    def __init__(self, stream_name: Callable[[WorkerSpec], str]) -> None:
        self._stream_name = stream_name
        self._idle: dict[str, list[Worker]] = {}
        self._all: set[Worker] = set()

    async def acquire(self, spec: WorkerSpec) -> Worker:
        idle = self._idle.get(spec.key)
        if idle:
            # Provisioned workers first: on-demand ones only take the spill-over.
            idle.sort(key=lambda w: w.pinned)
        pinned = False
        while idle:
            worker = idle.pop()
            if worker.alive and not worker.credentials_expiring:
                return worker
            # A provisioned worker with a stale session is replaced by a provisioned one.
            pinned = pinned or worker.pinned
            self.discard(worker)
        worker = Worker(spec, self._stream_name(spec))
        worker.pinned = pinned
        self._all.add(worker)
        await worker.start()
        return worker

    def release(self, worker: Worker) -> None:
        if worker.alive and worker.init_error is None and worker in self._all:
            worker.idle_since = time.monotonic()
            self._idle.setdefault(worker.spec.key, []).append(worker)
        else:
            self.discard(worker)

    def discard(self, worker: Worker) -> None:
        worker.kill()
        self._all.discard(worker)
        asyncio.get_running_loop().create_task(worker.wait_closed())

    def recycle(self, function_key: str, keep: str | None = None) -> None:
        """Retire the workers of a function (all of them, or all but spec key ``keep``): idle
        ones now, busy ones when they are released."""
        for worker in list(self._all):
            if worker.spec.function_key == function_key and worker.spec.key != keep:
                self._all.discard(worker)
                idle = self._idle.get(worker.spec.key, [])
                if worker in idle:
                    idle.remove(worker)
                    self.discard(worker)

    def count(self) -> int:
        return len(self._all)

    async def prewarm(self, spec: WorkerSpec, count: int) -> None:
        """Start workers until ``count`` provisioned ones wait for ``spec``'s invocations; their
        first invocation is not a cold start."""
        have = sum(1 for w in self._all if w.spec.key == spec.key and w.pinned)
        workers = [Worker(spec, self._stream_name(spec)) for _ in range(count - have)]
        for worker in workers:
            worker.pinned = True
            self._all.add(worker)
        await asyncio.gather(*(w.start() for w in workers))
        for worker in workers:
            worker.fresh = False
            self.release(worker)

    def reap(self, idle_seconds: float) -> int:
        """Stop workers idle for longer than ``idle_seconds`` (AWS retires idle sandboxes too);
        returns how many were stopped."""
        cutoff = time.monotonic() - idle_seconds
        stopped = 0
        for key, idle in list(self._idle.items()):
            for worker in [w for w in idle if w.idle_since < cutoff and not w.pinned]:
                idle.remove(worker)
                self.discard(worker)
                stopped += 1
            if not idle:
                del self._idle[key]
        return stopped

    async def shutdown(self) -> None:
        workers = list(self._all)
        self._all.clear()
        self._idle.clear()
        for worker in workers:
            worker.kill()
        for worker in workers:
            await worker.wait_closed()
