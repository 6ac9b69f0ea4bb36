"""Instances as supervised process trees, each in its own user, network, mount, PID and UTS
namespaces (no privileges needed), reachable from the host at their public loopback address and
from the other instances of their VPC at their private IP, on the ports their security groups
allow; metadata, DNS and nubes' API served to them; their status checks and AWS/EC2 metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from nubes.core import clock
from nubes.core.metrics import Datapoint, Metrics
from nubes.runtime.instances.imds import Imds, Response, serve_http
from nubes.runtime.instances.relay import Counted, SocketServer, splice
from nubes.runtime.instances.spec import FAULTS, Fault, InstanceHost, InstanceSpec

log = logging.getLogger("nubes.instances")

AGENT = str(Path(__file__).with_name("agent.py"))
UNSHARE = (
    "unshare",
    "--user",
    "--map-root-user",
    "--net",
    "--mount",
    "--pid",
    "--uts",
    "--fork",
    "--kill-child=SIGKILL",
    "--mount-proc",
)
CONSOLE_LIMIT = 64 * 1024
"""GetConsoleOutput returns the most recent 64 KB."""
WATCH = 0.5
ASG_TAG = "aws:autoscaling:groupName"
VpcResolver = Callable[[bytes, str, str], bytes]
RETRY_REFUSED = 2.0
SHUTDOWN_GRACE = 3.0
"""How long a halted instance's processes get to end after SIGTERM before the tree is killed
(the agent itself gives them 2 s)."""
KEEP_CONSOLES = 256
"""Console outputs of ended instances kept in memory (their work directories may be gone)."""


class _Instance:
    def __init__(self, spec: InstanceSpec) -> None:
        self.spec = spec
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.up = False
        self.ending: str | None = None
        """Why the tree is being ended by us (halt, a fault): its end is then no news."""
        self.events: list[str] = []
        self.fault: Fault | None = None
        self.dirfd = -1
        self.death_w = -1
        self.status_r = -1
        self.pidfd = -1
        self.agent_pidfd = -1
        self.isolated = False
        self.buffer = b""
        self.servers: list[SocketServer] = []
        self.forwards: dict[int, asyncio.Server] = {}
        self.refused: dict[int, float] = {}
        """Ports whose public side could not be opened (address in use), and when: tried
        again a little later, as whatever held them may let go."""
        self.booted = time.monotonic()
        self.bytes_in = 0
        self.bytes_out = 0
        self.published_until = 0
        """End of the last period whose CPU and network datapoints were published."""
        self.sampled: tuple[float, float, int, int] | None = None
        """(real time, CPU seconds, bytes in, bytes out) at the last datapoint published."""
        self.connections: set[asyncio.Task[None]] = set()
        self.ports: set[int] = set()
        self.forwarding = asyncio.Lock()
        """TCP ports the instance listens on (on all addresses or its private IP)."""
        self.vpc = ""
        self.peers: dict[str, list[int]] | None = None
        """The VPC's other instances and their ports, as last told to the agent."""

    def path(self, name: str) -> str:
        return f"/proc/self/fd/{self.dirfd}/{name}"

    def count_in(self, size: int) -> None:
        self.bytes_in += size

    def count_out(self, size: int) -> None:
        self.bytes_out += size


