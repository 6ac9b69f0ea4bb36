"""Cache nodes as supervised ``redis-server`` (or ``memcached``) processes.

Each node has a directory of its own (its ``redis.conf``, ``dump.rdb``, log and pid file) and
listens on 127.0.0.1 at the port its cluster asked for, or a free one when that is taken. A node
is stopped with SIGTERM, which makes redis write its RDB file before it exits (the config has
save points), so a reboot or a nubes restart keeps the data. A nubes killed with SIGKILL leaves
its nodes running: the pid file and the process's working directory (the node's directory)
identify such a node, which is stopped before it is started again from its data. Memcached keeps
nothing, as on AWS: a reboot empties it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nubes.runtime.elasticache.resp import RespError, command

READY_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
LOG_FILE = "server.log"
ACL_FILE = "users.acl"
PID_FILE = "server.pid"
"""Written by nubes for each server it starts (memcached writes none of its own when it does not
daemonize), removed when the server is stopped."""
BINARIES = {
    "redis": ("redis-server",),
    "valkey": ("valkey-server", "redis-server"),
    "memcached": ("memcached",),
}


class NodeFailed(Exception):
    """The server did not start (no binary, bad config, exited early)."""


class PortTaken(NodeFailed):
    """The server could not listen on its port."""


def binary(engine: str) -> str | None:
    """The server program for ``engine``: valkey runs on redis-server when valkey-server is
    not installed (the same protocol and data format)."""
    for name in BINARIES.get(engine, ()):
        found = shutil.which(name)
        if found:
            return found
    return None


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class NodeSpec:
    key: str
    directory: Path
    port: int
    engine: str = "redis"
    password: str | None = None
    primary_port: int | None = None
    """The port of the node this one replicates (``replicaof``), None for a primary."""
    username: str | None = None
    """Who nubes signs in as (with ``password``) when the node has users (an ACL)."""
    acl: str | None = None
    """The node's users, one ``user <name> <rules>`` line each (ElastiCache RBAC)."""
    settings: dict[str, str] = field(default_factory=dict)
    """Further redis.conf directives (maxmemory, maxmemory-policy, ...); for memcached its
    memory in MB (``memory``) and largest item (``max_item_size``)."""

    def arguments(self, program: str) -> list[str]:
        if self.engine != "memcached":
            if self.acl is not None:
                (self.directory / ACL_FILE).write_text(self.acl)
            conf = self.directory / "redis.conf"
            conf.write_text(self.config())
            return [program, str(conf)]
        args = [program, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0"]
        if "memory" in self.settings:
            args += ["-m", self.settings["memory"]]
        if "max_item_size" in self.settings:
            args += ["-I", self.settings["max_item_size"]]
        if os.geteuid() == 0:
            args += ["-u", "root"]  # memcached refuses to run as root unless told to
        return args

    def config(self) -> str:
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            f'dir "{self.directory}"',
            "dbfilename dump.rdb",
            'logfile ""',
            "daemonize no",
            "protected-mode no",
            "save 3600 1 300 100 60 10000",
            "appendonly no",
        ]
        if self.acl is not None:
            lines += [
                f'aclfile "{self.directory / ACL_FILE}"',
                f'masteruser "{self.username}"',
                f'masterauth "{self.password}"',
            ]
        elif self.password:
            lines += [f'requirepass "{self.password}"', f'masterauth "{self.password}"']
        if self.primary_port is not None:
            lines += [f"replicaof 127.0.0.1 {self.primary_port}", "replica-read-only yes"]
        # A new replica syncs at once instead of waiting for more replicas to share the transfer.
        lines.append("repl-diskless-sync-delay 0")
        lines += [f"{name} {value}" for name, value in sorted(self.settings.items())]
        return "\n".join(lines) + "\n"


def _stale_pid(directory: Path) -> int | None:
    """The pid of a server still running from ``directory`` (left by a killed nubes)."""
    try:
        pid = int((directory / PID_FILE).read_text().strip())
        cwd = os.readlink(f"/proc/{pid}/cwd")
        exe = os.readlink(f"/proc/{pid}/exe")
    except (OSError, ValueError):
        return None
    # Debian's redis-server is a link to redis-check-rdb: the program's name tells little.
    if Path(cwd) == directory and any(n in Path(exe).name for n in ("redis", "valkey", "memc")):
        return pid
    return None


def memcached_stats(port: int) -> dict[str, str]:
    """A memcached server's ``stats`` (pid, curr_items, get_hits, ...)."""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    out = {}
    for line in data.decode().splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0] == "STAT":
            out[parts[1]] = parts[2]
    return out


def redis_info(
    port: int, password: str | None = None, username: str | None = None
) -> dict[str, str]:
    """A redis server's ``INFO`` fields (process_id, used_memory, keyspace_hits, db0, ...)."""
    info = command(port, "INFO", password=password, timeout=1, username=username)
    out = {}
    for line in bytes(info).decode().splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name] = value
    return out


