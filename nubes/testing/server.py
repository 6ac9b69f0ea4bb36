"""A real nubes server in a child process, as users run it (nubes' own tests and the pytest
plugin start theirs with this)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NubesProcess:
    def __init__(
        self, data_dir: Path | None = None, env: dict[str, str] | None = None, port: int = 0
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.env = env or {}
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> NubesProcess:
        args = [sys.executable, "-m", "nubes.cli", "start", "--port", str(self.port)]
        if self.data_dir is None:
            args.append("--ephemeral")
        else:
            args += ["--data-dir", str(self.data_dir)]
        # Test servers answer DNS on a free port of their own (GET /_nubes/health tells which),
        # so that several of them never fight over 53 or 5353.
        env = {"NUBES_DNS_ADDRESS": "127.0.0.1:0", **os.environ}
        env = {**env, "NUBES_LOG_LEVEL": "warning", **self.env}
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                if line.strip() == "Ready.":
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nubes did not start:\n" + "".join(self.output))
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def client(self, service: str, region: str = "us-east-1", **kwargs: Any) -> Any:
        return make_client(self.endpoint, service, region, **kwargs)


def make_client(endpoint: str, service: str, region: str = "us-east-1", **kwargs: Any) -> Any:
    kwargs.setdefault("aws_access_key_id", "test")
    kwargs.setdefault("aws_secret_access_key", "test")
    kwargs.setdefault("config", Config(retries={"max_attempts": 1}))
    return boto3.client(service, endpoint_url=endpoint, region_name=region, **kwargs)
