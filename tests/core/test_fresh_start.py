"""``nubes start`` as a new user runs it: no flags, in a directory of their own, the default
relative data dir. Lambda works there, and what nubes writes is private to the user."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import free_port, make_client

HANDLER = "def handler(event, context):\n    return {'got': event['n'] * 2}\n"


@pytest.fixture
def default_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """nubes started with no flags in ``tmp_path``; only the port comes from the environment
    (4566 may be taken on a shared machine)."""
    port = free_port()
    env = {**os.environ, "NUBES_PORT": str(port), "NUBES_LOG_LEVEL": "warning"}
    for name in ("NUBES_DATA_DIR", "DATA_DIR", "NUBES_EPHEMERAL"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nubes.cli", "start"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if line.strip() == "Ready.":
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert ready.wait(60), "nubes did not start:\n" + "".join(output)
        yield f"http://127.0.0.1:{port}", tmp_path / ".nubes-data"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_lambda_runs_with_the_default_data_dir(default_server: tuple[str, Path]) -> None:
    endpoint, data_dir = default_server
    lam = make_client(endpoint, "lambda")
    lam.create_function(
        FunctionName="fresh",
        Runtime="python3.12",
        Handler="app.handler",
        Role="arn:aws:iam::000000000000:role/r",
        Code={"ZipFile": _zip({"app.py": HANDLER})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="fresh")
    reply = lam.invoke(FunctionName="fresh", Payload=b'{"n": 21}')
    assert "FunctionError" not in reply, reply["Payload"].read()
    assert reply["Payload"].read() == b'{"got": 42}'
    assert (data_dir / "nubes.db").is_file()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_and_its_files_are_private(default_server: tuple[str, Path]) -> None:
    endpoint, data_dir = default_server
    s3 = make_client(endpoint, "s3")
    s3.create_bucket(Bucket="private")
    s3.put_object(Bucket="private", Key="k", Body=b"x" * 100_000)
    files = [p for p in data_dir.rglob("*") if p.is_file() and not p.is_symlink()]
    dirs = [data_dir, *(p for p in data_dir.rglob("*") if p.is_dir() and not p.is_symlink())]
    assert {p.name for p in files} >= {"nubes.db", "nubes.db-wal"}
    assert any(data_dir / "blobs" in p.parents for p in files), "no blob was written"
    assert {str(p.relative_to(data_dir)): oct(_mode(p)) for p in dirs if _mode(p) != 0o700} == {}
    assert {str(p.relative_to(data_dir)): oct(_mode(p)) for p in files if _mode(p) & 0o077} == {}


def test_an_existing_data_dir_is_made_private(tmp_path: Path) -> None:
    from nubes.store import State

    data_dir = tmp_path / "old"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    (data_dir / "nubes.db").touch()
    (data_dir / "nubes.db").chmod(0o644)
    state = State(data_dir)
    try:
        assert _mode(data_dir) == 0o700
        assert _mode(data_dir / "nubes.db") == 0o600
    finally:
        state.close()