def stats(spec: NodeSpec) -> dict[str, str]:
    if spec.engine == "memcached":
        return memcached_stats(spec.port)
    return redis_info(spec.port, spec.password, spec.username)


def _serving_pid(spec: NodeSpec) -> int | None:
    """The pid of the server answering on the node's port."""
    found = stats(spec)
    pid = found.get("pid" if spec.engine == "memcached" else "process_id")
    return None if pid is None else int(pid)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


class Nodes:
    """The running cache nodes of one nubes, by key."""

    def __init__(self, on_exit: Callable[[str], None] | None = None) -> None:
        self.procs: dict[str, tuple[NodeSpec, subprocess.Popen[bytes]]] = {}
        self.on_exit = on_exit
        """Called with a node's key when its server exits without being stopped (crashed,
        killed): the owner starts it again."""
        self._watches: dict[str, tuple[asyncio.AbstractEventLoop, int]] = {}

    def _watch(self, key: str, proc: subprocess.Popen[bytes]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # started outside the server's loop (nothing to tell then)
            return
        fd = os.pidfd_open(proc.pid)
        loop.add_reader(fd, self._exited, key, proc)
        self._watches[key] = (loop, fd)

    def _unwatch(self, key: str) -> None:
        watch = self._watches.pop(key, None)
        if watch is not None:
            loop, fd = watch
            loop.remove_reader(fd)
            os.close(fd)

    def _exited(self, key: str, proc: subprocess.Popen[bytes]) -> None:
        self._unwatch(key)
        entry = self.procs.get(key)
        if entry is None or entry[1] is not proc:
            return
        del self.procs[key]
        proc.wait()
        (entry[0].directory / PID_FILE).unlink(missing_ok=True)
        if self.on_exit is not None:
            self.on_exit(key)

    def running(self, key: str) -> bool:
        entry = self.procs.get(key)
        return entry is not None and entry[1].poll() is None

    def stop_stale(self, directory: Path) -> None:
        pid = _stale_pid(directory)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, STOP_TIMEOUT):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 2)

    def start(self, spec: NodeSpec) -> int:
        """Start the node (after stopping any stale server of its directory) and wait until it
        answers PING; answers the port it listens on."""
        program = binary(spec.engine)
        if program is None:
            raise NodeFailed(f"{BINARIES[spec.engine][0]} is not installed")
        self.stop(spec.key)
        spec.directory.mkdir(parents=True, exist_ok=True)
        self.stop_stale(spec.directory)
        if not port_free(spec.port):
            spec.port = free_port()
        for _ in range(3):
            try:
                return self._launch(program, spec)
            except PortTaken:
                # Someone else took the port between the check and redis' bind.
                spec.port = free_port()
        return self._launch(program, spec)

    def _launch(self, program: str, spec: NodeSpec) -> int:
        with (spec.directory / LOG_FILE).open("ab") as log:
            proc = subprocess.Popen(
                spec.arguments(program),
                cwd=spec.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.procs[spec.key] = (spec, proc)
        (spec.directory / PID_FILE).write_text(str(proc.pid))
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                del self.procs[spec.key]
                reason = self._log_tail(spec.directory)
                if "Failed listening on port" in reason or "Address already in use" in reason:
                    raise PortTaken(reason)
                raise NodeFailed(reason)
            try:
                # Another server may answer on the port while ours fails to bind it: the
                # answer counts only when it comes from our process.
                if _serving_pid(spec) == proc.pid:
                    self._watch(spec.key, proc)
                    return spec.port
            except (OSError, RespError):
                pass
            if time.monotonic() > deadline:
                self.stop(spec.key, save=False)
                raise NodeFailed("the server did not answer PING in time")
            time.sleep(0.01)

    @staticmethod
    def _log_tail(directory: Path) -> str:
        try:
            return (directory / LOG_FILE).read_text().strip().splitlines()[-1]
        except (OSError, IndexError):
            return "the server exited at start"

    def stop(self, key: str, save: bool = True) -> None:
        """Stop the node; with ``save`` its data is written to its RDB file first."""
        self._unwatch(key)
        entry = self.procs.pop(key, None)
        if entry is None:
            return
        spec, proc = entry
        (spec.directory / PID_FILE).unlink(missing_ok=True)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM if save else signal.SIGKILL)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self, save: bool = True) -> None:
        """Stop every node at once; with ``save`` each writes its RDB file first."""
        for key in list(self._watches):
            self._unwatch(key)
        procs = list(self.procs.values())
        self.procs.clear()
        for _, proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if save else signal.SIGKILL)
        for spec, proc in procs:
            (spec.directory / PID_FILE).unlink(missing_ok=True)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
