"""Real PostgreSQL servers for RDS instances: one cluster directory and one ``postgres``
process per instance, listening on a loopback port.

Postgres refuses to run as root; when nubes is root, the server runs in an unprivileged user
namespace (``unshare --user``) where nubes' files appear as the mapped user's own. nubes reaches
each server over a Unix socket in a private directory (trust, only nubes' user can open it);
clients come over TCP with the master user's password (SCRAM)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SEARCH = ("/usr/local/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
NOBODY = 65534
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
PASSWORD_FILE = "nubes-pw"
LOG = "postgres.log"
CONF = "nubes.conf"
"""Settings nubes applies (parameter groups), included from postgresql.conf."""


class PostgresMissing(RuntimeError):
    pass


class PortTaken(RuntimeError):
    """The server could not listen on its port: another process took it first."""


def binary(name: str) -> str | None:
    """Where PostgreSQL's program ``name`` is: PATH, then Debian's versioned directories."""
    found = shutil.which(name)
    if found:
        return found
    for directory in SEARCH:
        path = os.path.join(directory, name)
        if os.access(path, os.X_OK):
            return path
    return None


@functools.cache
def version() -> str | None:
    """The installed server's version (``15.18``), or None without PostgreSQL."""
    postgres = binary("postgres")
    if postgres is None:
        return None
    out = subprocess.run([postgres, "--version"], capture_output=True, text=True, check=False)
    words = out.stdout.split()
    return words[2] if len(words) >= 3 else None


@functools.cache
def cannot_run() -> str | None:
    """Why no server can run here (PostgreSQL missing, or root without user namespaces), or
    None when one can."""
    for name in ("initdb", "postgres"):
        if binary(name) is None:
            return f"PostgreSQL's {name} was not found (install postgresql)"
    if os.geteuid() == 0:
        probe = subprocess.run(_as_server(["true"]), capture_output=True, check=False)
        if probe.returncode != 0:
            return (
                "nubes runs as root and PostgreSQL refuses root: an unprivileged user namespace "
                "(unshare --user) is needed and is not permitted here"
            )
    return None


def _program(name: str) -> str:
    path = binary(name)
    if path is None:
        raise PostgresMissing(f"PostgreSQL's {name} was not found (install postgresql)")
    return path


def _as_server(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    unshare = shutil.which("unshare") or "unshare"
    return [unshare, "--user", f"--map-user={NOBODY}", f"--map-group={NOBODY}", *argv]


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(preferred: int, taken: set[int]) -> int:
    """``preferred`` when no one listens on it, else a port the kernel picks."""
    if preferred not in taken and port_free(preferred):
        return preferred
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in taken:
            return port


def _alive_postmaster(data: Path) -> int | None:
    """The pid of a postmaster still serving ``data`` (one a killed nubes left behind)."""
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"postgres" in cmdline else None


def stop_stale(data: Path) -> None:
    """Stop a postmaster of ``data`` that outlived the nubes that started it."""
    pid = _alive_postmaster(data)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)  # fast shutdown: sessions end, data is consistent
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and _alive_postmaster(data) == pid:
        time.sleep(0.05)
    if _alive_postmaster(data) == pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def usage(pid: int) -> tuple[int, float]:
    """Of the postmaster ``pid``'s server: client sessions now (the backends that name their
    peer, ``postgres: user db host(port) ...``) and CPU seconds its processes have used."""
    sessions = 0
    ticks = _cpu_ticks(pid)
    for child in _children(pid):
        ticks += _cpu_ticks(child)
        title = _cmdline(child)
        if "(" in title or "[local]" in title:
            sessions += 1
    return sessions, ticks / os.sysconf("SC_CLK_TCK")


def disk_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