class InstanceRuntime:
    """See ``nubes/runtime/instances/__init__.py`` for how the EC2 provider drives it."""

    def __init__(
        self,
        host: InstanceHost,
        *,
        api_port: int,
        api_host: str = "127.0.0.1",
        metrics: Metrics | None = None,
        hide: Iterable[str] = (),
        isolation: str | None = None,
        vpc_resolver: Callable[[], VpcResolver | None] | None = None,
    ) -> None:
        """``hide``: host directories the instances must not see (nubes' data directory);
        ``isolation``: "namespaces" or "host" to force a mode (default: namespaces where the
        OS allows them; also ``NUBES_EC2_ISOLATION``); ``vpc_resolver``: gives the function
        that answers a DNS query (wire bytes) inside a VPC, ``(query, vpc_id, region) ->
        answer`` (Route 53's ``resolver_for_vpc``), or None while there is none: instances
        then resolve names at 169.254.169.253, the Amazon DNS address, in their resolv.conf."""
        self.host = host
        self.api_port = api_port
        self.api_host = "127.0.0.1" if api_host in ("", "0.0.0.0", "::") else api_host
        self.hide = [str(Path(p).resolve()) for p in hide]
        self.isolation = isolation or os.environ.get("NUBES_EC2_ISOLATION") or ""
        self.imds = Imds(host)
        self.vpc_resolver = vpc_resolver
        self.instances: dict[str, _Instance] = {}
        self.work_dirs: dict[str, str] = {}
        self.last_console: dict[str, bytes] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._peer_state: set[tuple[str, str, frozenset[int]]] = set()
        """What the instances were last told of each other (who runs where, on which ports)."""
        self.metrics = metrics
        if metrics is not None:
            metrics.collector(self.collect)

    # -- life of the runtime ----------------------------------------------------------------

    async def start(self) -> None:
        if self.isolation not in ("namespaces", "host"):
            self.isolation = "namespaces" if await self._namespaces_work() else "host"
            if self.isolation == "host":
                log.warning(
                    "EC2 instances run on the host's network (no unprivileged namespaces "
                    "here): metadata at AWS_EC2_METADATA_SERVICE_ENDPOINT, volumes at "
                    "NUBES_VOLUME_<DEVICE>, no security-group gating, shared /tmp"
                )
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name="nubes-instance-ports")

    async def stop(self) -> None:
        await self.halt_all()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    @staticmethod
    async def _namespaces_work() -> bool:
        if not (shutil.which("unshare") and shutil.which("ip")):
            return False
        try:
            # What every boot needs: the namespaces, and a veth pair for the metadata link.
            proc = await asyncio.create_subprocess_exec(
                *UNSHARE,
                "ip",
                "link",
                "add",
                "imds0",
                "type",
                "veth",
                "peer",
                "name",
                "imds1",
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            return await proc.wait() == 0
        except OSError:
            return False

    # -- boot and halt ----------------------------------------------------------------------

    def boot(self, spec: InstanceSpec) -> asyncio.Future[None]:
        """Start the instance now; the result completes once the agent is up and the user data
        started (an error if the instance could not boot)."""
        current = self.instances.get(spec.instance_id)
        if current is not None and current.ending is None and current.fault is None:
            return current.ready
        if self.metrics is not None and not self.instances:
            # Running instances have metrics from their first minute, as on AWS: publishing
            # (nothing) makes sure the metrics sink (CloudWatch) runs and samples them.
            self.metrics.publish_many(())
        inst = _Instance(spec)
        self.instances[spec.instance_id] = inst
        self.work_dirs[spec.instance_id] = spec.work_dir
        if current is None or current.gone.done():
            self._start(inst)
        else:
            # What is left of a crashed or failed tree goes first: its copy-on-write layers are
            # the new boot's.
            self._end(current, "halt")
            current.gone.add_done_callback(lambda _: self._start(inst))
        return inst.ready

    def _start(self, inst: _Instance) -> None:
        if self.instances.get(inst.spec.instance_id) is not inst:
            if not inst.ready.done():
                inst.ready.set_exception(RuntimeError("halted before it booted"))
                inst.ready.exception()
            return
        try:
            self._spawn(inst)
        except OSError as exc:
            self._close(inst)
            self.instances.pop(inst.spec.instance_id, None)
            inst.ready.set_exception(exc)
            inst.ready.exception()
            inst.gone.set_result(None)

    def halt(self, instance_id: str) -> asyncio.Future[None]:
        """End the instance's whole process tree now; the result completes when it is gone."""
        inst = self.instances.pop(instance_id, None)
        self.imds.forget(instance_id)
        if inst is None:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        self._end(inst, "halt")
        return inst.gone

    def readdress(self, instance_id: str, public_ip: str | None) -> None:
        """The instance's public address moved (an Elastic IP associated or released): its
        ports are forwarded from the new address at once, without a reboot."""
        inst = self.instances.get(instance_id)
        if inst is None or inst.spec.public_ip == public_ip:
            return
        inst.spec.public_ip = public_ip
        for port in list(inst.forwards):
            inst.forwards.pop(port).close()
        inst.refused.clear()
        self._forward_soon(inst)

    def attach(self, instance_id: str, device: str, path: str) -> asyncio.Future[None]:
        """A volume attached to the running instance appears at /mnt/<device> at once (a
        stopped one gets it from the next boot's spec)."""
        return self._control(instance_id, {"attach": device, "path": os.path.abspath(path)})

    def detach(self, instance_id: str, device: str) -> asyncio.Future[None]:
        return self._control(instance_id, {"detach": device})

    def _control(self, instance_id: str, request: dict[str, Any]) -> asyncio.Future[None]:
        inst = self.instances.get(instance_id)
        if inst is None or not inst.isolated or inst.ending is not None:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done

        async def ask() -> None:
            await inst.ready
            reader, writer = await asyncio.open_unix_connection(inst.path("ctl.sock"))
            try:
                writer.write(json.dumps(request).encode() + b"\n")
                answer = json.loads(await reader.readline() or b"{}")
            finally:
                writer.close()
            if not answer.get("ok"):
                raise OSError(f"{instance_id}: {request}: {answer.get('error', 'no answer')}")

        task = asyncio.ensure_future(ask())
        task.add_done_callback(_log_failure)
        return task

    def halt_all(self) -> asyncio.Future[list[None]]:
        """End every instance now (``POST /_nubes/reset``: the records are gone too)."""
        return asyncio.gather(*(self.halt(i) for i in list(self.instances)))

    def running(self, instance_id: str) -> bool:
        inst = self.instances.get(instance_id)
        return inst is not None and inst.proc is not None and inst.ending is None

    async def open_port(
        self, instance_id: str, port: int, source_ip: str
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to the instance's ``port`` at its private IP, as a peer at
        ``source_ip`` in its VPC would make it (a load balancer's interface): the instance's
        security groups judge ``source_ip`` when it is made. ConnectionRefusedError when the
        instance does not run here; TimeoutError when its groups drop the connection (what a
        peer sees of a rule that does not let it in)."""
        inst = self.instances.get(instance_id)
        if inst is None or inst.proc is None or not inst.up or inst.ending is not None:
            raise ConnectionRefusedError(f"{instance_id} is not running")
        if not self.host.ingress_allowed(instance_id, "tcp", port, source_ip):
            raise TimeoutError(f"{instance_id}'s security groups drop {source_ip} on port {port}")
        if not inst.isolated:
            # Without namespaces the instance's processes share the host's network.
            return await asyncio.open_connection("127.0.0.1", port)
        reader, writer = await asyncio.open_unix_connection(inst.path("in.sock"))
        writer.write(f"{port}\n".encode())
        return reader, writer

    def console_output(self, instance_id: str) -> bytes:
        work_dir = self.work_dirs.get(instance_id)
        if work_dir is None:
            return b""
        try:
            with open(os.path.join(work_dir, "console.log"), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - CONSOLE_LIMIT))
                return f.read()
        except FileNotFoundError:
            # A terminated instance's work directory is gone; its last output is kept here.
            return self.last_console.get(instance_id, b"")

    def status(self, instance_id: str) -> tuple[str, str]:
        """(system status, instance status): ok, impaired, initializing, insufficient-data or
        not-applicable (not running here)."""
        inst = self.instances.get(instance_id)
        if inst is None:
            return ("not-applicable", "not-applicable")
        if inst.fault is not None:
            if inst.fault.fault == "ec2:host-failure":
                return ("impaired", "insufficient-data")
            return ("ok", "impaired")
        if inst.ending is not None and inst.ending != "halt":
            return ("ok", "impaired")
        if not inst.up:
            return ("initializing", "initializing")
        return ("ok", "ok")

    # -- faults -----------------------------------------------------------------------------

    def inject_fault(self, instance_id: str, fault: str) -> Fault:
        """Make the instance's host fail or its processes crash (``FAULTS``). Raises
        ValueError for an unknown fault, KeyError when the instance is not running here."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        inst = self.instances.get(instance_id)
        if inst is None:
            raise KeyError(f"instance {instance_id!r} is not running")
        if inst.fault is None:
            inst.fault = Fault(instance_id, fault, clock.now())
            self._end(inst, fault)
        return inst.fault

    def faults(self) -> list[Fault]:
        return [i.fault for i in self.instances.values() if i.fault is not None]

    # -- the process tree -------------------------------------------------------------------

    def _spawn(self, inst: _Instance) -> None:
        spec = inst.spec
        os.makedirs(spec.work_dir, exist_ok=True)
        for name in ("in.sock", "ctl.sock", "imds.sock", "api.sock", "dns.sock", "peer.sock"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(spec.work_dir, name))
        with open(os.path.join(spec.work_dir, "user-data"), "wb") as f:
            f.write(spec.user_data)
        loop = asyncio.get_running_loop()
        isolated = inst.isolated = self.isolation != "host"
        if isolated:
            # Unix socket paths are short through the directory's descriptor, however long
            # the work directory's own path is.
            inst.dirfd = os.open(spec.work_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        cfg: dict[str, Any] = {
            "instance_id": spec.instance_id,
            "region": spec.region,
            "private_ip": spec.private_ip,
            "hostname": spec.hostname or _hostname(spec),
            "api_port": self.api_port,
            "volumes": spec.volumes,
            "work_dir": os.path.abspath(spec.work_dir),
            "namespaces": isolated,
            "hide": [*self.hide, os.path.dirname(os.path.abspath(spec.work_dir))],
        }
        if isolated:
            imds = self._unix_server(inst, "imds.sock", self._imds_connection)
            api = self._unix_server(inst, "api.sock", self._api_connection)
            dns = self._unix_server(inst, "dns.sock", self._dns_connection)
            peer = self._unix_server(inst, "peer.sock", self._peer_connection)
            inst.servers += [imds, api, dns, peer]
            try:
                inst.vpc = (self.host.describe(spec.instance_id) or {}).get("VpcId") or ""
            except Exception:
                log.exception("EC2 provider failed to describe %s", spec.instance_id)
            cfg["dns"] = self.vpc_resolver is not None
        else:
            tcp = socket.create_server(("127.0.0.1", 0))
            cfg["imds_endpoint"] = f"http://127.0.0.1:{tcp.getsockname()[1]}/"
            cfg["api_endpoint"] = f"http://{self.api_host}:{self.api_port}"
            inst.servers.append(self._serve(inst, tcp, self._imds_connection))
        inst.status_r, status_w = os.pipe()
        death_r, inst.death_w = os.pipe()
        cfg["status_fd"], cfg["death_fd"] = status_w, death_r
        argv = [sys.executable, "-S", "-I", AGENT, json.dumps(cfg)]
        try:
            with open(os.path.join(spec.work_dir, "agent.log"), "ab") as agent_log:
                inst.proc = subprocess.Popen(
                    [*UNSHARE, *argv] if isolated else argv,
                    pass_fds=(status_w, death_r),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=agent_log,
                    start_new_session=True,
                )
        finally:
            os.close(status_w)
            os.close(death_r)
        status_r = inst.status_r
        os.set_blocking(status_r, False)
        loop.add_reader(status_r, self._status, inst)
        if hasattr(os, "pidfd_open"):
            inst.pidfd = os.pidfd_open(inst.proc.pid)
            loop.add_reader(inst.pidfd, self._exited, inst)
        else:
            # No pidfd (not Linux): a thread waits for the agent.
            waiter = loop.run_in_executor(None, inst.proc.wait)
            waiter.add_done_callback(lambda _: self._exited(inst))
        inst.booted = time.monotonic()

    def _unix_server(
        self,
        inst: _Instance,
        name: str,
        handler: Callable[[_Instance, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    ) -> SocketServer:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(inst.path(name))
        sock.listen(128)
        return self._serve(inst, sock, handler)

    def _serve(
        self,
        inst: _Instance,
        sock: socket.socket,
        handler: Callable[[_Instance, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    ) -> SocketServer:
        # Servers are made from bound sockets synchronously so that boot() needs no await;
        # asyncio starts serving them on the next loop iteration.
        sock.setblocking(False)

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await handler(inst, reader, writer)

        return SocketServer(sock, connected)

    def _status(self, inst: _Instance) -> None:
        try:
            chunk = os.read(inst.status_r, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            asyncio.get_running_loop().remove_reader(inst.status_r)
            return
        inst.buffer += chunk
        *lines, inst.buffer = inst.buffer.split(b"\n")
        for line in lines:
            try:
                message = json.loads(line)
                event = message["event"]
            except (ValueError, KeyError, TypeError):
                continue
            if event == "ports":
                inst.ports = set(message.get("ports") or ())
                self._forward_soon(inst)
                continue
            inst.events.append(event)
            if event == "ready":
                inst.up = True
                inst.agent_pidfd = _agent_pidfd(inst)
                if not inst.ready.done():
                    inst.ready.set_result(None)
            elif event == "failed" and not inst.ready.done():
                error = message.get("error", "")
                inst.ready.set_exception(RuntimeError(f"the instance could not start: {error}"))
                inst.ready.exception()

    def _exited(self, inst: _Instance) -> None:
        loop = asyncio.get_running_loop()
        if inst.pidfd >= 0:
            loop.remove_reader(inst.pidfd)
        if inst.proc is not None:
            inst.proc.wait()
        if inst.agent_pidfd >= 0:
            # The agent (the namespace's init) ends only once every process of it has ended.
            loop.add_reader(inst.agent_pidfd, self._finished, inst)
        else:
            self._finished(inst)

    def _finished(self, inst: _Instance) -> None:
        if inst.agent_pidfd >= 0:
            asyncio.get_running_loop().remove_reader(inst.agent_pidfd)
        instance_id = inst.spec.instance_id
        self.last_console.pop(instance_id, None)
        self.last_console[instance_id] = self.console_output(instance_id)
        while len(self.last_console) > KEEP_CONSOLES:
            del self.last_console[next(iter(self.last_console))]
        self._status(inst)
        self._close(inst)
        if not inst.ready.done():
            why = "halted" if inst.ending == "halt" else "its processes ended"
            inst.ready.set_exception(RuntimeError(f"{why} before it was up"))
            inst.ready.exception()
        if not inst.gone.done():
            inst.gone.set_result(None)
        if inst.ending is not None:
            return
        if self.instances.get(instance_id) is not inst:
            return
        if "reboot" in inst.events:
            log.info("%s rebooted from inside", instance_id)
            self.instances.pop(instance_id, None)
            self.boot(inst.spec)
        elif "shutdown" in inst.events:
            self.instances.pop(instance_id, None)
            self.imds.forget(instance_id)
            try:
                self.host.exited(instance_id, "shutdown")
            except Exception:
                log.exception("EC2 provider failed to take %s's shutdown", instance_id)
        else:
            # Nothing of ours ended it: as a kernel panic would, it leaves the instance impaired.
            inst.ending = "crashed"
            log.warning("%s: its processes ended unexpectedly", instance_id)

    def _end(self, inst: _Instance, why: str) -> None:
        """End the tree. A halt (stop, terminate, reboot) is a shutdown: the agent gives every
        process SIGTERM and a moment, as an OS does, and is killed if it takes longer; a
        fault kills at once."""
        graceful = why == "halt" and inst.up and inst.ending is None
        if inst.ending is None or why == "halt":
            inst.ending = why
        for port in list(inst.forwards):
            inst.forwards.pop(port).close()
        for task in list(inst.connections):
            task.cancel()
        if graceful and self._signal_agent(inst, signal.SIGTERM):
            asyncio.get_running_loop().call_later(SHUTDOWN_GRACE, self._kill, inst)
        else:
            self._kill(inst)
        if inst.proc is None and not inst.gone.done():
            inst.gone.set_result(None)

    @staticmethod
    def _signal_agent(inst: _Instance, sig: int) -> bool:
        try:
            if inst.agent_pidfd >= 0:
                signal.pidfd_send_signal(inst.agent_pidfd, sig)
            elif inst.proc is not None and not inst.isolated:
                os.killpg(inst.proc.pid, sig)
            else:
                return False
        except OSError:
            return False
        return True

    @staticmethod
    def _kill(inst: _Instance) -> None:
        """Kill the whole tree: the agent is the PID namespace's init, so the kernel ends every
        other process of the instance with it."""
        if inst.proc is not None and inst.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(inst.proc.pid, signal.SIGKILL)
        if inst.death_w >= 0:
            os.close(inst.death_w)
            inst.death_w = -1

    def _close(self, inst: _Instance) -> None:
        loop = asyncio.get_running_loop()
        for server in inst.servers:
            server.close()
        inst.servers.clear()
        for port in list(inst.forwards):
            inst.forwards.pop(port).close()
        for fd_name in ("status_r", "pidfd", "agent_pidfd", "death_w", "dirfd"):
            fd = getattr(inst, fd_name)
            if fd >= 0:
                if fd_name == "status_r":
                    loop.remove_reader(fd)
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(inst, fd_name, -1)

    # -- connections ------------------------------------------------------------------------

    async def _imds_connection(
        self, inst: _Instance, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        def respond(method: str, target: str, headers: dict[str, str]) -> Response:
            try:
                return self.imds.respond(inst.spec, method, target, headers)
            except Exception:
                log.exception("IMDS failed on %s %s", method, target)
                return Response(500, b"internal error")

        await serve_http(Counted(reader, inst.count_out), writer, respond)

    async def _api_connection(
        self, inst: _Instance, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            other = await asyncio.open_connection(self.api_host, self.api_port)
        except OSError:
            writer.close()
            return
        await splice((reader, writer), other, inst.count_in, inst.count_out)

    async def _peer_connection(
        self, inst: _Instance, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """A connection from ``inst`` to another instance of its VPC: its first line names
        the private IP and port; the target's security groups decide, with ``inst``'s private
        IP as the source."""
        try:
            ip, port_text = (await reader.readline()).decode().split()
            port = int(port_text)
        except (ValueError, UnicodeDecodeError, ConnectionError):
            writer.close()
            return
        target = next(
            (
                other
                for other in self.instances.values()
                if other.spec.private_ip == ip
                and other is not inst
                and other.up
                and other.ending is None
                and (other.vpc, other.spec.account_id, other.spec.region)
                == (inst.vpc, inst.spec.account_id, inst.spec.region)
            ),
            None,
        )
        source = inst.spec.private_ip
        try:
            allowed = target is not None and self.host.ingress_allowed(
                target.spec.instance_id, "tcp", port, source
            )
        except Exception:
            log.exception("EC2 provider failed to check ingress from %s", source)
            allowed = False
        if target is None or not allowed:
            writer.transport.abort()
            return
        try:
            other = await asyncio.open_unix_connection(target.path("in.sock"))
        except OSError:
            writer.transport.abort()
            return
        other[1].write(f"{port}\n".encode())
        await splice(other, (reader, writer), target.count_in, target.count_out)

    async def _dns_connection(
        self, inst: _Instance, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """DNS queries in TCP's framing (a two-byte length before each message)."""
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(2), "big")
                answer = self._resolve(inst, await reader.readexactly(size))
                writer.write(len(answer).to_bytes(2, "big") + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def _resolve(self, inst: _Instance, query: bytes) -> bytes:
        resolver = self.vpc_resolver() if self.vpc_resolver is not None else None
        if resolver is not None:
            record = self.host.describe(inst.spec.instance_id) or {}
            try:
                return resolver(query, record.get("VpcId", ""), inst.spec.region)
            except Exception:
                log.exception("DNS query from %s failed", inst.spec.instance_id)
        return _servfail(query)

    async def _inbound(
        self, inst: _Instance, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = (writer.get_extra_info("peername") or ("",))[0]
        try:
            allowed = self.host.ingress_allowed(inst.spec.instance_id, "tcp", port, peer)
        except Exception:
            log.exception("EC2 provider failed to check ingress for %s", inst.spec.instance_id)
            allowed = False
        if not allowed:
            # Refused as a reset: no byte of the instance's service reaches the client.
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        try:
            other = await asyncio.open_unix_connection(inst.path("in.sock"))
        except OSError:
            writer.transport.abort()
            return
        other[1].write(f"{port}\n".encode())
        await splice(other, (reader, writer), inst.count_in, inst.count_out)

    # -- public forwarders ------------------------------------------------------------------

    def _forward_soon(self, inst: _Instance) -> None:
        task = asyncio.ensure_future(self._forward(inst))
        inst.connections.add(task)
        task.add_done_callback(inst.connections.discard)
        task.add_done_callback(_log_failure)

    async def _watch(self) -> None:
        """Ports whose public side could not be opened are tried again, and each instance is
        told of its VPC's others, a few times a second (ports that open or close inside are
        forwarded as the agent reports them)."""
        while True:
            for inst in list(self.instances.values()):
                if inst.refused:
                    try:
                        await self._forward(inst)
                    except Exception:
                        log.exception("port forwarding for %s failed", inst.spec.instance_id)
            self._share_peers()
            await asyncio.sleep(WATCH)

    def _share_peers(self) -> None:
        """Tell each instance the other instances of its VPC and the ports they listen on
        (what it can try to reach at their private IPs)."""
        live = [
            i for i in self.instances.values() if i.up and i.ending is None and i.isolated and i.vpc
        ]
        state = {(i.spec.instance_id, i.vpc, frozenset(i.ports)) for i in live}
        if state == self._peer_state and all(i.peers is not None for i in live):
            return
        self._peer_state = state
        for inst in live:
            peers = {
                other.spec.private_ip: sorted(other.ports)
                for other in live
                if other is not inst
                and (other.vpc, other.spec.account_id, other.spec.region)
                == (inst.vpc, inst.spec.account_id, inst.spec.region)
                and other.spec.private_ip != inst.spec.private_ip
            }
            if peers == inst.peers:
                continue
            inst.peers = peers

            def failed(task: asyncio.Future[None], inst: _Instance = inst) -> None:
                if task.cancelled() or task.exception() is not None:
                    inst.peers = None  # told again on the next round

            self._control(inst.spec.instance_id, {"peers": peers}).add_done_callback(failed)

    async def _forward(self, inst: _Instance) -> None:
        """Open the public address's port for every port the instance listens on, and close
        it when the instance stops listening (whether a connection gets in is decided per
        connection, by the security groups of that moment)."""
        async with inst.forwarding:
            await self._forward_now(inst)

    async def _forward_now(self, inst: _Instance) -> None:
        if inst.proc is None or inst.ending is not None or not inst.spec.public_ip:
            return
        ports = set(inst.ports)
        for port in set(inst.forwards) - ports:
            inst.forwards.pop(port).close()
        now = time.monotonic()
        retry = {p for p, when in inst.refused.items() if now - when > RETRY_REFUSED}
        for port in ports - set(inst.forwards) - (set(inst.refused) - retry):
            try:
                server = await asyncio.start_server(
                    self._connector(inst, port),
                    inst.spec.public_ip,
                    port,
                    reuse_address=True,
                )
            except OSError as exc:
                if port in inst.refused:
                    inst.refused[port] = now
                    continue
                inst.refused[port] = now
                log.warning(
                    "%s: cannot open %s:%s: %s",
                    inst.spec.instance_id,
                    inst.spec.public_ip,
                    port,
                    exc,
                )
                continue
            if inst.ending is not None or self.instances.get(inst.spec.instance_id) is not inst:
                server.close()
                return
            inst.refused.pop(port, None)
            inst.forwards[port] = server

    def _connector(
        self, inst: _Instance, port: int
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            inst.connections.add(task)
            try:
                await self._inbound(inst, port, reader, writer)
            finally:
                inst.connections.discard(task)

        return connected

    # -- metrics ----------------------------------------------------------------------------

    def collect(self, boundary: float) -> list[Datapoint]:
        """AWS/EC2 metrics at a minute boundary: status checks every minute; CPU and network
        every minute with detailed monitoring, every five minutes with basic."""
        points: list[Datapoint] = []
        minute = int(boundary) // 60 * 60
        reading: _ProcessTimes | None = None
        for inst in list(self.instances.values()):
            spec = inst.spec
            try:
                record = self.host.describe(spec.instance_id) or {}
            except Exception:
                log.exception("EC2 provider failed to describe %s", spec.instance_id)
                record = {}
            dims: dict[str, str] = {"InstanceId": spec.instance_id}
            tags = {t.get("Key"): t.get("Value", "") for t in record.get("Tags") or []}
            if tags.get(ASG_TAG):
                dims["AutoScalingGroupName"] = tags[ASG_TAG]
            system, instance = self.status(spec.instance_id)
            failed_system = 1.0 if system == "impaired" else 0.0
            failed_instance = 1.0 if instance == "impaired" else 0.0
            for name, value in (
                ("StatusCheckFailed", max(failed_system, failed_instance)),
                ("StatusCheckFailed_System", failed_system),
                ("StatusCheckFailed_Instance", failed_instance),
            ):
                points += self._points(spec, name, value, "Count", dims, minute - 60)
            detailed = (record.get("Monitoring") or {}).get("State") in ("enabled", "pending")
            period = 60 if detailed else 300
            # A jump of the clock may pass a period's end without landing on it.
            end = minute // period * period
            if end <= inst.published_until:
                continue
            inst.published_until = end
            now = time.monotonic()
            if inst.proc is None or inst.ending is not None:
                cpu = 0.0
            else:
                reading = reading or _ProcessTimes()
                cpu = reading.tree_seconds(inst.proc.pid)
            last = inst.sampled or (inst.booted, 0.0, 0, 0)
            inst.sampled = (now, cpu, inst.bytes_in, inst.bytes_out)
            elapsed = max(now - last[0], 1e-3)
            used = max(cpu - last[1], 0.0) if cpu else 0.0
            utilization = min(100.0, 100.0 * used / (elapsed * max(spec.vcpus, 1)))
            for name, value, unit in (
                ("CPUUtilization", utilization, "Percent"),
                ("NetworkIn", float(inst.bytes_in - last[2]), "Bytes"),
                ("NetworkOut", float(inst.bytes_out - last[3]), "Bytes"),
            ):
                points += self._points(spec, name, value, unit, dims, end - period)
        return points

    @staticmethod
    def _points(
        spec: InstanceSpec,
        name: str,
        value: float,
        unit: str,
        dims: dict[str, str],
        timestamp: float,
    ) -> list[Datapoint]:
        # EC2 publishes each dimension on its own: per instance, and aggregated over the Auto
        # Scaling group (each instance a sample of the group's datapoint).
        return [
            Datapoint(
                spec.account_id, spec.region, "AWS/EC2", name, value, unit, {key: dim}, timestamp
            )
            for key, dim in dims.items()
        ]


def _servfail(query: bytes) -> bytes:
    """SERVFAIL for a query nothing can answer (header only, the query's id and RD bit)."""
    if len(query) < 12:
        return b""
    flags = 0x8080 | (query[2] & 0x01) << 8 | 2
    return query[:2] + flags.to_bytes(2, "big") + bytes(8)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s", task.exception())


def _agent_pidfd(inst: _Instance) -> int:
    """A pidfd on the agent, the child ``unshare`` forked into the new PID namespace."""
    if inst.proc is None or not inst.isolated:
        return -1
    pid = inst.proc.pid
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = f.read().split()
        return os.pidfd_open(int(children[0])) if children else -1
    except (OSError, ValueError):
        return -1


def _hostname(spec: InstanceSpec) -> str:
    suffix = "ec2.internal" if spec.region == "us-east-1" else f"{spec.region}.compute.internal"
    return f"ip-{spec.private_ip.replace('.', '-')}.{suffix}"


_TICKS = os.sysconf("SC_CLK_TCK")


class _ProcessTimes:
    """One reading of every process's CPU time (a single pass over /proc serves every
    instance of a collection)."""

    def __init__(self) -> None:
        self.times: dict[int, int] = {}
        self.children: dict[int, list[int]] = {}
        try:
            entries = os.listdir("/proc")
        except OSError:
            entries = []  # no /proc (not Linux): no CPU figures
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2 :].split()
            pid = int(entry)
            self.children.setdefault(int(fields[1]), []).append(pid)
            self.times[pid] = sum(int(x) for x in fields[11:15])

    def tree_seconds(self, root: int) -> float:
        """CPU time of the tree under ``root``: each live process's own time plus what its
        reaped children used (the agent, as init, reaps every orphan)."""
        total = 0
        stack = [root]
        while stack:
            pid = stack.pop()
            total += self.times.get(pid, 0)
            stack.extend(self.children.get(pid, ()))
        return total / _TICKS
