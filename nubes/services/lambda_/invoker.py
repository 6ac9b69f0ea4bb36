"""Running an invocation: concurrency accounting, a warm worker for the function version, the
function's log stream (START/END/REPORT), and the result in the shape Invoke returns."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nubes.core import clock
from nubes.runtime.lambda_ import runtimes, sandbox
from nubes.runtime.lambda_.sandbox import Sandbox
from nubes.runtime.lambda_.workers import HERE as WORKERS_DIR
from nubes.runtime.lambda_.workers import Credentials, Outcome, WorkerPool, WorkerSpec
from nubes.services.lambda_.code import CodeTrees
from nubes.services.lambda_.errors import errors
from nubes.services.lambda_.models import Scope

ACCOUNT_CONCURRENCY = 1000
UNRESERVED_MINIMUM = 100
LOG_TAIL_BYTES = 4096


def function_key(scope: Scope, name: str) -> str:
    """What the workers of one function (any version) have in common."""
    return f"{scope.account}:{scope.region}:{name}"


@dataclass
class Target:
    """A resolved function version to run."""

    scope: Scope
    name: str
    version: str
    """What runs: ``$LATEST`` or a published version number."""
    config: dict[str, Any]
    code_blob: str
    invoked_arn: str
    reserved: int | None
    unreserved_limit: int = ACCOUNT_CONCURRENCY
    layer_blobs: list[str] = field(default_factory=list)

    @property
    def log_group(self) -> str:
        """Where the function's output goes: its LoggingConfig's group, /aws/lambda/<name>
        by default."""
        configured = (self.config.get("LoggingConfig") or {}).get("LogGroup")
        return str(configured or f"/aws/lambda/{self.name}")

    @property
    def json_logs(self) -> bool:
        return (self.config.get("LoggingConfig") or {}).get("LogFormat") == "JSON"

    @property
    def function_key(self) -> str:
        return function_key(self.scope, self.name)


@dataclass
class Result:
    status: int
    payload: bytes
    function_error: str | None
    log_tail: str
    executed_version: str
    outcome: Outcome


@dataclass
class _View:
    """Where a worker sees its directories: the host's paths, or the sandbox's."""

    task_root: str
    opt: str
    tmp: str
    sdk: str
    runtime: str = str(WORKERS_DIR)
    java_cache: str = ""


class Invoker:
    def __init__(
        self,
        trees: CodeTrees,
        blob_path: Callable[[str], Path],
        deliver_logs: Callable[[Scope, str, str, list[tuple[int, str]]], None],
        endpoint: Callable[[], str],
        credentials: Callable[[Target], Credentials],
    ) -> None:
        self.trees = trees
        self.blob_path = blob_path
        self.deliver_logs = deliver_logs
        self.endpoint = endpoint
        self.credentials = credentials
        self.pool = WorkerPool(_stream_name)
        self.inflight: Counter[str] = Counter()
        self.unreserved_inflight: Counter[Scope] = Counter()

    # -- concurrency ------------------------------------------------------------------------

    def admit(self, target: Target) -> None:
        """Count the invocation in, or refuse it the way AWS throttles (429)."""
        if target.reserved is not None and self.inflight[target.function_key] >= target.reserved:
            raise errors.TooManyRequestsException(
                "Rate Exceeded.",
                Type="User",
                Reason="ReservedFunctionConcurrentInvocationLimitExceeded",
            )
        # Functions without a reservation share what the reservations leave of the region's
        # concurrency.
        if (
            target.reserved is None
            and self.unreserved_inflight[target.scope] >= target.unreserved_limit
        ):
            raise errors.TooManyRequestsException(
                "Rate Exceeded.", Type="User", Reason="ConcurrentInvocationLimitExceeded"
            )
        self.inflight[target.function_key] += 1
        if target.reserved is None:
            self.unreserved_inflight[target.scope] += 1

    def leave(self, target: Target) -> None:
        self.inflight[target.function_key] -= 1
        if target.reserved is None:
            self.unreserved_inflight[target.scope] -= 1

    # -- running ----------------------------------------------------------------------------

    async def run(
        self,
        target: Target,
        payload: bytes,
        request_id: str,
        client_context: str | None = None,
    ) -> Result:
        """Run one invocation that ``admit`` let in; ``leave`` is the caller's."""
        interpreter = runtimes.resolve(target.config.get("Runtime", ""))
        if interpreter is None:
            raise errors.InvalidRuntimeException(
                f"nubes cannot run the runtime {target.config.get('Runtime')!r} on this machine "
                "(Python, Node.js, Java and OS-only runtimes run locally when their interpreter "
                "is installed; container images and other runtimes are not supported)."
            )
        spec = self._spec(target, interpreter)
        worker = await self.pool.acquire(spec)
        started_ms = int(clock.now() * 1000)
        timeout = float(target.config.get("Timeout", 3))
        if worker.init_error is not None:
            outcome = Outcome(error=worker.init_error, init_ms=worker.init_ms)
            outcome.logs = worker.init_logs
            worker.init_logs = []
            self.pool.discard(worker)
        else:
            request = {
                "payload": payload.decode("utf-8") if payload else "",
                "deadline_ms": time.time() * 1000 + timeout * 1000,
                "trace_id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                "context": {
                    "aws_request_id": request_id,
                    "function_name": target.name,
                    "function_version": target.version,
                    "invoked_function_arn": target.invoked_arn,
                    "memory_limit_in_mb": target.config.get("MemorySize", 128),
                    "log_group_name": target.log_group,
                    "log_stream_name": worker.stream_name,
                    "client_context": _client_context(client_context),
                },
            }
            init_logs, worker.init_logs = worker.init_logs, []
            outcome = await worker.invoke(request, timeout)
            outcome.logs = init_logs + outcome.logs
            self.pool.release(worker)
        outcome.notice, worker.notice = worker.notice, None
        lines = self._log_lines(target, interpreter, request_id, outcome, timeout)
        ended_ms = int(clock.now() * 1000)
        self.deliver_logs(
            target.scope,
            target.log_group,
            worker.stream_name,
            [
                (started_ms if i < len(lines) - 2 else ended_ms, line)
                for i, line in enumerate(lines)
            ],
        )
        return self._result(target, request_id, outcome, timeout, lines)

    def _spec(self, target: Target, interpreter: runtimes.Interpreter) -> WorkerSpec:
        config = target.config
        task_root = self.trees.task_root(target.code_blob, self.blob_path(target.code_blob))
        opt = ""
        if target.layer_blobs:
            opt = str(
                self.trees.opt_dir(
                    target.layer_blobs, [self.blob_path(b) for b in target.layer_blobs]
                )
            )
        # Java runs behind nubes' Runtime API adapter, itself a Python program.
        command = sys.executable if interpreter.language == "java" else interpreter.path
        # Java's runtime client is compiled beside its cache and renamed into it: the
        # directory holding the cache is what a sandbox may write.
        java_dir = self.trees.root / "java"
        java_cache = str(java_dir / "runtime")
        java_dir.mkdir(exist_ok=True)
        box: Sandbox | None = None
        if sandbox.available():
            box = Sandbox(
                mount_point=str(self.trees.sandbox_root),
                task_root=str(task_root),
                opt=opt,
                sdk=self.trees.sdk_modules(),
                interpreters=[command, interpreter.path, sys.executable],
                tmp_mb=int((config.get("EphemeralStorage") or {}).get("Size", 512)),
                writable={sandbox.CACHE: str(java_dir)},
            )
            tmp = sandbox.TMP
            view = _View(sandbox.TASK, sandbox.OPT if opt else "", tmp, sandbox.SDK)
            view.runtime, view.java_cache = sandbox.RUNTIME, f"{sandbox.CACHE}/runtime"
        else:
            tmp = str(self.trees.tmp_dir(target.function_key))
            view = _View(str(task_root), opt, tmp, str(self.trees.sdk))
            view.java_cache = java_cache
        env = self._environment(target, interpreter, view)
        return WorkerSpec(
            key=f"{target.function_key}:{target.version}:{config.get('RevisionId')}",
            function_key=target.function_key,
            language=interpreter.language,
            interpreter=command,
            task_root=str(task_root),
            env=env,
            tmp_dir=tmp,
            credentials=lambda: self.credentials(target),
            runtime_dir=view.runtime,
            sandbox=box,
        )

    def _environment(
        self, target: Target, interpreter: runtimes.Interpreter, view: _View
    ) -> dict[str, str]:
        task_root, opt, tmp = view.task_root, view.opt, view.tmp
        config = target.config
        region = target.scope.region
        runtime = config.get("Runtime", "")
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "HOME": tmp,
            "TMPDIR": tmp,
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": view.runtime,
            "_HANDLER": config.get("Handler", ""),
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": target.name,
            "AWS_LAMBDA_FUNCTION_VERSION": target.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
            "AWS_LAMBDA_LOG_GROUP_NAME": target.log_group,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_ENDPOINT_URL": self.endpoint(),
            "NUBES_LAMBDA": "1",
        }
        if interpreter.language == "python":
            paths = [f"{opt}/python", f"{opt}/python/lib/python{interpreter.version}/site-packages"]
            paths = [p for p in paths if opt] + [view.sdk]
            env["NUBES_LAMBDA_PYTHONPATH"] = os.pathsep.join(paths)
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        elif interpreter.language == "java":
            memory = int(config.get("MemorySize", 128))
            env["NUBES_JAVA"] = interpreter.path
            env["NUBES_JAVA_CACHE"] = view.java_cache
            # AWS's settings for fast start-up, and a heap that fits the memory size.
            env["NUBES_JAVA_OPTIONS"] = (
                f"-XX:+TieredCompilation -XX:TieredStopAtLevel=1 -Xmx{memory * 85 // 100}m"
            )
        elif interpreter.language == "provided":
            if opt:
                env["PATH"] = f"{opt}/bin:{env['PATH']}"
                env["LD_LIBRARY_PATH"] = f"{opt}/lib"
        else:
            node_paths = [
                f"{opt}/nodejs/node_modules",
                f"{opt}/nodejs/node{interpreter.version}/node_modules",
            ]
            env["NODE_PATH"] = os.pathsep.join(p for p in node_paths if opt)
        logging_config = config.get("LoggingConfig") or {}
        if target.json_logs:
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            env["AWS_LAMBDA_LOG_LEVEL"] = logging_config.get("ApplicationLogLevel") or "INFO"
        variables = (config.get("Environment") or {}).get("Variables") or {}
        env.update(variables)
        return env

    # -- logs and results -------------------------------------------------------------------

    def _log_lines(
        self,
        target: Target,
        interpreter: runtimes.Interpreter,
        request_id: str,
        outcome: Outcome,
        timeout: float,
    ) -> list[str]:
        """The invocation's log events: the function's output between the platform's lines
        (START/END/REPORT as text, or ``platform.*`` records in the JSON log format). The
        last two lines are always the closing ones."""
        if target.json_logs:
            return self._json_lines(target, interpreter, request_id, outcome)
        lines: list[str] = []
        if outcome.init_ms is not None:
            lines.append(
                f"INIT_START Runtime Version: {interpreter.language}:{interpreter.version}"
                f"\tnubes local runtime ({interpreter.path})"
            )
            if interpreter.note:
                lines.append(f"nubes: {interpreter.note}")
        if outcome.notice:
            lines.append(f"nubes: {outcome.notice}")
        lines.append(f"START RequestId: {request_id} Version: {target.version}")
        lines.extend(outcome.logs)
        if outcome.timed_out:
            lines.append(f"{_now_iso()} {request_id} Task timed out after {timeout:.2f} seconds")
        lines.append(f"END RequestId: {request_id}")
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {outcome.duration_ms:.2f} ms"
            f"\tBilled Duration: {math.ceil(outcome.duration_ms)} ms"
            f"\tMemory Size: {target.config.get('MemorySize', 128)} MB"
            f"\tMax Memory Used: {outcome.max_memory_mb} MB"
        )
        if outcome.init_ms is not None:
            report += f"\tInit Duration: {outcome.init_ms:.2f} ms"
        if outcome.timed_out:
            report += "\tStatus: timeout"
        lines.append(report)
        return lines

    def _json_lines(
        self,
        target: Target,
        interpreter: runtimes.Interpreter,
        request_id: str,
        outcome: Outcome,
    ) -> list[str]:
        def platform(kind: str, record: dict[str, Any]) -> str:
            return json.dumps({"time": _now_iso(), "type": f"platform.{kind}", "record": record})

        status = "timeout" if outcome.timed_out else "error" if outcome.error else "success"
        lines: list[str] = []
        if outcome.init_ms is not None:
            init = {
                "initializationType": "on-demand",
                "phase": "init",
                "runtimeVersion": f"{interpreter.language}:{interpreter.version}",
            }
            if interpreter.note:
                init["nubes"] = interpreter.note
            lines.append(platform("initStart", init))
        start = {"requestId": request_id, "version": target.version}
        if outcome.notice:
            start["nubes"] = outcome.notice
        lines.append(platform("start", start))
        lines.extend(outcome.logs)
        metrics: dict[str, Any] = {
            "durationMs": round(outcome.duration_ms, 3),
            "billedDurationMs": math.ceil(outcome.duration_ms),
            "memorySizeMB": target.config.get("MemorySize", 128),
            "maxMemoryUsedMB": outcome.max_memory_mb,
        }
        if outcome.init_ms is not None:
            metrics["initDurationMs"] = round(outcome.init_ms, 3)
        done = {"requestId": request_id, "status": status}
        lines.append(platform("runtimeDone", done))
        lines.append(platform("report", {**done, "metrics": metrics}))
        return lines

    def _result(
        self,
        target: Target,
        request_id: str,
        outcome: Outcome,
        timeout: float,
        lines: list[str],
    ) -> Result:
        error = outcome.error
        if outcome.timed_out:
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": (
                    f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
                ),
            }
        tail = "\n".join(lines).encode()[-LOG_TAIL_BYTES:]
        if error is not None:
            document = dict(error)
            if "stackTrace" in document:
                # Python runtimes put the request id between the type and the trace.
                trace = document.pop("stackTrace")
                document["requestId"] = request_id
                document["stackTrace"] = trace
            payload = json.dumps(document).encode()
            function_error: str | None = "Unhandled"
        else:
            payload = (outcome.payload or "null").encode()
            function_error = None
        return Result(
            status=200,
            payload=payload,
            function_error=function_error,
            log_tail=base64.b64encode(tail).decode(),
            executed_version=target.version,
            outcome=outcome,
        )

    async def prewarm(self, target: Target, count: int) -> None:
        """Initialise ``count`` workers for a version now (provisioned concurrency)."""
        interpreter = runtimes.resolve(target.config.get("Runtime", ""))
        if interpreter is None:
            return
        spec = self._spec(target, interpreter)
        provisioned = dataclasses.replace(
            spec, env={**spec.env, "AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency"}
        )
        await self.pool.prewarm(provisioned, count)

    async def shutdown(self) -> None:
        await self.pool.shutdown()


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _client_context(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(base64.b64decode(raw))
    except ValueError:
        return None


def _stream_name(spec: WorkerSpec) -> str:
    version = spec.key.rsplit(":", 2)[-2]
    day = datetime.fromtimestamp(clock.now(), UTC).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{uuid.uuid4().hex}"