async def _run(argv: list[str], stdin: bytes | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate(stdin)
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{os.path.basename(argv[0])} failed: {text.strip()[-500:]}")
    return text


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quote_ident(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class Servers:
    """The postgres processes of one nubes: started, stopped, asked to run SQL."""

    def __init__(self) -> None:
        self.sockets = Path(tempfile.mkdtemp(prefix="nubes-pg-"))
        self.procs: dict[Path, asyncio.subprocess.Process] = {}
        self.ports: dict[Path, int] = {}

    async def initdb(self, data: Path, user: str, password: str) -> None:
        """A new cluster in ``data`` whose superuser is the master user."""
        data.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(data, ignore_errors=True)
        pwfile = data.parent / PASSWORD_FILE
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        try:
            await _run(
                _as_server(
                    [
                        _program("initdb"),
                        "-D",
                        str(data),
                        "-U",
                        user,
                        f"--pwfile={pwfile}",
                        "--auth-host=scram-sha-256",
                        "--auth-local=trust",
                        "--encoding=UTF8",
                        "--no-sync",
                    ]
                )
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(f"\ninclude_if_exists = '{CONF}'\n")
        (data / CONF).write_text("")

    async def start(self, data: Path, port: int) -> None:
        stop_stale(data)
        log = open(data.parent / LOG, "ab")  # noqa: SIM115 - the child keeps it
        offset = log.tell()
        try:
            proc = await asyncio.create_subprocess_exec(
                *_as_server(
                    [
                        _program("postgres"),
                        "-D",
                        str(data),
                        "-p",
                        str(port),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        f"unix_socket_directories={self.sockets}",
                        "-c",
                        "unix_socket_permissions=0700",
                    ]
                ),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()
        self.procs[data] = proc
        self.ports[data] = port
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                self.procs.pop(data, None)
                self.ports.pop(data, None)
                said = self.log_tail(data, offset)
                if "could not create any TCP/IP sockets" in said:
                    raise PortTaken(f"port {port} is taken")
                raise RuntimeError(f"postgres exited with {proc.returncode}: {said}")
            with contextlib.suppress(OSError):
                lines = (data / "postmaster.pid").read_text().splitlines()
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"postgres did not become ready: {self.log_tail(data, offset)}")

    def log_tail(self, data: Path, offset: int = 0) -> str:
        """The end of what the server logged since ``offset``."""
        with contextlib.suppress(OSError), open(data.parent / LOG, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")[-500:]
        return ""

    def pid(self, data: Path) -> int | None:
        proc = self.procs.get(data)
        return proc.pid if proc is not None and proc.returncode is None else None

    def running(self, data: Path) -> bool:
        proc = self.procs.get(data)
        return proc is not None and proc.returncode is None

    async def stop(self, data: Path) -> None:
        proc = self.procs.pop(data, None)
        self.ports.pop(data, None)
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGQUIT)
            await proc.wait()

    def kill_all(self) -> None:
        """Stop every server now, without the event loop (reset, shutdown)."""
        for data in list(self.procs):
            proc = self.procs.pop(data)
            self.ports.pop(data, None)
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGINT)
        self.ports.clear()

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(d) for d in list(self.procs)))

    def close(self) -> None:
        shutil.rmtree(self.sockets, ignore_errors=True)

    async def sql(self, data: Path, user: str, statement: str, database: str = "postgres") -> str:
        """Run ``statement`` as the master user over nubes' private socket."""
        return await _run(
            [
                _program("psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.sockets),
                "-p",
                str(self.ports[data]),
                "-U",
                user,
                "-d",
                database,
            ],
            stdin=statement.encode(),
        )

    async def reload(self, data: Path, user: str) -> None:
        await self.sql(data, user, "SELECT pg_reload_conf();")

    async def backup(self, data: Path, user: str, dest: Path) -> None:
        """A consistent copy of the running cluster (``pg_basebackup``) in ``dest``."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(dest, ignore_errors=True)
        await _run(
            _as_server(
                [
                    _program("pg_basebackup"),
                    "-h",
                    str(self.sockets),
                    "-p",
                    str(self.ports[data]),
                    "-U",
                    user,
                    "-D",
                    str(dest),
                    "-X",
                    "stream",
                    "--no-sync",
                    "-c",
                    "fast",
                ]
            )
        )
